"""Language-model core: batched per-token surprisal and candidate rescoring.

Importing this package does not import torch or transformers; :func:`get_scorer` does.

    scorer = get_scorer(Settings())                 # cached per (model card, device, dtype)
    [scored] = scorer.score(["The army lost it's base"])
    scored.word_surprisal(14, 18), scored.next_surprisal(18)   # bits
    scorer.rescore("The army lost it's base", (14, 18), ["its"])  # Δ log-prob in nats, >0 = better

Offsets in a :class:`ScoredText` are ``str`` indices into the scored text (not its context).
:func:`sentence_scores` reads each sentence's scores from the document's one LM pass
(:func:`document_states`); its offsets are relative to each sentence start: use
:func:`to_document_offsets` (or ``ScoredText.shifted(sentence.start)``) to move them into
``Document.text``. :func:`rescore_edits` scores local rewrites of many documents in one queue over
that pass's KV caches.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any, Sequence

from .types import Edit, RescoreRequest, ScoredText, TokenScore

if TYPE_CHECKING:  # pragma: no cover
    from ..config import Settings
    from ..document import Document
    from .scorer import TokenScorer

__all__ = [
    "Edit",
    "document_states",
    "rescore_edits",
    "release_states",
    "RescoreRequest",
    "ScoredText",
    "TokenScore",
    "TokenScorer",
    "get_scorer",
    "sentence_scores",
    "sentence_scores_many",
    "sentence_context",
    "to_document_offsets",
    "resolve_device",
]

_SCORERS: dict[tuple[str, str, str], "TokenScorer"] = {}
_LOCK = threading.Lock()


def __getattr__(name: str) -> Any:  # TokenScorer is importable from here without importing torch early
    if name == "TokenScorer":
        from .scorer import TokenScorer

        return TokenScorer
    raise AttributeError(name)


def resolve_device(setting: str | None) -> str:
    import torch

    if setting in (None, "", "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' requested but torch sees no CUDA device")
    return setting


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def get_scorer(settings: "Settings") -> "TokenScorer":
    """The scorer for ``settings.model`` on ``settings.device``; built once per process.

    Environment knobs: ``MTQA_THREADS`` (CPU threads), ``MTQA_TOKEN_BUDGET`` (padded tokens per
    batch), ``MTQA_COMPILE=1`` (torch.compile the decoder), ``MTQA_INT8=1`` (dynamic int8 linear
    layers on the CPU; off by default, see benchmarks/README.md for its measured effect).
    """
    import torch

    from .cards import load_card, load_model_and_tokenizer
    from .scorer import TokenScorer, resolve_dtype

    card = load_card(getattr(settings, "model", None))
    device = resolve_device(getattr(settings, "device", "auto"))
    dtype = resolve_dtype(card.dtype_for(device), device)
    int8 = device == "cpu" and _env_flag("MTQA_INT8")
    key = (str(card.path or card.name), device, str(dtype) + ("+int8" if int8 else ""))
    with _LOCK:
        if key in _SCORERS:
            return _SCORERS[key]
        threads = getattr(settings, "threads", None) or os.environ.get("MTQA_THREADS")
        if threads and device == "cpu":
            torch.set_num_threads(int(threads))
        model, tokenizer = load_model_and_tokenizer(card, dtype)
        model.to(device)
        if int8:
            model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        budget = os.environ.get("MTQA_TOKEN_BUDGET")
        scorer = TokenScorer(
            model,
            tokenizer,
            card=card,
            device=device,
            token_budget=int(budget) if budget else None,
            compile=_env_flag("MTQA_COMPILE"),
            quantized=int8,
        )
        _SCORERS[key] = scorer
        return scorer


def sentence_context(doc: "Document", index: int, max_chars: int) -> str:
    """Preceding text of the document for sentence ``index``: whole earlier sentences that fit in
    ``max_chars`` (at least the tail of the previous one, cut at a space)."""
    sentences = doc.sentences
    start = sentences[index].start
    begin = start
    for j in range(index - 1, -1, -1):
        if start - sentences[j].start > max_chars:
            break
        begin = sentences[j].start
    if begin == start and index > 0:  # the previous sentence alone is too long: keep its tail
        cut = max(0, start - max_chars)
        space = doc.text.find(" ", cut, start)
        begin = space + 1 if space != -1 else cut
    return doc.text[begin:start]


def _key(scorer: "TokenScorer") -> str:
    sig = scorer.signature()
    return f"{sig['model']}|{sig['dtype']}|{sig['device']}|{sig['card_hash']}"


_STATE = "lm.state|"


def document_states(docs: Sequence["Document"], scorer: "TokenScorer") -> list[Any]:
    """Each document's first LM pass (one batched call for the documents not scored yet), memoised
    on the document: its token scores and the KV caches that :func:`rescore_edits` reuses."""
    key = _STATE + _key(scorer)
    todo: list["Document"] = []
    for doc in docs:
        if key not in doc._annotations and doc not in todo:
            todo.append(doc)
    if todo:
        states = scorer.score_documents([d.text for d in todo], [[s.start for s in d.sentences] for d in todo])
        for doc, state in zip(todo, states):
            doc._annotations[key] = state
    return [doc._annotations[key] for doc in docs]


def release_states(docs: Sequence["Document"]) -> None:
    """Free the documents' first-pass states (KV caches); a later edit scores the document anew.
    The sentence scores (``lm.sentences``) stay."""
    for doc in docs:
        for name in [n for n in doc._annotations if n.startswith(_STATE)]:
            doc._annotations.pop(name).release()


def rescore_edits(scorer: "TokenScorer", edits: Sequence[tuple]) -> list[list[float]]:
    """Δ log-prob (nats) per candidate of each ``(doc, start, end, candidates, stop[, top_k[, min_delta[, min_first]]])`` edit,
    offsets into ``doc.text``: one queue for all edits of all documents (``TokenScorer.rescore_edits``)."""
    if not edits:
        return []
    docs = list(dict.fromkeys(e[0] for e in edits))
    states = dict(zip(docs, document_states(docs, scorer)))
    return scorer.rescore_edits([Edit(states[e[0]], *e[1:]) for e in edits])


def sentence_scores_many(docs: Sequence["Document"], scorer: "TokenScorer") -> list[list[ScoredText]]:
    """:func:`sentence_scores` for many documents in one batched scorer call."""
    key = _key(scorer)
    todo = [d for d in dict.fromkeys(docs) if key not in d.annotation("lm.sentences", lambda _: {})]
    for doc, state in zip(todo, document_states(todo, scorer)):
        doc.annotation("lm.sentences", lambda _: {})[key] = [state.sentence(s.start, s.end) for s in doc.sentences]
    return [doc.annotation("lm.sentences", lambda d: {})[key] for doc in docs]


def sentence_scores(doc: "Document", scorer: "TokenScorer") -> list[ScoredText]:
    """Each sentence of ``doc`` as the document's one LM pass scored it (the preceding text of its
    segment is its context; memoised on the document under ``"lm.sentences"``, one entry per scorer).

    Offsets are relative to each sentence's start; see :func:`to_document_offsets`."""
    return sentence_scores_many([doc], scorer)[0]


def to_document_offsets(doc: "Document", scored: Sequence[ScoredText]) -> list[list[TokenScore]]:
    """Per-sentence token scores with offsets into ``doc.text``."""
    return [s.shifted(span.start) for s, span in zip(scored, doc.sentences)]
