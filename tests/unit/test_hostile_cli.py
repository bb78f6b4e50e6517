"""The hostile-input corpus (tests/hostile/corpus.py) through ``mtqa check`` in every output format.

Exit codes as documented (2 when some input is refused, never 3), every good document still
reported, every finding's span on the characters it names (the planted words found exactly where
they are, the text report's underline under them), no traceback.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mtqa.cli import app
from mtqa.offsets import Utf16Offsets
from tests.hostile.corpus import PLANTED, write_corpus

OPTS = ["--no-lm", "--calibration", "off"]
runner = CliRunner()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    directory = tmp_path_factory.mktemp("hostile")
    return directory, write_corpus(directory)


def _expected(directory: Path, cases) -> dict[str, tuple[str, list[int]]]:
    """Document id -> (decoded text, offsets of the planted word) for every document mtqa must check."""
    out = {}
    for case in cases:
        if case.records:
            out.update(case.records)
        elif not case.refused:
            out[str(directory / case.name)] = (case.text, case.planted)
    return out


def _run(args):
    result = runner.invoke(app, ["check", *args], catch_exceptions=False)
    assert "Traceback" not in result.output and "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    return result


def _assert_refusals_named(directory: Path, cases, stderr: str) -> None:
    for case in cases:
        if case.refused:
            assert f"{directory / case.name}: " in stderr, case.name
        for line in case.refused_lines:
            assert f"{directory / case.name}:{line}: " in stderr, (case.name, line)


def _assert_spans(doc_id: str, findings: list[tuple[int, int, str]], expected) -> None:
    text, planted = expected[doc_id]
    for start, end, shown in findings:
        assert shown == text[start:end], (doc_id, start, end)
    starts = {start for start, end, shown in findings if shown == PLANTED}
    assert set(planted) <= starts, (doc_id, planted, sorted(starts))


@pytest.mark.parametrize("fmt", ["json", "jsonl", "lt", "sarif", "text"])
def test_corpus_in_every_format(corpus, fmt):
    directory, cases = corpus
    expected = _expected(directory, cases)
    result = _run([*(str(directory / c.name) for c in cases), *OPTS, "--format", fmt])
    assert result.exit_code == 2, result.stderr
    _assert_refusals_named(directory, cases, result.stderr)
    seen: dict[str, list[tuple[int, int, str]]] = {}
    if fmt in ("json", "jsonl"):
        docs = json.loads(result.stdout)["documents"] if fmt == "json" else [json.loads(l) for l in result.stdout.splitlines()]
        for doc in docs:
            assert doc["errors"] == [], doc["errors"]
            seen[doc["id"]] = [(f["start"], f["end"], f["text"]) for f in doc["findings"]]
    elif fmt == "lt":
        ids = list(expected)  # one response per checked document, in order
        responses = [json.loads(l) for l in result.stdout.splitlines()]
        assert len(responses) == len(ids)
        for doc_id, response in zip(ids, responses):
            text = expected[doc_id][0]
            u16 = Utf16Offsets(text)
            seen[doc_id] = [(u16.index(m["offset"]), u16.index(m["offset"] + m["length"]),
                             text[u16.index(m["offset"]):u16.index(m["offset"] + m["length"])]) for m in response["matches"]]  # fmt: skip
    elif fmt == "sarif":
        results = json.loads(result.stdout)["runs"][0]["results"]
        by_doc: dict[str, list] = {doc_id: [] for doc_id in expected}
        for r in results:
            region = r["locations"][0]["physicalLocation"]["region"]
            doc_id = r["properties"]["documentId"]
            start, end = region["charOffset"], region["charOffset"] + region["charLength"]
            text = expected[doc_id][0]
            assert region["snippet"]["text"] == text[start:end]
            line_start = text.rfind("\n", 0, start) + 1  # SARIF lines here: "\n"-separated
            assert (region["startLine"], region["startColumn"]) == (text.count("\n", 0, start) + 1, start - line_start + 1)
            by_doc[doc_id].append((start, end, region["snippet"]["text"]))
        seen = by_doc
    else:
        seen = _text_findings(result.stdout, expected)
    assert set(seen) == set(expected)
    for doc_id, findings in seen.items():
        _assert_spans(doc_id, findings, expected)


_HEADER = re.compile(r"^(?P<where>.+):(?P<line>\d+):(?P<col>\d+): (?:info|warning|error) ")


def _text_findings(stdout: str, expected) -> dict[str, list[tuple[int, int, str]]]:
    """Findings read back from the human report: the underlined characters of the shown line."""
    lines = stdout.split("\n")
    found: dict[str, list[tuple[int, int, str]]] = {}
    for i, line in enumerate(lines):
        if line.endswith(" finding") or line.endswith(" findings") or " finding (" in line or " findings (" in line:
            where = line.rsplit(": ", 1)[0]
            found.setdefault(_doc_id(where), [])
        m = _HEADER.match(line)
        if not m:
            continue
        doc_id = _doc_id(m["where"])
        text = expected[doc_id][0]
        shown, marker = lines[i + 2][4:], lines[i + 3][4:]
        start_col = marker.index("^")
        underlined = shown[start_col : start_col + marker.count("^")]
        # The span's offset from line:col in "\n"-counted lines of the original.
        line_no, col = int(m["line"]), int(m["col"])
        line_start = 0
        for _ in range(line_no - 1):
            line_start = text.index("\n", line_start) + 1
        start = line_start + col - 1
        end = start + len(underlined)
        if "…" not in shown[:1]:  # an unclipped line: the underline sits under the span's own characters
            shown_original = text[line_start:].split("\n", 1)[0]
            assert len(shown) == len(shown_original)
        found.setdefault(doc_id, []).append((start, end, text[start:end]))
        assert underlined.replace("\ufffd", "?") == "".join(
            "?" if 0xD800 <= ord(c) < 0xE000 else (" " if (ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029") else c)
            for c in text[start:end]
        ), (doc_id, underlined, text[start:end])
    return found


def _doc_id(where: str) -> str:
    m = re.match(r"^(?P<path>.*\.jsonl)\[(?P<id>.*)\]$", where)
    return m["id"] if m else where
