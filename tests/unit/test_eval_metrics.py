"""Evaluation metrics on tiny hand-made examples with exact expected numbers."""

import math

import pytest

from mtqa.eval.datasets import changed_regions, find_token, ocr_word_errors
from mtqa.eval.items import hash_split, overlaps
from mtqa.eval.metrics import BinaryCounts, SpanCounts, f1, flag_words, intersection_size, mcc, merge_intervals, prf


def test_prf_exact():
    s = prf(tp=3, fp=1, fn=2)
    assert s["precision"] == 0.75
    assert s["recall"] == 0.6
    assert s["f1"] == pytest.approx(2 * 0.75 * 0.6 / 1.35)


def test_f1_edge_cases():
    assert f1(None, 0.0) == 0.0  # nothing predicted, something to find: 0, not undefined
    assert f1(None, None) is None
    assert f1(0.0, 0.0) == 0.0
    assert f1(1.0, 1.0) == 1.0


def test_mcc_exact_and_degenerate():
    # tp=6 fp=2 fn=1 tn=11: (66-2)/sqrt(8*7*13*12)
    assert mcc(6, 2, 1, 11) == pytest.approx(64 / math.sqrt(8 * 7 * 13 * 12))
    assert mcc(5, 0, 0, 5) == 1.0
    assert mcc(0, 5, 5, 0) == -1.0
    assert mcc(0, 0, 3, 7) == 0.0  # nothing predicted: defined as 0


def test_intervals():
    assert merge_intervals([(5, 8), (0, 2), (1, 3), (8, 9), (4, 4)]) == [(0, 3), (5, 9)]
    assert intersection_size([(0, 10)], [(2, 4), (8, 12)]) == 4
    assert overlaps(0, 5, 4, 6) and not overlaps(0, 5, 5, 6)
    assert overlaps(3, 3, 0, 10) and not overlaps(0, 0, 0, 10)


def test_span_counts_overlap_and_partial_credit():
    c = SpanCounts()
    # gold [10,20) and [30,35); predictions [15,25) (overlaps gold 1) and [40,42) (false alarm)
    c.add([(15, 25), (40, 42)], [(10, 20), (30, 35)])
    s = c.scores()
    assert (s["precision"], s["recall"]) == (0.5, 0.5)
    assert s["f1"] == 0.5
    assert s["char_precision"] == 5 / 12  # 5 shared characters of 12 predicted
    assert s["char_recall"] == 5 / 15  # of 15 gold characters
    c.add([], [])  # an error-free unit with no prediction changes nothing
    assert c.scores()["precision"] == 0.5


def test_span_counts_no_prediction():
    c = SpanCounts()
    c.add([], [(0, 3)])
    s = c.scores()
    assert s["precision"] is None and s["recall"] == 0.0 and s["f1"] == 0.0


def test_binary_counts_word_level():
    c = BinaryCounts()
    c.add([True, True, False, False, True], [True, False, True, False, None])  # last word: no gold
    assert (c.tp, c.fp, c.fn, c.tn) == (1, 1, 1, 1)
    s = c.scores()
    assert s["f1_bad"] == 0.5 and s["f1_ok"] == 0.5 and s["mcc"] == 0.0 and s["f1_mult"] == 0.25


def test_flag_words():
    words = [(0, 3), (4, 9), (10, 12)]
    assert flag_words(words, [(5, 6)]) == [False, True, False]
    assert flag_words(words, [(2, 11)]) == [True, True, True]
    assert flag_words(words, []) == [False, False, False]


def test_ocr_word_errors_alignment():
    ocr = "of Tune, the following portions of Crown Lnnd".split()
    gt = "of June, the following portions of Crown Land".split()
    assert ocr_word_errors(ocr, gt) == [False, True, False, False, False, False, False, True]
    # words the corrector re-wrapped onto another line still align when the chunk is aligned at once
    assert ocr_word_errors(["a", "b", "c"], ["a", "b", "c"]) == [False, False, False]
    assert ocr_word_errors(["j", "(", "LAND"], ["LAND"]) == [True, True, False]


def test_changed_regions():
    base = "The president spoke on Monday."
    assert changed_regions(base, "The presidential spoke on Monday.") == [(4, 16)]
    swapped = "The president on spoke Monday."
    # difflib sees a swap as a deletion (the gap: its neighbours) plus an insertion
    assert [swapped[s:e] for s, e in changed_regions(base, swapped)] == ["on", "spoke Monday."]
    # a deleted word: the neighbours stand for the gap
    dropped = "The president on Monday."
    assert [dropped[s:e] for s, e in changed_regions(base, dropped)] == ["president on"]
    assert changed_regions(base, base) == []


def test_find_token():
    assert find_token("Visit Cloney and Cloney .", "Cloney") == (6, 12)
    assert find_token('said "Cloney"', "Cloney") == (6, 12)
    assert find_token("nothing here", "Cloney") is None


def test_hash_split_is_stable_and_balanced():
    assert hash_split("abc") == hash_split("abc")
    splits = [hash_split(f"doc{i}") for i in range(2000)]
    assert 0.45 < splits.count("dev") / 2000 < 0.55
