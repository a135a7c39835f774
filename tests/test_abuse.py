import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from sklearn.base import clone

from moderation.abuse import (
    GENERALIZED,
    SCOPES,
    WORD_TOKEN,
    AbuseModel,
    _layout,
    _space_table,
    generalize,
    generalized_tokens,
    marking_rates,
    normalize_all,
    unmarked_words,
)


def test_estimator_conventions(tiny_abuse):
    params = tiny_abuse.get_params()
    assert params["max_features"] == 5000
    fresh = clone(tiny_abuse)
    assert not hasattr(fresh, "heads_") and fresh.get_params() == params
    proba = tiny_abuse.predict_proba(["you are an idiot", "thanks for the article"])
    assert proba.shape == (2, len(tiny_abuse.classes_))
    assert ((proba >= 0) & (proba <= 1)).all()
    assert tiny_abuse.predict(["x"]).shape == (1, len(tiny_abuse.classes_))


def test_heads_train_only_on_rows_that_label_them(tiny_table, tiny_abuse):
    rows, _ = tiny_abuse.oof_scores_["insult"]
    assert len(rows) == tiny_table["insult"].notna().sum()
    rows, _ = tiny_abuse.oof_scores_["threat"]
    assert len(rows) == tiny_table["threat"].notna().sum() < len(tiny_table)


def test_one_string_is_refused_not_split_into_letters(tiny_abuse):
    with pytest.raises(TypeError, match="wrap it in a list"):
        tiny_abuse.predict_proba("you idiot")


def test_insults_rank_above_civil_comments(tiny_abuse):
    p = tiny_abuse.predict_proba(["you are a stupid idiot", "you are a st00pid 1d10t",
                                  "I agree with the mayor's plan for the bridge"])[:, 0]
    assert p[0] > p[2] and p[1] > p[2]


def test_reasons_point_at_the_words_in_the_original_text(tiny_abuse):
    texts = ["Well, you are a total 1d10t and a moron.", "Nice weather today."]
    features = tiny_abuse.transform_features(texts)
    reasons = tiny_abuse.explain(texts, features, [["abusive"], []])
    assert reasons[1] == []
    assert reasons[0], "an insult must have reasons"
    for reason in reasons[0]:
        assert texts[0][reason["start"]:reason["end"]] == reason["term"]
        assert reason["category"] == "abusive" and reason["weight"] > 0
    assert {"1d10t", "moron"} & {r["term"] for r in reasons[0]}


def test_empty_and_huge_texts(tiny_abuse):
    p = tiny_abuse.predict_proba(["", "   ", "word " * 200_000, None, np.nan])
    assert p.shape[0] == 5 and np.isfinite(p).all()


def test_fit_with_one_category_and_missing_labels():
    texts = ["you idiot", "nice post", "moron", "good point", "idiot moron", "thank you"] * 5
    labels = pd.DataFrame({"abusive": [1, 0, 1, 0, 1, 0] * 5, "hate": [np.nan, np.nan, 1, 0, np.nan, 0] * 5})
    model = AbuseModel(min_df=1, calibration_folds=2).fit(texts, labels)
    assert list(model.classes_) == ["abusive", "hate"]
    assert model.predict_proba(["idiot"])[0, 0] > model.predict_proba(["thank you"])[0, 0]


def test_weights_given_per_category_change_only_that_head():
    """train.HEAD_WEIGHTS weighs a corpus differently for one head (Civil Comments for threats): the other heads
    must be fitted exactly as with the shared weights."""
    texts = ["you idiot", "nice post", "moron", "good point", "idiot moron", "thank you"] * 5
    labels = pd.DataFrame({"abusive": [1, 0, 1, 0, 1, 0] * 5, "hate": [1, 0, 0, 0, 1, 0] * 5})
    shared = np.linspace(0.5, 2.0, len(texts))
    one = AbuseModel(min_df=1, calibration_folds=2).fit(texts, labels, sample_weight=shared)
    per_head = AbuseModel(min_df=1, calibration_folds=2).fit(
        texts, labels, sample_weight={"abusive": shared, "hate": shared[::-1]})
    assert np.array_equal(one.heads_["abusive"].coef, per_head.heads_["abusive"].coef)
    assert not np.array_equal(one.heads_["hate"].coef, per_head.heads_["hate"].coef)


def test_identity_words_alone_cannot_raise_a_score():
    texts = ["gay idiot", "gay moron", "stupid gay", "nice day", "good point", "thank you"] * 5
    labels = pd.DataFrame({"abusive": [1, 1, 1, 0, 0, 0] * 5})
    model = AbuseModel(min_df=1, calibration_folds=2, neutral_words=("gay",)).fit(texts, labels)
    coef = model.heads_["abusive"].coef[0]
    assert model.neutral_features_.size and (coef[model.neutral_features_] <= 0).all()
    blind = AbuseModel(min_df=1, calibration_folds=2, neutral_words=()).fit(texts, labels)
    assert model.predict_proba(["gay"])[0, 0] < blind.predict_proba(["gay"])[0, 0]


def test_naming_a_group_with_people_nouns_cannot_raise_a_score():
    """"black people", "the black community": a group named with a noun is only named, for every head but the
    hate head, which may learn from "xgroupx people" (not from "the xgroupx")."""
    texts = ["black people are idiots", "black folks are morons", "stupid black community", "nice day",
             "people like a good point", "thank you"] * 5
    labels = pd.DataFrame({"abusive": [1, 1, 1, 0, 0, 0] * 5, "hate": [1, 1, 1, 0, 0, 0] * 5})
    model = AbuseModel(min_df=1, calibration_folds=2, neutral_words=("black",)).fit(texts, labels)
    word = {i: t for t, i in model.views_["word"].vocabulary_.items()}
    offset = len(word) + len(model.views_["char"].vocabulary_)
    generalized = {i + offset: t for t, i in model.views_["generalized"].vocabulary_.items()}
    names = word | generalized
    clipped = {names[i] for i in model.neutral_features_ if i in names}
    assert {"black people", "black folks", "black community", "xgroupx people", "xgroupx folks"} <= clipped
    assert "people" not in clipped
    assert (model.heads_["abusive"].coef[0][model.neutral_features_] <= 0).all()
    hate_clipped = {names[i] for i in model.group_features_}
    assert "xgroupx" in hate_clipped and "xgroupx people" not in hate_clipped


def test_words_span_raters_seldom_mark_are_learned_from_their_offsets():
    texts = ["you are an idiot"] * 4 + ["the idiot spoke"]
    spans = [set(range(11, 16))] * 4 + [set(range(4, 9))]  # "idiot" marked every time
    words = unmarked_words(texts, spans)
    assert {"you", "are", "an"} <= words and "idiot" not in words
    assert "the" not in words and "spoke" not in words  # seen once: too rare to judge


def test_reasons_leave_out_words_span_raters_seldom_mark():
    texts = ["you idiot", "nice post", "you moron", "good point", "idiot moron you", "thank you"] * 5
    labels = pd.DataFrame({"abusive": [1, 0, 1, 0, 1, 0] * 5})
    marked = (["you idiot moron"] * 3, [set(range(4, 15))] * 3)
    terms = {}
    for name, spans in (("all words", None), ("raters' words", marked)):
        model = AbuseModel(min_df=1, calibration_folds=2).fit(texts, labels, marked_spans=spans)
        reasons = model.explain(["you idiot"], model.transform_features(["you idiot"]), [["abusive"]], top=5,
                                min_share=0.0)[0]
        terms[name] = [r["term"] for r in reasons]
    assert model.unmarked_words_ == {"you"}
    assert terms == {"all words": ["idiot", "you"], "raters' words": ["idiot"]}


def test_marking_rates_are_smoothed_shares_of_marked_occurrences():
    texts = ["you are an idiot"] * 4
    rates = marking_rates(texts, [set(range(11, 16))] * 4)  # "idiot" marked every time, the others never
    assert rates["idiot"] == pytest.approx((4 + 0.5) / 6) and rates["you"] == pytest.approx(0.5 / 6)
    assert "moron" not in rates  # unseen: the explainer takes the prior


def test_of_two_words_that_push_alike_the_one_raters_mark_is_the_reason():
    """'crook' and 'idiot' push the same (they appear alike in training); raters marked 'idiot' and left 'crook':
    with the rates 'idiot' ranks first and 'crook', ranked under 0.3 of it, is no reason; without, they tie."""
    texts = ["crook idiot", "nice post", "good point", "thank you"] * 5
    labels = pd.DataFrame({"abusive": [1, 0, 0, 0] * 5})
    marked = (["what an idiot", "what a crook", "a crook"], [set(range(8, 13)), set(), set()])  # too few to be unmarked
    terms = {}
    for name, spans in (("pushes", None), ("raters' rates", marked)):
        model = AbuseModel(min_df=1, calibration_folds=2).fit(texts, labels, marked_spans=spans)
        reasons = model.explain(["crook idiot"], model.transform_features(["crook idiot"]), [["abusive"]])[0]
        terms[name] = sorted(r["term"] for r in reasons)
    assert model.marking_rates_["idiot"] > 3 * model.marking_rates_["crook"] and "crook" not in model.unmarked_words_
    assert terms == {"pushes": ["crook", "idiot"], "raters' rates": ["idiot"]}


def test_punctuation_is_never_a_reason_but_a_disguised_word_is():
    texts = ["idiot .....", "nice post", "good point", "thank you", "a$$hole !!!!", "fine day"] * 5
    labels = pd.DataFrame({"abusive": [1, 0, 0, 0, 1, 0] * 5})
    model = AbuseModel(min_df=1, calibration_folds=2).fit(texts, labels)
    comments = ["idiot .....", "a$$hole !!!!"]
    reasons = model.explain(comments, model.transform_features(comments), [["abusive"]] * 2, top=5, min_share=0.0)
    assert [[r["term"] for r in row] for row in reasons] == [["idiot"], ["a$$hole"]]


def test_scoring_reads_the_generalised_view_as_fitting_does(tiny_abuse):
    """Scoring maps tokens (``generalized_tokens``) where fitting ran ``generalize`` on the text: same matrix."""
    texts = ["I do not hate Muslims at all.", "I hate gays, kill them", "Nobody here hates Jews.", "never again", "",
             "Stop saying Jews should be killed.", "I will break your neck."]
    expected = sp.hstack([view.transform(normalize_all(texts)) for view in tiny_abuse.views_.values()], format="csr")
    assert (abs(tiny_abuse.transform_features(texts) - expected) > 1e-7).nnz == 0
    assert generalize("i do not hate muslims at all") == "do not not_xhatredx not_xgroupx not_at all"


def test_quoted_hate_is_marked_apart_and_the_later_scope_wins():
    """Counter-speech reports hate to reject it: the words after a verb of saying read apart from hate said
    outright; a negator inside that scope opens its own."""
    quoted = "stop saying said_xgroupx said_should said_be said_xviolencex"
    assert generalize("stop saying jews should be killed") == quoted
    assert generalize("they say gays are not human") == "they say said_xgroupx said_are said_not not_human"
    assert generalize("kill all muslims") == "xviolencex all xgroupx"
    assert generalize("i will break your neck") == "will break your xbodyx"


def _scopes_one_by_one(tokens: list[str]) -> list[str]:
    """The scope rule read word by word: each word takes the mark of the last opener within reach."""
    out, mark, left = [], "", 0
    for token in tokens:
        renamed = GENERALIZED.get(token, token)
        out.append(mark + renamed if left else renamed)
        mark, left = SCOPES.get(token, (mark, max(left - 1, 0)))
    return out


@given(st.lists(st.sampled_from(["not", "never", "say", "calling", "jews", "kill", "hate", "neck", "the", "are"]),
                max_size=14))
def test_scopes_end_where_the_next_opener_begins(tokens):
    assert generalized_tokens(tokens) == _scopes_one_by_one(tokens)


def test_no_whitespace_above_the_space_table():
    assert not any(chr(c).isspace() for c in range(len(_space_table()), 0x110000))


@given(st.lists(st.text(st.sampled_from(["a", "é", "_", "7", "-", "\u0301", "𝐀", "😀", " ", "\n", "\u3000", "\x1f",
                                          "\xa0", "\u200b"]))))
def test_layout_finds_the_chunks_of_split_and_the_vectorisers_tokens(texts):
    begins, ends, tokens, token_chunks, token_texts = _layout(texts)
    chunks = [(r, chunk) for r, text in enumerate(texts) for chunk in text.split()]
    assert [texts[r][b:e] for (r, _), b, e in zip(chunks, begins.tolist(), ends.tolist(), strict=True)] == \
        [chunk for _, chunk in chunks]
    assert tokens == [token for text in texts for token in WORD_TOKEN.findall(text)]
    assert [chunks[k][0] for k in token_chunks.tolist()] == token_texts.tolist()
    assert all(token in chunks[k][1] for token, k in zip(tokens, token_chunks.tolist(), strict=True))


def test_a_groups_name_is_never_a_reason_for_abuse_but_may_be_for_hate():
    """Heads that may not learn from identity words still lend them half a bigram's weight ("white guys"); a reason
    on the group's name would tell a moderator the name is the abuse. The heads that judge attacks on a group may
    name it."""
    texts = ["white guys are idiots", "nice post", "white guys ruin it", "good point"] * 5
    labels = pd.DataFrame({"abusive": [1, 0, 1, 0] * 5})
    terms = {}
    for heads in ((), ("abusive",)):
        model = AbuseModel(min_df=1, calibration_folds=2, identity_heads=heads).fit(texts, labels)
        features = model.transform_features(["white guys ruin it"])
        terms[heads] = {r["term"] for r in model.explain(["white guys ruin it"], features, [["abusive"]], top=5,
                                                         min_share=0.0)[0]}
    assert "white" not in terms[()] and "guys" in terms[()]
    assert "white" in terms[("abusive",)]
