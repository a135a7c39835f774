"""Active learning: which comments should moderators label next so a retrained model learns most from them.

Strategies (each gives every comment a ``sample_score``; the highest ``n`` are picked):

- ``uncertain``: the model cannot decide. Score = minus the distance, in log-odds, from p_abusive (and
  p_off_topic when that model is loaded) to the nearest threshold that changes the decision (the policy's
  review and reject thresholds) or to 0.5. A label right at a decision boundary moves the boundary.
- ``disagreement``: the model contradicts itself. Every category implies abusive, so a category head far
  more sure than the abusive head (p_insult 0.8, p_abusive 0.2) is a contradiction one label settles for
  several heads at once. Score = the largest (p_category - p_abusive) over the categories.
- ``random``: a uniform sample; the unbiased baseline, and what ``moderation evaluate`` figures should be
  measured on, since the other two pick the hardest comments on purpose.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moderation.labels import LABELS

STRATEGIES = ("uncertain", "disagreement", "random")
EPS = 1e-4


def _logit(p) -> np.ndarray:
    p = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    return np.log(p / (1 - p))


def uncertainty(scored: pd.DataFrame, thresholds: dict[str, dict]) -> np.ndarray:
    """Minus the log-odds distance to the nearest decision threshold (or 0.5) of abusive / off_topic."""
    distance = np.full(len(scored), np.inf)
    for label in ("abusive", "off_topic"):
        if f"p_{label}" not in scored:
            continue
        cuts = [0.5] + [t for t in thresholds.get(label, {}).values() if t is not None]
        p = _logit(scored[f"p_{label}"])
        for cut in cuts:
            distance = np.minimum(distance, np.abs(p - _logit(cut)))
    return -distance


def disagreement(scored: pd.DataFrame) -> np.ndarray:
    """How much more sure some category head is than the abusive head (0 when none is)."""
    categories = [c for c in scored if c.startswith("p_") and c not in ("p_abusive", "p_off_topic")]
    if not categories:
        return np.zeros(len(scored))
    gap = scored[categories].to_numpy(float) - scored[["p_abusive"]].to_numpy(float)
    return np.clip(gap.max(axis=1), 0, None)


def pick(scored: pd.DataFrame, n: int, strategy: str, thresholds: dict[str, dict], seed: int = 0) -> pd.DataFrame:
    """The ``n`` rows of ``scored`` (a ``Moderator.score`` output) the strategy ranks first, with their score."""
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, not {strategy!r}")
    rng = np.random.default_rng(seed)
    score = {"uncertain": lambda: uncertainty(scored, thresholds), "disagreement": lambda: disagreement(scored),
             "random": lambda: rng.random(len(scored))}[strategy]()
    order = np.lexsort((rng.random(len(scored)), -score))[:n]  # ties broken at random, reproducibly
    return scored.iloc[order].assign(sample_score=np.round(score[order], 4))


def to_label(frame: pd.DataFrame, picked: pd.DataFrame, labels: list[str], strategy: str) -> pd.DataFrame:
    """A file ready for moderators: id, text (and article), empty label columns, the model's current view."""
    rows = frame.set_index(frame["id"].astype(str)).loc[picked["id"]]
    out = pd.DataFrame({"id": picked["id"].to_numpy(), "text": rows["text"].to_numpy()})
    if "article" in rows and rows["article"].notna().any():
        out["article"] = rows["article"].to_numpy()
    for label in labels:
        out[label] = ""
    reference = [c for c in picked if c.startswith("p_")] + ["decision", "sample_score"]
    return out.assign(**{c: picked[c].to_numpy() for c in reference}, sample_strategy=strategy)


def sample(data, n: int = 200, strategy: str = "uncertain", moderator=None, seed: int = 0) -> pd.DataFrame:
    """Pick ``n`` comments of ``data`` (texts or a DataFrame with ``text``) worth labelling, as a to-label table.

    ``moderator``: the model whose uncertainty counts (the current one when None).
    """
    from moderation.scoring import _frame, load

    moderator = moderator or load()
    frame = _frame(data)
    frame["id"] = frame["id"].astype(str)
    if frame["id"].duplicated().any():
        raise ValueError("ids must be unique to hand a sample back for labelling")
    scored = moderator.score(frame, reasons="none")
    thresholds = moderator.policy.thresholds()
    picked = pick(scored, n, strategy, thresholds, seed)
    return to_label(frame, picked, [c for c in LABELS if c in moderator.categories], strategy)


def read_comments(paths: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Comments (``id``, ``text``, ``article``) of CSV/JSON Lines/page files, and the rows that could not be read."""
    from moderation.rows import read_rows

    records, errors = [], []
    for path in paths:
        for row in read_rows(path):
            if row.error is None and row.text.strip():
                article = row.extra.get("article")
                records.append({"id": f"{row.id}" if len(paths) == 1 else f"{row.source}:{row.id}", "text": row.text,
                                "article": article if isinstance(article, str) else None})
            else:
                errors.append(row.error or f"{row.source}:{row.line}: empty text")
    return pd.DataFrame(records, columns=["id", "text", "article"]), errors
