"""Metrics, kept free of datasets and checkers so they can be tested on hand-made numbers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

from .items import overlaps


def safe_div(num: float, den: float) -> float | None:
    return num / den if den else None


def f1(precision: float | None, recall: float | None) -> float | None:
    """Harmonic mean; 0 when either side is 0 (no predictions but gold to find scores 0, not undefined)."""
    if precision == 0 or recall == 0:
        return 0.0
    if precision is None or recall is None:
        return None
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def prf(tp: int, fp: int, fn: int) -> dict[str, float | int | None]:
    precision = safe_div(tp, tp + fp)
    recall = safe_div(tp, tp + fn)
    return {"precision": precision, "recall": recall, "f1": f1(precision, recall), "tp": tp, "fp": fp, "fn": fn}


def mcc(tp: int, fp: int, fn: int, tn: int) -> float:
    """Matthews correlation coefficient; 0 when a row or column of the confusion matrix is empty."""
    den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / den if den else 0.0


def merge_intervals(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[list[int]] = []
    for start, end in sorted((s, e) for s, e in spans if e > s):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return [(s, e) for s, e in out]


def covered(spans: Iterable[tuple[int, int]]) -> int:
    return sum(e - s for s, e in merge_intervals(spans))


def intersection_size(a: Iterable[tuple[int, int]], b: Iterable[tuple[int, int]]) -> int:
    a, b = merge_intervals(a), merge_intervals(b)
    i = j = total = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        total += max(0, hi - lo)
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return total


@dataclass
class SpanCounts:
    """Overlap-based span matching plus character-level partial credit, summed over units."""

    n_pred: int = 0
    pred_matched: int = 0  # predicted spans overlapping some gold span
    n_gold: int = 0
    gold_matched: int = 0  # gold spans overlapped by some prediction
    char_pred: int = 0
    char_gold: int = 0
    char_both: int = 0

    def add(self, pred: Sequence[tuple[int, int]], gold: Sequence[tuple[int, int]]) -> None:
        self.n_pred += len(pred)
        self.n_gold += len(gold)
        self.pred_matched += sum(any(overlaps(ps, pe, gs, ge) for gs, ge in gold) for ps, pe in pred)
        self.gold_matched += sum(any(overlaps(ps, pe, gs, ge) for ps, pe in pred) for gs, ge in gold)
        self.char_pred += covered(pred)
        self.char_gold += covered(gold)
        self.char_both += intersection_size(pred, gold)

    def scores(self) -> dict[str, float | int | None]:
        precision = safe_div(self.pred_matched, self.n_pred)
        recall = safe_div(self.gold_matched, self.n_gold)
        char_p = safe_div(self.char_both, self.char_pred)
        char_r = safe_div(self.char_both, self.char_gold)
        return {
            "precision": precision, "recall": recall, "f1": f1(precision, recall),
            "char_precision": char_p, "char_recall": char_r, "char_f1": f1(char_p, char_r),
            "n_pred": self.n_pred, "n_gold": self.n_gold,
        }  # fmt: skip


@dataclass
class BinaryCounts:
    """Confusion counts for word-level tagging (positive = error / BAD)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, predicted: Sequence[bool], gold: Sequence[bool | None]) -> None:
        for p, g in zip(predicted, gold, strict=True):
            if g is None:
                continue
            if p and g:
                self.tp += 1
            elif p:
                self.fp += 1
            elif g:
                self.fn += 1
            else:
                self.tn += 1

    def __iadd__(self, other: "BinaryCounts") -> "BinaryCounts":
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.tn += other.tn
        return self

    def scores(self) -> dict[str, float | int | None]:
        bad = prf(self.tp, self.fp, self.fn)
        ok = prf(self.tn, self.fn, self.fp)  # OK as the positive class
        return {
            "precision": bad["precision"], "recall": bad["recall"], "f1_bad": bad["f1"], "f1_ok": ok["f1"],
            "f1_mult": bad["f1"] * ok["f1"] if bad["f1"] is not None and ok["f1"] is not None else None,
            "mcc": mcc(self.tp, self.fp, self.fn, self.tn),
            "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
        }  # fmt: skip


def flag_words(words: Sequence[tuple[int, int]], spans: Sequence[tuple[int, int]]) -> list[bool]:
    """A word is predicted bad when any finding span overlaps it."""
    if not spans:  # most texts: no finding (the learned decision scores many thresholds)
        return [False] * len(words)
    return [any(overlaps(ws, we, s, e) for s, e in spans) for ws, we in words]


def rate(hits: int, total: int) -> float | None:
    return safe_div(hits, total)
