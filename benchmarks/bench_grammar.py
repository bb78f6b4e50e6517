"""Grammar backends on the same text: speed, memory, false alarms on clean news, OCR precision/recall.

    python -m benchmarks.bench_grammar [--limit N] [--backends lingotweaker,languagetool]

Each backend runs in its own process so peak memory (max RSS) is its own. Measures:
* sentences/s of ``GrammarChecker.check`` (engine + mtqa's mapping) on clean DEMETR MT sentences;
* findings on clean text: the 15 clean news paragraphs of tests/data/grammar (every finding is a
  false alarm) and clean DEMETR sentences (``mt_sent``/``eng_sent``; a few real typos remain there),
  with the news profile and with every rule on (what the profile removes);
* word-level precision/recall on OCR-damaged newspaper text (Overproof, ../shared/data/ocr): OCR and
  ground-truth words of each article are aligned with difflib; an OCR word whose text differs from
  its ground truth (surrounding punctuation ignored) is damaged; a word overlapped by a finding is
  flagged. LanguageTool runs only when LANGUAGETOOL_URL or LANGUAGETOOL_DIR is set.
The gazetteer's name lookup is not used here (engine + profile only).
"""

from __future__ import annotations

import argparse
import difflib
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mtqa.config import data_dir

ROOT = Path(__file__).resolve().parents[1]
CLEAN_NEWS = ROOT / "tests" / "data" / "grammar" / "clean_news.txt"
OVERPROOF = "ocr/overproof_dataset2_smh_1842-1954.jsonl"
DEMETR = "demetr/demetr_items_0001-0600.jsonl.gz"
_PUNCT = "\"'.,;:!?()[]{}<>«»„“”‘’`^*_~|/\\-–—…•·°»"
_LIST_KEYS = ("disabled_categories", "disabled_rules")


def clean_paragraphs() -> list[str]:
    blocks = CLEAN_NEWS.read_text(encoding="utf-8").split("\n\n")
    return [b.strip() for b in blocks if b.strip() and not b.lstrip().startswith("#")]


def demetr_sentences(limit: int | None) -> list[str]:
    path = data_dir() / DEMETR
    if not path.exists():
        return []
    out = []
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if limit is not None and i >= limit:
                break
            row = json.loads(line)
            out += [row["mt_sent"], row["eng_sent"]]
    return out


def overproof_articles(limit: int | None) -> list[dict[str, Any]]:
    path = data_dir() / OVERPROOF
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows[:limit] if limit is not None else rows


def _norm(word: str) -> str:
    return word.strip(_PUNCT)


def ocr_truth(article: dict[str, Any]) -> tuple[str, list[tuple[int, int]], list[bool], set[int]]:
    """The OCR text (lines joined by newlines), its word spans, which words are damaged, and which
    are not scored: the two halves of a word hyphenated across a line break ("Com-" / "mittee"),
    which the ground truth keeps broken as well, so a flag there is neither right nor wrong."""
    text_lines, spans, ocr_words = [], [], []
    skip: set[int] = set()
    offset = 0
    broken = False
    for line in article["lines"]:
        words = [m for m in re.finditer(r"\S+", line["ocr"]) if _norm(m.group())]
        for k, m in enumerate(words):
            if (k == 0 and broken) or (k == len(words) - 1 and m.group().endswith("-")):
                skip.add(len(spans))
            spans.append((offset + m.start(), offset + m.end()))
            ocr_words.append(_norm(m.group()))
        broken = bool(words) and words[-1].group().endswith("-")
        text_lines.append(line["ocr"])
        offset += len(line["ocr"]) + 1
    gt_words = [_norm(w) for line in article["lines"] for w in line["gt"].split() if _norm(w)]
    damaged = [True] * len(ocr_words)
    matcher = difflib.SequenceMatcher(None, ocr_words, gt_words, autojunk=False)
    for block in matcher.get_matching_blocks():
        for k in range(block.size):
            damaged[block.a + k] = False
    return "\n".join(text_lines), spans, damaged, skip


# --- worker: one backend, one process --------------------------------------------------------
def _all_rules_profile(profile):
    from dataclasses import replace

    raw = dict(profile.raw)
    raw.update({k: [] for k in _LIST_KEYS})
    return replace(type(profile).from_mapping(raw), raw=raw)


def _flagged(findings, spans) -> set[int]:
    flagged = set()
    for f in findings:
        for i, (s, e) in enumerate(spans):
            if s < f.end and f.start < e or (f.start == f.end and s <= f.start < e):
                flagged.add(i)
    return flagged


def worker(backend: str, limit: int | None) -> dict[str, Any]:
    import mtqa.grammar  # noqa: F401  (baseline memory includes mtqa itself)
    from mtqa.checkers.grammar import GrammarChecker
    from mtqa.config import Settings
    from mtqa.document import Document

    rss_base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    settings = Settings(grammar=backend)
    # The engine and profile alone: the gazetteer's lookup (which would also drop flags on known
    # names) is measured by the names benchmark, and would add its index to this process's memory.
    no_names = {"name_lookup_provider": lambda doc: None}
    checker = GrammarChecker(settings, **no_names)
    t0 = time.perf_counter()
    checker.check([Document.from_text("Warm up the engine.")])
    load_s = time.perf_counter() - t0
    result: dict[str, Any] = {"backend": backend, **checker.signature(), "load_s": load_s}

    sentences = demetr_sentences(limit)
    docs = [Document.from_text(" ".join(sentences[i : i + 10])) for i in range(0, len(sentences), 10)]
    n_sent = sum(len(d.sentences) for d in docs)
    t0 = time.perf_counter()
    demetr_found = checker.check(docs)
    elapsed = time.perf_counter() - t0
    result.update(sentences=n_sent, sentences_per_s=n_sent / elapsed if elapsed else None)

    paragraphs = [Document.from_text(p) for p in clean_paragraphs()]
    clean_found = checker.check(paragraphs)
    result["clean_news_paragraphs"] = len(paragraphs)
    result["clean_news_findings"] = sum(map(len, clean_found))
    result["clean_news_checks"] = Counter(f.check for fs in clean_found for f in fs).most_common()
    result["demetr_findings_per_100_sent"] = 100 * sum(map(len, demetr_found)) / max(n_sent, 1)
    result["demetr_checks"] = Counter(f.check for fs in demetr_found for f in fs).most_common(15)
    # peak memory of this backend alone (the all-rules engine below is a second one)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["rss_over_baseline_mb"] = result["peak_rss_mb"] - rss_base

    everything = GrammarChecker(settings, profile=_all_rules_profile(checker.profile), **no_names)
    all_clean = everything.check([Document.from_text(p) for p in clean_paragraphs()])
    all_demetr = everything.check([Document.from_text(d.text) for d in docs])
    result["clean_news_findings_all_rules"] = sum(map(len, all_clean))
    result["demetr_findings_per_100_sent_all_rules"] = 100 * sum(map(len, all_demetr)) / max(n_sent, 1)
    result["all_rules_checks"] = Counter(
        f.check for fs in all_clean + all_demetr for f in fs
    ).most_common(20)

    articles = overproof_articles(limit)
    ocr_rows = []
    t0 = time.perf_counter()
    for article in articles:
        text, spans, damaged, skip = ocr_truth(article)
        found = checker.check([Document.from_text(text)])[0]
        spelling = [f for f in found if f.category.value in ("spelling", "ocr")]
        ocr_rows.append(
            {"damaged": [i for i, d in enumerate(damaged) if d], "n": len(spans), "skip": sorted(skip),
             "flagged": sorted(_flagged(found, spans)), "flagged_spelling": sorted(_flagged(spelling, spans))}
        )
    result["ocr_seconds"] = time.perf_counter() - t0
    result["ocr"] = ocr_rows
    checker.close()
    everything.close()
    return result


# --- main ----------------------------------------------------------------------------------------
def prf(rows: list[dict[str, Any]], key: str) -> dict[str, float | int]:
    tp = fp = fn = 0
    for row in rows:
        skip = set(row.get("skip", ()))
        damaged, flagged = set(row["damaged"]) - skip, set(row[key]) - skip
        tp += len(damaged & flagged)
        fp += len(flagged - damaged)
        fn += len(damaged - flagged)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "P": p, "R": r, "F1": 2 * p * r / (p + r) if p + r else 0.0}


def run_worker(backend: str, limit: int | None) -> dict[str, Any]:
    cmd = [sys.executable, "-m", "benchmarks.bench_grammar", "--worker", backend]
    if limit is not None:
        cmd += ["--limit", str(limit)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env)
    if proc.returncode != 0:
        return {"backend": backend, "error": (proc.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="at most N DEMETR items and N OCR articles")
    parser.add_argument("--backends", default="lingotweaker,languagetool")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker, args.limit), default=str))
        return 0

    from benchmarks.harness import print_table, write_results

    if not (data_dir() / OVERPROOF).exists():
        print(f"MTQA_DATA_DIR {data_dir()} has no {OVERPROOF}: OCR precision/recall skipped", file=sys.stderr)
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "languagetool" and not (os.environ.get("LANGUAGETOOL_URL") or os.environ.get("LANGUAGETOOL_DIR")):
            results[backend] = {"backend": backend, "skipped": "set LANGUAGETOOL_URL or LANGUAGETOOL_DIR"}
            continue
        results[backend] = run_worker(backend, args.limit)

    speed_rows, clean_rows, ocr_rows = [], [], []
    for name, r in results.items():
        if "error" in r or "skipped" in r:
            speed_rows.append({"backend": name, "note": r.get("error") or r.get("skipped")})
            continue
        speed_rows.append(
            {"backend": name, "version": r.get("backend_version"), "load s": r["load_s"], "sent": r["sentences"],
             "sent/s": r["sentences_per_s"], "RSS MB": r["peak_rss_mb"], "+RSS MB": r["rss_over_baseline_mb"]}
        )
        clean_rows.append(
            {"backend": name, "paragraphs": r["clean_news_paragraphs"], "news": r["clean_news_findings"],
             "all rules": r["clean_news_findings_all_rules"],
             "DEMETR/100 news": r["demetr_findings_per_100_sent"],
             "DEMETR/100 all": r["demetr_findings_per_100_sent_all_rules"]}
        )
        if r["ocr"]:
            for key, label in (("flagged", "all"), ("flagged_spelling", "spell+ocr")):
                ocr_rows.append({"backend": name, "counted": label,
                                 "scored words": sum(x["n"] - len(x["skip"]) for x in r["ocr"]), **prf(r["ocr"], key)})
    print_table("Grammar backends: speed and memory", speed_rows)
    print_table("Findings on clean text (clean news paragraphs: all false alarms)", clean_rows)
    print_table("OCR damage (Overproof), word level", ocr_rows)
    for name, r in results.items():
        if r.get("clean_news_checks"):
            print(f"{name}: clean-news findings {r['clean_news_checks']}")
    payload = {
        "limit": args.limit,
        "speed": speed_rows,
        "clean": clean_rows,
        "ocr": ocr_rows,
        "details": {k: {kk: vv for kk, vv in v.items() if kk != "ocr"} for k, v in results.items()},
    }
    signature = {k: {kk: v.get(kk) for kk in ("backend", "backend_version", "grammar_profile")} for k, v in results.items()}
    write_results("bench_grammar", payload, signature)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
