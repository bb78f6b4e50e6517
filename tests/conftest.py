import os
from pathlib import Path

import pytest

from mtqa.config import data_dir

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

FIXTURES = Path(__file__).parent / "fixtures"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = data_dir()
    if not path.is_dir():
        pytest.skip(f"evaluation data not found at {path} (set MTQA_DATA_DIR)")
    return path


@pytest.fixture(scope="session")
def seed_article(shared_data: Path) -> str:
    path = shared_data / "seed" / "article.txt"
    if not path.exists():
        pytest.skip(f"seed article not found at {path}")
    return path.read_text(encoding="utf-8")
