"""Candidate generation on the real index: the canonical entity of a synthetic corruption is
among the candidates the weighted model scores (fixed sample: the GeoNames ``test`` split)."""

from __future__ import annotations

import time
from collections import Counter

import pytest

from mtqa.config import data_dir
from mtqa.gazetteer.corruption import VARIANT_FILES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def matcher():
    if not all((data_dir() / name).exists() for name in VARIANT_FILES):
        pytest.skip(f"shared GeoNames variant lists not found under {data_dir()}")
    from mtqa.gazetteer.index import load_gazetteer
    from mtqa.gazetteer.matcher import Matcher

    return Matcher(load_gazetteer())


def test_canonical_entity_is_retrieved_for_95_percent_of_synthetic_corruptions(matcher):
    from mtqa.gazetteer.normalize import fold
    from mtqa.gazetteer.synthetic import sentence_cases

    gaz = matcher.gaz
    cases = [c for c in sentence_cases("test", lambda f: bool(gaz.lookup(f)), world_places=60)
             if c.label == "corrupt"]
    assert len(cases) > 400
    found, total = Counter(), Counter()
    started = time.perf_counter()
    for case in cases:
        forms = matcher.candidate_forms(fold(case.text[case.span[0] : case.span[1]]))
        target = set(gaz.lookup(fold(case.canonical)))
        found[case.family] += any(set(gaz.lookup(f)) & target for f in forms)
        total[case.family] += 1
    per_second = len(cases) / (time.perf_counter() - started)
    share = sum(found.values()) / len(cases)
    assert share >= 0.95, {k: round(found[k] / total[k], 2) for k in total}
    assert all(found[k] / total[k] >= 0.8 for k in total if total[k] >= 10), found
    assert per_second > 200  # retrieval alone; the bench measures the whole lookup
