"""The FastAPI app: endpoints over one loaded pipeline and the cross-request batcher."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable, Optional, Sequence

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..api import make_combiner, make_pipeline
from ..combiner import Verdict
from ..config import Settings
from ..document import Document
from ..formats import lt
from ..pipeline import DocumentReport, Pipeline
from ..signature import run_signature
from . import documents
from .batcher import MicroBatcher
from .guard import REQUEST_ID, Guard, TokenCheck, error_body
from .metrics import Metrics

log = logging.getLogger("mtqa.service")
STATIC_DIR = Path(__file__).resolve().parent / "static"
# What the pipeline is warmed on at start-up, so models, gazetteer and grammar engine load then,
# never on a caller's request.
_WARM_UP = "Ukrainian forces said on Tuesday that they had retaken the village of Izium.\n\nThe army left."
_VERDICT_RANK = {Verdict.PASS: 0, Verdict.WARN: 1, Verdict.BLOCK: 2}


@dataclass
class ServiceConfig:
    tokens: tuple[str, ...] = ()  # empty: no auth (the CLI allows that on loopback only)
    max_body_bytes: int = 5 * 1024 * 1024  # HTML carries markup; the checked text has its own limit
    max_text_chars: int = 200_000  # a long feature is ~60,000 characters
    timeout_s: float = 30.0
    max_concurrent: int = 64  # check requests admitted at once (queued + running)
    retry_after_s: int = 2
    batch_wait_ms: float = 5.0  # how long the batcher waits for more requests to join a batch
    max_batch_docs: int = 32  # 1: no cross-request batching
    names_lists: dict[str, Path] = field(default_factory=dict)  # house name list id -> file


class ServiceError(Exception):
    def __init__(self, status: int, error: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.error, self.message, self.headers = status, error, message, headers or {}


class SafeJSONResponse(JSONResponse):
    """JSON whose strings may hold the caller's lone surrogates (escaped, so the bytes are UTF-8)."""

    def render(self, content: Any) -> bytes:
        return documents.escape_surrogates(json.dumps(content, ensure_ascii=False, separators=(",", ":"))).encode("utf-8")


def _error(status: int, error: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return Response(error_body(status, error, message), status, headers=headers, media_type="application/json")


class Service:
    """Loaded state: pipelines (one per house name list), their signatures, batcher, metrics."""

    def __init__(
        self,
        settings: Settings,
        only: list[str] | None,
        config: ServiceConfig,
        pipeline_factory: Callable[[Settings, list[str] | None], Pipeline] | None = None,
    ) -> None:
        self.config = config
        # The pipeline keeps every finding; each request's min confidence is applied per request.
        self.settings = dataclasses.replace(settings, names_files=tuple(settings.names_files) + tuple(config.names_lists.values()))
        self.default_min_confidence = settings.min_confidence
        self.only = only
        self.factory = pipeline_factory or make_pipeline
        self.auth = TokenCheck(config.tokens)
        self.in_flight = 0
        self.ready = False
        self.load_error: str | None = None
        self.degraded: list[dict[str, str]] = []
        self.loaded_at: float | None = None
        self.pipelines: dict[str | None, Pipeline] = {}
        self._subsets: dict[Hashable, tuple[Pipeline, dict[str, Any]]] = {}
        self.batcher = MicroBatcher(self._run_batch, wait_s=config.batch_wait_ms / 1000, max_docs=config.max_batch_docs,
                                    max_chars=max(config.max_text_chars, 400_000))  # fmt: skip
        self.metrics = Metrics(lambda: self.batcher.depth, lambda: self.in_flight)
        self.batcher.on_batch = self.metrics.observe_batch
        self.known_paths: set[str] = set()

    # -- loading (start-up, in a thread so /health answers meanwhile) -----------------------------
    def load(self) -> None:
        try:
            t0 = time.perf_counter()
            base = dataclasses.replace(self.settings, min_confidence=0.0)
            # Named house lists first: the default pipeline (all lists) loads last, so what the
            # gazetteer shares with the grammar checker knows every list.
            for list_id, path in self.config.names_lists.items():
                named = dataclasses.replace(base, names_files=(path,))
                self.pipelines[list_id] = self.factory(named, self.only)
            self.pipelines[None] = self.factory(base, self.only)
            if self.default_min_confidence is None:  # the calibration's own report threshold
                self.default_min_confidence = make_combiner(dataclasses.replace(base, min_confidence=None)).min_confidence
            for key, pipeline in self.pipelines.items():
                [report] = pipeline.run([Document.from_text(_WARM_UP)])
                pipeline.signature = run_signature(pipeline.checkers, pipeline.combiner.describe())
                self.degraded += [{"checker": f.checker, "error": f.error} for f in report.failures if key is None]
            for failure in self.degraded:
                log.warning("checker %s failed at start-up: %s (its findings will be missing)", failure["checker"], failure["error"])
            self.batcher.start()
            self.loaded_at = time.time()
            self.ready = True
            log.info("ready in %.1f s: %s", time.perf_counter() - t0, self.pipelines[None].signature.get("text"))
        except Exception as exc:
            self.load_error = f"{type(exc).__name__}: {exc}"
            log.exception("loading failed; /ready stays 503")

    def close(self) -> None:
        self.batcher.stop()
        for pipeline in self.pipelines.values():
            for checker in pipeline.checkers:
                close = getattr(checker, "close", None)
                if callable(close):
                    try:
                        close()
                    except Exception:
                        log.debug("closing %s failed", checker.name, exc_info=True)

    # -- checking ------------------------------------------------------------------------------
    def pipeline_for(self, names: str | None, checkers: Sequence[str] | None) -> tuple[Hashable, Pipeline, dict[str, Any]]:
        if not self.ready:
            raise ServiceError(503, "not_ready", "mtqa is still loading its models; retry shortly",
                               {"Retry-After": str(self.config.retry_after_s)})  # fmt: skip
        if names is not None and names not in self.pipelines:
            known = ", ".join(k for k in self.pipelines if k) or "none (start the server with --names ID=FILE)"
            raise ServiceError(400, "bad_request", f"unknown house name list {names!r}; known: {known}")
        base = self.pipelines[names]
        if not checkers:
            return (names, None), base, base.signature
        have = [c.name for c in base.checkers]
        unknown = [c for c in checkers if c not in have]
        if unknown:
            raise ServiceError(400, "bad_request", f"checker(s) {', '.join(unknown)} not available here; this server runs {', '.join(have)}")
        key = (names, tuple(sorted(set(checkers))))
        if key not in self._subsets:
            chosen = [c for c in base.checkers if c.name in key[1]]
            subset = Pipeline(chosen, base.combiner.for_checkers(chosen))
            self._subsets[key] = (subset, run_signature(subset.checkers, subset.combiner.describe()))
        pipeline, signature = self._subsets[key]
        return key, pipeline, signature

    def _run_batch(self, key: Hashable, docs: Sequence[Document]) -> list[DocumentReport]:
        names, checkers = key
        pipeline = self.pipelines[names] if checkers is None else self._subsets[key][0]
        return pipeline.run(docs)

    def filtered(self, report: DocumentReport, min_confidence: float, combiner) -> DocumentReport:
        findings = [f for f in report.findings if f.confidence >= min_confidence]
        return DocumentReport(report.document, findings, combiner.verdict(findings), report.failures, report.by_checker)

    def count(self, reports: Sequence[DocumentReport]) -> None:
        for report in reports:
            self.metrics.verdicts.labels(report.verdict.value).inc()
            for finding in report.findings:
                self.metrics.findings.labels(finding.category.value).inc()
            for failure in report.failures:
                self.metrics.checker_failures.labels(failure.checker).inc()

    async def check(self, request: Request, docs: list[Document], key: Hashable, started: float) -> list[DocumentReport]:
        """Queue the documents for a batch and wait, at most until the request's deadline."""
        for doc in docs:
            if len(doc.text) > self.config.max_text_chars:
                raise ServiceError(413, "too_large", f"{len(doc.text):,} characters of text is over the "
                                   f"{self.config.max_text_chars:,}-character limit")  # fmt: skip
        future = asyncio.wrap_future(self.batcher.submit(key, docs, REQUEST_ID.get()))
        deadline = started + self.config.timeout_s
        while True:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                future.cancel()  # dropped if its batch has not started; a running batch finishes for the others
                raise ServiceError(504, "timeout", f"the check did not finish within the server's "
                                   f"{self.config.timeout_s:g} s limit; the text was not changed, try again or send less")  # fmt: skip
            done, _ = await asyncio.wait({future}, timeout=min(remaining, 0.25))
            if done:
                try:
                    return future.result()
                except Exception:
                    raise ServiceError(500, "internal", "mtqa failed on this request; the log has the details "
                                       "under this request id") from None  # fmt: skip
            if await request.is_disconnected():  # the caller gave up: do not check for nobody
                future.cancel()
                log.info("client went away; its queued documents are dropped")
                raise ServiceError(499, "client_closed", "the client closed the connection")


# -- request and response models ---------------------------------------------------------------
class CheckOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    checkers: Optional[list[str]] = Field(None, description="Run only these checkers (default: all the server runs).")
    min_confidence: Optional[float] = Field(None, ge=0.0, le=1.0, description="Report only findings at or above this.")
    names: Optional[str] = Field(None, description="House name list id (server --names ID=FILE).")


class CheckRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: Optional[str] = None
    title: Optional[str] = Field(None, description="Headline; checked too, its offsets point into it.")
    text: Optional[str] = Field(None, description="Plain text to check.")
    html: Optional[str] = Field(None, description="HTML to check; offsets point into it.")
    options: Optional[CheckOptions] = None


def _split(value: str) -> set[str]:
    return {part.strip() for part in value.split(",") if part.strip()}


def _lt_filter(matches_of: DocumentReport, enabled_rules: set[str], disabled_rules: set[str], enabled_categories: set[str],
               disabled_categories: set[str], enabled_only: bool) -> DocumentReport:  # fmt: skip
    """LanguageTool's rule and category switches. A rule is named by mtqa's check id
    (``grammar.MORFOLOGIK_RULE_EN_US``) or, as LanguageTool clients know it, without the family
    prefix (``MORFOLOGIK_RULE_EN_US``); a category by LanguageTool-style upper-case id (``OCR``)."""

    def names(check: str) -> set[str]:
        return {check.upper(), check.split(".", 1)[-1].upper()}

    upper = lambda values: {v.upper() for v in values}  # noqa: E731
    enabled_rules, disabled_rules = upper(enabled_rules), upper(disabled_rules)
    enabled_categories, disabled_categories = upper(enabled_categories), upper(disabled_categories)
    kept = []
    for finding in matches_of.findings:
        rule, category = names(finding.check), finding.category.value.upper()
        if rule & disabled_rules or category in disabled_categories:
            continue
        if enabled_only and not (rule & enabled_rules or category in enabled_categories):
            continue
        kept.append(finding)
    return dataclasses.replace(matches_of, findings=kept)


def create_app(
    settings: Settings | None = None,
    only: list[str] | None = None,
    config: ServiceConfig | None = None,
    *,
    pipeline_factory: Callable[[Settings, list[str] | None], Pipeline] | None = None,
) -> FastAPI:
    """The service app. Models load when the app starts (its lifespan), in a thread: ``/health``
    answers at once, ``/ready`` and the check endpoints answer 503 until loading is done."""
    config = config or ServiceConfig()
    service = Service(settings or Settings(), only, config, pipeline_factory)

    async def lifespan(app: FastAPI):
        loader = threading.Thread(target=service.load, name="mtqa-loader", daemon=True)
        loader.start()
        yield
        await run_in_threadpool(loader.join, 1.0)
        service.close()

    # No /docs: the Swagger page loads its code from a CDN. /openapi.json is behind auth.
    app = FastAPI(title="mtqa", version=__version__, lifespan=lifespan, docs_url=None, redoc_url=None,
                  default_response_class=SafeJSONResponse)  # fmt: skip
    app.state.service = service
    app.add_middleware(Guard, service=service)

    @app.exception_handler(ServiceError)
    async def _service_error(request: Request, exc: ServiceError) -> Response:
        return _error(exc.status, exc.error, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, "http", str(exc.detail), getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        # Say what is wrong without echoing the (possibly megabytes of) input back.
        problems = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}" for e in exc.errors())
        return _error(422, "invalid_request", problems or "invalid request")

    def min_confidence(value: float | None) -> float:
        return service.default_min_confidence if value is None else value

    # -- liveness, readiness, info -------------------------------------------------------------
    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/ready")
    def ready() -> Response:
        if service.ready:
            return SafeJSONResponse({"status": "ready", "signature": service.pipelines[None].signature.get("text"),
                                     "degraded": service.degraded})  # fmt: skip
        status = "failed" if service.load_error else "loading"
        return SafeJSONResponse({"status": status, "error": service.load_error}, 503,
                                headers={"Retry-After": str(config.retry_after_s)})  # fmt: skip

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        from ..lm.cards import list_cards

        loaded = service.pipelines[None].signature.get("model") if service.ready else None
        cards = [{"name": c.name, "licence": c.licence, "default": c.default, "description": c.description,
                  "loaded": c.name == loaded} for c in list_cards()]  # fmt: skip
        checkers = [c.name for c in service.pipelines[None].checkers] if service.ready else []
        return {"models": cards, "lm": "lm" in checkers, "checkers": checkers,
                "names_lists": sorted(k for k in service.pipelines if k), "ready": service.ready}  # fmt: skip

    @app.get("/metrics")
    def metrics() -> Response:
        return Response(service.metrics.render(), media_type=service.metrics.content_type)

    # -- mtqa's own contract -------------------------------------------------------------------
    @app.post("/v1/check")
    async def check(body: CheckRequest, request: Request) -> Response:
        started = time.perf_counter()
        if (body.text is None) == (body.html is None):
            raise ServiceError(422, "invalid_request", 'give exactly one of "text" or "html"')
        source = body.text if body.text is not None else body.html
        if not source.strip():
            raise ServiceError(400, "bad_request", "empty input")
        options = body.options or CheckOptions()
        key, pipeline, signature = service.pipeline_for(options.names, options.checkers)

        def prepare() -> list[Document]:
            made = documents.from_text(source, body.id) if body.text is not None else documents.from_html(source, body.id)
            docs = [made]
            if body.title and body.title.strip():
                docs.append(documents.from_text(body.title, body.id))
            for doc in docs:
                doc.sentences, doc.tokens  # noqa: B018  (tokenised here, in a worker thread, not in the batch)
            return docs

        try:
            docs = await run_in_threadpool(prepare)
        except documents.BadRequest as exc:
            raise ServiceError(400, "bad_request", str(exc)) from None
        threshold = min_confidence(options.min_confidence)
        reports = [service.filtered(r, threshold, pipeline.combiner) for r in await service.check(request, docs, key, started)]
        service.count(reports)
        document = reports[0].to_dict()
        if len(reports) > 1:
            title = reports[1]
            document["title"] = {"text": body.title, "verdict": title.verdict.value,
                                 "findings": [f.to_dict(title.document.original) for f in title.findings]}  # fmt: skip
            worst = max((r.verdict for r in reports), key=_VERDICT_RANK.get)
            document["verdict"] = worst.value
        return SafeJSONResponse({"mtqa": {"version": __version__, "signature": {**signature, "min_confidence": threshold},
                                          "request_id": REQUEST_ID.get()}, "document": document})  # fmt: skip

    # -- LanguageTool's HTTP API ---------------------------------------------------------------
    @app.post("/v2/check")
    async def lt_check(request: Request) -> Response:
        started = time.perf_counter()
        # Read the form here, not with Form(): Starlette caps each field at 1 MB, and the limits
        # are the service's own (--max-body-bytes, --max-text-chars, both answered with 413).
        try:
            form = await request.form(max_part_size=config.max_body_bytes)
        except StarletteHTTPException as exc:
            raise ServiceError(400, "bad_request", str(exc.detail)) from None
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
        text, data = fields.get("text"), fields.get("data")
        language = fields.get("language", "en-US")
        enabledRules, disabledRules = fields.get("enabledRules", ""), fields.get("disabledRules", "")  # noqa: N806
        enabledCategories = fields.get("enabledCategories", "")  # noqa: N806  (LanguageTool's field names)
        disabledCategories = fields.get("disabledCategories", "")  # noqa: N806
        enabledOnly, level = fields.get("enabledOnly", "false"), fields.get("level", "default")  # noqa: N806
        if level not in ("default", "picky"):
            raise ServiceError(400, "bad_request", f"level must be default or picky, not {level!r}")
        if not language.lower().startswith(("en", "auto")):
            raise ServiceError(400, "bad_request", f"mtqa checks English only, not {language!r}")
        if (text is None) == (data is None):
            raise ServiceError(400, "bad_request", 'give exactly one of "text" or "data"')
        if text is not None and not text.strip():
            raise ServiceError(400, "bad_request", "empty input")
        only_enabled = enabledOnly.lower() == "true"
        if only_enabled and not (enabledRules.strip() or enabledCategories.strip()):
            raise ServiceError(400, "bad_request", "enabledOnly=true needs enabledRules or enabledCategories")
        key, pipeline, signature = service.pipeline_for(None, None)

        def prepare() -> Document:
            doc = documents.from_text(text, None) if text is not None else documents.from_annotated(data)
            doc.sentences, doc.tokens  # noqa: B018
            return doc

        try:
            doc = await run_in_threadpool(prepare)
        except documents.BadRequest as exc:
            raise ServiceError(400, "bad_request", str(exc)) from None
        # picky: everything the checkers found; default: the server's report threshold.
        threshold = 0.0 if level == "picky" else min_confidence(None)
        [report] = await service.check(request, [doc], key, started)
        report = service.filtered(report, threshold, pipeline.combiner)
        report = _lt_filter(report, _split(enabledRules), _split(disabledRules), _split(enabledCategories),
                            _split(disabledCategories), only_enabled)  # fmt: skip
        service.count([report])
        payload = lt.response(report, signature)
        payload["warnings"] = {"incompleteResults": bool(report.failures)}
        payload["mtqa"] = {"verdict": report.verdict.value, "errors": [{"checker": f.checker, "error": f.error} for f in report.failures],
                           "request_id": REQUEST_ID.get()}  # fmt: skip
        return SafeJSONResponse(payload)

    @app.get("/v2/languages")
    def languages() -> list[dict[str, str]]:
        return [{"name": "English (US)", "code": "en", "longCode": "en-US"},
                {"name": "English (GB)", "code": "en", "longCode": "en-GB"}]  # fmt: skip

    @app.get("/v2/info")
    def info() -> dict[str, Any]:
        signature = service.pipelines[None].signature if service.ready else {}
        return {"software": {"name": "mtqa", "version": __version__, "apiVersion": 1, "premium": False,
                             "status": signature.get("text", "loading")},
                "checkers": [c.name for c in service.pipelines[None].checkers] if service.ready else [],
                "categories": sorted(c.upper() for c in ("name", "realword", "spelling", "grammar", "garble", "ocr",
                                                          "boilerplate", "style"))}  # fmt: skip

    # -- the review page -----------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    service.known_paths = {r.path for r in app.routes if hasattr(r, "path")} | {"/openapi.json"}
    return app


SPEC_ENV = "MTQA_SERVE_SPEC"


def spec_to_env(settings: Settings, only: list[str] | None, config: ServiceConfig, log_level: str) -> str:
    """What ``mtqa serve --workers N`` hands each worker process (they build their own app)."""
    return json.dumps({"settings": dataclasses.asdict(settings), "only": only, "config": dataclasses.asdict(config),
                       "log_level": log_level}, default=str)  # fmt: skip


def app_from_env() -> FastAPI:
    """App factory for uvicorn's worker processes: one pipeline (and one batcher) per process."""
    spec = json.loads(os.environ[SPEC_ENV])
    settings = spec["settings"]
    settings["names_files"] = tuple(Path(p) for p in settings.get("names_files", ()))
    config = spec["config"]
    config["tokens"] = tuple(config["tokens"])
    config["names_lists"] = {k: Path(v) for k, v in config["names_lists"].items()}
    from ..cli.serve import configure_logging

    configure_logging(spec.get("log_level", "info"))
    return create_app(Settings(**settings), spec["only"], ServiceConfig(**config))
