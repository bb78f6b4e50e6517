"""The mtqa command line: a thin layer over mtqa.api, one sub-command per module."""

from __future__ import annotations

import sys

import typer

from .. import __version__
from .exit_codes import INTERNAL_ERROR

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Flag MT and OCR damage in English news text.")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mtqa {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Flag what machine translation or OCR broke in English news text."""


from . import bench, check, eval, serve  # noqa: E402,F401  (each module registers its sub-command)
from . import batch  # noqa: E402,F401


def main() -> None:
    try:
        app(standalone_mode=True)
    except SystemExit:
        raise
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # anything unexpected is ours, not the user's: exit 3
        print(f"mtqa: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        sys.exit(INTERNAL_ERROR)
