"""Real LanguageTool, opt-in: runs when LANGUAGETOOL_URL (a server) or LANGUAGETOOL_DIR (a local
``LanguageTool-<version>`` folder, Java 17+ on PATH) is set; skipped with that reason otherwise.
CI sets neither, so CI covers LanguageTool only through the stand-in servers of the other tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

pytest.importorskip("language_tool_python")

from mtqa.checkers.grammar import GrammarChecker  # noqa: E402
from mtqa.config import Settings  # noqa: E402
from mtqa.document import Document  # noqa: E402
from mtqa.findings import Category  # noqa: E402

if not (os.environ.get("LANGUAGETOOL_URL") or os.environ.get("LANGUAGETOOL_DIR")):
    pytest.skip(
        "real LanguageTool not configured: set LANGUAGETOOL_URL or LANGUAGETOOL_DIR to run these",
        allow_module_level=True,
    )

CLEAN = Path(__file__).resolve().parents[1] / "data" / "grammar" / "clean_news.txt"


@pytest.fixture(scope="module")
def checker():
    c = GrammarChecker(Settings(grammar="languagetool"))
    yield c
    c.close()


@pytest.mark.parametrize(
    "text, word, suggestion",
    [
        ("The army said tbe operation was over.", "tbe", "the"),
        ("Officials said the rnilitary had withdrawn.", "rnilitary", "military"),
        ("The governmentsaid on Monday it would respond.", "governmentsaid", "government said"),
        ("A spokesman c onfirmed the attack on Tuesday.", "c onfirmed", "confirmed"),
    ],
)
def test_real_languagetool_flags_ocr_damage(checker, text, word, suggestion):
    found = checker.check([Document.from_text(text)])[0]
    hits = [f for f in found if text[f.start : f.end] == word]
    assert hits and hits[0].category in (Category.OCR, Category.SPELLING)
    assert hits[0].suggestions[0] == suggestion


def test_real_languagetool_offsets_after_emoji(checker):
    text = "😀😀 The army said tbe operation was over."
    found = checker.check([Document.from_text(text)])[0]
    assert [text[f.start : f.end] for f in found] == ["tbe"]


def test_real_languagetool_clean_news_passes(checker):
    blocks = [b.strip() for b in CLEAN.read_text(encoding="utf-8").split("\n\n") if b.strip() and not b.startswith("#")]
    found = checker.check([Document.from_text(b) for b in blocks])
    assert [f.check for fs in found for f in fs] == []


def test_real_languagetool_signature(checker):
    sig = checker.signature()
    assert sig["backend"] == "languagetool" and "server" in sig["backend_version"]
