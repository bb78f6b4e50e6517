"""The batched token scorer: per-token log-probs with character offsets, and candidate rescoring.

Speed notes (the reasons behind the code):

* Texts are tokenised up front, sorted by length, and packed into batches under a budget of
  *padded* tokens, so a batch wastes little on padding; results go back in input order.
* Batches are right-padded. With right padding a causal model never lets a real token attend to
  a pad (pads only follow real tokens), so no attention mask is needed at all and SDPA keeps its
  fast causal path; pad positions are simply never gathered.
* The output layer is applied only to the positions whose next token we score (never to
  padding nor to the context), and reduces straight to ``logit[target] - logsumexp(logits)``: no
  ``[batch, time, vocab]`` fp32 log-softmax ever exists (Gemma's vocabulary is 262k; its output
  layer dominates CPU time). On the CPU it runs in blocks of the vocabulary with a running
  logsumexp, so each block's logits stay in cache: 2x faster than whole-vocabulary chunks, whose
  element-wise passes stream 256 MiB from memory several times (``benchmarks/bench_head.py``).
* Rescoring shares the prefix: the tokens common to every variant run once with a KV cache,
  then only the continuations of all candidates run, batched against a copy of that cache.
* Documents (:meth:`TokenScorer.score_documents`) are scored in one pass: each is tokenised once
  and cut at sentence starts into segments of at most ``segment_tokens`` tokens, each run with up
  to ``context_chars`` of the text before it. The pass keeps every segment's KV cache and final
  hidden states, so a local edit (:meth:`TokenScorer.rescore_edits`) runs only its own tokens and
  a short window after them: the prefix is read from the cache (rows left-padded to a common
  length, so a sliding attention window stays exact, with explicit position ids) into one buffer
  per batch with room for the tails, which the forward writes in place (transformers' own cache
  copies the whole prefix again on every layer). All edits of all documents of a call go into one
  queue, sorted by prefix length and packed by a token budget and a KV budget; results go back to
  their edits.
* CUDA: bf16 (fp16/fp32 fallback), SDPA, pinned host buffers and non-blocking copies, the next
  batch is prepared on the CPU while the GPU runs the current one, tokenisation of the next
  chunk of a long input runs in a thread, optional ``torch.compile``, and an out-of-memory
  error halves the batch and the token budget instead of failing.
"""

from __future__ import annotations

import copy
import functools
import inspect
import math
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any, Sequence

import torch

from .cards import ModelCard
from .types import Edit, RescoreRequest, ScoredText, TokenScore

# Output layer, (rows, vocabulary columns) per block. CUDA: the whole vocabulary at once (256M fp32
# logits = 1 GiB). CPU: 1024 rows stream the weights once per 1024 rows, and a 1024 x 1024 fp32
# block (4 MiB) stays in cache through the max/exp/sum passes.
_HEAD_BLOCK = {"cpu": (1024, 1024), "cuda": (None, None)}
_TOKENIZE_CHUNK = 4096  # texts tokenised per chunk when overlapping tokenisation with the GPU
# Rewrite tails' hidden states pooled across edit batches before the output layer runs over them
# (a position at a time, so that rows under their floor drop out): few rows per call would leave
# the CPU re-reading the 262k-word weights for a handful of rows.
_TAIL_POOL_ROWS = 8192
_STEP_MIN_ROWS = 64  # fewer rows than this: the remaining positions in one call, no more dropping out
_PROBE_TOKENS = 2  # a rewrite with a floor forwards this many tail tokens before the rest (most drop out by then)


@dataclass
class Segment:
    """One forward sequence over a stretch of a document (see :meth:`TokenScorer.score_documents`)."""

    ids: list[int]  # start token + context tokens + scored tokens
    offsets: list[tuple[int, int]]  # document offsets of each id (the start token: (0, 0))
    first: int  # index in ids of the first scored token
    kv: list[tuple[torch.Tensor, torch.Tensor]] | None = None  # per layer [kv_heads, len(ids), head_dim]
    hidden: torch.Tensor | None = None  # final hidden state per position [len(ids), hidden]
    logprobs: list[float] | None = None  # the first pass's log-prob of each of ids[first:]


@dataclass
class DocumentState:
    """A document's first LM pass: its scored tokens (document offsets) and what edits reuse."""

    text: str
    segments: list[Segment]
    tokens: list[TokenScore]

    def locate(self, char: int) -> tuple[Segment | None, int]:
        """The segment scoring the first token that ends after ``char``, and its index in the ids."""
        for seg in self.segments:
            k = bisect_right([e for _, e in seg.offsets], char, lo=seg.first)
            if k < len(seg.ids):
                return seg, k
        return None, 0

    def sentence(self, start: int, end: int) -> ScoredText:
        """The tokens of ``[start, end)`` with offsets relative to ``start`` (as :meth:`score` gives)."""
        ends = [t.end for t in self.tokens]
        lo = bisect_right(ends, start)
        picked = []
        for t in self.tokens[lo:]:
            if t.start >= end:
                break
            picked.append(replace(t, start=max(t.start - start, 0), end=t.end - start))
        return ScoredText(self.text[start:end], picked)

    @property
    def forward_tokens(self) -> int:
        return sum(len(s.ids) for s in self.segments)

    def release(self) -> None:
        """Drop the KV caches (the scores stay)."""
        for seg in self.segments:
            seg.kv = seg.hidden = None


@dataclass
class _Item:
    ids: list[int]  # start token + context tokens + text tokens
    first: int  # index in ids of the first scored token (>= 1)
    offsets: list[tuple[int, int]]  # text offsets of ids[first:]


def cpu_has_fast_bf16() -> bool:
    """bf16 matmuls in hardware (AVX512-BF16 or AMX); elsewhere bf16 is emulated and slower."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported()) and _cpu_flags() & {"avx512_bf16", "amx_bf16"} != set()
    except Exception:  # noqa: BLE001 - no oneDNN build: stay in fp32
        return False


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def resolve_dtype(name: str, device: str) -> torch.dtype:
    """The card's dtype for the device, or the nearest one the hardware runs fast."""
    dtype = getattr(torch, name)
    if device.startswith("cuda") and dtype == torch.bfloat16 and not torch.cuda.is_bf16_supported():
        dtype = torch.float16  # pre-Ampere cards
    if device == "cpu" and dtype == torch.float16:
        dtype = torch.float32  # fp16 matmuls are slow or missing on most CPUs
    if device == "cpu" and dtype == torch.bfloat16 and not cpu_has_fast_bf16():
        dtype = torch.float32
    return dtype


class TokenScorer:
    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        card: ModelCard | None = None,
        device: str = "cpu",
        token_budget: int | None = None,
        cache_size: int = 50_000,
        compile: bool = False,
        quantized: bool = False,
        extra_signature: dict[str, Any] | None = None,
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.card = card
        self.device = torch.device(device)
        self.kind = self.device.type
        self.dtype = next(model.parameters()).dtype if not quantized else torch.float32
        self.quantized = quantized
        self.token_budget = int(token_budget or (card.budget_for(self.kind) if card else 2048))
        positions = int(getattr(model.config, "max_position_embeddings", 0) or 1 << 30)
        self.max_context = min(int(card.max_context), positions) if card else positions
        self._decoder = model.get_decoder()
        self._head = model.get_output_embeddings()
        self._softcap = getattr(model.config, "final_logit_softcapping", None)
        self._vocab = int(getattr(self._head, "out_features", 0) or model.config.vocab_size)
        rows, cols = _HEAD_BLOCK.get(self.kind, (None, None))
        self._head_cols = cols if cols and isinstance(getattr(self._head, "weight", None), torch.Tensor) else self._vocab
        self._chunk_rows = rows or max(1, (1 << 28) // self._vocab)
        self._start_id = self._resolve_start(card)
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self._start_id
        self._fast = bool(getattr(tokenizer, "is_fast", False))
        # transformers >= 5.2x calls the KV cache argument ``cache``; older releases ``past_key_values``
        params = inspect.signature(self._decoder.forward).parameters
        self._cache_arg = "cache" if "cache" in params else "past_key_values"
        self._cache: OrderedDict[tuple[str, str], ScoredText] = OrderedDict()
        self._cache_size = cache_size
        self._extra = dict(extra_signature or {})
        self.compiled = False
        if compile:
            self._decoder.forward = torch.compile(self._decoder.forward, dynamic=True)
            self.compiled = True
        self.stats = {"forward_tokens": 0, "batches": 0, "oom_backoffs": 0, "cache_hits": 0, "edit_rows": 0,
                      "first_pass_rows": 0, "head_rows_saved": 0, "bound_rows": 0, "first_token_rows": 0,
                      "bound_head_rows": 0}
        extra = card.extra if card else {}
        self.segment_tokens = int(extra.get("segment_tokens", 512))
        self.context_chars = int(card.context_chars) if card else 600
        # rows x cached prefix length per edit batch: bounds the KV copy (Gemma: ~18 KiB per token)
        self.kv_budget = int(extra.get("kv_budget", 4096))

    # ------------------------------------------------------------------ public API

    def signature(self) -> dict[str, Any]:
        import transformers

        card = self.card
        return {
            "model": card.name if card else type(self.model).__name__,
            "dtype": str(self.dtype).replace("torch.", "") + ("+int8-dynamic" if self.quantized else ""),
            "device": str(self.device),
            "card_hash": card.card_hash if card else None,
            "backend": f"transformers {transformers.__version__} / torch {torch.__version__}",
            "compiled": self.compiled,
            **self._extra,
        }

    def score(self, texts: Sequence[str], contexts: Sequence[str] | None = None) -> list[ScoredText]:
        """Each text's tokens with natural-log probabilities; ``contexts[i]`` precedes ``texts[i]``."""
        texts = list(texts)
        contexts = list(contexts) if contexts is not None else [""] * len(texts)
        if len(contexts) != len(texts):
            raise ValueError("texts and contexts differ in length")
        results: list[ScoredText | None] = [None] * len(texts)
        pending: dict[tuple[str, str], list[int]] = {}
        for i, key in enumerate(zip(contexts, texts)):
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                self.stats["cache_hits"] += 1
                results[i] = hit
            else:
                pending.setdefault(key, []).append(i)
        keys = list(pending)
        for key, scored in zip(keys, self._score_uncached([k[1] for k in keys], [k[0] for k in keys])):
            for i in pending[key]:
                results[i] = scored
            self._remember(key, scored)
        return results  # type: ignore[return-value]

    def rescore(self, text: str, span: tuple[int, int], candidates: Sequence[str], context: str = "") -> list[float]:
        """Δ log-prob (nats) of the whole text with each candidate in ``span`` vs the original (>0: better)."""
        return self.rescore_batch([RescoreRequest(text, span, list(candidates), context)])[0]

    def rescore_batch(self, requests: Sequence[RescoreRequest]) -> list[list[float]]:
        out: list[list[float]] = []
        with torch.inference_mode():
            for request in requests:
                out.append(self._rescore_one(request) if request.candidates else [])
        return out

    def clear_cache(self) -> None:
        self._cache.clear()

    # ------------------------------------------------------------------ tokenisation

    def _resolve_start(self, card: ModelCard | None) -> int:
        tok = self.tokenizer
        for name in (card.start_token if card else None, tok.bos_token, tok.eos_token):
            if name:
                found = tok.convert_tokens_to_ids(name)
                if found is not None and found != tok.unk_token_id:
                    return int(found)
        raise ValueError("the tokenizer has no start-of-text token; set start_token in the model card")

    def _encode(self, texts: list[str], contexts: list[str]) -> list[_Item]:
        joined = [c + t for c, t in zip(contexts, texts)]
        if self._fast:
            enc = self.tokenizer(joined, add_special_tokens=False, return_offsets_mapping=True)
            all_ids, all_offsets = enc["input_ids"], enc["offset_mapping"]
        else:
            all_ids = [self.tokenizer.encode(j, add_special_tokens=False) for j in joined]
            all_offsets = [offsets_by_decoding(self.tokenizer, ids, j) for ids, j in zip(all_ids, joined)]
        items = []
        for ids, offsets, context, text in zip(all_ids, all_offsets, contexts, texts):
            n = len(context)
            first = next((k for k, (_, end) in enumerate(offsets) if end > n), len(ids))
            keep = self.max_context - 1
            if len(ids) > keep:  # drop context from the left, then (rare) text from the right
                cut = min(len(ids) - keep, first)
                ids, offsets, first = ids[cut:], offsets[cut:], first - cut
                ids, offsets = ids[:keep], offsets[:keep]
            text_offsets = [(max(s - n, 0), e - n) for s, e in offsets[first:]]
            items.append(_Item([self._start_id, *ids], first + 1, text_offsets))
        return items

    # ------------------------------------------------------------------ scoring

    def _score_uncached(self, texts: list[str], contexts: list[str]) -> list[ScoredText]:
        if not texts:
            return []
        chunks = [(s, min(s + _TOKENIZE_CHUNK, len(texts))) for s in range(0, len(texts), _TOKENIZE_CHUNK)]
        out: list[ScoredText] = []
        with torch.inference_mode():
            if self.kind == "cuda" and len(chunks) > 1:
                # Tokenise chunk k+1 in a thread (the Rust tokenizer releases the GIL) while
                # the GPU works on chunk k.
                with ThreadPoolExecutor(1) as pool:
                    future = pool.submit(self._encode, texts[slice(*chunks[0])], contexts[slice(*chunks[0])])
                    for k in range(len(chunks)):
                        items = future.result()
                        if k + 1 < len(chunks):
                            nxt = slice(*chunks[k + 1])
                            future = pool.submit(self._encode, texts[nxt], contexts[nxt])
                        out.extend(self._score_items(items, texts[slice(*chunks[k])]))
            else:
                for s, e in chunks:
                    out.extend(self._score_items(self._encode(texts[s:e], contexts[s:e]), texts[s:e]))
        return out

    def _pack(self, lengths: Sequence[int], order: Sequence[int] | None = None) -> list[list[int]]:
        """Indices sorted by length (longest first) packed so batch x longest <= token budget."""
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i]) if order is None else list(order)
        batches: list[list[int]] = []
        current: list[int] = []
        longest = 0
        for i in order:
            longest_if = max(longest, lengths[i])
            if current and longest_if * (len(current) + 1) > self.token_budget:
                batches.append(current)
                current, longest_if = [], lengths[i]
            current.append(i)
            longest = longest_if
        if current:
            batches.append(current)
        return batches

    def _score_items(self, items: list[_Item], texts: list[str]) -> list[ScoredText]:
        logprobs: list[list[float] | None] = [None] * len(items)
        queue = self._pack([len(it.ids) for it in items])
        queue.reverse()  # pop() from the end = longest batch first (fail early on OOM)
        pending: tuple[list[int], Any] | None = None
        while queue:
            batch = queue.pop()
            try:
                launched = self._launch(batch, items)
            except torch.cuda.OutOfMemoryError as exc:
                queue.extend(self._back_off(batch, exc))
                continue
            if pending is not None:  # the previous batch's copy is done by now or soon
                self._collect(pending, items, logprobs)
            pending = (batch, launched)
        if pending is not None:
            self._collect(pending, items, logprobs)
        return [
            ScoredText(text, [TokenScore(s, e, lp) for (s, e), lp in zip(it.offsets, lps or [])])
            for text, it, lps in zip(texts, items, logprobs)
        ]

    def _back_off(self, batch: list[int], exc: BaseException) -> list[list[int]]:
        if len(batch) == 1:
            raise exc
        torch.cuda.empty_cache()
        self.stats["oom_backoffs"] += 1
        self.token_budget = max(1, self.token_budget // 2)
        half = len(batch) // 2
        return [batch[half:], batch[:half]]

    def _to_device(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.kind == "cuda":
            return tensor.pin_memory().to(self.device, non_blocking=True)
        return tensor

    def _launch(self, batch: list[int], items: list[_Item]) -> Any:
        """Runs one batch; returns the per-token log-probs (on the host; possibly still copying)."""
        width = max(len(items[i].ids) for i in batch)
        ids = torch.full((len(batch), width), self._pad_id, dtype=torch.long)
        rows: list[int] = []
        targets: list[int] = []
        for b, i in enumerate(batch):
            it = items[i]
            ids[b, : len(it.ids)] = torch.tensor(it.ids)
            # position p predicts token p+1: only scored tokens, never pads, never context
            rows.extend(range(b * width + it.first - 1, b * width + len(it.ids) - 1))
            targets.extend(it.ids[it.first :])
        self.stats["forward_tokens"] += len(batch) * width
        self.stats["batches"] += 1
        hidden = self._decoder(input_ids=self._to_device(ids), use_cache=False).last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1])
        index = self._to_device(torch.tensor(rows, dtype=torch.long))
        lp = self._target_logprobs(flat.index_select(0, index), self._to_device(torch.tensor(targets)))
        if self.kind == "cuda":
            host = torch.empty(lp.shape, dtype=lp.dtype, pin_memory=True)
            host.copy_(lp, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            return host, event
        return lp, None

    def _collect(self, pending: tuple[list[int], Any], items: list[_Item], out: list[list[float] | None]) -> None:
        batch, (lp, event) = pending
        if event is not None:
            event.synchronize()
        values = lp.tolist()
        at = 0
        for i in batch:
            n = len(items[i].ids) - items[i].first
            out[i] = values[at : at + n]
            at += n

    def _logits(self, hidden: torch.Tensor, lo: int = 0, hi: int | None = None) -> torch.Tensor:
        """fp32 logits of vocabulary columns ``[lo, hi)`` (all by default), softcapped as the model does."""
        if lo == 0 and (hi is None or hi >= self._vocab):
            logits = self._head(hidden).float()
        else:
            bias = getattr(self._head, "bias", None)
            logits = torch.nn.functional.linear(
                hidden, self._head.weight[lo:hi], None if bias is None else bias[lo:hi]).float()  # fmt: skip
        return self._softcapped(logits)

    def _softcapped(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.tanh(logits / self._softcap) * self._softcap if self._softcap else logits

    def _target_logprobs(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """log p(target) for each row (``targets`` [rows] or [rows, k]: k tokens per row), through
        the output layer in row chunks and vocabulary blocks (fp32, a running logsumexp)."""
        wanted = targets.reshape(targets.shape[0], -1)
        out = torch.empty(wanted.shape, dtype=torch.float32, device=hidden.device)
        step, cols = self._chunk_rows, self._head_cols
        for s in range(0, hidden.shape[0], step):
            x, t = hidden[s : s + step], wanted[s : s + step]
            top = torch.full((x.shape[0], 1), -math.inf, device=x.device)
            total = torch.zeros((x.shape[0], 1), device=x.device)
            picked = torch.zeros(t.shape, device=x.device)
            for lo in range(0, self._vocab, cols):
                logits = self._logits(x, lo, lo + cols)
                new_top = torch.maximum(top, logits.amax(dim=1, keepdim=True))
                total = total * torch.exp(top - new_top) + torch.exp(logits - new_top).sum(dim=1, keepdim=True)
                top = new_top
                inside = (t >= lo) & (t < lo + logits.shape[1])
                picked = torch.where(inside, logits.gather(1, (t - lo).clamp(0, logits.shape[1] - 1)), picked)
            out[s : s + step] = picked - (top + total.log())
        return out.reshape(targets.shape)

    def _target_stats(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Per row [log p(target), entropy (nats), rank of the target, log p(likeliest other token)]:
        :meth:`_target_logprobs` with a running entropy, a count and a masked max in the same blocks."""
        out = torch.empty((hidden.shape[0], 4), dtype=torch.float32, device=hidden.device)
        step, cols = self._chunk_rows, self._head_cols
        single = cols >= self._vocab
        for s in range(0, hidden.shape[0], step):
            x, t = hidden[s : s + step], targets[s : s + step, None]
            n = x.shape[0]
            # the rank is counted block by block, so it needs the target's logit before the first block
            own = None if single else self._own_logits(x, t[:, 0])
            top = torch.full((n, 1), -math.inf, device=x.device)
            total = torch.zeros((n, 1), device=x.device)
            moment = torch.zeros((n, 1), device=x.device)  # sum of exp(logit - top) * logit
            picked = torch.zeros((n, 1), device=x.device)
            above = torch.zeros((n, 1), device=x.device)
            other = torch.full((n, 1), -math.inf, device=x.device)
            for lo in range(0, self._vocab, cols):
                logits = self._logits(x, lo, lo + cols)
                block_top = logits.amax(dim=1, keepdim=True)
                new_top = torch.maximum(top, block_top)
                scale = torch.exp(top - new_top)
                weights = torch.exp(logits - new_top)
                total = total * scale + weights.sum(dim=1, keepdim=True)
                moment = moment * scale + (weights * logits).sum(dim=1, keepdim=True)
                inside = (t >= lo) & (t < lo + logits.shape[1])
                mine = logits.gather(1, (t - lo).clamp(0, logits.shape[1] - 1))
                if own is None:
                    own = mine
                picked = torch.where(inside, mine, picked)
                # the target itself is not above itself (its dot-product logit may round lower)
                above += (logits > own).sum(dim=1, keepdim=True) - (inside & (mine > own)).float()
                # the block's best other token: its maximum, or its second where the target is the maximum
                best = block_top
                first = (inside & (mine >= block_top))[:, 0]
                if first.any():
                    best = best.clone()
                    best[first] = logits[first].topk(2, dim=1).values[:, 1:]
                other = torch.maximum(other, best)
                top = new_top
            log_z = top + total.log()
            out[s : s + step] = torch.cat([picked - log_z, log_z - moment / total, above, other - log_z], dim=1)
        return out

    def _own_logits(self, hidden: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """The logit of each row's own target only ([rows, 1], softcapped): one weight row per row."""
        weight = self._head.weight.index_select(0, targets)
        logits = (hidden.float() * weight.float()).sum(dim=1, keepdim=True)
        bias = getattr(self._head, "bias", None)
        if bias is not None:
            logits = logits + bias.index_select(0, targets).float()[:, None]
        return self._softcapped(logits)

    def _remember(self, key: tuple[str, str], scored: ScoredText) -> None:
        self._cache[key] = scored
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # ------------------------------------------------------------------ documents and edits

    def score_documents(
        self, texts: Sequence[str], breaks: Sequence[Sequence[int]], keep_state: bool = True
    ) -> list[DocumentState]:
        """Score whole documents in one pass; ``breaks[i]`` are the sentence starts of ``texts[i]``
        (segments are cut there when they can be). With ``keep_state`` each segment keeps its KV
        cache and hidden states for :meth:`rescore_edits`."""
        segments: list[Segment] = []
        owners: list[int] = []
        for d, text in enumerate(texts):
            for seg in self._segments(text, breaks[d]):
                segments.append(seg)
                owners.append(d)
        logprobs: list[list[list[float]]] = [[] for _ in segments]  # per token: _target_stats' row
        with torch.inference_mode():
            for batch in self._pack([len(s.ids) for s in segments]):
                self._forward_segments([segments[i] for i in batch], keep_state, [logprobs[i] for i in batch])
        states = [DocumentState(text, [], []) for text in texts]
        for seg, lps, d in zip(segments, logprobs, owners):
            states[d].segments.append(seg)
            states[d].tokens.extend(TokenScore(s, e, lp, ent, int(rank), best)
                                    for (s, e), (lp, ent, rank, best) in zip(seg.offsets[seg.first :], lps))  # fmt: skip
        return states

    def _segments(self, text: str, breaks: Sequence[int]) -> list[Segment]:
        if not text:
            return []
        if self._fast:
            enc = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            ids, offsets = list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]
        else:
            ids = self.tokenizer.encode(text, add_special_tokens=False)
            offsets = offsets_by_decoding(self.tokenizer, ids, text)
        ends = [e for _, e in offsets]
        cuts = sorted({bisect_right(ends, b) for b in breaks} - {0})
        size = max(1, min(self.segment_tokens, self.max_context - 1))
        out = []
        a = 0
        while a < len(ids):
            b = min(a + size, len(ids))
            if b < len(ids):  # end the segment at the last sentence start that fits
                k = bisect_right(cuts, b) - 1
                if k >= 0 and cuts[k] > a:
                    b = cuts[k]
            # context: the text before the segment, up to context_chars (and the segment budget)
            floor = offsets[a][0] - self.context_chars
            c = max(bisect_left([o[0] for o in offsets[:a]], floor), a - (self.max_context - 1 - (b - a)), 0)
            out.append(Segment([self._start_id, *ids[c:b]], [(0, 0), *offsets[c:b]], 1 + a - c))
            a = b
        return out

    def _forward_segments(self, segs: list[Segment], keep_state: bool, out: list[list[list[float]]]) -> None:
        width = max(len(s.ids) for s in segs)
        ids = torch.full((len(segs), width), self._pad_id, dtype=torch.long)
        rows: list[int] = []
        targets: list[int] = []
        for b, seg in enumerate(segs):
            ids[b, : len(seg.ids)] = torch.tensor(seg.ids)
            rows.extend(range(b * width + seg.first - 1, b * width + len(seg.ids) - 1))
            targets.extend(seg.ids[seg.first :])
        self.stats["forward_tokens"] += sum(len(s.ids) for s in segs)
        self.stats["batches"] += 1
        kwargs: dict[str, Any] = {}
        if keep_state:
            from transformers.cache_utils import DynamicCache

            # no config: every layer keeps its whole KV (a sliding layer's window is in the mask)
            kwargs[self._cache_arg] = DynamicCache()
        out_h = self._decoder(input_ids=self._to_device(ids), use_cache=keep_state, **kwargs)
        hidden = out_h.last_hidden_state
        flat = hidden.reshape(-1, hidden.shape[-1])
        index = self._to_device(torch.tensor(rows, dtype=torch.long))
        stats = self._target_stats(flat.index_select(0, index), self._to_device(torch.tensor(targets))).tolist()
        at = 0
        for b, seg in enumerate(segs):
            n = len(seg.ids) - seg.first
            out[b].extend(stats[at : at + n])
            at += n
            if keep_state:
                seg.logprobs = [row[0] for row in stats[at - n : at]]
                cache = kwargs[self._cache_arg]
                seg.kv = [(layer.keys[b, :, : len(seg.ids)].clone(), layer.values[b, :, : len(seg.ids)].clone())
                          for layer in cache.layers]  # fmt: skip
                seg.hidden = hidden[b, : len(seg.ids)].clone()

    def rescore_edits(self, edits: Sequence[Edit]) -> list[list[float]]:
        """Δ log-prob (nats) of each candidate of each edit against the text, over the edited tokens
        and the window up to the edit's ``stop``; the prefix comes from the first pass's KV cache."""
        out: list[list[float]] = [[0.0] * len(e.candidates) for e in edits]
        texts: list[str] = []
        rows: list[tuple[int, int, Segment, int]] = []  # edit, variant, segment, prefix length
        for n, e in enumerate(edits):
            if not e.candidates:
                continue
            state: DocumentState = e.state  # type: ignore[assignment]
            seg, p = state.locate(e.start)
            if seg is None or seg.kv is None:
                continue  # nothing scored there (or released): no evidence either way
            begin = min(seg.offsets[p][0], e.start)
            stop = max(e.stop, e.end)
            text = state.text
            for v, cand in enumerate([text[e.start : e.end], *e.candidates]):
                texts.append(text[begin : e.start] + cand + text[e.end : stop])
                rows.append((n, v, seg, p))
        if not rows:
            return out
        if self._fast:
            tails = [list(t) for t in self.tokenizer(texts, add_special_tokens=False)["input_ids"]]
        else:
            tails = [self.tokenizer.encode(t, add_special_tokens=False) for t in texts]
        tails = [t[: self.max_context - 1 - p] for t, (_, _, _, p) in zip(tails, rows)]
        known = self._first_pass_totals(rows, tails)
        heads = self._first_tokens(edits, rows, tails, known)
        base = {n: i for i, (n, v, _, _) in enumerate(rows) if v == 0}  # each edit's unedited row
        floors = self._floors(edits, rows, known, base)
        skipped = self._screen(edits, rows, known, heads, floors, base)
        totals = [known.get(i, heads.get(i, 0.0)) for i in range(len(rows))]
        order = sorted(range(len(rows)), key=lambda i: (-rows[i][3], -len(tails[i])))
        order = [i for i in order if tails[i] and i not in skipped and i not in known]
        # Rows with a floor first forward only their first tokens; the ones still over it after
        # those run again whole, and only their later tokens are scored then.
        probed = {i for i in order if floors[i] > -math.inf and len(tails[i]) > _PROBE_TOKENS + 1}
        with torch.inference_mode():
            self._run_tails([i for i in order if i in probed], rows, {i: tails[i][:_PROBE_TOKENS] for i in probed},
                            tails, totals, floors)  # fmt: skip
            self._run_tails([i for i in order if i not in probed or totals[i] > -math.inf], rows, tails,
                            tails, totals, floors, dict.fromkeys(probed, _PROBE_TOKENS))  # fmt: skip
        by_edit: dict[int, dict[int, float]] = {}
        for i, ((n, v, _, _), total) in enumerate(zip(rows, totals)):
            by_edit.setdefault(n, {})[v] = -math.inf if i in skipped else total
        for n, values in by_edit.items():
            out[n] = [values[v] - values[0] for v in range(1, len(edits[n].candidates) + 1)]
        return out

    def _first_pass_totals(self, rows: list[tuple[int, int, Segment, int]], tails: list[list[int]]) -> dict[int, float]:
        """The unedited rows whose tokens are the first pass's own: their log-probs are already known
        (same prefix, same tokens), so they need no forward. A tail tokenised differently from the
        document (a token across the window's end) is scored like the candidates."""
        known = {}
        for i, ((_, v, seg, p), tail) in enumerate(zip(rows, tails)):
            if v == 0 and tail and seg.logprobs is not None and p >= seg.first and seg.ids[p : p + len(tail)] == tail:
                known[i] = sum(seg.logprobs[p - seg.first : p - seg.first + len(tail)])
        self.stats["first_pass_rows"] += len(known)
        return known

    def _first_tokens(self, edits: Sequence[Edit], rows: list[tuple[int, int, Segment, int]],
                      tails: list[list[int]], known: dict[int, float]) -> dict[int, float]:
        """The log-prob of each row's first token, for every row still to run: every row of an edit
        shares the prefix, so one output-layer row per edit serves all its candidates (their first
        token needs no forward of its own; a one-token row is then known whole)."""
        members: dict[int, list[int]] = {}
        for i, (n, _, _, _) in enumerate(rows):
            if tails[i] and i not in known:
                members.setdefault(n, []).append(i)
        if not members:
            return {}
        edit_ids = list(members)
        width = max(len(m) for m in members.values())
        targets = torch.tensor([[tails[i][0] for i in members[n]] + [0] * (width - len(members[n])) for n in edit_ids])
        with torch.inference_mode():
            hidden = torch.stack([rows[members[n][0]][2].hidden[rows[members[n][0]][3] - 1] for n in edit_ids])  # type: ignore[index]
            lp = self._target_logprobs(hidden, self._to_device(targets)).cpu().tolist()
        heads = {}
        for n, values in zip(edit_ids, lp):
            for i, value in zip(members[n], values):
                heads[i] = value
                if len(tails[i]) == 1:
                    known[i] = value
        self.stats["head_rows_saved"] += sum(len(m) for m in members.values()) - len(edit_ids)
        return heads

    def _screen(self, edits: Sequence[Edit], rows: list[tuple[int, int, Segment, int]], known: dict[int, float],
                heads: dict[int, float], floors: list[float], base: dict[int, int]) -> set[int]:
        """Rows not worth a forward pass, from their first token's log-prob: beyond an edit's
        ``top_k`` (ranked by it), under its ``min_first`` against the text's own first token (a
        screen fitted on dev), or under its floor (:meth:`_floors`) already. Every later token's
        log-prob is <= 0, so a candidate's gain over the text is at most its first token's log-prob
        minus the text's own total (known from the first pass): an exact bound, nothing it skips
        could have reached ``min_delta``."""
        members: dict[int, list[int]] = {}
        for i, (n, v, _, _) in enumerate(rows):
            if v and i in heads:
                members.setdefault(n, []).append(i)
        skipped: set[int] = set()
        for n, mine in members.items():
            e = edits[n]
            if e.top_k is not None and len(e.candidates) > e.top_k:
                skipped.update(sorted(mine, key=lambda i: -heads[i])[e.top_k :])
            first = self._first_logprob(base[n], rows, known, heads) if e.min_first is not None else None
            if first is not None:
                unlikely = {i for i in mine if heads[i] - first < e.min_first}
                self.stats["first_token_rows"] += len(unlikely - skipped)
                skipped |= unlikely
            bounded = {i for i in mine if i not in known and heads[i] < floors[i]}  # (-inf: no floor)
            self.stats["bound_rows"] += len(bounded - skipped)
            skipped |= bounded
        return skipped

    def _run_tails(self, order: list[int], rows: list[tuple[int, int, Segment, int]], feed: Any, tails: list[list[int]],
                   totals: list[float], floors: list[float], done: dict[int, int] | None = None) -> None:
        """Forward ``feed[i]`` (a row's tail or its first tokens) after each row's cached prefix, in
        packed batches, and add to each row's total its tail tokens after the first ``done[i]``
        (default 0) as far as ``feed[i]`` reaches (:meth:`_tail_totals`)."""
        pool: list[tuple[int, torch.Tensor, int, int]] = []
        pooled = 0  # positions in the pool
        for batch in self._pack_edits(order, rows, feed):
            args = ([rows[i] for i in batch], [feed[i] for i in batch])
            try:
                hidden = list(self._edit_hidden(*args))
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                self.stats["oom_backoffs"] += 1
                self.kv_budget = max(1, self.kv_budget // 2)
                hidden = [self._edit_hidden([r], [t])[0] for r, t in zip(*args)]
            for i, h in zip(batch, hidden):
                # tail token 0 is in the total already (_first_tokens); position k - 1 predicts token k
                lo, hi = (done or {}).get(i, 0) + 1, min(len(feed[i]) + 1, len(tails[i]))
                if hi > lo:
                    pool.append((i, h[lo - 1 : hi - 1], lo, hi))
                    pooled += hi - lo
            if pooled >= _TAIL_POOL_ROWS:
                self._tail_totals(pool, tails, totals, floors)
                pool, pooled = [], 0
        self._tail_totals(pool, tails, totals, floors)

    @staticmethod
    def _floors(edits: Sequence[Edit], rows: list[tuple[int, int, Segment, int]], known: dict[int, float],
                base: dict[int, int]) -> list[float]:  # fmt: skip
        """The total each candidate row must reach to matter: the text's own total (row ``base[n]``)
        plus the edit's ``min_delta`` (-inf where there is none, or where that total is not known yet)."""
        floors = []
        for n, v, _, _ in rows:
            need = edits[n].min_delta
            floors.append(known[base[n]] + need if v and need is not None and base[n] in known else -math.inf)
        return floors

    @staticmethod
    def _first_logprob(i: int, rows: list[tuple[int, int, Segment, int]], known: dict[int, float],
                       heads: dict[int, float]) -> float | None:
        """The log-prob of row ``i``'s first token: its own first-token row, or, for a row whose
        tokens are the first pass's own (``known``), the first pass's."""
        if i in heads:
            return heads[i]
        if i in known:
            _, _, seg, p = rows[i]
            return seg.logprobs[p - seg.first]
        return None

    def _pack_edits(self, order: list[int], rows: list[tuple[int, int, Segment, int]], tails: list[list[int]]) -> list[list[int]]:
        """Rows sorted by prefix length, packed so rows x longest tail <= token budget and rows x
        (prefix + tail) <= KV budget."""
        batches: list[list[int]] = []
        current: list[int] = []
        prefix = longest = 0
        for i in order:
            p_if, n_if = max(prefix, rows[i][3]), max(longest, len(tails[i]))
            k = len(current) + 1
            if current and (k * n_if > self.token_budget or k * (p_if + n_if) > self.kv_budget):
                batches.append(current)
                current, p_if, n_if = [], rows[i][3], len(tails[i])
            current.append(i)
            prefix, longest = p_if, n_if
        if current:
            batches.append(current)
        return batches

    def _edit_hidden(self, rows: list[tuple[int, int, Segment, int]], tails: list[list[int]]) -> torch.Tensor:
        """The last hidden states [rows, longest tail, hidden] of each row's tail after its cached
        prefix; position k predicts tail token k + 1 (:meth:`_tail_totals`)."""
        from transformers.cache_utils import Cache

        width = max(len(t) for t in tails)
        prefix = max(p for _, _, _, p in rows)
        batch = len(rows)
        ids = torch.full((batch, width), self._pad_id, dtype=torch.long)
        mask = torch.zeros((batch, prefix + width), dtype=torch.long)
        positions = torch.zeros((batch, width), dtype=torch.long)
        # the rows of one edit share their prefix: one slice per run of them, broadcast into its rows
        runs: list[list[Any]] = []  # segment, prefix length, first row, rows
        for b, (_, _, seg, p) in enumerate(rows):
            if runs and runs[-1][0] is seg and runs[-1][1] == p:
                runs[-1][3] += 1
            else:
                runs.append([seg, p, b, 1])
        layers = []
        for layer in range(len(rows[0][2].kv)):  # type: ignore[arg-type]
            pair = []
            for part in (0, 1):
                like = rows[0][2].kv[layer][part]  # type: ignore[index]
                buf = like.new_zeros((batch, like.shape[0], prefix + width, like.shape[2]))
                for seg, p, first, n in runs:
                    # left-padded: the distance between a cached token and the new ones stays true,
                    # so a sliding window computed on cache positions is exact
                    buf[first : first + n, :, prefix - p : prefix] = seg.kv[layer][part][:, :p]  # type: ignore[index]
                pair.append(buf)
            layers.append(_filled_layer(*pair, prefix))
        for b, ((_, _, seg, p), tail) in enumerate(zip(rows, tails)):
            ids[b, : len(tail)] = torch.tensor(tail)
            mask[b, prefix - p : prefix + len(tail)] = 1
            positions[b] = torch.arange(p, p + width)
        self.stats["forward_tokens"] += sum(len(t) for t in tails)
        self.stats["edit_rows"] += batch
        self.stats["batches"] += 1
        return self._decoder(
            input_ids=self._to_device(ids), attention_mask=self._to_device(mask),
            position_ids=self._to_device(positions), use_cache=True, **{self._cache_arg: Cache(layers=layers)},
        ).last_hidden_state  # fmt: skip

    def _tail_totals(self, pool: list[tuple[int, torch.Tensor, int, int]], tails: list[list[int]], totals: list[float],
                     floors: list[float]) -> None:
        """Add tokens ``lo..hi-1`` of each pooled row's tail to its total (which holds its first
        token's log-prob, :meth:`_first_tokens`, and any tokens scored before); the row's hidden
        state ``k - lo`` predicts token k. The output layer runs one position at a time. Every
        log-prob is <= 0, so a row whose running total falls under its floor (:meth:`_floors`) can
        only end under it: it gets -inf and its later tokens skip the output layer (exact, like
        :meth:`_screen`'s bound)."""
        at = {j: lo for j, (_, _, lo, _) in enumerate(pool)}
        live = [j for j, (i, *_) in enumerate(pool) if floors[i] > -math.inf]
        rest = [j for j, (i, *_) in enumerate(pool) if floors[i] == -math.inf]
        while len(live) >= _STEP_MIN_ROWS:
            picked = torch.stack([pool[j][1][at[j] - pool[j][2]] for j in live])
            targets = self._to_device(torch.tensor([tails[pool[j][0]][at[j]] for j in live], dtype=torch.long))
            going = []
            for j, value in zip(live, self._target_logprobs(picked, targets).tolist()):
                i, _, _, hi = pool[j]
                totals[i] += value
                at[j] += 1
                if totals[i] < floors[i]:
                    self.stats["bound_head_rows"] += len(tails[i]) - at[j]
                    totals[i] = -math.inf
                elif at[j] < hi:
                    going.append(j)
            live = going
        # the rows without a floor, and the last few with one: their remaining positions in one call
        spans = [(j, at[j]) for j in live + rest]
        if not spans:
            return
        picked = torch.cat([pool[j][1][k - pool[j][2] :] for j, k in spans])
        targets = self._to_device(torch.tensor([t for j, k in spans for t in tails[pool[j][0]][k : pool[j][3]]],
                                               dtype=torch.long))  # fmt: skip
        values, at_value = self._target_logprobs(picked, targets).tolist(), 0
        for j, k in spans:
            i, n = pool[j][0], pool[j][3] - k
            totals[i] += sum(values[at_value : at_value + n])
            at_value += n
            if totals[i] < floors[i]:
                totals[i] = -math.inf

    # ------------------------------------------------------------------ rescoring

    def _rescore_one(self, request: RescoreRequest) -> list[float]:
        start, end = request.span
        text = request.text
        variants = [text[start:end], *request.candidates]
        full = [text[:start] + v + text[end:] for v in variants]
        items = self._encode(full, [request.context] * len(full))
        seqs = [it.ids for it in items]
        shared = _common_prefix(seqs)
        shared = max(1, min(shared, min(len(s) for s in seqs) - 1))
        prefix = self._to_device(torch.tensor([seqs[0][:shared]]))
        out = self._decoder(input_ids=prefix, use_cache=True)
        past = getattr(out, "cache", None)
        if past is None:
            past = out.past_key_values
        last = out.last_hidden_state[:, -1]
        totals = [0.0] * len(seqs)
        tails = [s[shared:] for s in seqs]
        for batch in self._pack([len(t) + shared for t in tails]):
            try:
                sums = self._score_tails([tails[i] for i in batch], past, last)
            except torch.cuda.OutOfMemoryError:
                torch.cuda.empty_cache()
                self.stats["oom_backoffs"] += 1
                sums = [self._score_tails([tails[i]], past, last)[0] for i in batch]
            for i, value in zip(batch, sums):
                totals[i] = value
        return [t - totals[0] for t in totals[1:]]

    def _score_tails(self, tails: list[list[int]], past: Any, last: torch.Tensor) -> list[float]:
        """Sum of log-probs of each tail continuing the cached prefix (batched, right-padded)."""
        width = max(len(t) for t in tails)
        ids = torch.full((len(tails), width), self._pad_id, dtype=torch.long)
        for b, t in enumerate(tails):
            ids[b, : len(t)] = torch.tensor(t)
        cache = copy.deepcopy(past)
        cache.batch_repeat_interleave(len(tails))
        kwargs = {self._cache_arg: cache}
        hidden = self._decoder(input_ids=self._to_device(ids), use_cache=True, **kwargs).last_hidden_state
        # the first tail token is predicted by the prefix's last position, token k by tail position k-1
        pred = torch.cat([last.expand(len(tails), -1)[:, None], hidden[:, :-1]], dim=1)
        rows = [b * width + k for b, t in enumerate(tails) for k in range(len(t))]
        index = self._to_device(torch.tensor(rows, dtype=torch.long))
        targets = self._to_device(torch.tensor([tok for t in tails for tok in t]))
        lp = self._target_logprobs(pred.reshape(-1, pred.shape[-1]).index_select(0, index), targets).tolist()
        sums, at = [], 0
        for t in tails:
            sums.append(sum(lp[at : at + len(t)]))
            at += len(t)
        return sums


@functools.cache
def _filled_layer_class() -> type:
    from transformers.cache_utils import DynamicLayer

    class FilledLayer(DynamicLayer):
        """A cache layer over buffers that already hold the prefix (``used`` positions) and room for
        the tail: the forward writes the tail's keys and values in place, where transformers'
        DynamicLayer copies the whole batch's prefix again on creation and on every update."""

        def __init__(self, keys: torch.Tensor, values: torch.Tensor, used: int) -> None:
            super().__init__()
            self.keys, self.values, self.used = keys, values, used
            self.device, self.is_initialized = keys.device, True

        def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any):
            end = self.used + key_states.shape[-2]
            self.keys[..., self.used : end, :] = key_states
            self.values[..., self.used : end, :] = value_states
            self.used = end
            return self.keys[..., :end, :], self.values[..., :end, :]

        def get_seq_length(self) -> int:
            return self.used

    return FilledLayer


def _filled_layer(keys: torch.Tensor, values: torch.Tensor, used: int) -> Any:
    return _filled_layer_class()(keys, values, used)


def _common_prefix(seqs: list[list[int]]) -> int:
    first = seqs[0]
    n = min(len(s) for s in seqs)
    for k in range(n):
        token = first[k]
        if any(s[k] != token for s in seqs):
            return k
    return n


def offsets_by_decoding(tokenizer: Any, ids: list[int], text: str) -> list[tuple[int, int]]:
    """Character offsets for tokenizers without an offset mapping (slow tokenizers).

    Decodes growing prefixes: token k covers the characters that decoding ids[:k+1] added to
    decoding ids[:k]. A token that ends inside a multi-byte character (one byte of an emoji)
    decodes to a replacement character; its end is held back until the character completes,
    and the pieces of one character all get that character's offsets.
    """
    offsets: list[tuple[int, int]] = []
    done = 0  # characters of text fully produced so far
    pending_start: list[int] = []
    for k in range(len(ids)):
        decoded = tokenizer.decode(ids[: k + 1], clean_up_tokenization_spaces=False)
        clean = len(decoded.rstrip("\ufffd")) if decoded.endswith("\ufffd") else len(decoded)
        clean = min(clean, len(text))
        if decoded.endswith("\ufffd") and clean <= done:
            pending_start.append(k)
            offsets.append((done, done))
            continue
        for j in pending_start:
            offsets[j] = (done, clean)
        pending_start = []
        offsets.append((done, clean))
        done = max(done, clean)
    for j in pending_start:
        offsets[j] = (done, len(text))
    return offsets
