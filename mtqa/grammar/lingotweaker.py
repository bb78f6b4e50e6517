"""Embedded default engine: LingoTweaker, a Rust port of LanguageTool's engine and English rules.

No Java, no downloads. Its offsets are UTF-8 byte positions and its messages carry raw
``<suggestion>`` tags: both are converted here and nowhere else.
"""

from __future__ import annotations

import threading
from importlib import metadata
from typing import Sequence

from .base import BackendUnavailable, GrammarMatch, Utf8Offsets, clean_message
from .profile import Profile


def _dist_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "missing"


class LingoTweakerBackend:
    name = "lingotweaker"

    def __init__(self, profile: Profile) -> None:
        self.profile = profile
        self._engine = None
        self._lock = threading.Lock()

    @property
    def version(self) -> str:
        return f"{_dist_version('lingotweaker')}+data-en-{_dist_version('lingotweaker-data-en')}"

    def _load(self):
        with self._lock:
            if self._engine is None:
                try:
                    import lt_py
                except ImportError as exc:  # pragma: no cover - depends on the install
                    raise BackendUnavailable(
                        "LingoTweaker is not installed: pip install 'mtqa[grammar]' "
                        "(lingotweaker and lingotweaker-data-en)"
                    ) from exc
                options = self.profile.engine_options()
                try:
                    self._engine = lt_py.Engine(self.profile.language, **options)
                except Exception as exc:
                    raise BackendUnavailable(f"LingoTweaker could not start: {exc}") from exc
        return self._engine

    def check(self, texts: Sequence[str]) -> list[list[GrammarMatch]]:
        engine = self._load()  # immutable and thread-safe once built
        return [self._check_one(engine, text) for text in texts]

    def _check_one(self, engine, text: str) -> list[GrammarMatch]:
        if not text.strip():
            return []
        offsets = Utf8Offsets(text)
        out = []
        for m in engine.check(text):
            start, end = offsets.span(int(m["offset"]), int(m["length"]))
            out.append(
                GrammarMatch(
                    start=start,
                    end=end,
                    rule_id=str(m["rule_id"]),
                    message=clean_message(str(m.get("message") or m.get("short_message") or m["rule_id"])),
                    suggestions=tuple(str(s) for s in m.get("suggestions") or ()),
                    category_id=str(m.get("category_id") or ""),
                    issue_type=str(m.get("issue_type") or ""),
                    sub_id=m.get("sub_id"),
                )
            )
        return out

    def close(self) -> None:
        self._engine = None
