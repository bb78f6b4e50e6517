"""mtqa: flag what machine translation or OCR broke in English news text.

Importing mtqa is cheap: torch and model weights load only when the LM checker runs.
"""

__version__ = "0.1.0"

from .api import check, check_documents, make_pipeline  # noqa: E402
from .config import Settings  # noqa: E402
from .document import Document  # noqa: E402
from .findings import Category, Finding, Severity  # noqa: E402
from .pipeline import Checker, DocumentReport, Pipeline  # noqa: E402

__all__ = [
    "Category", "Checker", "Document", "DocumentReport", "Finding", "Pipeline", "Settings", "Severity",
    "__version__", "check", "check_documents", "make_pipeline",
]  # fmt: skip
