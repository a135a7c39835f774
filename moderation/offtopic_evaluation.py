"""Measuring the off-topic model: grouped cross-validation against what a site would use instead.

Three baselines, refitted in every fold on the same rows: 1 - TF-IDF cosine(comment, article); a TF-IDF
logistic regression on the comment alone, fitted per corpus; and the two stacked (a logistic regression on
[cosine, comment-only logit], fitted per corpus on inner out-of-fold logits). Then the review thresholds,
one per basis, chosen on the out-of-fold scores for the same precision.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline

from moderation.offtopic import OffTopicModel, column, expand

SCORES = ["ours", "cosine", "comment_lr", "stacked"]
BASELINES = SCORES[1:]


def cosine_baseline(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """1 - TF-IDF cosine between comment and article (1 without an article)."""
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(
        column(train, "text") + sorted(set(column(train, "article")) - {""})
    )
    similarity = vectorizer.transform(column(test, "text")).multiply(vectorizer.transform(column(test, "article")))
    return 1.0 - np.asarray(similarity.sum(axis=1)).ravel()


def _comment_lr(train: pd.DataFrame):
    """A plain TF-IDF logistic regression on the comment alone, fractional labels split by ``expand``.

    Fitted on the comments as labelled, not on moved pairs (the same text under another article says
    nothing about the text), as a site would fit it on its own labels."""
    train = train[~train["kind"].str.startswith("moved:")]
    rows, labels, weights = expand(train["off_topic"].to_numpy(float), np.ones(len(train)))
    if len(np.unique(labels)) < 2:
        return None
    model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000))
    return model.fit(train["text"].iloc[rows], labels, logisticregression__sample_weight=weights)


def _per_corpus(train: pd.DataFrame, test: pd.DataFrame, score) -> np.ndarray:
    """``score(own_train, own_test)`` for each corpus of ``test``, fitted on that corpus's training rows."""
    out = np.zeros(len(test))
    for corpus in test["corpus"].unique():
        at = np.flatnonzero(test["corpus"].to_numpy() == corpus)
        out[at] = score(train[train["corpus"] == corpus], test.iloc[at])
    return out


def comment_only_baseline(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """Comment-only TF-IDF LR logits, fitted per corpus (the stronger variant)."""

    def score(own: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
        model = _comment_lr(own)
        return np.zeros(len(rows)) if model is None else model.decision_function(rows["text"])

    return _per_corpus(train, test, score)


def stacked_baseline(train: pd.DataFrame, test: pd.DataFrame, folds: int = 3) -> np.ndarray:
    """A logistic regression on [cosine, comment-only logit], per corpus, fitted on inner out-of-fold logits."""

    def score(own: pd.DataFrame, rows: pd.DataFrame) -> np.ndarray:
        inner = np.zeros(len(own))
        for fit, held in GroupKFold(min(folds, own["group"].nunique())).split(own, groups=own["group"]):
            model = _comment_lr(own.iloc[fit])
            inner[held] = 0.0 if model is None else model.decision_function(own["text"].iloc[held])
        stack = np.column_stack([cosine_baseline(own, own), inner])
        rows_, labels, weights = expand(own["off_topic"].to_numpy(float), np.ones(len(own)))
        final = _comment_lr(own)
        test_stack = np.column_stack([
            cosine_baseline(own, rows),
            np.zeros(len(rows)) if final is None else final.decision_function(rows["text"]),
        ])
        if len(np.unique(labels)) < 2:
            return np.zeros(len(rows))
        combiner = LogisticRegression().fit(stack[rows_], labels, sample_weight=weights)
        return combiner.decision_function(test_stack)

    return _per_corpus(train, test, score)


def corpus_weights(data: pd.DataFrame) -> np.ndarray:
    """Sample weights giving every corpus the same total weight, so the small ones are not drowned."""
    sizes = data["corpus"].map(data["corpus"].value_counts()).to_numpy(float)
    return len(data) / (data["corpus"].nunique() * sizes)


def fold_fits(model: OffTopicModel, data: pd.DataFrame, folds: int = 5):
    """Per grouped fold: a clone of ``model`` fitted on the other folds (each corpus weighing the same, inner
    folds by group), with the positions of the training rows and of the fold's rows."""
    weights = corpus_weights(data)
    for train, test in GroupKFold(folds).split(data, groups=data["group"]):
        fitted = clone(model).fit(data.iloc[train], data["off_topic"].iloc[train], sample_weight=weights[train],
                                  groups=data["group"].iloc[train])
        yield fitted, train, test


def grouped_scores(
    model: OffTopicModel, data: pd.DataFrame, folds: int = 5, baselines: bool = True
) -> pd.DataFrame:
    """Out-of-fold off-topic scores of ``model`` (and the baselines), folds keeping each ``group`` together."""
    scores = pd.DataFrame(0.0, index=data.index, columns=SCORES if baselines else SCORES[:1])
    for fitted, train, test in fold_fits(model, data, folds):
        scores.iloc[test, 0] = fitted.predict_proba(data.iloc[test])[:, 1]
        if baselines:
            for at, baseline in enumerate((cosine_baseline, comment_only_baseline, stacked_baseline), start=1):
                scores.iloc[test, at] = baseline(data.iloc[train], data.iloc[test])
    return scores


def _evaluation_rows(data: pd.DataFrame, evaluation) -> tuple[np.ndarray, np.ndarray]:
    """Which rows an evaluation reads (a mask), and which of those are off-topic."""
    kind = data["kind"]
    mask = ((data["corpus"] == evaluation.corpus) & kind.isin(evaluation.positive + evaluation.negative)).to_numpy()
    return mask, kind[mask].isin(evaluation.positive).to_numpy()


def auc_table(data: pd.DataFrame, scores: pd.DataFrame, evaluations: dict) -> dict[str, dict[str, float]]:
    """ROC AUC of each score column for each evaluation, with ours minus the best baseline."""
    table = {}
    for name, evaluation in evaluations.items():
        mask, truth = _evaluation_rows(data, evaluation)
        row = {column_: round(float(roc_auc_score(truth, scores[column_].to_numpy()[mask])), 4) for column_ in scores}
        row.update(n=int(mask.sum()), positives=int(truth.sum()))
        baselines = [row[b] for b in BASELINES if b in row]
        if baselines:
            row["ours - best baseline"] = round(row["ours"] - max(baselines), 4)
        table[name] = row
    return table


def evaluation_parts(
    data: pd.DataFrame, scores: np.ndarray, evaluations: dict
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Per evaluation: its name, which of its rows are off-topic, and their scores."""
    parts = []
    for name, evaluation in evaluations.items():
        mask, truth = _evaluation_rows(data, evaluation)
        parts.append((name, truth, scores[mask]))
    return parts


def threshold_report(parts, threshold: float) -> dict[str, dict[str, float]]:
    """Per evaluation: precision, recall and share of comments sent to review at ``threshold``."""
    report = {}
    for name, truth, score in parts:
        flagged = score >= threshold
        report[name] = {
            "precision": round(float(truth[flagged].mean()), 3) if flagged.any() else None,
            "recall": round(float(flagged[truth].mean()), 3),
            "sent_to_review": round(float(flagged.mean()), 3),
            "off_topic_share": round(float(truth.mean()), 3),
        }
    return report


def review_threshold(
    data: pd.DataFrame, scores: np.ndarray, evaluations: dict, precision: float = 0.7
) -> tuple[float, dict[str, dict[str, float]]]:
    """The lowest probability at which at least ``precision`` of the comments sent to review are off-topic,
    0.5 ("more likely off-topic than not") where no threshold reaches it.

    Measured on out-of-fold ``scores`` over the ``evaluations``, each weighing the same in total so that no
    corpus decides alone. Returns the threshold and, per evaluation, the precision, recall and share of
    comments sent to review at it.
    """
    parts = evaluation_parts(data, scores, evaluations)
    truth = np.concatenate([t for _, t, _ in parts])
    p = np.concatenate([s for _, _, s in parts])
    weight = np.concatenate([np.full(len(t), 1.0 / len(t)) for _, t, _ in parts])
    threshold = 0.5
    for candidate in np.round(np.arange(0.05, 0.96, 0.01), 2):
        flagged = p >= candidate
        if flagged.any() and (weight * truth * flagged).sum() / (weight * flagged).sum() >= precision:
            threshold = float(candidate)
            break
    return threshold, threshold_report(parts, threshold)
