"""The logistic calibration of finding confidences (numpy only), its storage and reliability table."""

import json
import random

import pytest

from mtqa.calibration import Calibrator, data_hash, finding_features, reliability
from mtqa.combiner import Combiner
from mtqa.findings import Category, Finding, Severity


def make(check, confidence, evidence=None, category=Category.NAME):
    return Finding(0, 5, category, Severity.ERROR, confidence, "m", check, ("x",), evidence or {})


def synthetic(n=400, seed=1):
    """Two checkers with the same raw confidence: gazetteer is right 90% of the time, lm 20%."""
    rng = random.Random(seed)
    findings, labels = [], []
    for i in range(n):
        if i % 2:
            findings.append(make("gazetteer.place", 0.7, {"distance": rng.uniform(1, 3)}))
            labels.append(rng.random() < 0.9)
        else:
            findings.append(make("lm.realword", 0.7, {"surprisal": rng.uniform(5, 15)}, Category.REALWORD))
            labels.append(rng.random() < 0.2)
    return findings, labels


def test_features_from_a_finding():
    merged = {"merged": [{"check": "grammar.X", "confidence": 0.5, "message": "m", "evidence": {}}]}
    f = make("lm.realword", 0.8, {"surprisal": 12.5, "delta_logprob": -3.0, "note": "text", **merged})
    feats = finding_features(f)
    assert feats["family=lm"] == 1.0 and feats["category=name"] == 1.0 and feats["n_signals"] == 2.0
    assert feats["merged_family=grammar"] == 1.0
    assert feats["ev:surprisal"] > 0 > feats["ev:delta_logprob"]
    assert "ev:note" not in feats


def test_fit_separates_checkers_and_is_calibrated():
    findings, labels = synthetic()
    model = Calibrator.fit(findings, labels, data_hash="abc")
    gaz = model.apply(make("gazetteer.place", 0.7, {"distance": 2.0}))
    lm = model.apply(make("lm.realword", 0.7, {"surprisal": 10.0}, Category.REALWORD))
    assert 0.8 < gaz < 0.97 and 0.08 < lm < 0.32
    # calibrated on average: mean prediction equals the observed rate (logistic regression's score equation)
    mean_pred = sum(model.apply(f) for f in findings) / len(findings)
    assert mean_pred == pytest.approx(sum(labels) / len(labels), abs=0.01)


def test_save_load_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("MTQA_MODELS_DIR", str(tmp_path))
    assert Calibrator.load() is None  # no file: the caller keeps raw confidences
    findings, labels = synthetic(100)
    model = Calibrator.fit(findings, labels, data_hash="h1", datasets=["names"])
    path = model.save()
    assert path == tmp_path / "combiner.json"
    raw = json.loads(path.read_text())
    assert {"version", "data_hash", "features", "coef", "intercept", "fitted_on"} <= set(raw)
    assert raw["data_hash"] == "h1" and raw["fitted_on"]["datasets"] == ["names"]
    loaded = Calibrator.load()
    for f in findings[:10]:
        assert loaded.apply(f) == pytest.approx(model.apply(f), abs=1e-6)
    # an unseen checker family and missing evidence do not break apply
    assert 0.0 < loaded.apply(make("garble.repeat", 0.5)) < 1.0


def test_fit_needs_both_classes():
    findings, _ = synthetic(20)
    with pytest.raises(ValueError):
        Calibrator.fit(findings, [True] * 20)


def test_reliability_table_exact():
    rows, ece = reliability([0.05, 0.15, 0.85, 0.85, 0.95], [False, False, True, False, True])
    assert [r["confidence"] for r in rows] == ["0.0-0.1", "0.1-0.2", "0.8-0.9", "0.9-1.0"]
    assert [r["n"] for r in rows] == [1, 1, 2, 1]
    assert rows[2]["observed_precision"] == 0.5 and rows[2]["mean_confidence"] == pytest.approx(0.85)
    assert ece == pytest.approx((0.05 + 0.15 + 2 * 0.35 + 0.05) / 5)


def test_data_hash_depends_on_items_not_order():
    a = data_hash([("ocr", "f1", ["a", "b"]), ("names", "f2", ["c"])])
    assert a == data_hash([("names", "f2", ["c"]), ("ocr", "f1", ["b", "a"])])
    assert a != data_hash([("ocr", "f1", ["a"]), ("names", "f2", ["c"])])


def test_combiner_reports_calibrated_confidence_and_keeps_the_raw_one():
    from mtqa.combiner import Combiner

    findings, labels = synthetic()
    model = Calibrator.fit(findings, labels, data_hash="abc")
    gaz = make("gazetteer.place", 0.7, {"distance": 2.0})
    lm = Finding(20, 25, Category.REALWORD, Severity.ERROR, 0.7, "m", "lm.realword", ("x",), {"surprisal": 10.0})
    out = Combiner(calibrator=model).combine([gaz, lm])
    assert [f.check for f in out] == ["gazetteer.place", "lm.realword"]
    assert out[0].confidence > 0.8 > 0.32 > out[1].confidence
    assert all(f.evidence["raw_confidence"] == 0.7 for f in out)
    # applying the model again changes nothing: features come from the raw confidence
    assert [model.calibrate(f).confidence for f in out] == [f.confidence for f in out]
    # a report threshold drops what the calibration finds unlikely
    assert [f.check for f in Combiner(calibrator=model, min_confidence=0.5).combine([gaz, lm])] == ["gazetteer.place"]
    assert Combiner(calibrator=model).describe() == {"calibration": "abc", "min_confidence": 0.0}


def test_pipeline_settings_choose_the_calibration(tmp_path, monkeypatch):
    from mtqa.api import make_combiner
    from mtqa.calibration import load_calibration
    from mtqa.config import Settings

    monkeypatch.setenv("MTQA_MODELS_DIR", str(tmp_path))
    assert make_combiner(Settings()).calibrator is None  # no model fitted: raw confidences
    findings, labels = synthetic(100)
    model = Calibrator.fit(findings, labels, data_hash="h2")
    model.report_threshold = 0.25
    model.save()
    default = make_combiner(Settings())
    assert default.calibrator.data_hash == "h2" and default.min_confidence == 0.0  # report everything
    assert make_combiner(Settings(min_confidence=None)).min_confidence == 0.25  # the calibration's threshold
    assert make_combiner(Settings(calibration="off")).calibrator is None
    assert load_calibration(str(tmp_path / "combiner.json")).data_hash == "h2"
    with pytest.raises(FileNotFoundError):
        load_calibration(str(tmp_path / "missing.json"))



def test_combiner_records_how_damaged_the_document_is():
    text = "Tbe MIlitary said the word forrn was fine in this old text here."
    ocr = [Finding(0, 3, Category.OCR, Severity.WARNING, 0.7, "m", "ocr.glyph_confusion"),
           Finding(4, 12, Category.OCR, Severity.WARNING, 0.7, "m", "ocr.mixed_case")]  # fmt: skip
    slip = Finding(27, 32, Category.REALWORD, Severity.WARNING, 0.6, "m", "garble.word_form")
    out = Combiner().combine([*ocr, slip], text)
    context = out[-1].evidence["document"]
    assert context == {"ocr_damage_per_100_words": pytest.approx(100 * 2 / 13, abs=1e-3)}
    feats = finding_features(out[-1])
    assert feats["doc:ocr_damage"] > 0 and feats["doc:ocr_damage*family=garble"] == feats["doc:ocr_damage"]
    # clean copy: no context in the evidence, and the feature reads zero
    alone = Combiner().combine([slip], text)[0]
    assert "document" not in alone.evidence and finding_features(alone)["doc:ocr_damage"] == 0.0


def test_fit_learns_that_a_signal_fails_on_damaged_documents():
    """The same garble finding is right on clean copy and wrong in OCR-damaged text."""
    rng = random.Random(3)
    findings, labels = [], []
    for i in range(300):
        damaged = i % 2 == 0
        evidence = {"delta_logprob": rng.uniform(5, 9)}
        if damaged:
            evidence["document"] = {"ocr_damage_per_100_words": rng.uniform(5, 20)}
        findings.append(make("garble.word_form", 0.6, evidence, Category.REALWORD))
        labels.append(rng.random() < (0.15 if damaged else 0.85))
    model = Calibrator.fit(findings, labels)
    clean = model.apply(make("garble.word_form", 0.6, {"delta_logprob": 7.0}, Category.REALWORD))
    damaged = model.apply(make("garble.word_form", 0.6, {"delta_logprob": 7.0, "document": {"ocr_damage_per_100_words": 10.0}}, Category.REALWORD))
    assert clean > 0.7 and damaged < 0.3


def test_a_family_the_model_never_saw_keeps_its_confidence():
    findings, labels = synthetic()
    model = Calibrator.fit(findings, labels)
    unseen = Finding(0, 5, Category.BOILERPLATE, Severity.ERROR, 0.95, "m", "boilerplate.scroll_prompt")
    assert model.apply(unseen) == 0.95
    assert model.apply(make("lm.realword", 0.95, {"surprisal": 10.0}, Category.REALWORD)) < 0.5
