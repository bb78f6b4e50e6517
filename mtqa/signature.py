"""What produced a report (like sacrebleu's signature): enough to reproduce or compare runs."""

from __future__ import annotations

from typing import Any, Sequence

from . import __version__
from .pipeline import Checker, describe

# Keys a checker may report that belong at the top of the signature.
_TOP_LEVEL = ("model", "dtype", "device", "grammar_backend", "gazetteer_hash")


def run_signature(checkers: Sequence[Checker], combiner: dict[str, Any] | None = None) -> dict[str, Any]:
    signature: dict[str, Any] = {"mtqa": __version__, **{key: None for key in _TOP_LEVEL}}
    details = {}
    for checker in checkers:
        try:
            info = describe(checker)
        except Exception as exc:  # a signature must never sink a report
            info = {"version": checker.version, "error": str(exc)}
        details[checker.name] = info
        for key in _TOP_LEVEL:
            if info.get(key) is not None and signature[key] is None:
                signature[key] = info[key]
    signature["checkers"] = details
    signature.update(combiner or {})
    signature["text"] = signature_text(signature)
    return signature


def signature_text(signature: dict[str, Any]) -> str:
    """One line for logs and report footers: ``mtqa:0.1.0|model:...|checkers:ocr-1,...``."""
    parts = [f"mtqa:{signature['mtqa']}"]
    parts += [f"{key}:{signature.get(key) or 'none'}" for key in (*_TOP_LEVEL, "calibration", "decision")]
    checkers = signature.get("checkers", {})
    parts.append("checkers:" + ",".join(f"{name}-{info.get('version')}" for name, info in checkers.items()))
    return "|".join(parts)
