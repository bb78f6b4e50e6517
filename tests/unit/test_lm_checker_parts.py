"""The `lm` checker's model-free parts: candidates, case, selection data, sentence contexts."""

from __future__ import annotations

import math
import re
from dataclasses import replace

import pytest

from mtqa.checkers.lm import (
    Candidate,
    CandidateGenerator,
    LMChecker,
    edit_cost,
    is_title_case,
    load_config,
    match_case,
    suspicion_bits,
)
from mtqa.config import Settings
from mtqa.document import Document
from mtqa.lm import sentence_context


@pytest.fixture(scope="module")
def gen():
    return CandidateGenerator()


def test_confusion_sets_are_data_and_symmetric(gen):
    for group in load_config()["confusion_sets"]:
        for word in group:
            assert set(group) - {word} <= gen.confusion[word]
    assert {"its", "her", "their", "the"} <= {c.word for c in gen.candidates("his")}
    assert "an" in {c.word for c in gen.candidates("a")}


def test_inflections_and_spelling_neighbours(gen):
    found = {c.word: c for c in gen.candidates("losses")}
    assert found["loss"].kind == "inflection"
    assert found["loses"].kind == "family" and found["loses"].edits == 1  # shares the stem "los"
    assert found["bosses"].kind == "spelling" and found["bosses"].first_letter_changed
    assert not found["loses"].first_letter_changed
    assert all(c.word.isalpha() and c.word != "losses" for c in found.values())
    assert len(found) <= load_config()["max_candidates"]
    # names in the frequency list are not dictionary words, so never candidates
    assert "kyiv" not in gen.vocabulary and "said" in gen.vocabulary


def test_word_family_candidates(gen):
    assert "presidential" in gen.family("president")
    assert "importance" in gen.family("important")
    assert gen.family("his") == []  # short words: a shared prefix means nothing
    # confusion-set swaps never count as a changed first letter
    assert not any(c.first_letter_changed for c in gen.candidates("his") if c.kind == "confusion")


def test_short_words_get_one_edit(gen):
    assert all(c.edits <= 1 for c in gen.candidates("cat") if c.kind == "spelling")


def test_match_case():
    assert match_case("loses", "Losses") == "Loses"
    assert match_case("its", "his") == "its"
    assert match_case("nato", "NATO") == "NATO"


def test_title_case_detection():
    doc = Document.from_text("Russia Losses Kyiv After Heavy Fighting")
    assert is_title_case(doc.tokens, 0.6)
    doc = Document.from_text("The Russian military used Izium as its main base.")
    assert not is_title_case(doc.tokens, 0.6)


def test_costs_grow_with_edits():
    costs = {"per_edit": 1.0, "confusion": 0.0, "inflection": 1.0, "spelling": 1.0, "first_letter": 2.0}
    near = Candidate("loses", "spelling", 1, False)
    far = Candidate("bosses", "spelling", 1, True)
    assert edit_cost(near, costs) < edit_cost(far, costs)
    assert edit_cost(Candidate("its", "confusion", 2), costs) == 2.0


def test_suspicion_is_relative_to_word_frequency():
    # the same in-context surprisal is more suspicious for a frequent word than a rare one
    assert suspicion_bits("the", 12.0, None, float("nan")) > suspicion_bits("substation", 12.0, None, float("nan"))
    assert suspicion_bits("his", 10.0, "main", 30.0) > suspicion_bits("his", 10.0, "main", 1.0)


def test_names_mid_sentence_are_not_examined():
    checker = LMChecker(Settings())
    doc = Document.from_text("The army used Izium as his base.")
    words = doc.tokens
    eligible = [w.text for k, w in enumerate(words) if checker._eligible(doc, words, k, False)]
    assert "Izium" not in eligible and "The" not in eligible
    assert {"his", "base", "used"} <= set(eligible)


def test_construction_is_cheap():
    checker = LMChecker(Settings())
    assert checker._scorer is None
    sig = checker.signature()
    assert sig["loaded"] is False and sig["model"] == "gemma-3-270m" and checker._scorer is None
    assert checker.check([]) == []


def test_sentence_context_is_bounded_and_whole_sentences():
    text = "First one here. Second sentence is here. Third one."
    doc = Document.from_text(text)
    assert sentence_context(doc, 0, 600) == ""
    assert sentence_context(doc, 2, 600) == "First one here. Second sentence is here. "
    assert sentence_context(doc, 2, 30) == "Second sentence is here. "
    tail = sentence_context(doc, 2, 10)
    assert len(tail) <= 10 and text.index("Third") - len(tail) >= 0 and not tail.startswith(" ")


@pytest.fixture(scope="module")
def tiny_checker(tmp_path_factory):
    pytest.importorskip("torch")
    from mtqa.lm.tiny import save_tiny

    root = tmp_path_factory.mktemp("tinylm")
    save_tiny(root / "tiny")
    card = root / "tiny.yaml"
    card.write_text("name: tiny-checker\nsource: {local: tiny}\nlicence: none\ndtype: {cpu: float32}\n"
                    "max_context: 256\ntoken_budget: {cpu: 512}\n")
    return LMChecker(Settings(model=str(card), device="cpu"))


def _thresholds(warn):
    costs = {"per_edit": 0.5, "confusion": 0.0, "inflection": 0.0, "family": 0.0, "spelling": 1.0,
             "first_letter": 1.0}
    return {"costs": costs, "min_suspicion": -1e9, "warn": warn, "error": warn + 5.0, "slope": 1.0, "midpoint": warn}


def test_checker_findings_are_well_formed(tiny_checker):
    text = "Officials said the army used the town as his main base.\nPrices rose again in March."
    doc = Document.from_text(text)
    tiny_checker._thresholds = _thresholds(-1e9)  # flag the best candidate of every examined word
    [found] = tiny_checker.check([doc])
    found = [f for f in found if f.check != "lm.unexpected"]  # the proposals: see the test below
    top = load_config()["top_words_per_sentence"]
    assert 0 < len(found) <= top * len(doc.sentences)
    for f in found:
        word = text[f.start : f.end]
        assert word.isalpha() and f.check == "lm.realword" and f.category.value == "realword"
        assert f.suggestions and f.suggestions[0] != word
        assert f.evidence["candidate"] == f.suggestions[0]
        assert {"surprisal_bits", "next_surprisal_bits", "delta_logprob", "adjusted"} <= set(f.evidence)
        assert f.evidence["adjusted"] <= f.evidence["delta_logprob"]  # costs are never negative
        assert 0.0 <= f.confidence <= 1.0
        assert not word[0].isupper()  # no sentence starts, no names in a normal sentence
    tiny_checker._thresholds = _thresholds(1e9)
    assert {f.check for f in tiny_checker.check([doc])[0]} <= {"lm.unexpected"}


def test_unexpected_words_are_proposed_with_their_numbers(tiny_checker):
    """Every whitespace word whose first token the first pass did not rank first is proposed, with
    the numbers of the one pass; only the learned decision may report one."""
    from mtqa.combiner import Combiner, is_candidate
    from mtqa.lm import document_states

    text = "Officials said the army used the town as his main base.\nPrices rose again in March."
    doc = Document.from_text(text)
    [proposed] = tiny_checker.propose([doc])
    [state] = document_states([doc], tiny_checker.scorer)
    first_rank = {}
    for t in state.tokens:
        for word in re.finditer(r"\S+", text):
            if word.start() < t.end and word.end() > t.start:  # (a newline token covers no word)
                first_rank.setdefault(word.span(), t.rank)
    assert proposed and all(is_candidate(f) and f.check == "lm.unexpected" for f in proposed)
    assert {(f.start, f.end) for f in proposed} == {span for span, rank in first_rank.items() if rank >= 1}
    for f in proposed:
        numbers = f.evidence["lm"]
        assert numbers["rank_first"] >= 1.0 and numbers["tokens"] >= 1 and numbers["bits"] >= numbers["bits_first"] > 0
        assert numbers["margin_first"] >= 0  # a likelier other token exists
    assert Combiner().combine(proposed, text) == []  # no decision: never reported


def test_fixes_put_the_closest_plausible_edit_first():
    """Among candidates the model prefers after their edit cost, the fewest character edits come
    first, then those that keep the first letter; the others are not offered."""
    from mtqa.checkers.lm import Examined
    from mtqa.text import Token

    costs = _thresholds(0.0)["costs"]
    cands = [Candidate("sold", "inflection", 3), Candidate("sells", "inflection", 1),
             Candidate("cells", "spelling", 1, first_letter_changed=True), Candidate("seller", "inflection", 2)]
    ex = Examined(0, 0, Token(0, 6, "selles", 0), 12.0, 3.0, cands, [9.0, 6.0, 8.0, 0.5])
    assert ex.best(costs)[1].word == "sold"
    assert [c.word for c, _, _ in ex.fixes(costs)] == ["sells", "cells", "sold"]  # seller: 0.5 - 1.0 < 0


def test_headline_words_are_all_examined(tiny_checker):
    """A short title-case line has every dictionary word rescored, whatever its suspicion."""
    text = "Ministers Approve New Budget As Prices Rise Again"
    tiny_checker._thresholds = {**_thresholds(-1e9), "min_suspicion": 1e9}
    examined = tiny_checker.examine([Document.from_text(text)])
    assert {e.token.text for e in examined} >= {"Approve", "Budget", "Prices", "Rise", "Again"}
    assert tiny_checker.examine([Document.from_text(text.lower() + ".")]) == []


def test_the_floor_on_the_adjusted_score_drops_only_what_cannot_count(tiny_checker, monkeypatch):
    """``examine(min_adjusted=m)``: a candidate whose adjusted score could not reach m reads -inf,
    the others keep their Δ; ``check`` uses m = min(0, warn), so its findings, suggestions and
    evidence are those of the full rescoring."""
    from mtqa.checkers.lm import edit_cost

    text = "Officials said the army used the town as his main base.\nPrices rose again in March, he sad."
    tiny_checker._thresholds = _thresholds(0.3)
    costs = tiny_checker._thresholds["costs"]
    full = tiny_checker.examine([Document.from_text(text)])
    dropped = kept = 0
    for m in (-1.0, 0.0, 0.3):
        floored = tiny_checker.examine([Document.from_text(text)], min_adjusted=m)
        assert [e.token for e in floored] == [e.token for e in full]
        for a, b in zip(full, floored):
            need = m + min(edit_cost(c, costs) for c in a.candidates)
            for d_full, d_floor in zip(a.deltas, b.deltas):
                if d_full < need - 1e-4:
                    assert d_floor == -math.inf
                    dropped += 1
                elif d_full > need + 1e-4:
                    assert d_floor == pytest.approx(d_full, abs=1e-4)
                    kept += 1
    assert dropped and kept
    floored_findings = tiny_checker.check([Document.from_text(text)])
    unfloored = tiny_checker.examine
    monkeypatch.setattr(tiny_checker, "examine", lambda docs, min_adjusted=None: unfloored(docs))
    full_findings = tiny_checker.check([Document.from_text(text)])
    assert [f for f in full_findings[0] if f.check == "lm.realword"]
    # the same up to float noise: a batch of other rows may sum a Δ in another order
    assert [replace(f, confidence=round(f.confidence, 6)) for f in floored_findings[0]] == \
        [replace(f, confidence=round(f.confidence, 6)) for f in full_findings[0]]


def test_check_floors_at_what_it_offers_not_only_at_what_it_reports(tiny_checker, monkeypatch):
    """A candidate under the report threshold is still offered as a further fix when the model
    prefers it after its cost, so ``check`` floors at min(0, warn), not at warn."""
    from mtqa.checkers.lm import Examined, edit_cost
    from mtqa.text import Token

    tiny_checker._thresholds = _thresholds(6.0)
    costs = tiny_checker._thresholds["costs"]
    cands = [Candidate("sold", "inflection", 3), Candidate("sells", "inflection", 1),
             Candidate("cells", "spelling", 1, first_letter_changed=True), Candidate("seller", "inflection", 2)]
    deltas = [9.0, 6.0, 8.0, 0.5]  # adjusted 7.5, 5.5, 5.5, -0.5

    def examine(docs, min_adjusted=None):  # the scorer's contract: under the floor reads -inf
        need = -math.inf if min_adjusted is None else min_adjusted + min(edit_cost(c, costs) for c in cands)
        return [Examined(0, 0, Token(0, 6, "selles", 0), 12.0, 3.0, cands, [d if d >= need else -math.inf for d in deltas])]

    monkeypatch.setattr(tiny_checker, "proposes", False)
    monkeypatch.setattr(tiny_checker, "examine", examine)
    [found] = tiny_checker.check([Document.from_text("selles again")])
    assert [f.suggestions for f in found] == [("sells", "cells", "sold")]
