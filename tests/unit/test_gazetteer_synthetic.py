"""The synthetic corruption families used to fit and benchmark the name decision."""

import random

import pytest

from mtqa.gazetteer.synthetic import FAMILIES, TEMPLATES, corrupt_name, corruptions, template_for, _case


def _diff(a: str, b: str) -> tuple[str, str]:
    """What differs between a and b once the common prefix and suffix are removed."""
    i = 0
    while i < min(len(a), len(b)) and a[i] == b[i]:
        i += 1
    j = 0
    while j < min(len(a), len(b)) - i and a[-1 - j] == b[-1 - j]:
        j += 1
    return a[i : len(a) - j], b[i : len(b) - j]


@pytest.mark.parametrize("family, name, allowed", [
    ("l/r", "Ternopil", {("l", "r"), ("r", "l")}),
    ("z->d/j", "Izium", {("z", "d"), ("z", "j")}),
    ("k/c", "Kupiansk", {("k", "c")}),
    ("v/b", "Kharkiv", {("v", "b")}),
    ("final vowel added", "Kharkiv", {("", "a"), ("", "e"), ("", "i"), ("", "o")}),
    ("final vowel dropped", "Poltava", {("a", "")}),
    ("ia/iya", "Balakliia", {("i", "y")}),
    ("ia/iya", "Kramatorskaya", {("", "i")}),
    ("doubled letter", "Izium", {("", "z"), ("", "m")}),
])  # fmt: skip
def test_each_family_makes_its_own_kind_of_edit(family, name, allowed):
    for seed in range(5):
        bad = corrupt_name(name, family, random.Random(seed))
        assert bad and bad[0].isupper() and bad != name
        assert _diff(name.lower(), bad.lower()) in allowed, (bad, _diff(name.lower(), bad.lower()))


def test_truncation_swapped_liquids_and_dropped_letters():
    rng = random.Random(3)
    cut = corrupt_name("Zaporizhzhia", "truncation", rng)
    assert "zaporizhzhia".startswith(cut.lower()) and 9 <= len(cut) <= 11
    assert corrupt_name("Ternopil", "swapped liquids", rng) == "Telnopir"
    assert corrupt_name("Izium", "swapped liquids", rng) is None  # no l and r to swap
    dropped = corrupt_name("Kramatorsk", "dropped letter", rng)
    assert len(dropped) == len("Kramatorsk") - 1 and dropped[0] == "K" and dropped[-1] == "k"


def test_multiword_names_corrupt_their_longest_word_and_known_forms_are_skipped():
    bad = corrupt_name("Bila Tserkva", "v/b", random.Random(0))
    assert bad == "Bila Tserkba"
    known = {"ternopir"}
    out = dict(corruptions("Ternopil", random.Random(1), known=lambda f: f in known, families=("l/r",) * 20))
    assert "l/r" not in out or out["l/r"].lower() not in known
    assert set(FAMILIES) >= {"l/r", "z->d/j", "k/c", "v/b", "ia/iya", "truncation", "swapped liquids"}


def test_sentence_cases_point_at_the_name():
    case = _case(template_for("703448"), "Kyiv", "canonical", "Kyiv", "", "UA/RU/BY", 2_900_000)
    assert case.text[case.span[0] : case.span[1]] == "Kyiv"
    assert all(t.count("{name}") == 1 for t in TEMPLATES)
    assert template_for("1") == template_for("1")
