"""The engine benchmark's own logic: agreement figures, batching, the verdict (no model is loaded)."""

from __future__ import annotations

import math
import statistics

import pytest

from benchmarks.bench_engines import (AGREEMENT_SLACK, MIN_SPEEDUP, agreement, length_batches, median_rate,
                                      paired_ratio, summarise, verdict)

REF = [[-1.0, -2.0, -0.5], [-3.0, -0.25], [-0.1, -4.0, -2.0, -1.0]]


def test_identical_scores_agree_exactly():
    a = agreement(REF, [list(r) for r in REF])
    assert a["mean_abs"] == 0.0 and a["max_abs"] == 0.0 and a["max_abs_sentence_total"] == 0.0
    assert a["token_spearman"] == pytest.approx(1.0) and a["sentence_spearman"] == pytest.approx(1.0)


def test_differences_are_per_token_absolute():
    got = [[-1.5, -2.0, -0.5], [-3.0, 0.25], [-0.1, -4.0, -2.0, -1.0]]
    a = agreement(REF, got)
    assert a["mean_abs"] == pytest.approx(1.0 / 9)  # 0.5 + 0.5 over 9 tokens
    assert a["max_abs"] == pytest.approx(0.5)
    assert a["max_abs_sentence_total"] == pytest.approx(0.5)


def test_reversed_sentence_ranks_give_minus_one():
    # totals -3.5, -3.25, -7.1 (ranks 2, 3, 1); give back ranks 2, 1, 3
    got = [[-3.5, 0.0, 0.0], [-7.1, 0.0], [-3.25, 0.0, 0.0, 0.0]]
    a = agreement(REF, got)
    assert a["sentence_spearman"] == pytest.approx(-1.0)
    assert a["max_abs_sentence_total"] == pytest.approx(3.85)


@pytest.mark.parametrize("got", [[[-1.0, -2.0, -0.5], [-3.0, -0.25]],  # a sentence missing
                                 [[-1.0, -2.0], [-3.0, -0.25], [-0.1, -4.0, -2.0, -1.0]]])  # a token missing
def test_mismatched_shapes_raise(got):
    with pytest.raises(ValueError):
        agreement(REF, got)


def test_length_batches_keep_the_budget_and_every_index_once():
    lengths = [5, 12, 7, 12, 3, 9, 9, 20, 1]
    batches = length_batches(lengths, budget=30, equal_only=False)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 30
    firsts = [lengths[b[0]] for b in batches]
    assert firsts == sorted(firsts, reverse=True)  # longest first, as the scorer packs


def test_equal_only_batches_never_mix_lengths():
    lengths = [5, 12, 7, 12, 5, 9, 9, 5, 12]
    batches = length_batches(lengths, budget=1000, equal_only=True)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len({lengths[i] for i in b}) == 1 for b in batches)
    assert len(batches) == len(set(lengths))  # the budget is large: one batch per length
    assert length_batches(lengths, budget=24, equal_only=True)[0] == [1, 3]  # 2 x 12 fits, 3 x 12 does not


def test_an_oversized_item_still_gets_a_batch():
    assert length_batches([50, 2], budget=10, equal_only=False) == [[0], [1]]


TORCH = {"mean_abs": 0.04, "max_abs": 0.3, "token_spearman": 0.9997, "sentence_spearman": 0.998}


def test_faster_and_as_close_to_fp32_is_a_win():
    close = {"mean_abs": 1e-5, "max_abs": 5e-5, "token_spearman": 1.0, "sentence_spearman": 1.0}
    assert verdict(MIN_SPEEDUP, close, TORCH) == "win"
    assert verdict(MIN_SPEEDUP - 0.01, close, TORCH) == "not faster"


def test_faster_but_further_from_fp32_is_not_a_win():
    far = {"mean_abs": 0.28, "max_abs": 2.1, "token_spearman": 0.992, "sentence_spearman": 0.983}
    assert verdict(1.9, far, TORCH) == "faster, disagrees more"
    assert verdict(0.9, far, TORCH) == "not faster, disagrees more"
    # within the slack on the mean, but a lower sentence ranking still disagrees
    edge = dict(TORCH, mean_abs=TORCH["mean_abs"] * AGREEMENT_SLACK, sentence_spearman=0.99)
    assert verdict(2.0, edge, TORCH) == "faster, disagrees more"


def test_median_rate_uses_the_median_run():
    assert median_rate(1000, [2.0, 10.0, 4.0]) == pytest.approx(250.0)
    assert math.isfinite(median_rate(1, [1e-9]))


def test_paired_ratio_compares_within_rounds():
    # round 2 ran while another job loaded the machine: both engines slowed, the pairing cancels it
    assert paired_ratio([10.0, 40.0, 10.0], [5.0, 20.0, 5.0]) == pytest.approx(2.0)
    # the ratio of medians can say "faster" where no single round was
    base, other = [20.3, 22.1, 13.4], [27.3, 18.0, 16.8]
    assert statistics.median(base) / statistics.median(other) > 1.1
    assert paired_ratio(base, other) < 1.0
    with pytest.raises(ValueError):
        paired_ratio([1.0, 2.0], [1.0])


def test_summarise_adds_ratios_and_verdicts_from_stored_runs():
    close = {"mean_abs": 1e-5, "max_abs": 5e-5, "token_spearman": 1.0, "sentence_spearman": 1.0}
    entry = {"signature": {"model": "m"}, "threads": 1, "n_sentences": 2, "n_tokens": 100, "runs": 3,
             "engines": {"torch": {"dtype": "bfloat16", "seconds": [1.0, 2.0, 1.0], "agreement_vs_torch_float32": TORCH},
                         "ct2-float32": {"dtype": "float32", "seconds": [0.5, 1.0, 0.5],
                                         "agreement_vs_torch_float32": close}}}
    title, rows = summarise(entry)
    assert "m" in title and [r["engine"] for r in rows] == ["torch", "ct2-float32"]
    ct2 = entry["engines"]["ct2-float32"]
    assert ct2["paired_ratio"] == pytest.approx(2.0) and ct2["tokens_per_s"] == pytest.approx(200.0)
    assert ct2["verdict"] == "win" and "verdict" not in entry["engines"]["torch"]
