"""The off-topic model against three baselines, by grouped cross-validation, and its throughput.

    python benchmarks/offtopic.py [--folds 5] [--model models/offtopic.joblib] [--rows 3000]

1. Ranking: out-of-fold p_off_topic of ``OffTopicModel`` (fitted as ``train_offtopic`` does, folds keeping a
   C3 article, a block of SemEval questions or a block of Dragnet sites together, moved pairs inside their
   block) next to 1 - TF-IDF cosine(comment, article), a comment-only TF-IDF logistic regression fitted per
   corpus, and the two stacked, all refitted in every fold: ROC AUC per evaluation, moved pairs included,
   and ours minus the best baseline.
2. Ablation: the same folds with the content question alone, the relevance question alone, and without the
   character-n-gram similarity.
3. The review thresholds those out-of-fold scores give, per basis, with precision, recall and share sent to
   review, and what lower thresholds would cost on comments judged without an article.
4. Throughput of ``predict_proba`` of the shipped model (``--model``) on ``--rows`` comments with their
   articles (SemEval and Dragnet rows, sampled with replacement), then on the same comments alone.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import pandas as pd
import sklearn

from moderation import artifacts
from moderation.corpora.offtopic import EVALUATIONS, THRESHOLD_EVALUATIONS, load_all
from moderation.offtopic import OffTopicModel
from moderation.offtopic_evaluation import (
    BASELINES,
    auc_table,
    evaluation_parts,
    fold_fits,
    grouped_scores,
    review_threshold,
    threshold_report,
)
from moderation.train import OFFTOPIC_REVIEW_PRECISION


def ranking(data: pd.DataFrame, folds: int) -> pd.DataFrame:
    started = time.perf_counter()
    scores = grouped_scores(OffTopicModel(), data, folds)
    table = pd.DataFrame(auc_table(data, scores, EVALUATIONS)).T
    print(f"\n## ROC AUC of p_off_topic, GroupKFold({folds}) ({time.perf_counter() - started:.0f} s)\n")
    print(table[["n", "positives", "ours", *BASELINES, "ours - best baseline"]].to_string())
    return scores


def ablation(data: pd.DataFrame, folds: int, scores: pd.DataFrame) -> None:
    """Each question alone (from the same fitted folds), and the model without the character similarity."""
    started = time.perf_counter()
    parts = pd.DataFrame(0.0, index=data.index, columns=["content question alone", "relevance question alone"])
    for model, _, test in fold_fits(OffTopicModel(), data, folds):
        batch = model.batch(data.iloc[test])
        spam = batch.spam @ model._signal_weights()
        parts.iloc[test, 0] = model.content_logits(batch) + spam
        parts.iloc[test, 1] = np.maximum(model.relevance_logits(batch), -50.0) + spam
    # A vocabulary of one n-gram makes the character cosine constant: the regression cannot use it.
    parts["without character similarity"] = grouped_scores(OffTopicModel(char_max_features=1), data, folds,
                                                            baselines=False)["ours"]
    columns = {"shipped design": scores["ours"], **parts}
    table = {name: {k: row["ours"] for k, row in auc_table(data, pd.DataFrame({"ours": column}), EVALUATIONS).items()}
             for name, column in columns.items()}
    print(f"\n## Ablation: ROC AUC on the same folds ({time.perf_counter() - started:.0f} s)\n")
    print(pd.DataFrame(table).to_string())


def thresholds(data: pd.DataFrame, scores: pd.DataFrame) -> None:
    """Each basis's threshold as training picks it, then what lower comment-basis thresholds would cost on C3."""
    oof = scores["ours"].to_numpy()
    chosen = {basis: review_threshold(data, oof, THRESHOLD_EVALUATIONS[basis], OFFTOPIC_REVIEW_PRECISION)
              for basis in ("article", "comment")}
    print("\n## Review thresholds from the out-of-fold scores: "
          + ", ".join(f"{basis} {threshold}" for basis, (threshold, _) in chosen.items()) + "\n")
    print(pd.DataFrame({name: row for _, report in chosen.values() for name, row in report.items()}).T.to_string())
    print("\n## Judged without an article (C3), at other comment thresholds\n")
    c3 = {**THRESHOLD_EVALUATIONS["comment"], "c3 >=2 votes": EVALUATIONS["c3 >=2 non_relevant votes vs fewer"]}
    parts = evaluation_parts(data, oof, c3)
    rows = {(threshold, name): row for threshold in (0.15, 0.18, 0.2, 0.25, 0.3, 0.4, 0.5)
            for name, row in threshold_report(parts, threshold).items()}
    print(pd.DataFrame(rows).T.to_string())


def throughput(data: pd.DataFrame, model_path: str, rows: int) -> None:
    artifact = artifacts.load(model_path)
    pairs = data[(data["article"] != "") & (data["pair"] != "moved")]
    pairs = pairs.sample(rows, replace=True, random_state=0)[["text", "article"]]
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
    parser.add_argument("--no-ablation", action="store_true", help="skip the ablation (3 more cross-validations)")
    args = parser.parse_args()
    print(f"python {platform.python_version()}, scikit-learn {sklearn.__version__}, numpy {np.__version__}")
    data = pd.concat([corpus.frame for corpus in load_all()], ignore_index=True)
    print(data.groupby(["corpus", "pair"]).size().to_string())
    scores = ranking(data, args.folds)
    if not args.no_ablation:
        ablation(data, args.folds, scores)
    thresholds(data, scores)
    throughput(data, args.model, args.rows)


if __name__ == "__main__":
    main()
