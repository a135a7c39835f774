"""Comments -> probabilities -> decisions with reasons: the ``Moderator`` that ``moderation.load()`` returns.

It holds the fitted abuse model, the off-topic model when one is shipped, and a decision ``Policy``. Every
call returns a DataFrame with the same columns whatever the input size, each row carrying ``model_version``.
"""

from __future__ import annotations

import gc
import itertools
import os
from typing import TYPE_CHECKING

import numpy as np

from moderation import artifacts, registry
from moderation.estimator import Classifier
from moderation.policy import Policy
from moderation.textnorm import normalize_with_offsets

if TYPE_CHECKING:
    import pandas as pd

    from moderation.abuse import AbuseModel

MAX_CHARS = 100_000  # a longer comment is scored on its first 100k characters; offsets stay valid
REASON_MODES = ("flagged", "all", "none")
def _frame(data, article=None) -> pd.DataFrame:
    """Any accepted input (a string list, Series or DataFrame with ``text``) as a DataFrame with
    ``id``, ``text`` and ``article`` columns."""
    import pandas as pd  # not at import: loading a model must not wait for it

    if isinstance(data, str):
        raise TypeError("score() takes a list of comments or a DataFrame; wrap one comment in a list")
    frame = data.copy() if isinstance(data, pd.DataFrame) else pd.DataFrame({"text": list(data)})
    if "text" not in frame:
        raise ValueError(f"no 'text' column among {list(frame.columns)}")
    frame = frame.reset_index(drop=True)
    if "id" not in frame:
        frame["id"] = np.arange(len(frame)).astype(str)
    if article is not None:
        frame["article"] = article if isinstance(article, str) else list(article)
    elif "article" not in frame:
        frame["article"] = None
    return frame


class Moderator(Classifier):
    """The shipped models behind one object; a binary scikit-learn classifier of "abusive" for pipelines,
    and ``score`` for moderators' decisions."""

    def __init__(self, abuse: AbuseModel | None = None, offtopic=None, policy: Policy | None = None,
                 version: str = "unversioned"):
        self.abuse = abuse
        self.offtopic = offtopic
        self.policy = policy
        self.version = version

    @property
    def classes_(self) -> np.ndarray:
        return np.array([0, 1])

    @property
    def categories(self) -> list[str]:
        names = list(self.abuse.classes_)
        return names + (["off_topic"] if self.offtopic is not None else [])

    def fit(self, X, y, sample_weight=None):
        """Refit the abuse model on binary "abusive" labels (full retraining is ``moderation.train``)."""
        import pandas as pd

        from moderation.abuse import AbuseModel

        self.abuse = (self.abuse or AbuseModel()).fit(X, pd.DataFrame({"abusive": np.asarray(y)}),
                                                      sample_weight=sample_weight)
        return self

    def predict_proba(self, X) -> np.ndarray:
        p = self.abuse.predict_proba(X)[:, list(self.abuse.classes_).index("abusive")]
        return np.column_stack([1 - p, p])

    def predict(self, X) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    def columns(self) -> list[str]:
        """The output columns, in order: the same for every call."""
        return (["id", "decision", "reason_codes"] + [f"p_{c}" for c in self.categories]
                + (["off_topic_basis"] if self.offtopic is not None else []) + ["reasons", "model_version"])

    def score(self, data, article=None, reasons: str = "flagged", policy: Policy | None = None,
              copies: np.ndarray | None = None) -> pd.DataFrame:
        """Probabilities, decision, reason codes and reasons for each comment, in input order.

        ``data``: comments as a list/Series of strings or a DataFrame with ``text`` (and optional ``id``,
        ``article``). ``article``: one article text for all, or one per comment. ``reasons``: "flagged"
        (terms for comments not approved), "all" or "none". ``copies``: per comment, how many other comments
        of the whole input share its text (``offtopic.CopyCounts.others``), for a caller scoring an input in
        parts; by default copies are counted among the comments of this call.
        """
        if reasons not in REASON_MODES:
            raise ValueError(f"reasons must be one of {REASON_MODES}, not {reasons!r}")
        import pandas as pd

        frame = _frame(data, article)
        texts = [("" if not isinstance(t, str) else t)[:MAX_CHARS] for t in frame["text"]]
        normalized = [normalize_with_offsets(text) for text in texts]  # once, for the features and the reasons
        features = self.abuse.features_of([norm for norm, _ in normalized])
        proba = pd.DataFrame(self.abuse.proba_from_features(features), columns=self.abuse.classes_)
        batch, bases = None, {}
        if self.offtopic is not None:
            pairs = pd.DataFrame({"text": texts, "article": frame["article"]})
            batch = self.offtopic.batch(pairs, copies)
            proba["off_topic"] = self.offtopic.proba_from_batch(batch)[:, 1]
            bases["off_topic"] = self.offtopic.basis(pairs)
        decisions, codes, triggered = (policy or self.policy).decide(proba, bases)
        out = pd.DataFrame({"id": frame["id"].astype(str), "decision": decisions, "reason_codes": codes})
        for category in proba:
            out[f"p_{category}"] = proba[category].round(4).to_numpy()
        if self.offtopic is not None:
            out["off_topic_basis"] = bases["off_topic"]
        out["reasons"] = self._reasons(texts, normalized, features, batch, decisions, triggered, reasons)
        out["model_version"] = self.version
        return out[self.columns()]

    def _reasons(self, texts, normalized, features, batch, decisions, triggered, mode) -> list[list[dict]]:
        """Term reasons for the rows the mode asks for; abuse terms and off-topic signals (from the off-topic
        ``batch`` the scores came from) merged by weight."""
        if mode == "none":
            return [[] for _ in texts]
        wanted = np.ones(len(texts), bool) if mode == "all" else decisions != "approve"
        abuse_cats = set(self.abuse.classes_)
        per_row = [([c for c in cats if c in abuse_cats] or (["abusive"] if mode == "all" else []))
                   if want else [] for cats, want in zip(triggered, wanted, strict=True)]
        reasons = self.abuse.explain(texts, features, per_row, normalized=normalized)
        if self.offtopic is not None:
            rows = np.flatnonzero(wanted & np.array(["off_topic" in c or mode == "all" for c in triggered]))
            if rows.size:
                for i, extra in zip(rows, self.offtopic.explain_batch(batch, rows), strict=True):
                    reasons[i] = sorted(reasons[i] + extra, key=lambda r: -r["weight"])
        return reasons


def load(path: str | os.PathLike | None = None, offtopic_path: str | os.PathLike | None = None,
         version: str | None = None) -> Moderator:
    """The current models (or the abuse model at ``path``, or the model of ``version``: any promoted one stays
    loadable, and a model file's path works too), verified against their cards, with their policy. The
    registry in the model home names the current ones; the shipped ones until a site promotes its own."""
    if version is not None:
        name, found = registry.find(version)
        path, offtopic_path = (found, offtopic_path) if name == "abuse" else (path, found)
    abuse = artifacts.load(path) if path else registry.load_current("abuse")
    off = artifacts.load(offtopic_path) if offtopic_path else registry.load_current("offtopic", required=False)
    cards = [abuse.card] + ([off.card] if off else [])
    version = "+".join(card["version"] for card in cards)
    # The models' ~200k objects live as long as the process: frozen, the garbage collector stops walking them
    # on every full collection (15-25 % of scoring time), and forked workers keep sharing their pages.
    gc.freeze()
    return Moderator(abuse.estimator, off.estimator if off else None, Policy.from_cards(*cards), version)


PAGE_COLUMNS = ["page", "index", "author", "posted_at", "text"]


def _chunks(rows, size: int):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def score_stream(moderator: Moderator, rows, reasons: str = "flagged", policy: Policy | None = None,
                 chunk_size: int = 2000, article_column: str = "article", articles: dict[str, str] | None = None,
                 article_id: str | None = None, jobs: int = 1):
    """Score ``InputRow``s in chunks (bounded memory), yielding one output dict per input row, in order.

    Rows that could not be read, or whose text is empty, come out as error rows naming their line.
    Articles come from the row's ``article_column`` or, with ``articles``, by the row's ``article_id`` field.
    With the off-topic model, copies of a comment are counted across all ``rows`` first (one pass that spools
    the chunks to a temporary file), so no decision depends on which chunk a row falls in.
    With ``jobs`` > 1, chunks are scored by forked worker processes sharing the loaded model.
    """
    options = {"reasons": reasons, "policy": policy, "article_column": article_column, "articles": articles,
               "article_id": article_id}
    row_chunks = _chunks(rows, chunk_size)
    first = list(itertools.islice(row_chunks, 2))
    row_chunks = itertools.chain(first, row_chunks)
    jobs = jobs if len(first) > 1 else 1  # one chunk: starting workers would take longer than scoring it
    chunks = _with_copies(row_chunks, jobs) if moderator.offtopic is not None else (
        (chunk, None) for chunk in row_chunks)
    if jobs == 1:
        for chunk, copies in chunks:
            yield from _score_chunk(moderator, chunk, copies, **options)
        return
    from moderation.workers import ordered_map

    for scored in ordered_map(lambda item: list(_score_chunk(moderator, *item, **options)), chunks, jobs):
        yield from scored


def _scorable(row) -> bool:
    return row.error is None and row.text is not None and bool(row.text.strip())


def _with_copies(chunks, jobs: int = 1):
    """``(chunk, copies of its scorable rows)`` for each chunk, copies counted over all chunks: the chunks
    are spooled to a temporary file while every row's duplicate key is hashed, then read back. With ``jobs``
    > 1 the keys are hashed in worker processes: scoring waits for this pass, which hashing took most of."""
    import pickle
    import tempfile

    from moderation.offtopic import CopyCounts, duplicate_hashes
    from moderation.workers import ordered_map

    with tempfile.TemporaryFile() as spool:

        def spooled_texts():
            for chunk in chunks:
                pickle.dump(chunk, spool, pickle.HIGHEST_PROTOCOL)
                yield [row.text for row in chunk if _scorable(row)]

        texts = spooled_texts()
        hashes = list(ordered_map(duplicate_hashes, texts, jobs) if jobs > 1 else map(duplicate_hashes, texts))
        counts = CopyCounts.of(np.concatenate(hashes) if hashes else np.zeros(0, np.uint64))
        spool.seek(0)
        for chunk_hashes in hashes:
            yield pickle.load(spool), counts.others(chunk_hashes)


def _article_of(row, article_column, articles, article_id) -> str | None:
    if articles is not None and article_id is not None:
        return articles.get(str(row.extra.get(article_id, "")))
    value = row.extra.get(article_column)
    return value if isinstance(value, str) else None


def _score_chunk(moderator, chunk, copies, reasons, policy, article_column, articles, article_id):
    """Score one chunk's readable rows together; error rows pass through in place."""
    good = [r for r in chunk if _scorable(r)]
    scored = iter(())
    if good:
        import pandas as pd

        frame = pd.DataFrame({"id": [r.id for r in good], "text": [r.text for r in good],
                              "article": [_article_of(r, article_column, articles, article_id) for r in good]})
        scored = iter(_records(moderator.score(frame, reasons=reasons, policy=policy, copies=copies)))
    for row in chunk:
        base = {k: row.extra.get(k) for k in PAGE_COLUMNS if k in row.extra}
        if "page" in base:
            base["text"] = row.text
        if _scorable(row):
            yield base | next(scored) | {"error": None}
        else:
            error = row.error or f"{row.source}:{row.line}: empty text, nothing to score"
            yield base | {"id": row.id, "decision": None, "model_version": moderator.version, "error": error}


def _records(frame: pd.DataFrame) -> list[dict]:
    """``frame.to_dict("records")`` (the same values and types) in a fifth of its time: pandas boxes each value
    on its own, ``tolist`` a column at once."""
    columns = frame.columns.tolist()
    return [dict(zip(columns, row, strict=True)) for row in zip(*(frame[c].tolist() for c in columns), strict=True)]


def read_articles(path: str, id_column: str) -> dict[str, str]:
    """An articles file (CSV or JSON Lines) as {article id: title and body}, for ``--articles``."""
    from moderation.rows import read_rows

    out = {}
    for row in read_rows(path, id_column=id_column):
        if row.error is None:
            title = row.extra.get("title")
            out[row.id] = "\n\n".join(part for part in (title, row.text) if isinstance(part, str) and part)
    return out


def score_files(moderator: Moderator, inputs: list[str], output: str | None, *, text_column: str | None = None,
                id_column: str | None = None, encoding: str | None = None, reasons: str = "flagged",
                policy: Policy | None = None, article_column: str = "article", articles: str | None = None,
                article_id: str | None = None, progress: bool = False, stdout_format: str = "jsonl",
                jobs: int = 1) -> dict[str, int]:
    """Score every row of ``inputs`` into ``output`` (CSV or JSON Lines by suffix; stdout when None).

    The output file appears only when all rows are written. Returns counts of rows, errors and decisions.
    """
    from tqdm import tqdm

    from moderation.rows import RowWriter, atomic_output, check_output, open_inputs

    sources = open_inputs(inputs, text_column=text_column, id_column=id_column, encoding=encoding)
    fmt = check_output(output, inputs, stdout_format)
    pages = any(source.kind == "page" for source in sources)
    columns = (PAGE_COLUMNS if pages else []) + moderator.columns() + ["error"]
    columns = ["id"] + [c for c in columns if c != "id"]
    lookup = read_articles(articles, article_id or "id") if articles else None
    counts = {"rows": 0, "errors": 0, "approve": 0, "review": 0, "reject": 0}

    def all_rows():
        for source in sources:
            yield from source.rows()

    with atomic_output(output, newline="" if fmt in ("csv", "tsv") else None) as handle, \
            tqdm(unit=" comments", disable=not progress, file=None) as bar:
        writer = RowWriter(handle, fmt, columns)
        for record in score_stream(moderator, all_rows(), reasons, policy, article_column=article_column,
                                   articles=lookup, article_id=article_id if articles else None, jobs=jobs):
            writer.write({c: record.get(c) for c in columns})
            counts["rows"] += 1
            counts["errors"] += record["error"] is not None
            if record.get("decision"):
                counts[record["decision"]] += 1
            bar.update()
        writer.close()
    return counts
