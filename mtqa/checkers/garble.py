"""The ``garble`` checker: what machine translation breaks beyond names and spelling."""

from __future__ import annotations

import logging
from typing import Any, Sequence

from ..config import Settings
from ..document import Document
from ..findings import Finding
from ..garble import LMHelper, detect_many
from ..garble.lexicon import RULES_FILE, THRESHOLDS_FILE

log = logging.getLogger(__name__)


class GarbleChecker:
    """Rule detectors always; LM rescoring (pronouns, word order, word form, surprisal outliers)
    when ``settings.use_lm`` and the LM core loads. Without the LM the pronoun rule still runs,
    with lower confidence."""

    name = "garble"
    version = "1.0"

    def __init__(self, settings: Settings | None = None, scorer: Any | None = None) -> None:
        self.settings = settings or Settings()
        self._scorer = scorer
        self._lm_failed: str | None = None

    def _lm(self) -> LMHelper | None:
        if self._scorer is None and self.settings.use_lm and self._lm_failed is None:
            try:
                from ..lm import get_scorer

                self._scorer = get_scorer(self.settings)
            except Exception as exc:  # no model installed: rule-only, said in the signature
                self._lm_failed = f"{type(exc).__name__}: {exc}"
                log.warning("garble: LM unavailable, running rule-only (%s)", self._lm_failed)
        return LMHelper(self._scorer) if self._scorer is not None else None

    def check(self, docs: Sequence[Document]) -> list[list[Finding]]:
        return detect_many(list(docs), self._lm(), self.settings.use_gazetteer)

    def signature(self) -> dict[str, Any]:
        import hashlib

        digest = hashlib.sha256(RULES_FILE.read_bytes() + THRESHOLDS_FILE.read_bytes()).hexdigest()[:12]
        sig: dict[str, Any] = {"rules_hash": digest, "lm": self._scorer is not None}
        if self._lm_failed:
            sig["lm_error"] = self._lm_failed
        return sig
