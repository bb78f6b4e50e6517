"""The document every checker reads: the caller's text plus annotations computed once."""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Literal

from .text import Span, Token, split_sentences, tokenize

InputFormat = Literal["text", "html"]
_SURROGATE = re.compile("[\ud800-\udfff]")


def checkable(text: str) -> str:
    """``text`` with lone UTF-16 surrogates (JSON's ``"\\ud800"`` decodes to one) as U+FFFD, one code
    point for one, so offsets into the result are offsets into ``text``: engines that encode to
    UTF-8 (LingoTweaker) and every writer of UTF-8 output raise on a lone surrogate."""
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


@dataclass(eq=False)
class Document:
    """``original`` is what the caller gave us; ``text`` is what checkers read.

    For plain text the two are the same string. For HTML, ``text`` is the
    extracted prose and ``source_spans[i]`` is the ``[start, end)`` range in
    ``original`` that produced ``text[i]``. Lone surrogates in the caller's string stay in
    ``original`` (reports quote it exactly) and are U+FFFD in ``text``, one for one.
    """

    original: str
    text: str
    input_format: InputFormat = "text"
    id: str | None = None
    path: str | None = None
    source_spans: list[tuple[int, int]] | None = None
    _annotations: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_text(cls, text: str, *, id: str | None = None, path: str | None = None) -> "Document":
        return cls(original=text, text=checkable(text), id=id, path=path)

    @classmethod
    def from_html(cls, html: str, *, id: str | None = None, path: str | None = None) -> "Document":
        from .html import extract_text

        text, spans = extract_text(html)
        return cls(original=html, text=checkable(text), input_format="html", id=id, path=path, source_spans=spans)

    @cached_property
    def sentences(self) -> list[Span]:
        return split_sentences(self.text)

    @cached_property
    def tokens(self) -> list[Token]:
        return tokenize(self.text, self.sentences)

    @cached_property
    def _token_starts(self) -> list[int]:
        return [t.start for t in self.tokens]

    def tokens_in(self, span: Span) -> list[Token]:
        lo = bisect_left(self._token_starts, span.start)
        hi = bisect_left(self._token_starts, span.end)
        return self.tokens[lo:hi]

    def sentence_tokens(self, index: int) -> list[Token]:
        return self.tokens_in(self.sentences[index])

    def annotation(self, key: str, compute: Callable[["Document"], Any]) -> Any:
        """Shared annotations (name candidates, LM surprisal): computed once, read by many checkers."""
        if key not in self._annotations:
            self._annotations[key] = compute(self)
        return self._annotations[key]

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """Map a ``[start, end)`` range of ``text`` to the caller's ``original``."""
        if self.source_spans is None:
            return start, end
        if not self.source_spans:
            return 0, 0
        if start >= end:
            at = self.source_spans[min(start, len(self.source_spans) - 1)][0]
            return at, at
        return self.source_spans[start][0], self.source_spans[end - 1][1]
