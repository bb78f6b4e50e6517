"""The learned decision: is a candidate finding a real error? (runtime part: numpy only)

Every LM-free checker proposes candidates with its numbers (grammar in candidate mode proposes
every LanguageTool match of the full default rule set, with what the news profile would have done
with it). This module turns a merged candidate and the text around it into features and evaluates
the exported gradient-boosted trees plus their sigmoid calibration, stored as data in
``models/decision.json`` with the hash of the data it was fitted on. The fitting code is
``mtqa.eval.fit_decision`` (scikit-learn); nothing here imports it.

The :class:`~mtqa.combiner.Combiner` asks it about the candidates: the matches the news profile
drops and the OCR checker's odd tokens (every
other finding is reported as its checker and the calibration say, the names checker's at the
operating point fitted with the model): it reports those whose probability reaches the model's
dev-chosen ``report_threshold``. So the decision can only win back
what a hand-set filter dropped, never lose what the profile keeps (measured across sources in
docs/evaluation.md). The decision's probability and the features that moved it most go into
``evidence.decision``.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import re
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from .calibration import _numbers, _slog, family
from .combiner import LM_PROPOSALS
from .config import models_dir
from .findings import Finding

KIND = "decision"
VERSION = 1
RAW_KEY = "raw_confidence"
DOCUMENT_KEY = "document"
DECISION_KEY = "decision"
OCR_DAMAGE = "doc:ocr_damage"  # may only ever raise a probability (see Decision.apply)
_WORD = re.compile(r"[^\W_](?:[\w'’-]*[^\W_])?")
_SENTENCE_END = set(".!?:;\"”»")
RARE_ZIPF = 1.0  # rarer than once in 100 million words


def default_path() -> Path:
    return models_dir() / "decision.json"


def load_decision(spec: str | Path | None) -> "Decision | None":
    """``"default"``: models/decision.json when present; ``"off"`` or empty: none; else that file."""
    if spec is None or str(spec) in ("", "off", "none"):
        return None
    if str(spec) == "default":
        return Decision.load()
    if not Path(spec).is_file():
        raise FileNotFoundError(f"decision file {spec} not found")
    return Decision.load(spec)


# --------------------------------------------------------------------------- word statistics


@lru_cache(maxsize=200_000)
def zipf(word: str) -> float:
    """wordfreq's Zipf frequency (0 = not in its English list)."""
    from wordfreq import zipf_frequency

    return zipf_frequency(word, "en")


@lru_cache(maxsize=1)
def _trigrams() -> tuple[dict[str, float], dict[str, float], int]:
    """Character trigram counts over wordfreq's 50,000 commonest English words (one count per word)."""
    from wordfreq import top_n_list

    tri: dict[str, float] = {}
    bi: dict[str, float] = {}
    for word in top_n_list("en", 50_000):
        padded = f"^{word.lower()}$"
        for i in range(len(padded) - 2):
            tri[padded[i : i + 3]] = tri.get(padded[i : i + 3], 0.0) + 1.0
            bi[padded[i : i + 2]] = bi.get(padded[i : i + 2], 0.0) + 1.0
    return tri, bi, 40  # alphabet size for add-one smoothing (letters, digits, apostrophe, edges)


@lru_cache(maxsize=200_000)
def char_plausibility(word: str) -> tuple[float, float]:
    """Mean and minimum log P(next char | two before) of the lowercased word under common English words:
    OCR garbage ("tlie", "Jcirolong") has trigrams no English word has."""
    tri, bi, alphabet = _trigrams()
    padded = f"^{word.lower()}$"
    logs = [math.log((tri.get(padded[i : i + 3], 0.0) + 1.0) / (bi.get(padded[i : i + 2], 0.0) + alphabet))
            for i in range(len(padded) - 2)]  # fmt: skip
    return (sum(logs) / len(logs), min(logs)) if logs else (0.0, 0.0)


def _word_features(prefix: str, word: str, out: dict[str, float]) -> None:
    letters = [c for c in word if c.isalpha()]
    out[f"{prefix}zipf"] = zipf(word)
    out[f"{prefix}zipf_lower"] = zipf(word.lower())
    out[f"{prefix}len"] = float(len(word))
    out[f"{prefix}title"] = float(word[:1].isupper() and word[1:].islower())
    out[f"{prefix}upper"] = float(len(letters) > 1 and all(c.isupper() for c in letters))
    out[f"{prefix}lower"] = float(bool(letters) and all(c.islower() for c in letters))
    out[f"{prefix}inner_upper"] = float(any(c.isupper() for c in word[1:]) and any(c.islower() for c in word))
    out[f"{prefix}digits"] = float(sum(c.isdigit() for c in word))
    out[f"{prefix}non_alpha"] = float(sum(not c.isalnum() for c in word)) / max(1, len(word))
    out[f"{prefix}non_ascii"] = float(any(ord(c) > 127 for c in word))
    vowels = sum(c.lower() in "aeiouy" for c in letters)
    out[f"{prefix}vowel_ratio"] = vowels / len(letters) if letters else math.nan
    mean, low = char_plausibility(word)
    out[f"{prefix}char_mean"], out[f"{prefix}char_min"] = mean, low


_TOKEN = re.compile(r"\S+")
_EDGE = "\"'“”‘’«»()[]{}.,;:!?-–—*"
_PUNCT_BEFORE = re.compile(r"(\s?)[,.;:!?)](?=\s|$)")


@lru_cache(maxsize=64)
def document_features(text: str) -> dict[str, float]:
    """What kind of text the candidate sits in, read from the words alone (no checker's filter):
    the share of lowercase words rarer than Zipf 1 ("rnilitary"; "tbe" is not: wordfreq lists OCR
    junk too), of tokens mixing letters with digits or symbols ("t!ie", "l0ndon"), and of closing
    punctuation set off by a space, which OCR makes now and then and tokenised MT everywhere
    ("word , word")."""
    lower = odd = words = 0
    for m in _TOKEN.finditer(text):
        core = m.group().strip(_EDGE)
        if not any(c.isalpha() for c in core):
            continue
        words += 1
        if core.isalpha() and core.islower() and len(core) > 1 and zipf(core) < RARE_ZIPF:
            lower += 1
        elif any(not (c.isalpha() or c in "'’-") for c in core):
            odd += 1
    marks = _PUNCT_BEFORE.findall(text)
    return {"doc:oov_lower": lower / max(1, words), "doc:odd_tokens": odd / max(1, words),
            "doc:spaced_punct": sum(bool(s) for s in marks) / len(marks) if marks else math.nan}  # fmt: skip


def _neighbour(text: str, start: int, end: int, before: bool) -> str | None:
    if before:
        words = list(_WORD.finditer(text, max(0, start - 40), start))
        return words[-1].group() if words else None
    m = _WORD.search(text, end, min(len(text), end + 40))
    return m.group() if m else None


def candidate_features(finding: Finding, text: str = "") -> dict[str, float]:
    """Features of one (merged) candidate: the checkers' own numbers and ids, the word and its
    neighbours (frequency, character plausibility, case), its position, the document's OCR damage."""
    raw = float(finding.evidence.get(RAW_KEY, finding.confidence))
    feats: dict[str, float] = {
        "confidence": raw,
        "n_suggestions": float(len(finding.suggestions)),
        f"family={family(finding.check)}": 1.0,
        f"check={finding.check}": 1.0,
        f"category={finding.category.value}": 1.0,
        f"severity={finding.severity.value}": 1.0,
    }
    merged = [m for m in finding.evidence.get("merged") or () if isinstance(m, Mapping) and m.get("check")]
    feats["n_signals"] = 1.0 + len(merged)
    for other in merged:
        feats[f"merged_family={family(str(other['check']))}"] = 1.0
        feats[f"merged_check={other['check']}"] = 1.0
        if str(other["check"]).startswith("grammar.") and isinstance(other.get("evidence"), Mapping):
            feats[f"merged_news_profile={other['evidence'].get('news_profile', 'kept')}"] = 1.0
    if family(finding.check) == "grammar":
        feats[f"ev:news_profile={finding.evidence.get('news_profile', 'kept')}"] = 1.0
    for key, value in finding.evidence.items():
        if key not in ("merged", RAW_KEY, DOCUMENT_KEY, DECISION_KEY, "backend", "news_profile", "rule_id",
                       "engine_message", "near_name", "proposal"):  # fmt: skip
            _numbers(f"ev:{key}", value, feats, codes=True)
    damage = float((finding.evidence.get(DOCUMENT_KEY) or {}).get("ocr_damage_per_100_words", 0.0))
    feats[OCR_DAMAGE] = _slog(damage)
    if not text:
        return feats
    feats.update(document_features(text))
    start, end = max(0, finding.start), min(len(text), finding.end)
    span = text[start:end]
    words = _WORD.findall(span)
    feats["span_chars"] = float(end - start)
    feats["span_words"] = float(len(words))
    feats["span_has_newline"] = float("\n" in span)
    if words:
        _word_features("w:", words[0], feats)
        feats["w:min_zipf"] = min(zipf(w) for w in words)
    if finding.suggestions:
        top = finding.suggestions[0]
        feats["s:zipf"] = zipf(top) if top else math.nan
        if top and span:
            from rapidfuzz.distance import Levenshtein

            feats["s:distance"] = float(Levenshtein.distance(span, top))
            feats["s:distance_norm"] = Levenshtein.normalized_distance(span.lower(), top.lower())
            feats["s:same_lower"] = float(span.lower() == top.lower())
            feats["s:same_letters"] = float(span.replace(" ", "").lower() == top.replace(" ", "").lower())
    before = text[:start].rstrip(" \t")
    feats["pos:text_start"] = float(not before.strip())
    feats["pos:line_start"] = float(not before or before.endswith("\n"))
    feats["pos:sentence_start"] = float(not before or before[-1] in _SENTENCE_END or before.endswith("\n"))
    after = text[end:].lstrip(" \t")
    feats["pos:line_end"] = float(not after or after.startswith("\n"))
    feats["pos:after_hyphen_break"] = float(before.endswith("-\n") or before.endswith("¬\n"))
    feats["pos:relative"] = start / max(1, len(text))
    for side, word in (("prev:", _neighbour(text, start, end, True)), ("next:", _neighbour(text, start, end, False))):
        if word is not None:
            feats[f"{side}zipf"] = zipf(word)
            feats[f"{side}title"] = float(word[:1].isupper())
    # No document length or line-break features: they tell OCR chunks from MT sentences in the
    # shared sets and made a whole clean news file look like OCR ("Sadovyi" flagged).
    return feats


def is_indicator(name: str) -> bool:
    """One-hot features are 0 when absent; numbers are unknown (NaN: the trees route it)."""
    return "=" in name


def vectorize(rows: Sequence[Mapping[str, float]], features: Sequence[str]) -> np.ndarray:
    x = np.full((len(rows), len(features)), np.nan)
    indicators = np.array([is_indicator(f) for f in features], dtype=bool)
    x[:, indicators] = 0.0
    index = {f: j for j, f in enumerate(features)}
    for i, row in enumerate(rows):
        for key, value in row.items():
            j = index.get(key)
            if j is not None:
                x[i, j] = value
    return x


# --------------------------------------------------------------------------- the model


class Decision:
    """Gradient-boosted trees over candidate features, a sigmoid on their score, a report threshold."""

    kind = KIND

    def __init__(self, raw: Mapping[str, Any]) -> None:
        if raw.get("kind") != KIND or raw.get("version") != VERSION:
            raise ValueError(f"not a decision model of version {VERSION} (kind {raw.get('kind')}, version {raw.get('version')})")
        self.raw = dict(raw)
        self.features: list[str] = list(raw["features"])
        self.data_hash: str = str(raw.get("data_hash", ""))
        self.report_threshold: float = float(raw.get("report_threshold", 0.5))
        self.threshold_fixed = False  # set by the caller (--decision-threshold): kept at every operating point
        # Findings of these families (the names checker's) are reported only where their checker's
        # own probability reaches ``veto_threshold`` (0: always), fitted with the report threshold
        # under the same false-alarm budget (mtqa.eval.fit_decision).
        veto = raw.get("veto") or {}
        self.veto_families: tuple[str, ...] = tuple(veto.get("families", ()))
        self.veto_threshold: float = float(veto.get("threshold", 0.0))
        # The LM's proposals (mtqa.lm.wordstats) have an operating point of their own, chosen with the
        # report threshold under the same budget: they are many per sentence, the other candidates few.
        self.proposal_thresholds: dict[str, float] = {k: float(v) for k, v in (raw.get("proposal_thresholds") or {}).items()}
        # ... and a model of their own, so that the other candidates' model is the one fitted without them
        self.proposal_models: dict[str, Decision] = {k: Decision(v) for k, v in (raw.get("proposal_models") or {}).items()}
        # Without the LM's proposals (no LM, or a model they were not fitted for) the candidates are
        # fewer, and the fit chose the operating point for that run too.
        self.without: dict[str, Any] = dict(raw.get("without_proposals") or {})
        self.fitted_on: dict[str, Any] = dict(raw.get("fitted_on", {}))
        self.baseline = float(raw["baseline"])
        self.sigmoid_a, self.sigmoid_b = float(raw["sigmoid"]["a"]), float(raw["sigmoid"]["b"])
        trees = raw["trees"]
        sizes = [len(t["feature"]) for t in trees]
        offsets = np.cumsum([0] + sizes[:-1])
        self._roots = offsets.astype(np.int64)
        cat = lambda key, dtype: np.concatenate([np.asarray(t[key], dtype=dtype) for t in trees])  # noqa: E731
        self._feature = cat("feature", np.int64)
        self._threshold = cat("threshold", float)
        self._missing_left = cat("missing_left", bool)
        self._left = cat("left", np.int64) + np.repeat(offsets, sizes)
        self._right = cat("right", np.int64) + np.repeat(offsets, sizes)
        self._value = cat("value", float)
        self._depth = int(raw.get("max_depth", 64)) + 1
        self._damage = [j for j, f in enumerate(self.features) if f == OCR_DAMAGE]

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Decision | None":
        path = Path(path) if path else default_path()
        if not path.is_file():
            return None
        return cls(json.loads(path.read_text(encoding="utf-8")))

    def without_proposals(self) -> "Decision":
        """The decision for a run in which nothing proposes the LM's words: the operating point the
        fit chose without them (the same model)."""
        out = copy.copy(self)
        out.proposal_thresholds = {}
        if not self.threshold_fixed:
            out.report_threshold = float(self.without.get("report_threshold", self.report_threshold))
        out.veto_threshold = float(self.without.get("veto", self.veto_threshold))
        return out

    @property
    def model_hash(self) -> str:
        """Two fits on the same data differ by features or trees: the signature names the model itself."""
        return hashlib.sha256(json.dumps(self.raw, sort_keys=True).encode()).hexdigest()[:16]

    # --- scoring ------------------------------------------------------------------------------
    def raw_score(self, x: np.ndarray) -> np.ndarray:
        """Sum of the trees' leaf values (log-odds before the sigmoid calibration), one per row."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        n, t = x.shape[0], len(self._roots)
        node = np.broadcast_to(self._roots, (n, t)).copy()
        rows = np.repeat(np.arange(n)[:, None], t, axis=1)
        for _ in range(self._depth):
            feature = self._feature[node]
            inner = feature >= 0
            if not inner.any():
                break
            value = x[rows, np.where(inner, feature, 0)]
            left = np.where(np.isnan(value), self._missing_left[node], value <= self._threshold[node])
            node = np.where(inner, np.where(left, self._left[node], self._right[node]), node)
        return self.baseline + self._value[node].sum(axis=1)

    def probability(self, x: np.ndarray) -> np.ndarray:
        """Calibrated probability: the fitted sigmoid over the trees' score. Document OCR damage never
        lowers it: the probability is the larger of the score with the damage and without it."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        score = self.raw_score(x)
        if self._damage:
            clean = x.copy()
            clean[:, self._damage] = 0.0
            score = np.maximum(score, self.raw_score(clean))
        return 1.0 / (1.0 + np.exp(np.clip(self.sigmoid_a * score + self.sigmoid_b, -35, 35)))

    def vector(self, finding: Finding, text: str = "") -> np.ndarray:
        return vectorize([candidate_features(finding, text)], self.features)[0]

    def _model_for(self, finding: Finding) -> "Decision":
        return self.proposal_models.get(finding.evidence.get("proposal"), self)

    def apply(self, finding: Finding, text: str = "") -> float:
        """Probability that the candidate is a real error."""
        model = self._model_for(finding)
        return float(model.probability(model.vector(finding, text))[0])

    def explain(self, x: np.ndarray, top: int = 3) -> list[dict[str, Any]]:
        """The features that raise the score most: each present feature set back to absent."""
        present = [j for j, v in enumerate(x) if not np.isnan(v) and v != 0.0]
        if not present:
            return []
        variants = np.repeat(x[None, :], len(present), axis=0)
        for row, j in enumerate(present):
            variants[row, j] = 0.0 if is_indicator(self.features[j]) or j in self._damage else np.nan
        effect = self.raw_score(x[None, :])[0] - self.raw_score(variants)
        order = np.argsort(-np.abs(effect))[:top]
        return [{"feature": self.features[present[k]], "value": round(float(x[present[k]]), 3),
                 "effect": round(float(effect[k]), 3)} for k in order if abs(effect[k]) > 1e-6]  # fmt: skip

    def threshold_for(self, finding: Finding) -> float:
        """The probability a candidate must reach to be reported. A proposal of a kind the model was
        not fitted with is never reported (inf)."""
        kind = finding.evidence.get("proposal")
        if kind in LM_PROPOSALS:
            return self.proposal_thresholds.get(kind, math.inf)
        return self.report_threshold

    def vetoes(self, finding: Finding, threshold: float | None = None) -> bool:
        """Whether a finding of a vetoed family falls below the operating point (its checker's own
        ``evidence.probability``)."""
        threshold = self.veto_threshold if threshold is None else threshold
        p = finding.evidence.get("probability")
        return (threshold > 0.0 and family(finding.check) in self.veto_families
                and isinstance(p, (int, float)) and p < threshold)  # fmt: skip

    def calibrate(self, finding: Finding, text: str = "") -> Finding:
        """The finding with the decision's probability as its confidence; the checkers' own
        confidence stays in ``evidence.raw_confidence``, the reasons in ``evidence.decision``."""
        raw = float(finding.evidence.get(RAW_KEY, finding.confidence))
        model = self._model_for(finding)
        x = model.vector(finding, text)
        p = round(float(model.probability(x)[0]), 4)
        why = {"probability": p, "model": self.data_hash, "top_features": model.explain(x)}
        return replace(finding, confidence=p, evidence={**finding.evidence, RAW_KEY: raw, DECISION_KEY: why})
