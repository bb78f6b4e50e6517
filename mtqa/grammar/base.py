"""What every grammar backend returns, and the offset/message clean-up backends need.

Backends speak different offset units: LingoTweaker UTF-8 bytes, LanguageTool
UTF-16 code units. Each adapter converts to Python ``str``
indices before a :class:`GrammarMatch` leaves it; nothing downstream converts.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable


class BackendUnavailable(RuntimeError):
    """The configured backend cannot run here (not installed, not reachable, no install dir)."""


class BackendTimeout(RuntimeError):
    """A backend call took longer than mtqa's own limit."""


@dataclass(frozen=True, slots=True)
class GrammarMatch:
    """One rule hit, in ``str`` indices of the checked text (end exclusive)."""

    start: int
    end: int
    rule_id: str
    message: str
    suggestions: tuple[str, ...] = ()
    category_id: str = ""  # LanguageTool category id (TYPOS, GRAMMAR, ...) or the engine's kind
    issue_type: str = ""  # LanguageTool issue type (misspelling, grammar, typographical, ...)
    sub_id: str | None = None


@runtime_checkable
class GrammarBackend(Protocol):
    name: str

    @property
    def version(self) -> str: ...

    def check(self, texts: Sequence[str]) -> list[list[GrammarMatch]]: ...

    def close(self) -> None: ...


_SUGGESTION_TAG = re.compile(r"<suggestion>(.*?)</suggestion>", re.DOTALL)
_OTHER_TAG = re.compile(r"</?(?:suggestion|b|i|em|strong|code)>")
_SPACES = re.compile(r"\s+")


def clean_message(message: str) -> str:
    """LanguageTool rule messages mark replacements with ``<suggestion>`` tags: show them quoted."""
    message = _SUGGESTION_TAG.sub(lambda m: f"“{m.group(1)}”", message)
    message = _OTHER_TAG.sub("", message)
    return _SPACES.sub(" ", message).strip()


class Utf8Offsets:
    """UTF-8 byte offsets to ``str`` indices for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._ascii = text.isascii()
        if not self._ascii:
            starts = [0] * (len(text) + 1)
            pos = 0
            for i, ch in enumerate(text):
                starts[i] = pos
                pos += len(ch.encode("utf-8"))
            starts[len(text)] = pos
            self._starts = starts

    def index(self, byte_offset: int) -> int:
        if self._ascii:
            return max(0, min(byte_offset, len(self.text)))
        # A byte offset inside a multi-byte character snaps to that character's end.
        return min(bisect_left(self._starts, byte_offset), len(self.text))

    def span(self, byte_offset: int, byte_length: int) -> tuple[int, int]:
        return self.index(byte_offset), self.index(byte_offset + byte_length)


class Utf16Offsets:
    """UTF-16 code-unit offsets (Java/LanguageTool) to ``str`` indices for one text."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._bmp = all(ord(ch) < 0x10000 for ch in text)
        if not self._bmp:
            starts = [0] * (len(text) + 1)
            pos = 0
            for i, ch in enumerate(text):
                starts[i] = pos
                pos += 2 if ord(ch) >= 0x10000 else 1
            starts[len(text)] = pos
            self._starts = starts

    def index(self, unit_offset: int) -> int:
        if self._bmp:
            return max(0, min(unit_offset, len(self.text)))
        return min(bisect_left(self._starts, unit_offset), len(self.text))

    def units(self, index: int) -> int:
        """The inverse: ``str`` index to UTF-16 offset."""
        if self._bmp:
            return index
        return self._starts[index]

    def span(self, unit_offset: int, unit_length: int) -> tuple[int, int]:
        return self.index(unit_offset), self.index(unit_offset + unit_length)
