"""Hypothesis: text and HTML built from words, every line-break character, markup, entities and
lone surrogates. The planted broken-case word is flagged exactly where it is in the original,
and every report format renders (and JSON parses) without error."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mtqa.api import make_pipeline
from mtqa.config import Settings
from mtqa.document import Document
from mtqa.formats import RENDERERS
from tests.hostile.corpus import LINE_BREAKS, PLANTED

WORDS = ["the", "mayor", "said", "council", "voted.", "Kyiv", "aide's", "😀", "é", PLANTED,
         "\ud800", "\udfff", "\ufeff", "\ufffd"]  # fmt: skip
SEPARATORS = [" ", "  ", "\t", *LINE_BREAKS.values()]
HTML_SEPARATORS = [*SEPARATORS, "<p>", "</p>", "<br>", "<br/>", "<div class='x'>", "</div>", "<li>"]
HTML_WORDS = [*WORDS, "&amp;", "&#8217;", "&nbsp;", "&bogus;", "<b>x</b>", "<!-- c -->", "&#x1F600;"]


@pytest.fixture(scope="module")
def pipeline():
    return make_pipeline(Settings(use_lm=False, calibration="off"), ["ocr", "garble"])


def _build(draw, words, seps) -> tuple[str, list[int]]:
    pieces = draw(st.lists(st.sampled_from(words), min_size=1, max_size=30))
    out, planted, at = [], [], 0
    for piece in pieces:
        sep = draw(st.sampled_from(seps))
        out += [sep, piece]
        at += len(sep)
        if piece == PLANTED:
            planted.append(at)
        at += len(piece)
    return "".join(out), planted


@st.composite
def texts(draw):
    return _build(draw, WORDS, SEPARATORS)


@st.composite
def pages(draw):
    return _build(draw, HTML_WORDS, HTML_SEPARATORS)


def _check(pipeline, doc: Document, planted: list[int]) -> None:
    [report] = pipeline.run([doc])
    original = doc.original
    for f in report.findings:
        assert 0 <= f.start <= f.end <= len(original)
        if f.check == "ocr.mixed_case":  # the vocabulary's only broken-case word
            assert (f.start, original[f.start : f.end]) in {(p, PLANTED) for p in planted}, (f.start, original)
    flagged = {f.start for f in report.findings if original[f.start : f.end] == PLANTED}
    assert set(planted) <= flagged, (planted, sorted(flagged), original)
    for name, render in RENDERERS.items():
        out = render([report], {"text": "sig"})
        out.encode("utf-8")  # writable as UTF-8 whatever the input held
        if name in ("json", "sarif"):
            json.loads(out)
        elif name in ("jsonl", "lt"):
            [json.loads(line) for line in out.splitlines()]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(texts())
def test_plain_text_offsets(pipeline, case):
    text, planted = case
    _check(pipeline, Document.from_text(text), planted)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pages())
def test_html_offsets(pipeline, case):
    html, planted = case
    _check(pipeline, Document.from_html(html), planted)
