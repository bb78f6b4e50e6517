"""Request bodies to Documents: plain text, HTML and LanguageTool's annotated text.

Offsets always point into what the caller sent. Two things a request can carry that a file
cannot: lone UTF-16 surrogates (JSON's ``"\\ud800"`` escapes decode to them) and LanguageTool's
annotated text (``data``), whose markup parts are skipped but still counted in the offsets.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..document import Document

_SURROGATE = re.compile("[\ud800-\udfff]")


class BadRequest(ValueError):
    """Input we refuse, with a message safe to show the caller."""


def checkable(text: str) -> str:
    """``text`` with lone surrogates as U+FFFD: one code point (and one UTF-16 unit) for one, so
    every offset into the result is the same offset into ``text``. Checkers and tokenizers that
    encode to UTF-8 would raise on a surrogate."""
    return _SURROGATE.sub("\ufffd", text)


def from_text(text: str, doc_id: str | None) -> Document:
    doc = Document.from_text(checkable(text), id=doc_id)
    doc.original = text  # reports quote the caller's own characters (the JSON layer escapes surrogates)
    return doc


def from_html(html: str, doc_id: str | None) -> Document:
    doc = Document.from_html(checkable(html), id=doc_id)
    doc.original = html
    if not doc.text.strip():
        raise BadRequest("the HTML has no text to check")
    return doc


def from_annotated(data: str | dict[str, Any], doc_id: str | None = None) -> Document:
    """LanguageTool's ``data`` field: ``{"annotation": [{"text": ...} | {"markup": ..., "interpretAs"?: ...}]}``.

    The original is every part joined (as LanguageTool counts offsets); checkers read the text
    parts plus each markup's ``interpretAs`` (e.g. ``"\\n\\n"`` for ``<p>``), which maps to the
    whole markup it stands for.
    """
    if isinstance(data, str):
        try:
            data = json.loads(data)
        except json.JSONDecodeError as exc:
            raise BadRequest(f"data is not valid JSON ({exc.msg} at character {exc.pos})") from None
    parts = data.get("annotation") if isinstance(data, dict) else None
    if not isinstance(parts, list):
        raise BadRequest('data needs an "annotation" list of {"text": ...} or {"markup": ...} objects')
    original: list[str] = []
    text: list[str] = []
    spans: list[tuple[int, int]] = []
    at = 0
    for number, part in enumerate(parts):
        if not isinstance(part, dict):
            raise BadRequest(f"annotation[{number}] is not an object")
        if isinstance(part.get("text"), str):
            piece = part["text"]
            text.append(piece)
            spans += [(at + i, at + i + 1) for i in range(len(piece))]
        elif isinstance(part.get("markup"), str):
            piece = part["markup"]
            shown = part.get("interpretAs", "")
            if not isinstance(shown, str):
                raise BadRequest(f"annotation[{number}].interpretAs is not a string")
            text.append(shown)
            spans += [(at, at + len(piece))] * len(shown)
        else:
            raise BadRequest(f'annotation[{number}] needs a "text" or "markup" string')
        original.append(piece)
        at += len(piece)
    joined = "".join(original)
    checked = checkable("".join(text))
    if not checked.strip():
        raise BadRequest("empty input")
    return Document(original=joined, text=checked, input_format="html", id=doc_id, source_spans=spans)


def escape_surrogates(json_text: str) -> str:
    """JSON text with lone surrogates written as ``\\uXXXX`` escapes, so it encodes to valid UTF-8.

    Python's json never leaves a valid pair split, so any surrogate code point here is lone."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)
