"""What every grammar backend returns, and the offset/message clean-up backends need.

Backends speak different offset units: LingoTweaker UTF-8 bytes, LanguageTool
UTF-16 code units. Each adapter converts to Python ``str``
indices before a :class:`GrammarMatch` leaves it; nothing downstream converts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol, Sequence, runtime_checkable

from ..offsets import Utf8Offsets, Utf16Offsets  # noqa: F401  (the adapters convert with these)


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
