"""``run_batch``: stream records through an engine into the append-only output, resumably."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator, Protocol, Sequence

from ..api import make_pipeline
from ..config import Settings
from ..pipeline import Pipeline
from . import sources
from .core import (OutputLog, check_records, chunked, counters_since, lm_counters, now, prime, read_summary,
                   summary_path, write_json_atomic)
from .sources import Record

SUMMARY_EVERY_S = 5.0  # rewrite the summary at most this often while running (and always at the end)


class Refused(Exception):
    """The run would mix reports of different configurations into one output (or cannot tell)."""


class Engine(Protocol):
    name: str

    def start(self) -> dict[str, Any]:
        """Build the workers and return the run signature (of a primed pipeline)."""

    def map(self, chunks: Iterable[list[Record]]) -> Iterator[list[dict[str, Any]]]:
        """Output lines per chunk, in the order the chunks came."""

    def describe(self) -> dict[str, Any]: ...

    def lm_counters(self) -> dict[str, int]:
        """The LM counters of the checking so far (priming excluded), summed over the workers."""

    def close(self) -> None: ...


class LocalEngine:
    """One pipeline in this process."""

    name = "local"

    def __init__(self, settings: Settings | None = None, only: list[str] | None = None,
                 pipeline: Pipeline | None = None) -> None:  # fmt: skip
        self.settings = settings or Settings()
        self.only = only
        self.pipeline = pipeline
        self._primed: dict[str, int] = {}

    def start(self) -> dict[str, Any]:
        if self.pipeline is None:
            self.pipeline = make_pipeline(self.settings, self.only)
        signature = prime(self.pipeline)
        self._primed = lm_counters(self.pipeline)
        return signature

    def lm_counters(self) -> dict[str, int]:
        return counters_since(lm_counters(self.pipeline), self._primed) if self.pipeline else {}

    def map(self, chunks: Iterable[list[Record]]) -> Iterator[list[dict[str, Any]]]:
        assert self.pipeline is not None, "start() first"
        for chunk in chunks:
            yield check_records(self.pipeline, chunk)

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "workers": 1}

    def close(self) -> None:
        pass


@dataclass
class BatchResult:
    summary: dict[str, Any]
    checked: int  # documents checked by this run
    skipped: int  # already in the output


def signature_differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    keys = sorted(set(old) | set(new))
    return [key for key in keys if old.get(key) != new.get(key)]


def run_batch(
    input: str,
    output: str | Path,
    engine: Engine,
    *,
    chunk_size: int = 32,
    force: bool = False,
    new: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    stdin: BinaryIO | None = None,
) -> BatchResult:
    """Check every record of ``input`` not yet in ``output``; raise Refused rather than mix signatures.

    ``progress(checked, pending)`` is called after each chunk (``pending`` None when unknown).
    """
    started = time.perf_counter()
    output = Path(output)
    log = OutputLog(output)
    summary_file = summary_path(output)
    if new:
        log.reset()
        summary_file.unlink(missing_ok=True)
    else:
        log.scan()
    old = read_summary(summary_file) if log.stats.documents else None
    if log.stats.documents and not (old and old.get("signature")) and not force:
        raise Refused(f"{output} holds {log.stats.documents} reports but {summary_file} (with the run signature) "
                      "is missing or unreadable; --force appends anyway, --new starts over")  # fmt: skip
    resumed = log.stats.documents
    total = sources.count(input)
    pending_total = None if total is None else max(total - resumed, 0)

    skipped = 0

    def pending(items: Iterable[Record]) -> Iterator[Record]:
        nonlocal skipped
        for record in items:
            if record.id in log.done:
                skipped += 1
            else:
                yield record

    chunks = chunked(pending(sources.records(input, stdin)), chunk_size)
    first = next(chunks, None)
    skip_seconds = time.perf_counter() - started  # reading the old output and skipping to the first new record
    state: dict[str, Any] = {
        "signature": (old or {}).get("signature"),
        "previous_signatures": (old or {}).get("previous_signatures", []),
        "started_at": now(),
        "start_seconds": 0.0,
    }
    checked = 0
    last_write = 0.0

    def summary(status: str) -> dict[str, Any]:
        seconds = time.perf_counter() - started
        work = max(seconds - skip_seconds - state["start_seconds"], 1e-9)
        payload = {
            "mtqa_batch": 1,
            "status": status,
            "input": input,
            "output": str(output),
            **log.stats.to_dict(),
            "throughput": {
                **engine.describe(), "chunk_size": chunk_size, "started_at": state["started_at"], "updated_at": now(),
                "seconds": round(seconds, 3), "checked": checked,
                "documents_per_second": round(checked / work, 3) if checked else None,
                "skipped": skipped, "skip_seconds": round(skip_seconds, 3), "start_seconds": round(state["start_seconds"], 3),
                "torn_bytes_cut": log.recovered_bytes,
            },
            "signature": state["signature"],
        }  # fmt: skip
        if state["previous_signatures"]:
            payload["previous_signatures"] = state["previous_signatures"]
        if status != "running" and checked:
            # At the end only: asking Ray actors mid-run would queue behind their chunks.
            try:
                counters = engine.lm_counters()
            except Exception:  # workers gone after a failure: the summary must still be written
                counters = {}
            if counters.get("forward_tokens"):
                payload["lm"] = {**counters, "tokens_per_second": round(counters["forward_tokens"] / work, 1)}
        write_json_atomic(summary_file, payload)
        return payload

    if first is None:  # nothing new: no model needs loading to say so
        return BatchResult(summary("complete"), 0, skipped)

    if progress:
        progress(0, pending_total)  # the total shows while the workers load
    t_start = time.perf_counter()
    signature = engine.start()
    state["start_seconds"] = time.perf_counter() - t_start  # building and priming the workers
    try:
        if state["signature"] and resumed and state["signature"] != signature:
            differ = ", ".join(signature_differences(state["signature"], signature))
            if not force:
                raise Refused(f"{output} was written with a different run signature (differs in: {differ}); "
                              "--force appends anyway, --new starts over")  # fmt: skip
            state["previous_signatures"] = [*state["previous_signatures"], state["signature"]]
        state["signature"] = signature
        summary("running")
        last_write = time.perf_counter()
        status = "interrupted"
        try:
            for lines in engine.map(chain([first], chunks)):
                log.append(lines)
                checked += len(lines)
                if progress:
                    progress(checked, pending_total)
                if time.perf_counter() - last_write >= SUMMARY_EVERY_S:
                    summary("running")
                    last_write = time.perf_counter()
            status = "complete"
        finally:
            log.close()
            final = summary(status)
    finally:
        engine.close()
    return BatchResult(final, checked, skipped)


def make_engine(name: str, settings: Settings, only: Sequence[str] | None = None, **ray_options: Any) -> Engine:
    if name == "local":
        return LocalEngine(settings, list(only) if only else None)
    if name == "ray":
        from .ray_engine import RayEngine

        return RayEngine(settings, list(only) if only else None, **ray_options)
    raise ValueError(f"unknown engine {name!r} (local, ray)")
