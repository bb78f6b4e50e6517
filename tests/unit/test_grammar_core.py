"""Grammar signal without an engine: offsets, messages, profile, OCR classification, name filter."""

from __future__ import annotations

from pathlib import Path

import pytest

from mtqa.checkers.grammar import GrammarChecker
from mtqa.combiner import Combiner
from mtqa.config import Settings
from mtqa.document import Document
from mtqa.findings import Category, Finding, Severity
from mtqa.grammar import GrammarMatch, Profile, clean_message, make_backend
from mtqa.grammar.base import Utf8Offsets, Utf16Offsets
from mtqa.grammar.names import is_name_like


class FakeBackend:
    """Replays fixed matches; the checker's mapping and filtering are what is under test."""

    name = "fake"
    version = "0"

    def __init__(self, matches_by_text):
        self.matches_by_text = matches_by_text

    def check(self, texts):
        return [list(self.matches_by_text.get(t, [])) for t in texts]

    def close(self):
        pass


def spelling(text, word, suggestions, occurrence=0, rule="MORFOLOGIK_RULE_EN_US", message="Possible spelling mistake found."):
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(word, start + 1)
    return GrammarMatch(start, start + len(word), rule, message, tuple(suggestions), "TYPOS", "misspelling")


def run(text, matches, **kwargs):
    if "name_lookup" not in kwargs:
        kwargs.setdefault("name_lookup_provider", lambda doc: None)  # no gazetteer unless given
    checker = GrammarChecker(Settings(grammar="lingotweaker"), backend=FakeBackend({text: matches}), **kwargs)
    return checker.check([Document.from_text(text)])[0]


# --- offsets -----------------------------------------------------------------------------------
@pytest.mark.parametrize("text", ["plain ascii", "Zoë said “yes” — 😀 then Kyiv", "😀😀 x", ""])
def test_utf8_offsets_roundtrip(text):
    conv = Utf8Offsets(text)
    raw = text.encode("utf-8")
    for i in range(len(text) + 1):
        assert conv.index(len(text[:i].encode("utf-8"))) == i
    assert conv.index(len(raw)) == len(text)


def test_utf16_offsets_after_emoji():
    text = "😀 Tbe dog 😀😀 tbe"
    conv = Utf16Offsets(text)
    units = text.encode("utf-16-le")
    for i in range(len(text) + 1):
        assert conv.index(len(text[:i].encode("utf-16-le")) // 2) == i
        assert conv.units(i) == len(text[:i].encode("utf-16-le")) // 2
    assert conv.index(len(units) // 2) == len(text)
    start, end = conv.span(text.index("Tbe") + 1, 3)  # one astral char before: +1 unit
    assert text[start:end] == "Tbe"


def test_clean_message_strips_suggestion_tags():
    raw = "Did you mean <suggestion>COVID-19</suggestion> or <suggestion>a  b</suggestion>?"
    assert clean_message(raw) == "Did you mean “COVID-19” or “a b”?"
    assert "<" not in clean_message("Use <suggestion>an</suggestion> instead")


# --- profile -----------------------------------------------------------------------------------
def test_default_profile_loads_and_maps():
    p = Profile.load()
    assert p.category_for("MORFOLOGIK_RULE_EN_US", "TYPOS") is Category.SPELLING
    assert p.category_for("MD_BASEFORM", "GRAMMAR") is Category.GRAMMAR
    assert p.category_for("SOME_RULE", "TYPOGRAPHY") is Category.STYLE
    assert p.category_for("UNKNOWN", "NEW_CATEGORY") is Category.GRAMMAR
    assert not p.allows("EN_QUOTES", "TYPOGRAPHY")
    assert not p.allows("EN_COMPOUNDS_MEDIUM_SIZED", "MISC")  # glob
    assert p.allows("ENGLISH_WORD_REPEAT_RULE", "MISC")
    assert p.allows("MORFOLOGIK_RULE_EN_US", "TYPOS")


def test_enable_and_disable_by_languagetool_names():
    p = Profile.load().with_overrides(enable_rules=["COMMA_COMPOUND_SENTENCE"], disable_categories=["TYPOS"])
    assert p.allows("COMMA_COMPOUND_SENTENCE", "PUNCTUATION")  # rule enabled inside a disabled category
    assert not p.allows("OTHER_PUNCT", "PUNCTUATION")
    assert not p.allows("MORFOLOGIK_RULE_EN_US", "TYPOS")
    p2 = p.with_overrides(enable_categories=["TYPOS"], disable_rules=["COMMA_COMPOUND_SENTENCE"])
    assert p2.allows("MORFOLOGIK_RULE_EN_US", "TYPOS")
    assert not p2.allows("COMMA_COMPOUND_SENTENCE", "PUNCTUATION")
    assert p.digest != p2.digest
    opts = p.engine_options()
    assert "COMMA_COMPOUND_SENTENCE" in opts["enabled_rules"]
    assert opts["disabled_categories"] == []  # would switch the enabled rule off in LanguageTool
    assert all("*" not in r for r in opts["disabled_rules"])


def test_profile_overlay_file(tmp_path: Path):
    overlay = tmp_path / "house.yaml"
    overlay.write_text("enabled_categories: [PUNCTUATION]\ndisabled_rules: [ENGLISH_WORD_REPEAT_RULE]\nmax_suggestions: 2\n")
    p = Profile.load(overlay=overlay)
    assert p.allows("COMMA_COMPOUND_SENTENCE", "PUNCTUATION")
    assert not p.allows("ENGLISH_WORD_REPEAT_RULE", "MISC")
    assert not p.allows("EN_QUOTES", "TYPOGRAPHY")  # the default list is still there
    assert p.max_suggestions == 2


@pytest.mark.parametrize(
    "word, suggestion, why",
    [
        ("tbe", "the", "confusion"),
        ("rnilitary", "military", "confusion"),
        ("governmentsaid", "government said", "merge"),
        ("c onfirmed", "confirmed", "split"),
        ("vvhero", "where", "confusion"),
        ("Lnnd", "Land", "confusion"),
        ("MIlitary", "Military", "case"),
    ],
)
def test_ocr_explains_look_alikes(word, suggestion, why):
    assert Profile.load().ocr_explains(word, suggestion) == why


@pytest.mark.parametrize(
    "word, suggestion",
    [("Izium", "Ilium"), ("Balakliia", "Balaklava"), ("comission", "commission"), ("eigth", "eight"), ("cat", "cat")],
)
def test_ocr_does_not_explain_ordinary_typos_or_names(word, suggestion):
    assert Profile.load().ocr_explains(word, suggestion) is None


def test_names_get_only_strong_ocr_explanations():
    p = Profile.load()
    assert p.ocr_explains("Moreton", "More ton", name_like=True) is None
    assert p.ocr_explains("Capper", "Copper", name_like=True) is None  # a -> o is weak
    assert p.ocr_explains("Capper", "Copper") == "confusion"
    assert p.ocr_explains("Tbe", "The", name_like=True) == "confusion"  # b -> h is strong


@pytest.mark.parametrize("word, suggestion, expected", [("labourer", "laborer", True), ("centre", "center", True),
                                                        ("organise", "organize", True), ("comission", "commission", False)])
def test_variant_spellings(word, suggestion, expected):
    assert Profile.load().is_variant_spelling(word, suggestion) is expected


# --- checker mapping -----------------------------------------------------------------------------
def test_ocr_damage_becomes_ocr_finding_with_the_right_suggestion_first():
    text = "The army said tbe operation was over."
    out = run(text, [spelling(text, "tbe", ["be", "the", "tie"])])
    assert len(out) == 1
    f = out[0]
    assert (f.category, f.suggestions[0], f.check) == (Category.OCR, "the", "grammar.MORFOLOGIK_RULE_EN_US")
    assert text[f.start : f.end] == "tbe"
    assert f.evidence["ocr"] == "confusion"


def test_plain_misspelling_stays_spelling_and_british_spelling_is_dropped():
    text = "The comission met in the centre."
    matches = [
        spelling(text, "comission", ["commission", "omission"]),
        spelling(text, "centre", ["center"], message="Possible spelling mistake. 'centre' is British English."),
    ]
    out = run(text, matches)
    assert [(text[f.start : f.end], f.category, f.suggestions[0]) for f in out] == [
        ("comission", Category.SPELLING, "commission")
    ]
    assert out[0].severity is Severity.WARNING


def test_profile_filters_and_maps_non_spelling_rules():
    text = "He said... it was a medium sized town and and more."
    matches = [
        GrammarMatch(7, 10, "EN_ELLIPSIS", "Needs <suggestion> . . .</suggestion>", (" . . .",), "TYPOGRAPHY"),
        GrammarMatch(20, 32, "EN_COMPOUNDS_MEDIUM_SIZED", "hyphen", ("medium-sized",), "MISC"),
        GrammarMatch(38, 45, "ENGLISH_WORD_REPEAT_RULE", "Possible typo: you repeated a word.", ("and",), "MISC"),
    ]
    out = run(text, matches)
    assert [(f.check, f.category) for f in out] == [("grammar.ENGLISH_WORD_REPEAT_RULE", Category.GRAMMAR)]


def test_name_like_spelling_hits_are_dropped_without_a_lookup():
    text = "Forces recaptured Izium, the governor said."
    out = run(text, [spelling(text, "Izium", ["Ilium"])])
    assert out == []


def test_known_names_are_suppressed_and_possessives_too():
    text = "In Kyiv's centre the rnilitary said Kyiv was calm, and heard it."
    matches = [
        spelling(text, "Kyiv's", ["Kiev's"]),
        spelling(text, "rnilitary", ["military"]),
        GrammarMatch(text.index("heard"), text.index("heard") + 5, "MD_BASEFORM", "base form", ("hear",), "GRAMMAR"),
    ]
    # a case-folding lookup that also knows the place "Heard": lowercase words are not looked up
    lookup = lambda word: word.lower() in {"kyiv", "heard"}  # noqa: E731
    out = run(text, matches, name_lookup=lookup)
    assert [text[f.start : f.end] for f in out] == ["rnilitary", "heard"]


def test_a_spelling_hit_on_a_piece_of_a_name_is_judged_as_the_name():
    # LanguageTool splits at the apostrophe and spells the pieces ("Mar", "ino"; "O", "Brienn")
    text = "Officials in Mar’ino and Mr O'Brienn said the rock'n'rool band played."
    matches = [spelling(text, "ino", ["in", "into"]), spelling(text, "Mar", ["Mars"]),
               spelling(text, "Brienn", ["Brien"]), spelling(text, "rool", ["roll"])]
    lookup = lambda word: word in {"Mar’ino"}  # noqa: E731
    out = run(text, matches, name_lookup=lookup)
    # the known place is dropped once, not per piece; the unknown name is the gazetteer's call; a
    # lowercase word is spelled as LanguageTool split it
    assert [(text[f.start : f.end], f.suggestions) for f in out] == [("rool", ("roll",))]
    profile = Profile.load().as_candidates()
    out = run(text, matches, name_lookup=lookup, profile=profile)
    assert [(text[f.start : f.end], f.evidence["news_profile"], f.suggestions) for f in out] == [
        ("Mar’ino", "known_name", ()), ("O'Brienn", "unknown_name", ()), ("rool", "kept", ("roll",))]


class NearMissLookup:
    def __init__(self, known, corrections):
        self.known, self.corrections = set(known), dict(corrections)

    def is_known_name(self, word):
        return word in self.known

    def near_miss(self, word):
        return self.corrections.get(word)


def test_near_miss_name_becomes_evidence_merged_into_the_name_finding():
    text = "Troops entered Kharkof on Friday."
    lookup = NearMissLookup({"Kharkiv"}, {"Kharkof": "Kharkiv"})
    out = run(text, [spelling(text, "Kharkof", ["Kharkov", "Karakoram"])], name_lookup_provider=lambda doc: lookup)
    assert len(out) == 1
    hit = out[0]
    assert hit.category is Category.SPELLING and hit.suggestions == ("Kharkiv",)  # no English words
    assert hit.severity is Severity.INFO
    start = text.index("Kharkof")
    name = Finding(start, start + 7, Category.NAME, Severity.ERROR, 0.8, "corrupted name", "names.near_miss", ("Kharkiv",))
    merged = Combiner().combine([name, hit], text)
    assert len(merged) == 1
    lead = merged[0]
    assert lead.category is Category.NAME and lead.suggestions == ("Kharkiv",)
    assert lead.evidence["merged"][0]["check"] == "grammar.MORFOLOGIK_RULE_EN_US"
    assert lead.confidence > 0.8


class Resolved:
    def __init__(self, text, doc_text, status, suggestions=()):
        self.start = doc_text.index(text)
        self.end = self.start + len(text)
        self.text, self.status, self.suggestions = text, status, tuple(suggestions)


class GazetteerStyleLookup:
    """Shaped like mtqa.gazetteer's NameLookup: is_known_name plus the resolved names."""

    def __init__(self, names):
        self.names = names

    def is_known_name(self, word):
        return any(n.text == word and n.status in ("known", "variant") for n in self.names)


def test_near_miss_from_resolved_names_is_word_aligned():
    text = "Spokeswoman Hannah Maryall said the Kharkof front was calm."
    lookup = GazetteerStyleLookup(
        [Resolved("Hannah Maryall", text, "corrupt", ["Hanna Maliar"]), Resolved("Kharkof", text, "corrupt", ["Kharkiv"])]
    )
    matches = [spelling(text, "Maryall", ["Marshall"]), spelling(text, "Kharkof", ["Kharkov"])]
    out = run(text, matches, name_lookup=lookup)
    assert [(text[f.start : f.end], f.suggestions) for f in out] == [("Maryall", ("Maliar",)), ("Kharkof", ("Kharkiv",))]
    assert all(f.evidence["near_name"] for f in out)


def test_unknown_name_far_from_everything_is_left_to_the_gazetteer():
    text = "The mayor, Oleksandr Tkachenkov, spoke."
    lookup = NearMissLookup({"Oleksandr"}, {})
    out = run(text, [spelling(text, "Tkachenkov", ["Tkachenko"])], name_lookup=lookup)
    assert out == []


def test_broken_provider_does_not_break_the_checker():
    def provider(doc):
        raise RuntimeError("index missing")

    text = "The rnilitary said."
    out = run(text, [spelling(text, "rnilitary", ["military"])], name_lookup_provider=provider)
    assert [f.category for f in out] == [Category.OCR]


@pytest.mark.parametrize("word, expected", [("Izium", True), ("ROXBURGH", True), ("O'Brien", True), ("McDonald", True),
                                            ("Ivano-Frankivsk", True), ("Köln", True), ("ÉCOLE", True), ("A", False), ("MIlitary", False), ("COUNTnY", False), ("tbe", False),
                                            ("Lnnd", False), ("DPR", True)])
def test_is_name_like(word, expected):
    assert is_name_like(word) is expected


def test_off_and_bad_choice():
    checker = GrammarChecker(Settings(grammar="off"))
    assert checker.check([Document.from_text("tbe")]) == [[]]
    assert checker.signature() == {"backend": "off"}
    with pytest.raises(ValueError):
        make_backend("nonsense", Profile.load())


def test_auto_without_languagetool_is_lingotweaker(monkeypatch):
    for var in ("LANGUAGETOOL_URL", "LANGUAGETOOL_DIR", "MTQA_LANGUAGETOOL_DOWNLOAD"):
        monkeypatch.delenv(var, raising=False)
    backend, notes = make_backend("auto", Profile.load(), Settings(grammar="auto", languagetool_url=None))
    assert backend.name == "lingotweaker" and notes == {}


def test_auto_falls_back_with_a_warning_when_languagetool_is_unreachable(monkeypatch, tmp_path):
    monkeypatch.delenv("LANGUAGETOOL_URL", raising=False)
    monkeypatch.setenv("LANGUAGETOOL_DIR", str(tmp_path / "LanguageTool-6.6"))  # does not exist
    with pytest.warns(RuntimeWarning, match="does not exist"):
        backend, notes = make_backend("auto", Profile.load(), Settings(grammar="auto", languagetool_url=None))
    assert backend.name == "lingotweaker"
    assert notes["fallback_from"] == "languagetool"
