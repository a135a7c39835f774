"""The abuse model: normalised text -> word and character TF-IDF -> one calibrated logistic regression per category.

All heads share one feature space, so one fit of the vectorisers serves them all and the words that drove any
head can be traced back to the comment. Each head trains only on rows whose label for it is known (NaN means
"this corpus does not say"). Probabilities are calibrated with a sigmoid fitted on out-of-fold scores.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from moderation.estimator import Classifier, Linear
from moderation.lexicon import (
    BODY_WORDS,
    GROUP_WORDS,
    HATRED_WORDS,
    NEGATORS,
    NEUTRAL_WORDS,
    PEOPLE_WORDS,
    REPORTERS,
    VIOLENCE_WORDS,
)
from moderation.textnorm import normalize, normalize_with_offsets, original_span
from moderation.vectorize import TOKEN as WORD_TOKEN  # the vectorisers' tokens, so spans match features
from moderation.vectorize import CharTfidf, WordTfidf, code_points

if TYPE_CHECKING:
    import pandas as pd


def normalize_all(texts) -> list[str]:
    return [normalize(text) for text in texts]


GROUP_TOKEN, VIOLENCE_TOKEN, HATRED_TOKEN, BODY_TOKEN = "xgroupx", "xviolencex", "xhatredx", "xbodyx"


# what ``generalize`` renames: group nouns win over verbs
GENERALIZED = {**dict.fromkeys(BODY_WORDS, BODY_TOKEN), **dict.fromkeys(HATRED_WORDS, HATRED_TOKEN),
               **dict.fromkeys(VIOLENCE_WORDS, VIOLENCE_TOKEN),
               **dict.fromkeys(GROUP_WORDS, GROUP_TOKEN)}


NEGATION_SCOPE, NEGATED = 3, "not_"  # the words after a negator that it marks, and the mark
REPORT_SCOPE, REPORTED = 4, "said_"  # the words after a verb of saying that it marks, and the mark
# the mark each opening word gives the words after it, and how many
SCOPES = {**dict.fromkeys(REPORTERS, (REPORTED, REPORT_SCOPE)), **dict.fromkeys(NEGATORS, (NEGATED, NEGATION_SCOPE))}


def generalized_tokens(tokens: list[str]) -> list[str]:
    """Tokens with each group noun written ``xgroupx``, each violent verb ``xviolencex``, each verb of hatred
    ``xhatredx`` and each body part ``xbodyx``; the ``NEGATION_SCOPE`` tokens after a negator marked ``not_`` and
    the ``REPORT_SCOPE`` tokens after a verb of saying ``said_`` (the later opener wins)."""
    out = list(map(GENERALIZED.get, tokens, tokens))
    # Python touches only the openers (a few per comment) and the words they mark: a scope ends at the next opener
    openers = list(itertools.compress(itertools.count(), map(SCOPES.__contains__, tokens)))
    for at, following in itertools.pairwise([*openers, len(tokens)]):
        mark, scope = SCOPES[tokens[at]]
        stop = min(at + scope, following) + 1
        out[at + 1 : stop] = [mark + token for token in out[at + 1 : stop]]
    return out


def generalize(text: str) -> str:
    """A normalised text as ``generalized_tokens`` writes it."""
    return " ".join(generalized_tokens(WORD_TOKEN.findall(text)))


# Words the toxic-spans raters left unmarked in more than 85 % of at least 3 occurrences are never given as reasons
# ("the", "people", "trump"): chosen on the raters' training posts out of fold for the shipped heads (top 3 at
# half the best weight kept; reasons' character F1 0.627 -> 0.640 there, 0.15 and 0.2 within 0.0004;
# benchmarks/abuse.py section 3 reports the trial posts).
UNMARKED_MIN_COUNT, UNMARKED_MAX_RATE = 3, 0.15
# A reason's rank is its push times how often the raters marked the word (``marking_rates``), smoothed toward
# MARKED_PRIOR as if seen MARKED_STRENGTH more times: of two words that pushed alike, the one people call toxic is
# shown. Out of fold on the raters' training posts (5 folds, head refitted per fold), top 3 at a share of 0.3 of
# the best rank: char F1 0.6388 -> 0.6484, better in every fold; priors 0.1-0.25, strengths 0.5-2, shares 0.3-0.4
# and top 3-5 all within 0.002 of it (/work/notes/r8/spans).
MARKED_PRIOR, MARKED_STRENGTH = 0.25, 2.0
REASON_TOP, REASON_SHARE = 3, 0.3
WORD = re.compile(r"\w+")


def word_marks(texts: list[str], spans: list[set[int]]) -> tuple[Counter, Counter]:
    """Per lower-cased word, how often raters saw it and how often they marked it toxic (most of its characters)."""
    seen, marked = Counter(), Counter()
    for text, offsets in zip(texts, spans, strict=True):
        for match in WORD.finditer(text):
            word, (start, end) = match.group().lower(), match.span()
            seen[word] += 1
            marked[word] += 2 * len(offsets.intersection(range(start, end))) > end - start
    return seen, marked


def unmarked_words(texts: list[str], spans: list[set[int]], min_count: int = UNMARKED_MIN_COUNT,
                   max_rate: float = UNMARKED_MAX_RATE) -> frozenset[str]:
    """Lower-cased words that raters seldom marked toxic: (times marked + 0.5) / (times seen + 2) < ``max_rate``
    over at least ``min_count`` occurrences."""
    seen, marked = word_marks(texts, spans)
    return frozenset(w for w, n in seen.items() if n >= min_count and (marked[w] + 0.5) / (n + 2) < max_rate)


def marking_rates(texts: list[str], spans: list[set[int]]) -> dict[str, float]:
    """Per word the raters saw, the smoothed share of its occurrences they marked; unseen words rate MARKED_PRIOR."""
    seen, marked = word_marks(texts, spans)
    return {w: (marked[w] + MARKED_PRIOR * MARKED_STRENGTH) / (n + MARKED_STRENGTH) for w, n in seen.items()}


@functools.lru_cache(maxsize=8)
def _normalized_words(phrases: tuple[str, ...]) -> frozenset[str]:
    """The words of ``phrases`` as the models see them; cached, since every explanation asks (0.3 ms each time)."""
    return frozenset(w for phrase in phrases for w in normalize(phrase).split())


def fit_calibrator(scores: np.ndarray, labels: np.ndarray) -> Linear:
    """A head's calibration: a sigmoid of its decision scores (Platt), fitted on out-of-fold scores; its
    ``probability(scores[:, None])`` is the calibrated probability."""
    from sklearn.linear_model import LogisticRegression

    return Linear.of(LogisticRegression(C=1e4).fit(scores[:, None], labels))


def make_views(word_ngrams=(1, 2), char_ngrams=(3, 5), max_features=100_000, min_df=2,
               generalized_ngrams=(1, 3)) -> dict[str, WordTfidf | CharTfidf]:
    """Word and char_wb TF-IDF of the normalised text, side by side (char n-grams catch spellings words miss),
    and word n-grams of the generalised text (``generalize``) when ``generalized_ngrams`` is set."""
    common = {"sublinear_tf": True, "min_df": min_df, "max_features": max_features, "dtype": np.float32,
              "lowercase": False}
    views = {"word": WordTfidf(ngram_range=word_ngrams, **common), "char": CharTfidf(ngram_range=char_ngrams, **common)}
    if generalized_ngrams:
        views["generalized"] = WordTfidf(ngram_range=generalized_ngrams, preprocessor=generalize, **common)
    return views


def _as_texts(X) -> list[str]:
    if hasattr(X, "columns"):  # a DataFrame
        X = X["text"]
    if isinstance(X, str):
        raise TypeError("expected a list of texts, got one string; wrap it in a list")
    return ["" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text) for text in X]


class AbuseModel(Classifier):
    """Calibrated per-category abuse probabilities from TF-IDF features.

    ``fit(X, Y)``: X texts, Y a DataFrame with one 0/1 column per category (NaN = unknown).
    ``predict_proba(X)`` returns an (n, n_categories) array whose columns follow ``classes_``, like a
    multilabel ``OneVsRestClassifier``.
    """

    def __init__(self, word_ngrams=(1, 2), char_ngrams=(3, 5), generalized_ngrams=(1, 3), max_features=100_000,
                 min_df=2, C=4.0, calibration_folds=5, neutral_words=NEUTRAL_WORDS, identity_heads=("hate",),
                 random_state=0):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.generalized_ngrams = generalized_ngrams
        self.max_features = max_features
        self.min_df = min_df
        self.C = C
        self.calibration_folds = calibration_folds
        self.neutral_words = neutral_words
        self.identity_heads = identity_heads
        self.random_state = random_state

    def _head(self):
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=self.C, solver="liblinear", max_iter=300)

    def _fit_head(self, category, rows, labels, weights) -> Linear:
        """A head whose features of identity words alone cannot raise its score: naming a group is not abuse,
        though the abusive corpora name groups far more often than civil ones do. Heads that judge attacks on
        a group (``identity_heads``) keep those words, since which group is named is part of what they judge
        (without them the hate head ranked the hate corpora 0.01-0.05 worse in grouped cross-validation), but
        never the generalised group token alone."""
        head = self._head().fit(rows, labels, sample_weight=weights)
        clipped = self.group_features_ if category in self.identity_heads else self.neutral_features_
        head.coef_[0, clipped] = np.minimum(head.coef_[0, clipped], 0.0)
        return Linear.of(head)

    def neutral_word_set(self) -> frozenset[str]:
        """The normalised words of ``neutral_words``: naming a group in them is not abuse."""
        return _normalized_words(tuple(self.neutral_words))

    def _neutral_feature_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """Features that only name a group: word features made of identity words, alone or with nouns such as
        "people" ("black people"), the character n-grams of identity words, and generalised n-grams of ``xgroupx``
        with stop words and those nouns ("the xgroupx", "xgroupx people"); then the generalised n-grams of
        ``xgroupx`` and stop words alone, what even the heads that judge attacks on a group may not learn from
        (clipping "xgroupx people" there too cost the hate head: behavioural suite p_hate AUC 0.904 -> 0.894)."""
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

        views = self.views_
        word, char = views["word"], views["char"]
        neutral = self.neutral_word_set()
        naming = neutral | PEOPLE_WORDS
        found = [i for term, i in word.vocabulary_.items()
                 if (words := set(term.split())) <= naming and not words.isdisjoint(neutral)]
        found += [i + len(word.vocabulary_) for i in {i for w in neutral for i in char.word_indices(w)}]
        named, group = [], []
        if "generalized" in views:
            offset = len(word.vocabulary_) + len(char.vocabulary_)
            vocabulary = views["generalized"].vocabulary_

            def only(words: frozenset[str]) -> list[int]:
                words |= {mark + word for word in words for mark in (NEGATED, REPORTED)}  # "not_the not_xgroupx"
                return [i + offset for term, i in vocabulary.items()
                        if GROUP_TOKEN in term and set(term.split()) <= words]

            named = only(ENGLISH_STOP_WORDS | PEOPLE_WORDS | {GROUP_TOKEN})
            group = only(ENGLISH_STOP_WORDS | {GROUP_TOKEN})
        return np.array(sorted(found + named), dtype=np.int64), np.array(sorted(group), dtype=np.int64)

    def fit(self, X, Y: pd.DataFrame, sample_weight=None, calibrate_on=None, groups=None, marked_spans=None):
        """Fit features on all texts, then each head on its labelled rows.

        ``sample_weight``: row weights, as one array or an array per category. ``calibrate_on``: rows whose
        out-of-fold scores fit the calibration (the target domain), as one boolean mask or a mask per category;
        all labelled rows when None. ``groups``: what a new site would not share with the training rows (article,
        thread, author); the out-of-fold scores behind calibration and the card's figures never come from a head
        that saw the row's group. Each row is its own group when None.
        ``marked_spans``: (texts, toxic character offsets) from span raters: their seldom-marked words
        (``unmarked_words``) are never reasons and the others rank by how often they marked them
        (``marking_rates``); every word may be one, ranked by its push alone, when None.
        """
        import pandas as pd

        texts = _as_texts(X)
        Y = pd.DataFrame(Y).reset_index(drop=True)
        weights = sample_weight if isinstance(sample_weight, dict) else dict.fromkeys(
            Y.columns, np.ones(len(texts)) if sample_weight is None else sample_weight)
        everywhere = np.ones(len(texts), bool)
        groups = np.arange(len(texts)) if groups is None else np.asarray(groups)
        features = self.fit_features(texts)
        self.unmarked_words_ = unmarked_words(*marked_spans) if marked_spans else frozenset()
        self.marking_rates_ = marking_rates(*marked_spans) if marked_spans else {}
        self.classes_ = np.array(list(Y.columns))
        self.heads_, self.calibrators_, self.oof_scores_ = {}, {}, {}
        for category in self.classes_:
            known = Y[category].notna().to_numpy()
            labels = Y.loc[known, category].to_numpy().astype(int)
            if np.unique(labels).size < 2:
                raise ValueError(f"category {category!r} needs both classes among its labelled rows, "
                                 f"found only {np.unique(labels).tolist()}")
            rows, weight = features[known], np.asarray(weights[category], dtype=float)[known]
            self.heads_[category] = self._fit_head(category, rows, labels, weight)
            oof = self._out_of_fold(category, rows, labels, weight, groups[known])
            self.oof_scores_[category] = (np.flatnonzero(known), oof)
            target = calibrate_on.get(category, everywhere) if isinstance(calibrate_on, dict) else (
                everywhere if calibrate_on is None else calibrate_on)
            use = np.asarray(target, bool)[known]
            use = use if np.unique(labels[use]).size == 2 else np.ones(known.sum(), bool)
            self.calibrators_[category] = fit_calibrator(oof[use], labels[use])
        return self

    def fit_features(self, texts: list[str]):
        """Fit the vectorisers (no labels involved) and return the texts' features; ``fit`` starts here, and an
        evaluation that refits heads on many splits calls it once."""
        self.views_ = make_views(self.word_ngrams, self.char_ngrams, self.max_features, self.min_df,
                                 self.generalized_ngrams)
        texts = normalize_all(texts)
        features = sp.hstack([view.fit_transform(texts) for view in self.views_.values()], format="csr")
        self.neutral_features_, self.group_features_ = self._neutral_feature_indices()
        return features

    def _out_of_fold(self, category, rows, labels, weights, groups) -> np.ndarray:
        """Decision scores for each row from a head that never saw its group (features are shared: IDF only)."""
        from sklearn.model_selection import GroupKFold

        scores = np.zeros(len(labels))
        folds = GroupKFold(self.calibration_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(rows, labels, groups):
            head = self._fit_head(category, rows[train], labels[train], weights[train])
            scores[test] = head.decision_function(rows[test])
        return scores

    def transform_features(self, X):
        """The views' TF-IDF side by side (``features_of`` the normalised texts)."""
        return self.features_of(normalize_all(_as_texts(X)))

    def features_of(self, texts: list[str]):
        """The features of texts already normalised (``textnorm.normalize``), each split into words and tokenised
        once for all views (each view alone would do it again; the generalised view twice)."""
        self.check_fitted("heads_")
        views = self.views_
        tokens = [WORD_TOKEN.findall(text) for text in texts]
        blocks = [views["word"].transform_tokens(tokens), views["char"].transform_words([t.split() for t in texts])]
        if "generalized" in views:
            blocks.append(views["generalized"].transform_tokens([generalized_tokens(t) for t in tokens]))
        return sp.hstack(blocks, format="csr")

    def oof_probabilities(self, category: str) -> tuple[np.ndarray, np.ndarray]:
        """The training rows a head was fitted on and their calibrated out-of-fold probabilities."""
        rows, scores = self.oof_scores_[category]
        return rows, self.calibrators_[category].probability(scores[:, None])

    def proba_from_features(self, features) -> np.ndarray:
        columns = []
        for category in self.classes_:
            raw = self.heads_[category].decision_function(features)
            columns.append(self.calibrators_[category].probability(raw[:, None]))
        return np.column_stack(columns) if columns else np.zeros((features.shape[0], 0))

    def predict_proba(self, X) -> np.ndarray:
        return self.proba_from_features(self.transform_features(X))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)

    def explain(self, texts, features, categories_per_row: list[list[str]], top: int = REASON_TOP,
                min_share: float = REASON_SHARE, normalized: list[tuple[str, Sequence[int]]] | None = None
                ) -> list[list[dict]]:
        """For each text, the words that pushed the named categories up most, with offsets into the original.

        A feature's contribution is its TF-IDF value times the head's coefficient, shared among the
        whitespace-separated words it came from. Per category, words rank by that weight times how often span
        raters marked them (``marking_rates_``), and at most ``top`` are kept, each ranking at least ``min_share``
        of the first, leaving out words that span raters seldom mark (``unmarked_words_``): a few clear words are
        what a moderator's screen should highlight (and what matches human-marked toxic spans best, see
        benchmarks/abuse.py). Each reason's ``weight`` is its push alone. ``normalized``: each text's
        ``normalize_with_offsets``, from a caller that has them.
        """
        texts = _as_texts(texts)
        wanted = [i for i, categories in enumerate(categories_per_row) if categories]
        out: list[list[dict]] = [[] for _ in texts]
        if wanted:
            found = _Explainer(self).reasons(
                [texts[i] for i in wanted], sp.csr_array(features)[wanted], [categories_per_row[i] for i in wanted],
                top, min_share, None if normalized is None else [normalized[i] for i in wanted])
            for i, reasons in zip(wanted, found, strict=True):
                out[i] = reasons
        return out


# How many of a category's heaviest words are ranked for reasons: out of fold, the 10 heaviest gave char F1 0.6483,
# all of them 0.6484 (/work/notes/r8/spans).
CANDIDATES = 10


def _candidates(weight: np.ndarray, unit_row: np.ndarray, asks: np.ndarray, begins: np.ndarray, ends: np.ndarray
                ) -> tuple[list[int], list[tuple[int, int, float]]]:
    """Per row that ``asks``, its CANDIDATES heaviest chunks that push up as (begin, end, push), heaviest first
    (ties in chunk order), for all rows with one sort: row r's are ``candidates[bounds[r]:bounds[r + 1]]``."""
    n_rows = len(asks)
    pushing = np.flatnonzero((weight >= 1e-9) & asks[unit_row])
    order = pushing[np.argsort(-weight[pushing], kind="stable")]
    order = order[np.argsort(unit_row[order], kind="stable")]  # by row, then heaviest first
    rows = unit_row[order]
    first = np.searchsorted(rows, np.arange(n_rows + 1))
    keep = np.arange(len(order)) - first[rows] < CANDIDATES
    found, rows = order[keep], rows[keep]
    candidates = list(zip(begins[found].tolist(), ends[found].tolist(), weight[found].tolist(), strict=True))
    return np.searchsorted(rows, np.arange(n_rows + 1)).tolist(), candidates


@functools.cache
def _space_table() -> np.ndarray:
    """Which code points ``str.split`` splits on, up to U+3000: no higher one is whitespace."""
    return np.array([chr(c).isspace() for c in range(0x3001)])


@functools.cache
def _word_table() -> np.ndarray:
    """Which code points of the Basic Multilingual Plane the regex ``\\w`` matches: ``str.isalnum`` ones and "_"."""
    return np.array([chr(c).isalnum() or c == ord("_") for c in range(0x10000)])


def _in_table(points: np.ndarray, table: np.ndarray) -> np.ndarray:
    return (points < len(table)) & table[np.minimum(points, len(table) - 1)]


def _is_word(points: np.ndarray) -> np.ndarray:
    """``\\w`` per code point: the table below U+10000, each distinct higher one asked once."""
    out = _in_table(points, _word_table())
    high = np.flatnonzero(points >= len(_word_table()))
    if len(high):
        distinct, which = np.unique(points[high], return_inverse=True)
        out[high] = np.array([chr(c).isalnum() for c in distinct.tolist()], dtype=bool)[which]
    return out


def _edges(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The starts and ends of the runs of True in ``mask``."""
    padded = np.concatenate([[False], mask, [False]])
    return np.flatnonzero(padded[1:-1] & ~padded[:-2]), np.flatnonzero(padded[1:-1] & ~padded[2:]) + 1


def _layout(texts: list[str]) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray]:
    """Where the ``str.split`` chunks of ``texts`` are (start and end within their text, text after text), and
    their word tokens (``WORD_TOKEN``: the runs of two or more ``\\w`` characters) with the chunk each is in
    (numbered over all texts) and the text each is in: found with numpy over the code points of all texts at
    once, not with a regex pass per text."""
    joined = " ".join(texts)
    points = code_points(joined)
    begins, ends = _edges(~_in_table(points, _space_table()))
    starts, stops = _edges(_is_word(points))
    long = stops - starts >= 2
    starts, stops = starts[long], stops[long]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)) + 1  # each with its joining space
    first = np.cumsum(lengths) - lengths
    chunk_text = np.searchsorted(first, begins, side="right") - 1
    tokens = [joined[a:b] for a, b in zip(starts.tolist(), stops.tolist(), strict=True)]
    return (begins - first[chunk_text], ends - first[chunk_text], tokens,
            np.searchsorted(begins, starts, side="right") - 1, np.searchsorted(first, starts, side="right") - 1)


class _Explainer:
    """Per-call helper for ``AbuseModel.explain``: the vectorisers' lookups, the heads' coefficients as one
    matrix. Python only splits the texts; which features each chunk holds, and the arithmetic, run with numpy
    over all rows at once."""

    def __init__(self, model: AbuseModel):
        word, char = model.views_["word"], model.views_["char"]
        self.word, self.pool = word.ngram_index(), char.word_pool()
        self.n_word = len(word.idf_)
        self.coef = {c: model.heads_[c].coef.ravel() for c in model.classes_}  # views: no 14 MB copy per call
        # models trained before abuse-2026.12.9 have no rates: their reasons rank by push alone, as then
        self.unmarked, self.rates = model.unmarked_words_, getattr(model, "marking_rates_", {})
        self.prior = MARKED_PRIOR if self.rates else 1.0
        # a group's name is never the reason a comment is abusive, toxic or obscene (those heads may not learn from
        # it), though a bigram such as "black people" lends it half its weight; the heads that judge attacks on a
        # group may name it
        self.neutral, self.identity_heads = model.neutral_word_set(), set(model.identity_heads)

    def reasons(self, texts: list[str], features: sp.csr_array, categories_per_row: list[list[str]], top: int,
                min_share: float, normalized: list[tuple[str, Sequence[int]]] | None) -> list[list[dict]]:
        """``features``: the texts' rows. A feature's value is shared among the chunks it came from (an n-gram
        counted twice gives half to each occurrence; a bigram half to each of its two words)."""
        if normalized is None:
            normalized = [normalize_with_offsets(text) for text in texts]
        chunks = [norm.split() for norm, _ in normalized]
        row_units = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
        n_units = int(row_units[-1])
        char_feats, char_lengths = self.pool.features(list(itertools.chain.from_iterable(chunks)))
        begins, ends, tokens, token_units, same_row = _layout([norm for norm, _ in normalized])
        ids = self.word.ids(tokens)
        everywhere = np.arange(len(ids))
        at, unigrams = self.word.lookup(1, ids, everywhere)
        pairs = everywhere[:-1][same_row[:-1] == same_row[1:]]
        at2, bigrams = self.word.lookup(2, ids, pairs)
        # occurrences in the order contributions are summed in: characters, unigrams, then each bigram twice
        units = np.concatenate([np.repeat(np.arange(n_units), char_lengths), token_units[at],
                                np.column_stack([token_units[at2], token_units[at2 + 1]]).ravel()]).astype(np.int64)
        feats = np.concatenate([char_feats.astype(np.int64) + self.n_word, unigrams, np.repeat(bigrams, 2)])
        factors = np.concatenate([np.ones(len(char_feats)), np.ones(len(unigrams)), np.full(2 * len(bigrams), 0.5)])
        unit_row = np.repeat(np.arange(len(texts)), np.diff(row_units))
        share = self._shares(features, unit_row[units], feats, factors)
        picks = {}
        for category in {c for categories in categories_per_row for c in categories}:
            weight = np.bincount(units, weights=share * self.coef[category][feats], minlength=n_units)
            asks = np.array([category in categories for categories in categories_per_row])
            picks[category] = _candidates(weight, unit_row, asks, begins, ends)
        out = []
        for r, (text, (norm, offsets), categories) in enumerate(
                zip(texts, normalized, categories_per_row, strict=True)):
            reasons = []
            for category in categories:
                bounds, candidates = picks[category]
                candidates = candidates[bounds[r]:bounds[r + 1]]
                reasons += self._strongest(text, norm, offsets, candidates, category, top, min_share)
            out.append(sorted(reasons, key=lambda r: -r["weight"]))
        return out

    def _strongest(self, text: str, norm: str, offsets: Sequence[int],
                   candidates: list[tuple[int, int, float]], category: str, top: int,
                   min_share: float) -> list[dict]:
        """The ``top`` best-ranked of the ``candidates`` (chunk begin, end, push; heaviest first, all pushing up)
        that read as words once normalised ("....." does not; "a$$" does) and are not seldom-marked, each ranking
        at least ``min_share`` of the first (rank: push times marking rate). A rate is at most 1, so the scan stops
        once no lighter chunk could be kept."""
        ranked: list[tuple[float, dict]] = []  # best first; ties in order of weight
        for begin, end, push in candidates:
            if ranked and (push < ranked[0][0] * min_share or len(ranked) >= top and push <= ranked[top - 1][0]):
                break
            span = _trimmed(norm, offsets, begin, end)
            if span is None:
                continue
            begin, stop = span
            word = text[begin:stop].lower()
            if word not in self.unmarked and (category in self.identity_heads or word not in self.neutral):
                ranked.append((push * self.rates.get(word, self.prior),
                               {"term": text[begin:stop], "start": begin, "end": stop, "category": category,
                                "weight": round(push, 4)}))
                ranked.sort(key=lambda pair: -pair[0])
        return [reason for rank, reason in ranked[:top] if rank >= ranked[0][0] * min_share]

    @staticmethod
    def _shares(features: sp.csr_array, rows: np.ndarray, feats: np.ndarray, factors: np.ndarray) -> np.ndarray:
        """Each occurrence's part of its row's TF-IDF value: value times its factor over the factors of all
        occurrences of that feature in the row."""
        features = features.copy()
        features.sum_duplicates()  # canonical: one entry per feature, sorted, so keys below are sorted
        width = features.shape[1]
        have = np.repeat(np.arange(features.shape[0], dtype=np.int64), np.diff(features.indptr)) * width + \
            features.indices
        keys = rows * width + feats
        at = np.minimum(np.searchsorted(have, keys), max(len(have) - 1, 0))
        found = have[at] == keys if len(have) else np.zeros(len(keys), bool)
        at = np.where(found, at, len(have))  # each (row, feature) its own slot, the absent ones (value 0) one more
        value = np.where(found, features.data[np.minimum(at, len(have) - 1)], 0.0) if len(have) else at * 0.0
        return value * factors / np.bincount(at, weights=factors, minlength=len(have) + 1)[at]


def _trimmed(norm: str, offsets: Sequence[int], start: int, end: int) -> tuple[int, int] | None:
    """The original span of a whitespace chunk without the punctuation around its words ("idiot!" -> "idiot"), or
    None when the normalised chunk holds no word ("....."; "a$$" normalised is "ass")."""
    words = [m.span() for m in WORD.finditer(norm, start, end)]
    if not words:
        return None
    return original_span(offsets, words[0][0], words[-1][1])
