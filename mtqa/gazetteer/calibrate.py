"""Fit the decision (P(corrupted) for a suspect name) on single sentences; write decision.toml.

Positives: capitalised MT tokens that human post-editors replaced (MLQE-PE ``train`` + ``dev``)
when mtqa matches them to the post-edited entity, and synthetic corruptions of GeoNames
``train``/``dev`` towns in news sentences (:mod:`mtqa.gazetteer.synthetic`) matched to their town.
Negatives: suspects at capitalised MT tokens the post-editor kept, every suspect of the
post-edited sentences, and legitimate variants of ``train``/``dev`` places with their own form
hidden from the index. No document context anywhere: its weight stays a prior. ``test20`` and
the ``test`` GeoNames split are left for ``benchmarks/bench_names.py``.

    python -m mtqa.gazetteer.calibrate [--world N] [--from-cache]
"""

from __future__ import annotations

import argparse
import math
import random
import re
from typing import Iterator

from ..document import Document
from .corruption import postedit_pairs, variant_rows
from .matcher import DECISION_PATH, FEATURES, Matcher, Suspect, decide, load_decision
from .normalize import fold, is_latin


def token_span(sentence: str, token: str) -> tuple[int, int] | None:
    match = re.search(r"(?<!\w)" + re.escape(token) + r"(?!\w)", sentence)
    return (match.start(), match.end()) if match else None


def at(suspects: list[Suspect], span: tuple[int, int] | None) -> Suspect | None:
    if span is None:
        return None
    for s in suspects:
        if s.start < span[1] and span[0] < s.end:
            return s
    return None


def variant_examples(matcher: Matcher, split: str, limit: int, seed: int = 13) -> Iterator[tuple[dict, str, Suspect | None]]:
    """Legitimate variants with their own exact form hidden: (row, variant, suspect or None)."""
    from rapidfuzz.distance import Indel

    rows = list(variant_rows(split))
    random.Random(seed).shuffle(rows)
    count = 0
    for row in rows:
        canonical = fold(row["canonical"])
        similar = [v for v in row["variants"] if is_latin(fold(v)) and fold(v) != canonical
                   and Indel.normalized_similarity(canonical, fold(v)) >= 0.6]
        if not similar:
            continue
        variant = similar[0]
        folded = fold(variant)
        matcher.exclude = {folded}
        try:
            doc = Document.from_text(f"Officials in {variant} said on Tuesday that the talks would go on.")
            _, suspects = matcher.analyse(doc)
            yield row, variant, at(suspects, token_span(doc.text, variant))
        finally:
            matcher.exclude = set()
        count += 1
        if count >= limit:
            break


def fit_logistic(X: list[list[float]], y: list[int], l2: float = 0.05, steps: int = 3000, lr: float = 0.1,
                 sample_weight: list[float] | None = None):
    """L2-regularised logistic regression by gradient descent on standardised features (numpy
    only); returns raw-scale weights, bias first. Without ``sample_weight`` the classes are balanced."""
    import numpy as np

    A = np.asarray(X, dtype=float)
    t = np.asarray(y, dtype=float)
    mean, std = A.mean(0), A.std(0)
    std[0] = 1.0
    mean[0] = 0.0
    std[std == 0] = 1.0
    Z = (A - mean) / std
    w = np.zeros(A.shape[1])
    if sample_weight is None:
        pos_weight = (len(t) - t.sum()) / max(t.sum(), 1)  # balance the classes
        sw = np.where(t == 1, pos_weight, 1.0)
    else:
        sw = np.asarray(sample_weight, dtype=float)
        sw = sw * len(sw) / sw.sum()
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(Z @ w)))
        grad = Z.T @ ((p - t) * sw) / sw.sum() + l2 * np.r_[0, w[1:]]
        w -= lr * grad
    raw = w / std
    raw[0] = w[0] - (w[1:] * mean[1:] / std[1:]).sum()
    return raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--world", type=int, default=900, help="world towns in the synthetic fitting set")
    parser.add_argument("--variants", type=int, default=800, help="unlisted-variant negatives per split")
    parser.add_argument("--max-kept-fa", type=float, default=0.02,
                        help="share of kept capitalised MT words (fit splits) allowed to be flagged")
    parser.add_argument("--max-variant-fa", type=float, default=0.30,
                        help="share of unlisted variants (own form hidden) allowed to be flagged")
    parser.add_argument("--from-cache", action="store_true", help="refit on the examples of the last run")
    args = parser.parse_args()
    data = _load_examples() if args.from_cache else _collect(args)
    X, y, group = data["X"], data["y"], data["group"]
    decision = load_decision()
    # Context never varies in single sentences: its weight is a prior (see decision.toml).
    # Normalised cost only gates (see [gate]); as a weight it would fight `cost` (collinear).
    cols = [i for i, name in enumerate(FEATURES) if name not in ("context", "ncost")]
    # Each source weighs the same in the fit, whatever its size.
    sizes = {g: group.count(g) for g in sorted(set(group))}  # sorted: the same file every run
    weights_per_row = [1.0 / sizes[g] for g in group]
    raw = fit_logistic([[row[i] for i in cols] for row in X], y, sample_weight=weights_per_row)
    weights = dict.fromkeys(FEATURES, 0.0)
    for i, value in zip(cols, raw):
        weights[FEATURES[i]] = float(value)
    weights["context"] = float(decision["decide_prior"]["context"])
    probs = [decide(weights, decision["gate"], dict(zip(FEATURES, row))) for row in X]

    def rates(threshold: float) -> dict:
        out = {}
        for g in sizes:
            flagged = sum(p >= threshold for p, gg in zip(probs, group) if gg == g)
            base = data["totals"].get(g, sizes[g])
            out[g] = flagged / max(base, 1)
        return out

    # Precision first: the lowest threshold at which kept MT words and unlisted variants stay
    # under their false-alarm budgets; recall is whatever that leaves.
    threshold = 0.99
    for t in sorted({round(p, 4) for p in probs if p >= 0.3}, reverse=True):
        r = rates(t)
        if r.get("mt_kept", 0) > args.max_kept_fa or r.get("variant_hidden", 0) > args.max_variant_fa:
            break
        threshold = t
    final = {g: round(v, 4) for g, v in rates(threshold).items()}
    print("weights:", {k: round(v, 3) for k, v in weights.items()})
    print(f"threshold {threshold:.4f}: rates on the fit splits (flagged / cases) {final}")
    _write(weights, threshold, {"examples": sizes, "fit_rates": final})


def _collect(args) -> dict:
    from .index import load_gazetteer
    from .synthetic import postedit_sentences, sentence_cases

    matcher = Matcher(load_gazetteer())
    gaz = matcher.gaz
    X, y, group = [], [], []
    totals: dict[str, int] = {}

    def same(a: str, b: str) -> bool:
        fa, fb = fold(a), fold(b)
        return fa == fb or bool(set(gaz.lookup(fa)) & set(gaz.lookup(fb)))

    def add(s: Suspect, label: int, g: str) -> None:
        X.append(_vector(matcher, s)); y.append(label); group.append(g)

    # Real MT (MLQE-PE train + dev; test20 is the benchmark's): a replaced token matched to its
    # post-edited entity is a positive, a kept capitalised token a negative; every suspect of the
    # post-edited sentence is a negative too.
    from .corruption import postedit_pairs

    pe_text = {(r["lp"], r["split"], r["idx"]): r["pe"] for r in postedit_pairs(("train", "dev"))}
    for sentence in postedit_sentences(("train", "dev")):
        _, suspects = matcher.analyse(Document.from_text(sentence.text))
        totals["mt_kept"] = totals.get("mt_kept", 0) + len(sentence.kept)
        for s in suspects:
            if s.best is None:
                continue
            fix = next((pe for span, pe in sentence.replaced if s.start < span[1] and span[0] < s.end), None)
            if fix is not None:
                if same(s.best["canonical"], fix) or same(s.best["form"], fix):
                    add(s, 1, "mt_replaced")
            elif any(s.start < span[1] and span[0] < s.end for span in sentence.kept):
                add(s, 0, "mt_kept")
    for key, text in pe_text.items():
        _, suspects = matcher.analyse(Document.from_text(text))
        for s in suspects:
            if s.best is not None:
                add(s, 0, "postedited")
    totals["mt_replaced"] = sum(len(x.replaced) for x in postedit_sentences(("train", "dev")))
    # Synthetic corruptions of train/dev towns in single sentences (canonical names and listed
    # variants are exact matches: never suspects, so they add no rows).
    cases = [c for c in sentence_cases(("train", "dev"), lambda f: bool(gaz.lookup(f)), world_places=args.world)
             if c.label == "corrupt"]
    totals["synthetic"] = len(cases)
    for case in cases:
        _, suspects = matcher.analyse(Document.from_text(case.text))
        s = at(suspects, case.span)
        if s is not None and s.best is not None and same(s.best["canonical"], case.canonical):
            add(s, 1, "synthetic")
    # Unlisted legitimate variants: a variant with its own form hidden must not be flagged.
    n_hidden = 0
    for split in ("train", "dev"):
        for _row, _variant, s in variant_examples(matcher, split, args.variants):
            n_hidden += 1
            if s is not None and s.best is not None:
                add(s, 0, "variant_hidden")
    totals["variant_hidden"] = n_hidden
    data = {"features": FEATURES, "X": X, "y": y, "group": group, "totals": totals}
    _save_examples(data)
    print("examples:", {g: group.count(g) for g in set(group)}, "totals:", totals)
    return data


def _examples_path():
    from ..config import cache_dir

    return cache_dir() / "names-calibration-examples.pkl"


def _load_examples() -> dict:
    import pickle

    with _examples_path().open("rb") as fh:
        data = pickle.load(fh)
    if tuple(data["features"]) != FEATURES:
        raise SystemExit("cached examples have other features: run without --from-cache")
    return data


def _save_examples(data: dict) -> None:
    import pickle

    with _examples_path().open("wb") as fh:
        pickle.dump(data, fh)


def _vector(matcher: Matcher, s: Suspect) -> list[float]:
    f = matcher.features(s)
    return [f[k] for k in FEATURES]


def _write(weights: dict, threshold: float, info: dict) -> None:
    text = DECISION_PATH.read_text()
    head = text.split("\n[decide]")[0].rstrip() + "\n"
    lines = ["", "[decide]", "# Fitted by python -m mtqa.gazetteer.calibrate on single sentences (MLQE-PE train+dev, GeoNames "
             f"train+dev): {info}"]
    lines += [f"{k} = {round(v, 4)}" for k, v in weights.items()]
    lines.append(f"threshold = {round(threshold, 4)}")
    DECISION_PATH.write_text(head + "\n".join(lines) + "\n")
    print(f"wrote {DECISION_PATH}")


if __name__ == "__main__":
    main()
