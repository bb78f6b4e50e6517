"""Every format points at exactly the text it reports, whatever the Unicode."""

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from mtqa.checkers.boilerplate import BoilerplateChecker
from mtqa.checkers.ocr import OcrChecker
from mtqa.document import Document
from mtqa.findings import Finding
from mtqa.formats import RENDERERS
from mtqa.offsets import LineIndex
from mtqa.pipeline import Pipeline
from mtqa.signature import run_signature


class EveryWord:
    """Flags every token, so each generated text yields findings to verify."""

    name = "every_word"
    version = "1"

    def check(self, docs):
        return [[Finding(t.start, t.end, "style", "info", 0.5, "word", "test.word") for t in d.tokens] for d in docs]


PIPELINE = Pipeline([EveryWord(), OcrChecker(), BoilerplateChecker()])
SIGNATURE = run_signature(PIPELINE.checkers)

odd_pieces = st.one_of(
    st.sampled_from(list("abc XYZ.,'\n\t-0")),
    st.sampled_from(["👍🏽", "🇺🇦", "e\u0301", "שלום", "مرحبا", "\u200f", "\u202e", "漢字", "\ufeff", "MIlitary", "Kyiv's"]),
    st.characters(),
)
odd_text = st.lists(odd_pieces, max_size=40).map("".join)


def check_all_formats(docs):
    reports = PIPELINE.run(docs)
    documents = json.loads(RENDERERS["json"](reports, SIGNATURE))["documents"]
    for report, rendered in zip(reports, documents):
        original = report.document.original
        for f in rendered["findings"]:
            assert f["text"] == original[f["start"] : f["end"]]
    for line, report in zip(RENDERERS["jsonl"](reports, SIGNATURE).splitlines(), reports):
        for f in json.loads(line)["findings"]:
            assert f["text"] == report.document.original[f["start"] : f["end"]]
    for line, report in zip(RENDERERS["lt"](reports, SIGNATURE).splitlines(), reports):
        utf16 = report.document.original.encode("utf-16-le", "surrogatepass")
        for match, finding in zip(json.loads(line)["matches"], report.findings):
            piece = utf16[2 * match["offset"] : 2 * (match["offset"] + match["length"])]
            assert piece.decode("utf-16-le", "surrogatepass") == report.document.original[finding.start : finding.end]
    sarif = json.loads(RENDERERS["sarif"](reports, SIGNATURE))
    results = iter(sarif["runs"][0]["results"])
    for report in reports:
        lines = LineIndex(report.document.original)
        for finding in report.findings:
            region = next(results)["locations"][0]["physicalLocation"]["region"]
            assert (region["startLine"], region["startColumn"]) == lines.line_col(finding.start)
            assert region["snippet"]["text"] == report.document.original[finding.start : finding.end]
    RENDERERS["text"](reports, SIGNATURE)  # must not raise on any text
    return reports


@settings(max_examples=150, deadline=None)
@given(odd_text)
def test_every_format_points_at_the_reported_text(text):
    check_all_formats([Document.from_text(text)])


@settings(max_examples=80, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "</p>", "<b>", "&amp;", "&#128077;", "<br/>", "MIlitary", " 漢 ", "e\u0301",
                                 "<script>x</script>", "tHe", "\n", "<div>", "&nbsp;", "<", ">", "&"]), max_size=30))  # fmt: skip
def test_html_findings_point_into_the_html(parts):
    html = "".join(parts)
    doc = Document.from_html(html)
    for report in check_all_formats([doc]):
        for finding in report.findings:
            raw = html[finding.start : finding.end]
            assert raw  # maps to a non-empty stretch of the HTML the word came from


def test_lt_offsets_count_utf16_after_emoji():
    doc = Document.from_text("👍🏽 tHe end")
    [report] = PIPELINE.run([doc])
    matches = json.loads(RENDERERS["lt"]([report], SIGNATURE))["matches"]
    the = next(m for m in matches if m["rule"]["id"] == "ocr.mixed_case")
    assert (the["offset"], the["length"]) == (5, 3)  # two astral code points = four UTF-16 units, then a space


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(["<p>", "tHe", " end", "MIlitary", "👍🏽", "e\u0301", "Scroll to Continue", ". ", "\n"]),
                max_size=25))  # fmt: skip
def test_a_subset_of_checkers_reports_what_a_pipeline_of_only_them_reports(parts):
    """`mtqa bench` scores each signal alone from one pass of all checkers; that must be exact."""
    doc = Document.from_html("".join(parts))
    [report] = PIPELINE.run([doc])
    assert report.findings_of([c.name for c in PIPELINE.checkers], PIPELINE.combiner) == report.findings
    for subset in (["ocr"], ["boilerplate"], ["boilerplate", "ocr"], ["ocr", "every_word"]):
        alone = Pipeline([c for c in PIPELINE.checkers if c.name in subset]).run([Document.from_html(doc.original)])
        assert report.findings_of(subset, PIPELINE.combiner) == alone[0].findings
