"""The name-corruption detector on the real index (built into the cache on first use).

The corrupted spellings below are test inputs only; the detector has no list of them.
"""

from __future__ import annotations

import pytest

from mtqa.config import Settings
from mtqa.document import Document
from mtqa.findings import Category

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def checker():
    from mtqa.checkers.names import NameChecker

    checker = NameChecker(Settings(use_lm=False))
    checker.matcher  # builds (first run, under a minute) or loads the index once
    return checker


def flags(checker, text: str) -> dict[str, tuple[str, ...]]:
    [findings] = checker.check([Document.from_text(text)])
    return {text[f.start : f.end]: f.suggestions for f in findings if f.category is Category.NAME}


KHARKIV_STORY = (
    "Ukrainian forces pushed east across Kharkiv Oblast this week, and officials in Kharkiv said "
    "Kupiansk was back under Ukrainian control.\n"
    "Russian units pulled out of Idium and fell back towards the Oskil River.\n"
    "Residents of Balacria said the shelling stopped on Thursday, and the road to Balakriya reopened.\n"
    "Deputy Defence Minister Hannah Maryal asked reporters not to rush to announce that Barakuli was free."
)


def test_corrupted_names_in_a_kharkiv_story_are_flagged_with_the_canonical_form(checker):
    found = flags(checker, KHARKIV_STORY)
    expected = {"Idium": "Izium", "Balacria": "Balakliia", "Balakriya": "Balakliia", "Barakuli": "Balakliia",
                "Hannah Maryal": "Hanna Maliar"}
    for word, canonical in expected.items():
        assert word in found, f"{word} not flagged: {found}"
        assert found[word][0] == canonical
    assert set(found) == set(expected), f"unexpected flags: {set(found) - set(expected)}"


@pytest.mark.parametrize("text, word, canonical", [
    ("Missiles hit Zaporidzhia and the nearby dam overnight, the governor of Zaporizhzhia Oblast said.",
     "Zaporidzhia", "Zaporizhzhia"),
    ("The port of Mykoraiv on the Southern Bug was shelled again, officials in Mykolaiv Oblast said.",
     "Mykoraiv", "Mykolaiv"),
    ("President Volodymyr Zelenchky thanked allies in Kyiv on Monday.", "Zelenchky", "Volodymyr Zelensky"),
    ("Officials in Kharkiv Oblast said Kupiansk and Chuhuyiv were calm while Balakrilia was shelled.",
     "Balakrilia", "Balakliia"),
])  # fmt: skip
def test_detection_generalises_to_other_invented_corruptions(checker, text, word, canonical):
    found = flags(checker, text)
    assert word in found or any(word in k for k in found), found
    key = word if word in found else next(k for k in found if word in k)
    assert canonical in found[key][:3]


NOT_ERRORS = (
    "Izium and Izyum, Kharkiv and Kharkov, Kupiansk and Kupyansk are the same towns in Kharkiv Oblast.\n"
    "Zelensky, Zelenskiy and Zelenskyy all name Volodymyr Zelensky; Donbas is also written Donbass.\n"
    "Reuters visited Hrakove, a village near Izium, and then drove to Donetsk.\n"
    "Kyiv's answer (from Kharkiv's mayor, Ihor Terekhov) came quickly: \"Izium, Balakliia, Kupiansk!\"\n"
    "Russia's Donetsk in Rostov Oblast is a different town from Ukraine's Donetsk."
)


def test_correct_names_variants_homonyms_and_punctuation_are_not_flagged(checker):
    assert flags(checker, NOT_ERRORS) == {}


def test_cyrillic_names_are_left_alone(checker):
    assert flags(checker, "Мешканці Харкова та Ізюма повернулися додому; у Балаклії відкрили школу.") == {}


CLEAN_PARAGRAPH = (
    "Chancellor Olaf Scholz met Emmanuel Macron in Berlin on Tuesday before both leaders flew to Warsaw, "
    "where Polish President Andrzej Duda hosted talks on Ukraine.\n"
    "NATO Secretary General Mark Rutte said in Brussels that allies in Lithuania, Latvia and Estonia "
    "would receive more air defence systems, while Antonio Guterres warned the United Nations in New York.\n"
    "In London, Keir Starmer spoke with Recep Tayyip Erdogan about grain shipments from Odesa through "
    "the Bosphorus to Istanbul, and Sarah Mitchell of the Red Cross described conditions in Kherson.\n"
    "Later, Marco Rubio and Sergei Lavrov met in Riyadh, according to the Associated Press and TASS."
)


def test_clean_english_paragraph_full_of_names_is_not_flagged(checker):
    assert flags(checker, CLEAN_PARAGRAPH) == {}


def test_resolved_names_carry_entity_kinds(checker):
    from mtqa.gazetteer import name_lookup, resolved_names

    doc = Document.from_text("Volodymyr Zelensky met Reuters reporters in Kharkiv.")
    kinds = {n.text: n.kind for n in resolved_names(doc)}
    assert kinds == {"Volodymyr Zelensky": "person", "Reuters": "organisation", "Kharkiv": "place"}
    lookup = name_lookup(doc)
    assert lookup.is_known_name("Kharkiv's") and lookup.kind_of("Zelensky") == "person"
    assert not lookup.is_known_name("table")


def test_seed_article_end_to_end(checker, seed_article):
    found = flags(checker, seed_article)
    expected = {"Idium": "Izium", "Balakriya": "Balakliia", "Balacria": "Balakliia", "Barakuli": "Balakliia",
                "Hannah Maryal": "Hanna Maliar"}
    for word, canonical in expected.items():
        assert found.get(word, ("",))[0] == canonical, (word, found)
    assert set(found) == set(expected), f"unexpected flags: {set(found) - set(expected)}"


def test_lm_evidence_when_the_lm_core_is_available():
    from mtqa.checkers.names import NameChecker

    checker = NameChecker(Settings(use_lm=True, device="cpu"))
    if checker._scorer() is None:
        pytest.skip("no LM available (mtqa.lm or its model weights missing)")
    text = "Officials in Kharkiv Oblast said Russian units had left Idium and Kupiansk."
    [findings] = checker.check([Document.from_text(text)])
    names = {text[f.start : f.end]: f for f in findings if f.category is Category.NAME}
    assert set(names) == {"Idium"} and names["Idium"].suggestions[0] == "Izium"
    assert names["Idium"].evidence.get("lm_delta") is not None
