"""LanguageTool's ``/v2/check`` response shape, so LanguageTool clients can read mtqa's findings.

LanguageTool counts offsets in UTF-16 code units; mtqa counts Python str indices. One
response per document, one per line.
"""

from __future__ import annotations

from typing import Any, Sequence

from .. import __version__
from ..findings import Finding, Severity
from ..offsets import Utf16Offsets
from ..pipeline import DocumentReport
from .json_format import dumps_line

_ISSUE_TYPE = {"name": "misspelling", "spelling": "misspelling", "ocr": "misspelling", "realword": "grammar",
               "grammar": "grammar", "garble": "grammar", "boilerplate": "non-conformance", "style": "style"}  # fmt: skip


def _match(finding: Finding, text: str, u16: list[int]) -> dict[str, Any]:
    ctx_start, ctx_end = max(0, finding.start - 40), min(len(text), finding.end + 40)
    category = finding.category.value
    return {
        "message": finding.message,
        "shortMessage": category,
        "replacements": [{"value": s} for s in finding.suggestions],
        "offset": u16[finding.start],
        "length": u16[finding.end] - u16[finding.start],
        "context": {
            "text": text[ctx_start:ctx_end],
            "offset": u16[finding.start] - u16[ctx_start],
            "length": u16[finding.end] - u16[finding.start],
        },
        "rule": {
            "id": finding.check,
            "description": finding.message,
            "issueType": _ISSUE_TYPE[category],
            "category": {"id": category.upper(), "name": category},
        },
        "type": {"typeName": "Hint" if finding.severity is Severity.INFO else "Other"},
        "mtqa": {"severity": finding.severity.value, "confidence": round(finding.confidence, 4)},
    }


def response(report: DocumentReport, signature: dict[str, Any]) -> dict[str, Any]:
    text = report.document.original
    u16 = Utf16Offsets(text).starts
    return {
        "software": {"name": "mtqa", "version": __version__, "apiVersion": 1, "status": signature.get("text", "")},
        "language": {"name": "English (US)", "code": "en-US"},
        "matches": [_match(f, text, u16) for f in report.findings],
    }


def render_line(report: DocumentReport, signature: dict[str, Any]) -> str:
    return dumps_line(response(report, signature)) + "\n"


def render(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    return "".join(render_line(r, signature) for r in reports)
