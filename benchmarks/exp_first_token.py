"""Experiment (not adopted yet): the first-token difference of garble rewrites on DEMETR dev.

    python -m benchmarks.exp_first_token [LIMIT]      # LIMIT DEMETR dev source items (default 40)

For every rescored candidate: d0 = the first pass's log-prob of its first token minus that of the
text's own first token there (both free: one output-layer row per edit), its full Δ, and whether
it fires and on the perturbed span. Per kind: the lowest d0 of a firing candidate and how many rows
lie below a few cut-offs, i.e. what a fitted first-token screen could remove. Writes
``results/exp-first-token.json`` (numbers only, no text).
"""
import hashlib, sys, time
from benchmarks.harness import print_table, write_results
from benchmarks.bench_lm_quality import _dev_items
from mtqa.config import Settings
from mtqa.document import Document
from mtqa.eval.items import overlaps
from mtqa.garble.lexicon import thresholds
from mtqa.garble.lmslips import _KINDS, LMHelper, plan_slips
from mtqa.lm import get_scorer
import mtqa.lm.scorer as S

limit = int(sys.argv[1]) if len(sys.argv) > 1 else 40
items = _dev_items(limit)
docs = [Document.from_text(it.text, id=it.id) for it in items]
lm = LMHelper(get_scorer(Settings()))
lm.prepare(docs)
planned, edits = [], []
for it, doc in zip(items, docs):
    plans, e = plan_slips(doc, lm)
    planned += [(it, p) for p in plans]
    edits += [x[:6] for x in e]  # no min_delta: every candidate's value
rec = {}
orig = S.TokenScorer._screen
def screen(self, edits, rows, tails, known, heads):
    sk = orig(self, edits, rows, tails, known, heads)
    base = {}
    for i, (n, v, seg, p) in enumerate(rows):
        if v == 0 and tails[i] and seg.logprobs is not None and p >= seg.first and seg.ids[p] == tails[i][0]:
            base[n] = seg.logprobs[p - seg.first]
    for i, (n, v, seg, p) in enumerate(rows):
        if v > 0 and i in heads and n in base:
            rec[(n, v)] = (heads[i] - base[n], i in sk)
    return sk
S.TokenScorer._screen = screen
t = time.time()
deltas = lm.rescore_edits(edits)
seconds = time.time() - t
th = thresholds()["lm_slips"]
out = []
for n, ((it, p), d) in enumerate(zip(planned, deltas)):
    need = float(th[_KINDS[p.kind][2]])
    true_span = any(overlaps(p.start, p.end, g.start, g.end) for g in it.gold)
    for v, delta in enumerate(d, 1):
        if (n, v) not in rec or rec[(n, v)][1]:
            continue
        out.append({"kind": p.kind, "d0": rec[(n, v)][0], "delta": delta, "need": need, "edit": n,
                    "fires": delta >= need, "true": delta >= need and true_span, "group": it.group,
                    "half": int(hashlib.sha256(it.record.encode()).hexdigest(), 16) % 2})
table = []
for kind in sorted({r["kind"] for r in out}):
    rs = [r for r in out if r["kind"] == kind]
    fire = [r["d0"] for r in rs if r["fires"]]
    table.append({"kind": kind, "rows": len(rs), "fire": len(fire), "on the span": sum(r["true"] for r in rs),
                  "lowest d0 firing": min(fire) if fire else None,
                  **{f"rows d0 < {c}": sum(r["d0"] < c for r in rs) for c in (-3, -5, -8)}})
print_table(f"First-token difference of garble rewrites ({len(docs)} DEMETR dev sentences)", table)
write_results("exp-first-token", {"limit": limit, "sentences": len(docs), "seconds": seconds, "rows": table,
                                  "candidates": out}, lm.scorer.signature())
