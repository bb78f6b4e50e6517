"""The LM's word numbers and proposals (mtqa.lm.wordstats) on hand-made token rows, and how the
combiner treats the proposals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mtqa.combiner import Combiner, is_candidate
from mtqa.findings import Category, Finding, Severity
from mtqa.lm.types import TokenScore
from mtqa.lm.wordstats import CHECK, document_bits, propose, span_numbers, token_rows

LN2 = math.log(2)
TEXT = "the cat sat"
# "the" (rank 0), "cat" as " c" + "at" (ranks 3 and 0), "sat" (rank 1)
TOKENS = [TokenScore(0, 3, -1 * LN2, 2 * LN2, 0, -2 * LN2), TokenScore(3, 5, -6 * LN2, 5 * LN2, 3, -2 * LN2),
          TokenScore(5, 7, -1 * LN2, 1 * LN2, 0, -4 * LN2), TokenScore(7, 11, -4 * LN2, 3 * LN2, 1, -3 * LN2)]


def test_span_numbers_are_the_tokens_numbers_in_bits():
    rows = token_rows(TOKENS)
    doc = document_bits(rows)
    assert doc == pytest.approx(3.0)
    got = span_numbers(rows, 4, 7, doc)  # "cat"
    assert got == {"bits": 7.0, "bits_max": 6.0, "bits_first": 6.0, "bits_rel": 3.0, "tokens": 2.0,
                   "rank_first": 2.0, "rank_max": 2.0, "entropy_first": 5.0, "margin_first": 4.0,
                   "margin_max": 4.0, "next_bits": 4.0, "doc_bits": 3.0}
    assert "next_bits" not in span_numbers(rows, 8, 11, doc)  # the last word: nothing after it
    assert span_numbers(rows, 20, 22, doc) == {}  # no token there
    unscored = token_rows([TokenScore(0, 3, -1.0)])  # a pass without the stats proposes nothing
    assert span_numbers(unscored, 0, 3, 1.0) == {} and propose("the", unscored) == []


def test_words_the_model_did_not_rank_first_are_proposed():
    rows = token_rows(TOKENS)
    found = propose(TEXT, rows)
    assert [TEXT[f.start : f.end] for f in found] == ["cat", "sat"]
    assert all(f.check == CHECK and f.evidence["proposal"] == "lm" and is_candidate(f) for f in found)
    assert [TEXT[f.start : f.end] for f in propose(TEXT, rows, min_rank=2)] == ["cat"]
    assert len(propose(TEXT, rows, min_rank=0)) == 3


def _finding(start, end, check="grammar.X", evidence=None):
    return Finding(start, end, Category.GRAMMAR, Severity.WARNING, 0.6, "m", check, (), evidence or {})


def test_a_proposal_another_finding_covers_is_dropped_before_merging():
    rows = token_rows(TOKENS)
    cat, sat = propose(TEXT, rows)
    other = _finding(1, 5)  # overlaps "cat" only
    merged = Combiner().merge([cat, sat, other], TEXT)
    assert [(f.start, f.end, f.check) for f in merged] == [(1, 5, "grammar.X"), (8, 11, CHECK)]
    # other proposals (the OCR checker's odd tokens) are not the LM's: an overlap does not drop them
    odd = _finding(4, 7, "ocr.odd_token", {"proposal": "odd_token"})
    assert len(Combiner().merge([odd, other], TEXT)) == 2
    assert np.isfinite(rows).all()
