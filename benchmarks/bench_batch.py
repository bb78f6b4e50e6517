"""``mtqa batch`` at archive scale: documents/s, peak memory and resume-skip time, local and on Ray.

    python -m benchmarks.bench_batch [--docs 2000] [--small 200] [--workers 2] [--lm] [--skip-ray]
    python -m benchmarks.bench_batch --lm --lm-only --lm-docs 24   # the LM rows alone (bench-batch-lm)

The documents are made from text the project owns (examples/*.txt, tests/fixtures/clean_news.txt):
their paragraphs, picked, reordered and numbered per document by a seeded RNG, every fifth one as
HTML, so no two documents are the same and the set is the same on every run. Each configuration runs
``mtqa batch`` as a subprocess into a fresh output; then the same command again, which has nothing
left to do, times the resume skip. Peak memory is the sum of the resident sets of the command's
process tree (Ray's raylet, GCS and workers included), sampled every 0.1 s. ``--lm`` adds the runs
with the default language model (slow on CPU: ``--lm-docs`` documents, default 100), with the LM
tokens/s of the batch run (one pass plus the rewrite rows, priming excluded) beside the scorer alone
on the same documents in this process (its one document pass, nothing else): the share of the
checking time the model is busy.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from html import escape
from pathlib import Path
from typing import Any, Iterator

from benchmarks.harness import print_table, write_results

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "examples").glob("*.txt")) + [REPO / "tests" / "fixtures" / "clean_news.txt"]
PLACES = ["Kherson", "Lviv", "Odesa", "Kharkiv", "Dnipro", "Poltava", "Chernihiv", "Sumy"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]


def paragraphs() -> list[str]:
    found = []
    for path in SOURCES:
        found += [p.strip() for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    return found


def corpus(n: int, seed: int = 18) -> Iterator[dict[str, str]]:
    """``n`` JSONL records ``{"id", "text"|"html"}``, the same for the same ``n`` and ``seed``."""
    pool = paragraphs()
    for i in range(n):
        rng = random.Random(seed * 1_000_003 + i)
        picked = rng.sample(pool, k=rng.randint(3, min(8, len(pool))))
        lead = f"{rng.choice(PLACES).upper()} — Report {i} filed on {rng.choice(DAYS)}."
        body = [lead, *picked]
        if i % 5 == 4:
            yield {"id": f"doc-{i:06d}", "html": "".join(f"<p>{escape(p)}</p>\n" for p in body)}
        else:
            yield {"id": f"doc-{i:06d}", "text": "\n\n".join(body) + "\n"}


def write_corpus(path: Path, n: int) -> Path:
    with open(path, "w", encoding="utf-8") as stream:
        for record in corpus(n):
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    return path


def _tree_rss(root: int) -> int:
    import psutil

    try:
        proc = psutil.Process(root)
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.Error:
            pass
    return total


def run(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``mtqa batch ARGS``: wall seconds, sampled peak RSS of its process tree (MiB), its own max RSS."""
    cmd = [sys.executable, "-m", "mtqa", "batch", *args]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env={**os.environ, **(env or {})})
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss(proc.pid))
            done.wait(0.1)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stderr = proc.stderr.read().decode("utf-8", "replace") if proc.stderr else ""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}:\n{stderr[-2000:]}")
    return {"wall_s": time.perf_counter() - t0, "peak_tree_mib": peak / 2**20, "driver_maxrss_mib": usage.ru_maxrss / 1024}


def configuration(name: str, corpus_file: Path, out_dir: Path, docs: int, extra: list[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    output = out_dir / f"{name}.jsonl"
    first = run([str(corpus_file), str(output), "--new", *extra])
    summary = json.loads((out_dir / f"{name}.jsonl.summary.json").read_text())
    again = run([str(corpus_file), str(output), *extra])
    resumed = json.loads((out_dir / f"{name}.jsonl.summary.json").read_text())
    t = summary["throughput"]
    row = {
        "run": name, "documents": docs, "docs_per_s": t["documents_per_second"],
        "docs_per_s_wall": docs / first["wall_s"], "wall_s": first["wall_s"], "start_s": t["start_seconds"],
        "peak_mib": first["peak_tree_mib"], "driver_maxrss_mib": first["driver_maxrss_mib"],
        "resume_skip_s": again["wall_s"], "resume_skipped": resumed["throughput"]["skipped"],
        "findings": summary["findings"]["total"], "verdicts": summary["verdicts"],
    }  # fmt: skip
    if "lm" in summary:
        row |= {"lm_tokens_per_s": summary["lm"]["tokens_per_second"], "lm_tokens": summary["lm"]["forward_tokens"],
                "rewrite_rows": summary["lm"].get("edit_rows", 0)}  # fmt: skip
    assert resumed["throughput"]["checked"] == 0 and resumed["documents"] == docs, resumed
    return row, summary


def scorer_alone(corpus_file: Path) -> dict[str, Any]:
    """Tokens/s of the default scorer's one document pass over the corpus, nothing else (warmed)."""
    from mtqa.batch.core import to_document
    from mtqa.batch.sources import records
    from mtqa.config import Settings
    from mtqa.lm import document_states, get_scorer, release_states

    docs = [to_document(r) for r in records(str(corpus_file), None)]
    scorer = get_scorer(Settings())
    release_states(document_states(docs[:1], scorer) and docs[:1])  # load and warm the model
    before, t0 = scorer.stats["forward_tokens"], time.perf_counter()
    document_states(docs, scorer)
    seconds = time.perf_counter() - t0
    release_states(docs)
    return {"documents": len(docs), "tokens": scorer.stats["forward_tokens"] - before, "seconds": round(seconds, 2),
            "tokens_per_s": round((scorer.stats["forward_tokens"] - before) / seconds, 1)}  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--small", type=int, default=200, help="the smaller run, to show memory stays flat")
    parser.add_argument("--workers", type=int, default=2, help="Ray workers")
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--skip-ray", action="store_true")
    parser.add_argument("--lm-only", action="store_true", help="only the LM rows (written as bench-batch-lm)")
    parser.add_argument("--lm", action="store_true", help="also run with the default language model (slow on CPU)")
    parser.add_argument("--lm-docs", type=int, default=100)
    args = parser.parse_args(argv)

    rows: list[dict[str, Any]] = []
    signature: dict[str, Any] = {}
    no_lm = ["--no-lm", "--chunk-size", str(args.chunk_size)]
    ray = ["--engine", "ray", "--workers", str(args.workers)]
    with tempfile.TemporaryDirectory(prefix="mtqa-bench-batch-") as tmp:
        tmp_dir = Path(tmp)
        plan = [] if args.lm_only else [
            ("local-no-lm", args.small, no_lm),
            ("local-no-lm", args.docs, no_lm),
        ]  # fmt: skip
        if not args.skip_ray and not args.lm_only:
            plan += [("ray-no-lm", args.small, no_lm + ray), ("ray-no-lm", args.docs, no_lm + ray)]
        if args.lm:
            plan += [("local-lm", args.lm_docs, ["--chunk-size", str(args.chunk_size)])]
            if not args.skip_ray:
                # One LM replica per core: the default (2 cores per replica on CPU) fits one on 2 cores.
                plan += [("ray-lm", args.lm_docs, ["--chunk-size", str(args.chunk_size), *ray, "--cpus-per-worker", "1"])]
        for name, n, extra in plan:
            corpus_file = tmp_dir / f"corpus-{n}.jsonl"
            if not corpus_file.exists():
                write_corpus(corpus_file, n)
            print(f"{name}: {n} documents ...", flush=True)
            row, summary = configuration(f"{name}-{n}", corpus_file, tmp_dir, n, extra)
            row["run"] = name
            rows.append(row)
            signature = signature or summary["signature"]
        alone = scorer_alone(tmp_dir / f"corpus-{args.lm_docs}.jsonl") if args.lm else None
    table = [{k: v for k, v in row.items() if k != "verdicts"} for row in rows]
    print_table(f"mtqa batch ({os.cpu_count()} CPUs)", table)
    payload: dict[str, Any] = {"cpus": os.cpu_count(), "chunk_size": args.chunk_size, "rows": rows}
    if alone:
        payload["scorer_alone"] = alone
        for row in rows:
            if "lm_tokens_per_s" in row:
                row["lm_busy_vs_scorer_alone"] = round(row["lm_tokens_per_s"] / alone["tokens_per_s"], 3)
        print(f"scorer alone (one document pass, {alone['documents']} documents): {alone['tokens_per_s']} tokens/s")
    write_results("bench-batch-lm" if args.lm_only else "bench-batch", payload, signature)


if __name__ == "__main__":
    main()
