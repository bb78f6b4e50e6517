import json

import pytest

from mtqa.inputs import InputError, decode, documents_from_text, read_path


@pytest.mark.parametrize(
    "data, reason",
    [(b"", "empty"), (b"  \n\t ", "empty"), (b"\x00\x01PNG\x00", "binary"), (b"caf\xe9 au lait", "UTF-8"),
     (bytes(range(1, 32)) * 20, "binary")],
)  # fmt: skip
def test_bad_bytes_are_refused_with_a_reason(data, reason):
    with pytest.raises(InputError, match=reason) as info:
        decode(data, "story.txt")
    assert str(info.value).startswith("story.txt: ")


def test_huge_input_is_refused():
    with pytest.raises(InputError, match="limit"):
        decode(b"a" * 101, "big.txt", max_bytes=100)


def test_odd_unicode_is_kept_exactly():
    text = "Zelensky 👍🏽 said e\u0301 שלום مرحبا \ufeff ok"
    assert decode(text.encode(), "x") == text


def test_read_path_errors_name_the_file(tmp_path):
    with pytest.raises(InputError, match="missing.txt: cannot read"):
        read_path(str(tmp_path / "missing.txt"))
    with pytest.raises(InputError, match="is a directory"):
        read_path(str(tmp_path))


def test_format_sniffing_and_jsonl(tmp_path):
    html = tmp_path / "a.html"
    html.write_text("<p>Hello <b>Kyiv</b></p>")
    [doc] = read_path(str(html))
    assert doc.input_format == "html" and doc.text == "Hello Kyiv"
    [doc] = documents_from_text("<!DOCTYPE html><p>Hi</p>", source="-", path=None)
    assert doc.input_format == "html"
    lines = "\n".join(json.dumps(r) for r in [{"id": "a", "text": "One."}, {"id": "b", "html": "<p>Two.</p>"}])
    docs = documents_from_text(lines, source="batch", path=None, input_format="jsonl")
    assert [(d.id, d.text) for d in docs] == [("a", "One."), ("b", "Two.")]


@pytest.mark.parametrize(
    "line, reason",
    [("{not json", "invalid JSON"), ("[1]", "expected an object"), ('{"id": 1}', 'needs a "text"'),
     ('{"id": 1, "text": "  "}', "empty document")],
)  # fmt: skip
def test_bad_jsonl_names_the_line(line, reason):
    with pytest.raises(InputError, match=reason) as info:
        documents_from_text('{"id": "ok", "text": "fine"}\n' + line, source="b.jsonl", path=None, input_format="jsonl")
    assert str(info.value).startswith("b.jsonl:2")


def test_html_without_text_is_refused():
    with pytest.raises(InputError, match="no text"):
        documents_from_text("<html><script>x()</script></html>", source="p.html", path=None, input_format="html")
