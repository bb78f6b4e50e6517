"""Settings shared by the library, the CLI and the service."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent
PACKAGE_DATA = PACKAGE_DIR / "data"


def models_dir() -> Path:
    """Model cards: the repo's ``models/`` (a new model is one file there)."""
    return Path(os.environ.get("MTQA_MODELS_DIR", PROJECT_DIR / "models"))


def data_dir() -> Path:
    """Third-party evaluation data, read in place, never copied into the project."""
    configured = os.environ.get("MTQA_DATA_DIR")
    if configured:
        return Path(configured)
    return (PROJECT_DIR / ".." / "shared" / "data").resolve()


def cache_dir() -> Path:
    path = Path(os.environ.get("MTQA_CACHE_DIR") or platformdirs.user_cache_dir("mtqa"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Settings:
    device: str = "auto"  # auto | cpu | cuda
    model: str | None = None  # model card name; None = the default card
    grammar: str = "auto"  # auto | lingotweaker | languagetool | off
    languagetool_url: str | None = field(default_factory=lambda: os.environ.get("LANGUAGETOOL_URL"))
    use_lm: bool = True
    use_gazetteer: bool = True
    use_grammar: bool = True
    names_files: tuple[Path, ...] = ()
    block_threshold: float = 0.7  # an error finding at or above this confidence blocks publication
    warn_threshold: float = 0.3
    # Finding-confidence calibration: "default" (models/combiner.json when present), "off", or a path.
    calibration: str = "default"
    # The learned decision over the candidates (matches the news profile drops, odd OCR tokens):
    # "default" (models/decision.json when present; grammar then runs in candidate mode), "off", or a path.
    decision: str = "default"
    # Report decided candidates from this probability instead of the model's dev-chosen threshold
    # (lower: more recall, more false alarms; the dev trade-off is in docs/evaluation.md).
    decision_threshold: float | None = None
    grammar_candidates: bool = False  # set by make_pipeline when a decision is in use
    # Findings below this (calibrated) confidence are not reported. None: the calibration's own
    # dev-chosen report threshold (0 without a calibration); not the default, see README.
    min_confidence: float | None = 0.0
