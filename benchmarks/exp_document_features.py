"""Does the learned decision gain from document features, held out across sources? (dev only)

    python -m benchmarks.exp_document_features            # base, doc, doc-without-spaced-punct

Fits every cross-source fold model (and the all-dev model) three times on the cached dev
candidates, with the feature set restricted: ``base`` (no ``doc:*`` feature but OCR damage),
``doc`` (plus ``mtqa.decision.document_features``) and ``doc-no-spaced`` (without
``doc:spaced_punct``, which also tells tokenised MLQE-PE text from the rest). Each held-out row is
scored on its source's dev records; writes ``results/exp-document-features.json``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import mtqa.eval.fit_decision as fd
from mtqa.decision import OCR_DAMAGE

RESULTS = Path(__file__).parent / "results" / "exp-document-features.json"
KEEP = {
    "base": lambda f: not f.startswith("doc:") or f == OCR_DAMAGE,
    "doc": lambda f: True,
    "doc-no-spaced": lambda f: f != "doc:spaced_punct",
}


def _row(scores: dict, d) -> dict:
    new = scores[fd.LEARNED]
    return {"t": d.report_threshold, "names_point": d.veto_threshold, "languagetool": scores["LanguageTool rules alone"]["f1"],
            "decision_off": scores["mtqa without LM, --decision off"]["f1"], "f1": new["f1"],
            "precision": new["precision"], "recall": new["recall"]}  # fmt: skip


def score_folds(dev, fit, folds=None) -> tuple[dict, dict, object]:
    """Each fold model (``fit(held_out)``) on its held-out source's dev records, and the all-dev
    model (``fit(())``) out-of-fold on each dataset: rows, the fold decisions, the all-dev decision."""
    rows, decisions = {}, {}
    for fold in fd.cross_source_folds() if folds is None else folds:
        d = decisions[fold.name] = fit(fold.held_out).decision
        for name, source in fold.held_out:
            t = dev[name]
            ids = [i for i, s in enumerate(t.sources) if s == source]
            rows[f"{name}: {source} held out"] = _row(fd.compare(t, ids, d, fd.probabilities(d, t), d.report_threshold), d)
    full = fit(())
    d = full.decision
    for name in fd.F1_DATASETS:
        t = dev[name]
        rows[f"{name}: all sources (out-of-fold)"] = _row(fd.compare(t, range(len(t.items)), d, full.oof[name], d.report_threshold), d)
    return rows, decisions, d


def run(config: str, dev, fixture, names) -> dict:
    select = fd._select_features
    fd._select_features = lambda rows: [f for f in select(rows) if KEEP[config](f)]
    try:
        rows, _, d = score_folds(dev, lambda held_out: fd.fit(dev, held_out, fixture=fixture, names=names))
        t = dev[fd.BUDGET_DATASET]
        demetr = fd.compare(t, range(len(t.items)), d, fd.probabilities(d, t), d.report_threshold)[fd.LEARNED]
        return {"rows": rows, "demetr": demetr, "features": len(d.features)}
    finally:
        fd._select_features = select


def main(configs: list[str], run=run, results: Path = RESULTS) -> None:
    """Each configuration's ``run(config, dev, fixture, names)``, printed and written to ``results``."""
    t0 = time.perf_counter()
    dev = fd.load_tables("dev", fd.LOADED)
    fixture, names = fd.clean_fixture_candidates(), fd.synthetic_names()
    out = {"split": "dev", "configs": {}}
    for config in configs:
        out["configs"][config] = res = run(config, dev, fixture, names)
        print(f"== {config} ({time.perf_counter() - t0:.0f} s)")
        for row, v in res["rows"].items():
            print(f"  {row:40s} t={v['t']:.3f}  LanguageTool {v['languagetool']:.3f}  off {v['decision_off']:.3f}  "
                  f"decision {v['f1']:.3f} (P {v['precision']:.3f} R {v['recall']:.3f})")  # fmt: skip
        print(f"  DEMETR detection {res['demetr']['detection']:.3f}, clean-MT false alarms {res['demetr']['false_alarms']:.3f}")
        results.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {results}")


if __name__ == "__main__":
    main(sys.argv[1:] or list(KEEP))
