"""The name-aware filter's interface to the gazetteer.

Spell checkers flag correct foreign names and suggest English words ("Izium" -> "Ilium").
The grammar checker therefore never reports a spelling hit on a name-like token on its own:

* a token the gazetteer knows (a correct name or a legitimate variant) -> dropped;
* a near-miss of a known name -> kept as a low-confidence ``spelling`` finding on the same span,
  with the gazetteer's canonical form as the only suggestion; the combiner folds it into the
  gazetteer's ``name`` finding as evidence (same span, overlap 1.0);
* anything else name-like -> dropped (new names appear every day; the gazetteer decides);
* unless the hit is explained as OCR damage (``Tbe`` -> ``The``): then it is an ``ocr`` finding.

Only name-like tokens (capitalised or all-caps, see :func:`is_name_like`) are looked up: a
case-folding gazetteer knows "Heard" (Heard Island), but lowercase "heard" is a verb. The
gazetteer provides the lookup (see :func:`gazetteer_provider`); without one, name-like hits are
simply dropped unless OCR explains them.
"""

from __future__ import annotations

import importlib
import re
from typing import Any, Callable, Protocol, runtime_checkable

from ..document import Document


@runtime_checkable
class NameLookup(Protocol):
    def is_known_name(self, word: str) -> bool:
        """True for a correct name or a legitimate variant the gazetteer knows."""
        ...


class _SetLookup:
    def __init__(self, words: Any) -> None:
        self._words = {str(w) for w in words}

    def is_known_name(self, word: str) -> bool:
        return word in self._words


class _CallableLookup:
    def __init__(self, fn: Callable[[str], bool]) -> None:
        self._fn = fn

    def is_known_name(self, word: str) -> bool:
        return bool(self._fn(word))


def as_lookup(value: Any) -> NameLookup | None:
    """Accept a NameLookup, a ``word -> bool`` callable, or a collection of known words."""
    if value is None:
        return None
    if isinstance(value, NameLookup):
        return value
    if callable(value):
        return _CallableLookup(value)
    if isinstance(value, (set, frozenset, list, tuple, dict)):
        return _SetLookup(value)
    return None


def near_miss(lookup: Any, word: str, start: int | None = None, end: int | None = None) -> str | None:
    """The canonical name ``word`` is a corruption of, when the lookup can tell.

    Either the lookup has ``near_miss(word) -> canonical | None``, or it carries the document's
    resolved names as ``lookup.names`` (the gazetteer's ``ResolvedName``: ``start``, ``end``,
    ``text``, ``status``, ``suggestions``): a name with status "corrupt" covering the span gives
    its canonical form, word-aligned for multi-word names (the corrupted surname of a
    two-word name maps to the canonical surname).
    """
    if lookup is None:
        return None
    fn = getattr(lookup, "near_miss", None)
    if callable(fn):
        result = fn(word)
        return str(result) if result else None
    if start is None or end is None:
        return None
    for name in getattr(lookup, "names", None) or ():
        if getattr(name, "status", None) != "corrupt" or not getattr(name, "suggestions", None):
            continue
        n_start, n_end = int(name.start), int(name.end)
        if not (n_start <= start and end <= n_end):
            continue
        canonical = str(name.suggestions[0])
        words, fixed = str(name.text).split(), canonical.split()
        if len(words) > 1 and len(words) == len(fixed):
            offset = start - n_start
            position = 0
            for i, part in enumerate(words):
                position = str(name.text).find(part, position)
                if position == offset:
                    return fixed[i]
                position += len(part)
        return canonical
    return None


LookupProvider = Callable[[Document], Any]


def gazetteer_provider() -> LookupProvider | None:
    """``mtqa.gazetteer.name_lookup(doc)`` when the gazetteer package exposes it.

    Contract for the gazetteer: ``name_lookup(doc)`` returns an object with ``is_known_name(word)``
    (and optionally ``near_miss(word) -> canonical | None``), built from the document's resolved
    names (``doc.annotation("names.resolved", ...)``), so it is computed once per document.
    """
    try:
        module = importlib.import_module("mtqa.gazetteer")
    except ImportError:
        return None
    provider = getattr(module, "name_lookup", None)
    return provider if callable(provider) else None


# A capitalised word ("Izium", "Köln", "McDonald", "O'Brien", "Ivano-Frankivsk") or an all-caps word
# ("ROXBURGH"). Odd mixed casing ("MIlitary", "COUNTnY") is not name-like: that is damage.
# Checked on a letter-class string (U upper, l lower) so any script's letters count.
_FIRST_PART = re.compile(r"^U(?:l+(?:Ul+)*)?$")
_LATER_PART = re.compile(r"^[Ul]l*$")
_VOWELS = set("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿąęėīįōőūųű")
_SEPARATORS = re.compile(r"['’\-]")


def _classes(part: str) -> str:
    return "".join("U" if c.isupper() else "l" if c.islower() else "x" for c in part)


def is_name_like(word: str) -> bool:
    parts = _SEPARATORS.split(word)
    if len(word) < 2 or not all(parts):
        return False
    if not word.isupper() and not any(c in _VOWELS for c in word.lower()):
        return False  # "Lnnd": no name is written without a vowel (all-caps acronyms may be)
    classes = [_classes(p) for p in parts]
    if all(set(c) == {"U"} for c in classes):
        return len(word.replace("'", "").replace("’", "").replace("-", "")) >= 2
    return bool(_FIRST_PART.match(classes[0])) and all(_LATER_PART.match(c) for c in classes[1:])
