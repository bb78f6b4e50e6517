"""``mtqa batch``: archive-scale, resumable runs (locally or on Ray), streaming in chunks."""

from .core import OutputLog, Stats, check_records, summary_path
from .runner import BatchResult, Engine, LocalEngine, Refused, make_engine, run_batch
from .sources import Record, records

__all__ = ["BatchResult", "Engine", "LocalEngine", "OutputLog", "Record", "Refused", "Stats", "check_records",
           "make_engine", "records", "run_batch", "summary_path"]
