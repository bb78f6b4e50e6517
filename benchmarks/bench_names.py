"""Name-corruption benchmark on single sentences, no document context (held-out splits only).

(a) Synthetic: every applicable corruption (l/r, z->d/j, k/c, v/b, final vowel added/dropped,
    ia/iya, truncation, swapped liquids, doubled/dropped letter) of the towns of the GeoNames
    ``test`` split (by geonameid; the decision is fitted on ``train``/``dev``) that the gazetteer
    knows, in news sentences written for mtqa (:mod:`mtqa.gazetteer.synthetic`), with each town's
    canonical name and a legitimate variant as negatives: recall, top-3 (the canonical entity
    among the first three suggestions), false alarms on canonical names and on variants.
(b) Real MT: MLQE-PE ``test20`` MT sentences (the decision saw ``train``/``dev``): capitalised
    tokens the post-editor replaced (recall, top-1 = the post-edited form first) and false alarms
    on the capitalised tokens the post-editor kept.
(c) The same scorer on what the user gets (the default pipeline without the LM: names, grammar,
    OCR, garble rules and the learned decision), on LanguageTool's full default rule set alone (the
    floor) and on the grammar checker's news profile. One pipeline run gives every row: its grammar
    checker runs in candidate mode (every LanguageTool match, each with the profile's verdict).
Plus speed: suspect names scored per CPU-second (one core: retrieval + weighted model), and
GeoNames ``test`` variants with their own form hidden from the index (unlisted variants).

Plus where real-MT post-edited tokens are lost (``--breakdown``, on the fitting splits).

    python -m benchmarks.bench_names [--world N] [--no-grammar] [--build] [--breakdown SPLITS]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

from mtqa.config import Settings, data_dir
from mtqa.document import Document
from mtqa.findings import Category
from mtqa.gazetteer.corruption import POSTEDIT_FILE
from mtqa.gazetteer.normalize import fold

from .harness import print_table, write_results


def build_stats() -> dict:
    from mtqa.gazetteer.index import build_index

    with tempfile.TemporaryDirectory() as tmp:
        _path, stats = build_index(Path(tmp) / "gazetteer.pkl", progress=True)
    return {"build_seconds": stats["build_seconds"], "index_mb": stats["size_mb"], "entries": stats["entries"],
            "forms": stats["forms"]}


def same_entity(gaz, suggestion: str, target: str) -> bool:
    a, b = fold(suggestion), fold(target)
    if a == b:
        return True
    return bool(set(gaz.lookup(a)) & set(gaz.lookup(b)))


def overlapping(findings, span):
    return next((f for f in findings if f.start < span[1] and span[0] < f.end), None)


def score_synthetic(findings, cases, gaz) -> tuple[list[dict], dict]:
    """``findings``: per case. Rows per group and per family, and the totals."""
    stats: dict[tuple, Counter] = defaultdict(Counter)
    for case, found in zip(cases, findings):
        hit = overlapping(found, case.span)
        for key in ((case.group, ""), ("all", ""), *(((case.group, case.family), ("all", case.family))
                                                    if case.label == "corrupt" else ())):
            s = stats[key]
            s[case.label] += 1
            s[case.label + "_flagged"] += hit is not None
            if case.label == "corrupt" and hit is not None:
                s["top3"] += any(same_entity(gaz, x, case.canonical) for x in hit.suggestions[:3])
    rows = []
    for (group, family), s in sorted(stats.items(), key=lambda kv: (kv[0][0] != "all", kv[0])):
        row = {"group": group, "family": family or "(all)", "corrupt": s["corrupt"],
               "recall": s["corrupt_flagged"] / max(s["corrupt"], 1), "top3": s["top3"] / max(s["corrupt"], 1)}
        if not family:
            row |= {"canonical": s["canonical"], "fa_canonical": s["canonical_flagged"] / max(s["canonical"], 1),
                    "variants": s["variant"], "fa_variant": s["variant_flagged"] / max(s["variant"], 1)}
        rows.append(row)
    return rows, next(r for r in rows if r["group"] == "all" and r["family"] == "(all)")


def score_postedit(findings, sentences, gaz) -> dict:
    n = flagged = top1 = top3 = kept = kept_flagged = 0
    for sentence, found in zip(sentences, findings):
        for span, pe_token in sentence.replaced:
            n += 1
            hit = overlapping(found, span)
            if hit is not None:
                flagged += 1
                top1 += bool(hit.suggestions) and same_entity(gaz, hit.suggestions[0], pe_token)
                top3 += any(same_entity(gaz, x, pe_token) for x in hit.suggestions[:3])
        for span in sentence.kept:
            kept += 1
            kept_flagged += overlapping(found, span) is not None
    return {"replaced": n, "recall": flagged / max(n, 1), "top1": top1 / max(n, 1), "top3": top3 / max(n, 1),
            "kept": kept, "fa_kept": kept_flagged / max(kept, 1)}


STAGES = ("known form", "not a suspect", "no candidate", "wrong candidates", "right one not first", "rejected",
          "flagged, right first")


def loss_breakdown(matcher, sentences) -> list[dict]:
    """Where the post-edited tokens are lost, by what the post-edited form is (its gazetteer kind,
    else an English word at Zipf >= 3, else other): the MT token is a known form, not a suspect
    (common English, a known name part, too short), has no candidate, has candidates without the
    post-edited entity, has it but not first, has it first but the decision says no, or is flagged."""
    from mtqa.gazetteer.matcher import _zipf

    gaz = matcher.gaz
    order = ("person", "organisation", "place", "region")
    counts: dict[str, Counter] = defaultdict(Counter)
    for sentence in sentences:
        exact, suspects = matcher.analyse(Document.from_text(sentence.text))
        for span, pe_token in sentence.replaced:
            kinds = {gaz.kind[i] for i in gaz.lookup(fold(pe_token))}
            what = next((k for k in order if k in kinds), "English word" if _zipf(pe_token) >= 3.0 else "other")
            suspect = overlapping(suspects, span)
            if suspect is None:
                stage = STAGES[0] if any(a < span[1] and span[0] < b for a, b, _t, _i in exact) else STAGES[1]
            elif suspect.best is None:
                stage = STAGES[2]
            elif same_entity(gaz, suspect.best["canonical"], pe_token) or same_entity(gaz, suspect.best["form"], pe_token):
                stage = STAGES[6] if suspect.probability >= matcher.threshold else STAGES[5]
            elif any(same_entity(gaz, c["canonical"], pe_token) or same_entity(gaz, c["form"], pe_token)
                     for c in suspect.candidates):
                stage = STAGES[4]
            else:
                stage = STAGES[3]
            counts[what][stage] += 1
            counts["(all)"][stage] += 1
    return [{"post-edited form": what, "n": sum(c.values()), **{stage: c[stage] for stage in STAGES}}
            for what, c in sorted(counts.items(), key=lambda kv: -sum(kv[1].values()))]


def suspects_per_second(matcher, words: list[str]) -> float:
    from mtqa.gazetteer.matcher import Suspect

    from mtqa.gazetteer.matcher import english_neighbour

    english_neighbour("warmup")  # the English word table loads once per process, not per name
    # CPU time of this process: one core's worth, whatever else shares the machine.
    started = time.process_time()
    for word in words:
        suspect = Suspect(0, len(word), word, fold(word), 0.0)
        matcher.score_suspect(suspect, [(0, len(word), word, 1)], Counter(), Counter())
    return len(words) / (time.process_time() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--world", type=int, default=150, help="world (non-UA/RU/BY) towns in the synthetic set")
    parser.add_argument("--variants", type=int, default=400, help="GeoNames test variants checked with their form hidden")
    parser.add_argument("--no-grammar", action="store_true", help="the names checker alone (no LanguageTool run)")
    parser.add_argument("--build", action="store_true", help="also time a fresh index build")
    parser.add_argument("--breakdown", default="train,dev",
                        help="MLQE-PE splits to break the real-MT losses down on (the fitting part by default; '' skips)")
    args = parser.parse_args()
    if not (data_dir() / POSTEDIT_FILE).exists():
        raise SystemExit(f"MTQA_DATA_DIR {data_dir()} has no {POSTEDIT_FILE}")
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from mtqa.api import check_documents, make_pipeline
    from mtqa.checkers.names import NameChecker
    from mtqa.combiner import is_candidate
    from mtqa.pipeline import Pipeline
    from mtqa.gazetteer.calibrate import variant_examples
    from mtqa.gazetteer.corruption import postedit_pairs
    from mtqa.gazetteer.index import _load_base, gazetteer_hash, index_path, load_gazetteer
    from mtqa.gazetteer.synthetic import postedit_sentences, sentence_cases

    stats = build_stats() if args.build else {}
    if not index_path().exists():
        load_gazetteer()
    _load_base.cache_clear()
    started = time.perf_counter()
    gaz = load_gazetteer()
    stats["load_seconds"] = round(time.perf_counter() - started, 2)
    pipeline = make_pipeline(Settings(use_lm=False))
    matcher = next(c for c in pipeline.checkers if isinstance(c, NameChecker)).matcher
    # every row from one run: what the user gets, and the checkers' raw findings inside it
    systems = {
        "mtqa without LM (default)": lambda r: r.findings,
        "names checker alone": lambda r: [f for f in r.by_checker.get("names", ()) if f.category is Category.NAME],
        "LanguageTool rules alone (full default rules)": lambda r: r.by_checker.get("grammar", []),
        "grammar checker (news profile)": lambda r: [f for f in r.by_checker.get("grammar", ()) if not is_candidate(f)],
    }
    if args.no_grammar:
        systems = {"names checker alone": systems["names checker alone"]}
        pipeline = Pipeline([c for c in pipeline.checkers if isinstance(c, NameChecker)], pipeline.combiner)

    cases = sentence_cases("test", lambda f: bool(gaz.lookup(f)), world_places=args.world)
    sentences = postedit_sentences("test20")
    t0 = time.perf_counter()
    case_reports = check_documents([Document.from_text(c.text) for c in cases], pipeline)
    sentence_reports = check_documents([Document.from_text(s.text) for s in sentences], pipeline)
    seconds = time.perf_counter() - t0
    table, scored = [], {}
    for name, pick in systems.items():
        rows, synthetic = score_synthetic([pick(r) for r in case_reports], cases, gaz)
        real = score_postedit([pick(r) for r in sentence_reports], sentences, gaz)
        scored[name] = {"synthetic": synthetic, "real": real, "synthetic_rows": rows}
        table.append({"checker": name, **{k: synthetic[k] for k in ("recall", "top3", "fa_canonical", "fa_variant")},
                      "mt_recall": real["recall"], "mt_top1": real["top1"], "mt_fa_kept": real["fa_kept"]})
        if name == "names checker alone":
            ua = next(r for r in rows if r["group"] == "UA/RU/BY" and r["family"] == "(all)")
            table.append({"checker": "names checker alone, UA/RU/BY towns only",
                          **{k: ua[k] for k in ("recall", "top3", "fa_canonical", "fa_variant")}})
    synthetic_rows = scored["names checker alone"]["synthetic_rows"]

    hidden = flagged_hidden = 0
    for _row, _variant, s in variant_examples(matcher, "test", args.variants):
        hidden += 1
        flagged_hidden += s is not None and s.best is not None and s.probability >= matcher.threshold

    breakdown = loss_breakdown(matcher, postedit_sentences(tuple(args.breakdown.split(",")))) if args.breakdown else []
    words = list(dict.fromkeys(r["mt_token"] for r in postedit_pairs("dev")))[:500]
    speed = {"suspects_per_s": round(suspects_per_second(matcher, words), 1),
             "pipeline_sentences_per_s": round((len(cases) + len(sentences)) / seconds, 1),
             "hidden_variant_flag_rate": round(flagged_hidden / max(hidden, 1), 4), "hidden_variants": hidden,
             **stats}
    print_table("names: synthetic corruptions by group and family (test split)", synthetic_rows)
    print_table("names: single sentences, no document context", table)
    if breakdown:
        print_table(f"names: where real-MT post-edited tokens are lost ({args.breakdown})", breakdown)
    print_table("names: speed and unlisted variants", [speed])
    write_results("bench_names", {
        "table": table, "synthetic_rows": synthetic_rows,
        "systems": {name: {k: v for k, v in x.items() if k != "synthetic_rows"} for name, x in scored.items()},
        "signature": pipeline.signature, "speed": speed, "args": vars(args), "mt_loss_breakdown": breakdown,
        "sets": {"synthetic_sentences": len(cases), "postedit_sentences": len(sentences)},
    }, {"gazetteer_hash": gazetteer_hash(), "threshold": matcher.threshold, **pipeline.combiner.describe()})


if __name__ == "__main__":
    main()
