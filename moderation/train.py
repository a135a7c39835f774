"""Training recipes for the shipped models: load corpora, fit, cross-validate, write the artifact and its card."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from moderation import artifacts
from moderation.abuse import AbuseModel
from moderation.corpora import file_record
from moderation.corpora.abuse import CATEGORIES, NEWS_CORPORA, Corpus, load_all, madlibs
from moderation.evaluate import bias_metrics, binary_metrics, decision_rates, pick_thresholds, reliability_table

# Weight of one row, by corpus: news comments (our users' domain) count fully; tweets and forum sentences,
# which are plentiful but unlike news comments, count less so they do not drown the target domain.
# Chosen by cross-validated ROC AUC per corpus (benchmarks/abuse.py prints it): raising the news corpora from 1
# to 2-3 lifted insults-2012 and c3 by about 0.01 each while costing davidson and stormfront a little.
CORPUS_WEIGHTS = {"insults-2012": 2.0, "c3": 3.0, "civil-comments": 0.5, "davidson": 0.2, "ethos": 1.0,
                  "stormfront": 0.5, "wikipedia": 1.0}
ABUSE_VERSION = "abuse-2026.11.1"


def abuse_training_table(corpora: list[Corpus]) -> tuple[pd.DataFrame, np.ndarray]:
    table = pd.concat([c.frame for c in corpora], ignore_index=True)
    table = table[table["text"].str.strip() != ""].reset_index(drop=True)
    weights = table["corpus"].map(CORPUS_WEIGHTS).fillna(1.0).to_numpy()
    return table, weights


def _oof_probabilities(model: AbuseModel, category: str) -> tuple[np.ndarray, np.ndarray]:
    rows, scores = model.oof_scores_[category]
    return rows, model.calibrators_[category].predict_proba(scores[:, None])[:, 1]


def abuse_card(model: AbuseModel, table: pd.DataFrame, corpora: list[Corpus], seconds: float) -> dict:
    """Cross-validated figures per category and corpus, thresholds and their reasoning, fairness."""
    metrics, calibration, thresholds, rates = {}, {}, {}, {}
    for category in model.classes_:
        rows, proba = _oof_probabilities(model, category)
        labels = table.loc[rows, category].to_numpy().astype(int)
        corpus = table.loc[rows, "corpus"].to_numpy()
        metrics[category] = {"all": binary_metrics(labels, proba)} | {
            name: binary_metrics(labels[corpus == name], proba[corpus == name]) for name in np.unique(corpus)}
        news = np.isin(corpus, NEWS_CORPORA)
        target = news if np.unique(labels[news]).size == 2 else np.ones_like(news)
        calibration[category] = reliability_table(labels[target], proba[target])
        rule = {} if category == "abusive" else {"review_at": 0.5}
        thresholds[category] = pick_thresholds(labels[target], proba[target], **rule)
        rates[category] = decision_rates(labels[target], proba[target], thresholds[category])
    fair = madlibs()
    fair_p = model.predict_proba(fair["text"])[:, list(model.classes_).index("abusive")]
    return {
        "name": "abuse",
        "version": ABUSE_VERSION,
        "labels": list(model.classes_),
        "model": "normalised text -> word 1-2-gram + char_wb 3-5-gram TF-IDF -> logistic regression per "
                 "category -> sigmoid calibration on out-of-fold scores",
        "params": model.get_params(),
        "training_data": [
            {"corpus": c.name, "rows": len(c.frame), "weight_per_row": CORPUS_WEIGHTS.get(c.name, 1.0),
             "labels": [cat for cat in CATEGORIES if c.frame[cat].notna().any()], "how": c.note,
             "files": [file_record(f) for f in c.files]} for c in corpora],
        "heads_fed_by": {cat: sorted(table.loc[table[cat].notna(), "corpus"].unique()) for cat in model.classes_},
        "evaluation": (f"{model.calibration_folds}-fold stratified cross-validation per head; TF-IDF vocabulary and "
                       "IDF fitted once on all texts (unsupervised), heads refitted per fold. Calibration, "
                       "thresholds and decision rates on the news-comment corpora (insults-2012, c3, "
                       "civil-comments) where a head has both classes there."),
        "metrics": metrics,
        "calibration": calibration,
        "thresholds": thresholds,
        "threshold_reasoning": ("reject: the lowest probability at which at least 95% of the comments rejected "
                                "carry the label (cross-validated, news comments; null where no threshold is that "
                                "precise, so the category never rejects on its own). abusive review: the highest "
                                "probability that still sends at least 95% of the abusive comments to review or "
                                "reject, so approve lets through at most 5% of them. Other categories' review: "
                                "0.5, so a category flags a comment when it is more likely than not (the "
                                "probabilities are calibrated)."),
        "decision_rates_at_thresholds": rates,
        "fairness": {"data": "abuse/conversationai-bias/bias_madlibs_77k.csv.gz (never trained on)",
                     "abusive_overall": binary_metrics(fair["label"], fair_p),
                     "per_identity_term": bias_metrics(fair["text"], fair["label"], fair_p)},
        "train_seconds": round(seconds, 1),
    }


def train_abuse(out: str | Path = "models/abuse.joblib", corpora: list[Corpus] | None = None,
                extra: pd.DataFrame | None = None, **params) -> dict:
    """Fit the abuse model on the shared corpora (plus ``extra`` labelled rows), write it with its card."""
    started = time.perf_counter()
    corpora = load_all() if corpora is None else corpora
    table, weights = abuse_training_table(corpora)
    if extra is not None:
        table = pd.concat([table, extra], ignore_index=True)
        weights = np.r_[weights, extra.get("weight", pd.Series(1.0, index=extra.index)).to_numpy()]
    model = AbuseModel(**params).fit(table["text"], table[list(CATEGORIES)], sample_weight=weights,
                                     calibrate_on=table["corpus"].isin(NEWS_CORPORA).to_numpy())
    card = abuse_card(model, table, corpora, time.perf_counter() - started)
    artifacts.save(model, out, card)
    started = time.perf_counter()
    artifacts.load(out)
    card = artifacts.read_card(out) | {"load_seconds": round(time.perf_counter() - started, 2)}
    artifacts.write_card(out, card)
    return card
