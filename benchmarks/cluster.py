"""`moderation score --cluster` (Dask) beside the process pool (`--jobs`): throughput, overhead, memory, sizing.

    python benchmarks/cluster.py [--rows 1000000 100000] [--runs jobs:1 cluster:1 jobs:2 cluster:2 parts:2]
                                 [--pool-rate 1585] [--no-breakdown]

For each size, N news comments (C3, insults-2012 and Civil Comments texts sampled with replacement, each with a
unique letter tag so that no two are near-duplicates: the single-process run counts duplicates within its
2,000-row chunks, the cluster across the whole input, and repeated texts would give the two different work) are
written as one CSV ``id,text``, then scored by the real command, one run after another on the same file:
``--jobs 1`` and ``--cluster local:1`` side by side, then ``--jobs 2`` and ``--cluster local:2`` (CSV out), then
``--cluster local:2 -o out/`` (Parquet parts). Wall time includes process start, model loading and cluster start.
Each line gives the load average, since other work on the machine slows every timing: compare the ratios of
neighbouring runs. Last, a breakdown of the cluster path's fixed costs and a sizing table from the per-core rate.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pandas as pd
from abuse import run_measured, write_comments

from moderation import distributed
from moderation.corpora.abuse import civil_comments, insults_2012
from moderation.corpora.offtopic import load_c3

COMMAND = [sys.executable, "-c", "from moderation.cli import main; main()", "score"]
RUNS = ("jobs:1", "cluster:1", "jobs:2", "cluster:2", "parts:2")


def news_texts() -> np.ndarray:
    frames = [load_c3().frame, insults_2012().frame, civil_comments().frame]
    return pd.concat([f["text"] for f in frames]).drop_duplicates().to_numpy(dtype=object)


def write_input(path: Path, texts: np.ndarray, rows: int) -> None:
    write_comments(path, texts, rows, seed=3, distinct=True)


def arguments(run: str, source: Path, tmp: Path) -> list[str]:
    kind, count = run.split(":")
    if kind == "jobs":
        return [str(source), "-o", str(tmp / "out.csv"), "--jobs", count]
    output = f"{tmp / 'parts'}/" if kind == "parts" else str(tmp / "out.csv")
    return [str(source), "-o", output, "--cluster", f"local:{count}"]


def measure(run: str, source: Path, rows: int, tmp: Path) -> dict:
    load = os.getloadavg()[0]
    seconds, peak, pss = run_measured([*COMMAND, *arguments(run, source, tmp)], tmp / "run.log")
    summary = (tmp / "run.log").read_text().strip().splitlines()[-1]
    return {"run": run, "seconds": seconds, "rate": rows / seconds, "peak": peak, "pss": pss, "load": load,
            "summary": summary}


def report(results: list[dict], rows: int) -> None:
    print(f"== {rows:,} comments, CSV in -> CSV out (parts:2 = Parquet parts), --reasons flagged ==")
    by_run = {r["run"]: r for r in results}
    for r in results:
        kind, count = r["run"].split(":")
        pool = by_run.get(f"jobs:{count}")
        ratio = f"; pool / this: {pool['seconds'] / r['seconds']:.2f}" if kind != "jobs" and pool else ""
        print(f"  {r['run']:>9}: {r['seconds']:7.1f} s, {r['rate']:7,.0f} comments/s, largest process "
              f"{r['peak'] / 2**20:5,.0f} MiB RSS, all {r['pss'] / 2**20:5,.0f} MiB PSS, load before "
              f"{r['load']:.1f}{ratio}   [{r['summary']}]")
    print()


def breakdown(source: Path, workers: int = 2) -> None:
    """The cluster path's fixed costs, timed one by one in this process."""
    started = time.perf_counter()
    with distributed.connect(f"local:{workers}") as client:
        connected = time.perf_counter()
        files, size = distributed.input_files([str(source)])
        comments = distributed.read_comments(files, blocksize=distributed.blocksize_for(size, workers))
        loaded = time.perf_counter()
        client.run(distributed.worker_moderator, distributed.Models())
        warmed = time.perf_counter()
        shared = distributed.shared_digests(comments["text"])
        counted = time.perf_counter()
    print(f"== cluster path, fixed costs ({source.stat().st_size / 2**20:,.0f} MiB input, {comments.npartitions} "
          f"partitions, local:{workers}) ==\n  LocalCluster start {connected - started:.1f} s; reading the CSV "
          f"header {loaded - connected:.1f} s; models loaded on the workers {warmed - loaded:.1f} s; whole-input "
          f"near-duplicate count (one pass over the texts, {len(shared):,} shared keys) {counted - warmed:.1f} s\n")


def sizing(results: list[dict], rows: int, pool_rate: float | None) -> None:
    """Cores and hours for 100M and 1B comments: from the cluster's per-core rate measured here, or (with
    ``pool_rate``, the pool's comments/s per core on a quiet machine) that rate times the measured pool/cluster
    ratio of the one-worker runs, which contention on a shared machine distorts less than absolute rates."""
    by_run = {r["run"]: r for r in results}
    if "cluster:1" not in by_run:
        return
    cluster = by_run["cluster:1"]
    per_core, basis = cluster["rate"], "cluster:1 as measured"
    if pool_rate and "jobs:1" in by_run:
        ratio = by_run["jobs:1"]["seconds"] / cluster["seconds"]
        per_core, basis = pool_rate * ratio, f"quiet pool {pool_rate:,.0f}/s per core x pool/cluster {ratio:.2f}"
    print(f"== sizing: {per_core:,.0f} comments/s per core ({basis}, {rows:,} comments); largest process "
          f"{cluster['peak'] / 2**20:,.0f} MiB RSS ==")
    for total in (100_000_000, 1_000_000_000):
        core_hours = total / per_core / 3600
        walls = ", ".join(f"{cores} cores {core_hours / cores:,.1f} h" for cores in (16, 64, 256))
        print(f"  {total:>13,} comments: {core_hours:,.0f} core-hours; {walls}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 100_000], help="input sizes")
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=RUNS, help="runs per size, in order")
    parser.add_argument("--no-breakdown", action="store_true", help="skip the timing of the fixed costs")
    parser.add_argument("--pool-rate", type=float,
                        help="the pool's comments/s per core on a quiet machine (benchmarks/speed.py), for sizing")
    args = parser.parse_args()
    print(f"$ {' '.join([Path(sys.argv[0]).name, *sys.argv[1:]])}")
    print(f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}; {platform.platform()}; {os.cpu_count()} cores; "
          f"load average {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    libraries = ("moderation", "dask", "distributed", "pandas", "pyarrow", "scikit-learn")
    print(f"Python {platform.python_version()}, " + ", ".join(f"{n} {version(n)}" for n in libraries) + "\n",
          flush=True)
    texts = news_texts()
    with tempfile.TemporaryDirectory(prefix="distributed-bench-") as folder:
        tmp = Path(folder)
        source = tmp / "comments.csv"
        for rows in args.rows:
            write_input(source, texts, rows)
            results = []
            for run in args.runs:
                results.append(measure(run, source, rows, tmp))
                print(f"  ... {run} {results[-1]['seconds']:.1f} s", flush=True)
            report(results, rows)
            sizing(results, rows, args.pool_rate)
            if not args.no_breakdown:
                breakdown(source)
            sys.stdout.flush()


if __name__ == "__main__":
    main()
