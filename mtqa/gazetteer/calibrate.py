"""Fit the decision (P(corrupted) for a suspect name) on the dev split; write decision.toml.

Positives: MT tokens that human post-editors corrected (MLQE-PE, ``dev``), when mtqa sees them
as suspects in the MT sentence. Negatives: every suspect in the post-edited sentence (correct
text) and legitimate GeoNames variants of ``dev`` places hidden from the index (an unlisted
variant must not be flagged either). The ``test20`` split and the ``test`` variant split are
left for ``benchmarks/bench_names.py``.

    python -m mtqa.gazetteer.calibrate [--limit N]
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


def postedit_examples(matcher: Matcher, split: str, limit: int | None = None) -> Iterator[dict]:
    """One dict per sentence side: ``suspects`` found, and where the corrupted token is."""
    for n, record in enumerate(postedit_pairs(split)):
        if limit is not None and n >= limit:
            break
        mt_doc = Document.from_text(record["mt"])
        _, mt_suspects = matcher.analyse(mt_doc)
        span = token_span(record["mt"], record["mt_token"])
        pe_doc = Document.from_text(record["pe"])
        _, pe_suspects = matcher.analyse(pe_doc)
        yield {"record": record, "mt_span": span, "mt_suspects": mt_suspects, "pe_suspects": pe_suspects}


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


def corrupt(model, folded: str, rng: random.Random, n_ops: int) -> str:
    """Apply ``n_ops`` ops drawn from the learned model (cheaper ops more often) to a folded name."""
    out = folded
    for _ in range(n_ops):
        choices = []
        for i in range(1, len(out)):  # the first letter rarely changes (see first_letter_groups)
            for k in range(0, 4):
                for dst, cost in model._by_src.get(out[i : i + k], ()):
                    if dst != out[i : i + k] and not (k == 0 and dst == " "):
                        choices.append((i, k, dst, cost))
        if not choices:
            break
        weights = [math.exp(-4.0 * c) for *_, c in choices]
        i, k, dst, _ = rng.choices(choices, weights)[0]
        out = out[:i] + dst + out[i + k :]
    return out


def synthetic_examples(matcher: Matcher, split: str, limit: int, seed: int = 7) -> Iterator[tuple[str, str, Suspect | None]]:
    """Names of ``split`` places corrupted by ops sampled from the fitted model (1-3 ops)."""
    rng = random.Random(seed)
    rows = [r for r in variant_rows(split) if is_latin(fold(r["canonical"])) and len(fold(r["canonical"])) >= 5]
    rng.shuffle(rows)
    count = 0
    for row in rows:
        canonical = fold(row["canonical"])
        bad = corrupt(matcher.model, canonical, rng, rng.choice((1, 1, 2, 2, 3)))
        if bad == canonical or matcher.gaz.lookup(bad) or " " in bad.strip() != (" " in canonical):
            continue
        word = " ".join(part.capitalize() for part in bad.split())
        doc = Document.from_text(f"Officials in {word} said on Tuesday that the talks would go on.")
        _, suspects = matcher.analyse(doc)
        yield row["canonical"], word, at(suspects, token_span(doc.text, word))
        count += 1
        if count >= limit:
            break


def fit_logistic(X: list[list[float]], y: list[int], l2: float = 0.05, steps: int = 3000, lr: float = 0.1):
    import numpy as np

    A = np.asarray(X, dtype=float)
    t = np.asarray(y, dtype=float)
    mean, std = A.mean(0), A.std(0)
    std[0] = 1.0
    mean[0] = 0.0
    std[std == 0] = 1.0
    Z = (A - mean) / std
    w = np.zeros(A.shape[1])
    pos_weight = (len(t) - t.sum()) / max(t.sum(), 1)  # balance the classes
    sw = np.where(t == 1, pos_weight, 1.0)
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(Z @ w)))
        grad = Z.T @ ((p - t) * sw) / sw.sum() + l2 * np.r_[0, w[1:]]
        w -= lr * grad
    raw = w / std
    raw[0] = w[0] - (w[1:] * mean[1:] / std[1:]).sum()
    return raw


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=None, help="post-edit pairs to use (default: all dev)")
    parser.add_argument("--variants", type=int, default=600)
    parser.add_argument("--synthetic", type=int, default=500)
    parser.add_argument("--max-fpr", type=float, default=0.01, help="share of dev negatives allowed through")
    parser.add_argument("--from-cache", action="store_true", help="refit on the examples of the last run")
    args = parser.parse_args()
    X, y = _load_examples() if args.from_cache else _collect(args)
    decision = load_decision()
    # Context never varies in single sentences: its weight is a prior (see decision.toml).
    # Normalised cost only gates (see [gate]); as a weight it would fight `cost` (collinear).
    cols = [i for i, name in enumerate(FEATURES) if name not in ("context", "ncost")]
    raw = fit_logistic([[row[i] for i in cols] for row in X], y)
    weights = dict.fromkeys(FEATURES, 0.0)
    for i, value in zip(cols, raw):
        weights[FEATURES[i]] = float(value)
    weights["context"] = float(decision["decide_prior"]["context"])

    def prob(row):
        return decide(weights, decision["gate"], dict(zip(FEATURES, row)))

    # Precision first: the threshold lets through at most `--max-fpr` of the dev negatives
    # (correct names and unlisted variants, seen without document context).
    negatives = sorted((prob(row) for row, label in zip(X, y) if label == 0), reverse=True)
    threshold = max(0.5, negatives[int(len(negatives) * args.max_fpr)])
    positives = [prob(row) for row, label in zip(X, y) if label == 1]
    recall = sum(p >= threshold for p in positives) / max(len(positives), 1)
    fpr = sum(p >= threshold for p in negatives) / max(len(negatives), 1)
    print("weights:", {k: round(v, 3) for k, v in weights.items()})
    print(f"threshold {threshold:.3f}: dev recall {recall:.3f}, dev negatives flagged {fpr:.4f} (no context)")
    _write(weights, threshold, {"positives": len(positives), "negatives": len(negatives),
                                "dev_recall_no_context": round(recall, 3), "dev_fpr_no_context": round(fpr, 4)})


def _collect(args) -> tuple[list, list]:
    from .index import load_gazetteer

    matcher = Matcher(load_gazetteer())
    gaz = matcher.gaz
    X, y = [], []
    skipped = 0
    for ex in postedit_examples(matcher, "dev", args.limit):
        hit = at(ex["mt_suspects"], ex["mt_span"])
        if hit is not None and hit.best is not None:
            # A positive is a corruption of a name the gazetteer knows, matched to that name. MT
            # errors in names it does not know are "far from everything": not this model's call.
            target = fold(ex["record"]["pe_token"])
            if set(gaz.lookup(target)) & set(gaz.lookup(hit.best["form"])) or fold(hit.best["canonical"]) == target:
                X.append(_vector(matcher, hit)); y.append(1)
            else:
                skipped += 1
        for s in ex["pe_suspects"]:
            if s.best is not None:
                X.append(_vector(matcher, s)); y.append(0)
    n_pe = len(y)
    n_real = sum(y)
    # Synthetic positives: dev-split place names corrupted by ops sampled from the fitted model.
    for canonical, _word, s in synthetic_examples(matcher, "dev", args.synthetic):
        if s is not None and s.best is not None and s.best["canonical"] == canonical:
            X.append(_vector(matcher, s)); y.append(1)
    n_synthetic = sum(y) - n_real
    for _row, _variant, s in variant_examples(matcher, "dev", args.variants):
        if s is not None and s.best is not None:
            X.append(_vector(matcher, s)); y.append(0)
    _save_examples(X, y)
    print(f"examples: {n_real} real + {n_synthetic} synthetic positives, {n_pe - n_real} post-edit negatives, "
          f"{len(y) - n_pe - n_synthetic} variant negatives; MT suspects matched to a wrong or unknown "
          f"entity, left out: {skipped}")
    return X, y


def _examples_path():
    from ..config import cache_dir

    return cache_dir() / "names-calibration-examples.pkl"


def _load_examples() -> tuple[list, list]:
    import pickle

    with _examples_path().open("rb") as fh:
        data = pickle.load(fh)
    if tuple(data["features"]) != FEATURES:
        raise SystemExit("cached examples have other features: run without --from-cache")
    return data["X"], data["y"]


def _save_examples(X, y) -> None:
    import pickle

    with _examples_path().open("wb") as fh:
        pickle.dump({"features": FEATURES, "X": X, "y": y}, fh)


def _vector(matcher: Matcher, s: Suspect) -> list[float]:
    f = matcher.features(s)
    return [f[k] for k in FEATURES]


def _write(weights: dict, threshold: float, info: dict) -> None:
    text = DECISION_PATH.read_text()
    head = text.split("\n[decide]")[0].rstrip() + "\n"
    lines = ["", "[decide]", f"# Fitted by python -m mtqa.gazetteer.calibrate on the dev split: {info}"]
    lines += [f"{k} = {round(v, 4)}" for k, v in weights.items()]
    lines.append(f"threshold = {round(threshold, 4)}")
    DECISION_PATH.write_text(head + "\n".join(lines) + "\n")
    print(f"wrote {DECISION_PATH}")


if __name__ == "__main__":
    main()
