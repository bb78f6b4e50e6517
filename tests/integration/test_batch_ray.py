"""``mtqa batch --engine ray`` on a local Ray with 2 CPUs: the same reports as the local engine, resumable.

One Ray instance for the module (starting Ray on 2 cores takes seconds); no LM, so it stays short.
"""

import json
import os
from pathlib import Path

import pytest

from benchmarks.bench_batch import corpus
from mtqa.batch import LocalEngine, run_batch, summary_path
from mtqa.batch.ray_engine import RayEngine
from mtqa.config import Settings

# CI installs the batch extra: there a missing Ray is a failure, not a skip.
ray = __import__("ray") if os.environ.get("CI") else pytest.importorskip("ray")

pytestmark = pytest.mark.integration
TIMING = {"throughput", "output"}


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def write(path: Path, n: int, bad: bool = False) -> str:
    with open(path, "w") as stream:
        for record in corpus(n):
            stream.write(json.dumps(record) + "\n")
        if bad:
            stream.write('{"id": "broken", "text": \n')
    return str(path)


def without_timing(out: Path) -> dict:
    return {k: v for k, v in json.loads(summary_path(out).read_text()).items() if k not in TIMING}


def test_ray_engine_matches_local_and_resumes(local_ray, tmp_path):
    settings = Settings(use_lm=False)
    feed = tmp_path / "feed.jsonl"
    ray_out, local_out = tmp_path / "ray.jsonl", tmp_path / "local.jsonl"

    first = run_batch(write(feed, 8), ray_out, RayEngine(settings, workers=2), chunk_size=3)
    assert first.checked == 8 and first.summary["throughput"]["workers"] == 2
    write(feed, 18, bad=True)  # the feed grew: the second run only checks what is new
    second = run_batch(str(feed), ray_out, RayEngine(settings, workers=2), chunk_size=3)
    assert (second.checked, second.skipped) == (11, 8)
    assert ray.is_initialized()  # the engine leaves a Ray it did not start running

    run_batch(str(feed), local_out, LocalEngine(settings), chunk_size=3)
    assert ray_out.read_text() == local_out.read_text()
    assert without_timing(ray_out) == without_timing(local_out)
    lines = [json.loads(line) for line in ray_out.read_text().splitlines()]
    assert [line["id"] for line in lines] == [f"doc-{i:06d}" for i in range(18)] + [f"{feed}:19"]
    assert lines[-1]["errors"][0]["checker"] == "input"
    assert without_timing(ray_out)["findings"]["total"] > 0
