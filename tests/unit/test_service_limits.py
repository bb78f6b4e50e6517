"""Auth, limits, degradation and cross-request batching of the service, with small test checkers."""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from mtqa.api import make_combiner
from mtqa.checkers.ocr import OcrChecker
from mtqa.config import Settings
from mtqa.findings import Finding
from mtqa.pipeline import Pipeline
from mtqa.service import ServiceConfig, create_app
from mtqa.service.guard import load_tokens

from .test_service import wait_ready

TOKEN = "tok-4f1c9a"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Recorder:
    """Sleeps on documents that ask for it (``SLOW``) and records every batch it is given."""

    name = "recorder"
    version = "1"

    def __init__(self, seconds: float = 0.0) -> None:
        self.seconds = seconds
        self.batches: list[list[str]] = []

    def check(self, docs):
        self.batches.append([d.text for d in docs])
        if any("SLOW" in d.text for d in docs):
            time.sleep(self.seconds)
        # One finding per document on its first word, so each answer shows whose document it got.
        return [[Finding(0, d.text.index(" "), "style", "warning", 0.5, "first word", "recorder.first")] for d in docs]


class Broken:
    name = "broken"
    version = "1"

    def check(self, docs):
        if any("Warm" not in d.text and "Ukrainian" not in d.text for d in docs):
            raise RuntimeError("the engine fell over")
        return [[] for _ in docs]


def app_with(*extra, config: ServiceConfig | None = None, settings: Settings | None = None):
    settings = settings or Settings(calibration="off")

    def factory(s, only):
        return Pipeline([OcrChecker(s), *extra], make_combiner(s))

    return create_app(settings, config=config or ServiceConfig(), pipeline_factory=factory)


@pytest.fixture(scope="module")
def secured():
    with TestClient(create_app(only=["ocr"], config=ServiceConfig(tokens=(TOKEN, "second-token")))) as c:
        wait_ready(c, AUTH)
        yield c


def test_auth_401_everywhere_but_health_and_the_page(secured, caplog):
    caplog.set_level(logging.INFO)
    for method, path in [("get", "/ready"), ("get", "/metrics"), ("get", "/v1/models"), ("get", "/v2/info"),
                         ("get", "/v2/languages"), ("post", "/v1/check"), ("post", "/v2/check"), ("get", "/openapi.json")]:  # fmt: skip
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}):
            response = getattr(secured, method)(path, headers=headers)
            assert response.status_code == 401, (path, headers)
            assert response.headers["www-authenticate"] == "Bearer" and response.json()["error"] == "unauthorized"
    assert secured.get("/health").status_code == 200
    assert secured.get("/").status_code == 200  # a static page; its API calls carry the token
    assert secured.post("/v1/check", json={"text": "tHe end"}, headers=AUTH).status_code == 200
    other = {"Authorization": "Bearer second-token"}
    assert secured.post("/v2/check", data={"text": "tHe end"}, headers=other).status_code == 200
    assert secured.get("/openapi.json", headers=AUTH).status_code == 200
    assert TOKEN not in caplog.text and "second-token" not in caplog.text  # tokens are never logged
    assert "POST /v1/check 200" in caplog.text


def test_every_response_has_a_request_id(secured):
    seen = set()
    for response in (secured.get("/health"), secured.get("/ready"), secured.get("/nope", headers=AUTH),
                     secured.post("/v1/check", json={}, headers=AUTH)):  # fmt: skip
        seen.add(response.headers["x-request-id"])
    assert len(seen) == 4
    echoed = secured.get("/health", headers={"X-Request-ID": "cms-42.a"})
    assert echoed.headers["x-request-id"] == "cms-42.a"
    assert secured.get("/health", headers={"X-Request-ID": "bad id\x7f"}).headers["x-request-id"] != "bad id\x7f"


def test_tokens_from_flags_env_and_file(tmp_path):
    file = tmp_path / "tokens"
    file.write_text("# desk tokens\nfile-token\n\n  spaced  # trailing comment\n", encoding="utf-8")
    assert load_tokens(["flag"], file, env="env-a, env-b") == ("flag", "env-a", "env-b", "file-token", "spaced")
    assert load_tokens([], None, env="") == ()


def test_413_on_body_and_text_size():
    config = ServiceConfig(max_body_bytes=2000, max_text_chars=100)
    with TestClient(app_with(config=config)) as c:
        wait_ready(c)
        big = c.post("/v1/check", json={"text": "word " * 1000})
        assert big.status_code == 413 and big.json()["error"] == "too_large" and "x-request-id" in big.headers
        assert c.post("/v2/check", data={"text": "word " * 1000}).status_code == 413
        long_text = c.post("/v1/check", json={"text": "word " * 30})
        assert long_text.status_code == 413 and "100-character" in long_text.json()["message"]
        # Chunked upload without Content-Length is counted as it streams in.
        streamed = c.post("/v1/check", content=iter([b'{"text": "', b"a" * 3000, b'"}']),
                          headers={"content-type": "application/json"})  # fmt: skip
        assert streamed.status_code == 413
        assert c.post("/v1/check", json={"text": "tHe end"}).status_code == 200


def test_v2_fields_have_the_service_limits_not_a_1_mb_cap():
    with TestClient(app_with(config=ServiceConfig(max_body_bytes=3_000_000, max_text_chars=100_000))) as c:
        wait_ready(c)
        for send in ({"data": {"text": "word " * 240_000}}, {"files": {"text": (None, "word " * 240_000)}}):
            response = c.post("/v2/check", **send)  # 1.2 MB: over Starlette's 1 MB field default
            assert response.status_code == 413 and "100,000-character" in response.json()["message"]
        assert c.post("/v2/check", files={"text": (None, "tHe end")}).json()["matches"][0]["offset"] == 0
        assert c.post("/v2/check", data={"text": "tHe end", "level": "fussy"}).status_code == 400


def test_504_with_a_json_body_and_queued_work_is_dropped():
    recorder = Recorder(seconds=1.5)
    with TestClient(app_with(recorder, config=ServiceConfig(timeout_s=0.4, max_batch_docs=1))) as c:
        wait_ready(c)
        recorder.batches.clear()
        with ThreadPoolExecutor(2) as pool:
            slow = pool.submit(c.post, "/v1/check", json={"text": "SLOW article text"})
            time.sleep(0.1)
            queued = pool.submit(c.post, "/v1/check", json={"text": "Queued article text"})
            for response in (slow.result(), queued.result()):
                assert response.status_code == 504
                body = response.json()
                assert body["error"] == "timeout" and "0.4 s" in body["message"] and "Traceback" not in response.text
        time.sleep(1.5)  # the slow batch finishes; the queued request's caller has gone, so it never runs
        assert recorder.batches == [["SLOW article text"]]
        assert c.post("/v1/check", json={"text": "Later article text"}).status_code == 200


def test_503_with_retry_after_when_saturated():
    recorder = Recorder(seconds=1.0)
    with TestClient(app_with(recorder, config=ServiceConfig(max_concurrent=2, retry_after_s=3))) as c:
        wait_ready(c)
        with ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(c.post, "/v1/check", json={"text": f"SLOW text number {i}"}) for i in range(6)]
            responses = [f.result() for f in futures]
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(200) >= 1 and statuses.count(503) >= 1 and set(statuses) <= {200, 503}
        for r in responses:
            if r.status_code == 503:
                assert r.headers["retry-after"] == "3" and r.json()["error"] == "saturated"
        assert c.get("/health").status_code == 200  # never a hang


def test_ready_is_503_until_the_pipeline_has_loaded():
    release = threading.Event()

    def slow_factory(settings, only):
        release.wait(10)
        return Pipeline([OcrChecker(settings)], make_combiner(settings))

    with TestClient(create_app(Settings(calibration="off"), pipeline_factory=slow_factory)) as c:
        assert c.get("/health").status_code == 200
        ready = c.get("/ready")
        assert ready.status_code == 503 and ready.json()["status"] == "loading" and "retry-after" in ready.headers
        not_yet = c.post("/v1/check", json={"text": "tHe end"})
        assert not_yet.status_code == 503 and not_yet.json()["error"] == "not_ready"
        release.set()
        wait_ready(c)
        assert c.post("/v1/check", json={"text": "tHe end"}).status_code == 200


def test_a_failing_checker_degrades_the_answer():
    with TestClient(app_with(Broken())) as c:
        wait_ready(c)
        v1 = c.post("/v1/check", json={"text": "tHe army left."})
        assert v1.status_code == 200
        doc = v1.json()["document"]
        assert [f["text"] for f in doc["findings"]] == ["tHe"]  # the other checker's findings survive
        assert doc["errors"] == [{"checker": "broken", "error": "RuntimeError: the engine fell over"}]
        v2 = c.post("/v2/check", data={"text": "tHe army left."}).json()
        assert v2["warnings"]["incompleteResults"] is True and v2["mtqa"]["errors"][0]["checker"] == "broken"
        assert 'mtqa_checker_failures_total{checker="broken"} 2.0' in c.get("/metrics").text


def test_a_whole_pipeline_failure_is_a_500_without_a_trace_and_spares_the_batch():
    class Poisoned(Pipeline):
        def run(self, docs, progress=None):
            if any("POISON" in d.text for d in docs):
                raise ValueError("secret internal detail")
            return super().run(docs, progress)

    def factory(settings, only):
        return Poisoned([OcrChecker(settings)], make_combiner(settings))

    with TestClient(create_app(Settings(calibration="off"), config=ServiceConfig(batch_wait_ms=100),
                               pipeline_factory=factory), raise_server_exceptions=False) as c:  # fmt: skip
        wait_ready(c)
        with ThreadPoolExecutor(3) as pool:
            texts = ["POISON tHe pill", "tHe good one", "another tHe"]
            responses = list(pool.map(lambda t: c.post("/v1/check", json={"text": t}), texts))
        assert [r.status_code for r in responses] == [500, 200, 200]
        assert "secret internal detail" not in responses[0].text and "Traceback" not in responses[0].text
        assert responses[0].json()["request_id"] == responses[0].headers["x-request-id"]


def test_concurrent_requests_share_one_pipeline_run_and_get_their_own_answers():
    recorder = Recorder()
    with TestClient(app_with(recorder, config=ServiceConfig(batch_wait_ms=150, max_batch_docs=32))) as c:
        wait_ready(c)
        recorder.batches.clear()
        words = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"]
        with ThreadPoolExecutor(len(words)) as pool:
            responses = list(pool.map(lambda w: c.post("/v1/check", json={"text": f"{w} left tHe city.", "id": w}), words))
        for word, response in zip(words, responses):
            doc = response.json()["document"]
            assert doc["id"] == word
            assert {f["text"] for f in doc["findings"]} == {word, "tHe"}
        assert sum(len(b) for b in recorder.batches) == len(words)
        assert max(len(b) for b in recorder.batches) > 1  # requests were checked together
    unbatched = Recorder()
    with TestClient(app_with(unbatched, config=ServiceConfig(max_batch_docs=1))) as c:
        wait_ready(c)
        unbatched.batches.clear()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda i: c.post("/v1/check", json={"text": f"Text {i} here"}), range(4)))
        assert [len(b) for b in unbatched.batches] == [1, 1, 1, 1]


def test_a_caller_that_hangs_up_has_its_queued_work_dropped():
    import asyncio

    from mtqa.document import Document
    from mtqa.service.app import ServiceError

    class HungUp:
        async def is_disconnected(self):
            return True

    recorder = Recorder(seconds=1.0)
    with TestClient(app_with(recorder, config=ServiceConfig(max_batch_docs=1))) as c:
        wait_ready(c)
        recorder.batches.clear()
        service = c.app.state.service
        with ThreadPoolExecutor(1) as pool:
            slow = pool.submit(c.post, "/v1/check", json={"text": "SLOW article text"})
            time.sleep(0.2)
            with pytest.raises(ServiceError) as gone:
                asyncio.run(service.check(HungUp(), [Document.from_text("Abandoned article text")], (None, None),
                                          time.perf_counter()))  # fmt: skip
            assert gone.value.status == 499
            assert slow.result().status_code == 200
        time.sleep(0.3)
        assert recorder.batches == [["SLOW article text"]]  # the abandoned document was never checked


def test_an_unexpected_error_in_an_endpoint_is_a_json_500_without_a_trace(caplog):
    with TestClient(app_with(), raise_server_exceptions=False) as c:
        wait_ready(c)

        def explode(reports):
            raise KeyError("internal detail 91c")

        c.app.state.service.count = explode
        response = c.post("/v1/check", json={"text": "tHe end"})
        assert response.status_code == 500 and response.headers["content-type"] == "application/json"
        assert response.json()["error"] == "internal" and "91c" not in response.text and "Traceback" not in response.text
        assert "91c" in caplog.text  # the details go to the log, under the request id
        assert c.get("/health").status_code == 200
