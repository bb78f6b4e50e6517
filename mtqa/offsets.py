"""Offset conversions between Python str indices and what other tools count."""

from __future__ import annotations

from bisect import bisect_right
from itertools import accumulate


def utf16_index(text: str) -> list[int]:
    """``index[i]`` = UTF-16 code units before ``text[i]`` (length len(text)+1)."""
    return [0, *accumulate(2 if ord(ch) > 0xFFFF else 1 for ch in text)]


class LineIndex:
    """1-based line and column (in code points) of a str index."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0] + [i + 1 for i, ch in enumerate(text) if ch == "\n"]

    def line_col(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.starts, offset) - 1
        return line + 1, offset - self.starts[line] + 1

    def line_text(self, line: int) -> str:
        start = self.starts[line - 1]
        end = self.starts[line] - 1 if line < len(self.starts) else len(self.text)
        return self.text[start:end]
