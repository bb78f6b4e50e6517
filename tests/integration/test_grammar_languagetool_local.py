"""language-tool-python's LOCAL-SERVER path: process start, readiness, check, shutdown.

The server is a tiny stand-in ``languagetool-server.jar`` compiled here from
``tests/integration/java`` (it knows one rule, "tbe" -> "the"). Every download URL of
language-tool-python points at a closed loopback port, so a regression that lets the client
fetch LanguageTool fails in milliseconds instead of pulling 250 MB.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

pytest.importorskip("language_tool_python")

from mtqa.checkers.grammar import GrammarChecker  # noqa: E402
from mtqa.config import Settings  # noqa: E402
from mtqa.document import Document  # noqa: E402
from mtqa.findings import Category  # noqa: E402
from mtqa.grammar import BackendUnavailable, Profile, make_backend  # noqa: E402
from mtqa.grammar.languagetool import LanguageToolBackend, LanguageToolConfig  # noqa: E402

JAVA_SRC = Path(__file__).parent / "java"
VERSION = "6.6"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def standin_jar(tmp_path_factory) -> Path:
    if not (shutil.which("javac") and shutil.which("jar") and shutil.which("java")):
        pytest.skip("javac/jar/java not found: the stand-in languagetool-server.jar cannot be built")
    root = tmp_path_factory.mktemp("lt")
    classes = root / "classes"
    sources = [str(p) for p in JAVA_SRC.rglob("*.java")]
    subprocess.run(["javac", "-d", str(classes), *sources], check=True, capture_output=True, timeout=120)
    install = root / f"LanguageTool-{VERSION}"
    install.mkdir()
    jar = install / "languagetool-server.jar"
    subprocess.run(["jar", "cf", str(jar), "-C", str(classes), "."], check=True, capture_output=True, timeout=60)
    return jar


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch, tmp_path):
    """Downloads go to a closed loopback port; the client's cache dir is a fresh temp dir."""
    from language_tool_python import download_lt

    dead = f"http://127.0.0.1:{_closed_port()}/"
    for name in ("BASE_URL_SNAPSHOT", "BASE_URL_NEW_RELEASES", "BASE_URL_RELEASE", "BASE_URL_ARCHIVE"):
        monkeypatch.setattr(download_lt, name, dead)
    monkeypatch.setenv("LTP_PATH", str(tmp_path / "ltp-cache"))
    for var in ("LTP_JAR_DIR_PATH", "LANGUAGETOOL_URL", "LANGUAGETOOL_DIR", "MTQA_LANGUAGETOOL_DOWNLOAD"):
        monkeypatch.delenv(var, raising=False)
    yield dead


def test_local_server_start_ready_check_shutdown(standin_jar, monkeypatch):
    monkeypatch.setenv("STANDIN_DELAY_MS", "700")  # the client must wait for readiness
    backend = LanguageToolBackend(Profile.load(), LanguageToolConfig(install_dir=standin_jar.parent, start_timeout=60))
    checker = GrammarChecker(Settings(grammar="languagetool"), backend=backend)
    text = "Tbe 😀 army said tbe rnilitary was ready."
    findings = checker.check([Document.from_text(text)])[0]
    assert [(text[f.start : f.end], f.category, f.suggestions[0]) for f in findings] == [
        ("Tbe", Category.OCR, "The"),
        ("tbe", Category.OCR, "the"),
    ]
    process = backend._tool._server
    assert process is not None and process.poll() is None  # a real child JVM serves the checks
    assert "6.6" in checker.signature()["backend_version"]
    checker.close()
    assert process.poll() is not None  # shut down with the checker


def test_missing_install_dir_fails_before_any_download(tmp_path):
    with pytest.raises(BackendUnavailable, match="does not exist"):
        LanguageToolBackend(Profile.load(), LanguageToolConfig(install_dir=tmp_path / f"LanguageTool-{VERSION}"))


def test_install_dir_without_jar_or_with_a_wrong_name_is_refused(tmp_path, standin_jar):
    empty = tmp_path / f"LanguageTool-{VERSION}"
    empty.mkdir()
    with pytest.raises(BackendUnavailable, match="no languagetool-server.jar"):
        LanguageToolBackend(Profile.load(), LanguageToolConfig(install_dir=empty))
    odd = tmp_path / "lt-install"
    odd.mkdir()
    shutil.copy(standin_jar, odd / "languagetool-server.jar")
    with pytest.raises(BackendUnavailable, match="LanguageTool-<version>"):
        LanguageToolBackend(Profile.load(), LanguageToolConfig(install_dir=odd))
    with pytest.raises(BackendUnavailable, match="not the configured"):
        LanguageToolBackend(Profile.load(), LanguageToolConfig(install_dir=standin_jar.parent, version="6.5"))


def test_a_server_that_dies_at_start_fails_fast(standin_jar, monkeypatch):
    monkeypatch.setenv("STANDIN_EXIT", "3")
    backend = LanguageToolBackend(Profile.load(), LanguageToolConfig(install_dir=standin_jar.parent, start_timeout=60))
    with pytest.raises(Exception, match="exited early"):
        backend.check(["tbe"])


def test_download_regression_fails_fast(no_downloads, monkeypatch):
    """If mtqa ever let the client download, it would hit the dead loopback URL at once."""
    from language_tool_python.download_lt import LocalLanguageTool

    with pytest.raises(Exception) as info:
        LocalLanguageTool.from_version_name(VERSION).download()
    assert "127.0.0.1" in str(info.value) or "refused" in str(info.value).lower()


def test_auto_with_local_install_uses_it(standin_jar, monkeypatch):
    monkeypatch.setenv("LANGUAGETOOL_DIR", str(standin_jar.parent))
    backend, notes = make_backend("auto", Profile.load(), Settings(grammar="auto", languagetool_url=None))
    try:
        assert backend.name == "languagetool" and notes == {}
        assert backend.check(["tbe"])[0][0].suggestions[0] == "the"
    finally:
        backend.close()
