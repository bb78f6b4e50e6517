"""The embedded default engine, for real: must-flag and must-pass examples."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

pytest.importorskip("lt_py")
pytest.importorskip("lingotweaker_data_en")

from mtqa.checkers.grammar import GrammarChecker  # noqa: E402
from mtqa.config import Settings  # noqa: E402
from mtqa.document import Document  # noqa: E402
from mtqa.findings import Category  # noqa: E402
from mtqa.grammar import Profile  # noqa: E402

CLEAN = Path(__file__).resolve().parents[1] / "data" / "grammar" / "clean_news.txt"


def clean_paragraphs() -> list[str]:
    blocks = CLEAN.read_text(encoding="utf-8").split("\n\n")
    return [b.strip() for b in blocks if b.strip() and not b.lstrip().startswith("#")]


@pytest.fixture(scope="session")
def checker() -> GrammarChecker:
    return GrammarChecker(Settings(grammar="lingotweaker"))


def check(checker, text):
    return [(text[f.start : f.end], f) for f in checker.check([Document.from_text(text)])[0]]


@pytest.mark.parametrize(
    "text, word, category, suggestion",
    [
        ("The army said tbe operation was over.", "tbe", Category.OCR, "the"),
        ("Officials said the rnilitary had withdrawn.", "rnilitary", Category.OCR, "military"),
        ("The governmentsaid on Monday it would respond.", "governmentsaid", Category.OCR, "government said"),
        ("A spokesman c onfirmed the attack on Tuesday.", "c onfirmed", Category.OCR, "confirmed"),
        ("The comission will publish its report.", "comission", Category.SPELLING, "commission"),
        ("I can heard the guns from here.", "heard", Category.GRAMMAR, "hear"),
        ("The the minister resigned.", "The the", Category.GRAMMAR, "The"),
    ],
)
def test_must_flag(checker, text, word, category, suggestion):
    found = check(checker, text)
    assert [(w, f.category, f.suggestions[0]) for w, f in found] == [(word, category, suggestion)]
    assert found[0][1].check.startswith("grammar.")


def test_offsets_are_str_indices_after_multibyte_text(checker):
    text = "Zoë — “😀” said tbe mayor of Köln, and tbe crowd cheered."
    found = check(checker, text)
    assert [w for w, _ in found] == ["tbe", "tbe"]
    assert [f.start for _, f in found] == [text.index("tbe"), text.rindex("tbe")]


def test_messages_have_no_suggestion_tags(checker):
    found = check(checker, "She ate a apple in the morning.")
    assert found and found[0][0] == "a"
    assert "<suggestion>" not in found[0][1].message and "“an”" in found[0][1].message


@pytest.mark.parametrize("index", range(len(clean_paragraphs())))
def test_must_pass_clean_news_paragraph(checker, index):
    text = clean_paragraphs()[index]
    assert check(checker, text) == []


NAMES_TEXT = (
    "Ukrainian forces recaptured Izium and Balakliia, and moved towards Kupiansk, "
    "President Volodymyr Zelenskiy said. The colour of the city centre had changed."
)


def test_must_pass_foreign_names_and_british_spelling(checker):
    # the default checker reads the gazetteer's lookup when mtqa.gazetteer provides one
    assert check(checker, NAMES_TEXT) == []


def test_must_pass_foreign_names_without_a_gazetteer():
    bare = GrammarChecker(Settings(grammar="lingotweaker"), name_lookup_provider=lambda doc: None)
    assert check(bare, NAMES_TEXT) == []


def test_profile_is_applied_after_the_engine():
    # LingoTweaker 0.2.8 ignores disabled_rules for some rules (word repetition among them):
    # the profile filter after the engine removes them all the same.
    profile = Profile.load().with_overrides(disable_rules=["ENGLISH_WORD_REPEAT_RULE"])
    checker = GrammarChecker(Settings(grammar="lingotweaker"), profile=profile, name_lookup_provider=lambda d: None)
    text = "The the minister resigned."
    raw = checker.backend().check([text])[0]
    assert [m.rule_id for m in raw] in ([], ["ENGLISH_WORD_REPEAT_RULE"])
    assert checker.check([Document.from_text(text)]) == [[]]


def test_signature_names_backend_and_version(checker):
    sig = checker.signature()
    assert sig["backend"] == "lingotweaker"
    assert sig["backend_version"].startswith("0.2.8")
    assert len(sig["grammar_profile"]) == 12
