"""Prose out of HTML, with every extracted character mapped back to the HTML it came from.

selectolax and lxml build good trees but do not expose source offsets; the
standard library's HTML tokenizer does (``getpos``), tolerates malformed markup
the way browsers do, and lets entities be mapped one by one.
"""

from __future__ import annotations

from html import unescape
from html.parser import HTMLParser
import re

_NEWLINE = re.compile("\n")
_DROP = {"script", "style", "noscript", "template", "head", "svg", "iframe", "object"}
_BLOCK = {
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "figure",
    "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav", "ol", "p",
    "pre", "section", "table", "td", "th", "title", "tr", "ul",
}  # fmt: skip


class _Extractor(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=False)
        self.html = html
        # getpos() counts lines at "\n" only; str.splitlines() also breaks at \v, \f, a lone \r,
        # U+0085, U+2028..., which would shift every offset after one of them.
        self.line_starts = [0, *(m.end() for m in _NEWLINE.finditer(html))]
        self.chars: list[str] = []
        self.spans: list[tuple[int, int]] = []
        self.dropping = 0

    def _offset(self) -> int:
        line, col = self.getpos()
        return self.line_starts[line - 1] + col

    def _emit(self, text: str, start: int, end: int) -> None:
        for ch in text:
            self.chars.append(ch)
            self.spans.append((start, end))

    def _break(self) -> None:
        # Paragraph breaks keep sentences and lines apart; they map to the tag that caused them.
        if not self.chars:
            return
        at = self._offset()
        while self.chars and self.chars[-1] in " \t":
            self.chars.pop()
            self.spans.pop()
        tail = "".join(self.chars[-2:])
        self._emit("\n" * (2 - (len(tail) - len(tail.rstrip("\n")))), at, at)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _DROP:
            self.dropping += 1
        elif tag in _BLOCK:
            self._break()

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCK:
            self._break()

    def handle_endtag(self, tag: str) -> None:
        if tag in _DROP:
            self.dropping = max(0, self.dropping - 1)
        elif tag in _BLOCK:
            self._break()

    def handle_data(self, data: str) -> None:
        if self.dropping:
            return
        start = self._offset()
        for i, ch in enumerate(data):
            if ch.isspace():
                # HTML collapses white space: one space stands for a run of it.
                if not self.chars or self.chars[-1] in " \n":
                    continue
                ch = " "
            self._emit(ch, start + i, start + i + 1)

    def _entity(self, raw_name: str) -> None:
        if self.dropping:
            return
        start = self._offset()
        end = start + len(raw_name)
        if self.html.startswith(";", end):
            end += 1
        self._emit(unescape(self.html[start:end]), start, end)

    def handle_entityref(self, name: str) -> None:
        self._entity("&" + name)

    def handle_charref(self, name: str) -> None:
        self._entity("&#" + name)


def extract_text(html: str) -> tuple[str, list[tuple[int, int]]]:
    parser = _Extractor(html)
    parser.feed(html)
    parser.close()
    chars, spans = parser.chars, parser.spans
    while chars and chars[-1].isspace():
        chars.pop()
        spans.pop()
    return "".join(chars), spans
