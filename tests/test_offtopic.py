"""The off-topic model: estimator conventions, basis, spam and duplicate signals, anchored reasons, bad input.

A tiny model is fitted on synthetic articles and comments in seconds; one test loads the shipped model.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from moderation import artifacts
from moderation.corpora import shared_dir
from moderation.offtopic import (
    CITING_WORDS,
    CUES,
    SPAM_HINTS,
    SPAM_PATTERNS,
    CopyCounts,
    OffTopicModel,
    cues,
    duplicate_hashes,
    duplicate_key,
    spam_signals,
)

REPO = Path(__file__).resolve().parents[1]


TOPICS = {
    "missiles": "NATO Russia missile shield interceptors Moscow Vershbow deterrent defense Alaska treaty Kremlin",
    "budget": "Ottawa budget deficit taxes Morneau spending pension surplus province economists tariffs",
    "hockey": "Leafs goalie playoffs Matthews overtime coach trade roster Stanley arena defenceman",
    "housing": "Vancouver condo mortgage rents landlords zoning developers prices tenants bylaw council",
}
FILLER = ["the", "this", "that", "I", "think", "really", "is", "are", "was", "of", "to", "in", "we", "should"]
CHATTER = ["lol thanks mate", "see you tomorrow", "haha same here", "good morning everyone", "thanks for sharing"]
AD = "Cheap watches and DISCOUNT bags at www.cheap-watches-deal.com, call 555-123-4567 now!"


def _sentence(rng: random.Random, words: list[str], n: int) -> str:
    return " ".join(rng.choice(words + FILLER) for _ in range(n)).capitalize() + "."


def _article(rng: random.Random, topic: str) -> str:
    words = TOPICS[topic].split()
    return f"{' '.join(words[:4])}\n\n" + "\n\n".join(_sentence(rng, words, 25) for _ in range(6))


def _corpus(seed: int = 0, n: int = 240) -> pd.DataFrame:
    """Comments under their article (on-topic), moved under another topic's (off-topic), chatter, and
    article-less rows."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        topic, other = rng.sample(sorted(TOPICS), 2)
        article = _article(rng, topic)
        on = _sentence(rng, TOPICS[topic].split(), 14)
        off = _sentence(rng, TOPICS[other].split(), 14)
        rows += [(on, article, 0.0, ""), (off, article, 1.0, "moved"), (rng.choice(CHATTER), article, 1.0, "")]
        rows += [(on, "", 0.0, ""), (rng.choice(CHATTER), None, 1.0 if i % 3 else 0.6, "")]
    return pd.DataFrame(rows, columns=["text", "article", "off_topic", "pair"])


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return _corpus()


@pytest.fixture(scope="module")
def model(data) -> OffTopicModel:
    return OffTopicModel(inner_folds=2).fit(data, data["off_topic"])


@pytest.fixture(scope="module")
def article() -> str:
    return _article(random.Random(99), "missiles")


def test_estimator_conventions(model, data):
    params = model.get_params()
    fresh = clone(model)
    assert fresh.get_params() == params
    assert not hasattr(fresh, "classes_")
    assert list(model.classes_) == [0, 1]
    proba = model.predict_proba(data.head(20))
    assert proba.shape == (20, 2)
    assert np.all((proba >= 0) & (proba <= 1)) and np.allclose(proba.sum(axis=1), 1)
    assert set(model.predict(data.head(20))) <= {0, 1}


def test_fit_returns_self_and_rejects_bad_labels(data):
    small = data.head(100)
    fitted = OffTopicModel(inner_folds=2)
    assert fitted.fit(small, small["off_topic"]) is fitted
    with pytest.raises(ValueError):
        OffTopicModel().fit(small, small["off_topic"] + 1)


def test_fit_needs_moved_pairs_and_known_pair_values(data):
    with pytest.raises(ValueError, match="moved"):
        OffTopicModel(inner_folds=2).fit(data.drop(columns="pair"), data["off_topic"])
    with pytest.raises(ValueError, match="pair"):
        OffTopicModel(inner_folds=2).fit(data.assign(pair="other"), data["off_topic"])


def test_the_same_comment_scores_higher_under_another_article(model, article):
    """The relevance question: a comment about missiles is off-topic under a hockey article, not under its own."""
    comment = "The Kremlin says the missile shield interceptors in Alaska break the treaty."
    hockey = _article(random.Random(5), "hockey")
    p = model.predict_proba(pd.DataFrame({"text": [comment, comment], "article": [article, hockey]}))[:, 1]
    assert p[1] > p[0] + 0.2


def test_basis_says_whether_an_article_was_used(model, article):
    frame = pd.DataFrame({"text": ["a comment"] * 5, "article": [article, "", "   ", None, np.nan]})
    assert list(model.basis(frame)) == ["article", "comment", "comment", "comment", "comment"]
    assert list(model.basis(pd.DataFrame({"text": ["no article column"]}))) == ["comment"]


def test_off_topic_comment_scores_above_a_relevant_one(model, article):
    frame = pd.DataFrame(
        {
            "text": ["Russia says the NATO missile shield and its interceptors threaten its deterrent.", AD],
            "article": [article, article],
        }
    )
    relevant, ad = model.predict_proba(frame)[:, 1]
    assert ad > relevant


def test_reasons_name_the_signal_and_point_into_the_comment(model, article):
    frame = pd.DataFrame({"text": [AD], "article": [article]})
    reasons = model.explain(frame, top=10)[0]
    signals = {reason["signal"] for reason in reasons}
    assert {"link", "phone", "no_overlap"} <= signals
    weights = [reason["weight"] for reason in reasons]
    assert weights == sorted(weights, reverse=True) and min(weights) > 0
    for reason in reasons:
        assert reason["category"] == "off_topic" and reason["message"]
        if reason["term"] is not None:
            assert AD[reason["start"] : reason["end"]] == reason["term"]
    assert len(model.explain(frame, top=2)[0]) == 2


def test_near_duplicates_across_the_batch(model, article):
    rant = "The media never tells you the TRUTH about what is really going on in this country"
    copies = [
        rant,
        rant.lower() + "!!",
        "the media never tells you the truth about what is really going on in this country.",
    ]
    frame = pd.DataFrame(
        {"text": [*copies, "Interceptors in Alaska change the NATO shield talks."], "article": article}
    )
    alone = model.predict_proba(pd.DataFrame({"text": [rant], "article": [article]}))[0, 1]
    proba = model.predict_proba(frame)[:, 1]
    assert np.all(proba[:3] > alone)
    duplicate = [r for r in model.explain(frame, top=10)[0] if r["signal"] == "duplicate"]
    assert duplicate and duplicate[0]["message"] == "same text as 2 other comments"
    assert duplicate_key(copies[0]) == duplicate_key(copies[1]) and duplicate_key("ok") is None


def test_copies_counted_elsewhere_give_the_same_score(model, article):
    """A Dask partition or a chunk scores with copies counted over the whole input (``CopyCounts``)."""
    texts = ["Buy cheap watches today at our shop", "buy CHEAP watches today at our shop!", "short", "",
             "Interceptors in Alaska change the NATO shield talks."]
    hashes = duplicate_hashes(texts)
    assert hashes[0] == hashes[1] and hashes[2] == hashes[3] == 0 and len(set(hashes.tolist())) == 3
    whole = CopyCounts.of(hashes)
    assert whole.others(hashes).tolist() == [1, 1, 0, 0, 0]
    assert CopyCounts.of(hashes[:0]).others(hashes).tolist() == [0] * 5
    frame = pd.DataFrame({"text": texts, "article": article})
    together = model.proba_from_batch(model.batch(frame))[:, 1]
    parts = [model.proba_from_batch(model.batch(frame.iloc[rows], whole.others(hashes[rows])))[:, 1]
             for rows in ([0, 2], [1, 3, 4])]
    assert np.allclose(np.concatenate(parts), together[[0, 2, 1, 3, 4]])
    assert model.proba_from_batch(model.batch(frame.iloc[[0]]))[0, 1] < together[0]


def test_bad_input_gets_a_score_and_a_basis(model, article):
    huge = (article + "\n\n") * (1_000_000 // len(article) + 1)
    frame = pd.DataFrame(
        {
            "text": ["", "   ", "A normal comment about missiles.", "Another comment", None],
            "article": [article, huge, huge, "", article],
        }
    )
    proba = model.predict_proba(frame)
    assert proba.shape == (5, 2) and np.all(np.isfinite(proba))
    assert list(model.basis(frame)) == ["article", "article", "article", "comment", "article"]
    assert len(model.explain(frame)) == 5
    empty = pd.DataFrame({"text": [], "article": []})
    assert model.predict_proba(empty).shape == (0, 2) and model.explain(empty) == []


@settings(max_examples=25, deadline=None)
@given(text=st.text(max_size=200), article=st.one_of(st.none(), st.text(max_size=300)))
def test_any_text_gets_a_probability_and_anchored_reasons(model, text, article):
    frame = pd.DataFrame({"text": [text], "article": [article]})
    p = model.predict_proba(frame)[0, 1]
    assert 0 <= p <= 1 and not math.isnan(p)
    for reason in model.explain(frame, top=10)[0]:
        if reason["term"] is not None:
            assert text[reason["start"] : reason["end"]] == reason["term"]


def test_shipped_model_ranks_spam_above_a_relevant_comment():
    artifact = artifacts.load(REPO / "models" / "offtopic.joblib")
    assert artifact.card["name"] == "offtopic" and artifact.card["thresholds"]["off_topic"]["reject"] is None
    seed = (shared_dir() / "seeds" / "000_0c366c8258e706d3.txt").read_text(encoding="utf-8")
    frame = pd.DataFrame(
        {
            "text": [
                "Moving interceptors to Alaska instead of Europe should ease Russia's worries about the shield.",
                "Earn $500 a day working from home!!! Visit www.easy-cash-now.biz or call 1-800-555-0199",
            ],
            "article": [seed, seed],
        }
    )
    relevant, spam = artifact.estimator.predict_proba(frame)[:, 1]
    assert spam > relevant
    assert spam >= artifact.card["thresholds"]["off_topic"]["review"] > relevant


def test_dialogue_cues_mark_talk_to_people_not_an_answer():
    found = dict(zip(CUES, cues(["Hi Tom, thanks for the replies :) did you ever get yours?"])[0], strict=True))
    assert all(found[name] for name in ("thanks", "question", "second_person", "greeting", "laughter"))
    assert not cues(["The NOC depends on the sponsor; most companies allow a transfer after two years."]).any()


def test_a_lone_link_or_promotional_word_in_a_long_comment_is_no_spam():
    argument = " ".join(["the figures in the report show the deficit grew"] * (CITING_WORDS // 9 + 1))
    link, promo = "see www.statcan.gc.ca", "cheap oil"
    texts = [f"{link} {argument}", f"{promo} {argument}", f"{link} {promo} {argument}", link, promo, AD]
    signals = dict(zip([*SPAM_PATTERNS, "duplicate"], spam_signals(texts).T, strict=True))
    assert signals["link"].tolist()[:4] == [0, 0, math.log(2), math.log(2)]
    assert signals["promo"].tolist()[:3] == [0, 0, math.log(2)] and signals["promo"][4] > 0
    assert all(signals[name][5] > 0 for name in ("link", "phone", "promo"))


@settings(max_examples=300)
@given(st.text(alphabet=st.sampled_from("aWw.:/cOmnEt@1234567890 -()+$\u0131\u212a"), max_size=40)
       | st.text(max_size=60))
def test_spam_hints_hold_wherever_their_pattern_matches(text):
    for name, pattern in SPAM_PATTERNS.items():
        assert SPAM_HINTS[name](text) or not pattern.search(text), name
