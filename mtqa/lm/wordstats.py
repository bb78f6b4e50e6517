"""Words the LM's first pass finds unexpected, proposed to the learned decision with their numbers.

A real-word error ("ho" for "he", "ill" for "all") has no spelling or grammar signal: only the
model's surprise shows it. The one document pass already gives, per token, its log-prob, the entropy
of the predicted distribution, its rank and the likeliest other token (``TokenScore``); this module
turns them into a word's numbers and proposes every whitespace word that the model did not rank
first. Each proposal carries its numbers in ``evidence.lm`` (what an editor reads, and what the
decision's ``lm:`` features are), and only the learned decision reports one (``mtqa.combiner``).
numpy only: the fitting code builds the same proposals from cached passes
(``mtqa.eval.lm_pass``), so fitted and run-time numbers come from this one function.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

from ..findings import Category, Finding, Severity
from .types import TokenScore

LN2 = math.log(2.0)
PROPOSAL = "lm"  # evidence.proposal of these findings
CHECK = "lm.unexpected"
_WORD = re.compile(r"\S+")


def token_rows(tokens: Sequence[TokenScore]) -> np.ndarray:
    """[n, 6]: start, end, log-prob, entropy, rank, log-prob of the likeliest other token."""
    return np.array([(t.start, t.end, t.logprob, t.entropy, t.rank, t.best_other) for t in tokens],
                    dtype=np.float64).reshape(-1, 6)  # fmt: skip


def span_numbers(rows: np.ndarray, start: int, end: int, doc_bits: float) -> dict[str, float]:
    """The numbers of ``[start, end)`` (bits, ranks as log2(1 + rank)); empty where no token covers it.
    ``rows`` are in text order (as the pass gives them), so the lookup is two binary searches."""
    return _numbers(rows, *_covering(rows, start, end), doc_bits)


def _numbers(rows: np.ndarray, lo: int, hi: int, doc_bits: float) -> dict[str, float]:
    inside = rows[lo:hi]
    if not len(inside) or np.isnan(inside[:, 3]).any():
        return {}
    bits = -inside[:, 2] / LN2
    margin = (inside[:, 5] - inside[:, 2]) / LN2  # how much likelier the model's best other token was
    out = {
        "bits": bits.sum(), "bits_max": bits.max(), "bits_first": bits[0], "bits_rel": bits.max() - doc_bits,
        "tokens": len(inside), "rank_first": math.log2(1 + inside[0, 4]), "rank_max": math.log2(1 + inside[:, 4].max()),
        "entropy_first": inside[0, 3] / LN2, "margin_first": margin[0], "margin_max": margin.max(),
        "next_bits": -rows[hi, 2] / LN2 if hi < len(rows) else math.nan, "doc_bits": doc_bits,
    }  # fmt: skip
    return {k: round(float(v), 3) for k, v in out.items() if not math.isnan(v)}


def _covering(rows: np.ndarray, start: int, end: int) -> tuple[int, int]:
    """The rows of the tokens overlapping ``[start, end)``: ``rows[lo:hi]``; ``rows[hi]`` is the next."""
    lo = int(np.searchsorted(rows[:, 1], start, side="right"))  # the first token ending after start
    hi = int(np.searchsorted(rows[:, 0], end, side="left"))  # the first token starting at or after end
    return lo, max(lo, hi)


def document_bits(rows: np.ndarray) -> float:
    return float((-rows[:, 2] / LN2).mean()) if len(rows) else math.nan


def propose(text: str, rows: np.ndarray, min_rank: int = 1) -> list[Finding]:
    """Every whitespace word of ``text`` whose first token the model ranked ``min_rank`` or lower
    (0 = its top guess), with its numbers: candidates for the learned decision, never reported alone."""
    doc_bits = document_bits(rows)
    out = []
    for m in _WORD.finditer(text):
        lo, hi = _covering(rows, m.start(), m.end())
        if lo == hi or not rows[lo, 4] >= min_rank:  # (a rank of -1: not computed)
            continue
        numbers = _numbers(rows, lo, hi, doc_bits)
        out.append(Finding(m.start(), m.end(), Category.REALWORD, Severity.INFO, 0.1,
                           f"The language model did not expect '{m.group()}' here", CHECK, (),
                           {"proposal": PROPOSAL, "lm": numbers}))  # fmt: skip
    return out
