"""sentence_scores: document context, memoisation, offsets (tiny random model)."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from mtqa.document import Document  # noqa: E402
from mtqa.lm import sentence_context, sentence_scores, sentence_scores_many, to_document_offsets  # noqa: E402
from mtqa.lm.scorer import TokenScorer  # noqa: E402
from mtqa.lm.tiny import build_model, build_tokenizer  # noqa: E402

TEXT = "Prices rose again in March. The statistics office said so on Tuesday.\nKyiv's mayor spoke 🙂."


@pytest.fixture(scope="module")
def scorer():
    tok = build_tokenizer()
    return TokenScorer(build_model(len(tok)), tok)


def test_sentences_scored_with_preceding_context(scorer):
    doc = Document.from_text(TEXT)
    scored = sentence_scores(doc, scorer)
    assert [s.text for s in scored] == [sp.of(doc.text) for sp in doc.sentences]
    for i, s in enumerate(scored):
        [alone] = scorer.score([s.text], [sentence_context(doc, i, 600)])
        # one pass over the document scores each sentence as it would be scored after its context
        assert [t.logprob for t in s.tokens] == pytest.approx([t.logprob for t in alone.tokens], abs=1e-4)
        assert [(t.start, t.end) for t in s.tokens] == [(t.start, t.end) for t in alone.tokens]
    # the second sentence is not judged blind: its context changes its first token's score
    [blind] = scorer.score([scored[1].text])
    assert blind.tokens[0].logprob != pytest.approx(scored[1].tokens[0].logprob, abs=1e-6)


def test_memoised_on_the_document(scorer):
    doc = Document.from_text(TEXT)
    first = sentence_scores(doc, scorer)
    before = scorer.stats["forward_tokens"]
    assert sentence_scores(doc, scorer) is first
    assert scorer.stats["forward_tokens"] == before
    assert "lm.sentences" in doc._annotations


def test_many_documents_and_document_offsets(scorer):
    docs = [Document.from_text(TEXT), Document.from_text("One more. And another one.")]
    many = sentence_scores_many(docs, scorer)
    assert [len(m) for m in many] == [len(d.sentences) for d in docs]
    shifted = to_document_offsets(docs[0], many[0])
    for span, tokens in zip(docs[0].sentences, shifted):
        assert all(span.start <= t.start < t.end <= span.end for t in tokens)
    word = docs[0].text.index("mayor")
    assert any(t.start <= word < t.end for tokens in shifted for t in tokens)
