"""The off-topic model against three plain baselines, by grouped cross-validation, and its throughput.

    python benchmarks/offtopic.py [--folds 5] [--model models/offtopic.joblib] [--rows 3000] [--ablation]

1. Ranking: out-of-fold p_off_topic of ``OffTopicModel`` (fitted as ``train_offtopic`` does, folds keeping a
   block of C3 articles, SemEval questions or Dragnet sites together, moved pairs inside their block) next to
   1 - TF-IDF cosine(comment, article), a comment-only TF-IDF logistic regression, and their stack (a logistic
   regression on both), the last two fitted per corpus, all refitted in every fold: ROC AUC per evaluation,
   moved pairs included, and ours minus the best baseline.
2. The review threshold of each basis those out-of-fold scores give, with precision, recall and share sent to
   review per evaluation, and on C3 against the comments most annotators called not relevant.
3. With ``--ablation``: the same ranking for the model without each change (moved pairs in training, the
   character n-gram cosine, the topic-space cosine).
4. The moved-pairs check of the shipped model (``--model``): SemEval's Good answers under their own question and
   under the question half the rows away (``np.roll``), against the TF-IDF cosine.
5. Throughput of ``predict_proba`` of the shipped model on ``--rows`` comments with their articles (SemEval and
   Dragnet rows, sampled with replacement), then on the same comments alone.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import roc_auc_score

from moderation import artifacts
from moderation.corpora.offtopic import EVALUATIONS, load_all
from moderation.offtopic import (
    OffTopicModel,
    auc_table,
    basis_thresholds,
    cosine_baseline,
    grouped_scores,
)

ABLATIONS = {
    "without moved SemEval pairs in training": ({}, ("moved",)),
    "without the character n-gram cosine": ({"drop_features": ("cos_char",)}, ()),
    "without the topic-space (LSA) cosine": ({"drop_features": ("cos_topics",)}, ()),
    "without both new cosines": ({"drop_features": ("cos_char", "cos_topics")}, ()),
}


def ranking(data: pd.DataFrame, folds: int) -> pd.DataFrame:
    started = time.perf_counter()
    scores = grouped_scores(OffTopicModel(), data, folds)
    table = pd.DataFrame(auc_table(data, scores, EVALUATIONS)).T
    print(f"\n## ROC AUC of p_off_topic, GroupKFold({folds}) ({time.perf_counter() - started:.0f} s)\n")
    print(table.to_string())
    return scores


def thresholds(data: pd.DataFrame, scores: pd.DataFrame) -> None:
    chosen, report = basis_thresholds(data, scores["ours"].to_numpy())
    print(f"\n## Review thresholds per basis from the out-of-fold scores: {chosen}\n")
    print(pd.DataFrame(report).T.to_string())


def ablation(data: pd.DataFrame, folds: int, full: pd.DataFrame) -> None:
    print(f"\n## Ablation: ROC AUC of ours without each change, GroupKFold({folds})\n")
    columns = {"all changes": full["ours"]}
    for name, (params, untrained) in ABLATIONS.items():
        started = time.perf_counter()
        scores = grouped_scores(OffTopicModel(**params), data, folds, baselines=False, untrained=untrained)
        columns[name] = scores["ours"]
        print(f"{name}: {time.perf_counter() - started:.0f} s")
    table = {name: {row: figures["ours"] for row, figures in auc_table(data, ours.to_frame(), EVALUATIONS).items()}
             for name, ours in columns.items()}
    print(pd.DataFrame(table).to_string())


def moved_check(model_path: str) -> None:
    """The issue's check on the shipped model (trained on these answers: an in-sample figure for ours)."""
    data = next(c.frame for c in load_all() if c.name == "semeval")
    good = data[data["kind"] == "Good"].reset_index(drop=True)
    moved = good.assign(article=np.roll(good["article"].to_numpy(), len(good) // 2))
    both = pd.concat([good, moved], ignore_index=True)[["text", "article"]]
    truth = np.r_[np.zeros(len(good)), np.ones(len(moved))]
    artifact = artifacts.load(model_path)
    # Each half is its own batch: within one, every answer would count as a near-duplicate of its copy.
    p_off_topic = [artifact.estimator.predict_proba(half)[:, 1] for half in (good, moved)]
    ours = roc_auc_score(truth, np.concatenate(p_off_topic))
    cosine = roc_auc_score(truth, cosine_baseline(both, both))
    print(f"\n## Moved-pairs check, {artifact.card['version']}: {len(good)} Good answers, own vs rolled question\n")
    print(f"ours {ours:.3f} (in-sample: trained on these answers), TF-IDF cosine {cosine:.3f}")


def throughput(data: pd.DataFrame, model_path: str, rows: int) -> None:
    artifact = artifacts.load(model_path)
    pairs = data[data["article"] != ""].sample(rows, replace=True, random_state=0)[["text", "article"]]
    print(f"\n## Throughput of predict_proba, {artifact.card['version']}, {rows} comments\n")
    for label, frame in (("with articles", pairs), ("comment only", pairs[["text"]])):
        started = time.perf_counter()
        artifact.estimator.predict_proba(frame)
        seconds = time.perf_counter() - started
        distinct = frame["article"].nunique() if "article" in frame else 0
        print(f"{label:14s} {rows / seconds:8.0f} comments/s  ({distinct} distinct articles)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--model", default="models/offtopic.joblib")
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--ablation", action="store_true", help="also cross-validate the model without each change")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, scikit-learn {sklearn.__version__}")
    data = pd.concat([corpus.frame for corpus in load_all()], ignore_index=True)
    print(data.groupby(["corpus", "kind"]).size().to_string())
    scores = ranking(data, args.folds)
    thresholds(data, scores)
    if args.ablation:
        ablation(data, args.folds, scores)
    moved_check(args.model)
    throughput(data, args.model, args.rows)


if __name__ == "__main__":
    main()
