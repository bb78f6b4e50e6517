"""The `lm` checker: real-word errors (a real word in the wrong place) found with a language model.

A word is suspicious when the model is surprised by it or by the token after it; it is flagged
when a nearby candidate (a spelling neighbour, an inflection of the same lemma, or a member of
the same confusion set) makes the sentence clearly more probable. "Clearly" is a noisy-channel
score: Δ log-prob of the sentence minus the cost of the edit that would have produced the error,
compared with thresholds calibrated on data (``python -m mtqa.lm.calibrate``).

Capitalised words inside a sentence are left to the gazetteer (they are mostly names), except in
title-case headlines, where a capital means nothing and only dictionary words are examined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Sequence

import yaml

from ..config import PACKAGE_DATA, Settings
from ..document import Document
from ..findings import Category, Finding, Severity
from ..text import Token

CONFIG_FILE = PACKAGE_DATA / "lm_checker.yaml"
THRESHOLDS_FILE = PACKAGE_DATA / "lm_thresholds.yaml"


@lru_cache(maxsize=1)
def load_config() -> dict[str, Any]:
    return yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))


def load_thresholds(model: str) -> dict[str, Any]:
    data = yaml.safe_load(THRESHOLDS_FILE.read_text(encoding="utf-8")) if THRESHOLDS_FILE.exists() else {}
    models = (data or {}).get("models", {})
    if model in models:
        return models[model]
    if "default" in models:
        return models["default"]
    raise KeyError(
        f"no calibrated lm thresholds for {model!r} in {THRESHOLDS_FILE}: "
        f"run `python -m mtqa.lm.calibrate --model {model}`"
    )


@dataclass(frozen=True)
class Candidate:
    word: str
    kind: str  # confusion | inflection | family | spelling
    edits: int
    first_letter_changed: bool = False


class CandidateGenerator:
    """Replacement candidates for a word, from data: confusion sets, inflections, spelling neighbours."""

    def __init__(self, config: dict[str, Any] | None = None) -> None:
        self.config = config or load_config()
        self.confusion: dict[str, set[str]] = {}
        for raw in self.config["confusion_sets"]:
            group = [str(w) for w in raw if isinstance(w, str)]
            if len(group) != len(raw):
                raise ValueError(f"{CONFIG_FILE}: quote YAML keywords in confusion set {raw}")
            for word in group:
                self.confusion.setdefault(word, set()).update(w for w in group if w != word)
        self._vocab: list[str] | None = None

    @staticmethod
    def is_dictionary_word(word: str) -> bool:
        from lemminflect import getAllLemmas

        return bool(getAllLemmas(word))

    def known(self, lower: str) -> bool:
        return lower in self.confusion or self.is_dictionary_word(lower)

    @property
    def vocabulary(self) -> list[str]:
        """Frequent English dictionary words, most frequent first."""
        if self._vocab is None:
            from wordfreq import top_n_list

            size = int(self.config["vocabulary_size"])
            shortest = int(self.config["min_word_length"])
            self._vocab = [
                w for w in top_n_list("en", size)
                if w.isalpha() and w.isascii() and len(w) >= shortest and self.known(w)
            ]
        return self._vocab

    @property
    def _sorted_vocabulary(self) -> tuple[list[str], dict[str, int]]:
        if getattr(self, "_sorted", None) is None:
            rank = {w: i for i, w in enumerate(self.vocabulary)}
            self._sorted = (sorted(self.vocabulary), rank)
        return self._sorted

    def family(self, word: str) -> list[str]:
        """Words sharing the word's stem (a long common prefix): the POS shifts MT makes
        (important/importance, president/presidential, decide/decision), most frequent first."""
        from bisect import bisect_left

        rule = self.config["family"]
        stem_len = max(int(rule["min_stem"]), len(word) - int(rule["max_suffix"]))
        if len(word) < int(rule["min_length"]):
            return []  # short words share a prefix with too many unrelated words
        stem = word[:stem_len]
        ordered, rank = self._sorted_vocabulary
        out = []
        for w in ordered[bisect_left(ordered, stem) :]:
            if not w.startswith(stem):
                break
            if w != word and abs(len(w) - len(word)) <= int(rule["max_length_change"]):
                out.append(w)
        out.sort(key=lambda w: rank[w])
        return out[: int(rule["max_candidates"])]

    def max_edits(self, word: str) -> int:
        edits = 0
        for rule in self.config["max_edits"]:
            if len(word) >= int(rule["min_length"]):
                edits = int(rule["edits"])
        return edits

    def candidates(self, word: str) -> list[Candidate]:
        from lemminflect import getAllInflections, getAllLemmas
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein

        lower = word.lower()
        found: dict[str, Candidate] = {}

        def add(cand: str, kind: str, edits: int) -> None:
            if cand != lower and cand not in found:
                first_changed = kind in ("spelling", "family") and cand[:1] != lower[:1]
                found[cand] = Candidate(cand, kind, edits, first_changed)

        for other in sorted(self.confusion.get(lower, ())):
            add(other, "confusion", Levenshtein.distance(lower, other))
        for lemmas in getAllLemmas(lower).values():
            for lemma in lemmas:
                add(lemma, "inflection", Levenshtein.distance(lower, lemma))
                for forms in getAllInflections(lemma).values():
                    for form in forms:
                        add(form, "inflection", Levenshtein.distance(lower, form))
        for cand in self.family(lower):
            add(cand, "family", Levenshtein.distance(lower, cand))
        limit = self.max_edits(lower)
        if limit:
            hits = process.extract(
                lower, self.vocabulary, scorer=Levenshtein.distance, score_cutoff=limit,
                limit=int(self.config["max_spelling_candidates"]) * 4,
            )
            hits.sort(key=lambda h: (h[1], h[2]))  # fewest edits, then most frequent
            added = 0
            for cand, dist, _ in hits:
                if added >= int(self.config["max_spelling_candidates"]):
                    break
                if cand != lower and cand not in found and dist > 0:
                    add(cand, "spelling", int(dist))
                    added += 1
        return list(found.values())[: int(self.config["max_candidates"])]


def match_case(candidate: str, original: str) -> str:
    if len(original) > 1 and original.isupper():
        return candidate.upper()
    if original[:1].isupper():
        return candidate[:1].upper() + candidate[1:]
    return candidate


def is_title_case(words: Sequence[Token], share: float) -> bool:
    long = [w for w in words if len(w.text) >= 4 and w.text[:1].isalpha()]
    if len(long) < 2:
        return False
    return sum(w.text[:1].isupper() for w in long) / len(long) >= share


def edit_cost(candidate: Candidate, costs: dict[str, float]) -> float:
    """Noisy-channel cost (nats) of the error that would turn ``candidate`` into the text's word:
    a cost for the kind of confusion plus a cost per character edit."""
    cost = float(costs[candidate.kind]) + float(costs["per_edit"]) * candidate.edits
    if candidate.first_letter_changed:
        cost += float(costs.get("first_letter", 0.0))
    return cost


def unigram_bits(word: str) -> float:
    """Context-free surprisal of a word (bits) from the wordfreq frequency list."""
    from wordfreq import word_frequency

    return -math.log2(max(word_frequency(word.lower(), "en"), 1e-9))


def suspicion_bits(word: str, surprisal: float, next_word: str | None, next_surprisal: float) -> float:
    """How much more surprising the word is in context than out of it (bits), plus the same
    excess for the following word when positive: a wrong word makes its successor odd too."""
    own = surprisal - unigram_bits(word)
    if next_word is None or math.isnan(next_surprisal):
        return own
    return own + max(0.0, next_surprisal - unigram_bits(next_word))


@dataclass
class Examined:
    """One rescored word: what the calibration script and the checker both need."""

    doc: int
    sentence: int
    token: Token
    surprisal: float
    next_surprisal: float
    candidates: list[Candidate]
    deltas: list[float]
    suspicion: float = 0.0

    def best(self, costs: dict[str, float]) -> tuple[float, Candidate | None, float]:
        """(adjusted score, candidate, raw Δ) of the best candidate."""
        best = (-math.inf, None, math.nan)
        for cand, delta in zip(self.candidates, self.deltas):
            adjusted = delta - edit_cost(cand, costs)
            if adjusted > best[0]:
                best = (adjusted, cand, delta)
        return best

    def fixes(self, costs: dict[str, float]) -> list[tuple[Candidate, float, float]]:
        """(candidate, adjusted, raw Δ) of every candidate the model prefers to the text even after
        its edit cost, closest edit first, then those that keep the first letter: the model alone
        prefers any fluent rewrite ("Council Bosses Vote"), but the likeliest slip is the smallest."""
        scored = [(c, d - edit_cost(c, costs), d) for c, d in zip(self.candidates, self.deltas)]
        return sorted((f for f in scored if f[1] > 0), key=lambda f: (f[0].edits, f[0].first_letter_changed, -f[1]))


class LMChecker:
    name = "lm"
    version = "0.2.0"  # 0.2.0: can propose the words the first pass did not expect

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.config = load_config()
        self._scorer = None
        self._generator: CandidateGenerator | None = None
        self._thresholds: dict[str, Any] | None = None

    # lazily: construction stays cheap (no torch, no model)
    @property
    def scorer(self):
        if self._scorer is None:
            from ..lm import get_scorer

            self._scorer = get_scorer(self.settings)
        return self._scorer

    @property
    def generator(self) -> CandidateGenerator:
        if self._generator is None:
            self._generator = CandidateGenerator(self.config)
        return self._generator

    @property
    def thresholds(self) -> dict[str, Any]:
        if self._thresholds is None:
            self._thresholds = load_thresholds(self.scorer.signature()["model"])
        return self._thresholds

    def signature(self) -> dict[str, Any]:
        """Model card, device and calibration, without loading the model if it is not loaded yet."""
        if self._scorer is None:
            from ..lm.cards import load_card

            card = load_card(self.settings.model)
            try:
                fitted = load_thresholds(card.name).get("fitted_on", "")
            except KeyError:
                fitted = ""
            return {"model": card.name, "card_hash": card.card_hash, "device": self.settings.device,
                    "thresholds": fitted, "proposes": self.proposes, "loaded": False}
        return {**self.scorer.signature(), "thresholds": self.thresholds.get("fitted_on", ""),
                "proposes": self.proposes, "loaded": True}

    @cached_property
    def proposes(self) -> bool:
        """Whether ``check`` makes the proposals: with ``propose`` on, for the models the decision was
        fitted on (read once: ``check`` asks on every call)."""
        from ..lm.cards import load_card

        return bool(self.config.get("propose")) and load_card(self.settings.model).name in self.config["propose_models"]

    # ------------------------------------------------------------------ selection

    def _eligible(self, doc: Document, words: list[Token], k: int, title: bool) -> bool:
        token = words[k]
        word = token.text
        if not word.isalpha() or len(word) < 1:
            return False
        lower = word.lower()
        if len(word) > 1 and word.isupper():
            return False  # acronyms
        if not (word.islower() or word.istitle()):
            return False  # letter case broken inside a word is OCR damage: the ocr checker's business
        if k == 0 and not title:
            return False  # sentence starts are poorly predicted with little context: precision first
        if word[:1].isupper() and not title:
            return False  # a capital mid-sentence: a name, the gazetteer's business
        if len(lower) < int(self.config["min_word_length"]) and lower not in self.generator.confusion:
            return False
        return self.generator.known(lower)

    def examine(self, docs: Sequence[Document], min_suspicion: float | None = None,
                min_adjusted: float | None = None) -> list[Examined]:  # fmt: skip
        """Score sentences, pick the most suspicious words, rescore their candidates. With
        ``min_adjusted`` a candidate whose adjusted score (Δ minus its edit cost) is under it reads
        -inf, and the scorer stops its rows as soon as they cannot reach it (exact: ``Edit.min_delta``
        at the smallest edit cost among the word's candidates)."""
        from ..lm import rescore_edits, sentence_scores_many

        scorer = self.scorer
        floor = float(self.thresholds["min_suspicion"]) if min_suspicion is None else min_suspicion
        costs = self.thresholds["costs"]
        top = int(self.config["top_words_per_sentence"])
        after = int(self.config["continuation_words"])
        all_scores = sentence_scores_many(docs, scorer)
        picked: list[tuple[Examined, tuple]] = []
        for d, (doc, scores) in enumerate(zip(docs, all_scores)):
            for s, (span, scored) in enumerate(zip(doc.sentences, scores)):
                words = doc.sentence_tokens(s)
                title = is_title_case(words, float(self.config["title_case_share"]))
                # In a headline every capital inflates surprisal, so suspicion ranks poorly there:
                # a short title-case line has all its words rescored, and the threshold decides.
                headline = title and len(words) <= int(self.config["headline_max_words"])
                ranked = []
                for k, token in enumerate(words):
                    if not self._eligible(doc, words, k, title):
                        continue
                    start, end = token.start - span.start, token.end - span.start
                    surprisal = scored.word_surprisal(start, end)
                    nxt = scored.next_surprisal(end)
                    following = words[k + 1].text if k + 1 < len(words) else None
                    suspicion = suspicion_bits(token.text, surprisal, following, nxt)
                    if math.isnan(surprisal) or (suspicion < floor and not headline):
                        continue
                    ranked.append((suspicion, k, surprisal, nxt))
                ranked.sort(key=lambda r: -r[0])
                for suspicion, k, surprisal, nxt in ranked if headline else ranked[:top]:
                    token = words[k]
                    cands = self.generator.candidates(token.text)
                    if not cands:
                        continue
                    stop = words[min(k + after, len(words) - 1)].end if after else span.end
                    if stop >= words[-1].end:
                        stop = span.end  # keep the sentence's final punctuation
                    need = None if min_adjusted is None else min_adjusted + min(edit_cost(c, costs) for c in cands)
                    edit = (doc, token.start, token.end, [match_case(c.word, token.text) for c in cands],
                            max(stop, token.end), self.config.get("rescore_top_k"), need)  # fmt: skip
                    picked.append((Examined(d, s, token, surprisal, nxt, cands, [], suspicion), edit))
        deltas = rescore_edits(scorer, [edit for _, edit in picked])
        for (examined, _), values in zip(picked, deltas):
            examined.deltas = values
        return [e for e, _ in picked]

    # ------------------------------------------------------------------ findings

    def propose(self, docs: Sequence[Document]) -> list[list[Finding]]:
        """The words the first pass did not rank first, for the learned decision (mtqa.lm.wordstats)."""
        from ..lm import document_states
        from ..lm.wordstats import propose, token_rows

        rank = int(self.config["propose_min_rank"])
        return [propose(doc.text, token_rows(state.tokens), rank)
                for doc, state in zip(docs, document_states(docs, self.scorer))]  # fmt: skip

    def check(self, docs: Sequence[Document]) -> list[list[Finding]]:
        out: list[list[Finding]] = [[] for _ in docs]
        if not docs:
            return out
        if self.proposes:
            out = self.propose(docs)
        th = self.thresholds
        costs = th["costs"]
        # a candidate counts if it is offered (adjusted > 0) or decides a finding (>= warn)
        for ex in self.examine(docs, min_adjusted=min(0.0, float(th["warn"]))):
            adjusted, best, delta = ex.best(costs)
            if best is None or adjusted < float(th["warn"]):
                continue
            # (a threshold at or below 0 may flag a word no candidate improves: offer the best)
            fixes = ex.fixes(costs)[: int(self.config["max_suggestions"])] or [(best, adjusted, delta)]
            first, first_adjusted, first_delta = fixes[0]
            severity = Severity.ERROR if adjusted >= float(th["error"]) else Severity.WARNING
            confidence = 1.0 / (1.0 + math.exp(-float(th["slope"]) * (adjusted - float(th["midpoint"]))))
            suggestions = tuple(match_case(c.word, ex.token.text) for c, _, _ in fixes)
            out[ex.doc].append(
                Finding(
                    start=ex.token.start,
                    end=ex.token.end,
                    category=Category.REALWORD,
                    severity=severity,
                    confidence=min(max(confidence, 0.0), 1.0),
                    message=f"'{ex.token.text}' reads like a mistake for '{suggestions[0]}'",
                    check="lm.realword",
                    suggestions=suggestions,
                    evidence={
                        "surprisal_bits": round(ex.surprisal, 3),
                        "next_surprisal_bits": None if math.isnan(ex.next_surprisal) else round(ex.next_surprisal, 3),
                        "delta_logprob": round(first_delta, 4),
                        "adjusted": round(first_adjusted, 4),
                        "best_adjusted": round(adjusted, 4),
                        "candidate": suggestions[0],
                        "candidate_kind": first.kind,
                        "edits": first.edits,
                        "model": self.scorer.signature()["model"],
                    },
                )
            )
        return out
