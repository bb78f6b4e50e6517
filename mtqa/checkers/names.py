"""Corrupted names: near-misses of known places, people and organisations (``mtqa.gazetteer``).

Checks: ``gazetteer.place`` / ``gazetteer.person`` / ``gazetteer.org`` (a corrupted name, the
canonical form first in the suggestions), ``gazetteer.variant_mix`` (info: one document spells
one entity two ways, e.g. Kupiansk and Kupyansk) and ``gazetteer.house_style`` (info: the
newsroom list prefers another form). Correct names and legitimate variants are never errors;
unknown names far from every known one are left alone.
"""

from __future__ import annotations

import logging
from typing import Sequence

from ..config import Settings
from ..document import Document
from ..findings import Category, Finding, Severity

log = logging.getLogger(__name__)
CHECK_BY_KIND = {"place": "gazetteer.place", "region": "gazetteer.place", "person": "gazetteer.person",
                 "organisation": "gazetteer.org"}

ERROR_AT = 0.8


class NameChecker:
    name = "names"
    version = "1"

    def __init__(self, settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self._matcher = None
        self._lm = None
        self._lm_failed = False

    @property
    def matcher(self):
        if self._matcher is None:
            from ..gazetteer import use_matcher
            from ..gazetteer.index import load_gazetteer
            from ..gazetteer.matcher import Matcher

            self._matcher = Matcher(load_gazetteer(tuple(self.settings.names_files)))
            if self.settings.use_lm:
                self._matcher.lm_adjust = self._lm_adjust
            use_matcher(self._matcher)
        return self._matcher

    def signature(self) -> dict:
        from ..gazetteer.index import gazetteer_hash

        return {"gazetteer_hash": gazetteer_hash(tuple(self.settings.names_files)),
                "names_files": [str(p) for p in self.settings.names_files], "lm_evidence": self.settings.use_lm}

    def check(self, docs: Sequence[Document]) -> list[list[Finding]]:
        from ..gazetteer.matcher import resolve_names

        matcher = self.matcher
        return [self._findings(doc, resolve_names(doc, matcher)) for doc in docs]

    # -- LM evidence (optional) ------------------------------------------------------------------
    def _scorer(self):
        if self._lm is None and not self._lm_failed:
            try:
                from ..lm import get_scorer

                self._lm = get_scorer(self.settings)
            except Exception as exc:  # no LM: the gazetteer decides alone
                log.info("names: LM evidence unavailable (%s)", exc)
                self._lm_failed = True
        return self._lm

    def _lm_adjust(self, doc: Document, suspects, threshold: float) -> list[float | None]:
        """Per suspect, Δ log-prob of its sentence with the best candidate in place (None: not
        consulted); the suspects of a document go to the scorer in one queue."""
        margin = float(self.matcher.decision.get("lm", {}).get("margin", 0.15))
        edits, asked = [], []
        for n, suspect in enumerate(suspects):
            if suspect.best is None or suspect.probability <= 0.0 or suspect.probability < threshold - margin:
                continue
            sentence = next((s for s in doc.sentences if s.start <= suspect.best["start"] < s.end), None)
            if sentence is None:
                continue
            best = suspect.best
            replacement = best["canonical"] if best["coverage"] >= 1.0 else best["form"].title()
            edits.append((doc, best["start"], best["end"], [replacement], sentence.end))
            asked.append(n)
        deltas: list[float | None] = [None] * len(suspects)
        scorer = self._scorer() if edits else None
        if scorer is None:
            return deltas
        try:
            from ..lm import rescore_edits

            for n, values in zip(asked, rescore_edits(scorer, edits)):
                deltas[n] = float(values[0])
        except Exception:
            log.debug("names: LM rescoring failed", exc_info=True)
        return deltas

    # -- findings ----------------------------------------------------------------------------------
    def _findings(self, doc: Document, names) -> list[Finding]:
        findings: list[Finding] = []
        for name in names:
            if name.status != "corrupt":
                continue
            kind_word = {"organisation": "organisation", "person": "person's", "region": "place"}.get(name.kind, "place")
            findings.append(Finding(
                name.start, name.end, Category.NAME,
                Severity.ERROR if name.confidence >= ERROR_AT else Severity.WARNING, name.confidence,
                f"“{name.text}” looks like a corrupted {kind_word} name; did you mean “{name.suggestions[0]}”?",
                CHECK_BY_KIND.get(name.kind, "gazetteer.place"), name.suggestions, name.evidence,
            ))  # fmt: skip
        findings += self._variant_mix(doc, names)
        findings += self._house_style(doc, names)
        return findings

    def _variant_mix(self, doc: Document, names) -> list[Finding]:
        """One entity spelled two ways in one document (persons compared by surname)."""
        first_form: dict[int, str] = {}
        out = []
        for name in names:
            if name.status == "corrupt":
                continue
            from ..gazetteer.normalize import fold

            form = fold(name.text)
            if name.kind == "person":
                form = form.split()[-1]
            seen = first_form.setdefault(name.entity, form)
            if seen != form and not (name.kind == "person" and len(form) < 4):
                gaz = self.matcher.gaz
                preferred = gaz.preferred.get(name.entity) or name.canonical
                # Suggest a replacement only when it is like for like ("Zelensky" is not to become a full name).
                same_shape = len(preferred.split()) == len(name.text.split()) and fold(preferred) != fold(name.text)
                out.append(Finding(
                    name.start, name.end, Category.STYLE, Severity.INFO, 0.9,
                    f"“{name.text}” and an earlier spelling name the same {name.kind} ({name.canonical}); "
                    "use one form throughout.",
                    "gazetteer.variant_mix", (preferred,) if same_shape else (), {"canonical": name.canonical, "first_form": seen,
                                                            "this_form": form},
                ))  # fmt: skip
        return out

    def _house_style(self, doc: Document, names) -> list[Finding]:
        from ..gazetteer.normalize import fold

        gaz = self.matcher.gaz
        out = []
        for name in names:
            preferred = gaz.preferred.get(name.entity)
            if name.status == "corrupt" or not preferred or fold(name.text) == fold(preferred):
                continue
            if name.kind == "person" and fold(preferred).endswith(fold(name.text)):
                continue  # a surname alone is a short form, not another spelling
            out.append(Finding(
                name.start, name.end, Category.STYLE, Severity.INFO, 0.9,
                f"House style prefers “{preferred}” for {name.canonical}.", "gazetteer.house_style", (preferred,),
                {"canonical": name.canonical, "note": gaz.note.get(name.entity, "")},
            ))  # fmt: skip
        return out

