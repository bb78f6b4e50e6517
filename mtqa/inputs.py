"""Reading what the caller hands us: files, stdin, JSONL. Bad input fails loudly, naming the source."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Literal

from .document import Document

InputFormatOption = Literal["auto", "text", "html", "jsonl"]
MAX_BYTES = 20 * 1024 * 1024  # a news article is kilobytes; 20 MB means the wrong file
_HTML_SNIFF = re.compile(r"<(?:!doctype\s+html|html|body|p|div|article|h[1-6]|span|br)\b", re.I)
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


class InputError(ValueError):
    """Input we refuse to check, with a one-line reason naming its source."""

    def __init__(self, source: str, reason: str) -> None:
        super().__init__(f"{source}: {reason}")
        self.source = source


def decode(data: bytes, source: str, max_bytes: int = MAX_BYTES) -> str:
    if not data.strip():
        raise InputError(source, "empty input")
    if len(data) > max_bytes:
        raise InputError(source, f"{len(data):,} bytes is over the {max_bytes:,}-byte limit")
    if b"\x00" in data[:8192]:
        raise InputError(source, "binary data (NUL bytes), not text")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(source, f"not valid UTF-8 (byte {exc.start}: {data[exc.start:exc.start + 1]!r})") from None
    controls = len(_CONTROL.findall(text[:8192]))
    if controls > max(8, len(text[:8192]) // 100):
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
    head = text.lstrip()[:2048]
    if head.startswith("<") and _HTML_SNIFF.search(head):
        return "html"
    return "text"


def documents_from_text(
    text: str, *, source: str, path: str | None, input_format: InputFormatOption = "auto"
) -> list[Document]:
    fmt = sniff_format(text, path) if input_format == "auto" else input_format
    if fmt == "html":
        doc = Document.from_html(text, id=path or source, path=path)
        if not doc.text.strip():
            raise InputError(source, "HTML has no text to check")
        return [doc]
    if fmt == "jsonl":
        return list(_jsonl_documents(text, source, path))
    return [Document.from_text(text, id=path or source, path=path)]


def _jsonl_documents(text: str, source: str, path: str | None) -> Iterable[Document]:
    seen_any = False
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{source}:{number}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(where, f"invalid JSON ({exc.msg})") from None
        if not isinstance(record, dict):
            raise InputError(where, 'expected an object like {"id": ..., "text": ...}')
        doc_id = str(record.get("id", number))
        if isinstance(record.get("html"), str):
            doc = Document.from_html(record["html"], id=doc_id, path=path)
        elif isinstance(record.get("text"), str):
            doc = Document.from_text(record["text"], id=doc_id, path=path)
        else:
            raise InputError(where, 'needs a "text" or "html" string')
        if not doc.text.strip():
            raise InputError(where, "empty document")
        seen_any = True
        yield doc
    if not seen_any:
        raise InputError(source, "no documents in JSONL input")


def read_path(path: str, input_format: InputFormatOption = "auto", stdin: bytes | None = None) -> list[Document]:
    """``-`` reads ``stdin`` bytes. Errors are InputError with the file named."""
    if path == "-":
        return documents_from_text(decode(stdin or b"", "<stdin>"), source="<stdin>", path=None, input_format=input_format)
    file = Path(path)
    try:
        if file.is_dir():
            raise InputError(path, "is a directory")
        if file.stat().st_size > MAX_BYTES:
            raise InputError(path, f"{file.stat().st_size:,} bytes is over the {MAX_BYTES:,}-byte limit")
        data = file.read_bytes()
    except InputError:
        raise
    except OSError as exc:
        raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
    return documents_from_text(decode(data, path), source=path, path=path, input_format=input_format)
