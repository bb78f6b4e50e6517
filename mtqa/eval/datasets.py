"""Loaders and scorers for the labelled sets in ``data_dir()`` (formats: the data README).

Every loader yields :class:`EvalItem` objects with the split they belong to:

- ``mt_qe_wordtags`` and ``names`` ship their own splits (MLQE-PE dev / test20 [/ train]); test20 -> ``test``.
- ``mt_mqm``, ``ocr`` and ``demetr`` ship none: a deterministic hash split (50/50) by source unit
  that keeps related texts together — MQM news/TED document, OCR article or ICDAR file, DEMETR item
  id — so that no document straddles dev and test.
"""

from __future__ import annotations

import difflib
import gzip
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from ..findings import Finding
from .items import EvalItem, GoldSpan, Word, hash_split, overlaps
from .metrics import BinaryCounts, SpanCounts, f1, flag_words, prf, rate, safe_div

_WS_TOKEN = re.compile(r"\S+")


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def ws_tokens(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _WS_TOKEN.finditer(text)]


@dataclass
class Score:
    """``summary``: headline numbers; ``rows``: the printed table; ``details``: everything else."""

    summary: dict[str, Any]
    rows: list[dict[str, Any]]
    details: dict[str, Any] = field(default_factory=dict)


def spans_of(findings: Sequence[Finding]) -> list[tuple[int, int]]:
    return [(f.start, f.end) for f in findings if f.end > f.start]


class Dataset:
    name: str = ""
    primary: str = "f1"  # the headline metric in summaries and charts
    pattern: str = "*.jsonl*"
    description: str = ""

    def default_files(self, root: Path) -> list[Path]:
        return sorted((root / self.name).glob(self.pattern))

    def matches(self, record: dict[str, Any]) -> bool:  # recognises a file given by path
        raise NotImplementedError

    def load(self, files: Sequence[Path]) -> list[EvalItem]:
        raise NotImplementedError

    def score(self, items: Sequence[EvalItem], found: Sequence[Sequence[Finding]]) -> Score:
        raise NotImplementedError

    def f1_counts(self, item: EvalItem, findings: Sequence[Finding]) -> tuple[int, ...]:
        """One item's share of the headline F1 (``f1_of`` of the sum over items is ``score``'s):
        the learned decision's threshold search rescores only the items whose findings changed."""
        raise NotImplementedError

    def f1_of(self, counts: Sequence[int]) -> float | None:
        raise NotImplementedError

    def label(self, item: EvalItem, finding: Finding) -> bool | None:
        """Is this finding a real error per the gold (None: the gold cannot tell)?"""
        if item.words:
            hit = [w.bad for w in item.words if overlaps(finding.start, finding.end, w.start, w.end)]
            if any(b is True for b in hit):
                return True
            return False if any(b is False for b in hit) else None
        return any(overlaps(finding.start, finding.end, g.start, g.end) for g in item.gold)


class WordTagged(Dataset):
    """Scored per word: F1 of the bad words, a word flagged when a finding overlaps it."""

    def f1_counts(self, item, findings):
        c = BinaryCounts()
        c.add(flag_words([(w.start, w.end) for w in item.words], spans_of(findings)), [w.bad for w in item.words])
        return c.tp, c.fp, c.fn

    def f1_of(self, counts):
        return prf(*counts)["f1"]


# --------------------------------------------------------------------------- mt_mqm


class MtMqm(Dataset):
    name = "mt_mqm"
    description = "MQM expert error spans on zh->en MT (WMT23 news, WMT21 TED); span-level P/R/F1"
    # Human reference translations are rated like systems; they are not MT output.
    reference_systems = ("ref", "refa", "refb", "human")

    def matches(self, record):
        return "errors" in record and "target" in record

    def load(self, files):
        items = []
        for path in files:
            corpus = path.name.split(".")[0]
            for n, rec in enumerate(read_jsonl(path)):
                if str(rec["system"]).lower() in self.reference_systems:
                    continue
                target = rec["target"]
                gold, bad_offsets = [], 0
                for err in rec["errors"]:
                    if err.get("side") != "target" or err.get("start") is None:
                        continue
                    start, end = int(err["start"]), int(err["end"])
                    if target[start:end] != err.get("text", target[start:end]) or end <= start:
                        bad_offsets += 1
                        continue
                    gold.append(GoldSpan(start, end, err["category"]))
                record = f"{corpus}|{rec['system']}|{rec['seg_id']}"
                items.append(
                    EvalItem(
                        id=f"{corpus}|{rec['system']}|{rec['seg_id']}|{rec['rater']}|{n}",
                        text=target,
                        split=hash_split(f"{corpus}|{rec['doc']}"),
                        record=record,
                        group=rec.get("domain") or corpus,
                        gold=tuple(gold),
                        meta={"error_free": not rec["errors"], "bad_offsets": bad_offsets,
                              "untargeted_errors": sum(e.get("side") != "target" for e in rec["errors"])},
                    )  # fmt: skip
                )
        return items

    def f1_counts(self, item, findings):
        pred, gold = spans_of(findings), [(g.start, g.end) for g in item.gold]
        return (len(pred), sum(any(overlaps(*p, *g) for g in gold) for p in pred),
                len(gold), sum(any(overlaps(*p, *g) for p in pred) for g in gold))  # fmt: skip

    def f1_of(self, counts):
        n_pred, pred_matched, n_gold, gold_matched = counts
        return f1(safe_div(pred_matched, n_pred), safe_div(gold_matched, n_gold))

    def score(self, items, found):
        overall, by_domain = SpanCounts(), defaultdict(SpanCounts)
        by_cat: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])  # n_gold, matched, char_gold, char_both
        clean_units = clean_alarms = error_units = error_hits = 0
        for item, findings in zip(items, found):
            pred = spans_of(findings)
            gold = [(g.start, g.end) for g in item.gold]
            overall.add(pred, gold)
            by_domain[item.group].add(pred, gold)
            for g in item.gold:
                one = SpanCounts()
                one.add(pred, [(g.start, g.end)])
                row = by_cat[g.label]
                row[0] += 1
                row[1] += one.gold_matched
                row[2] += one.char_gold
                row[3] += one.char_both
            if item.meta.get("error_free"):
                clean_units += 1
                clean_alarms += bool(pred)
            elif gold:
                error_units += 1
                error_hits += any(overlaps(ps, pe, gs, ge) for ps, pe in pred for gs, ge in gold)
        summary = overall.scores()
        summary["clean_unit_false_alarm_rate"] = rate(clean_alarms, clean_units)
        summary["error_unit_detection_rate"] = rate(error_hits, error_units)
        summary["n_units"] = len(items)
        rows = [{"slice": "all", **_span_row(summary)}]
        rows += [{"slice": f"domain={d}", **_span_row(c.scores())} for d, c in sorted(by_domain.items())]
        categories, category_rows = {}, []
        for cat, (n, matched, char_gold, char_both) in sorted(by_cat.items(), key=lambda kv: -kv[1][0]):
            categories[cat] = {"n_gold": n, "recall": rate(matched, n), "char_recall": rate(char_both, char_gold)}
            category_rows.append({"MQM category": cat, **categories[cat]})
        details = {"categories": categories, "domains": {d: c.scores() for d, c in by_domain.items()},
                   "category_table": category_rows}  # fmt: skip
        return Score(summary, rows, details)


def _span_row(s: dict[str, Any]) -> dict[str, Any]:
    keys = ("n_pred", "n_gold", "precision", "recall", "f1", "char_precision", "char_recall", "char_f1")
    return {k: s.get(k) for k in keys}


# --------------------------------------------------------------------------- mt_qe_wordtags


class MtQeWordtags(WordTagged):
    name = "mt_qe_wordtags"
    primary = "mcc"
    description = "MLQE-PE word-level OK/BAD tags on tokenised X->en MT; MCC and F1-BAD per language pair"

    def matches(self, record):
        return "mt_word_tags" in record

    def load(self, files):
        items = []
        for path in files:
            for rec in read_jsonl(path):
                mt = rec["mt"]  # the tokenised string is the document: tags index mt.split()
                spans = ws_tokens(mt)
                tags = rec["mt_word_tags"]
                if len(spans) != len(tags):
                    continue
                words = tuple(Word(s, e, t == "BAD") for (s, e), t in zip(spans, tags))
                split = "test" if str(rec["split"]).startswith("test") else rec["split"]
                items.append(
                    EvalItem(
                        id=f"{rec['lp']}|{rec['split']}|{rec['idx']}", text=mt, split=split,
                        record=f"{rec['lp']}|{rec['split']}|{rec['idx']}", group=rec["lp"], words=words,
                        meta={"hter": rec.get("hter")},
                    )  # fmt: skip
                )
        return items

    def score(self, items, found):
        per_lp: dict[str, BinaryCounts] = defaultdict(BinaryCounts)
        for item, findings in zip(items, found):
            predicted = flag_words([(w.start, w.end) for w in item.words], spans_of(findings))
            per_lp[item.group].add(predicted, [w.bad for w in item.words])
        total = BinaryCounts()
        rows, lps = [], {}
        for lp, counts in sorted(per_lp.items()):
            total += counts
            lps[lp] = counts.scores()
            rows.append({"lp": lp, **_word_row(lps[lp])})
        summary = total.scores()
        lp_mccs = [s["mcc"] for s in lps.values()]
        summary["macro_mcc"] = sum(lp_mccs) / len(lp_mccs) if lp_mccs else None
        rows.append({"lp": "all (pooled)", **_word_row(summary)})
        return Score(summary, rows, {"per_lp": lps})


def _word_row(s: dict[str, Any]) -> dict[str, Any]:
    keys = ("mcc", "f1_bad", "f1_ok", "precision", "recall", "tp", "fp", "fn", "tn")
    return {k: s.get(k) for k in keys}


# --------------------------------------------------------------------------- ocr


class Ocr(WordTagged):
    name = "ocr"
    description = "Historical newspaper OCR vs ground truth (Overproof SMH, ICDAR2017); word-level error P/R/F1"
    lines_per_doc = 40  # Overproof: a document is <= 40 lines of one article
    chars_per_doc = 2000  # ICDAR2017 files have no line breaks: ~2,000-character chunks

    def matches(self, record):
        return "lines" in record or "gs_aligned" in record

    def load(self, files):
        items = []
        for path in files:
            for rec in read_jsonl(path):
                if "lines" in rec:
                    items += self._overproof(rec, path.stem)
                else:
                    items += self._icdar(rec, path.stem)
        return items

    def _overproof(self, rec, source) -> list[EvalItem]:
        out = []
        lines = rec["lines"]
        split = hash_split(f"overproof|{rec['article_id']}")
        for chunk_no, first in enumerate(range(0, len(lines), self.lines_per_doc)):
            chunk = lines[first : first + self.lines_per_doc]
            text = "\n".join(line["ocr"] for line in chunk)
            spans = ws_tokens(text)
            ocr_words = [text[s:e] for s, e in spans]
            gt_words = [w for line in chunk for w in line["gt"].split()]
            bad = ocr_word_errors(ocr_words, gt_words)
            words = tuple(Word(s, e, b) for (s, e), b in zip(spans, bad))
            key = f"overproof|{rec['article_id']}|{chunk_no}"
            out.append(EvalItem(key, text, split, key, "overproof", words=words, meta={"year": rec.get("year")}))
        return out

    def _icdar(self, rec, source) -> list[EvalItem]:
        ocr_al, gs_al = rec["ocr_aligned"], rec["gs_aligned"]
        text_full = rec["ocr_to_input"]
        # aligned position of every character of the OCR text ('@' = gap in the OCR line)
        pos = [i for i, ch in enumerate(ocr_al) if ch != "@"]
        if len(pos) != len(text_full) or len(ocr_al) != len(gs_al):
            return []
        split = hash_split(f"icdar2017|{rec['file']}")
        out = []
        for chunk_no, (c0, c1) in enumerate(_chunks(text_full, self.chars_per_doc)):
            text = text_full[c0:c1]
            words = []
            for s, e in ws_tokens(text):
                a0, a1 = pos[c0 + s], pos[c0 + e - 1] + 1
                while a0 > 0 and ocr_al[a0 - 1] == "@":  # gold characters the OCR dropped at the word edge
                    a0 -= 1
                while a1 < len(ocr_al) and ocr_al[a1] == "@":
                    a1 += 1
                gold = gs_al[a0:a1]
                if "#" in gold:  # no ground truth here
                    words.append(Word(s, e, None))
                else:
                    words.append(Word(s, e, ocr_al[a0:a1].replace("@", "") != gold.replace("@", "")))
            key = f"icdar2017|{rec['file']}|{chunk_no}"
            out.append(EvalItem(key, text, split, key, "icdar2017", words=tuple(words), meta={"year": rec.get("year")}))
        return out

    def score(self, items, found):
        per_source: dict[str, BinaryCounts] = defaultdict(BinaryCounts)
        ignored = 0
        for item, findings in zip(items, found):
            predicted = flag_words([(w.start, w.end) for w in item.words], spans_of(findings))
            per_source[item.group].add(predicted, [w.bad for w in item.words])
            ignored += sum(w.bad is None for w in item.words)
        total = BinaryCounts()
        rows = []
        for source, counts in sorted(per_source.items()):
            total += counts
            rows.append({"source": source, **_ocr_row(counts.scores())})
        summary = total.scores()
        summary["f1"] = summary.pop("f1_bad")
        summary["ignored_words"] = ignored
        rows.append({"source": "all", **_ocr_row({**summary, "f1_bad": summary["f1"]})})
        return Score(summary, rows, {"per_source": {k: v.scores() for k, v in per_source.items()}})


def _ocr_row(s):
    return {"precision": s["precision"], "recall": s["recall"], "f1": s["f1_bad"], "mcc": s["mcc"],
            "error_words": s["tp"] + s["fn"], "words": s["tp"] + s["fn"] + s["fp"] + s["tn"]}  # fmt: skip


def _chunks(text: str, size: int) -> Iterator[tuple[int, int]]:
    start = 0
    while start < len(text):
        end = min(len(text), start + size)
        if end < len(text):
            cut = text.rfind(" ", start + size // 2, end)
            end = cut if cut > start else end
        yield start, end
        start = end
        while start < len(text) and text[start] == " ":
            start += 1


def ocr_word_errors(ocr_words: Sequence[str], gt_words: Sequence[str]) -> list[bool]:
    """OCR words not matched exactly by a ground-truth word in a difflib alignment are errors.

    The whole chunk is aligned at once (not line by line) because correctors re-wrapped some lines.
    """
    bad = [True] * len(ocr_words)
    matcher = difflib.SequenceMatcher(None, list(ocr_words), list(gt_words), autojunk=False)
    for tag, i1, i2, _, _ in matcher.get_opcodes():
        if tag == "equal":
            for i in range(i1, i2):
                bad[i] = False
    return bad


# --------------------------------------------------------------------------- demetr


class Demetr(Dataset):
    name = "demetr"
    primary = "mean_detection_rate"
    description = "DEMETR controlled errors in English news MT; detection rate per perturbation, false alarms"
    # Not detectable from the English text alone (an unrelated but fluent sentence) or not text.
    skipped = ("base_id33_empty", "base_id33_shuffle_trans")
    clean_controls = ("base_id35_reference",)

    def matches(self, record):
        return "perturbations" in record

    def load(self, files):
        items = []
        for path in files:
            for rec in read_jsonl(path):
                rid = str(rec["id"])
                split = hash_split(f"demetr|{rid}")
                items.append(EvalItem(f"{rid}|clean", rec["mt_sent"], split, rid, "clean"))
                for name, pert in sorted(rec["perturbations"].items()):
                    if not pert.get("pert_check") or name in self.skipped:
                        continue
                    base = pert.get("mt_sent") or rec["mt_sent"]
                    text = pert["pert_sent"]
                    if name in self.clean_controls:
                        items.append(EvalItem(f"{rid}|{name}", text, split, rid, "clean:reference"))
                        continue
                    regions = changed_regions(base, text)
                    if not regions:
                        continue
                    gold = tuple(GoldSpan(s, e, name) for s, e in regions)
                    items.append(EvalItem(f"{rid}|{name}", text, split, rid, name, gold=gold,
                                          meta={"severity": pert.get("severity")}))  # fmt: skip
        return items

    def score(self, items, found):
        per_type: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, detected, any finding
        for item, findings in zip(items, found):
            row = per_type[item.group]
            row[0] += 1
            pred = spans_of(findings)
            row[2] += bool(findings)
            if item.gold:
                row[1] += any(overlaps(ps, pe, g.start, g.end) for ps, pe in pred for g in item.gold)
        rows, types = [], {}
        for name, (n, det, anyf) in sorted(per_type.items()):
            clean = name.startswith("clean")
            types[name] = {"n": n, "detection_rate": None if clean else rate(det, n), "any_finding_rate": rate(anyf, n)}
            rows.append({"type": name, **types[name]})
        detections = [t["detection_rate"] for k, t in types.items() if not k.startswith("clean")]
        summary = {
            "mean_detection_rate": sum(detections) / len(detections) if detections else None,
            "mean_any_finding_rate": _mean(t["any_finding_rate"] for k, t in types.items() if not k.startswith("clean")),
            "false_alarm_rate": types.get("clean", {}).get("any_finding_rate"),
            "reference_false_alarm_rate": types.get("clean:reference", {}).get("any_finding_rate"),
            "n_perturbed": sum(t["n"] for k, t in types.items() if not k.startswith("clean")),
            "n_clean": types.get("clean", {}).get("n", 0),
        }
        return Score(summary, rows, {"per_type": types})

    def label(self, item, finding):
        if not item.gold:
            return False  # clean MT or the human reference: any finding is a false alarm
        return super().label(item, finding)


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def changed_regions(base: str, changed: str) -> list[tuple[int, int]]:
    """Character regions of ``changed`` that differ from ``base`` (word-level diff).

    A pure deletion has no characters of its own: the words on both sides of the gap stand for it.
    """
    b_spans, c_spans = ws_tokens(base), ws_tokens(changed)
    b_words = [base[s:e] for s, e in b_spans]
    c_words = [changed[s:e] for s, e in c_spans]
    regions = []
    matcher = difflib.SequenceMatcher(None, b_words, c_words, autojunk=False)
    for tag, _, _, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        if j2 > j1:
            regions.append((c_spans[j1][0], c_spans[j2 - 1][1]))
        elif c_spans:
            left = c_spans[j1 - 1] if j1 > 0 else c_spans[0]
            right = c_spans[j1] if j1 < len(c_spans) else c_spans[-1]
            regions.append((left[0], right[1]))
    return regions


# --------------------------------------------------------------------------- names


class Names(Dataset):
    name = "names"
    pattern = "*postedit*.jsonl"
    description = "MLQE-PE post-edited name corrections: P/R on the MT token vs the post-edited one, top-1 suggestion"

    def matches(self, record):
        return "mt_token" in record and "pe_token" in record

    def load(self, files):
        items = []
        for path in files:
            for n, rec in enumerate(read_jsonl(path)):
                mt_span = find_token(rec["mt"], rec["mt_token"])
                pe_span = find_token(rec["pe"], rec["pe_token"])
                if mt_span is None or pe_span is None:
                    continue
                split = "test" if str(rec["split"]).startswith("test") else rec["split"]
                record = f"{rec['lp']}|{rec['split']}|{rec['idx']}|{n}"
                meta = {"mt_token": rec["mt_token"], "pe_token": rec["pe_token"],
                        "sentence_initial": bool(rec.get("sentence_initial"))}  # fmt: skip
                items.append(EvalItem(f"{record}|mt", rec["mt"], split, record, "mt",
                                      gold=(GoldSpan(*mt_span, "name"),), meta=meta))  # fmt: skip
                # The post-edited sentence: its corrected name must not be flagged.
                items.append(EvalItem(f"{record}|pe", rec["pe"], split, record, "pe",
                                      meta={**meta, "negative": pe_span}))  # fmt: skip
        return items

    def f1_counts(self, item, findings):  # (positives, true positives, false positives)
        if item.group == "mt":
            g = item.gold[0]
            return 1, int(any(overlaps(f.start, f.end, g.start, g.end) for f in findings)), 0
        s, e = item.meta["negative"]
        return 0, 0, int(any(overlaps(f.start, f.end, s, e) for f in findings))

    def f1_of(self, counts):
        positives, tp, fp = counts
        return prf(tp, fp, positives - tp)["f1"]

    def score(self, items, found):
        slices = {"all": lambda m: True, "non-initial": lambda m: not m["sentence_initial"]}
        rows, details = [], {}
        for name, keep in slices.items():
            c = Counter()
            for item, findings in zip(items, found):
                if not keep(item.meta):
                    continue
                if item.group == "mt":
                    g = item.gold[0]
                    hits = [f for f in findings if overlaps(f.start, f.end, g.start, g.end)]
                    c["positives"] += 1
                    if hits:
                        c["tp"] += 1
                        best = max(hits, key=lambda f: f.confidence)
                        target = item.meta["pe_token"]
                        c["top1"] += bool(best.suggestions) and best.suggestions[0] == target
                        c["top3"] += target in best.suggestions[:3]
                else:
                    s, e = item.meta["negative"]
                    c["negatives"] += 1
                    c["fp"] += any(overlaps(f.start, f.end, s, e) for f in findings)
                    c["pe_any"] += bool(findings)
            scores = prf(c["tp"], c["fp"], c["positives"] - c["tp"])
            scores.update({
                "top1_of_detected": rate(c["top1"], c["tp"]), "top3_of_detected": rate(c["top3"], c["tp"]),
                "top1_of_all": rate(c["top1"], c["positives"]),
                "false_alarm_rate": rate(c["fp"], c["negatives"]),
                "pe_sentence_any_finding_rate": rate(c["pe_any"], c["negatives"]), "n": c["positives"],
            })  # fmt: skip
            details[name] = scores
            rows.append({"slice": name, **{k: scores[k] for k in (
                "n", "precision", "recall", "f1", "top1_of_detected", "top1_of_all", "false_alarm_rate",
                "pe_sentence_any_finding_rate")}})  # fmt: skip
        return Score(details["all"], rows, details)

    def label(self, item, finding):
        if item.group == "mt":
            return super().label(item, finding) or None  # other spans of the MT sentence: unknown
        s, e = item.meta["negative"]
        return False if overlaps(finding.start, finding.end, s, e) else None


def find_token(sentence: str, token: str) -> tuple[int, int] | None:
    """The first whitespace token equal to ``token``, else the first whole-word occurrence."""
    for s, e in ws_tokens(sentence):
        if sentence[s:e] == token:
            return s, e
    m = re.search(rf"(?<!\w){re.escape(token)}(?!\w)", sentence)
    return (m.start(), m.end()) if m else None


DATASETS: dict[str, Dataset] = {d.name: d for d in (MtMqm(), MtQeWordtags(), Ocr(), Demetr(), Names())}
