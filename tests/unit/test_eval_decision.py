"""The learned decision: candidate mode, cross-source split logic, the exported model and its runtime."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from mtqa.calibration import load_calibration
from mtqa.checkers.grammar import GrammarChecker
from mtqa.combiner import Combiner
from mtqa.config import PROJECT_DIR, Settings
from mtqa.decision import Decision, candidate_features, char_plausibility, document_features, load_decision, vectorize
from mtqa.document import Document
from mtqa.eval.fit_decision import (
    FIT_DATASETS, Table, _group_folds, _training_set, cross_source_folds, export_trees, source_of,
)  # fmt: skip
from mtqa.eval.items import EvalItem
from mtqa.findings import Finding
from mtqa.grammar import GrammarMatch, load_profile

MODEL = PROJECT_DIR / "models" / "decision.json"
FIXTURE = PROJECT_DIR / "tests" / "fixtures" / "clean_news.txt"


class FakeBackend:
    name = "fake"
    version = "0"

    def __init__(self, matches):
        self.matches = matches

    def check(self, texts):
        return [list(self.matches) for _ in texts]

    def close(self):
        pass


# --- candidate mode ---------------------------------------------------------------------------
def test_candidate_mode_reports_every_match_with_the_news_profiles_verdict():
    text = "The colour of teh sky , said Mr Smith."
    matches = [
        GrammarMatch(14, 17, "MORFOLOGIK_RULE_EN_US", "Possible spelling mistake found.", ("the",), "TYPOS", "misspelling"),
        GrammarMatch(4, 10, "MORFOLOGIK_RULE_EN_US", "Possible spelling mistake found. colour is British English.",
                     ("color",), "TYPOS", "misspelling"),
        GrammarMatch(21, 23, "COMMA_PARENTHESIS_WHITESPACE", "Put a space after the comma.", (",",), "TYPOGRAPHY"),
    ]  # fmt: skip
    settings = Settings(grammar="lingotweaker")
    news = GrammarChecker(settings, backend=FakeBackend(matches), name_lookup_provider=lambda d: None)
    cand = GrammarChecker(settings, backend=FakeBackend(matches), profile=load_profile(settings).as_candidates(),
                          name_lookup_provider=lambda d: None)  # fmt: skip
    doc = Document.from_text(text)
    kept = news.check([doc])[0]
    every = cand.check([doc])[0]
    assert [text[f.start : f.end] for f in kept] == ["teh"]
    assert len(every) == 3
    verdicts = {text[f.start : f.end]: f.evidence["news_profile"] for f in every}
    assert verdicts == {"teh": "kept", "colour": "other_variant", " ,": "rule_off"}
    same = next(f for f in every if f.evidence["news_profile"] == "kept")
    assert (same.start, same.end, same.confidence, same.check) == (kept[0].start, kept[0].end, kept[0].confidence, kept[0].check)
    assert all(f.confidence < kept[0].confidence for f in every if f.evidence["news_profile"] != "kept")


def test_candidate_profile_runs_the_engines_defaults():
    profile = load_profile(Settings()).as_candidates()
    assert profile.engine_options() == {"enabled_rules": [], "disabled_rules": [], "enabled_categories": [],
                                        "disabled_categories": []}  # fmt: skip
    assert profile.digest != load_profile(Settings()).digest  # the signature tells the modes apart
    assert not profile.allows("WHITESPACE_RULE", "TYPOGRAPHY")  # still judges like the news profile


# --- cross-source split logic -------------------------------------------------------------------
def _item(id_, record, group, split="dev"):
    return EvalItem(id=id_, text="x", split=split, record=record, group=group)


def test_sources_of_each_dataset():
    assert source_of("ocr", _item("icdar2017|3.txt|0", "icdar2017|3.txt|0", "icdar2017")) == "icdar2017"
    assert source_of("ocr", _item("overproof|1|0", "overproof|1|0", "overproof")) == "overproof"
    assert source_of("mt_mqm", _item("mqm_ted2021_zhen|sys|1|r|0", "mqm_ted2021_zhen|sys|1", "ted")) == "ted"
    assert source_of("mt_mqm", _item("mqm_generalMT2023_zhen_sxs|s|1|r|0", "mqm_generalMT2023_zhen_sxs|s|1", "news")) == "generalMT2023"
    assert source_of("mt_qe_wordtags", _item("ro-en|dev|3", "ro-en|dev|3", "ro-en")) == "ro-en"
    assert source_of("names", _item("si-en|dev|3|7|mt", "si-en|dev|3|7", "mt")) == "si-en"


def test_folds_hold_out_one_source_each_and_mlqe_pairs_with_their_name_pairs():
    folds = cross_source_folds()
    held = [f.held_out for f in folds]
    assert (("ocr", "icdar2017"),) in held and (("ocr", "overproof"),) in held
    assert (("mt_mqm", "ted"),) in held and (("mt_mqm", "generalMT2023"),) in held
    for lp in ("et-en", "ne-en", "ro-en", "ru-en", "si-en"):
        assert (("mt_qe_wordtags", lp), ("names", lp)) in held
    assert len(folds) == 9


def _table(dataset, sources, labels):
    items = [_item(f"{dataset}|{i}", f"rec{i}", s) for i, s in enumerate(sources)]
    rows = [{"confidence": 0.5} for _ in sources]
    return Table(dataset, "dev", items, list(sources), [[] for _ in items], [{} for _ in items], rows,
                 [[i] for i in range(len(items))], "h", [(i, i, lab) for i, lab in enumerate(labels)])  # fmt: skip


def test_training_set_leaves_out_the_held_out_source_and_weighs_datasets_equally():
    tables = {"ocr": _table("ocr", ["overproof"] * 6 + ["icdar2017"] * 2, [True, False] * 4),
              "names": _table("names", ["ro-en", "si-en"], [True, False])}  # fmt: skip
    refs, y, groups, w = _training_set(tables, [("ocr", "icdar2017")])
    assert [r for r in refs if r[0] == "ocr"] == [("ocr", r) for r in range(6)]
    assert len(refs) == 8 and len(y) == 8
    ocr_w = sum(wi for (name, _), wi in zip(refs, w) if name == "ocr")
    names_w = sum(wi for (name, _), wi in zip(refs, w) if name == "names")
    assert math.isclose(ocr_w, names_w)
    assert set(FIT_DATASETS) >= set(tables)


def test_demetr_is_fitted_on_only_for_the_chosen_perturbations(monkeypatch):
    import mtqa.eval.fit_decision as fd

    groups = ["clean", "minor_id26_misspelled", "clean", "minor_id14_word_swap"]  # (sources: the groups)
    demetr = _table("demetr", groups, [False, True, False, True])
    tables = {"names": _table("names", ["ro-en", "si-en"], [True, False]), "demetr": demetr}
    assert [name for name, _ in _training_set(tables)[0]] == ["names", "names"]  # the budget only
    monkeypatch.setattr(fd, "TYPO_GROUPS", ("minor_id26_misspelled",))
    refs, _, record_groups, _ = _training_set(tables)
    assert refs[2:] == [("demetr", 1)] and record_groups[2] == "demetr|rec1"  # its clean sentence's fold


def test_the_false_alarm_budget_holds_with_a_standard_error_to_spare():
    from mtqa.eval.fit_decision import MAX_CLEAN_FALSE_ALARMS, budget_upper

    assert budget_upper(0, 276) == 0.0
    assert 13 / 276 < MAX_CLEAN_FALSE_ALARMS < budget_upper(13, 276)  # 4.7 % flagged: too close to 5 %
    assert budget_upper(9, 276) <= MAX_CLEAN_FALSE_ALARMS  # 3.3 %: inside, with its error
    assert budget_upper(130, 2760) < budget_upper(13, 276)  # the same rate on more sentences: a tighter bound


def test_the_names_operating_point_is_scored_on_synthetic_cases():
    from mtqa.eval.fit_decision import synthetic_scores

    # 4 corruptions (two findings over the first, none over the last) and 2 legitimate names
    names = [(True, [0.3, 0.9]), (True, [0.7]), (True, [0.5]), (True, []), (False, [0.55]), (False, [])]
    f1, lower = synthetic_scores(names, 0.0)
    assert math.isclose(f1, 2 * 0.75 * 0.75 / 1.5) and math.isclose(lower, 0.75 - math.sqrt(0.75 * 0.25 / 4))
    f1, lower = synthetic_scores(names, 0.6)  # the legitimate name is no longer flagged
    assert math.isclose(f1, 2 * 1.0 * 0.5 / 1.5) and math.isclose(lower, 0.5 - math.sqrt(0.5 * 0.5 / 4))
    assert synthetic_scores(names, 0.95) == (0.0, 0.0)


def test_inner_folds_keep_a_record_on_one_side():
    groups = ["a", "a", "b", "c", "c", "c", "d"] * 3
    folds = _group_folds(groups, 3)
    for train, test in folds:
        assert not {groups[i] for i in train} & {groups[i] for i in test}
    assert sorted(np.concatenate([t for _, t in folds]).tolist()) == list(range(len(groups)))


# --- export and runtime -------------------------------------------------------------------------
def test_exported_trees_reproduce_scikit_learn_including_missing_values():
    sklearn = pytest.importorskip("sklearn", reason="scikit-learn is the fitting library (the bench extra)")
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 4))
    x[rng.random(600) < 0.2, 1] = np.nan
    y = ((x[:, 0] + np.nan_to_num(x[:, 1], nan=1.0)) > 0.3).astype(int)
    clf = HistGradientBoostingClassifier(max_iter=30, max_leaf_nodes=7, random_state=0).fit(x, y)
    baseline, trees, depth = export_trees(clf)
    model = Decision({"kind": "decision", "version": 1, "features": ["a", "b", "c", "d"], "families": ["grammar"],
                      "baseline": baseline, "sigmoid": {"a": -1.0, "b": 0.0}, "max_depth": depth, "trees": trees})  # fmt: skip
    assert np.allclose(model.raw_score(x), clf.decision_function(x), atol=1e-9)
    assert sklearn.__version__


def _candidate(text, word, check="grammar.MORFOLOGIK_RULE_EN_US", **evidence):
    start = text.index(word)
    ev = {"rule_id": check.split(".", 1)[1], "rule_category": "TYPOS", "news_profile": "kept", **evidence}
    return Finding(start, start + len(word), "spelling", "warning", 0.6, "Possible spelling mistake found.", check,
                   ("the",), ev)  # fmt: skip


def test_features_read_the_word_its_position_and_the_document():
    text = "Tbe council met.\nIt said tlie plan was ready."
    f = _candidate(text, "tlie")
    feats = candidate_features(f, text)
    assert feats["family=grammar"] == 1.0 and feats["ev:news_profile=kept"] == 1.0
    assert feats["w:zipf"] < feats["s:zipf"]
    assert feats["pos:sentence_start"] == 0.0 and candidate_features(_candidate(text, "Tbe"), text)["pos:text_start"] == 1.0
    assert char_plausibility("tlie")[1] < char_plausibility("plan")[1]
    x = vectorize([feats], ["family=grammar", "family=names", "w:zipf", "missing"])
    assert x[0, 0] == 1.0 and x[0, 1] == 0.0 and math.isnan(x[0, 3])


def test_document_features_tell_damaged_and_tokenised_text_from_clean_copy():
    clean = document_features(FIXTURE.read_text(encoding="utf-8"))
    assert clean["doc:oov_lower"] == 0.0 and clean["doc:spaced_punct"] == 0.0 and clean["doc:odd_tokens"] < 0.01
    ocr = document_features("The rnilitary said tbe army , which was in the vil- lage, moved 1o the c!ty.")
    assert ocr["doc:oov_lower"] > 0.05 and ocr["doc:odd_tokens"] > 0.05 and 0.0 < ocr["doc:spaced_punct"] < 1.0
    assert document_features("He said , in Kyiv , that it was over .")["doc:spaced_punct"] == 1.0
    assert math.isnan(document_features("no closing marks here")["doc:spaced_punct"])
    f = _candidate("Tbe council met .", "Tbe")
    assert candidate_features(f, "Tbe council met .")["doc:spaced_punct"] == 1.0


@pytest.fixture(scope="module")
def model() -> Decision:
    decision = load_decision(str(MODEL))
    assert isinstance(decision, Decision), "models/decision.json must be a fitted decision (mtqa fit-decision)"
    return decision


def test_the_fitted_model_loads_with_its_data_hash_and_features(model):
    raw = json.loads(MODEL.read_text(encoding="utf-8"))
    assert model.data_hash == raw["data_hash"] and len(model.data_hash) == 16
    assert model.features == raw["features"] and len(model.features) > 10
    assert 0.0 < model.report_threshold < 1.0
    assert Combiner(decision=model).describe()["decision"] == model.data_hash  # in the run signature
    assert Combiner(decision=model).describe()["decision_model"] == model.model_hash != model.data_hash
    with pytest.raises(ValueError, match="--decision"):  # a decision is not a calibration
        load_calibration(MODEL)


def test_the_fitted_model_scores_deterministically_and_explains_itself(model):
    text = "The rnilitary said the the plan was ready."
    f = _candidate(text, "rnilitary", suggestions=None)
    first = model.calibrate(f, text)
    again = Decision.load(MODEL).calibrate(f, text)
    assert first.confidence == again.confidence and 0.0 <= first.confidence <= 1.0
    assert first.evidence["decision"]["probability"] == first.confidence
    assert first.evidence["raw_confidence"] == 0.6
    assert model.calibrate(first, text).confidence == first.confidence  # applying it twice changes nothing
    top = first.evidence["decision"]["top_features"]
    assert top and all(t["feature"] in model.features for t in top)


def test_document_ocr_damage_never_lowers_the_decision(model):
    text = "Tlie council met on Tuesday to discuss the new budget for the town."
    f = _candidate(text, "Tlie")
    plain = model.apply(f, text)
    for damage in (0.5, 3.0, 20.0, 80.0):
        damaged = replace(f, evidence={**f.evidence, "document": {"ocr_damage_per_100_words": damage}})
        assert model.apply(damaged, text) >= plain - 1e-12


class FixedDecision:
    """A decision that gives every candidate one probability."""

    data_hash, model_hash, report_threshold = "fixed", "fixed-model", 0.5

    def __init__(self, p, veto=0.0, proposal_thresholds=None):
        self.p, self.veto_threshold, self.veto_families = p, veto, ("gazetteer",)
        self.proposal_thresholds = proposal_thresholds or {}

    vetoes = Decision.vetoes
    threshold_for = Decision.threshold_for

    def calibrate(self, finding, text=""):
        return replace(finding, confidence=self.p)


def test_the_decision_only_reports_candidates_the_news_profile_drops():
    text = "Scroll to Continue. The colour of teh sky over W0LSI5GIMM."
    furniture = Finding(0, 18, "boilerplate", "warning", 0.8, "Page furniture", "boilerplate.pattern")
    kept = Finding(34, 37, "spelling", "warning", 0.6, "typo", "grammar.MORFOLOGIK_RULE_EN_US",
                   evidence={"news_profile": "kept"})  # fmt: skip
    dropped = Finding(24, 30, "spelling", "info", 0.1, "British", "grammar.MORFOLOGIK_RULE_EN_US",
                      evidence={"news_profile": "other_variant"})  # fmt: skip
    odd = Finding(47, 57, "ocr", "info", 0.1, "odd", "ocr.odd_token", evidence={"proposal": "odd_token"})
    checks = lambda c: [(f.start, f.confidence) for f in c.combine([furniture, kept, dropped, odd], text)]  # noqa: E731
    assert checks(Combiner()) == [(0, 0.8), (34, 0.6)]  # no decision: no candidate is ever reported
    assert checks(Combiner(decision=FixedDecision(0.4))) == [(0, 0.8), (34, 0.6)]  # below its threshold
    assert checks(Combiner(decision=FixedDecision(0.9))) == [(0, 0.8), (24, 0.9), (34, 0.6), (47, 0.9)]
    # the LM's proposals: at their own operating point, and never by a decision fitted without them
    lm = Finding(4, 8, "realword", "info", 0.1, "unexpected", "lm.unexpected", evidence={"proposal": "lm"})
    lm_checks = lambda d: [f.start for f in Combiner(decision=d).combine([lm], text)]  # noqa: E731
    assert lm_checks(FixedDecision(0.99)) == []
    assert lm_checks(FixedDecision(0.9, proposal_thresholds={"lm": 0.95})) == []
    assert lm_checks(FixedDecision(0.96, proposal_thresholds={"lm": 0.95})) == [4]
    # a candidate overlapping a reported finding is not folded into it
    same = replace(dropped, start=34, end=37)
    [alone] = Combiner().combine([kept, same], text)
    assert alone == kept and "merged" not in alone.evidence


def test_the_decision_sets_the_names_checkers_operating_point():
    text = "Now Kolonko announced on Twitter that the ministr had resigned."
    name = Finding(4, 11, "name", "warning", 0.68, "Colombo?", "gazetteer.place", suggestions=("Colombo",),
                   evidence={"probability": 0.43})  # the names checker's own
    typo = Finding(42, 49, "spelling", "warning", 0.6, "typo", "grammar.MORFOLOGIK_RULE_EN_US",
                   evidence={"news_profile": "kept"})  # fmt: skip
    checks = lambda c: [f.check for f in c.combine([name, typo], text)]  # noqa: E731
    assert checks(Combiner(decision=FixedDecision(0.4))) == ["gazetteer.place", "grammar.MORFOLOGIK_RULE_EN_US"]
    assert checks(Combiner(decision=FixedDecision(0.4, veto=0.45))) == ["grammar.MORFOLOGIK_RULE_EN_US"]
    assert checks(Combiner(decision=FixedDecision(0.4, veto=0.4))) == ["gazetteer.place", "grammar.MORFOLOGIK_RULE_EN_US"]
    assert checks(Combiner()) == ["gazetteer.place", "grammar.MORFOLOGIK_RULE_EN_US"]  # --decision off
    assert Combiner(decision=FixedDecision(0.6, veto=0.45)).describe()["decision_veto"] == ["gazetteer", 0.45]


def test_settings_move_the_decisions_report_threshold_only():
    from mtqa.api import make_combiner

    fitted = load_decision("default")
    moved = make_combiner(Settings(decision_threshold=0.3)).decision
    assert moved.report_threshold == 0.3 and moved.veto_threshold == fitted.veto_threshold
    assert make_combiner(Settings()).decision.report_threshold == fitted.report_threshold
    assert make_combiner(Settings(decision="off", decision_threshold=0.3)).decision is None


def test_the_default_pipeline_runs_grammar_in_candidate_mode_only_with_a_decision(monkeypatch):
    from mtqa.api import make_pipeline

    monkeypatch.delenv("MTQA_GRAMMAR_PROFILE", raising=False)

    def grammar_profile(**kw):
        pipeline = make_pipeline(Settings(use_lm=False, grammar="lingotweaker", **kw), only=["grammar"])
        return pipeline.checkers[0].profile.candidates

    assert grammar_profile() is True and grammar_profile(decision="off") is False


def test_the_fitted_model_never_flags_the_clean_fixture_paragraphs(model):
    from mtqa.eval.fit_decision import clean_fixture_candidates

    paragraphs = clean_fixture_candidates()
    assert len(paragraphs) >= 3 and any(fs for _, fs in paragraphs)  # there are candidates to reject
    combiner = Combiner(decision=model)
    for text, findings in paragraphs:
        assert [text[f.start : f.end] for f in findings if model.apply(f, text) >= model.report_threshold] == []
        assert combiner.combine(findings, text) == []  # as `mtqa check` reports them


def test_cross_source_cli_rejects_a_dataset_or_the_train_split():
    from typer.testing import CliRunner

    from mtqa.cli import app

    runner = CliRunner()
    assert runner.invoke(app, ["eval", "ocr", "--cross-source"]).exit_code == 2
    assert runner.invoke(app, ["eval", "--cross-source", "--split", "train"]).exit_code == 2
    assert runner.invoke(app, ["eval"]).exit_code == 2


def test_the_fitting_table_holds_the_lm_proposals_as_run_time_makes_them():
    """With the LM pass's token rows, the table's candidates are the checkers' findings plus the LM
    proposals that no other finding covers, labelled like any candidate; a fitting set without a
    pass for one of its texts is an error, not a silently smaller table."""
    from mtqa.eval.candidates import Candidates
    from mtqa.eval.fit_decision import build_table
    from mtqa.eval.items import Word
    from mtqa.findings import Category, Severity
    from mtqa.lm.types import TokenScore
    from mtqa.lm.wordstats import propose, token_rows

    text = "tbe cat sat"
    rows = token_rows([TokenScore(0, 3, -9.0, 3.0, 40, -1.0), TokenScore(3, 7, -5.0, 2.0, 7, -1.0),
                       TokenScore(7, 11, -0.1, 1.0, 0, -4.0)])  # fmt: skip
    ocr = Finding(0, 3, Category.OCR, Severity.WARNING, 0.6, "m", "ocr.glyph", ("the",), {})
    item = EvalItem("overproof|1|0", text, "dev", "overproof|1|0", "overproof",
                    words=(Word(0, 3, True), Word(4, 7, True), Word(8, 11, False)))  # fmt: skip
    cands = Candidates("ocr", "dev", None, "h", [item], [{"ocr": [ocr]}], {})
    table = build_table(cands, {text: rows})
    assert [(f.start, f.end, f.check) for f in table.merged[0]] == [(0, 3, "ocr.glyph"), (4, 7, "lm.unexpected")]
    assert propose(text, rows)[1].evidence["lm"] == table.merged[0][1].evidence["lm"]  # the run-time numbers
    assert sorted((r, y) for _, r, y in table.labels) == [(0, True), (1, True)]
    assert table.rows[1]["ev:lm.rank_first"] > 0 and "ev:lm.rank_first" not in table.rows[0]
    with pytest.raises(ValueError, match="no LM pass"):
        build_table(cands, {})


def test_the_lm_proposals_are_scored_by_their_own_model():
    """A decision file may carry a model for the LM's proposals: it scores them, the main model
    the other candidates, so the main model is the one fitted without the proposals."""
    raw = {k: v for k, v in json.loads(MODEL.read_text()).items() if k not in ("proposal_models", "proposal_thresholds")}
    sub = {**raw, "sigmoid": {"a": raw["sigmoid"]["a"], "b": raw["sigmoid"]["b"] - 3.0}}
    both = Decision({**raw, "proposal_models": {"lm": sub}, "proposal_thresholds": {"lm": 0.5}})
    text = "The colour of teh sky."
    lm = Finding(14, 17, "realword", "info", 0.1, "unexpected", "lm.unexpected", evidence={"proposal": "lm"})
    other = Finding(14, 17, "spelling", "info", 0.1, "typo", "grammar.MORFOLOGIK_RULE_EN_US",
                    evidence={"news_profile": "rule_off"})  # fmt: skip
    assert both.apply(lm, text) == pytest.approx(Decision(sub).apply(lm, text))
    assert both.apply(other, text) == pytest.approx(Decision(raw).apply(other, text))
    assert both.apply(lm, text) != pytest.approx(Decision(raw).apply(lm, text))
    assert both.calibrate(lm, text).confidence == pytest.approx(round(Decision(sub).apply(lm, text), 4))
    assert both.threshold_for(lm) == 0.5 and both.threshold_for(other) == both.report_threshold


def _random_table(dataset: str, rng: np.random.Generator, n: int = 30) -> Table:
    """``n`` items of one sentence with random gold and random merged candidates of every kind the
    threshold search treats apart: dropped LanguageTool matches, the LM's proposals, names (with the
    names checker's probability) and findings the news profile keeps."""
    from mtqa.eval.items import GoldSpan, Word

    text = "one two three four five six seven eight"
    words = [(m, m + len(w)) for m, w in ((text.index(w), w) for w in text.split())]

    def finding(k):
        s, e = words[k % len(words)]
        kind = k % 4
        if kind == 0:  # a LanguageTool candidate the news profile drops
            return Finding(s, e, "spelling", "info", 0.2, "x", "grammar.X", evidence={"news_profile": "rule_off"})
        if kind == 1:  # the LM's proposal
            return Finding(s, e, "realword", "info", 0.2, "x", "lm.unexpected", evidence={"proposal": "lm"})
        if kind == 2:  # a name, with the names checker's probability
            return Finding(s, e, "name", "warning", 0.7, "x", "gazetteer.place", evidence={"probability": float(rng.random())})
        return Finding(s, e, "spelling", "warning", 0.7, "x", "grammar.Y", evidence={"news_profile": "kept"})

    items = []
    for i in range(n):
        bad = rng.random(len(words)) < 0.3
        gold = tuple(GoldSpan(s, e) for (s, e), b in zip(words, bad) if b)
        if dataset == "names":
            items.append(EvalItem(f"n{i}", text, "dev", f"r{i}", "mt" if i % 2 else "pe", gold=gold[:1] or (GoldSpan(0, 3),),
                                  meta={"negative": words[i % len(words)], "sentence_initial": False, "pe_token": "x"}))  # fmt: skip
        else:
            group = "clean" if dataset == "demetr" and i % 2 else "g"
            items.append(EvalItem(f"{dataset}{i}", text, "dev", f"r{i}", group, gold=gold,
                                  words=tuple(Word(s, e, bool(b)) for (s, e), b in zip(words, bad))))  # fmt: skip
    # (clean MT, the budget: only candidates, which the decision may leave unreported)
    kinds = (0, 1) if dataset == "demetr" else (0, 1, 2, 3)
    merged = [[finding(int(k)) for k in rng.integers(0, 40, rng.integers(0, 6)) if k % 4 in kinds] for _ in items]
    row_of, rows = [], 0
    for fs in merged:
        row_of.append(list(range(rows, rows + len(fs))))
        rows += len(fs)
    lm_rows = {r for fs, rs in zip(merged, row_of) for f, r in zip(fs, rs) if f.evidence.get("proposal") == "lm"}
    return Table(dataset, "dev", items, ["g"] * len(items), merged, [{} for _ in items], [{}] * rows, row_of, "h",
                 lm_rows=lm_rows)  # fmt: skip


def test_the_threshold_search_scores_as_the_datasets_scorers_do():
    """``Grid`` (the threshold search's incremental count) gives each dataset's F1 and the budget's
    count exactly as ``decided`` and the dataset's own ``score`` do, in any order of operating points."""
    from mtqa.eval.datasets import DATASETS
    from mtqa.eval.fit_decision import Grid, decided, score_rows

    rng = np.random.default_rng(0)
    decision = FixedDecision(0.5)
    for dataset in ("ocr", "mt_qe_wordtags", "mt_mqm", "names"):
        table = _random_table(dataset, rng)
        items = table.items
        p = rng.random(len(table.rows))
        ids = [i for i in range(len(items)) if i % 5]
        grid = Grid(decision, table, p, ids, DATASETS[dataset].f1_counts)
        budget = Grid(decision, table, p, ids, lambda item, fs: (int(bool(fs)),))
        for t, v, u in [(0.3, 0.0, 0.7), (0.5, 0.0, 0.7), (0.3, 0.5, math.inf), (0.9, 0.45, 0.8), (0.3, 0.0, 0.7)]:
            found = decided(decision, table, p, t, ids, v, u)
            expected = score_rows(dataset, [items[i] for i in ids], found)["f1"]
            assert expected is not None and DATASETS[dataset].f1_of(grid(t, v, u)) == pytest.approx(expected, abs=1e-12)
            assert budget(t, v, u)[0] == sum(bool(fs) for fs in found)


def test_the_fit_chooses_an_operating_point_without_the_lms_proposals_too():
    """The best point within the budget overall, and the best among those that report none of the
    LM's proposals: the point of a run in which nothing proposes them."""
    from mtqa.eval.fit_decision import F1_DATASETS, choose_threshold

    rng = np.random.default_rng(1)
    tables = {name: _random_table(name, rng, 60) for name in (*F1_DATASETS, "demetr")}
    oof = {name: rng.random(len(t.rows)) for name, t in tables.items()}
    budget = tables["demetr"]  # on clean MT the LM's proposals are the likelier false alarms
    oof["demetr"] *= np.array([0.8 if r in budget.lm_rows else 0.3 for r in range(len(budget.rows))])
    for name in F1_DATASETS:  # the probabilities say something: the LM's proposals are sure
        t = tables[name]
        for item, fs, rs in zip(t.items, t.merged, t.row_of):
            for f, r in zip(fs, rs):
                on = any(g.start < f.end and f.start < g.end for g in item.gold)
                if r in t.lm_rows:
                    oof[name][r] = 0.99 if on else 0.05
                else:
                    oof[name][r] = 0.2 + 0.8 * oof[name][r] if on else oof[name][r]
    best, alone, rows = choose_threshold(FixedDecision(0.5), tables, oof, (), None, None)

    def argmax(candidates):
        top = max(r["mean_f1"] for r in candidates)
        return next(r for r in candidates if r["mean_f1"] > top - 1e-9)

    ok = [r for r in rows if r["within_budget"]]
    assert ok and any(r["lm_threshold"] is None for r in ok) and any(r["lm_threshold"] is not None for r in ok)
    chosen, without = argmax(ok), argmax([r for r in ok if r["lm_threshold"] is None])
    # (else the test could not tell the two points apart)
    assert chosen["lm_threshold"] is not None and chosen["threshold"] != without["threshold"]
    assert best == (chosen["threshold"], chosen["veto"], chosen["lm_threshold"])
    assert alone == (without["threshold"], without["veto"])


def test_a_run_without_the_lms_proposals_uses_the_point_fitted_without_them():
    from mtqa.api import make_pipeline

    raw = json.loads(MODEL.read_text())
    d = Decision({**raw, "report_threshold": 0.6, "veto": {"families": ["gazetteer"], "threshold": 0.55},
                  "proposal_thresholds": {"lm": 0.7}, "without_proposals": {"report_threshold": 0.65, "veto": 0.45}})  # fmt: skip
    alone = d.without_proposals()
    assert (alone.report_threshold, alone.veto_threshold, alone.proposal_thresholds) == (0.65, 0.45, {})
    assert alone.model_hash == d.model_hash and (d.report_threshold, d.veto_threshold) == (0.6, 0.55)

    class Checker:
        def __init__(self, proposes):
            self.proposes = proposes

    combiner = Combiner(decision=d)
    assert combiner.for_checkers([Checker(True), Checker(False)]) is combiner
    signature = combiner.for_checkers([Checker(False)]).describe()
    assert signature["decision_veto"] == ["gazetteer", 0.45] and "decision_proposals" not in signature
    d.report_threshold, d.threshold_fixed = 0.3, True  # --decision-threshold holds at either point
    assert d.without_proposals().report_threshold == 0.3
    # the shipped model has both points, and the pipelines pick theirs
    shipped = Decision.load()
    assert ("without_proposals" in raw) == ("proposal_models" in raw)
    default = make_pipeline(Settings()).combiner.decision
    assert default.veto_threshold == shipped.veto_threshold
    assert default.proposal_thresholds == shipped.proposal_thresholds
    for settings in (Settings(use_lm=False), Settings(model="smollm2-135m")):
        decision = make_pipeline(settings).combiner.decision
        assert decision.veto_threshold == shipped.without_proposals().veto_threshold
        assert decision.report_threshold == shipped.without_proposals().report_threshold
        assert not decision.proposal_thresholds


def test_the_lm_checker_proposes_for_the_model_the_decision_was_fitted_on():
    from mtqa.checkers.lm import LMChecker, load_config

    raw = json.loads(MODEL.read_text())
    config = load_config()
    if "proposal_models" in raw:
        assert raw["proposal_models"]["lm"]["fitted_on"]["lm_model"] in config["propose_models"]
    assert LMChecker(Settings()).proposes == bool(config["propose"] and "proposal_models" in raw)
    assert not LMChecker(Settings(model="smollm2-135m")).proposes  # its numbers are not Gemma's
