"""Fit the `lm` checker's thresholds on data and write them to mtqa/data/lm_thresholds.yaml.

    python -m mtqa.lm.calibrate --model smollm2-135m --n 120

Data (read in place from MTQA_DATA_DIR, never copied): DEMETR's cleaned news MT sentences
(``mt_sent``) are the negatives. Positives are synthetic real-word errors made from *other*
clean sentences: one lower-case word replaced by one of its own candidates (a confusion-set
member, an inflection, a word-family member or a spelling neighbour), so the right fix is known,
plus DEMETR's ``minor_id13_pos_shift`` sentences that differ from their clean sentence in one word
(real-word POS shifts such as died -> death; the fix is the clean word). All three sets come from
disjoint DEMETR items of the evaluation's development split, so `mtqa eval demetr` (test split)
reports on sentences the thresholds never saw.

Fitted: the noisy-channel costs (nats) of each candidate kind, of one character edit and of a
changed first letter, chosen on a small grid to maximise recall on the positives at a threshold that flags at
most ``--fp-rate`` of the clean sentences; ``warn`` is that threshold, ``error`` the threshold at
a tenth of that rate, and the confidence is a logistic fit of (adjusted score -> right flag).
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..config import Settings, data_dir
from ..document import Document

DEMETR = Path("demetr") / "demetr_items_0001-0600.jsonl.gz"


def load_demetr() -> list[dict[str, Any]]:
    """DEMETR items of the development split (the split `mtqa eval` uses)."""
    from ..eval.items import hash_split

    path = data_dir() / DEMETR
    if not path.exists():
        raise FileNotFoundError(f"{path} not found (set MTQA_DATA_DIR)")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        items = [json.loads(line) for line in handle]
    return [it for it in items if hash_split(f"demetr|{it['id']}") == "dev"]


def make_synthetic(items: list[dict[str, Any]], checker: Any, rng: random.Random) -> list[dict[str, Any]]:
    """One substituted word per sentence; keeps only substitutions whose fix is among the candidates."""
    gen = checker.generator
    out = []
    for item in items:
        doc = Document.from_text(item["mt_sent"])
        words = [t for k, t in enumerate(doc.tokens) if k > 0 and t.text.isalpha() and t.text.islower()
                 and gen.known(t.text)]
        rng.shuffle(words)
        for token in words[:5]:
            cands = gen.candidates(token.text)
            rng.shuffle(cands)
            for cand in cands:
                # MT real-word errors keep the word's root: no DEMETR pos_shift item changes the
                # first letter, so synthetic errors do not either
                if cand.first_letter_changed and cand.kind == "spelling":
                    continue
                if token.text in [c.word for c in gen.candidates(cand.word)]:
                    text = doc.text[: token.start] + cand.word + doc.text[token.end :]
                    out.append({"text": text, "start": token.start, "fix": token.text, "source": "synthetic"})
                    break
            else:
                continue
            break
    return out


def pos_shift_positives(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """DEMETR minor_id13_pos_shift sentences that differ from their clean sentence in one word."""
    from ..text import WORD_RE

    out = []
    for item in items:
        pert = item["perturbations"].get("minor_id13_pos_shift") or {}
        if not pert.get("pert_check"):
            continue
        clean = pert.get("mt_sent") or item["mt_sent"]
        a, b = list(WORD_RE.finditer(clean)), list(WORD_RE.finditer(pert["pert_sent"]))
        if len(a) != len(b):
            continue
        diff = [(x, y) for x, y in zip(a, b) if x.group() != y.group()]
        if len(diff) != 1:
            continue
        x, y = diff[0]
        out.append({"text": pert["pert_sent"], "start": y.start(), "fix": x.group().lower(), "source": "pos_shift"})
    return out


def _best_at(examined: dict, doc_index: int, start: int | None, costs: dict[str, float]):
    """(best adjusted score, the checker's first suggestion) over a document's examined words, or
    only the word at ``start``."""
    best = (-math.inf, None)
    for ex in examined.get(doc_index, ()):
        if start is not None and ex.token.start != start:
            continue
        adjusted, cand, _ = ex.best(costs)
        if adjusted > best[0]:
            fixes = ex.fixes(costs)
            best = (adjusted, fixes[0][0] if fixes else cand)
    return best


def fit(model: str, n: int, fp_rate: float, seed: int) -> dict[str, Any]:
    from ..checkers.lm import LMChecker

    rng = random.Random(seed)
    items = load_demetr()
    if 3 * n > len(items):  # three disjoint sets of n items
        n = len(items) // 3
        print(f"only {len(items)} dev items: n lowered to {n}", file=sys.stderr)
    rng.shuffle(items)
    clean_items, synth_items = items[:n], items[n : 2 * n]
    checker = LMChecker(Settings(model=model, device="cpu"))
    checker._thresholds = {"min_suspicion": 0.0}
    # positives: synthetic substitutions and DEMETR's POS shifts, from items disjoint from the clean ones
    synthetic = make_synthetic(synth_items, checker, rng) + pos_shift_positives(items[2 * n : 3 * n])
    t0 = time.perf_counter()
    clean_docs = [Document.from_text(it["mt_sent"]) for it in clean_items]
    synth_docs = [Document.from_text(s["text"]) for s in synthetic]
    ex_clean = checker.examine(clean_docs, min_suspicion=0.0)
    print(f"clean: {len(clean_docs)} sentences in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    ex_synth = checker.examine(synth_docs, min_suspicion=0.0)
    print(f"synthetic: {len(synth_docs)} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)

    by_doc_clean: dict[int, list] = {}
    for ex in ex_clean:
        by_doc_clean.setdefault(ex.doc, []).append(ex)
    by_doc_synth: dict[int, list] = {}
    for ex in ex_synth:
        by_doc_synth.setdefault(ex.doc, []).append(ex)
    # suspicion of the corrupted words: the floor keeps 95% of them
    susp = [ex.suspicion for ex in ex_synth if ex.token.start == synthetic[ex.doc]["start"]]
    min_suspicion = float(np.percentile(susp, 5)) if susp else 0.0
    examined_share = len(susp) / max(1, len(synthetic))

    best: dict[str, Any] | None = None
    grid = itertools.product([0.5, 1.0, 1.5, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0], [0.0, 1.0, 2.0],
                             [0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0])
    for per_edit, conf, infl, fam, spell, first in grid:
        costs = {"per_edit": per_edit, "confusion": conf, "inflection": infl, "family": fam, "spelling": spell,
                 "first_letter": first}
        clean_max = [_best_at(by_doc_clean, d, None, costs)[0] for d in range(len(clean_docs))]
        clean_max = [v if math.isfinite(v) else -50.0 for v in clean_max]
        warn = max(0.0, float(np.quantile(clean_max, 1 - fp_rate)))
        hits = {"synthetic": 0, "pos_shift": 0}
        for d, s in enumerate(synthetic):
            adjusted, cand = _best_at(by_doc_synth, d, s["start"], costs)
            hits[s["source"]] += bool(cand is not None and adjusted >= warn and cand.word == s["fix"])
        recall = sum(hits.values()) / max(1, len(synthetic))
        if best is None or recall > best["recall"]:
            best = {"costs": costs, "warn": warn, "recall": recall, "clean_max": clean_max, "hits": hits}
    assert best is not None
    costs = best["costs"]
    warn = best["warn"]
    error = max(warn, float(np.quantile(best["clean_max"], 1 - fp_rate / 10)))
    # logistic confidence: adjusted score -> P(a right flag), fitted on clean maxima vs positives
    xs, ys = [], []
    for v in best["clean_max"]:
        xs.append(v), ys.append(0.0)
    for d, s in enumerate(synthetic):
        adjusted, cand = _best_at(by_doc_synth, d, s["start"], costs)
        if math.isfinite(adjusted):
            xs.append(adjusted), ys.append(1.0 if cand.word == s["fix"] else 0.0)
    slope, midpoint = _logistic(np.array(xs), np.array(ys))
    totals = {src: sum(1 for s in synthetic if s["source"] == src) for src in ("synthetic", "pos_shift")}
    clean_flags = sum(1 for v in best["clean_max"] if v >= warn)
    return {
        "costs": costs,
        "min_suspicion": round(min_suspicion, 3),
        "warn": round(warn, 3),
        "error": round(error, 3),
        "slope": round(slope, 4),
        "midpoint": round(midpoint, 4),
        "dtype": checker.scorer.signature()["dtype"],
        "fitted_on": (f"demetr dev split: mt_sent x{len(clean_docs)} (clean) + {totals['synthetic']} synthetic substitutions "
                      f"+ {totals['pos_shift']} demetr pos_shift, "
                      f"seed {seed}, fp_rate {fp_rate}"),
        "measured": {
            "recall_right_fix": round(best["recall"], 4),
            "synthetic_flagged_right_fix": f"{best['hits']['synthetic']}/{totals['synthetic']}",
            "pos_shift_flagged_right_fix": f"{best['hits']['pos_shift']}/{totals['pos_shift']}",
            "positive_word_examined_share": round(examined_share, 4),
            "clean_sentences_flagged": f"{clean_flags}/{len(clean_docs)}",
            "seconds": round(time.perf_counter() - t0, 1),
        },
    }


def _logistic(x: np.ndarray, y: np.ndarray, steps: int = 3000) -> tuple[float, float]:
    a, b = 1.0, 0.0  # p = sigmoid(a * x + b)
    scale = max(1e-6, float(np.std(x)))
    xs = (x - float(np.mean(x))) / scale
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(a * xs + b)))
        a -= 0.5 * float(np.mean((p - y) * xs))
        b -= 0.5 * float(np.mean(p - y))
    slope = a / scale
    midpoint = float(np.mean(x)) - b * scale / a if a else float(np.mean(x))
    return slope, midpoint


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--n", type=int, default=92, help="items per set (three disjoint sets of dev items)")
    parser.add_argument("--fp-rate", type=float, default=0.01)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    from ..checkers.lm import THRESHOLDS_FILE

    out = args.out or THRESHOLDS_FILE
    result = fit(args.model, args.n, args.fp_rate, args.seed)
    data = yaml.safe_load(out.read_text()) if out.exists() else {}
    data = data or {}
    data.setdefault("models", {})[args.model] = result
    out.write_text(
        "# Written by `python -m mtqa.lm.calibrate`; do not edit by hand (re-run it instead).\n"
        + yaml.safe_dump(data, sort_keys=False)
    )
    print(yaml.safe_dump({args.model: result}, sort_keys=False))


if __name__ == "__main__":
    main()
