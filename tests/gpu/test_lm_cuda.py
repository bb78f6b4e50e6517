"""CUDA paths of the scorer (skipped without CUDA): bf16, pinned/non-blocking copies, OOM back-off."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
if not torch.cuda.is_available():
    pytest.skip("CUDA not available", allow_module_level=True)

from mtqa.lm.scorer import TokenScorer, resolve_dtype  # noqa: E402
from mtqa.lm.tiny import build_model, build_tokenizer  # noqa: E402
from mtqa.lm.types import RescoreRequest  # noqa: E402

pytestmark = pytest.mark.gpu

TEXTS = [
    "The president met the prime minister in the capital.",
    "Prices rose.",
    "Kyiv 🙂 said 世界 news",
    "Officials reported heavy losses after the attack on the power station in the east.",
] * 3


@pytest.fixture(scope="module")
def pair():
    tok = build_tokenizer()
    model = build_model(len(tok))
    cpu = TokenScorer(model, tok, device="cpu", cache_size=0)
    gpu_model = build_model(len(tok)).to("cuda")
    gpu = TokenScorer(gpu_model, tok, device="cuda", cache_size=0)
    return cpu, gpu


def test_cuda_fp32_matches_cpu(pair):
    cpu, gpu = pair
    for a, b in zip(cpu.score(TEXTS), gpu.score(TEXTS)):
        assert [(t.start, t.end) for t in a.tokens] == [(t.start, t.end) for t in b.tokens]
        assert max(abs(x.logprob - y.logprob) for x, y in zip(a.tokens, b.tokens)) < 1e-3


def test_cuda_bf16_close_to_fp32(pair):
    cpu, _ = pair
    tok = cpu.tokenizer
    dtype = resolve_dtype("bfloat16", "cuda")
    model = build_model(len(tok)).to("cuda", dtype=dtype)
    scorer = TokenScorer(model, tok, device="cuda", cache_size=0)
    for a, b in zip(cpu.score(TEXTS), scorer.score(TEXTS)):
        assert max(abs(x.logprob - y.logprob) for x, y in zip(a.tokens, b.tokens)) < 0.5


def test_cuda_rescore_matches_cpu(pair):
    cpu, gpu = pair
    req = [RescoreRequest("The army used the city as his main base.", (26, 29), ["its", "their", "a"], "Earlier. ")]
    for x, y in zip(cpu.rescore_batch(req)[0], gpu.rescore_batch(req)[0]):
        assert x == pytest.approx(y, abs=1e-3)


def test_oom_backoff_halves_the_batch(pair, monkeypatch):
    _, gpu = pair
    real = gpu._launch
    calls = {"n": 0}

    def flaky(batch, items):
        calls["n"] += 1
        if len(batch) > 2:
            raise torch.cuda.OutOfMemoryError("simulated")
        return real(batch, items)

    monkeypatch.setattr(gpu, "_launch", flaky)
    saved = gpu.token_budget
    try:
        got = gpu.score(TEXTS)
    finally:
        gpu.token_budget = saved
    assert gpu.stats["oom_backoffs"] >= 1
    monkeypatch.setattr(gpu, "_launch", real)
    ref = gpu.score(TEXTS)
    for a, b in zip(got, ref):
        assert [t.logprob for t in a.tokens] == pytest.approx([t.logprob for t in b.tokens], abs=1e-4)
