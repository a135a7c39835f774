"""Reading and writing rows as streams: CSV, JSON Lines and article pages in; CSV or JSON Lines out.

Input format is sniffed once, here, so every command reads files the same way. Every input row comes out
as an ``InputRow``: either with its text or with an ``error`` naming the file and line, never dropped.
Output files are written to a temporary file beside the target and renamed into place at the end, so an
interrupted run leaves no half-written file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

TEXT_COLUMNS = ("text", "comment", "comment_text", "body", "content", "message", "tweet")
ID_COLUMNS = ("id", "comment_id", "commentid", "uid", "key")
PAGE_SUFFIXES = {".txt", ".html", ".htm", ".xhtml"}
JSONL_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}

csv.field_size_limit(sys.maxsize)  # a 1 MB comment is a comment, not a malformed file


class InputError(ValueError):
    """An input that cannot be read at all (missing file, no text column): the command stops."""


@dataclass
class InputRow:
    """One input row: where it came from, its id and text, or why it could not be read."""

    source: str
    line: int
    id: str
    text: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def sniff_format(name: str, head: str = "") -> str:
    """'csv', 'jsonl' or 'page', by suffix, else by the first bytes (for stdin)."""
    suffix = Path(name).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PAGE_SUFFIXES:
        return "page"
    stripped = head.lstrip()
    if stripped.startswith("{"):
        return "jsonl"
    first_line = stripped.split("\n", 1)[0].lower()
    if first_line.startswith("<"):
        return "page"
    header = {c.strip().strip('"') for c in first_line.split(",")}
    if len(header) > 1 and header & set(TEXT_COLUMNS):
        return "csv"
    return "page"


def read_text(path: str, encoding: str = "utf-8") -> str:
    """The whole file (or stdin for '-'); undecodable bytes are kept as escapes, never a crash."""
    if path == "-":
        return sys.stdin.buffer.read().decode(encoding, errors="replace")
    try:
        return Path(path).read_bytes().decode(encoding, errors="replace")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def pick_column(columns: Iterable[str], wanted: str | None, candidates: tuple[str, ...], what: str,
                source: str) -> str | None:
    """The column named by the user, else the first conventional name present (case-insensitive)."""
    columns = list(columns)
    lowered = {c.lower().strip(): c for c in columns}
    if wanted is not None:
        if wanted in columns:
            return wanted
        if wanted.lower() in lowered:
            return lowered[wanted.lower()]
        raise InputError(f"{source}: no column {wanted!r} (columns: {', '.join(columns)})")
    for name in candidates:
        if name in lowered:
            return lowered[name]
    if what == "text":
        raise InputError(
            f"{source}: no text column found among {', '.join(columns) or 'no columns'}; "
            f"name it with --text-column"
        )
    return None


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not valid in the encoding (surrogateescape)


def _has_undecodable(value: str) -> bool:
    return _UNDECODABLE.search(value) is not None


def _row(source: str, line: int, record: dict[str, Any], text_col: str, id_col: str | None,
         encoding: str) -> InputRow:
    """Turn one parsed record into an InputRow, or an error row that says what is wrong."""
    rid = record.get(id_col) if id_col else None
    rid = str(line) if rid in (None, "") else str(rid)
    extra = {k: v for k, v in record.items() if k not in (text_col, id_col) and k is not None}
    text = record.get(text_col)
    if text is None:
        return InputRow(source, line, rid, error=f"{source}:{line}: missing text column {text_col!r}",
                        extra=extra)
    if not isinstance(text, str):
        return InputRow(source, line, rid, error=f"{source}:{line}: text is not a string", extra=extra)
    if _has_undecodable(text):
        hint = "try --encoding latin-1" if encoding.lower().replace("-", "") == "utf8" else "check --encoding"
        return InputRow(source, line, rid, error=f"{source}:{line}: not {encoding}: {hint}", extra=extra)
    return InputRow(source, line, rid, text=text, extra=extra)


@contextlib.contextmanager
def _open_input(path: str, encoding: str) -> Iterator[IO[str]]:
    if path == "-":
        yield io.TextIOWrapper(sys.stdin.buffer, encoding=encoding, errors="surrogateescape", newline="")
        return
    try:
        handle = open(path, encoding=encoding, errors="surrogateescape", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    with handle:
        yield handle


def _csv_rows(handle: IO[str], source: str, text_column: str | None, id_column: str | None,
              encoding: str, delimiter: str) -> Iterator[InputRow]:
    reader = csv.DictReader(handle, delimiter=delimiter, restkey="\0extra")
    if reader.fieldnames is None:
        return
    text_col = pick_column(reader.fieldnames, text_column, TEXT_COLUMNS, "text", source)
    id_col = pick_column(reader.fieldnames, id_column, ID_COLUMNS, "id", source)
    line = reader.line_num
    for record in reader:
        line, row_line = reader.line_num, line + 1
        if "\0extra" in record or None in record.values():
            rid = record.get(id_col) if id_col else None
            yield InputRow(source, row_line, str(rid or row_line),
                           error=f"{source}:{row_line}: malformed CSV row (expected "
                                 f"{len(reader.fieldnames)} fields)")
            continue
        yield _row(source, row_line, record, text_col, id_col, encoding)


def _jsonl_rows(handle: IO[str], source: str, text_column: str | None, id_column: str | None,
                encoding: str) -> Iterator[InputRow]:
    text_col = id_col = None
    for line, raw in enumerate(handle, start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield InputRow(source, line, str(line), error=f"{source}:{line}: not JSON: {exc.msg}")
            continue
        if not isinstance(record, dict):
            yield InputRow(source, line, str(line), error=f"{source}:{line}: not a JSON object")
            continue
        if text_col is None:
            text_col = pick_column(record, text_column, TEXT_COLUMNS, "text", source)
            id_col = pick_column(record, id_column, ID_COLUMNS, "id", source)
        yield _row(source, line, record, text_col, id_col, encoding)


def _page_rows(name: str, text: str) -> Iterator[InputRow]:
    """Each comment of one article page, carrying its article for the off-topic model."""
    from moderation.pages import parse_page

    article = parse_page(text)
    article_text = "\n\n".join(part for part in (article.title, article.body) if part)
    for comment in article.comments:
        yield InputRow(
            name, comment.index, f"{name}#{comment.index}", text=comment.text,
            extra={"page": name, "index": comment.index, "author": comment.author,
                   "posted_at": comment.posted_at, "article": article_text, "title": article.title,
                   "reply_to": comment.reply_to},
        )


def read_rows(path: str, text_column: str | None = None, id_column: str | None = None,
              encoding: str = "utf-8") -> Iterator[InputRow]:
    """Every row of one input (a CSV, JSON Lines file or an article page; '-' is stdin), in order."""
    if path != "-" and not Path(path).exists():
        raise InputError(f"{path}: no such file")
    fmt = sniff_format(path) if path != "-" else None
    if fmt == "page":
        yield from _page_rows(Path(path).name, read_text(path, encoding))
        return
    with _open_input(path, encoding) as handle:
        if path == "-":
            head = handle.read(4096)
            fmt = sniff_format(path, head)
            handle = _Rewound(head, handle)
        if fmt == "page":
            yield from _page_rows("-", handle.read())
        elif fmt == "jsonl":
            yield from _jsonl_rows(handle, path, text_column, id_column, encoding)
        else:
            delimiter = "\t" if path.lower().endswith(".tsv") else ","
            yield from _csv_rows(handle, path, text_column, id_column, encoding, delimiter)


class _Rewound(io.TextIOBase):
    """A text stream whose first bytes were already read for sniffing."""

    def __init__(self, head: str, rest: IO[str]):
        self._head, self._rest = head, rest

    def read(self, size: int | None = -1) -> str:
        head, self._head = self._head, ""
        return head + self._rest.read() if size is None or size < 0 else head + self._rest.read(size)

    def __iter__(self) -> Iterator[str]:
        head, self._head = self._head, ""
        lines = io.StringIO(head, newline="")
        pending = ""
        for line in lines:
            if line.endswith("\n"):
                yield pending + line
                pending = ""
            else:
                pending += line
        for line in self._rest:
            yield pending + line
            pending = ""
        if pending:
            yield pending


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", newline: str | None = None) -> Iterator[IO]:
    """A file that appears at ``path`` only when the block completes, synced to disk, with the permissions a
    plain ``open`` would give it; on any error (or Ctrl-C) nothing is left behind."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": newline}
    try:
        with os.fdopen(fd, mode, **text) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_output(path: str | None, newline: str | None = None) -> Iterator[IO[str]]:
    """A text file that appears at ``path`` only when the block completes (stdout for None or '-')."""
    if path in (None, "-"):
        yield sys.stdout
        sys.stdout.flush()
        return
    with atomic_file(path, "w", newline) as handle:
        yield handle


def output_format(path: str | None, default: str = "jsonl") -> str:
    """'csv' or 'jsonl' by the output's suffix."""
    if path in (None, "-"):
        return default
    suffix = Path(path).suffix.lower()
    if suffix in CSV_SUFFIXES:
        return "csv"
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    raise InputError(f"{path}: output must end in .csv or .jsonl")


class RowWriter:
    """Writes dicts with one fixed set of columns as CSV or JSON Lines; lists and dicts become JSON in CSV."""

    def __init__(self, handle: IO[str], fmt: str, columns: list[str] | None = None):
        self.handle, self.fmt, self.columns = handle, fmt, columns
        self._csv: csv.DictWriter | None = None

    def write(self, record: dict[str, Any]) -> None:
        if self.fmt == "jsonl":
            self.handle.write(json.dumps(record, ensure_ascii=False, default=jsonable) + "\n")
            return
        if self._csv is None:
            self.columns = self.columns or list(record)
            self._csv = csv.DictWriter(self.handle, fieldnames=self.columns, extrasaction="ignore",
                                       lineterminator="\n")
            self._csv.writeheader()
        self._csv.writerow({k: _csv_cell(record.get(k)) for k in self.columns})

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write(record)


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy scalars (scored frames carry them) as plain values."""
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False, default=jsonable)
    return "" if value is None else value
