"""Which candidates should the learned decision decide? Held out across sources (dev only).

    python -m benchmarks.exp_decided_candidates            # keep-names-dropped (all: the adopted design)

Fits every cross-source fold model (and the all-dev model) on the cached dev candidates once per
configuration: ``all`` (the adopted design: every match the news profile drops and the OCR
checker's odd tokens; its rows are `mtqa eval --cross-source`'s) and ``keep-names-dropped`` (matches
on a name the gazetteer knows or a spelling right in another English variant stay dropped, as
before). Writes ``results/exp-decided-candidates.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import mtqa.combiner as combiner
import mtqa.eval.fit_decision as fd
from benchmarks import exp_document_features
from benchmarks.exp_document_features import score_folds

RESULTS = Path(__file__).parent / "results" / "exp-decided-candidates.json"
ADOPTED = combiner.is_candidate
DROPPED = {
    "all": lambda f: False,
    "keep-names-dropped": lambda f: f.evidence.get(combiner.CANDIDATE_KEY) in ("known_name", "other_variant"),
}


def run(config: str, dev, fixture, names) -> dict:
    # A candidate the configuration drops is still a candidate (never reported as a checker's own
    # finding), but the decision may not report it: it scores as below every threshold.
    dropped = DROPPED[config]
    decided, alarms = fd.decided, fd.fixture_alarms

    def decided_without(decision, table, p, threshold, keep=None, veto=None):
        found = decided(decision, table, p, threshold, keep, veto)
        return [[f for f in fs if not (ADOPTED(f) and dropped(f))] for fs in found]

    def alarms_without(decision, fixture, threshold):
        return sum(decision.apply(f, text) >= threshold for text, fs in fixture for f in fs
                   if ADOPTED(f) and not dropped(f))  # fmt: skip

    fd.decided, fd.fixture_alarms = decided_without, alarms_without
    try:
        rows, _, d = score_folds(dev, lambda held_out: fd.fit(dev, held_out, fixture=fixture, names=names))
        t = dev[fd.BUDGET_DATASET]
        demetr = fd.compare(t, range(len(t.items)), d, fd.probabilities(d, t), d.report_threshold)[fd.LEARNED]
        return {"rows": rows, "demetr": demetr}
    finally:
        fd.decided, fd.fixture_alarms = decided, alarms


if __name__ == "__main__":
    exp_document_features.main(sys.argv[1:] or ["keep-names-dropped"], run, RESULTS)
