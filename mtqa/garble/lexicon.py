"""Data and small text facts shared by the garble detectors: rules, thresholds, quotes, headlines, POS."""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from ..config import PACKAGE_DATA
from ..document import Document
from ..text import Span

RULES_FILE = PACKAGE_DATA / "garble.yaml"
THRESHOLDS_FILE = PACKAGE_DATA / "garble_thresholds.yaml"


@lru_cache(maxsize=1)
def rules() -> dict[str, Any]:
    return yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))


@lru_cache(maxsize=1)
def thresholds() -> dict[str, Any]:
    return yaml.safe_load(THRESHOLDS_FILE.read_text(encoding="utf-8"))


def lower_set(values: list[str]) -> frozenset[str]:
    return frozenset(v.lower() for v in values)


# ---------------------------------------------------------------- quotation marks

_OPEN_DOUBLE = "“„«"
_CLOSE_DOUBLE = "”»"
_LETTER = re.compile(r"\w")


def quote_mask(text: str) -> bytearray:
    """1 for each character inside quotation marks, 0 outside.

    State resets at every line break: news copy often leaves a quote open at the end of a
    paragraph, and an unclosed quote must not swallow the rest of the article.
    """
    mask = bytearray(len(text))
    double = single = False
    for i, ch in enumerate(text):
        if ch == "\n":
            double = single = False
            continue
        prev = text[i - 1] if i > 0 else " "
        nxt = text[i + 1] if i + 1 < len(text) else " "
        inside = double or single
        if ch in _OPEN_DOUBLE:
            double = inside = True
        elif ch in _CLOSE_DOUBLE:
            double = False
            inside = True
        elif ch == '"':
            double = not double
            inside = True
        elif ch in "‘'’":
            word_before = bool(_LETTER.match(prev))
            word_after = bool(_LETTER.match(nxt))
            if single and not word_after:
                single = False  # closing quote
                inside = True
            elif ch != "’" and not single and not word_before and word_after:
                single = inside = True  # opening quote; inside a word it is an apostrophe
        mask[i] = 1 if inside else 0
    return mask


def sentence_has_quote(text: str) -> bool:
    return any(c in text for c in '"“”„«»')


# ---------------------------------------------------------------- lines and headlines


def line_bounds(text: str, pos: int) -> tuple[int, int]:
    start = text.rfind("\n", 0, pos) + 1
    end = text.find("\n", pos)
    return start, len(text) if end < 0 else end


_FINAL_PUNCT = re.compile(r"[.!?…:;]['\"”’»)\]]*\s*$")


def ends_sentence(text: str) -> bool:
    return bool(_FINAL_PUNCT.search(text))


def _doc_line(doc: Document, pos: int) -> tuple[int, int]:
    """``line_bounds`` from a per-document index: a scan per sentence would be quadratic in a long line."""
    starts = doc.annotation("lexicon.line_starts", lambda d: [0, *(m.end() for m in re.finditer("\n", d.text))])
    i = bisect_right(starts, pos) - 1
    return starts[i], starts[i + 1] - 1 if i + 1 < len(starts) else len(doc.text)


def _per_line(doc: Document, sentence: Span, fact: str, compute) -> bool:
    """A fact about the sentence's line, computed once per line (they read the whole line)."""
    line_start, line_end = _doc_line(doc, sentence.start)
    memo = doc.annotation("lexicon.line_facts", lambda d: {})
    key = (fact, line_start)
    if key not in memo:
        memo[key] = compute(doc.text[line_start:line_end].strip())
    return memo[key]


def is_headline(doc: Document, sentence: Span) -> bool:
    """Short title-case line without final punctuation ("Major Turning Point in War")."""
    return _per_line(doc, sentence, "headline", _is_headline_line)


def _is_headline_line(line: str) -> bool:
    cfg = rules()["headline"]
    if not line or re.search(r"[.!?]['\"”’)]*$", line):
        return False
    words = re.findall(r"[^\W\d_][\w'’\-]*", line)
    if not words or len(words) > cfg["max_words"]:
        return False
    small = lower_set(cfg["small_words"])
    content = [w for w in words if w.lower() not in small] or words
    titled = sum(1 for w in content if w[0].isupper())
    return titled / len(content) >= cfg["min_title_ratio"]


def is_unpunctuated_line(doc: Document, sentence: Span) -> bool:
    """A line that is one unpunctuated unit: headline, caption, dateline, byline, list item."""
    return _per_line(doc, sentence, "unpunctuated", lambda line: not ends_sentence(line))


# ---------------------------------------------------------------- scripts


@lru_cache(maxsize=4096)
def script_of(ch: str) -> str:
    """The first word of the Unicode character name: LATIN, CYRILLIC, CJK, GREEK, ..."""
    if not ch.isalpha():
        return "COMMON"
    try:
        return unicodedata.name(ch).split()[0]
    except ValueError:
        return "UNKNOWN"


# ---------------------------------------------------------------- part of speech


@dataclass(frozen=True)
class WordClass:
    can_be_finite_verb: bool
    can_be_verb: bool
    known: bool


@lru_cache(maxsize=65536)
def word_class(word: str) -> WordClass:
    """What a word can be, from lemminflect's lexicon (no context: an upper bound)."""
    import lemminflect

    cfg = rules()["fragment"]
    lw = word.lower().replace("’", "'")
    finite_words = lower_set(cfg["finite_words"])
    if lw in finite_words:
        return WordClass(True, True, True)
    if "'" in lw:
        base, clitic = lw.split("'", 1)
        if "'" + clitic in finite_words or (base.endswith("n") and "n't" in finite_words and clitic == "t"):
            return WordClass(True, True, True)
        lw = base
    lemmas = lemminflect.getAllLemmas(lw)
    if not lemmas:
        # Closed-class words (the, of, and) are not in lemminflect; frequent means known.
        import wordfreq

        return WordClass(False, False, wordfreq.zipf_frequency(lw, "en") >= 4.5)
    finite_tags = set(cfg["finite_tags"])
    finite = False
    for upos in ("VERB", "AUX"):
        for lemma in lemmas.get(upos, ()):
            forms = lemminflect.getAllInflections(lemma, upos=upos)
            if any(lw in forms.get(tag, ()) for tag in finite_tags):
                finite = True
    return WordClass(finite, "VERB" in lemmas or "AUX" in lemmas, True)
