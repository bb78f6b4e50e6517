"""SARIF 2.1.0: one rule per check id; regions in code points (``columnKind``)."""

from __future__ import annotations

from typing import Any, Sequence

from .. import __version__
from ..offsets import LineIndex
from ..pipeline import DocumentReport
from .json_format import dumps

_LEVEL = {"info": "note", "warning": "warning", "error": "error"}


def render(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    rules: dict[str, dict[str, Any]] = {}
    results = []
    for report in reports:
        doc = report.document
        lines = LineIndex(doc.original)
        uri = doc.path or doc.id or "stdin"
        for finding in report.findings:
            rule = rules.setdefault(
                finding.check,
                {"id": finding.check, "shortDescription": {"text": finding.message},
                 "properties": {"category": finding.category.value}},
            )  # fmt: skip
            start_line, start_col = lines.line_col(finding.start)
            end_line, end_col = lines.line_col(finding.end)
            result = {
                "ruleId": finding.check,
                "ruleIndex": list(rules).index(rule["id"]),
                "level": _LEVEL[finding.severity.value],
                "message": {"text": finding.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": uri},
                    "region": {
                        "startLine": start_line, "startColumn": start_col, "endLine": end_line, "endColumn": end_col,
                        "charOffset": finding.start, "charLength": finding.end - finding.start,
                        "snippet": {"text": doc.original[finding.start:finding.end]},
                    },
                }}],
                "properties": {
                    "category": finding.category.value,
                    "confidence": round(finding.confidence, 4),
                    "suggestions": list(finding.suggestions),
                    "documentId": doc.id,
                },
            }  # fmt: skip
            results.append(result)
    run = {
        "tool": {"driver": {"name": "mtqa", "version": __version__, "rules": list(rules.values())}},
        "columnKind": "unicodeCodePoints",
        "results": results,
        "properties": {"signature": signature},
    }
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0", "runs": [run]}
    return dumps(sarif, indent=2) + "\n"
