"""Probabilities -> decisions. Kept apart from the models so a site can tune thresholds without retraining.

Each category has a ``review`` and a ``reject`` threshold (either may be off). A comment is rejected when
any enabled category reaches its reject threshold, sent to review when any reaches its review threshold, and
approved otherwise. A category whose model judges on different bases (off-topic: against an article, or the
comment alone) may give each basis its own review threshold (``review_by_basis``); ``review`` covers the rest.
Defaults come from the model cards; a site's TOML policy file and per-run flags override them. Reason codes
reuse the vocabulary moderators know from Coral Talk.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

REASON_CODES = {"abusive": "ABUSIVE", "toxic": "TOXIC", "insult": "INSULT", "obscene": "OBSCENE",
                "hate": "HATE_SPEECH", "threat": "THREAT", "off_topic": "IRRELEVANT_CONTENT"}
DECIDING_BY_DEFAULT = ("abusive", "hate", "threat", "off_topic")
DECISIONS = ("approve", "review", "reject")


class PolicyError(ValueError):
    """A policy file or override that makes no sense."""


@dataclass(frozen=True)
class Rule:
    """Thresholds for one category; None switches that step off. ``review_by_basis`` overrides ``review`` for
    the rows judged on that basis."""

    review: float | None
    reject: float | None
    enabled: bool = True
    review_by_basis: dict[str, float] = field(default_factory=dict)

    def with_review(self, review: float | None, by_basis: dict[str, float] | None = None) -> Rule:
        """A new review threshold; without ``by_basis`` it covers every basis."""
        return replace(self, review=review, review_by_basis=dict(by_basis or {}))

    def review_thresholds(self, basis: np.ndarray | None, n: int) -> np.ndarray:
        """The review threshold of each of ``n`` rows (NaN where review is off)."""
        default = np.nan if self.review is None else self.review
        if basis is None or not self.review_by_basis:
            return np.full(n, default)
        return np.array([self.review_by_basis.get(b, default) for b in basis], dtype=float)


@dataclass(frozen=True)
class Policy:
    rules: dict[str, Rule] = field(default_factory=dict)

    def thresholds(self) -> dict[str, dict]:
        """Each category's review and reject thresholds (and review per basis where set), in the cards' shape."""
        return {c: {"review": r.review, "reject": r.reject, **({"review_by_basis": dict(r.review_by_basis)}
                                                                if r.review_by_basis else {})}
                for c, r in self.rules.items()}

    @classmethod
    def from_cards(cls, *cards: dict) -> Policy:
        """Thresholds written in the model cards; categories outside ``DECIDING_BY_DEFAULT`` are reported only."""
        rules = {}
        for card in cards:
            for category, t in card.get("thresholds", {}).items():
                rules[category] = Rule(t.get("review"), t.get("reject"), category in DECIDING_BY_DEFAULT,
                                       dict(t.get("review_by_basis") or {}))
        return cls(rules)

    def with_file(self, path: str | Path) -> Policy:
        """Overlay a site policy file: ``[categories.<name>]`` tables with review, reject, enabled and a
        ``review_by_basis`` table; a ``review`` without ``review_by_basis`` covers every basis."""
        try:
            data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise PolicyError(f"{path}: cannot read policy: {exc}") from exc
        rules = dict(self.rules)
        for category, values in data.get("categories", {}).items():
            if category not in rules:
                raise PolicyError(f"{path}: unknown category {category!r} (known: {', '.join(rules)})")
            unknown = set(values) - {"review", "reject", "enabled", "review_by_basis"}
            if unknown:
                raise PolicyError(f"{path}: [{category}] has unknown keys {sorted(unknown)}")
            by_basis = values.pop("review_by_basis", None)
            if by_basis is not None and not isinstance(by_basis, dict):
                raise PolicyError(f"{path}: [{category}] review_by_basis must be a table such as {{comment = 0.4}}")
            rule = rules[category]
            if "review" in values or by_basis is not None:
                rule = rule.with_review(values.pop("review", rule.review), by_basis)
            rules[category] = replace(rule, **values)
        return Policy(rules)._checked(f"{path}: ")

    def with_thresholds(self, category: str, review: float | None = None, reject: float | None = None) -> Policy:
        """Per-run overrides (the CLI's --review/--reject flags)."""
        if category not in self.rules:
            raise PolicyError(f"unknown category {category!r}")
        rule = self.rules[category]
        new = replace(rule if review is None else rule.with_review(review),
                      reject=rule.reject if reject is None else reject)
        return Policy({**self.rules, category: new})._checked()

    def _checked(self, where: str = "") -> Policy:
        for category, rule in self.rules.items():
            reviews = {"review": rule.review, **{f"review ({b})": v for b, v in rule.review_by_basis.items()}}
            for name, value in {**reviews, "reject": rule.reject}.items():
                if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                          or not 0 <= value <= 1):
                    raise PolicyError(f"{where}{category}: {name} threshold {value} is not a probability in [0, 1]")
            for name, value in reviews.items():
                if value is not None and rule.reject is not None and value > rule.reject:
                    raise PolicyError(f"{where}{category}: {name} threshold {value} is above reject {rule.reject}")
        return self

    def decide(self, proba: pd.DataFrame, bases: dict[str, np.ndarray] | None = None
               ) -> tuple[np.ndarray, list[list[str]], list[list[str]]]:
        """Decisions, Coral-style reason codes and the categories that triggered, for each row of
        ``proba`` (one column per category; NaN where a category was not scored). ``bases``: per category,
        the basis each row was judged on (off-topic: "article" or "comment"), for ``review_by_basis``."""
        n = len(proba)
        level = np.zeros(n, dtype=int)
        triggered: list[list[str]] = [[] for _ in range(n)]
        for category, rule in self.rules.items():
            if not rule.enabled or category not in proba:
                continue
            p = proba[category].to_numpy(dtype=float)
            hit = np.where(p >= rule.review_thresholds((bases or {}).get(category), n), 1, 0)
            if rule.reject is not None:
                hit = np.where(p >= rule.reject, 2, hit)
            level = np.maximum(level, hit)
            for i in np.flatnonzero(hit):
                triggered[i].append(category)
        codes = [[REASON_CODES.get(c, c.upper()) for c in cats] for cats in triggered]
        return np.array(DECISIONS)[level], codes, triggered
