"""The engine-independent parts of ``mtqa batch``: checking a chunk, the append-only output, the summary."""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..document import Document
from ..formats.json_format import dumps_line
from ..inputs import InputError
from ..pipeline import DocumentReport, Pipeline
from ..signature import run_signature
from .sources import Record, to_document

SUMMARY_SUFFIX = ".summary.json"
# A short text every checker can read: running it loads lazily loaded models, so the signature
# names what really ran (the LM checker only knows its dtype and device once loaded).
_PRIMER = "The council met on Tuesday in Kyiv. Officials said the bridge would reopen next month."
ERROR_SAMPLES = 20  # errors quoted in the summary; all are counted, and each is on its document's line


# ----------------------------------------------------------------------------- checking


def error_line(record_id: str, path: str | None, checker: str, error: str) -> dict[str, Any]:
    """The line of a document that could not be checked at all: same shape as a report, no verdict."""
    return {"id": record_id, "path": path, "verdict": None, "findings": [], "errors": [{"checker": checker, "error": error}]}


def prime(pipeline: Pipeline) -> dict[str, Any]:
    pipeline.run([Document.from_text(_PRIMER, id="primer")])
    return run_signature(pipeline.checkers, pipeline.combiner.describe())


def lm_counters(pipeline: Pipeline) -> dict[str, int]:
    """The LM scorer's counters (tokens through the model, rewrite rows, batches), over the distinct
    scorers the checkers hold (``lm`` and ``garble`` share one)."""
    scorers = {id(s): s for c in pipeline.checkers if (s := getattr(c, "_scorer", None)) is not None
               and isinstance(getattr(s, "stats", None), dict)}  # fmt: skip
    total: dict[str, int] = {}
    for scorer in scorers.values():
        for key, value in scorer.stats.items():
            total[key] = total.get(key, 0) + int(value)
    return total


def counters_since(now: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    return {key: value - before.get(key, 0) for key, value in now.items()}


def check_records(pipeline: Pipeline, records: Sequence[Record]) -> list[dict[str, Any]]:
    """One output line per record, in order. All documents go through one ``Pipeline.run``, so LM
    batches span documents; a checker that fails on the chunk is rerun document by document, so only
    the document that breaks it carries the error."""
    lines: list[dict[str, Any] | None] = [None] * len(records)
    docs: list[Document] = []
    where: list[int] = []
    for i, record in enumerate(records):
        try:
            docs.append(to_document(record))
            where.append(i)
        except InputError as exc:
            lines[i] = error_line(record.id, record.path, "input", str(exc))
        except Exception as exc:  # e.g. an HTML page the parser chokes on: that page's problem only
            lines[i] = error_line(record.id, record.path, "input", f"{record.source}: {type(exc).__name__}: {exc}")
    if docs:
        for i, report in zip(where, _run_isolated(pipeline, docs)):
            lines[i] = report
    return lines  # type: ignore[return-value]


def _run_isolated(pipeline: Pipeline, docs: list[Document]) -> list[dict[str, Any]]:
    try:
        reports = pipeline.run(docs)
    except Exception:  # the combiner or the pipeline itself: fall back to one document at a time
        return [_run_one(pipeline, doc) for doc in docs]
    failed = {f.checker for report in reports for f in report.failures}
    if failed and len(docs) > 1:
        solo = Pipeline([c for c in pipeline.checkers if c.name in failed], pipeline.combiner)
        order = [c.name for c in pipeline.checkers]
        reports = [_redo(report, solo, order) for report in reports]
    return [report.to_dict() for report in reports]


def _run_one(pipeline: Pipeline, doc: Document) -> dict[str, Any]:
    try:
        return pipeline.run([doc])[0].to_dict()
    except Exception as exc:
        return error_line(doc.id or "", doc.path, "pipeline", f"{type(exc).__name__}: {exc}")


def _redo(report: DocumentReport, solo: Pipeline, order: list[str]) -> DocumentReport:
    """Rerun the checkers that failed on the chunk on this document alone and recombine."""
    again = solo.run([report.document])[0]
    by_checker = {**report.by_checker, **again.by_checker}
    by_checker = {name: by_checker[name] for name in order if name in by_checker}
    merged = DocumentReport(report.document, [], report.verdict, again.failures, by_checker)
    merged.findings = merged.findings_of(list(by_checker), solo.combiner)
    merged.verdict = solo.combiner.verdict(merged.findings)
    return merged


# ----------------------------------------------------------------------------- the output file


def summary_path(output: Path) -> Path:
    return output.with_name(output.name + SUMMARY_SUFFIX)


@dataclass
class Stats:
    """Counts over the output file's lines: rebuilt from the file on resume, so they never drift."""

    documents: int = 0
    checked: int = 0
    input_errors: int = 0
    documents_with_errors: int = 0
    verdicts: Counter = field(default_factory=Counter)
    findings: int = 0
    by_category: Counter = field(default_factory=Counter)
    by_check: Counter = field(default_factory=Counter)
    errors_by_checker: Counter = field(default_factory=Counter)
    error_samples: list[dict[str, str]] = field(default_factory=list)

    def add(self, line: dict[str, Any]) -> None:
        self.documents += 1
        if line.get("verdict") is not None:
            self.checked += 1
            self.verdicts[line["verdict"]] += 1
        for finding in line.get("findings", ()):
            self.findings += 1
            self.by_category[finding.get("category")] += 1
            self.by_check[finding.get("check")] += 1
        errors = line.get("errors") or []
        if errors:
            self.documents_with_errors += 1
        for error in errors:
            if error.get("checker") == "input":
                self.input_errors += 1
            self.errors_by_checker[error.get("checker")] += 1
            if len(self.error_samples) < ERROR_SAMPLES:
                self.error_samples.append({"id": line.get("id"), **error})

    def to_dict(self) -> dict[str, Any]:
        return {
            "documents": self.documents,
            "checked": self.checked,
            "verdicts": dict(sorted(self.verdicts.items())),
            "findings": {"total": self.findings, "by_category": dict(sorted(self.by_category.items())),
                         "by_check": dict(sorted(self.by_check.items()))},
            "errors": {"documents": self.documents_with_errors, "input": self.input_errors,
                       "by_checker": dict(sorted(self.errors_by_checker.items())), "first": self.error_samples},
        }  # fmt: skip


class OutputLog:
    """The append-only JSONL of reports. A chunk's lines go out in one write, then flush and fsync,
    so after a crash (SIGKILL included) the file holds whole lines and at most one torn last line,
    which opening it again cuts off."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.done: set[str] = set()
        self.stats = Stats()
        self.recovered_bytes = 0  # the torn tail cut off when opening
        self._fd: int | None = None

    def scan(self) -> None:
        """Read what earlier runs wrote: done ids and counts. Cuts a torn last line."""
        if not self.path.exists():
            return
        good = 0
        with open(self.path, "rb") as stream:
            for number, raw in enumerate(stream, 1):
                if not raw.endswith(b"\n"):
                    break  # torn: a run died in the middle of this write
                try:
                    line = json.loads(raw)
                except ValueError:
                    raise ValueError(f"{self.path}:{number}: not a report line (is this an mtqa batch output?)") from None
                if not isinstance(line, dict) or "id" not in line:
                    raise ValueError(f"{self.path}:{number}: not a report line (is this an mtqa batch output?)")
                self.done.add(line["id"])
                self.stats.add(line)
                good += len(raw)
        size = self.path.stat().st_size
        if size > good:
            self.recovered_bytes = size - good
            with open(self.path, "r+b") as stream:
                stream.truncate(good)
                os.fsync(stream.fileno())

    def reset(self) -> None:
        self.done.clear()
        self.stats = Stats()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "wb") as stream:
            os.fsync(stream.fileno())

    def append(self, lines: Iterable[dict[str, Any]]) -> None:
        lines = list(lines)
        data = "".join(dumps_line(line) + "\n" for line in lines).encode("utf-8")
        if self._fd is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        view = memoryview(data)
        while view:  # os.write may write less than asked (signals, pipes): finish the chunk
            view = view[os.write(self._fd, view):]
        os.fsync(self._fd)
        for line in lines:
            self.done.add(line["id"])
            self.stats.add(line)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as stream:
        json.dump(payload, stream, ensure_ascii=False, indent=2)
        stream.write("\n")
        stream.flush()
        os.fsync(stream.fileno())
    os.replace(tmp, path)


def read_summary(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def chunked(items: Iterable[Record], size: int) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
