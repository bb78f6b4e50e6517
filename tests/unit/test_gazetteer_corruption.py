"""The weighted corruption model and its learned-cost file."""

import json

import pytest

from mtqa.gazetteer.corruption import COSTS_PATH, CorruptionModel, default_model, split_of


@pytest.fixture(scope="module")
def model() -> CorruptionModel:
    return default_model()


def test_learned_costs_record_what_they_were_fitted_on():
    data = json.loads(COSTS_PATH.read_text())
    assert len(data["data_sha256"]) == 64
    assert "split=train" in data["fitted_on"]["postedit"]
    assert data["fitted_on"]["positives"] > 1000 and data["fitted_on"]["negatives"] > 1000
    assert all(0 < cost <= 1 for _, _, cost in data["ops"])


def test_identity_is_free_and_unknown_edits_cost_one(model):
    assert model.cost("kharkiv", "kharkiv") == 0
    plain = CorruptionModel({}, groups={})
    assert plain.cost("abc", "xbc") == 1.0
    assert plain.cost("abc", "ab") == 1.0


@pytest.mark.parametrize("canonical, corrupted, unrelated", [
    ("kalyna", "karyna", "kamyna"),      # l -> r beats an arbitrary letter
    ("zorya", "dorya", "forya"),         # z -> d
    ("kherson", "herson", "person"),     # kh -> h
    ("sumy", "sumi", "sumo"),            # y -> i
    ("hollan", "holan", "hoan"),         # doubled letter
])  # fmt: skip
def test_mt_confusions_are_cheaper_than_arbitrary_edits(model, canonical, corrupted, unrelated):
    assert model.cost(canonical, corrupted) < model.cost(canonical, unrelated)
    assert model.cost(canonical, corrupted) < 0.8


def test_merged_and_split_words_are_cheap(model):
    assert model.cost("nova kakhovka", "novakakhovka") < 0.8
    assert model.cost("bilhorod", "bilho rod") < 1.0


def test_alignment_reports_the_ops(model):
    alignment = model.align("ternopil", "telnopir")
    assert ("r", "l") in alignment.ops and ("l", "r") in alignment.ops
    assert alignment.cost == pytest.approx(model.cost("ternopil", "telnopir"))


def test_mt_likeness_separates_mt_errors_from_transliteration_conventions(model):
    # fitted log-likelihood ratios: l->r is typical of MT errors, kh->h of legitimate variants
    assert model.mt_likeness([("l", "r")]) > model.mt_likeness([("kh", "h")])
    assert model.mt_likeness([]) == 0.0


def test_variant_split_is_deterministic_and_balanced():
    buckets = [split_of(str(i)) for i in range(2000)]
    assert split_of("703448") == split_of("703448")
    share = buckets.count("train") / len(buckets)
    assert 0.5 < share < 0.7 and buckets.count("test") > 300


def _reference_cost(model: CorruptionModel, a: str, b: str) -> float:
    """Plain dynamic programme over every op (no look-up tables): what the fast one must equal."""
    inf = float("inf")
    dist = [[inf] * (len(b) + 1) for _ in range(len(a) + 1)]
    dist[0][0] = 0.0
    for i in range(len(a) + 1):
        for j in range(len(b) + 1):
            here = dist[i][j]
            if here == inf:
                continue
            if i < len(a) and j < len(b):
                dist[i + 1][j + 1] = min(dist[i + 1][j + 1], here + (0.0 if a[i] == b[j] else 1.0))
            if i < len(a):
                dist[i + 1][j] = min(dist[i + 1][j], here + 1.0)
            if j < len(b):
                dist[i][j + 1] = min(dist[i][j + 1], here + 1.0)
            for (src, dst), cost in model.costs.items():
                if src != dst and a.startswith(src, i) and b.startswith(dst, j):
                    k, m = i + len(src), j + len(dst)
                    dist[k][m] = min(dist[k][m], here + cost)
    return dist[len(a)][len(b)]


@pytest.mark.parametrize("a, b", [("kharkiv", "harkov"), ("balakliia", "balakriya"), ("izium", "idium"),
                                  ("zaporizhzhia", "zaporidzhia"), ("hanna maliar", "hannah maryal"),
                                  ("kramatorsk", "kramat")])  # fmt: skip
def test_fast_alignment_equals_the_plain_dynamic_programme(model, a, b):
    assert model.align(a, b, need_ops=False).cost == pytest.approx(_reference_cost(model, a, b))


def test_alignment_bound_abandons_only_dear_paths(model):
    assert model.align("kharkiv", "odesa", max_cost=1.0).cost == float("inf")
    cheap = model.align("izium", "idium")
    assert model.align("izium", "idium", max_cost=2.0).cost == pytest.approx(cheap.cost)
