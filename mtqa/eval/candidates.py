"""Candidate findings of the LM-free checkers on a dataset split, checked once and cached.

The learned decision (``mtqa.eval.fit_decision``) and the cross-source table score many
combinations of the same checkers' findings: each checker's own findings per text are kept
(``DocumentReport.by_checker``), so any subset can be merged and scored again without re-checking.
The cache lives in ``cache_dir()/candidates`` and is keyed by the dataset files, split, limit and
the checkers' signatures (rules, profile, gazetteer), so a changed checker is checked again.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from ..config import Settings, cache_dir
from ..document import Document
from ..findings import Finding, thaw
from .items import EvalItem
from .runner import DatasetError, files_hash, resolve_dataset, select_items

# The LM-free checkers whose findings are candidates (garble runs its rule detectors only).
CANDIDATE_CHECKERS = ("grammar", "names", "ocr", "garble", "boilerplate")
CACHE_VERSION = 3  # 3: spelling matches on a piece of a name are matches on the name


@dataclass
class Candidates:
    """Items of one dataset split and, per item, each checker's own findings."""

    dataset: str
    split: str
    limit: int | None
    dataset_hash: str
    items: list[EvalItem]
    by_checker: list[dict[str, list[Finding]]]  # parallel to items (identical texts share one dict)
    signature: dict[str, Any]
    seconds: float = 0.0


def candidate_checkers(settings: Settings | None = None) -> list[Any]:
    """The checkers in candidate mode: grammar with the full default rule set, the others as they are."""
    from ..checkers import load_checker
    from ..checkers.grammar import GrammarChecker
    from ..grammar import load_profile

    settings = settings or Settings(use_lm=False)
    if settings.use_lm:
        raise ValueError("candidates are LM-free: use Settings(use_lm=False)")
    out = []
    for name in CANDIDATE_CHECKERS:
        if name == "grammar":
            out.append(GrammarChecker(settings, profile=load_profile(settings).as_candidates()))
        else:
            out.append(load_checker(name, settings))
    return out


def _pack(f: Finding) -> tuple:
    return (f.start, f.end, f.category.value, f.severity.value, f.confidence, f.message, f.check,
            f.suggestions, thaw(f.evidence))  # fmt: skip


def _unpack(row: Sequence[Any]) -> Finding:
    return Finding(row[0], row[1], row[2], row[3], row[4], row[5], row[6], tuple(row[7]), row[8])


def collect(
    dataset: str,
    split: str = "dev",
    limit: int | None = None,
    *,
    settings: Settings | None = None,
    batch_size: int = 32,
    use_cache: bool = True,
    echo: Callable[[str], None] | None = None,
) -> Candidates:
    """Every candidate checker's findings on each item of ``dataset``'s ``split`` (cached)."""
    from ..pipeline import Pipeline
    from ..signature import run_signature

    settings = settings or Settings(use_lm=False)
    spec, files = resolve_dataset(dataset)
    items = select_items(spec.load(files), split, limit)
    dhash = files_hash(files)
    checkers = candidate_checkers(settings)
    signature = run_signature(checkers, {"calibration": None, "min_confidence": 0.0})
    # Keyed by the data and every checker's signature (grammar profile, gazetteer and rules hashes):
    # keyed by the grammar profile alone, candidates checked with an older gazetteer were reused
    # after the names index changed, and the published clean-MT false alarms were 1.3 points low.
    key = hashlib.sha256(json.dumps([CACHE_VERSION, spec.name, dhash, split, limit, signature["checkers"]],
                                    sort_keys=True, default=str).encode()).hexdigest()[:16]  # fmt: skip
    path = cache_dir() / "candidates" / f"{spec.name}-{split}-{limit or 'all'}-{key}.pkl.gz"
    if use_cache and path.is_file():
        with gzip.open(path, "rb") as handle:
            texts, packed, seconds, signature = pickle.load(handle)
    else:
        unique: dict[str, int] = {}
        for item in items:
            unique.setdefault(item.text, len(unique))
        texts = list(unique)
        packed: list[dict[str, list[tuple]]] = []
        pipeline = Pipeline(checkers)
        t0 = time.perf_counter()
        for first in range(0, len(texts), batch_size):
            docs = [Document.from_text(t, id=str(first + i)) for i, t in enumerate(texts[first : first + batch_size])]
            for report in pipeline.run(docs):
                failed = [f.checker + ": " + f.error for f in report.failures]
                if failed:  # a missing signal would silently change every number downstream
                    raise DatasetError(f"{spec.name}: checker failed: {failed[0]}")
                packed.append({name: [_pack(f) for f in found] for name, found in report.by_checker.items()})
            if echo:
                echo(f"  {spec.name}/{split}: {min(first + batch_size, len(texts))}/{len(texts)} texts")
        seconds = time.perf_counter() - t0
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        with gzip.open(tmp, "wb") as handle:
            pickle.dump((texts, packed, seconds, signature), handle, protocol=pickle.HIGHEST_PROTOCOL)
        tmp.replace(path)
    index = {t: i for i, t in enumerate(texts)}
    per_text = [{name: [_unpack(r) for r in rows] for name, rows in d.items()} for d in packed]
    by_checker = [per_text[index[item.text]] for item in items]
    return Candidates(spec.name, split, limit, dhash, items, by_checker, signature, seconds)


def cached_path_hint() -> Path:
    return cache_dir() / "candidates"
