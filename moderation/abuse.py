"""The abuse model: normalised text -> word and character TF-IDF -> one calibrated logistic regression per category.

All heads share one feature space, so one fit of the vectorisers serves them all and the words that drove any
head can be traced back to the comment. Each head trains only on rows whose label for it is known (NaN means
"this corpus does not say"). Probabilities are calibrated with a sigmoid fitted on out-of-fold scores.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import defaultdict

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.validation import check_is_fitted

from moderation.textnorm import normalize, normalize_with_offsets, original_span

WORD_TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token_pattern, so spans match features


def normalize_all(texts) -> list[str]:
    return [normalize(text) for text in texts]


def make_features(word_ngrams=(1, 2), char_ngrams=(3, 5), max_features=100_000, min_df=2) -> Pipeline:
    """Normalisation then word and char_wb TF-IDF side by side (char n-grams catch spellings words miss)."""
    common = {"sublinear_tf": True, "min_df": min_df, "max_features": max_features, "dtype": np.float32,
              "lowercase": False}
    return Pipeline([
        ("normalize", FunctionTransformer(normalize_all)),
        ("tfidf", FeatureUnion([
            ("word", TfidfVectorizer(ngram_range=word_ngrams, **common)),
            ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=char_ngrams, **common)),
        ])),
    ])


def _as_texts(X) -> list[str]:
    if isinstance(X, pd.DataFrame):
        X = X["text"]
    if isinstance(X, str):
        raise TypeError("expected a list of texts, got one string; wrap it in a list")
    return ["" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text) for text in X]


class AbuseModel(ClassifierMixin, BaseEstimator):
    """Calibrated per-category abuse probabilities from TF-IDF features.

    ``fit(X, Y)``: X texts, Y a DataFrame with one 0/1 column per category (NaN = unknown).
    ``predict_proba(X)`` returns an (n, n_categories) array whose columns follow ``classes_``, like a
    multilabel ``OneVsRestClassifier``.
    """

    def __init__(self, word_ngrams=(1, 2), char_ngrams=(3, 5), max_features=100_000, min_df=2, C=4.0,
                 calibration_folds=5, random_state=0):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.max_features = max_features
        self.min_df = min_df
        self.C = C
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def _head(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, solver="liblinear", max_iter=300)

    def fit(self, X, Y: pd.DataFrame, sample_weight=None, calibrate_on=None):
        """Fit features on all texts, then each head on its labelled rows.

        ``calibrate_on``: rows whose out-of-fold scores fit the calibration (the target domain), as one
        boolean mask or a mask per category; all labelled rows when None.
        """
        texts = _as_texts(X)
        Y = pd.DataFrame(Y).reset_index(drop=True)
        weights = np.ones(len(texts)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        everywhere = np.ones(len(texts), bool)
        self.features_ = make_features(self.word_ngrams, self.char_ngrams, self.max_features, self.min_df)
        features = self.features_.fit_transform(texts)
        self.classes_ = np.array(list(Y.columns))
        self.heads_, self.calibrators_, self.oof_scores_ = {}, {}, {}
        for category in self.classes_:
            known = Y[category].notna().to_numpy()
            labels = Y.loc[known, category].to_numpy().astype(int)
            if np.unique(labels).size < 2:
                raise ValueError(f"category {category!r} needs both classes among its labelled rows, "
                                 f"found only {np.unique(labels).tolist()}")
            rows = features[known]
            self.heads_[category] = self._head().fit(rows, labels, sample_weight=weights[known])
            oof = self._out_of_fold(rows, labels, weights[known])
            self.oof_scores_[category] = (np.flatnonzero(known), oof)
            target = calibrate_on.get(category, everywhere) if isinstance(calibrate_on, dict) else (
                everywhere if calibrate_on is None else calibrate_on)
            use = np.asarray(target, bool)[known]
            use = use if np.unique(labels[use]).size == 2 else np.ones(known.sum(), bool)
            self.calibrators_[category] = LogisticRegression(C=1e4).fit(oof[use, None], labels[use])
        return self

    def _out_of_fold(self, rows, labels, weights) -> np.ndarray:
        """Decision scores for each row from a head that never saw it (features are shared: IDF only)."""
        scores = np.zeros(len(labels))
        if np.unique(labels).size < 2:
            return scores
        folds = StratifiedKFold(self.calibration_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(rows, labels):
            head = clone(self._head()).fit(rows[train], labels[train], sample_weight=weights[train])
            scores[test] = head.decision_function(rows[test])
        return scores

    def transform_features(self, X):
        check_is_fitted(self, "heads_")
        return self.features_.transform(_as_texts(X))

    def proba_from_features(self, features) -> np.ndarray:
        columns = []
        for category in self.classes_:
            raw = self.heads_[category].decision_function(features)
            columns.append(self.calibrators_[category].predict_proba(raw[:, None])[:, 1])
        return np.column_stack(columns) if columns else np.zeros((features.shape[0], 0))

    def predict_proba(self, X) -> np.ndarray:
        return self.proba_from_features(self.transform_features(X))

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X) >= 0.5).astype(int)

    def explain(self, texts, features, categories_per_row: list[list[str]], top: int = 5) -> list[list[dict]]:
        """For each text, the words that pushed the named categories up most, with offsets into the original.

        A feature's contribution is its TF-IDF value times the head's coefficient; word n-grams are shared
        among their words and character n-grams among the words of the whitespace chunk they came from.
        """
        union = self.features_.named_steps["tfidf"]
        word_vocab = union.transformer_list[0][1].vocabulary_
        n_word = len(word_vocab)
        char_vocab = union.transformer_list[1][1].vocabulary_
        lo, hi = self.char_ngrams
        coefs = {c: self.heads_[c].coef_.ravel() for c in self.classes_}
        out = []
        for i, (text, categories) in enumerate(zip(_as_texts(texts), categories_per_row, strict=True)):
            if not categories:
                out.append([])
                continue
            row = features[i]
            value = dict(zip(row.indices.tolist(), row.data.tolist(), strict=True))
            norm, offsets = normalize_with_offsets(text)
            tokens = [m.span() for m in WORD_TOKEN.finditer(norm)]
            shares = _feature_shares(norm, tokens, word_vocab, char_vocab, n_word, lo, hi, value)
            reasons = []
            for category in categories:
                coef = coefs[category]
                weight = defaultdict(float)
                for span, features_of_span in shares.items():
                    weight[span] = sum(share * coef[f] for f, share in features_of_span)
                for (start, end), w in sorted(weight.items(), key=lambda kv: -kv[1])[:top]:
                    if w <= 0:
                        break
                    begin, stop = original_span(offsets, start, end)
                    reasons.append({"term": text[begin:stop], "start": begin, "end": stop, "category": category,
                                    "weight": round(float(w), 4)})
            out.append(sorted(reasons, key=lambda r: -r["weight"]))
        return out


def _feature_shares(norm, tokens, word_vocab, char_vocab, n_word, lo, hi, value) -> dict:
    """Map each token span to (feature index, share of that feature's TF-IDF value) pairs."""
    shares: dict[tuple[int, int], list[tuple[int, float]]] = defaultdict(list)
    words = [norm[a:b] for a, b in tokens]
    for n in (1, 2):
        for k in range(len(words) - n + 1):
            f = word_vocab.get(" ".join(words[k:k + n]))
            if f is not None and f in value:
                for span in tokens[k:k + n]:
                    shares[span].append((f, value[f] / n))
    chunk_counts = []
    totals: dict[int, int] = defaultdict(int)
    starts = [a for a, _ in tokens]
    for chunk in re.finditer(r"\S+", norm):
        counts = _char_ngram_counts(f" {chunk.group()} ", char_vocab, n_word, lo, hi, value)
        for f, count in counts.items():
            totals[f] += count
        first, last = bisect_left(starts, chunk.start()), bisect_left(starts, chunk.end())
        inside = [span for span in tokens[first:last] if span[1] <= chunk.end()]
        chunk_counts.append((inside or [chunk.span()], counts))
    for inside, counts in chunk_counts:
        for f, count in counts.items():
            for span in inside:
                shares[span].append((f, value[f] * count / totals[f] / len(inside)))
    return shares


def _char_ngram_counts(padded: str, char_vocab, n_word, lo, hi, value) -> dict[int, int]:
    """The char_wb n-grams of one padded word, as scikit-learn's analyzer makes them, by feature index."""
    counts: dict[int, int] = defaultdict(int)
    for n in range(lo, hi + 1):
        grams = [padded] if len(padded) < n else [padded[k:k + n] for k in range(len(padded) - n + 1)]
        for gram in grams:
            f = char_vocab.get(gram)
            if f is not None and f + n_word in value:
                counts[f + n_word] += 1
        if len(padded) < n:
            break
    return counts
