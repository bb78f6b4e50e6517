"""Run checkers over a labelled dataset through the library API and score the findings."""

from __future__ import annotations

import hashlib
import json
import logging
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from .. import __version__
from ..api import check_documents, make_combiner, make_pipeline
from ..checkers import REGISTRY, load_checker
from ..config import PROJECT_DIR, Settings, data_dir
from ..document import Document
from ..findings import Finding
from ..signature import run_signature
from .datasets import DATASETS, Dataset, Score, read_jsonl
from .items import EvalItem, hash_fraction

log = logging.getLogger(__name__)

SPLITS = ("dev", "test", "train", "all")
# A sentence the project wrote, checked once before timing so model loading is not counted as speed.
WARMUP_TEXT = "The council met on Tuesday to discuss the new budget for the town's two schools."


class DatasetError(ValueError):
    pass


def resolve_dataset(spec: str | Path) -> tuple[Dataset, list[Path]]:
    """A dataset name (files under ``data_dir()/<name>``) or a path to a file or directory."""
    if str(spec) in DATASETS:
        dataset = DATASETS[str(spec)]
        root = data_dir()
        files = dataset.default_files(root)
        if not files:
            raise DatasetError(f"no {dataset.name} files under {root / dataset.name} (set MTQA_DATA_DIR)")
        return dataset, files
    path = Path(spec)
    if not path.exists():
        raise DatasetError(f"{spec}: not a dataset name ({', '.join(DATASETS)}) nor an existing path")
    if path.is_dir():
        if path.name in DATASETS:
            return DATASETS[path.name], DATASETS[path.name].default_files(path.parent)
        files = sorted(p for p in path.glob("*.jsonl*"))
    else:
        files = [path]
    if not files:
        raise DatasetError(f"{spec}: no .jsonl files")
    first = next(read_jsonl(files[0]), None)
    for dataset in DATASETS.values():
        if first is not None and dataset.matches(first):
            return dataset, files
    raise DatasetError(f"{spec}: records match none of the known formats ({', '.join(DATASETS)})")


def files_hash(files: Sequence[Path]) -> str:
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0")
        digest.update(_file_digest(str(path), path.stat().st_mtime_ns, path.stat().st_size))
    return digest.hexdigest()[:16]


@lru_cache(maxsize=64)
def _file_digest(path: str, mtime: int, size: int) -> bytes:
    return hashlib.sha256(Path(path).read_bytes()).digest()


def git_hash() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             cwd=PROJECT_DIR, check=True, timeout=10).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=PROJECT_DIR, timeout=10).stdout.strip()  # fmt: skip
        return out + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def select_items(items: Sequence[EvalItem], split: str, limit: int | None) -> list[EvalItem]:
    """Items of ``split``; ``limit`` keeps the first N source records in a stable hashed order.

    Hashed (not file) order makes a small run a fair sample across language pairs, systems, files.
    """
    chosen = [it for it in items if split == "all" or it.split == split]
    if limit is None:
        return chosen
    records = sorted({it.record for it in chosen}, key=lambda r: hash_fraction("order:" + r))[:limit]
    keep = set(records)
    return [it for it in chosen if it.record in keep]


def default_checkers(settings: Settings) -> list[str]:
    return [name for name, (_, enabled) in REGISTRY.items() if enabled(settings)]


def available_checkers(names: Sequence[str], settings: Settings) -> tuple[list[str], dict[str, str]]:
    """Checkers that import and construct; the others with the reason (reported, never fatal)."""
    ok, missing = [], {}
    for name in names:
        if name not in REGISTRY:
            missing[name] = "not in the checker registry"
            continue
        try:
            load_checker(name, settings)
        except Exception as exc:
            missing[name] = f"{type(exc).__name__}: {exc}".splitlines()[0][:200]
            continue
        ok.append(name)
    return ok, missing


def _scorers() -> list[Any]:
    lm = sys.modules.get("mtqa.lm")  # never import torch just to ask
    return list(getattr(lm, "_SCORERS", {}).values()) if lm else []


def _forward_tokens() -> int:
    return sum(int(getattr(s, "stats", {}).get("forward_tokens", 0)) for s in _scorers())


def clear_lm_caches() -> None:
    """So a second run with the same model is timed honestly (no result-cache hits)."""
    for scorer in _scorers():
        clear = getattr(scorer, "clear_cache", None)
        if callable(clear):
            clear()


@dataclass
class EvalResult:
    dataset: str
    split: str
    items: list[EvalItem]
    findings: list[list[Finding]]
    score: Score
    info: dict[str, Any]
    failures: dict[str, str] = field(default_factory=dict)
    derived: dict[str, EvalResult] = field(default_factory=dict)  # label -> a subset of the checkers

    def labelled(self, dataset: Dataset) -> list[tuple[EvalItem, Finding, bool]]:
        """Findings with a gold label (for calibration).

        A finding repeated on the same surface text within one source record (DEMETR's ~30
        perturbations of one sentence, MQM's raters of one translation) counts once per label,
        so one sentence cannot dominate the fit.
        """
        out, seen = [], set()
        for item, findings in zip(self.items, self.findings):
            for f in findings:
                label = dataset.label(item, f)
                if label is None:
                    continue
                key = (item.record, f.check, item.text[f.start : f.end], bool(label))
                if key not in seen:
                    seen.add(key)
                    out.append((item, f, bool(label)))
        return out

    def to_json(self) -> dict[str, Any]:
        return {**self.info, "summary": self.score.summary, "table": self.score.rows, "details": self.score.details}


def run_eval(
    dataset: str | Path,
    settings: Settings | None = None,
    *,
    only: Sequence[str] | None = None,
    split: str = "test",
    limit: int | None = None,
    batch_size: int = 32,
    min_confidence: float | None = None,
    warmup: bool = True,
    clear_cache: bool = True,
    progress: Callable[[int, int], None] | None = None,
    subsets: Mapping[str, Sequence[str]] | None = None,
) -> EvalResult:
    """Check a dataset's items and score the findings against its gold labels.

    ``subsets`` (label -> checker names) also scores what each subset of the run's checkers
    would have reported on its own (``EvalResult.derived``): checkers never see each other's
    findings, so this equals a separate run with the same settings, at no extra checking cost.
    """
    settings = settings or Settings()
    if split not in SPLITS:
        raise DatasetError(f"split must be one of {', '.join(SPLITS)}")
    spec, files = resolve_dataset(dataset)
    t0 = time.perf_counter()
    items = select_items(spec.load(files), split, limit)
    load_s = time.perf_counter() - t0
    # Once for the run and every derived result, before checking: the commit of the code that runs,
    # even if HEAD moves during a long run.
    dataset_hash, git = files_hash(files), git_hash()
    requested = list(only) if only else default_checkers(settings)
    names, unavailable = available_checkers(requested, settings)
    subsets = dict(subsets or {})

    # Identical texts (MQM raters, repeated perturbations) are checked once.
    unique: dict[str, int] = {}
    for item in items:
        unique.setdefault(item.text, len(unique))
    texts = list(unique)
    per_text: list[list[Finding]] = [[] for _ in texts]
    per_subset = {label: [[] for _ in texts] for label in subsets}
    failures: dict[str, str] = {}
    pipeline = None
    checker_s: dict[str, float] = {}
    run_s = 0.0
    tokens = 0
    combiner = make_combiner(settings)
    if names and texts:
        pipeline = make_pipeline(settings, only=names, combiner=combiner)
        combiner = pipeline.combiner  # at the operating point for these checkers
        subset_combiners = {label: combiner.for_checkers([c for c in pipeline.checkers if c.name in checkers])
                            for label, checkers in subsets.items()}  # fmt: skip
        if warmup:
            check_documents([Document.from_text(WARMUP_TEXT, id="warmup")], pipeline)
        if clear_cache:
            clear_lm_caches()
        pipeline.seconds.clear()
        tokens0 = _forward_tokens()
        t0 = time.perf_counter()
        for first in range(0, len(texts), batch_size):
            batch = [Document.from_text(t, id=str(first + i)) for i, t in enumerate(texts[first : first + batch_size])]
            for j, report in enumerate(check_documents(batch, pipeline)):
                per_text[first + j] = list(report.findings)
                for label, checkers in subsets.items():
                    per_subset[label][first + j] = report.findings_of(checkers, subset_combiners[label])
                for failure in report.failures:
                    failures.setdefault(failure.checker, failure.error)
            if progress:
                progress(min(first + batch_size, len(texts)), len(texts))
        run_s = time.perf_counter() - t0
        tokens = _forward_tokens() - tokens0
        checker_s = dict(pipeline.seconds)

    def result(asked: Sequence[str], found_per_text: list[list[Finding]], seconds: float, tokens: int) -> EvalResult:
        checkers = [c for c in names if c in asked]
        found = [found_per_text[unique[item.text]] for item in items]
        if min_confidence is not None:
            found = [[f for f in fs if f.confidence >= min_confidence] for fs in found]
        score = spec.score(items, found)
        ran = [c for c in pipeline.checkers if c.name in checkers] if pipeline else []
        info = {
            "dataset": spec.name,
            "description": spec.description,
            "files": [str(p) for p in files],
            "dataset_hash": dataset_hash,
            "split": split,
            "limit": limit,
            "min_confidence": min_confidence if min_confidence is not None else combiner.min_confidence,
            "primary_metric": spec.primary,
            "primary": score.summary.get(spec.primary),
            "checkers": checkers,
            "unavailable": {k: v for k, v in unavailable.items() if k in asked},
            "failed": {k: v for k, v in failures.items() if k in checkers},
            "n_items": len(items),
            "n_documents": len(texts),
            "n_findings": sum(len(f) for f in found_per_text),
            "seconds": round(seconds, 3),
            "checker_seconds": {k: round(v, 3) for k, v in checker_s.items() if k in checkers},
            "load_seconds": round(load_s, 3),
            "docs_per_s": round(len(texts) / seconds, 3) if seconds > 0 else None,
            "lm_forward_tokens": tokens or None,
            "lm_tokens_per_s": round(tokens / seconds, 1) if tokens and seconds > 0 else None,
            "mtqa": __version__,
            "git": git,
            "signature": run_signature(ran, combiner.for_checkers(ran).describe()) if ran else {},
            "settings": {"model": settings.model, "device": settings.device, "grammar": settings.grammar,
                         "use_lm": settings.use_lm, "calibration": settings.calibration},  # fmt: skip
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        res = EvalResult(spec.name, split, items, found, score, info, info["failed"])
        info["by_check"] = precision_by_check(spec, items, found)
        if combiner.calibrator is not None:  # how well the reported confidences match the gold labels
            from ..calibration import reliability

            labelled = res.labelled(spec)
            rows, ece = reliability([f.confidence for _, f, _ in labelled], [label for _, _, label in labelled])
            info["calibration"] = {"data_hash": combiner.calibrator.data_hash, "labelled_findings": len(labelled),
                                   "reliability": rows, "ece": ece}  # fmt: skip
        return res

    main = result(requested, per_text, run_s, tokens)
    for label, checkers in subsets.items():
        # Its checkers' own time; LM sentence scores shared with other checkers are not in it.
        derived = result(checkers, per_subset[label], sum(checker_s.get(c, 0.0) for c in checkers), 0)
        derived.info["derived_from"] = names
        main.derived[label] = derived
    return main


def rescore(result: EvalResult, calibrator: Any = None, min_confidence: float | None = None) -> Score:
    """Score the same findings again, re-calibrated and/or above a confidence (no re-checking)."""
    spec = DATASETS[result.dataset]
    found = result.findings
    if calibrator is not None:
        found = [[replace(f, confidence=calibrator.apply(f)) for f in fs] for fs in found]
    if min_confidence is not None:
        found = [[f for f in fs if f.confidence >= min_confidence] for fs in found]
    return spec.score(result.items, found)


def precision_by_check(spec: Dataset, items: Sequence[EvalItem], found: Sequence[Sequence[Finding]]) -> list[dict]:
    """Per check id (merged findings count for their lead check): how many, and how many hit gold."""
    stats: dict[str, list[int]] = {}
    for item, findings in zip(items, found):
        for f in findings:
            row = stats.setdefault(f.check, [0, 0, 0])
            label = spec.label(item, f)
            row[0] += 1
            row[1] += label is not None
            row[2] += bool(label)
    return [
        {"check": check, "findings": n, "labelled": lab, "precision": (hit / lab) if lab else None}
        for check, (n, lab, hit) in sorted(stats.items(), key=lambda kv: -kv[1][0])
    ]


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    return path
