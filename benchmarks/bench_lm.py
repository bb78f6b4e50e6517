"""LM scoring throughput: naive vs common batched vs mtqa's scorer, and prefix-shared rescoring.

    python -m benchmarks.bench_lm [--model NAME] [--n 300] [--device cpu|cuda] [--threads 1]
                                  [--random-init [--config-dir DIR]]

All methods score the same sentences with the same model in one run:
  (a) naive: one sentence at a time, full fp32 log-softmax over every position;
  (b) common batched: fixed-size batches in input order, padded to the longest, attention mask,
      full fp32 log-softmax;
  (c) mtqa: TokenScorer (length-sorted token-budget packing, no pad/context rows through the output
      layer, chunked logsumexp).
Rescoring: 20 candidates per span, naive (each variant scored in full, one at a time) vs
prefix-shared (TokenScorer.rescore: KV cache of the shared prefix, batched continuations).

--random-init initialises the card's architecture from its config.json with random weights
(labelled in the output; speed does not depend on weight values). It reads config.json and the
tokenizer files from --config-dir (default: the card's converted cache directory); use
--export-config DIR on a machine that has the weights to write those files (no weights) for a
machine that has not. Needs torch and transformers>=5.18 for the packaged Gemma (any recent
transformers for --random-init).
"""

from __future__ import annotations

import argparse
import os
import random
import threading
import time
from pathlib import Path
from typing import Any, Callable

from benchmarks.harness import print_table, write_results

SUBJECTS = ["The president", "Ukraine's foreign minister", "A spokesman for the regional administration",
            "The central bank", "Local officials", "Rescue workers", "The prime minister's office",
            "Several opposition parties", "The city council", "Military analysts", "The company",
            "Residents of the eastern district", "The United Nations", "Police"]
VERBS = ["said on Tuesday that", "warned that", "announced that", "confirmed on Friday that",
         "denied reports that", "told reporters that", "estimated that", "argued that"]
CLAUSES = ["the talks would resume next week", "prices had risen by {n} percent since January",
           "{n} people were injured in the attack on the power station",
           "the bridge across the river had been damaged by shelling",
           "the new budget would cut spending on roads and schools",
           "the water supply would be restored by the end of the month",
           "troops had withdrawn from several villages near the border",
           "the airport would stay closed until further notice",
           "exports of grain fell sharply in the second quarter",
           "the election would be held in the spring as planned",
           "the agreement still needed the approval of parliament",
           "the factory employed about {n} workers before the war"]
TAILS = ["", "", ", according to a statement", ", officials said", " despite the heavy rain",
         ", although no details were given", " after a meeting in the capital",
         ", adding that an investigation was under way and that more information would follow"]


def make_sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        parts = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(CLAUSES).format(n=rng.randint(2, 900))]
        if rng.random() < 0.35:
            parts += ["and", rng.choice(CLAUSES).format(n=rng.randint(2, 900))]
        out.append(" ".join(parts) + rng.choice(TAILS) + ".")
    return out


class PeakRSS:
    """Peak resident memory (MiB) of this process while the block runs (sampled every 5 ms)."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.peak = 0.0

    def _rss(self) -> float:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20

    def __enter__(self) -> "PeakRSS":
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            return self
        self._stop = threading.Event()
        self.peak = self._rss()

        def sample() -> None:
            while not self._stop.wait(0.005):
                self.peak = max(self.peak, self._rss())

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated() / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())


def naive_scores(scorer: Any, texts: list[str], contexts: list[str] | None = None) -> list[list[float]]:
    import torch

    contexts = contexts or [""] * len(texts)
    out = []
    with torch.inference_mode():
        for text, ctx in zip(texts, contexts):
            it = scorer._encode([text], [ctx])[0]
            ids = torch.tensor([it.ids], device=scorer.device)
            logp = torch.log_softmax(scorer.model(input_ids=ids).logits.float(), dim=-1)[0]
            tgt = ids[0, it.first :]
            out.append(logp[it.first - 1 : len(it.ids) - 1].gather(1, tgt[:, None]).squeeze(1).tolist())
    return out


def batched_scores(scorer: Any, texts: list[str], batch_size: int) -> list[list[float]]:
    import torch

    items = scorer._encode(texts, [""] * len(texts))
    out = []
    with torch.inference_mode():
        for s in range(0, len(items), batch_size):
            chunk = items[s : s + batch_size]
            width = max(len(it.ids) for it in chunk)
            ids = torch.full((len(chunk), width), scorer._pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for b, it in enumerate(chunk):
                ids[b, : len(it.ids)] = torch.tensor(it.ids)
                mask[b, : len(it.ids)] = 1
            ids, mask = ids.to(scorer.device), mask.to(scorer.device)
            logp = torch.log_softmax(scorer.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
            for b, it in enumerate(chunk):
                tgt = ids[b, it.first : len(it.ids)]
                out.append(logp[b, it.first - 1 : len(it.ids) - 1].gather(1, tgt[:, None]).squeeze(1).tolist())
    return out


def timed(device: str, fn: Callable[[], Any]) -> tuple[Any, float, float]:
    import torch

    with PeakRSS(device) as mem:
        start = time.perf_counter()
        result = fn()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    return result, seconds, mem.peak


def build_scorer(args: argparse.Namespace) -> tuple[Any, str]:
    import torch

    from mtqa.config import Settings
    from mtqa.lm import get_scorer, resolve_device
    from mtqa.lm.cards import checkpoint_dir, load_card
    from mtqa.lm.scorer import TokenScorer, resolve_dtype

    if not args.random_init:
        return get_scorer(Settings(model=args.model, device=args.device)), "packaged weights"
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    card = load_card(args.model)
    device = resolve_device(args.device)
    where = Path(args.config_dir) if args.config_dir else Path(checkpoint_dir(card)[0])
    config = AutoConfig.from_pretrained(where)
    config._attn_implementation = "sdpa"
    dtype = resolve_dtype(card.dtype_for(device), device)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=dtype).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(where)
    return TokenScorer(model, tokenizer, card=card, device=device), "RANDOM INIT from config (speed only)"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="LM scoring throughput")
    parser.add_argument("--model", default=None, help="model card (default: the default card)")
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=int(os.environ.get("MTQA_THREADS", "1")))
    parser.add_argument("--batch-size", type=int, default=16, help="batch size of method (b)")
    parser.add_argument("--spans", type=int, default=10, help="rescoring: spans, 20 candidates each")
    parser.add_argument("--random-init", action="store_true")
    parser.add_argument("--config-dir", default=None)
    parser.add_argument("--baseline-dtype", default="float32", help="dtype of methods (a) and (b)")
    parser.add_argument("--int8", action="store_true", help="CPU: also try dynamic int8 linear layers")
    parser.add_argument("--export-config", default=None, help="write config+tokenizer (no weights) here and exit")
    args = parser.parse_args(argv)

    import torch

    torch.set_num_threads(args.threads)
    if args.export_config:
        from mtqa.lm.cards import checkpoint_dir, load_card
        from transformers import AutoConfig, AutoTokenizer

        where = checkpoint_dir(load_card(args.model))[0]
        AutoConfig.from_pretrained(where).save_pretrained(args.export_config)
        AutoTokenizer.from_pretrained(where).save_pretrained(args.export_config)
        print(f"wrote config and tokenizer to {args.export_config}")
        return

    scorer, weights = build_scorer(args)
    device = scorer.device.type
    from mtqa.lm.scorer import TokenScorer, resolve_dtype

    base_dtype = resolve_dtype(args.baseline_dtype, device)
    if base_dtype != scorer.dtype:  # the common way loads the default fp32 weights
        import copy

        base_model = copy.deepcopy(scorer.model).to(base_dtype)
        baseline = TokenScorer(base_model, scorer.tokenizer, card=scorer.card, device=device)
    else:
        baseline = scorer
    dt = lambda sc: str(sc.dtype).replace("torch.", "")  # noqa: E731
    sentences = make_sentences(args.n)
    n_tokens = sum(len(it.ids) - it.first for it in scorer._encode(sentences, [""] * len(sentences)))
    # warm-up (allocator, kernels) outside the timings
    naive_scores(baseline, sentences[:2])
    for sc in {id(scorer): scorer, id(baseline): baseline}.values():
        sc.score(sentences[:4])
        sc.clear_cache()

    ref, t_a, m_a = timed(device, lambda: naive_scores(baseline, sentences))
    got_b, t_b, m_b = timed(device, lambda: batched_scores(baseline, sentences, args.batch_size))
    runs = [("(a) naive, one at a time", dt(baseline), t_a, m_a, 0.0),
            (f"(b) batched x{args.batch_size}, input order", dt(baseline), t_b, m_b,
             max(abs(x - y) for a, b in zip(ref, got_b) for x, y in zip(a, b)))]
    if baseline is not scorer:
        got_cb, t_cb, m_cb = timed(device, lambda: baseline.score(sentences))
        runs.append(("(c) mtqa TokenScorer", dt(baseline), t_cb, m_cb,
                     max(abs(x - t.logprob) for a, s in zip(ref, got_cb) for x, t in zip(a, s.tokens))))
    scorer.clear_cache()
    got_c, t_c, m_c = timed(device, lambda: scorer.score(sentences))
    runs.append(("(c) mtqa TokenScorer", dt(scorer), t_c, m_c,
                 max(abs(x - t.logprob) for a, s in zip(ref, got_c) for x, t in zip(a, s.tokens))))
    params = sum(p.numel() for p in scorer.model.parameters())

    rows = []
    for name, dtype_name, seconds, mem, diff in runs:
        rows.append({"method": name, "dtype": dtype_name, "seconds": seconds, "tokens/s": n_tokens / seconds,
                     "sentences/s": len(sentences) / seconds, "peak MiB": mem,
                     "speed vs naive": t_a / seconds, "max |Δlogp| vs (a)": diff})
    if device == "cuda":
        peak = _bf16_peak_flops(torch.cuda.get_device_name())
        for row in rows:
            row["MFU"] = 2 * params * row["tokens/s"] / peak if peak else None
    title = f"LM scoring: {scorer.signature()['model']} ({weights}), {device}, {args.threads} thread(s), " \
            f"{len(sentences)} sentences, {n_tokens} tokens"
    print_table(title, rows)

    # ------------------------------------------------------------ rescoring
    from mtqa.checkers.lm import CandidateGenerator

    gen = CandidateGenerator()
    rng = random.Random(3)
    requests = []
    for text in sentences[: args.spans]:
        words = [w for w in text.replace(",", "").replace(".", "").split() if w.isalpha() and w.islower()]
        word = rng.choice(words[len(words) // 3 :])
        start = text.index(" " + word + " ") + 1 if " " + word + " " in text else text.index(word)
        cands = [c.word for c in gen.candidates(word)]
        cands = (cands + [w for w in gen.vocabulary[:400] if w not in cands])[:20]
        requests.append((text, (start, start + len(word)), cands))

    def naive_rescore(sc: Any) -> list[list[float]]:
        out = []
        for text, (s, e), cands in requests:
            variants = [text] + [text[:s] + c + text[e:] for c in cands]
            totals = [sum(v) for v in naive_scores(sc, variants)]
            out.append([t - totals[0] for t in totals[1:]])
        return out

    from mtqa.lm import RescoreRequest

    n_cands = sum(len(c) for _, _, c in requests)
    rescore_runs = []
    naive, t_rn, m_rn = timed(device, lambda: naive_rescore(baseline))
    rescore_runs.append(("naive full re-scoring", dt(baseline), naive, t_rn, m_rn))
    if baseline is not scorer:
        naive_c, t_rc, m_rc = timed(device, lambda: naive_rescore(scorer))
        rescore_runs.append(("naive full re-scoring", dt(scorer), naive_c, t_rc, m_rc))
    shared, t_rs, m_rs = timed(device, lambda: scorer.rescore_batch(
        [RescoreRequest(t, sp, c) for t, sp, c in requests]))
    rescore_runs.append(("prefix-shared (KV cache)", dt(scorer), shared, t_rs, m_rs))
    rescore_rows = []
    for name, dtype_name, values, seconds, mem in rescore_runs:
        rescore_rows.append({"method": name, "dtype": dtype_name, "seconds": seconds,
                             "candidates/s": n_cands / seconds, "peak MiB": mem, "speed vs naive": t_rn / seconds,
                             "max |ΔΔ| vs naive": max(abs(x - y) for a, b in zip(naive, values) for x, y in zip(a, b))})
    print_table(f"Rescoring: {len(requests)} spans x 20 candidates", rescore_rows)
    ref_c = got_cb if baseline is not scorer else got_c
    precision_rows = []
    if baseline is not scorer:
        precision_rows.append({"method": f"(c) {dt(scorer)}", "seconds": t_c, "speed vs (c) fp32": t_cb / t_c,
                               "peak MiB": m_c, **rank_change(ref_c, got_c)})
    if args.int8 and device == "cpu":
        precision_rows += int8_experiment(baseline, sentences, runs[2][2], ref_c)
    print_table(f"Reduced precision vs (c) at {dt(baseline)}", precision_rows)
    write_results(
        f"bench_lm_{scorer.signature()['model']}_{device}" + ("_random" if args.random_init else ""),
        {"weights": weights, "threads": args.threads, "sentences": len(sentences), "tokens": n_tokens,
         "parameters": params, "scoring": rows, "rescoring": rescore_rows, "precision": precision_rows,
         "device_name": torch.cuda.get_device_name() if device == "cuda" else "cpu"},
        scorer.signature(),
    )


def rank_change(ref: list[Any], other: list[Any]) -> dict[str, float]:
    """How much a precision change moves word surprisals (what the checkers rank by)."""
    import numpy as np

    from mtqa.document import Document

    a: list[float] = []
    b: list[float] = []
    same = 0
    for s_ref, s_other in zip(ref, other):
        doc = Document.from_text(s_ref.text)
        wa = [s_ref.word_surprisal(t.start, t.end) for t in doc.tokens]
        wb = [s_other.word_surprisal(t.start, t.end) for t in doc.tokens]
        a += wa
        b += wb
        same += int(np.argmax(wa) == np.argmax(wb))
    ra, rb = np.argsort(np.argsort(a)), np.argsort(np.argsort(b))
    return {"word surprisal Spearman": float(np.corrcoef(ra, rb)[0, 1]),
            "same most-surprising word": same / max(1, len(ref)),
            "mean |Δ bits| per word": float(np.mean(np.abs(np.array(a) - np.array(b))))}


def int8_experiment(baseline: Any, sentences: list[str], t_ref: float, ref: list[Any]) -> list[dict[str, Any]]:
    """Dynamic int8 linear layers (CPU): speed, and how much they move the word-surprisal ranking."""
    import torch

    from mtqa.lm.scorer import TokenScorer

    qmodel = torch.ao.quantization.quantize_dynamic(baseline.model, {torch.nn.Linear}, dtype=torch.qint8)
    q = TokenScorer(qmodel, baseline.tokenizer, card=baseline.card, device="cpu", quantized=True)
    q.score(sentences[:4])
    q.clear_cache()
    got, t_q, m_q = timed("cpu", lambda: q.score(sentences))
    return [{"method": "(c) int8 dynamic", "seconds": t_q, "speed vs (c) fp32": t_ref / t_q, "peak MiB": m_q,
             **rank_change(ref, got)}]


def _bf16_peak_flops(name: str) -> float | None:
    """Dense bf16 peak of common cards (FLOP/s), for model-FLOPs utilisation."""
    table = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "4090": 165e12}
    for key, value in table.items():
        if key in name:
            return value
    return None


if __name__ == "__main__":
    main()
