import dataclasses

import pytest

from mtqa.combiner import Combiner, Verdict
from mtqa.findings import Category, Finding, Severity


def make(start=0, end=3, severity="error", confidence=0.9, check="x.y", category="ocr", **kw):
    return Finding(start, end, category, severity, confidence, "msg", check, **kw)


def test_finding_is_frozen_and_normalised():
    f = make(suggestions=["a", "b"], evidence={"z": 1.5, "nested": {"k": [1, 2]}})
    assert f.category is Category.OCR and f.severity is Severity.ERROR
    assert f.suggestions == ("a", "b")
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.start = 4  # type: ignore[misc]
    with pytest.raises(TypeError):
        f.evidence["z"] = 2  # type: ignore[index]
    assert f.to_dict("abcdef")["evidence"] == {"z": 1.5, "nested": {"k": [1, 2]}}


@pytest.mark.parametrize(
    "kwargs",
    [dict(start=3, end=2), dict(start=-1), dict(confidence=1.5), dict(confidence=float("nan")),
     dict(category="nonsense"), dict(severity="fatal"), dict(check="")],
)  # fmt: skip
def test_finding_rejects_bad_values(kwargs):
    with pytest.raises(ValueError):
        make(**kwargs)


def test_to_dict_text_is_the_original_slice():
    assert make(4, 9).to_dict("The Kyiv army")["text"] == "Kyiv "


def test_combiner_merges_overlapping_signals_and_keeps_separate_ones():
    a = make(0, 5, confidence=0.6, check="gazetteer.place", category="name", suggestions=["Izium"])
    b = make(0, 5, severity="warning", confidence=0.5, check="grammar.MORFOLOGIK", category="spelling",
             suggestions=["Idiom"])  # fmt: skip
    c = make(10, 14, check="ocr.mixed_case")
    merged = Combiner().combine([c, b, a])
    assert len(merged) == 2
    lead = merged[0]
    assert lead.check == "gazetteer.place"
    assert lead.suggestions == ("Izium", "Idiom")
    assert lead.confidence == pytest.approx(1 - 0.4 * 0.5)
    assert lead.evidence["merged"][0]["check"] == "grammar.MORFOLOGIK"


def test_verdicts():
    combiner = Combiner(block_threshold=0.7, warn_threshold=0.3)
    assert combiner.verdict([]) is Verdict.PASS
    assert combiner.verdict([make(severity="info", confidence=1.0)]) is Verdict.PASS
    assert combiner.verdict([make(severity="warning", confidence=0.5)]) is Verdict.WARN
    assert combiner.verdict([make(severity="error", confidence=0.5)]) is Verdict.WARN
    assert combiner.verdict([make(severity="error", confidence=0.8)]) is Verdict.BLOCK
