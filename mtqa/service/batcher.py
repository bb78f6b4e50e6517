"""Cross-request micro-batching: concurrent requests' documents go through one ``Pipeline.run``.

The LM scorer pads and scores a batch of sentences at once, so ten requests checked together
cost far less than ten checked one after another. The batcher thread takes the first waiting
job, waits a few milliseconds for more (or until the batch is full), and runs them together;
while a batch runs the next one fills, so batches grow with load. Jobs whose caller has gone
(timed out, disconnected) before their batch starts are dropped, never run.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Sequence

from ..document import Document
from ..pipeline import DocumentReport
from .guard import REQUEST_ID

log = logging.getLogger(__name__)

RunBatch = Callable[[Hashable, Sequence[Document]], list[DocumentReport]]


@dataclass(eq=False)
class Job:
    key: Hashable  # which pipeline (checker subset, name list) the documents need
    docs: list[Document]
    request_id: str = "-"
    future: Future = field(default_factory=Future)
    enqueued: float = field(default_factory=time.perf_counter)

    @property
    def chars(self) -> int:
        return sum(len(d.text) for d in self.docs)


class MicroBatcher:
    def __init__(
        self,
        run_batch: RunBatch,
        *,
        wait_s: float = 0.005,
        max_docs: int = 32,
        max_chars: int = 400_000,
        on_batch: Callable[[int, float], Any] | None = None,
    ) -> None:
        self.run_batch = run_batch
        self.wait_s = max(0.0, wait_s)
        self.max_docs = max(1, max_docs)
        self.max_chars = max_chars
        self.on_batch = on_batch  # (documents, seconds) per batch, for metrics
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._held: Job | None = None  # a job that did not fit the last batch: first in the next
        self._thread: threading.Thread | None = None
        self.running = 0  # documents in the batch being checked now

    @property
    def depth(self) -> int:
        """Documents waiting for a batch."""
        return self._queue.qsize() + (1 if self._held else 0)

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="mtqa-batcher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None

    def submit(self, key: Hashable, docs: list[Document], request_id: str = "-") -> Future:
        job = Job(key, docs, request_id)
        self._queue.put(job)
        return job.future

    # -- the batcher thread ----------------------------------------------------------------------
    def _next_batch(self) -> list[Job] | None:
        first = self._held or self._queue.get()
        self._held = None
        if first is None:
            return None
        batch, docs, chars = [first], len(first.docs), first.chars
        deadline = time.perf_counter() + self.wait_s
        while docs < self.max_docs and chars < self.max_chars:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.perf_counter())) if self.wait_s else self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self._queue.put(None)  # stop after this batch
                break
            if docs + len(job.docs) > self.max_docs or chars + job.chars > self.max_chars:
                self._held = job
                break
            batch.append(job)
            docs += len(job.docs)
            chars += job.chars
        return batch

    def _loop(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            # A job cancelled by its caller (timeout, disconnect) is dropped here, unrun.
            live = [job for job in batch if job.future.set_running_or_notify_cancel()]
            groups: dict[Hashable, list[Job]] = defaultdict(list)
            for job in live:
                groups[job.key].append(job)
            for key, jobs in groups.items():
                self._run_group(key, jobs)

    def _run_group(self, key: Hashable, jobs: list[Job]) -> None:
        docs = [doc for job in jobs for doc in job.docs]
        self.running = len(docs)
        # Log lines of the checkers during this run carry the ids of the requests in the batch.
        reset = REQUEST_ID.set(",".join(job.request_id for job in jobs))
        t0 = time.perf_counter()
        try:
            reports = self.run_batch(key, docs)
            seconds = time.perf_counter() - t0
            log.info("batch: %d documents from %d requests in %.3f s", len(docs), len(jobs), seconds)
        except Exception:
            # The whole batch failed (not one checker: the pipeline catches those). Retry each
            # request alone so one poisonous document cannot fail its neighbours.
            log.exception("batch of %d documents failed; retrying each request alone", len(docs))
            if len(jobs) == 1:
                jobs[0].future.set_exception(RuntimeError("the check failed"))
            else:
                for job in jobs:
                    self._run_alone(key, job)
            return
        finally:
            self.running = 0
            REQUEST_ID.reset(reset)
        if self.on_batch:
            self.on_batch(len(docs), seconds)
        at = 0
        for job in jobs:
            job.future.set_result(reports[at : at + len(job.docs)])
            at += len(job.docs)

    def _run_alone(self, key: Hashable, job: Job) -> None:
        try:
            job.future.set_result(self.run_batch(key, job.docs))
        except Exception:
            log.exception("request %s failed on its own", job.request_id)
            job.future.set_exception(RuntimeError("the check failed"))
