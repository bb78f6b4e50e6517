"""Organisations for the gazetteer: the companies of 20 stock indices that ``pytickersymbols``
ships (MIT; about 1,800 names with countries and headquarters, from Wikipedia).

Each company becomes one entity of kind "organisation" under its short name, the legal form cut
off by ``cleanco`` (MIT) plus the forms it lacks (``organisation_sources.toml``): "Gazprom PJSC"
and "Siemens Energy AG" are found as "Gazprom" and "Siemens Energy", with the full name kept as a
variant. A name that is an ordinary English word or phrase ("Next", "Target", "Best Buy") is not
made a form: it would turn ordinary words into known names and their misspellings into "corrupted"
company names.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from typing import Iterator

from .normalize import fold
from .sources import SEED_DIR, SourceEntry

SETTINGS_PATH = SEED_DIR / "organisation_sources.toml"
SOURCE = "pytickersymbols"


@lru_cache(maxsize=1)
def settings() -> dict:
    with SETTINGS_PATH.open("rb") as fh:
        return tomllib.load(fh)


@lru_cache(maxsize=1)
def legal_terms() -> list[tuple[int, list[str]]]:
    """cleanco's legal-form terms with ours added, normalised and ordered the way cleanco wants
    (longest first, so "public joint stock company" goes before "company")."""
    from cleanco.clean import get_unique_terms, normalize_terms

    terms = get_unique_terms() | set(settings()["names"]["extra_suffixes"])
    parts = sorted((t.split() for t in normalize_terms(terms)), key=lambda p: (-len(p), p))
    return [(len(p), p) for p in parts if p]


def short_name(name: str) -> str:
    """``name`` without its legal form(s) and leading article: "Swiss Reinsurance Company Ltd" ->
    "Swiss Reinsurance", "Gazprom PJSC" -> "Gazprom", "The Trade Desk" -> "Trade Desk". Never
    empty: a name that is nothing but such words stays as it is."""
    from cleanco.clean import custom_basename

    terms = legal_terms()
    out = re.sub(r"\s*\([^)]*\)?\s*$", "", name.strip()) or name.strip()  # "Park National Bank (Ohio)"
    while True:  # cleanco strips one term per pass ("... Company Ltd" needs two)
        words = out.split()
        if len(words) > 1 and words[0].lower() in settings()["names"]["prefixes"]:
            words = words[1:]
        cut = custom_basename(" ".join(words), terms, suffix=True) if len(words) > 1 else " ".join(words)
        cut = re.sub(r"[\s,(]+$", "", cut)
        if not re.search(r"\w", cut) or cut == out:
            return out if re.search(r"\w", cut) else name.strip()
        out = cut


def is_common_name(name: str) -> bool:
    """An ordinary English word or phrase: wordfreq's Zipf frequency of the whole (folded) name at
    or above the cut-off for one word or for several (``organisation_sources.toml``)."""
    from wordfreq import zipf_frequency

    folded = fold(name)
    limits = settings()["names"]
    cutoff = limits["common_zipf_phrase" if " " in folded else "common_zipf_word"]
    return zipf_frequency(folded, "en") >= float(cutoff)


@lru_cache(maxsize=4096)
def country_code(text: str) -> str:
    """ISO 3166 alpha-2 code of a country name, a "City, State" (US) or "City, Country" string."""
    import pycountry

    text = (text or "").strip()
    if not text:
        return ""
    known = settings()["countries"]
    last = text.rsplit(",", 1)[-1].strip()
    for candidate in dict.fromkeys((text, last)):
        if candidate in known:
            return known[candidate]
        if "," in text and candidate == last:
            # "Atlanta, Georgia" is the state before it is the country.
            for sub in pycountry.subdivisions.get(country_code="US") or ():
                if sub.name == candidate:
                    return "US"
        try:
            return pycountry.countries.lookup(candidate).alpha_2
        except LookupError:
            continue
    return ""


def ticker_companies(indices: dict | None = None) -> Iterator[SourceEntry]:
    """One organisation per short name in any of the indices (``indices``: pytickersymbols'
    ``INDICES`` layout, for tests), its prominence that of the most selective index it is in."""
    if indices is None:
        from pytickersymbols.indices_data import INDICES as indices
    tiers = settings()["prominence"]
    companies: dict[str, dict] = {}  # folded short name -> what the indices say of it
    for index_name, index in indices.items():
        tier = float(tiers.get(index_name, tiers["default"]))
        for company in index.get("companies") or ():
            name = (company.get("name") or "").strip()
            if not name:
                continue
            short = short_name(name)
            seen = companies.setdefault(fold(short), {"short": short, "names": [], "prominence": tier,
                                                      "country": ""})
            seen["names"].append(name)
            seen["prominence"] = max(seen["prominence"], tier)
            headquarters = (company.get("metadata") or {}).get("headquarters", "")
            seen["country"] = seen["country"] or country_code(company.get("country") or "") \
                or country_code(headquarters)
    for info in companies.values():
        forms = [f for f in dict.fromkeys((info["short"], *info["names"])) if not is_common_name(f)]
        if forms:
            yield SourceEntry(forms[0], "organisation", info["country"], "", 0, info["prominence"], SOURCE,
                              forms[1:])
