"""Rebuild ``labeled/example.csv`` from the shared C3 corpus (see labeled/README.md for what and why).

Run from the repository root: ``python labeled/make_example.py``. Deterministic (seed 0).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from moderation.corpora import dataset_path
from moderation.corpora.abuse import _vote_counts
from moderation.corpora.offtopic import non_relevant_votes

SOURCE = ("offtopic", "c3_constructive_comments", "C3_anonymized.train.csv.gz")
TAKE = {"abusive": 120, "off_topic": 80, "other": 200}


def c3_labels() -> pd.DataFrame:
    """Every C3 comment of the held-in half with its crowd labels mapped to our columns."""
    raw = pd.read_csv(dataset_path(*SOURCE))
    attack = _vote_counts(raw["toxicity_characteristics"]).get("personal_attack", 0)
    toxic = raw["crowd_toxicity_level"] >= 2
    insult = attack / raw["njudgements_toxicity_expt"].clip(lower=1) >= 0.5
    return pd.DataFrame({
        "id": raw["comment_counter"],
        "text": raw["comment_text"].fillna("").str.strip(),
        "abusive": (toxic | insult).astype(int),
        "toxic": toxic.astype(int),
        "insult": insult.astype(int),
        "off_topic": (non_relevant_votes(raw["non_constructive_characteristics"]) >= 2).astype(int),
        "article_id": raw["article_id"],
        "source": "c3-globe-and-mail",
    })


def example(seed: int = 0) -> pd.DataFrame:
    """A few hundred rows, richer in abusive and off-topic comments than the corpus so both classes of each
    label are well represented in a 25 % held-back part."""
    table = c3_labels()
    table = table[table["text"] != ""].drop_duplicates("text", keep=False)
    rng = np.random.default_rng(seed)
    chosen: list[int] = []
    for name, pool in (("abusive", table["abusive"] == 1), ("off_topic", table["off_topic"] == 1),
                       ("other", pd.Series(True, index=table.index))):
        candidates = table.index[pool & ~table.index.isin(chosen)]
        chosen += rng.choice(candidates, TAKE[name], replace=False).tolist()
    return table.loc[sorted(chosen)].reset_index(drop=True)


if __name__ == "__main__":
    frame = example()
    frame.to_csv("labeled/example.csv", index=False)
    print(len(frame), "rows;", frame[["abusive", "toxic", "insult", "off_topic"]].sum().to_dict())
