"""LM-based garble: swapped adjacent words, wrong part of speech, wrong or missing function words,
tense breaks, and sentences far more surprising than the rest of their document.

CPU cost is bounded: per sentence only the most surprising positions are tried (``max_positions``
word pairs as swaps, words for part-of-speech variants and function-word exchanges,
``insert_positions`` gaps for a dropped function word, ``tense_positions`` verbs in the other
tense); each rewrite is one request whose candidates share the sentence prefix in the scorer.
"""

from __future__ import annotations

import logging
import math
import statistics
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Sequence

from ..document import Document
from ..findings import Category, Finding, Severity
from ..text import Token
from .lexicon import is_headline, lower_set, rules, thresholds

log = logging.getLogger(__name__)


class LMHelper:
    """The LM core (mtqa.lm) seen from the garble detectors."""

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer

    def prepare(self, docs: Sequence[Document]) -> None:
        """Score every sentence of the batch in one pass."""
        from ..lm import sentence_scores_many

        sentence_scores_many(docs, self.scorer)

    def sentence_scores(self, doc: Document) -> list[Any]:
        from ..lm import sentence_scores

        return sentence_scores(doc, self.scorer)

    def rescore_edits(self, edits: Sequence[tuple[Document, int, int, Sequence[str], int]]) -> list[list[float]]:
        """Δ log-prob per candidate of each ``(doc, start, end, candidates, stop)`` (one queue)."""
        from ..lm import rescore_edits

        return rescore_edits(self.scorer, edits)


# ---------------------------------------------------------------- candidate rewrites


@lru_cache(maxsize=1)
def _vocabulary() -> dict[str, list[str]]:
    """Frequent English words indexed by their first four letters (for derivational variants)."""
    import wordfreq

    size = int(thresholds()["lm_slips"]["vocabulary_size"])
    index: dict[str, list[str]] = {}
    for word in wordfreq.top_n_list("en", size):
        if word.isalpha() and word.islower() and len(word) >= 4:
            index.setdefault(word[:4], []).append(word)
    return index


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b):
        if x != y:
            break
        n += 1
    return n


@lru_cache(maxsize=16384)
def pos_variants(word: str) -> tuple[str, ...]:
    """Same-root words of another form: president/presidential, compare/comparison, close/closely,
    plus lemminflect's inflections of the word's lemmas."""
    import lemminflect

    th = thresholds()["lm_slips"]
    low = word.lower()
    found: dict[str, None] = {}
    for upos, lemmas in lemminflect.getAllLemmas(low).items():
        for lemma in lemmas:
            for forms in lemminflect.getAllInflections(lemma).values():
                for form in forms:
                    if form != low and form.isalpha():
                        found[form] = None
    max_suffix = int(th["max_suffix"])
    suffixes = frozenset(rules()["lm_slips"]["suffixes"]) | {""}
    if len(low) >= 4:
        for other in _vocabulary().get(low[:4], ()):
            if other == low:
                continue
            cp = _common_prefix(low, other)
            if cp < max(4, min(len(low), len(other)) - max_suffix):
                continue
            if len(low) - cp > max_suffix or len(other) - cp > max_suffix:
                continue
            # the differing endings must both be derivational suffixes (grape/graphic is not)
            if low[cp:] not in suffixes or other[cp:] not in suffixes:
                continue
            found[other] = None
            if len(found) >= int(th["max_variants"]) * 3:
                break
    floor = float(th["min_variant_zipf"])
    ordered = sorted((w for w in found if _zipf(w) >= floor), key=lambda w: -_zipf(w))[: int(th["max_variants"])]
    if word[:1].isupper():
        ordered = [w[0].upper() + w[1:] for w in ordered]
    return tuple(ordered)


@lru_cache(maxsize=65536)
def _zipf(word: str) -> float:
    import wordfreq

    return wordfreq.zipf_frequency(word, "en")


def _same_case(form: str, like: str) -> str:
    return form[0].upper() + form[1:] if like[:1].isupper() else form


@lru_cache(maxsize=16384)
def tense_variants(word: str) -> tuple[str, ...]:
    """The word in the other tense: past forms for a present verb, present forms for a past one
    ("were" -> "are", "reveals" -> "revealed"); modals from the data file ("can" -> "could")."""
    import lemminflect

    low = word.lower()
    modal = rules()["lm_slips"]["modal_tense"].get(low)
    if modal:
        return (_same_case(modal, word),)
    found: dict[str, None] = {}
    lemmas = lemminflect.getAllLemmas(low)
    for upos in ("AUX", "VERB"):
        for lemma in lemmas.get(upos, ()):
            past = set(lemminflect.getInflection(lemma, "VBD"))
            present = set(lemminflect.getInflection(lemma, "VBZ")) | set(lemminflect.getInflection(lemma, "VBP"))
            if low in past and low not in present:
                found.update(dict.fromkeys(sorted(present)))
            elif low in present and low not in past:
                found.update(dict.fromkeys(sorted(past)))
    found.pop(low, None)
    return tuple(_same_case(f, word) for f in found if f.isalpha())


def _future_variants(verb: str) -> tuple[str, ...]:
    """"will reveal" -> "revealed", "reveals", "reveal" (the verb after "will" in base form)."""
    import lemminflect

    low = verb.lower()
    lemmas = lemminflect.getAllLemmas(low)
    if low not in lemmas.get("VERB", ()) + lemmas.get("AUX", ()):
        return ()  # not a base-form verb: "will" is a noun or the verb is elsewhere
    found: dict[str, None] = {}
    for tag in ("VBD", "VBZ", "VBP"):
        found.update(dict.fromkeys(lemminflect.getInflection(low, tag)))
    return tuple(f for f in found if f.isalpha())


@dataclass
class _Rewrite:
    kind: str  # "swap" | "pos" | "function" | "insert" | "tense"
    sentence: int
    start: int  # document offsets of the rewritten span
    end: int
    original: str
    candidates: list[str]
    surprisal: float


def _word_surprisals(scored: Any, toks: list[Token], base: int) -> list[float]:
    values = []
    for t in toks:
        v = scored.word_surprisal(t.start - base, t.end - base)
        values.append(0.0 if v is None or math.isnan(v) else float(v))
    return values


def _rewritable(tok: Token, first: bool) -> bool:
    word = tok.text
    if not word.isalpha():
        return False
    if word[:1].isupper() and not first:
        return False  # names are the gazetteer's business
    return not word.isupper() or len(word) == 1


def _swappable(tok: Token) -> bool:
    return tok.text.isalpha() and (not tok.text.isupper() or len(tok.text) == 1)


def plan_rewrites(doc: Document, scored: list[Any]) -> list[_Rewrite]:
    th = thresholds()["lm_slips"]
    k = int(rules()["lm_slips"]["max_positions"])
    min_words = int(th["min_words"])
    function_words = lower_set(rules()["lm_slips"]["function_words"])
    text = doc.text
    plans: list[_Rewrite] = []
    for index, sentence in enumerate(doc.sentences):
        toks = doc.sentence_tokens(index)
        if len(toks) < min_words or is_headline(doc, sentence):
            continue
        ws = _word_surprisals(scored[index], toks, sentence.start)
        # swaps: the pair whose two words together surprise the model most
        pairs = []
        for j in range(len(toks) - 1):
            a, b = toks[j], toks[j + 1]
            gap = text[a.end : b.start]
            # names may be swapped too ("the States United"); only all-caps codes are left alone
            if gap != " " or not (_swappable(a) and _swappable(b)):
                continue
            if a.text.lower() == b.text.lower():
                continue
            pairs.append((ws[j] + ws[j + 1], j))
        for score, j in sorted(pairs, reverse=True)[:k]:
            a, b = toks[j], toks[j + 1]
            first, second = b.text, a.text
            if j == 0 and a.text[:1].isupper() and a.text[1:].islower():
                first, second = first[0].upper() + first[1:], (second.lower() if second != "I" else second)
            plans.append(_Rewrite("swap", index, a.start, b.end, text[a.start : b.end], [f"{first} {second}"], score))
        # part-of-speech variants of the most surprising content words
        singles = []
        for j, t in enumerate(toks):
            if not _rewritable(t, j == 0) or t.text.lower() in function_words or len(t.text) < 4:
                continue
            nxt = ws[j + 1] if j + 1 < len(toks) else 0.0
            singles.append((ws[j] + nxt, j))
        for score, j in sorted(singles, reverse=True)[:k]:
            t = toks[j]
            variants = list(pos_variants(t.text))
            if variants:
                plans.append(_Rewrite("pos", index, t.start, t.end, t.text, variants, score))
        plans += _function_word_rewrites(index, toks, ws)
        plans += _tense_rewrites(index, toks, ws, text)
    return plans


@lru_cache(maxsize=1)
def _function_word_class() -> dict[str, tuple[str, ...]]:
    """Each exchangeable function word -> the members of its class."""
    classes = rules()["lm_slips"]["function_word_classes"].values()
    return {word.lower(): tuple(members) for members in classes for word in members}


def _function_word_rewrites(index: int, toks: list[Token], ws: list[float]) -> list[_Rewrite]:
    """A function word exchanged for another of its class, and one dropped before a word.

    The word after a wrong or missing function word is what surprises the model, so positions are
    ranked by the surprisal of the word and the one after it."""
    cfg = rules()["lm_slips"]
    member_of = _function_word_class()
    plans = []
    exchangeable = []
    articles = {w.lower() for w in cfg["function_word_classes"]["article"]}
    # Not the first word (nothing before it for the model to judge it by: "During further
    # investigation" vs "After further ..."), nor an article before a name ("a Rakoczy horse
    # show" vs "the ...": which one is right is a fact the model does not have).
    for j in range(1, len(toks)):
        t, nxt = toks[j], (toks[j + 1] if j + 1 < len(toks) else None)
        if t.text not in member_of:
            continue
        if t.text in articles and nxt is not None and nxt.text[:1].isupper():
            continue
        exchangeable.append((ws[j] + (ws[j + 1] if nxt is not None else 0.0), j))
    for score, j in sorted(exchangeable, reverse=True)[: int(cfg["max_positions"])]:
        t = toks[j]
        others = [w for w in member_of[t.text] if w != t.text]
        plans.append(_Rewrite("function", index, t.start, t.end, t.text, others, score))
    gaps = [(ws[j], j) for j in range(1, len(toks)) if toks[j].text[:1].isalnum()]
    for score, j in sorted(gaps, reverse=True)[: int(cfg["insert_positions"])]:
        t = toks[j]
        before = toks[j - 1].text.lower()
        candidates = [f"{w} {t.text}" for w in cfg["insertable"] if w != before]
        plans.append(_Rewrite("insert", index, t.start, t.end, t.text, candidates, score))
    return plans


def _tense_rewrites(index: int, toks: list[Token], ws: list[float], text: str) -> list[_Rewrite]:
    """The most surprising finite verbs in the other tense; "will V" as past and present."""
    verbs = []
    for j, t in enumerate(toks):
        if not _rewritable(t, j == 0):
            continue
        low = t.text.lower()
        nxt = toks[j + 1] if j + 1 < len(toks) else None
        if low == "will" and nxt is not None and text[t.end : nxt.start] == " " and nxt.text.isalpha():
            variants = [_same_case(v, t.text) for v in _future_variants(nxt.text)]
            span_end, original = nxt.end, text[t.start : nxt.end]
        else:
            variants, span_end, original = list(tense_variants(t.text)), t.end, t.text
        if variants:
            score = ws[j] + (ws[j + 1] if j + 1 < len(toks) else 0.0)
            verbs.append((score, j, _Rewrite("tense", index, t.start, span_end, original, variants, score)))
    verbs.sort(key=lambda v: (-v[0], v[1]))
    return [plan for _, _, plan in verbs[: int(rules()["lm_slips"]["tense_positions"])]]


# kind -> check id, category, threshold key, message
_KINDS = {
    "swap": ("garble.word_order", Category.GARBLE, "swap_min_delta", 'Words look swapped: "{original}" reads better as "{suggestion}"'),
    "pos": ("garble.word_form", Category.REALWORD, "pos_min_delta", 'Wrong word form: "{original}" reads better as "{suggestion}"'),
    "function": ("garble.function_word", Category.REALWORD, "function_min_delta", 'Wrong function word: "{original}" reads better as "{suggestion}"'),
    "insert": ("garble.missing_word", Category.GARBLE, "insert_min_delta", 'A word looks missing: "{original}" reads better as "{suggestion}"'),
    "tense": ("garble.tense", Category.REALWORD, "tense_min_delta", 'Tense looks wrong: "{original}" reads better as "{suggestion}"'),
}


def plan_slips(doc: Document, lm: LMHelper, floors: dict[str, float] | None = None
               ) -> tuple[list[_Rewrite], list[tuple[Document, int, int, list[str], int]]]:
    """The rewrites of a document and their edits, each scored ``tail_words`` words past it: the
    effect of a local rewrite on the LM fades after a few words. A rewrite at a position the first
    pass found less surprising than its kind's floor (``min_position_bits``, fitted by
    ``benchmarks/bench_lm_quality.py --floors``) is not tried; ``floors={}`` tries them all. A
    candidate whose first token is far less likely than the text's (``min_first_token``, fitted by
    ``benchmarks/fit_first_token.py``) is not rescored."""
    th = thresholds()["lm_slips"]
    floors = th.get("min_position_bits", {}) if floors is None else floors
    plans = [p for p in plan_rewrites(doc, lm.sentence_scores(doc)) if p.surprisal >= float(floors.get(p.kind, 0.0))]
    tail_words = int(th["tail_words"])
    top_k = rules()["lm_slips"].get("rescore_top_k", {})
    first = th.get("min_first_token", {})
    edits = []
    for p in plans:
        sentence = doc.sentences[p.sentence]
        after = [t for t in doc.sentence_tokens(p.sentence) if t.start >= p.end]
        stop = after[tail_words - 1].end if len(after) >= tail_words else sentence.end
        # only a gain over the kind's threshold makes a finding: the scorer skips what cannot reach it
        need = float(th[_KINDS[p.kind][2]])
        edits.append((doc, p.start, p.end, p.candidates, stop, top_k.get(p.kind), need, first.get(p.kind)))
    return plans, edits


def slip_findings(plans: list[_Rewrite], deltas: list[list[float]]) -> list[Finding]:
    th = thresholds()["lm_slips"]
    best_by_span: dict[tuple[int, int], Finding] = {}
    for p, d in zip(plans, deltas):
        if not d:
            continue
        best_i = max(range(len(d)), key=lambda i: d[i])
        best = float(d[best_i])
        check, category, threshold_key, template = _KINDS[p.kind]
        need = float(th[threshold_key])
        if best < need:
            continue
        conf = min(float(th["max_confidence"]), float(th["base_confidence"]) + float(th["confidence_per_nat"]) * (best - need))
        suggestion = p.candidates[best_i]
        message = template.format(original=p.original, suggestion=suggestion)
        finding = Finding(
            start=p.start,
            end=p.end,
            category=category,
            severity=Severity(thresholds()["severity"]["lm_slip"]),
            confidence=round(conf, 4),
            message=message,
            check=check,
            suggestions=(suggestion,),
            evidence={
                "rule": "local rewrite scores better",
                "delta_logprob": round(best, 3),
                "threshold": need,
                "surprisal_bits": round(p.surprisal, 2),
                "tried": len(p.candidates),
            },
        )
        key = (p.start, p.end)
        if key not in best_by_span or best_by_span[key].confidence < finding.confidence:
            best_by_span[key] = finding
    # overlapping rewrites: keep the strongest
    kept: list[Finding] = []
    for f in sorted(best_by_span.values(), key=lambda f: -f.evidence["delta_logprob"]):
        if all(f.end <= g.start or f.start >= g.end for g in kept):
            kept.append(f)
    return sorted(kept, key=lambda f: f.start)


def find_lm_slips(doc: Document, lm: LMHelper) -> list[Finding]:
    plans, edits = plan_slips(doc, lm)
    return slip_findings(plans, lm.rescore_edits(edits))


def find_surprisal_outliers(doc: Document, lm: LMHelper) -> list[Finding]:
    """A sentence whose mean surprisal is far above the rest of its document."""
    th = thresholds()["surprisal"]
    scored = lm.sentence_scores(doc)
    means = []
    for index, sentence in enumerate(doc.sentences):
        toks = doc.sentence_tokens(index)
        m = scored[index].mean_surprisal()
        if len(toks) >= int(th["min_words"]) and m is not None and not math.isnan(m) and not is_headline(doc, sentence):
            means.append((index, float(m)))
    if len(means) < int(th["min_sentences"]):
        return []
    found = []
    for index, m in means:
        rest = [v for i, v in means if i != index]
        mu = statistics.fmean(rest)
        sd = statistics.pstdev(rest) or 1e-6
        z = (m - mu) / sd
        if z < float(th["min_z"]) or m - mu < float(th["min_excess_bits"]):
            continue
        sentence = doc.sentences[index]
        found.append(
            Finding(
                start=sentence.start,
                end=sentence.end,
                category=Category.GARBLE,
                severity=Severity(thresholds()["severity"]["surprisal"]),
                confidence=float(th["confidence"]),
                message=f"This sentence is far harder to read than the rest of the article ({m:.1f} vs {mu:.1f} bits per token): possible garbled translation",
                check="garble.surprisal",
                evidence={"rule": "sentence surprisal outlier", "mean_surprisal_bits": round(m, 3), "document_mean_bits": round(mu, 3), "z": round(z, 3)},
            )
        )
    return found
