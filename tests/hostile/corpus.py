"""A hostile-input corpus: files a new user, a CMS or a broken exporter might hand mtqa.

``write_corpus(directory)`` writes them and returns one ``Case`` per file, saying whether mtqa
must refuse it (exit 2 naming it) or check it, and which planted words (``THe``: always a
broken-case finding) must be flagged exactly where they are in the file's decoded text.
Run as a script to write the corpus somewhere: ``python -m tests.hostile.corpus DIR``.
"""

from __future__ import annotations

import codecs
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

PLANTED = "THe"  # ocr.mixed_case flags it with any settings and every checker set that has ocr
# Every character Python, HTML, JSON or a terminal may treat as a line or paragraph break.
LINE_BREAKS = {"lf": "\n", "crlf": "\r\n", "cr": "\r", "vt": "\v", "ff": "\f", "fs": "\x1c", "gs": "\x1d",
               "rs": "\x1e", "nel": "\x85", "ls": "\u2028", "ps": "\u2029"}  # fmt: skip
BIG = 10 * 1024 * 1024


@dataclass
class Case:
    name: str  # the file name in the corpus directory
    refused: bool = False  # exit 2, the file named on stderr, not in the report
    text: str | None = None  # the decoded text findings index (None: not checked)
    planted: list[int] = field(default_factory=list)  # offsets of PLANTED in ``text``
    records: dict[str, tuple[str, list[int]]] = field(default_factory=dict)  # JSONL: id -> (text, planted)
    refused_lines: list[int] = field(default_factory=list)  # JSONL lines refused (named as file:line)


def _planted(text: str) -> list[int]:
    out, at = [], text.find(PLANTED)
    while at >= 0:
        out.append(at)
        at = text.find(PLANTED, at + 1)
    return out


def _text_case(directory: Path, name: str, text: str, data: bytes | None = None) -> Case:
    (directory / name).write_bytes(data if data is not None else text.encode("utf-8"))
    return Case(name, text=text, planted=_planted(text))


def _refused(directory: Path, name: str, data: bytes) -> Case:
    (directory / name).write_bytes(data)
    return Case(name, refused=True)


def write_corpus(directory: Path) -> list[Case]:
    directory.mkdir(parents=True, exist_ok=True)
    cases: list[Case] = []
    for key, br in LINE_BREAKS.items():
        text = f"Intro line{br}one.\nThe mayor said {PLANTED} council voted.{br}Then {PLANTED} end came.\n"
        cases.append(_text_case(directory, f"break_{key}.txt", text))
        html = f"<p>Intro line{br}one.</p>{br}<p>The mayor said {PLANTED} council voted.</p>\n<p>Then &amp; {PLANTED} end.</p>\n"
        cases.append(_text_case(directory, f"break_{key}.html", html))
    # Byte-order marks: the text decodes with U+FEFF first, and offsets count it.
    body = f"\ufeffThe mayor said {PLANTED} council voted.\n"
    for bom_name, codec in (("utf8", "utf-8"), ("utf16le", "utf-16-le"), ("utf16be", "utf-16-be"),
                            ("utf32le", "utf-32-le"), ("utf32be", "utf-32-be")):  # fmt: skip
        cases.append(_text_case(directory, f"bom_{bom_name}.txt", body, body.encode(codec)))
    # Binary and mixed encodings: refused, each named.
    cases.append(_refused(directory, "nul_first.txt", b"\x00The mayor said so.\n"))
    cases.append(_refused(directory, "nul_late.txt", b"The mayor said so. " * 600 + b"\x00 and more.\n"))
    cases.append(_refused(directory, "latin1.txt", "The café said so.\n".encode("latin-1")))
    cases.append(_refused(directory, "mixed.txt", "Kyiv said so.\n".encode() + "Café noir.\n".encode("cp1252")))
    cases.append(_refused(directory, "bom_not_utf16.txt", codecs.BOM_UTF16_LE + b"\xe9\xe9\xe9\xe9"))
    cases.append(_refused(directory, "empty.txt", b""))
    cases.append(_refused(directory, "bom_only.txt", codecs.BOM_UTF8))
    cases.append(_refused(directory, "big_line.txt", (b"The mayor said so and left. " * (BIG // 28 + 1))[:BIG]))
    # HTML a browser would still show: deeply nested, unclosed, broken comments and scripts.
    nested = "<div>" * 3000 + f"The mayor said {PLANTED} council voted." + "</div>" * 10
    cases.append(_text_case(directory, "nested.html", nested))
    unclosed = f"<html><body><p><b><i>The mayor said {PLANTED} council <a href='x'>voted.<p>Then {PLANTED} end"
    cases.append(_text_case(directory, "unclosed.html", unclosed))
    comment = f"<p>The mayor said {PLANTED} council voted.</p><!-- never closed <p>hidden"
    cases.append(_text_case(directory, "open_comment.html", comment))
    entities = f"<p>The mayor&#8217;s aide said {PLANTED}&nbsp;council &amp voted &#x1F600; &bogus; ok.</p>"
    cases.append(_text_case(directory, "entities.html", entities))
    cases.append(_refused(directory, "script_only.html", b"<html><script>alert(1)</script></html>"))
    cases.append(_jsonl_case(directory))
    return cases


def _jsonl_case(directory: Path) -> Case:
    """Every JSON escape, raw U+2028/U+0085 in strings, a BOM, lone surrogates, bad lines between good ones."""
    good = {
        "escapes": f'Quote \" back\\\\slash /slash \b\f tab\t cr\r nl\n é 😀 {PLANTED} done.',
        "raw_breaks": f"One\u2028two\x85three {PLANTED} four.\u2029",
        "surrogate": f"a \ud800 b {PLANTED} c \udfff.",
        "7": f"Numeric id {PLANTED} here.",
    }
    lines = [
        "\ufeff" + json.dumps({"id": "escapes", "text": good["escapes"]}),
        json.dumps({"id": "raw_breaks", "text": good["raw_breaks"]}, ensure_ascii=False),
        "{not json",
        json.dumps({"id": "surrogate", "text": good["surrogate"]}),
        json.dumps({"id": 7, "text": good["7"]}),
        json.dumps({"id": "html", "html": f"<p>An <b>{PLANTED}</b> one.</p>"}),
        json.dumps({"id": "escapes", "text": "A duplicate id."}),
        json.dumps([1, 2]),
        json.dumps({"id": "nul", "text": "A \x00 NUL."}),
        json.dumps({"id": {"x": 1}, "text": "An object id."}),
        json.dumps({"id": None, "text": f"No id: {PLANTED} one."}),
        "[" * 100000,
    ]
    (directory / "batch.jsonl").write_text("\r\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    records = {key: (text, _planted(text)) for key, text in good.items()}
    records["html"] = (f"<p>An <b>{PLANTED}</b> one.</p>", [9])
    records["11"] = (f"No id: {PLANTED} one.", _planted(f"No id: {PLANTED} one."))
    return Case("batch.jsonl", records=records, refused_lines=[3, 7, 8, 9, 10, 12])


if __name__ == "__main__":
    for case in write_corpus(Path(sys.argv[1])):
        print(case.name, "refused" if case.refused or case.refused_lines else "checked")
