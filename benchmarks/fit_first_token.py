"""Fit the garble rewrites' first-token screen from ``results/exp-first-token.json`` (no LM needed).

    python -m benchmarks.exp_first_token 40      # the rows (228 DEMETR dev sentences, with the LM)
    python -m benchmarks.fit_first_token         # the floors -> results/first-token-screen.json

d0 is a candidate's first-token log-prob minus the text's own first token's there (free: one
output-layer row per edit). Per kind, the floor is the lowest d0 of a candidate that fired, less a
margin: fitted on one half of the DEMETR source items and checked on the other, both ways. The
margin is the smallest of ``MARGINS`` with which no firing edit of either held-out half loses all
its firing candidates, plus one step to spare. A kind with no such margin (swaps: their gain comes
from later tokens), or with fewer than ``MIN_FIRING_PER_HALF`` firing candidates in a half, is not
screened. The floors go to ``min_first_token`` in
``mtqa/data/garble_thresholds.yaml`` by hand, with this file's numbers.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
MARGINS = (0.0, 0.5, 1.0, 1.5, 2.0)
# A lowest value is a poor estimate from a handful of firing candidates: with the 11 of inserted
# words (2 and 9 per half), the floor of 7.1 nats lost "is" -> "it is" (d0 4.9) on DEMETR dev items
# 41-60, which the fit had not seen. Kinds with fewer firing candidates in either half are left alone.
MIN_FIRING_PER_HALF = 10


def lost(rows: list[dict], floor: float) -> int:
    """Edits with a firing candidate whose every firing candidate lies below ``floor``."""
    firing = defaultdict(list)
    for r in rows:
        if r["fires"]:
            firing[r["edit"]].append(r["d0"])
    return sum(all(d < floor for d in ds) for ds in firing.values())


def fit(candidates: list[dict]) -> dict:
    out = {}
    for kind in sorted({r["kind"] for r in candidates}):
        rows = [r for r in candidates if r["kind"] == kind]
        halves = [[r for r in rows if r["half"] == h] for h in (0, 1)]
        lowest = [min((r["d0"] for r in half if r["fires"]), default=None) for half in halves]
        held = None
        enough = all(sum(r["fires"] for r in half) >= MIN_FIRING_PER_HALF for half in halves)
        if None not in lowest and enough:
            for j, m in enumerate(MARGINS):
                if all(lost(halves[1 - h], lowest[h] - m) == 0 for h in (0, 1)):
                    held = MARGINS[min(j + 1, len(MARGINS) - 1)]
                    break
        fired = [r["d0"] for r in rows if r["fires"]]
        floor = round(min(fired) - held, 3) if held is not None and fired else None
        out[kind] = {"rows": len(rows), "firing": len(fired), "firing_per_half": [sum(r["fires"] for r in h) for h in halves], "lowest_firing_d0": min(fired) if fired else None,
                     "half_floors": lowest, "margin": held, "floor": floor,
                     "rows_below_floor": sum(r["d0"] < floor for r in rows) if floor is not None else 0,
                     "lost_on_all_dev": lost(rows, floor) if floor is not None else 0}  # fmt: skip
    return out


def main() -> None:
    data = json.loads((RESULTS / "exp-first-token.json").read_text(encoding="utf-8"))
    kinds = fit(data["candidates"])
    total = sum(k["rows"] for k in kinds.values())
    below = sum(k["rows_below_floor"] for k in kinds.values())
    for kind, k in kinds.items():
        print(f"{kind:9s} floor {k['floor']!s:>8}  margin {k['margin']!s:>4}  rows {k['rows']:5d}  "
              f"below {k['rows_below_floor']:5d}  firing {k['firing']:3d}  lost {k['lost_on_all_dev']}")
    print(f"rows screened: {below} of {total} ({below / total:.0%})")
    out = {"source": "exp-first-token.json", "source_git": data.get("git"), "sentences": data.get("sentences"),
           "margins": MARGINS, "kinds": kinds, "rows": total, "rows_screened": below}  # fmt: skip
    (RESULTS / "first-token-screen.json").write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
