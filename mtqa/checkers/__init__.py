"""The checker registry: which checkers a run uses, built from Settings."""

from __future__ import annotations

import importlib
import logging
from typing import Callable

from ..config import Settings
from ..pipeline import Checker

log = logging.getLogger(__name__)

# name -> ("module:Class", enabled(settings)). Heavy checkers import torch etc. only when built.
REGISTRY: dict[str, tuple[str, Callable[[Settings], bool]]] = {
    "boilerplate": ("mtqa.checkers.boilerplate:BoilerplateChecker", lambda s: True),
    "ocr": ("mtqa.checkers.ocr:OcrChecker", lambda s: True),
    "names": ("mtqa.checkers.names:NameChecker", lambda s: s.use_gazetteer),
    "grammar": ("mtqa.checkers.grammar:GrammarChecker", lambda s: s.use_grammar and s.grammar != "off"),
    "lm": ("mtqa.checkers.lm:LMChecker", lambda s: s.use_lm),
    "garble": ("mtqa.checkers.garble:GarbleChecker", lambda s: True),
}


def load_checker(name: str, settings: Settings) -> Checker:
    target, _ = REGISTRY[name]
    module_name, class_name = target.split(":")
    return getattr(importlib.import_module(module_name), class_name)(settings)


def build_checkers(settings: Settings, only: list[str] | None = None) -> list[Checker]:
    names = only or [n for n, (_, enabled) in REGISTRY.items() if enabled(settings)]
    return [load_checker(name, settings) for name in names]
