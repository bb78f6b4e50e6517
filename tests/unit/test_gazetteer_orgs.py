"""The organisation source: stock-index companies (pytickersymbols), legal forms cut off by cleanco,
ordinary-word names left out, and a corrupted company name found by the matcher."""

import pytest

from mtqa.document import Document
from mtqa.gazetteer import index, orgs, sources
from mtqa.gazetteer.index import Gazetteer
from mtqa.gazetteer.matcher import Matcher, load_decision, resolve_names
from mtqa.gazetteer.sources import SourceEntry

# pytickersymbols' INDICES layout, with companies we made up or whose names we chose for the case.
FAKE_INDICES = {
    "EURO STOXX 50": {"name": "EURO STOXX 50", "companies": [
        {"name": "Siemens Energy AG", "country": "Germany", "metadata": {"headquarters": "Munich , Germany"}},
        {"name": "Gazprom PJSC", "country": "Russia"},
    ]},
    "S&P 600": {"name": "S&P 600", "companies": [
        {"name": "Gazprom PJSC", "country": "Russia"},  # in two indices: the more selective one counts
        {"name": "Quorvex Holdings, Inc.", "country": "Atlanta, Georgia"},  # the US state, not the country
        {"name": "Target", "country": "United States"},  # an ordinary word and nothing else
        {"name": "Next plc", "country": "United Kingdom"},  # "Next" is ordinary, "Next plc" is not
        {"name": "The Brindlewood Company Ltd", "metadata": {"headquarters": "Leeds, England"}},
        {"name": "", "country": "Japan"},
    ]},
}


def _by_name(indices=FAKE_INDICES) -> dict[str, SourceEntry]:
    return {e.canonical: e for e in orgs.ticker_companies(indices)}


@pytest.mark.parametrize("name, short", [
    ("Gazprom PJSC", "Gazprom"), ("Siemens Energy AG", "Siemens Energy"), ("Airbus SE", "Airbus"),
    ("Anglo American plc", "Anglo American"), ("BioLife Solutions, Inc.", "BioLife Solutions"),
    ("Aegon N.V.", "Aegon"), ("Swiss Reinsurance Company Ltd", "Swiss Reinsurance"),
    ("Naftogaz NJSC", "Naftogaz"), ("The Trade Desk", "Trade Desk"),
    ("Park National Bank (Ohio)", "Park National Bank"), ("Deutsche Bank", "Deutsche Bank"),
    ("Inc.", "Inc."),  # nothing left but the legal form: kept as it is
])  # fmt: skip
def test_legal_forms_and_articles_are_cut_off(name, short):
    assert orgs.short_name(name) == short


def test_common_english_names_are_measured_by_zipf():
    assert orgs.is_common_name("Next") and orgs.is_common_name("Target") and orgs.is_common_name("Best Buy")
    assert not orgs.is_common_name("Gazprom") and not orgs.is_common_name("Tesla")
    assert not orgs.is_common_name("Johnson & Johnson")  # common words, but a name as a phrase
    assert not orgs.is_common_name("Next plc")


def test_source_yields_organisations_with_countries_and_prominence():
    by_name = _by_name()
    assert set(by_name) == {"Siemens Energy", "Gazprom", "Quorvex Holdings", "Next plc", "Brindlewood"}
    assert {e.kind for e in by_name.values()} == {"organisation"}
    gazprom, siemens = by_name["Gazprom"], by_name["Siemens Energy"]
    assert gazprom.country == "RU" and gazprom.aliases == ["Gazprom PJSC"]
    assert siemens.country == "DE" and siemens.source == orgs.SOURCE
    assert by_name["Quorvex Holdings"].country == "US" and by_name["Brindlewood"].country == "GB"
    tiers = orgs.settings()["prominence"]
    assert gazprom.prominence == tiers["EURO STOXX 50"] > by_name["Quorvex Holdings"].prominence == tiers["S&P 600"]
    assert by_name["Next plc"].aliases == []  # "Next" itself is no form of it


def test_organisations_stay_below_seed_lists_and_big_places():
    tiers = [float(v) for v in orgs.settings()["prominence"].values()]
    assert max(tiers) < min(index.PRIORITY_PROMINENCE, load_decision()["suspect"]["context_min_prominence"])
    assert max(tiers) < sources.population_prominence(100_000)


def test_real_package_data_gives_known_companies():
    by_name = {e.canonical: e for e in orgs.ticker_companies()}
    assert len(by_name) > 1000
    assert by_name["Siemens Energy"].country == "DE" and by_name["GEA Group"].country == "DE"
    assert "Anglo American plc" in by_name["Anglo American"].aliases
    assert by_name["Airbus"].country in {"FR", "NL"}
    assert not {"Next", "Target", "Apple", "News"} & set(by_name)
    assert sum(bool(e.country) for e in by_name.values()) > 0.9 * len(by_name)


def test_the_organisation_source_is_built_and_signs_the_index():
    assert ("organisations", sources.organisations) in sources.BUILT_SOURCES
    fingerprint = sources.source_fingerprint()
    assert {"pytickersymbols", "cleanco", "organisation_sources.toml"} <= set(fingerprint)


def _gazetteer() -> Gazetteer:
    gaz = Gazetteer()
    for entry in [
        SourceEntry("Kharkiv", "place", "UA", "UA.07", 1_430_000, 0.88, "test", ["Kharkov"]),
        SourceEntry("Moscow", "place", "RU", "RU.48", 10_400_000, 1.0, "test", []),
        SourceEntry("Gazimagomed", "place", "RU", "RU.17", 600, 0.4, "test", []),  # a near, obscure rival
        *orgs.ticker_companies(FAKE_INDICES),
    ]:
        gaz.add(entry)
    gaz.finish()
    return gaz


def test_the_index_records_organisations_under_short_and_full_names():
    gaz = _gazetteer()
    [eid] = gaz.lookup("gazprom")
    assert gaz.lookup("gazprom pjsc") == (eid,)
    assert (gaz.kind[eid], gaz.country[eid], gaz.canonical[eid]) == ("organisation", "RU", "Gazprom")
    assert gaz.lookup("siemens energy ag") and not gaz.lookup("next") and not gaz.lookup("target")


def test_a_corrupted_company_name_in_a_sentence_resolves_to_the_organisation():
    matcher = Matcher(_gazetteer())
    names = resolve_names(Document.from_text("Gasprom said on Tuesday that gas flows through Ukraine would fall."),
                          matcher)
    [found] = [n for n in names if n.status == "corrupt"]
    assert (found.text, found.canonical, found.kind, found.country) == ("Gasprom", "Gazprom", "organisation", "RU")
    assert found.suggestions[0] == "Gazprom"
    # The full legal name and the short one are known, not corrupted.
    known = resolve_names(Document.from_text("Gazprom PJSC and Siemens Energy signed in Moscow."), matcher)
    statuses = {n.text: (n.status, n.kind) for n in known}
    assert statuses["Gazprom PJSC"] == ("variant", "organisation")  # another form of "Gazprom"
    assert statuses["Siemens Energy"] == ("known", "organisation")
    assert not [n for n in known if n.status == "corrupt"]
