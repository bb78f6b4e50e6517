"""``mtqa eval`` (score checkers on a labelled dataset) and ``mtqa calibrate`` (fit the combiner)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from ..calibration import DEFAULT_DATASETS
from ..config import Settings
from . import app
from .exit_codes import BAD_INPUT, INTERNAL_ERROR
from .options import DecisionOpt, DecisionThresholdOpt

_SPLITS = ("dev", "test", "train", "all")


def _selected(only: Optional[str]) -> list[str] | None:
    return [n.strip() for n in only.split(",") if n.strip()] if only else None


def _parse_limits(text: Optional[str]) -> int | dict[str, int] | None:
    if not text:
        return None
    if "=" not in text:
        return int(text)
    pairs = (part.split("=", 1) for part in text.split(",") if part.strip())
    return {name.strip(): int(n) for name, n in pairs}


def _default_output(name: str) -> Path:
    from ..config import PROJECT_DIR

    results = PROJECT_DIR / "benchmarks" / "results"
    return (results if results.parent.is_dir() else Path.cwd()) / f"{name}.json"


@app.command("eval")
def eval_command(
    dataset: Optional[str] = typer.Argument(None, help="ocr, names, demetr, mt_mqm, mt_qe_wordtags, or a path to such data."),
    model: Optional[str] = typer.Option(None, "--model", help="Model card name (see models/)."),
    grammar: str = typer.Option("auto", "--grammar", help="Grammar backend name, or 'off'."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="At most N source records (hashed order)."),
    split: str = typer.Option("test", "--split", help="dev | test | train | all."),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated checkers (default: all enabled)."),
    no_lm: bool = typer.Option(False, "--no-lm", help="Skip the language-model pass."),
    min_confidence: float = typer.Option(0.0, "--min-confidence", help="Drop findings below this confidence."),
    calibration: str = typer.Option(
        "default", "--calibration", help="default (models/combiner.json) | off | path to a calibration model."
    ),
    decision: DecisionOpt = "default",
    decision_threshold: DecisionThresholdOpt = None,
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="JSON result file."),
    cross_source: bool = typer.Option(
        False, "--cross-source", help="Fit the learned decision on dev without one source, score that source (no LM)."
    ),
    lm_proposals: bool = typer.Option(
        False, "--lm-proposals", help="--cross-source with the LM's proposals (its first pass, cached per split)."
    ),
) -> None:
    """Score mtqa's findings against the gold labels of an evaluation dataset."""
    from ..eval import DatasetError, run_eval
    from ..eval.report import print_eval
    from ..eval.runner import write_json

    err = Console(stderr=True, highlight=False)
    if split not in _SPLITS:
        err.print(f"mtqa: --split must be one of {', '.join(_SPLITS)}")
        raise typer.Exit(BAD_INPUT)
    if cross_source:
        if dataset is not None or split == "train":
            err.print("mtqa: --cross-source takes no dataset (it uses every shared set) and --split dev|test|all")
            raise typer.Exit(BAD_INPUT)
        _cross_source(split, limit, output, err, lm=lm_proposals)
        return
    if dataset is None:
        err.print("mtqa: give a dataset (or --cross-source)")
        raise typer.Exit(BAD_INPUT)
    settings = Settings(device=device, model=model, grammar=grammar, use_lm=not no_lm, calibration=calibration,
                        min_confidence=min_confidence, decision=decision, decision_threshold=decision_threshold)  # fmt: skip
    show = err.is_terminal
    try:
        result = run_eval(dataset, settings, only=_selected(only), split=split, limit=limit,
                          progress=(lambda done, total: err.print(f"  {done}/{total} documents", end="\r")) if show else None)  # fmt: skip
    except (DatasetError, FileNotFoundError, ValueError) as exc:
        err.print(f"mtqa: {exc}")
        raise typer.Exit(BAD_INPUT)
    payload = result.to_json()
    print_eval(payload)
    if "calibration" in payload:
        from ..eval.report import table

        cal = payload["calibration"]
        ece = f"expected calibration error {cal['ece']:.3f}" if cal["ece"] is not None else None
        Console(width=None if err.is_terminal else 160).print(table(f"reliability on {split} (calibration {cal['data_hash']})", cal["reliability"], ece))
    path = write_json(output or _default_output(f"eval-{result.dataset}-{split}"), payload)
    Console(highlight=False).print(f"wrote {path}")
    if result.failures:  # the numbers above lack a signal: say so in the exit status too
        raise typer.Exit(INTERNAL_ERROR)


@app.command("calibrate")
def calibrate_command(
    datasets: str = typer.Option(",".join(DEFAULT_DATASETS), "--datasets", help="Comma-separated (demetr may be added; see docs/evaluation.md)."),
    limit: Optional[str] = typer.Option(
        None, "--limit", help="At most N dev records per dataset: N, or per dataset as names=200,ocr=10."
    ),
    only: Optional[str] = typer.Option(None, "--only", help="Comma-separated checkers (default: all enabled)."),
    model: Optional[str] = typer.Option(None, "--model", help="Model card name (see models/)."),
    device: str = typer.Option("auto", "--device", help="auto | cpu | cuda."),
    no_lm: bool = typer.Option(False, "--no-lm", help="Skip the language-model pass."),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Default: models/combiner.json."),
    report: Optional[Path] = typer.Option(None, "--report", help="Reliability report JSON."),
    findings: Optional[Path] = typer.Option(None, "--findings", help="Also write the labelled findings (JSONL)."),
) -> None:
    """Fit the finding-confidence calibration on dev splits; print its reliability table."""
    from ..calibration import fit_from_datasets
    from ..eval import DatasetError
    from ..eval.report import table
    from ..eval.runner import write_json

    console = Console(highlight=False)
    settings = Settings(device=device, model=model, use_lm=not no_lm)
    try:
        limits = _parse_limits(limit)
        fitted = fit_from_datasets([d.strip() for d in datasets.split(",") if d.strip()], settings,
                                   only=_selected(only), limit=limits, output=output, findings_out=findings,
                                   echo=lambda msg: Console(stderr=True).print(msg, highlight=False))  # fmt: skip
    except (DatasetError, ValueError) as exc:
        Console(stderr=True).print(f"mtqa: {exc}")
        raise typer.Exit(BAD_INPUT)
    for name, rows in fitted["reliability"].items():
        ece = fitted["report"]["ece"][name]
        console.print(table(f"reliability on held-back dev findings ({name} confidence)", rows,
                            f"expected calibration error {ece:.3f}" if ece is not None else None))  # fmt: skip
    console.print(f"wrote {fitted['path']} (data {fitted['model']['data_hash']}, "
                  f"{fitted['model']['fitted_on']['n_findings']} findings)")  # fmt: skip
    write_json(report or _default_output("calibration"), fitted["report"])


def _cross_source(split: str, limit: Optional[int], output: Optional[Path], err: Console, lm: bool) -> None:
    from ..eval import DatasetError
    from ..eval.fit_decision import FIT_DATASETS, cross_source
    from ..eval.report import table
    from ..eval.runner import write_json

    limits = {name: limit for name in FIT_DATASETS} if limit else None
    splits = ("dev", "test") if split == "all" else (split,)
    try:
        results = cross_source(splits, limits, echo=lambda msg: err.print(msg, highlight=False), lm=lm)
    except (DatasetError, FileNotFoundError, ValueError, ImportError) as exc:
        err.print(f"mtqa: {exc}")
        raise typer.Exit(BAD_INPUT)
    console = Console(width=None if err.is_terminal else 240, highlight=False)
    for name, result in results.items():
        caption = (f"F1 of the error class (word tags: F1-BAD); learned decision: fitted on dev without the row's "
                   f"source, threshold t chosen on its own dev data | all-dev model data {result['data_hash']}")  # fmt: skip
        console.print(table(f"cross-source ({name} split of the held-out source)", result["rows"], caption))
        demetr = [{"system": k, **v} for k, v in result["demetr"].items()]
        console.print(table(f"DEMETR {name} (all-dev model): detection rate and clean-MT false alarms", demetr))
        losing = [row for row, win in result["learned_beats_languagetool"].items() if not win]
        console.print(f"learned decision ahead of LanguageTool rules alone on {len(result['rows']) - len(losing)}"
                      f" of {len(result['rows'])} rows" + (f"; not on: {'; '.join(losing)}" if losing else ""))  # fmt: skip
        path = write_json(output.with_name(f"{output.stem}-{name}{output.suffix}") if output and len(results) > 1
                          else output or _default_output(f"cross-source-{name}"), result)  # fmt: skip
        console.print(f"wrote {path}")


@app.command("fit-decision")
def fit_decision_command(
    limit: Optional[str] = typer.Option(
        None, "--limit", help="At most N dev records per dataset: N, or per dataset as names=200,ocr=10."
    ),
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Default: models/decision.json."),
    report: Optional[Path] = typer.Option(None, "--report", help="Fit report JSON (threshold table, dev rows)."),
    lm_proposals: bool = typer.Option(
        False, "--lm-proposals", help="Also the words the LM's first pass did not expect (the pass is cached per split)."
    ),
) -> None:
    """Fit the learned decision over the LM-free candidates on the dev splits (scikit-learn)."""
    from ..eval import DatasetError
    from ..eval.fit_decision import FIT_DATASETS, fit_decision
    from ..eval.report import table
    from ..eval.runner import write_json

    err = Console(stderr=True, highlight=False)
    limits = _parse_limits(limit)
    if isinstance(limits, int):
        limits = {name: limits for name in (*FIT_DATASETS, "demetr")}
    try:
        fitted = fit_decision(limits, output, echo=lambda msg: err.print(msg, highlight=False), lm=lm_proposals)
    except (DatasetError, ValueError, ImportError) as exc:
        err.print(f"mtqa: {exc}")
        raise typer.Exit(BAD_INPUT)
    console = Console(width=None if err.is_terminal else 220, highlight=False)
    console.print(table("dev F1, out-of-fold (records grouped)", fitted["dev_rows"]))
    # the grid at the chosen veto threshold (every row is in the report JSON)
    rows = [{k: v for k, v in r.items() if k != "within_budget"} | {"ok": r["within_budget"]}
            for r in fitted["threshold_table"]
            if (r["veto"], r["lm_threshold"]) == (fitted["veto_threshold"], fitted["lm_threshold"])]  # fmt: skip
    point = f"veto {fitted['veto_threshold']}, LM proposals at {fitted['lm_threshold']}"
    console.print(table(f"report threshold at {point} (dev, out-of-fold)", rows))
    console.print(f"wrote {fitted['path']} (data {fitted['data_hash']}, {fitted['n_candidates']} candidates, "
                  f"report threshold {fitted['report_threshold']}, {point})")  # fmt: skip
    if fitted["without_proposals"]:
        alone = fitted["without_proposals"]
        console.print(f"without the LM's proposals: report threshold {alone['report_threshold']}, veto {alone['veto']}")
    write_json(report or _default_output("decision-fit"), fitted)
