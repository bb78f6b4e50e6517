"""Dataset loaders and scorers on small hand-written records (not the third-party data)."""

import gzip
import json

import pytest

from mtqa.eval import DATASETS, resolve_dataset
from mtqa.eval.runner import DatasetError, select_items
from mtqa.findings import Category, Finding, Severity


def finding(start, end, suggestions=(), confidence=0.9, check="test.span"):
    return Finding(start, end, Category.REALWORD, Severity.ERROR, confidence, "test finding", check, suggestions)


def write_jsonl(path, records, gz=False):
    text = "".join(json.dumps(r) + "\n" for r in records)
    if gz:
        with gzip.open(path, "wt", encoding="utf-8") as handle:
            handle.write(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def by_id(items):
    return {it.id.split("|")[-1] if "|" in it.id else it.id: it for it in items}


def test_mqm_span_scores(tmp_path):
    target = "The minster said the plan is good."
    recs = [
        {"system": "sysA", "doc": "d1", "seg_id": "1", "rater": "r1", "source": "x", "target": target, "lp": "zh-en",
         "domain": "news", "errors": [
             {"category": "Fluency/Spelling", "severity": "Minor", "side": "target", "start": 4, "end": 11, "text": "minster"},
             {"category": "Accuracy/Omission", "severity": "Major", "side": "source", "start": 0, "end": 1, "text": "x"}]},
        {"system": "sysA", "doc": "d1", "seg_id": "2", "rater": "r1", "source": "y", "target": "All is well.",
         "lp": "zh-en", "domain": "news", "errors": []},
        {"system": "ref", "doc": "d1", "seg_id": "1", "rater": "r1", "source": "x", "target": target, "lp": "zh-en",
         "domain": "news", "errors": []},
    ]  # fmt: skip
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "mqm.jsonl", recs))
    assert dataset.name == "mt_mqm"
    items = dataset.load(files)
    assert len(items) == 2  # the human reference system is not MT output
    assert [(g.start, g.end, g.label) for g in items[0].gold] == [(4, 11, "Fluency/Spelling")]  # source side dropped
    # one hit on "minster" (partly), one false alarm on "good", one false alarm on the clean unit
    score = dataset.score(items, [[finding(4, 8), finding(29, 33)], [finding(0, 3)]])
    s = score.summary
    assert (s["n_pred"], s["n_gold"], s["precision"], s["recall"]) == (3, 1, 1 / 3, 1.0)
    assert s["char_recall"] == 4 / 7 and s["char_precision"] == 4 / 11
    assert s["clean_unit_false_alarm_rate"] == 1.0 and s["error_unit_detection_rate"] == 1.0
    assert score.details["categories"]["Fluency/Spelling"] == {"n_gold": 1, "recall": 1.0, "char_recall": 4 / 7}
    assert dataset.label(items[0], finding(4, 8)) is True and dataset.label(items[0], finding(29, 33)) is False


def test_wordtags_per_lp(tmp_path):
    recs = [
        {"lp": "et-en", "split": "dev", "idx": 0, "src": "s", "mt": "Tskinvali is a city .", "pe": "p", "hter": 0.2,
         "mt_word_tags": ["BAD", "OK", "OK", "OK", "OK"], "mt_gap_tags": ["OK"] * 6},
        {"lp": "ro-en", "split": "test20", "idx": 0, "src": "s", "mt": "He go home .", "pe": "p", "hter": 0.2,
         "mt_word_tags": ["OK", "BAD", "OK", "OK"], "mt_gap_tags": ["OK"] * 5},
    ]  # fmt: skip
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "qe.jsonl", recs))
    items = dataset.load(files)
    assert [it.split for it in items] == ["dev", "test"]
    score = dataset.score(items, [[finding(0, 9)], [finding(0, 2)]])  # et: right; ro: wrong word
    per = score.details["per_lp"]
    assert per["et-en"]["mcc"] == 1.0 and per["et-en"]["f1_bad"] == 1.0
    assert (per["ro-en"]["tp"], per["ro-en"]["fp"], per["ro-en"]["fn"], per["ro-en"]["tn"]) == (0, 1, 1, 2)
    assert score.summary["tp"] == 1 and score.summary["fp"] == 1 and score.summary["fn"] == 1
    assert score.summary["macro_mcc"] == pytest.approx((1.0 + (-1 / 3)) / 2)


def test_overproof_chunks_and_word_gold(tmp_path):
    lines = [{"ocr": "of Tune, the", "gt": "of June, the", "overproof": ""}] * 45
    recs = [{"article_id": "1", "year": 1843, "header": "h", "lines": lines}]
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "op.jsonl", recs))
    assert dataset.name == "ocr"
    items = dataset.load(files)
    assert [len(it.text.splitlines()) for it in items] == [40, 5]
    first = items[0]
    assert [first.text[w.start : w.end] for w in first.words if w.bad] == ["Tune,"] * 40
    score = dataset.score(items[1:], [[finding(3, 8), finding(0, 2)]])  # "Tune," right, "of" wrong
    assert (score.summary["tp"], score.summary["fp"], score.summary["fn"]) == (1, 1, 4)


def test_icdar_alignment_gaps_and_no_gold(tmp_path):
    # '@' = alignment gap, '#' = no ground truth: "Tbe" is wrong, "cat" right, "dg" misses an "o", "XX" unjudged
    recs = [{"file": "f/1.txt", "year": 1890, "ocr_to_input": "Tbe cat dg XX",
             "ocr_aligned": "Tbe cat d@g XX", "gs_aligned": "The cat dog ##"}]  # fmt: skip
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "icdar.jsonl", recs))
    [item] = dataset.load(files)
    assert [(item.text[w.start : w.end], w.bad) for w in item.words] == [
        ("Tbe", True), ("cat", False), ("dg", True), ("XX", None)]  # fmt: skip
    assert dataset.label(item, finding(11, 13)) is None
    assert dataset.label(item, finding(4, 7)) is False and dataset.label(item, finding(8, 10)) is True


def test_demetr_detection_and_false_alarms(tmp_path):
    recs = [{"id": 7, "lang_tag": "de", "data_source": "WMT", "src_sent": "s", "eng_sent": "The mayor spoke.",
             "mt_sent": "The mayor spoke today.", "perturbations": {
                 "minor_id1_repeat2": {"pert_sent": "The mayor spoke today today.", "pert_check": True,
                                       "severity": "minor", "pert_desc": ""},
                 "minor_id26_misspelled": {"pert_sent": "The mayor spoek today.", "pert_check": True,
                                           "severity": "minor", "pert_desc": ""},
                 "critical_id9_ne_replaced": {"pert_sent": "The mayor spoke today.", "pert_check": False,
                                              "severity": "critical", "pert_desc": ""},
                 "base_id35_reference": {"pert_sent": "The mayor spoke.", "pert_check": True, "severity": "base",
                                         "pert_desc": ""}}}]  # fmt: skip
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "d.jsonl.gz", recs, gz=True))
    items = {it.group: it for it in dataset.load(files)}
    assert set(items) == {"clean", "clean:reference", "minor_id1_repeat2", "minor_id26_misspelled"}
    order = list(items.values())
    found = {"clean": [finding(0, 3)], "clean:reference": [], "minor_id1_repeat2": [finding(0, 3)],
             "minor_id26_misspelled": [finding(10, 15)]}  # fmt: skip
    score = dataset.score(order, [found[it.group] for it in order])
    per = score.details["per_type"]
    assert per["minor_id1_repeat2"] == {"n": 1, "detection_rate": 0.0, "any_finding_rate": 1.0}
    assert per["minor_id26_misspelled"]["detection_rate"] == 1.0
    assert score.summary["false_alarm_rate"] == 1.0 and score.summary["reference_false_alarm_rate"] == 0.0
    assert score.summary["mean_detection_rate"] == 0.5
    assert dataset.label(items["clean"], finding(0, 3)) is False


def test_names_precision_recall_top1(tmp_path):
    recs = [
        {"lp": "ro-en", "split": "test20", "idx": 1, "mt_token": "Cloney", "pe_token": "Clooney", "char_similarity": 0.9,
         "sentence_initial": False, "mt": "I met Cloney .", "pe": "I met Clooney ."},
        {"lp": "ro-en", "split": "test20", "idx": 2, "mt_token": "Rygon", "pe_token": "Reagan", "char_similarity": 0.6,
         "sentence_initial": False, "mt": "Rygon spoke .", "pe": "Reagan spoke ."},
    ]  # fmt: skip
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "names_postedit.jsonl", recs))
    items = dataset.load(files)
    assert [it.group for it in items] == ["mt", "pe", "mt", "pe"]
    found = [[finding(6, 12, ("Clooney", "Cooney"))], [], [], [finding(0, 6, ("Ronald",))]]
    score = dataset.score(items, found)
    s = score.summary
    assert (s["precision"], s["recall"], s["false_alarm_rate"]) == (0.5, 0.5, 0.5)
    assert s["top1_of_detected"] == 1.0 and s["top1_of_all"] == 0.5
    assert dataset.label(items[0], finding(0, 1)) is None  # other MT words: unknown
    assert dataset.label(items[3], finding(0, 6)) is False


def test_select_items_limit_counts_records_and_is_stable(tmp_path):
    recs = [{"lp": "ro-en", "split": "test20", "idx": i, "mt_token": "Abc", "pe_token": "Abd", "char_similarity": 0.7,
             "sentence_initial": True, "mt": "Abc x", "pe": "Abd x"} for i in range(10)]  # fmt: skip
    dataset, files = resolve_dataset(write_jsonl(tmp_path / "n.jsonl", recs))
    items = dataset.load(files)
    a = select_items(items, "test", 3)
    assert len(a) == 6 and len({it.record for it in a}) == 3
    assert [it.id for it in a] == [it.id for it in select_items(items, "test", 3)]
    assert select_items(items, "dev", None) == []


def test_unknown_dataset_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError):
        resolve_dataset("no_such_dataset")
    bad = write_jsonl(tmp_path / "x.jsonl", [{"foo": 1}])
    with pytest.raises(DatasetError):
        resolve_dataset(bad)


def test_registry_names():
    assert set(DATASETS) == {"ocr", "names", "demetr", "mt_mqm", "mt_qe_wordtags"}
