"""Optional link to the gazetteer (mtqa.gazetteer), guarded: garble detection works without it.

Contract used: ``mtqa.gazetteer.name_lookup(doc)`` returns an object with
``is_known_name(word) -> bool`` (used to spare names written in another script), and
``mtqa.gazetteer.resolved_names(doc)`` returns the document's resolved names with ``start``,
``end`` and ``kind`` ("place", "person", "organisation", "region"): the entity kind tells whether
"his"/"her" can refer to the nearest entity. Both are computed once per document by the gazetteer.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Callable

from ..document import Document

log = logging.getLogger(__name__)


def _provider() -> Callable[[Document], Any] | None:
    try:
        module = importlib.import_module("mtqa.gazetteer")
    except Exception:  # a half-built gazetteer must not break garble detection
        return None
    provider = getattr(module, "name_lookup", None)
    return provider if callable(provider) else None


class NameInfo:
    """What the gazetteer says about words of one document (nothing when it is absent)."""

    def __init__(self, lookup: Any | None, resolved: Any = ()) -> None:
        self._lookup = lookup
        self._kinds: list[tuple[int, int, str]] = []
        for r in resolved or ():
            kind = getattr(r, "kind", None)
            if kind:
                self._kinds.append((int(r.start), int(r.end), str(getattr(kind, "value", kind)).lower()))

    @property
    def available(self) -> bool:
        return self._lookup is not None

    def is_known_name(self, word: str) -> bool:
        fn = getattr(self._lookup, "is_known_name", None)
        if not callable(fn):
            return False
        try:
            return bool(fn(word))
        except Exception:
            log.debug("gazetteer is_known_name failed", exc_info=True)
            return False

    def kind_at(self, start: int) -> str | None:
        """Entity kind of the resolved name covering offset ``start`` (None when none does)."""
        for s, e, kind in self._kinds:
            if s <= start < e:
                return kind
        return None


def name_info(doc: Document, enabled: bool = True) -> NameInfo:
    if not enabled:
        return NameInfo(None)

    def compute(d: Document) -> NameInfo:
        provider = _provider()
        if provider is None:
            return NameInfo(None)
        try:
            lookup = provider(d)
        except Exception:
            log.debug("gazetteer name_lookup failed", exc_info=True)
            return NameInfo(None)
        resolved: Any = ()
        try:
            resolver = getattr(importlib.import_module("mtqa.gazetteer"), "resolved_names", None)
            if callable(resolver):
                resolved = resolver(d)
        except Exception:
            log.debug("gazetteer resolved_names failed", exc_info=True)
        return NameInfo(lookup, resolved)

    return doc.annotation("garble.names", compute)
