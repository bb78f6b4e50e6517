"""The human report: each finding at line:column, its line with the span underlined, the fix and why."""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

from ..findings import Finding
from ..offsets import LineIndex
from ..pipeline import DocumentReport

_WINDOW = 70  # characters of context shown either side of a span on long lines
# Shown one for one (so the underline stays under the span): controls and line breaks other than
# "\n" as spaces, since a terminal would move the cursor; lone surrogates as U+FFFD, since they
# cannot be written as UTF-8.
_SHOWN = {**{c: " " for c in [*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029]},
          **{c: "\ufffd" for c in range(0xD800, 0xE000)}}  # fmt: skip


def _shown(text: str) -> str:
    return text.translate(_SHOWN)


def _excerpt(line: str, col: int, width: int) -> tuple[str, str]:
    """The line (clipped around the span) and its underline."""
    start, end = col - 1, col - 1 + max(1, width)
    left = max(0, start - _WINDOW)
    right = min(len(line), end + _WINDOW)
    prefix = "…" if left else ""
    shown = prefix + line[left:right] + ("…" if right < len(line) else "")
    marker = " " * (len(prefix) + start - left) + "^" * max(1, min(end, len(line)) - start)
    return _shown(shown), marker


def _evidence_line(finding: Finding) -> str:
    items = [f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
             for k, v in finding.evidence.items() if isinstance(v, (int, float, str)) and not isinstance(v, bool)]  # fmt: skip
    return ", ".join(items[:6])


def _finding_block(finding: Finding, lines: LineIndex, where: str) -> list[str]:
    line_no, col = lines.line_col(finding.start)
    line = lines.line_text(line_no)
    end_line, end_col = lines.line_col(finding.end)
    width = (end_col - col) if end_line == line_no else len(line) - col + 1
    shown, marker = _excerpt(line, col, width)
    out = [
        f"{where}:{line_no}:{col}: {finding.severity.value} [{finding.category.value}] {finding.check} "
        f"(confidence {finding.confidence:.2f})",
        f"  {finding.message}",
        f"  | {shown}",
        f"  | {marker}",
    ]
    if finding.suggestions:
        shown_suggestions = ", ".join(s if s.strip() else "(delete)" for s in finding.suggestions[:3])
        out.append(f"  suggestion: {shown_suggestions}")
    evidence = _evidence_line(finding)
    if evidence:
        out.append(f"  evidence: {evidence}")
    return out


def render_document(report: DocumentReport) -> str:
    """One document's findings and verdict (``render`` is these, then the signature line)."""
    out: list[str] = []
    doc = report.document
    where = doc.path or doc.id or "<stdin>"
    if doc.path and doc.id and doc.id != doc.path:  # a JSONL record: its id names it
        where = f"{doc.path}[{doc.id}]"
    where = _shown(where)
    lines = LineIndex(doc.original)
    for finding in report.findings:
        out += _finding_block(finding, lines, where)
        out.append("")
    for failure in report.failures:
        out.append(f"{where}: checker {failure.checker} failed: {failure.error}")
    counts = Counter(f.severity.value for f in report.findings)
    breakdown = ", ".join(f"{counts[s]} {s}" for s in ("error", "warning", "info") if counts[s])
    total = len(report.findings)
    out.append(
        f"{where}: {report.verdict.value.upper()} — {total} finding{'s' if total != 1 else ''}"
        + (f" ({breakdown})" if breakdown else "")
    )
    out.append("")
    return "".join(line + "\n" for line in out)


def render_footer(signature: dict[str, Any]) -> str:
    return f"signature: {signature.get('text', '')}\n"


def render(reports: Sequence[DocumentReport], signature: dict[str, Any]) -> str:
    return "".join(render_document(r) for r in reports) + render_footer(signature)
