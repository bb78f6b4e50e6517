"""mtqa batch: input records, the append-only output, refusal on a signature change, error isolation."""

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtqa.api import make_pipeline
from mtqa.batch import LocalEngine, OutputLog, Refused, records, run_batch, summary_path
from mtqa.batch.core import check_records
from mtqa.cli import app
from mtqa.config import Settings
from mtqa.findings import Finding

REPO = Path(__file__).resolve().parents[2]
DEMO = (REPO / "examples" / "demo_article.txt").read_text()
CLEAN = (REPO / "tests" / "fixtures" / "clean_news.txt").read_text()
FAST = ["boilerplate", "ocr"]  # quick checkers: these tests are about the batch machinery


def engine(**settings):
    return LocalEngine(Settings(use_lm=False, calibration="off", **settings), FAST)


def write_jsonl(path: Path, items) -> Path:
    with open(path, "wb") as stream:
        for item in items:
            stream.write(item if isinstance(item, bytes) else (json.dumps(item) + "\n").encode())
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def docs(n: int, start: int = 0):
    return [{"id": f"d{i}", "text": DEMO if i % 2 else CLEAN} for i in range(start, start + n)]


def test_bad_input_lines_are_recorded_and_the_run_goes_on(tmp_path):
    src = write_jsonl(tmp_path / "in.jsonl", [
        {"id": "a", "text": DEMO},
        b"{not json\n",
        b'{"id": "latin1", "text": "caf\xe9"}\n',
        b"[1, 2]\n",
        {"id": "no-text", "body": "x"},
        {"id": "blank", "text": "   "},
        {"id": "a", "text": CLEAN},  # a repeated id
        {"id": "h", "html": "<p>Officials in Lviv said THe bridge would reopen.</p>"},
        b"\n",
        {"text": CLEAN},  # no id: its line number, as mtqa check does
    ])  # fmt: skip
    out = tmp_path / "out.jsonl"
    result = run_batch(str(src), out, engine(), chunk_size=3)
    got = {line["id"]: line for line in lines(out)}
    s = str(src)
    assert list(got) == ["a", f"{s}:2", f"{s}:3", f"{s}:4", "no-text", "blank", f"{s}:7", "h", "10"]
    errors = {k: v["errors"][0]["error"] for k, v in got.items() if v["errors"]}
    assert "invalid JSON" in errors[f"{s}:2"] and "not valid UTF-8" in errors[f"{s}:3"]
    assert "expected an object" in errors[f"{s}:4"] and '"text" or "html"' in errors["no-text"]
    assert errors["blank"].endswith(f"{s}:6: empty document") and "duplicate id 'a'" in errors[f"{s}:7"]
    assert all(got[k]["verdict"] is None and got[k]["errors"][0]["checker"] == "input" for k in errors)
    assert got["a"]["verdict"] == "block" and got["10"]["verdict"] == "pass"
    [finding] = got["h"]["findings"]
    html = json.loads(src.read_bytes().splitlines()[7])["html"]
    assert finding["text"] == "THe" == html[finding["start"] : finding["end"]]  # offsets into the HTML
    summary = json.loads(summary_path(out).read_text())
    assert summary == result.summary and summary["status"] == "complete"
    assert summary["documents"] == 9 and summary["checked"] == 3
    assert summary["errors"]["input"] == 6 and summary["errors"]["by_checker"] == {"input": 6}
    assert summary["findings"]["by_category"]["boilerplate"] == sum(
        f["category"] == "boilerplate" for line in got.values() for f in line["findings"])  # fmt: skip


def test_directory_input_recursive_with_relative_ids(tmp_path):
    root = tmp_path / "archive"
    (root / "2024" / "05").mkdir(parents=True)
    (root / "a.txt").write_text(CLEAN)
    page = "<html><body><p>THe mayor's office did not respond.</p></body></html>"
    (root / "2024" / "05" / "b.html").write_text(page)
    (root / "2024" / "notes.json").write_text("{}")  # not an article: not read
    (root / "2024" / "empty.txt").write_bytes(b"")
    (root / ".hidden.txt").write_text(CLEAN)
    out = tmp_path / "out.jsonl"
    run_batch(str(root), out, engine())
    got = {line["id"]: line for line in lines(out)}
    assert list(got) == ["a.txt", "2024/empty.txt", "2024/05/b.html"]
    assert got["2024/05/b.html"]["path"] == str(root / "2024" / "05" / "b.html")
    assert "empty input" in got["2024/empty.txt"]["errors"][0]["error"]
    assert got["a.txt"]["verdict"] == "pass"
    assert [(f["text"], page[f["start"] : f["end"]]) for f in got["2024/05/b.html"]["findings"]] == [("THe", "THe")]


def test_torn_last_line_is_cut_and_the_rest_kept(tmp_path):
    out = tmp_path / "out.jsonl"
    whole = [{"id": "x", "verdict": "pass", "findings": [], "errors": []},
             {"id": "y", "verdict": "warn", "findings": [{"category": "ocr", "check": "ocr.mixed_case"}], "errors": []}]
    out.write_bytes(b"".join((json.dumps(w) + "\n").encode() for w in whole) + b'{"id": "z", "verd')
    log = OutputLog(out)
    log.scan()
    assert log.done == {"x", "y"} and log.recovered_bytes == len(b'{"id": "z", "verd')
    assert log.stats.to_dict()["findings"]["by_check"] == {"ocr.mixed_case": 1}
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["x", "y"]
    assert out.read_bytes().endswith(b"\n")


def test_an_output_that_is_not_a_batch_output_is_refused(tmp_path):
    out = tmp_path / "out.jsonl"
    out.write_text("hello\n")
    with pytest.raises(ValueError, match="not a report line"):
        run_batch(str(write_jsonl(tmp_path / "in.jsonl", docs(1))), out, engine())
    assert out.read_text() == "hello\n"


def test_resume_skips_done_ids_and_appends_only_new_ones(tmp_path):
    out = tmp_path / "out.jsonl"
    first = run_batch(str(write_jsonl(tmp_path / "in.jsonl", docs(4))), out, engine(), chunk_size=2)
    assert (first.checked, first.skipped) == (4, 0)
    full = write_jsonl(tmp_path / "in.jsonl", docs(7))  # the feed grew
    again = run_batch(str(full), out, engine(), chunk_size=2)
    assert (again.checked, again.skipped) == (3, 4)
    assert [line["id"] for line in lines(out)] == [f"d{i}" for i in range(7)]
    reference = tmp_path / "ref.jsonl"
    run_batch(str(full), reference, engine(), chunk_size=5)
    assert reference.read_text() == out.read_text()  # chunking and resuming change nothing
    nothing = run_batch(str(full), out, engine())
    assert (nothing.checked, nothing.skipped) == (0, 7) and nothing.summary["documents"] == 7


def test_signature_mismatch_refuses_then_force_appends_and_new_starts_over(tmp_path):
    out = tmp_path / "out.jsonl"
    run_batch(str(write_jsonl(tmp_path / "half.jsonl", docs(2))), out, engine())
    before = out.read_bytes()
    old_signature = json.loads(summary_path(out).read_text())["signature"]
    full = str(write_jsonl(tmp_path / "full.jsonl", docs(4)))
    with pytest.raises(Refused, match="different run signature.*min_confidence"):
        run_batch(full, out, engine(min_confidence=0.5))
    assert out.read_bytes() == before  # nothing appended
    assert json.loads(summary_path(out).read_text())["signature"] == old_signature

    forced = run_batch(full, out, engine(min_confidence=0.5), force=True)
    assert forced.checked == 2 and forced.summary["previous_signatures"] == [old_signature]
    assert forced.summary["signature"]["min_confidence"] == 0.5

    fresh = run_batch(full, out, engine(), new=True)
    assert fresh.checked == 4 and "previous_signatures" not in fresh.summary
    assert [line["id"] for line in lines(out)] == ["d0", "d1", "d2", "d3"]


def test_missing_summary_refuses_unless_forced(tmp_path):
    out = tmp_path / "out.jsonl"
    src = str(write_jsonl(tmp_path / "in.jsonl", docs(3)))
    run_batch(src, out, engine(), chunk_size=1)
    summary_path(out).unlink()
    with pytest.raises(Refused, match="missing"):
        run_batch(src, out, engine())


class Explodes:
    """Fails on any chunk holding a document that says EXPLODE; finds "Kyiv" otherwise."""

    name, version = "explodes", "1"

    def check(self, batch):
        if any("EXPLODE" in doc.text for doc in batch):
            raise RuntimeError("boom")
        return [[Finding(doc.text.find("Kyiv"), doc.text.find("Kyiv") + 4, "style", "info", 0.5, "test finding",
                         "explodes.kyiv")] if "Kyiv" in doc.text else [] for doc in batch]  # fmt: skip


def test_a_checker_failure_is_recorded_on_its_document_only(tmp_path):
    from mtqa.batch.sources import Record

    pipeline = make_pipeline(Settings(use_lm=False, calibration="off"), FAST)
    pipeline.checkers.append(Explodes())
    batch = [Record(f"r{i}", None, "jsonl-text", text, f"in:{i}") for i, text in
             enumerate([DEMO, "EXPLODE in Kyiv.", CLEAN, "Talks in Kyiv went on."])]  # fmt: skip
    got = check_records(pipeline, batch)
    assert [line["id"] for line in got] == ["r0", "r1", "r2", "r3"]
    assert got[1]["errors"] == [{"checker": "explodes", "error": "RuntimeError: boom"}]
    assert all(line["errors"] == [] for i, line in enumerate(got) if i != 1)
    assert [f["check"] for f in got[3]["findings"]] == ["explodes.kyiv"]
    assert "explodes.kyiv" in {f["check"] for f in got[0]["findings"]}  # DEMO mentions Kyiv
    alone = [check_records(pipeline, [record])[0] for record in batch]
    assert got == alone  # the same as checking each document on its own


def test_cli_plain_progress_and_refusal_exit_code(tmp_path):
    runner = CliRunner()
    src = str(write_jsonl(tmp_path / "in.jsonl", docs(5)))
    more = str(write_jsonl(tmp_path / "more.jsonl", docs(6)))
    out = str(tmp_path / "out.jsonl")
    args = ["batch", src, out, "--no-lm", "--only", "boilerplate,ocr", "--calibration", "off", "--chunk-size", "2"]
    result = runner.invoke(app, [*args, "--progress-every", "2"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "mtqa batch: 2/5 documents" in result.stderr and "mtqa batch: 5/5 documents" in result.stderr
    assert "3/5 documents" not in result.stderr  # every 2, and the last
    refused = runner.invoke(app, ["batch", more, *args[2:], "--min-confidence", "0.9"], catch_exceptions=False)
    assert refused.exit_code == 2 and "different run signature" in refused.stderr
    assert len(Path(out).read_text().splitlines()) == 5
    assert runner.invoke(app, ["batch", str(tmp_path / "nope"), out, "--no-lm"]).exit_code == 2


def test_records_from_stdin(tmp_path):
    import io

    stream = io.BytesIO(b'{"id": "s1", "text": "One."}\n\n{"id": "s2", "html": "<p>Two.</p>"}\n')
    got = list(records("-", stream))
    assert [(r.id, r.kind, r.source) for r in got] == [("s1", "jsonl-text", "<stdin>:1"), ("s2", "jsonl-html", "<stdin>:3")]


def test_ray_replicas_per_gpu_or_per_cores():
    from mtqa.batch.ray_engine import RayEngine  # no Ray needed to size the pool

    assert RayEngine(Settings(use_lm=False))._resources({"CPU": 16}) == (1.0, 0.0, 16)
    assert RayEngine(Settings(device="cpu"))._resources({"CPU": 16, "GPU": 2}) == (2.0, 0.0, 8)
    assert RayEngine(Settings())._resources({"CPU": 16, "GPU": 2}) == (1.0, 1.0, 2)  # one replica per GPU
    assert RayEngine(Settings(), cpus_per_worker=4)._resources({"CPU": 16}) == (4, 0.0, 4)
    assert RayEngine(Settings(), ["ocr"])._resources({"CPU": 2, "GPU": 1}) == (1.0, 0.0, 2)  # no LM: no GPU
    assert RayEngine(Settings(use_lm=False), workers=3)._resources({"CPU": 2})[2] == 3


def test_ray_pool_that_cannot_be_placed_is_refused():
    from mtqa.batch.ray_engine import refuse_unplaceable

    refuse_unplaceable({"CPU": 2}, 1.0, 0.0, 2)
    with pytest.raises(ValueError, match="2 workers x 2 CPU"):
        refuse_unplaceable({"CPU": 2}, 2.0, 0.0, 2)  # the LM on CPU wants 2 cores per replica
    with pytest.raises(ValueError, match="GPU"):
        refuse_unplaceable({"CPU": 16, "GPU": 1}, 1.0, 1.0, 2)


class CountsTokens:
    """Holds a scorer-like counter, as the lm and garble checkers do (both may hold the same one)."""

    name, version = "counts", "1"

    def __init__(self, scorer):
        self._scorer = scorer

    def check(self, batch):
        self._scorer.stats["forward_tokens"] += sum(len(doc.text.split()) for doc in batch)
        self._scorer.stats["edit_rows"] += len(batch)
        return [[] for _ in batch]


def test_summary_reports_lm_counters_of_the_checking_not_the_priming(tmp_path):
    from types import SimpleNamespace

    scorer = SimpleNamespace(stats={"forward_tokens": 0, "edit_rows": 0})
    pipeline = make_pipeline(Settings(use_lm=False, calibration="off"), FAST)
    pipeline.checkers += [CountsTokens(scorer), CountsTokens(scorer)]  # one scorer, counted once
    inp = write_jsonl(tmp_path / "in.jsonl", [{"id": "a", "text": "one two three"}, {"id": "b", "text": "four five"}])
    result = run_batch(str(inp), tmp_path / "out.jsonl", LocalEngine(pipeline=pipeline), chunk_size=1)
    lm = result.summary["lm"]
    assert lm["forward_tokens"] == 2 * 5 and lm["edit_rows"] == 2 * 2  # both checkers ran; priming excluded
    assert lm["tokens_per_second"] > 0
    plain = run_batch(str(inp), tmp_path / "plain.jsonl", engine())
    assert "lm" not in plain.summary  # no LM, no counters
