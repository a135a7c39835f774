"""Scoring on a Dask cluster, for archives that outgrow one machine (``moderation score --cluster``).

Dask's own readers split the inputs into partitions; each partition is scored on a worker by the same
``Moderator.score`` as a single-process run; the output appears as one file or a directory of parts only when
every partition is done. Each worker process loads and verifies the models once (``worker_moderator`` is cached
per process), not once per partition. The off-topic near-duplicate count depends on the whole input, so it is
counted across all partitions first and handed to each one. A worker that dies loses nothing: Dask recomputes
its partitions, and a part is written whole or not at all.

Needs the optional extra: ``pip install 'moderation[dask]'``.
"""

from __future__ import annotations

import contextlib
import functools
import json
import math
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from moderation.offtopic import duplicate_hashes
from moderation.policy import Policy
from moderation.rows import ID_COLUMNS, TEXT_COLUMNS, InputError, RowWriter, atomic_file, atomic_output, pick_column
from moderation.scoring import MAX_CHARS, Moderator, load

INSTALL_HINT = "scoring on a cluster needs Dask: pip install 'moderation[dask]'"
FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
           ".parquet": "parquet", ".pq": "parquet"}
COMPRESSIONS = {".gz", ".bz2", ".xz", ".zst", ".zip"}
EMPTY_TEXT = "empty text, nothing to score"
CHUNK_ROWS = 2000  # rows scored at once inside a partition, as the single-process run does
BLOCK_BYTES = (64 * 2**10, 64 * 2**20)  # partitions of 64 KiB to 64 MiB of input text


@dataclass(frozen=True)
class Models:
    """Which models to score with, as each worker resolves them (the arguments of ``scoring.load``): the paths
    must exist on the workers too."""

    path: str | None = None
    offtopic_path: str | None = None
    version: str | None = None


@functools.lru_cache(maxsize=4)
def worker_moderator(models: Models) -> Moderator:
    """The models, loaded and verified against their cards once per process, not once per partition."""
    return load(models.path, models.offtopic_path, models.version)


def _dask():
    try:
        import dask.dataframe as dd
        import distributed
    except ImportError as exc:
        raise InputError(INSTALL_HINT) from exc
    return dd, distributed


# ----- the whole-input near-duplicate count -----------------------------------------------------------------

def _digests(texts: pd.Series) -> pd.Series:
    """Each text's ``offtopic.duplicate_hashes`` as ``Moderator.score`` sees the text (0: too short for a key)."""
    cut = [text[:MAX_CHARS] if isinstance(text, str) else "" for text in texts]
    return pd.Series(duplicate_hashes(cut), index=texts.index)


def shared_digests(texts) -> pd.Series:
    """Over the whole Dask series of texts: how many texts share each near-duplicate key, for keys shared by
    two or more (the rest count as one). Computed once, before scoring."""
    digests = texts.map_partitions(_digests, meta=(texts.name, "uint64"))
    digests = digests[digests != 0]
    counts = digests.value_counts(split_out=max(1, texts.npartitions // 16))
    return counts[counts > 1].compute()


def duplicates_in(texts: pd.Series, shared: pd.Series) -> np.ndarray:
    """For one partition: how many other comments of the whole input share each text's near-duplicate key."""
    return _digests(texts).map(shared).fillna(1).to_numpy(float) - 1


# ----- scoring ----------------------------------------------------------------------------------------------

def _describe(models: Models) -> tuple[str, list[str]]:
    """The version and output columns of the models, as a worker loads them (and keeps them for scoring)."""
    moderator = worker_moderator(models)
    return moderator.version, moderator.columns()


def _meta(columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=float if c.startswith("p_") else object) for c in columns})


def _score_part(frame: pd.DataFrame, models: Models, version: str, shared: pd.Series, reasons: str,
                policy: Policy | None, error_rows: bool) -> pd.DataFrame:
    """One partition through ``Moderator.score`` in chunks of ``CHUNK_ROWS`` (a partition's features at once would
    take gigabytes), with the whole input's near-duplicate counts."""
    moderator = worker_moderator(models)
    if moderator.version != version:
        raise RuntimeError(f"a worker loaded models {moderator.version}, another {version}: install the same "
                           "package and models on every worker")
    counts = duplicates_in(frame["text"], shared)
    chunks = [_score_rows(moderator, frame[i : i + CHUNK_ROWS], counts[i : i + CHUNK_ROWS], reasons, policy,
                          error_rows) for i in range(0, len(frame), CHUNK_ROWS)]
    return pd.concat(chunks, ignore_index=True) if chunks else _meta(moderator.columns() + ["error"] * error_rows)


def _score_rows(moderator: Moderator, frame: pd.DataFrame, counts: np.ndarray, reasons: str, policy: Policy | None,
                error_rows: bool) -> pd.DataFrame:
    """``Moderator.score`` of some rows; with ``error_rows``, a comment without text gets an error row in place
    (what ``moderation score`` writes) instead of a score."""
    frame = frame.reset_index(drop=True)
    if not error_rows:
        return moderator.score(frame, reasons=reasons, policy=policy, copies=counts)
    readable = np.array([isinstance(t, str) and bool(t.strip()) for t in frame["text"]], dtype=bool)
    parts = [pd.DataFrame({"id": frame["id"][~readable].astype(str), "model_version": moderator.version,
                           "error": EMPTY_TEXT})]
    if readable.any():
        scored = moderator.score(frame[readable], reasons=reasons, policy=policy, copies=counts[readable])
        parts.append(scored.set_axis(np.flatnonzero(readable)).assign(error=None))
    return pd.concat(parts).sort_index().reindex(columns=[*moderator.columns(), "error"])


def score(ddf, models: Models = Models(), *, reasons: str = "flagged", policy: Policy | None = None,  # noqa: B008
          error_rows: bool = False):
    """A Dask DataFrame of ``Moderator.score``'s columns for the comments of ``ddf`` (columns ``id``, ``text`` and
    optional ``article``), partition by partition and in order; the same rows and numbers as ``Moderator.score``
    on the whole input. The near-duplicate counts are computed here (one pass over the texts); the scores when
    the result is computed. ``error_rows``: comments without text get an error row (column ``error``) instead."""
    _dask()
    missing = {"id", "text"} - set(ddf.columns)
    if missing:
        raise ValueError(f"no {', '.join(sorted(missing))} column among {list(ddf.columns)}")
    import dask

    version, columns = dask.delayed(_describe)(models).compute()  # on a worker: the client need not load them
    shared = dask.delayed(shared_digests(ddf["text"]), traverse=False)  # one copy in the graph, not one per task
    return ddf.map_partitions(_score_part, models, version, shared, reasons, policy, error_rows,
                              meta=_meta(columns + ["error"] * error_rows), align_dataframes=False)


# ----- reading ----------------------------------------------------------------------------------------------

def _format(path: str) -> tuple[str, bool]:
    """The file's format by suffix, and whether it is compressed (``comments.csv.gz``)."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    compressed = bool(suffixes) and suffixes[-1] in COMPRESSIONS
    suffix = suffixes[-2 if compressed else -1] if len(suffixes) > compressed else ""
    if suffix not in FORMATS:
        raise InputError(f"{path}: --cluster reads CSV, JSON Lines or Parquet files (pages: run `moderation parse "
                         "--flat` first)")
    return FORMATS[suffix], compressed


def input_files(inputs: list[str]) -> tuple[list[str], int]:
    """Every file the inputs name (files, globs, directories; any fsspec path), and their total bytes.
    Hidden and ``_``-prefixed files in directories (``_SUCCESS``, ``.crc``) are left out."""
    import fsspec

    files, size = [], 0
    for path in inputs:
        fs, _, found = fsspec.get_fs_token_paths(path)
        if not found or not fs.exists(found[0]):
            raise InputError(f"{path}: no such file")
        for name in found:
            inside = [p for p in sorted(fs.find(name)) if not Path(p).name.startswith((".", "_"))]
            for file in inside if fs.isdir(name) else [name]:
                files.append(fs.unstrip_protocol(file) if fs.protocol not in ("file", ("file", "local")) else file)
                size += fs.size(file)
    return files, size


def read_comments(inputs: list[str], *, text_column: str | None = None, id_column: str | None = None,
                  article_column: str = "article", encoding: str | None = None, blocksize: int = BLOCK_BYTES[1]):
    """The inputs as one Dask DataFrame of ``id``, ``text`` and ``article``, read by Dask's readers and mapped the
    way ``moderation score`` maps columns (--text-column, --id-column, else the conventional names), in partitions
    of about ``blocksize`` bytes of input. CSV cells are read as text, as the single-process reader does."""
    dd, _ = _dask()
    encoding = encoding or "utf-8"  # Dask's readers take one encoding; the single-process reader also sniffs
    files, size = input_files(inputs)
    kinds = {_format(file) for file in files}
    if len({fmt for fmt, _ in kinds}) > 1:
        raise InputError(f"{', '.join(inputs)}: mixed formats ({', '.join(sorted(f for f, _ in kinds))}); "
                         "score each format separately")
    fmt, compressed = kinds.pop()
    if fmt in ("csv", "tsv"):  # whole files: a quoted comment may hold newlines, so a CSV cannot be cut at any one
        ddf = dd.read_csv(files, blocksize=None, sep="\t" if fmt == "tsv" else ",", dtype=str, encoding=encoding,
                          keep_default_na=False, na_filter=False)
    elif fmt == "jsonl":
        ddf = dd.read_json(files, lines=True, blocksize=None if compressed else blocksize, encoding=encoding,
                           dtype=False, convert_dates=False)
    else:
        ddf = dd.read_parquet(files)
    if fmt != "parquet" and ddf.npartitions < size / blocksize:
        ddf = ddf.repartition(npartitions=math.ceil(size / blocksize))
    source = inputs[0] if len(inputs) == 1 else f"{inputs[0]} (and {len(inputs) - 1} more)"
    text = pick_column(ddf.columns, text_column, TEXT_COLUMNS, "text", source)
    ident = pick_column(ddf.columns, id_column, ID_COLUMNS, "id", source)
    if ident is None:
        raise InputError(f"{source}: no id column among {', '.join(ddf.columns)}; name it with --id-column (rows "
                         "read in parallel have no line numbers to stand in for ids)")
    frame = ddf[[ident, text]].rename(columns={ident: "id", text: "text"})
    frame["id"] = frame["id"].astype(str)
    if article_column in ddf.columns:
        frame["article"] = ddf[article_column]
    return frame


def blocksize_for(total_bytes: int, workers: int) -> int:
    """Partition size giving each worker about four partitions (balance, and little lost when one dies),
    within ``BLOCK_BYTES``."""
    low, high = BLOCK_BYTES
    return int(min(high, max(low, total_bytes // max(1, 4 * workers))))


# ----- writing ----------------------------------------------------------------------------------------------

def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts with None for missing values (an error row's probabilities), as the single-process run."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def part_counts(frame: pd.DataFrame) -> dict[str, int]:
    decisions = frame["decision"].value_counts()
    errors = int(frame["error"].notna().sum()) if "error" in frame else 0
    return {"rows": len(frame), "errors": errors} | {d: int(decisions.get(d, 0)) for d in ("approve", "review",
                                                                                          "reject")}


def _arrow_table(frame: pd.DataFrame):
    """A scored frame for Parquet: reason codes as a list of strings, reasons as JSON text (their fields vary)."""
    import pyarrow as pa

    columns = {}
    for name in frame.columns:
        cells = frame[name].astype(object).where(frame[name].notna(), None).tolist()
        if name == "reason_codes":
            columns[name] = pa.array(cells, pa.list_(pa.string()))
        elif name == "reasons":
            columns[name] = pa.array([None if c is None else json.dumps(c, ensure_ascii=False) for c in cells],
                                     pa.string())
        else:
            columns[name] = pa.array(cells, pa.float64() if name.startswith("p_") else pa.string())
    return pa.table(columns)


def write_part(frame: pd.DataFrame, path: str, fmt: str) -> dict[str, int]:
    """One partition's rows into its own file, whole or not at all (a retried partition overwrites it); never
    into a folder it had to create: when the run's folder is gone (the run was interrupted) it fails instead."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with atomic_file(path, "wb", make_parents=False) as handle:
            pq.write_table(_arrow_table(frame), handle)
    else:
        with atomic_file(path, "w", newline="" if fmt == "csv" else None, make_parents=False) as handle:
            RowWriter(handle, fmt, list(frame.columns)).write_all(records(frame))
    return part_counts(frame)


@contextlib.contextmanager
def atomic_directory(target: str):
    """A directory that appears at ``target`` only when the block completes, replacing an earlier one; on any
    error (or Ctrl-C) nothing is left behind."""
    path = Path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for stray in tmp.glob(".*.tmp"):  # a part a killed worker was writing; its retry wrote the part
            stray.unlink()
        old = path.with_name(f".{path.name}.old") if path.exists() else None
        if old:
            os.replace(path, old)
        os.replace(tmp, path)
        if old:
            shutil.rmtree(old)
    except BaseException:
        _remove(tmp)
        raise


def _remove(folder: Path, tries: int = 100) -> None:
    """Remove a run's folder while workers may still be landing parts in it: a part landing mid-removal leaves
    the folder non-empty, so try again; once the folder is gone no part can bring it back (``write_part`` does
    not create folders)."""
    for _ in range(tries):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.05)


def output_kind(output: str | None, stdout_format: str = "jsonl") -> tuple[str, bool]:
    """(format, is a directory of parts): ``out/`` is a directory of Parquet parts, ``out.csv/`` or ``out.jsonl/``
    of CSV or JSON Lines parts; ``out.parquet``, ``out.csv`` or ``out.jsonl`` one file; None or '-' stdout."""
    if output in (None, "-"):
        return stdout_format, False
    directory = output.endswith(("/", os.sep)) or Path(output).is_dir()
    suffix = Path(output.rstrip("/" + os.sep)).suffix.lower()
    fmt = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}.get(suffix, "parquet" if directory else None)
    if fmt is None:
        raise InputError(f"{output}: output must end in .csv, .jsonl or .parquet, or in / for a directory of parts")
    return fmt, directory


def _progress(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit=" parts", disable=not enabled, file=sys.stderr)


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for key, value in more.items():
        counts[key] = counts.get(key, 0) + value


def write(scored, output: str | None, client, *, stdout_format: str = "jsonl", keep_order: bool = False,
          progress: bool = False) -> dict[str, int]:
    """Compute ``scored`` on the ``client``'s cluster into ``output`` (see ``output_kind``), written atomically;
    returns counts of rows, errors and decisions. A directory's parts are numbered in input order; one file is
    in input order with ``keep_order``, else in the order partitions finish."""
    from distributed import as_completed

    fmt, directory = output_kind(output, stdout_format)
    parts = scored.to_delayed()
    counts = {"rows": 0, "errors": 0, "approve": 0, "review": 0, "reject": 0}
    with _progress(len(parts), progress) as bar:
        if directory:
            import dask

            with atomic_directory(output) as folder:
                tasks = [dask.delayed(write_part)(part, str(folder / f"part-{i:05d}.{fmt}"), fmt)
                         for i, part in enumerate(parts)]
                for future in as_completed(client.compute(tasks)):
                    _add(counts, future.result())
                    bar.update()
            return counts
        futures = client.compute(parts)
        with _single_file(output, fmt, list(scored.columns)) as put:
            for future in futures if keep_order else as_completed(futures):
                frame = future.result()
                put(frame)
                future.release()
                _add(counts, part_counts(frame))
                bar.update()
    return counts


@contextlib.contextmanager
def _single_file(output: str | None, fmt: str, columns: list[str]):
    """A writer of partitions into one file (or stdout) that appears only when complete."""
    if fmt == "parquet":
        import pyarrow.parquet as pq

        with atomic_file(output, "wb") as handle:
            writer = None

            def put(frame):
                nonlocal writer
                table = _arrow_table(frame)
                writer = writer or pq.ParquetWriter(handle, table.schema)
                writer.write_table(table)

            yield put
            if writer:
                writer.close()
        return
    with atomic_output(output, newline="" if fmt == "csv" else None) as handle:
        writer = RowWriter(handle, fmt, columns)
        yield lambda frame: writer.write_all(records(frame))


@contextlib.contextmanager
def connect(cluster: str):
    """A Dask client: ``local`` or ``local:N`` starts a cluster of N single-thread worker processes on this machine
    (listening on loopback; N defaults to the cores); anything else is the address of a running scheduler."""
    _, distributed = _dask()
    if cluster == "local" or cluster.startswith("local:"):
        count = cluster.partition(":")[2]
        if count and not (count.isdigit() and int(count) > 0):
            raise InputError(f"--cluster {cluster}: expected local or local:N with N worker processes")
        workers = int(count) if count else os.cpu_count() or 1
        with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                                      dashboard_address="127.0.0.1:0") as local, distributed.Client(local) as client:
            yield client
        return
    with distributed.Client(cluster) as client:
        yield client


def dashboard_link(client) -> str | None:
    """The dashboard's address when the scheduler serves one (it needs bokeh)."""
    return client.dashboard_link if "dashboard" in client.scheduler_info().get("services", {}) else None


def score_on_cluster(cluster: str, inputs: list[str], output: str | None, models: Models = Models(),  # noqa: B008
                     *, text_column: str | None = None, id_column: str | None = None, encoding: str | None = None,
                     reasons: str = "flagged", policy: Policy | None = None, article_column: str = "article",
                     stdout_format: str = "jsonl", keep_order: bool = False, progress: bool = False
                     ) -> dict[str, int]:
    """``moderation score --cluster``: every row of ``inputs`` scored on the cluster into ``output``, one output
    row per input row (an error row for a comment without text). Returns counts of rows, errors and decisions."""
    _dask()
    files, size = input_files(inputs)
    output_kind(output, stdout_format)  # a bad output name fails before the cluster starts
    with connect(cluster) as client:
        link = dashboard_link(client)
        if link:
            print(f"Dask dashboard: {link}", file=sys.stderr)
        workers = max(1, len(client.scheduler_info()["workers"]))
        comments = read_comments(files, text_column=text_column, id_column=id_column, article_column=article_column,
                                 encoding=encoding, blocksize=blocksize_for(size, workers))
        scored = score(comments, models, reasons=reasons, policy=policy, error_rows=True)
        return write(scored, output, client, stdout_format=stdout_format, keep_order=keep_order, progress=progress)
