"""``mtqa check``: check files, stdin or JSONL batches and print a report.

Options are checked before any input is read or model loaded (a usage mistake is exit 2 with
one line, at once). Reports are written as each group of documents finishes, so a slow or
killed run keeps what it had done; a document over the size or time budget is named on stderr
(exit 2) and the others are still reported.
"""

from __future__ import annotations

import enum
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Optional

import typer
from rich.console import Console
from rich.progress import Progress

from ..api import check_documents, make_pipeline
from ..document import Document
from ..findings import Severity
from ..inputs import read_source
from . import app
from .exit_codes import BAD_INPUT, FINDINGS, INTERNAL_ERROR, OK
from .options import (CalibrationOpt, DecisionOpt, DecisionThresholdOpt, Device, DeviceOpt, GrammarOpt,
                      MinConfidenceOpt, ModelOpt, NamesOpt, NoGazetteerOpt, NoLmOpt, OnlyOpt, UsageError,
                      settings_from_options)

MAX_CHARS = 1_000_000  # per document: a long news article is 50,000 characters
TIMEOUT = 300.0  # seconds per document, model loading not counted
# Checkers load their models on first use (so a run loads only what its documents need): the first
# group's budget has this on top for the loading (a first LM run converts its model, ~80 s on CPU).
LOAD_ALLOWANCE = 300.0
_GROUP_DOCS, _GROUP_CHARS = 16, 200_000  # documents checked (and batched for the LM) together


class OutputFormat(str, enum.Enum):
    text = "text"
    json = "json"
    jsonl = "jsonl"
    sarif = "sarif"
    lt = "lt"


class FailOn(str, enum.Enum):
    """``block``/``warn``: a document's verdict; ``info``/``warning``/``error``: any finding's severity."""

    block = "block"
    warn = "warn"
    info = "info"
    warning = "warning"
    error = "error"
    never = "never"


_VERDICT_RANK = {"pass": 0, "warn": 1, "block": 2}


class InputFormat(str, enum.Enum):
    auto = "auto"
    text = "text"
    html = "html"
    jsonl = "jsonl"


def exit_code(reports, fail_on: FailOn, bad_input: bool) -> int:
    """3 if a checker failed, else 2 if some input was refused, else 1 if ``fail_on`` is met, else 0.

    By default (``--fail-on block``) the exit code follows the verdict: 1 exactly when a document's
    verdict is ``block``, so a hook never blocks what the report calls a pass."""
    if any(report.failures for report in reports):
        return INTERNAL_ERROR
    if bad_input:
        return BAD_INPUT
    if fail_on is FailOn.never:
        return OK
    if fail_on.value in _VERDICT_RANK:
        threshold = _VERDICT_RANK[fail_on.value]
        return FINDINGS if any(_VERDICT_RANK[r.verdict.value] >= threshold for r in reports) else OK
    threshold = Severity(fail_on.value).rank
    if any(f.severity.rank >= threshold for report in reports for f in report.findings):
        return FINDINGS
    return OK


def _open_output(output: Path) -> IO[bytes]:
    if output.is_dir():
        raise UsageError(f"-o {output}: is a directory")
    if not output.parent.is_dir():
        raise UsageError(f"-o {output}: directory {output.parent} does not exist")
    try:
        return output.open("wb")
    except OSError as exc:
        raise UsageError(f"-o {output}: cannot write ({exc.strerror or exc})") from None


class _OverTime(BaseException):
    """Raised by the alarm; a BaseException so that no checker's ``except Exception`` swallows it."""


@contextmanager
def _time_budget(seconds: float):
    """Interrupt the block after ``seconds`` (SIGALRM: main thread, POSIX; elsewhere no budget)."""
    usable = seconds > 0 and hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    over, ticks = [False], [0]  # over: the block has ended, a late tick does nothing

    def _alarm(signum, frame):
        ticks[0] += 1
        if over[0] or ticks[0] > 20:  # 20 tries is a second: then the timer stops itself
            signal.setitimer(signal.ITIMER_REAL, 0)
            return
        raise _OverTime()

    previous = signal.signal(signal.SIGALRM, _alarm)
    # The alarm repeats: an exception raised while a GC callback or __del__ runs is printed and
    # dropped by Python, and one lost alarm would leave the block running past its budget.
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        over[0] = True
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _groups(docs: list[Document]) -> list[list[Document]]:
    groups: list[list[Document]] = []
    size = 0
    for doc in docs:
        if not groups or len(groups[-1]) >= _GROUP_DOCS or size + len(doc.text) > _GROUP_CHARS:
            groups.append([])
            size = 0
        groups[-1].append(doc)
        size += len(doc.text)
    return groups


class _Writer:
    """Writes each report as soon as it exists; SARIF (one run object with its rules) at the end."""

    def __init__(self, fmt: str, sink: IO[bytes]) -> None:
        self.fmt, self.sink, self.reports, self.signature = fmt, sink, [], {}

    def _write(self, text: str) -> None:
        # JSON formats escape lone surrogates and the text format shows them as U+FFFD; this is the net.
        self.sink.write(text.encode("utf-8", "backslashreplace"))
        self.sink.flush()

    def add(self, reports, signature) -> None:
        from ..formats import json_format, lt, text

        if not reports:
            return
        first = not self.reports
        self.reports += reports
        self.signature = signature
        if self.fmt == "json":
            head = json_format.render_head(signature) if first else json_format.JSON_SEPARATOR
            self._write(head + json_format.JSON_SEPARATOR.join(json_format.render_document(r) for r in reports))
        elif self.fmt == "jsonl":
            self._write("".join(json_format.render_line(r, signature) for r in reports))
        elif self.fmt == "lt":
            self._write("".join(lt.render_line(r, signature) for r in reports))
        elif self.fmt == "text":
            self._write("".join(text.render_document(r) for r in reports))

    def close(self) -> None:
        from ..formats import json_format, sarif, text

        if self.fmt == "json":
            self._write(json_format.render_tail() if self.reports else json_format.render([], self.signature))
        elif self.fmt == "text":
            self._write(text.render_footer(self.signature))
        elif self.fmt == "sarif":
            self._write(sarif.render(self.reports, self.signature))


@app.command()
def check(
    paths: list[str] = typer.Argument(None, help="Files to check; '-' or nothing reads standard input."),
    format: OutputFormat = typer.Option(OutputFormat.text, "--format", "-f", help="Report format."),
    fail_on: FailOn = typer.Option(
        FailOn.block, "--fail-on",
        help="Exit 1 when a document's verdict is at or above this (block, warn), or a finding's severity is (info, warning, error); never: exit 0.",
    ),  # fmt: skip
    input_format: InputFormat = typer.Option(InputFormat.auto, "--input-format", help="How to read the input."),
    device: DeviceOpt = Device.auto,
    model: ModelOpt = None,
    grammar: GrammarOpt = "auto",
    no_lm: NoLmOpt = False,
    no_gazetteer: NoGazetteerOpt = False,
    names: NamesOpt = [],  # noqa: B006 - typer reads the default, nothing mutates it
    only: OnlyOpt = None,
    calibration: CalibrationOpt = "default",
    decision: DecisionOpt = "default",
    decision_threshold: DecisionThresholdOpt = None,
    min_confidence: MinConfidenceOpt = 0.0,
    max_chars: int = typer.Option(MAX_CHARS, "--max-chars", min=0, help="Per-document size budget in characters (0: none)."),
    timeout: float = typer.Option(TIMEOUT, "--timeout", min=0.0, help="Per-document time budget in seconds (0: none)."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the report here, not stdout."),
) -> None:
    """Check articles for MT and OCR damage."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem, one line

    def problem(message: str) -> None:
        err.print(f"mtqa: {message}", markup=False)

    try:
        settings, selected = settings_from_options(device, model, grammar, no_lm, no_gazetteer, names, only,
                                                   calibration, min_confidence, decision, decision_threshold)  # fmt: skip
        try:
            pipeline = make_pipeline(settings, selected)  # checkers load their models on first use
        except (OSError, ValueError) as exc:  # a calibration or decision file that is not there or not one
            raise UsageError(f"--calibration {calibration} / --decision {decision}: {exc}") from None
        sink = _open_output(output) if output else sys.stdout.buffer
    except UsageError as exc:
        problem(str(exc))
        raise typer.Exit(BAD_INPUT)

    docs: list[Document] = []
    bad_input = False
    for path in paths or ["-"]:
        stdin = sys.stdin.buffer.read() if path == "-" else None
        found, errors = read_source(path, input_format.value, stdin, max_chars=max_chars or None)
        docs += found
        for exc in errors:
            problem(str(exc))
        bad_input = bad_input or bool(errors)
    if not docs:
        if output:
            sink.close()
            output.unlink(missing_ok=True)  # nothing to report: leave no empty file behind
        raise typer.Exit(BAD_INPUT)

    writer = _Writer(format.value, sink)
    reports = []
    show_progress = len(docs) > 1 and err.is_terminal
    with Progress(console=err, transient=True, disable=not show_progress) as progress:
        task = progress.add_task("checking", total=len(docs))
        for number, group in enumerate(_groups(docs)):
            allowance = LOAD_ALLOWANCE if number == 0 else 0.0
            done = _check_group(group, pipeline, timeout, allowance, lambda n: progress.advance(task, n))
            if len(done) < len(group):
                bad_input = True
                for doc in group:
                    if not any(report.document is doc for report in done):
                        problem(f"{doc.id}: not checked: over the {timeout:g}-second time budget (--timeout)")
            writer.add(done, pipeline.signature)
            reports += done
    writer.close()
    if output:
        sink.close()
    for report in reports:
        for failure in report.failures:
            problem(f"{report.document.id}: checker {failure.checker} failed: {failure.error}")
    raise typer.Exit(exit_code(reports, fail_on, bad_input))


def _check_group(group: list[Document], pipeline, timeout: float, allowance: float, progress) -> list:
    """The group's reports; on running over the budget, each document alone, and those over it left out."""
    try:
        with _time_budget(timeout * len(group) + allowance if timeout else 0.0):
            return check_documents(group, pipeline, progress)
    except _OverTime:
        if len(group) == 1:
            return []
    done = []
    for doc in group:  # the models are loaded by now, or never will be
        try:
            with _time_budget(timeout):
                done += check_documents([doc], pipeline, progress)
        except _OverTime:
            continue
    return done
