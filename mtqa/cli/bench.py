"""``mtqa bench CONFIG``: the model-comparison benchmark (one table, one JSON, one PNG chart)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from . import app
from .exit_codes import BAD_INPUT


@app.command("bench")
def bench_command(
    config: Path = typer.Argument(..., help="A run config, e.g. benchmarks/compare_models.yaml."),
    output_dir: Optional[Path] = typer.Option(None, "--output-dir", help="Default: benchmarks/results/."),
) -> None:
    """Compare models, the no-LM system and each signal alone on the evaluation datasets."""
    from ..eval import DatasetError
    from ..eval.bench import run_bench
    from ..eval.report import table

    console = Console(highlight=False, width=None if Console().is_terminal else 200)
    err = Console(stderr=True, highlight=False)
    if not config.is_file():
        err.print(f"mtqa: {config}: no such config file")
        raise typer.Exit(BAD_INPUT)
    try:
        result = run_bench(config, output_dir, echo=lambda msg: err.print(msg))
    except (DatasetError, ValueError) as exc:
        err.print(f"mtqa: {exc}")
        raise typer.Exit(BAD_INPUT)
    git = result["payload"]["git"]
    console.print(table(f"mtqa bench {config.stem}: quality (git {git})", result["payload"]["quality_table"]))
    console.print(table(f"mtqa bench {config.stem}: speed", result["payload"]["speed_table"]))
    console.print(f"wrote {result['json']}" + (f" and {result['png']}" if result["png"] else ""))
