"""The service cases of the hostile-input corpus: lone surrogates and odd line breaks in request
bodies are checked (never a 500), and findings quote the caller's own characters."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from mtqa.config import Settings
from mtqa.service import create_app
from tests.hostile.corpus import LINE_BREAKS, PLANTED


@pytest.fixture(scope="module")
def client():
    # grammar is the checker a lone surrogate used to break (LingoTweaker encodes to UTF-8)
    with TestClient(create_app(Settings(use_lm=False, calibration="off"), only=["ocr", "grammar"])) as c:
        deadline = time.monotonic() + 120
        while c.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, "service never became ready"
            time.sleep(0.1)
        yield c


def _post(client, body: dict):
    # json.dumps writes lone surrogates as \ud800 escapes, exactly what a JavaScript client sends
    return client.post("/v1/check", content=json.dumps(body), headers={"content-type": "application/json"})


def _document(body: dict) -> dict:
    return body["document"] if "document" in body else body["documents"][0]


@pytest.mark.parametrize("text", ["a \ud800 b", f"a \udfff {PLANTED} b \ud83d", f"\ud800{PLANTED}\udc00 end."])
def test_lone_surrogates_are_checked_not_500(client, text):
    response = _post(client, {"text": text})
    assert response.status_code == 200, response.text
    doc = _document(response.json())
    assert doc["errors"] == []
    for f in doc["findings"]:
        assert f["text"] == text[f["start"] : f["end"]]
    if PLANTED in text:
        assert text.index(PLANTED) in {f["start"] for f in doc["findings"] if f["text"] == PLANTED}


@pytest.mark.parametrize("key", sorted(LINE_BREAKS))
def test_every_line_break_in_html_points_at_the_right_words(client, key):
    br = LINE_BREAKS[key]
    html = f"<p>Intro line{br}one.</p>{br}<p>The mayor said {PLANTED} council voted. Then {PLANTED} end.</p>"
    response = _post(client, {"html": html})
    assert response.status_code == 200, response.text
    doc = _document(response.json())
    starts = {f["start"] for f in doc["findings"] if f["text"] == PLANTED}
    first = html.index(PLANTED)
    assert {first, html.index(PLANTED, first + 1)} <= starts
