"""Sentence and word segmentation with character offsets into the checked text."""

from __future__ import annotations

import re
from dataclasses import dataclass

import syntok.segmenter as _syntok


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int

    def of(self, text: str) -> str:
        return text[self.start : self.end]


@dataclass(frozen=True, slots=True)
class Token(Span):
    text: str
    sentence: int  # index into Document.sentences


# Words keep inner apostrophes and hyphens ("Kyiv's", "Ivano-Frankivsk", "COVID-19").
WORD_RE = re.compile(r"(?:[A-Z]\.){2,}|\w+(?:['’\-]\w+)*", re.UNICODE)
_LINE_RE = re.compile(r"[^\n]+")


def split_sentences(text: str) -> list[Span]:
    """Sentences, never crossing a line break: news headlines often have no full stop."""
    spans: list[Span] = []
    for line in _LINE_RE.finditer(text):
        base = line.start()
        chunk = line.group()
        if not chunk.strip():
            continue
        for paragraph in _syntok.analyze(chunk):
            for sentence in paragraph:
                start = sentence[0].offset
                end = sentence[-1].offset + len(sentence[-1].value)
                spans.append(Span(base + start, base + end))
    return spans


def tokenize(text: str, sentences: list[Span]) -> list[Token]:
    tokens: list[Token] = []
    for index, sentence in enumerate(sentences):
        for match in WORD_RE.finditer(text, sentence.start, sentence.end):
            tokens.append(Token(match.start(), match.end(), match.group(), index))
    return tokens
