"""The default LM's document pass over a dataset split, cached: per text, every token's offsets and
first-pass numbers (log-prob, entropy, rank, likeliest other token) and its final hidden state.

    python -m mtqa.eval.lm_pass --dataset ocr --split dev

``mtqa fit-decision --lm-proposals`` builds the LM checker's proposals (``mtqa.lm.wordstats``) from
this pass for every text of the fitting sets; ``benchmarks.exp_lm_features`` also reads the hidden
states. The pass is the slow part (about 130 tokens/s with Gemma in fp32 on a 2-core CPU), so it
runs once per split and model.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import pickle
import time
from pathlib import Path
from typing import Sequence

import numpy as np


def cache_path(dataset: str, split: str, signature: dict) -> Path:
    from ..config import cache_dir

    key = hashlib.sha256(json.dumps([dataset, split, signature], sort_keys=True, default=str).encode()).hexdigest()[:16]
    return cache_dir() / "lm-pass" / f"{dataset}-{split}-{key}.pkl.gz"


def texts_of(dataset: str, split: str, groups: Sequence[str] | None = None) -> list[str]:
    from .runner import resolve_dataset, select_items

    spec, files = resolve_dataset(dataset)
    items = select_items(spec.load(files), split, None)
    return list(dict.fromkeys(item.text for item in items if groups is None or item.group in groups))


def load_or_run(dataset: str, split: str, chunk: int = 8, echo=print,
                groups: Sequence[str] | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:  # fmt: skip
    """text -> (token rows [n, 6] as ``mtqa.lm.wordstats.token_rows`` gives; hidden [n, d] float16),
    for the items of ``groups`` only when given."""
    from ..config import Settings
    from ..document import Document
    from ..lm import get_scorer
    from ..lm.wordstats import token_rows

    scorer = get_scorer(Settings())
    sig = {k: v for k, v in scorer.signature().items() if k in ("model", "dtype", "card_hash", "weights_sha256")}
    extra = {"groups": sorted(groups)} if groups is not None else {}
    path = cache_path(dataset, split, {**sig, "segment_tokens": scorer.segment_tokens, "v": 1, **extra})
    if path.is_file():
        with gzip.open(path, "rb") as handle:
            return pickle.load(handle)
    texts = texts_of(dataset, split, groups)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    t0 = time.perf_counter()
    for first in range(0, len(texts), chunk):
        docs = [Document.from_text(t) for t in texts[first : first + chunk]]
        states = scorer.score_documents([d.text for d in docs], [[s.start for s in d.sentences] for d in docs])
        for doc, state in zip(docs, states):
            tokens = token_rows(state.tokens)
            hidden = [seg.hidden[seg.first :].float().numpy().astype(np.float16) for seg in state.segments]
            out[doc.text] = (tokens, np.concatenate(hidden) if hidden else np.zeros((0, 1), np.float16))
            state.release()
        echo(f"{dataset}/{split}: {min(first + chunk, len(texts))}/{len(texts)} texts, {time.perf_counter() - t0:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wb", compresslevel=1) as handle:
        pickle.dump(out, handle, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return out


def token_rows_of(dataset: str, split: str, echo=print, groups: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """text -> token rows (the hidden states dropped)."""
    return {text: rows for text, (rows, _) in load_or_run(dataset, split, echo=echo, groups=groups).items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", action="append", required=True)
    ap.add_argument("--split", default="dev")
    ap.add_argument("--chunk", type=int, default=8, help="texts per call (their KV caches are held together)")
    ap.add_argument("--groups", help="comma-separated item groups (DEMETR: clean,clean:reference)")
    args = ap.parse_args(argv)
    for name in args.dataset:
        load_or_run(name, args.split, args.chunk, groups=args.groups.split(",") if args.groups else None)


if __name__ == "__main__":
    main()
