"""scikit-learn's TF-IDF vectorizers, faster to load and (for character n-grams) to apply.

Loading: a fitted vocabulary is a dict of up to 100k strings, which joblib's pure-Python unpickler rebuilt
string by string (most of a second per model). These vectorizers pickle it as two numpy arrays (the terms'
UTF-8 bytes and their lengths) and rebuild the dict on first use.

Applying: scikit-learn slices and looks up every n-gram of every word of every comment in Python, which was
most of the scoring time of both models. Comment streams repeat their words, so ``CharTfidf`` keeps, per
word, the indices of its n-grams in the fitted vocabulary and builds the count matrix from them.

Fitting, the vocabulary and the TF-IDF weighting are scikit-learn's own; the matrices are the ones
``TfidfVectorizer`` gives.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterable

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

CACHE_WORDS = 200_000  # words remembered per process: a news site's vocabulary, a few tens of MB at most


def pack_vocabulary(vocabulary: dict[str, int]) -> dict[str, np.ndarray]:
    """A vocabulary as arrays joblib stores as raw buffers: terms' UTF-8 bytes, their lengths, their indices."""
    terms = sorted(vocabulary, key=vocabulary.__getitem__)
    return {"utf8": np.frombuffer("".join(terms).encode("utf-8", "surrogatepass"), dtype=np.uint8),
            "lengths": np.array([len(term) for term in terms], dtype=np.int32),
            "indices": np.array([vocabulary[term] for term in terms], dtype=np.int64)}


def unpack_vocabulary(packed: dict[str, np.ndarray]) -> dict[str, int]:
    text = packed["utf8"].tobytes().decode("utf-8", "surrogatepass")
    ends = np.cumsum(packed["lengths"]).tolist()
    return dict(zip([text[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)], packed["indices"].tolist(),
                    strict=True))


class PackedVocabulary:
    """Mixin for a fitted ``CountVectorizer`` subclass: ``vocabulary_`` pickled as arrays, rebuilt on first use."""

    def __getstate__(self) -> dict:
        state = super().__getstate__()
        if "vocabulary_" in state:
            state["_packed_vocabulary"] = pack_vocabulary(state.pop("vocabulary_"))
        return state

    def __getattr__(self, name: str):
        packed = self.__dict__.get("_packed_vocabulary")
        if name != "vocabulary_" or packed is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.vocabulary_ = unpack_vocabulary(packed)
        return self.vocabulary_


class _IndexedTfidf(PackedVocabulary, TfidfVectorizer):
    """``TfidfVectorizer`` whose transform gathers each document's feature indices (``_indexer``) into one
    count matrix: no per-document counting dict as scikit-learn keeps, the same matrix."""

    def _indexer(self) -> Callable[[str], Iterable[int]]:
        raise NotImplementedError

    def transform(self, raw_documents):
        check_is_fitted(self, msg="The TF-IDF vectorizer is not fitted")
        if isinstance(raw_documents, str):
            raise ValueError("Iterable over raw text documents expected, string object received.")
        indexer, indices, indptr = self._indexer(), array("i"), array("i", [0])
        for document in raw_documents:
            indices.extend(indexer(document))
            indptr.append(len(indices))
        counts = sp.csr_array((np.ones(len(indices), dtype=self.dtype), np.frombuffer(indices, dtype=np.int32),
                               np.frombuffer(indptr, dtype=np.int32)), shape=(len(indptr) - 1, len(self.vocabulary_)))
        counts.sum_duplicates()
        return self._tfidf.transform(counts, copy=False)


class WordTfidf(_IndexedTfidf):
    """``TfidfVectorizer`` (word analyzer, same parameters and matrix) whose vocabulary loads as arrays."""

    def _indexer(self) -> Callable[[str], Iterable[int]]:
        analyze, vocabulary = self.build_analyzer(), self.vocabulary_.get
        return lambda document: [i for i in map(vocabulary, analyze(document)) if i is not None]


def char_wb_grams(word: str, ngram_range: tuple[int, int]) -> list[str]:
    """The n-grams scikit-learn's ``char_wb`` analyzer takes from one word, padded with a space each side."""
    padded, grams = f" {word} ", []
    for n in range(ngram_range[0], ngram_range[1] + 1):
        if len(padded) <= n:
            grams.append(padded)  # as scikit-learn: a word no longer than n counts once, whole
            break
        grams += [padded[k:k + n] for k in range(len(padded) - n + 1)]
    return grams


class CharTfidf(_IndexedTfidf):
    """``TfidfVectorizer(analyzer="char_wb")`` with a per-word cache of feature indices (not pickled)."""

    def __init__(self, *, ngram_range=(3, 5), preprocessor=None, lowercase=True, min_df=1, max_features=None,
                 sublinear_tf=False, dtype=np.float64):
        super().__init__(analyzer="char_wb", ngram_range=ngram_range, preprocessor=preprocessor,
                         lowercase=lowercase, min_df=min_df, max_features=max_features, sublinear_tf=sublinear_tf,
                         dtype=dtype)

    def word_indices(self, word: str) -> array:
        """Vocabulary indices of the n-grams of one preprocessed word (with repeats, as counted)."""
        cache = self.__dict__.setdefault("_word_cache", {})
        found = cache.get(word)
        if found is None:
            vocabulary = self.vocabulary_
            found = array("i", [i for i in map(vocabulary.get, char_wb_grams(word, self.ngram_range)) if i is not None])
            if len(cache) < CACHE_WORDS:
                cache[word] = found
        return found

    def _indexer(self) -> Callable[[str], Iterable[int]]:
        preprocess, cached = self.build_preprocessor(), self.__dict__.setdefault("_word_cache", {}).get

        def indices(document: str) -> array:
            found = array("i")
            for word in preprocess(self.decode(document)).split():
                known = cached(word)
                found.extend(self.word_indices(word) if known is None else known)
            return found

        return indices

    def __getstate__(self) -> dict:
        return {k: v for k, v in super().__getstate__().items() if k != "_word_cache"}
