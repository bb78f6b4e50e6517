"""``mtqa batch --engine ray``: the same chunks, checked by a pool of Ray actors.

Each actor holds one pipeline (one model replica): it reserves one GPU when the LM runs on CUDA,
else ``cpus_per_worker`` cores. Records travel raw and are parsed (HTML included) on the workers;
the driver only reads input, keeps the order and appends to the output, so resuming, the output
file and the summary are exactly the local engine's. All checkers of a document run in one actor
because they share per-document annotations (LM scores feed the names and garble checkers).

Connects to ``address`` (or ``RAY_ADDRESS``) when given, else starts a local Ray instance.
"""

from __future__ import annotations

import os
from collections import deque
from typing import Any, Iterable, Iterator

from ..api import make_pipeline
from ..config import Settings
from .core import check_records, counters_since, lm_counters, prime
from .sources import Record


def refuse_unplaceable(cluster: dict[str, float], cpus: float, gpus: float, workers: int) -> None:
    """Actors that can never be placed would make the run wait for ever: say so at once."""
    for kind, each in (("CPU", cpus), ("GPU", gpus)):
        if each and workers * each > cluster.get(kind, 0):
            raise ValueError(f"{workers} workers x {each:g} {kind} each do not fit the Ray cluster "
                             f"({cluster.get(kind, 0):g} {kind}); lower --workers or --{kind.lower()}s-per-worker")


class CheckWorker:
    """One pipeline on a Ray worker (a plain class: ``ray.remote`` is applied when Ray is in use)."""

    def __init__(self, settings: Settings, only: list[str] | None) -> None:
        self.pipeline = make_pipeline(settings, only)
        self._signature = prime(self.pipeline)
        self._primed = lm_counters(self.pipeline)

    def signature(self) -> dict[str, Any]:
        return self._signature

    def lm_counters(self) -> dict[str, int]:
        return counters_since(lm_counters(self.pipeline), self._primed)

    def check(self, records: list[Record]) -> list[dict[str, Any]]:
        return check_records(self.pipeline, records)


class RayEngine:
    name = "ray"

    def __init__(
        self,
        settings: Settings | None = None,
        only: list[str] | None = None,
        *,
        workers: int | None = None,
        cpus_per_worker: float | None = None,
        gpus_per_worker: float | None = None,
        address: str | None = None,
        in_flight: int = 2,
    ) -> None:
        self.settings = settings or Settings()
        self.only = only
        self.workers = workers
        self.cpus_per_worker = cpus_per_worker
        self.gpus_per_worker = gpus_per_worker
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.in_flight = max(1, in_flight)  # chunks queued per actor, so none waits on the driver
        self._actors: list[Any] = []
        self._started_ray = False

    def _resources(self, cluster: dict[str, float]) -> tuple[float, float, int]:
        uses_lm = self.settings.use_lm and (self.only is None or "lm" in self.only)
        gpus = self.gpus_per_worker
        if gpus is None:
            wants_gpu = uses_lm and self.settings.device in ("cuda", "auto") and cluster.get("GPU", 0) >= 1
            gpus = 1.0 if wants_gpu else 0.0
        cpus = self.cpus_per_worker
        if cpus is None:
            # An LM replica on CPU wants a few cores of its own (torch threads); the rest want one.
            cpus = 1.0 if (gpus or not uses_lm) else 2.0
        workers = self.workers
        if workers is None:
            by_cpu = int(cluster.get("CPU", 1) // cpus) if cpus else 1 << 30
            by_gpu = int(cluster.get("GPU", 0) // gpus) if gpus else 1 << 30
            workers = max(1, min(by_cpu, by_gpu))
        return cpus, gpus, workers

    def start(self) -> dict[str, Any]:
        import ray

        if not ray.is_initialized():
            if self.address:
                ray.init(address=self.address, log_to_driver=False)
            else:
                ray.init(include_dashboard=False, log_to_driver=False)
            self._started_ray = True
        cluster = ray.cluster_resources()
        cpus, gpus, workers = self._resources(cluster)
        refuse_unplaceable(cluster, cpus, gpus, workers)
        self.cpus_per_worker, self.gpus_per_worker, self.workers = cpus, gpus, workers
        # Torch on a worker uses as many threads as the cores it reserved, not the whole node's.
        env = {"MTQA_THREADS": str(max(1, int(cpus)))}
        actor = ray.remote(CheckWorker).options(num_cpus=cpus, num_gpus=gpus, runtime_env={"env_vars": env})
        self._actors = [actor.remote(self.settings, self.only) for _ in range(workers)]
        signatures = ray.get([a.signature.remote() for a in self._actors])
        # Replicas on different hardware (a GPU node and a CPU node) would write mixed reports.
        if any(s != signatures[0] for s in signatures[1:]):
            raise RuntimeError("Ray workers disagree on the run signature (different hardware or installs?)")
        return signatures[0]

    def map(self, chunks: Iterable[list[Record]]) -> Iterator[list[dict[str, Any]]]:
        import ray

        queue: deque = deque()
        window = len(self._actors) * self.in_flight
        for n, chunk in enumerate(chunks):
            queue.append(self._actors[n % len(self._actors)].check.remote(chunk))
            if len(queue) >= window:
                yield ray.get(queue.popleft())  # oldest first: the output keeps the input's order
        while queue:
            yield ray.get(queue.popleft())

    def lm_counters(self) -> dict[str, int]:
        import ray

        total: dict[str, int] = {}
        for counters in ray.get([a.lm_counters.remote() for a in self._actors]):
            for key, value in counters.items():
                total[key] = total.get(key, 0) + value
        return total

    def describe(self) -> dict[str, Any]:
        return {"engine": self.name, "workers": self.workers, "cpus_per_worker": self.cpus_per_worker,
                "gpus_per_worker": self.gpus_per_worker}  # fmt: skip

    def close(self) -> None:
        import ray

        for actor in self._actors:
            ray.kill(actor)
        self._actors = []
        if self._started_ray:
            ray.shutdown()
            self._started_ray = False
