import numpy as np
import pytest

from moderation.evaluate import calibration_error, civil_flagged, decision_rates
from moderation.train import abuse_card


def test_calibration_error_weighs_each_bins_gap_by_its_size():
    """Three comments at 0.05, none abusive (gap 0.05), one at 0.95 that is (gap 0.05): 0.05; a confident miss
    in a bin of its own adds its whole gap, weighted by a quarter."""
    assert calibration_error([0, 0, 0, 1], [0.05, 0.05, 0.05, 0.95]) == pytest.approx(0.05)
    assert calibration_error([0, 0, 0, 0], [0.05, 0.05, 0.05, 0.95]) == pytest.approx(0.75 * 0.05 + 0.25 * 0.95)


def test_civil_flagged_counts_each_terms_civil_sentences_only():
    texts = ["Muslims are my neighbours", "I hate Muslims", "Gay people are nice", "Gay people are fine", "Hello"]
    flags = {"hate": np.array([True, True, False, False, True]), "any": np.array([True, True, True, False, True])}
    out = civil_flagged(texts, [0, 1, 0, 0, 0], flags, terms=("muslims", "gay", "jewish"))
    assert out == {"muslims": {"hate": 1.0, "any": 1.0}, "gay": {"hate": 0.0, "any": 0.5}}


def test_the_card_gives_each_corpus_its_own_decision_rates_at_the_pooled_thresholds(tiny_abuse, tiny_table):
    """The review threshold's promise is made on the news corpora pooled; the card shows what it does per corpus."""
    card = abuse_card(tiny_abuse, tiny_table, [], 0.0, fairness=False)
    rows, proba = tiny_abuse.oof_probabilities("abusive")
    labels = tiny_table.loc[rows, "abusive"].to_numpy().astype(int)
    corpus = tiny_table.loc[rows, "corpus"].to_numpy()
    per_corpus = card["decision_rates_per_corpus"]["abusive"]
    assert per_corpus
    for name, rates in per_corpus.items():
        mine = corpus == name
        assert rates == decision_rates(labels[mine], proba[mine], card["thresholds"]["abusive"])
