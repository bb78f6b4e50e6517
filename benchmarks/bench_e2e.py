"""End-to-end check time for news articles: latency, throughput and the LM's work ratio.

    make bench-e2e                       # = python -m benchmarks.bench_e2e
    python -m benchmarks.bench_e2e --articles 20 --baseline ../old-checkout
    python -m benchmarks.bench_e2e --baseline ../old-checkout --pairs 4   # the seed only, paired runs

The workload (never copied into the repository; read in place from ``MTQA_DATA_DIR``):

* the seed article (``seed/article.txt``);
* news articles of 500-900 words made from the WMT23 general-MT zh-en MQM set: each system's
  translation of consecutive news documents, one segment per paragraph, joined until the article
  has at least 500 words (a fixed order, so every run checks the same articles).

Reported, with the default pipeline (LM on) and with ``--no-lm`` in the same run:

* per-article latency p50 / p95 (one ``Pipeline.run`` call per article, warm caches) and articles/s
  for one call per article and for one call of all of them;
* the **work ratio**: tokens the model forwards / tokens of the articles, per checker (the first
  pass is paid by the first checker that needs it);
* the seed article alone: end-to-end seconds and the ratio to its ``--no-lm`` time;
* with ``--baseline DIR`` (a checkout of an earlier commit, sharing this virtualenv), the same seed
  figures for that design, run in a subprocess in the same run.

JSON in ``benchmarks/results/bench-e2e.json`` with the run signature.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import print_table, write_results


def load_articles(n: int, min_words: int = 500, max_words: int = 900) -> list[tuple[str, str]]:
    from mtqa.config import data_dir

    root = data_dir()
    out: list[tuple[str, str]] = []
    seed = root / "seed" / "article.txt"
    if seed.exists():
        out.append(("seed", seed.read_text(encoding="utf-8")))
    if len(out) >= n:
        return out
    path = root / "mt_mqm" / "mqm_generalMT2023_zhen_sxs.jsonl.gz"
    if not path.exists():
        raise SystemExit(f"MQM data not found at {path} (set MTQA_DATA_DIR)")
    segments: dict[tuple[str, str], dict[int, str]] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            rec = json.loads(line)
            segments.setdefault((rec["system"], rec["doc"]), {})[int(rec["seg_id"])] = rec["target"].strip()
    by_system: dict[str, list[list[str]]] = {}
    for (system, _doc), segs in sorted(segments.items()):
        by_system.setdefault(system, []).append([segs[k] for k in sorted(segs)])
    for system, docs in sorted(by_system.items()):
        paragraphs: list[str] = []
        for doc in docs:
            paragraphs += [p for p in doc if p]
            words = sum(len(p.split()) for p in paragraphs)
            if words >= min_words:
                while words > max_words and len(paragraphs) > 1:
                    words -= len(paragraphs.pop().split())
                out.append((f"{system}#{len(out)}", "\n\n".join(paragraphs)))
                paragraphs = []
                if len(out) >= n:  # (the seed counts)
                    return out
    return out


def _pipeline(use_lm: bool):
    from mtqa.api import make_pipeline
    from mtqa.config import Settings

    return make_pipeline(Settings(use_lm=use_lm))


def _scorer(pipeline):
    for checker in pipeline.checkers:
        for attr in ("_scorer", "_lm"):
            s = getattr(checker, attr, None)
            if s is not None and hasattr(s, "stats"):
                return s
    return None


def _counting(pipeline, work: dict[str, int]) -> None:
    """Count the tokens the model forwards inside each checker."""

    for checker in pipeline.checkers:
        original = checker.check

        def check(docs, _original=original, _name=checker.name):
            scorer = _scorer(pipeline)
            before = scorer.stats["forward_tokens"] if scorer else 0
            result = _original(docs)
            scorer = _scorer(pipeline)
            work[_name] = work.get(_name, 0) + (scorer.stats["forward_tokens"] if scorer else 0) - before
            return result

        checker.check = check


def _article_tokens(texts: list[str]) -> int:
    from mtqa.config import Settings
    from mtqa.lm import get_scorer

    tok = get_scorer(Settings()).tokenizer
    return sum(len(tok(t, add_special_tokens=False)["input_ids"]) for t in texts)


def measure(articles: list[tuple[str, str]], use_lm: bool) -> dict[str, Any]:
    from mtqa.document import Document

    pipeline = _pipeline(use_lm)
    pipeline.run([Document.from_text("The mayor said the council would vote on Tuesday. Prices rose.")])  # warm
    work: dict[str, int] = {}
    _counting(pipeline, work)
    latencies = []
    t0 = time.perf_counter()
    for name, text in articles:
        t = time.perf_counter()
        pipeline.run([Document.from_text(text, id=name)])
        latencies.append(time.perf_counter() - t)
    one_by_one = time.perf_counter() - t0
    per_call = dict(work)
    work.clear()
    t = time.perf_counter()
    reports = pipeline.run([Document.from_text(text, id=name) for name, text in articles])
    together = time.perf_counter() - t
    ordered = sorted(latencies)
    result = {
        "lm": use_lm,
        "articles": len(articles),
        "words": sum(len(text.split()) for _, text in articles),
        "seed_seconds": latencies[0] if articles and articles[0][0] == "seed" else None,
        "latency_p50": statistics.median(latencies),
        "latency_p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "articles_per_s_one_call_each": len(articles) / one_by_one,
        "articles_per_s_one_call": len(articles) / together,
        "findings": sum(len(r.findings) for r in reports),
        "forward_tokens_by_checker": per_call,
    }
    if use_lm:
        tokens = _article_tokens([text for _, text in articles])
        result["article_tokens"] = tokens
        result["work_ratio"] = sum(per_call.values()) / tokens
        result["work_ratio_by_checker"] = {k: v / tokens for k, v in per_call.items() if v}
    return result, pipeline.signature


def baseline_seed(checkout: Path, lm_only: bool = False) -> dict[str, Any]:
    """The seed article through a checkout of mtqa (an earlier one, or this one for ``--pairs``), in
    a subprocess (same virtualenv)."""
    code = (
        "import json, time\n"
        "from mtqa.api import make_pipeline\nfrom mtqa.config import Settings, data_dir\n"
        "from mtqa.document import Document\n"
        "text = (data_dir() / 'seed' / 'article.txt').read_text(encoding='utf-8')\n"
        "out = {}\n"
        f"for lm in {(True,) if lm_only else (False, True)}:\n"
        "    p = make_pipeline(Settings(use_lm=lm))\n"
        "    p.run([Document.from_text('The mayor said the council would vote on Tuesday. Prices rose.')])\n"
        "    t = time.perf_counter(); p.run([Document.from_text(text)]); out['lm' if lm else 'no_lm'] = time.perf_counter() - t\n"
        "from mtqa.lm import get_scorer\n"
        "out['forward_tokens'] = get_scorer(Settings()).stats['forward_tokens']  # warm-up sentence included\n"
        "print(json.dumps(out))\n"
    )
    from mtqa.config import data_dir

    # the data dir as this run resolves it: a relative default would resolve from the checkout
    env = {**os.environ, "PYTHONPATH": str(checkout.resolve()), "MTQA_DATA_DIR": str(data_dir().resolve())}
    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=checkout, capture_output=True, text=True).stdout.strip()
    # cwd too: "-c" puts the working directory first on sys.path
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=checkout, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"baseline checkout {checkout} failed:\n{done.stderr[-3000:]}")
    return {"git": git, **json.loads(done.stdout.strip().splitlines()[-1])}


def seed_pairs(checkout: Path, pairs: int) -> dict[str, Any]:
    """The seed article (LM on) through the baseline checkout and this one in turn, ``pairs``
    times, each in a fresh subprocess: on a shared machine whose speed drifts by 10-30 % between
    minutes, the ratio pair by pair is what holds."""
    here = Path(__file__).resolve().parent.parent
    runs = [(baseline_seed(checkout, lm_only=True), baseline_seed(here, lm_only=True)) for _ in range(pairs)]
    ratios = [base["lm"] / new["lm"] for base, new in runs]
    rows = [{"pair": k + 1, f"previous ({runs[0][0]['git']}) s": base["lm"], f"this ({runs[0][1]['git']}) s": new["lm"],
             "ratio": ratio, "forwarded tokens, previous / this": f"{base['forward_tokens']} / {new['forward_tokens']}"}
            for k, ((base, new), ratio) in enumerate(zip(runs, ratios))]  # fmt: skip
    summary = {"median previous s": statistics.median(b["lm"] for b, _ in runs),
               "median this s": statistics.median(n["lm"] for _, n in runs), "median ratio": statistics.median(ratios)}
    print_table("Seed article, default pipeline, alternating subprocesses", rows + [summary])
    return {"pairs": [{"previous": b, "this": n} for b, n in runs], **summary}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--articles", type=int, default=21, help="articles, the seed article first")
    ap.add_argument("--baseline", type=Path, default=None, help="checkout of an earlier commit to compare on the seed")
    ap.add_argument("--pairs", type=int, default=0,
                    help="only the seed: this many alternating runs of --baseline and this checkout")  # fmt: skip
    ap.add_argument("--name", default="bench-e2e")
    args = ap.parse_args()
    if args.pairs:
        if not args.baseline:
            raise SystemExit("--pairs needs --baseline")
        write_results(args.name, seed_pairs(args.baseline, args.pairs))  # each run names its commit
        return
    articles = load_articles(args.articles)
    rows, runs, signature = [], [], {}
    for use_lm in (False, True):
        result, sig = measure(articles, use_lm)
        runs.append(result)
        signature = sig if use_lm else signature or sig
    no_lm, lm = runs
    for label, r in (("--no-lm", no_lm), ("default (LM)", lm)):
        rows.append({
            "run": label, "articles": r["articles"], "seed s": r["seed_seconds"], "p50 s": r["latency_p50"],
            "p95 s": r["latency_p95"], "art/s one call each": r["articles_per_s_one_call_each"],
            "art/s one call": r["articles_per_s_one_call"], "work ratio": r.get("work_ratio"),
        })  # fmt: skip
    payload: dict[str, Any] = {"runs": runs}
    if lm["seed_seconds"] and no_lm["seed_seconds"]:
        payload["seed_lm_over_no_lm"] = lm["seed_seconds"] / no_lm["seed_seconds"]
    payload["batch_gain"] = lm["articles_per_s_one_call"] / lm["articles_per_s_one_call_each"]
    if args.baseline:
        base = baseline_seed(args.baseline)
        payload["baseline"] = base
        rows.append({"run": f"previous design ({base['git']}), seed", "seed s": base["lm"]})
        rows.append({"run": f"previous design ({base['git']}), seed --no-lm", "seed s": base["no_lm"]})
    print_table("End to end (warm caches)", rows)
    print_table("Work ratio by checker (forwarded tokens / article tokens)",
                [{"checker": k, "ratio": v} for k, v in lm.get("work_ratio_by_checker", {}).items()])  # fmt: skip
    write_results(args.name, payload, signature)


if __name__ == "__main__":
    main()
