"""The learned decision's threshold search, timed two ways on the same dev candidates and operating
points: every item rescored at every point (`decided` + the dataset's `score`, the design before
stop 32) and `fit_decision.Grid` (only the items whose reported findings changed). Both must give
the same F1 at every point.

    python -m benchmarks.bench_threshold_search

Reads the cached candidates (no LM proposals) and `models/decision.json`; the points are the
search's own (names operating points x report thresholds), in its order. Prints a table and writes
`results/bench-threshold-search.json`.
"""

from __future__ import annotations

import math
import time

import mtqa.eval.fit_decision as fd
from benchmarks.harness import print_table, write_results
from mtqa.combiner import Combiner
from mtqa.decision import Decision
from mtqa.eval.candidates import candidate_checkers
from mtqa.eval.datasets import DATASETS
from mtqa.signature import run_signature


def main() -> None:
    decision = Decision.load()
    tables = fd.load_tables("dev", fd.F1_DATASETS)
    probs = {name: fd.probabilities(decision, t) for name, t in tables.items()}
    points = [(t, v, math.inf) for v in fd.VETO_THRESHOLDS for t in fd.THRESHOLDS]

    start = time.perf_counter()
    naive = [[fd.score_rows(name, t.items, fd.decided(decision, t, probs[name], th, None, v, u))["f1"] or 0.0
              for name, t in tables.items()] for th, v, u in points]  # fmt: skip
    naive_s = time.perf_counter() - start

    start = time.perf_counter()
    grids = {name: fd.Grid(decision, t, probs[name], range(len(t.items)), DATASETS[name].f1_counts)
             for name, t in tables.items()}  # fmt: skip
    fast = [[DATASETS[name].f1_of(grids[name](th, v, u)) or 0.0 for name in tables] for th, v, u in points]
    grid_s = time.perf_counter() - start

    same = all(abs(a - b) < 1e-12 for r, s in zip(naive, fast) for a, b in zip(r, s))
    n_items = sum(len(t.items) for t in tables.values())
    rows = [{"search": "every item at every point (before)", "points": len(points), "items": n_items,
             "seconds": round(naive_s, 2), "ratio": 1.0},
            {"search": "Grid: changed items only", "points": len(points), "items": n_items,
             "seconds": round(grid_s, 2), "ratio": round(naive_s / grid_s, 1)}]  # fmt: skip
    print_table(f"threshold search, dev candidates of {', '.join(tables)} (same F1 at every point: {same})", rows)
    write_results("bench-threshold-search", {"rows": rows, "same_f1_at_every_point": same,
                                             "decision": decision.data_hash},
                  run_signature(candidate_checkers(), Combiner(decision=decision).describe()))  # fmt: skip
    if not same:
        raise SystemExit("the two searches disagree")


if __name__ == "__main__":
    main()
