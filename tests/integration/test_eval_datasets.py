"""`mtqa eval <dataset> --limit 20` on the real shared data, surface checkers only (CI-sized)."""

import json

import pytest
from typer.testing import CliRunner

import mtqa.cli.eval  # noqa: F401  (registers the sub-command until mtqa.cli imports it)
from mtqa.cli import app
from mtqa.eval import DATASETS, resolve_dataset
from mtqa.eval.runner import select_items

runner = CliRunner()
# What every dataset's summary must carry, and the range it must lie in.
HEADLINE = {"ocr": "f1", "names": "f1", "demetr": "mean_detection_rate", "mt_mqm": "recall", "mt_qe_wordtags": "mcc"}


def _need(shared_data, name):
    if not (shared_data / name).is_dir():
        pytest.skip(f"{shared_data / name} not found (set MTQA_DATA_DIR)")


@pytest.mark.integration
@pytest.mark.parametrize("name", sorted(DATASETS))
def test_eval_limit_20(shared_data, name, tmp_path):
    _need(shared_data, name)
    out = tmp_path / f"{name}.json"
    result = runner.invoke(app, ["eval", name, "--limit", "20", "--only", "boilerplate,ocr", "--output", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(out.read_text())
    assert payload["split"] == "test" and payload["n_items"] > 0 and not payload["failed"]
    value = payload["summary"][HEADLINE[name]]
    assert value is not None and -1.0 <= value <= 1.0
    assert payload["seconds"] < 60


@pytest.mark.integration
def test_ocr_surface_checker_finds_real_ocr_damage(shared_data, tmp_path):
    """The OCR checker is precise on real newspaper OCR: most of what it flags is a gold error."""
    _need(shared_data, "ocr")
    out = tmp_path / "ocr.json"
    result = runner.invoke(app, ["eval", "ocr", "--limit", "20", "--only", "ocr", "--output", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(out.read_text())["summary"]
    assert summary["tp"] > 10 and summary["precision"] > 0.7


@pytest.mark.integration
def test_gold_is_consistent_with_the_data(shared_data):
    """Loader sanity on the real files: MQM gold spans match their text, splits are disjoint by source unit."""
    for name in ("mt_mqm", "ocr", "demetr"):
        _need(shared_data, name)
    dataset, files = resolve_dataset("mt_mqm")
    items = dataset.load(files)
    assert all(g.end <= len(it.text) for it in items for g in it.gold)
    assert all(it.text[g.start : g.end].strip() for it in items for g in it.gold)
    dataset, files = resolve_dataset("ocr")
    ocr_items = dataset.load(files)
    by_article = {}
    for it in ocr_items:
        by_article.setdefault(it.record.rsplit("|", 1)[0], set()).add(it.split)
    assert all(len(s) == 1 for s in by_article.values())  # an article never straddles dev and test
    dev, test = select_items(ocr_items, "dev", None), select_items(ocr_items, "test", None)
    assert dev and test and not {i.id for i in dev} & {i.id for i in test}
