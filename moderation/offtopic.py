"""Off-topic model: is a reader comment about the article it is posted under?

Each feature is cheap and can be shown to a moderator: word and character TF-IDF similarity to the article
and to its closest passage, names and rare terms shared with it or not, links, phone numbers, e-mail
addresses, promotional wording, shouting, length, text copy-pasted across the batch, cues of a reply that
talks to people instead of answering (thanks, a question back, a greeting), and a small comment-only TF-IDF
score. ``OffTopicModel`` says how they are combined.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from moderation.estimator import Classifier, Linear
from moderation.vectorize import CharTfidf, WordTfidf

if TYPE_CHECKING:
    import pandas as pd

LINK_ENDINGS = ("com", "net", "org", "info", "biz", "ru", "io", "ly", "co.uk")
URL = re.compile(
    r"(?:https?://|www\.)[^\s<>\"']+"
    rf"|(?<![@\w.-])[a-z0-9-]+\.(?:{'|'.join(map(re.escape, LINK_ENDINGS))})\b[^\s<>\"']*",
    re.IGNORECASE,
)
EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
PHONE = re.compile(r"(?<![\w/.])(?:\+?\d{1,3}[\s.-])?\(?\d{2,4}\)?[\s.-]\d{3,4}[\s.-]\d{3,4}(?![\w/])")
# Promotional wording. A price alone is not: "$5 billion" is everyday news talk (in 2.6 % of C3's comments, and
# counting it cost C3's ranking 0.005 ROC AUC).
PROMO = re.compile(
    r"\b(?:discounts?|coupons?|promo(?: code)?|free shipping|click here|order now|call now|buy now|limited time"
    r"|make money|earn money|per hour|from home|casino|viagra|cialis|loans?|bitcoin|crypto|forex|followers"
    r"|subscribe|whatsapp|telegram|best price|lowest price|cheap|guaranteed|money back)\b",
    re.IGNORECASE,
)
# PROMO without IGNORECASE, run on lower-cased text: twice as fast, so it serves as PROMO's hint.
PROMO_LOWER = re.compile(PROMO.pattern)
CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
CAPS_HINT = re.compile("[A-Z]{3}").search  # true of every text CAPS_WORD matches in, found twice as fast
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][A-Za-z]+\b|\b[A-Z]{2,}\b")
WORD = re.compile(r"[a-z]+")

# Cues of a forum reply that talks to people rather than answers the question (SemEval's Dialogue and Bad):
# with them, the content question alone ranks Dialogue+Bad vs Good+Potential 0.830 instead of 0.818.
CUES = {
    "thanks": re.compile(r"\b(?:thanks?|thx|thank\s*(?:you|u)|tnx|ty)\b", re.IGNORECASE),
    "question": re.compile(r"\?"),
    "second_person": re.compile(r"\b(?:you|u|ur|your|yours)\b", re.IGNORECASE),
    "greeting": re.compile(r"^\s*(?:hi|hello|dear|hey|@\w+)\b", re.IGNORECASE),
    "laughter": re.compile(r"\b(?:lol|haha\w*|hehe\w*)\b|[:;]-?[)pd(]", re.IGNORECASE),
    "first_person": re.compile(r"\b(?:i|me|my|i'm|im)\b", re.IGNORECASE),
}
# CUES without IGNORECASE, for ASCII text lower-cased first: there they match alike (their letters are lower-case
# ASCII, and lower-casing ASCII moves no word boundary), and case-sensitive searches take half the time.
CUES_LOWER = {name: re.compile(pattern.pattern) for name, pattern in CUES.items()}
# A cheap test that is true of every text its cue matches in (as SPAM_HINTS): laughter's alternation is tried at
# every position, 12 us in a long comment, and five in six of C3's comments hold no colon, semicolon or these
# letters (any character that matches one of them ignoring case lower-cases to it).
LAUGHS = ("lol", "haha", "hehe")
CUE_HINTS = {"laughter": lambda text: ":" in text or ";" in text or any(map(text.lower().__contains__, LAUGHS))}
CUE_MESSAGES = {
    "thanks": "thanks rather than an answer",
    "question": "asks a question back",
    "second_person": "talks to someone",
    "greeting": "greets or addresses someone",
    "laughter": "laughter or an emoticon",
    "first_person": "talks about the writer",
}
COMMENT_FEATURES = ["text_score", "shouting", "length", *CUES]
ARTICLE_FEATURES = [
    "cos_article",
    "cos_passage",
    "cos_chars",
    "overlap",
    "names_shared",
    "names_missing",
    "rare_shared",
    "rare_missing",
    "article_length",
]
COLUMN = {name: i for i, name in enumerate(COMMENT_FEATURES + ARTICLE_FEATURES)}
# The relevance question reads the comment's length too: a short comment shares few words with any article.
RELEVANCE_FEATURES = ["length", *ARTICLE_FEATURES]
# Under a short text (a title, a forum question) wording says more; under a full article similarity does.
# The relevance regression is two sets of weights blended by the article's length in distinct content words n:
# sigmoid((log n - log GATE_TOKENS) / GATE_WIDTH) on the long-article set, the rest on the short one.
# 40 words sits between forum questions (95% under 28) and article pages (90% over 46).
GATE_TOKENS = 40
GATE_WIDTH = 0.25
OVERLAP_FEATURES = {"cos_article", "cos_passage", "cos_chars", "overlap", "names_shared", "rare_shared"}
SPAM_PATTERNS = {"link": URL, "phone": PHONE, "email": EMAIL, "promo": PROMO}
_DOTTED_ENDINGS = tuple(f".{ending}" for ending in LINK_ENDINGS)
_LOOSE_LINK = re.compile(r"://|www\.|\.\w", re.IGNORECASE).search


def may_link(text: str) -> bool:
    """False only where URL cannot match. An ASCII text needs one of URL's literal parts in lower case ("://",
    "www." or a dot and an ending), which a thirtieth of C3's comments hold, against a sixth for a looser regex (a
    dot before any letter); in other text "İ" and "ı" match "i" ignoring case but lower-case to something else,
    so it takes the looser test."""
    if not text.isascii():
        return _LOOSE_LINK(text) is not None
    text = text.lower()
    return "://" in text or "www." in text or any(map(text.__contains__, _DOTTED_ENDINGS))


# A cheap test that is true of every text its pattern matches in: most comments skip the patterns' slow scans.
SPAM_HINTS = {
    "link": may_link,
    "phone": re.compile(r"\d\d\d").search,  # \d{3} finds the same, twice as slowly
    "email": lambda text: "@" in text,
    "promo": lambda text: PROMO_LOWER.search(text.lower()) is not None,
}
SPAM_MESSAGES = {
    "link": "link to another site",
    "phone": "phone number",
    "email": "e-mail address",
    "promo": "promotional wording",
}
TEXT_CHARS = 1000  # read by the comment-only TF-IDF score
# Read by the character similarity: a comment's opening and an article's first paragraphs carry the subject, and
# reading more cost a tenth of the speed with articles for no change in ranking (0.0006 ROC AUC at most).
CHAR_COMMENT_CHARS = 300
CHAR_ARTICLE_CHARS = 2000
MIN_REASON_WEIGHT = 0.05  # logit; smaller pushes are noise to a moderator
SIGNAL_WEIGHTS = {"link": 1.0, "phone": 2.0, "email": 2.0, "promo": 1.0, "duplicate": 1.5}
# A link or a promotional word alone in a longer comment is a citation or a figure of speech ("cheap oil"), not an
# advert: in C3, at least two annotators called a comment not relevant in 23 % of those with a link and up to 30
# words, 1 % of those with more (9 % of all comments; promotional words 36 % and 1 %). So these two signals count
# in a comment of up to CITING_WORDS words, or beside another signal (a link beside promotional wording, a link
# posted in copies). Firing on citations cost C3's ranking 0.010 ROC AUC; with the gate, 0.003 (grouped CV: any
# limit from 15 to 30 words ranked within 0.0005, 40 words 0.0016 lower).
CITING_WORDS = 30
CITING_SIGNALS = ("link", "promo")


def _text_head(text: str, chars: int = TEXT_CHARS) -> str:
    """The first ``chars`` characters, lower-cased: what the character n-gram views read (bounds their cost)."""
    return text[:chars].lower()


def column(X: pd.DataFrame, name: str) -> list[str]:
    """A text column as clean strings: missing columns, None and NaN become ""."""
    if name not in X:
        return [""] * len(X)
    return ["" if not isinstance(value, str) else value for value in X[name].tolist()]


def duplicate_key(text: str) -> str | None:
    """Same words regardless of case, punctuation, numbers, links and order; None for very short text."""
    text = text.lower()
    words = sorted(set(WORD.findall(URL.sub(" ", text) if may_link(text) else text)))
    return " ".join(words) if len(words) >= 4 else None


def duplicate_hashes(texts: list[str]) -> np.ndarray:
    """A stable 64-bit hash of each text's duplicate key, 0 where it has none: what counting copies across
    chunks, files, processes or machines needs to exchange (the same in every process, unlike ``hash``)."""
    out = np.zeros(len(texts), dtype=np.uint64)
    for i, text in enumerate(texts):
        key = duplicate_key(text)
        if key is not None:
            digest = hashlib.blake2b(key.encode("utf-8", "surrogatepass"), digest_size=8).digest()
            out[i] = int.from_bytes(digest, "little") or 1
    return out


@dataclass(frozen=True)
class CopyCounts:
    """How many comments of a whole input share each duplicate-key hash.

    The "same text as N other comments" signal reads it, so that a comment's score never depends on which
    chunk, partition or batch it is scored in: count every row's ``duplicate_hashes`` first (``of``, or add up
    per-partition value counts into ``hashes``/``counts``), then give ``others(hashes)`` of each chunk's rows
    to ``OffTopicModel.batch``.
    """

    hashes: np.ndarray  # sorted, unique, without 0
    counts: np.ndarray

    @classmethod
    def of(cls, hashes: np.ndarray) -> CopyCounts:
        uniques, counts = np.unique(hashes[hashes != 0], return_counts=True)
        return cls(uniques, counts)

    def others(self, hashes: np.ndarray) -> np.ndarray:
        """For each hash, how many other comments share it (0 for texts without a key)."""
        if not len(self.hashes):
            return np.zeros(len(hashes))
        at = np.minimum(np.searchsorted(self.hashes, hashes), len(self.hashes) - 1)
        found = (hashes != 0) & (self.hashes[at] == hashes)
        return np.where(found, self.counts[at] - 1, 0).astype(float)


def duplicate_counts(texts: list[str]) -> np.ndarray:
    """For each text, how many other texts in the batch share its duplicate key."""
    hashes = duplicate_hashes(texts)
    return CopyCounts.of(hashes).others(hashes)


def shouting(text: str) -> float:
    if CAPS_HINT(text) is None:  # four in five comments: CAPS_WORD's leading \b keeps re from skipping ahead
        return 0.0
    capitals = sum(len(word) for word in CAPS_WORD.findall(text))
    if not capitals:  # most comments: no need to count the letters
        return 0.0
    letters = sum(map(str.isalpha, text))
    return capitals / letters if letters >= 12 else 0.0


def spam_signals(texts: list[str], copies: np.ndarray | None = None) -> np.ndarray:
    """log1p of the matches of each SPAM_PATTERNS pattern, then of the text's near-duplicates: ``copies``
    (``CopyCounts.others``), else counted within ``texts``; a lone citation-like signal in a long comment is 0
    (``drop_citations``)."""
    counts = [[len(pattern.findall(text)) if SPAM_HINTS[name](text) else 0 for name, pattern in SPAM_PATTERNS.items()]
              for text in texts]
    counts = np.array(counts, dtype=float).reshape(len(texts), len(SPAM_PATTERNS))
    counts = np.column_stack([counts, duplicate_counts(texts) if copies is None else copies])
    return np.log1p(drop_citations(texts, counts))


def drop_citations(texts: list[str], counts: np.ndarray) -> np.ndarray:
    """``counts`` (one column per SPAM_PATTERNS pattern, then copies) with CITING_SIGNALS set to 0 in comments of
    more than CITING_WORDS words where they are the only signal that fired (see CITING_WORDS)."""
    citing = [list(SPAM_PATTERNS).index(name) for name in CITING_SIGNALS]
    lone = ((counts > 0).sum(axis=1) == 1) & (counts[:, citing] > 0).any(axis=1)
    rows = [i for i in np.flatnonzero(lone) if len(texts[i].split()) > CITING_WORDS]
    out = counts.copy()
    out[np.ix_(rows, citing)] = 0.0
    return out


def cues(texts: list[str]) -> np.ndarray:
    """1 where a text shows each of CUES, else 0: one row per text. An ASCII text is lower-cased once and searched
    with CUES_LOWER (the same matches there, faster)."""
    ignoring = [(CUE_HINTS.get(name), pattern.search) for name, pattern in CUES.items()]
    lowered = [(CUE_HINTS.get(name), pattern.search) for name, pattern in CUES_LOWER.items()]
    rows = []
    for text in texts:
        tests, text = (lowered, text.lower()) if text.isascii() else (ignoring, text)
        rows.append([(hint is None or hint(text)) and search(text) is not None for hint, search in tests])
    return np.array(rows, dtype=float).reshape(len(texts), len(CUES))


def names(text: str, stop_words: frozenset[str]) -> list[re.Match]:
    """Capitalised tokens that are not sentence starts or stop words: people, places, organisations."""
    return [m for m in NAME.finditer(text) if m.group().lower() not in stop_words]


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
    passage_vectors: list[sparse.csr_matrix]
    token_sets: list[set[str]]


@dataclass(frozen=True)
class TextScore:
    """The comment-only TF-IDF score: fitted vectorisers side by side and a logistic regression on their features."""

    vectorizers: tuple[CharTfidf | WordTfidf, ...]
    linear: Linear

    @classmethod
    def of(cls, pipeline) -> TextScore:
        """From a fitted ``Pipeline`` of a ``FeatureUnion`` and the regression (``OffTopicModel._text_pipeline``)."""
        return cls(tuple(vectorizer for _, vectorizer in pipeline[0].transformer_list), Linear.of(pipeline[-1]))

    def transform(self, texts: list[str]) -> sparse.csr_matrix:
        return sparse.hstack([vectorizer.transform(texts) for vectorizer in self.vectorizers], format="csr")

    def decision_function(self, texts: list[str]) -> np.ndarray:
        return self.linear.decision_function(self.transform(texts))


@dataclass
class _Batch:
    """A scored batch: texts, feature rows, which rows have an article, spam signals, article tokens."""

    texts: list[str]
    features: np.ndarray
    has_article: np.ndarray
    spam: np.ndarray
    article_tokens: list[set[str]]


class OffTopicModel(Classifier):
    """Is a comment off-topic under its article? X has ``text`` and optional ``article``.

    Two questions, each a logistic regression a moderator can read, joined as "either":
    - content: is the comment off-topic whatever it sits under (chat, thanks, junk)? Comment-only TF-IDF
      score, shouting and length; one set of weights for comments with an article, one for comments alone.
    - relevance (only with an article): was it written under a different article? Similarity to the article
      and its closest passage in words and in character n-grams (which survive inflection and spelling),
      shared and missing names and rare terms, each weighted by the article's length (see GATE_TOKENS).
    p_off_topic = 1 - (1 - p_content) (1 - p_relevance), with an article p_content = sigmoid(content_scale *
    logit) and p_relevance = sigmoid(relevance_scale * logit + relevance_shift), each blended from its (short
    article, long article) values by the same gate: under a forum question the content logit is sharpened, so a
    reply whose wording is confidently fine leaves the decision to the similarity, while chat and junk still
    decide on their wording; under a full article the similarity decides more and the wording, learned from
    forum answers (news comments carry no content labels with an article), counts half. Spam
    signals (links, phone numbers, e-mail addresses, promotional words, duplicates) are added to the logit with
    set weights: the corpora hold almost no spam, so a regression cannot learn them, and a site can tune them
    (``signal_weights``, default SIGNAL_WEIGHTS) without retraining.
    Near-duplicates are counted within the batch passed to ``predict_proba`` unless counts are given.
    """

    def __init__(
        self,
        C: float = 1.0,
        text_C: float = 0.3,
        text_max_features: int = 30000,
        similarity_max_features: int = 50000,
        char_max_features: int = 50000,
        rare_df: float = 0.002,
        passage_words: int = 80,
        max_passages: int = 400,
        max_article_chars: int = 100_000,
        content_scale: tuple[float, float] = (3.0, 0.5),
        relevance_scale: tuple[float, float] = (2.0, 2.0),
        relevance_shift: tuple[float, float] = (-1.0, 0.0),
        signal_weights: dict[str, float] | None = None,
        inner_folds: int = 5,
        random_state: int = 0,
    ):
        self.C = C
        self.text_C = text_C
        self.text_max_features = text_max_features
        self.similarity_max_features = similarity_max_features
        self.char_max_features = char_max_features
        self.rare_df = rare_df
        self.passage_words = passage_words
        self.max_passages = max_passages
        self.max_article_chars = max_article_chars
        self.content_scale = content_scale
        self.relevance_scale = relevance_scale
        self.relevance_shift = relevance_shift
        self.signal_weights = signal_weights
        self.inner_folds = inner_folds
        self.random_state = random_state

    # ----- fitting -------------------------------------------------------------------------------------

    def fit(self, X: pd.DataFrame, y, sample_weight=None, groups=None) -> OffTopicModel:
        """Fit both questions. ``y`` may hold fractions (the share of annotators calling a comment off-topic):
        a fraction p is fitted as a positive with weight p and a negative with weight 1 - p.

        An optional ``pair`` column of X says where a row came from: "moved" for a comment placed under
        another article (the relevance question's positives), "own" for the unlabelled original of a moved
        comment (a relevance negative only), "" or missing for a row labelled as found (content and, with an
        article, a relevance negative). ``groups`` (article, question, site) keeps each group within one
        inner fold of the comment-only scores the content regression learns from; without it they are random.
        """
        texts, articles = column(X, "text"), self._articles(X)
        y = np.asarray(y, dtype=float)
        if np.any((y < 0) | (y > 1)):
            raise ValueError("y must be 0/1 labels or fractions in [0, 1]")
        pair = np.array(column(X, "pair"), dtype=object)
        if not set(pair) <= {"", "own", "moved"}:
            raise ValueError('pair must be "", "own" or "moved"')
        weight = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
        self.classes_ = np.array([0, 1])
        documents = texts + sorted(set(articles) - {""})
        self.similarity_ = WordTfidf(
            stop_words="english", sublinear_tf=True, min_df=2, max_features=self.similarity_max_features,
            dtype=np.float32,
        ).fit(documents)
        self.char_similarity_ = CharTfidf(
            ngram_range=(3, 5), sublinear_tf=True, min_df=2, max_features=self.char_max_features, dtype=np.float32,
        ).fit([_text_head(text, CHAR_COMMENT_CHARS) for text in texts]
              + [_text_head(article, CHAR_ARTICLE_CHARS) for article in documents[len(texts):]])
        df = len(documents) / np.exp(self.similarity_.idf_ - 1)  # smooth idf inverted, up to +1 terms
        terms = self.similarity_.vocabulary_
        vocabulary = np.array(sorted(terms, key=terms.__getitem__))
        self.common_terms_ = frozenset(vocabulary[df >= max(2.0, self.rare_df * len(documents))].tolist())

        features, _ = self._features(texts, articles, np.zeros(len(texts)))
        has_article = np.array([article != "" for article in articles], dtype=bool)
        labelled = pair == ""
        rows, labels, weights = expand(y, weight)
        folds = self._inner_folds(groups, len(texts))
        self.comment_text_, self.comment_model_ = self._fit_content(
            texts, features, labelled & ~has_article, labelled, rows, labels, weights, folds
        )
        self.article_text_, self.article_model_ = self._fit_content(
            texts, features, labelled & has_article, labelled, rows, labels, weights, folds
        )
        moved = (pair == "moved").astype(int)
        if len(np.unique(moved[has_article])) < 2:
            raise ValueError('the relevance question needs rows with pair "moved" and rows under their own article')
        self.relevance_model_ = Linear.of(self._linear().fit(
            _relevance_design(features[has_article]), moved[has_article],
            logisticregression__sample_weight=weight[has_article],
        ))
        return self

    def _inner_folds(self, groups, n: int) -> np.ndarray:
        """Each row's inner fold: by group where groups are given, else at random."""
        from sklearn.model_selection import GroupKFold, KFold

        index = np.zeros((n, 1))
        if groups is None:
            split = KFold(self.inner_folds, shuffle=True, random_state=self.random_state).split(index)
        else:
            split = GroupKFold(self.inner_folds).split(index, groups=np.asarray(groups))
        fold = np.zeros(n, dtype=int)
        for k, (_, test) in enumerate(split):
            fold[test] = k
        return fold

    def _fit_content(self, texts, features, members, labelled, rows, labels, weights, folds):
        """A path's own comment-only TF-IDF model and its content regression, fitted on the rows of its shape.

        Comments judged alone and comments judged against an article come from different corpora and
        differ in what their wording says, so each path learns from its own rows (all labelled rows if those
        lack a class, so any training set gives both paths).
        """
        keep = members[rows]
        if len(np.unique(labels[keep])) < 2:
            members, keep = labelled, labelled[rows]
        rows, labels, weights = rows[keep], labels[keep], weights[keep]
        text_model = self._text_pipeline().fit(
            [texts[i] for i in rows], labels, logisticregression__sample_weight=weights
        )
        features = features.copy()
        features[:, 0] = self._out_of_fold_text_scores(texts, np.flatnonzero(members), rows, labels, weights, folds)
        linear = self._linear().fit(_content_design(features[rows]), labels, logisticregression__sample_weight=weights)
        return TextScore.of(text_model), Linear.of(linear)

    def _text_pipeline(self):
        """Character n-grams (spelling, inflection, emoticons) beside word unigrams and bigrams (phrases)."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline, make_union

        shared = dict(preprocessor=_text_head, min_df=2, sublinear_tf=True, max_features=self.text_max_features,
                      dtype=np.float32)
        return make_pipeline(
            make_union(CharTfidf(ngram_range=(2, 4), **shared), WordTfidf(ngram_range=(1, 2), **shared)),
            LogisticRegression(C=self.text_C, max_iter=2000),
        )

    def _linear(self):
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(StandardScaler(), LogisticRegression(C=self.C, max_iter=2000))

    def _out_of_fold_text_scores(self, texts, members, rows, labels, weights, folds) -> np.ndarray:
        """Comment-only TF-IDF logits for the member rows, each from a model that did not see its fold."""
        scores = np.zeros(len(texts))
        for k in np.unique(folds[members]):
            test = members[folds[members] == k]
            keep = np.isin(rows, members) & (folds[rows] != k)
            model = self._text_pipeline().fit(
                [texts[i] for i in rows[keep]], labels[keep], logisticregression__sample_weight=weights[keep]
            )
            scores[test] = model.decision_function([texts[i] for i in test])
        return scores

    # ----- features ------------------------------------------------------------------------------------

    def _articles(self, X: pd.DataFrame) -> list[str]:
        return [a[: self.max_article_chars] if a.strip() else "" for a in column(X, "article")]

    def _prepare_articles(self, articles: list[str]) -> _Articles:
        numbers: dict[str, int] = {}
        codes = np.array([numbers.setdefault(article, len(numbers)) for article in articles], dtype=np.int64)
        uniques = list(numbers)
        analyzer = self.similarity_.analyze
        pieces = [passages(article, self.passage_words)[: self.max_passages] for article in uniques]
        flat = self.similarity_.transform([p for piece in pieces for p in piece])
        bounds = np.cumsum([0] + [len(piece) for piece in pieces])
        return _Articles(
            codes=codes,
            has_article=np.array([article != "" for article in articles], dtype=bool),
            vectors=self.similarity_.transform(uniques),
            char_vectors=self.char_similarity_.transform([_text_head(a, CHAR_ARTICLE_CHARS) for a in uniques]),
            passage_vectors=[flat[bounds[k] : bounds[k + 1]] for k in range(len(uniques))],
            token_sets=[set(analyzer(article)) for article in uniques],
        )

    def _features(self, texts: list[str], articles: list[str], text_scores: np.ndarray) -> tuple[np.ndarray, _Articles]:
        """One row per comment: COMMENT_FEATURES then ARTICLE_FEATURES (zeros without an article)."""
        prepared = self._prepare_articles(articles)
        out = np.zeros((len(texts), len(COMMENT_FEATURES) + len(ARTICLE_FEATURES)))
        out[:, 0] = text_scores
        out[:, COLUMN["shouting"]] = [shouting(text) for text in texts]
        out[:, COLUMN["length"]] = [math.log1p(len(text.split())) for text in texts]
        out[:, COLUMN["thanks"] : len(COMMENT_FEATURES)] = cues(texts)
        with_article = np.flatnonzero(prepared.has_article)
        if not len(with_article):
            return out, prepared
        codes = prepared.codes[with_article]
        comment_vectors = self.similarity_.transform([texts[i] for i in with_article])  # only these rows read it
        cos_article = _row_dots(comment_vectors, prepared.vectors[codes])
        heads = self.char_similarity_.transform([_text_head(texts[i], CHAR_COMMENT_CHARS) for i in with_article])
        cos_char = _row_dots(heads, prepared.char_vectors[codes])
        cos_passage = np.zeros(len(texts))
        for code in np.unique(codes):
            members = np.flatnonzero(codes == code)
            similarity = comment_vectors[members] @ prepared.passage_vectors[code].T
            cos_passage[with_article[members]] = similarity.max(axis=1).toarray().ravel()
        analyzer, stop_words = self.similarity_.analyze, self.similarity_.stop_words_
        for k, i in enumerate(with_article):
            tokens = set(analyzer(texts[i]))
            article_tokens = prepared.token_sets[prepared.codes[i]]
            rare = self._rare(tokens)
            found = [m.group().lower() in article_tokens for m in names(texts[i], stop_words)]
            out[i, len(COMMENT_FEATURES) :] = [
                cos_article[k],
                cos_passage[i],
                cos_char[k],
                len(tokens & article_tokens) / len(tokens) if tokens else 0.0,
                math.log1p(sum(found)),
                math.log1p(len(found) - sum(found)),
                math.log1p(len(rare & article_tokens)),
                math.log1p(len(rare - article_tokens)),
                math.log1p(len(article_tokens)),
            ]
        return out, prepared

    def _rare(self, tokens: set[str]) -> set[str]:
        return {t for t in tokens if t not in self.common_terms_ and t.isalpha()}

    def batch(self, X: pd.DataFrame, copies: np.ndarray | None = None) -> _Batch:
        """Everything scoring and explaining read from a batch of (comment, article) rows, computed once.

        ``copies``: per row, how many other comments of the whole input share its duplicate key
        (``CopyCounts.others``); without it, near-duplicates are counted within this batch."""
        texts, articles = column(X, "text"), self._articles(X)
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
            spam_signals(texts, copies),
            [prepared.token_sets[code] for code in prepared.codes],
        )

    def _signal_weights(self) -> np.ndarray:
        weights = {**SIGNAL_WEIGHTS, **(self.signal_weights or {})}
        return np.array([weights[name] for name in [*SPAM_PATTERNS, "duplicate"]])

    def content_logits(self, batch: _Batch) -> np.ndarray:
        """The content question's logit per row: off-topic whatever article it sits under (scaled with one)."""
        design = _content_design(batch.features)
        logits = self.comment_model_.decision_function(design)
        if batch.has_article.any():
            features = batch.features[batch.has_article]
            scale = _blend(features, self.content_scale)
            logits[batch.has_article] = scale * self.article_model_.decision_function(design[batch.has_article])
        return logits

    def relevance_logits(self, batch: _Batch) -> np.ndarray:
        """The relevance question's scaled logit per row: written under another article (-inf without one)."""
        logits = np.full(len(batch.texts), -np.inf)
        if batch.has_article.any():
            features = batch.features[batch.has_article]
            raw = self.relevance_model_.decision_function(_relevance_design(features))
            scale, shift = self._relevance_scaling(features)
            logits[batch.has_article] = scale * raw + shift
        return logits

    def _relevance_scaling(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per row, the relevance logit's scale and shift, blended by the article's length."""
        return _blend(features, self.relevance_scale), _blend(features, self.relevance_shift)

    def _logits(self, batch: _Batch) -> np.ndarray:
        return _either(self.content_logits(batch), self.relevance_logits(batch)) + batch.spam @ self._signal_weights()

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

        A reason's weight is its feature's push on its question's logit relative to an average training comment.
        """
        return self.explain_batch(self.batch(X), top=top) if len(X) else []

    def explain_batch(self, batch: _Batch, rows=None, top: int = 3) -> list[list[dict]]:
        """``explain`` for the ``rows`` (default: all) of a batch already computed for scoring."""
        rows = list(range(len(batch.texts)) if rows is None else rows)
        pushes = [self._pushes(batch.features[i : i + 1], batch.has_article[i]) for i in rows]
        wording = self._top_terms(batch, [i for i, push in zip(rows, pushes, strict=True) if push["text_score"][0] > 0])
        reasons = []
        for i, push in zip(rows, pushes, strict=True):
            text = batch.texts[i]
            found = self._reasons(text, batch.features[i], push, batch.article_tokens[i], wording.get(i))
            found += self._spam_reasons(text, batch.spam[i])
            found = [reason for reason in found if reason["weight"] >= MIN_REASON_WEIGHT]
            reasons.append(sorted(found, key=lambda r: -r["weight"])[:top])
        return reasons

    def _pushes(self, features: np.ndarray, with_article: bool) -> dict[str, tuple[float, float]]:
        """One row's features' pushes toward off-topic (and z-values): the content question's, scaled with an
        article, and the relevance question's article features."""
        model = self.article_model_ if with_article else self.comment_model_
        pushes = _contributions(model, _content_design(features)[0], COMMENT_FEATURES)
        if with_article:
            content_scale = _blend(features, self.content_scale)[0]
            pushes = {name: (content_scale * w, z) for name, (w, z) in pushes.items()}
            relevance = _contributions(self.relevance_model_, _relevance_design(features)[0], RELEVANCE_FEATURES)
            scale = self._relevance_scaling(features)[0][0]
            pushes.update({name: (scale * w, z) for name, (w, z) in relevance.items() if name in ARTICLE_FEATURES})
        return pushes

    def _reasons(
        self,
        text: str,
        row: np.ndarray,
        contributions: dict[str, tuple[float, float]],
        article_tokens: set[str],
        top_term: re.Match | None,
    ) -> list[dict]:
        """Reasons for the features that push this row (raw feature values) toward off-topic; ``top_term``: its
        word that pushes the comment-only score most (``_top_terms``), when that score pushes."""
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
                message = "wording common in off-topic comments" + (f": “{top_term.group()}”" if top_term else "")
                found.append(_reason("wording", message, weight, top_term))
            elif name in CUES and row[COLUMN[name]] > 0:
                found.append(_reason(name, CUE_MESSAGES[name], weight, CUES[name].search(text)))
            elif name == "names_missing" and row[COLUMN["names_missing"]] > 0:
                match = next((m for m in names(text, self.similarity_.stop_words_)
                              if m.group().lower() not in article_tokens), None)
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
        missing = self._rare(set(self.similarity_.analyze(text))) - article_tokens
        matches = (re.search(rf"\b{re.escape(term)}\b", text, re.IGNORECASE) for term in missing)
        return min((m for m in matches if m), key=lambda m: m.start(), default=None)

    def _top_terms(self, batch: _Batch, rows: list[int]) -> dict[int, re.Match | None]:
        """Per row, the word that pushes its comment-only TF-IDF score furthest toward off-topic, as a match in its
        text (None when no word does). Each word is a document of its own, so the words of all rows are scored
        in one transform per model, with the scores each would get alone."""
        stop_words = self.similarity_.stop_words_
        out: dict[int, re.Match | None] = {}
        for with_article, text_model in ((False, self.comment_text_), (True, self.article_text_)):
            chosen = [i for i in rows if batch.has_article[i] == with_article]
            words = [[m for m in re.finditer(r"\w[\w'’-]*\w", batch.texts[i]) if m.group().lower() not in stop_words]
                     for i in chosen]
            flat = [m.group() for found in words for m in found]
            scores = text_model.transform(flat) @ text_model.linear.coef[0] if flat else np.zeros(0)
            end = 0
            for i, found in zip(chosen, words, strict=True):
                row_scores, end = scores[end : end + len(found)], end + len(found)
                best = int(np.argmax(row_scores)) if found else 0
                out[i] = found[best] if found and row_scores[best] > 0 else None
        return out


def expand(y: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices, 0/1 labels and weights with each fractional label split into a positive and a negative."""
    index = np.arange(len(y))
    rows = np.concatenate([index, index])
    labels = np.concatenate([np.ones(len(y)), np.zeros(len(y))]).astype(int)
    weights = np.concatenate([weight * y, weight * (1 - y)])
    keep = weights > 0
    return rows[keep], labels[keep], weights[keep]


def _content_design(features: np.ndarray) -> np.ndarray:
    return features[:, : len(COMMENT_FEATURES)]


def _gate(features: np.ndarray) -> np.ndarray:
    """How much each row's article counts as long (see GATE_TOKENS), as a column."""
    return 1.0 / (1.0 + np.exp(-(features[:, [COLUMN["article_length"]]] - math.log1p(GATE_TOKENS)) / GATE_WIDTH))


def _blend(features: np.ndarray, values: tuple[float, float]) -> np.ndarray:
    """Per row, a (short article, long article) pair of values blended by the gate."""
    gate = _gate(features)[:, 0]
    return values[0] * (1.0 - gate) + values[1] * gate


def _relevance_design(features: np.ndarray) -> np.ndarray:
    """RELEVANCE_FEATURES weighted for a short article, then for a long one (see GATE_TOKENS)."""
    gate = _gate(features)
    chosen = features[:, [COLUMN[name] for name in RELEVANCE_FEATURES]]
    return np.column_stack([chosen * (1.0 - gate), chosen * gate])


def _row_dots(a: sparse.csr_matrix, b: sparse.csr_matrix) -> np.ndarray:
    """Row-wise dot products: cosines of L2-normalised TF-IDF rows."""
    return np.asarray(a.multiply(b).sum(axis=1)).ravel()


def _either(content: np.ndarray, relevance: np.ndarray) -> np.ndarray:
    """logit(1 - (1 - sigmoid(a)) (1 - sigmoid(b))): off-topic if either question says so, computed stably."""
    softplus = np.logaddexp(0.0, content) + np.logaddexp(0.0, relevance)  # -log of P(neither)
    return softplus + np.log(-np.expm1(-softplus))


def _contributions(model: Linear, row: np.ndarray, names_: list[str]) -> dict[str, tuple[float, float]]:
    """Per feature: coefficient times standardised value (its push on the logit from the average), and z.

    The short- and long-article pushes of a feature are added; the article's length is context, not a reason.
    """
    z = (row - model.mean) / model.scale
    push = model.coef[0] * z
    out: dict[str, tuple[float, float]] = {}
    for name, weight, value in zip(names_ * (len(row) // len(names_)), push.tolist(), z.tolist(), strict=True):
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
