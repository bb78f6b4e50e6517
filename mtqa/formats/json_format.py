"""The stable JSON contract (see README): ``text == original[start:end]`` for every finding."""

from __future__ import annotations

import json
import re
from typing import Any, Sequence

from .. import __version__
from ..pipeline import DocumentReport


# Characters Python's str.splitlines() and some JSON readers treat as line ends; JSON allows them raw.
_LINE_BREAKERS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


_SURROGATE = re.compile("[\ud800-\udfff]")


def escape_surrogates(json_text: str) -> str:
    """Lone surrogates (a caller's ``"\\ud800"``, quoted back in a finding's text or an id) as
    ``\\uXXXX`` escapes: still the caller's exact string to any JSON reader, and valid UTF-8.
    Python's json never splits a valid pair, so every surrogate left here is lone."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", json_text)


def dumps(obj, **kwargs) -> str:
    """``json.dumps`` with readable text unescaped and lone surrogates escaped."""
    return escape_surrogates(json.dumps(obj, ensure_ascii=False, **kwargs))


def dumps_line(obj) -> str:
    """One JSON value on exactly one line, readable text kept unescaped."""
    return dumps(obj).translate(_LINE_BREAKERS)


def _indented(obj: Any, prefix: str) -> str:
    """``obj`` as ``json.dumps(indent=2)`` writes it nested under ``prefix`` (strings never hold a raw newline)."""
    return dumps(obj, indent=2).replace("\n", "\n" + prefix)


# Streamed pieces of ``render``: head, documents joined by ``JSON_SEPARATOR``, tail; byte for byte the same.
JSON_SEPARATOR = ",\n"


def render_head(signature: dict[str, Any]) -> str:
    return '{\n  "mtqa": ' + _indented({"version": __version__, "signature": signature}, "  ") + ',\n  "documents": [\n'


def render_document(report: DocumentReport) -> str:
    return "    " + _indented(report.to_dict(), "    ")


def render_tail() -> str:
    return "\n  ]\n}\n"


def render(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    if not reports:
        return dumps({"mtqa": {"version": __version__, "signature": signature}, "documents": []}, indent=2) + "\n"
    return render_head(signature) + JSON_SEPARATOR.join(render_document(r) for r in reports) + render_tail()


def render_line(report: DocumentReport, signature: dict[str, Any]) -> str:
    return dumps_line({**report.to_dict(), "signature": signature.get("text")}) + "\n"


def render_lines(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    """One document per line, each carrying the one-line signature."""
    return "".join(render_line(report, signature) for report in reports)
