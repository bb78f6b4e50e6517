"""Does the LM engine keep its detections? DEMETR dev, the LM-rescored perturbation types.

    python -m benchmarks.bench_lm_quality [--limit N] [--name NAME]
    python -m benchmarks.bench_lm_quality --floors [--limit N]   # fit garble's min_position_bits
    python -m benchmarks.bench_lm_quality --refit benchmarks/results/garble_floors.json   # the fit again, no LM

Runs only the LM-based checkers (``lm``, ``garble``) on the DEMETR development split (mtqa's hash
split of the item ids) for the perturbation types that the LM rewrites find (word swap, POS shift,
function word, tense, dropped conjunction) and the clean MT sentence, and writes the detection rate
per type, the clean false-alarm rate and the findings (ids and offsets, never the text). Run it on
two commits to compare engines; ``--compare A.json B.json`` prints both side by side.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections import defaultdict
from pathlib import Path

TYPES = ("clean", "minor_id14_word_swap", "minor_id13_pos_shift", "minor_id16_function_word",
         "major_id17_tense", "minor_id12_conj_removed")  # fmt: skip


def run(limit: int, name: str) -> Path:
    from benchmarks.harness import write_results
    from mtqa.api import make_pipeline
    from mtqa.config import Settings
    from mtqa.document import Document
    from mtqa.eval.items import overlaps

    items = _dev_items(limit)
    pipeline = make_pipeline(Settings(calibration="off"), only=["lm", "garble"])
    docs = [Document.from_text(it.text, id=it.id) for it in items]
    t0 = time.perf_counter()
    reports = pipeline.run(docs)
    seconds = time.perf_counter() - t0
    per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    findings = {}
    for it, rep in zip(items, reports):
        row = per_type[it.group]
        row[0] += 1
        row[2] += bool(rep.findings)
        row[1] += any(overlaps(f.start, f.end, g.start, g.end) for f in rep.findings for g in it.gold)
        findings[it.id] = [[f.start, f.end, f.check] for f in rep.findings]
    rates = {t: {"n": n, "detected": d / n if n else None, "any_finding": a / n if n else None}
             for t, (n, d, a) in sorted(per_type.items())}  # fmt: skip
    for t, r in rates.items():
        print(f"{t:28s} n={r['n']:4d} detected={r['detected']:.3f} any={r['any_finding']:.3f}")
    print(f"{len(docs)} sentences in {seconds:.1f} s")
    scorer_stats = {}
    for checker in pipeline.checkers:
        s = getattr(checker, "_scorer", None)
        if s is not None and hasattr(s, "stats"):
            scorer_stats = dict(s.stats)
    return write_results(name, {"limit": limit, "seconds": seconds, "sentences": len(docs), "rates": rates,
                                "scorer_stats": scorer_stats, "findings": findings})  # fmt: skip


def windows(limit: int, name: str, sizes: tuple[int, ...] = (1, 2, 3, 4, 6)) -> Path:
    """Agreement of the garble rewrites' decisions (best Δ >= its threshold) when each rewrite is
    scored ``k`` words past the edit against scoring it to the end of the sentence."""
    from benchmarks.harness import write_results
    from mtqa.config import Settings
    from mtqa.document import Document
    from mtqa.garble.lexicon import thresholds
    from mtqa.garble.lmslips import _KINDS, LMHelper, plan_rewrites
    from mtqa.lm import get_scorer, rescore_edits

    docs = [Document.from_text(it.text, id=it.id) for it in _dev_items(limit)]
    lm = LMHelper(get_scorer(Settings()))
    lm.prepare(docs)
    th = thresholds()["lm_slips"]
    decisions: dict[str, list[bool]] = {}
    for doc in docs:
        plans = plan_rewrites(doc, lm.sentence_scores(doc))
        for label, k in [*((str(k), k) for k in sizes), ("sentence", None)]:
            edits = []
            for p in plans:
                sentence = doc.sentences[p.sentence]
                after = [t for t in doc.sentence_tokens(p.sentence) if t.start >= p.end]
                stop = after[k - 1].end if k and len(after) >= k else sentence.end
                edits.append((doc, p.start, p.end, p.candidates, stop))
            for p, d in zip(plans, rescore_edits(lm.scorer, edits)):
                decisions.setdefault(label, []).append(bool(d) and max(d) >= float(th[_KINDS[p.kind][2]]))
    full = decisions["sentence"]
    rows = []
    for label in [str(k) for k in sizes]:
        got = decisions[label]
        both = sum(a and b for a, b in zip(got, full))
        rows.append({"words after the edit": label, "rewrites": len(got),
                     "agreement": sum(a == b for a, b in zip(got, full)) / len(full),
                     "flags kept": both / max(1, sum(full)), "flags added": sum(a and not b for a, b in zip(got, full))})
    from benchmarks.harness import print_table

    print_table(f"Bounded continuations vs the whole sentence ({len(docs)} DEMETR dev sentences, {sum(full)} flags)", rows)
    return write_results(name, {"limit": limit, "sentences": len(docs), "flags_full_sentence": sum(full), "rows": rows})


def _dev_items(limit: int):
    import hashlib

    from mtqa.config import data_dir
    from mtqa.eval.datasets import DATASETS

    spec = DATASETS["demetr"]
    items = [it for it in spec.load(spec.default_files(data_dir())) if it.split == "dev" and it.group in TYPES]
    keep = set(sorted({it.record for it in items}, key=lambda s: hashlib.sha256(s.encode()).hexdigest())[:limit])
    return [it for it in items if it.record in keep]


def _fit_floor(plans: list[dict], margin: float) -> float:
    """``margin`` below the lowest surprisal of a rewrite that found a real slip (0 when none did):
    the lowest one is a small-sample estimate, and the check on the other half says how far below
    it the next source's slips fall."""
    true = [p["surprisal"] for p in plans if p["true"]]
    return math.floor(min(true) * (1 - margin) * 100) / 100 if true else 0.0


MARGINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5)


def floors(limit: int, name: str, margins: tuple[float, ...] = MARGINS) -> Path:
    """Fit the per-kind surprisal floor below which a garble rewrite is not tried.

    Every rewrite of the DEMETR dev sentences is scored (no floor), then per kind the floor is the
    lowest first-pass surprisal of a rewrite that flagged the real perturbation, less a margin. Each
    margin is fitted on one half of the source items and checked on the other (both ways); the
    chosen one (the smallest that loses no detected item of either held-out half) is then fitted on
    all of dev."""
    import hashlib

    from mtqa.config import Settings
    from mtqa.document import Document
    from mtqa.eval.items import overlaps
    from mtqa.garble.lexicon import rules, thresholds
    from mtqa.garble.lmslips import _KINDS, LMHelper, plan_slips
    from mtqa.lm import get_scorer

    items = _dev_items(limit)
    docs = [Document.from_text(it.text, id=it.id) for it in items]
    lm = LMHelper(get_scorer(Settings()))
    t0 = time.perf_counter()
    lm.prepare(docs)
    th, top_k = thresholds()["lm_slips"], rules()["lm_slips"].get("rescore_top_k", {})
    planned, edits = [], []
    for it, doc in zip(items, docs):
        plans, doc_edits = plan_slips(doc, lm, floors={})
        planned += [(it, p) for p in plans]
        edits += doc_edits
    deltas = lm.rescore_edits(edits)
    seconds = time.perf_counter() - t0
    records = []
    for (it, p), d in zip(planned, deltas):
        fires = bool(d) and max(d) >= float(th[_KINDS[p.kind][2]])
        records.append({"item": it.id, "type": it.group, "kind": p.kind, "surprisal": round(p.surprisal, 3),
                        "rows": min(len(p.candidates), top_k.get(p.kind) or len(p.candidates)), "fires": fires,
                        "true": fires and any(overlaps(p.start, p.end, g.start, g.end) for g in it.gold),
                        "half": int(hashlib.sha256(it.record.encode()).hexdigest(), 16) % 2})  # fmt: skip
    return fit_floors(records, name, {"limit": limit, "sentences": len(docs), "seconds": seconds}, margins)


def fit_floors(records: list[dict], name: str, meta: dict, margins: tuple[float, ...] = MARGINS) -> Path:
    """The cross-half table and the floors from scored rewrites (``--refit`` reads them back)."""
    from benchmarks.harness import print_table, write_results

    kinds = sorted({r["kind"] for r in records})

    def check(fit: list[dict], held: list[dict], label: str, margin: float) -> dict:
        fl = {k: _fit_floor([r for r in fit if r["kind"] == k], margin) for k in kinds}
        kept = [r for r in held if r["surprisal"] >= fl[r["kind"]]]
        detected = lambda rs: {r["item"] for r in rs if r["true"]}  # noqa: E731
        false = lambda rs: sum(r["fires"] and not r["true"] for r in rs)  # noqa: E731
        return {"fit -> held out": label, "margin": margin, **{f"floor {k}": fl[k] for k in kinds},
                "rows kept": round(sum(r["rows"] for r in kept) / max(1, sum(r["rows"] for r in held)), 3),
                "items detected": f"{len(detected(kept))}/{len(detected(held))}",
                "items lost": len(detected(held)) - len(detected(kept)),
                "false flags": f"{false(kept)}/{false(held)}"}  # fmt: skip

    halves = [[r for r in records if r["half"] == h] for h in (0, 1)]
    rows = [check(fit, held, label, m) for m in margins
            for fit, held, label in ((halves[0], halves[1], "A -> B"), (halves[1], halves[0], "B -> A"))]  # fmt: skip
    chosen = min((m for m in margins if all(r["items lost"] == 0 for r in rows if r["margin"] == m)),
                 default=margins[-1])  # fmt: skip
    rows.append(check(records, records, "all dev -> all dev", chosen))
    print_table(f"garble rewrite floors (bits), DEMETR dev, {len(records)} rewrites", rows)
    fitted = {k: _fit_floor([r for r in records if r["kind"] == k], chosen) for k in kinds}
    print(f"margin {chosen}: min_position_bits: {fitted}")
    return write_results(name, {**meta, "rows": rows, "margin": chosen, "min_position_bits": fitted,
                                "rewrites": records})  # fmt: skip


def compare(a: Path, b: Path) -> None:
    ra, rb = json.loads(a.read_text()), json.loads(b.read_text())
    print(f"{'type':28s} {ra['git']:>10s} {rb['git']:>10s}   delta")
    for t in sorted(set(ra["rates"]) | set(rb["rates"])):
        x, y = ra["rates"].get(t, {}), rb["rates"].get(t, {})
        key = "any_finding" if t == "clean" else "detected"
        dx, dy = x.get(key), y.get(key)
        print(f"{t:28s} {dx:10.3f} {dy:10.3f}   {dy - dx:+.3f}")
    print(f"{'seconds':28s} {ra['seconds']:10.1f} {rb['seconds']:10.1f}   x{ra['seconds'] / rb['seconds']:.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=40, help="DEMETR dev source items")
    ap.add_argument("--name", default="lm_quality")
    ap.add_argument("--compare", nargs=2, type=Path)
    ap.add_argument("--windows", action="store_true", help="agreement of bounded continuations with whole sentences")
    ap.add_argument("--floors", action="store_true", help="fit the per-kind surprisal floors of garble's rewrites")
    ap.add_argument("--refit", type=Path, help="the floors again from a --floors result (no LM)")
    args = ap.parse_args()
    if args.refit:
        old = json.loads(args.refit.read_text())
        fit_floors(old["rewrites"], "garble_floors", {k: old[k] for k in ("limit", "sentences", "seconds")})
    elif args.floors:
        floors(args.limit, args.name if args.name != "lm_quality" else "garble_floors")
    elif args.windows:
        windows(args.limit, args.name)
    elif args.compare:
        compare(*args.compare)
    else:
        run(args.limit, args.name)


if __name__ == "__main__":
    main()
