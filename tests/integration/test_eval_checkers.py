"""Every registered checker runs through `mtqa eval` on real data without failing (tiny limits)."""

import json

import pytest
from typer.testing import CliRunner

import mtqa.cli.eval  # noqa: F401  (registers the sub-command until mtqa.cli imports it)
from mtqa.checkers import load_checker
from mtqa.cli import app
from mtqa.config import Settings

runner = CliRunner()


@pytest.mark.integration
@pytest.mark.parametrize("checker", ["names", "grammar", "lm", "garble"])
def test_checker_runs_in_eval(shared_data, checker, tmp_path):
    if not (shared_data / "names").is_dir():
        pytest.skip(f"{shared_data / 'names'} not found (set MTQA_DATA_DIR)")
    try:
        load_checker(checker, Settings(device="cpu"))
    except Exception as exc:  # not installed here: say which and why
        pytest.skip(f"checker {checker} unavailable: {exc}")
    out = tmp_path / "out.json"
    result = runner.invoke(app, ["eval", "names", "--only", checker, "--limit", "3", "--device", "cpu",
                                 "--output", str(out)])  # fmt: skip
    payload = json.loads(out.read_text())
    assert not payload["failed"], payload["failed"]
    assert result.exit_code == 0, result.output
    assert payload["checkers"] == [checker] and payload["n_documents"] == 6
