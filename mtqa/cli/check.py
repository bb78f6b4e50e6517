"""``mtqa check``: check files, stdin or JSONL batches and print a report."""

from __future__ import annotations

import enum
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import Progress

from ..api import check_documents, make_pipeline
from ..checkers import REGISTRY
from ..config import Settings
from ..document import Document
from ..findings import Severity
from ..formats import RENDERERS
from ..inputs import InputError, read_path
from . import app
from .exit_codes import BAD_INPUT, FINDINGS, INTERNAL_ERROR, OK


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"
    lt = "lt"


class FailOn(str, enum.Enum):
    info = "info"
    warning = "warning"
    error = "error"
    never = "never"


class InputFormat(str, enum.Enum):
    auto = "auto"
    text = "text"
    html = "html"
    jsonl = "jsonl"


class Device(str, enum.Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def exit_code(reports, fail_on: FailOn, bad_input: bool) -> int:
    if any(report.failures for report in reports):
        return INTERNAL_ERROR
    if bad_input:
        return BAD_INPUT
    if fail_on is not FailOn.never:
        threshold = Severity(fail_on.value).rank
        if any(f.severity.rank >= threshold for report in reports for f in report.findings):
            return FINDINGS
    return OK


@app.command()
def check(
    paths: list[str] = typer.Argument(None, help="Files to check; '-' or nothing reads standard input."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    fail_on: FailOn = typer.Option(FailOn.error, "--fail-on", help="Exit 1 when a finding is at or above this."),
    input_format: InputFormat = typer.Option(InputFormat.auto, "--input-format", help="How to read the input."),
    device: Device = typer.Option(Device.auto, "--device", help="Where the language model runs."),
    model: Optional[str] = typer.Option(None, "--model", help="Model card name (see models/)."),
    grammar: str = typer.Option("auto", "--grammar", help="Grammar backend name, or 'off'."),
    no_lm: bool = typer.Option(False, "--no-lm", help="Skip the language-model pass."),
    no_gazetteer: bool = typer.Option(False, "--no-gazetteer", help="Skip the name gazetteer."),
    names: list[Path] = typer.Option([], "--names", help="Newsroom name list (TOML or CSV); repeatable."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated checkers to run (default: all)."),
    calibration: str = typer.Option(
        "default", "--calibration", help="Confidence calibration: default (models/combiner.json) | off | a path."
    ),
    min_confidence: float = typer.Option(0.0, "--min-confidence", help="Report only findings at or above this confidence."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here, not stdout."),
) -> None:
    """Check articles for MT and OCR damage."""
    err = Console(stderr=True, highlight=False)
    docs: list[Document] = []
    bad_input = False
    for path in paths or ["-"]:
        try:
            stdin = sys.stdin.buffer.read() if path == "-" else None
            docs += read_path(path, input_format.value, stdin)
        except InputError as exc:
            err.print(f"mtqa: {exc}", markup=False)
            bad_input = True
    if not docs:
        raise typer.Exit(BAD_INPUT)

    settings = Settings(
        device=device.value, model=model, grammar=grammar, use_lm=not no_lm,
        use_gazetteer=not no_gazetteer, names_files=tuple(names), calibration=calibration,
        min_confidence=min_confidence,
    )  # fmt: skip
    selected = [name.strip() for name in only.split(",") if name.strip()] if only else None
    unknown = set(selected or ()) - set(REGISTRY)
    if unknown:
        err.print(f"mtqa: unknown checker(s) {', '.join(sorted(unknown))}; known: {', '.join(REGISTRY)}", markup=False)
        raise typer.Exit(BAD_INPUT)
    try:
        pipeline = make_pipeline(settings, selected)
    except FileNotFoundError as exc:  # a calibration file that is not there
        err.print(f"mtqa: {exc}", markup=False)
        raise typer.Exit(BAD_INPUT)
    show_progress = len(docs) > 1 and err.is_terminal
    with Progress(console=err, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("checking", total=len(docs))
        reports = check_documents(docs, pipeline, lambda n: progress.advance(task, n))

    rendered = RENDERERS[format.value](reports, pipeline.signature)
    if output:
        output.write_text(rendered, encoding="utf-8")
    else:
        sys.stdout.write(rendered)
    for report in reports:
        for failure in report.failures:
            err.print(f"mtqa: checker {failure.checker} failed: {failure.error}", markup=False)
    raise typer.Exit(exit_code(reports, fail_on, bad_input))
