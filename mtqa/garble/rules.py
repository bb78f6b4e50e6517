"""Rule detectors that need no language model: repetitions, untranslated words, case damage,
fragments, broken attributions and first-person framing."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Callable, Iterable

from ..document import Document
from ..findings import Category, Finding, Severity
from ..text import Span, Token
from .lexicon import (
    is_headline,
    is_unpunctuated_line,
    lower_set,
    quote_mask,
    rules,
    script_of,
    sentence_has_quote,
    thresholds,
    word_class,
)

NameLookup = Callable[[str], bool]


def _severity(name: str) -> Severity:
    return Severity(thresholds()["severity"][name])


def _conf(name: str) -> float:
    return float(thresholds()["confidence"][name])


def _garble(*, start: int, end: int, kind: str, confidence: float, message: str, check: str,
            suggestions: tuple[str, ...] = (), evidence: dict | None = None) -> Finding:
    """A garble finding whose severity comes from the thresholds file, by kind of damage."""
    return Finding(start, end, Category.GARBLE, _severity(kind), confidence, message, check, suggestions, evidence or {})


def _quotes(doc: Document) -> bytearray:
    return doc.annotation("garble.quote_mask", lambda d: quote_mask(d.text))


# ---------------------------------------------------------------- decoder repetitions


_TRAILING = ".,;:!?)]}\"'”’»…"
_CHUNK = re.compile(r"\S+")


def find_repetitions(doc: Document) -> list[Finding]:
    """Adjacent repeats of a whitespace-separated unit ("pets pets.", "2016 2016", "said that said
    that"); a repeat may end in punctuation, the copies before it may not ("Yes, yes" is fine)."""
    cfg = rules()["repetition"]
    legit = lower_set(cfg["legit_doubles"])
    max_n = int(cfg["max_ngram"])
    text = doc.text
    found: list[Finding] = []
    for sentence in doc.sentences:
        chunks = [(m.start(), m.end(), m.group()) for m in _CHUNK.finditer(text, sentence.start, sentence.end)]
        low = [c[2].lower() for c in chunks]
        core = [c.rstrip(_TRAILING) or c for c in low]
        i = 0
        while i < len(chunks):
            hit = None
            for n in range(1, max_n + 1):
                if i + 2 * n > len(chunks):
                    continue
                unit = low[i : i + n]
                if not any(ch.isalnum() for ch in "".join(unit)) or unit[-1] != unit[-1].rstrip(_TRAILING):
                    continue
                copies = 1
                while i + (copies + 1) * n <= len(chunks):
                    nxt = low[i + copies * n : i + (copies + 1) * n]
                    if nxt[:-1] == unit[:-1] and nxt[-1] == unit[-1]:
                        copies += 1
                        continue
                    if nxt[:-1] == unit[:-1] and core[i + (copies + 1) * n - 1] == unit[-1]:
                        copies += 1  # the last copy carries the sentence's punctuation
                    break
                if copies >= 2:
                    hit = (n, copies)
                    break
            if hit is None:
                i += 1
                continue
            n, copies = hit
            first, last = chunks[i], chunks[i + copies * n - 1]
            phrase = text[first[0] : chunks[i + n - 1][1]]
            end = last[0] + len(last[2].rstrip(_TRAILING) or last[2])
            closes = last[2] != last[2].rstrip(_TRAILING) or i + copies * n == len(chunks)
            skip = n == 1 and copies == 2 and low[i] in legit and not closes  # "had had enough"
            if not skip:
                # Title-case doubles can be names ("Bora Bora", "Sirhan Sirhan").
                named = n == 1 and copies == 2 and phrase[:1].isupper()
                kind = "word" if n == 1 else "phrase"
                found.append(
                    _garble(
                        start=first[0],
                        end=end,
                        kind="repetition",
                        confidence=_conf("repetition_name" if named else "repetition"),
                        message=f'Repeated {kind} "{phrase}" ({copies} times in a row): a decoder repetition',
                        check="garble.repetition",
                        suggestions=(phrase,),
                        evidence={"rule": "adjacent repeat", "unit": phrase, "words": n, "copies": copies},
                    )
                )
            i += n * copies
    return found


# ---------------------------------------------------------------- untranslated words


def _is_letter_like(ch: str) -> bool:
    return ch.isalpha() or unicodedata.category(ch).startswith("M")


def _foreign_runs(text: str, scripts: frozenset[str]) -> Iterable[tuple[int, int, str]]:
    """Maximal runs of letters in one foreign script; runs split only by spaces and
    light punctuation are merged (an untranslated phrase is one finding)."""
    runs: list[list] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        if _is_letter_like(ch):
            script = script_of(ch) if ch.isalpha() else None
            j = i + 1
            while j < n and _is_letter_like(text[j]) and (not text[j].isalpha() or script_of(text[j]) == script or script is None):
                if script is None and text[j].isalpha():
                    script = script_of(text[j])
                j += 1
            if script in scripts:
                if runs and runs[-1][2] == script and re.fullmatch(r"[\s\-/,·・、]{1,3}", text[runs[-1][1] : i]):
                    runs[-1][1] = j
                else:
                    runs.append([i, j, script])
            i = j
        else:
            i += 1
    return [tuple(r) for r in runs]


@lru_cache(maxsize=65536)
def _zipf(word: str, lang: str) -> float:
    import wordfreq

    return wordfreq.zipf_frequency(word, lang)


def find_untranslated(doc: Document, known_name: NameLookup | None = None) -> list[Finding]:
    cfg = rules()["untranslated"]
    th = thresholds()["untranslated"]
    scripts = frozenset(cfg["foreign_scripts"])
    text = doc.text
    found: list[Finding] = []
    for start, end, script in _foreign_runs(text, scripts):
        chunk = text[start:end]
        letters = sum(1 for c in chunk if c.isalpha())
        if script == "GREEK" and letters < int(cfg["min_greek_letters"]):
            continue
        if known_name is not None and known_name(chunk):
            continue
        # "Kyiv (Київ)": an original-script gloss in brackets is deliberate.
        before = text[max(0, start - 2) : start]
        after = text[end : end + 1]
        glossed = "(" in before and after == ")"
        if glossed:
            continue
        quoted = bool(_quotes(doc)[start])
        conf = _conf("untranslated_quoted" if quoted else "untranslated_script")
        found.append(
            _garble(
                start=start,
                end=end,
                kind="untranslated",
                confidence=conf,
                message=f'Untranslated {script.title()}-script text "{chunk}" in English copy',
                check="garble.untranslated",
                evidence={"rule": "foreign script", "script": script, "letters": letters, "quoted": quoted},
            )
        )
    found.extend(_latin_foreign_words(doc, known_name, th))
    return found


def _latin_foreign_words(doc: Document, known_name: NameLookup | None, th: dict) -> list[Finding]:
    langs = rules()["untranslated"]["latin_languages"]
    en_max = float(th["latin_en_max_zipf"])
    foreign_min = float(th["latin_foreign_min_zipf"])
    cap_foreign_min = float(th["latin_capitalised_foreign_min_zipf"])
    min_len = int(th["latin_min_length"])
    en_ceiling = float(th["latin_en_ceiling_zipf"])
    cap_en_max = float(th["latin_capitalised_en_max_zipf"])
    cap_margin = float(th["latin_capitalised_margin_zipf"])
    margin = float(th["latin_margin_zipf"])
    capitalising = frozenset(rules()["untranslated"]["capitalising_languages"])
    found: list[Finding] = []
    for tok in doc.tokens:
        word = tok.text
        if len(word) < min_len or not word.isalpha() or any(script_of(c) != "LATIN" for c in word):
            continue
        if word.isupper():
            continue
        low = word.lower()
        en = _zipf(low, "en")
        if en > en_ceiling:
            continue
        best_lang, best = max(((lang, _zipf(low, lang)) for lang in langs), key=lambda x: x[1])
        capital = word[0].isupper()
        if capital:
            # Only German capitalises common nouns; other capitalised foreign words are names.
            if best_lang not in capitalising or en > cap_en_max or best < cap_foreign_min or best - en < cap_margin:
                continue
        elif not (en <= en_max and best >= foreign_min) and not (en <= en_ceiling and best - en >= margin):
            continue
        if _particle(doc, tok):
            continue
        if known_name is not None and known_name(word):
            continue
        if _known_english(low):
            continue
        found.append(
            _garble(
                start=tok.start,
                end=tok.end,
                kind="untranslated",
                confidence=_conf("untranslated_latin"),
                message=f'"{word}" looks like an untranslated {best_lang} word',
                check="garble.untranslated",
                evidence={"rule": "foreign word frequency", "language": best_lang, "zipf_foreign": best, "zipf_en": en},
            )
        )
    return found


_PARTICLES = frozenset("de der den la le van von da do dos das del di du y e ter ten al el bin ibn".split())


def _particle(doc: Document, tok: Token) -> bool:
    """Name particles: "von der Leyen", "da Silva", "de Gaulle"."""
    if tok.text.lower() not in _PARTICLES:
        return False
    rest = doc.text[tok.end : tok.end + 40].split()
    for word in rest[:2]:
        if word[:1].isupper():
            return True
        if word.lower() not in _PARTICLES:
            return False
    return False


@lru_cache(maxsize=65536)
def _known_english(word: str) -> bool:
    """lemminflect knows English inflections wordfreq may rank low ("realises")."""
    import lemminflect

    return bool(lemminflect.getAllLemmas(word))


# ---------------------------------------------------------------- case damage


_OPENERS = "\"'“‘«([—–- "


def _previous_text(doc: Document, sentence: Span) -> str:
    return doc.text[: sentence.start].rstrip(" \t")


def find_case_damage(doc: Document) -> list[Finding]:
    text = doc.text
    cfg = rules()
    brands = set(cfg["case"]["lowercase_brands"])
    abbreviations = lower_set(cfg["sentence_start"]["abbreviations"])
    min_words = int(thresholds()["case"]["full_lower_min_words"])
    found: list[Finding] = []
    for sentence in doc.sentences:
        toks = doc.tokens_in(sentence)
        words = [t for t in toks if any(c.isalpha() for c in t.text)]
        if not words:
            continue
        first = toks[0]
        lead = text[sentence.start : first.start]
        if lead.strip(_OPENERS):
            continue  # starts with a number, symbol, bullet...
        if not first.text[0].isalpha() or not first.text[0].islower():
            continue
        if first.text in brands or any(c.isupper() for c in first.text[1:]) or script_of(first.text[0]) != "LATIN":
            continue
        if re.match(r"(?:https?:|www\.|@|#)", text[first.start : first.start + 8]):
            continue
        before = _previous_text(doc, sentence)
        if before:
            if before.endswith("\n"):
                # A wrapped line continues the sentence unless the previous line ended one.
                prev_line = before.rstrip()
                if not re.search(r"[.!?]['\"”’)]*$", prev_line):
                    continue
            elif not re.search(r"[.!?]['\"”’)]*$", before):
                continue
            if re.search(r"(?:\.\.\.|…)['\"”’)]*$", before.rstrip()):
                continue  # ellipsis: the sentence goes on
            m = re.search(r"(\w+(?:\.\w+)*)\.$", before.rstrip())
            if m and (m.group(1).lower() in abbreviations or len(m.group(1)) == 1):
                continue
        letters = [c for c in text[sentence.start : sentence.end] if c.isalpha()]
        all_lower = all(c.islower() for c in letters)
        if all_lower and len(words) >= min_words:
            suggestion = first.text[0].upper() + text[first.start + 1 : sentence.end]
            found.append(
                _garble(
                    start=sentence.start,
                    end=sentence.end,
                    kind="case",
                    confidence=_conf("case_full_lower"),
                    message="The whole sentence is lowercase (lost capitals for the sentence start and any names)",
                    check="garble.case",
                    suggestions=(suggestion,),
                    evidence={"rule": "sentence without a capital letter", "words": len(words)},
                )
            )
        else:
            found.append(_lowercase_start(text, _stop_word_start(text, first.start), first.start, first.end, before[-12:]))
    return found


_STOP_WORD = re.compile(r"\S*[.!?]['\"”’)]*\s+$")


def _stop_word_start(text: str, word_start: int) -> int:
    """Start of the word that carries the stop before ``word_start`` (``word_start`` when none does)."""
    window = max(0, word_start - 80)  # not the whole prefix: this runs once per finding
    m = _STOP_WORD.search(text, window, word_start)
    return m.start() if m else word_start


def _lowercase_start(text: str, start: int, word_start: int, end: int, previous: str) -> Finding:
    """A lowercase word after a sentence stop. Either the capital was lost (MT) or the stop is
    wrong (OCR reads a comma as a period; MT breaks a sentence), so the span covers the word
    with the stop too ("age. previous"); the suggestion restores the capital."""
    word = text[word_start:end]
    return _garble(
        start=start,
        end=end,
        kind="case",
        confidence=_conf("case_lowercase_start"),
        message=f'Lowercase "{word}" after a full stop: a lost capital, or a stop that does not belong',
        check="garble.lowercase_start",
        suggestions=(text[start:word_start] + word[0].upper() + word[1:],),
        evidence={"rule": "lowercase after sentence end", "previous": previous},
    )


# A full stop the segmenter did not split on because the next word is lowercase
# ("tweeted a grape emoji. means rose.").
_INNER_STOP = re.compile(r"(\w+)([.!?])(?=[\"”’)]?\s+([a-z][\w'’\-]*))")


def find_inner_lost_capitals(doc: Document) -> list[Finding]:
    text = doc.text
    cfg = rules()
    brands = set(cfg["case"]["lowercase_brands"])
    abbreviations = lower_set(cfg["sentence_start"]["abbreviations"])
    found: list[Finding] = []
    for sentence in doc.sentences:
        for m in _INNER_STOP.finditer(text, sentence.start, sentence.end):
            before, word = m.group(1), m.group(3)
            if m.start(1) > 0 and text[m.start(1) - 1] in ".@/#":
                continue  # U.S., e.g., URLs and handles
            if len(before) == 1 or before.lower() in abbreviations or before.isdigit() or before.isupper():
                continue
            if word in brands or any(c.isupper() for c in word):
                continue
            if m.group(2) == "." and text[m.end(2) : m.end(2) + 1] == ".":
                continue
            previous = text[m.start() : m.end(2)]
            found.append(_lowercase_start(text, _stop_word_start(text, m.start(3)), m.start(3), m.end(3), previous))
    return found


# ---------------------------------------------------------------- fragments and framing


def _sentence_words(doc: Document, index: int) -> list[Token]:
    return [t for t in doc.sentence_tokens(index) if any(c.isalpha() for c in t.text)]


def _is_credit_line(sentence_text: str) -> bool:
    starts = rules()["credit_lines"]["starts"]
    low = sentence_text.lstrip(_OPENERS).lower()
    return any(re.match(re.escape(s) + r"\b", low) for s in starts)


def find_fragments(doc: Document) -> list[Finding]:
    cfg = rules()["fragment"]
    min_words = int(cfg["min_words"])
    found: list[Finding] = []
    for index, sentence in enumerate(doc.sentences):
        body = sentence.of(doc.text)
        if not body.rstrip().endswith("."):
            continue
        if sentence_has_quote(body) or "'" in body[:1] or is_headline(doc, sentence) or _is_credit_line(body):
            continue
        if re.search(r"[:;|]", body):
            continue  # lists, labels, colon-introduced items
        words = _sentence_words(doc, index)
        if len(words) < min_words:
            continue
        verbs = [w.text for w in words if word_class(w.text).can_be_finite_verb]
        if verbs:
            continue
        unknown = [w.text for w in words if not word_class(w.text).known and not w.text[0].isupper()]
        if unknown:
            continue  # an unknown lowercase word might be the verb
        lead = words[0].text
        participle = lead.lower().endswith("ing") and word_class(lead).can_be_verb
        conf = _conf("fragment_participle" if participle else "fragment")
        found.append(
            _garble(
                start=sentence.start,
                end=sentence.end,
                kind="fragment",
                confidence=conf,
                message="Sentence fragment: no main verb"
                + (f' (it starts with the participle "{lead}"; it may belong to the previous sentence)' if participle else ""),
                check="garble.fragment",
                evidence={"rule": "no finite verb", "words": len(words), "participle_start": participle},
            )
        )
    return found


_CLOSING_QUOTE = "\"”’'»"


@lru_cache(maxsize=1)
def _attribution_pattern() -> re.Pattern[str]:
    cfg = rules()["attribution"]
    verbs = "|".join(re.escape(v) for v in cfg["verbs"])
    subject = rf"(?:[\w'’.-]+\s+){{1,{int(cfg['max_subject_words'])}}}?"
    name = r"[A-Z][\w'’-]*(?:\s+[A-Z][\w'’-]*){0,3}"
    return re.compile(
        rf"[{_CLOSING_QUOTE}],?\s+(?P<subject>{subject})(?P<verb>{verbs})\s+(?P<name>{name})\s*[.!?]?\s*$"
    )


def find_broken_attributions(doc: Document) -> list[Finding]:
    """'"...," TASS reported Russia.': an attribution verb that takes no name as object, followed
    by a name that ends the sentence. MT splits "reported, citing Russia's ministry" this way."""
    times = frozenset(rules()["attribution"]["time_words"])
    found: list[Finding] = []
    for sentence in doc.sentences:
        body = sentence.of(doc.text)
        m = _attribution_pattern().search(body)
        if not m or m.group("name").split()[0] in times:
            continue
        start, end = sentence.start + m.start("name"), sentence.start + m.end("name")
        found.append(
            _garble(
                start=start,
                end=end,
                kind="attribution",
                confidence=_conf("attribution"),
                message=(f'"{m.group("name")}" dangles after "{m.group("subject").strip()} {m.group("verb")}": '
                         "a clause split by translation (was it \"citing ...\"?)"),
                check="garble.attribution",
                evidence={"rule": "name after attribution verb", "verb": m.group("verb")},
            )
        )
    return found


def find_first_person(doc: Document) -> list[Finding]:
    cfg = rules()["first_person"]
    subjects = lower_set(cfg["subject"])
    framing = lower_set(cfg["framing_verbs"])
    max_words = int(cfg["max_words"])
    mask = _quotes(doc)
    found: list[Finding] = []
    for index, sentence in enumerate(doc.sentences):
        body = sentence.of(doc.text)
        if sentence_has_quote(body) or is_unpunctuated_line(doc, sentence) and is_headline(doc, sentence):
            continue
        words = _sentence_words(doc, index)
        if not words or mask[words[0].start]:
            continue
        low = [w.text.lower() for w in words]
        hit = None
        if len(words) <= max_words and low[0] in subjects and any(w in framing for w in low[1:]):
            hit = (sentence.start, sentence.end, "short first-person framing sentence")
        else:
            # A trailing ", I say." clause on a reported sentence.
            m = re.search(r",\s+((?:I|we|We)(?:'m|'re| am| are| would| must| will)?\s+(\w+))\W*$", body)
            if m and m.group(2).lower() in framing and not mask[sentence.start + m.start(1)]:
                hit = (sentence.start + m.start(1), sentence.start + m.end(2), "trailing first-person framing clause")
        if hit is None:
            continue
        found.append(
            _garble(
                start=hit[0],
                end=hit[1],
                kind="first_person",
                confidence=_conf("first_person"),
                message="First-person framing outside quotation marks: a stray clause from the source or translator",
                check="garble.first_person",
                suggestions=("",),
                evidence={"rule": hit[2], "words": len(words)},
            )
        )
    return found
