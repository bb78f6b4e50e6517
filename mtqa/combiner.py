"""Merge overlapping findings from different signals and set the document verdict."""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Sequence

from .calibration import DOCUMENT_KEY, document_context
from .findings import Finding, Severity

if TYPE_CHECKING:
    from .calibration import Calibrator
    from .decision import Decision

CANDIDATE_KEY = "news_profile"
# Another checker's proposal that only the learned decision may report (the OCR checker's odd tokens;
# not "candidate": the lm checker's evidence names its replacement word so).
PROPOSAL_KEY = "proposal"
# The LM's unexpected words (mtqa.lm.wordstats) are proposed only where no other checker found
# anything (a word another signal covers is that signal's candidate), and the decision reports them
# at an operating point of their own.
LM_PROPOSALS = ("lm",)


def is_candidate(finding: Finding) -> bool:
    """A LanguageTool match the news profile drops (grammar in candidate mode: a rule it turns off,
    a capitalised word it leaves to the gazetteer, a spelling right in another English variant), or
    another checker's proposal: reported only where the learned decision says so."""
    if PROPOSAL_KEY in finding.evidence:
        return True
    return finding.check.startswith("grammar.") and finding.evidence.get(CANDIDATE_KEY, "kept") != "kept"


class Verdict(str, Enum):
    PASS = "pass"
    WARN = "warn"
    BLOCK = "block"


def _overlap_ratio(a: Finding, b: Finding) -> float:
    inter = min(a.end, b.end) - max(a.start, b.start)
    if inter <= 0:
        return 0.0
    return inter / (max(a.end, b.end) - min(a.start, b.start))


def _noisy_or(confidences: Sequence[float]) -> float:
    """Independent signals agreeing on a span make it more likely to be real."""
    miss = 1.0
    for c in confidences:
        miss *= 1.0 - c
    return 1.0 - miss


def _without_covered_lm_proposals(findings: Sequence[Finding]) -> list[Finding]:
    proposed = [f for f in findings if f.evidence.get(PROPOSAL_KEY) in LM_PROPOSALS]
    if not proposed:
        return list(findings)
    others = sorted((f for f in findings if f.evidence.get(PROPOSAL_KEY) not in LM_PROPOSALS),
                    key=lambda f: f.start)  # fmt: skip
    starts = [f.start for f in others]
    reach = 0  # the furthest end among the findings starting before each one (bisect on starts)
    ends = []
    for f in others:
        reach = max(reach, f.end)
        ends.append(reach)

    def covered(p: Finding) -> bool:
        k = bisect_left(starts, p.end)  # others starting before the proposal ends
        return k > 0 and ends[k - 1] > p.start

    return others + [f for f in proposed if not covered(f)]


@dataclass
class Combiner:
    """Findings covering mostly the same span are one problem seen by several signals.

    The strongest finding leads; the others' check ids, suggestions and evidence
    are folded into it.
    """

    block_threshold: float = 0.7
    warn_threshold: float = 0.3
    merge_overlap: float = 0.5
    # Fitted on labelled dev data (mtqa.calibration): turns a merged finding's numbers into the
    # probability that it is a real error. Without it the noisy-OR of the checkers' confidences stands.
    calibrator: Calibrator | None = None
    min_confidence: float = 0.0  # findings below this (calibrated) confidence are not reported
    # The learned decision (mtqa.decision): it alone reports the candidates (``is_candidate``),
    # those at or above its own dev-chosen report threshold; it also sets the names checker's
    # operating point (its veto threshold). Without it no candidate is reported.
    decision: Decision | None = None

    def for_checkers(self, checkers: Sequence[Any]) -> "Combiner":
        """This combiner for a pipeline of ``checkers``: where none of them proposes the LM's words
        (no LM, another model, a subset), the decision's operating point fitted without them."""
        if self.decision is None or any(getattr(c, "proposes", False) for c in checkers):
            return self
        return replace(self, decision=self.decision.without_proposals())

    def describe(self) -> dict[str, Any]:
        """For the run signature: which calibration and decision (data hashes) and report thresholds."""
        out: dict[str, Any] = {"calibration": self.calibrator.data_hash if self.calibrator else None,
                               "min_confidence": self.min_confidence}
        if self.decision is not None:
            out.update(decision=self.decision.data_hash, decision_model=self.decision.model_hash,
                       decision_threshold=self.decision.report_threshold)
            if self.decision.proposal_thresholds:
                out.update(decision_proposals=dict(self.decision.proposal_thresholds))
            if self.decision.veto_threshold > 0:
                out.update(decision_veto=[*self.decision.veto_families, self.decision.veto_threshold])
        return out

    def combine(self, findings: Sequence[Finding], text: str = "") -> list[Finding]:
        """Merged, calibrated and decided: what the report shows."""
        out = []
        for f in self.merge(findings, text):
            if is_candidate(f):
                if self.decision is None:
                    continue
                f = self._calibrated(f, text, self.decision)
                if f.confidence < self.decision.threshold_for(f):
                    continue
            elif self.decision is not None and self.decision.vetoes(f):
                continue
            elif self.calibrator is not None:
                f = self._calibrated(f, text, self.calibrator)
            if f.confidence >= self.min_confidence:
                out.append(f)
        return out

    def merge(self, findings: Sequence[Finding], text: str = "") -> list[Finding]:
        """Overlapping findings merged, with the document's context; nothing decided or dropped but
        the LM's proposals that another finding overlaps."""
        findings = _without_covered_lm_proposals(findings)
        ordered = sorted(findings, key=lambda f: (f.start, f.end))
        groups: list[list[Finding]] = []
        for finding in ordered:
            for group in groups[-3:]:
                if any(_overlap_ratio(finding, other) >= self.merge_overlap for other in group):
                    group.append(finding)
                    break
            else:
                groups.append([finding])
        merged = [self._merge(group) for group in groups]
        context = document_context(findings, text)
        if context:  # the calibration reads it; a reader sees why a finding was trusted less
            merged = [replace(f, evidence={**f.evidence, DOCUMENT_KEY: context}) for f in merged]
        return merged

    @staticmethod
    def _calibrated(finding: Finding, text: str, model: Any) -> Finding:
        """The calibrated finding (the decision model reads the words too). Document damage may
        raise a finding's confidence, never lower it: a model fitted where OCR-damaged pages had
        many false alarms would otherwise make the most damaged text the quietest. So the model
        is read with the document facts and without them, and the higher confidence stands."""
        seen = model.calibrate(finding, text)
        if DOCUMENT_KEY not in finding.evidence:
            return seen
        bare = replace(finding, evidence={k: v for k, v in finding.evidence.items() if k != DOCUMENT_KEY})
        clean = model.calibrate(bare, text)
        return seen if seen.confidence >= clean.confidence else replace(clean, evidence=seen.evidence)

    def _merge(self, group: list[Finding]) -> Finding:
        lead = max(group, key=lambda f: (f.severity.rank, f.confidence))
        if not is_candidate(lead):  # a reported finding is what it was without the candidates
            group = [f for f in group if not is_candidate(f)]
        if len(group) == 1:
            return group[0]
        suggestions = list(lead.suggestions)
        for other in group:
            suggestions += [s for s in other.suggestions if s not in suggestions]
        evidence = dict(lead.evidence)
        evidence["merged"] = [
            {"check": f.check, "confidence": f.confidence, "message": f.message, "evidence": dict(f.evidence)}
            for f in group
            if f is not lead
        ]
        return replace(
            lead,
            confidence=_noisy_or([f.confidence for f in group]),
            suggestions=tuple(suggestions),
            evidence=evidence,
        )

    def verdict(self, findings: Sequence[Finding]) -> Verdict:
        if any(f.severity is Severity.ERROR and f.confidence >= self.block_threshold for f in findings):
            return Verdict.BLOCK
        if any(f.severity.rank >= Severity.WARNING.rank and f.confidence >= self.warn_threshold for f in findings):
            return Verdict.WARN
        return Verdict.PASS
