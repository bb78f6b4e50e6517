"""Evaluation on the labelled sets in ``mtqa.config.data_dir()``: loaders, metrics and the runner.

    from mtqa.eval import run_eval
    result = run_eval("ocr", Settings(), only=["ocr"], split="test", limit=20)
    result.score.summary["f1"]
"""

from .datasets import DATASETS, Dataset, Score
from .items import EvalItem, GoldSpan, Word, hash_split
from .runner import DatasetError, EvalResult, resolve_dataset, run_eval

__all__ = [
    "DATASETS", "Dataset", "DatasetError", "EvalItem", "EvalResult", "GoldSpan", "Score", "Word",
    "hash_split", "resolve_dataset", "run_eval",
]  # fmt: skip
