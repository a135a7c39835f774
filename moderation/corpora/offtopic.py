"""Training corpora for the off-topic model, one loader per source, all in one shape.

Every frame has ``text`` (the comment), ``article`` (what it is judged against, "" when unknown),
``off_topic`` (a fraction in [0, 1]: annotator votes where they exist, else 0/1), ``pair`` ("moved" for a
comment placed under another article, "own" for its unlabelled original, "" for a row labelled as found: see
``OffTopicModel.fit``), ``group`` (the unit that cross-validation keeps together), ``corpus`` and ``kind``
(the source's own label, for per-class metrics).
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

COLUMNS = ["text", "article", "off_topic", "pair", "group", "corpus", "kind"]
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


def _frame(pair: str = "", **columns) -> pd.DataFrame:
    frame = pd.DataFrame(dict(columns, pair=pair))[COLUMNS]
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


def blocks(groups: pd.Series, size: int, seed: int) -> pd.Series:
    """Each group's block: groups shuffled and cut into runs of ``size``.

    Moved pairs take their foreign article from the same block and cross-validation keeps a block together,
    so no article is seen in training, even as someone else's, while its own comments are tested. A short
    last run joins the one before it, so that every block has another group to move comments to.
    """
    uniques = groups.drop_duplicates().to_numpy()
    order = np.random.default_rng(seed).permutation(len(uniques))
    block = np.minimum(np.arange(len(uniques)) // size, max(len(uniques) // size - 1, 0))
    return groups.map(dict(zip(uniques[order], block, strict=True)))


def moved_pairs(frame: pd.DataFrame, source: pd.Series, topic: pd.Series, block: pd.Series, seed: int) -> pd.DataFrame:
    """Every comment again, under the article of another ``source`` (question, page) of its ``block``, of another
    ``topic`` where the block has one: off-topic (1), ``kind`` "moved:<its own kind>"."""
    rng = np.random.default_rng(seed)
    article_of = frame["article"].groupby(source).first()
    topic_of = topic.groupby(source).first()
    in_block = source.groupby(block).unique()
    foreign = []
    for own, own_block in zip(source, block, strict=True):
        others = [s for s in in_block[own_block] if topic_of[s] != topic_of[own]]
        others = others or [s for s in in_block[own_block] if s != own]
        foreign.append(article_of[others[rng.integers(len(others))]])
    return frame.assign(article=foreign, off_topic=1.0, pair="moved", kind="moved:" + frame["kind"])


def load_semeval(block_size: int = 10, seed: int = 0) -> Corpus:
    """Qatar Living forum answers judged against their question, which stands in for the article, and each
    answer again under a question of another category (moved pairs: the forum has almost no answer posted
    under the wrong question, so without them nothing teaches the comparison on short articles)."""
    path = dataset_path(*SEMEVAL_DIR, "cqa_ql_dev_comments.csv.gz")
    raw = pd.read_csv(path)
    raw = raw[raw["cgold"].isin(SEMEVAL_OFF_TOPIC)].reset_index(drop=True)
    question = raw["question_subject"].fillna("") + "\n\n" + raw["question_body"].fillna("")
    own = _frame(
        text=raw["comment_body"].fillna("").astype(str).str.strip(),
        article=question.str.strip(),
        off_topic=raw["cgold"].map(SEMEVAL_OFF_TOPIC),
        group="semeval:" + raw["qid"].astype(str),
        corpus="semeval",
        kind=raw["cgold"],
    )
    block = blocks(own["group"], block_size, seed)
    moved = moved_pairs(own, raw["qid"], raw["qcategory"], block, seed)
    frame = pd.concat([own, moved], ignore_index=True)
    frame["group"] = "semeval:block" + pd.concat([block, block], ignore_index=True).astype(str)
    usage = (
        "Article path, question (subject + body) as the article, comment body as the comment. Good = 0, "
        "Potential = 0.5, Dialogue and Bad = 1 ('Not English' dropped). Moved pairs: every comment again under "
        f"a question of another category from its block of {block_size} questions, off-topic (1). Grouped by "
        "block of questions."
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


def load_dragnet(max_comments: int = 25, block_size: int = 10, seed: int = 0) -> Corpus:
    """Blog/news comments under their own article (on-topic) and under another site's article (moved, off-topic).

    Each comment appears once with each label, so only comment-article features can tell them apart.
    """
    path = dataset_path(*DRAGNET_DIR, "pages.train.jsonl.gz")
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        pages = [page for page in map(json.loads, handle) if page.get("has_comments")]
    sites = site_groups([page["text"] for page in pages])
    rows = [(comment, page["article_gold"], i, sites[i])
            for i, page in enumerate(pages) for comment in split_comments(page["comments_gold"])[:max_comments]]
    text, article, page, site = (pd.Series(column) for column in zip(*rows, strict=True))
    own = _frame(text=text, article=article, off_topic=0.0, pair="own", group="dragnet:site" + site.astype(str),
                 corpus="dragnet", kind="own")
    block = blocks(site, block_size, seed)
    frame = pd.concat([own, moved_pairs(own, page, site, block, seed)], ignore_index=True)
    frame["group"] = "dragnet:block" + pd.concat([block, block], ignore_index=True).astype(str)
    usage = (
        f"Article path. Comment sections split at blank lines (author/date lines dropped, <= {max_comments} "
        "comments a page); each comment under its own article_gold (on-topic, 0) and under a page of another "
        f"inferred site from its block of {block_size} sites (moved, off-topic, 1). Sites inferred from shared "
        "boilerplate lines; grouped by block of sites."
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
    "semeval Good: own vs moved question": Evaluation("semeval", ("moved:Good",), ("Good",)),
    "dragnet: own vs moved article": Evaluation("dragnet", ("moved:own",), ("own",)),
}
# What each basis's review threshold is chosen on: with an article, one evaluation per corpus (the broader
# SemEval one: Dialogue is off-topic too; moved pairs: a comment under the wrong article); without one, C3's
# comments that most of their annotators called not relevant (3 or more votes: most comments had 5 annotators).
THRESHOLD_EVALUATIONS = {
    "article": {
        name: EVALUATIONS[name]
        for name in (
            "semeval Dialogue+Bad vs Good+Potential",
            "semeval Good: own vs moved question",
            "dragnet: own vs moved article",
        )
    },
    "comment": {
        "c3 >=3 non_relevant votes vs fewer": Evaluation(
            "c3", ("votes:3", "votes:4", "votes:5"), ("votes:0", "votes:1", "votes:2")
        ),
    },
}
