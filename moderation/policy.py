"""Probabilities -> decisions. Kept apart from the models so a site can tune thresholds without retraining.

Each category has a ``review`` and a ``reject`` threshold (either may be off). A comment is rejected when
any enabled category reaches its reject threshold, sent to review when any reaches its review threshold, and
approved otherwise. Defaults come from the model cards; a site's TOML policy file and per-run flags override
them. Reason codes reuse the vocabulary moderators know from Coral Talk.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

REASON_CODES = {"abusive": "ABUSIVE", "toxic": "TOXIC", "insult": "INSULT", "obscene": "OBSCENE",
                "hate": "HATE_SPEECH", "threat": "THREAT", "off_topic": "IRRELEVANT_CONTENT"}
DECIDING_BY_DEFAULT = ("abusive", "hate", "threat", "off_topic")
DECISIONS = ("approve", "review", "reject")


class PolicyError(ValueError):
    """A policy file or override that makes no sense."""


@dataclass(frozen=True)
class Rule:
    """Thresholds for one category; None switches that step off."""

    review: float | None
    reject: float | None
    enabled: bool = True


@dataclass(frozen=True)
class Policy:
    rules: dict[str, Rule] = field(default_factory=dict)

    def thresholds(self) -> dict[str, dict[str, float | None]]:
        """Each category's review and reject thresholds, in the model cards' shape."""
        return {c: {"review": r.review, "reject": r.reject} for c, r in self.rules.items()}

    @classmethod
    def from_cards(cls, *cards: dict) -> Policy:
        """Thresholds written in the model cards; categories outside ``DECIDING_BY_DEFAULT`` are reported only."""
        rules = {}
        for card in cards:
            for category, t in card.get("thresholds", {}).items():
                rules[category] = Rule(t.get("review"), t.get("reject"), category in DECIDING_BY_DEFAULT)
        return cls(rules)

    def with_file(self, path: str | Path) -> Policy:
        """Overlay a site policy file: ``[categories.<name>]`` tables with review, reject, enabled."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read policy: {exc}") from exc
        rules = dict(self.rules)
        for category, values in data.get("categories", {}).items():
            if category not in rules:
                raise PolicyError(f"{path}: unknown category {category!r} (known: {', '.join(rules)})")
            unknown = set(values) - {"review", "reject", "enabled"}
            if unknown:
                raise PolicyError(f"{path}: [{category}] has unknown keys {sorted(unknown)}")
            rules[category] = replace(rules[category], **values)
        return Policy(rules)._checked(f"{path}: ")

    def with_thresholds(self, category: str, review: float | None = None, reject: float | None = None) -> Policy:
        """Per-run overrides (the CLI's --review/--reject flags)."""
        if category not in self.rules:
            raise PolicyError(f"unknown category {category!r}")
        rule = self.rules[category]
        new = replace(rule, review=rule.review if review is None else review,
                      reject=rule.reject if reject is None else reject)
        return Policy({**self.rules, category: new})._checked()

    def _checked(self, where: str = "") -> Policy:
        for category, rule in self.rules.items():
            for name in ("review", "reject"):
                value = getattr(rule, name)
                if value is not None and not 0 <= value <= 1:
                    raise PolicyError(f"{where}{category}: {name} threshold {value} is not a probability in [0, 1]")
            if rule.review is not None and rule.reject is not None and rule.review > rule.reject:
                raise PolicyError(f"{where}{category}: review threshold {rule.review} is above reject {rule.reject}")
        return self

    def decide(self, proba: pd.DataFrame) -> tuple[np.ndarray, list[list[str]], list[list[str]]]:
        """Decisions, Coral-style reason codes and the categories that triggered, for each row of
        ``proba`` (one column per category; NaN where a category was not scored)."""
        n = len(proba)
        level = np.zeros(n, dtype=int)
        triggered: list[list[str]] = [[] for _ in range(n)]
        for category, rule in self.rules.items():
            if not rule.enabled or category not in proba:
                continue
            p = proba[category].to_numpy(dtype=float)
            hit = np.zeros(n, dtype=int)
            if rule.review is not None:
                hit = np.where(p >= rule.review, 1, hit)
            if rule.reject is not None:
                hit = np.where(p >= rule.reject, 2, hit)
            level = np.maximum(level, hit)
            for i in np.flatnonzero(hit):
                triggered[i].append(category)
        codes = [[REASON_CODES.get(c, c.upper()) for c in cats] for cats in triggered]
        return np.array(DECISIONS)[level], codes, triggered
