"""Reading what the caller hands us: files, stdin, JSONL. Bad input fails loudly, naming the source.

One bad record never spoils the rest: ``read_source`` returns the documents it could read and
one ``InputError`` per problem (file, or file and line for JSONL), so a caller reports them all
and still checks the good ones.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path
from typing import Literal

from .document import Document

InputFormatOption = Literal["auto", "text", "html", "jsonl"]
MAX_BYTES = 20 * 1024 * 1024  # a news article is kilobytes; 20 MB means the wrong file
_HTML_SNIFF = re.compile(r"<(?:!doctype\s+html|html|body|p|div|article|h[1-6]|span|br)\b", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")
_ASCII_LETTER = re.compile(r"[A-Za-z]")
# Longest first: the UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS = ((codecs.BOM_UTF32_LE, "UTF-32-LE"), (codecs.BOM_UTF32_BE, "UTF-32-BE"), (codecs.BOM_UTF8, "UTF-8"),
         (codecs.BOM_UTF16_LE, "UTF-16-LE"), (codecs.BOM_UTF16_BE, "UTF-16-BE"))  # fmt: skip
BOM = "\ufeff"


class InputError(ValueError):
    """Input we refuse to check, with a one-line reason naming its source."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source


def _utf8(data: bytes, source: str, note: str = "") -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"{note}not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None


def decode(data: bytes, source: str, max_bytes: int = MAX_BYTES) -> str:
    """Bytes to text: UTF-8, or UTF-16/32 when a byte-order mark says so. A BOM stays in the
    text as U+FEFF, so offsets count the characters of the file as its encoding decodes them."""
    if len(data) > max_bytes:
        raise InputError(source, f"{len(data):,} bytes is over the {max_bytes:,}-byte limit")
    encoding = next((name for bom, name in _BOMS if data.startswith(bom)), "UTF-8")
    if encoding == "UTF-8":
        text = _utf8(data, source)
    else:
        try:
            text = data.decode(encoding.lower())
        except UnicodeDecodeError:
            text = None
        # FF FE also starts binary files and Latin-1 text: English copy in UTF-16 has ASCII letters.
        if text is None or not _ASCII_LETTER.search(text[:8192]):
            text = _utf8(data, source, f"starts with a {encoding} byte-order mark but is not {encoding} text; ")
    if not text.replace(BOM, "").strip():
        raise InputError(source, "empty input")
    nul = text.find("\x00")
    if nul >= 0:
        raise InputError(source, f"binary data (NUL byte at character {nul:,}), not text")
    controls = len(_CONTROL.findall(text))
    if controls > max(8, len(text) // 100):
        raise InputError(source, "binary data (control characters), not text")
    return text


def sniff_format(text: str, path: str | None) -> Literal["text", "html", "jsonl"]:
    suffix = Path(path).suffix.lower() if path else ""
    if suffix in {".html", ".htm", ".xhtml"}:
        return "html"
    if suffix in {".jsonl", ".ndjson"}:
        return "jsonl"
    if suffix in {".txt", ".md"}:
        return "text"
    head = text.lstrip(BOM).lstrip()[:2048]
    if head.startswith("<") and _HTML_SNIFF.search(head):
        return "html"
    return "text"


def _over_budget(doc: Document, where: str, max_chars: int | None) -> None:
    if max_chars and len(doc.original) > max_chars:
        raise InputError(where, f"{len(doc.original):,} characters is over the per-document budget of "
                                f"{max_chars:,} (--max-chars); not checked")  # fmt: skip


def documents_from_text(
    text: str, *, source: str, path: str | None, input_format: InputFormatOption = "auto",
    errors: list[InputError] | None = None, max_chars: int | None = None,
) -> list[Document]:
    """The documents in ``text``. With ``errors`` given, problems are appended there and every
    good document is still returned; without it the first problem is raised."""
    collect: list[InputError] = [] if errors is None else errors
    fmt = sniff_format(text, path) if input_format == "auto" else input_format
    docs: list[Document] = []
    try:
        if fmt == "jsonl":
            docs = _jsonl_documents(text, source, path, collect, max_chars)
        else:
            if fmt == "html":
                doc = Document.from_html(text, id=path or source, path=path)
                if not doc.text.replace(BOM, "").strip():
                    raise InputError(source, "HTML has no text to check")
            else:
                doc = Document.from_text(text, id=path or source, path=path)
            _over_budget(doc, source, max_chars)
            docs = [doc]
    except InputError as exc:
        collect.append(exc)
    if errors is None and collect:
        raise collect[0]
    return docs


def _record_id(record: dict, number: int, where: str) -> str:
    value = record.get("id")
    if value is None:  # absent or null: the line number stands in
        return str(number)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InputError(where, f'"id" must be a string or a number, not {type(value).__name__}')
    return value if isinstance(value, str) else json.dumps(value)


def _jsonl_documents(
    text: str, source: str, path: str | None, errors: list[InputError], max_chars: int | None
) -> list[Document]:
    docs: list[Document] = []
    first_line: dict[str, int] = {}
    seen_any = False
    # JSONL records end at "\n" only: JSON strings may hold raw U+2028, U+0085, \v, \f, which
    # str.splitlines() would break at; a BOM may start the file.
    for number, line in enumerate(text.removeprefix(BOM).split("\n"), 1):
        line = line.removesuffix("\r")
        if not line.strip():
            continue
        seen_any = True
        where = f"{source}:{number}"
        try:
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(where, f"invalid JSON ({exc.msg} at column {exc.colno})") from None
            except RecursionError:
                raise InputError(where, "invalid JSON (nested too deeply)") from None
            if not isinstance(record, dict):
                raise InputError(where, 'expected an object like {"id": ..., "text": ...}')
            doc_id = _record_id(record, number, where)
            if doc_id in first_line:
                raise InputError(where, f"duplicate id {doc_id!r} (first on line {first_line[doc_id]}); not checked")
            body = record.get("html") if isinstance(record.get("html"), str) else record.get("text")
            if not isinstance(body, str):
                raise InputError(where, 'needs a "text" or "html" string')
            if "\x00" in body:
                raise InputError(where, "NUL characters in the document, not text")
            if isinstance(record.get("html"), str):
                doc = Document.from_html(body, id=doc_id, path=path)
            else:
                doc = Document.from_text(body, id=doc_id, path=path)
            if not doc.text.replace(BOM, "").strip():
                raise InputError(where, "empty document")
            _over_budget(doc, where, max_chars)
        except InputError as exc:
            errors.append(exc)
            continue
        first_line[doc_id] = number
        docs.append(doc)
    if not seen_any:
        errors.append(InputError(source, "no documents in JSONL input"))
    return docs


def read_source(
    path: str, input_format: InputFormatOption = "auto", stdin: bytes | None = None, *, max_chars: int | None = None
) -> tuple[list[Document], list[InputError]]:
    """The documents of one file (``-``: the ``stdin`` bytes) and every problem found in it."""
    errors: list[InputError] = []
    source = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            data = stdin or b""
        else:
            file = Path(path)
            try:
                if file.is_dir():
                    raise InputError(path, "is a directory")
                if file.stat().st_size > MAX_BYTES:
                    raise InputError(path, f"{file.stat().st_size:,} bytes is over the {MAX_BYTES:,}-byte limit")
                data = file.read_bytes()
            except OSError as exc:
                raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
        text = decode(data, source)
    except InputError as exc:
        return [], [exc]
    docs = documents_from_text(text, source=source, path=None if path == "-" else path,
                               input_format=input_format, errors=errors, max_chars=max_chars)  # fmt: skip
    return docs, errors


def read_path(path: str, input_format: InputFormatOption = "auto", stdin: bytes | None = None) -> list[Document]:
    """``-`` reads ``stdin`` bytes. The first problem is raised, an InputError naming the file."""
    docs, errors = read_source(path, input_format, stdin)
    if errors:
        raise errors[0]
    return docs
