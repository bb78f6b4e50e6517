"""The stable JSON contract (see README): ``text == original[start:end]`` for every finding."""

from __future__ import annotations

import json
from typing import Any, Sequence

from .. import __version__
from ..pipeline import DocumentReport


# Characters Python's str.splitlines() and some JSON readers treat as line ends; JSON allows them raw.
_LINE_BREAKERS = str.maketrans({"\x85": "\\u0085", "\u2028": "\\u2028", "\u2029": "\\u2029"})


def dumps_line(obj) -> str:
    """One JSON value on exactly one line, readable text kept unescaped."""
    return json.dumps(obj, ensure_ascii=False).translate(_LINE_BREAKERS)


def render(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    payload = {
        "mtqa": {"version": __version__, "signature": signature},
        "documents": [report.to_dict() for report in reports],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def render_lines(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    """One document per line, each carrying the one-line signature."""
    lines = [
        dumps_line({**report.to_dict(), "signature": signature.get("text")}) for report in reports
    ]
    return "".join(line + "\n" for line in lines)
