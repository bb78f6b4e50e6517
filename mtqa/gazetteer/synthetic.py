"""Synthetic name corruptions in single news sentences, for fitting and benchmarking the decision.

Each family is one way a round trip through another script (or a careless scrape) damages a name:
l/r, z to d or j, k/c, v/b, a final vowel added or dropped, ia/iya, truncation, swapped liquids,
a doubled or a dropped letter. ``corruptions(name, rng)`` yields (family, corrupted) pairs;
``place_examples(split)`` gives towns of the shared GeoNames lists that the gazetteer knows, each
with its canonical name, a legitimate variant and corruptions, set in sentences written for this
project (``TEMPLATES``). Splits are by GeoNames id (:func:`mtqa.gazetteer.corruption.split_of`):
the decision is fitted on ``train``/``dev``, the benchmark reports ``test``.
"""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass
from typing import Callable, Iterator

from .corruption import variant_rows
from .normalize import fold, is_latin

VOWELS = "aeiouy"
TEMPLATES = (
    "Officials in {name} said on Tuesday that the water supply had been restored.",
    "{name} was without power for most of the night after the strike, the regional governor said.",
    "Police in {name} detained two men on Friday, a spokesman told reporters.",
    "The mayor of {name} announced new bus routes for the winter.",
    "Heavy rain flooded several streets in {name} overnight.",
    "A court in {name} sentenced a former deputy to five years in prison.",
    "Thousands gathered in the centre of {name} to mark the anniversary.",
    "Residents of {name} queued for bread as shops reopened after the blackout.",
    "The night train from {name} arrived three hours late, the railway operator said.",
    "Local media in {name} reported a fire at a warehouse on the outskirts.",
    "Schools in {name} will stay closed until Monday because of the cold.",
    "Workers at a factory near {name} went on strike over unpaid wages.",
    "{name} has been shelled almost daily since the summer, according to the army.",
    "Two people were injured when a drone hit an apartment block in {name}, emergency services said.",
)


def _sub_one(word: str, rng: random.Random, pairs: dict[str, tuple[str, ...]]) -> str | None:
    """Replace one letter (not the first) that has a confusion partner."""
    spots = [i for i in range(1, len(word)) if word[i] in pairs]
    if not spots:
        return None
    i = rng.choice(spots)
    return word[:i] + rng.choice(pairs[word[i]]) + word[i + 1 :]


def l_r(word, rng):
    return _sub_one(word, rng, {"l": ("r",), "r": ("l",)})


def z_dj(word, rng):
    return _sub_one(word, rng, {"z": ("d", "j")})


def k_c(word, rng):
    return _sub_one(word, rng, {"k": ("c",), "c": ("k",)})


def v_b(word, rng):
    return _sub_one(word, rng, {"v": ("b",), "b": ("v",)})


def vowel_added(word, rng):
    return word + rng.choice("aeio") if word[-1] not in VOWELS else None


def vowel_dropped(word, rng):
    return word[:-1] if word[-1] in VOWELS and len(word) > 4 else None


def ia_iya(word, rng):
    for old, new in (("iya", "ia"), ("iia", "iya"), ("ia", "iya"), ("ya", "iya")):
        at = word.find(old, 1)
        if at > 0:
            return word[:at] + new + word[at + len(old) :]
    return None


def truncated(word, rng):
    cut = rng.choice((1, 2, 3))
    return word[:-cut] if len(word) - cut >= 4 else None


def swapped_liquids(word, rng):
    if "l" not in word[1:] or "r" not in word[1:]:
        return None
    return word[0] + word[1:].translate(str.maketrans("lr", "rl"))


def doubled(word, rng):
    spots = [i for i in range(1, len(word)) if word[i] not in VOWELS and word[i] != word[i - 1]]
    if not spots:
        return None
    i = rng.choice(spots)
    return word[: i + 1] + word[i] + word[i + 1 :]


def dropped(word, rng):
    spots = [i for i in range(1, len(word) - 1)]
    if len(word) < 6:
        return None
    i = rng.choice(spots)
    return word[:i] + word[i + 1 :]


FAMILIES: dict[str, Callable[[str, random.Random], str | None]] = {
    "l/r": l_r, "z->d/j": z_dj, "k/c": k_c, "v/b": v_b, "final vowel added": vowel_added,
    "final vowel dropped": vowel_dropped, "ia/iya": ia_iya, "truncation": truncated,
    "swapped liquids": swapped_liquids, "doubled letter": doubled, "dropped letter": dropped,
}  # fmt: skip


def corrupt_name(name: str, family: str, rng: random.Random) -> str | None:
    """Corrupt the longest word of ``name`` (folded, then capitalised like a name in news text)."""
    words = fold(name).split()
    if not words:
        return None
    target = max(range(len(words)), key=lambda i: len(words[i]))
    bad = FAMILIES[family](words[target], rng)
    if not bad or bad == words[target]:
        return None
    words[target] = bad
    return " ".join(w.capitalize() for w in words)


def corruptions(name: str, rng: random.Random, known: Callable[[str], bool] = lambda f: False,
                families: tuple[str, ...] | None = None) -> Iterator[tuple[str, str]]:
    """(family, corrupted name) for each family that applies and does not land on a known form."""
    for family in families or tuple(FAMILIES):
        bad = corrupt_name(name, family, rng)
        if bad and not known(fold(bad)):
            yield family, bad


def template_for(key: str, salt: int = 0) -> str:
    return TEMPLATES[(zlib.crc32(key.encode()) + salt) % len(TEMPLATES)]


@dataclass(frozen=True)
class PlaceCase:
    geonameid: str
    country: str
    population: int
    canonical: str
    variant: str | None  # a legitimate alternate spelling from GeoNames


UA_RU_BY = frozenset({"UA", "RU", "BY"})


def place_cases(split: str | tuple[str, ...], known: Callable[[str], bool], min_population: int = 20_000,
                countries: frozenset[str] | None = None, exclude: frozenset[str] = frozenset()) -> list[PlaceCase]:
    """Towns of ``split`` the gazetteer knows (``known(folded)``), with one similar variant."""
    from rapidfuzz.distance import Indel

    out = []
    for row in variant_rows(split):
        if row["population"] < min_population or row["country"] in exclude:
            continue
        if countries is not None and row["country"] not in countries:
            continue
        canonical = row["canonical"]
        folded = fold(canonical)
        if not is_latin(folded) or len(folded.replace(" ", "")) < 4 or not known(folded):
            continue
        similar = [v for v in row["variants"] if is_latin(fold(v)) and fold(v) != folded and v[:1].isupper()
                   and Indel.normalized_similarity(folded, fold(v)) >= 0.6 and len(fold(v)) >= 4]
        out.append(PlaceCase(row["geonameid"], row["country"], row["population"], canonical,
                             similar[0] if similar else None))
    return out


@dataclass(frozen=True)
class SentenceCase:
    text: str
    span: tuple[int, int]  # the name in ``text``
    label: str  # corrupt | canonical | variant
    canonical: str
    family: str = ""
    group: str = ""  # "UA/RU/BY" or "world"
    population: int = 0


def _case(template: str, name: str, label: str, canonical: str, family: str, group: str, pop: int) -> SentenceCase:
    at = template.index("{name}")
    return SentenceCase(template.replace("{name}", name), (at, at + len(name)), label, canonical, family, group, pop)


def sentence_cases(split: str | tuple[str, ...], known: Callable[[str], bool], *, world_places: int = 150,
                   seed: int = 11) -> list[SentenceCase]:
    """One news sentence per case: every applicable corruption of each town of ``split``, its
    canonical name and one legitimate variant. All UA/RU/BY towns of 20,000+ people; a hash-ordered
    sample of ``world_places`` towns of 15,000+ elsewhere."""
    groups = [("UA/RU/BY", place_cases(split, known, countries=UA_RU_BY))]
    world = place_cases(split, known, min_population=15_000, exclude=UA_RU_BY)
    world.sort(key=lambda c: zlib.crc32(f"{seed}:{c.geonameid}".encode()))
    groups.append(("world", world[:world_places]))
    out = []
    for group, cases in groups:
        for case in cases:
            rng = random.Random(f"{seed}:{case.geonameid}")
            key = case.geonameid
            out.append(_case(template_for(key), case.canonical, "canonical", case.canonical, "", group,
                             case.population))
            if case.variant:
                out.append(_case(template_for(key, 1), case.variant, "variant", case.canonical, "", group,
                                 case.population))
            for n, (family, bad) in enumerate(corruptions(case.canonical, rng, known)):
                out.append(_case(template_for(key, 2 + n), bad, "corrupt", case.canonical, family, group,
                                 case.population))
    return out


@dataclass(frozen=True)
class PostEditSentence:
    """An MLQE-PE MT sentence: the capitalised tokens a post-editor replaced (span, post-edited
    form) and those the post-editor kept."""

    lp: str
    idx: int
    text: str
    replaced: tuple[tuple[tuple[int, int], str], ...]
    kept: tuple[tuple[int, int], ...]


def postedit_sentences(split: str | tuple[str, ...]) -> list[PostEditSentence]:
    import re

    from .corruption import postedit_pairs

    by_sentence: dict[tuple, dict] = {}
    for record in postedit_pairs(split):
        key = (record["lp"], record["split"], record["idx"])
        entry = by_sentence.setdefault(key, {"mt": record["mt"], "pe": record["pe"], "fixes": {}})
        entry["fixes"].setdefault(record["mt_token"], record["pe_token"])
    out = []
    for (lp, _split, idx), entry in by_sentence.items():
        text, pe_tokens = entry["mt"], set(entry["pe"].split())
        replaced, kept = [], []
        for match in re.finditer(r"\S+", text):
            token = match.group()
            if not (token[:1].isupper() and token.isalpha()):
                continue
            span = (match.start(), match.end())
            if token in entry["fixes"]:
                replaced.append((span, entry["fixes"].pop(token)))
            elif token in pe_tokens:
                kept.append(span)
        out.append(PostEditSentence(lp, idx, text, tuple(replaced), tuple(kept)))
    return out
