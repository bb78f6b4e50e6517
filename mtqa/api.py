"""The one library API that the CLI, the service and the benchmarks share."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Sequence

from .calibration import load_calibration
from .checkers import build_checkers
from .combiner import Combiner
from .config import Settings
from .document import Document
from .pipeline import DocumentReport, Pipeline
from .signature import run_signature


def make_combiner(settings: Settings) -> Combiner:
    from .decision import load_decision

    calibrator = load_calibration(settings.calibration)
    min_confidence = settings.min_confidence
    if min_confidence is None:
        min_confidence = calibrator.report_threshold if calibrator else 0.0
    decision = load_decision(settings.decision)
    if decision is not None and settings.decision_threshold is not None:
        decision.report_threshold = float(settings.decision_threshold)  # the run signature carries it
        decision.threshold_fixed = True
    return Combiner(block_threshold=settings.block_threshold, warn_threshold=settings.warn_threshold,
                    calibrator=calibrator, min_confidence=min_confidence, decision=decision)  # fmt: skip


def checker_settings(settings: Settings, combiner: Combiner) -> Settings:
    """With a learned decision, grammar proposes every LanguageTool match (candidate mode)."""
    return settings if combiner.decision is None else replace(settings, grammar_candidates=True)


def make_pipeline(
    settings: Settings | None = None, only: list[str] | None = None, combiner: Combiner | None = None
) -> Pipeline:
    settings = settings or Settings()
    combiner = combiner or make_combiner(settings)
    checkers = build_checkers(checker_settings(settings, combiner), only)
    return Pipeline(checkers, combiner.for_checkers(checkers))


def check_documents(
    docs: Sequence[Document], pipeline: Pipeline, progress: Callable[[int], None] | None = None
) -> list[DocumentReport]:
    reports = pipeline.run(docs, progress)
    pipeline.signature = run_signature(pipeline.checkers, pipeline.combiner.describe())
    return reports


def check(text: str, settings: Settings | None = None, *, html: bool = False) -> DocumentReport:
    """Check one article. Offsets in the report index ``text`` exactly as given."""
    doc = Document.from_html(text) if html else Document.from_text(text)
    return check_documents([doc], make_pipeline(settings))[0]
