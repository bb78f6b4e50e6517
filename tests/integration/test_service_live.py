"""`mtqa serve` as a real process on 127.0.0.1, with real clients: language-tool-python, the
pre-publish examples (Python and curl) and raw sockets. No language model (--no-lm)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TOKEN = "live-test-token-7d2e"
ARTICLE = "The army left tHe city on Tuesday.\n\nScroll to Continue\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(*args: str, token: str | None = None, ready_within: float = 240.0):
    """``mtqa serve`` on a free loopback port; yields (base url, log file path) once /ready is 200."""
    port = free_port()
    log = Path(os.environ.get("TMPDIR", "/tmp")) / f"mtqa-serve-{port}.log"
    env = {**os.environ, "MTQA_THREADS": os.environ.get("MTQA_THREADS", "1")}
    command = [sys.executable, "-m", "mtqa", "serve", "--host", "127.0.0.1", "--port", str(port), *args]
    if token:
        command += ["--token", token]
    with open(log, "wb") as out:
        process = subprocess.Popen(command, cwd=REPO, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        deadline = time.monotonic() + ready_within
        while True:
            if process.poll() is not None:
                raise AssertionError(f"mtqa serve exited {process.returncode}:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/ready", headers=headers, timeout=2).status_code == 200:
                    break
            assert time.monotonic() < deadline, f"not ready in {ready_within} s:\n{log.read_text()[-3000:]}"
            time.sleep(0.2)
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def open_server():
    """No tokens (loopback), the quick checkers: what a local LanguageTool client talks to."""
    with running_server("--no-lm", "--only", "boilerplate,ocr,grammar") as (url, log):
        yield url, log


@pytest.fixture(scope="module")
def secured_server():
    with running_server("--no-lm", "--only", "boilerplate,ocr", "--max-body-bytes", "4096", token=TOKEN) as (url, log):
        yield url, log


def test_language_tool_python_is_a_client_of_v2_check(open_server):
    language_tool_python = pytest.importorskip("language_tool_python")
    url, _ = open_server
    text = "😀 The army left tHe city.\n\nScroll to Continue"
    tool = language_tool_python.LanguageTool("en-US", remote_server=url)
    try:
        matches = tool.check(text)
        flagged = {text[m.offset : m.offset + m.error_length]: m.rule_id for m in matches}
        assert flagged["tHe"] == "ocr.mixed_case" and flagged["Scroll to Continue"] == "boilerplate.scroll_prompt"
        assert tool.correct(text) == "😀 The army left the city.\n\n"
        tool.disabled_categories = {"BOILERPLATE"}
        assert {m.rule_id for m in tool.check(text)} == {"ocr.mixed_case"}
        tool.disabled_categories = set()
        tool.disabled_rules = {"mixed_case"}
        assert "ocr.mixed_case" not in {m.rule_id for m in tool.check(text)}
    finally:
        tool.close()


def test_python_prepublish_client(open_server, tmp_path):
    url, _ = open_server
    script = REPO / "examples" / "prepublish_webhook.py"
    article = tmp_path / "story.html"
    article.write_text("<p>The army left tHe city.</p><p>Scroll to Continue</p>", encoding="utf-8")
    held = subprocess.run([sys.executable, script, "--url", url, str(article)], capture_output=True, text=True, timeout=60)
    assert held.returncode == 1, held.stderr
    assert "mtqa verdict: block" in held.stdout and "'Scroll to Continue'" in held.stdout
    clean = subprocess.run([sys.executable, script, "--url", url, "--json", "-"], input=json.dumps({"title": "Council meets",
                           "text": "The council met on Tuesday."}), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert clean.returncode == 0 and "mtqa verdict: pass" in clean.stdout
    down = subprocess.run([sys.executable, script, "--url", f"http://127.0.0.1:{free_port()}", str(article)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert down.returncode == 3 and "mtqa unavailable" in down.stderr
    publish_anyway = subprocess.run([sys.executable, script, "--url", f"http://127.0.0.1:{free_port()}", "--on-error",
                                     "publish", str(article)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert publish_anyway.returncode == 0


@pytest.mark.skipif(shutil.which("curl") is None or shutil.which("bash") is None, reason="needs curl and bash")
def test_curl_prepublish_client_with_a_token(secured_server, tmp_path):
    url, _ = secured_server
    article = tmp_path / "story.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    script = str(REPO / "examples" / "prepublish.sh")
    env = {**os.environ, "MTQA_URL": url, "MTQA_TOKEN": TOKEN}
    held = subprocess.run(["bash", script, str(article)], capture_output=True, text=True, env=env, timeout=60)
    assert held.returncode == 1 and "mtqa verdict: block" in held.stdout, held.stderr
    env["MTQA_TOKEN"] = "wrong"
    refused = subprocess.run(["bash", script, str(article)], capture_output=True, text=True, env=env, timeout=60)
    assert refused.returncode == 3


def test_live_auth_limits_and_request_ids_in_the_log(secured_server):
    url, log = secured_server
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{url}/health").status_code == 200
    assert httpx.post(f"{url}/v1/check", json={"text": ARTICLE}).status_code == 401
    ok = httpx.post(f"{url}/v1/check", json={"text": ARTICLE}, headers={**auth, "X-Request-ID": "cms-live-1"})
    assert ok.status_code == 200 and ok.headers["x-request-id"] == "cms-live-1"
    too_big = httpx.post(f"{url}/v1/check", json={"text": "word " * 2000}, headers=auth)
    assert too_big.status_code == 413 and too_big.json()["error"] == "too_large"
    assert "mtqa_requests_total" in httpx.get(f"{url}/metrics", headers=auth).text
    time.sleep(0.3)
    lines = log.read_text(encoding="utf-8")
    assert "[cms-live-1] mtqa.service.access: POST /v1/check 200" in lines
    assert TOKEN not in lines


def test_pre_commit_hook_entries_run_as_declared(tmp_path):
    hooks = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))}
    assert set(hooks) == {"mtqa", "mtqa-system"}
    bad, good = tmp_path / "bad.md", tmp_path / "good.txt"
    bad.write_text("The army left tHe city.\n\nScroll to Continue\n", encoding="utf-8")
    good.write_text("The council met on Tuesday.\n", encoding="utf-8")
    mtqa = [sys.executable, "-m", "mtqa"]
    entry = hooks["mtqa"]["entry"].split()
    assert entry[0] == "mtqa"
    # pre-commit appends the staged file names to the entry.
    failing = subprocess.run([*mtqa, *entry[1:], str(good), str(bad)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert failing.returncode == 1 and "Scroll to Continue" in failing.stdout
    passing = subprocess.run([*mtqa, *entry[1:], str(good)], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert passing.returncode == 0, passing.stdout + passing.stderr


def test_a_non_loopback_host_needs_tokens():
    result = subprocess.run([sys.executable, "-m", "mtqa", "serve", "--host", "0.0.0.0", "--no-lm"], capture_output=True,
                            text=True, cwd=REPO, timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "refusing a non-loopback --host without tokens" in result.stderr


def test_worker_processes_each_load_their_own_pipeline():
    with running_server("--no-lm", "--only", "boilerplate,ocr", "--workers", "2", token=TOKEN) as (url, log):
        auth = {"Authorization": f"Bearer {TOKEN}"}
        deadline = time.monotonic() + 120  # /ready answered from one worker; wait for the other too
        while log.read_text(encoding="utf-8").count("mtqa.service: ready in") < 2:
            assert time.monotonic() < deadline, log.read_text(encoding="utf-8")[-2000:]
            time.sleep(0.2)
        for _ in range(4):
            response = httpx.post(f"{url}/v1/check", json={"text": ARTICLE}, headers=auth)
            assert response.status_code == 200 and response.json()["document"]["verdict"] == "block"
        assert httpx.post(f"{url}/v1/check", json={"text": ARTICLE}).status_code == 401
        time.sleep(0.3)
        assert TOKEN not in log.read_text(encoding="utf-8")
