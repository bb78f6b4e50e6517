"""Report formats. Each takes the reports and the run signature and returns a string."""

from __future__ import annotations

from typing import Any, Callable, Sequence

from ..pipeline import DocumentReport
from . import json_format, lt, sarif, text

Renderer = Callable[[Sequence[DocumentReport], dict[str, Any]], str]

RENDERERS: dict[str, Renderer] = {
    "text": text.render,
    "json": json_format.render,
    "jsonl": json_format.render_lines,
    "sarif": sarif.render,
    "lt": lt.render,
}
