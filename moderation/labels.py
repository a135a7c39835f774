"""A site's own labels: moderators' decisions as a validated table, every bad row named by file and line.

Format (CSV or JSON Lines, one comment per row): ``text``; one or more label columns (``abusive``, the
categories ``toxic insult obscene hate threat``, ``off_topic``) holding 0/1, true/false or yes/no, empty when
the moderator did not say; optional ``id``, ``article`` (its text), ``article_id``, ``source``, ``labeled_at``
(ISO date). Other columns (e.g. the ``p_*`` reference scores ``moderation sample`` writes) are ignored.

Every category implies ``abusive``: a row marking ``insult`` 1 with ``abusive`` empty counts as abusive, and one
marking it 1 with ``abusive`` 0 contradicts itself and is reported. A later verdict on the same comment (same
``id``, same text) supersedes the earlier ones: a moderator who reverses a decision, or Coral resending its
feedback, must not leave two contradicting rows (``latest_verdicts``); a row marked ``undone`` 1 (the review
desk's undo) withdraws the verdict before it on the same comment. Rows repeating a text with the same labels
are merged into the first (its ``duplicates`` column names the others); with different labels under different
ids all of them are reported, since no rule can say which moderator was right.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from moderation.corpora.abuse import CATEGORIES
from moderation.rows import InputError, InputRow, read_rows

LABELS = (*CATEGORIES, "off_topic")
META = ("id", "article", "article_id", "source", "labeled_at")
TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})
FALSE = frozenset({"0", "0.0", "false", "no", "n", "f"})
COLUMNS = ["text", *LABELS, *META, "file", "line", "duplicates"]


@dataclass(frozen=True)
class LabelProblem:
    """One row that cannot be used as it is, and why."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


def parse_label(value) -> float | None:
    """1.0, 0.0, NaN for "not said" (empty), or None when the value means nothing we know."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    if isinstance(value, bool):
        return float(value)
    text = str(value).strip().lower()
    if text == "":
        return np.nan
    return 1.0 if text in TRUE else 0.0 if text in FALSE else None


def _valid_date(value) -> bool:
    if value in (None, "") or isinstance(value, date):
        return True
    try:
        datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _record(row) -> tuple[dict, list[str]]:
    """One input row as a label record, and what is wrong with it."""
    record: dict = {"text": row.text, "file": row.source, "line": row.line, "id": row.id}
    errors = []
    if not (row.text or "").strip():
        errors.append("empty text")
    for name in LABELS:
        value = parse_label(row.extra.get(name))
        if value is None:
            errors.append(f"{name}: unknown value {row.extra[name]!r} (use 1/0, true/false, yes/no, or leave empty)")
        record[name] = np.nan if value is None else value
    implied = [c for c in CATEGORIES[1:] if record[c] == 1]
    if implied and record["abusive"] == 0:
        errors.append(f"abusive is 0 but {', '.join(implied)} is 1 (every category implies abusive)")
    elif implied:
        record["abusive"] = 1.0
    if not errors and all(np.isnan(record[name]) for name in LABELS):
        known = ", ".join(k for k in row.extra if k) or "none"
        errors.append(f"no label given (label columns: {', '.join(LABELS)}; this row's other columns: {known})")
    for name in META[1:]:
        value = row.extra.get(name)
        record[name] = None if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
    if not _valid_date(record["labeled_at"]):
        errors.append(f"labeled_at: {record['labeled_at']!r} is not an ISO date (e.g. 2024-05-31 or 2024-05-31T14:02Z)")
    return record, errors


def text_key(text: str) -> str:
    """Texts that differ only in case and spacing are the same comment."""
    return re.sub(r"\s+", " ", str(text)).strip().casefold()


def _timestamp(value) -> float:
    """``labeled_at`` as seconds since the epoch (a date without zone counts as UTC); -inf when not given."""
    if value is None or value == "" or (isinstance(value, float) and np.isnan(value)):
        return -np.inf
    when = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def latest_verdicts(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per comment (same ``id`` and text): the latest verdict, by ``labeled_at`` and then by reading
    order (later file, later line); the superseded rows' places go to its ``duplicates``.

    The same rule serves every source of verdicts (``moderation serve``'s suggestscore file, a review desk), so a
    decision reversed anywhere wins over the one it reverses.
    """
    keys = frame["id"].astype(str) + "\x00" + frame["text"].map(text_key)
    order = np.lexsort((np.arange(len(frame)), frame["labeled_at"].map(_timestamp).to_numpy(float)))
    where = frame["file"] + ":" + frame["line"].astype(str)
    winners = []
    for rows in keys.iloc[order].groupby(keys.iloc[order], sort=False).groups.values():
        winners.append(rows[-1])
        frame.at[rows[-1], "duplicates"] = [where[i] for i in rows[:-1]]
    return frame.loc[sorted(winners)].reset_index(drop=True)


def _merge_duplicates(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[LabelProblem]]:
    """Keep the first of each group of agreeing repeats; report every row of a group that disagrees."""
    keys = frame["text"].map(text_key)
    repeated = keys.duplicated(keep=False)
    problems, keep = [], list(frame.index[~repeated])
    where = frame["file"] + ":" + frame["line"].astype(str)
    for _, group in frame[repeated].groupby(keys[repeated], sort=False):
        labels = group[list(LABELS)]
        conflicting = [c for c in LABELS if labels[c].dropna().nunique() > 1]
        if conflicting:
            for i in group.index:
                others = ", ".join(where[j] for j in group.index if j != i)
                problems.append(LabelProblem(frame.at[i, "file"], int(frame.at[i, "line"]),
                                             f"same text as {others} but different {', '.join(conflicting)}"))
            continue
        first = group.index[0]
        frame.loc[first, list(LABELS)] = labels.bfill().iloc[0].to_numpy()
        frame.at[first, "duplicates"] = [d for j in group.index for d in frame.at[j, "duplicates"]] + [
            where[j] for j in group.index[1:]]
        keep.append(first)
    return frame.loc[sorted(keep)].reset_index(drop=True), problems


def without_undone(rows: Iterable[InputRow]) -> list[InputRow]:
    """The rows of one label file less each ``undone`` row and the verdict it withdraws (the one before it with
    the same id). Unreadable rows always stay, to be reported."""
    kept: list[InputRow] = []
    for row in rows:
        if row.error is None and parse_label(row.extra.get("undone")) == 1:
            earlier = [i for i, k in enumerate(kept) if k.error is None and k.id == row.id]
            if earlier:
                del kept[earlier[-1]]
        else:
            kept.append(row)
    return kept


def read_labels(paths: str | Path | list[str | Path]) -> tuple[pd.DataFrame, list[LabelProblem]]:
    """All usable label rows of ``paths`` (columns ``COLUMNS``) and every problem, by file and line.

    Rows with a problem are not in the frame; callers decide whether to stop (``train`` does unless told
    to skip them) or go on, and say which rows they left out.
    """
    paths = [paths] if isinstance(paths, str | Path) else list(paths)
    records, problems = [], []
    for path in paths:
        try:
            for row in without_undone(read_rows(str(path))):
                if row.error is not None:
                    problems.append(LabelProblem(row.source, row.line, row.error.split(": ", 1)[-1]))
                    continue
                record, errors = _record(row)
                problems.extend(LabelProblem(row.source, row.line, error) for error in errors)
                if not errors:
                    records.append(record)
        except InputError as exc:
            problems.append(LabelProblem(str(path), 0, str(exc).removeprefix(f"{path}: ")))
    frame = pd.DataFrame(records, columns=COLUMNS)
    frame["duplicates"] = [[] for _ in range(len(frame))]
    frame, conflicts = _merge_duplicates(latest_verdicts(frame))
    for name in LABELS:
        frame[name] = frame[name].astype(float)
    return frame, sorted(problems + conflicts, key=lambda p: (p.file, p.line))


def strata(frame: pd.DataFrame) -> pd.Series:
    """Each row's combination of ``abusive`` and ``off_topic`` (1, 0 or ? for not said): the held-back split
    keeps these proportions, so both classes of each appear in both parts."""
    def code(column: str) -> pd.Series:
        values = frame[column] if column in frame else pd.Series(np.nan, index=frame.index)
        return values.map({1.0: "1", 0.0: "0"}).fillna("?")

    return code("abusive") + code("off_topic")


def split_holdout(frame: pd.DataFrame, share: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified (train, held back) parts of a label table.

    Within each stratum the comments whose text hashes lowest are held back, so a comment falls on the same side
    in every run and every label file, however the files grow: a model retrained here has not seen the comments
    a later run holds back to compare it with.
    """
    order = frame["text"].map(lambda text: hashlib.sha256(text_key(text).encode()).hexdigest())
    held = np.zeros(len(frame), bool)
    for rows in strata(frame).groupby(strata(frame)).indices.values():
        ranked = rows[np.argsort(order.to_numpy()[rows], kind="stable")]
        held[ranked[:int(round(share * len(rows)))]] = True
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def site_weight(n_site: int, shared_weight: float, share: float, max_weight: float = np.inf) -> float:
    """The per-row weight that gives ``n_site`` site rows ``share`` of the total training weight, at most
    ``max_weight``.

    The site's labels are the target domain but are few; a share keeps them from vanishing among tens of
    thousands of corpus rows, the cap keeps a few hundred of them from being fitted by heart (a row weighing
    25 is one the regression bends to fit, which costs it elsewhere).
    """
    if not 0 < share < 1:
        raise ValueError(f"site share must be between 0 and 1, not {share}")
    return min(share * shared_weight / ((1 - share) * max(n_site, 1)), max_weight)
