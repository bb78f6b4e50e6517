"""The names-dataset person source: which names become people of the index, with what prominence."""

import sys
import types

from mtqa.gazetteer import index, sources
from mtqa.gazetteer.matcher import load_decision


def test_person_prominence_falls_with_rank_and_stays_below_the_big_names():
    values = [sources.person_name_prominence(r) for r in (1, 10, 100, 1000, sources.PERSON_NAME_MAX_RANK, 10**6)]
    assert values == sorted(values, reverse=True) and values[0] > values[3]
    # Never as prominent as a seed-list entry or a big city: a common word that is also a
    # given name ("March", "Will") must stay an ordinary word (matcher.analyse).
    assert max(values) < min(index.PRIORITY_PROMINENCE, load_decision()["suspect"]["context_min_prominence"])
    assert min(values) >= 0.3


def _fake_names_dataset(monkeypatch, first: dict, last: dict) -> list:
    loads = []

    class NameDataset:
        def __init__(self, load_first_names=True, load_last_names=True):
            loads.append((load_first_names, load_last_names))
            self.first_names = first if load_first_names else None
            self.last_names = last if load_last_names else None

    monkeypatch.setitem(sys.modules, "names_dataset", types.SimpleNamespace(NameDataset=NameDataset))
    return loads


def test_names_dataset_people_keeps_single_well_ranked_latin_names(monkeypatch):
    first = {
        "Toomas": {"country": {"EE": 0.9}, "gender": {"M": 1.0}, "rank": {"EE": 12, "FI": 900}},
        "Ionela": {"country": {"MD": 1.0}, "gender": {"F": 1.0}, "rank": {"MD": 150, "IT": None}},
        "Ann Marie": {"country": {"US": 1.0}, "gender": {}, "rank": {"US": 3}},  # two words
        "Rarename": {"country": {"US": 1.0}, "gender": {}, "rank": {"US": sources.PERSON_NAME_MAX_RANK + 1}},
        "Bob": {"country": {"US": 1.0}, "gender": {}, "rank": {"US": 5}},  # too short to retrieve
        "Олег": {"country": {"RU": 1.0}, "gender": {}, "rank": {"RU": 4}},  # not Latin
        "Unranked": {"country": {"US": 1.0}, "gender": {}, "rank": {}},
    }
    last = {"Tamm": {"country": {"EE": 1.0}, "gender": {}, "rank": {"EE": 1}},
            "O'Neill": {"country": {"IE": 1.0}, "gender": {}, "rank": {"IE": 40}}}  # not letters only
    loads = _fake_names_dataset(monkeypatch, first, last)
    people = list(sources.names_dataset_people())
    assert loads == [(True, False), (False, True)]  # one list in memory at a time
    by_name = {p.canonical: p for p in people}
    assert set(by_name) == {"Toomas", "Ionela", "Tamm"}
    assert {p.kind for p in people} == {"person"}
    toomas, tamm = by_name["Toomas"], by_name["Tamm"]
    assert toomas.country == "EE" and toomas.source == "names-dataset:given"  # where it ranks best
    assert tamm.source == "names-dataset:surname" and tamm.prominence == sources.person_name_prominence(1)
    assert toomas.prominence == sources.person_name_prominence(12) < tamm.prominence


def test_the_person_source_is_built_and_signs_the_index():
    assert ("names-dataset", sources.names_dataset_people) in sources.BUILT_SOURCES
    assert "names-dataset" in sources.source_fingerprint()
