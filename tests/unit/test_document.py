from mtqa.document import Document


def test_sentences_handle_abbreviations_quotes_and_headlines():
    text = ('Russia Loses Ground Near Kharkiv\nThe U.S. Army said on Sept. 10 that Gen. Smith left. '
            '"We are done," he said.\nNext paragraph here.')  # fmt: skip
    doc = Document.from_text(text)
    sentences = [s.of(text) for s in doc.sentences]
    assert sentences == [
        "Russia Loses Ground Near Kharkiv",
        "The U.S. Army said on Sept. 10 that Gen. Smith left.",
        '"We are done," he said.',
        "Next paragraph here.",
    ]


def test_tokens_keep_possessives_hyphens_and_offsets():
    text = "Kyiv's army took Ivano-Frankivsk and the U.S. envoy 👋 met Zelensky."
    doc = Document.from_text(text)
    words = [t.text for t in doc.tokens]
    assert "Kyiv's" in words and "Ivano-Frankivsk" in words and "U.S." in words
    assert all(text[t.start : t.end] == t.text for t in doc.tokens)
    assert doc.tokens_in(doc.sentences[0])[0].text == "Kyiv's"


def test_html_extraction_maps_back_to_the_original():
    html = ("<html><head><title>T</title><script>var x = 'Idium';</script><style>p{}</style></head>"
            "<body><h1>Russia &amp; Kyiv</h1><p>First  para\n with <b>bold</b> text&nbsp;here &#8212; ok."
            "<p>Second <i>para</i>.<br>Line<div>Scroll to Continue</div></body>")  # fmt: skip
    doc = Document.from_html(html)
    assert doc.text == "Russia & Kyiv\n\nFirst para with bold text\xa0here — ok.\n\nSecond para.\n\nLine\n\nScroll to Continue"
    assert "var x" not in doc.text and "p{}" not in doc.text
    for needle, raw in [("bold", "bold"), ("&", "&amp;"), ("—", "&#8212;"), ("Scroll to Continue", "Scroll to Continue")]:
        i = doc.text.index(needle)
        start, end = doc.to_original(i, i + len(needle))
        assert html[start:end] == raw
    i = doc.text.index("Second para")
    start, end = doc.to_original(i, i + len("Second para"))
    assert html[start:end] == "Second <i>para"


def test_malformed_html_does_not_crash():
    doc = Document.from_html("<p>Unclosed <b>bold <div>and <p>more &bogus; text</span>")
    assert "Unclosed bold" in doc.text and "&bogus;" in doc.text
