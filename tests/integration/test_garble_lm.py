"""Garble detectors with the real LM core (packaged Gemma-3-270M) and the real data (read by path)."""

from __future__ import annotations

import gzip
import json
import os

import pytest

from mtqa.checkers.garble import GarbleChecker
from mtqa.config import Settings, data_dir
from mtqa.document import Document

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def lm_checker():
    os.environ.setdefault("MTQA_THREADS", "1")
    try:
        from mtqa.lm import get_scorer

        scorer = get_scorer(Settings(device="cpu"))
    except Exception as exc:  # the model package is an optional extra
        pytest.skip(f"LM core not loadable here: {type(exc).__name__}: {exc}")
    return GarbleChecker(Settings(device="cpu", use_gazetteer=False), scorer=scorer)


def _found(checker, text):
    [findings] = checker.check([Document.from_text(text)])
    return [(f.check, text[f.start : f.end], f.suggestions) for f in findings]


def test_pronoun_for_military_rescored(lm_checker):
    text = "The Russian military used Izium as his main logistics base."
    found = _found(lm_checker, text)
    pron = [f for f in found if f[0] == "garble.pronoun"]
    assert len(pron) == 1 and pron[0][1] == "his"
    assert pron[0][2][0] in ("its", "the")


def test_word_swap_found(lm_checker):
    text = "She is in custody pending trial, but any witness evidence be could negatively impacted by the coverage."
    found = _found(lm_checker, text)
    assert ("garble.word_order", "be could", ("could be",)) in found


def test_pos_shift_found(lm_checker):
    text = "Last month, a president committee recommended the resignation of the former electoral council."
    found = _found(lm_checker, text)
    assert ("garble.word_form", "president", ("presidential",)) in found


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The army will withdraw from city by the end of the month, a spokesman said.",
         ("garble.missing_word", "city", ("the city",))),
        ("The delegation arrived in Kyiv of Tuesday for two days of talks with the government.",
         ("garble.function_word", "of", ("on",))),
        ("Last year the company will report a loss of two million dollars, its filings show.",
         ("garble.tense", "will report", ("reported",))),
    ],
)
def test_function_word_and_tense_slips_found(lm_checker, text, expected):
    assert expected in _found(lm_checker, text)


def test_clean_paragraph_with_lm(lm_checker):
    text = (
        "Ukrainian forces recaptured the town of Balakliia on Thursday, the general staff said. "
        "The minister said his plan would reach every village within a week. "
        '"We are moving forward," President Volodymyr Zelensky said in his nightly video address.'
    )
    assert _found(lm_checker, text) == []


def test_seed_article_rules_and_gazetteer():
    path = data_dir() / "seed" / "article.txt"
    if not path.exists():
        pytest.skip(f"MTQA_DATA_DIR seed article not found at {path}")
    text = path.read_text(encoding="utf-8")
    [findings] = GarbleChecker(Settings(use_lm=False)).check([Document.from_text(text)])
    got = {(f.check, text[f.start : f.end]) for f in findings}
    assert ("garble.fragment", "Citing the Ministry of Defense.") in got
    assert ("garble.first_person", "I'm saying.") in got
    assert any(check == "garble.lowercase_start" and span.endswith(". means") for check, span in got)
    pronouns = [text[f.start : f.start + 40] for f in findings if f.check == "garble.pronoun"]
    assert any(p.startswith("his one logistics") for p in pronouns)
    assert any(p.startswith("his month-long") for p in pronouns)
    # correct quotations and names are not garble
    assert not any(f.check == "garble.first_person" and text[f.start] in "\"“'" for f in findings)
    assert len(findings) <= 8


def test_demetr_sample_rules():
    path = data_dir() / "demetr" / "demetr_items_0001-0600.jsonl.gz"
    if not path.exists():
        pytest.skip(f"MTQA_DATA_DIR DEMETR not found at {path}")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        items = [json.loads(line) for _, line in zip(range(40), fh)]
    checker = GarbleChecker(Settings(use_lm=False, use_gazetteer=False))
    clean = checker.check([Document.from_text(it["mt_sent"]) for it in items])
    assert sum(1 for f in clean if f) <= 2
    for kind in ("minor_id1_repeat2", "critical_id4_codemix"):
        docs = [Document.from_text(it["perturbations"][kind]["pert_sent"]) for it in items if it["perturbations"][kind]["pert_check"]]
        hits = sum(1 for f in checker.check(docs) if f)
        assert hits / len(docs) >= 0.85, kind


def test_paragraph_opening_possessive_without_its_person_is_flagged(lm_checker):
    text = ('"We raised the flag today," the deputy minister said.\n\n'
            "In her village of Hrakove, one of dozens recaptured this week, reporters found a burnt-out truck.")
    pron = [f for f in _found(lm_checker, text) if f[0] == "garble.pronoun"]
    assert [(word, fixes[0]) for _, word, fixes in pron] == [("her", "the")]


def test_paragraph_opening_possessive_of_the_story_subject_passes(lm_checker):
    text = ("Maria Petrenko, 54, fled Kharkiv in March with her two sons.\n\n"
            "Her house on the edge of the city was destroyed a week later, neighbours said.")
    assert [f for f in _found(lm_checker, text) if f[0] == "garble.pronoun"] == []
