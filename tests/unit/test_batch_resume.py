"""Kill ``mtqa batch`` with SIGKILL mid-way, run it again, and compare with a run that was never killed."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.bench_batch import write_corpus

REPO = Path(__file__).resolve().parents[2]
N = 60
TIMING = {"throughput", "output"}  # what may differ between two runs of the same job


def batch(src: Path, out: Path, *extra: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "mtqa", "batch", str(src), str(out), "--no-lm", "--chunk-size", "4", *extra]
    return subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "MTQA_THREADS": "1"})  # fmt: skip


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err.decode()
    return err.decode()


def line_count(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except FileNotFoundError:
        return 0


def summary(out: Path) -> dict:
    payload = json.loads(out.with_name(out.name + ".summary.json").read_text())
    return {k: v for k, v in payload.items() if k not in TIMING}


def test_sigkill_mid_run_then_resume_loses_and_duplicates_nothing(tmp_path):
    src = write_corpus(tmp_path / "feed.jsonl", N)
    killed_out, reference_out = tmp_path / "killed.jsonl", tmp_path / "reference.jsonl"

    victim = batch(src, killed_out)
    deadline = time.monotonic() + 240
    while line_count(killed_out) < 8 and victim.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    written = line_count(killed_out)
    assert victim.returncode == -signal.SIGKILL and 8 <= written < N, (victim.returncode, written)
    # A kill inside a write leaves a torn last line; make sure there is one to cut.
    with open(killed_out, "ab") as stream:
        stream.write(b'{"id": "doc-0000')

    reference = batch(src, reference_out)  # meanwhile, the same job never interrupted
    finish(batch(src, killed_out))
    finish(reference)

    ids = [json.loads(line)["id"] for line in killed_out.read_text().splitlines()]
    expected = [json.loads(line)["id"] for line in src.read_text().splitlines()]
    assert ids == expected  # none lost, none twice, input order
    assert killed_out.read_text() == reference_out.read_text()
    resumed = json.loads(killed_out.with_name("killed.jsonl.summary.json").read_text())["throughput"]
    assert resumed["skipped"] == written and resumed["checked"] == N - written and resumed["torn_bytes_cut"] == 16
    assert summary(killed_out) == summary(reference_out)
    assert summary(reference_out)["status"] == "complete" and summary(reference_out)["documents"] == N
