"""Scraped page furniture: navigation, UI prompts, ad and share rows left in the copy."""

from __future__ import annotations

import re
from functools import cached_property
from typing import Sequence

import yaml

from ..config import PACKAGE_DATA, Settings
from ..document import Document
from ..findings import Category, Finding, Severity

_LINE = re.compile(r"[^\n]+")
_WORDS = re.compile(r"[\w'’-]+")


class BoilerplateChecker:
    name = "boilerplate"
    version = "1"

    def __init__(self, settings: Settings | None = None, rules_path=PACKAGE_DATA / "boilerplate.yaml") -> None:
        self.rules_path = rules_path

    @cached_property
    def _rules(self) -> dict:
        rules = yaml.safe_load(self.rules_path.read_text())
        flags = re.IGNORECASE
        return {
            "line": [(r["id"], re.compile(rf"\W*(?:{r['pattern']})\W*", flags)) for r in rules["line"]],
            "inline": [(r["id"], re.compile(rf"\b(?:{r['pattern']})\b", flags)) for r in rules["inline"]],
            "ui_words": set(rules["ui_words"].split()),
            "ui_line": rules["ui_line"],
        }

    def check(self, docs: Sequence[Document]) -> list[list[Finding]]:
        return [self._check_one(doc) for doc in docs]

    def _check_one(self, doc: Document) -> list[Finding]:
        findings: list[Finding] = []
        for line in _LINE.finditer(doc.text):
            stripped = line.group().strip()
            if not stripped:
                continue
            start = line.start() + line.group().index(stripped[0])
            end = start + len(stripped)
            rule = next((rid for rid, rx in self._rules["line"] if rx.fullmatch(stripped)), None)
            if rule:
                findings.append(self._finding(start, end, rule, "line", 0.95, Severity.ERROR))
                continue
            for rid, rx in self._rules["inline"]:
                for m in rx.finditer(doc.text, start, end):
                    findings.append(self._finding(m.start(), m.end(), rid, "inline", 0.9, Severity.ERROR))
            ui_share = self._ui_share(stripped)
            if ui_share is not None:
                findings.append(self._finding(start, end, "ui_line", "heuristic", 0.6, Severity.WARNING, ui_share))
        return findings

    def _ui_share(self, line: str) -> float | None:
        """Share of page-chrome words on a short line with no sentence punctuation, or None."""
        limits = self._rules["ui_line"]
        words = [w.lower() for w in _WORDS.findall(line)]
        if not (limits["min_words"] <= len(words) <= limits["max_words"]) or line.rstrip()[-1:] in ".?!\"”":
            return None
        share = sum(w in self._rules["ui_words"] for w in words) / len(words)
        return share if share >= limits["min_ui_share"] else None

    def _finding(self, start, end, rule, how, confidence, severity, share=None) -> Finding:
        evidence = {"rule": rule, "match": how}
        if share is not None:
            evidence["ui_word_share"] = share
        return Finding(
            start, end, Category.BOILERPLATE, severity, confidence,
            "Looks like web-page furniture left by scraping, not article text; remove it.",
            f"boilerplate.{rule}", ("",), evidence,
        )  # fmt: skip
