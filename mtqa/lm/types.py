"""Plain result types of the scorer (no torch here: importing them must stay cheap)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Sequence

LN2 = math.log(2.0)


@dataclass(frozen=True, slots=True)
class TokenScore:
    """One scored model token: ``[start, end)`` are ``str`` indices into the scored text.

    ``logprob`` is the natural-log probability of the token given everything before it
    (the context and the earlier tokens of the text). Byte-level tokenizers split one
    character (an emoji) into several tokens: they then share the same offsets.
    """

    start: int
    end: int
    logprob: float
    # From the document pass's output layer at no extra forward (nan / -1 where not computed):
    # the entropy (nats) of the predicted distribution, how many tokens the model found likelier
    # than this one, and the log-prob of the likeliest other token.
    entropy: float = math.nan
    rank: int = -1
    best_other: float = math.nan

    @property
    def surprisal(self) -> float:
        """Bits."""
        return -self.logprob / LN2


@dataclass(frozen=True)
class ScoredText:
    text: str
    tokens: list[TokenScore] = field(default_factory=list)

    def word_tokens(self, start: int, end: int) -> list[TokenScore]:
        """Tokens that overlap ``[start, end)`` (a token " Kyiv" covers the word "Kyiv")."""
        return [t for t in self.tokens if t.start < end and t.end > start]

    def word_surprisal(self, start: int, end: int) -> float:
        """Bits: the sum over the tokens of the word (nan when no token covers it)."""
        found = self.word_tokens(start, end)
        if not found:
            return math.nan
        return sum(t.surprisal for t in found)

    def next_surprisal(self, end: int) -> float:
        """Bits: surprisal of the first token that starts at or after ``end`` (nan at the end)."""
        for t in self.tokens:
            if t.start >= end:
                return t.surprisal
        return math.nan

    def mean_surprisal(self) -> float:
        if not self.tokens:
            return math.nan
        return sum(t.surprisal for t in self.tokens) / len(self.tokens)

    def total_logprob(self) -> float:
        return sum(t.logprob for t in self.tokens)

    def shifted(self, offset: int) -> list[TokenScore]:
        """Token scores with offsets moved by ``offset`` (e.g. a sentence's start in its document)."""
        return [replace(t, start=t.start + offset, end=t.end + offset) for t in self.tokens]


@dataclass(frozen=True)
class RescoreRequest:
    """Replace ``text[span[0]:span[1]]`` by each candidate; ``context`` precedes ``text``."""

    text: str
    span: tuple[int, int]
    candidates: Sequence[str]
    context: str = ""


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` of a scored document by each candidate and score the change up to
    ``stop`` (a character offset >= ``end``; the effect of a local edit fades after a few words).

    ``state`` is the document's :class:`~mtqa.lm.scorer.DocumentState` (its first-pass KV cache):
    only the edited tokens and the window after them run through the model."""

    state: object
    start: int
    end: int
    candidates: Sequence[str]
    stop: int
    # rescore only the ``top_k`` candidates whose first token the first pass finds likeliest there
    # (one output-layer row per edit); the others get -inf
    top_k: int | None = None
    # the caller only uses gains >= ``min_delta``: a candidate under it gets -inf, and one that
    # provably cannot reach it is dropped as early as that shows (TokenScorer._screen, _tail_totals)
    min_delta: float | None = None
    # a candidate whose first token the model finds less likely than the text's own first token
    # there by more than this (nats: candidate minus text < ``min_first``) gets -inf. Unlike
    # ``min_delta`` not exact: a screen fitted on dev (mtqa/data/garble_thresholds.yaml)
    min_first: float | None = None
