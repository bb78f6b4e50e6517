"""Name candidates: capitalised words and sequences anywhere in a sentence.

``name_candidates(doc)`` (memoised as ``doc.annotation("names.candidates", ...)``) returns
``NameCandidate`` sequences: consecutive capitalised words in one sentence ("President
Volodymyr Zelenskiy", "Kharkiv Oblast"), joined across name particles ("Ursula von der
Leyen"), each word with its possessive stripped ("Kyiv's" -> "Kyiv") and hyphenated names
kept whole ("Ivano-Frankivsk"). Which words are common English is decided later, by the
matcher, because a common word that is in the gazetteer ("Nice", "Reading") still counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..document import Document
from .normalize import strip_possessive

# Lower-case particles inside names; data-like but tiny and closed.
PARTICLES = frozenset({"von", "van", "der", "de", "del", "da", "di", "la", "le", "al", "bin", "ibn", "dos", "du"})


@dataclass(frozen=True, slots=True)
class Word:
    start: int
    end: int  # possessive excluded: text[start:end] is the bare name
    text: str
    possessive: bool = False


@dataclass(frozen=True, slots=True)
class NameCandidate:
    start: int
    end: int
    words: tuple[Word, ...]
    sentence: int
    sentence_initial: bool  # the first word opens its sentence: capitalisation proves nothing

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _capitalised(word: str) -> bool:
    return word[:1].isupper() and not word.isdigit()


def extract_candidates(doc: Document) -> list[NameCandidate]:
    out: list[NameCandidate] = []
    for index, sentence in enumerate(doc.sentences):
        tokens = doc.tokens_in(sentence)
        run: list[Word] = []
        initial = False
        pending: list = []  # particles waiting for a capitalised word

        def flush() -> None:
            nonlocal run, initial
            if run:
                out.append(NameCandidate(run[0].start, run[-1].end, tuple(run), index, initial))
            run, initial = [], False

        prev_end = None
        for position, token in enumerate(tokens):
            gap = doc.text[prev_end : token.start] if prev_end is not None else ""
            adjacent = prev_end is not None and gap.strip() == ""
            prev_end = token.end
            if _capitalised(token.text):
                bare = strip_possessive(token.text)
                word = Word(token.start, token.start + len(bare), bare, bare != token.text)
                if run and adjacent and not run[-1].possessive:
                    run.extend(pending)
                    run.append(word)
                else:
                    flush()
                    run, initial = [word], position == 0
                pending = []
                if word.possessive:
                    flush()
            elif run and adjacent and token.text in PARTICLES and len(pending) < 2:
                pending.append(Word(token.start, token.end, token.text))
            else:
                pending = []
                flush()
        flush()
    return out


def name_candidates(doc: Document) -> list[NameCandidate]:
    """The shared annotation (computed once per document)."""
    return doc.annotation("names.candidates", extract_candidates)
