"""What every request passes through first: request id, bearer auth, size and concurrency limits,
error bodies without stack traces, one access-log line. A plain ASGI middleware, so a body that is
too large is refused while it streams in, before anything parses it."""

from __future__ import annotations

import contextvars
import hashlib
import hmac
import json
import logging
import os
import re
import time
import uuid
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable

from starlette.datastructures import Headers, MutableHeaders

log = logging.getLogger("mtqa.service")
access_log = logging.getLogger("mtqa.service.access")

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("mtqa_request_id", default="-")
_GOOD_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")
PUBLIC_PATHS = {"/health"}
# The review page and its files hold no data; the API calls it makes carry the token.
PAGE_PATHS = {"/", "/favicon.ico"}
PAGE_PREFIX = "/static/"
CHECK_PATHS = {"/v1/check", "/v2/check"}


class RequestIdFilter(logging.Filter):
    """Puts the current request id on every log record (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


def load_tokens(given: Iterable[str] = (), token_file: str | Path | None = None, env: str | None = None) -> tuple[str, ...]:
    """Tokens from ``--token``, ``MTQA_API_TOKENS`` (comma or whitespace separated) and a file
    (one per line, ``#`` comments)."""
    tokens = [t.strip() for t in given if t and t.strip()]
    env = os.environ.get("MTQA_API_TOKENS", "") if env is None else env
    tokens += [t for t in re.split(r"[\s,]+", env) if t]
    if token_file:
        for line in Path(token_file).read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                tokens.append(line)
    return tuple(dict.fromkeys(tokens))


class TokenCheck:
    """Constant-time bearer-token check: digests of equal length, every token compared."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._digests = [hashlib.sha256(t.encode("utf-8")).digest() for t in tokens]

    @property
    def enabled(self) -> bool:
        return bool(self._digests)

    def __call__(self, authorization: str | None) -> bool:
        scheme, _, given = (authorization or "").partition(" ")
        digest = hashlib.sha256(given.strip().encode("utf-8", "surrogatepass")).digest()
        ok = False
        for known in self._digests:
            ok |= hmac.compare_digest(known, digest)
        return ok and scheme.lower() == "bearer"


def error_body(status: int, error: str, message: str, **extra: Any) -> bytes:
    return json.dumps({"error": error, "message": message, "status": status, "request_id": REQUEST_ID.get(), **extra}).encode()


Send = Callable[[dict], Awaitable[None]]


async def send_error(send: Send, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
    body = error_body(status, error, message)
    raw = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    raw += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


class Guard:
    def __init__(self, app, service) -> None:
        self.app = app
        self.service = service  # limits, token check, metrics, in-flight count

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        incoming = headers.get("x-request-id", "")
        request_id = incoming if _GOOD_ID.fullmatch(incoming) else uuid.uuid4().hex[:16]
        reset = REQUEST_ID.set(request_id)
        path = scope.get("path", "")
        state = {"status": 500, "started": False}
        t0 = time.perf_counter()
        service = self.service
        admitted = False

        async def tagged_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["X-Request-ID"] = request_id
                state["status"], state["started"] = message["status"], True
            await send(message)

        try:
            public = path in PUBLIC_PATHS or path in PAGE_PATHS or path.startswith(PAGE_PREFIX)
            if not public and service.auth.enabled and not service.auth(headers.get("authorization")):
                service.metrics.rejected.labels("unauthorized").inc()
                await send_error(tagged_send, 401, "unauthorized", "a valid bearer token is required "
                                 "(Authorization: Bearer <token>)", {"WWW-Authenticate": "Bearer"})  # fmt: skip
                return
            limit = service.config.max_body_bytes
            length = headers.get("content-length")
            if length and length.isdigit() and int(length) > limit:
                service.metrics.rejected.labels("too_large").inc()
                await send_error(tagged_send, 413, "too_large", f"the request body is over the {limit:,}-byte limit")
                return
            if path in CHECK_PATHS:
                if service.in_flight >= service.config.max_concurrent:
                    service.metrics.rejected.labels("saturated").inc()
                    await send_error(tagged_send, 503, "saturated", "the service is at its concurrency limit; retry shortly",
                                     {"Retry-After": str(service.config.retry_after_s)})  # fmt: skip
                    return
                service.in_flight += 1
                admitted = True
            received = 0

            async def counted_receive() -> dict:
                nonlocal received
                message = await receive()
                if message["type"] == "http.request":
                    received += len(message.get("body", b""))
                    if received > limit:  # answer now; the app sees a disconnect and its answer is dropped
                        if not state["started"]:
                            service.metrics.rejected.labels("too_large").inc()
                            await send_error(tagged_send, 413, "too_large", f"the request body is over the {limit:,}-byte limit")
                        state["hijacked"] = True
                        return {"type": "http.disconnect"}
                return message

            async def app_send(message: dict) -> None:
                if not state.get("hijacked"):
                    await tagged_send(message)

            await self.app(scope, counted_receive, app_send)
        except Exception:
            log.exception("unhandled error on %s", path)  # the trace goes to the log, never to the caller
            if not state["started"] and not state.get("hijacked"):
                await send_error(tagged_send, 500, "internal", "mtqa failed on this request; the log has the details "
                                 "under this request id")  # fmt: skip
        finally:
            if admitted:
                service.in_flight -= 1
            seconds = time.perf_counter() - t0
            endpoint = path if path in service.known_paths else ("/static" if path.startswith(PAGE_PREFIX) else "other")
            service.metrics.requests.labels(endpoint, str(state["status"])).inc()
            service.metrics.latency.labels(endpoint).observe(seconds)
            access_log.info("%s %s %s %.3fs", scope.get("method", "-"), path, state["status"], seconds)
            REQUEST_ID.reset(reset)
