"""The rule profile: which LanguageTool rules run, and how their hits become mtqa findings.

The profile is data (``mtqa/data/grammar_profile.yaml``); a newsroom overlays its own YAML file
(same keys) or enables/disables rules by LanguageTool's rule and category ids.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any, Iterable, Mapping

import yaml

from ..config import PACKAGE_DATA
from ..findings import Category, Severity

DEFAULT_PROFILE = PACKAGE_DATA / "grammar_profile.yaml"
_LIST_KEYS = ("disabled_categories", "disabled_rules", "enabled_rules", "enabled_categories")


def _matches(value: str, patterns: Iterable[str]) -> bool:
    return any(fnmatchcase(value, p) for p in patterns)


def _exact(patterns: Iterable[str]) -> list[str]:
    return sorted(p for p in patterns if not any(c in p for c in "*?["))



def _switch(names: Iterable[str], into: list[str], out_of: list[str]) -> tuple[list[str], list[str]]:
    """Move each name into ``into`` and out of ``out_of`` (the last word wins)."""
    for name in map(str, names):
        out_of = [x for x in out_of if x != name]
        into.append(name)
    return into, out_of

@dataclass(frozen=True)
class Profile:
    raw: Mapping[str, Any]
    language: str = "en-US"
    disabled_categories: tuple[str, ...] = ()
    disabled_rules: tuple[str, ...] = ()
    enabled_rules: tuple[str, ...] = ()
    enabled_categories: tuple[str, ...] = ()
    category_map: Mapping[str, str] = field(default_factory=dict)
    rule_map: Mapping[str, str] = field(default_factory=dict)
    default_category: str = "grammar"
    word_spelling_rules: tuple[str, ...] = ()
    other_variant_message: re.Pattern[str] | None = None
    max_suggestions: int = 5
    findings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    ocr_confusions: tuple[tuple[str, str], ...] = ()
    ocr_weak_confusions: tuple[tuple[str, str], ...] = ()
    variant_spellings: tuple[tuple[str, str], ...] = ()
    ocr_max_substitutions: int = 2
    # Candidate mode: the engine runs its full default rule set and every match is reported, with
    # what this profile would have done with it as evidence (a learned decision chooses later).
    candidates: bool = False

    # --- loading -------------------------------------------------------------------------------
    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> "Profile":
        ocr = data.get("ocr") or {}
        pattern = data.get("other_variant_message")
        return cls(
            raw=dict(data),
            language=str(data.get("language", "en-US")),
            disabled_categories=tuple(map(str, data.get("disabled_categories") or ())),
            disabled_rules=tuple(map(str, data.get("disabled_rules") or ())),
            enabled_rules=tuple(map(str, data.get("enabled_rules") or ())),
            enabled_categories=tuple(map(str, data.get("enabled_categories") or ())),
            category_map={str(k): str(v) for k, v in (data.get("category_map") or {}).items()},
            rule_map={str(k): str(v) for k, v in (data.get("rule_map") or {}).items()},
            default_category=str(data.get("default_category", "grammar")),
            word_spelling_rules=tuple(map(str, data.get("word_spelling_rules") or ())),
            other_variant_message=re.compile(pattern) if pattern else None,
            max_suggestions=int(data.get("max_suggestions", 5)),
            findings={str(k): dict(v) for k, v in (data.get("findings") or {}).items()},
            # YAML reads [0, o] as (int, str): confusions are always strings.
            ocr_confusions=tuple((str(a), str(b)) for a, b in (ocr.get("confusions") or ())),
            ocr_weak_confusions=tuple((str(a), str(b)) for a, b in (ocr.get("weak_confusions") or ())),
            variant_spellings=tuple((str(a), str(b)) for a, b in (data.get("variant_spellings") or ())),
            ocr_max_substitutions=int(ocr.get("max_substitutions", 2)),
            candidates=bool(data.get("candidates", False)),
        )

    @classmethod
    def load(cls, path: str | Path | None = None, overlay: str | Path | None = None) -> "Profile":
        """The default news profile, optionally overlaid by a user YAML file with the same keys.

        In the overlay, the four rule/category lists add to the default ones (enabling a rule
        removes it from the disabled list); every other key replaces the default value.
        """
        data = yaml.safe_load(Path(path or DEFAULT_PROFILE).read_text(encoding="utf-8")) or {}
        profile = cls.from_mapping(data)
        if overlay:
            extra = yaml.safe_load(Path(overlay).read_text(encoding="utf-8")) or {}
            merged = {**data, **{k: v for k, v in extra.items() if k not in _LIST_KEYS}}
            profile = cls.from_mapping(merged).with_overrides(
                enable_rules=extra.get("enabled_rules") or (),
                disable_rules=extra.get("disabled_rules") or (),
                enable_categories=extra.get("enabled_categories") or (),
                disable_categories=extra.get("disabled_categories") or (),
            )
            # keep the base lists of the default when the overlay did not name them
            profile = replace(profile, raw={**merged, **{k: list(getattr(profile, k)) for k in _LIST_KEYS}})
        return profile

    def as_candidates(self) -> "Profile":
        """The same profile in candidate mode (see ``candidates``)."""
        return replace(self, candidates=True, raw={**self.raw, "candidates": True})

    def with_overrides(
        self,
        *,
        enable_rules: Iterable[str] = (),
        disable_rules: Iterable[str] = (),
        enable_categories: Iterable[str] = (),
        disable_categories: Iterable[str] = (),
    ) -> "Profile":
        """Enable or disable by LanguageTool rule id / category id; the last word wins."""
        en_r, dis_r = _switch(enable_rules, list(self.enabled_rules), list(self.disabled_rules))
        dis_r, en_r = _switch(disable_rules, dis_r, en_r)
        en_c, dis_c = _switch(enable_categories, list(self.enabled_categories), list(self.disabled_categories))
        dis_c, en_c = _switch(disable_categories, dis_c, en_c)
        return replace(
            self,
            enabled_rules=tuple(dict.fromkeys(en_r)),
            disabled_rules=tuple(dict.fromkeys(dis_r)),
            enabled_categories=tuple(dict.fromkeys(en_c)),
            disabled_categories=tuple(dict.fromkeys(dis_c)),
        )

    @property
    def digest(self) -> str:
        """Short hash of the effective profile, for the run signature."""
        payload = {
            "raw": self.raw,
            **{k: list(getattr(self, k)) for k in _LIST_KEYS},
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:12]

    # --- what runs ----------------------------------------------------------------------------
    def allows(self, rule_id: str, category_id: str) -> bool:
        """The profile's verdict on one hit. Applied after every engine, because engines differ in
        how faithfully they honour disabled rules (LingoTweaker 0.2.8 ignores some)."""
        if _matches(rule_id, self.enabled_rules):
            return True
        if _matches(rule_id, self.disabled_rules):
            return False
        if category_id and _matches(category_id, self.enabled_categories):
            return True
        if category_id and _matches(category_id, self.disabled_categories):
            return False
        return True

    def engine_options(self) -> dict[str, list[str]]:
        """Exact ids for the engine (globs are applied by :meth:`allows` afterwards).

        Disabled categories are only passed down when no rule is enabled explicitly, because
        LanguageTool's ``disabledCategories`` would switch off an enabled rule of that category.
        In candidate mode the engine keeps its own defaults (the profile judges the hits afterwards).
        """
        if self.candidates:
            return {"enabled_rules": [], "disabled_rules": [], "enabled_categories": [], "disabled_categories": []}
        enabled_rules = _exact(self.enabled_rules)
        categories = [c for c in _exact(self.disabled_categories) if c not in self.enabled_categories]
        return {
            "enabled_rules": enabled_rules,
            "disabled_rules": [r for r in _exact(self.disabled_rules) if r not in enabled_rules],
            "enabled_categories": _exact(self.enabled_categories),
            "disabled_categories": [] if enabled_rules else categories,
        }

    # --- mapping ------------------------------------------------------------------------------
    def category_for(self, rule_id: str, category_id: str) -> Category:
        for pattern, target in self.rule_map.items():
            if fnmatchcase(rule_id, pattern):
                return Category(target)
        return Category(self.category_map.get(category_id, self.default_category))

    def is_word_spelling(self, rule_id: str) -> bool:
        return _matches(rule_id, self.word_spelling_rules)

    def is_other_variant(self, message: str) -> bool:
        return bool(self.other_variant_message and self.other_variant_message.search(message))

    def severity_confidence(self, kind: str) -> tuple[Severity, float]:
        spec = self.findings.get(kind) or self.findings.get("grammar") or {}
        return Severity(spec.get("severity", "warning")), float(spec.get("confidence", 0.5))

    # --- OCR ----------------------------------------------------------------------------------
    def ocr_explains(self, word: str, suggestion: str, *, name_like: bool = False) -> str | None:
        """Why ``word`` looks like an OCR reading of ``suggestion``: "case", "split",
        "merge", "confusion", or None when the difference is not OCR-like. ``name_like`` words only
        count strong confusions and are never merged."""
        if word == suggestion:
            return None
        w, s = word.lower(), suggestion.lower()
        if w == s:
            return "case"  # "MIlitary" -> "Military": OCR-like casing
        if " " in w and w.replace(" ", "") == s.replace(" ", ""):
            return "split"  # "c onfirmed" -> "confirmed"
        if " " in s and w.replace(" ", "") == s.replace(" ", ""):
            return None if name_like else "merge"  # "governmentsaid" -> "government said"
        if " " in w or " " in s:
            return None
        allowed = set(self.ocr_confusions) if name_like else set(self.ocr_confusions) | set(self.ocr_weak_confusions)
        subs = _substitutions(w, s, allowed)
        return "confusion" if subs is not None and 0 < subs <= self.ocr_max_substitutions else None

    def is_variant_spelling(self, word: str, suggestion: str) -> bool:
        """``suggestion`` is ``word`` in the other of US/UK spelling ("labourer" -> "laborer")."""
        target = suggestion.lower()
        frontier = {word.lower()}
        for _ in range(2):  # at most two rewrites ("organisation" -> "organization" is one)
            frontier = {
                w[:i] + b + w[i + len(a) :]
                for w in frontier
                for a, b in self.variant_spellings
                for i in _occurrences(w, a)
            }
            if target in frontier:
                return True
        return False


def _substitutions(word: str, target: str, allowed: set[tuple[str, str]]) -> int | None:
    """How many edits turn ``word`` into ``target`` when every edit is an allowed (from, to) pair;
    None when some edit is not allowed."""
    count = 0
    for op, a0, a1, b0, b1 in difflib.SequenceMatcher(None, word, target, autojunk=False).get_opcodes():
        if op == "equal":
            continue
        if (word[a0:a1], target[b0:b1]) not in allowed:
            return None
        count += 1
    return count


def _occurrences(text: str, part: str) -> list[int]:
    out, i = [], text.find(part)
    while i >= 0:
        out.append(i)
        i = text.find(part, i + 1)
    return out
