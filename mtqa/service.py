"""HTTP service for a newsroom CMS pre-publish hook.

``POST /v1/check`` speaks mtqa's JSON contract; ``POST /v2/check`` speaks LanguageTool's, so
LanguageTool clients (language-tool-python's ``remote_server``, editor plug-ins) can use mtqa as
their server. One pipeline serves all requests; model weights load on the first request.
"""

from __future__ import annotations

import threading
from typing import Any, Literal, Optional

from fastapi import FastAPI, Form, HTTPException
from pydantic import BaseModel, Field

from . import __version__
from .api import check_documents, make_pipeline
from .config import Settings
from .formats import lt
from .inputs import MAX_BYTES, InputError, documents_from_text


class CheckRequest(BaseModel):
    text: Optional[str] = Field(None, description="Plain text to check.")
    html: Optional[str] = Field(None, description="HTML to check; offsets point into it.")
    id: Optional[str] = None


class FindingOut(BaseModel):
    start: int
    end: int
    text: str
    category: str
    severity: Literal["info", "warning", "error"]
    confidence: float
    message: str
    suggestions: list[str]
    check: str
    evidence: dict[str, Any]


class DocumentOut(BaseModel):
    id: Optional[str]
    path: Optional[str]
    verdict: Literal["pass", "warn", "block"]
    findings: list[FindingOut]
    errors: list[dict[str, str]]


class CheckResponse(BaseModel):
    mtqa: dict[str, Any]
    document: DocumentOut


def create_app(settings: Settings | None = None, only: list[str] | None = None) -> FastAPI:
    app = FastAPI(title="mtqa", version=__version__)
    pipeline = make_pipeline(settings or Settings(), only)
    lock = threading.Lock()  # one model, one request at a time: torch modules are not re-entrant

    def run(text: str, input_format: str, doc_id: str | None):
        if len(text.encode("utf-8")) > MAX_BYTES:
            raise HTTPException(413, f"over the {MAX_BYTES:,}-byte limit")
        if not text.strip():
            raise HTTPException(400, "empty input")
        try:
            docs = documents_from_text(text, source=doc_id or "request", path=None, input_format=input_format)
        except InputError as exc:
            raise HTTPException(400, str(exc)) from None
        for doc in docs:
            doc.id = doc_id
        with lock:
            return check_documents(docs, pipeline)[0]

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.post("/v1/check", response_model=CheckResponse)
    def check(request: CheckRequest) -> dict[str, Any]:
        if (request.text is None) == (request.html is None):
            raise HTTPException(422, 'give exactly one of "text" or "html"')
        report = run(request.text if request.text is not None else request.html, "text" if request.text is not None else "html", request.id)
        return {"mtqa": {"version": __version__, "signature": pipeline.signature}, "document": report.to_dict()}

    @app.post("/v2/check")
    def lt_check(text: str = Form(""), language: str = Form("en-US")) -> dict[str, Any]:
        if not language.lower().startswith(("en", "auto")):
            raise HTTPException(400, f"mtqa checks English only, not {language!r}")
        return lt.response(run(text, "text", None), pipeline.signature)

    @app.get("/v2/languages")
    def languages() -> list[dict[str, str]]:
        return [{"name": "English (US)", "code": "en", "longCode": "en-US"}]

    return app
