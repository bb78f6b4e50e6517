"""The fitted decision at other report thresholds (`--decision-threshold`), on a split, beside
LanguageTool rules alone: what an archive run that wants recall gets, and what it costs in clean-MT
false alarms and flags in the clean news fixture.

    python -m benchmarks.decision_thresholds [--split test] [--thresholds 0.3,0.4,0.5]

Reads the cached candidates (`mtqa eval --cross-source` checks them) and `models/decision.json`;
the names checker stays at the model's operating point without the LM. Prints a table and writes
`results/decision-thresholds-<split>.json`.
"""

from __future__ import annotations

import argparse

import mtqa.eval.fit_decision as fd
from benchmarks.harness import print_table, write_results
from mtqa.combiner import Combiner
from mtqa.decision import Decision
from mtqa.eval.candidates import candidate_checkers
from mtqa.signature import run_signature


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--split", default="test", choices=("dev", "test"))
    ap.add_argument("--thresholds", default="0.3,0.4,0.5")
    args = ap.parse_args(argv)
    decision = Decision.load()
    if decision is None:
        raise SystemExit("no models/decision.json: run `mtqa fit-decision`")
    decision = decision.without_proposals()  # the candidates here are the LM-free ones
    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | {decision.report_threshold})
    tables = fd.load_tables(args.split, fd.LOADED)
    fixture = fd.clean_fixture_candidates()
    probs = {name: fd.probabilities(decision, t) for name, t in tables.items()}
    budget = tables[fd.BUDGET_DATASET]
    clean = [i for i, item in enumerate(budget.items) if item.group == "clean"]
    rows = []
    lt = {name: fd.compare(tables[name], range(len(tables[name].items)), decision, probs[name], 1.0)[
        "LanguageTool rules alone"] for name in (*fd.F1_DATASETS, fd.BUDGET_DATASET)}  # fmt: skip
    rows.append({"system": "LanguageTool rules alone", **{n: lt[n]["f1"] for n in fd.F1_DATASETS},
                 "clean_mt_false_alarms": lt[fd.BUDGET_DATASET]["false_alarms"], "fixture_findings": None})  # fmt: skip
    for t in thresholds:
        row = {"system": f"mtqa, no LM, threshold {t:.3f}" + (" (default)" if t == decision.report_threshold else "")}
        for name in fd.F1_DATASETS:
            table = tables[name]
            found = fd.decided(decision, table, probs[name], t)
            row[name] = fd.score_rows(name, table.items, found)["f1"]
        flagged = fd.decided(decision, budget, probs[fd.BUDGET_DATASET], t, clean)
        row["clean_mt_false_alarms"] = sum(bool(fs) for fs in flagged) / max(1, len(clean))
        row["fixture_findings"] = fd.fixture_alarms(decision, fixture, t)
        rows.append(row)
    print_table(f"decision thresholds, {args.split} split (F1; DEMETR clean MT sentences flagged)", rows)
    write_results(f"decision-thresholds-{args.split}", {"split": args.split, "decision": decision.data_hash,
                                                        "decision_model": decision.model_hash, "rows": rows},
                  run_signature(candidate_checkers(), Combiner(decision=decision).describe()))  # fmt: skip


if __name__ == "__main__":
    main()
