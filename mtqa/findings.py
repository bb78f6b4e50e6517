"""The one result type every checker returns."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Any, Mapping


class Category(str, Enum):
    NAME = "name"
    REALWORD = "realword"
    SPELLING = "spelling"
    GRAMMAR = "grammar"
    GARBLE = "garble"
    OCR = "ocr"
    BOILERPLATE = "boilerplate"
    STYLE = "style"


class Severity(str, Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


def _freeze(value: Any) -> Any:
    if isinstance(value, Mapping):
        return MappingProxyType({str(k): _freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_freeze(v) for v in value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; a missing number is honest
    return value


def thaw(value: Any) -> Any:
    """Frozen evidence back to plain JSON-able dicts and lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    if isinstance(value, float):
        return round(value, 6)
    return value


@dataclass(frozen=True, slots=True)
class Finding:
    """A flagged span. ``start``/``end`` are ``str`` indices (end exclusive).

    Checkers produce offsets into ``Document.text`` (the checked text); the
    pipeline maps them to the caller's original input before reporting.
    """

    start: int
    end: int
    category: Category
    severity: Severity
    confidence: float
    message: str
    check: str
    suggestions: tuple[str, ...] = ()
    evidence: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not (0 <= self.start <= self.end):
            raise ValueError(f"bad span {self.start}..{self.end}")
        object.__setattr__(self, "category", Category(self.category))
        object.__setattr__(self, "severity", Severity(self.severity))
        if not (0.0 <= self.confidence <= 1.0) or math.isnan(self.confidence):
            raise ValueError(f"confidence {self.confidence} not in [0, 1]")
        if not self.check or not self.message:
            raise ValueError("a finding needs a check id and a message")
        object.__setattr__(self, "suggestions", tuple(str(s) for s in self.suggestions))
        object.__setattr__(self, "evidence", _freeze(dict(self.evidence)))

    def moved(self, start: int, end: int) -> "Finding":
        return replace(self, start=start, end=end)

    def to_dict(self, original: str) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "text": original[self.start : self.end],
            "category": self.category.value,
            "severity": self.severity.value,
            "confidence": round(self.confidence, 4),
            "message": self.message,
            "suggestions": list(self.suggestions),
            "check": self.check,
            "evidence": thaw(self.evidence),
        }
