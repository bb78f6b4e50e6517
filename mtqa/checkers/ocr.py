"""OCR surface damage: broken letter case, digits for letters, glyph confusions,
doubled punctuation, split hyphenation and stray glyphs.

It also proposes, as candidates only the learned decision may report (``evidence.proposal``,
see :func:`mtqa.combiner.is_candidate`), every token that mixes letters with digits or stray
symbols ("W0LSI5GIMM", "Jo«n", "-hry4"): OCR junk in an old page, a model number or "19-year-old"
in news copy, which the decision tells apart by the word and the kind of text around it."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Iterator, Sequence

import yaml
from wordfreq import zipf_frequency

from ..config import PACKAGE_DATA, Settings
from ..document import Document
from ..findings import Category, Finding, Severity

_PUNCT_RUN = re.compile(r"[.,;:](?:[ \t]*[.,;:])+")
# Runs that are fine: ellipses (also spaced), and a comma or colon after an abbreviation's period.
_PUNCT_RUN_OK = {".,", ".;", ".:", "..."}
_SPLIT_HYPHEN = re.compile(r"\b([A-Za-z]{2,})- ([a-z]{2,})\b")
# Case shapes that are spelled on purpose: word, Word, WORD, WORDs (NGOs), McDonald/DeSantis/YouTube.
_ALLOWED_SHAPE = re.compile(r"[a-z]+|[A-Z][a-z]*|[A-Z]+s?|(?:[A-Z][a-z]+){2,3}")
_LETTERS_DIGITS = re.compile(r"(?=\w*\d)(?=\w*[a-z])\w+")
_LEGIT_ALNUM = re.compile(r"\d+(?:st|nd|rd|th|s|am|pm|km|kg|mm|cm|m|g|kw|mw|gw|mph|bn|m|k|x\d+)", re.I)
_WHITESPACE_TOKEN = re.compile(r"\S+")
_TOKEN_EDGE = "\"'“”‘’()[].,;:!?"  # punctuation that sits at a word's edge in ordinary English
_JOINER = re.compile(r"(?<=\w)[-/](?=\w)")
_PLAIN_PART = re.compile(rf"[^\W\d_]+|\d+(?:[.,]\d+)*|{_LEGIT_ALNUM.pattern}", re.I)
CANDIDATE_CONFIDENCE = 0.1  # an odd token is only a candidate for the learned decision


def _case_shape(word: str) -> str:
    """The word with each non-ASCII letter replaced by 'A' or 'a' by its case ('Pleșu' -> 'Pleau').

    _ALLOWED_SHAPE speaks ASCII; without this, diacritics ('Bălți', 'Cádiz') and letters without
    case (CJK, Arabic: lower here) read as broken case.
    """
    return "".join(ch if ch.isascii() else "A" if ch.isupper() else "a" for ch in word)


def _recase(template: str, word: str) -> str:
    if template[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


class OcrChecker:
    name = "ocr"
    version = "2"  # 2: odd tokens proposed as candidates

    def __init__(self, settings: Settings | None = None, rules_path=PACKAGE_DATA / "ocr.yaml") -> None:
        self.rules_path = rules_path

    @cached_property
    def _rules(self) -> dict:
        rules = yaml.safe_load(self.rules_path.read_text())
        rules["mixed_case_allowed"] = set(rules["mixed_case_allowed"])
        rules["stray_re"] = re.compile(rf"(?<=\S)\s*[{re.escape(rules['stray_characters'])}]+\s*(?=\S)")
        return rules

    def check(self, docs: Sequence[Document]) -> list[list[Finding]]:
        return [list(self._check_one(doc)) for doc in docs]

    def _check_one(self, doc: Document) -> Iterator[Finding]:
        for token in doc.tokens:
            yield from self._word(token.start, token.end, token.text)
        text = doc.text
        for m in _PUNCT_RUN.finditer(text):
            run = re.sub(r"\s", "", m.group())
            if run in _PUNCT_RUN_OK or set(run) == {"."} and len(run) >= 3:
                continue
            kept = run[0]
            yield self._finding(m.start(), m.end(), "ocr.doubled_punctuation", "Doubled punctuation.", (kept,), 0.85)
        for m in _SPLIT_HYPHEN.finditer(text):
            joined = m.group(1) + m.group(2)
            if self._common(joined) and not (self._common(m.group(1)) and self._common(m.group(2))):
                yield self._finding(
                    m.start(), m.end(), "ocr.split_hyphenation",
                    "A word split by a line-end hyphen.", (joined,), 0.8, {"joined_zipf": self._zipf(joined)},
                )  # fmt: skip
        for m in self._rules["stray_re"].finditer(text):
            yield self._finding(m.start(), m.end(), "ocr.stray_character", "A stray glyph between words.", (" ",), 0.6)
        yield from odd_tokens(text)

    def _word(self, start: int, end: int, word: str) -> Iterator[Finding]:
        if any(ch.isdigit() for ch in word):
            yield from self._digit_word(start, end, word)
            return
        if word.isalpha() and not _ALLOWED_SHAPE.fullmatch(_case_shape(word)) and word not in self._rules["mixed_case_allowed"]:
            fixed = _recase(word, word.lower())
            confidence = 0.9 if self._common(word.lower()) else 0.6
            yield self._finding(
                start, end, "ocr.mixed_case", "Letter case broken inside a word.",
                (fixed,) if confidence > 0.6 else (), confidence, {"zipf": self._zipf(word.lower())},
            )  # fmt: skip
            return
        if word.islower() or (word.istitle() and len(word) > 2):
            suggestion = self._glyph_fix(word)
            if suggestion:
                yield self._finding(
                    start, end, "ocr.glyph_confusion", "Looks like OCR misread letters.", (suggestion,), 0.75,
                    {"zipf": self._zipf(word), "suggestion_zipf": self._zipf(suggestion)},
                )  # fmt: skip

    def _digit_word(self, start: int, end: int, word: str) -> Iterator[Finding]:
        """'l0ndon', '1ondon': a digit inside lowercase letters that reads as a common word when swapped."""
        if not _LETTERS_DIGITS.fullmatch(word) or _LEGIT_ALNUM.fullmatch(word):
            return
        for candidate in self._swaps(word, {d: v for d, v in self._rules["digit_lookalikes"].items()}):
            if candidate.isalpha() and self._common(candidate):
                yield self._finding(
                    start, end, "ocr.digit_for_letter", "A digit where a letter belongs.", (candidate,), 0.85,
                    {"suggestion_zipf": self._zipf(candidate)},
                )  # fmt: skip
                return

    @staticmethod
    def _swaps(word: str, table: dict[str, list[str]]) -> Iterator[str]:
        """Replace every character found in ``table`` (all at once, each choice in turn)."""
        candidates = [""]
        for ch in word:
            options = table.get(ch, [ch])
            candidates = [c + o for c in candidates for o in options][:64]
        yield from candidates

    def _glyph_fix(self, word: str) -> str | None:
        limits = self._rules["frequency"]
        base = self._zipf(word)
        if base > limits["rare_max"]:
            return None
        lower = word.lower()
        best, best_zipf = None, limits["common_min"]
        for seen, meant in self._rules["glyph_confusions"]:
            seen, meant = str(seen), str(meant)
            at = lower.find(seen)
            while at != -1:
                candidate = lower[:at] + meant + lower[at + len(seen) :]
                z = self._zipf(candidate)
                if z >= best_zipf and z - base >= limits["min_gain"]:
                    best, best_zipf = candidate, z
                at = lower.find(seen, at + 1)
        return _recase(word, best) if best else None

    def _common(self, word: str) -> bool:
        return self._zipf(word) >= self._rules["frequency"]["common_min"]

    @staticmethod
    def _zipf(word: str) -> float:
        return zipf_frequency(word, "en")

    def _finding(self, start, end, check, message, suggestions=(), confidence=0.8, evidence=None) -> Finding:
        severity = Severity.ERROR if confidence >= 0.8 else Severity.WARNING
        return Finding(start, end, Category.OCR, severity, confidence, message, check, suggestions, evidence or {})


def odd_tokens(text: str) -> Iterator[Finding]:
    """Candidates: whitespace tokens (edge punctuation stripped) with a letter and a part that is not
    a plain word or number. Parts are what a hyphen or slash between two word characters joins, so
    "19-year-old", "F-35", "and/or" and "21st" are plain, and "W0LSI5GIMM", "Jo«n", "-hry4",
    "Sir,-I" and "km2" are not."""
    for m in _WHITESPACE_TOKEN.finditer(text):
        token = m.group()
        core = token.strip(_TOKEN_EDGE)
        letters = sum(c.isalpha() for c in core)
        if not letters:
            continue
        odd = [p for p in _JOINER.split(core) if not _PLAIN_PART.fullmatch(re.sub(r"['’.]", "", p))]
        if odd:
            start = m.start() + token.find(core)
            yield Finding(
                start, start + len(core), Category.OCR, Severity.INFO, CANDIDATE_CONFIDENCE,
                "Letters mixed with digits or stray symbols: OCR damage?", "ocr.odd_token", (),
                {"letters": letters, "digits": sum(c.isdigit() for p in odd for c in p),
                 "symbols": sum(not (c.isalnum() or c in "'’.") for p in odd for c in p), "proposal": "odd_token"},
            )  # fmt: skip
