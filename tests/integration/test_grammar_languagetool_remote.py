"""language-tool-python's REMOTE path against a LanguageTool-compatible server on 127.0.0.1.

The server below answers ``/v2/languages`` and ``/v2/check`` in LanguageTool's documented JSON
shape, with offsets in UTF-16 code units as LanguageTool (Java) sends them. The client code under
test is the real language-tool-python; only the server is small.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

pytestmark = pytest.mark.integration

pytest.importorskip("language_tool_python")

from mtqa.checkers.grammar import GrammarChecker  # noqa: E402
from mtqa.config import Settings  # noqa: E402
from mtqa.document import Document  # noqa: E402
from mtqa.findings import Category  # noqa: E402
from mtqa.grammar import BackendTimeout, BackendUnavailable, Profile, make_backend  # noqa: E402
from mtqa.grammar.languagetool import LanguageToolBackend, LanguageToolConfig, server_base  # noqa: E402
from mtqa.pipeline import Pipeline  # noqa: E402

LANGUAGES = [{"name": "English (US)", "code": "en", "longCode": "en-US"}, {"name": "English", "code": "en", "longCode": "en"}]
# word -> (rule id, category id, replacements)
RULES = {
    "tbe": ("MORFOLOGIK_RULE_EN_US", "TYPOS", ["the", "be"]),
    "Tbe": ("MORFOLOGIK_RULE_EN_US", "TYPOS", ["The", "Be"]),
    "😀😀": ("EMOJI_REPEAT", "MISC", ["😀"]),
    "said...": ("EN_ELLIPSIS", "TYPOGRAPHY", ["said . . ."]),
}


def utf16_len(s: str) -> int:
    return len(s.encode("utf-16-le")) // 2


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status, body, content_type="application/json"):
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/v2/languages":
            self._send(200, json.dumps(LANGUAGES))
        elif path == "/v2/check":
            self._check(dict(urllib.parse.parse_qsl(urllib.parse.urlparse(self.path).query)))
        else:
            self._send(404, "not found", "text/plain")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        params = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8")))
        if urllib.parse.urlparse(self.path).path != "/v2/check":
            self._send(404, "not found", "text/plain")
            return
        self._check(params)

    def _check(self, params):
        state = self.server.state
        state["requests"].append(params)
        if state.get("delay"):
            time.sleep(state["delay"])
        if state.get("error"):
            self._send(500, "Error: internal error in the rule engine", "text/plain")
            return
        text = params.get("text", "")
        matches = []
        for needle, (rule, category, replacements) in RULES.items():
            start = 0
            while (i := text.find(needle, start)) >= 0:
                start = i + len(needle)
                if needle.isalpha() and ((i > 0 and text[i - 1].isalpha()) or (start < len(text) and text[start].isalpha())):
                    continue
                matches.append(
                    {
                        "message": f"Possible problem. Did you mean <suggestion>{replacements[0]}</suggestion>?",
                        "shortMessage": "",
                        "replacements": [{"value": r} for r in replacements],
                        "offset": utf16_len(text[:i]),
                        "length": utf16_len(needle),
                        "context": {"text": text, "offset": utf16_len(text[:i]), "length": utf16_len(needle)},
                        "sentence": text,
                        "type": {"typeName": "Other"},
                        "rule": {"id": rule, "description": rule, "issueType": "misspelling", "category": {"id": category, "name": category}},
                        "ignoreForIncompleteSentence": False,
                        "contextForSureMatch": 0,
                    }
                )
        matches.sort(key=lambda m: m["offset"])
        body = {"software": {"name": "LanguageTool", "version": "6.6-test", "apiVersion": 1}, "language": {"code": "en-US"}, "matches": matches}
        self._send(200, json.dumps(body))


@pytest.fixture
def lt_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = {"requests": []}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def checker_for(url, **config):
    profile = Profile.load()
    backend = LanguageToolBackend(profile, LanguageToolConfig(url=url, **config))
    return GrammarChecker(Settings(grammar="languagetool"), backend=backend, profile=profile)


def test_server_base_normalises_urls():
    assert server_base("127.0.0.1:8081") == "http://127.0.0.1:8081/"
    assert server_base("http://h:8081/v2/") == "http://h:8081/"
    assert server_base("https://lt.example/api/v2") == "https://lt.example/api/"


def test_remote_check_utf16_offsets_after_emoji(lt_server):
    server, url = lt_server
    text = "😀 Tbe dog 😀😀 barked and tbe cat ran."
    checker = checker_for(url)
    findings = checker.check([Document.from_text(text)])[0]
    spans = {text[f.start : f.end]: f for f in findings}
    assert set(spans) == {"Tbe", "tbe", "😀😀"}
    assert spans["Tbe"].category is Category.OCR and spans["Tbe"].suggestions[0] == "The"
    assert spans["tbe"].start == text.index("tbe")
    assert spans["😀😀"].check == "grammar.EMOJI_REPEAT"  # an astral span: the length converts too
    assert "<suggestion>" not in spans["😀😀"].message
    sig = checker.signature()
    assert sig["backend"] == "languagetool" and "6.6-test" in sig["backend_version"]
    checker.close()


def test_remote_sends_the_profile_and_filters_what_the_server_ignores(lt_server):
    server, url = lt_server
    text = "He said... it was over."
    checker = checker_for(url)
    assert checker.check([Document.from_text(text)]) == [[]]  # EN_ELLIPSIS: TYPOGRAPHY is off
    sent = server.state["requests"][-1]
    assert "TYPOGRAPHY" in sent["disabledCategories"].split(",")
    assert "EN_QUOTES" in sent["disabledRules"].split(",")
    assert sent["language"] == "en-US"


def test_remote_batch_and_pipeline(lt_server):
    _, url = lt_server
    docs = [Document.from_text("tbe end"), Document.from_text("clean text"), Document.from_text("")]
    reports = Pipeline([checker_for(url)]).run(docs)
    assert [len(r.findings) for r in reports] == [1, 0, 0]
    assert reports[0].findings[0].suggestions[0] == "the"


def test_remote_error_response_is_a_clear_failure(lt_server):
    server, url = lt_server
    checker = checker_for(url)
    server.state["error"] = True
    with pytest.raises(BackendUnavailable, match="internal error in the rule engine"):
        checker.check([Document.from_text("tbe")])
    reports = Pipeline([checker]).run([Document.from_text("tbe")])
    assert reports[0].failures and reports[0].failures[0].checker == "grammar"


def test_remote_timeout_is_mtqas_own(lt_server):
    server, url = lt_server
    checker = checker_for(url, timeout=1.0)
    server.state["delay"] = 4.0
    started = time.monotonic()
    with pytest.raises(BackendTimeout):
        checker.check([Document.from_text("tbe")])
    assert time.monotonic() - started < 3.5


def test_connection_refused_fails_before_the_client_is_built():
    url = f"http://127.0.0.1:{closed_port()}"
    with pytest.raises(BackendUnavailable, match="not reachable"):
        LanguageToolBackend(Profile.load(), LanguageToolConfig(url=url, probe_timeout=2.0))
    with pytest.raises(BackendUnavailable):
        make_backend("languagetool", Profile.load(), Settings(grammar="languagetool", languagetool_url=url))


def test_auto_uses_a_configured_server_and_falls_back_when_it_is_gone(lt_server, monkeypatch):
    _, url = lt_server
    monkeypatch.delenv("LANGUAGETOOL_DIR", raising=False)
    backend, notes = make_backend("auto", Profile.load(), Settings(grammar="auto", languagetool_url=url))
    assert backend.name == "languagetool" and notes == {}
    gone = f"http://127.0.0.1:{closed_port()}"
    with pytest.warns(RuntimeWarning, match="not reachable"):
        backend, notes = make_backend("auto", Profile.load(), Settings(grammar="auto", languagetool_url=gone))
    assert backend.name == "lingotweaker" and notes["fallback_from"] == "languagetool"


def test_non_languagetool_server_is_rejected(lt_server):
    _, url = lt_server
    with pytest.raises(BackendUnavailable, match="HTTP 404"):
        LanguageToolBackend(Profile.load(), LanguageToolConfig(url=url + "/nothing-here/x"))
