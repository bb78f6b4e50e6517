"""Model cards and offline loading, with a tiny randomly initialised model saved to tmp_path."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mtqa.config import Settings
from mtqa.lm.cards import checkpoint_dir, list_cards, load_card, read_card


def test_import_does_not_load_torch():
    code = "import sys, mtqa.lm, mtqa.checkers.lm; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_packaged_cards_are_complete():
    cards = {c.name: c for c in list_cards()}
    assert {"gemma-3-270m", "smollm2-135m"} <= set(cards)
    assert [c.name for c in cards.values() if c.default] == ["gemma-3-270m"]
    assert load_card(None).name == "gemma-3-270m"
    for card in cards.values():
        assert card.licence and card.max_context > 0
        assert card.dtype_for("cuda") == "bfloat16" and card.dtype_for("cpu") in ("bfloat16", "float32")
        assert card.budget_for("cpu") > 0 and "pypi" in card.source


def test_unknown_card_is_a_clear_error():
    with pytest.raises(FileNotFoundError, match="no model card"):
        load_card("no-such-model")


def test_hub_card_never_downloads(tmp_path, monkeypatch):
    card_file = tmp_path / "hubby.yaml"
    card_file.write_text("name: hubby\nsource: {hub: example-org/example-model, revision: main}\nlicence: x\n")
    monkeypatch.delenv("MTQA_ALLOW_DOWNLOAD", raising=False)
    where, kwargs = checkpoint_dir(read_card(card_file))
    assert where == "example-org/example-model"
    assert kwargs == {"local_files_only": True, "revision": "main"}


def test_local_card_loads_through_get_scorer(tmp_path):
    pytest.importorskip("torch")
    from mtqa.lm import get_scorer
    from mtqa.lm.tiny import save_tiny

    save_tiny(tmp_path / "tiny")
    card_file = tmp_path / "tiny.yaml"
    card_file.write_text(
        "name: tiny-test\nsource: {local: tiny}\nlicence: none\ndtype: {cpu: float32}\n"
        "max_context: 128\ntoken_budget: {cpu: 256}\nstart_token: '<|endoftext|>'\n"
    )
    scorer = get_scorer(Settings(model=str(card_file), device="cpu"))
    assert get_scorer(Settings(model=str(card_file), device="cpu")) is scorer  # cached
    sig = scorer.signature()
    assert sig["model"] == "tiny-test" and sig["device"] == "cpu" and sig["dtype"] == "float32"
    assert sig["card_hash"] == read_card(card_file).card_hash
    [scored] = scorer.score(["Prices rose again."])
    assert len(scored.tokens) > 0 and scored.tokens[-1].end == len("Prices rose again.")
    assert scorer.token_budget == 256


def test_cpu_bf16_only_where_the_hardware_has_it(monkeypatch):
    torch = pytest.importorskip("torch")
    import mtqa.lm.scorer as scorer_module

    monkeypatch.setattr(scorer_module, "cpu_has_fast_bf16", lambda: False)
    assert scorer_module.resolve_dtype("bfloat16", "cpu") == torch.float32
    monkeypatch.setattr(scorer_module, "cpu_has_fast_bf16", lambda: True)
    assert scorer_module.resolve_dtype("bfloat16", "cpu") == torch.bfloat16
    assert scorer_module.resolve_dtype("float16", "cpu") == torch.float32
    assert scorer_module.resolve_dtype("float32", "cpu") == torch.float32
