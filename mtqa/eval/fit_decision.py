"""Fit the learned decision over the LM-free candidates, and validate it across sources.

    mtqa fit-decision                      # fit models/decision.json on the dev splits
    mtqa eval --cross-source               # the cross-source table (dev), fitting the fold models
    mtqa eval --cross-source --split test  # the same on the test splits (once, at the end)

The candidates are every finding of the LM-free checkers (grammar in candidate mode: every
LanguageTool match of the full default rule set, see ``mtqa.eval.candidates``). Overlapping ones
are merged by the combiner; each merged candidate is labelled by the dataset's gold (as the
calibration does) and described by ``mtqa.decision.candidate_features``. A histogram gradient-
boosted classifier (scikit-learn) is fitted on them, its score calibrated by a sigmoid fitted on
out-of-fold scores (records grouped, so one document never sits on both sides), and exported as
trees in JSON for ``mtqa.decision`` to evaluate with numpy. The report threshold is the one with
the best mean F1 on out-of-fold dev predictions under the false-alarm budget: at most 5 % of
DEMETR's clean MT sentences (dev) with a finding, one standard error included, none in
``tests/fixtures/clean_news.txt``.

Cross-source folds fit on every dev record except one source and score that source: Overproof
SMH vs ICDAR2017 (OCR), MQM TED vs generalMT2023, MLQE-PE language pairs one at a time (word
tags and the name post-edits of that pair together, because they share sentences).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..calibration import data_hash as hash_of_data
from ..calibration import family
from ..combiner import LM_PROPOSALS, Combiner, is_candidate
from ..config import PROJECT_DIR
from ..decision import KIND, VERSION, Decision, candidate_features, vectorize
from ..document import Document
from ..findings import Finding
from .candidates import Candidates, candidate_checkers, collect
from .datasets import DATASETS
from .items import EvalItem, hash_fraction

# DEMETR is not fitted on, only held to the false-alarm budget: fitted on (all its errors injected,
# among them case changes) the model learned that LanguageTool's casing rules find real errors and
# flagged "the secretary of state" in the clean fixture; the threshold that stopped it (0.9) cost
# OCR F1 0.13 on dev.
FIT_DATASETS = ("ocr", "names", "mt_mqm", "mt_qe_wordtags")
F1_DATASETS = ("ocr", "names", "mt_mqm", "mt_qe_wordtags")  # the report threshold maximises their mean F1
BUDGET_DATASET = "demetr"  # clean MT sentences (dev): the false-alarm budget
LOADED = (*FIT_DATASETS, BUDGET_DATASET)
# Its perturbation groups fitted on too (a record's perturbed and clean sentences share a fold).
# None: its misspelled and char-removed words lifted clean MT's names that look like typos of common
# words with them, and the budget then cost every dataset (python -m benchmarks.exp_typo_labels).
TYPO_GROUPS: tuple[str, ...] = ()
# The LM pass over DEMETR covers its clean sentences only: they are the false-alarm budget. Its
# perturbed sentences get no LM proposals, so DEMETR detection with them is a lower bound.
LM_PASS_GROUPS = {BUDGET_DATASET: ("clean", "clean:reference")}
CLEAN_FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "clean_news.txt"
MAX_CLEAN_FALSE_ALARMS = 0.05
# The budget must hold on the next feed, not only on these 276 sentences: the rate plus one standard
# error stays within it (the news profile's 2.5 % on dev was 3.8 % on other DEMETR items).
BUDGET_STANDARD_ERRORS = 1.0
THRESHOLDS = tuple(round(float(t), 3) for t in np.arange(0.3, 0.96, 0.025))
# The LM's proposals' own operating point (inf: none reported), chosen with the report threshold
# under the same budget: they are many per sentence, the other candidates few.
LM_THRESHOLDS = (0.7, 0.8, 0.85, 0.9, 0.95, math.inf)
# The names checker's operating point is chosen with the report threshold, under the same budget:
# its own threshold (fitted on synthetic corruptions, with no clean MT) let it flag unlisted foreign
# names on DEMETR's clean MT (Kolonko -> Colombo, Catri -> Katri) in 8 of 276 sentences. A veto by
# the decision's probability instead dropped the seed article's "Balacria" and "Hannah Maryal"
# (p 0.36 and 0.44: the decision has seen no such names in context).
VETO_FAMILIES = ("gazetteer",)
VETO_THRESHOLDS = (0.0, 0.45, 0.5, 0.55, 0.6)
# ... and it must leave the names checker what issue 16 asks of it: synthetic corruptions of
# GeoNames towns in single sentences (the dev towns here; bench-names reports the test towns) found
# at a recall of at least this, one standard error included.
MIN_NAMES_RECALL = 0.6
MIN_FEATURE_ROWS = 20  # a feature present on fewer fitting candidates is not used
INNER_FOLDS = 2  # out-of-fold scores for the sigmoid and the threshold (2: a fit must fit a 2-core CPU)
SEED = 0
# the metric a row is judged by (F1 of the error class)
ROW_METRIC = {"ocr": "f1", "names": "f1", "mt_mqm": "f1", "mt_qe_wordtags": "f1_bad"}
MLQE_PAIRS = ("et-en", "ne-en", "ro-en", "ru-en", "si-en")
HGB_PARAMS = dict(max_iter=60, learning_rate=0.15, max_leaf_nodes=15, min_samples_leaf=40, l2_regularization=1.0,
                  max_features=0.5, early_stopping=False, random_state=SEED)  # fmt: skip


def source_of(dataset: str, item: EvalItem) -> str:
    """Which source of its dataset an item comes from (the unit held out across sources)."""
    if dataset == "ocr":
        return item.group  # overproof | icdar2017
    if dataset == "mt_mqm":
        return "ted" if "ted" in item.id.split("|", 1)[0].lower() else "generalMT2023"
    if dataset in ("mt_qe_wordtags", "names"):
        return item.record.split("|", 1)[0]  # the language pair
    return dataset


@dataclass(frozen=True)
class Fold:
    """Fit on every fitting dataset's records except ``held_out`` (dataset, source) pairs; score those."""

    name: str
    held_out: tuple[tuple[str, str], ...]


def cross_source_folds() -> list[Fold]:
    folds = [Fold("OCR: ICDAR2017 held out (fit on Overproof SMH + the rest)", (("ocr", "icdar2017"),)),
             Fold("OCR: Overproof SMH held out (fit on ICDAR2017 + the rest)", (("ocr", "overproof"),)),
             Fold("MQM: generalMT2023 held out (fit on TED + the rest)", (("mt_mqm", "generalMT2023"),)),
             Fold("MQM: TED held out (fit on generalMT2023 + the rest)", (("mt_mqm", "ted"),))]  # fmt: skip
    folds += [Fold(f"MLQE-PE: {lp} held out", (("mt_qe_wordtags", lp), ("names", lp))) for lp in MLQE_PAIRS]
    return folds


# --------------------------------------------------------------------------- candidates per text


@dataclass
class Table:
    """One dataset split's merged candidates, features and labels (findings per item)."""

    dataset: str
    split: str
    items: list[EvalItem]
    sources: list[str]
    merged: list[list[Finding]]  # per item: every candidate checker's findings, merged
    by_checker: list[dict[str, list[Finding]]]
    rows: list[dict[str, float]]  # per merged candidate of each unique text
    row_of: list[list[int]]  # per item: the row of each of its merged findings
    dataset_hash: str = ""
    labels: list[tuple[int, int, bool]] = field(default_factory=list)  # (item, row, label), deduplicated
    lm_rows: set[int] = field(default_factory=set)  # rows of the LM's proposals (their own model)


def build_table(c: Candidates, lm_passes: Mapping[str, np.ndarray] | None = None) -> Table:
    """``lm_passes``: each text's first-pass token rows (``mtqa.eval.lm_pass``): the LM checker's
    proposals join the candidates, as at run time with the LM on."""
    spec = DATASETS[c.dataset]
    combiner = Combiner()
    by_text: dict[str, tuple[list[Finding], list[int]]] = {}
    rows: list[dict[str, float]] = []
    merged, row_of = [], []
    lm_rows: set[int] = set()
    if lm_passes is not None:
        from ..checkers.lm import load_config
        from ..lm.wordstats import propose

        rank = int(load_config()["propose_min_rank"])
        with_lm: dict[str, dict[str, list[Finding]]] = {}
        for item, found in zip(c.items, c.by_checker):
            if item.text not in with_lm:
                rows_of = lm_passes.get(item.text)
                if rows_of is None and c.dataset in FIT_DATASETS:
                    raise ValueError(f"{c.dataset}/{c.split}: no LM pass for item {item.id}")
                with_lm[item.text] = {**found, "lm": [] if rows_of is None else propose(item.text, rows_of, rank)}
        c = replace(c, by_checker=[with_lm[item.text] for item in c.items])
    for item, found in zip(c.items, c.by_checker):
        if item.text not in by_text:
            fs = combiner.merge([f for name in found for f in found[name]], item.text)
            ids = list(range(len(rows), len(rows) + len(fs)))
            rows += [candidate_features(f, item.text) for f in fs]
            lm_rows.update(r for f, r in zip(fs, ids) if f.evidence.get("proposal") in LM_PROPOSALS)
            by_text[item.text] = (fs, ids)
        fs, ids = by_text[item.text]
        merged.append(fs)
        row_of.append(ids)
    table = Table(c.dataset, c.split, c.items, [source_of(c.dataset, it) for it in c.items], merged,
                  c.by_checker, rows, row_of, c.dataset_hash, lm_rows=lm_rows)  # fmt: skip
    seen = set()
    for i, (item, fs) in enumerate(zip(c.items, merged)):
        for f, r in zip(fs, row_of[i]):
            label = spec.label(item, f)
            if label is None:
                continue
            key = (item.record, f.check, item.text[f.start : f.end], bool(label))
            if key not in seen:  # one sentence rated by three raters counts once per label
                seen.add(key)
                table.labels.append((i, r, bool(label)))
    return table


def load_tables(split: str, datasets: Sequence[str], limit: Mapping[str, int | None] | None = None,
                echo: Callable[[str], None] | None = None, lm: bool = False) -> dict[str, Table]:  # fmt: skip
    """Each dataset's candidates; with ``lm`` also the LM checker's proposals (the pass runs once per
    split and is cached: an hour or more per split on a CPU)."""
    from .lm_pass import token_rows_of

    out = {}
    for name in datasets:
        n = (limit or {}).get(name)
        if echo:
            echo(f"candidates: {name}/{split} (limit {n}{', LM proposals' if lm else ''})")
        passes = token_rows_of(name, split, echo=echo or (lambda _: None), groups=LM_PASS_GROUPS.get(name)) if lm else None
        out[name] = build_table(collect(name, split, n, echo=echo), passes)
    return out


# --------------------------------------------------------------------------- fitting


@dataclass
class Fitted:
    decision: Decision
    oof: dict[str, np.ndarray]  # dataset -> out-of-fold probability per row (fitting rows only; NaN elsewhere)
    threshold_table: list[dict[str, Any]]


def _training_set(tables: Mapping[str, Table], exclude: Iterable[tuple[str, str]] = (), lm: bool = False):
    """The labelled candidates (``lm``: the LM's proposals; else the others)."""
    exclude = set(exclude)
    refs, y, groups, weights = [], [], [], []
    for name in _fitted(tables):
        t = tables[name]
        chosen = [(i, r, lab) for i, r, lab in _labels(name, t, exclude) if (r in t.lm_rows) == lm]
        if not chosen:
            continue
        w = 1.0 / len(chosen)  # every dataset weighs the same, whatever its size
        for i, r, lab in chosen:
            refs.append((name, r))
            y.append(lab)
            groups.append(f"{name}|{t.items[i].record}")
            weights.append(w)
    w = np.asarray(weights)
    return refs, np.asarray(y, dtype=int), groups, w * len(w) / w.sum()


def _fitted(tables: Mapping[str, Table]) -> list[str]:
    """The datasets of ``tables`` that labels are fitted on (DEMETR only for ``TYPO_GROUPS``)."""
    return [n for n in (*FIT_DATASETS, *((BUDGET_DATASET,) if TYPO_GROUPS else ())) if n in tables]


def _labels(name: str, t: Table, exclude: set[tuple[str, str]]) -> list[tuple[int, int, int]]:
    """``t``'s labels that are fitted on: none from an excluded source, and of DEMETR only its
    ``TYPO_GROUPS``."""
    return [(i, r, lab) for i, r, lab in t.labels
            if (name, t.sources[i]) not in exclude and (name != BUDGET_DATASET or t.items[i].group in TYPO_GROUPS)]


def _select_features(rows: Sequence[Mapping[str, float]]) -> list[str]:
    counts: dict[str, int] = {}
    for row in rows:
        for key, value in row.items():
            if value != 0.0 and not (isinstance(value, float) and math.isnan(value)):
                counts[key] = counts.get(key, 0) + 1
    return sorted(k for k, n in counts.items() if n >= MIN_FEATURE_ROWS)


def _group_folds(groups: Sequence[str], k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    part = np.array([int(hash_fraction("decision-fold:" + g) * k) for g in groups])
    return [(np.flatnonzero(part != j), np.flatnonzero(part == j)) for j in range(k)]


def export_trees(clf: Any) -> tuple[float, list[dict[str, list]], int]:
    """scikit-learn's fitted histogram GBDT as plain arrays (feature -1 = leaf)."""
    trees, depth = [], 0
    for (predictor,) in clf._predictors:  # binary classification: one tree per iteration
        nodes = predictor.nodes
        leaf = nodes["is_leaf"].astype(bool)
        if (nodes["is_categorical"].astype(bool) & ~leaf).any():
            raise ValueError("categorical splits are not exported (features are numeric)")
        trees.append({
            "feature": np.where(leaf, -1, nodes["feature_idx"]).astype(int).tolist(),
            "threshold": [float(v) for v in nodes["num_threshold"]],
            "missing_left": nodes["missing_go_to_left"].astype(bool).tolist(),
            "left": nodes["left"].astype(int).tolist(), "right": nodes["right"].astype(int).tolist(),
            "value": [float(v) for v in nodes["value"]],
        })  # fmt: skip
        depth = max(depth, int(nodes["depth"].max()))
    return float(np.ravel(clf._baseline_prediction)[0]), trees, depth


def _fit_model(x: np.ndarray, y: np.ndarray, w: np.ndarray, features: list[str], groups: Sequence[str]):
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression

    oof_score = np.zeros(len(y))
    inner = []
    for train, test in _group_folds(groups, INNER_FOLDS):
        clf = HistGradientBoostingClassifier(**HGB_PARAMS).fit(x[train], y[train], sample_weight=w[train])
        oof_score[test] = clf.decision_function(x[test])
        inner.append(clf)
    # Platt scaling on out-of-fold scores: the probability is calibrated on records the trees never saw.
    platt = LogisticRegression(C=1e4).fit(oof_score[:, None], y, sample_weight=w)
    a, b = -float(platt.coef_[0, 0]), -float(platt.intercept_[0])
    clf = HistGradientBoostingClassifier(**HGB_PARAMS).fit(x, y, sample_weight=w)
    baseline, trees, depth = export_trees(clf)
    return clf, (a, b), baseline, trees, depth, inner


def _fit_part(tables: Mapping[str, Table], exclude: Iterable[tuple[str, str]], lm: bool):
    """One model (trees, sigmoid) over the other candidates or over the LM's proposals, and its
    out-of-fold probability for each of that part's rows of the fitting data (NaN elsewhere)."""
    refs, y, groups, w = _training_set(tables, exclude, lm)
    if len(set(y.tolist())) < 2:
        raise ValueError("the decision needs both real errors and false alarms among the candidates")
    rows = [tables[name].rows[r] for name, r in refs]
    features = _select_features(rows)
    x = vectorize(rows, features)
    clf, (a, b), baseline, trees, depth, inner = _fit_model(x, y, w, features, groups)
    raw = {"kind": KIND, "version": VERSION, "features": features, "baseline": baseline,
           "sigmoid": {"a": a, "b": b}, "max_depth": depth, "trees": trees,
           "fitted_on": {"n_candidates": int(len(y)), "n_positive": int(y.sum())}}  # fmt: skip
    model = Decision(raw)
    check = x[: min(len(x), 2000)]
    if not np.allclose(model.raw_score(check), clf.decision_function(check), atol=1e-6):
        raise AssertionError("exported trees do not reproduce scikit-learn's scores")
    # Out-of-fold probabilities for every candidate of the fitting data (labelled or not): each
    # record's candidates are scored by the inner model that did not see that record.
    oof: dict[str, np.ndarray] = {}
    for name in _fitted(tables):
        t = tables[name]
        mine = np.array([(r in t.lm_rows) == lm for r in range(len(t.rows))], dtype=bool)
        part = np.full(len(t.rows), -1)
        for item, rs in zip(t.items, t.row_of):
            part[rs] = int(hash_fraction(f"decision-fold:{name}|{item.record}") * INNER_FOLDS)
        part[~mine] = -1
        xr = vectorize(t.rows, features)
        score = np.full(len(t.rows), np.nan)
        for j, clf_j in enumerate(inner):
            if (part == j).any():
                score[part == j] = clf_j.decision_function(xr[part == j])
        if model._damage:  # the same guarantee as at run time: OCR damage never lowers it
            clean = xr.copy()
            clean[:, model._damage] = 0.0
            for j, clf_j in enumerate(inner):
                if (part == j).any():
                    score[part == j] = np.maximum(score[part == j], clf_j.decision_function(clean[part == j]))
        oof[name] = 1.0 / (1.0 + np.exp(np.clip(a * score + b, -35, 35)))
    return raw, oof


def fit(tables: Mapping[str, Table], exclude: Iterable[tuple[str, str]] = (), *, budget: Table | None = None,
        fixture: list[tuple[str, list[Finding]]] | None = None, meta: Mapping[str, Any] | None = None,
        names: Sequence[tuple[bool, Sequence[float]]] | None = None) -> Fitted:  # fmt: skip
    """Fit on the labelled candidates of ``tables`` (less ``exclude``), choose the report threshold.
    The LM's proposals, where the tables have them, get a model of their own: the other candidates'
    model is then the same as without them."""
    raw, oof = _fit_part(tables, exclude, lm=False)
    if any(t.lm_rows for name, t in tables.items() if name in FIT_DATASETS):
        from ..config import Settings
        from ..lm.cards import load_card

        sub, sub_oof = _fit_part(tables, exclude, lm=True)
        sub["fitted_on"]["lm_model"] = load_card(Settings().model).name  # the pass's numbers are this model's own
        raw["proposal_models"] = {"lm": sub}
        oof = {name: np.where(np.isnan(p), sub_oof[name], p) for name, p in oof.items()}
    parts, excluded = [], set(exclude)
    for name in _fitted(tables):
        t = tables[name]
        parts.append((name, t.dataset_hash, sorted({t.items[i].id for i, _, _ in _labels(name, t, excluded)})))
    raw.update({"data_hash": hash_of_data(parts), "report_threshold": 0.5,
                "veto": {"families": list(VETO_FAMILIES), "threshold": 0.0}})  # fmt: skip
    raw["fitted_on"].update({**(meta or {}), "datasets": [p[0] for p in parts], "excluded_sources": sorted(map(list, exclude)),
                             "model": "HistGradientBoostingClassifier", "params": HGB_PARAMS,
                             "calibration": "sigmoid (Platt) on out-of-fold scores", "inner_folds": INNER_FOLDS,
                             "names_operating_point": {"synthetic_cases": len(names or ()), "split": "dev"}})  # fmt: skip
    decision = Decision(raw)
    (threshold, veto, lm_threshold), (alone, alone_veto), table = choose_threshold(decision, tables, oof, exclude,
                                                                                 budget, fixture, names)  # fmt: skip
    decision.report_threshold = threshold
    decision.raw["report_threshold"] = threshold
    if math.isfinite(lm_threshold):
        decision.proposal_thresholds = {"lm": lm_threshold}
        decision.raw["proposal_thresholds"] = dict(decision.proposal_thresholds)
    if "proposal_models" in raw:  # the point for a run without them (Decision.without_proposals)
        decision.without = {"report_threshold": alone, "veto": alone_veto}
        decision.raw["without_proposals"] = dict(decision.without)
    decision.veto_threshold = veto
    decision.raw["veto"]["threshold"] = veto
    return Fitted(decision, oof, table)


def probabilities(decision: Decision, table: Table, rows: Sequence[int] | None = None) -> np.ndarray:
    ids = list(range(len(table.rows)) if rows is None else rows)
    out = np.zeros(len(ids))  # (a decision fitted without the LM's proposals never reports them)
    for lm, model in ((False, decision), (True, decision.proposal_models.get("lm"))):
        mine = [k for k, r in enumerate(ids) if (r in table.lm_rows) == lm]
        if mine and model is not None:
            out[mine] = model.probability(vectorize([table.rows[ids[k]] for k in mine], model.features))
    return out


def decided(decision: Decision, table: Table, p: np.ndarray, threshold: float,
            keep: Sequence[int] | None = None, veto: float | None = None,
            lm_threshold: float | None = None) -> list[list[Finding]]:  # fmt: skip
    """Per item, what the default pipeline reports: every finding the news profile keeps and
    the other checkers make (the names checker's at its probability >= ``veto``, by default the
    model's), and the candidates whose probability reaches ``threshold`` (the LM's proposals:
    ``lm_threshold``, by default the model's)."""
    items = range(len(table.items)) if keep is None else keep
    lm_t = decision.proposal_thresholds.get("lm", math.inf) if lm_threshold is None else lm_threshold

    def reported(f: Finding, r: int) -> bool:
        if is_candidate(f):
            return p[r] >= _threshold(f, threshold, lm_t)
        return not decision.vetoes(f, veto)

    return [[f for f, r in zip(table.merged[i], table.row_of[i]) if reported(f, r)] for i in items]


class Grid:
    """``decided`` at many operating points, reduced per item by ``count`` (a tuple of ints) and
    summed: an item is recounted only when what it reports changed, which makes the threshold
    search over a few hundred points take seconds, not minutes."""

    def __init__(self, decision: Decision, table: Table, p: np.ndarray, ids: Sequence[int],
                 count: Callable[[EvalItem, list[Finding]], tuple[int, ...]]) -> None:  # fmt: skip
        self.items = [table.items[i] for i in ids]
        self.count = count
        self.findings = [f for i in ids for f in table.merged[i]]
        rows = [r for i in ids for r in table.row_of[i]]
        self.bounds = np.cumsum([0] + [len(table.merged[i]) for i in ids])
        self.item_of = np.repeat(np.arange(len(self.items)), np.diff(self.bounds))
        self.candidate = np.array([is_candidate(f) for f in self.findings], dtype=bool)
        self.lm = np.array([f.evidence.get("proposal") in LM_PROPOSALS for f in self.findings], dtype=bool)
        self.p = np.asarray(p, dtype=float)[rows]
        self.veto_p = np.array([_veto_probability(decision, f) for f in self.findings], dtype=float)
        self.mask: np.ndarray | None = None
        self.counts: list[tuple[int, ...]] = []
        self.memo: dict[tuple[int, bytes], tuple[int, ...]] = {}
        self.total = np.zeros(0)

    def _count(self, k: int, mask: np.ndarray) -> tuple[int, ...]:
        a, b = self.bounds[k], self.bounds[k + 1]
        key = (k, mask[a:b].tobytes())
        if key not in self.memo:
            self.memo[key] = self.count(self.items[k], [self.findings[j] for j in range(a, b) if mask[j]])
        return self.memo[key]

    def __call__(self, threshold: float, veto: float, lm_threshold: float) -> np.ndarray:
        with np.errstate(invalid="ignore"):
            vetoed = (veto > 0.0) & (self.veto_p < veto)
        mask = np.where(self.candidate, self.p >= np.where(self.lm, lm_threshold, threshold), ~vetoed)
        if self.mask is None:
            self.counts = [self._count(k, mask) for k in range(len(self.items))]
            self.total = np.sum(self.counts, axis=0) if self.counts else np.zeros(0)
        else:
            for k in np.unique(self.item_of[mask != self.mask]):
                new = self._count(k, mask)
                self.total = self.total + np.subtract(new, self.counts[k])
                self.counts[k] = new
        self.mask = mask
        return self.total


def _veto_probability(decision: Decision, f: Finding) -> float:
    """The names checker's probability where ``decision.vetoes`` reads it, else NaN (never vetoed)."""
    p = f.evidence.get("probability")
    return float(p) if family(f.check) in decision.veto_families and isinstance(p, (int, float)) else math.nan


def score_rows(dataset: str, items: Sequence[EvalItem], found: Sequence[Sequence[Finding]]) -> dict[str, Any]:
    s = DATASETS[dataset].score(items, found).summary
    if dataset == "demetr":
        return {"detection": s.get("mean_detection_rate"), "false_alarms": s.get("false_alarm_rate")}
    key = ROW_METRIC[dataset]
    return {"f1": s.get(key), "precision": s.get("precision"), "recall": s.get("recall"),
            **({"mcc": s.get("mcc")} if "mcc" in s else {})}  # fmt: skip


def clean_fixture_candidates(lm: bool = False) -> list[tuple[str, list[Finding]]]:
    """The clean fixture's paragraphs and their merged candidates (the decision must flag none);
    with ``lm`` the LM checker's proposals too."""
    from ..pipeline import Pipeline

    whole = CLEAN_FIXTURE.read_text(encoding="utf-8")
    paragraphs = [p for p in whole.split("\n\n") if p.strip()] + [whole]  # each paragraph, and the file
    pipeline = Pipeline(candidate_checkers())
    docs = [Document.from_text(p, id=str(i)) for i, p in enumerate(paragraphs)]
    proposed: list[list[Finding]] = [[] for _ in docs]
    if lm:
        from ..checkers.lm import LMChecker
        from ..config import Settings

        proposed = LMChecker(Settings()).propose(docs)
    combiner = Combiner()
    return [(d.text, combiner.merge([f for fs in rep.by_checker.values() for f in fs] + extra, d.text))
            for d, rep, extra in zip(docs, pipeline.run(docs), proposed)]  # fmt: skip


def fixture_alarms(decision: Decision, fixture: Sequence[tuple[str, list[Finding]]], threshold: float,
                   lm_threshold: float = math.inf) -> int:  # fmt: skip
    """Candidates the decision would report in the clean fixture (what the news profile keeps there
    is the other checkers' tests' business)."""
    return sum(p >= _threshold(f, threshold, lm_threshold) for f, p in _fixture_probabilities(decision, fixture))


def _fixture_probabilities(decision: Decision, fixture: Sequence[tuple[str, list[Finding]]]) -> list[tuple[Finding, float]]:
    return [(f, decision.apply(f, text)) for text, fs in fixture for f in fs if is_candidate(f)]


def _threshold(candidate: Finding, threshold: float, lm_threshold: float) -> float:
    """What ``Decision.threshold_for`` gives, at the operating point being tried."""
    return lm_threshold if candidate.evidence.get("proposal") in LM_PROPOSALS else threshold


def synthetic_names(split: str = "dev") -> list[tuple[bool, list[float]]]:
    """Per synthetic case of ``split``'s GeoNames towns (mtqa.gazetteer.synthetic: a corrupted name,
    or the canonical name or a legitimate variant): whether it is a corruption, and the names
    checker's probability for each of its findings over the name."""
    from ..checkers.names import NameChecker
    from ..config import Settings
    from ..gazetteer.index import load_gazetteer
    from ..gazetteer.synthetic import sentence_cases

    gaz = load_gazetteer()
    cases = sentence_cases(split, lambda f: bool(gaz.lookup(f)))
    found = NameChecker(Settings(use_lm=False)).check([Document.from_text(c.text) for c in cases])
    return [(c.label == "corrupt", [float(f.evidence.get("probability", 1.0)) for f in fs
                                    if f.start < c.span[1] and c.span[0] < f.end])
            for c, fs in zip(cases, found)]  # fmt: skip


def synthetic_scores(names: Sequence[tuple[bool, Sequence[float]]], veto: float) -> tuple[float, float]:
    """F1 of the names checker at ``veto`` on the synthetic cases, and its recall less one standard error."""
    flagged = [(corrupt, any(p >= veto for p in ps)) for corrupt, ps in names]
    tp = sum(c and f for c, f in flagged)
    n = sum(c for c, _ in flagged)
    recall = tp / max(1, n)
    precision = tp / max(1, sum(f for _, f in flagged))
    f1 = 2 * precision * recall / (precision + recall) if tp else 0.0
    return f1, recall - _margin(recall, n)


def _margin(rate: float, n: int) -> float:
    """``BUDGET_STANDARD_ERRORS`` standard errors of a rate measured on ``n`` items."""
    return BUDGET_STANDARD_ERRORS * math.sqrt(rate * (1 - rate) / max(1, n))


def budget_upper(flagged: int, n: int) -> float:
    """The false-alarm rate the budget is held to: ``flagged / n`` plus its standard errors."""
    rate = flagged / max(1, n)
    return rate + _margin(rate, n)


def choose_threshold(decision: Decision, tables: Mapping[str, Table], oof: Mapping[str, np.ndarray],
                     exclude: Iterable[tuple[str, str]], budget: Table | None,
                     fixture: Sequence[tuple[str, list[Finding]]] | None,
                     names: Sequence[tuple[bool, Sequence[float]]] | None = None,
                     ) -> tuple[tuple[float, float, float], tuple[float, float], list[dict[str, Any]]]:  # fmt: skip
    """The report threshold, the names operating point and the LM's proposals' threshold with the best
    mean dev F1 within the limits; the best report threshold and names point without the proposals
    (the same when there are none); the table of every point tried."""
    exclude = set(exclude)
    keep = {name: [i for i, s in enumerate(t.sources) if (name, s) not in exclude]
            for name, t in tables.items() if name in F1_DATASETS}  # fmt: skip
    if budget is None and BUDGET_DATASET in tables:
        budget = tables[BUDGET_DATASET]
    budget_p = oof.get(BUDGET_DATASET) if budget is tables.get(BUDGET_DATASET) else None
    if budget is not None and budget_p is None:
        budget_p = probabilities(decision, budget)
    clean = [i for i, it in enumerate(budget.items) if it.group == "clean"] if budget is not None else []
    lm_grid = LM_THRESHOLDS if any(t.lm_rows for t in tables.values()) else (math.inf,)
    fixture_p = _fixture_probabilities(decision, fixture) if fixture is not None else []
    fixture_counts = {(t, u): sum(p >= _threshold(f, t, u) for f, p in fixture_p) for t in THRESHOLDS for u in lm_grid}
    grids = {name: Grid(decision, tables[name], oof[name], ids, DATASETS[name].f1_counts) for name, ids in keep.items()}
    if budget is not None:
        flagged_in = Grid(decision, budget, budget_p, clean, lambda item, fs: (int(bool(fs)),))

    def score(row: dict[str, Any]) -> None:
        t, v, u = row["threshold"], row["veto"], row["lm_threshold"]
        for name in keep:
            row[name] = DATASETS[name].f1_of(grids[name](t, v, u)) or 0.0
        f1s = [row[n] for n in keep]
        if names:  # the names checker's own kind of text weighs as a dataset
            row["synthetic_names"] = synthetic_scores(names, v)[0]
            f1s.append(row["synthetic_names"])
        row["mean_f1"] = sum(f1s) / max(1, len(f1s))

    rows: list[dict[str, Any]] = []
    for v in VETO_THRESHOLDS:
        synthetic = synthetic_scores(names, v) if names else None
        for u in lm_grid:
            for t in THRESHOLDS:
                row: dict[str, Any] = {"threshold": t, "veto": v, "lm_threshold": u}
                if synthetic is not None:
                    row["synthetic_names_recall_lower"] = synthetic[1]
                if budget is not None:
                    flagged = int(flagged_in(t, v, u)[0])
                    row["clean_mt_false_alarms"] = flagged / max(1, len(clean))
                    row["clean_mt_false_alarms_upper"] = budget_upper(flagged, len(clean))
                if fixture is not None:
                    row["fixture_findings"] = fixture_counts[(t, u)]
                row["within_budget"] = (row.get("clean_mt_false_alarms_upper", 0.0) <= MAX_CLEAN_FALSE_ALARMS
                                        and row.get("fixture_findings", 0) == 0
                                        and row.get("synthetic_names_recall_lower", 1.0) >= MIN_NAMES_RECALL)  # fmt: skip
                last = (v, u, t) == (VETO_THRESHOLDS[-1], lm_grid[-1], THRESHOLDS[-1])
                if row["within_budget"] or (v == 0.0 and u == lm_grid[-1]) or last:
                    score(row)  # where it can be chosen (and with the names checker's own threshold)
                rows.append(row)
    best = _best(rows, lambda row: True)
    alone = _best(rows, lambda row: row["lm_threshold"] == math.inf)
    for row in rows:  # the whole curve at the chosen point (what --decision-threshold moves along)
        if (row["veto"], row["lm_threshold"]) == (best["veto"], best["lm_threshold"]) and "mean_f1" not in row:
            score(row)
    point = (best["threshold"], best["veto"], best["lm_threshold"]), (alone["threshold"], alone["veto"])
    for row in rows:  # (JSON has no infinity: none reported)
        row["lm_threshold"] = row["lm_threshold"] if math.isfinite(row["lm_threshold"]) else None
    return *point, rows


def _best(rows: Sequence[dict[str, Any]], where: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first row ``where`` holds with the best mean F1 within the limits; none within them: the
    last row, the strictest operating point."""
    best = None
    for row in rows:
        if row["within_budget"] and where(row) and (best is None or row["mean_f1"] > best["mean_f1"] + 1e-9):
            best = row
    return best if best is not None else rows[-1]


# --------------------------------------------------------------------------- the systems compared


def _merge(table: Table, i: int, checkers: Sequence[str], keep: Callable[[Finding], bool] = lambda f: True):
    found = table.by_checker[i]
    raw = [f for name in checkers for f in found.get(name, ()) if keep(f)]
    return Combiner().merge(raw, table.items[i].text)


def _news(f: Finding) -> bool:
    return f.evidence.get("news_profile", "kept") == "kept"


SYSTEMS: dict[str, tuple[Sequence[str], Callable[[Finding], bool]]] = {
    "LanguageTool rules alone": (("grammar",), lambda f: True),
    "grammar (news profile)": (("grammar",), _news),
    "names alone": (("names",), lambda f: True),
    "ocr alone": (("ocr",), lambda f: not is_candidate(f)),
    "garble rules alone": (("garble",), lambda f: True),
    "mtqa without LM, --decision off": (("grammar", "names", "ocr", "garble", "boilerplate"),
                                        lambda f: not is_candidate(f)),
}  # fmt: skip
LEARNED = "mtqa default (learned decision)"  # with the LM's proposals where the tables have them


def compare(table: Table, ids: Sequence[int], decision: Decision, p: np.ndarray, threshold: float) -> dict[str, Any]:
    """Every system's scores on the items ``ids`` of ``table``."""
    items = [table.items[i] for i in ids]
    out = {}
    for system, (checkers, keep) in SYSTEMS.items():
        out[system] = score_rows(table.dataset, items, [_merge(table, i, checkers, keep) for i in ids])
    out[LEARNED] = score_rows(table.dataset, items, decided(decision, table, p, threshold, ids))
    return out


# --------------------------------------------------------------------------- top level


def fit_decision(limit: Mapping[str, int | None] | None = None, output: str | Path | None = None,
                 echo: Callable[[str], None] | None = None, lm: bool = False) -> dict[str, Any]:  # fmt: skip
    """Fit ``models/decision.json`` on every fitting dataset's dev split; dev scores are out-of-fold.
    With ``lm`` the candidates include the LM checker's proposals (``mtqa.checkers.lm``, ``propose``)."""
    from .runner import git_hash

    tables = load_tables("dev", LOADED, limit, echo, lm)
    fixture = clean_fixture_candidates(lm)
    meta = {"split": "dev", "limit": dict(limit or {}), "git": git_hash(), "lm_proposals": lm,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}  # fmt: skip
    fitted = fit(tables, fixture=fixture, meta=meta, names=synthetic_names())
    d = fitted.decision
    rows = []
    for name in F1_DATASETS:
        t = tables[name]
        rows.append({"dataset": f"{name} (dev, out-of-fold)", **_flat(compare(t, range(len(t.items)), d, fitted.oof[name], d.report_threshold))})
    budget = tables[BUDGET_DATASET]
    demetr = compare(budget, range(len(budget.items)), d, _dev_probabilities(fitted, budget), d.report_threshold)
    path = Path(output) if output else PROJECT_DIR / "models" / "decision.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(d.raw, separators=(",", ":")) + "\n", encoding="utf-8")
    return {"path": str(path), "data_hash": d.data_hash, "report_threshold": d.report_threshold,
            "lm_threshold": d.proposal_thresholds.get("lm"),
            "veto_threshold": d.veto_threshold, "veto_families": list(d.veto_families),
            "without_proposals": d.without or None, "features": d.features, "threshold_table": fitted.threshold_table, "dev_rows": rows,
            "demetr_dev": demetr, "n_candidates": d.fitted_on["n_candidates"]}  # fmt: skip


def _dev_probabilities(fitted: Fitted, table: Table) -> np.ndarray:
    """Out-of-fold where the model was fitted on the table (DEMETR's typos), else the model's own."""
    p = fitted.oof.get(table.dataset)
    return p if p is not None else probabilities(fitted.decision, table)


def detection_by_type(table: Table, found: Sequence[Sequence[Finding]]) -> dict[str, float | None]:
    """DEMETR: the share of each perturbation's sentences with a finding on the change (clean: any)."""
    rows = DATASETS[table.dataset].score(table.items, found).rows
    return {r["type"]: r["detection_rate"] if r["detection_rate"] is not None else r["any_finding_rate"] for r in rows}


def _point(d: Decision) -> str:
    lm = d.proposal_thresholds.get("lm")
    return f"t={d.report_threshold:.3f}, names at {d.veto_threshold:.2f}" + (f", LM at {lm:.2f}" if lm else "")


def _flat(scores: Mapping[str, Mapping[str, Any]], metric: str = "f1") -> dict[str, Any]:
    return {system: s.get(metric) for system, s in scores.items()}


def cross_source(splits: Sequence[str] = ("dev",), limit: Mapping[str, int | None] | None = None,
                 echo: Callable[[str], None] | None = None, lm: bool = False) -> dict[str, Any]:  # fmt: skip
    """Fit one model per fold on the dev splits without the held-out source and score that source on
    each of ``splits`` (dev while choosing; test once at the end); also each dataset's whole split
    (out-of-fold on dev, the all-dev model on test). Every model is fitted once for all splits."""
    dev = load_tables("dev", LOADED, limit, echo, lm)
    fixture = clean_fixture_candidates(lm)
    names = synthetic_names()
    scored = {split: dev if split == "dev" else load_tables(split, LOADED, limit, echo, lm) for split in splits}
    out = {split: {"split": split, "lm_proposals": lm, "rows": [], "details": {}} for split in splits}
    for fold in cross_source_folds():
        if echo:
            echo(f"fold: {fold.name}")
        d = fit(dev, fold.held_out, fixture=fixture, names=names).decision
        for split in splits:
            for name, source in fold.held_out:
                t = scored[split][name]
                ids = [i for i, s in enumerate(t.sources) if s == source]
                if not ids:
                    continue
                scores = compare(t, ids, d, probabilities(d, t), d.report_threshold)
                label = f"{name}: {source} ({fold.name.split(':')[0]} held out, {_point(d)})"
                out[split]["rows"].append({"row": label, **_flat(scores)})
                out[split]["details"][label] = scores
    if echo:
        echo("all sources: the model fitted on all dev data")
    full = fit(dev, fixture=fixture, names=names)
    d = full.decision
    for split in splits:
        res = out[split]
        for name in F1_DATASETS:
            t = scored[split][name]
            p = full.oof[name] if split == "dev" else probabilities(d, t)
            scores = compare(t, range(len(t.items)), d, p, d.report_threshold)
            label = f"{name}: all sources ({'out-of-fold' if split == 'dev' else 'all-dev model'}, {_point(d)})"
            res["rows"].append({"row": label, **_flat(scores)})
            res["details"][label] = scores
        t = scored[split][BUDGET_DATASET]
        p = _dev_probabilities(full, t) if split == "dev" else probabilities(d, t)
        res["demetr"] = compare(t, range(len(t.items)), d, p, d.report_threshold)
        res["demetr_by_type"] = detection_by_type(t, decided(d, t, p, d.report_threshold))
        res["learned_beats_languagetool"] = {r["row"]: (r[LEARNED] or 0.0) > (r["LanguageTool rules alone"] or 0.0)
                                             for r in res["rows"]}  # fmt: skip
        res.update(report_threshold=d.report_threshold, veto_threshold=d.veto_threshold, data_hash=d.data_hash,
                   threshold_table=full.threshold_table)
    return out
