"""The batched scorer against one-at-a-time scoring, on tiny random models (fp32, no real weights)."""

from __future__ import annotations

import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mtqa.lm.scorer import TokenScorer, offsets_by_decoding  # noqa: E402
from mtqa.lm.tiny import build_model, build_tokenizer  # noqa: E402
from mtqa.lm.types import Edit  # noqa: E402

TEXTS = [
    "The president met the prime minister in the capital.",
    "Prices rose.",
    "Ukrainian forces said on Tuesday that they had retaken several villages near the river, officials said.",
    "Kyiv 🙂 said 世界 news",
    "A",
    "Officials reported heavy losses after the attack on the power station in the east of the country.",
    "Prices rose.",
]
CONTEXTS = ["", "The war goes on. ", "", "Emoji 🎉 first. ", "", "In brief: ", ""]


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def scorer(request, tokenizer):
    torch.manual_seed(0)
    return TokenScorer(build_model(len(tokenizer), request.param), tokenizer, token_budget=4096, cache_size=0)


def _single(scorer, text, context=""):
    """Reference: one text, no padding, full log-softmax over every position."""
    items = scorer._encode([text], [context])
    it = items[0]
    with torch.inference_mode():
        ids = torch.tensor([it.ids])
        logits = scorer.model(input_ids=ids).logits.float()
        logp = torch.log_softmax(logits, -1)[0]
    return [logp[p - 1, it.ids[p]].item() for p in range(it.first, len(it.ids))]


def test_batched_equals_one_at_a_time(scorer):
    got = scorer.score(TEXTS, CONTEXTS)
    for scored, text, context in zip(got, TEXTS, CONTEXTS):
        ref = _single(scorer, text, context)
        assert len(ref) == len(scored.tokens)
        assert max(abs(a - t.logprob) for a, t in zip(ref, scored.tokens)) <= 1e-4


def test_order_restored_and_texts_kept(scorer):
    got = scorer.score(TEXTS, CONTEXTS)
    assert [g.text for g in got] == TEXTS
    # reversed input -> the same per-text results, reversed (sorting by length is undone)
    back = scorer.score(TEXTS[::-1], CONTEXTS[::-1])[::-1]
    for a, b in zip(got, back):
        assert a.text == b.text
        assert [t.logprob for t in a.tokens] == pytest.approx([t.logprob for t in b.tokens], abs=1e-4)
    # the same (context, text) twice in one call: identical results at both places
    twice = scorer.score(["Prices rose.", "Other words here.", "Prices rose."])
    assert [t.logprob for t in twice[0].tokens] == [t.logprob for t in twice[2].tokens]


def test_padding_never_scored(scorer, tokenizer):
    got = scorer.score(TEXTS, CONTEXTS)
    pad = scorer._pad_id
    for scored, text, context in zip(got, TEXTS, CONTEXTS):
        item = scorer._encode([text], [context])[0]
        # exactly the text's own tokens, no more: pads and context are never scored
        assert len(scored.tokens) == len(item.ids) - item.first
        assert pad not in item.ids[item.first :]
        assert all(math.isfinite(t.logprob) and t.logprob <= 0 for t in scored.tokens)


def test_deterministic_across_batch_sizes(scorer):
    reference = [[t.logprob for t in s.tokens] for s in scorer.score(TEXTS, CONTEXTS)]
    saved = scorer.token_budget
    try:
        for budget in (1, 64, 200, 100_000):
            scorer.token_budget = budget
            got = [[t.logprob for t in s.tokens] for s in scorer.score(TEXTS, CONTEXTS)]
            for a, b in zip(reference, got):
                assert max(abs(x - y) for x, y in zip(a, b)) <= 1e-4
    finally:
        scorer.token_budget = saved


def test_packing_respects_budget(scorer):
    lengths = [5, 40, 3, 17, 17, 60, 2]
    saved = scorer.token_budget
    scorer.token_budget = 64
    try:
        batches = scorer._pack(lengths)
    finally:
        scorer.token_budget = saved
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) == 1 or max(lengths[i] for i in batch) * len(batch) <= 64


def test_offsets_with_emoji_and_cjk(scorer):
    text = "Kyiv 🙂 said 世界 news"
    [scored] = scorer.score([text], ["Emoji 🎉 first. "])
    covered = "".join(text[s:e] for s, e in dict.fromkeys((t.start, t.end) for t in scored.tokens))
    assert covered == text  # tokens tile the text exactly, multi-byte characters included
    emoji = text.index("🙂")
    assert any(t.start == emoji and t.end == emoji + 1 for t in scored.tokens)
    cjk = text.index("世")
    assert {text[t.start : t.end] for t in scored.tokens if cjk <= t.start < cjk + 2} == {"世", "界"}
    assert scored.word_surprisal(cjk, cjk + 2) > 0
    assert scored.word_tokens(0, 4)[0].start == 0


def test_word_and_next_surprisal(scorer):
    text = "Russia loses Kyiv"
    [scored] = scorer.score([text])
    word = scored.word_tokens(7, 12)
    assert word and all(t.start < 12 and t.end > 7 for t in word)
    assert scored.word_surprisal(7, 12) == pytest.approx(sum(-t.logprob for t in word) / math.log(2))
    nxt = next(t for t in scored.tokens if t.start >= 12)
    assert scored.next_surprisal(12) == pytest.approx(-nxt.logprob / math.log(2))
    assert math.isnan(scored.next_surprisal(len(text)))
    assert scored.mean_surprisal() > 0


def test_rescore_prefix_shared_equals_naive(scorer):
    context = "Prices rose. "
    text = "The Russian military used the city as his main base, officials said."
    start = text.index("his")
    candidates = ["its", "their", "the", "a", "", "hiss main", "🙂"]
    fast = scorer.rescore(text, (start, start + 3), candidates, context)
    base = sum(_single(scorer, text, context))
    for cand, delta in zip(candidates, fast):
        variant = text[:start] + cand + text[start + 3 :]
        naive = sum(_single(scorer, variant, context)) - base
        assert delta == pytest.approx(naive, abs=1e-4)


def test_rescore_batch_matches_single(scorer):
    from mtqa.lm.types import RescoreRequest

    reqs = [
        RescoreRequest("Russia losses Kyiv", (7, 13), ["loses", "lost"], ""),
        RescoreRequest("He went to a office.", (11, 12), ["an", "the"], "Earlier: "),
    ]
    saved = scorer.token_budget
    scorer.token_budget = 8  # forces one candidate per suffix batch
    try:
        small = scorer.rescore_batch(reqs)
    finally:
        scorer.token_budget = saved
    big = scorer.rescore_batch(reqs)
    for a, b in zip(small, big):
        assert a == pytest.approx(b, abs=1e-4)
    assert scorer.rescore_batch([RescoreRequest("x", (0, 1), [], "")]) == [[]]


def test_result_cache(tokenizer):
    sc = TokenScorer(build_model(len(tokenizer)), tokenizer, cache_size=10)
    first = sc.score(["Prices rose."], ["A. "])
    before = sc.stats["forward_tokens"]
    again = sc.score(["Prices rose.", "New text."], ["A. ", ""])
    assert again[0] is first[0]
    assert sc.stats["cache_hits"] == 1
    # only the new sentence ran through the model
    assert sc.stats["forward_tokens"] - before == len(sc._encode(["New text."], [""])[0].ids)
    # a different context is a different key
    sc.score(["Prices rose."], ["B. "])
    assert sc.stats["cache_hits"] == 1


def test_offsets_by_decoding_matches_fast_offsets(tokenizer):
    text = "The mayor said 🙂 prices 世界 rose."
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    slow = offsets_by_decoding(tokenizer, enc["input_ids"], text)
    assert [tuple(o) for o in enc["offset_mapping"]] == slow


def test_slow_path_scores_like_fast(tokenizer):
    sc = TokenScorer(build_model(len(tokenizer)), tokenizer, cache_size=0)
    fast = sc.score(["Kyiv 🙂 said 世界"], [""])[0]
    sc._fast = False
    slow = sc.score(["Kyiv 🙂 said 世界"], [""])[0]
    assert [(t.start, t.end) for t in fast.tokens] == [(t.start, t.end) for t in slow.tokens]
    assert [t.logprob for t in fast.tokens] == pytest.approx([t.logprob for t in slow.tokens], abs=1e-6)


def test_long_context_is_cut_from_the_left(tokenizer):
    sc = TokenScorer(build_model(len(tokenizer)), tokenizer, cache_size=0)
    text = "Prices rose."
    n_text = len(sc._encode([text], [""])[0].ids) - 1
    sc.max_context = n_text + 4
    context = "The statistics office said so on Tuesday. " * 5
    item = sc._encode([text], [context])[0]
    assert len(item.ids) == sc.max_context
    assert len(item.ids) - item.first == n_text  # every text token still scored
    [scored] = sc.score([text], [context])
    assert len(scored.tokens) == n_text and scored.tokens[-1].end == len(text)


DOC = ("The Russian military used the city as his main base, officials said. Prices rose again in March. "
       "Kyiv's mayor said so.")


def _doc_state(scorer, segment_tokens=12, context_chars=20):
    scorer.segment_tokens, scorer.context_chars = segment_tokens, context_chars
    starts = [0, DOC.index("Prices"), DOC.index("Kyiv")]
    [state] = scorer.score_documents([DOC], [starts])
    return state


def _naive_tail(scorer, text, seg, p, begin, stop):
    """Reference: the segment's prefix ids and the re-tokenised tail, one full forward, no cache."""
    tail = scorer.tokenizer(text[begin:stop], add_special_tokens=False)["input_ids"]
    ids = seg.ids[:p] + tail
    with torch.inference_mode():
        logp = torch.log_softmax(scorer.model(input_ids=torch.tensor([ids])).logits.float(), -1)[0]
    return sum(logp[p - 1 + k, ids[p + k]].item() for k in range(len(tail)))


def test_document_pass_segments_tile_the_text(scorer):
    state = _doc_state(scorer)
    assert len(state.segments) > 1  # small segments: the cut and the context are exercised
    assert [t.end for t in state.tokens] == sorted(t.end for t in state.tokens)
    assert "".join(DOC[t.start : t.end] for t in state.tokens) == DOC
    # every segment after the first has context that is not scored again
    assert all(seg.first > 1 for seg in state.segments[1:])


def test_edits_reuse_the_cache_and_equal_a_full_forward(scorer):
    """The cached prefix (left-padded rows, sliding window included) gives what a full forward of the
    prefix plus the edited tail gives, for every candidate, in one batch or one row at a time."""
    from mtqa.lm.types import Edit

    state = _doc_state(scorer)
    his, march, mayor = DOC.index("his"), DOC.index("March"), DOC.index("mayor")
    edits = [
        Edit(state, his, his + 3, ["its", "their", "", "a b c"], DOC.index(",")),
        Edit(state, march, march + 5, ["April"], len(DOC) - 10),
        Edit(state, mayor, mayor + 5, ["major", "Mayor"], len(DOC)),
    ]
    saved = scorer.token_budget
    try:
        results = {}
        for budget in (4096, 8):  # 8: one row per batch
            scorer.token_budget = budget
            reused, rows = scorer.stats["first_pass_rows"], scorer.stats["edit_rows"]
            results[budget] = scorer.rescore_edits(edits)
            # the unedited text of an edit is read from the first pass, except where its window
            # runs past the segment's end ("March. Kyiv's mayor" with 12-token segments): that one runs
            assert scorer.stats["first_pass_rows"] - reused == len(edits) - 1
            assert scorer.stats["edit_rows"] - rows == sum(len(e.candidates) for e in edits) + 1
    finally:
        scorer.token_budget = saved
    for e, deltas in zip(edits, results[4096]):
        seg, p = state.locate(e.start)
        begin = min(seg.offsets[p][0], e.start)
        base = _naive_tail(scorer, DOC, seg, p, begin, e.stop)
        for cand, delta in zip(e.candidates, deltas):
            variant = DOC[: e.start] + cand + DOC[e.end :]
            shift = len(cand) - (e.end - e.start)
            assert delta == pytest.approx(_naive_tail(scorer, variant, seg, p, begin, e.stop + shift) - base, abs=1e-4)
    for a, b in zip(results[4096], results[8]):
        assert a == pytest.approx(b, abs=1e-4)


def test_filled_cache_layer_returns_what_a_growing_layer_returns():
    """The rewrites' cache layer holds the prefix in a buffer with room for the tail and writes the
    tail in place: what attention reads, and the length the masks are built from, are those of
    transformers' own layer that concatenates."""
    from transformers.cache_utils import DynamicLayer

    from mtqa.lm.scorer import _filled_layer

    gen = torch.Generator().manual_seed(0)
    prefix_k, prefix_v = torch.randn(3, 1, 5, 4, generator=gen), torch.randn(3, 1, 5, 4, generator=gen)
    tail_k, tail_v = torch.randn(3, 1, 2, 4, generator=gen), torch.randn(3, 1, 2, 4, generator=gen)
    grown = DynamicLayer()
    grown.update(prefix_k, prefix_v)
    keys, values = torch.zeros(3, 1, 7, 4), torch.zeros(3, 1, 7, 4)
    keys[:, :, :5], values[:, :, :5] = prefix_k, prefix_v
    filled = _filled_layer(keys, values, 5)
    assert filled.get_seq_length() == grown.get_seq_length() == 5
    assert filled.get_mask_sizes(2) == grown.get_mask_sizes(2)
    for got, want in zip(filled.update(tail_k, tail_v), grown.update(tail_k, tail_v)):
        assert torch.equal(got, want)
    assert filled.get_seq_length() == 7
    assert keys.data_ptr() == filled.keys.data_ptr()  # written in place, not copied


def test_edit_screening_keeps_the_likeliest_first_tokens(scorer):
    from mtqa.lm.types import Edit

    state = _doc_state(scorer, segment_tokens=400)
    his = DOC.index("his")
    cands = ["its", "their", "the", "a", "our"]
    full = scorer.rescore_edits([Edit(state, his, his + 3, cands, DOC.index(","))])[0]
    [top] = scorer.rescore_edits([Edit(state, his, his + 3, cands, DOC.index(","), top_k=2)])
    kept = [d for d in top if d != -math.inf]
    assert len(kept) == 2 and top.count(-math.inf) == 3
    for f, t in zip(full, top):  # the rescored ones are unchanged by the screening
        assert t == -math.inf or t == pytest.approx(f, abs=1e-4)
    # a released state gives no evidence rather than failing
    state.release()
    assert scorer.rescore_edits([Edit(state, his, his + 3, cands, len(DOC))]) == [[0.0] * 5]


def test_the_output_layer_in_vocabulary_blocks_equals_one_log_softmax(scorer, monkeypatch):
    """The CPU path (row chunks x vocabulary blocks, a running logsumexp) against the whole
    vocabulary at once; uneven blocks and chunks, one target per row and several."""
    torch.manual_seed(1)
    hidden = torch.randn(13, scorer.model.config.hidden_size)
    targets = torch.randint(0, scorer._vocab, (13, 3))
    with torch.inference_mode():
        ref = torch.log_softmax(scorer._logits(hidden), -1).gather(1, targets)
        monkeypatch.setattr(scorer, "_head_cols", 37)
        monkeypatch.setattr(scorer, "_chunk_rows", 5)
        assert torch.allclose(scorer._target_logprobs(hidden, targets), ref, atol=1e-5)
        assert torch.allclose(scorer._target_logprobs(hidden, targets[:, 0]), ref[:, 0], atol=1e-5)


CANDS = ["its", "their", "the", "a", "our", "Kyiv's mayor"]


def _his_edit(scorer):
    """The "his" edit of DOC: its state, span, every candidate's full rescore, and per candidate
    (the text's own first) the log-prob of its first token after the cached prefix, by a naive forward."""
    state = _doc_state(scorer, segment_tokens=400)
    his, stop = DOC.index("his"), DOC.index(",")
    full = scorer.rescore_edits([Edit(state, his, his + 3, CANDS, stop)])[0]
    seg, p = state.locate(his)
    begin = min(seg.offsets[p][0], his)
    with torch.inference_mode():
        logp = torch.log_softmax(scorer.model(input_ids=torch.tensor([seg.ids[:p]])).logits.float(), -1)[0, -1]
    first = lambda text: logp[scorer.tokenizer(text, add_special_tokens=False)["input_ids"][0]].item()  # noqa: E731
    heads = [first(DOC[begin:stop])] + [first(DOC[begin:his] + c + DOC[his + 3 : stop]) for c in CANDS]
    return state, his, stop, full, _naive_tail(scorer, DOC, seg, p, begin, stop), heads


def _assert_skips_exactly(scorer, stat, edit, full, expected):
    """The edit's screened candidates are exactly ``expected``, counted in ``stats[stat]``; the
    others keep their full rescore."""
    before = scorer.stats[stat]
    [got] = scorer.rescore_edits([edit])
    assert [g == -math.inf for g in got] == expected
    assert scorer.stats[stat] - before == got.count(-math.inf) > 0
    for f, g in zip(full, got):
        assert g == -math.inf or g == pytest.approx(f, abs=1e-4)


@pytest.mark.parametrize("step_rows, probe", [(1, 2), (1, 1), (64, 2), (64, 100)])
def test_min_delta_skips_only_candidates_that_cannot_reach_it(scorer, monkeypatch, step_rows, probe):
    """The bound (first token's log-prob minus the text's total) is exact: it is never below a
    candidate's full rescore, and the scorer skips exactly the candidates whose bound is under
    ``min_delta`` before their forward. Every candidate under ``min_delta`` reads -inf, whether
    the output layer dropped it position by position (``step_rows`` 1) or ran its whole tail (64:
    too few rows to step), and whether it forwarded its first ``probe`` tokens before the rest
    (100: all at once); the others keep their values."""
    import mtqa.lm.scorer as module

    monkeypatch.setattr(module, "_STEP_MIN_ROWS", step_rows)
    monkeypatch.setattr(module, "_PROBE_TOKENS", probe)
    state, his, stop, full, base, heads = _his_edit(scorer)
    bounds = [h - base for h in heads[1:]]
    assert all(f <= b + 1e-4 for f, b in zip(full, bounds))
    # under half the bounds and over the lowest full rescore that is not bounded out
    need = sorted(bounds)[len(bounds) // 2]
    edit = Edit(state, his, his + 3, CANDS, stop, min_delta=need)
    before = scorer.stats["bound_rows"]
    [got] = scorer.rescore_edits([edit])
    assert scorer.stats["bound_rows"] - before == sum(b < need for b in bounds) > 0
    assert [g == -math.inf for g in got] == [f < need for f in full]
    for f, g in zip(full, got):
        assert g == -math.inf or g == pytest.approx(f, abs=1e-4)


def test_tail_positions_drop_out_under_their_floor(scorer, monkeypatch):
    """Position by position, a row leaves the output layer once its running total is under its
    floor; the rows that stay get exactly the totals of the whole tail in one call."""
    import mtqa.lm.scorer as module

    torch.manual_seed(3)
    tails = [[5, 9, 14, 3, 7], [11, 2, 8], [4, 4, 4, 4], [6, 10]]
    pool = [(i, torch.randn(len(t) - 1, scorer.model.config.hidden_size), 1, len(t)) for i, t in enumerate(tails)]
    heads = [-1.0, -2.0, -0.5, -3.0]
    with torch.inference_mode():
        lp = [scorer._target_logprobs(h, torch.tensor(t[1:])).tolist() for (_, h, _, _), t in zip(pool, tails)]
    full = [head + sum(v) for head, v in zip(heads, lp)]
    # row 0 falls under its floor after its second token; row 2's floor is its total (it stays)
    floors = [heads[0] + lp[0][0] - 1e-3 + lp[0][1] / 2, -math.inf, full[2] - 1e-3, full[3] + 1.0]
    monkeypatch.setattr(module, "_STEP_MIN_ROWS", 1)
    totals, before = list(heads), scorer.stats["bound_head_rows"]
    scorer._tail_totals(pool, tails, totals, floors)
    assert totals[0] == totals[3] == -math.inf
    assert totals[1] == pytest.approx(full[1], abs=1e-4) and totals[2] == pytest.approx(full[2], abs=1e-4)
    assert scorer.stats["bound_head_rows"] - before == 2  # row 0's last two tokens


def test_min_first_skips_candidates_whose_first_token_is_far_less_likely_than_the_texts(scorer):
    """The fitted first-token screen: a candidate is skipped exactly when its first token's log-prob
    minus the text's own first token's is under ``min_first``; the others keep their values."""
    state, his, stop, full, _, heads = _his_edit(scorer)
    d0 = [h - heads[0] for h in heads[1:]]
    cut = sorted(d0)[len(d0) // 2]
    edit = Edit(state, his, his + 3, CANDS, stop, min_first=cut)
    _assert_skips_exactly(scorer, "first_token_rows", edit, full, [d < cut for d in d0])


@pytest.mark.parametrize("cols", [None, 64])
def test_document_pass_token_stats_equal_a_full_softmax(scorer, cols):
    """Entropy, rank and the likeliest other token, computed block by block in the one pass, are
    what the whole distribution gives (``cols`` 64: the vocabulary in several blocks)."""
    saved = scorer._head_cols
    scorer._head_cols = cols or scorer._vocab
    try:
        state = _doc_state(scorer)
    finally:
        scorer._head_cols = saved
    checked = 0
    for seg in state.segments:
        with torch.inference_mode():
            logits = scorer.model(input_ids=torch.tensor([seg.ids])).logits.float()[0]
        logp = torch.log_softmax(logits, -1)
        for p in range(seg.first, len(seg.ids)):
            start, end = seg.offsets[p]
            tok = next(t for t in state.tokens if (t.start, t.end) == (start, end))
            row, target = logp[p - 1], seg.ids[p]
            others = row.clone()
            others[target] = -math.inf
            assert tok.logprob == pytest.approx(row[target].item(), abs=1e-4)
            assert tok.entropy == pytest.approx(-(row.exp() * row).sum().item(), abs=1e-4)
            assert tok.rank == int((others > row[target]).sum())
            assert tok.best_other == pytest.approx(others.max().item(), abs=1e-4)
            checked += 1
    assert checked == len(state.tokens) > 10
