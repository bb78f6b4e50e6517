"""Name-corruption benchmark over ../shared/data/names/ (held-out splits only).

- MLQE-PE post-edit pairs, ``test20`` split: the MT sentence must be flagged at the corrected
  token (recall; top-1 / top-3 = the post-edited form among the suggestions), the post-edited
  sentence must not be flagged anywhere (false positives).
- GeoNames variant lists, ``test`` split (by geonameid; the corruption model and the decision
  were fitted on ``train``/``dev``): each variant in a neutral sentence must not be flagged,
  (a) with the full index and (b) with that variant's own form hidden from the index (an
  unlisted legitimate variant).
- Index build time and size (a fresh build into a temporary cache unless ``--no-build``),
  load time, suspect lookups per second.

    python -m benchmarks.bench_names [--limit N] [--variants N] [--no-build]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from mtqa.config import Settings, data_dir
from mtqa.document import Document
from mtqa.findings import Category
from mtqa.gazetteer.calibrate import token_span, variant_examples
from mtqa.gazetteer.corruption import POSTEDIT_FILE, name_like_pair, postedit_pairs
from mtqa.gazetteer.normalize import fold

from .harness import print_table, write_results


def build_stats() -> dict:
    from mtqa.gazetteer.index import build_index

    with tempfile.TemporaryDirectory() as tmp:
        _path, stats = build_index(Path(tmp) / "gazetteer.pkl", progress=True)
    return {"build_seconds": stats["build_seconds"], "index_mb": stats["size_mb"], "entries": stats["entries"],
            "forms": stats["forms"]}


def same_entity(gaz, suggestion: str, target: str) -> bool:
    a, b = fold(suggestion), fold(target)
    if a == b:
        return True
    return bool(set(gaz.lookup(a)) & set(gaz.lookup(b)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--limit", type=int, default=None, help="post-edit pairs (default: all of test20)")
    parser.add_argument("--variants", type=int, default=800, help="variant places per mode")
    parser.add_argument("--no-build", action="store_true", help="skip the timed fresh index build")
    args = parser.parse_args()
    if not (data_dir() / POSTEDIT_FILE).exists():
        raise SystemExit(f"MTQA_DATA_DIR {data_dir()} has no {POSTEDIT_FILE}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from mtqa.checkers.names import NameChecker
    from mtqa.gazetteer.index import _load_base, gazetteer_hash, index_path, load_gazetteer

    stats = {} if args.no_build else build_stats()
    if not index_path().exists():
        load_gazetteer()
    _load_base.cache_clear()
    started = time.perf_counter()
    gaz = load_gazetteer()
    stats["load_seconds"] = round(time.perf_counter() - started, 2)

    checker = NameChecker(Settings(use_lm=False))
    matcher = checker.matcher

    def flagged(text: str) -> list:
        [findings] = checker.check([Document.from_text(text)])
        return [f for f in findings if f.category is Category.NAME]

    tp = fn = fp_pe = top1 = top3 = 0
    positives = name_like = name_like_tp = covered = covered_tp = 0
    pe_sentences = 0
    suspects = 0
    t0 = time.perf_counter()
    for record in postedit_pairs("test20"):
        if args.limit is not None and positives >= args.limit:
            break
        positives += 1
        span = token_span(record["mt"], record["mt_token"])
        mt_flags = flagged(record["mt"])
        hit = next((f for f in mt_flags if span and f.start < span[1] and span[0] < f.end), None)
        is_name = name_like_pair(record["mt_token"], record["pe_token"])
        in_gaz = bool(gaz.lookup(fold(record["pe_token"])))
        name_like += is_name
        covered += is_name and in_gaz
        if hit is not None:
            tp += 1
            name_like_tp += is_name
            covered_tp += is_name and in_gaz
            top1 += same_entity(gaz, hit.suggestions[0], record["pe_token"]) if hit.suggestions else 0
            top3 += any(same_entity(gaz, s, record["pe_token"]) for s in hit.suggestions[:3])
        else:
            fn += 1
        pe_sentences += 1
        fp_pe += len(flagged(record["pe"]))
        suspects += 2
    pe_seconds = time.perf_counter() - t0

    variant_fp_full = variant_fp_hidden = variants_seen = 0
    variants = [variant for _row, variant, _s in variant_examples(matcher, "test", args.variants)]
    for variant in variants:  # full index (variant_examples hides each form only while it yields)
        variants_seen += 1
        text = f"Officials in {variant} said on Tuesday that the talks would go on."
        span = token_span(text, variant)
        variant_fp_full += any(f.start < span[1] and span[0] < f.end for f in flagged(text))
    hidden = 0
    for row, variant, s in variant_examples(matcher, "test", args.variants):
        hidden += 1
        variant_fp_hidden += s is not None and s.best is not None and s.probability >= matcher.threshold

    # lookups/s: suspect words scored (retrieval + weighted rescoring) per second
    words = [r["mt_token"] for _, r in zip(range(200), postedit_pairs("dev"))]
    from collections import Counter

    from mtqa.gazetteer.matcher import Suspect

    t1 = time.perf_counter()
    n_lookups = 0
    for word in words:
        suspect = Suspect(0, len(word), word, fold(word), 0.0)
        matcher.score_suspect(suspect, [(0, len(word), word, 1)], Counter(), Counter())
        n_lookups += 1
    lookups_per_s = n_lookups / (time.perf_counter() - t1)

    fp_total = fp_pe + variant_fp_full
    precision = tp / (tp + fp_total) if tp + fp_total else 0.0
    rows = [
        {"set": "MLQE-PE test20 MT tokens (all)", "n": positives, "flagged": tp, "recall": tp / max(positives, 1)},
        {"set": "  name-like pairs", "n": name_like, "flagged": name_like_tp,
         "recall": name_like_tp / max(name_like, 1)},
        {"set": "  name-like, target in gazetteer", "n": covered, "flagged": covered_tp,
         "recall": covered_tp / max(covered, 1)},
        {"set": "MLQE-PE test20 post-edited sentences", "n": pe_sentences, "false_flags": fp_pe},
        {"set": "GeoNames variants (test), full index", "n": variants_seen, "false_flags": variant_fp_full},
        {"set": "GeoNames variants (test), own form hidden", "n": hidden, "false_flags": variant_fp_hidden},
    ]
    summary = {
        "precision": round(precision, 4), "recall": round(tp / max(positives, 1), 4),
        "recall_name_like": round(name_like_tp / max(name_like, 1), 4),
        "recall_in_gazetteer": round(covered_tp / max(covered, 1), 4),
        "top1": round(top1 / max(tp, 1), 4), "top3": round(top3 / max(tp, 1), 4),
        "false_flags_per_100_clean_sentences": round(100 * fp_pe / max(pe_sentences, 1), 2),
        "hidden_variant_flag_rate": round(variant_fp_hidden / max(hidden, 1), 4),
        "lookups_per_s": round(lookups_per_s, 1), "sentences_per_s": round(suspects / pe_seconds, 1), **stats,
    }
    print_table("names: detection", rows)
    print_table("names: summary", [summary])
    write_results("bench_names", {"summary": summary, "rows": rows, "args": vars(args)},
                  {"gazetteer_hash": gazetteer_hash(), "threshold": matcher.threshold})


if __name__ == "__main__":
    main()
