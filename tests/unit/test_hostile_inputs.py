"""Issue 20, item by item, through ``mtqa check --no-lm``: offsets, record isolation, the verdict
rule, damage and the verdict, usage mistakes found first, encodings, the size and time budgets."""

from __future__ import annotations

import json
import time

import pytest
from typer.testing import CliRunner

from mtqa.cli import app
from mtqa.cli.check import FailOn, exit_code
from mtqa.combiner import Combiner
from mtqa.document import Document
from mtqa.findings import Finding
from mtqa.inputs import decode, documents_from_text, read_source
from mtqa.pipeline import Pipeline

runner = CliRunner()
FAST = ["--no-lm", "--only", "boilerplate,ocr,garble"]


def run(*args, input=None):
    result = runner.invoke(app, ["check", *args], input=input, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_html_vertical_tab_offsets_name_the_right_words(tmp_path):  # item 1, the issue's own example
    page = tmp_path / "x.html"
    html = "<p>Intro line\vone.</p>\n<p>The mayor said THe council voted. Tbe rnilitary left.</p>\n"
    page.write_text(html)
    result = run(str(page), "--no-lm", "-f", "json")
    texts = {f["text"] for f in json.loads(result.stdout)["documents"][0]["findings"]}
    assert {"THe", "Tbe", "rnilitary"} <= texts


@pytest.mark.parametrize("fmt", ["text", "json", "jsonl", "sarif", "lt"])
def test_a_lone_surrogate_spoils_nothing(tmp_path, fmt):  # item 2
    batch = tmp_path / "b.jsonl"
    batch.write_text(json.dumps({"id": "bad", "text": "a \ud800 b THe c."}) + "\n")
    good = tmp_path / "good.txt"
    good.write_text("The mayor said THe council voted.\n")
    result = run(str(batch), str(good), "--no-lm", "--only", "ocr,grammar", "-f", fmt)
    assert result.exit_code == 1, result.stderr  # both blocked on "THe"; nothing failed
    assert "failed" not in result.stderr
    if fmt == "json":
        docs = json.loads(result.stdout)["documents"]
        assert [d["errors"] for d in docs] == [[], []]
        text = "a \ud800 b THe c."
        assert "THe" in [f["text"] for f in docs[0]["findings"]]
        assert all(f["text"] == text[f["start"] : f["end"]] for f in docs[0]["findings"])


def test_one_bad_jsonl_line_keeps_the_good_ones_and_all_errors_are_named():  # item 3
    lines = [json.dumps({"id": "a", "text": "One\u2028two\x85three THe."}, ensure_ascii=False), "{bad", "[1]",
             json.dumps({"id": None, "text": "No id."}), json.dumps({"id": "a", "text": "Again."})]
    text = "\ufeff" + "\n".join(lines)
    errors = []
    docs = documents_from_text(text, source="b.jsonl", path=None, input_format="jsonl", errors=errors)
    assert [(d.id, d.text) for d in docs] == [("a", "One\u2028two\x85three THe."), ("4", "No id.")]
    assert [str(e).split(": ")[0] for e in errors] == ["b.jsonl:2", "b.jsonl:3", "b.jsonl:5"]
    assert "duplicate id 'a' (first on line 1)" in str(errors[2])
    result = run("-", *FAST, "--input-format", "jsonl", "-f", "jsonl", input=text)
    assert result.exit_code == 2 and [json.loads(l)["id"] for l in result.stdout.splitlines()] == ["a", "4"]
    assert all(f"<stdin>:{n}: " in result.stderr for n in (2, 3, 5))


def _report(severity: str, confidence: float):
    pipeline = Pipeline([], Combiner())
    [report] = pipeline.run([Document.from_text("THe mayor spoke.")])
    report.findings = [Finding(0, 3, "ocr", severity, confidence, "m", "ocr.x")]
    report.verdict = pipeline.combiner.verdict(report.findings)
    return report


@pytest.mark.parametrize(
    "severity, confidence, verdict, default_code",
    [("error", 0.05, "pass", 0), ("error", 0.5, "warn", 0), ("warning", 0.9, "warn", 0), ("error", 0.9, "block", 1)],
)  # fmt: skip
def test_the_exit_code_follows_the_verdict(severity, confidence, verdict, default_code):  # item 4
    report = _report(severity, confidence)
    assert report.verdict.value == verdict
    assert exit_code([report], FailOn.block, bad_input=False) == default_code
    assert exit_code([report], FailOn.warn, bad_input=False) == (verdict != "pass")
    assert exit_code([report], FailOn.error, bad_input=False) == (severity == "error")  # severity rule on request
    assert exit_code([report], FailOn.never, bad_input=False) == 0


def test_the_cli_verdict_and_exit_code_agree():
    for text in ("THe mayor spoke.\n", "The mayor spoke.\n", "Tbe rnilitary said so.\n"):
        result = run("-", "--no-lm", "-f", "json", input=text)
        [doc] = json.loads(result.stdout)["documents"]
        assert result.exit_code == (1 if doc["verdict"] == "block" else 0), (text, doc["verdict"])


class _Damning:
    """A calibration that reads document damage as a reason to trust findings less (the issue-5 model)."""

    data_hash = "test"

    def calibrate(self, finding, text=""):
        from dataclasses import replace

        damage = (finding.evidence.get("document") or {}).get("ocr_damage_per_100_words", 0.0)
        return replace(finding, confidence=0.05 if damage else 0.9)


def test_damage_never_lowers_a_confidence():  # item 5, in the combiner
    findings = [Finding(0, 3, "ocr", "warning", 0.925, "m", "ocr.glyph_confusion"),
                Finding(4, 13, "ocr", "warning", 0.925, "m", "ocr.glyph_confusion")]  # fmt: skip
    combiner = Combiner(calibrator=_Damning())
    merged = combiner.combine(findings, "Tbe rnilitary said so.")
    assert [f.confidence for f in merged] == [0.9, 0.9]
    assert merged[0].evidence["document"]["ocr_damage_per_100_words"] == 50.0  # still shown to the reader
    assert combiner.verdict(merged).value != "pass"


def test_damaged_short_text_is_not_passed():  # item 5, end to end with the shipped calibration
    result = run("-", "--no-lm", "-f", "json", input="Tbe rnilitary said so.\n")
    [doc] = json.loads(result.stdout)["documents"]
    assert doc["verdict"] != "pass"


@pytest.mark.parametrize(
    "args, message",
    [(["-o", "missing_dir/x.json"], "missing_dir does not exist"), (["--names", "missing.toml"], "no such file"),
     (["--grammar", "nosuch"], "unknown backend"), (["--min-confidence", "5"], "min-confidence"),
     (["--calibration", "nosuch.json"], "--calibration")],
)  # fmt: skip
def test_usage_mistakes_exit_2_before_checking(tmp_path, monkeypatch, args, message):  # item 7
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("The mayor said THe words.\n")
    started = time.monotonic()
    result = run("a.txt", "--no-lm", *args)
    assert result.exit_code == 2 and message in result.output
    assert result.stdout == "" and time.monotonic() - started < 10


def test_a_semicolon_csv_is_a_clear_usage_error(tmp_path):
    names = tmp_path / "names.csv"
    names.write_text("canonical;variants\nKyiv;Kiev\n")
    result = run(str(tmp_path / "none.txt"), "--no-lm", "--names", str(names))
    assert result.exit_code == 2 and "no 'canonical' column" in result.stderr and "KeyError" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_utf16_and_late_nul_bytes():  # item 8
    assert decode("\ufeffThe mayor.".encode("utf-16-le"), "x") == "\ufeffThe mayor."
    assert decode("\ufeffThe mayor.".encode("utf-32-be"), "x") == "\ufeffThe mayor."
    with pytest.raises(ValueError, match=r"NUL byte at character 20,000"):
        decode(b"a" * 20000 + b"\x00", "x")


def test_over_the_size_budget_is_named_and_the_rest_reported(tmp_path):  # item 6
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_text("The mayor said so. " * 1000)
    small.write_text("The mayor said THe words.\n")
    result = run(str(big), str(small), *FAST, "--max-chars", "5000", "-f", "jsonl")
    assert result.exit_code == 2 and f"{big}: 19,000 characters is over the per-document budget" in result.stderr
    assert [json.loads(l)["id"] for l in result.stdout.splitlines()] == [str(small)]


def test_over_the_time_budget_is_named_and_the_rest_reported(tmp_path):
    slow, small = tmp_path / "slow.txt", tmp_path / "small.txt"
    slow.write_text("The mayor said THe words and more words. " * 22000)  # 902,000 characters: seconds
    small.write_text("The mayor said THe words.\n")
    result = run(str(small), str(slow), *FAST, "--timeout", "1", "-f", "json")
    assert result.exit_code == 2 and f"{slow}: not checked: over the 1-second time budget" in result.stderr
    assert [d["id"] for d in json.loads(result.stdout)["documents"]] == [str(small)]


class _Killed(Exception):
    pass


def test_reports_are_written_as_documents_finish(tmp_path, monkeypatch):
    """The JSON report streams: what was written before a later document breaks stays written."""
    from mtqa.cli import check as check_module

    paths = []
    for i in range(3):
        paths.append(tmp_path / f"d{i}.txt")
        paths[-1].write_text(f"Story {i}: the mayor said THe words.\n" + "x " * 150_000)  # one group each
    calls = []
    real = check_module.check_documents

    def flaky(docs, pipeline, progress=None):
        calls.append(len(docs))
        if len(calls) == 3:  # d0, d1, then d2 dies: d0 and d1 are already out
            raise _Killed
        return real(docs, pipeline, progress)

    monkeypatch.setattr(check_module, "check_documents", flaky)
    out = tmp_path / "r.json"
    with pytest.raises(_Killed):
        runner.invoke(app, ["check", *map(str, paths), *FAST, "-f", "json", "-o", str(out)], catch_exceptions=False)
    written = out.read_text()
    assert str(paths[0]) in written and str(paths[1]) in written and str(paths[2]) not in written


def test_work_is_linear_in_a_single_long_line():  # item 6: was quadratic in garble's line facts
    from mtqa.api import make_pipeline
    from mtqa.config import Settings

    pipeline = make_pipeline(Settings(use_lm=False, calibration="off"), ["boilerplate", "ocr", "garble"])
    sentence = "The mayor of Kyiv said THe council voted to rebuild the bridge, and the city cheered. "
    pipeline.run([Document.from_text(sentence)])

    def seconds(n: int) -> float:
        doc = Document.from_text(sentence * n)
        started = time.perf_counter()
        pipeline.run([doc])
        return time.perf_counter() - started

    small, large = min(seconds(500) for _ in range(2)), min(seconds(2000) for _ in range(2))
    assert large < 8 * small + 0.5, (small, large)  # 4x the text: linear is ~4x, quadratic 16x


def test_read_source_never_raises_on_bad_files(tmp_path):
    (tmp_path / "d").mkdir()
    for name, data in [("e.txt", b""), ("n.txt", b"ok\x00"), ("l.txt", b"caf\xe9")]:
        (tmp_path / name).write_bytes(data)
    for name in ("d", "e.txt", "n.txt", "l.txt", "missing.txt"):
        docs, errors = read_source(str(tmp_path / name))
        assert docs == [] and len(errors) == 1 and str(errors[0]).startswith(str(tmp_path / name))
