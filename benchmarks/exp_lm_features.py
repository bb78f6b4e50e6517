"""Do the LM's first-pass numbers help the learned decision on text from a source it was not fitted on?

    python -m benchmarks.exp_lm_features [--dataset ocr] [--dataset mt_qe_wordtags]

Issue 15 asks for per-word LM features from the one document pass (surprisal, entropy of the
predicted distribution, rank of the actual token, the likeliest other token) and for a small head on
the LM's hidden states trained on the word tags. This experiment measures them before anything is
adopted, on dev only, held out across sources: for each source of a dataset (OCR: ICDAR2017 and
Overproof SMH; MLQE-PE: each language pair) a decision is fitted on the dataset's other sources
and scored on the held-out one, its threshold chosen on the fitting sources' out-of-fold scores.
Compared in the same run:

- ``candidates``: the LM-free candidates and their features (what the default decision sees);
- ``+ lm features``: the same candidates with the LM numbers of their words;
- ``+ lm proposals``: and every other word the first pass ranks below its top ``PROPOSE_RANK``
  tokens proposed as a candidate (real-word errors: "ho", "Tho", "ill" have no other candidate);
- ``lm proposals, other candidates as before``: the proposals with their LM numbers, the LM-free
  candidates without them (what the LM checker can propose without the combiner reading the pass);
- ``+ hidden-state head``: and a logistic head on the last token's hidden state of each word,
  fitted on the fitting sources' words (out of fold there), its probability one more feature;
- LanguageTool rules alone and ``--decision off`` (kept findings only) as floors.

No false-alarm budget is applied (that needs the pass over DEMETR too): every system's threshold
maximises F1 on the fitting sources, so the rows compare the signals, not operating points.
The LM pass is cached by ``mtqa.eval.lm_pass``. Writes ``results/exp-lm-features.json``.
"""

from __future__ import annotations

import argparse
import time
from typing import Any, Sequence

import numpy as np

from benchmarks.harness import print_table, write_results
from mtqa.lm.wordstats import document_bits, span_numbers

PROPOSE_RANK = 1  # a word whose first token is not the model's top guess is proposed
HEAD_C = 0.1  # inverse L2 strength of the hidden-state head (fixed, not tuned on the held-out side)
THRESHOLDS = np.round(np.arange(0.05, 0.96, 0.025), 3)


def word_stats(rows: np.ndarray, start: int, end: int, doc_bits: float) -> dict[str, float]:
    """The LM checker's numbers of the span (``mtqa.lm.wordstats.span_numbers``) as ``lm:`` features."""
    return {f"lm:{k}": v for k, v in span_numbers(rows, start, end, doc_bits).items()}


def last_token(tokens: np.ndarray, start: int, end: int) -> int:
    idx = np.flatnonzero((tokens[:, 0] < end) & (tokens[:, 1] > start))
    return int(idx[-1]) if len(idx) else -1


def prepare(dataset: str) -> dict[str, Any]:
    """The dataset's dev table, extended with LM features, LM proposals and each row's word vector."""
    from mtqa.eval.lm_pass import load_or_run
    from mtqa.decision import candidate_features
    from mtqa.eval.candidates import collect
    from mtqa.eval.datasets import DATASETS
    from mtqa.eval.fit_decision import build_table
    from mtqa.findings import Category, Finding, Severity

    spec = DATASETS[dataset]
    table = build_table(collect(dataset, "dev"))
    passes = load_or_run(dataset, "dev")
    rows = [dict(r) for r in table.rows]
    lm_rows: list[dict[str, float]] = [{} for _ in rows]
    vec_of: list[tuple[str, int]] = [("", -1)] * len(rows)
    proposals: list[list[tuple[Finding, int]]] = []  # per item: (finding, row)
    labels = list(table.labels)
    seen_text: dict[str, list[tuple[Finding, int]]] = {}
    for i, item in enumerate(table.items):
        tokens, _ = passes[item.text]
        doc_bits = document_bits(tokens)
        for f, r in zip(table.merged[i], table.row_of[i]):
            if not lm_rows[r]:
                lm_rows[r] = word_stats(tokens, f.start, f.end, doc_bits)
                vec_of[r] = (item.text, last_token(tokens, f.start, f.end))
        if item.text not in seen_text:
            mine = []
            covered = [(f.start, f.end) for f in table.merged[i]]
            for w in item.words:
                if any(s < w.end and w.start < e for s, e in covered):
                    continue
                stats = word_stats(tokens, w.start, w.end, doc_bits)
                if not stats or 2 ** stats["lm:rank_first"] - 1 < PROPOSE_RANK - 1e-6:
                    continue
                f = Finding(w.start, w.end, Category.GRAMMAR, Severity.INFO, 0.1, "LM: unexpected word",
                            "lm.word", (), {"proposal": "lm"})  # fmt: skip
                rows.append(candidate_features(f, item.text))
                lm_rows.append(stats)
                vec_of.append((item.text, last_token(tokens, w.start, w.end)))
                mine.append((f, len(rows) - 1))
            seen_text[item.text] = mine
        proposals.append(seen_text[item.text])
    done = set()
    for i, item in enumerate(table.items):
        for f, r in proposals[i]:
            label = spec.label(item, f)
            if label is not None and (item.record, r) not in done:
                done.add((item.record, r))
                labels.append((i, r, bool(label)))
    # word-level head data: every gold word's vector and tag
    words = []
    for i, item in enumerate(table.items):
        tokens, _ = passes[item.text]
        for w in item.words:
            if w.bad is not None:
                words.append((i, (item.text, last_token(tokens, w.start, w.end)), bool(w.bad)))
    return {"table": table, "rows": rows, "lm_rows": lm_rows, "vec_of": vec_of, "proposals": proposals,
            "labels": labels, "passes": passes, "words": words, "n_base_rows": len(table.rows)}  # fmt: skip


def _vectors(data: dict[str, Any], refs: Sequence[tuple[str, int]]) -> np.ndarray:
    passes = data["passes"]
    dim = next(h.shape[1] for _, h in passes.values() if len(h))
    out = np.zeros((len(refs), dim), dtype=np.float32)
    for k, (text, t) in enumerate(refs):
        if t >= 0:
            out[k] = passes[text][1][t]
    return out


def head_scores(data: dict[str, Any], fit_items: set[int]) -> np.ndarray:
    """The hidden-state head's probability per row: rows of fitting items out of fold (two folds by
    record), every other row by the head fitted on all fitting words."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mtqa.eval.items import hash_fraction

    table = data["table"]
    words = [w for w in data["words"] if w[0] in fit_items]
    xw = _vectors(data, [w[1] for w in words])
    yw = np.array([w[2] for w in words], dtype=int)
    fold_w = np.array([int(hash_fraction("head:" + table.items[w[0]].record) * 2) for w in words])

    def model(mask):
        return make_pipeline(StandardScaler(), LogisticRegression(C=HEAD_C, max_iter=300)).fit(xw[mask], yw[mask])

    full, halves = model(np.ones(len(yw), bool)), [model(fold_w != j) for j in range(2)]
    row_item = _row_items(data)
    xr = _vectors(data, data["vec_of"])
    out = full.predict_proba(xr)[:, 1]
    for r, i in enumerate(row_item):
        if i in fit_items:
            j = int(hash_fraction("head:" + table.items[i].record) * 2)
            out[r] = halves[j].predict_proba(xr[r : r + 1])[0, 1]
    missing = np.array([t < 0 for _, t in data["vec_of"]])
    out[missing] = np.nan
    return out


def _row_items(data: dict[str, Any]) -> list[int]:
    """The first item of each row (rows of one text are shared by its items)."""
    out = [-1] * len(data["rows"])
    table = data["table"]
    for i in range(len(table.items)):
        for r in table.row_of[i]:
            if out[r] < 0:
                out[r] = i
        for _, r in data["proposals"][i]:
            if out[r] < 0:
                out[r] = i
    return out


def reported(data: dict[str, Any], items: Sequence[int], p: np.ndarray, t: float, proposals: bool):
    from mtqa.combiner import is_candidate

    table = data["table"]
    out = []
    for i in items:
        found = [f for f, r in zip(table.merged[i], table.row_of[i]) if not is_candidate(f) or p[r] >= t]
        if proposals:
            found += [f for f, r in data["proposals"][i] if p[r] >= t]
        out.append(found)
    return out


def run_fold(data: dict[str, Any], held: str, system: str, head: np.ndarray | None) -> dict[str, Any]:
    from sklearn.ensemble import HistGradientBoostingClassifier

    from mtqa.decision import vectorize
    from mtqa.eval.fit_decision import HGB_PARAMS, _group_folds, _select_features, score_rows
    from mtqa.eval.items import hash_fraction

    table = data["table"]
    proposals = system in ("+ lm proposals", "+ hidden-state head", "lm proposals, other candidates as before")
    base = data["n_base_rows"]
    lm_rows = range(base, len(data["rows"])) if system == "lm proposals, other candidates as before" else (
        range(len(data["rows"])) if system != "candidates" else range(0))
    fit_items = {i for i, s in enumerate(table.sources) if s != held}
    rows = []
    for r, row in enumerate(data["rows"]):
        full = dict(row)
        if r in lm_rows:
            full.update(data["lm_rows"][r])
        if head is not None:
            full["lm:head"] = head[r]
        rows.append(full)
    chosen = [(i, r, y) for i, r, y in data["labels"] if i in fit_items and (proposals or r < base)]
    features = _select_features([rows[r] for _, r, _ in chosen])
    x = vectorize([rows[r] for _, r, _ in chosen], features)
    y = np.array([lab for _, _, lab in chosen], dtype=int)
    groups = [table.items[i].record for i, _, _ in chosen]
    # out-of-fold probabilities on the fitting side: each record's rows (labelled or not) by the model
    # fitted without that record, as the threshold of the real decision is chosen
    fold_of = [int(hash_fraction("decision-fold:" + table.items[i].record) * 2) if i >= 0 else -1
               for i in _row_items(data)]  # fmt: skip
    x_all = vectorize(rows, features)
    p_all = HistGradientBoostingClassifier(**HGB_PARAMS).fit(x, y).predict_proba(x_all)[:, 1]
    p_fit = p_all.copy()
    for j, (train, _) in enumerate(_group_folds(groups, 2)):
        clf = HistGradientBoostingClassifier(**HGB_PARAMS).fit(x[train], y[train])
        mine = np.array([f == j for f in fold_of])
        p_fit[mine] = clf.predict_proba(x_all[mine])[:, 1]
    fit_ids = sorted(fit_items)
    held_ids = [i for i, s in enumerate(table.sources) if s == held]
    metric = "f1"

    def f1(ids, p, t):
        return score_rows(table.dataset, [table.items[i] for i in ids], reported(data, ids, p, t, proposals))

    best_t = max(THRESHOLDS, key=lambda t: f1(fit_ids, p_fit, t)[metric] or 0.0)
    scored = f1(held_ids, p_all, best_t)
    return {"threshold": float(best_t), **scored, "features": len(features), "fitting_candidates": len(y)}


def floors(data: dict[str, Any], held: str) -> dict[str, Any]:
    from mtqa.combiner import is_candidate
    from mtqa.eval.fit_decision import _merge, score_rows

    table = data["table"]
    ids = [i for i, s in enumerate(table.sources) if s == held]
    items = [table.items[i] for i in ids]
    return {
        "LanguageTool rules alone": score_rows(table.dataset, items, [_merge(table, i, ("grammar",)) for i in ids]),
        "--decision off (kept findings)": score_rows(table.dataset, items,
                                                     [[f for f in table.merged[i] if not is_candidate(f)] for i in ids]),
    }  # fmt: skip


SYSTEMS = ("candidates", "+ lm features", "+ lm proposals", "lm proposals, other candidates as before",
           "+ hidden-state head")


def markdown(results: dict[str, Any]) -> str:
    """The table of benchmarks/README.md from the results JSON."""
    floors = ("LanguageTool rules alone", "--decision off (kept findings)")
    lines = ["| held out (dev, F1) | LanguageTool alone | `--decision off` | " + " | ".join(SYSTEMS) + " |",
             "|---" * (3 + len(SYSTEMS)) + "|"]  # fmt: skip
    for row in results["rows"]:
        cells = [f"{row[k]['f1']:.3f}" for k in floors] + [f"{row[s]['f1']:.3f}" for s in SYSTEMS]
        lines.append(f"| {row['dataset']}: {row['held_out']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", help="ocr and/or mt_qe_wordtags (default: both)")
    ap.add_argument("--table", action="store_true", help="print the markdown table of the saved results")
    args = ap.parse_args(argv)
    if args.table:
        import json

        from benchmarks.harness import RESULTS_DIR

        print(markdown(json.loads((RESULTS_DIR / "exp-lm-features.json").read_text())))
        return
    results: dict[str, Any] = {"split": "dev", "propose_rank": PROPOSE_RANK, "head_c": HEAD_C, "rows": []}
    table_rows = []
    for dataset in args.dataset or ["ocr", "mt_qe_wordtags"]:
        t0 = time.perf_counter()
        data = prepare(dataset)
        sources = sorted(set(data["table"].sources))
        n_prop = sum(len(p) for p in data["proposals"])
        print(f"{dataset}: {len(data['rows'])} rows ({n_prop} LM proposals), {time.perf_counter() - t0:.0f} s")
        for held in sources:
            row: dict[str, Any] = {"dataset": dataset, "held_out": held, **floors(data, held)}
            fit_items = {i for i, s in enumerate(data["table"].sources) if s != held}
            head = head_scores(data, fit_items)
            for system in SYSTEMS:
                row[system] = run_fold(data, held, system, head if system == "+ hidden-state head" else None)
            results["rows"].append(row)
            table_rows.append({"row (dev)": f"{dataset}: {held} held out",
                               **{k: row[k]["f1"] for k in ("LanguageTool rules alone", "--decision off (kept findings)")},
                               **{s: f"{row[s]['f1']:.3f} (t {row[s]['threshold']:.2f})" for s in SYSTEMS}})  # fmt: skip
            print(table_rows[-1], flush=True)
    print_table("LM features held out across sources (dev, F1)", table_rows)
    write_results("exp-lm-features", results)


if __name__ == "__main__":
    main()
