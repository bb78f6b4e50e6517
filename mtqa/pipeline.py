"""Checkers, the pipeline that runs them, and the report it returns."""

from __future__ import annotations

import logging
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence, runtime_checkable

from .combiner import Combiner, Verdict
from .document import Document
from .findings import Finding

log = logging.getLogger(__name__)


@runtime_checkable
class Checker(Protocol):
    """A batch of documents in, one list of findings per document out.

    Offsets are into ``Document.text``. Checkers never print or mutate documents.
    """

    name: str
    version: str

    def check(self, docs: Sequence[Document]) -> list[list[Finding]]: ...


def describe(checker: Checker) -> dict[str, Any]:
    """What a checker contributes to the run signature (model, backend, hashes)."""
    extra = getattr(checker, "signature", None)
    return {"version": checker.version, **(extra() if callable(extra) else {})}


@dataclass
class CheckerFailure:
    checker: str
    error: str
    detail: str = ""


@dataclass
class DocumentReport:
    document: Document
    findings: list[Finding]
    verdict: Verdict
    failures: list[CheckerFailure] = field(default_factory=list)
    # Each checker's own findings before merging (offsets into ``document.text``), so a run of
    # all checkers can also say what any subset of them would have reported.
    by_checker: dict[str, list[Finding]] = field(default_factory=dict, repr=False)

    def findings_of(self, checkers: Sequence[str], combiner: Combiner) -> list[Finding]:
        """What a pipeline of only ``checkers`` (same settings) reports: checkers never see each other."""
        raw = [f for name, found in self.by_checker.items() if name in checkers for f in found]
        return _combined(self.document, raw, combiner)

    def to_dict(self) -> dict[str, Any]:
        doc = self.document
        return {
            "id": doc.id,
            "path": doc.path,
            "verdict": self.verdict.value,
            "findings": [f.to_dict(doc.original) for f in self.findings],
            "errors": [{"checker": f.checker, "error": f.error} for f in self.failures],
        }


def _combined(doc: Document, findings: list[Finding], combiner: Combiner) -> list[Finding]:
    """Merged and calibrated, with offsets into the caller's original text."""
    return [f.moved(*doc.to_original(f.start, f.end)) for f in combiner.combine(findings, doc.text)]


@dataclass
class Pipeline:
    checkers: list[Checker]
    combiner: Combiner = field(default_factory=Combiner)
    signature: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # time spent in each checker, summed over runs
    # Documents checked together: one LM queue spans them, and their LM caches (KV, ~20 MB per
    # article) are freed after each chunk, so memory stays flat however many documents come.
    chunk_size: int = 32

    def run(
        self, docs: Sequence[Document], progress: Callable[[int], None] | None = None
    ) -> list[DocumentReport]:
        reports: list[DocumentReport] = []
        for at in range(0, len(docs), self.chunk_size):
            chunk = docs[at : at + self.chunk_size]
            try:
                reports += self._run(chunk, progress)
            finally:
                from .lm import release_states

                release_states(chunk)
        return reports

    def _run(self, docs: Sequence[Document], progress: Callable[[int], None] | None) -> list[DocumentReport]:
        by_checker: list[dict[str, list[Finding]]] = [{} for _ in docs]
        failures: list[list[CheckerFailure]] = [[] for _ in docs]
        for checker in self.checkers:
            t0 = time.perf_counter()
            try:
                results = checker.check(docs)
                if len(results) != len(docs):
                    raise RuntimeError(f"returned {len(results)} results for {len(docs)} documents")
            except Exception as exc:  # one broken checker must not lose the others' findings
                log.debug("checker %s failed", checker.name, exc_info=True)
                failure = CheckerFailure(checker.name, f"{type(exc).__name__}: {exc}", traceback.format_exc())
                for doc_failures in failures:
                    doc_failures.append(failure)
                continue
            finally:
                self.seconds[checker.name] = self.seconds.get(checker.name, 0.0) + time.perf_counter() - t0
            for i, found in enumerate(results):
                by_checker[i][checker.name] = list(found)
        reports = []
        for i, doc in enumerate(docs):
            findings = _combined(doc, [f for found in by_checker[i].values() for f in found], self.combiner)
            reports.append(DocumentReport(doc, findings, self.combiner.verdict(findings), failures[i], by_checker[i]))
            if progress:
                progress(1)
        return reports
