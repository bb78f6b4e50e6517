"""Streaming input for ``mtqa batch``: a directory of files, a JSONL file or stdin, one record at a time.

``mtqa.inputs`` reads a whole input and fails on its first bad line, which is right for ``mtqa check``
but not for an archive: here every line is read on its own and an unreadable one becomes a record
with an ``error`` that the run writes down and goes past. Records carry raw text; the Document is
built where the record is checked (a Ray worker parses HTML, not the driver).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterator, Literal

from ..document import Document
from ..inputs import MAX_BYTES, InputError, decode, documents_from_text, sniff_format

FILE_SUFFIXES = {".txt", ".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}


@dataclass(frozen=True)
class Record:
    """One input document, not parsed yet; ``error`` set when it could not be read at all."""

    id: str
    path: str | None
    kind: Literal["text", "html", "jsonl-text", "jsonl-html", "error"]
    content: str
    source: str  # names the file (and line) in error messages

    @property
    def error(self) -> str | None:
        return self.content if self.kind == "error" else None


def to_document(record: Record) -> Document:
    """Raises InputError for a record with nothing to check (same rules as ``mtqa check``)."""
    if record.kind == "error":
        raise InputError(record.source, record.content)
    if record.kind in ("text", "html"):
        [doc] = documents_from_text(record.content, source=record.source, path=record.path, input_format=record.kind)
        doc.id = record.id
        return doc
    if record.kind == "jsonl-html":
        doc = Document.from_html(record.content, id=record.id, path=record.path)
    else:
        doc = Document.from_text(record.content, id=record.id, path=record.path)
    if not doc.text.strip():
        raise InputError(record.source, "empty document")
    return doc


def input_kind(path: str) -> Literal["dir", "jsonl", "file"]:
    if path == "-":
        return "jsonl"
    p = Path(path)
    if p.is_dir():
        return "dir"
    if p.suffix.lower() in JSONL_SUFFIXES:
        return "jsonl"
    return "file"


def _walk(root: Path) -> Iterator[Path]:
    """Files under ``root`` with a text/HTML suffix, in a stable (sorted) order; hidden entries skipped."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not name.startswith(".") and Path(name).suffix.lower() in FILE_SUFFIXES:
                yield Path(dirpath) / name


def _file_record(file: Path, doc_id: str) -> Record:
    source = str(file)
    try:
        size = file.stat().st_size
        if size > MAX_BYTES:
            raise InputError(source, f"{size:,} bytes is over the {MAX_BYTES:,}-byte limit")
        text = decode(file.read_bytes(), source)
    except InputError as exc:
        return Record(doc_id, source, "error", str(exc).removeprefix(f"{source}: "), source)
    except OSError as exc:
        return Record(doc_id, source, "error", f"cannot read ({exc.strerror or exc})", source)
    fmt = sniff_format(text, source)
    return Record(doc_id, source, "html" if fmt == "html" else "text", text, source)


def _jsonl_record(raw: bytes, number: int, source: str, path: str | None) -> Record | None:
    where = f"{source}:{number}"
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return Record(where, path, "error", f"not valid UTF-8 (byte {exc.start})", where)
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return Record(where, path, "error", f"invalid JSON ({exc.msg})", where)
    if not isinstance(record, dict):
        return Record(where, path, "error", 'expected an object like {"id": ..., "text": ...}', where)
    doc_id = str(record.get("id", number))  # as mtqa check: the line number when there is no id
    if isinstance(record.get("html"), str):
        return Record(doc_id, path, "jsonl-html", record["html"], where)
    if isinstance(record.get("text"), str):
        return Record(doc_id, path, "jsonl-text", record["text"], where)
    return Record(doc_id, path, "error", 'needs a "text" or "html" string', where)


def _jsonl_lines(stream: BinaryIO, source: str, path: str | None) -> Iterator[Record]:
    # Bytes split on b"\n" only: JSON escapes every other line break, so a line is a record.
    for number, raw in enumerate(stream, 1):
        record = _jsonl_record(raw.rstrip(b"\r\n"), number, source, path)
        if record is not None:
            yield record


def records(path: str, stdin: BinaryIO | None = None) -> Iterator[Record]:
    """Every record of ``path`` in input order, unique ids guaranteed (a repeated id is an error record)."""
    seen: set[str] = set()
    for record in _raw_records(path, stdin):
        if record.id in seen:
            # Recorded under its line (or file) instead, so the first one keeps the id.
            record = Record(record.source, record.path, "error", f"duplicate id {record.id!r}", record.source)
            if record.id in seen:  # an id that is also another line's name: nothing left to tell apart
                continue
        seen.add(record.id)
        yield record


def _raw_records(path: str, stdin: BinaryIO | None) -> Iterator[Record]:
    kind = input_kind(path)
    if path == "-":
        yield from _jsonl_lines(stdin or sys.stdin.buffer, "<stdin>", None)
    elif kind == "dir":
        root = Path(path)
        for file in _walk(root):
            # The id is the path inside the directory, so a moved or remounted archive resumes.
            yield _file_record(file, file.relative_to(root).as_posix())
    elif kind == "jsonl":
        try:
            stream = open(path, "rb")
        except OSError as exc:
            raise InputError(path, f"cannot read ({exc.strerror or exc})") from None
        with stream:
            yield from _jsonl_lines(stream, path, path)
    else:
        file = Path(path)
        if not file.exists():
            raise InputError(path, "no such file or directory")
        yield _file_record(file, path)


def count(path: str) -> int | None:
    """How many records ``path`` holds, cheaply (for the progress bar's ETA); None for stdin."""
    kind = input_kind(path)
    if path == "-":
        return None
    if kind == "dir":
        return sum(1 for _ in _walk(Path(path)))
    if kind == "jsonl":
        try:
            with open(path, "rb") as stream:
                return sum(1 for line in stream if line.strip())
        except OSError:
            return None
    return 1
