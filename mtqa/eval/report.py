"""Printed tables for eval and bench runs (rich)."""

from __future__ import annotations

from typing import Any, Sequence

from rich.console import Console
from rich.table import Table


def fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.3f}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def table(title: str, rows: Sequence[dict[str, Any]], caption: str | None = None) -> Table:
    out = Table(title=title, caption=caption, title_justify="left", caption_justify="left")
    columns = list(dict.fromkeys(k for row in rows for k in row))
    for column in columns:
        out.add_column(column, justify="left" if column in (columns[0], "run", "checkers") else "right")
    for row in rows:
        out.add_row(*(fmt(row.get(c)) for c in columns))
    return out


def print_eval(payload: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=None if Console().is_terminal else 160)
    title = f"mtqa eval {payload['dataset']} (split={payload['split']}, limit={payload['limit']})"
    speed = f"{payload['n_documents']} docs in {payload['seconds']}s"
    if payload.get("docs_per_s"):
        speed += f" = {payload['docs_per_s']} docs/s"
    if payload.get("lm_tokens_per_s"):
        speed += f", LM {payload['lm_tokens_per_s']} tokens/s"
    caption = (
        f"checkers: {', '.join(payload['checkers']) or 'none'} | {speed} | "
        f"data {payload['dataset_hash']} | git {payload['git']}"
    )
    console.print(table(title, payload["table"], caption))
    for key, rows in payload.get("details", {}).items():
        if key.endswith("_table") and rows:
            console.print(table(f"{payload['dataset']}: {key[: -len('_table')].replace('_', ' ')}", rows))
    if payload.get("by_check"):
        console.print(table("findings by check (precision = share of labelled findings that hit gold)",
                            payload["by_check"][:15]))  # fmt: skip
    for name, reason in payload.get("unavailable", {}).items():
        console.print(f"[yellow]unavailable[/]: {name}: {reason}", highlight=False)
    for name, reason in payload.get("failed", {}).items():
        console.print(f"[red]failed[/]: {name}: {reason}", highlight=False)
