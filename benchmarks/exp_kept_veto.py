"""Experiment (dev only, not adopted): should the decision's probability also veto grammar findings
the news profile keeps? For each k, a kept grammar finding whose probability is below k is dropped.
Scored in-sample (out-of-fold on all dev) and on each held-out source of the cross-source folds.

    MTQA_THREADS=2 python -m benchmarks.exp_kept_veto   # ~10 min on 2 cores with the candidate caches
"""

from __future__ import annotations

import json
from pathlib import Path

from mtqa.combiner import is_candidate
from mtqa.eval import fit_decision as F

K = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
OUT = Path(__file__).parent / "results" / "kept_veto.json"


def decided_k(d, table, p, ids, k):
    """What the default reports (``decided``), less the kept grammar findings with probability < k."""
    low = {id(f) for i in ids for f, r in zip(table.merged[i], table.row_of[i])
           if not is_candidate(f) and f.check.startswith("grammar.") and p[r] < k}  # NaN (unscored) compares False
    return [[f for f in found if id(f) not in low] for found in F.decided(d, table, p, d.report_threshold, ids)]


def main() -> None:
    dev = F.load_tables("dev", F.LOADED)
    fixture, names = F.clean_fixture_candidates(), F.synthetic_names()
    out: dict[str, dict[float, float | None]] = {}
    full = F.fit(dev, fixture=fixture, names=names)
    d = full.decision
    budget = dev[F.BUDGET_DATASET]
    clean = [i for i, it in enumerate(budget.items) if it.group == "clean"]
    for k in K:
        for name in F.F1_DATASETS:
            t = dev[name]
            ids = list(range(len(t.items)))
            out.setdefault(f"{name}: all sources (out-of-fold)", {})[k] = F.score_rows(
                name, t.items, decided_k(d, t, full.oof[name], ids, k))["f1"]
        flagged = decided_k(d, budget, F.probabilities(d, budget), clean, k)
        out.setdefault("clean-MT false alarms", {})[k] = sum(map(bool, flagged)) / len(clean)
    for fold in F.cross_source_folds():
        d = F.fit(dev, fold.held_out, fixture=fixture, names=names).decision
        for name, source in fold.held_out:
            t = dev[name]
            ids = [i for i, s in enumerate(t.sources) if s == source]
            p = F.probabilities(d, t)
            out[f"{name}: {source} held out"] = {
                k: F.score_rows(name, [t.items[i] for i in ids], decided_k(d, t, p, ids, k))["f1"] for k in K}
    for row, by_k in out.items():
        print(f"{row:45s}", " ".join(f"{(v or 0):.3f}" for v in by_k.values()))
    OUT.write_text(json.dumps({"k": K, "rows": out, "command": "python -m benchmarks.exp_kept_veto"}, indent=1))


if __name__ == "__main__":
    main()
