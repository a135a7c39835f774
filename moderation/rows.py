"""Reading and writing rows as streams: CSV/TSV, JSON Lines, JSON arrays, Parquet and article pages in (gzipped
or not); CSV, TSV, JSON Lines or a JSON array out.

Every input is opened and sniffed once, here, by its content as well as its suffix (``open_input``), so every
command reads files the same way and every problem that stops a run is found before any work starts. The
accounting rule: every record in comes out as one ``InputRow``, either with its text or with an ``error`` naming
the file and line, never dropped. Output files are written to a temporary file beside the target and renamed
into place at the end, so an interrupted run leaves no half-written file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import json
import logging
import os
import re
import sys
import tempfile
import unicodedata
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger(__name__)

TEXT_COLUMNS = ("text", "comment", "comment_text", "body", "content", "message", "tweet")
ID_COLUMNS = ("id", "comment_id", "commentid", "uid", "key")
PAGE_SUFFIXES = {".txt", ".html", ".htm", ".xhtml"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
CSV_SUFFIXES = {".csv", ".tsv"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
DELIMITERS = ",\t;|"
OUTPUT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
SNIFF_BYTES = 64 * 1024
BINARY_MAGIC = {b"PK\x03\x04": "a zip archive or Excel workbook: export it as CSV", b"%PDF": "a PDF document",
                b"\x7fELF": "an executable", b"\xd0\xcf\x11\xe0": "an old Excel/Word file: export it as CSV"}
BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# What browsers (WHATWG Encoding) read these labels as: pages saying latin-1 are written in Windows-1252.
WHATWG_ALIASES = {"iso-8859-1": "cp1252", "latin-1": "cp1252", "latin1": "cp1252", "ascii": "cp1252",
                  "us-ascii": "cp1252", "windows-1252": "cp1252"}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_JSON_ARRAY = re.compile(r"\[\s*[{\]]")
_NEXT_RECORD = re.compile(r",\s*(?=\{)")
_IDENTIFIER = re.compile(r"[a-z_][\w.-]*")

csv.field_size_limit(sys.maxsize)  # a 1 MB comment is a comment, not a malformed file


class InputError(ValueError):
    """An input that cannot be read at all (missing file, binary, no text column): the command stops."""


@dataclass
class InputRow:
    """One input record: where it came from (file and first line), its id and text, or why it could not be read."""

    source: str
    line: int
    id: str
    text: str | None = None
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _suffixes(path: str) -> tuple[str, bool]:
    """The suffix that names the content (``.csv`` of ``x.csv.gz``) and whether the name says gzip."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    gz = bool(suffixes) and suffixes[-1] == ".gz"
    suffixes = suffixes[:-1] if gz else suffixes
    return (suffixes[-1] if suffixes else ""), gz


def _read_head(path: str) -> bytes:
    """The first bytes of a file (for stdin, callers keep them: stdin cannot be read twice)."""
    if path == "-":
        return sys.stdin.buffer.read(SNIFF_BYTES)
    target = Path(path)
    if not target.exists():
        raise InputError(f"{path}: no such file")
    if target.is_dir():
        raise InputError(f"{path}: is a folder; name the files in it (e.g. {path}/*.csv)")
    try:
        with target.open("rb") as handle:
            return handle.read(SNIFF_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _gunzip_head(head: bytes) -> bytes:
    try:
        return zlib.decompressobj(wbits=31).decompress(head, SNIFF_BYTES)
    except zlib.error as exc:
        raise InputError(f"not a valid gzip file ({exc})") from exc


def _bom_encoding(head: bytes) -> str | None:
    """The encoding a byte-order mark, or UTF-16's NUL pattern without one, makes certain."""
    for bom, name in BOMS:
        if head.startswith(bom):
            return name
    sample = head[:4096]
    if len(sample) >= 8 and sample.count(0) > len(sample) // 4:
        evens, odds = sample[0::2].count(0), sample[1::2].count(0)
        if odds > 3 * max(evens, 1):
            return "utf-16-le"
        if evens > 3 * max(odds, 1):
            return "utf-16-be"
    return None


def _binary_reason(head: bytes) -> str | None:
    """Why these bytes are not text (None when they may be)."""
    for magic, what in BINARY_MAGIC.items():
        if head.startswith(magic):
            return what
    if b"\0" in head:
        return "binary data (NUL bytes)"
    return None


def _header_delimiter(first_line: str, text_column: str | None, page_suffix: bool) -> str | None:
    """The delimiter under which the first line is a header naming the text column, if any. Under a page's
    suffix (.txt, .html) it takes more: two or more columns, all named like identifiers, so that a headline
    such as "Comment, body and soul" stays a headline."""
    for delimiter in DELIMITERS:
        fields = [f.strip().lower() for f in next(csv.reader([first_line], delimiter=delimiter), [])]
        names = set(fields)
        found = text_column.lower() in names if text_column else bool(names & set(TEXT_COLUMNS))
        if found and (not page_suffix or (len(fields) > 1 and all(map(_IDENTIFIER.fullmatch, fields)))):
            return delimiter
    return None


def _kind(path: str, head: bytes, text: str, text_column: str | None) -> tuple[str, str | None]:
    """('csv' | 'jsonl' | 'json' | 'parquet' | 'page', CSV delimiter): content first, then the suffix."""
    suffix, _ = _suffixes(path)
    if head.startswith(b"PAR1") or suffix in PARQUET_SUFFIXES:
        return "parquet", None
    stripped = text.lstrip()
    if _JSON_ARRAY.match(stripped):
        return "json", None
    if stripped.startswith("{") or suffix in JSON_SUFFIXES:
        return "jsonl", None
    first_line = stripped.split("\n", 1)[0].rstrip("\r")
    delimiter = _header_delimiter(first_line, text_column, page_suffix=suffix in PAGE_SUFFIXES)
    if delimiter is not None:
        return "csv", delimiter
    if suffix in CSV_SUFFIXES:
        try:
            return "csv", csv.Sniffer().sniff(stripped[:SNIFF_BYTES // 4], delimiters=DELIMITERS).delimiter
        except csv.Error:
            return "csv", "\t" if suffix == ".tsv" else ","
    return "page", None


@dataclass
class Input:
    """One input, sniffed and checked: what it holds and how to read it. ``rows()`` reads it record by record."""

    path: str
    kind: str
    encoding: str | None
    text_column: str | None = None
    id_column: str | None = None
    delimiter: str = ","
    gzipped: bool = False
    head: bytes = b""  # stdin's first bytes, read for sniffing
    columns_picked: bool = False

    def open_bytes(self) -> IO[bytes]:
        """The input's (decompressed) bytes from the start."""
        raw: IO[bytes]
        if self.path == "-":
            raw = io.BufferedReader(_Prefixed(self.head, sys.stdin.buffer))
        else:
            try:
                raw = open(self.path, "rb")  # noqa: SIM115
            except OSError as exc:
                raise InputError(f"{self.path}: cannot read: {exc.strerror or exc}") from exc
        return gzip.GzipFile(fileobj=raw, mode="rb") if self.gzipped else raw

    @contextlib.contextmanager
    def open_text(self) -> Iterator[IO[str]]:
        """The input as text; bytes the encoding cannot decode are kept (surrogateescape) and reported per row."""
        with self.open_bytes() as raw:
            yield io.TextIOWrapper(raw, encoding=self.encoding or "utf-8-sig", errors="surrogateescape",
                                   newline="")

    def rows(self) -> Iterator[InputRow]:
        """Every record of this input, in order: one ``InputRow`` each, read or an error."""
        if self.kind == "page":
            yield from _page_rows(self.path, read_page(self))
        elif self.kind == "parquet":
            yield from _parquet_rows(self)
        else:
            with self.open_text() as handle:
                if self.kind == "csv":
                    yield from _csv_rows(handle, self)
                elif self.kind == "json":
                    yield from _json_array_rows(handle.read(), self)
                else:
                    yield from _jsonl_rows(handle, self)


class _Prefixed(io.RawIOBase):
    """A byte stream whose first bytes were already read (stdin after sniffing)."""

    def __init__(self, head: bytes, rest: IO[bytes]):
        self._head, self._rest = head, rest

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n], self._head = self._head[:n], self._head[n:]
            return n
        data = self._rest.read1(len(buffer)) if hasattr(self._rest, "read1") else self._rest.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def open_input(path: str, text_column: str | None = None, id_column: str | None = None,
               encoding: str | None = None, kind: str | None = None) -> Input:
    """Sniff and check one input ('-' is stdin): its format (unless ``kind`` says), encoding and, for tables,
    its text column.

    Raises ``InputError`` for anything that stops the run: missing, a folder, binary, no text column.
    """
    head = _read_head(path)
    _, gz_name = _suffixes(path)
    gzipped = head.startswith(b"\x1f\x8b")
    try:
        content = _gunzip_head(head) if gzipped else head
    except InputError as exc:
        raise InputError(f"{path}: {exc}") from exc
    if gz_name and not gzipped and head:
        raise InputError(f"{path}: named .gz but not gzip-compressed")
    bom = _bom_encoding(content)
    if bom is None and not content.startswith(b"PAR1") and (reason := _binary_reason(content)):
        raise InputError(f"{path}: {reason}, not comments or a page")
    chosen = bom or encoding
    text = content.decode(chosen or "utf-8-sig", errors="replace")
    kind, delimiter = (kind, None) if kind else _kind(path, content, text, text_column)
    if path == "-" and kind == "parquet":
        head += sys.stdin.buffer.read()  # Parquet's index is at the end: stdin is read whole
    source = Input(path, kind, chosen, text_column, id_column, delimiter or ",", gzipped,
                   head if path == "-" else b"")
    _check_columns(source, text)
    return source


def _check_columns(source: Input, text: str) -> None:
    """Find a table's text and id columns now, so a missing column stops the run before any work."""
    if source.kind == "csv":
        first = text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")
        header = next(csv.reader([first], delimiter=source.delimiter), []) if first else []
        if header:
            _pick_columns(source, header)
    elif source.kind == "parquet":
        _pick_columns(source, _parquet_file(source).schema_arrow.names)
    elif source.kind in ("json", "jsonl") and isinstance(record := _first_json_record(text, source.kind), dict):
        _pick_columns(source, record)


def open_inputs(paths: Iterable[str], text_column: str | None = None, id_column: str | None = None,
                encoding: str | None = None) -> list[Input]:
    """Every input checked before any work: all their problems in one ``InputError``, else the sniffed inputs."""
    paths = list(paths)
    if paths.count("-") > 1:
        raise InputError("-: stdin can be read only once")
    inputs, problems = [], []
    for path in paths:
        try:
            inputs.append(open_input(path, text_column, id_column, encoding))
        except InputError as exc:
            problems.append(str(exc))
    if problems:
        raise InputError("\n".join(problems))
    return inputs


def read_rows(path: str, text_column: str | None = None, id_column: str | None = None,
              encoding: str | None = None) -> Iterator[InputRow]:
    """Every row of one input (a table, JSON file or an article page; '-' is stdin), in order."""
    yield from open_input(path, text_column, id_column, encoding).rows()


def pick_column(columns: Iterable[str], wanted: str | None, candidates: tuple[str, ...], what: str,
                source: str) -> str | None:
    """The column named by the user, else the first conventional name present (case-insensitive)."""
    columns = list(columns)
    lowered = {str(c).lower().strip(): c for c in columns}
    if wanted is not None:
        if wanted in columns:
            return wanted
        if wanted.lower().strip() in lowered:
            return lowered[wanted.lower().strip()]
        raise InputError(f"{source}: no column {wanted!r} (columns: {', '.join(map(str, columns))})")
    for name in candidates:
        if name in lowered:
            return lowered[name]
    if what == "text":
        raise InputError(
            f"{source}: no text column found among {', '.join(map(str, columns)) or 'no columns'}; "
            f"name it with --text-column"
        )
    return None


_UNDECODABLE = re.compile("[\udc80-\udcff]")  # bytes that were not valid in the encoding (surrogateescape)


def _undecodable(value: Any) -> bool:
    return isinstance(value, str) and _UNDECODABLE.search(value) is not None


def encoding_hint(raw: bytes) -> str:
    """What to pass as ``--encoding`` for bytes that are not UTF-8: Windows-1252 (what Excel and most Western
    tools write) when it reads them, else charset-normalizer's guess."""
    with contextlib.suppress(UnicodeDecodeError):
        raw.decode("cp1252")
        return "try --encoding cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    return f"try --encoding {best.encoding}" if best is not None else "check --encoding"


def _printable(value: str) -> str:
    """A value with undecodable bytes shown as escapes, safe to write in an error row."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _row(source: Input, line: int, number: int, record: dict[str, Any]) -> InputRow:
    """Turn one parsed record into an InputRow, or an error row that says what is wrong."""
    text_col, id_col = source.text_column, source.id_column
    rid = record.get(id_col) if id_col else None
    rid = str(number) if rid is None or rid == "" else str(rid)
    extra = {k: v for k, v in record.items() if k != text_col and k != id_col and k is not None}
    text = record.get(text_col)
    if isinstance(text, str) and not any(map(_undecodable, record.values())):
        return InputRow(source.path, line, rid, text=text, extra=extra)
    return InputRow(source.path, line, _printable(rid), error=f"{source.path}:{line}: {_problem(source, record)}",
                    extra=extra)


def _problem(source: Input, record: dict[str, Any]) -> str:
    """Why a record cannot be scored, and what to do about it."""
    bad = [k for k, v in record.items() if _undecodable(v)]
    if bad:
        raw = str(record[bad[0]]).encode("utf-8", "surrogateescape")
        name = "utf-8" if source.encoding in (None, "utf-8-sig") else source.encoding
        return f"not {name} ({', '.join(map(str, bad))}): {encoding_hint(raw)}"
    if source.text_column not in record:
        return f"missing text column {source.text_column!r}"
    if record[source.text_column] is None:
        return "text is null, nothing to score"
    return "text is not a string"


class _Lines:
    """Physical lines with their numbers, some of which can be pushed back to be read again."""

    def __init__(self, handle: IO[str]):
        self._lines = enumerate(handle, start=1)
        self._again: list[tuple[int, str]] = []
        self.taken: list[tuple[int, str]] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        number, line = self._again.pop() if self._again else next(self._lines)
        self.taken.append((number, line))
        return line

    def push_back(self, lines: list[tuple[int, str]]) -> None:
        self._again.extend(reversed(lines))


def _csv_records(handle: IO[str], delimiter: str) -> Iterator[tuple[int, list[str] | None, str | None]]:
    """(first line, fields, error) per record. A record the strict parser rejects (an unbalanced quote that
    would swallow the rows after it) is an error on its first line, and parsing resumes on the next line."""
    lines = _Lines(handle)
    reader = csv.reader(lines, delimiter=delimiter, strict=True)
    while True:
        lines.taken = []
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            taken = lines.taken
            if not taken:
                return
            yield taken[0][0], None, f"malformed CSV ({exc}; an unbalanced quote?)"
            lines.push_back(taken[1:])
            reader = csv.reader(lines, delimiter=delimiter, strict=True)
            continue
        if lines.taken:
            yield lines.taken[0][0], fields, None


def _csv_rows(handle: IO[str], source: Input) -> Iterator[InputRow]:
    records = _csv_records(handle, source.delimiter)
    header = None
    for _line, fields, _error in records:
        if fields:  # blank lines before the header are skipped
            header = [f.lstrip("\ufeff") for f in fields]
            break
    if header is None:
        return
    number = 0
    for line, fields, error in records:
        if fields == []:
            continue  # a blank line is no record
        number += 1
        if error is None and len(fields) != len(header):
            error = f"malformed CSV row ({len(fields)} fields, the header has {len(header)})"
        if error is not None:
            rid = fields[header.index(source.id_column)] if fields and source.id_column in header and \
                len(fields) == len(header) else str(number)
            yield InputRow(source.path, line, _printable(rid), error=f"{source.path}:{line}: {error}")
            continue
        yield _row(source, line, number, dict(zip(header, fields, strict=True)))


def _pick_columns(source: Input, names: Iterable[str]) -> None:
    names = list(names)
    source.text_column = pick_column(names, source.text_column, TEXT_COLUMNS, "text", source.path)
    source.id_column = pick_column(names, source.id_column, ID_COLUMNS, "id", source.path)
    source.columns_picked = True


def _first_json_record(text: str, kind: str) -> Any:
    """The first record of a JSON Lines or JSON array head, or None when the head does not hold a whole one."""
    text = text.lstrip("\ufeff").lstrip()
    try:
        if kind == "json":
            return json.JSONDecoder().raw_decode(text, re.compile(r"\[\s*").match(text).end())[0]
        return json.loads(text.split("\n", 1)[0])
    except (ValueError, AttributeError):
        return None


def _json_record(source: Input, line: int, number: int, record: Any) -> InputRow:
    """One JSON record as a row. The first object fixes the text and id columns (when the head did not); an
    object without them is an error row, never a stop half-way through a run."""
    if not isinstance(record, dict):
        return InputRow(source.path, line, str(number), error=f"{source.path}:{line}: not a JSON object")
    if not source.columns_picked:
        try:
            _pick_columns(source, record)
        except InputError as exc:
            return InputRow(source.path, line, str(number), error=f"{source.path}:{line}: {exc}")
    return _row(source, line, number, record)


def _jsonl_rows(handle: IO[str], source: Input) -> Iterator[InputRow]:
    number = 0
    for line, raw in enumerate(handle, start=1):
        raw = raw.lstrip("\ufeff")
        if not raw.strip():
            continue
        number += 1
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as exc:
            yield InputRow(source.path, line, str(number), error=f"{source.path}:{line}: not JSON: {exc.msg}")
            continue
        yield _json_record(source, line, number, record)


def _json_array_rows(text: str, source: Input) -> Iterator[InputRow]:
    """A JSON array of records, read record by record: a broken record is one error row, the rest still read."""
    decoder = json.JSONDecoder()
    text = text.lstrip("\ufeff")
    pos, number, line, counted = text.index("[") + 1, 0, 1, 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return
        number += 1
        line, counted = line + text.count("\n", counted, pos), pos
        try:
            record, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            yield InputRow(source.path, line, str(number), error=f"{source.path}:{line}: not JSON: {exc.msg}")
            found = _NEXT_RECORD.search(text, max(exc.pos, pos + 1))
            if found is None:
                return
            pos = found.end()
            continue
        yield _json_record(source, line, number, record)


def _parquet_file(source: Input):
    try:
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise InputError(f"{source.path}: reading Parquet needs pyarrow: pip install 'moderation[parquet]'") from exc

    try:
        if source.path == "-":
            with source.open_bytes() as handle:
                return pq.ParquetFile(io.BytesIO(handle.read()))
        return pq.ParquetFile(source.path)
    except Exception as exc:  # pyarrow raises its own error types for a broken file
        raise InputError(f"{source.path}: not a readable Parquet file ({exc})") from exc


def _parquet_rows(source: Input) -> Iterator[InputRow]:
    """Parquet row groups in batches; a row's "line" is its row number."""
    number = 0
    for batch in _parquet_file(source).iter_batches(batch_size=2000):
        for record in batch.to_pylist():
            number += 1
            yield _row(source, number, number, record)


def _decode_page(data: bytes, path: str, encoding: str | None) -> str:
    """A page's text: in the given encoding, else UTF-8, else its ``<meta charset>``, else the detected encoding
    (reported on stderr); never silently corrupted, and binary files are refused."""
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not {encoding} (byte {exc.start}): {encoding_hint(data)}") from exc
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    if (meta := _META_CHARSET.search(data[:SNIFF_BYTES])) is not None:
        declared = meta.group(1).decode("ascii").lower()
        with contextlib.suppress(LookupError, UnicodeDecodeError):
            return data.decode(WHATWG_ALIASES.get(declared, declared))
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise InputError(f"{path}: not UTF-8 and no encoding fits; pass --encoding")
    name = "cp1252" if "cp1252" in best.could_be_from_charset else best.encoding  # the same text: say the usual
    log.warning("%s: not UTF-8; read as %s (detected); pass --encoding to choose", path, name)
    return str(best)


def _control_share(text: str) -> float:
    sample = text[:SNIFF_BYTES]
    controls = sum(unicodedata.category(c) == "Cc" and c not in "\t\n\r\f\v" for c in sample)
    return controls / max(len(sample), 1)


def read_page(source: Input | str, encoding: str | None = None) -> str:
    """The whole text of a page input, decoded as ``_decode_page`` says; binary data is an ``InputError``."""
    source = source if isinstance(source, Input) else open_input(source, encoding=encoding)
    with source.open_bytes() as handle:
        data = handle.read()
    text = _decode_page(data, source.path, source.encoding)
    if _control_share(text) > 0.01:
        raise InputError(f"{source.path}: binary data (control characters), not a page")
    return text


def _page_rows(name: str, text: str) -> Iterator[InputRow]:
    """Each comment of one article page, carrying its article for the off-topic model."""
    from moderation.pages import parse_page

    article = parse_page(text)
    if not article.comments:
        log.warning("%s: no reader comments found (read as a page; a table needs --text-column)", name)
    article_text = "\n\n".join(part for part in (article.title, article.body) if part)
    for comment in article.comments:
        yield InputRow(
            name, comment.index, f"{name}#{comment.index}", text=comment.text,
            extra={"page": name, "index": comment.index, "author": comment.author,
                   "posted_at": comment.posted_at, "article": article_text, "title": article.title,
                   "reply_to": comment.reply_to},
        )


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", newline: str | None = None, *,
                make_parents: bool = True) -> Iterator[IO]:
    """A file that appears at ``path`` only when the block completes, synced to disk, with the permissions a
    plain ``open`` would give it; on any error (or Ctrl-C, or SIGTERM turned into an exit) nothing is left
    behind. A ``.gz`` path is gzip-compressed. Without ``make_parents`` a missing folder is an error."""
    target = Path(path)
    if make_parents:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    text = {} if "b" in mode else {"encoding": "utf-8", "newline": newline}
    try:
        with os.fdopen(fd, "wb" if target.suffix == ".gz" else mode, **({} if target.suffix == ".gz" else text)) \
                as handle:
            if target.suffix == ".gz":
                with gzip.GzipFile(fileobj=handle, mode="wb") as packed, \
                        (packed if "b" in mode else io.TextIOWrapper(packed, **text)) as inner:
                    yield inner
            else:
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
    """'csv', 'tsv', 'jsonl' or 'json' (an array) by the output's suffix (before a ``.gz``)."""
    if path in (None, "-"):
        return default
    suffix, _ = _suffixes(path)
    if suffix not in OUTPUT_FORMATS:
        raise InputError(f"{path}: cannot write {suffix or 'a file without a suffix'}; name the output "
                         f"{', '.join(OUTPUT_FORMATS)} (optionally .gz)")
    return OUTPUT_FORMATS[suffix]


def check_output(path: str | None, inputs: Iterable[str] = (), default: str = "jsonl") -> str:
    """The output's format, after checking (before any work) that it can be written and is none of the
    inputs: a folder, an input or an unwritable folder is an ``InputError`` now, not a traceback later."""
    if path not in (None, "-") and Path(path).is_dir():
        raise InputError(f"{path}: is a folder; name an output file (e.g. {Path(path) / 'decisions.csv'})")
    fmt = output_format(path, default)
    if path in (None, "-"):
        return fmt
    target = Path(path)
    for source in inputs:
        if source != "-" and target.exists() and Path(source).exists() and target.samefile(source):
            raise InputError(f"{path}: is also an input; write the output to another file")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as exc:
        raise InputError(f"{path}: cannot write there: {exc.strerror or exc}") from exc
    return fmt


class RowWriter:
    """Writes dicts with one fixed set of columns as CSV, TSV, JSON Lines or one JSON array; lists and dicts
    become JSON in CSV. ``close`` ends the file: a table gets its header even with no rows, an array its ']'."""

    def __init__(self, handle: IO[str], fmt: str, columns: list[str] | None = None):
        self.handle, self.fmt, self.columns = handle, fmt, columns
        self._csv = None
        self._rows = 0

    def _start_table(self, record: dict[str, Any] | None):
        """A plain ``csv.writer`` fed lists in column order: ``DictWriter`` builds a dict and a list per row."""
        self.columns = self.columns or list(record or {})
        self._csv = csv.writer(self.handle, lineterminator="\n", delimiter="\t" if self.fmt == "tsv" else ",")
        self._csv.writerow(self.columns)
        return self._csv

    def write(self, record: dict[str, Any]) -> None:
        if self.fmt in ("jsonl", "json"):
            line = _JSON.encode(record)
            if self.fmt == "json":
                line = ("[\n" if self._rows == 0 else ",\n") + line
            self.handle.write(line if self.fmt == "json" else line + "\n")
        else:
            writer = self._csv or self._start_table(record)
            writer.writerow([_csv_cell(record.get(k)) for k in self.columns])
        self._rows += 1

    def write_all(self, records: Iterable[dict[str, Any]]) -> None:
        for record in records:
            self.write(record)

    def close(self) -> None:
        if self.fmt == "json":
            self.handle.write("[]\n" if self._rows == 0 else "\n]\n")
        elif self.fmt in ("csv", "tsv") and self._csv is None and self.columns:
            self._start_table(None)


def jsonable(value: Any) -> Any:
    """``json.dumps``'s ``default``: numpy scalars (scored frames carry them) as plain values."""
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return _JSON.encode(value)
    return "" if value is None else value


# ``json.dumps`` with these options builds an encoder per call, a third of a cell's cost
_JSON = json.JSONEncoder(ensure_ascii=False, default=jsonable)
