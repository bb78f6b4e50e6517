"""Grammar and spelling signal: one interface over LanguageTool-family engines.

Backends (``settings.grammar``):

* ``lingotweaker`` - embedded default (Rust port of LanguageTool's engine and English rules);
* ``languagetool`` - a LanguageTool server URL or a local install, through language-tool-python;
* ``auto`` - LanguageTool when configured (URL or install dir) and reachable, else LingoTweaker
  (with a warning when a configured LanguageTool could not be used);
* ``off``.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import Any

from .base import BackendTimeout, BackendUnavailable, GrammarBackend, GrammarMatch, clean_message
from .profile import DEFAULT_PROFILE, Profile

log = logging.getLogger(__name__)

# Harper (harper-py) was measured as a second embedded engine and dropped: on Overproof OCR text
# it found fewer damaged words at lower precision, and adding it to LingoTweaker did not raise F1
# (see benchmarks/bench_grammar.py and the grammar section of benchmarks/README.md).
BACKENDS = ("auto", "lingotweaker", "languagetool", "off")

__all__ = [
    "BACKENDS",
    "BackendTimeout",
    "BackendUnavailable",
    "DEFAULT_PROFILE",
    "GrammarBackend",
    "GrammarMatch",
    "Profile",
    "clean_message",
    "load_profile",
    "make_backend",
]


def load_profile(settings: Any = None) -> Profile:
    """The news profile, overlaid by ``settings.grammar_profile`` / ``MTQA_GRAMMAR_PROFILE``, in
    candidate mode when ``settings.grammar_candidates`` (a learned decision chooses)."""
    overlay = getattr(settings, "grammar_profile", None) or os.environ.get("MTQA_GRAMMAR_PROFILE")
    profile = Profile.load(overlay=overlay)
    return profile.as_candidates() if getattr(settings, "grammar_candidates", False) else profile


def make_backend(choice: str, profile: Profile, settings: Any = None) -> tuple[GrammarBackend, dict[str, str]]:
    """The backend for ``choice``, plus notes for the run signature (e.g. why auto fell back)."""
    choice = (choice or "auto").lower()
    if choice not in BACKENDS or choice == "off":
        raise ValueError(f"grammar backend {choice!r}: expected one of {', '.join(b for b in BACKENDS if b != 'off')}")
    if choice == "lingotweaker":
        from .lingotweaker import LingoTweakerBackend

        return LingoTweakerBackend(profile), {}
    from .languagetool import LanguageToolBackend, LanguageToolConfig

    config = LanguageToolConfig.from_settings(settings)
    if choice == "languagetool":
        return LanguageToolBackend(profile, config), {}  # explicit: fail loudly
    notes: dict[str, str] = {}
    if config.configured:
        try:
            return LanguageToolBackend(profile, config), {}
        except BackendUnavailable as exc:
            message = f"LanguageTool configured but unusable, using the embedded LingoTweaker: {exc}"
            warnings.warn(message, RuntimeWarning, stacklevel=2)
            log.warning(message)
            notes = {"fallback_from": "languagetool", "fallback_reason": str(exc)}
    from .lingotweaker import LingoTweakerBackend

    return LingoTweakerBackend(profile), notes
