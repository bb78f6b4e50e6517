"""Resolve a document's names against the gazetteer and decide which are corrupted.

``resolve_names(doc, matcher)`` (memoised as ``doc.annotation("names.resolved", ...)``) returns
``ResolvedName`` records for every name the gazetteer knows (``status`` "known" or "variant")
and for every near-miss judged corrupted (``status`` "corrupt", with ``suggestions`` and
``evidence``). Each carries the entity ``kind`` ("place", "person", "organisation", "region"):
other checkers read it (e.g. whether "his"/"her" can refer to the nearest entity).

Per suspect word (capitalised, not common English, not a known name part, not in the
gazetteer): retrieve known forms whose corruption skeleton is within about two edits of its
own (hash look-ups in a symmetric-deletion index), keep the few nearest by rapidfuzz's C++
Levenshtein distance and prominence, score only those with the weighted corruption model, rank entities by cost, prominence
and agreement with the document's other resolved names, then decide with a calibrated
logistic model (``data/gazetteer/decision.toml``; fitted by ``mtqa.gazetteer.calibrate``).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from typing import Any, Callable, Sequence

from ..config import PACKAGE_DATA
from ..document import Document
from .candidates import NameCandidate, name_candidates
from .corruption import CorruptionModel, default_model
from .index import Gazetteer
from .sources import PERSON_NAME_SOURCE
from .normalize import fold, has_cyrillic, is_latin

DECISION_PATH = PACKAGE_DATA / "gazetteer" / "decision.toml"
FEATURES = ("bias", "cost", "ncost", "prominence", "context", "mt_likeness", "zipf", "margin", "edit_distance",
            "en_near", "cut", "same_skeleton", "ending")
ENGLISH_VOCABULARY = 60_000  # wordfreq's most frequent English words that count as "an English word"


@dataclass(frozen=True)
class ResolvedName:
    start: int
    end: int
    text: str
    canonical: str
    kind: str  # place | person | organisation | region
    country: str
    region: str
    status: str  # known | variant | corrupt
    confidence: float
    entity: int
    suggestions: tuple[str, ...] = ()
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass
class Suspect:
    start: int
    end: int
    text: str
    folded: str
    zipf: float
    best: dict | None = None  # the top-ranked candidate with its features
    candidates: list[dict] = field(default_factory=list)
    probability: float = 0.0


@lru_cache(maxsize=1)
def load_decision() -> dict:
    with DECISION_PATH.open("rb") as fh:
        return tomllib.load(fh)


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, x))))


def decide(weights: dict[str, float], gate: dict, features: dict[str, float]) -> float:
    """P(corrupted): 0 beyond the gate (case 3, far from every known name), else the logistic model."""
    if features["ncost"] > gate["max_ncost"] or features["cost"] > gate["max_cost"]:
        return 0.0
    return _sigmoid(sum(weights[k] * features[k] for k in FEATURES))


@lru_cache(maxsize=1)
def _english() -> dict[str, float]:
    from wordfreq import get_frequency_dict

    # The raw frequency table (fast to read); Zipf = log10(frequency per billion words).
    table = get_frequency_dict("en")
    top = sorted(table.items(), key=lambda kv: -kv[1])[:ENGLISH_VOCABULARY]
    return {w: math.log10(f * 1e9) for w, f in top if w.isalpha()}


_LETTERS = "abcdefghijklmnopqrstuvwxyz"


@lru_cache(maxsize=1 << 16)
def english_neighbour(folded: str) -> float:
    """Zipf frequency of the most frequent English word one edit away from ``folded`` (0: none).
    "Conditons" is near an English word, "Balakriya" is not: MT damages words and names alike."""
    words = _english()
    if " " in folded or len(folded) > 30:
        return 0.0
    splits = [(folded[:i], folded[i:]) for i in range(len(folded) + 1)]
    edits = {a + b[1:] for a, b in splits if b}
    edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    edits |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    edits |= {a + c + b for a, b in splits for c in _LETTERS}
    edits.discard(folded)
    return max((words[e] for e in edits if e in words), default=0.0)


def _zipf(word: str) -> float:
    from wordfreq import zipf_frequency

    return zipf_frequency(word.lower(), "en")


class Matcher:
    def __init__(self, gazetteer: Gazetteer, model: CorruptionModel | None = None,
                 decision: dict | None = None) -> None:
        self.gaz = gazetteer
        self.model = model or default_model()
        self.decision = decision or load_decision()
        self.rank = self.decision["rank"]
        self.rules = self.decision["suspect"]
        self.known_words = frozenset(self.rules.get("known_words", ()))
        weights = self.decision.get("decide", {})
        self.weights = {name: float(weights.get(name, 0.0)) for name in FEATURES}
        self.threshold = float(weights.get("threshold", 0.5))
        self.gate = self.decision["gate"]
        self.exclude: set[str] = set()  # forms hidden from lookup (held-out evaluation only)
        # Optional LM evidence: (doc, suspects, threshold) -> per suspect Δ log-prob (nats) or None.
        self.lm_adjust: Callable | None = None
        self.lm_weight = float(self.decision.get("lm", {}).get("weight", 0.3))

    # -- exact lookups -------------------------------------------------------------------------
    def lookup(self, folded: str) -> tuple[int, ...]:
        if folded in self.exclude:
            return ()
        return self.gaz.lookup(folded)

    def is_suspect_word(self, word: str) -> tuple[bool, float]:
        folded = fold(word)
        if has_cyrillic(word) or not is_latin(folded) or any(ch.isdigit() for ch in word):
            return False, 0.0
        if len(folded.replace(" ", "")) < self.rules["min_length"]:
            return False, 0.0
        if word.isupper() and len(word) <= self.rules["acronym_max"]:
            return False, 0.0
        zipf = _zipf(folded)
        if zipf >= self.rules["common_zipf"]:
            return False, zipf
        if folded in self.gaz.name_parts and folded not in self.exclude:
            return False, zipf
        if folded in self.known_words:
            return False, zipf
        return True, zipf

    # -- context -------------------------------------------------------------------------------
    def context_of(self, exact: list[tuple[int, int, str, tuple[int, ...]]]) -> tuple[Counter, Counter]:
        """Regions and countries the document's known names point to (ambiguous ones shared)."""
        regions: Counter = Counter()
        countries: Counter = Counter()
        for _s, _e, _t, ids in exact:
            total = sum(max(self.gaz.prominence[i], 0.05) for i in ids)
            for i in ids:
                # Weighted by prominence too: a chance match of a hamlet says little about the story.
                share = max(self.gaz.prominence[i], 0.05) ** 2 / total
                if self.gaz.region[i]:
                    regions[self.gaz.region[i]] += share
                if self.gaz.country[i]:
                    countries[self.gaz.country[i]] += share
        return regions, countries

    def context_score(self, eid: int, regions: Counter, countries: Counter) -> float:
        region, country = self.gaz.region[eid], self.gaz.country[eid]
        need = self.rank["context_min_weight"]
        if region and regions.get(region, 0.0) >= need:
            return 1.0
        if not region and self.gaz.kind[eid] != "place" and country and countries.get(country, 0.0) >= 2 * need:
            return 1.0  # a person's or organisation's "region" is their country
        if country and countries.get(country, 0.0) >= need:
            return 0.4
        return 0.0

    def pick(self, ids: Sequence[int], regions: Counter, countries: Counter) -> int:
        """The reading of an ambiguous known form that fits the document best (Donetsk UA vs RU)."""
        return max(ids, key=lambda i: (self.gaz.prominence[i] + self.context_score(i, regions, countries),
                                       self.gaz.kind[i] != "place", -i))

    # -- suspects ------------------------------------------------------------------------------
    def _adjective_stem(self, query: str) -> str | None:
        """The stem of ``query`` when it is shaped like a place adjective: a stem, "-sk"/"-tsk"...
        and an adjectival ending (decision.toml's [suspect]); ``"antonivskyi"`` -> ``"antoniv"``."""
        pattern = self.__dict__.get("_adjective")
        if pattern is None:
            stems = "|".join(sorted(map(re.escape, self.rules.get("adjective_stems", ())), key=len, reverse=True))
            ends = "|".join(sorted(map(re.escape, self.rules.get("adjective_endings", ())), key=len, reverse=True))
            pattern = self._adjective = re.compile(f"(.{{4,}}?)(?:{stems})(?:{ends})") if stems and ends else False
        found = pattern.fullmatch(query) if pattern and " " not in query else None
        return found.group(1) if found else None

    def _inflected(self, form: str, query: str) -> bool:
        """``query`` is an adjective of ``form``, that stem with a short ending of its own
        ("Antonivka"/"Antonivske" -> "Antonivskyi bridge", "Zaporizka" -> "Zaporizkyi")."""
        stem = self._adjective_stem(query) if form != query else None
        return bool(stem and form.startswith(stem) and len(form) - len(stem) <= 4)

    def is_adjective(self, query: str) -> bool:
        """``query`` (folded, one word) is the adjective of a known name ("antonivskyi" of "Antonivske").
        The shape is checked first: most words are not adjectives and need no retrieval."""
        return (self._adjective_stem(query) is not None
                and any(self._inflected(form, query) for form in self.candidate_forms(query)))  # fmt: skip

    def score_suspect(self, suspect: Suspect, spans: list[tuple[int, int, str, int]],
                      regions: Counter, countries: Counter) -> None:
        """Fill ``suspect.candidates``/``best``: ``spans`` are (start, end, text, n_words) queries."""
        by_entity: dict[str, dict] = {}
        max_ratio = self.rank["max_length_ratio"]
        focus = [r for r, w in regions.most_common(3) if w >= self.rank["context_min_weight"]]
        for start, end, text, n_words in spans:
            query = fold(text)
            forms = self.candidate_forms(query, focus)
            prev = fold(text.split()[0]) if n_words == 2 and start < suspect.start else None
            for form in forms:
                ratio = max(len(form), len(query)) / max(1, min(len(form), len(query)))
                if ratio > max_ratio:
                    continue
                if self._inflected(form, query):
                    continue  # the name itself, inflected ("Antonivske" -> "Antonivskyi bridge")
                # Dearer than the gate can never be flagged: abandon those paths early.
                alignment = self.model.align(form, query, max_cost=self.gate["max_cost"])
                if alignment.cost == math.inf:
                    continue
                # The known name with a short ending added or swapped in ("Johannese", "Craiovei").
                ending = _ending_swap(form, query) or (query.startswith(form) and 1 <= len(query) - len(form) <= 3
                                                        and len(form) >= 4 and " " not in query)
                # What depends on the form only, computed once for all its entities (a given name
                # or a common place name has dozens).
                per_form = {
                    "form": form, "start": start, "end": end, "span_text": text, "cost": alignment.cost,
                    "ncost": alignment.cost / max(len(form), 1), "ops": alignment.ops,
                    "mt_likeness": self.model.mt_likeness(alignment.ops), "edit_distance": _levenshtein(form, query),
                    # a cut-off or extended name, and one whose skeleton is the known one's
                    "cut": float(form.startswith(query) or query.startswith(form)),
                    "same_skeleton": float(self.model.skeleton(form) == self.model.skeleton(query)),
                    "ending": float(ending),
                }
                for eid in self.gaz.lookup(form):
                    canonical = self.gaz.canonical[eid]
                    coverage = min(1.0, n_words / max(1, len(canonical.split())))
                    context = self.context_score(eid, regions, countries)
                    rank = (-alignment.cost + self.rank["prominence"] * self.gaz.prominence[eid]
                            + self.rank["context_region" if context >= 1.0 else "context_country"] * (context > 0)
                            + self.rank["coverage"] * coverage)
                    if prev and self.gaz.kind[eid] == "person" and len(canonical.split()) >= 2:
                        # "Hanna M...": a given name that fits this person makes the next word a surname.
                        if self.model.cost(fold(canonical.split()[0]), prev) <= self.rank["given_name_cost"]:
                            rank += self.rank["name_slot"]
                    key = canonical
                    if key not in by_entity or rank > by_entity[key]["rank"]:
                        by_entity[key] = {
                            **per_form, "entity": eid, "canonical": canonical, "kind": self.gaz.kind[eid],
                            "prominence": self.gaz.prominence[eid], "context": context, "rank": rank,
                            "coverage": coverage,
                        }
        ranked = sorted(by_entity.values(), key=lambda c: -c["rank"])
        suspect.candidates = ranked[:5]
        if not ranked:
            return
        best = ranked[0]
        # Competitors are other names: entities sharing the best one's forms are the same name.
        same_name = set(self.gaz.lookup(best["form"])) | set(self.gaz.lookup(fold(best["canonical"])))
        rivals = [c for c in ranked[1:] if c["entity"] not in same_name and c["form"] != best["form"]]
        margin = best["rank"] - rivals[0]["rank"] if rivals else 2.0
        best["margin"] = min(margin, 2.0)
        suspect.best = best
        suspect.probability = self.probability(self.features(suspect))

    def candidate_forms(self, query: str, focus: Sequence[str] = ()) -> list[str]:
        """Known forms worth the weighted model for ``query`` (folded): skeleton neighbours from
        the index (plus, when the document is about a region, fuzzy matches among its places),
        cut to the ``prefilter_keep`` best by a cheap proxy of the weighted cost (Levenshtein
        distance of the skeletons, then of the forms) less prominence; the regional matches are
        always kept."""
        import numpy as np
        from rapidfuzz import process
        from rapidfuzz.distance import Levenshtein, Prefix

        skel = self.model.skeleton(query)
        skels = self.gaz.retrieve(skel)
        pairs: dict[str, str] = {}  # form -> its skeleton
        if skels:
            limit = int(self.rank.get("skeleton_distance", 2))
            dist = process.cdist([skel], skels, scorer=Levenshtein.distance, score_cutoff=limit + 1,
                                 dtype=np.int32, workers=1)[0]
            for sk, d in zip(skels, dist):
                if d <= limit or (len(skel) >= 4 and len(sk) >= 4 and (sk.startswith(skel) or skel.startswith(sk))):
                    # near, a truncation ("Kramat") or a known name with an ending added ("Darwinil")
                    for form in self.gaz.skeletons.get(sk, ()):
                        pairs[form] = sk
        focused = set(self.gaz.retrieve_focused(query, focus)) if focus else set()
        for form in focused:
            pairs.setdefault(form, self.model.skeleton(form))
        pairs.pop(query, None)
        forms = [f for f in pairs if f not in self.exclude]
        keep = int(self.rank.get("prefilter_keep", 8))
        if len(forms) > keep:
            r = self.rank
            skel_lev = process.cdist([skel], [pairs[f] for f in forms], scorer=Levenshtein.distance,
                                     dtype=np.int32, workers=1)[0]
            lev = process.cdist([query], forms, scorer=Levenshtein.distance, dtype=np.int32, workers=1)[0]
            # map() over dict.get and len keeps these loops in C (hundreds of forms per suspect).
            bonus = float(r.get("prefilter_prominence", 1.0)) * np.fromiter(
                map(self.gaz.form_prominence.get, forms, repeat(0.0)), float, len(forms))
            # A cut-off name ("Stavro") or one with an ending added ("Darwinil") is one edit from its
            # entity, however many letters differ: their common prefix is the shorter of the two.
            common = process.cdist([query], forms, scorer=Prefix.similarity, dtype=np.int32, workers=1)[0]
            cut = common >= np.minimum(np.fromiter(map(len, forms), np.int32, len(forms)), len(query))
            skel_lev = np.where(cut, np.minimum(skel_lev, 1), skel_lev)
            lev = np.where(cut, np.minimum(lev, 1), lev)
            score = skel_lev + float(r.get("prefilter_form_distance", 0.35)) * lev - bonus
            forms = [forms[i] for i in np.argsort(score, kind="stable")[:keep]]
            # The few fuzzy matches among the document's regions are always scored.
            forms += [f for f in focused if f not in forms and f not in self.exclude and f != query]
        return forms

    def features(self, suspect: Suspect) -> dict[str, float]:
        best = suspect.best or {}
        return {
            "bias": 1.0, "cost": best.get("cost", 5.0), "ncost": best.get("ncost", 1.0),
            "prominence": best.get("prominence", 0.0), "context": best.get("context", 0.0),
            "mt_likeness": best.get("mt_likeness", 0.0), "zipf": suspect.zipf, "margin": best.get("margin", 0.0),
            "edit_distance": min(5.0, float(best["edit_distance"])) if best else 5.0,
            "en_near": english_neighbour(suspect.folded),
            "cut": best.get("cut", 0.0), "same_skeleton": best.get("same_skeleton", 0.0),
            "ending": best.get("ending", 0.0),
        }

    def probability(self, features: dict[str, float]) -> float:
        return decide(self.weights, self.gate, features)

    # -- documents -----------------------------------------------------------------------------
    def analyse(self, doc: Document, lm_rescore: Callable | None = None) -> tuple[list, list[Suspect]]:
        """Exact matches (start, end, text, ids) and scored suspects of one document."""
        exact: list[tuple[int, int, str, tuple[int, ...]]] = []
        pending: list[tuple[NameCandidate, int, float]] = []
        covered: dict[tuple[int, int], bool] = {}
        for cand in name_candidates(doc):
            words = cand.words
            i = 0
            while i < len(words):
                for j in range(min(len(words), i + 6), i, -1):
                    text = doc.text[words[i].start : words[j - 1].end]
                    ids = self.lookup(fold(text))
                    if not ids:
                        continue
                    if (j == i + 1 and j < len(words) and self.gaz.name_parts.get(fold(text)) == "given"
                            and not any(self.gaz.kind[e] == "person" and not self.gaz.source[e].startswith(
                                PERSON_NAME_SOURCE) for e in ids)):
                        # "Volodymyr Tymoshenko": a given name here (names-dataset's given names are
                        # only that), not the town of Volodymyr; the next word may be a surname.
                        continue
                    if j == i + 1 and _zipf(text) >= self.rules["ordinary_word_zipf"]:
                        # "Major", "Defense": ordinary words that are also some village.
                        ids = tuple(e for e in ids if self.gaz.prominence[e] >= self.rules["context_min_prominence"])
                        if not ids:
                            continue
                    exact.append((words[i].start, words[j - 1].end, text, ids))
                    for k in range(i, j):
                        covered[(id(cand), k)] = True
                    i = j
                    break
                else:
                    suspect, zipf = self.is_suspect_word(words[i].text)
                    if suspect:
                        pending.append((cand, i, zipf))
                    i += 1
        regions, countries = self.context_of(exact)
        suspects = []
        for cand, i, zipf in pending:
            w = cand.words
            spans = [(w[i].start, w[i].end, w[i].text, 1)]
            if i > 0 and not covered.get((id(cand), i - 1)):
                spans.append((w[i - 1].start, w[i].end, doc.text[w[i - 1].start : w[i].end], 2))
            if i + 1 < len(w) and not covered.get((id(cand), i + 1)):
                spans.append((w[i].start, w[i + 1].end, doc.text[w[i].start : w[i + 1].end], 2))
            suspect = Suspect(w[i].start, w[i].end, w[i].text, fold(w[i].text), zipf)
            self.score_suspect(suspect, spans, regions, countries)
            suspects.append(suspect)
        self._agreement(suspects)
        return exact, suspects

    def _agreement(self, suspects: list[Suspect]) -> None:
        """Different unknown spellings that all point to one entity support each other (MT often
        garbles one name several ways in one story): more document context for each."""
        by_entity: dict[str, set[str]] = {}
        for s in suspects:
            if s.best is not None:
                by_entity.setdefault(s.best["canonical"], set()).add(s.folded)
        step = float(self.rank.get("agreement_step", 0.25))
        for s in suspects:
            if s.best is None:
                continue
            others = len(by_entity[s.best["canonical"]]) - 1
            if others > 0 and s.best["context"] > 0:
                s.best["agreeing_suspects"] = others
                s.best["context"] = s.best["context"] + step * min(others, 2)
                s.probability = self.probability(self.features(s))

    def resolve(self, doc: Document) -> list[ResolvedName]:
        exact, suspects = self.analyse(doc)
        regions, countries = self.context_of(exact)
        out: list[ResolvedName] = []
        for start, end, text, ids in exact:
            eid = self.pick(ids, regions, countries)
            canonical = self.gaz.canonical[eid]
            status = "known" if fold(text) in (fold(canonical), fold(self.gaz.preferred.get(eid, canonical))) \
                else "variant"
            out.append(ResolvedName(start, end, text, canonical, self.gaz.kind[eid], self.gaz.country[eid],
                                    self.gaz.region[eid], status, 1.0, eid))
        deltas = self.lm_adjust(doc, suspects, self.threshold) if self.lm_adjust is not None else [None] * len(suspects)
        for suspect, delta in zip(suspects, deltas):
            best = suspect.best
            if best is not None and delta is not None:
                best["lm_delta"] = delta
                logit = math.log(max(suspect.probability, 1e-6) / max(1 - suspect.probability, 1e-6))
                suspect.probability = _sigmoid(logit + self.lm_weight * max(-5.0, min(5.0, delta)))
            if best is None or suspect.probability < self.threshold:
                continue
            out.append(self._corrupt(suspect, best))
        out.sort(key=lambda r: (r.start, r.end))
        return _drop_overlaps(out)

    def _corrupt(self, suspect: Suspect, best: dict) -> ResolvedName:
        start, end = best["start"], best["end"]
        canonical = best["canonical"]
        whole = best["coverage"] >= 1.0
        first = canonical if whole else best["form"].title()
        suggestions = [first] + [c["canonical"] if whole else c["form"].title()
                                 for c in suspect.candidates[1:3] if c["canonical"] != canonical]
        eid = best["entity"]
        evidence = {
            "canonical": canonical, "matched_form": best["form"], "cost": round(best["cost"], 3),
            "normalised_cost": round(best["ncost"], 3), "edit_distance": _levenshtein(best["form"], fold(best["span_text"])),
            "ops": [f"{s or '∅'}->{d or '∅'}" for s, d in best["ops"]], "prominence": round(best["prominence"], 3),
            "context_support": round(best["context"], 3), "mt_likeness": round(best["mt_likeness"], 3),
            "agreeing_suspects": best.get("agreeing_suspects", 0), "margin": round(best.get("margin", 0.0), 3),
            "zipf": round(suspect.zipf, 2), "probability": round(suspect.probability, 3),
            "lm_delta": round(best["lm_delta"], 3) if "lm_delta" in best else None,
            "population": self.gaz.population[eid], "country": self.gaz.country[eid], "region": self.gaz.region[eid],
            "candidates": [{"canonical": c["canonical"], "kind": c["kind"], "cost": round(c["cost"], 3),
                            "rank": round(c["rank"], 3)} for c in suspect.candidates],
        }
        return ResolvedName(start, end, best["span_text"], canonical, best["kind"], self.gaz.country[eid],
                            self.gaz.region[eid], "corrupt", suspect.probability, eid,
                            tuple(dict.fromkeys(suggestions)), evidence)


def _ending_swap(form: str, query: str) -> bool:
    """The known name with its last letter swapped for a short ending: the case endings MT leaves
    on names ("Craiovei", "Vallettei" for Craiova, Valletta; "Henric" for Henry)."""
    if len(form) < 5 or " " in form or " " in query:
        return False
    stem = form[:-1]
    # Two or three letters for one: a single swapped last letter is a plain corruption ("Ternopir").
    return query.startswith(stem) and 2 <= len(query) - len(stem) <= 3 and query[len(stem)] != form[-1]


def _levenshtein(a: str, b: str) -> int:
    from rapidfuzz.distance import Levenshtein

    return Levenshtein.distance(a, b)


def _drop_overlaps(names: list[ResolvedName]) -> list[ResolvedName]:
    """A corrupt two-word reading ("Hannah M...") replaces the known word inside it.

    ``names`` is sorted by (start, end), so the kept names stay disjoint and in order and only a
    tail of them can overlap the next one: linear in the names of a document."""
    out: list[ResolvedName] = []
    for name in names:
        k = len(out)
        while k and out[k - 1].end > name.start:
            k -= 1
        clash = out[k:]
        if not clash:
            out.append(name)
        elif name.status == "corrupt" and all(o.status != "corrupt" for o in clash):
            del out[k:]
            out.append(name)
    return out


def resolve_names(doc: Document, matcher: Matcher) -> list[ResolvedName]:
    """The shared annotation: every resolved name of ``doc`` with its entity kind."""
    return doc.annotation("names.resolved", matcher.resolve)
