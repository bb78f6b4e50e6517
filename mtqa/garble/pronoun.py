"""Pronoun artefacts: "his"/"her" for an army, a city or a state, or with no antecedent at all.

MT from languages with grammatical gender turns "its" into "his"/"her" ("The Russian military used
Izium as his main logistics base") and invents possessives ("Her three bodies lay..."). A rule finds
the candidates (no person in reach, a thing or a group just before), the LM ranks the rewrites
(its / their / the) and sets the confidence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Sequence

from ..document import Document
from ..findings import Category, Finding, Severity
from ..text import Token
from .gazetteer import NameInfo
from .lexicon import lower_set, quote_mask, rules, thresholds, word_class

# (text, span, candidates, context) -> Δ log-prob per candidate; None when no LM.


@dataclass
class PronounCandidate:
    token: Token
    sentence: int
    reason: str  # "thing" | "no_antecedent" | "other_paragraph"
    antecedent: str | None


def _multiword(words: list[str]) -> tuple[frozenset[str], frozenset[tuple[str, ...]]]:
    single = frozenset(w for w in words if " " not in w)
    multi = frozenset(tuple(w.split()) for w in words if " " in w)
    return single, multi


# "Russians had left", "Ukrainian forces": peoples and adjectives, not a person.
_DEMONYM = re.compile(r"(?:ians?|ans|ese|ish|is)$")


def _person_name_like(toks: list[Token], i: int, info: NameInfo, thing_words: frozenset[str] = frozenset()) -> bool:
    """Two or more capitalised words not known as English words ("Andriy Yermak")."""
    tok = toks[i]
    if not tok.text[:1].isupper():
        return False
    kind = info.kind_at(tok.start)
    if kind:
        return kind.startswith("person")
    j = i
    run = [tok]
    while j + 1 < len(toks) and toks[j + 1].text[:1].isupper():
        j += 1
        run.append(toks[j])
    k = i
    while k - 1 >= 0 and toks[k - 1].text[:1].isupper():
        k -= 1
        run.insert(0, toks[k])
    if len(run) < 2:
        # A lone name followed by its verb is a subject, and subjects of "said" are people
        # ("Yermak later wrote on his Twitter"); a lone name elsewhere may be a place ("used Izium").
        if not word_class(tok.text).known and not _DEMONYM.search(tok.text) and i + 1 < len(toks):
            follower = toks[i + 1]
            if _adverb(follower.text) and i + 2 < len(toks):
                follower = toks[i + 2]
            if follower.text[:1].islower() and word_class(follower.text).can_be_finite_verb:
                return True
        return False
    if any(t.text.lower() in thing_words for t in run):
        return False  # "Kharkiv Oblast", "Defense Ministry"
    unknown = [t for t in run if not word_class(t.text).known]
    return len(unknown) >= 1


def _adverb(word: str) -> bool:
    import lemminflect

    lemmas = lemminflect.getAllLemmas(word.lower())
    return "ADV" in lemmas and "VERB" not in lemmas


def find_candidates(doc: Document, info: NameInfo) -> list[PronounCandidate]:
    cfg = rules()["pronoun"]
    possessives = lower_set(cfg["possessives"])
    person_single, person_multi = _multiword([w.lower() for w in cfg["person"]])
    thing_single, thing_multi = _multiword([w.lower() for w in cfg["collective"]])
    titles = frozenset(cfg["person_titles"])
    person_single = person_single - possessives  # a possessive may itself be the artefact
    window = int(cfg["window_sentences"])
    mask = doc.annotation("garble.quote_mask", lambda d: quote_mask(d.text))
    out: list[PronounCandidate] = []
    for index in range(len(doc.sentences)):
        toks = doc.sentence_tokens(index)
        for pos, tok in enumerate(toks):
            if tok.text.lower() not in possessives or mask[tok.start]:
                continue
            nxt = toks[pos + 1] if pos + 1 < len(toks) else None
            if nxt is None or doc.text[tok.end : nxt.start].strip():
                continue  # "her." / "her," : an object pronoun
            if nxt.text.lower() in _OBJECT_FOLLOWERS:
                continue
            # Tokens in reach: this sentence up to the pronoun, then earlier sentences.
            scopes: list[list[Token]] = [toks[:pos]]
            for back in range(1, window + 2):
                if index - back >= 0:
                    scopes.append(doc.sentence_tokens(index - back))
            person = False
            person_in_other_paragraph = False
            thing: str | None = None
            for depth, scope in enumerate(scopes):
                # A person named only before a paragraph break is a weak antecedent: MT copy starts
                # new paragraphs with "In her town of ..." where the source had no possessive.
                crossed = depth > 0 and "\n" in doc.text[doc.sentences[index - depth].end : doc.sentences[index].start]
                low = [t.text.lower() for t in scope]
                for i, word in enumerate(low):
                    if mask[scope[i].start] and depth > 0:
                        continue  # people inside an earlier quote do not count
                    if word in person_single or scope[i].text in titles or any(
                        tuple(low[i : i + len(m)]) == m for m in person_multi
                    ) or _person_name_like(scope, i, info, thing_single):
                        person_in_other_paragraph = person_in_other_paragraph or crossed
                        person = person or not crossed
                    elif depth <= window and thing is None:
                        hit = word in thing_single or any(tuple(low[i : i + len(m)]) == m for m in thing_multi)
                        kind = info.kind_at(scope[i].start)
                        if hit or (kind and not kind.startswith("person")):
                            thing = scope[i].text
                if person:
                    break
            if person:
                continue
            if thing is None and index == 0:
                continue  # no earlier sentence to hold an antecedent: nothing to judge
            # a person before the break still outranks a nearer thing: only the LM may judge it
            reason = "other_paragraph" if person_in_other_paragraph else "thing" if thing else "no_antecedent"
            out.append(PronounCandidate(tok, index, reason, thing))
    return out


# "her to", "her and", "her that": "her" is an object, not a possessive.
_OBJECT_FOLLOWERS = frozenset(
    "to and or but that as at in on of for from with by about into if when while because so than the a an "
    "this that these those is was are were be been has have had will would can could".split()
)


_RULE_NAMES = {"thing": "thing antecedent", "no_antecedent": "no person antecedent",
               "other_paragraph": "person antecedent only in an earlier paragraph"}


def _match_case(word: str, like: str) -> str:
    return word[0].upper() + word[1:] if like[:1].isupper() else word


def pronoun_edits(doc: Document, candidates: list[PronounCandidate]) -> list[tuple[Document, int, int, list[str], int]]:
    """The LM rewrites of each candidate: its/their/the in place, scored to the end of the sentence."""
    replacements = list(rules()["pronoun"]["candidates"])
    return [(doc, c.token.start, c.token.end, [_match_case(r, c.token.text) for r in replacements],
             doc.sentences[c.sentence].end) for c in candidates]  # fmt: skip


def build_findings(
    doc: Document, candidates: list[PronounCandidate], deltas: list[list[float]] | None
) -> list[Finding]:
    """Findings from the candidates and, with the LM, the Δ log-prob of each of
    :func:`pronoun_edits`' rewrites (``None``: rule only)."""
    cfg = rules()["pronoun"]
    th = thresholds()["pronoun"]
    conf = thresholds()["confidence"]
    replacements = list(cfg["candidates"])
    found: list[Finding] = []
    for n, c in enumerate(candidates):
        word = c.token.text
        if c.reason == "other_paragraph" and deltas is None:
            continue  # a plausible reading: only the LM can say the possessive is odd
        evidence: dict[str, Any] = {"rule": _RULE_NAMES[c.reason]}
        if c.antecedent:
            evidence["antecedent"] = c.antecedent
        if deltas is not None:
            ranked = sorted(zip(replacements, deltas[n]), key=lambda x: -x[1])
            best_word, best = ranked[0]
            evidence["delta_logprob"] = {w: round(d, 3) for w, d in ranked}
            need = float(th["thing_min_delta"] if c.reason == "thing" else th["no_antecedent_min_delta"])
            if best < need:
                continue
            confidence = min(float(th["max_confidence"]), float(th["base_confidence"]) + float(th["confidence_per_nat"]) * (best - need))
            suggestions = tuple(_match_case(w, word) for w, d in ranked if d >= need)
        else:
            if c.reason != "thing":
                confidence = float(conf["pronoun_no_antecedent"])
            else:
                confidence = float(conf["pronoun_rule_only"])
            # no LM: "its"/"their" for a thing, "the" when nothing is in reach
            order = replacements[:2] if c.reason == "thing" else replacements[-1:]
            suggestions = tuple(_match_case(w, word) for w in order)
        if c.reason == "thing":
            message = f'"{word}" refers to no person: the nearest antecedent is "{c.antecedent}" (a thing or group); MT gender artefact'
        elif c.reason == "other_paragraph":
            message = (f'Possessive "{word}" reaches back past a paragraph break for its person, and the '
                       f'sentence reads better without it: MT gender artefact')
        else:
            message = f'Possessive "{word}" has no antecedent in reach: MT gender artefact'
        found.append(
            Finding(
                start=c.token.start,
                end=c.token.end,
                category=Category.REALWORD,
                severity=Severity(thresholds()["severity"]["pronoun"]) if c.reason == "thing" or deltas is not None else Severity.INFO,
                confidence=round(confidence, 4),
                message=message,
                check="garble.pronoun",
                suggestions=suggestions,
                evidence=evidence,
            )
        )
    return found
