"""Garble detector benchmark on DEMETR (controlled perturbations of news MT) and WMT23 MQM (zh-en news).

    python -m benchmarks.bench_garble [--limit N] [--no-lm] [--split dev|test|all] [--calibrate]

DEMETR items 1-600 (../shared/data/demetr): detection rate per perturbation type on the perturbed
sentences (``pert_check`` true; a finding must overlap the changed region), false-alarm rate on the
clean ``mt_sent``. ``--split dev`` = odd ids (used to calibrate), ``test`` = even ids (reported).
``--calibrate`` lowers the LM thresholds to nothing, records each document's best Δ log-prob per
check and prints the threshold that keeps clean false alarms of that check under the budget.

MQM (../shared/data/mt_mqm, WMT23 general MT zh-en, news): each (system, document) becomes one
document (segments one per line, so pronouns and surprisal have context); span overlap with the
raters' target spans of Fluency/Grammar, Style/Unnatural or awkward, Accuracy/Mistranslation,
Non-translation, plus the precision of findings against spans of any category.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import time
from collections import Counter, defaultdict
from typing import Any

from benchmarks.harness import print_table, write_results
from mtqa.config import Settings, data_dir
from mtqa.document import Document

TYPES = [
    "minor_id1_repeat2",
    "minor_id2_repeat4",
    "critical_id4_codemix",
    "minor_id14_word_swap",
    "minor_id13_pos_shift",
    "minor_id16_function_word",
    "minor_id15_case",
    "minor_id31_full_lower",
    "minor_id32_first_lower",
    "critical_id20_shuffled",
    "critical_id22_verb_removed",
    "critical_id11_gender",
    "major_id17_tense",
    "minor_id12_conj_removed",
]
LM_CHECKS = {
    "garble.word_order": "swap_min_delta",
    "garble.word_form": "pos_min_delta",
    "garble.function_word": "function_min_delta",
    "garble.missing_word": "insert_min_delta",
    "garble.tense": "tense_min_delta",
}
MQM_CATEGORIES = ["Fluency/Grammar", "Style/Unnatural or awkward", "Accuracy/Mistranslation", "Non-translation!"]


def changed_region(clean: str, pert: str) -> tuple[int, int]:
    p = 0
    while p < min(len(clean), len(pert)) and clean[p] == pert[p]:
        p += 1
    q = 0
    while q < min(len(clean), len(pert)) - p and clean[-1 - q] == pert[-1 - q]:
        q += 1
    return p, max(p + 1, len(pert) - q)


def overlaps(f: Any, start: int, end: int, slack: int = 1) -> bool:
    return f.start < end + slack and f.end > start - slack


def load_demetr(split: str, limit: int | None) -> list[dict]:
    path = data_dir() / "demetr" / "demetr_items_0001-0600.jsonl.gz"
    if not path.exists():
        raise SystemExit(f"DEMETR not found at {path} (set MTQA_DATA_DIR)")
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh]
    if split == "dev":
        items = [it for it in items if it["id"] % 2 == 1]
    elif split == "test":
        items = [it for it in items if it["id"] % 2 == 0]
    return items[:limit] if limit else items


def run_checker(checker: Any, docs: list[Document], batch: int = 16) -> list[list[Any]]:
    out: list[list[Any]] = []
    for i in range(0, len(docs), batch):
        out.extend(checker.check(docs[i : i + batch]))
    return out


def bench_demetr(checker: Any, items: list[dict], types: list[str], calibrate: bool, budget: float = 0.015) -> tuple[list[dict], dict]:
    rows = []
    details: dict[str, Any] = {}
    clean_docs = [Document.from_text(it["mt_sent"], id=str(it["id"])) for it in items]
    t0 = time.perf_counter()
    clean_found = run_checker(checker, clean_docs)
    elapsed = time.perf_counter() - t0
    alarms = [fs for fs in clean_found if fs]
    by_check = Counter(f.check for fs in clean_found for f in fs)
    rows.append(
        {"set": "clean mt_sent", "n": len(items), "flagged": len(alarms), "rate": len(alarms) / max(1, len(items)),
         "checks": ", ".join(f"{k.split('.')[-1]}:{v}" for k, v in by_check.most_common()), "s/doc": elapsed / max(1, len(items))}
    )
    details["clean_false_alarm_examples"] = [
        # Ids and offsets only: the dataset's text stays in ../shared/data, never in our results.
        {"id": d.id, "findings": [(f.check, f.start, f.end) for f in fs]}
        for d, fs in zip(clean_docs, clean_found)
        if fs
    ][:40]
    best: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    if calibrate:
        for fs in clean_found:
            for check in LM_CHECKS:
                best["clean"][check].append(max([f.evidence["delta_logprob"] for f in fs if f.check == check], default=-99.0))
    for name in types:
        usable = [it for it in items if name in it["perturbations"] and it["perturbations"][name]["pert_check"]]
        if not usable:
            continue
        docs = [Document.from_text(it["perturbations"][name]["pert_sent"], id=str(it["id"])) for it in usable]
        t0 = time.perf_counter()
        found = run_checker(checker, docs)
        elapsed = time.perf_counter() - t0
        hit = 0
        anywhere = 0
        checks = Counter()
        misses = []
        for it, doc, fs in zip(usable, docs, found):
            start, end = changed_region(it["mt_sent"], doc.text)
            located = [f for f in fs if overlaps(f, start, end)]
            if located:
                hit += 1
                checks.update(f.check for f in located)
            elif len(misses) < 15:
                misses.append({"id": it["id"], "region": [start, end], "other": [(f.check, f.start, f.end) for f in fs]})
            anywhere += bool(fs)
            if calibrate:
                for check in LM_CHECKS:
                    best[name][check].append(max([f.evidence["delta_logprob"] for f in located if f.check == check], default=-99.0))
        rows.append(
            {"set": name, "n": len(usable), "flagged": hit, "rate": hit / len(usable), "any_finding": anywhere / len(usable),
             "checks": ", ".join(f"{k.split('.')[-1]}:{v}" for k, v in checks.most_common(4)), "s/doc": elapsed / len(usable)}
        )
        details.setdefault("misses", {})[name] = misses
    if calibrate:
        details["calibration"] = calibration_table(best, budget)
    return rows, details


def calibration_table(best: dict[str, dict[str, list[float]]], budget: float = 0.015) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for check, key in LM_CHECKS.items():
        clean = sorted(best["clean"][check])
        if not clean:
            continue
        candidates = sorted({round(x, 1) for x in clean if x > -99} | {2.0, 3.0, 4.0, 5.0, 6.0, 8.0})
        chosen = None
        curve = []
        for t in candidates:
            fp = sum(1 for x in clean if x >= t) / len(clean)
            rates = {name: sum(1 for x in vals[check] if x >= t) / max(1, len(vals[check])) for name, vals in best.items() if name != "clean"}
            curve.append({"threshold": t, "clean_fp": fp, **rates})
            if chosen is None and fp <= budget:
                chosen = t
        out[check] = {"threshold_key": key, "budget": budget, "chosen": chosen, "curve": [c for c in curve if c["threshold"] in (2.0, 3.0, 4.0, 5.0, 6.0, 8.0) or c["threshold"] == chosen]}
    return out


def load_mqm(limit: int | None) -> list[dict]:
    path = data_dir() / "mt_mqm" / "mqm_generalMT2023_zhen_sxs.jsonl.gz"
    if not path.exists():
        raise SystemExit(f"MQM not found at {path}")
    units: dict[tuple, dict] = {}
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            u = json.loads(line)
            key = (u["system"], u["doc"], int(u["seg_id"]))
            unit = units.setdefault(key, {"target": u["target"].rstrip(), "spans": [], "raters": 0, "clean_raters": 0})
            unit["raters"] += 1
            spans = [e for e in u["errors"] if e.get("side") == "target" and e.get("end", 0) > e.get("start", 0)]
            unit["clean_raters"] += not u["errors"]
            unit["spans"].extend(spans)
    docs: dict[tuple, list] = defaultdict(list)
    for (system, doc, seg), unit in sorted(units.items()):
        docs[(system, doc)].append(unit)
    out = []
    for (system, doc), segs in docs.items():
        text, offsets = "", []
        for seg in segs:
            offsets.append(len(text))
            text += seg["target"].replace("\n", " ") + "\n"
        out.append({"id": f"{system}|{doc}", "text": text, "segments": segs, "offsets": offsets})
    return out[:limit] if limit else out


def bench_mqm(checker: Any, mqm_docs: list[dict]) -> tuple[list[dict], dict]:
    docs = [Document.from_text(d["text"], id=d["id"]) for d in mqm_docs]
    t0 = time.perf_counter()
    found = run_checker(checker, docs, batch=4)
    elapsed = time.perf_counter() - t0
    gold_hits = Counter()
    gold_total = Counter()
    findings = 0
    precise = 0
    clean_segments = 0
    clean_flagged = 0
    by_check = Counter()
    by_check_precise = Counter()
    for d, doc, fs in zip(mqm_docs, docs, found):
        spans = []
        for off, seg in zip(d["offsets"], d["segments"]):
            for e in seg["spans"]:
                spans.append((off + e["start"], off + e["end"], e["category"]))
            if seg["clean_raters"] == seg["raters"]:
                clean_segments += 1
                end = off + len(seg["target"])
                clean_flagged += any(overlaps(f, off, end, 0) for f in fs)
        for f in fs:
            findings += 1
            by_check[f.check] += 1
            if any(overlaps(f, s, e, 0) for s, e, _ in spans):
                precise += 1
                by_check_precise[f.check] += 1
        for s, e, cat in spans:
            if cat in MQM_CATEGORIES:
                gold_total[cat] += 1
                gold_hits[cat] += any(overlaps(f, s, e, 0) for f in fs)
    rows = [{"category": c, "gold spans": gold_total[c], "overlapped": gold_hits[c], "recall": gold_hits[c] / max(1, gold_total[c])} for c in MQM_CATEGORIES]
    rows.append({"category": "findings on any gold span (precision)", "gold spans": findings, "overlapped": precise, "recall": precise / max(1, findings)})
    rows.append({"category": "segments all raters called clean: flagged", "gold spans": clean_segments, "overlapped": clean_flagged, "recall": clean_flagged / max(1, clean_segments)})
    for check, n in by_check.most_common():
        rows.append({"category": f"  {check} precision", "gold spans": n, "overlapped": by_check_precise[check], "recall": by_check_precise[check] / n})
    return rows, {"documents": len(docs), "seconds": elapsed}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="DEMETR items (after the split)")
    ap.add_argument("--split", choices=["dev", "test", "all"], default="test")
    ap.add_argument("--types", default=",".join(TYPES))
    ap.add_argument("--no-lm", action="store_true", help="rule detectors only")
    ap.add_argument("--mqm-limit", type=int, default=None,
                    help="MQM (system, document) pairs; 0 skips MQM (default: all 380 rule-only, 20 with the LM)")
    ap.add_argument("--calibrate", action="store_true")
    ap.add_argument("--budget", type=float, default=0.015, help="clean false-alarm rate allowed per LM check (--calibrate)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--model", default=None)
    ap.add_argument("--name", default=None, help="results file name (default garble[_nolm])")
    args = ap.parse_args(argv)
    os.environ.setdefault("MTQA_THREADS", "1")

    from mtqa.checkers.garble import GarbleChecker
    from mtqa.garble import lexicon

    settings = Settings(device=args.device, model=args.model, use_lm=not args.no_lm)
    checker = GarbleChecker(settings)
    if args.calibrate:
        th = lexicon.thresholds()
        for key in LM_CHECKS.values():
            th["lm_slips"][key] = -1e9
    load_start = time.perf_counter()
    lm = checker._lm()
    load_s = time.perf_counter() - load_start
    items = load_demetr(args.split, args.limit)
    rows, details = bench_demetr(checker, items, [t for t in args.types.split(",") if t], args.calibrate, args.budget)
    title = f"garble on DEMETR ({args.split} split, {len(items)} items, {'LM' if lm else 'rules only'})"
    print_table(title, rows)
    payload: dict[str, Any] = {"demetr": {"split": args.split, "items": len(items), "rows": rows, **details}, "lm_load_s": load_s}
    if args.calibrate:
        for check, info in details["calibration"].items():
            print(check, "->", info["threshold_key"], "=", info["chosen"])
            print_table(f"calibration {check}", info["curve"])
    if args.mqm_limit != 0:
        mqm_docs = load_mqm(args.mqm_limit if args.mqm_limit is not None else (20 if lm else None))
        mrows, mdetails = bench_mqm(checker, mqm_docs)
        print_table(f"garble on WMT23 MQM zh-en news ({mdetails['documents']} system-documents)", mrows)
        payload["mqm"] = {"rows": mrows, **mdetails}
    command = "python -m benchmarks.bench_garble " + " ".join(argv if argv is not None else __import__("sys").argv[1:])
    payload["command"] = command
    name = args.name or ("garble" + ("_nolm" if not lm else "") + ("_calibrate" if args.calibrate else ""))
    write_results(name, payload, signature={"garble": checker.signature(), **(lm.scorer.signature() if lm else {})})


if __name__ == "__main__":
    main()
