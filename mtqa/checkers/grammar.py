"""The grammar checker: LanguageTool-family rule hits as mtqa findings.

Rule hits come from a backend (see :mod:`mtqa.grammar`), are filtered by the news profile
(LanguageTool rule and category ids), mapped to mtqa categories (``spelling``, ``grammar``,
``style``, and ``ocr`` for OCR-like damage), and passed through the name-aware filter
(:mod:`mtqa.grammar.names`) so a correct foreign name is never reported as a spelling error.

In candidate mode (a profile with ``candidates: true``, e.g. ``mtqa/data/grammar_candidates.yaml``)
the engine runs its full default rule set and every match is reported at low confidence with
``evidence.news_profile``: ``kept`` (then the finding is exactly what the news profile reports) or
why the profile drops it (``rule_off``, ``known_name``, ``other_variant``, ``unknown_name``); a
learned decision (:mod:`mtqa.decision`) chooses among them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any, Callable, Sequence

from ..config import Settings
from ..document import Document
from ..findings import Category, Finding, Severity
from ..grammar import GrammarBackend, GrammarMatch, Profile, load_profile, make_backend
from ..grammar.names import NameLookup, as_lookup, gazetteer_provider, is_name_like, near_miss

log = logging.getLogger(__name__)

_POSSESSIVE = ("'s", "’s", "'", "’")
_APOSTROPHES = "'’ʼ"
CANDIDATE_CONFIDENCE = 0.1  # a match the news profile drops: only a candidate for the decision


class GrammarChecker:
    name = "grammar"
    version = "1"

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        backend: GrammarBackend | None = None,
        profile: Profile | None = None,
        name_lookup: Any = None,
        name_lookup_provider: Callable[[Document], Any] | None = None,
    ) -> None:
        """Cheap: the engine is built on the first ``check`` (or ``signature``).

        ``name_lookup``: a fixed :class:`NameLookup` (or ``word -> bool`` callable, or a set of
        known names). ``name_lookup_provider``: ``doc -> lookup`` per document; by default the
        gazetteer's ``mtqa.gazetteer.name_lookup`` when that package provides it.
        """
        self.settings = settings or Settings()
        self.choice = str(getattr(self.settings, "grammar", "auto") or "auto").lower()
        self._backend = backend
        self._profile = profile
        self._notes: dict[str, str] = {}
        self._fixed_lookup = as_lookup(name_lookup)
        self._provider = name_lookup_provider
        self._provider_resolved = name_lookup_provider is not None or name_lookup is not None
        self._lock = threading.Lock()

    # --- lazy parts ---------------------------------------------------------------------------
    @property
    def profile(self) -> Profile:
        if self._profile is None:
            self._profile = load_profile(self.settings)
        return self._profile

    def backend(self) -> GrammarBackend:
        with self._lock:
            if self._backend is None:
                self._backend, self._notes = make_backend(self.choice, self.profile, self.settings)
            return self._backend

    def signature(self) -> dict[str, Any]:
        if self.choice == "off":
            return {"backend": "off"}
        try:
            backend = self.backend()
        except Exception as exc:  # the run signature must not crash the run; check() reports it
            return {"backend": self.choice, "error": f"{type(exc).__name__}: {exc}"}
        return {
            "grammar_backend": f"{backend.name}-{backend.version}",
            "backend": backend.name,
            "backend_version": backend.version,
            "grammar_profile": self.profile.digest,
            **self._notes,
        }

    def close(self) -> None:
        if self._backend is not None:
            self._backend.close()

    # --- checking -----------------------------------------------------------------------------
    def check(self, docs: Sequence[Document]) -> list[list[Finding]]:
        if self.choice == "off" or not docs:
            return [[] for _ in docs]
        backend = self.backend()
        results = backend.check([doc.text for doc in docs])
        return [self.findings_for(doc, matches, self.profile, backend.name) for doc, matches in zip(docs, results)]

    def findings_for(
        self, doc: Document, matches: Sequence[GrammarMatch], profile: Profile | None = None, backend: str = ""
    ) -> list[Finding]:
        profile = profile or self.profile
        lookup = self._lookup_for(doc)
        out = []
        seen = set()
        for match in matches:
            match = _whole_name(doc.text, match, profile)
            if (match.start, match.end, match.rule_id) in seen:  # two pieces of one name
                continue
            seen.add((match.start, match.end, match.rule_id))
            finding, why = self._judge(doc, match, profile, lookup, backend)
            if profile.candidates:
                finding = self._candidate(doc, match, profile, backend, finding, why)
            if finding is not None:
                out.append(finding)
        return out

    def _candidate(
        self, doc: Document, m: GrammarMatch, profile: Profile, backend: str, kept: Finding | None, why: str
    ) -> Finding | None:
        if kept is not None:
            return replace(kept, evidence={**kept.evidence, "news_profile": "kept"})
        start, end = max(0, m.start), min(len(doc.text), m.end)
        if end < start:
            return None
        word = doc.text[start:end]
        evidence: dict[str, Any] = {"backend": backend, "rule_id": m.rule_id, "rule_category": m.category_id,
                                    "news_profile": why}  # fmt: skip
        if m.issue_type:
            evidence["issue_type"] = m.issue_type
        return Finding(
            start=start, end=end, category=profile.category_for(m.rule_id, m.category_id), severity=Severity.INFO,
            confidence=CANDIDATE_CONFIDENCE, message=m.message or m.rule_id, check=f"grammar.{m.rule_id}",
            suggestions=tuple(list(dict.fromkeys(s for s in m.suggestions if s != word))[: profile.max_suggestions]),
            evidence=evidence,
        )  # fmt: skip

    def _lookup_for(self, doc: Document) -> NameLookup | None:
        if self._fixed_lookup is not None:
            return self._fixed_lookup
        if not self._provider_resolved:
            self._provider = gazetteer_provider()
            self._provider_resolved = True
        if self._provider is None:
            return None
        try:
            return as_lookup(self._provider(doc))
        except Exception:  # a broken gazetteer must not take the grammar signal down
            log.warning("name lookup provider failed; name-like spelling hits are dropped", exc_info=True)
            return None

    def _to_finding(
        self, doc: Document, m: GrammarMatch, profile: Profile, lookup: NameLookup | None, backend: str
    ) -> Finding | None:
        return self._judge(doc, m, profile, lookup, backend)[0]

    def _judge(
        self, doc: Document, m: GrammarMatch, profile: Profile, lookup: NameLookup | None, backend: str
    ) -> tuple[Finding | None, str]:
        """What the news profile reports for one match, or None and why it drops it."""
        if not profile.allows(m.rule_id, m.category_id):
            return None, "rule_off"
        start, end = max(0, m.start), min(len(doc.text), m.end)
        if end < start:
            return None, "bad_span"
        word = doc.text[start:end]
        category = profile.category_for(m.rule_id, m.category_id)
        kind = category.value
        message = m.message or m.rule_id
        suggestions = list(dict.fromkeys(s for s in m.suggestions if s != word))
        evidence: dict[str, Any] = {"backend": backend, "rule_id": m.rule_id, "rule_category": m.category_id}
        if m.issue_type:
            evidence["issue_type"] = m.issue_type

        name_like = is_name_like(word)
        if name_like and lookup is not None and _known(lookup, word):
            # The gazetteer knows this name or variant: no rule overrides it. Only name-like
            # tokens are looked up: lowercase "heard" is not the place Heard.
            return None, "known_name"
        if profile.is_word_spelling(m.rule_id):
            if profile.is_other_variant(message) or (suggestions and profile.is_variant_spelling(word, suggestions[0])):
                return None, "other_variant"  # right in another English variant ("colour", "centre", "labourer")
            ocr = next(
                ((s, why) for s in suggestions[:3] if (why := profile.ocr_explains(word, s, name_like=name_like))),
                None,
            )
            if ocr is not None:
                fix, why = ocr
                category, kind = Category.OCR, "ocr"
                suggestions = [fix] + [s for s in suggestions if s != fix]
                evidence.update(ocr=why, engine_message=message)
                message = f"Looks like OCR damage ({why}): did you mean “{fix}”?"
            elif name_like:
                canonical = near_miss(lookup, word, start, end)
                if canonical is None:
                    return None, "unknown_name"  # an unknown name is the gazetteer's call, not the spell checker's
                category, kind = Category.SPELLING, "name_like"
                suggestions = [canonical]  # never English words for a name
                evidence.update(near_name=canonical, engine_message=message)
                message = f"Unknown word close to the name “{canonical}”"
        severity, confidence = profile.severity_confidence(kind)
        return Finding(
            start=start,
            end=end,
            category=category,
            severity=severity,
            confidence=confidence,
            message=message,
            check=f"grammar.{m.rule_id}",
            suggestions=tuple(suggestions[: profile.max_suggestions]),
            evidence=evidence,
        ), "kept"


def _whole_name(text: str, m: GrammarMatch, profile: Profile) -> GrammarMatch:
    """LanguageTool splits "Mar’ino", "Prokop’yevsk", "O'Brien" at the apostrophe and spells a piece
    ("ino"): a spelling match on a piece of a name-like word is a match on the word, and its
    suggestions, made for the piece, go."""
    if not profile.is_word_spelling(m.rule_id) or not 0 <= m.start <= m.end <= len(text):
        return m
    start, end = _apostrophe_word(text, m.start, m.end)
    if (start, end) == (m.start, m.end) or not is_name_like(text[start:end]):
        return m
    return replace(m, start=start, end=end, suggestions=())


def _apostrophe_word(text: str, start: int, end: int) -> tuple[int, int]:
    """The span grown over letters joined by apostrophes ("ino" in "Mar’ino" -> "Mar’ino")."""

    def joins(i: int) -> bool:  # text[i] belongs to the word: a letter, or an apostrophe between letters
        return text[i].isalpha() or (text[i] in _APOSTROPHES and 0 < i < len(text) - 1
                                     and text[i - 1].isalpha() and text[i + 1].isalpha())

    s, e = start, end
    while s > 0 and joins(s - 1):
        s -= 1
    while e < len(text) and joins(e):
        e += 1
    crossed = any(c in _APOSTROPHES for c in text[s:start] + text[end:e])
    return (s, e) if crossed else (start, end)


def _known(lookup: NameLookup, word: str) -> bool:
    if lookup.is_known_name(word):
        return True
    for tail in _POSSESSIVE:
        if word.endswith(tail) and lookup.is_known_name(word[: -len(tail)]):
            return True
    return False
