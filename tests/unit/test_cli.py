import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtqa.cli import app
from mtqa.cli.check import exit_code, FailOn
from mtqa.document import Document
from mtqa.findings import Finding
from mtqa.pipeline import Pipeline

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "examples" / "demo_article.txt"
GOLDEN = Path(__file__).parent / "golden"
# Format tests pin the raw confidences: they must not change whenever models/combiner.json is refitted.
FAST = ["--only", "boilerplate,ocr", "--calibration", "off"]
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, ["check", *args], input=input, catch_exceptions=False)


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "sarif", "lt"])
def test_golden_output(fmt):
    result = run(str(DEMO.relative_to(REPO)), *FAST, "--format", fmt, "--fail-on", "never")
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"demo.{fmt}"
    if os.environ.get("MTQA_UPDATE_GOLDEN"):
        golden.write_text(result.stdout)
    assert result.stdout == golden.read_text()


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch):
    monkeypatch.chdir(REPO)


def test_json_contract():
    result = run(str(DEMO), *FAST, "--format", "json")
    payload = json.loads(result.stdout)
    assert set(payload["mtqa"]) == {"version", "signature"}
    [doc] = payload["documents"]
    assert result.exit_code == (1 if doc["verdict"] == "block" else 0)  # default --fail-on block: the verdict
    assert set(doc) >= {"id", "path", "verdict", "findings"}
    original = DEMO.read_text()
    keys = {"start", "end", "text", "category", "severity", "confidence", "message", "suggestions", "check", "evidence"}
    for f in doc["findings"]:
        assert set(f) == keys and f["text"] == original[f["start"] : f["end"]]


def test_the_decision_threshold_is_an_operating_point_the_signature_carries():
    from mtqa.decision import Decision

    signature = lambda *a: json.loads(run(str(DEMO), *FAST, *a, "--format", "json", "--fail-on", "never").stdout)["mtqa"]["signature"]  # noqa: E731
    assert signature("--decision-threshold", "0.3")["decision_threshold"] == 0.3
    assert signature()["decision_threshold"] == Decision.load().report_threshold
    assert run(str(DEMO), *FAST, "--decision-threshold", "1.5").exit_code == 2


def test_fail_on_levels():
    assert run(str(DEMO), *FAST, "--fail-on", "never").exit_code == 0
    assert run(str(DEMO), *FAST, "--fail-on", "warning").exit_code == 1
    clean = REPO / "tests" / "fixtures" / "clean_news.txt"
    assert run(str(clean), *FAST, "--fail-on", "info").exit_code == 0


def test_stdin_and_jsonl_keep_ids_and_order():
    lines = "\n".join(json.dumps({"id": i, "text": t}) for i, t in [("b", "tHe end."), ("a", "Fine copy.")])
    result = run("-", *FAST, "--input-format", "jsonl", "--format", "json", input=lines)
    docs = json.loads(result.stdout)["documents"]
    assert [d["id"] for d in docs] == ["b", "a"]
    assert docs[0]["findings"][0]["text"] == "tHe" and docs[1]["findings"] == []


@pytest.mark.parametrize(
    "content, message",
    [(b"", "empty input"), (b"\x00\x01\x02binary", "binary"), (b"\xff\xfe bad", "not valid UTF-8")],
)  # fmt: skip
def test_bad_input_exits_2_naming_the_file(tmp_path, content, message):
    path = tmp_path / "story.txt"
    path.write_bytes(content)
    result = run(str(path), *FAST)
    assert result.exit_code == 2
    assert f"{path}: " in result.stderr and message in result.stderr


def test_bad_file_among_good_ones_still_checks_the_good(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"")
    result = run(str(bad), str(DEMO), *FAST, "--format", "json")
    assert result.exit_code == 2
    assert len(json.loads(result.stdout)["documents"]) == 1


def test_usage_errors_exit_2():
    assert run(str(DEMO), "--format", "xml").exit_code == 2
    assert run(str(DEMO), "--only", "nonsense").exit_code == 2
    assert run(str(REPO / "no-such-file.txt"), *FAST).exit_code == 2


class Broken:
    name = "broken"
    version = "0"

    def check(self, docs):
        raise RuntimeError("model exploded")


class OneFinding:
    name = "one"
    version = "1"

    def check(self, docs):
        return [[Finding(0, 3, "ocr", "warning", 0.5, "m", "one.x")] for _ in docs]


def test_a_failing_checker_is_reported_not_fatal():
    [report] = Pipeline([Broken(), OneFinding()]).run([Document.from_text("tHe end")])
    assert [f.check for f in report.findings] == ["one.x"]
    assert report.failures[0].checker == "broken" and "model exploded" in report.failures[0].error
    assert exit_code([report], FailOn.never, bad_input=False) == 3
    assert report.to_dict()["errors"] == [{"checker": "broken", "error": "RuntimeError: model exploded"}]


def test_console_script_runs_and_reports_version():
    out = subprocess.run([sys.executable, "-m", "mtqa", "--version"], capture_output=True, text=True, check=True)
    assert out.stdout.startswith("mtqa ")


def test_import_mtqa_does_not_import_torch():
    code = "import sys, mtqa; mtqa.make_pipeline(mtqa.Settings(), only=['ocr']); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
