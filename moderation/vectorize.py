"""scikit-learn's TF-IDF vectorizers, faster to load and to apply.

Loading: a fitted vocabulary is a dict of up to 100k strings, which joblib's pure-Python unpickler rebuilt
string by string (most of a second per model). These vectorizers pickle it as two numpy arrays (the terms'
UTF-8 bytes and their lengths) and rebuild the dict on first use.

Applying: scikit-learn slices and looks up every n-gram of every comment in Python, one string at a time,
which was most of the scoring time. Here Python only splits each document into tokens (a regex, in C) and
maps them to integers with one dict lookup each; the n-grams are then found with numpy. ``WordTfidf`` numbers
the tokens of its vocabulary and keeps each n-gram term as one integer key (``NgramIndex``); ``CharTfidf``
keeps, per whitespace-separated word already seen, the indices of its n-grams (``WordPool``), and a
document's counts are its words' n-gram indices end to end, counted with one sort.

Fitting is scikit-learn's own ``TfidfVectorizer``, imported only then; the weighting repeats its arithmetic, so
the matrices are the ones it gives, bit for bit, and loading or applying a fitted vectorizer never imports it.
"""

from __future__ import annotations

import itertools
import re
import threading
from array import array
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from moderation.estimator import Estimator

CACHE_WORDS = 200_000  # words remembered per process: a news site's vocabulary, a few tens of MB at most
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's token_pattern; tokens hold no space, so terms split back


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


def _rows(lengths: np.ndarray) -> np.ndarray:
    """The document of each item of documents ``lengths`` items long, laid end to end."""
    return np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)


def _count_matrix(rows: np.ndarray, features: np.ndarray, shape: tuple[int, int], dtype) -> sp.csr_array:
    """Counts of (row, feature) occurrences in canonical CSR form (sorted, no duplicates), as scikit-learn's:
    one sort of the pairs as integers, then run lengths (a sparse product or scipy's duplicate summing sorts
    row by row, twice as slow)."""
    keys = rows * shape[1] + features
    keys.sort()
    first = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if len(keys) else keys
    counts = np.diff(np.append(first, len(keys))).astype(dtype)
    keys = keys[first]
    indptr = np.searchsorted(keys, np.arange(shape[0] + 1, dtype=np.int64) * shape[1])
    index = np.int32 if max(shape[1], len(keys)) < 2**31 else np.int64
    return sp.csr_array((counts, (keys % shape[1]).astype(index), indptr.astype(index)), shape=shape)


def search(haystack: np.ndarray, needles: np.ndarray) -> np.ndarray:
    """``np.searchsorted(haystack, needles)`` for non-negative integer needles, three times faster for many: they
    are looked up in sorted order (packed with their place into one integer, when that fits in 64 bits), so the
    binary searches walk the haystack in order instead of jumping across it for every needle."""
    bits = max(len(needles).bit_length(), 1)
    if len(needles) < 1024 or int(needles.max()) >= 1 << (63 - bits) or int(needles.min()) < 0:
        return np.searchsorted(haystack, needles)
    packed = (needles.astype(np.int64) << bits) | np.arange(len(needles), dtype=np.int64)
    packed.sort()
    out = np.empty(len(needles), dtype=np.intp)
    out[packed & ((1 << bits) - 1)] = np.searchsorted(haystack, packed >> bits)
    return out


def _window_keys(ids: np.ndarray, starts: np.ndarray, n: int, width: int) -> np.ndarray:
    """The key of each window of ``n`` ids at ``starts``: the ids read as the digits of a number in base ``width``."""
    key = np.zeros(len(starts), dtype=np.int64)
    for k in range(n):
        key = key * width + ids[starts + k]
    return key


def _known_windows(keys: np.ndarray | None, features: np.ndarray | None, ids: np.ndarray, starts: np.ndarray,
                   n: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Of the windows of ``n`` ids at ``starts`` (id -1: in no term), the starts of those whose key is in the
    sorted ``keys``, and their ``features``."""
    if keys is None or not len(starts):
        return starts[:0], starts[:0]
    known = np.ones(len(starts), dtype=bool)
    for k in range(n):
        known &= ids[starts + k] >= 0
    starts = starts[known]
    key = _window_keys(ids, starts, n, width)
    at = np.minimum(search(keys, key), len(keys) - 1)
    hit = keys[at] == key
    return starts[hit], features[at[hit]]


@dataclass(frozen=True)
class NgramIndex:
    """A word vocabulary as integers: each token of its terms numbered (``tokens``), each n-gram term a key
    ``sum(id_k * width ** (n - 1 - k))`` in ``keys[n]`` (sorted) with its feature in ``features[n]``; unigrams
    also as a table by token number (``unigrams``, -1 where no feature, and at -1, the number of unknown tokens)."""

    tokens: dict[str, int]
    width: int
    keys: dict[int, np.ndarray]
    features: dict[int, np.ndarray]
    unigrams: np.ndarray

    @classmethod
    def of(cls, text: str, lengths: np.ndarray, indices: np.ndarray) -> NgramIndex:
        """From ``PackedVocabulary.vocabulary_terms``: a line break put between terms, one split into tokens, the
        rest with numpy."""
        points, starts = code_points(text), np.cumsum(lengths) - lengths
        sizes = np.add.reduceat((points == ord(" ")).astype(np.int64), starts) + 1 if len(starts) else starts
        lines = np.insert(points, starts[1:], ord("\n")).tobytes().decode("utf-32-le", "surrogatepass")
        flat = lines.split()  # tokens hold no whitespace
        unique = dict.fromkeys(flat)
        tokens = dict(zip(unique, range(len(unique)), strict=True))
        ids = np.fromiter(map(tokens.__getitem__, flat), dtype=np.int64, count=len(flat))
        starts, width = np.cumsum(sizes) - sizes, len(tokens) + 1
        if width ** int(sizes.max(initial=1)) >= 2**63:
            raise OverflowError("n-gram keys would not fit in 64 bits")
        keys, features = {}, {}
        for n in np.unique(sizes).tolist():
            members = np.flatnonzero(sizes == n)
            key = _window_keys(ids, starts[members], n, width)
            order = np.argsort(key)
            keys[n], features[n] = key[order], np.asarray(indices, dtype=np.int64)[members][order]
        unigrams = np.full(width, -1, dtype=np.int64)
        unigrams[keys.get(1, [])] = features.get(1, [])
        return cls(tokens, width, keys, features, unigrams)

    def ids(self, tokens: list[str]) -> np.ndarray:
        """Each token's number, -1 for tokens of no term."""
        return np.fromiter(map(self.tokens.get, tokens, itertools.repeat(-1)), dtype=np.int64, count=len(tokens))

    def lookup(self, n: int, ids: np.ndarray, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Of the n-grams of token ``ids`` beginning at ``starts``, the starts of those in the vocabulary and
        their features."""
        if n == 1:
            features = self.unigrams[ids[starts]]
            hit = features >= 0
            return starts[hit], features[hit]
        return _known_windows(self.keys.get(n), self.features.get(n), ids, starts, n, self.width)

    def find(self, ids: np.ndarray, lengths: np.ndarray, ngram_range: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
        """(document, feature) of every n-gram in the vocabulary, for documents of ``lengths`` tokens ``ids``."""
        rows, ends = _rows(lengths), np.repeat(np.cumsum(lengths), lengths)
        found_rows, found_features = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for n in range(ngram_range[0], ngram_range[1] + 1):
            starts, features = self.lookup(n, ids, np.flatnonzero(np.arange(len(ids)) + n <= ends))
            found_rows.append(rows[starts])
            found_features.append(features)
        return np.concatenate(found_rows), np.concatenate(found_features)


class Tfidf(Estimator):
    """scikit-learn's ``TfidfVectorizer`` with the analyzer of the subclass (and its defaults for what is no
    parameter here: l2 norm, smooth idf), fitted by it. Its vocabulary is pickled as arrays (``pack_vocabulary``)
    and rebuilt on first use; what is derived from it for transforming (attributes starting ``_derived``) is never
    pickled."""

    analyzer = "word"

    def __init__(self, *, ngram_range=(1, 1), preprocessor=None, lowercase=True, stop_words=None, min_df=1,
                 max_features=None, sublinear_tf=False, dtype=np.float64):
        self.ngram_range = ngram_range
        self.preprocessor = preprocessor
        self.lowercase = lowercase
        self.stop_words = stop_words
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf
        self.dtype = dtype

    def fit(self, raw_documents, y=None) -> Tfidf:
        self.fit_transform(raw_documents)
        return self

    def fit_transform(self, raw_documents, y=None):
        """scikit-learn's ``fit_transform``, keeping the vocabulary, the IDF and the stop words it applied."""
        from sklearn.feature_extraction.text import TfidfVectorizer

        fitted = TfidfVectorizer(analyzer=self.analyzer, **self.get_params())
        matrix = fitted.fit_transform(_documents(raw_documents))
        for name in [name for name in self.__dict__ if name.startswith("_derived")]:
            del self.__dict__[name]
        self.vocabulary_, self.idf_ = fitted.vocabulary_, fitted.idf_
        self.stop_words_ = frozenset(fitted.get_stop_words() or ())
        return matrix

    def __getstate__(self) -> dict:
        state = {k: v for k, v in self.__dict__.items() if not k.startswith("_derived")}
        if "vocabulary_" in state:
            state["_packed_vocabulary"] = pack_vocabulary(state.pop("vocabulary_"))
        return state

    def __getattr__(self, name: str):
        packed = self.__dict__.get("_packed_vocabulary")
        if name != "vocabulary_" or packed is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        self.vocabulary_ = unpack_vocabulary(packed)
        return self.vocabulary_

    def vocabulary_terms(self) -> tuple[str, np.ndarray, np.ndarray]:
        """The vocabulary's terms joined into one string, their lengths and their feature indices: what the
        integer indexes are built from, without making a dict of strings first."""
        packed = self.__dict__.get("_packed_vocabulary")
        if "vocabulary_" in self.__dict__ or packed is None:
            vocabulary = self.vocabulary_
            return ("".join(vocabulary), np.fromiter(map(len, vocabulary), dtype=np.int64, count=len(vocabulary)),
                    np.fromiter(vocabulary.values(), dtype=np.int64, count=len(vocabulary)))
        return packed["utf8"].tobytes().decode("utf-8", "surrogatepass"), packed["lengths"], packed["indices"]

    def preprocess(self, document: str) -> str:
        if self.preprocessor is not None:
            return self.preprocessor(document)
        return document.lower() if self.lowercase else document

    def _checked(self, raw_documents) -> list[str]:
        self.check_fitted("idf_")
        return _documents(raw_documents)

    def _weighted(self, counts: sp.csr_array) -> sp.csr_array:
        """scikit-learn's TF-IDF of canonical ``counts``, in its order of float operations (so its values): 1 + log
        of each count when sublinear, times the IDF, each row divided by its length summed in float64."""
        data = counts.data
        if self.sublinear_tf:
            np.log(data, data)
            data += 1.0
        data *= self.idf_[counts.indices]
        rows = _rows(np.diff(counts.indptr))
        norms = np.sqrt(np.bincount(rows, weights=data * data, minlength=counts.shape[0]))
        norms[norms == 0.0] = 1.0
        counts.data = (data / norms[rows]).astype(data.dtype)
        return counts


def _documents(raw_documents) -> list[str]:
    if isinstance(raw_documents, str):
        raise ValueError("Iterable over raw text documents expected, string object received.")
    return [document.decode("utf-8") if isinstance(document, bytes) else document for document in raw_documents]


class WordTfidf(Tfidf):
    """``TfidfVectorizer`` (word analyzer, default token pattern, same matrix) whose n-grams are looked up as
    integers (``NgramIndex``)."""

    def ngram_index(self) -> NgramIndex:
        index = self.__dict__.get("_derived_index")
        if index is None:
            index = self.__dict__["_derived_index"] = NgramIndex.of(*self.vocabulary_terms())
        return index

    def analyze(self, document: str) -> list[str]:
        """The document's n-grams, as scikit-learn's word analyzer gives them."""
        tokens = [token for token in TOKEN.findall(self.preprocess(document)) if token not in self.stop_words_]
        low, high = self.ngram_range
        return [" ".join(tokens[i : i + n]) for n in range(low, high + 1) for i in range(len(tokens) - n + 1)]

    def tokenize_all(self, raw_documents) -> list[list[str]]:
        """Each document's tokens as the word analyzer takes them, before n-grams (stop words dropped)."""
        documents = [TOKEN.findall(self.preprocess(document)) for document in raw_documents]
        stop = self.stop_words_
        if stop and self.ngram_range[1] > 1:  # stop words are no unigram of the vocabulary: only n-grams care
            documents = [[token for token in tokens if token not in stop] for tokens in documents]
        return documents

    def transform_tokens(self, documents: list[list[str]]):
        """The TF-IDF matrix of tokenised documents (``tokenize_all``)."""
        index = self.ngram_index()
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        ids = index.ids(list(itertools.chain.from_iterable(documents)))
        rows, features = index.find(ids, lengths, self.ngram_range)
        return self._weighted(_count_matrix(rows, features, (len(documents), len(self.idf_)), self.dtype))

    def transform(self, raw_documents):
        return self.transform_tokens(self.tokenize_all(self._checked(raw_documents)))


def code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


@dataclass(frozen=True)
class CharGramIndex:
    """A char_wb vocabulary as integers, like ``NgramIndex`` with characters for tokens: each character of its
    terms numbered by its place in ``alphabet``, each term of n characters a key in ``keys[n]``. The n-grams of
    many words are then found at once (``grams``), in the order scikit-learn's ``char_wb`` analyzer takes them
    from one word padded with a space each side: by n, then by place; a word no longer than n counts once, whole."""

    alphabet: np.ndarray  # sorted code points
    ngram_range: tuple[int, int]
    keys: dict[int, np.ndarray]
    features: dict[int, np.ndarray]

    @classmethod
    def of(cls, text: str, lengths: np.ndarray, indices: np.ndarray, ngram_range: tuple[int, int]) -> CharGramIndex:
        """From ``PackedVocabulary.vocabulary_terms``, all with numpy."""
        points = code_points(text)
        alphabet = np.unique(points)
        if (len(alphabet) + 1) ** max(ngram_range[1], int(lengths.max(initial=1))) >= 2**63:
            raise OverflowError("character n-gram keys would not fit in 64 bits")
        index = cls(alphabet, tuple(ngram_range), {}, {})
        ids, starts = np.searchsorted(alphabet, points), np.cumsum(lengths) - lengths
        for n in np.unique(lengths).tolist():
            members = np.flatnonzero(lengths == n)
            key = _window_keys(ids, starts[members], n, index.width)
            order = np.argsort(key)
            index.keys[n], index.features[n] = key[order], np.asarray(indices, dtype=np.int64)[members][order]
        return index

    @property
    def width(self) -> int:
        """The base of the keys: one more than the alphabet."""
        return len(self.alphabet) + 1

    def _lookup(self, ids: np.ndarray, starts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Of the n-character windows at ``starts``, those in the vocabulary and their features."""
        return _known_windows(self.keys.get(n), self.features.get(n), ids, starts, n, self.width)

    def grams(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The vocabulary indices of each word's n-grams, end to end, and how many each word has."""
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words)) + 2  # padded with a space each side
        points = code_points(f" {'  '.join(words)} " if words else "")
        at = np.minimum(np.searchsorted(self.alphabet, points), len(self.alphabet) - 1)
        ids = np.where(self.alphabet[at] == points, at, -1)
        word, ends = _rows(lengths), np.repeat(np.cumsum(lengths), lengths)
        low, high = self.ngram_range
        found_at, found = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)]
        for n in range(low, high + 1):  # windows of n characters; n == the padded length: the whole word once
            starts, features = self._lookup(ids, np.flatnonzero(np.arange(len(ids)) + n <= ends), n)
            found_at.append(starts)
            found.append(features)
        for n in np.unique(lengths[lengths < low]).tolist():  # shorter than every n: counted once, whole
            starts, features = self._lookup(ids, (np.cumsum(lengths) - lengths)[lengths == n], n)
            found_at.append(starts)
            found.append(features)
        owner = word[np.concatenate(found_at)]
        order = np.argsort(owner, kind="stable")  # by word, then n, then place
        return np.concatenate(found)[order].astype(np.int32), np.bincount(owner, minlength=len(words))


class WordPool:
    """Words seen so far, numbered, with the vocabulary indices of each one's n-grams end to end (``indices``,
    word k's from ``bounds[k]`` to ``bounds[k + 1]``). Emptied when it outgrows ``CACHE_WORDS``, between calls.
    One lock around each call: the service scores requests in several threads, and the arrays grow."""

    def __init__(self, grams: Callable[[list[str]], tuple[np.ndarray, np.ndarray]]):
        self.grams = grams
        self.numbers: dict[str, int] = {}
        self.indices, self.bounds = array("i"), array("i", [0])
        self.lock = threading.Lock()

    def features(self, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """The n-gram indices of ``words`` end to end, and how many each word has."""
        with self.lock:
            return self._slices(self._ids(words))

    def _ids(self, words: list[str]) -> np.ndarray:
        """Each word's number, adding the words not seen yet (their n-grams found all at once)."""
        if len(self.numbers) > CACHE_WORDS:
            self.numbers, self.indices, self.bounds = {}, array("i"), array("i", [0])
        numbers = self.numbers
        ids = np.fromiter(map(numbers.get, words, itertools.repeat(-1)), dtype=np.int64, count=len(words))
        missing = np.flatnonzero(ids < 0)
        if len(missing):
            new = list(dict.fromkeys(words[k] for k in missing.tolist()))
            numbers.update(zip(new, range(len(numbers), len(numbers) + len(new)), strict=True))
            indices, counts = self.grams(new)
            self.bounds.extend((len(self.indices) + np.cumsum(counts)).tolist())
            self.indices.frombytes(indices.tobytes())
            ids[missing] = np.fromiter(map(numbers.__getitem__, (words[k] for k in missing.tolist())),
                                       dtype=np.int64, count=len(missing))
        return ids

    def _slices(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        bounds = np.frombuffer(self.bounds, dtype=np.int32).astype(np.int64)
        starts, lengths = bounds[ids], bounds[ids + 1] - bounds[ids]
        offsets = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        return np.frombuffer(self.indices, dtype=np.int32)[offsets] if len(offsets) else np.zeros(0, np.int32), lengths


class CharTfidf(Tfidf):
    """``TfidfVectorizer(analyzer="char_wb")`` keeping each word's n-gram indices (``WordPool``, not pickled):
    a document's counts are the sum of its words' rows."""

    analyzer = "char_wb"

    def word_pool(self) -> WordPool:
        pool = self.__dict__.get("_derived_pool")
        if pool is None:
            index = CharGramIndex.of(*self.vocabulary_terms(), self.ngram_range)
            pool = self.__dict__["_derived_pool"] = WordPool(index.grams)
        return pool

    def split_all(self, raw_documents) -> list[list[str]]:
        """Each document's whitespace-separated words, as the char_wb analyzer takes them."""
        return [self.preprocess(document).split() for document in raw_documents]

    def transform_words(self, documents: list[list[str]]):
        """The TF-IDF matrix of documents split into words (``split_all``)."""
        pool = self.word_pool()
        lengths = np.fromiter(map(len, documents), dtype=np.int64, count=len(documents))
        features, per_word = pool.features(list(itertools.chain.from_iterable(documents)))
        rows = np.repeat(_rows(lengths), per_word)
        return self._weighted(_count_matrix(rows, features.astype(np.int64), (len(documents), len(self.idf_)),
                                            self.dtype))

    def word_indices(self, word: str) -> np.ndarray:
        """Vocabulary indices of the n-grams of one preprocessed word (with repeats, as counted)."""
        return self.word_pool().features([word])[0]

    def transform(self, raw_documents):
        return self.transform_words(self.split_all(self._checked(raw_documents)))
