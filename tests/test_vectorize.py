import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.feature_extraction.text import TfidfVectorizer

from moderation.vectorize import CharTfidf, WordTfidf

TRAIN = ["You are an idiot", "what an idiot you are", "thanks for the article", "a b cd efg hijk",
         "Great piece, thanks", "idiots everywhere", "Σίσυφος ΣΑΣ", "tab\tand\n\nnewlines  here"]


def _head(text: str) -> str:
    return text[:12].lower()


@pytest.mark.parametrize("params", [
    {"ngram_range": (3, 5), "lowercase": False, "sublinear_tf": True, "dtype": np.float32},
    {"ngram_range": (2, 4), "preprocessor": _head, "min_df": 2, "sublinear_tf": True},
    {"ngram_range": (1, 3), "max_features": 40},
    {"ngram_range": (4, 6)},  # one-letter words are shorter than every n: counted once, whole
])
@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(max_size=40), min_size=1, max_size=6))
def test_same_matrix_as_scikit_learns_char_wb(params, texts):
    ours, theirs = CharTfidf(**params).fit(TRAIN), TfidfVectorizer(analyzer="char_wb", **params).fit(TRAIN)
    for _ in range(2):  # the second pass reads the word pool
        got, want = ours.transform(texts), theirs.transform(texts)
        assert got.dtype == want.dtype and got.shape == want.shape
        assert abs(got - want).max() == 0


def test_cache_is_not_pickled_and_clone_keeps_the_parameters():
    model = CharTfidf(ngram_range=(2, 4), min_df=1).fit(TRAIN)
    model.transform(["you idiot"])
    assert "_derived_pool" in model.__dict__
    restored = pickle.loads(pickle.dumps(model))
    assert "_derived_pool" not in restored.__dict__
    assert abs(restored.transform(["you idiot"]) - model.transform(["you idiot"])).max() == 0
    assert clone(model).get_params() == model.get_params() and clone(model).analyzer == "char_wb"


def test_one_string_is_refused():
    with pytest.raises(ValueError, match="Iterable"):
        CharTfidf().fit(TRAIN).transform("one string")


@pytest.mark.parametrize("model", [WordTfidf(ngram_range=(1, 2), stop_words="english"), CharTfidf(ngram_range=(2, 4))])
def test_vocabulary_is_pickled_as_arrays_and_rebuilt_on_first_use(model):
    model.fit(TRAIN + ["surrogate \ud800 here", "ünïcödé wörds"])
    restored = pickle.loads(pickle.dumps(model))
    assert "vocabulary_" not in restored.__dict__
    assert all(isinstance(v, np.ndarray) for v in restored.__dict__["_packed_vocabulary"].values())
    texts = ["You are an idiot", "ünïcödé", ""]
    assert abs(restored.transform(texts) - model.transform(texts)).max() == 0
    assert restored.vocabulary_ == model.vocabulary_ and "vocabulary_" in restored.__dict__
    twice = pickle.loads(pickle.dumps(restored))
    assert twice.vocabulary_ == model.vocabulary_


def test_word_tfidf_is_scikit_learns_vectorizer():
    ours, theirs = WordTfidf(ngram_range=(1, 2)).fit(TRAIN), TfidfVectorizer(ngram_range=(1, 2)).fit(TRAIN)
    assert abs(ours.transform(TRAIN) - theirs.transform(TRAIN)).max() == 0
    assert clone(ours).get_params() == {k: theirs.get_params()[k] for k in ours.get_params()}
    assert not hasattr(WordTfidf(), "vocabulary_") and not hasattr(WordTfidf(), "idf_")


@pytest.mark.parametrize("params", [
    {"ngram_range": (1, 2), "lowercase": False, "sublinear_tf": True, "min_df": 1, "dtype": np.float32},
    {"stop_words": "english", "sublinear_tf": True, "max_features": 30},
])
@settings(max_examples=50, deadline=None)
@given(texts=st.lists(st.text(alphabet=st.sampled_from("you are an idiot what thanks ΣΑΣ\n\t"), max_size=40)
                      | st.text(max_size=30), min_size=1, max_size=6))
def test_word_tfidf_gives_scikit_learns_matrix(params, texts):
    ours, theirs = WordTfidf(**params).fit(TRAIN), TfidfVectorizer(**params).fit(TRAIN)
    got, want = ours.transform(texts), theirs.transform(texts)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert abs(got - want).max() == 0
