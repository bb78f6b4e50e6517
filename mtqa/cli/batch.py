"""``mtqa batch``: check an archive (directory, JSONL or stdin) into a resumable JSONL of reports."""

from __future__ import annotations

import contextlib
import enum
import sys
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from ..batch import Refused, make_engine, run_batch
from ..inputs import InputError
from . import app
from .exit_codes import BAD_INPUT, OK
from .options import (CalibrationOpt, DecisionOpt, DecisionThresholdOpt, Device, DeviceOpt, GrammarOpt,
                      MinConfidenceOpt, ModelOpt, NamesOpt, NoGazetteerOpt, NoLmOpt, OnlyOpt, UsageError,
                      settings_from_options)


class Engine(str, enum.Enum):
    local = "local"
    ray = "ray"


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else f"{seconds // 60}m{seconds % 60:02d}s"


class PlainProgress:
    """A line every ``every`` documents, for logs and pipes where a bar would be noise."""

    def __init__(self, err: Console, every: int) -> None:
        self.err, self.every, self.t0, self.last = err, max(1, every), time.perf_counter(), 0

    def __call__(self, checked: int, pending: int | None) -> None:
        if checked == 0:  # before the workers load: the rate counts checking only
            self.t0 = time.perf_counter()
            return
        if checked // self.every == self.last // self.every and checked != pending:
            return
        self.last = checked
        rate = checked / max(time.perf_counter() - self.t0, 1e-9)
        line = f"mtqa batch: {checked}" + (f"/{pending}" if pending is not None else "") + f" documents, {rate:.1f}/s"
        if pending is not None and rate > 0:
            line += f", ETA {_duration(max(pending - checked, 0) / rate)}"
        self.err.print(line, markup=False, highlight=False)


@app.command()
def batch(
    input: str = typer.Argument(..., help="A directory of .txt/.html files (recursive), a JSONL file, or '-' (JSONL on stdin)."),
    output: Path = typer.Argument(..., help="JSONL of reports, appended to; OUTPUT.summary.json beside it."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local (this process) or ray (RAY_ADDRESS or a local Ray)."),
    chunk_size: int = typer.Option(32, "--chunk-size", min=1, help="Documents per pipeline run (LM batches span them)."),
    force: bool = typer.Option(False, "--force", help="Append even if OUTPUT was written with a different run signature."),
    new: bool = typer.Option(False, "--new", help="Discard OUTPUT and start over."),
    progress_every: int = typer.Option(100, "--progress-every", min=1, help="Without a terminal: a progress line every N documents."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Ray: number of pipeline replicas (default: as resources allow)."),
    cpus_per_worker: Optional[float] = typer.Option(None, "--cpus-per-worker", help="Ray: cores per replica (default 1; 2 with the LM on CPU)."),
    gpus_per_worker: Optional[float] = typer.Option(None, "--gpus-per-worker", help="Ray: GPUs per replica (default 1 when the LM runs on CUDA)."),
    ray_address: Optional[str] = typer.Option(None, "--ray-address", help="Ray cluster address (default: RAY_ADDRESS, else a local Ray)."),
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
) -> None:
    """Check an archive resumably: kill it at any point and run it again to go on where it stopped."""
    err = Console(stderr=True, highlight=False, soft_wrap=True)  # one problem, one line
    if force and new:
        err.print("mtqa: --force and --new contradict each other", markup=False)
        raise typer.Exit(BAD_INPUT)
    try:
        settings, selected = settings_from_options(device, model, grammar, no_lm, no_gazetteer, names, only,
                                                   calibration, min_confidence, decision, decision_threshold)  # fmt: skip
    except UsageError as exc:
        err.print(f"mtqa: {exc}", markup=False)
        raise typer.Exit(BAD_INPUT)
    if input != "-" and not Path(input).exists():
        err.print(f"mtqa: {input}: no such file or directory", markup=False)
        raise typer.Exit(BAD_INPUT)
    ray_options = {"workers": workers, "cpus_per_worker": cpus_per_worker, "gpus_per_worker": gpus_per_worker,
                   "address": ray_address} if engine is Engine.ray else {}  # fmt: skip
    runner = make_engine(engine.value, settings, selected, **ray_options)

    bar = Progress(
        TextColumn("checking"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
        TextColumn("ETA"), TimeRemainingColumn(), TimeElapsedColumn(), console=err, transient=False,
    )  # fmt: skip
    if err.is_terminal:
        task = bar.add_task("checking", total=None, rate="")
        t0 = [time.perf_counter()]

        def progress(checked: int, pending: int | None) -> None:
            if checked == 0:  # called once before the workers load: the rate counts checking only
                t0[0] = time.perf_counter()
            rate = checked / max(time.perf_counter() - t0[0], 1e-9)
            bar.update(task, completed=checked, total=pending, rate=f"{rate:.1f} docs/s")
    else:
        progress = PlainProgress(err, progress_every)
    try:
        with bar if err.is_terminal else contextlib.nullcontext():
            result = run_batch(input, output, runner, chunk_size=chunk_size, force=force, new=new,
                               progress=progress, stdin=sys.stdin.buffer if input == "-" else None)  # fmt: skip
    except (Refused, InputError) as exc:
        err.print(f"mtqa: {exc}", markup=False)
        raise typer.Exit(BAD_INPUT)
    except ValueError as exc:  # an OUTPUT that is not a batch output
        err.print(f"mtqa: {exc}", markup=False)
        raise typer.Exit(BAD_INPUT)
    s = result.summary
    t = s["throughput"]
    rate = f", {t['documents_per_second']:.1f} documents/s" if t["documents_per_second"] else ""
    err.print(
        f"mtqa batch: {result.checked} checked{rate}, {result.skipped} already done; {s['documents']} in {output} "
        f"(verdicts {s['verdicts']}, {s['findings']['total']} findings, {s['errors']['documents']} with errors); "
        f"summary in {output}.summary.json",
        markup=False,
    )
    raise typer.Exit(OK)

