"""``mtqa serve``: the HTTP service for a CMS pre-publish hook."""

from __future__ import annotations

from typing import Optional

import typer

from ..config import Settings
from . import app


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host"),
    port: int = typer.Option(8081, "--port"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    model: Optional[str] = typer.Option(None, "--model"),
    grammar: str = typer.Option("auto", "--grammar"),
    no_lm: bool = typer.Option(False, "--no-lm"),
    calibration: str = typer.Option("default", "--calibration", help="default | off | a calibration file."),
) -> None:
    """Serve /v1/check (mtqa JSON) and /v2/check (LanguageTool-compatible)."""
    import uvicorn

    from ..service import create_app

    settings = Settings(device=device, model=model, grammar=grammar, use_lm=not no_lm, calibration=calibration)
    uvicorn.run(create_app(settings), host=host, port=port)
