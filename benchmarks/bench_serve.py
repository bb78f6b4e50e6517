"""Load test of ``mtqa serve`` on 127.0.0.1: throughput and latency with and without cross-request batching.

    python -m benchmarks.bench_serve [--requests 200] [--concurrency 32] [--lm] [--article FILE]

For each mode a fresh server starts on a free loopback port (never another host), is warmed with a
few requests, then ``--concurrency`` asyncio clients (httpx) send ``--requests`` POST /v1/check of
the article between them, each client waiting for its answer before sending the next. Reported:
requests/s, p50/p95/p99 latency, errors (any non-200 or transport error) and lost requests (sent
but never answered). Modes: ``batched`` (the default server: concurrent requests share one
pipeline run), ``unbatched`` (``--max-batch-docs 1``: one request per run) and ``saturation`` (a
server capped at 8 concurrent checks under the same clients: the excess must get 503 at once,
never hang); ``batched-2-workers`` is ``batched`` with two server processes (``--workers 2``).
Documents per pipeline run (from /metrics, which is per process) is not reported for that mode. Without ``--lm`` the LM checker is off (the CPU default); batching pays off mainly
for the LM scorer, so ``--lm`` is the real measure.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from .harness import write_results

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = Path(__file__).resolve().parent / "data" / "serve_article.txt"
HOST = "127.0.0.1"  # only ever the loopback interface


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Server:
    def __init__(self, args: list[str], ready_within: float, workers: int = 1) -> None:
        self.port = free_port()
        self.workers = workers
        self.url = f"http://{HOST}:{self.port}"
        self.log = Path(tempfile.gettempdir()) / f"mtqa-bench-serve-{self.port}.log"
        command = [sys.executable, "-m", "mtqa", "serve", "--host", HOST, "--port", str(self.port), *args]
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_within
        while True:
            if self.process.poll() is not None:
                raise SystemExit(f"mtqa serve exited {self.process.returncode}: see {self.log}")
            # Each worker process logs its own "ready" line once its pipeline has loaded.
            if self.log.read_text(encoding="utf-8", errors="replace").count("mtqa.service: ready in") >= workers:
                break
            try:
                httpx.get(f"{self.url}/health", timeout=2)
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"mtqa serve not ready in {ready_within} s: see {self.log}")
            time.sleep(0.25)

    def metric(self, name: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=10).text
        match = re.search(rf"^{name} ([0-9.e+-]+)$", text, re.M)
        return float(match.group(1)) if match else 0.0

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def load(url: str, body: dict[str, Any], requests: int, concurrency: int, timeout: float) -> dict[str, Any]:
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent = answered = 0
    slowest_refusal = 0.0
    next_index = 0

    async def client(http: httpx.AsyncClient) -> None:
        nonlocal sent, answered, next_index, slowest_refusal
        while next_index < requests:
            next_index += 1
            sent += 1
            t0 = time.perf_counter()
            try:
                response = await http.post(f"{url}/v1/check", json=body)
                status = str(response.status_code)
                answered += 1
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            seconds = time.perf_counter() - t0
            statuses[status] = statuses.get(status, 0) + 1
            if status == "200":
                latencies.append(seconds)
            elif status == "503":
                slowest_refusal = max(slowest_refusal, seconds)

    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:
        t0 = time.perf_counter()
        await asyncio.gather(*(client(http) for _ in range(concurrency)))
        wall = time.perf_counter() - t0
    ok = statuses.get("200", 0)
    return {
        "requests": requests, "concurrency": concurrency, "seconds": round(wall, 2),
        "requests_per_s": round(ok / wall, 2), "p50_s": percentile(latencies, 50), "p95_s": percentile(latencies, 95),
        "p99_s": percentile(latencies, 99), "ok": ok, "refused_503": statuses.get("503", 0),
        "errors": sent - ok - statuses.get("503", 0), "lost": sent - answered,
        "statuses": statuses, "slowest_503_s": round(slowest_refusal, 3) if "503" in statuses else None,
    }  # fmt: skip


def run_mode(mode: str, server_args: list[str], body: dict, args: argparse.Namespace) -> dict[str, Any]:
    extra = {"batched": [], "unbatched": ["--max-batch-docs", "1"], "batched-2-workers": ["--workers", "2"],
             "saturation": ["--max-concurrent", "8"]}[mode]  # fmt: skip
    print(f"[{mode}] starting mtqa serve {' '.join(server_args + extra)}", flush=True)
    server = Server(server_args + extra, args.ready_within, workers=2 if "--workers" in extra else 1)
    try:
        asyncio.run(load(server.url, body, args.warmup, min(4, args.concurrency), args.timeout))
        before_docs, before_runs = server.metric("mtqa_batch_documents_sum"), server.metric("mtqa_batch_documents_count")
        requests = args.requests if mode != "saturation" else max(args.concurrency * 2, args.requests // 4)
        result = asyncio.run(load(server.url, body, requests, args.concurrency, args.timeout))
        runs = server.metric("mtqa_batch_documents_count") - before_runs
        docs = server.metric("mtqa_batch_documents_sum") - before_docs
        # /metrics is per process: with several workers the deltas mix processes, so say nothing.
        result["documents_per_pipeline_run"] = round(docs / runs, 2) if runs > 0 and server.workers == 1 else None
        result["mode"] = mode
        result["server_signature"] = httpx.get(f"{server.url}/ready", timeout=10).json().get("signature")
        print(f"[{mode}] {result}", flush=True)
        return result
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--warmup", type=int, default=4)
    parser.add_argument("--lm", action="store_true", help="with the language model (slow on CPU)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--article", type=Path, default=ARTICLE)
    parser.add_argument("--modes", default="batched,unbatched,batched-2-workers,saturation")
    parser.add_argument("--timeout", type=float, default=600.0, help="client timeout per request")
    parser.add_argument("--ready-within", type=float, default=900.0)
    args = parser.parse_args(argv)
    text = args.article.read_text(encoding="utf-8")
    body = {"text": text}
    # The server's own timeout must not cut a long queue short: the load test measures queueing.
    server_args = ["--timeout", str(args.timeout), "--device", args.device] + ([] if args.lm else ["--no-lm"])
    os.environ.setdefault("MTQA_THREADS", str(os.cpu_count() or 1))
    rows = [run_mode(mode, server_args, body, args) for mode in args.modes.split(",")]
    name = "bench-serve-lm" if args.lm else "bench-serve"
    write_results(name, {"article": str(args.article.relative_to(ROOT) if args.article.is_relative_to(ROOT) else args.article),
                         "article_words": len(text.split()), "lm": args.lm, "cpu_count": os.cpu_count(),
                         "mtqa_threads": os.environ.get("MTQA_THREADS"), "results": rows})  # fmt: skip
    print("\n| mode | requests | clients | req/s | p50 s | p95 s | p99 s | 503 (slowest s) | errors | lost | docs per run |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        cells = [r["mode"], r["requests"], r["concurrency"], r["requests_per_s"], *(f"{r[k]:.2f}" if r[k] is not None else "-"
                 for k in ("p50_s", "p95_s", "p99_s")), f"{r['refused_503']} ({r['slowest_503_s']})" if r["refused_503"] else "0", r["errors"], r["lost"], r["documents_per_pipeline_run"] or "-"]  # fmt: skip
        print("| " + " | ".join(str(c) for c in cells) + " |")


if __name__ == "__main__":
    main()
