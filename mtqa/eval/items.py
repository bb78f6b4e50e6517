"""What every dataset loader produces: a text to check, its gold, and the split it belongs to."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class GoldSpan:
    """A labelled ``[start, end)`` region of ``EvalItem.text`` (``label``: MQM category, perturbation...)."""

    start: int
    end: int
    label: str = ""


@dataclass(frozen=True, slots=True)
class Word:
    """A scored word unit: ``bad`` True = gold error, False = gold OK, None = no gold (ignored)."""

    start: int
    end: int
    bad: bool | None


@dataclass
class EvalItem:
    """One text to check. ``record`` groups items from one source record (``--limit`` counts records)."""

    id: str
    text: str
    split: str  # dev | test | train
    record: str
    group: str = ""  # language pair, perturbation type, source file...
    gold: tuple[GoldSpan, ...] = ()
    words: tuple[Word, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)


def hash_fraction(key: str) -> float:
    """A stable number in [0, 1) for ``key`` (the same on every machine and Python run)."""
    return int.from_bytes(hashlib.sha1(key.encode("utf-8")).digest()[:8], "big") / 2**64


def hash_split(key: str, dev_fraction: float = 0.5) -> str:
    """Deterministic dev/test split for datasets that ship none."""
    return "dev" if hash_fraction("split:" + key) < dev_fraction else "test"


def overlaps(a_start: int, a_end: int, b_start: int, b_end: int) -> bool:
    """Half-open ranges share a character (an empty range counts only strictly inside the other)."""
    return a_start < b_end and b_start < a_end
