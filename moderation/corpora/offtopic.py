"""Training corpora for the off-topic model, one loader per source, all in one shape.

Every frame has ``text`` (the comment), ``article`` (what it is judged against, "" when unknown),
``off_topic`` (a fraction in [0, 1]: annotator votes where they exist, else 0/1), ``group`` (the unit that
cross-validation keeps together), ``corpus`` and ``kind`` (the source's own label, for per-class metrics).
"""

from __future__ import annotations

import gzip
import json
import re
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from moderation.corpora import dataset_path, file_record

COLUMNS = ["text", "article", "off_topic", "group", "corpus", "kind"]
C3_DIR = ("offtopic", "c3_constructive_comments")
SEMEVAL_DIR = ("offtopic", "semeval2015_task3_cqa_ql")
DRAGNET_DIR = ("pages", "dragnet_corrected")

SEMEVAL_OFF_TOPIC = {"Good": 0.0, "Potential": 0.5, "Dialogue": 1.0, "Bad": 1.0}


@dataclass
class Corpus:
    """One loaded corpus: its rows, the files it was read from, and how a model card describes its use."""

    name: str
    frame: pd.DataFrame
    files: list[dict[str, str]]
    usage: str
    extra: dict[str, int] = field(default_factory=dict)


def _frame(**columns) -> pd.DataFrame:
    frame = pd.DataFrame(columns)[COLUMNS]
    frame["off_topic"] = frame["off_topic"].astype(float)
    return frame.reset_index(drop=True)


def non_relevant_votes(characteristics: pd.Series) -> pd.Series:
    """``non_relevant:N`` vote counts parsed from C3's newline-separated characteristics."""
    votes = characteristics.fillna("").astype(str).str.extract(r"non_relevant:(\d+)")[0]
    return pd.to_numeric(votes, errors="coerce").fillna(0).astype(int)


def load_c3() -> Corpus:
    """Globe and Mail comments; off_topic = share of annotators who ticked "non_relevant".

    C3 has no article text, so the article is "" and these rows train the comment-only path.
    """
    path = dataset_path(*C3_DIR, "C3_anonymized.train.csv.gz")
    raw = pd.read_csv(path)
    votes = non_relevant_votes(raw["non_constructive_characteristics"])
    judgements = raw["njudgements_constructiveness_expt"].fillna(0).clip(lower=1)
    frame = _frame(
        text=raw["comment_text"].fillna("").astype(str),
        article="",
        off_topic=(votes / judgements).clip(0, 1),
        group="c3:" + raw["article_id"].astype(str),
        corpus="c3",
        kind="votes:" + votes.astype(str),
    )
    usage = (
        "Comment-only path (no article text exists). Label = fraction of annotators voting non_relevant "
        "(votes / judgements), fitted as a weighted positive and negative; metrics count >= 2 votes as off-topic. "
        "Grouped by article_id."
    )
    return Corpus("c3", frame, [file_record(path)], usage)


def load_semeval() -> Corpus:
    """Qatar Living forum answers judged against their question, which stands in for the article."""
    path = dataset_path(*SEMEVAL_DIR, "cqa_ql_dev_comments.csv.gz")
    raw = pd.read_csv(path)
    raw = raw[raw["cgold"].isin(SEMEVAL_OFF_TOPIC)]
    question = raw["question_subject"].fillna("") + "\n\n" + raw["question_body"].fillna("")
    frame = _frame(
        text=raw["comment_body"].fillna("").astype(str).str.strip(),
        article=question.str.strip(),
        off_topic=raw["cgold"].map(SEMEVAL_OFF_TOPIC),
        group="semeval:" + raw["qid"].astype(str),
        corpus="semeval",
        kind=raw["cgold"],
    )
    usage = (
        "Article path, question (subject + body) as the article, comment body as the comment. Good = 0, "
        "Potential = 0.5, Dialogue and Bad = 1 ('Not English' dropped). Grouped by question."
    )
    return Corpus("semeval", frame, [file_record(path)], usage)


BYLINE = re.compile(
    r"\b(19|20)\d\d\b|\d{1,2}:\d\d|\b(said|says|wrote|reply|posted by)\b[:.]?\s*$|^\s*by\s+\S+",
    re.IGNORECASE,
)


def split_comments(section: str, min_words: int = 5) -> list[str]:
    """Blank-line blocks of a comment section, minus author/date/"Reply" lines that are not comments."""
    blocks = (" ".join(block.split()) for block in re.split(r"\n\s*\n", section))
    return [b for b in blocks if len(b.split()) >= min_words and not (len(b) < 120 and BYLINE.search(b))]


_DATEISH = re.compile(
    r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.? 0|0:0|^(by|posted by)\b"
    r"|\b(mon|tues|wednes|thurs|fri|satur|sun)day\b"
)


def _boilerplate_lines(text: str) -> set[str]:
    lines = (re.sub(r"\d+", "0", line.strip().lower()) for line in text.splitlines())
    return {line for line in lines if 12 <= len(line) <= 150 and len(line.split()) >= 3 and not _DATEISH.search(line)}


def site_groups(texts: list[str], max_pages: int = 30) -> list[int]:
    """Pages that share a boilerplate line (an author name, a footer) put in one group.

    Dragnet carries no URLs, so a site is inferred: union-find over lines found on 2..max_pages pages,
    ignoring date/byline lines that every blog has.
    """
    lines = [_boilerplate_lines(text) for text in texts]
    counts = Counter(line for page in lines for line in page)
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    first: dict[str, int] = {}
    for i, page in enumerate(lines):
        for line in page:
            if 2 <= counts[line] <= max_pages:
                parent[root(i)] = root(first.setdefault(line, i))
    return [root(i) for i in range(len(texts))]


def load_dragnet(max_comments: int = 25, seed: int = 0) -> Corpus:
    """Blog/news comments under their own article (on-topic) and under another site's article (off-topic).

    Each comment appears once with each label, so only comment-article features can tell them apart.
    """
    path = dataset_path(*DRAGNET_DIR, "pages.train.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        pages = [page for page in map(json.loads, handle) if page.get("has_comments")]
    sites = site_groups([page["text"] for page in pages])
    rng = np.random.default_rng(seed)
    rows = []
    for i, page in enumerate(pages):
        comments = split_comments(page["comments_gold"])[:max_comments]
        others = [j for j in range(len(pages)) if sites[j] != sites[i]]
        for comment in comments:
            other = pages[others[rng.integers(len(others))]]
            group = f"dragnet:site{sites[i]}"
            rows.append((comment, page["article_gold"], 0.0, group, "own"))
            rows.append((comment, other["article_gold"], 1.0, group, "foreign"))
    text, article, off_topic, group, kind = zip(*rows, strict=True)
    frame = _frame(text=text, article=article, off_topic=off_topic, group=group, corpus="dragnet", kind=kind)
    usage = (
        f"Article path. Comment sections split at blank lines (author/date lines dropped, <= {max_comments} "
        "comments a page); each comment under its own article_gold (on-topic, 0) and under a random page of "
        "another inferred site (off-topic, 1). Sites inferred from shared boilerplate lines; grouped by site."
    )
    return Corpus("dragnet", frame, [file_record(path)], usage, {"pages": len(pages), "sites": len(set(sites))})


def load_all() -> list[Corpus]:
    return [load_c3(), load_semeval(), load_dragnet()]


@dataclass(frozen=True)
class Evaluation:
    """One ROC AUC figure: which corpus, and which of its ``kind`` values count as off-topic or on-topic."""

    corpus: str
    positive: tuple[str, ...]
    negative: tuple[str, ...]


EVALUATIONS = {
    "c3 >=2 non_relevant votes vs fewer": Evaluation(
        "c3", ("votes:2", "votes:3", "votes:4", "votes:5"), ("votes:0", "votes:1")
    ),
    "semeval Bad vs Good": Evaluation("semeval", ("Bad",), ("Good",)),
    "semeval Dialogue+Bad vs Good+Potential": Evaluation("semeval", ("Bad", "Dialogue"), ("Good", "Potential")),
    "dragnet foreign vs own article": Evaluation("dragnet", ("foreign",), ("own",)),
}
# One evaluation per corpus for choosing the review threshold (the broader SemEval one: Dialogue is off-topic too).
THRESHOLD_EVALUATIONS = {
    name: EVALUATIONS[name]
    for name in (
        "c3 >=2 non_relevant votes vs fewer",
        "semeval Dialogue+Bad vs Good+Potential",
        "dragnet foreign vs own article",
    )
}
