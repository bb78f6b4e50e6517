"""MT garble detectors: decoder repetitions, untranslated words, case damage, fragments,
broken attributions, first-person framing, pronoun artefacts, word-order and word-form slips, surprisal outliers.

``detect_many(docs, lm=None, use_gazetteer=True)`` runs them all on a batch of documents (``detect``
on one); the LM-based ones run only when ``lm`` (an :class:`LMHelper` around an ``mtqa.lm`` scorer)
is given, and every rewrite of every document of the batch goes to the scorer in one queue. Word lists live in
``mtqa/data/garble.yaml``, calibrated thresholds in ``mtqa/data/garble_thresholds.yaml``.
"""

from __future__ import annotations

from ..document import Document
from ..findings import Finding
from .gazetteer import name_info
from .lmslips import LMHelper, find_surprisal_outliers, plan_slips, slip_findings
from .pronoun import build_findings, find_candidates, pronoun_edits
from .rules import (
    find_broken_attributions,
    find_case_damage,
    find_first_person,
    find_fragments,
    find_inner_lost_capitals,
    find_repetitions,
    find_untranslated,
)

__all__ = ["LMHelper", "detect", "detect_many", "detect_rules"]


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
    return detect_many([doc], lm, use_gazetteer)[0]


def detect_many(docs: list[Document], lm: LMHelper | None = None, use_gazetteer: bool = True) -> list[list[Finding]]:
    found = [detect_rules(doc, use_gazetteer) for doc in docs]
    candidates = [find_candidates(doc, name_info(doc, use_gazetteer)) for doc in docs]
    if lm is None:
        for doc, out, cands in zip(docs, found, candidates):
            out += build_findings(doc, cands, None)
        return [sorted(out, key=lambda f: (f.start, f.end, f.check)) for out in found]
    lm.prepare(docs)
    plans = [plan_slips(doc, lm) for doc in docs]
    edits, owners = [], []
    for n, (doc, cands, (slips, slip_edits)) in enumerate(zip(docs, candidates, plans)):
        for kind, batch in (("pronoun", pronoun_edits(doc, cands)), ("slip", slip_edits)):
            edits += batch
            owners += [(n, kind)] * len(batch)
    deltas = lm.rescore_edits(edits)
    by_doc: list[dict[str, list[list[float]]]] = [{"pronoun": [], "slip": []} for _ in docs]
    for (n, kind), d in zip(owners, deltas):
        by_doc[n][kind].append(d)
    for doc, out, cands, (slips, _), mine in zip(docs, found, candidates, plans, by_doc):
        out += build_findings(doc, cands, mine["pronoun"])
        taken = [(f.start, f.end) for f in out]
        out += [f for f in slip_findings(slips, mine["slip"]) if all(f.end <= s or f.start >= e for s, e in taken)]
        out += find_surprisal_outliers(doc, lm)
    return [sorted(out, key=lambda f: (f.start, f.end, f.check)) for out in found]
