"""A weighted edit model of how MT, ASR and OCR corrupt names (not plain edit distance).

Ops rewrite a unit (0-4 letters) of the correct name into what the system wrote: ``l -> r``,
``z -> d``, ``kh -> h``, ``ii -> iy``, ``ll -> l``, ``" " -> ""`` (merged words)... Each op costs
``-ln P(op | unit) / -ln p_floor`` clipped to ``[min_cost, 1]``; any other letter edit costs 1.
``P`` mixes a prior (``data/gazetteer/corruption_prior.toml``) with counts from Viterbi
alignments of real MT tokens to their human post-edits (hard EM on the MLQE-PE train split).
Legitimate variant pairs from GeoNames give a second set of counts: per-op log-likelihood
ratios ``ln P(op | MT error) - ln P(op | legitimate variant)`` say whether a difference looks
like an MT error (l/r, z/d) or a transliteration convention (kh/h, i/y).

Fit (writes ``data/gazetteer/corruption_costs.json`` with the SHA-256 of the data it saw)::

    python -m mtqa.gazetteer.corruption fit
"""

from __future__ import annotations

import hashlib
import json
import math
import sys
import tomllib
import zlib
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Iterator

from ..config import PACKAGE_DATA, data_dir
from .normalize import fold, is_latin, letter_groups, skeleton, skeleton_rules

PRIOR_PATH = PACKAGE_DATA / "gazetteer" / "corruption_prior.toml"
COSTS_PATH = PACKAGE_DATA / "gazetteer" / "corruption_costs.json"
POSTEDIT_FILE = "names/mlqe-pe_postedit_capitalized_token_corrections_dev_test20_train-even.jsonl"
VARIANT_FILES = (
    "names/geonames_cities15000_latin_variants_world_excl_UA_RU_BY.tsv",
    "names/geonames_cities1000_latin_variants_UA_RU_BY_part1.tsv",
)
MAX_UNIT = 4
Op = tuple[str, str]


@dataclass
class Alignment:
    cost: float
    ops: list[Op] = field(default_factory=list)  # non-identity ops only

    @property
    def edits(self) -> int:
        return len(self.ops)


class CorruptionModel:
    """``cost(canonical, observed)``: how cheaply MT turns ``canonical`` into ``observed`` (folded)."""

    def __init__(self, costs: dict[Op, float], llr: dict[Op, float] | None = None,
                 groups: dict[str, tuple[str, ...]] | None = None, meta: dict | None = None,
                 skeleton: list[list[str]] | None = None) -> None:
        self.costs = costs
        self.skeleton_rules = skeleton_rules(skeleton if skeleton is not None else load_prior()["skeleton"])
        self.llr = llr or {}
        self.groups = groups or {}
        self.meta = meta or {}
        self._by_src: dict[str, list[tuple[str, float]]] = {}
        for (src, dst), cost in costs.items():
            if src != dst:
                self._by_src.setdefault(src, []).append((dst, cost))
        self._max_src = max((len(s) for s in self._by_src), default=1)
        # The DP looks ops up by (source unit, target unit) instead of scanning every op per cell.
        self._table = {src: dict(ops) for src, ops in self._by_src.items()}
        self._dsts = frozenset(dst for ops in self._by_src.values() for dst, _ in ops)
        self._max_dst = max((len(d) for d in self._dsts), default=1)
        self._cache: dict[tuple, Alignment] = {}
        self._skeletons: dict[str, str] = {}

    # -- loading ---------------------------------------------------------------------------
    @classmethod
    def from_prior(cls) -> "CorruptionModel":
        prior = load_prior()
        costs = {(s, d): _cost(p, prior["p_floor"], prior["min_cost"]) for s, d, p in prior["ops"]}
        return cls(costs, groups=letter_groups(prior["first_letter_groups"]), meta={"fitted": False})

    @classmethod
    def load(cls, path: Path = COSTS_PATH) -> "CorruptionModel":
        if not path.exists():
            return cls.from_prior()
        data = json.loads(path.read_text())
        costs = {(s, d): float(c) for s, d, c in data["ops"]}
        llr = {(s, d): float(v) for s, d, v in data.get("llr", [])}
        meta = {k: v for k, v in data.items() if k not in ("ops", "llr")}
        return cls(costs, llr, letter_groups(data["first_letter_groups"]), meta)

    # -- scoring ---------------------------------------------------------------------------
    def cost(self, canonical: str, observed: str) -> float:
        return self.align(canonical, observed).cost

    def align(self, canonical: str, observed: str, need_ops: bool = True,
              max_cost: float | None = None) -> Alignment:
        """Viterbi alignment (cheapest op sequence) of ``canonical`` to ``observed``. With
        ``max_cost``, paths dearer than that are abandoned (the cost is then ``inf``)."""
        key = (canonical, observed, need_ops, max_cost)
        hit = self._cache.get(key)
        if hit is None:
            if len(self._cache) > 200_000:  # names repeat within and across documents; bound the memory
                self._cache.clear()
            bound = float("inf") if max_cost is None else max_cost
            hit = self._cache[key] = _align(self, canonical, observed, need_ops, bound)
        return hit

    def skeleton(self, folded: str) -> str:
        hit = self._skeletons.get(folded)
        if hit is None:
            if len(self._skeletons) > 200_000:
                self._skeletons.clear()
            hit = self._skeletons[folded] = skeleton(folded, self.skeleton_rules)
        return hit

    def mt_likeness(self, ops: Iterable[Op]) -> float:
        """Mean log-likelihood ratio of the ops: > 0 looks like an MT error, < 0 like a variant."""
        values = [self.llr.get(op, 0.0) for op in ops]
        return sum(values) / len(values) if values else 0.0


def _cost(p: float, p_floor: float, min_cost: float) -> float:
    if p <= 0:
        return 1.0
    return max(min_cost, min(1.0, math.log(p) / math.log(p_floor)))


def _align(model: CorruptionModel, a: str, b: str, need_ops: bool, bound: float = float("inf")) -> Alignment:
    n, m = len(a), len(b)
    inf = float("inf")
    width = m + 1
    dist = [inf] * ((n + 1) * width)
    back: list = [None] * ((n + 1) * width)
    dist[0] = 0.0
    table = model._table
    # Ops that can start at each position of ``a``: (source length, {target unit: cost}).
    starts = [[(k, table[a[i : i + k]]) for k in range(0, min(model._max_src, n - i) + 1) if a[i : i + k] in table]
              for i in range(n + 1)]
    # Target units present in ``b`` at each position (only those some op produces).
    dsts = model._dsts
    units = [[(length, b[j : j + length]) for length in range(0, min(model._max_dst, m - j) + 1)
              if b[j : j + length] in dsts] for j in range(m + 1)]
    for i in range(n + 1):
        row = i * width
        ops_i = starts[i]
        ai = a[i] if i < n else ""
        for j in range(m + 1):
            here = dist[row + j]
            if here > bound:
                continue
            if i < n:
                if j < m:
                    k = row + width + j + 1
                    c = here + (0.0 if ai == b[j] else 1.0)
                    if c < dist[k]:
                        dist[k] = c
                        back[k] = (i, j, ai, b[j])
                k = row + width + j
                if here + 1.0 < dist[k]:
                    dist[k] = here + 1.0
                    back[k] = (i, j, ai, "")
            if j < m:
                k = row + j + 1
                if here + 1.0 < dist[k]:
                    dist[k] = here + 1.0
                    back[k] = (i, j, "", b[j])
            if ops_i:
                for dlen, dst in units[j]:
                    for klen, costs in ops_i:
                        c = costs.get(dst)
                        if c is not None:
                            k = (i + klen) * width + j + dlen
                            if here + c < dist[k]:
                                dist[k] = here + c
                                back[k] = (i, j, a[i : i + klen], dst)
    total = dist[n * width + m]
    if total > bound:
        return Alignment(inf, [])
    ops: list[Op] = []
    if need_ops:
        k = n * width + m
        while back[k] is not None:
            i, j, src, dst = back[k]
            if src != dst:
                ops.append((src, dst))
            k = i * width + j
        ops.reverse()
    return Alignment(total, ops)


# -- fitting ---------------------------------------------------------------------------------
def load_prior() -> dict:
    with PRIOR_PATH.open("rb") as fh:
        return tomllib.load(fh)


def split_of(key: str) -> str:
    """Deterministic train/dev/test split for variant lists (by GeoNames id): 60/20/20."""
    bucket = zlib.crc32(key.encode()) % 10
    return "train" if bucket < 6 else ("dev" if bucket < 8 else "test")


def postedit_pairs(split: str | Iterable[str]) -> Iterator[dict]:
    """MT -> post-edit token pairs of the given MLQE-PE split(s): ``train``, ``dev``, ``test20``."""
    splits = {split} if isinstance(split, str) else set(split)
    with (data_dir() / POSTEDIT_FILE).open(encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if record["split"] in splits:
                yield record


def variant_rows(split: str | Iterable[str]) -> Iterator[dict]:
    """GeoNames places with their legitimate Latin variants, split by ``geonameid``."""
    splits = {split} if isinstance(split, str) else set(split)
    for name in VARIANT_FILES:
        with (data_dir() / name).open(encoding="utf-8") as fh:
            next(fh)
            for line in fh:
                gid, cc, pop, canonical, variants = line.rstrip("\n").split("\t")
                if split_of(gid) in splits:
                    yield {"geonameid": gid, "country": cc, "population": int(pop or 0),
                           "canonical": canonical, "variants": [v for v in variants.split("|") if v]}


def name_like_pair(mt: str, pe: str) -> bool:
    from wordfreq import zipf_frequency

    fm, fp = fold(mt), fold(pe)
    if fm == fp or len(fp) < 3 or not (is_latin(fm) and is_latin(fp)):
        return False
    # Ordinary words (The->Their, Sundays->Sunday) teach nothing about names.
    return zipf_frequency(fp, "en") < 4.0


def data_hash(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def fit(iterations: int = 3, log=print) -> dict:
    from rapidfuzz.distance import Indel

    prior = load_prior()
    m = float(prior["pseudo_count"])
    p_prior = {(s, d): p for s, d, p in prior["ops"]}
    positives = [(fold(r["pe_token"]), fold(r["mt_token"])) for r in postedit_pairs("train")
                 if name_like_pair(r["mt_token"], r["pe_token"])]
    negatives = []
    for row in variant_rows("train"):
        canonical = fold(row["canonical"])
        for variant in row["variants"]:
            fv = fold(variant)
            # Exonyms (Leningrad, Pechino) are not spelling variants; keep the similar ones.
            if fv != canonical and is_latin(fv) and Indel.normalized_similarity(canonical, fv) >= 0.6:
                negatives.append((canonical, fv))
    log(f"positives (MT->post-edit, train): {len(positives)}; negatives (variants, train): {len(negatives)}")
    model = CorruptionModel.from_prior()

    def count(pairs: list[Op], mdl: CorruptionModel) -> tuple[Counter, Counter, int]:
        ops: Counter = Counter()
        units: Counter = Counter()
        positions = 0
        for canonical, observed in pairs:
            alignment = mdl.align(canonical, observed)
            ops.update(alignment.ops)
            positions += len(canonical) + 1
            for ch in canonical:
                units[ch] += 1
            for src, _ in alignment.ops:
                if len(src) > 1:
                    units[src] += 1
        return ops, units, positions

    for iteration in range(iterations):
        ops, units, positions = count(positives, model)
        costs = {}
        for op in set(ops) | set(p_prior):
            src = op[0]
            n_src = positions if src == "" else units.get(src, 0)
            p = (ops.get(op, 0) + m * p_prior.get(op, 0.0)) / (n_src + m)
            cost = _cost(p, prior["p_floor"], prior["min_cost"])
            if cost < 1.0:
                costs[op] = round(cost, 4)
        model = CorruptionModel(costs, groups=letter_groups(prior["first_letter_groups"]))
        mean = sum(model.cost(c, o) for c, o in positives) / len(positives)
        log(f"iteration {iteration + 1}: {len(costs)} ops below cost 1, mean positive cost {mean:.3f}")

    pos_ops, _, _ = count(positives, model)
    neg_ops, _, _ = count(negatives, model)
    n_pos, n_neg = sum(pos_ops.values()), sum(neg_ops.values())
    llr = {}
    for op in set(pos_ops) | set(neg_ops):
        if pos_ops[op] + neg_ops[op] >= 3:
            llr[op] = round(math.log((pos_ops[op] + 0.5) / n_pos) - math.log((neg_ops[op] + 0.5) / n_neg), 4)
    paths = [data_dir() / POSTEDIT_FILE, *(data_dir() / v for v in VARIANT_FILES), PRIOR_PATH]
    result = {
        "fitted_on": {
            "postedit": POSTEDIT_FILE + " split=train", "variants": [f"{v} split=train" for v in VARIANT_FILES],
            "positives": len(positives), "negatives": len(negatives), "iterations": iterations,
        },
        "data_sha256": data_hash(paths),
        "first_letter_groups": prior["first_letter_groups"],
        "ops": sorted([s, d, c] for (s, d), c in model.costs.items()),
        "llr": sorted([s, d, v] for (s, d), v in llr.items()),
    }
    COSTS_PATH.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    log(f"wrote {COSTS_PATH}")
    return result


@lru_cache(maxsize=1)
def default_model() -> CorruptionModel:
    return CorruptionModel.load()


if __name__ == "__main__":
    if sys.argv[1:2] != ["fit"]:
        sys.exit("usage: python -m mtqa.gazetteer.corruption fit")
    fit()
