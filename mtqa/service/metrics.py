"""Prometheus metrics, one registry per app (tests build many apps in one process)."""

from __future__ import annotations

from typing import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

_LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self, queue_depth: Callable[[], float], in_flight: Callable[[], float]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter("mtqa_requests", "HTTP requests answered.", ["endpoint", "status"],
                                registry=self.registry)  # fmt: skip
        self.latency = Histogram("mtqa_request_seconds", "Time to answer a request.", ["endpoint"],
                                 buckets=_LATENCY_BUCKETS, registry=self.registry)  # fmt: skip
        self.findings = Counter("mtqa_findings", "Findings reported, by category.", ["category"], registry=self.registry)
        self.verdicts = Counter("mtqa_verdicts", "Documents checked, by verdict.", ["verdict"], registry=self.registry)
        self.checker_failures = Counter("mtqa_checker_failures", "Checker failures (degraded answers).", ["checker"],
                                        registry=self.registry)  # fmt: skip
        self.batch_docs = Histogram("mtqa_batch_documents", "Documents per pipeline run (cross-request batch).",
                                    buckets=(1, 2, 4, 8, 16, 32, 64), registry=self.registry)  # fmt: skip
        self.batch_seconds = Histogram("mtqa_batch_seconds", "Time of one pipeline run.", buckets=_LATENCY_BUCKETS,
                                       registry=self.registry)  # fmt: skip
        self.rejected = Counter("mtqa_rejected", "Requests refused before checking.", ["reason"], registry=self.registry)
        Gauge("mtqa_queue_depth", "Documents waiting for a batch.", registry=self.registry).set_function(queue_depth)
        Gauge("mtqa_in_flight", "Check requests being answered.", registry=self.registry).set_function(in_flight)

    def observe_batch(self, documents: int, seconds: float) -> None:
        self.batch_docs.observe(documents)
        self.batch_seconds.observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)
