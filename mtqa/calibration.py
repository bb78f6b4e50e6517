"""Calibrated finding confidence: a logistic model over a finding's own numbers.

Features come from the finding alone (check family, category, severity, the checker's confidence,
the numeric evidence such as surprisal, delta_logprob, distance, zipf, and how many signals were
merged into it), so the same model applies at check time. It is fitted on the *dev* splits of the
evaluation data (findings labelled by overlap with gold, see ``mtqa.eval``) with numpy only, and
stored as ``models/combiner.json`` together with the hash of the data it was fitted on.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from .config import Settings, models_dir
from .findings import Finding

VERSION = 1
# Data with natural error rates. DEMETR is left out: every perturbed sentence holds an injected
# error, so nearly any finding there is "real" and a model fitted on it is overconfident on news copy.
DEFAULT_DATASETS = ("ocr", "names", "mt_mqm", "mt_qe_wordtags")
HOLDOUT_FRACTION = 0.3  # dev records held back from fitting, for the reliability table
MIN_FEATURE_COUNT = 5  # a feature seen on fewer fitting findings is dropped
MAX_ABS_EVIDENCE = 1e6
RAW_KEY = "raw_confidence"  # evidence key that keeps the uncalibrated confidence
DOCUMENT_KEY = "document"  # evidence key for facts about the whole document (set by the combiner)
# Report thresholds tried on dev; datasets whose headline metric punishes false alarms choose it.
REPORT_THRESHOLDS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.6)
THRESHOLD_METRICS = ("f1", "mcc")


def default_path() -> Path:
    return models_dir() / "combiner.json"


def family(check: str) -> str:
    return check.split(".", 1)[0]


def _slog(x: float) -> float:
    """Signed log: keeps the order of surprisals and distances but tames their tails."""
    return math.copysign(math.log1p(abs(x)), x)


def _numbers(prefix: str, value: Any, out: dict[str, float], depth: int = 0, codes: bool = False) -> None:
    """Evidence values as features; with ``codes``, short top-level strings (rule category, issue
    type, OCR reason...) become one-hot features too (the learned decision reads those)."""
    if isinstance(value, bool):
        out[prefix] = float(value)
    elif isinstance(value, (int, float)):
        if math.isfinite(value) and abs(value) <= MAX_ABS_EVIDENCE:
            out[prefix] = _slog(float(value))
    elif codes and isinstance(value, str) and depth == 0 and len(value) <= 24 and " " not in value:
        out[f"{prefix}={value}"] = 1.0
    elif isinstance(value, Mapping) and depth < 1:
        for key, sub in value.items():
            _numbers(f"{prefix}.{key}", sub, out, depth + 1, codes)


def raw_confidence(finding: Finding) -> float:
    """The checkers' own (combined) confidence, also after calibration replaced it."""
    return float(finding.evidence.get(RAW_KEY, finding.confidence))


def finding_features(finding: Finding) -> dict[str, float]:
    raw = raw_confidence(finding)
    conf = min(max(raw, 1e-4), 1 - 1e-4)
    feats: dict[str, float] = {
        "confidence": raw,
        "confidence_logit": math.log(conf / (1 - conf)),
        "span_chars_log": math.log1p(finding.end - finding.start),
        "has_suggestion": float(bool(finding.suggestions)),
        f"family={family(finding.check)}": 1.0,
        f"category={finding.category.value}": 1.0,
        f"severity={finding.severity.value}": 1.0,
    }
    merged = finding.evidence.get("merged") or ()
    feats["n_signals"] = 1.0 + len(merged)
    for other in merged:
        if isinstance(other, Mapping) and other.get("check"):
            feats[f"merged_family={family(str(other['check']))}"] = 1.0
    for key, value in finding.evidence.items():
        if key not in ("merged", RAW_KEY, DOCUMENT_KEY):
            _numbers(f"ev:{key}", value, feats)
    # How damaged the whole document is: an LM judging word forms in OCR-broken 19th-century
    # text is wrong far more often than in clean MT copy, whatever its own numbers say.
    damage = _slog(float((finding.evidence.get(DOCUMENT_KEY) or {}).get("ocr_damage_per_100_words", 0.0)))
    feats["doc:ocr_damage"] = damage
    if damage:
        feats[f"doc:ocr_damage*family={family(finding.check)}"] = damage
    return feats


def document_context(findings: Sequence[Finding], text: str) -> dict[str, float]:
    """Facts about the document that change how far its findings can be trusted."""
    words = len(text.split())
    ocr = sum(1 for f in findings if family(f.check) == "ocr")
    return {"ocr_damage_per_100_words": round(100.0 * ocr / words, 3)} if ocr and words else {}


def _absent(name: str) -> float:
    """An absent indicator is 0; an absent evidence number is unknown (imputed with its mean)."""
    return np.nan if name.startswith("ev:") else 0.0


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(z, -35, 35)))


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1.0, iterations: int = 50) -> tuple[np.ndarray, float]:
    """L2-regularised logistic regression by Newton's method (IRLS); the intercept is not penalised."""
    n, d = x.shape
    xb = np.hstack([x, np.ones((n, 1))])
    w = np.zeros(d + 1)
    penalty = np.full(d + 1, l2)
    penalty[-1] = 0.0
    for _ in range(iterations):
        p = _sigmoid(xb @ w)
        grad = xb.T @ (p - y) + penalty * w
        hess = (xb * (p * (1 - p))[:, None]).T @ xb + np.diag(penalty) + 1e-9 * np.eye(d + 1)
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w[:-1], float(w[-1])


@dataclass
class Calibrator:
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    data_hash: str = ""
    fitted_on: dict[str, Any] = field(default_factory=dict)
    report_threshold: float = 0.0  # chosen on dev: below it a finding costs more precision than it adds recall

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Calibrator | None":
        """The stored model, or None when there is none (callers keep the checkers' confidences)."""
        path = Path(path) if path else default_path()
        if not path.is_file():
            return None
        raw = json.loads(path.read_text(encoding="utf-8"))
        if raw.get("version") != VERSION:
            raise ValueError(f"{path}: calibration version {raw.get('version')} (this mtqa reads {VERSION})")
        return cls(raw["features"], raw["mean"], raw["scale"], raw["coef"], float(raw["intercept"]),
                   raw.get("data_hash", ""), raw.get("fitted_on", {}), float(raw.get("report_threshold", 0.0)))  # fmt: skip

    @classmethod
    def fit(cls, findings: Sequence[Finding], labels: Sequence[bool], l2: float = 1.0, **meta: Any) -> "Calibrator":
        if len(findings) != len(labels) or not findings:
            raise ValueError("need the same, non-zero number of findings and labels")
        y = np.asarray(labels, dtype=float)
        if y.min() == y.max():
            raise ValueError("calibration needs both real errors and false alarms among the findings")
        rows = [finding_features(f) for f in findings]
        counts: dict[str, int] = {}
        for row in rows:
            for key, value in row.items():
                counts[key] = counts.get(key, 0) + 1
        names = sorted(k for k, c in counts.items() if c >= MIN_FEATURE_COUNT)
        x = np.array([[row.get(k, _absent(k)) for k in names] for row in rows], dtype=float)
        mean = np.nanmean(x, axis=0)
        x = np.where(np.isnan(x), mean, x)  # a missing evidence number counts as the average one
        scale = x.std(axis=0)
        scale[scale < 1e-9] = 1.0
        coef, intercept = fit_logistic((x - mean) / scale, y, l2=l2)
        return cls(names, mean.tolist(), scale.tolist(), coef.tolist(), intercept, meta.pop("data_hash", ""), meta)

    def vector(self, finding: Finding) -> np.ndarray:
        feats = finding_features(finding)
        x = np.array([feats.get(k, m if k.startswith("ev:") else 0.0) for k, m in zip(self.features, self.mean)])
        return (x - np.asarray(self.mean)) / np.asarray(self.scale)

    def apply(self, finding: Finding) -> float:
        """Calibrated probability that the finding is a real error; a check family the model never
        saw (boilerplate: no dataset labels it) keeps its checker's confidence."""
        if f"family={family(finding.check)}" not in self.features:
            return raw_confidence(finding)
        z = float(self.vector(finding) @ np.asarray(self.coef) + self.intercept)
        return float(_sigmoid(np.array(z)))

    def calibrate(self, finding: Finding, text: str = "") -> Finding:
        """The finding with its calibrated confidence; the raw one stays in the evidence (``text``:
        the document, which this model does not read and the learned decision does)."""
        raw = raw_confidence(finding)
        return replace(finding, confidence=round(self.apply(finding), 4), evidence={**finding.evidence, RAW_KEY: raw})

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION, "data_hash": self.data_hash, "report_threshold": self.report_threshold,
            "features": self.features,
            "mean": [round(v, 8) for v in self.mean], "scale": [round(v, 8) for v in self.scale],
            "coef": [round(v, 8) for v in self.coef], "intercept": round(self.intercept, 8),
            "fitted_on": self.fitted_on,
        }  # fmt: skip

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path) if path else default_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1) + "\n", encoding="utf-8")
        return path


def load_calibration(spec: str | Path | None) -> Any:
    """``"default"``: models/combiner.json when present; ``"off"`` or empty: none; else a path to a
    calibration model (a learned decision is ``Settings.decision``, see :func:`load_decision`)."""
    if spec is None or str(spec) in ("", "off", "none"):
        return None
    if str(spec) == "default":
        return Calibrator.load()
    path = Path(spec)
    if path.is_file() and json.loads(path.read_text(encoding="utf-8")).get("kind") == "decision":
        raise ValueError(f"{spec} is a learned decision: pass it as --decision, not --calibration")
    model = Calibrator.load(spec)
    if model is None:
        raise FileNotFoundError(f"calibration file {spec} not found")
    return model


def reliability(confidences: Sequence[float], labels: Sequence[bool], bins: int = 10) -> tuple[list[dict], float | None]:
    """Rows of (confidence bin, count, mean confidence, observed precision) and the expected calibration error."""
    conf = np.asarray(confidences, dtype=float)
    lab = np.asarray(labels, dtype=float)
    rows, ece = [], 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        mask = (conf >= lo) & ((conf < hi) if b < bins - 1 else (conf <= hi))
        n = int(mask.sum())
        if not n:
            continue
        mean_c, prec = float(conf[mask].mean()), float(lab[mask].mean())
        ece += n / len(conf) * abs(mean_c - prec)
        rows.append({"confidence": f"{lo:.1f}-{hi:.1f}", "n": n, "mean_confidence": mean_c, "observed_precision": prec})
    return rows, (ece if len(conf) else None)


def data_hash(parts: Iterable[tuple[str, str, Sequence[str]]]) -> str:
    """Hash of (dataset, file hash, ids of the items used): which data a model was fitted on."""
    digest = hashlib.sha256()
    for name, files_hash, ids in sorted(parts):
        digest.update(f"{name}\0{files_hash}\0".encode())
        for item_id in sorted(ids):
            digest.update(item_id.encode() + b"\n")
    return digest.hexdigest()[:16]


def choose_report_threshold(model: Calibrator, results: Mapping[str, Any]) -> tuple[float, list[dict[str, Any]]]:
    """The calibrated confidence below which findings are dropped: the threshold with the best mean
    headline metric over the dev runs whose metric punishes false alarms (F1, MCC)."""
    from .eval.runner import rescore

    rows, best = [], (-math.inf, 0.0)
    scored = {name: r for name, r in results.items() if r.info["primary_metric"] in THRESHOLD_METRICS}
    for t in REPORT_THRESHOLDS:
        row: dict[str, Any] = {"threshold": t}
        for name, result in scored.items():
            row[name] = rescore(result, model, t).summary.get(result.info["primary_metric"]) or 0.0
        values = [row[name] for name in scored]
        row["mean"] = sum(values) / len(values) if values else 0.0
        rows.append(row)
        if row["mean"] > best[0] + 1e-9:
            best = (row["mean"], t)
    return best[1], rows


def fit_from_datasets(
    datasets: Sequence[str] = DEFAULT_DATASETS,
    settings: Settings | None = None,
    *,
    only: Sequence[str] | None = None,
    limit: int | dict[str, int] | None = None,
    output: str | Path | None = None,
    findings_out: str | Path | None = None,
    echo: Any = None,
) -> dict[str, Any]:
    """Run the checkers on each dataset's dev split, fit on 70 % of its records, test on the rest.

    ``limit``: records per dataset, one number for all or ``{dataset: n}``. ``findings_out``: a
    JSONL file of the labelled findings (spans, checks, evidence; no dataset text) for analysis.
    """
    from .eval import DATASETS, DatasetError, run_eval
    from .eval.items import hash_fraction
    from .eval.runner import git_hash

    # fit on what the checkers say, before any calibration or report threshold
    # The calibration is for what the checkers report; the decided candidates have their own model.
    settings = replace(settings or Settings(), calibration="off", decision="off", min_confidence=0.0)
    results = {}
    dump: list[dict[str, Any]] | None = [] if findings_out else None
    fit_x: list[Finding] = []
    fit_y: list[bool] = []
    held: list[tuple[str, Finding, bool]] = []
    parts, per_dataset, checkers = [], {}, set()
    for name in datasets:
        if name not in DATASETS:
            raise DatasetError(f"unknown dataset {name}")
        n = limit.get(name) if isinstance(limit, dict) else limit
        if echo:
            echo(f"calibrate: checking the dev split of {name} (limit {n})")
        result = results[name] = run_eval(name, settings, only=only, split="dev", limit=n)
        checkers.update(result.info["checkers"])
        labelled = result.labelled(DATASETS[name])
        parts.append((name, result.info["dataset_hash"], [it.id for it in result.items]))
        n_fit = 0
        for item, finding, label in labelled:
            if dump is not None:
                row = {k: v for k, v in finding.to_dict(item.text).items() if k != "text"}
                dump.append({"dataset": name, "record": item.record, "label": label, "finding": row})
            if hash_fraction("calibration:" + item.record) >= HOLDOUT_FRACTION:
                fit_x.append(finding)
                fit_y.append(label)
                n_fit += 1
            else:
                held.append((name, finding, label))
        per_dataset[name] = {"labelled_findings": len(labelled), "fit": n_fit,
                             "positive_rate": (sum(l for _, _, l in labelled) / len(labelled)) if labelled else None,
                             "unavailable": result.info["unavailable"], "failed": result.info["failed"]}  # fmt: skip
    if findings_out and dump is not None:
        Path(findings_out).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in dump), encoding="utf-8")
    dhash = data_hash(parts)
    model = Calibrator.fit(
        fit_x, fit_y, data_hash=dhash,
        datasets=list(datasets), split=f"dev, records with hash >= {HOLDOUT_FRACTION} (held back: the rest)",
        limit=limit, checkers=sorted(checkers), n_findings=len(fit_x), n_positive=int(sum(fit_y)),
        git=git_hash(), time=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), per_dataset=per_dataset,
    )  # fmt: skip
    model.report_threshold, threshold_table = choose_report_threshold(model, results)
    path = model.save(output)
    labels = [l for _, _, l in held]
    tables, ece = {}, {}
    for kind, conf in (("calibrated", [model.apply(f) for _, f, _ in held]), ("raw", [f.confidence for _, f, _ in held])):
        tables[kind], ece[kind] = reliability(conf, labels)
    report = {"model": model.to_json(), "path": str(path), "held_back_findings": len(held),
              "reliability": tables, "ece": ece, "report_threshold": threshold_table,
              "held_back_per_dataset": {n: sum(1 for d, _, _ in held if d == n) for n in datasets}}  # fmt: skip
    return {"path": path, "model": model.to_json(), "reliability": tables, "report": report}
