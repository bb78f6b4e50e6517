"""Folding of names to the comparison form used by the index and the corruption model."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Letters NFKD does not decompose into ASCII.
_SPECIAL = str.maketrans({
    "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe",
    "đ": "d", "Đ": "d", "ı": "i", "þ": "th", "ð": "d", "ŀ": "l",
})  # fmt: skip
_APOSTROPHES = re.compile(r"['’ʼ`´‘ʹ]")
_SEPARATORS = re.compile(r"[\s\-‐‑–—_./,]+")
_LATIN = re.compile(r"^[a-z0-9 ]+$")
_POSSESSIVE = re.compile(r"['’]s?$")


@lru_cache(maxsize=1 << 20)  # the index build folds most names twice (filter, then store)
def fold(text: str) -> str:
    """``"Kyiv’s"`` and ``"Kyiv"`` differ; ``"Bila Tserkva"``/``"Bila-Tserkva"``/``"Bíla Tsérkva"`` do not."""
    text = text.translate(_SPECIAL)
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _APOSTROPHES.sub("", text.lower())
    return _SEPARATORS.sub(" ", text).strip()


def is_latin(folded: str) -> bool:
    return bool(_LATIN.match(folded))


def has_cyrillic(text: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in text)


def strip_possessive(word: str) -> str:
    """``Kyiv's`` -> ``Kyiv``, ``Zelensky’s`` -> ``Zelensky``, ``Brussels'`` -> ``Brussels``."""
    return _POSSESSIVE.sub("", word) if len(word) > 2 else word


def block_keys(folded: str, groups: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """Blocking keys for retrieval: the first letter and its usual MT/transliteration confusions
    (``groups`` comes from the corruption prior data file)."""
    if not folded:
        return ()
    first = folded[0]
    return groups.get(first, (first,))


def letter_groups(spec: list[str]) -> dict[str, tuple[str, ...]]:
    """``["ck", "zdj"]`` -> ``{"c": ("c", "k"), "z": ("d", "j", "z"), ...}`` (groups may overlap)."""
    out: dict[str, set[str]] = {}
    for group in spec:
        for ch in group:
            out.setdefault(ch, {ch}).update(group)
    return {ch: tuple(sorted(chars)) for ch, chars in out.items()}


def skeleton_rules(spec: list[list[str]]) -> list[tuple[re.Pattern, str]]:
    return [(re.compile(pattern), repl) for pattern, repl in spec]


def skeleton(folded: str, rules: list[tuple[re.Pattern, str]]) -> str:
    """Retrieval key that merges the usual MT confusions ("kharkiv" and "charkov" meet)."""
    for pattern, repl in rules:
        folded = pattern.sub(repl, folded)
    return folded
