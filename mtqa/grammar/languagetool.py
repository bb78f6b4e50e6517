"""LanguageTool through language-tool-python (GPL-3.0-only, an optional extra).

Two ways in, both checked *before* the client is constructed, because the client's fallback is
to download 250+ MB of LanguageTool silently:

* a server URL (``remote_server=``), e.g. a newsroom's own LanguageTool server: probed with
  ``GET /v2/languages`` first;
* a local install directory ``.../LanguageTool-<version>`` holding ``languagetool-server.jar``:
  language-tool-python starts and stops the Java server; the directory must exist, and Java must
  be on PATH.

Downloads happen only when explicitly allowed (``MTQA_LANGUAGETOOL_DOWNLOAD=1``). Every call runs
under mtqa's own timeout. LanguageTool offsets are UTF-16 code units; they become ``str`` indices
here.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

from .base import BackendTimeout, BackendUnavailable, GrammarMatch, Utf16Offsets, clean_message
from .profile import Profile

log = logging.getLogger(__name__)
T = TypeVar("T")
_TRUE = {"1", "true", "yes", "on"}
_JARS = ("languagetool-server.jar", "languagetool.jar")


def _setting(settings: Any, attr: str, env: str) -> Any:
    value = getattr(settings, attr, None) if settings is not None else None
    return value if value not in (None, "") else os.environ.get(env) or None


@dataclass(frozen=True)
class LanguageToolConfig:
    url: str | None = None
    install_dir: Path | None = None
    version: str | None = None
    allow_download: bool = False
    timeout: float = 30.0  # per check call
    start_timeout: float = 120.0  # JVM start + rule loading of a real LanguageTool
    probe_timeout: float = 5.0

    @classmethod
    def from_settings(cls, settings: Any = None) -> "LanguageToolConfig":
        """From Settings attributes when present, else environment variables:
        LANGUAGETOOL_URL, LANGUAGETOOL_DIR, LANGUAGETOOL_VERSION, MTQA_LANGUAGETOOL_DOWNLOAD,
        MTQA_GRAMMAR_TIMEOUT."""
        install_dir = _setting(settings, "languagetool_dir", "LANGUAGETOOL_DIR")
        allow = _setting(settings, "languagetool_allow_download", "MTQA_LANGUAGETOOL_DOWNLOAD")
        timeout = _setting(settings, "grammar_timeout", "MTQA_GRAMMAR_TIMEOUT")
        return cls(
            url=_setting(settings, "languagetool_url", "LANGUAGETOOL_URL"),
            install_dir=Path(install_dir).expanduser() if install_dir else None,
            version=_setting(settings, "languagetool_version", "LANGUAGETOOL_VERSION"),
            allow_download=allow is True or str(allow).lower() in _TRUE,
            timeout=float(timeout) if timeout else 30.0,
        )

    @property
    def configured(self) -> bool:
        return bool(self.url or self.install_dir or self.allow_download)


def server_base(url: str) -> str:
    """``http://host:8081``, ``.../v2`` or ``.../v2/`` -> ``http://host:8081/`` (the client adds v2/)."""
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    url = url.rstrip("/")
    if url.endswith("/v2"):
        url = url[: -len("/v2")]
    return url + "/"


def probe_server(url: str, timeout: float = 5.0) -> list[dict[str, Any]]:
    """``GET /v2/languages``: reachable and LanguageTool-shaped, or a clear BackendUnavailable."""
    target = server_base(url) + "v2/languages"
    try:
        with urllib.request.urlopen(target, timeout=timeout) as response:  # noqa: S310 - user-configured URL
            data = json.loads(response.read().decode("utf-8"))
    except urllib.error.HTTPError as exc:
        raise BackendUnavailable(f"LanguageTool server {url} answered HTTP {exc.code} on /v2/languages") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise BackendUnavailable(f"LanguageTool server {url} is not reachable ({reason})") from exc
    except ValueError as exc:
        raise BackendUnavailable(f"LanguageTool server {url} did not answer JSON on /v2/languages") from exc
    if not isinstance(data, list):
        raise BackendUnavailable(f"LanguageTool server {url}: /v2/languages is not a list of languages")
    return data


def server_version(url: str, timeout: float = 5.0) -> str | None:
    """The server's LanguageTool version, from the ``software`` block of a tiny check."""
    data = urllib.parse.urlencode({"text": "ok", "language": "en-US"}).encode()
    try:
        with urllib.request.urlopen(server_base(url) + "v2/check", data=data, timeout=timeout) as response:  # noqa: S310
            software = json.loads(response.read().decode("utf-8")).get("software") or {}
    except (OSError, ValueError, AttributeError):
        return None
    version = software.get("version")
    return str(version) if version else None


def check_install(install_dir: Path, version: str | None = None) -> tuple[Path, str, Path]:
    """(parent folder, version, jar) of a local LanguageTool, or a clear BackendUnavailable."""
    hint = (
        "downloads are off; point LANGUAGETOOL_DIR at an unpacked LanguageTool-<version> folder, "
        "or set MTQA_LANGUAGETOOL_DOWNLOAD=1 to let language-tool-python fetch ~250 MB"
    )
    if not install_dir.is_dir():
        raise BackendUnavailable(f"LanguageTool install directory {install_dir} does not exist ({hint})")
    jar = next((install_dir / j for j in _JARS if (install_dir / j).is_file()), None)
    if jar is None:
        raise BackendUnavailable(f"{install_dir} holds no languagetool-server.jar ({hint})")
    match = re.fullmatch(r"LanguageTool-(\d+\.\d+|\d{8})", install_dir.name)
    if not match:
        raise BackendUnavailable(
            f"{install_dir}: language-tool-python needs the folder named LanguageTool-<version> "
            "(e.g. LanguageTool-6.6), as unpacked from the release zip"
        )
    if version and version != match.group(1):
        raise BackendUnavailable(f"{install_dir} is LanguageTool {match.group(1)}, not the configured {version}")
    if not shutil.which("java"):
        raise BackendUnavailable("a local LanguageTool needs Java 17+ on PATH; java was not found")
    return install_dir.parent, match.group(1), jar


def call_with_timeout(fn: Callable[[], T], timeout: float, what: str) -> T:
    """Run ``fn`` in a daemon thread; give up after ``timeout`` seconds (the thread is abandoned,
    and the client's own socket timeout, lowered to ours, ends it soon after)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=run, name=f"mtqa-{what}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise BackendTimeout(f"{what} took longer than {timeout:g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


class LanguageToolBackend:
    name = "languagetool"

    def __init__(self, profile: Profile, config: LanguageToolConfig) -> None:
        if not config.configured:
            raise BackendUnavailable(
                "LanguageTool is not configured: set LANGUAGETOOL_URL (a server) or LANGUAGETOOL_DIR "
                "(a local LanguageTool-<version> folder)"
            )
        self.profile = profile
        self.config = config
        self._tool = None
        self._server_version: str | None = None
        self._lock = threading.Lock()
        self._mode = "remote" if config.url else "local"
        # Fail early and clearly, before the client could start a download.
        if config.url:
            probe_server(config.url, config.probe_timeout)
            self._server_version = server_version(config.url, config.probe_timeout)
        elif config.install_dir is not None:
            self._server_version = check_install(config.install_dir, config.version)[1]
        try:
            import language_tool_python  # noqa: F401
        except ImportError as exc:
            raise BackendUnavailable(
                "language-tool-python is not installed: pip install 'mtqa[languagetool]' (GPL-3.0-only)"
            ) from exc

    @property
    def version(self) -> str:
        client = _dist_version("language-tool-python")
        server = self._server_version or (self.config.version or "?")
        where = self.config.url or (str(self.config.install_dir) if self.config.install_dir else "download")
        return f"server {server} via language-tool-python {client} ({self._mode}: {where})"

    def _client(self):
        with self._lock:
            if self._tool is None:
                self._tool = call_with_timeout(self._construct, self.config.start_timeout, "LanguageTool start")
                self._configure(self._tool)
        return self._tool

    def _construct(self):
        import language_tool_python
        from language_tool_python.download_lt import LocalLanguageTool

        if self.config.url:
            return language_tool_python.LanguageTool(self.profile.language, remote_server=server_base(self.config.url))
        version = self.config.version
        if self.config.install_dir is not None:
            parent, version, _ = check_install(self.config.install_dir, self.config.version)
            # language-tool-python finds installs in $LTP_PATH/LanguageTool-<version>.
            os.environ["LTP_PATH"] = str(parent)
            local = LocalLanguageTool.from_version_name(version)
            if local not in local.get_installed_versions() and not self.config.allow_download:
                raise BackendUnavailable(f"language-tool-python does not see {self.config.install_dir}; not downloading")
        kwargs = {"language_tool_download_version": version} if version else {}
        return _bounded_client_class()(self.profile.language, **kwargs)

    def _configure(self, tool) -> None:
        options = self.profile.engine_options()
        tool.disabled_rules = set(options["disabled_rules"])
        tool.enabled_rules = set(options["enabled_rules"])
        tool.disabled_categories = set(options["disabled_categories"])
        tool.enabled_categories = set(options["enabled_categories"])
        # The client's socket timeout is 300 s; ours is the limit, so a call abandoned by
        # call_with_timeout does not keep a thread for minutes.
        tool._TIMEOUT = max(1, int(self.config.timeout))

    def check(self, texts: Sequence[str]) -> list[list[GrammarMatch]]:
        tool = self._client()
        return [self._check_one(tool, text) for text in texts]

    def _check_one(self, tool, text: str) -> list[GrammarMatch]:
        if not text.strip():
            return []
        try:
            # The client keeps a class-level cache keyed by the last text: one call at a time.
            with self._lock:
                matches = call_with_timeout(lambda: tool.check(text), self.config.timeout, "LanguageTool check")
        except BackendTimeout:
            raise
        except Exception as exc:
            raise BackendUnavailable(f"LanguageTool check failed: {exc}") from exc
        offsets = Utf16Offsets(text)
        out = []
        for m in matches:
            # language-tool-python 3.4.0 already turns a match's UTF-16 *offset* into a str index
            # (it subtracts one per astral character before it); its *length* stays in UTF-16 units.
            start = min(max(int(m.offset), 0), len(text))
            end = offsets.index(offsets.units(start) + int(m.error_length))
            out.append(
                GrammarMatch(
                    start=start,
                    end=max(end, start),
                    rule_id=str(m.rule_id),
                    message=clean_message(str(m.message or m.rule_id)),
                    suggestions=tuple(str(r) for r in m.replacements),
                    category_id=str(m.category or ""),
                    issue_type=str(getattr(m, "rule_issue_type", "") or ""),
                )
            )
        return out

    def close(self) -> None:
        with self._lock:
            tool, self._tool = self._tool, None
        if tool is not None:
            try:
                tool.close()
            except Exception:  # closing must not mask the real outcome
                log.debug("closing LanguageTool failed", exc_info=True)


def _bounded_client_class():
    """language-tool-python retries a failing local server on up to 900 ports, starting a JVM
    each time (and keeps the first port in its URL). A broken install should fail in seconds."""
    import language_tool_python
    from language_tool_python.exceptions import ServerError

    class BoundedLanguageTool(language_tool_python.LanguageTool):
        max_port_tries = 3

        def _start_server_on_free_port(self) -> None:
            for attempt in range(self.max_port_tries):
                try:
                    self._start_local_server()
                    return
                except ServerError:
                    self._terminate_server()  # a server that missed the readiness window
                    if attempt + 1 >= self.max_port_tries or not self._available_ports:
                        raise
                    self._port = self._available_ports.pop()
                    self._url = f"http://{self._host}:{self._port}/v2/"

    return BoundedLanguageTool


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"
