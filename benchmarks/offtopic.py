"""The off-topic model against two plain baselines, by grouped cross-validation, and its throughput.

    python benchmarks/offtopic.py [--folds 5] [--model models/offtopic.joblib] [--rows 3000]

1. Ranking: out-of-fold p_off_topic of ``OffTopicModel`` (fitted as ``train_offtopic`` does, folds keeping a
   C3 article, a SemEval question or a Dragnet site together) next to 1 - TF-IDF cosine(comment, article) and
   a comment-only TF-IDF logistic regression fitted per corpus, both refitted in every fold: ROC AUC per
   evaluation and the ratios ours/baseline.
2. The review threshold those out-of-fold scores give, with precision, recall and share sent to review.
3. Throughput of ``predict_proba`` of the shipped model (``--model``) on ``--rows`` comments with their
   articles (SemEval and Dragnet rows, sampled with replacement), then on the same comments alone.
"""

from __future__ import annotations

import argparse
import platform
import time

import pandas as pd
import sklearn

from moderation import artifacts
from moderation.corpora.offtopic import EVALUATIONS, THRESHOLD_EVALUATIONS, load_all
from moderation.offtopic import OffTopicModel, auc_table, grouped_scores, review_threshold


def ranking(data: pd.DataFrame, folds: int) -> pd.DataFrame:
    started = time.perf_counter()
    scores = grouped_scores(OffTopicModel(), data, folds)
    table = pd.DataFrame(auc_table(data, scores, EVALUATIONS)).T
    print(f"\n## ROC AUC of p_off_topic, GroupKFold({folds}) ({time.perf_counter() - started:.0f} s)\n")
    print(table[["n", "positives", "ours", "cosine", "comment_lr", "ours/cosine", "ours/comment_lr"]].to_string())
    return scores


def threshold(data: pd.DataFrame, scores: pd.DataFrame) -> None:
    review, report = review_threshold(data, scores["ours"].to_numpy(), THRESHOLD_EVALUATIONS)
    print(f"\n## Review threshold from the out-of-fold scores: p_off_topic >= {review}\n")
    print(pd.DataFrame(report).T.to_string())


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
    args = parser.parse_args()
    print(f"python {platform.python_version()}, scikit-learn {sklearn.__version__}")
    data = pd.concat([corpus.frame for corpus in load_all()], ignore_index=True)
    print(data.groupby("corpus").size().to_string())
    scores = ranking(data, args.folds)
    threshold(data, scores)
    throughput(data, args.model, args.rows)


if __name__ == "__main__":
    main()
