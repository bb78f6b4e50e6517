"""`mtqa eval`, `mtqa calibrate` and `mtqa bench` end to end on small hand-written datasets."""

import json

import pytest
from typer.testing import CliRunner

import mtqa.cli.bench  # noqa: F401  (registers the sub-commands until mtqa.cli imports them)
import mtqa.cli.eval  # noqa: F401
from mtqa.cli import app

runner = CliRunner()
FAST = ["--only", "boilerplate,ocr"]


def overproof_records(n=40):
    """Each article: a real OCR error the checker catches, and a line the checker flags wrongly."""
    lines = [
        {"ocr": "The council met on Monday in tHe town hall.", "gt": "The council met on Monday in the town hall."},
        {"ocr": "Prices rose again, , said the clerk.", "gt": "Prices rose again, , said the clerk."},
        {"ocr": "The shlp arrived from London.", "gt": "The ship arrived from London."},
    ]
    return [{"article_id": str(i), "year": 1900, "header": "h", "lines": lines} for i in range(n)]


@pytest.fixture
def data_root(tmp_path, monkeypatch):
    root = tmp_path / "data"
    (root / "ocr").mkdir(parents=True)
    text = "".join(json.dumps(r) + "\n" for r in overproof_records())
    (root / "ocr" / "overproof_test.jsonl").write_text(text)
    monkeypatch.setenv("MTQA_DATA_DIR", str(root))
    return root


def test_eval_writes_json_and_prints_table(data_root, tmp_path):
    out = tmp_path / "ocr.json"
    result = runner.invoke(app, ["eval", "ocr", *FAST, "--split", "all", "--limit", "5", "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert "mtqa eval ocr" in result.stdout and "precision" in result.stdout
    payload = json.loads(out.read_text())
    assert payload["dataset"] == "ocr" and payload["n_documents"] == 1  # five identical articles, checked once
    assert payload["n_items"] == 5 and payload["checkers"] == ["boilerplate", "ocr"]
    assert len(payload["dataset_hash"]) == 16 and payload["git"] and payload["signature"]["checkers"]
    s = payload["summary"]
    # per article: "tHe" and "shlp" caught (2 tp); ", ," is gold-correct but flagged, over the words "again," and ","
    assert (s["tp"], s["fp"], s["fn"], s["precision"], s["recall"]) == (10, 10, 0, 0.5, 1.0)


def test_eval_by_path_and_unavailable_checker(data_root, tmp_path):
    out = tmp_path / "p.json"
    path = data_root / "ocr" / "overproof_test.jsonl"
    result = runner.invoke(app, ["eval", str(path), "--only", "ocr,nonexistent", "--split", "all", "--limit", "2",
                                 "--output", str(out)])  # fmt: skip
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["checkers"] == ["ocr"] and "nonexistent" in payload["unavailable"]
    assert "unavailable" in result.stdout


@pytest.mark.parametrize("args", [["eval", "no_such_set"], ["eval", "ocr", "--split", "train2"]])
def test_eval_bad_usage_exits_2(data_root, args):
    result = runner.invoke(app, args + FAST)
    assert result.exit_code == 2


def test_calibrate_writes_model_with_data_hash(data_root, tmp_path):
    model = tmp_path / "combiner.json"
    report = tmp_path / "calibration.json"
    result = runner.invoke(app, ["calibrate", "--datasets", "ocr", *FAST, "--output", str(model),
                                 "--report", str(report)])  # fmt: skip
    assert result.exit_code == 0, result.output
    raw = json.loads(model.read_text())
    assert raw["version"] == 1 and len(raw["data_hash"]) == 16 and raw["fitted_on"]["datasets"] == ["ocr"]
    assert "reliability" in result.stdout
    rep = json.loads(report.read_text())
    assert rep["held_back_findings"] > 0 and rep["reliability"]["calibrated"]


def test_bench_table_json_and_chart(data_root, tmp_path):
    config = tmp_path / "tiny.yaml"
    config.write_text(
        "name: tiny\nsplit: all\ndatasets:\n  - {name: ocr, limit: 3}\nmodels: []\n"
        "no_lm: [boilerplate, ocr]\nsignals: [boilerplate, ocr]\n"
    )
    result = runner.invoke(app, ["bench", str(config), "--output-dir", str(tmp_path / "res")])
    assert result.exit_code == 0, result.output
    payload = json.loads((tmp_path / "res" / "bench-tiny.json").read_text())
    assert [row["run"] for row in payload["quality_table"]] == ["no LM: boilerplate+ocr", "boilerplate alone", "ocr alone"]
    assert (tmp_path / "res" / "bench-tiny.png").stat().st_size > 1000
    assert "quality" in result.stdout and "docs/s" in result.stdout


def test_bench_one_pass_scores_each_subset_as_a_separate_run_would(data_root, tmp_path):
    rows = {}
    for derive in ("true", "false"):
        config = tmp_path / f"d{derive}.yaml"
        config.write_text(
            f"name: d{derive}\nsplit: all\ndatasets:\n  - {{name: ocr, limit: 3}}\nmodels: []\n"
            f"no_lm: [boilerplate, ocr]\nsignals: [boilerplate, ocr]\nderive_subsets: {derive}\n"
        )
        result = runner.invoke(app, ["bench", str(config), "--output-dir", str(tmp_path / "res")])
        assert result.exit_code == 0, result.output
        rows[derive] = json.loads((tmp_path / "res" / f"bench-d{derive}.json").read_text())["rows"]
    keys = ("run", "value", "precision", "recall", "checkers")
    assert [{k: r[k] for k in keys} for r in rows["true"]] == [{k: r[k] for k in keys} for r in rows["false"]]
    assert [r["recall"] > 0 for r in rows["true"]] == [True, False, True]  # the OCR errors: found, not by boilerplate
    assert rows["true"][2]["note"] == "from the boilerplate+ocr pass (time: its checkers' share)"
    assert rows["false"][2]["note"] is None


def test_bench_scores_every_run_with_calibration(data_root, tmp_path):
    model = tmp_path / "combiner.json"
    fit = runner.invoke(app, ["calibrate", "--datasets", "ocr", *FAST, "--output", str(model),
                              "--report", str(tmp_path / "rep.json")])  # fmt: skip
    assert fit.exit_code == 0, fit.output
    config = tmp_path / "cal.yaml"
    config.write_text(
        "name: cal\nsplit: all\ndatasets:\n  - {name: ocr, limit: 3}\nno_lm: [boilerplate, ocr]\n"
        f"signals: [ocr]\ncalibration: {model}\ncalibrated_thresholds: [0.5, 0.99]\n"
    )
    result = runner.invoke(app, ["bench", str(config), "--output-dir", str(tmp_path / "res")])
    assert result.exit_code == 0, result.output
    rows = json.loads((tmp_path / "res" / "bench-cal.json").read_text())["rows"]
    assert [r["run"] for r in rows] == [
        "no LM: boilerplate+ocr", "no LM: boilerplate+ocr + calibrated >= 0.5",
        "no LM: boilerplate+ocr + calibrated >= 0.99", "ocr alone", "ocr alone + calibrated >= 0.5",
        "ocr alone + calibrated >= 0.99"]  # fmt: skip
    # a stricter threshold keeps a subset of the findings: recall can only shrink
    assert rows[2]["recall"] <= rows[1]["recall"] <= rows[0]["recall"]


def test_bench_rejects_unknown_model(data_root, tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text("datasets: [ocr]\nmodels: [no-such-model]\n")
    result = runner.invoke(app, ["bench", str(config)])
    assert result.exit_code == 2


def test_eval_with_a_calibration_model_reports_reliability(data_root, tmp_path):
    model = tmp_path / "combiner.json"
    fit = runner.invoke(app, ["calibrate", "--datasets", "ocr", *FAST, "--output", str(model),
                              "--report", str(tmp_path / "rep.json")])  # fmt: skip
    assert fit.exit_code == 0, fit.output
    out = tmp_path / "cal.json"
    result = runner.invoke(app, ["eval", "ocr", *FAST, "--calibration", str(model), "--output", str(out)])
    assert result.exit_code == 0, result.output
    cal = json.loads(out.read_text())["calibration"]
    assert cal["data_hash"] == json.loads(model.read_text())["data_hash"]
    assert sum(row["n"] for row in cal["reliability"]) == cal["labelled_findings"] > 0
    missing = runner.invoke(app, ["eval", "ocr", *FAST, "--calibration", str(tmp_path / "none.json")])
    assert missing.exit_code == 2
