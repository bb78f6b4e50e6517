"""``mtqa serve``: the HTTP service for a CMS pre-publish hook."""

from __future__ import annotations

import ipaddress
import logging
import sys
from pathlib import Path
from typing import Optional

import typer

from ..config import Settings
from . import app
from .exit_codes import BAD_INPUT


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _names_lists(values: list[str]) -> dict[str, Path]:
    lists: dict[str, Path] = {}
    for value in values:
        list_id, sep, file = value.partition("=")
        path = Path(file if sep else value)
        if not path.is_file():
            raise typer.BadParameter(f"{path}: no such name list file", param_hint="--names")
        lists[list_id if sep else path.stem] = path
    return lists


def configure_logging(level: str) -> None:
    from ..service.guard import RequestIdFilter

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback by default)."),
    port: int = typer.Option(8081, "--port"),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    model: Optional[str] = typer.Option(None, "--model", help="Model card name (see models/)."),
    grammar: str = typer.Option("auto", "--grammar", help="Grammar backend name, or 'off'."),
    no_lm: bool = typer.Option(False, "--no-lm", help="Skip the language-model pass."),
    no_gazetteer: bool = typer.Option(False, "--no-gazetteer", help="Skip the name gazetteer."),
    calibration: str = typer.Option("default", "--calibration", help="default | off | a calibration file."),
    names: list[str] = typer.Option([], "--names", help="House name list, FILE or ID=FILE (requests pick one by ID with options.names); repeatable."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated checkers to run (default: all)."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", help="Report only findings at or above this confidence (requests may ask otherwise)."),
    token: list[str] = typer.Option([], "--token", help="Accepted bearer token; repeatable (visible in ps: prefer MTQA_API_TOKENS or --token-file)."),
    token_file: Optional[Path] = typer.Option(None, "--token-file", help="File of accepted tokens, one a line."),
    insecure_no_auth: bool = typer.Option(False, "--insecure-no-auth", help="Allow a non-loopback --host without tokens."),
    max_body_bytes: int = typer.Option(5 * 1024 * 1024, "--max-body-bytes", help="Larger request bodies get 413."),
    max_text_chars: int = typer.Option(200_000, "--max-text-chars", help="Longer texts (after HTML extraction) get 413."),
    timeout: float = typer.Option(30.0, "--timeout", help="Seconds a check may take before the answer is 504."),
    max_concurrent: int = typer.Option(64, "--max-concurrent", help="Check requests admitted at once; more get 503 + Retry-After."),
    batch_wait_ms: float = typer.Option(5.0, "--batch-wait-ms", help="How long a batch waits for other requests to join."),
    max_batch_docs: int = typer.Option(32, "--max-batch-docs", help="Documents per cross-request batch (1: no batching)."),
    workers: int = typer.Option(1, "--workers", help="Server processes, each with its own pipeline (uses more cores and memory)."),
    log_level: str = typer.Option("info", "--log-level"),
) -> None:
    """Serve /v1/check (mtqa JSON), /v2/check (LanguageTool-compatible) and the review page at /."""
    import uvicorn

    from ..checkers import REGISTRY
    from ..service import ServiceConfig, create_app
    from ..service.guard import load_tokens

    configure_logging(log_level)
    log = logging.getLogger("mtqa.service")
    selected = [n.strip() for n in only.split(",") if n.strip()] if only else None
    unknown = set(selected or ()) - set(REGISTRY)
    if unknown:
        typer.echo(f"mtqa: unknown checker(s) {', '.join(sorted(unknown))}; known: {', '.join(REGISTRY)}", err=True)
        raise typer.Exit(BAD_INPUT)
    if calibration not in ("default", "off") and not Path(calibration).is_file():
        typer.echo(f"mtqa: {calibration}: no such calibration file", err=True)
        raise typer.Exit(BAD_INPUT)
    try:
        tokens = load_tokens(token, token_file)
    except OSError as exc:
        typer.echo(f"mtqa: cannot read the token file ({exc.strerror or exc})", err=True)
        raise typer.Exit(BAD_INPUT)
    if not is_loopback(host):
        log.warning("listening on %s, which is not a loopback address: anyone who can reach it can send text; "
                    "put it behind TLS and keep the tokens secret", host)  # fmt: skip
        if not tokens and not insecure_no_auth:
            typer.echo("mtqa: refusing a non-loopback --host without tokens (give --token, MTQA_API_TOKENS or "
                       "--token-file, or --insecure-no-auth)", err=True)  # fmt: skip
            raise typer.Exit(BAD_INPUT)
    if not tokens:
        log.warning("no API tokens configured: every endpoint is open (fine on loopback for one user)")
    else:
        log.info("bearer-token auth on (%d token%s)", len(tokens), "" if len(tokens) == 1 else "s")
    settings = Settings(device=device, model=model, grammar=grammar, use_lm=not no_lm, use_gazetteer=not no_gazetteer,
                        calibration=calibration, min_confidence=min_confidence)  # fmt: skip
    config = ServiceConfig(tokens=tokens, max_body_bytes=max_body_bytes, max_text_chars=max_text_chars, timeout_s=timeout,
                           max_concurrent=max_concurrent, batch_wait_ms=batch_wait_ms, max_batch_docs=max_batch_docs,
                           names_lists=_names_lists(names))  # fmt: skip
    # access_log off: the service writes its own access line, with the request id and without headers.
    if workers > 1:
        import os

        from ..service.app import SPEC_ENV, spec_to_env

        # Each worker process builds its own app (and loads its own models) from this spec.
        os.environ[SPEC_ENV] = spec_to_env(settings, selected, config, log_level)
        uvicorn.run("mtqa.service.app:app_from_env", factory=True, workers=workers, host=host, port=port,
                    log_config=None, access_log=False)  # fmt: skip
        return
    uvicorn.run(create_app(settings, selected, config), host=host, port=port, log_config=None, access_log=False)
