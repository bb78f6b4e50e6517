"""Garble detectors: must-flag and must-pass examples for every detector (no model weights)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pytest

from mtqa.checkers.garble import GarbleChecker
from mtqa.config import Settings
from mtqa.document import Document
from mtqa.findings import Category
from mtqa.garble import detect, detect_rules
from mtqa.garble import gazetteer as garble_gazetteer
from mtqa.garble.lexicon import is_headline, quote_mask
from mtqa.garble.lmslips import pos_variants, tense_variants
from mtqa.garble.rules import (
    find_broken_attributions,
    find_case_damage,
    find_first_person,
    find_fragments,
    find_inner_lost_capitals,
    find_repetitions,
    find_untranslated,
)

CLEAN_NEWS = (
    "Ukrainian forces recaptured the town of Balakliia on Thursday, the general staff said.\n\n"
    "The Russian military had used the town as its main supply hub for the Kharkiv region. "
    "Its withdrawal was confirmed by the Defence Ministry in Moscow on Saturday.\n\n"
    '"We are moving forward," President Volodymyr Zelensky said in his nightly video address. '
    "The minister said his plan would reach every village within a week.\n\n"
    "Residents who stayed through the occupation described shortages of food and medicine. "
    "Hanna Maliar, a deputy defence minister, urged people not to report gains before they were confirmed."
)


@pytest.fixture(autouse=True)
def no_gazetteer(monkeypatch):
    """Unit tests judge the garble rules alone; the gazetteer link has its own test below."""
    monkeypatch.setattr(garble_gazetteer, "_provider", lambda: None)


def _checks(findings):
    return [f.check for f in findings]


def _flagged(findings, text, check):
    return [text[f.start : f.end] for f in findings if f.check == check]


# ---------------------------------------------------------------- repetitions


@pytest.mark.parametrize(
    "text, unit",
    [
        ("He said the the plan was good.", "the"),
        ("The crystals matched those found in affected pets pets.", "pets"),
        ("It was found in the urine of pets pets pets pets.", "pets"),
        ("The spokesman said that said that the talks would resume.", "said that"),
        ("He will run for president in 2016 2016.", "2016"),
        ("The chemical is is.", "is"),
    ],
)
def test_repetition_flags(text, unit):
    found = find_repetitions(Document.from_text(text))
    assert len(found) == 1
    f = found[0]
    assert f.check == "garble.repetition" and f.category is Category.GARBLE
    assert f.suggestions == (unit,)
    assert text[f.start : f.end].lower().startswith(unit.lower())


@pytest.mark.parametrize(
    "text",
    [
        "He had had enough of the delays.",
        "She said that that plan would not work.",
        "Yes, yes, we agree.",
        "The score was 2-2 after extra time.",
        "They walked on and on through the night.",
    ],
)
def test_repetition_passes(text):
    assert find_repetitions(Document.from_text(text)) == []


# ---------------------------------------------------------------- untranslated words


@pytest.mark.parametrize(
    "text, word",
    [
        ("Inspectors said 三聚氰胺 was found in the milk samples.", "三聚氰胺"),
        ("According to the Russian лидера, the navy is growing.", "лидера"),
        ("The two agencies stole data from the विशाल fiber network.", "विशाल"),
        ("The rebels fired a shot und fled across the border.", "und"),
        ("Now Kolonko announced that he has ended współpracę with the party.", "współpracę"),
        ("We have made enormous Fortschritte from session to session.", "Fortschritte"),
    ],
)
def test_untranslated_flags(text, word):
    found = find_untranslated(Document.from_text(text))
    assert [text[f.start : f.end] for f in found] == [word]
    assert found[0].evidence["rule"] in ("foreign script", "foreign word frequency")


@pytest.mark.parametrize(
    "text",
    [
        "The capital, Kyiv (Київ), was quiet on Sunday.",
        "The α-helix is a common protein structure.",
        "Schetyna said Jarosław Kaczyński and Małgorzata Kidawa-Błońska were afraid to debate.",
        "Ursula von der Leyen met Charles de Gaulle's biographer in Paris.",
        "The café served crème brûlée and espresso.",
    ],
)
def test_untranslated_passes(text):
    assert find_untranslated(Document.from_text(text)) == []


def test_untranslated_spares_names_the_gazetteer_knows(monkeypatch):
    class Lookup:
        def is_known_name(self, word):
            return word == "Харків"

    monkeypatch.setattr(garble_gazetteer, "_provider", lambda: (lambda doc: Lookup()))
    text = "Shelling hit Харків and Ізюм overnight."
    found = [f for f in detect_rules(Document.from_text(text)) if f.check == "garble.untranslated"]
    assert [text[f.start : f.end] for f in found] == ["Ізюм"]


# ---------------------------------------------------------------- case damage


def test_lost_capital_after_full_stop():
    text = "Yermak posted a photo of troops and tweeted a grape emoji. means rose."
    found = find_inner_lost_capitals(Document.from_text(text))
    # the span holds the stop too: in OCR text the stop is often the error ("age. previous")
    assert _flagged(found, text, "garble.lowercase_start") == ["emoji. means"]
    assert found[0].suggestions == ("emoji. Means",)


def test_whole_sentence_lowercase():
    text = "The report was published on Monday.\nlast month, a presidential committee recommended the resignation of the former cep."
    found = find_case_damage(Document.from_text(text))
    assert _checks(found) == ["garble.case"]
    assert found[0].suggestions[0].startswith("Last month")


def test_lowercase_sentence_start():
    text = "Police arrived at noon. she is in custody pending trial, officials said."
    found = detect_rules(Document.from_text(text))
    assert "noon. she" in _flagged(found, text, "garble.lowercase_start")


@pytest.mark.parametrize(
    "text",
    [
        "The talks ended at 5 p.m. on Monday without a deal.",
        "U.S. officials said the strike hit a depot.",
        "iPhone sales rose in the third quarter.",
        "The army advanced along the river\nand reached the outskirts of the city by nightfall.",
        "He shouted 'Keep running...' and left.",
        "Prices rose, etc. and nobody was surprised.",
    ],
)
def test_case_passes(text):
    doc = Document.from_text(text)
    assert find_case_damage(doc) == [] and find_inner_lost_capitals(doc) == []


# ---------------------------------------------------------------- fragments and first person


def test_fragment_flags_participle_clause():
    text = "TASS reported the decision. Citing the Ministry of Defense."
    found = find_fragments(Document.from_text(text))
    assert _flagged(found, text, "garble.fragment") == ["Citing the Ministry of Defense."]
    assert found[0].evidence["participle_start"] is True


@pytest.mark.parametrize(
    "text",
    [
        "Major Turning Point in War As Russia Loses Kyiv",
        "Reporting by John Smith; Editing by Jane Doe.",
        "The Russian forces withdrew from the region on Saturday.",
        '"Keep running!" Yermak later wrote on Twitter.',
        "Photo: Reuters.",
        "A huge success for the whole team.\"",
    ],
)
def test_fragment_passes(text):
    assert find_fragments(Document.from_text(text)) == []


def test_first_person_framing_flagged():
    text = "TASS reported the decision, citing the Ministry of Defense. I'm saying."
    found = find_first_person(Document.from_text(text))
    assert _flagged(found, text, "garble.first_person") == ["I'm saying."]


@pytest.mark.parametrize(
    "text",
    [
        "'I'm saying we will win,' he said.",
        "“I think we will win,” he said.",
        '"I repeat: we will not leave," the mayor said.',
        "I think the plan is wrong, and here is why the council should reject it next week.",
    ],
)
def test_first_person_in_quotes_passes(text):
    assert find_first_person(Document.from_text(text)) == []


@pytest.mark.parametrize(
    "text, name",
    [
        ('"We will hold the line," Interfax said Ukraine.', "Ukraine"),
        ("“The bridge is closed,” the agency reported Moldova. Citing the police.", "Moldova"),
        ('"Supplies are short", the governor wrote Kherson Oblast.', "Kherson Oblast"),
    ],
)
def test_broken_attribution_flags(text, name):
    found = find_broken_attributions(Document.from_text(text))
    assert _flagged(found, text, "garble.attribution") == [name]
    assert found[0].category is Category.GARBLE


@pytest.mark.parametrize(
    "text",
    [
        '"We will hold the line," he said Monday.',
        '"We will hold the line," said Zelensky.',
        '"We will hold the line," he told Reuters.',
        '"We will hold the line," the agency reported, citing the ministry.',
        "“No,” Peskov said on Sunday.",
        '"It is over," TASS quoted Shoigu.',
        "The agency reported Russia's losses on Friday.",
        "Officials said Ukraine would respond.",
    ],
)
def test_broken_attribution_passes(text):
    assert find_broken_attributions(Document.from_text(text)) == []


# ---------------------------------------------------------------- pronoun artefacts (rule only)


def test_pronoun_for_military_flagged_without_lm():
    text = "The Russian military used Izium as his main logistics base."
    found = detect(Document.from_text(text))
    pron = [f for f in found if f.check == "garble.pronoun"]
    assert [text[f.start : f.end] for f in pron] == ["his"]
    assert pron[0].category is Category.REALWORD
    assert pron[0].suggestions[:2] == ("its", "their")
    assert pron[0].evidence["antecedent"] == "military"


@pytest.mark.parametrize(
    "text",
    [
        "The minister said his plan would reach every village.",
        "Andriy Yermak posted a photo of troops. His aide confirmed it later.",
        "Yermak later wrote on his Twitter account that the army was retreating.",
        "President Zelensky visited the city and thanked his soldiers.",
        "The government told her to leave the country within a week.",
    ],
)
def test_pronoun_with_person_antecedent_passes(text):
    found = detect(Document.from_text(text))
    assert "garble.pronoun" not in _checks(found)


# ---------------------------------------------------------------- LM-based detectors with a fake LM


@dataclass
class FakeScored:
    text: str
    bits: dict[str, float] = field(default_factory=dict)

    def word_surprisal(self, start, end):
        return self.bits.get(self.text[start:end], 2.0)

    def mean_surprisal(self):
        return self.bits.get("__mean__", 3.0)


class FakeLM:
    """Stands in for LMHelper: surprisal per word from a table, Δ log-prob from a table of rewrites."""

    def __init__(self, prefer=None, bits=None, means=None):
        self.prefer = prefer or {}  # rewritten span text -> Δ nats
        self.bits = bits or {}
        self.means = means or {}
        self.requests = []

    def sentence_scores(self, doc):
        out = []
        for s in doc.sentences:
            body = s.of(doc.text)
            table = dict(self.bits)
            if body in self.means:
                table["__mean__"] = self.means[body]
            out.append(FakeScored(body, table))
        return out

    def context(self, doc, index):
        return doc.text[: doc.sentences[index].start]

    def prepare(self, docs):
        pass

    def rescore_edits(self, edits):
        self.requests.extend(edits)
        return [[self.prefer.get(c, -1.0) for c in cands] for _, _, _, cands, *_ in edits]


def test_word_swap_flagged_when_rewrite_scores_better():
    text = "The goods imported this into country are duty free."
    lm = FakeLM(prefer={"into this": 12.0}, bits={"this": 9.0, "into": 11.0})
    found = detect(Document.from_text(text), lm)
    swaps = [f for f in found if f.check == "garble.word_order"]
    assert [text[f.start : f.end] for f in swaps] == ["this into"]
    assert swaps[0].suggestions == ("into this",)
    assert swaps[0].evidence["delta_logprob"] == 12.0


def test_word_swap_not_flagged_below_threshold():
    text = "The goods imported this into country are duty free."
    lm = FakeLM(prefer={"into this": 1.0}, bits={"this": 9.0, "into": 11.0})
    assert "garble.word_order" not in _checks(detect(Document.from_text(text), lm))


def test_pos_shift_flagged_with_variant():
    text = "Last month, a president committee recommended the resignation."
    lm = FakeLM(prefer={"presidential": 9.0}, bits={"president": 14.0})
    found = detect(Document.from_text(text), lm)
    forms = [f for f in found if f.check == "garble.word_form"]
    assert [text[f.start : f.end] for f in forms] == ["president"]
    assert forms[0].category is Category.REALWORD and forms[0].suggestions == ("presidential",)


@pytest.mark.parametrize(
    "text, prefer, bits, check, span, suggestion",
    [
        # a function word exchanged for another of its class
        ("Melamine was found via urine samples today.", {"in": 12.0}, {"via": 12.0}, "garble.function_word", "via", "in"),
        ("He could not relieve pain with an medication.", {"a": 8.0}, {"an": 11.0}, "garble.function_word", "an", "a"),
        # a dropped function word, flagged on the word after the gap
        ("The army will withdraw from city by the end of the month.", {"the city": 9.0}, {"city": 14.0}, "garble.missing_word", "city", "the city"),
        # a tense break: the auxiliary and a "will" future
        ("Cyanuric acid and melamine are both found in samples of pets who died.", {"were": 9.0}, {"are": 12.0}, "garble.tense", "are", "were"),
        ("Yesterday the spokesman will say that the talks failed.", {"said": 9.0}, {"will": 9.0, "say": 9.0}, "garble.tense", "will say", "said"),
    ],
)
def test_function_word_and_tense_slips_flagged(text, prefer, bits, check, span, suggestion):
    found = [f for f in detect(Document.from_text(text), FakeLM(prefer=prefer, bits=bits)) if f.check == check]
    assert [text[f.start : f.end] for f in found] == [span]
    assert found[0].suggestions == (suggestion,) and found[0].evidence["delta_logprob"] == prefer[suggestion]


@pytest.mark.parametrize(
    "text, bits",
    [
        ("Melamine was found in urine samples of sick pets.", {"in": 12.0}),
        ("The army will withdraw from the city by the end of the month.", {"city": 14.0}),
        ("Cyanuric acid and melamine were both found in samples of pets who died.", {"were": 12.0}),
    ],
)
def test_function_word_and_tense_pass_when_the_text_scores_best(text, bits):
    lm = FakeLM(bits=bits)  # every rewrite scores below the text
    checks = set(_checks(detect(Document.from_text(text), lm)))
    assert not checks & {"garble.function_word", "garble.missing_word", "garble.tense"}
    assert lm.requests, "the rewrites were tried"


@pytest.mark.parametrize(
    "text, prefer",
    [
        ("During further checks, the police found that the van had passed the border.", {"After": 9.0, "after": 9.0}),
        ("She said that after years, a Rakoczy horse show will take place again.", {"the": 9.0}),
    ],
)
def test_function_word_not_judged_without_what_decides_it(text, prefer):
    """A sentence's first word has no left context; an article before a name depends on facts."""
    lm = FakeLM(prefer=prefer, bits={"During": 12.0, "a": 12.0})
    assert "garble.function_word" not in _checks(detect(Document.from_text(text), lm))


def test_function_word_just_below_threshold_passes():
    text = "Melamine was found via urine samples of sick pets."
    lm = FakeLM(prefer={"in": 2.0}, bits={"via": 12.0})
    assert "garble.function_word" not in _checks(detect(Document.from_text(text), lm))


def test_tense_variants():
    assert set(tense_variants("were")) >= {"are", "is"} and tense_variants("has") == ("had",)
    assert set(tense_variants("revealed")) == {"reveal", "reveals"} and tense_variants("Was")[0][0].isupper()
    assert tense_variants("can") == ("could",)  # modals come from the data file
    assert tense_variants("the") == () and tense_variants("running") == ()


def test_pos_variants_share_the_root():
    assert "presidential" in pos_variants("president")
    assert "comparison" in pos_variants("compare")
    assert "evidence" in pos_variants("evidencial")
    assert "graphic" not in pos_variants("grape")


def test_pronoun_ranked_by_lm():
    text = "The Russian military used Izium as his main logistics base."
    lm = FakeLM(prefer={"its": 6.0, "their": 2.0, "the": 5.0})
    found = [f for f in detect(Document.from_text(text), lm) if f.check == "garble.pronoun"]
    assert len(found) == 1
    assert found[0].suggestions[0] == "its"
    assert found[0].evidence["delta_logprob"]["its"] == 6.0
    rule_only = [f for f in detect(Document.from_text(text)) if f.check == "garble.pronoun"][0]
    assert found[0].confidence > rule_only.confidence


def test_pronoun_dropped_when_lm_disagrees():
    text = "The Russian military used Izium as his main logistics base."
    lm = FakeLM(prefer={"its": 0.2, "their": -1.0, "the": 0.1})
    assert "garble.pronoun" not in _checks(detect(Document.from_text(text), lm))


def test_possessive_without_antecedent_needs_lm_support():
    text = 'The wall was covered in graffiti. Her three bodies lay in white bags in the garden.'
    strong = FakeLM(prefer={"The": 5.5})
    found = [f for f in detect(Document.from_text(text), strong) if f.check == "garble.pronoun"]
    assert [text[f.start : f.end] for f in found] == ["Her"] and found[0].suggestions[0] == "The"
    weak = FakeLM(prefer={"The": 1.0})
    assert "garble.pronoun" not in _checks(detect(Document.from_text(text), weak))


PARAGRAPH_BREAK = (
    '"We raised the flag today," the deputy minister said.\n\n'
    "In her village of Hrakove, one of dozens recaptured this week, reporters found a burnt-out truck."
)


def test_possessive_whose_person_is_in_an_earlier_paragraph_needs_the_lm():
    """The person sits across a paragraph break: a plausible reading, so only a clear LM gain flags it."""
    assert "garble.pronoun" not in _checks(detect(Document.from_text(PARAGRAPH_BREAK)))
    strong = FakeLM(prefer={"the": 4.0})
    found = [f for f in detect(Document.from_text(PARAGRAPH_BREAK), strong) if f.check == "garble.pronoun"]
    assert [PARAGRAPH_BREAK[f.start : f.end] for f in found] == ["her"] and found[0].suggestions == ("the",)
    assert found[0].evidence["rule"] == "person antecedent only in an earlier paragraph"
    weak = FakeLM(prefer={"the": 2.0})  # enough for a thing antecedent, not for a distant person
    assert "garble.pronoun" not in _checks(detect(Document.from_text(PARAGRAPH_BREAK), weak))


def test_possessive_with_person_in_the_same_paragraph_is_not_a_candidate():
    text = PARAGRAPH_BREAK.replace("\n\n", " ")
    assert "garble.pronoun" not in _checks(detect(Document.from_text(text), FakeLM(prefer={"the": 9.0})))


def test_surprisal_outlier():
    sentences = [f"The council met on day {n} and approved the budget for the new school." for n in range(1, 7)]
    odd = "Boxes strewn the where garbage in hurry left apparently had Russians with."
    text = " ".join(sentences + [odd])
    lm = FakeLM(means={s: 3.0 + 0.1 * i for i, s in enumerate(sentences)} | {odd: 9.0})
    found = [f for f in detect(Document.from_text(text), lm) if f.check == "garble.surprisal"]
    assert [text[f.start : f.end] for f in found] == [odd]
    assert found[0].evidence["z"] > 3


def test_clean_news_paragraph_has_no_finding():
    doc = Document.from_text(CLEAN_NEWS)
    assert detect(doc) == []
    lm = FakeLM()  # every rewrite scores worse than the original
    assert detect(Document.from_text(CLEAN_NEWS), lm) == []


# ---------------------------------------------------------------- plumbing


def test_quote_mask_and_headline():
    text = "'I'm saying we will win,' he said. I'm saying."
    mask = quote_mask(text)
    assert mask[1] == 1 and mask[text.index("he said")] == 0
    doc = Document.from_text("Major Turning Point in War As Russia Loses Kyiv\n\nThe army advanced.")
    assert is_headline(doc, doc.sentences[0]) and not is_headline(doc, doc.sentences[1])


def test_checker_rule_only_batch():
    checker = GarbleChecker(Settings(use_lm=False))
    assert checker.name == "garble" and checker.version
    docs = [Document.from_text(CLEAN_NEWS), Document.from_text("He said the the plan was good. I'm saying.")]
    results = checker.check(docs)
    assert len(results) == 2 and results[0] == []
    assert _checks(results[1]) == ["garble.repetition", "garble.first_person"]
    sig = checker.signature()
    assert sig["lm"] is False and len(sig["rules_hash"]) == 12


def test_checker_falls_back_when_lm_fails(monkeypatch):
    import mtqa.lm as lm_module

    def broken(settings):
        raise RuntimeError("no weights")

    monkeypatch.setattr(lm_module, "get_scorer", broken)
    checker = GarbleChecker(Settings(use_lm=True))
    [found] = checker.check([Document.from_text("The Russian military used Izium as his main logistics base.")])
    assert _checks(found) == ["garble.pronoun"]
    assert "no weights" in checker.signature()["lm_error"]


def test_findings_are_json_ready():
    text = "He said the the plan was good. The Russian military used Izium as his base."
    for f in detect(Document.from_text(text)):
        d = f.to_dict(text)
        assert d["message"] and d["check"].startswith("garble.") and d["evidence"]["rule"]
        assert all(not isinstance(v, float) or math.isfinite(v) for v in d["evidence"].values())
