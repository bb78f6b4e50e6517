"""Must-flag and must-pass examples for the boilerplate and OCR checkers."""

from pathlib import Path

import pytest

from mtqa.checkers.boilerplate import BoilerplateChecker
from mtqa.checkers.ocr import OcrChecker
from mtqa.combiner import Combiner, is_candidate
from mtqa.document import Document

CLEAN = (Path(__file__).parent.parent / "fixtures" / "clean_news.txt").read_text()


def flags(checker, text):
    """What the checker reports on its own (candidates are the learned decision's to report)."""
    doc = Document.from_text(text)
    return [(text[f.start : f.end], f.check, f.suggestions) for f in checker.check([doc])[0] if not is_candidate(f)]


def odd(text):
    return [text[f.start : f.end] for f in OcrChecker().check([Document.from_text(text)])[0] if f.check == "ocr.odd_token"]


@pytest.mark.parametrize(
    "line",
    ["Skip to main content", "Scroll to Continue", "Related Articles", "Advertisement", "Read more",
     "Sign up for our daily newsletter", "Accept all cookies", "Share this article", "Most Read",
     "Facebook Twitter LinkedIn Email", "Share on WhatsApp", "Continue reading", "Story continues below advertisement"],
)  # fmt: skip
def test_boilerplate_lines_are_flagged(line):
    found = flags(BoilerplateChecker(), f"The army advanced on Monday.\n\n{line}\n\nOfficials confirmed it.")
    assert [text for text, *_ in found] == [line]


def test_boilerplate_inline_prompt_is_flagged():
    found = flags(BoilerplateChecker(), "Officials confirmed it. Scroll to Continue The army advanced.")
    assert found[0][0] == "Scroll to Continue"


@pytest.mark.parametrize(
    "text",
    [CLEAN, "Russia Loses Ground Near Kharkiv", "Military Withdrawal", "Share prices fell sharply on Monday.",
     "Read the full statement below.", "The search for survivors continued on Monday.", "Home Secretary Resigns"],
)  # fmt: skip
def test_boilerplate_passes_news_copy_and_headlines(text):
    assert flags(BoilerplateChecker(), text) == []


@pytest.mark.parametrize(
    "text, span, suggestion",
    [("MIlitary Withdrawal", "MIlitary", "Military"), ("Officials said tHe town fell.", "tHe", "the"),
     ("He flew to l0ndon on Monday.", "l0ndon", "london"), ("He flew to 1ondon.", "1ondon", "london"),
     ("The vil- lage was quiet.", "vil- lage", "village"), ("he said. . Then", ". .", "."),
     ("The troops left,, then returned.", ",,", ","), ("tbe army withdrew", "tbe", "the"),
     ("the rnilitary withdrew", "rnilitary", "military"), ("the governrnent said", "governrnent", "government"),
     ("He left MÜnchen.", "MÜnchen", None), ("in BĂlți", "BĂlți", None)],
)  # fmt: skip
def test_ocr_damage_is_flagged(text, span, suggestion):
    found = flags(OcrChecker(), text)
    assert (span, suggestion) in [(t, s[0] if s else None) for t, _, s in found]


@pytest.mark.parametrize(
    "text",
    [CLEAN, "NATO, McDonald, iPhone, DeSantis, MacArthur, COVID-19, F-16, G7, MH17, the 1990s, the 2nd day, "
     "NGOs, YouTube, MiG-29 jets, Su-25, S-300 missiles, 4x4 trucks, and the U.S., the E.U. and the UK.",
     "He paused... then said: wait. . . . Then pre- and post-war figures, 10am, 5km away, 3.5 percent.",
     "The arid land and the modern barn were born of corn.",
     # Diacritics and scripts without letter case are not broken case.
     "Andrei Pleșu met Taavi Rõivas in Bălți and Cádiz; Iarnród Éireann, ÉIREANN, Москва, Ψυχή, @芳芳一人食."],
)  # fmt: skip
def test_ocr_passes_clean_copy_and_acronyms(text):
    assert flags(OcrChecker(), text) == []


def test_tokens_mixing_letters_with_digits_or_symbols_are_candidates_only():
    text = ('W0LSI5GIMM. said "Jo«n" at -hry4, then 21st, 5km, 3.5 and twenty-five, the U.S. and rock\'n\'roll; '
            "F-16, a 19-year-old and/or 4 km2, Sir,-I.")
    # hyphen or slash compounds of plain words and numbers are ordinary English
    assert odd(text) == ["W0LSI5GIMM", "Jo«n", "-hry4", "km2", "Sir,-I"]
    [junk] = [f for f in OcrChecker().check([Document.from_text("the W0LSI5GIMM hotel")])[0]]
    assert junk.evidence == {"letters": 8, "digits": 2, "symbols": 0, "proposal": "odd_token"}
    assert is_candidate(junk) and Combiner().combine([junk], "the W0LSI5GIMM hotel") == []  # no decision: dropped
