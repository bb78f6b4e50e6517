"""``mtqa bench CONFIG``: models x datasets x devices x dtypes, plus "no LM" and each signal alone.

A config (``benchmarks/*.yaml``)::

    name: compare_models
    split: test                       # the split every run reports on
    datasets:                         # name (or path) and a per-dataset record limit
      - {name: names, limit: 200}
    models: [gemma-3-270m, smollm2-135m]   # model card names in models/
    devices: [cpu]                    # cpu | cuda | auto
    dtypes: [auto]                    # auto = the card's dtype for the device; int8 = dynamic int8 (CPU)
    full: true                        # all enabled checkers, once per model x device x dtype
    no_lm: [names, grammar]           # the "no LM" system (omit to skip)
    systems:                          # optional further combinations without a model: label -> checkers
      surface + no LM: [boilerplate, ocr, names, grammar]
    signals: [names, grammar, lm, garble, ocr, boilerplate]   # each alone
    lm_signals: [lm, garble]          # signals that need a model: run with lm_signal_models
    lm_signal_models: first           # first | all
    min_confidence: null              # optional: score only findings at or above this confidence
    calibration: models/combiner.json # optional: also score every run with calibrated confidences
    calibrated_thresholds: null       #   kept when calibrated confidence >= t; null: the calibration's
                                      #   own dev-chosen report threshold
    reuse_lm_cache: false             # true: later runs of a model reuse its sentence scores (CPU budget);
                                      #   their speed is then marked "warm cache" and is not comparable
    derive_subsets: true              # runs that differ only in their checkers are checked in one pass
                                      #   and each scored on its own checkers' findings (checkers never
                                      #   see each other's findings, so the scores are those of separate
                                      #   runs); its speed is its checkers' share of the pass. false:
                                      #   every run checks separately (per-run speed, more time)
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import yaml

from ..config import PROJECT_DIR, Settings, models_dir
from .runner import default_checkers, git_hash, rescore, run_eval, write_json

DTYPES = ("auto", "int8")  # what the LM loader can be asked for (see mtqa.lm.get_scorer)
# Headline numbers shown per dataset (besides the primary metric).
SHOWN = ("precision", "recall", "f1", "mcc", "false_alarm_rate", "top1_of_detected")


@dataclass
class RunSpec:
    label: str
    settings: Settings
    only: list[str] | None
    model: str | None = None
    device: str = "cpu"
    dtype: str = "auto"
    skip: str | None = None
    env: dict[str, str] = field(default_factory=dict)


def model_names() -> list[str]:
    names = []
    for path in sorted(models_dir().glob("*.yaml")):
        try:
            card = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError:
            continue
        if card.get("name"):
            names.append(str(card["name"]))
    return names


def _cuda_available() -> bool:
    if importlib.util.find_spec("torch") is None:
        return False
    import torch

    return bool(torch.cuda.is_available())


def load_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    cfg.setdefault("name", path.stem)
    cfg.setdefault("split", "test")
    cfg.setdefault("models", [])
    cfg.setdefault("devices", ["cpu"])
    cfg.setdefault("dtypes", ["auto"])
    cfg.setdefault("full", bool(cfg["models"]))
    cfg.setdefault("signals", [])
    cfg.setdefault("lm_signals", ["lm", "garble"])
    cfg.setdefault("lm_signal_models", "first")
    datasets = []
    for entry in cfg.get("datasets") or []:
        entry = {"name": entry} if isinstance(entry, str) else dict(entry)
        datasets.append(entry)
    if not datasets:
        raise ValueError(f"{path}: no datasets")
    cfg["datasets"] = datasets
    known = set(model_names())
    unknown = [m for m in cfg["models"] if m not in known]
    if unknown:
        raise ValueError(f"{path}: unknown model card(s) {unknown}; models/ has {sorted(known)}")
    return cfg


def plan_runs(cfg: dict[str, Any]) -> list[RunSpec]:
    runs: list[RunSpec] = []
    cuda = None

    def skip_reason(device: str, dtype: str) -> str | None:
        nonlocal cuda
        if dtype not in DTYPES:
            return f"dtype {dtype!r} not offered by the LM loader ({', '.join(DTYPES)})"
        if dtype == "int8" and device != "cpu":
            return "int8 is a CPU option"
        if device.startswith("cuda"):
            cuda = _cuda_available() if cuda is None else cuda
            if not cuda:
                return "no CUDA device"
        return None

    def spec(label, only, model=None, device="cpu", dtype="auto", use_lm=True) -> RunSpec:
        env = {"MTQA_INT8": "1"} if dtype == "int8" else {}
        # raw findings: the calibrated rows are derived from the same run afterwards
        settings = Settings(device=device, model=model, use_lm=use_lm, calibration="off", min_confidence=0.0)
        return RunSpec(label, settings, only, model, device, dtype, skip_reason(device, dtype) if model else None, env)

    if cfg["full"]:
        for model in cfg["models"]:
            for device in cfg["devices"]:
                for dtype in cfg["dtypes"]:
                    runs.append(spec(f"all: {model} {device} {dtype}", None, model, device, dtype))
    if cfg.get("no_lm"):
        runs.append(spec("no LM: " + "+".join(cfg["no_lm"]), list(cfg["no_lm"]), use_lm=False))
    for label, checkers in (cfg.get("systems") or {}).items():
        runs.append(spec(str(label), list(checkers), use_lm=False))
    lm_models = cfg["models"] if cfg["lm_signal_models"] == "all" else cfg["models"][:1]
    device, dtype = cfg["devices"][0], cfg["dtypes"][0]
    for signal in cfg["signals"]:
        if signal in cfg["lm_signals"]:
            for model in lm_models or [None]:
                runs.append(spec(f"{signal} alone: {model or 'default'} {device} {dtype}", [signal], model, device, dtype))
        else:
            runs.append(spec(f"{signal} alone", [signal], use_lm=False))
    return runs


@contextlib.contextmanager
def _env(values: dict[str, str]) -> Iterator[None]:
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _groups(runs: Sequence[RunSpec], separate: bool) -> list[list[RunSpec]]:
    """Runs that differ only in their checkers share one checking pass (``derive_subsets``)."""
    if separate:
        return [[run] for run in runs]
    groups: dict[tuple, list[RunSpec]] = {}
    for run in runs:
        key = (run.model, run.device, run.dtype, run.settings.use_lm, run.skip, tuple(sorted(run.env.items())))
        groups.setdefault(key, []).append(run)
    return list(groups.values())


def _checkers(run: RunSpec) -> list[str]:
    return list(run.only) if run.only else default_checkers(run.settings)


def run_bench(config: str | Path, output_dir: str | Path | None = None, echo=print) -> dict[str, Any]:
    cfg = load_config(config)
    out_dir = Path(output_dir) if output_dir else PROJECT_DIR / "benchmarks" / "results"
    per_run: dict[tuple[str, str], tuple[dict, dict, Any]] = {}  # (run, dataset) -> row, result json, result
    scored: set[tuple[str, str]] = set()  # (model, dataset) pairs whose sentences the LM has scored
    runs = plan_runs(cfg)
    reuse = bool(cfg.get("reuse_lm_cache"))
    git = git_hash()  # at the start: the commit of the code that runs, even if HEAD moves meanwhile
    for group in _groups(runs, separate=not cfg.get("derive_subsets", True)):
        host = group[0]  # the group's runs share its settings
        checkers = {run.label: _checkers(run) for run in group}
        union = list(dict.fromkeys(c for names in checkers.values() for c in names))
        subsets = {label: names for label, names in checkers.items() if set(names) != set(union)}
        labels = ", ".join(checkers)
        for entry in cfg["datasets"]:
            if host.skip:
                for run in group:
                    base = {"run": run.label, "dataset": entry["name"]}
                    per_run[run.label, entry["name"]] = ({**base, "note": f"skipped: {host.skip}"},
                                                         {**base, "skipped": host.skip}, None)  # fmt: skip
                continue
            echo(f"bench: {labels} on {entry['name']} (limit {entry.get('limit')})")
            warm = reuse and (host.model or "default", entry["name"]) in scored
            with _env(host.env):
                main = run_eval(entry["name"], host.settings, only=union, split=entry.get("split", cfg["split"]),
                                limit=entry.get("limit"), min_confidence=cfg.get("min_confidence"),
                                clear_cache=not reuse, subsets=subsets)  # fmt: skip
            if main.info["lm_forward_tokens"] or warm:
                scored.add((host.model or "default", entry["name"]))
            for run in group:
                result = main.derived.get(run.label, main)
                notes = ["warm LM cache"] if warm else []
                if result is not main:
                    notes.append(f"from the {'+'.join(union)} pass (time: its checkers' share)")
                per_run[run.label, entry["name"]] = _row(run, entry["name"], result, notes)
    rows, results, to_calibrate = [], [], []
    for run in runs:  # the config's order, whatever order the passes ran in
        for entry in cfg["datasets"]:
            row, result_json, result = per_run[run.label, entry["name"]]
            rows.append(row)
            results.append(result_json)
            if result is not None and cfg.get("calibration"):
                to_calibrate.append((len(rows) - 1, row, result))
    calibrated_rows(cfg, to_calibrate, rows, results, echo)
    payload = {
        "benchmark": cfg["name"], "config": cfg, "git": git,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "rows": rows, "runs": results,
    }  # fmt: skip
    payload["quality_table"], payload["speed_table"] = pivot(rows)
    json_path = write_json(out_dir / f"bench-{cfg['name']}.json", payload)
    png_path = draw_chart(rows, out_dir / f"bench-{cfg['name']}.png", cfg["name"])
    return {"rows": rows, "json": json_path, "png": png_path, "payload": payload}


def _row(run: RunSpec, dataset: str, result: Any, notes: list[str]) -> tuple[dict, dict, Any]:
    """The table row and the JSON record of one run on one dataset."""
    info, summary = result.info, result.score.summary
    base = {"run": run.label, "dataset": dataset}
    notes = [f"unavailable {k}" for k in info["unavailable"]] + [f"failed {k}" for k in info["failed"]] + notes
    # a run that lost a checker measures a different system: no headline number for it
    row = {**base, "metric": info["primary_metric"], "value": None if info["failed"] else info["primary"]}
    row.update({k: summary.get(k) for k in SHOWN if k in summary and k != info["primary_metric"]})
    row.update({"docs": info["n_documents"], "docs/s": info["docs_per_s"], "LM tok/s": info["lm_tokens_per_s"],
                "checkers": "+".join(info["checkers"]) or "none", "note": "; ".join(notes) or None})  # fmt: skip
    record = {**base, "model": run.model, "device": run.device, "dtype": run.dtype,
              **{k: v for k, v in result.to_json().items() if k != "details"}}  # fmt: skip
    return row, record, result


def calibrated_rows(cfg, runs, rows: list, results: list, echo) -> None:
    """Score each run again with the calibration model (loaded now: it may be fitted meanwhile),
    so the combined system and every signal alone are compared as `mtqa check` reports them."""
    if not runs:
        return
    from ..calibration import Calibrator

    path = Path(cfg["calibration"])
    calibrator = Calibrator.load(path if path.is_absolute() else PROJECT_DIR / path)
    if calibrator is None:
        echo(f"bench: no calibration model at {cfg['calibration']}: calibrated rows skipped")
        return
    for index, row, result in reversed(runs):  # insert from the back so earlier indices stay valid
        info = result.info
        new = []
        for t in cfg.get("calibrated_thresholds") or [calibrator.report_threshold]:
            score = rescore(result, calibrator, t)
            label = f"{row['run']} + calibrated >= {t}"
            cal_row = {**row, "run": label, "value": None if info["failed"] else score.summary.get(info["primary_metric"])}
            cal_row.update({k: score.summary.get(k) for k in SHOWN if k in score.summary and k != info["primary_metric"]})
            new.append(cal_row)
            results.append({"run": label, "dataset": row["dataset"], "calibration": calibrator.data_hash,
                            "threshold": t, "summary": score.summary, "table": score.rows})  # fmt: skip
        rows[index + 1 : index + 1] = new


def pivot(rows: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One row per run: each dataset's primary metric (and DEMETR's false alarms); then the speeds."""
    quality: dict[str, dict[str, Any]] = {}
    speed: dict[str, dict[str, Any]] = {}
    notes: dict[str, dict[str, list[str]]] = {}  # run -> note -> datasets
    for r in rows:
        q = quality.setdefault(r["run"], {"run": r["run"]})
        v = speed.setdefault(r["run"], {"run": r["run"]})
        if "note" in r and "metric" not in r:  # skipped
            q[r["dataset"]] = "skipped"
            continue
        q[f"{r['dataset']} {r['metric']}"] = r.get("value")
        if r["dataset"] == "demetr":
            q["demetr false_alarm"] = r.get("false_alarm_rate")
        v[f"{r['dataset']} docs/s"] = r.get("docs/s")
        if r.get("LM tok/s"):
            v[f"{r['dataset']} LM tok/s"] = r.get("LM tok/s")
        for note in filter(None, (r.get("note") or "").split("; ")):
            notes.setdefault(r["run"], {}).setdefault(note, []).append(r["dataset"])
    for run, by_note in notes.items():  # a note shared by every dataset of the run is said once
        every = len({r["dataset"] for r in rows if r["run"] == run})
        quality[run]["note"] = "; ".join(n if len(ds) == every else f"{', '.join(ds)}: {n}" for n, ds in by_note.items())
    return list(quality.values()), list(speed.values())


def _marker(label: str) -> str:
    """Circle: a full system with a model; triangle: one signal alone; star: calibrated; square: the rest."""
    if "calibrated" in label:
        return "*"
    if label.startswith("all"):
        return "o"
    if " alone" in label:
        return "^"
    return "s"


def draw_chart(rows: Sequence[dict[str, Any]], path: Path, title: str) -> Path | None:
    """Quality (each dataset's primary metric) against throughput, one point per run."""
    points = [r for r in rows if r.get("value") is not None and r.get("docs/s")]
    if not points:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    datasets = list(dict.fromkeys(r["dataset"] for r in points))
    ncols = min(3, len(datasets))
    nrows = (len(datasets) + ncols - 1) // ncols
    # wide enough for the three-column legend and the title, even with one dataset
    fig, axes = plt.subplots(nrows, ncols, figsize=(max(5.5 * ncols, 12), 4.2 * nrows + 1.2), squeeze=False)
    labels = list(dict.fromkeys(r["run"] for r in points))
    palette = plt.cm.tab10 if len(labels) <= 10 else plt.cm.tab20
    colours = {label: palette(i % palette.N) for i, label in enumerate(labels)}
    markers = {label: _marker(label) for label in labels}
    for ax in axes.flat[len(datasets) :]:
        ax.axis("off")
    for ax, dataset in zip(axes.flat, datasets):
        for r in (r for r in points if r["dataset"] == dataset):
            ax.scatter(r["docs/s"], r["value"], color=colours[r["run"]], marker=markers[r["run"]], s=45)
            if r.get("LM tok/s"):
                ax.annotate(f"{r['LM tok/s']:.0f} tok/s", (r["docs/s"], r["value"]), fontsize=6,
                            xytext=(3, 3), textcoords="offset points")  # fmt: skip
        ax.set_xscale("log")
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("documents / s (log)")
        ax.set_ylabel(next(r["metric"] for r in points if r["dataset"] == dataset))
        ax.set_title(dataset)
        ax.grid(alpha=0.3)
    handles = {label: plt.Line2D([], [], marker=markers[label], ls="", color=c) for label, c in colours.items()}
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(3, len(handles)), fontsize=7)
    fig.suptitle(f"mtqa bench {title}: quality vs throughput (one point per run)")
    legend_rows = (len(handles) + 2) // 3
    fig.tight_layout(rect=(0, min(0.4, 0.035 * legend_rows + 0.02), 1, 0.96))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
