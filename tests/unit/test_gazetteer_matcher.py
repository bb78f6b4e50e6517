"""Matcher and checker on a small hand-made gazetteer (fast; the real index is an integration test)."""

from pathlib import Path

import pytest

from mtqa.config import Settings
from mtqa.document import Document
from mtqa.findings import Category, Severity
from mtqa.gazetteer.index import Gazetteer
from mtqa.gazetteer.matcher import Matcher, resolve_names
from mtqa.gazetteer.sources import SourceEntry, newsroom_list


def _small_gazetteer() -> Gazetteer:
    gaz = Gazetteer()
    entries = [
        SourceEntry("Kharkiv", "place", "UA", "UA.07", 1_430_000, 0.88, "test", ["Kharkov", "Charkiw"]),
        SourceEntry("Izium", "place", "UA", "UA.07", 45_000, 0.67, "test", ["Izyum", "Isjum"]),
        SourceEntry("Balakliia", "place", "UA", "UA.07", 26_000, 0.63, "test", ["Balakliya", "Balakleya"]),
        SourceEntry("Balaklava", "place", "UA", "UA.20", 18_000, 0.61, "test", ["Balaklava"]),
        SourceEntry("Kupiansk", "place", "UA", "UA.07", 26_000, 0.63, "test", ["Kupyansk"]),
        SourceEntry("Mykolaiv", "place", "UA", "UA.16", 470_000, 0.81, "test", ["Nikolaev", "Mykolayiv"]),
        SourceEntry("Ternopil", "place", "UA", "UA.22", 220_000, 0.76, "test", ["Ternopol"]),
        SourceEntry("Donetsk", "place", "UA", "UA.05", 900_000, 0.85, "test", []),
        SourceEntry("Donetsk", "place", "RU", "RU.61", 50_000, 0.67, "test", []),
        SourceEntry("Kharkiv Oblast", "region", "UA", "UA.07", 0, 1.0, "test", ["Kharkiv region"]),
        SourceEntry("Volodymyr Zelensky", "person", "UA", "", 0, 1.0, "test",
                    ["Zelensky", "Zelenskyy", "Zelenskiy", "Volodymyr Zelenskyy"]),
        SourceEntry("Oleksandr Syrskyi", "person", "UA", "", 0, 1.0, "test", ["Syrskyi", "Syrsky"]),
        SourceEntry("Reuters", "organisation", "GB", "", 0, 1.0, "test", []),
    ]
    for entry in entries:
        gaz.add(entry)
    gaz.name_parts.update({"volodymyr": "given", "oleksandr": "given", "zelensky": "person", "syrskyi": "person"})
    gaz.finish()
    return gaz


@pytest.fixture(scope="module")
def gaz() -> Gazetteer:
    return _small_gazetteer()


@pytest.fixture()
def matcher(gaz) -> Matcher:
    return Matcher(gaz)


CONTEXT = "Ukrainian troops advanced in Kharkiv Oblast on Saturday, near Izium and Kupiansk. "


def _corrupt(matcher, text):
    return [n for n in resolve_names(Document.from_text(text), matcher) if n.status == "corrupt"]


@pytest.mark.parametrize("word, canonical", [
    ("Ternopir", "Ternopil"), ("Mikolaiv", "Mykolaiv"), ("Dzelensky", "Volodymyr Zelensky"),
])  # fmt: skip
def test_invented_corruptions_are_flagged_with_the_canonical_form(matcher, word, canonical):
    found = _corrupt(matcher, f"{CONTEXT}Officials said {word} was calm.")
    assert [n.text for n in found] == [word]
    assert canonical in found[0].suggestions[0] or found[0].evidence["canonical"] == canonical


def test_context_picks_the_place_in_the_documents_region(matcher):
    found = _corrupt(matcher, f"{CONTEXT}Russian forces had left Balakrlia a day earlier.")
    assert found and found[0].canonical == "Balakliia" and found[0].evidence["context_support"] == 1.0


def test_known_names_variants_and_homonyms_are_not_flagged(matcher):
    text = (f"{CONTEXT}Kharkov, Izyum, Kupyansk and Donetsk were shelled; Zelenskiy and Zelenskyy "
            "spoke to Reuters. Kharkiv's mayor and Izium’s residents (Balakliia) agreed.")
    names = resolve_names(Document.from_text(text), matcher)
    assert not [n for n in names if n.status == "corrupt"]
    statuses = {n.text: n.status for n in names}
    assert statuses["Kharkov"] == "variant" and statuses["Izium"] == "known"
    kinds = {n.text: n.kind for n in names}
    assert kinds["Reuters"] == "organisation" and kinds["Zelenskiy"] == "person"


def test_donetsk_homonym_resolves_by_context(matcher):
    names = resolve_names(Document.from_text(CONTEXT + "Shelling hit Donetsk."), matcher)
    donetsk = next(n for n in names if n.text == "Donetsk")
    assert donetsk.country == "UA"


def test_unknown_names_far_from_everything_and_cyrillic_are_left_alone(matcher):
    assert not _corrupt(matcher, f"{CONTEXT}Wojciechowski met Hrabovsky in Oxfordshire. Харків і Ізюм.")


def test_resolved_names_are_a_shared_annotation(matcher):
    doc = Document.from_text(CONTEXT)
    assert resolve_names(doc, matcher) is resolve_names(doc, matcher)


def test_newsroom_list_wins_and_house_style_is_reported(tmp_path: Path, gaz):
    toml = tmp_path / "house.toml"
    toml.write_text('[[name]]\ncanonical = "Kupiansk"\nvariants = ["Kupjansk"]\npreferred = "Kupiansk"\n'
                    'kind = "place"\ncountry = "UA"\nregion = "UA.07"\nnote = "house style"\n')
    csv = tmp_path / "house.csv"
    csv.write_text("canonical,variants,preferred,kind,note\nSyrskyi Group,Syrsky Group,,organisation,test\n")
    assert [e.canonical for e in newsroom_list(csv)] == ["Syrskyi Group"]
    import copy

    from mtqa.gazetteer.index import _with_overlay

    overlaid = _with_overlay(gaz, (str(toml), str(csv)), "k")
    assert overlaid.lookup("kupjansk") and not gaz.lookup("kupjansk")

    from mtqa.checkers.names import NameChecker

    checker = NameChecker(Settings(use_lm=False, names_files=(toml,)))
    checker._matcher = Matcher(overlaid)
    [findings] = checker.check([Document.from_text("Troops entered Kupyansk. Later Kupiansk was quiet.")])
    checks = sorted(f.check for f in findings)
    assert checks == ["gazetteer.house_style", "gazetteer.variant_mix"]
    assert all(f.severity is Severity.INFO and f.category is Category.STYLE for f in findings)
    assert copy.copy(gaz).lookup("kupjansk") == ()


def test_checker_reports_corrupted_name_findings(matcher):
    from mtqa.checkers.names import NameChecker

    checker = NameChecker(Settings(use_lm=False))
    checker._matcher = matcher
    text = f"{CONTEXT}Officials said Ternopir was calm."
    [findings] = checker.check([Document.from_text(text)])
    [finding] = [f for f in findings if f.category is Category.NAME]
    assert text[finding.start : finding.end] == "Ternopir"
    assert finding.check == "gazetteer.place" and finding.suggestions[0] == "Ternopil"
    for key in ("cost", "edit_distance", "prominence", "context_support", "candidates"):
        assert key in finding.evidence


@pytest.mark.parametrize("query, canonical", [
    ("ternopir", "Ternopil"), ("telnopir", "Ternopil"), ("mykoraiv", "Mykolaiv"), ("balakriya", "Balakliia"),
    ("kupiansc", "Kupiansk"), ("kharki", "Kharkiv"), ("kupia", "Kupiansk"), ("iziuma", "Izium"),
    ("donnetsk", "Donetsk"),
])  # fmt: skip
def test_skeleton_index_retrieves_the_entity_of_each_corruption_family(matcher, gaz, query, canonical):
    forms = matcher.candidate_forms(query)
    assert any(gaz.canonical[e] == canonical for f in forms for e in gaz.lookup(f)), forms
    assert len(forms) <= matcher.rank["prefilter_keep"]


def test_skeleton_index_does_not_return_unrelated_names(matcher):
    assert matcher.candidate_forms("wojciechowski") == []
    assert "reuters" not in matcher.candidate_forms("ternopir")


def test_newsroom_names_join_the_retrieval_index(tmp_path: Path, gaz):
    from mtqa.gazetteer.index import _with_overlay

    house = tmp_path / "house.toml"
    house.write_text('[[name]]\ncanonical = "Zolotarivka"\nkind = "place"\ncountry = "UA"\nregion = "UA.07"\n')
    overlaid = _with_overlay(gaz, (str(house),), "overlay-retrieval")
    assert "zolotarivka" in Matcher(overlaid).candidate_forms("zorotarivka")
    assert "zolotarivka" not in Matcher(gaz).candidate_forms("zorotarivka")


def _drop_overlaps_by_pairs(names):
    """The rule stated plainly (every kept name against every new one), for the linear version."""
    out = []
    for name in names:
        clash = [o for o in out if o.start < name.end and name.start < o.end]
        if not clash:
            out.append(name)
        elif name.status == "corrupt" and all(o.status != "corrupt" for o in clash):
            out = [o for o in out if o not in clash] + [name]
    return sorted(out, key=lambda r: (r.start, r.end))


def test_drop_overlaps_equals_the_pairwise_rule():
    import random

    from mtqa.gazetteer.matcher import ResolvedName, _drop_overlaps

    rng = random.Random(7)
    for _ in range(300):
        names = []
        for i in range(rng.randint(0, 12)):
            start = rng.randint(0, 40)
            status = rng.choice(["known", "variant", "corrupt"])
            names.append(ResolvedName(start, start + rng.randint(1, 12), "x", "X", "place", "", "", status, 0.5, i))
        names.sort(key=lambda r: (r.start, r.end))
        assert _drop_overlaps(names) == _drop_overlaps_by_pairs(names)


def test_index_file_loads_each_section_on_first_use(tmp_path):
    import pickle

    import numpy as np

    from mtqa.gazetteer import index

    built = _small_gazetteer()
    path = tmp_path / "gazetteer.pkl"
    with path.open("wb") as fh:
        index._write_sections(fh, built)
    loaded = index._load_base.__wrapped__(str(path))
    assert "forms" not in loaded.__dict__ and "key_hashes" not in loaded.__dict__
    path.unlink()  # a rebuild may remove the file: the open descriptor still reads this index
    assert loaded.lookup("izyum") == built.lookup("izyum")
    assert "forms" in loaded.__dict__ and "key_hashes" not in loaded.__dict__
    assert loaded.retrieve("izum") == built.retrieve("izum")
    assert np.array_equal(loaded.key_hashes, built.key_hashes)
    copy = pickle.loads(pickle.dumps(loaded))  # whole, without the descriptor
    assert "_lazy" not in copy.__dict__
    for attr in index._SECTION_OF:
        assert repr(getattr(copy, attr)) == repr(getattr(built, attr)), attr
    with pytest.raises(AttributeError):
        loaded.no_such_attribute


@pytest.mark.parametrize("form, query, expected", [
    ("craiova", "craiovei", True), ("valletta", "vallettei", True), ("henry", "henric", True),
    ("kharkiv", "kharkov", False), ("izium", "idium", False), ("kharkiv", "kharkiv", False),
    ("kyiv", "kyive", False),  # too short to tell an ending from a corruption
    ("ternopil", "ternopir", False), ("ternopil", "ternopilei", False),  # a plain swap; an ending added (cut)
])  # fmt: skip
def test_ending_swap_is_the_known_name_with_its_last_letter_replaced(form, query, expected):
    from mtqa.gazetteer.matcher import _ending_swap

    assert _ending_swap(form, query) is expected


def test_a_case_ending_left_on_a_known_name_is_a_feature_of_the_suspect(gaz):
    from collections import Counter

    from mtqa.gazetteer.matcher import Suspect

    matcher = Matcher(gaz)
    for word, canonical, ending in (("Ternopilei", "Ternopil", 1.0), ("Ternopili", "Ternopil", 1.0),
                                    ("Ternopir", "Ternopil", 0.0)):
        suspect = Suspect(0, len(word), word, word.lower(), 0.0)
        matcher.score_suspect(suspect, [(0, len(word), word, 1)], Counter(), Counter())
        assert suspect.best["canonical"] == canonical
        assert matcher.features(suspect)["ending"] == ending, word


@pytest.mark.parametrize("form, query, adjective", [
    ("antonivka", "antonivskyi", True), ("antonivske", "antonivskyi", True), ("zaporizka", "zaporizkyi", True),
    ("kharkiv", "kharkivskoho", True), ("zaporizka", "zaporizke", False), ("ternopil", "ternopir", False), ("izium", "idium", False),
    ("antonivka", "antonivka", False), ("kharkiv", "kharkivskyi oblast", False),
])  # fmt: skip
def test_place_adjectives_are_the_place_not_a_corruption(matcher, form, query, adjective):
    assert matcher._inflected(form, query) is adjective


def test_an_adjective_of_a_known_village_is_not_flagged():
    gaz = Gazetteer()
    for entry in [SourceEntry("Antonivka", "place", "UA", "UA.65", 2_000, 0.4, "test", []),
                  SourceEntry("Antonivske", "place", "UA", "UA.04", 0, 0.3, "test", []),
                  SourceEntry("Kherson", "place", "UA", "UA.65", 280_000, 0.8, "test", [])]:
        gaz.add(entry)
    gaz.finish()
    text = "The council in Kherson voted to delay repairs to the Antonivskyi bridge on Tuesday."
    assert not _corrupt(Matcher(gaz), text)
    # and the spell checker's name lookup knows it too, so no decision reports it as a misspelling
    from mtqa.gazetteer import NameLookup

    lookup = NameLookup(Document.from_text(text), Matcher(gaz))
    assert lookup.is_known_name("Antonivskyi") and not lookup.is_known_name("Antonivskyj")


def test_lm_evidence_for_every_suspect_of_a_document_comes_in_one_call(matcher):
    """The LM is asked once per document with all its suspects (one rescoring queue), and each
    suspect's Δ moves its own probability only."""
    calls = []

    def lm_adjust(doc, suspects, threshold):
        calls.append([s.text for s in suspects])
        return [-5.0 if s.text == "Mikolaiv" else None for s in suspects]

    text = f"{CONTEXT}Officials said Ternopir and Mikolaiv were calm."
    before = {n.text: n for n in _corrupt(matcher, text)}
    matcher.lm_adjust = lm_adjust
    after = {n.text: n for n in _corrupt(matcher, text)}
    assert len(calls) == 1 and {"Ternopir", "Mikolaiv"} <= set(calls[0])
    assert set(before) == set(after) == {"Ternopir", "Mikolaiv"}
    assert after["Mikolaiv"].evidence["lm_delta"] == -5.0 and after["Mikolaiv"].confidence < before["Mikolaiv"].confidence
    assert after["Ternopir"].evidence["lm_delta"] is None and after["Ternopir"].confidence == before["Ternopir"].confidence
