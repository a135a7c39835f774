"""Off-topic model: is a reader comment about the article it is posted under?

Each feature is cheap and can be shown to a moderator: TF-IDF similarity to the whole article and to its
closest passage, character n-gram similarity (survives inflections and misspellings) and how the article
ranks against other articles for this comment (``char_rank``: a short question stands out as well as a long
article), similarity in an LSA topic space (survives paraphrase), names and rare terms shared with it or not,
links, phone numbers, e-mail addresses, promotional wording, shouting, length, text copy-pasted across the
batch, and a small comment-only TF-IDF score. Two logistic regressions combine them: one for comments with an
article, one for comments judged alone (``basis`` says which). The comparison features the regression learns
from are computed out-of-fold, and the wording score never learns from comments moved under another article
(``placed`` rows). The spam signals (links, phone numbers, e-mail addresses, promotional words, duplicates)
are added with set weights instead: the training corpora hold almost no spam, so a regression cannot learn
them, and a site can tune them without retraining.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import GroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler, normalize

from moderation.corpora.offtopic import BASIS_EVALUATIONS, MOVED_KINDS, majority_not_relevant
from moderation.vectorize import CharTfidf

URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    r"|(?<![@\w.-])[a-z0-9-]+\.(?:com|net|org|info|biz|ru|io|ly|co\.uk)\b[^\s<>\"']*",
    re.IGNORECASE,
)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
PHONE = re.compile(r"(?<![\w/.])(?:\+?\d{1,3}[\s.-])?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}(?![\w/])")
PROMO = re.compile(
    r"\b(?:discounts?|coupons?|promo(?: code)?|free shipping|click here|order now|call now|buy now|limited time"
    r"|make money|earn money|per hour|from home|casino|viagra|cialis|loans?|bitcoin|crypto|forex|followers"
    r"|subscribe|whatsapp|telegram|best price|lowest price|cheap|guaranteed|money back)\b|[$€£]\s?\d(?:[\d,.]*\d)?",
    re.IGNORECASE,
)
CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][A-Za-z]+\b|\b[A-Z]{2,}\b")
WORD = re.compile(r"[a-z]+")

COMMENT_FEATURES = ["text_score", "shouting", "length"]
ARTICLE_FEATURES = [
    "cos_article",
    "cos_passage",
    "cos_char",
    "char_rank",
    "cos_topics",
    "overlap",
    "names_shared",
    "names_missing",
    "rare_shared",
    "rare_missing",
    "article_length",
]
COLUMN = {name: i for i, name in enumerate(COMMENT_FEATURES + ARTICLE_FEATURES)}
# Under a short text (a title, a forum question) wording says more; under a full article similarity does.
# The article path is two sets of weights blended by the article's length in distinct content words n:
# sigmoid((log n - log GATE_TOKENS) / GATE_WIDTH) on the long-article set, the rest on the short one.
# 40 words sits between forum questions (95% under 28) and article pages (90% over 46).
GATE_TOKENS = 40
GATE_WIDTH = 0.25
OVERLAP_FEATURES = {
    "cos_article", "cos_passage", "cos_char", "char_rank", "cos_topics", "overlap", "names_shared", "rare_shared"
}
SPAM_PATTERNS = {"link": URL, "phone": PHONE, "email": EMAIL, "promo": PROMO}
SPAM_MESSAGES = {
    "link": "link to another site",
    "phone": "phone number",
    "email": "e-mail address",
    "promo": "promotional wording",
}
TEXT_CHARS = 1000
CHAR_CHARS = 5000
REFERENCE_ARTICLES = 300  # training articles each comment is also compared with, for ``char_rank``
MIN_REVIEW_SHARE = 0.01  # a review threshold that cannot reach its precision still sends this share to review
MIN_REASON_WEIGHT = 0.05  # logit; smaller pushes are noise to a moderator
SIGNAL_WEIGHTS = {"link": 1.0, "phone": 2.0, "email": 2.0, "promo": 1.0, "duplicate": 1.5}


def _text_head(text: str) -> str:
    """What the comment-only TF-IDF part reads: the first TEXT_CHARS characters, lower-cased (bounds its cost)."""
    return text[:TEXT_CHARS].lower()


def _char_head(text: str) -> str:
    """What the character n-gram comparison reads: the first CHAR_CHARS characters (an article's lead)."""
    return text[:CHAR_CHARS].lower()


def _fold_groups(X: pd.DataFrame, texts: list[str], articles: list[str]) -> np.ndarray:
    """What the out-of-fold features keep together: ``group`` where given, else the article (or the comment)."""
    keys = X["group"].astype(str).tolist() if "group" in X else [a or t for t, a in zip(texts, articles, strict=True)]
    return pd.factorize(pd.Series(keys, dtype=object))[0]


def _column(X: pd.DataFrame, name: str) -> list[str]:
    """A text column as clean strings: missing columns, None and NaN become ""."""
    if name not in X:
        return [""] * len(X)
    return ["" if not isinstance(value, str) else value for value in X[name].tolist()]


def duplicate_key(text: str) -> str | None:
    """Same words regardless of case, punctuation, numbers, links and order; None for very short text."""
    words = sorted(set(WORD.findall(URL.sub(" ", text.lower()))))
    return " ".join(words) if len(words) >= 4 else None


def duplicate_counts(texts: list[str]) -> np.ndarray:
    """For each text, how many other texts in the batch share its duplicate key."""
    keys = pd.Series([duplicate_key(text) for text in texts], dtype=object)
    counts = keys.map(keys.value_counts()).fillna(1).to_numpy(float)
    return counts - 1


def shouting(text: str) -> float:
    letters = sum(map(str.isalpha, text))
    return sum(len(word) for word in CAPS_WORD.findall(text)) / letters if letters >= 12 else 0.0


def spam_signals(texts: list[str]) -> np.ndarray:
    """log1p of the matches of each SPAM_PATTERNS pattern, then of the text's near-duplicates in the batch."""
    counts = [[len(pattern.findall(text)) for pattern in SPAM_PATTERNS.values()] for text in texts]
    counts = np.array(counts, dtype=float).reshape(len(texts), len(SPAM_PATTERNS))
    return np.log1p(np.column_stack([counts, duplicate_counts(texts)]))


def names(text: str) -> list[re.Match]:
    """Capitalised tokens that are not sentence starts or stop words: people, places, organisations."""
    return [m for m in NAME.finditer(text) if m.group().lower() not in ENGLISH_STOP_WORDS]


def passages(article: str, words: int) -> list[str]:
    """Paragraphs of the article, long ones cut into ``words``-word pieces."""
    out = []
    for block in re.split(r"\n\s*\n|\n", article):
        tokens = block.split()
        out.extend(" ".join(tokens[i : i + words]) for i in range(0, len(tokens), words))
    return out or [""]


@dataclass
class _Articles:
    """Per-distinct-article state for one batch: computed once, shared by all its comments."""

    codes: np.ndarray
    has_article: np.ndarray
    vectors: sparse.csr_matrix
    char_vectors: sparse.csr_matrix
    topic_vectors: np.ndarray
    passage_vectors: list[sparse.csr_matrix]
    token_sets: list[set[str]]


@dataclass
class _Batch:
    """A scored batch: texts, feature rows, which rows have an article, spam signals, article tokens."""

    texts: list[str]
    features: np.ndarray
    has_article: np.ndarray
    spam: np.ndarray
    article_tokens: list[set[str]]


class OffTopicModel(BaseEstimator, ClassifierMixin):
    """Logistic regression over explainable comment-article features; X has ``text`` and optional ``article``.

    ``y`` may hold fractions (share of annotators calling a comment off-topic): a fraction p is fitted as a
    positive with weight p and a negative with weight 1 - p. ``signal_weights`` (default SIGNAL_WEIGHTS)
    gives the logit added per log1p(count) of each spam signal. ``drop_features`` are held at zero (to measure
    what each feature buys). Near-duplicates are counted within the
    batch passed to ``predict_proba``, so score a page's or a day's comments together.
    """

    def __init__(
        self,
        C: float = 1.0,
        text_C: float = 0.3,
        text_max_features: int = 30000,
        similarity_max_features: int = 50000,
        char_max_features: int = 100_000,
        topics: int = 100,
        rare_df: float = 0.002,
        passage_words: int = 80,
        max_passages: int = 400,
        max_article_chars: int = 100_000,
        signal_weights: dict[str, float] | None = None,
        drop_features: tuple[str, ...] = (),
        inner_folds: int = 2,
        random_state: int = 0,
    ):
        self.C = C
        self.text_C = text_C
        self.text_max_features = text_max_features
        self.similarity_max_features = similarity_max_features
        self.char_max_features = char_max_features
        self.topics = topics
        self.rare_df = rare_df
        self.passage_words = passage_words
        self.max_passages = max_passages
        self.max_article_chars = max_article_chars
        self.signal_weights = signal_weights
        self.drop_features = drop_features
        self.inner_folds = inner_folds
        self.random_state = random_state

    # ----- fitting -------------------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y, sample_weight=None) -> OffTopicModel:
        texts, articles = _column(X, "text"), self._articles(X)
        placed = X["placed"].to_numpy(bool) if "placed" in X else np.zeros(len(texts), dtype=bool)
        y = np.asarray(y, dtype=float)
        if np.any((y < 0) | (y > 1)):
            raise ValueError("y must be 0/1 labels or fractions in [0, 1]")
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.array([0, 1])
        features = self._out_of_fold_features(texts, articles, _fold_groups(X, texts, articles))
        self._fit_representations(texts, articles)

        rows, labels, weights = _expand(y, weight)
        has_article = np.array([article != "" for article in articles], dtype=bool)
        self.comment_text_, self.comment_model_ = self._fit_path(
            texts, features, ~has_article, placed, rows, labels, weights, _comment_design
        )
        self.article_text_, self.article_model_ = self._fit_path(
            texts, features, has_article, placed, rows, labels, weights, _article_design
        )
        return self

    def _fit_representations(self, texts: list[str], articles: list[str]) -> OffTopicModel:
        """The unsupervised text representations the comparison features read, fitted on comments and articles."""
        documents = texts + sorted(set(articles) - {""})
        self.similarity_ = TfidfVectorizer(
            stop_words="english",
            sublinear_tf=True,
            min_df=2,
            max_features=self.similarity_max_features,
            dtype=np.float32,
        ).fit(documents)
        self.char_ = CharTfidf(
            ngram_range=(3, 5),
            preprocessor=_char_head,
            min_df=2,
            sublinear_tf=True,
            max_features=self.char_max_features,
            dtype=np.float32,
        ).fit(documents)
        words = self.similarity_.transform(documents)
        components = max(1, min(self.topics, words.shape[1] - 1))  # a tiny vocabulary caps the topics
        self.topics_ = TruncatedSVD(components, random_state=self.random_state).fit(words)
        df = len(documents) / np.exp(self.similarity_.idf_ - 1)  # smooth idf inverted, up to +1 terms
        vocabulary = np.array(self.similarity_.get_feature_names_out())
        self.common_terms_ = frozenset(vocabulary[df >= max(2.0, self.rare_df * len(documents))].tolist())
        known = sorted(set(articles) - {""})
        sample = np.random.default_rng(self.random_state).permutation(len(known))[:REFERENCE_ARTICLES]
        self.reference_ = self.char_.transform([known[i] for i in sample])
        return self

    def _out_of_fold_features(self, texts: list[str], articles: list[str], groups: np.ndarray) -> np.ndarray:
        """Feature rows the regressions learn from, each from representations fitted without its group.

        Fitted on a pair, the vocabulary, rare terms and topics are shaped by that pair's own words, so
        in-sample similarities overstate what a new article gives and the regression over-trusts them.
        """
        features = np.zeros((len(texts), len(COMMENT_FEATURES) + len(ARTICLE_FEATURES)))
        folds = GroupKFold(min(self.inner_folds, len(np.unique(groups))), shuffle=True, random_state=self.random_state)
        for train, test in folds.split(texts, groups=groups):
            part = clone(self)._fit_representations([texts[i] for i in train], [articles[i] for i in train])
            test_texts, test_articles = [texts[i] for i in test], [articles[i] for i in test]
            features[test] = part._features(test_texts, test_articles, np.zeros(len(test)))[0]
        return features

    def _fit_path(self, texts, features, members, placed, rows, labels, weights, design):
        """A path's own comment-only TF-IDF model and its regression, fitted on the rows of its shape.

        Comments judged alone and comments judged against an article come from different corpora and
        differ in what their wording says, so each path learns from its own rows (all rows if those lack
        a class, so any training set gives both paths). The wording model skips ``placed`` rows, whose
        label says where the comment was put, not what it says.
        """
        if len(np.unique(labels[members[rows]])) < 2:
            members = np.ones(len(texts), dtype=bool)
        if len(np.unique(labels[(members & ~placed)[rows]])) < 2:
            placed = np.zeros(len(texts), dtype=bool)
        worded = (members & ~placed)[rows]
        text_model = self._text_pipeline().fit(
            [texts[i] for i in rows[worded]], labels[worded], logisticregression__sample_weight=weights[worded]
        )
        features = features.copy()
        features[:, 0] = self._out_of_fold_text_scores(
            texts, np.flatnonzero(members), rows[worded], labels[worded], weights[worded]
        )
        keep = members[rows]
        linear = self._linear().fit(
            design(features[rows[keep]]), labels[keep], logisticregression__sample_weight=weights[keep]
        )
        return text_model, linear

    def _text_pipeline(self):
        return make_pipeline(
            CharTfidf(
                ngram_range=(2, 4),
                preprocessor=_text_head,
                min_df=2,
                sublinear_tf=True,
                max_features=self.text_max_features,
                dtype=np.float32,
            ),
            LogisticRegression(C=self.text_C, max_iter=2000),
        )

    def _linear(self):
        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))

    def _out_of_fold_text_scores(self, texts, members, rows, labels, weights) -> np.ndarray:
        """Comment-only TF-IDF logits for the member rows, each from a model that did not see its text."""
        scores = np.zeros(len(texts))
        same_text = pd.factorize(pd.Series([texts[i] for i in members], dtype=object))[0]
        folds = GroupKFold(self.inner_folds, shuffle=True, random_state=self.random_state)
        for train, test in folds.split(members, groups=same_text):
            keep = np.isin(rows, members[train])
            model = self._text_pipeline().fit(
                [texts[i] for i in rows[keep]], labels[keep], logisticregression__sample_weight=weights[keep]
            )
            scores[members[test]] = model.decision_function([texts[i] for i in members[test]])
        return scores

    # ----- features ------------------------------------------------------------------------------------

    def _articles(self, X: pd.DataFrame) -> list[str]:
        return [a[: self.max_article_chars] if a.strip() else "" for a in _column(X, "article")]

    def _prepare_articles(self, articles: list[str]) -> _Articles:
        codes, uniques = pd.factorize(pd.Series(articles, dtype=object))
        uniques = list(uniques)
        analyzer = self.similarity_.build_analyzer()
        pieces = [passages(article, self.passage_words)[: self.max_passages] for article in uniques]
        flat = self.similarity_.transform([p for piece in pieces for p in piece])
        bounds = np.cumsum([0] + [len(piece) for piece in pieces])
        vectors = self.similarity_.transform(uniques)
        return _Articles(
            codes=codes,
            has_article=np.array([article != "" for article in articles], dtype=bool),
            vectors=vectors,
            char_vectors=self.char_.transform(uniques),
            topic_vectors=self._topic_vectors(vectors),
            passage_vectors=[flat[bounds[k] : bounds[k + 1]] for k in range(len(uniques))],
            token_sets=[set(analyzer(article)) for article in uniques],
        )

    def _features(self, texts: list[str], articles: list[str], text_scores: np.ndarray) -> tuple[np.ndarray, _Articles]:
        """One row per comment: COMMENT_FEATURES then ARTICLE_FEATURES (zeros without an article)."""
        prepared = self._prepare_articles(articles)
        comment_vectors = self.similarity_.transform(texts)
        comment_chars = self.char_.transform(texts)
        cos_char = _row_dot(comment_chars, prepared.char_vectors[prepared.codes])
        char_rank = self._rank(comment_chars, cos_char)
        cos_topics = _row_dot(self._topic_vectors(comment_vectors), prepared.topic_vectors[prepared.codes])
        out = np.zeros((len(texts), len(COMMENT_FEATURES) + len(ARTICLE_FEATURES)))
        out[:, 0] = text_scores
        out[:, COLUMN["shouting"]] = [shouting(text) for text in texts]
        out[:, COLUMN["length"]] = [math.log1p(len(text.split())) for text in texts]
        cos_article = _row_dot(comment_vectors, prepared.vectors[prepared.codes])
        cos_passage = np.zeros(len(texts))
        for code in np.unique(prepared.codes[prepared.has_article]):
            members = np.flatnonzero(prepared.codes == code)
            similarity = comment_vectors[members] @ prepared.passage_vectors[code].T
            cos_passage[members] = similarity.max(axis=1).toarray().ravel()
        analyzer = self.similarity_.build_analyzer()
        for i in np.flatnonzero(prepared.has_article):
            tokens = set(analyzer(texts[i]))
            article_tokens = prepared.token_sets[prepared.codes[i]]
            rare = self._rare(tokens)
            found = [m.group().lower() in article_tokens for m in names(texts[i])]
            out[i, len(COMMENT_FEATURES) :] = [
                cos_article[i],
                cos_passage[i],
                cos_char[i],
                char_rank[i],
                cos_topics[i],
                len(tokens & article_tokens) / len(tokens) if tokens else 0.0,
                math.log1p(sum(found)),
                math.log1p(len(found) - sum(found)),
                math.log1p(len(rare & article_tokens)),
                math.log1p(len(rare - article_tokens)),
                math.log1p(len(article_tokens)),
            ]
        out[:, [COLUMN[name] for name in self.drop_features]] = 0.0
        return out, prepared

    def _rank(self, comment_chars: sparse.csr_matrix, cos_char: np.ndarray) -> np.ndarray:
        """Share of the reference training articles less similar to each comment than its own article.

        A generic comment is far from every article and a wordy one near many; against the comment's own
        spread, its article stands out when the comment is about it, however short the article is.
        """
        if self.reference_.shape[0] == 0:
            return np.full(len(cos_char), 0.5)
        others = (comment_chars @ self.reference_.T).toarray()
        return (others < cos_char[:, None]).mean(axis=1)

    def _topic_vectors(self, vectors: sparse.csr_matrix) -> np.ndarray:
        """Unit vectors in the LSA topic space fitted on the training text: similar where the words differ."""
        return normalize(self.topics_.transform(vectors))

    def _rare(self, tokens: set[str]) -> set[str]:
        return {t for t in tokens if t not in self.common_terms_ and t.isalpha()}

    def batch(self, X: pd.DataFrame) -> _Batch:
        """Everything scoring and explaining read from a batch of (comment, article) rows, computed once: the
        near-duplicate counts are counts within this batch."""
        texts, articles = _column(X, "text"), self._articles(X)
        has_article = np.array([article != "" for article in articles], dtype=bool)
        text_scores = np.zeros(len(texts))
        for path_rows, model in ((~has_article, self.comment_text_), (has_article, self.article_text_)):
            if path_rows.any():
                text_scores[path_rows] = model.decision_function([texts[i] for i in np.flatnonzero(path_rows)])
        features, prepared = self._features(texts, articles, text_scores)
        return _Batch(
            texts,
            features,
            prepared.has_article,
            spam_signals(texts),
            [prepared.token_sets[code] for code in prepared.codes],
        )

    def _signal_weights(self) -> np.ndarray:
        weights = {**SIGNAL_WEIGHTS, **(self.signal_weights or {})}
        return np.array([weights[name] for name in [*SPAM_PATTERNS, "duplicate"]])

    def _logits(self, batch: _Batch) -> np.ndarray:
        logits = self.comment_model_.decision_function(_comment_design(batch.features))
        if batch.has_article.any():
            design = _article_design(batch.features[batch.has_article])
            logits[batch.has_article] = self.article_model_.decision_function(design)
        return logits + batch.spam @ self._signal_weights()

    # ----- prediction ----------------------------------------------------------------------------------

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        return self._logits(self.batch(X)) if len(X) else np.zeros(0)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return _as_proba(self.decision_function(X))

    def proba_from_batch(self, batch: _Batch) -> np.ndarray:
        return _as_proba(self._logits(batch))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.decision_function(X) > 0).astype(int)]

    def basis(self, X: pd.DataFrame) -> np.ndarray:
        """ "article" where the comment was judged against an article, "comment" where it was judged alone."""
        return np.where([a != "" for a in self._articles(X)], "article", "comment")

    # ----- explanation ---------------------------------------------------------------------------------

    def explain(self, X: pd.DataFrame, top: int = 3) -> list[list[dict]]:
        """Per row, up to ``top`` reasons pushing toward off-topic, strongest first.

        A reason's weight is its feature's contribution to the logit relative to an average training comment.
        """
        return self.explain_batch(self.batch(X), top=top) if len(X) else []

    def explain_batch(self, batch: _Batch, rows=None, top: int = 3) -> list[list[dict]]:
        """``explain`` for the ``rows`` (default: all) of a batch already computed for scoring."""
        reasons = []
        for i in range(len(batch.texts)) if rows is None else rows:
            text = batch.texts[i]
            with_article = batch.has_article[i]
            model = self.article_model_ if with_article else self.comment_model_
            row = (_article_design if with_article else _comment_design)(batch.features[i : i + 1])[0]
            text_model = self.article_text_ if with_article else self.comment_text_
            found = self._reasons(text, row, _contributions(model, row), batch.article_tokens[i], text_model)
            found += self._spam_reasons(text, batch.spam[i])
            found = [reason for reason in found if reason["weight"] >= MIN_REASON_WEIGHT]
            reasons.append(sorted(found, key=lambda r: -r["weight"])[:top])
        return reasons

    def _reasons(
        self,
        text: str,
        row: np.ndarray,
        contributions: dict[str, tuple[float, float]],
        article_tokens: set[str],
        text_model,
    ) -> list[dict]:
        """Reasons for the features that push this row toward off-topic."""
        found = []
        overlap = sum(w for name, (w, _) in contributions.items() if name in OVERLAP_FEATURES)
        if overlap > 0:
            message = (
                "no overlap with the article"
                if row[COLUMN["overlap"]] == 0
                else f"little overlap with the article (closest passage similarity {row[COLUMN['cos_passage']]:.2f})"
            )
            found.append(_reason("no_overlap", message, overlap))
        for name, (weight, z) in contributions.items():
            if weight <= 0 or name in OVERLAP_FEATURES:
                continue
            if name == "shouting" and row[COLUMN["shouting"]] > 0:
                found.append(_reason("shouting", "written in capitals", weight, CAPS_WORD.search(text)))
            elif name == "length":
                found.append(_reason("length", "very long comment" if z > 0 else "very short comment", weight))
            elif name == "text_score":
                match = self._top_term(text, text_model)
                message = "wording common in off-topic comments" + (f": “{match.group()}”" if match else "")
                found.append(_reason("wording", message, weight, match))
            elif name == "names_missing" and row[COLUMN["names_missing"]] > 0:
                match = next((m for m in names(text) if m.group().lower() not in article_tokens), None)
                found.append(_reason("names_not_in_article", "names not mentioned in the article", weight, match))
            elif name == "rare_missing" and row[COLUMN["rare_missing"]] > 0:
                match = self._first_missing_rare(text, article_tokens)
                found.append(_reason("terms_not_in_article", "specific terms not found in the article", weight, match))
        return found

    def _spam_reasons(self, text: str, spam: np.ndarray) -> list[dict]:
        weights = spam * self._signal_weights()
        found = [
            _reason(name, SPAM_MESSAGES[name], weight, SPAM_PATTERNS[name].search(text))
            for name, weight in zip(SPAM_PATTERNS, weights, strict=False)
            if weight > 0
        ]
        if weights[-1] > 0:
            count = round(math.expm1(spam[-1]))
            found.append(_reason("duplicate", f"same text as {count} other comment{'s' * (count > 1)}", weights[-1]))
        return found

    def _first_missing_rare(self, text: str, article_tokens: set[str]) -> re.Match | None:
        missing = self._rare(set(self.similarity_.build_analyzer()(text))) - article_tokens
        matches = (re.search(rf"\b{re.escape(term)}\b", text, re.IGNORECASE) for term in missing)
        return min((m for m in matches if m), key=lambda m: m.start(), default=None)

    @staticmethod
    def _top_term(text: str, text_model) -> re.Match | None:
        """The word that pushes the comment-only TF-IDF score furthest toward off-topic, as a match in ``text``."""
        words = [m for m in re.finditer(r"\w[\w'’-]*\w", text) if m.group().lower() not in ENGLISH_STOP_WORDS]
        if not words:
            return None
        vectorizer, regression = text_model[0], text_model[-1]
        scores = vectorizer.transform([m.group() for m in words]) @ regression.coef_[0]
        best = int(np.argmax(scores))
        return words[best] if scores[best] > 0 else None


def _expand(y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices, 0/1 labels and weights with each fractional label split into a positive and a negative."""
    index = np.arange(len(y))
    rows = np.concatenate([index, index])
    labels = np.concatenate([np.ones(len(y)), np.zeros(len(y))]).astype(int)
    weights = np.concatenate([weight * y, weight * (1 - y)])
    keep = weights > 0
    return rows[keep], labels[keep], weights[keep]


def _row_dot(a, b) -> np.ndarray:
    """Row-wise dot products of two matrices of the same shape (cosines for unit rows)."""
    product = a.multiply(b) if sparse.issparse(a) else a * b
    return np.asarray(product.sum(axis=1)).ravel()


def _comment_design(features: np.ndarray) -> np.ndarray:
    return features[:, : len(COMMENT_FEATURES)]


def _article_design(features: np.ndarray) -> np.ndarray:
    """The features weighted for a short article, then for a long one (see GATE_TOKENS)."""
    gate = 1.0 / (1.0 + np.exp(-(features[:, [COLUMN["article_length"]]] - math.log1p(GATE_TOKENS)) / GATE_WIDTH))
    return np.column_stack([features * (1.0 - gate), features * gate])


def _contributions(model, row: np.ndarray) -> dict[str, tuple[float, float]]:
    """Per feature: coefficient times standardised value (its push on the logit from the average), and z.

    The short- and long-article pushes of a feature are added; the article's length is context, not a reason.
    """
    scaler, regression = model[0], model[-1]
    z = (row - scaler.mean_) / scaler.scale_
    push = regression.coef_[0] * z
    names_ = ((COMMENT_FEATURES + ARTICLE_FEATURES) * 2)[: len(row)]
    out: dict[str, tuple[float, float]] = {}
    for name, weight, value in zip(names_, push.tolist(), z.tolist(), strict=True):
        previous = out.get(name, (0.0, value))
        out[name] = (previous[0] + weight, previous[1])
    out.pop("article_length", None)
    return out


def _as_proba(logits: np.ndarray) -> np.ndarray:
    positive = 1.0 / (1.0 + np.exp(-logits))
    return np.column_stack([1.0 - positive, positive])


def _reason(signal: str, message: str, weight: float, match: re.Match | None = None) -> dict:
    return {
        "signal": signal,
        "message": message,
        "term": match.group() if match else None,
        "start": match.start() if match else None,
        "end": match.end() if match else None,
        "category": "off_topic",
        "weight": round(float(weight), 4),
    }


# ----- evaluation: grouped cross-validation against the two plain baselines ---------------------------


def cosine_baseline(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """1 - TF-IDF cosine between comment and article (1 without an article)."""
    vectorizer = TfidfVectorizer(sublinear_tf=True).fit(
        _column(train, "text") + sorted(set(_column(train, "article")) - {""})
    )
    similarity = vectorizer.transform(_column(test, "text")).multiply(vectorizer.transform(_column(test, "article")))
    return 1.0 - np.asarray(similarity.sum(axis=1)).ravel()


def comment_only_baseline(train: pd.DataFrame, test: pd.DataFrame) -> np.ndarray:
    """A plain TF-IDF logistic regression on the comment alone, fitted per corpus (the stronger variant)."""
    scores = np.zeros(len(test))
    for corpus in test["corpus"].unique():
        own = train[train["corpus"] == corpus]
        rows, labels, weights = _expand(own["off_topic"].to_numpy(float), np.ones(len(own)))
        at = np.flatnonzero(test["corpus"].to_numpy() == corpus)
        if len(np.unique(labels)) < 2:
            continue
        model = make_pipeline(TfidfVectorizer(), LogisticRegression(max_iter=2000))
        model.fit(own["text"].iloc[rows], labels, logisticregression__sample_weight=weights)
        scores[at] = model.decision_function(test["text"].iloc[at])
    return scores


def stacked_baseline(train: pd.DataFrame, test: pd.DataFrame, folds: int = 3) -> np.ndarray:
    """A logistic regression on [1 - cosine, comment-only score] fitted per corpus, the comment-only scores of
    its training rows out-of-fold (grouped), so the stack learns how far each baseline can be trusted."""
    inner = np.zeros(len(train))
    for fit_rows, score_rows in GroupKFold(folds).split(train, groups=train["group"]):
        inner[score_rows] = comment_only_baseline(train.iloc[fit_rows], train.iloc[score_rows])
    seen = np.column_stack([cosine_baseline(train, train), inner])
    unseen = np.column_stack([cosine_baseline(train, test), comment_only_baseline(train, test)])
    scores = np.zeros(len(test))
    for corpus in test["corpus"].unique():
        own = np.flatnonzero(train["corpus"].to_numpy() == corpus)
        at = np.flatnonzero(test["corpus"].to_numpy() == corpus)
        rows, labels, weights = _expand(train["off_topic"].to_numpy(float)[own], np.ones(len(own)))
        if len(np.unique(labels)) == 2:
            model = make_pipeline(StandardScaler(), LogisticRegression())
            model.fit(seen[own[rows]], labels, logisticregression__sample_weight=weights)
            scores[at] = model.decision_function(unseen[at])
    return scores


BASELINES = {"cosine": cosine_baseline, "comment_lr": comment_only_baseline, "stacked": stacked_baseline}


def corpus_weights(data: pd.DataFrame) -> np.ndarray:
    """Sample weights giving every corpus the same total weight, so the small ones are not drowned."""
    sizes = data["corpus"].map(data["corpus"].value_counts()).to_numpy(float)
    return len(data) / (data["corpus"].nunique() * sizes)


def grouped_scores(
    model: OffTopicModel, data: pd.DataFrame, folds: int = 5, baselines: bool = True, untrained: tuple[str, ...] = ()
) -> pd.DataFrame:
    """Out-of-fold off-topic scores of ``model`` (and the ``BASELINES``), folds keeping each ``group`` together.

    Rows of the ``untrained`` kinds are scored but never trained on (to measure what they teach). Moved copies
    are scored in a batch of their own: a comment never meets its own copy on a site, and would count as a
    near-duplicate of it."""
    scores = pd.DataFrame(0.0, index=data.index, columns=["ours", *(BASELINES if baselines else [])])
    trainable = ~data["kind"].isin(untrained).to_numpy()
    moved = data["kind"].isin(MOVED_KINDS).to_numpy()
    for train, test in GroupKFold(folds).split(data, groups=data["group"]):
        train = train[trainable[train]]
        weights = corpus_weights(data.iloc[train])
        fitted = clone(model).fit(data.iloc[train], data["off_topic"].iloc[train], sample_weight=weights)
        for batch in (test[~moved[test]], test[moved[test]]):
            scores.iloc[batch, 0] = fitted.predict_proba(data.iloc[batch])[:, 1] if len(batch) else []
        for column, baseline in enumerate(BASELINES.values() if baselines else [], start=1):
            scores.iloc[test, column] = baseline(data.iloc[train], data.iloc[test])
    return scores


def auc_table(data: pd.DataFrame, scores: pd.DataFrame, evaluations: dict) -> dict[str, dict[str, float]]:
    """ROC AUC of each score column for each evaluation, with ours minus the best baseline."""
    table = {}
    for name, evaluation in evaluations.items():
        kind = data["kind"]
        mask = (data["corpus"] == evaluation.corpus) & kind.isin(evaluation.positive + evaluation.negative)
        truth = kind[mask].isin(evaluation.positive)
        if truth.nunique() < 2:
            continue
        row = {column: round(float(roc_auc_score(truth, scores.loc[mask, column])), 4) for column in scores}
        row.update(n=int(mask.sum()), positives=int(truth.sum()))
        baselines = [column for column in scores if column in BASELINES]
        if baselines:
            row["ours-best_baseline"] = round(row["ours"] - max(row[column] for column in baselines), 4)
        table[name] = row
    return table


def review_threshold(
    data: pd.DataFrame, scores: np.ndarray, evaluations: dict, precision: float = 0.7
) -> tuple[float, dict[str, dict[str, float]]]:
    """The lowest probability at which at least ``precision`` of the comments sent to review are off-topic;
    where no threshold reaches it, the most precise one that still sends ``MIN_REVIEW_SHARE`` to review.

    Measured on out-of-fold ``scores`` over the ``evaluations`` (one per corpus), each weighing the same
    in total so that no corpus decides alone. Returns the threshold and, per evaluation, the precision,
    recall and share of comments sent to review at it.
    """
    parts = []
    for name, evaluation in evaluations.items():
        mask = (data["corpus"] == evaluation.corpus) & data["kind"].isin(evaluation.positive + evaluation.negative)
        mask = mask.to_numpy()
        parts.append((name, data["kind"][mask].isin(evaluation.positive).to_numpy(), scores[mask]))
    truth = np.concatenate([t for _, t, _ in parts])
    p = np.concatenate([s for _, _, s in parts])
    weight = np.concatenate([np.full(len(t), 1.0 / len(t)) for _, t, _ in parts])
    candidates = np.round(np.arange(0.01, 1.0, 0.01), 2)
    flagged_weight = np.array([(weight * (p >= c)).sum() for c in candidates])
    shares = flagged_weight / weight.sum()
    precisions = np.array([(weight * truth * (p >= c)).sum() for c in candidates]) / np.maximum(flagged_weight, 1e-12)
    reached = np.flatnonzero((precisions >= precision) & (shares > 0))
    if reached.size:
        threshold = float(candidates[reached[0]])
    else:
        threshold = float(candidates[np.argmax(np.where(shares >= MIN_REVIEW_SHARE, precisions, -1))])
    return threshold, {name: flag_report(t, s, threshold) for name, t, s in parts}


def flag_report(truth: np.ndarray, scores: np.ndarray, threshold: float) -> dict[str, float | None]:
    """Precision, recall and share sent to review at ``threshold``, and the share of off-topic rows."""
    truth, flagged = np.asarray(truth, dtype=bool), np.asarray(scores) >= threshold
    return {
        "precision": round(float(truth[flagged].mean()), 3) if flagged.any() else None,
        "recall": round(float(flagged[truth].mean()), 3),
        "sent_to_review": round(float(flagged.mean()), 3),
        "off_topic_share": round(float(truth.mean()), 3),
    }


def basis_thresholds(
    data: pd.DataFrame, scores: np.ndarray, precision: float = 0.7
) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """A review threshold per basis ("article", "comment"), each the lowest at which ``precision`` of the comments
    it sends to review are off-topic on that basis's evaluations, and the per-evaluation report at them."""

    chosen, report = {}, {}
    for basis, evaluations in BASIS_EVALUATIONS.items():
        chosen[basis], at = review_threshold(data, scores, evaluations, precision)
        report |= {name: {"basis": basis, "threshold": chosen[basis], **figures} for name, figures in at.items()}
    c3 = (data["corpus"] == "c3").to_numpy()
    if c3.any():
        majority = majority_not_relevant(data[c3]).to_numpy()
        report["c3 majority not relevant vs the rest"] = {
            "basis": "comment", "threshold": chosen["comment"], **flag_report(majority, scores[c3], chosen["comment"])}
    return chosen, report
