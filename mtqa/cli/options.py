"""The checker options shared by ``mtqa check`` and ``mtqa batch``, and their validation: a usage
mistake is one line and exit 2 before any input is read or model loaded."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ..checkers import REGISTRY
from ..config import Settings


class Device(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


class UsageError(Exception):
    """A bad option value: exit 2 with this one line, before any checking."""


DeviceOpt = Annotated[Device, typer.Option("--device", help="Where the language model runs.")]
ModelOpt = Annotated[Optional[str], typer.Option("--model", help="Model card name (see models/).")]
GrammarOpt = Annotated[str, typer.Option("--grammar", help="Grammar backend name, or 'off'.")]
NoLmOpt = Annotated[bool, typer.Option("--no-lm", help="Skip the language-model pass.")]
NoGazetteerOpt = Annotated[bool, typer.Option("--no-gazetteer", help="Skip the name gazetteer.")]
NamesOpt = Annotated[list[Path], typer.Option("--names", help="Newsroom name list (TOML or CSV); repeatable.")]
OnlyOpt = Annotated[Optional[str], typer.Option("--only", help="Comma-separated checkers to run (default: all).")]
CalibrationOpt = Annotated[str, typer.Option(
    "--calibration", help="Confidence calibration: default (models/combiner.json) | off | a path.")]
DecisionOpt = Annotated[str, typer.Option(
    "--decision", help="Learned decision over the matches the news profile drops and odd OCR tokens: default (models/decision.json) | off | a path.")]
DecisionThresholdOpt = Annotated[Optional[float], typer.Option(
    "--decision-threshold", min=0.0, max=1.0,
    help="Report the decision's candidates from this probability (default: the model's, chosen on dev; lower finds more and flags more clean text).")]
MinConfidenceOpt = Annotated[float, typer.Option(
    "--min-confidence", min=0.0, max=1.0, help="Report only findings at or above this confidence (0-1).")]


def check_names_file(path: Path) -> None:
    from ..gazetteer.sources import newsroom_list

    if not path.is_file():
        raise UsageError(f"--names {path}: no such file")
    try:
        entries = list(newsroom_list(path))
    except KeyError as exc:
        raise UsageError(
            f"--names {path}: no {exc.args[0]!r} column; expected a comma-separated CSV with a header row "
            "(canonical,variants,preferred,kind,note) or TOML [[name]] tables"
        ) from None
    except (ValueError, OSError, UnicodeDecodeError, AttributeError, TypeError) as exc:
        raise UsageError(f"--names {path}: cannot read ({type(exc).__name__}: {exc})") from None
    if not entries:
        raise UsageError(f"--names {path}: no names in it")


def settings_from_options(device: Device, model: Optional[str], grammar: str, no_lm: bool, no_gazetteer: bool,
                          names: list[Path], only: Optional[str], calibration: str,
                          min_confidence: float, decision: str = "default",
                          decision_threshold: float | None = None) -> tuple[Settings, list[str] | None]:
    """(settings, selected checkers or None for all), or :class:`UsageError`."""
    from ..grammar import BACKENDS

    selected = [name.strip() for name in only.split(",") if name.strip()] if only else None
    unknown = set(selected or ()) - set(REGISTRY)
    if unknown:
        raise UsageError(f"unknown checker(s) {', '.join(sorted(unknown))}; known: {', '.join(REGISTRY)}")
    if grammar.lower() not in BACKENDS:
        raise UsageError(f"--grammar {grammar}: unknown backend; known: {', '.join(BACKENDS)}")
    for path in names:
        check_names_file(path)
    settings = Settings(
        device=device.value, model=model, grammar=grammar.lower(), use_lm=not no_lm,
        use_gazetteer=not no_gazetteer, names_files=tuple(names), calibration=calibration,
        min_confidence=min_confidence, decision=decision, decision_threshold=decision_threshold,
    )  # fmt: skip
    return settings, selected
