"""MT garble detectors: decoder repetitions, untranslated words, case damage, fragments,
broken attributions, first-person framing, pronoun artefacts, word-order and word-form slips, surprisal outliers.

``detect(doc, lm=None, use_gazetteer=True)`` runs them all on one document; the LM-based ones run
only when ``lm`` (an :class:`LMHelper` around an ``mtqa.lm`` scorer) is given. Word lists live in
``mtqa/data/garble.yaml``, calibrated thresholds in ``mtqa/data/garble_thresholds.yaml``.
"""

from __future__ import annotations

from ..document import Document
from ..findings import Finding
from .gazetteer import name_info
from .lmslips import LMHelper, find_lm_slips, find_surprisal_outliers
from .pronoun import build_findings, find_candidates
from .rules import (
    find_broken_attributions,
    find_case_damage,
    find_first_person,
    find_fragments,
    find_inner_lost_capitals,
    find_repetitions,
    find_untranslated,
)

__all__ = ["LMHelper", "detect", "detect_rules"]


def detect_rules(doc: Document, use_gazetteer: bool = True) -> list[Finding]:
    info = name_info(doc, use_gazetteer)
    known = info.is_known_name if info.available else None
    found: list[Finding] = []
    found += find_repetitions(doc)
    found += find_untranslated(doc, known)
    found += find_case_damage(doc)
    found += find_inner_lost_capitals(doc)
    found += find_fragments(doc)
    found += find_broken_attributions(doc)
    found += find_first_person(doc)
    return found


def detect(doc: Document, lm: LMHelper | None = None, use_gazetteer: bool = True) -> list[Finding]:
    found = detect_rules(doc, use_gazetteer)
    info = name_info(doc, use_gazetteer)
    candidates = find_candidates(doc, info)
    if lm is not None:
        found += build_findings(doc, candidates, lm.rescore, lambda i: lm.context(doc, i))
        taken = [(f.start, f.end) for f in found]
        for f in find_lm_slips(doc, lm):
            if all(f.end <= s or f.start >= e for s, e in taken):
                found.append(f)
        found += find_surprisal_outliers(doc, lm)
    else:
        found += build_findings(doc, candidates, None, lambda i: "")
    return sorted(found, key=lambda f: (f.start, f.end, f.check))
