"""The output layer alone: whole-vocabulary row chunks (the previous design) against vocabulary
blocks with a running logsumexp (``TokenScorer._target_logprobs``), on the same hidden states.

    python -m benchmarks.bench_head [--rows 1024] [--repeats 3]

The hidden states are the model's own (the last layer over real news sentences), so the logits
have the model's real spread. Prints a table and writes ``results/bench-head.json``.
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchmarks.harness import print_table, write_results


def main(argv: list[str] | None = None) -> None:
    import torch

    from benchmarks.bench_lm import make_sentences
    from mtqa.config import Settings
    from mtqa.lm import get_scorer

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1024, help="output-layer rows (scored tokens)")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)

    scorer = get_scorer(Settings())
    ids = scorer.tokenizer(" ".join(make_sentences(200)), add_special_tokens=False)["input_ids"][: args.rows]
    with torch.inference_mode():
        hidden = scorer._decoder(input_ids=torch.tensor([[scorer._start_id, *ids[:-1]]])).last_hidden_state[0]
        targets = torch.tensor(ids)
        designs = {
            "whole vocabulary, 256-row chunks (previous)": (256, scorer._vocab),
            "vocabulary blocks (this design)": (scorer._chunk_rows, scorer._head_cols),
        }
        rows, values = [], {}
        for name, (chunk, cols) in designs.items():
            saved = scorer._chunk_rows, scorer._head_cols
            scorer._chunk_rows, scorer._head_cols = chunk, cols
            try:
                values[name] = scorer._target_logprobs(hidden, targets)  # warm
                times = []
                for _ in range(args.repeats):
                    t = time.perf_counter()
                    scorer._target_logprobs(hidden, targets)
                    times.append(time.perf_counter() - t)
            finally:
                scorer._chunk_rows, scorer._head_cols = saved
            rows.append({"design": name, "rows x cols per block": f"{chunk} x {cols}",
                         "median s": statistics.median(times), "rows/s": len(ids) / statistics.median(times)})
    first, second = values.values()
    ratio = rows[0]["median s"] / rows[1]["median s"]
    max_diff = float((first - second).abs().max())
    print_table(f"Output layer, {len(ids)} rows x {scorer._vocab} vocabulary ({scorer.signature()['dtype']}, "
                f"{torch.get_num_threads()} threads): {ratio:.2f}x, max |diff| {max_diff:.1e} nats", rows)
    write_results("bench-head", {"rows": len(ids), "vocab": scorer._vocab, "threads": torch.get_num_threads(),
                                 "repeats": args.repeats, "results": rows, "speedup": ratio,
                                 "max_abs_diff_nats": max_diff}, scorer.signature())


if __name__ == "__main__":
    main()
