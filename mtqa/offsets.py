"""Offset conversions between Python str indices and what other tools count."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import Callable


class UnitOffsets:
    """Offsets counted in an encoding's code units (UTF-8 bytes, UTF-16 units) <-> ``str`` indices."""

    def __init__(self, text: str, unit_length: Callable[[str], int]) -> None:
        self.text = text
        self.starts = [0, *accumulate(unit_length(ch) for ch in text)]  # units before text[i]

    def index(self, unit_offset: int) -> int:
        # An offset inside a multi-unit character snaps to that character's end.
        return min(bisect_left(self.starts, unit_offset), len(self.text))

    def units(self, index: int) -> int:
        return self.starts[index]

    def span(self, unit_offset: int, unit_length: int) -> tuple[int, int]:
        return self.index(unit_offset), self.index(unit_offset + unit_length)


def Utf8Offsets(text: str) -> UnitOffsets:  # noqa: N802 (reads as the type it makes)
    return UnitOffsets(text, lambda ch: len(ch.encode("utf-8", "surrogatepass")))


def Utf16Offsets(text: str) -> UnitOffsets:  # noqa: N802
    return UnitOffsets(text, lambda ch: 2 if ord(ch) > 0xFFFF else 1)


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
