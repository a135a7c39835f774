"""Start-up, one-comment and bulk speed of `moderation` beside alt-profanity-check, measured in one run.

    python benchmarks/speed.py [--rows 100000] [--million-rows 0] [--repeats 3] [--peer-python PATH]

1. Start-up: a fresh process running ``import moderation; moderation.load()`` (both shipped models, verified)
   against one running ``import profanity_check`` (which loads its model at import); median of ``--repeats``.
2. One comment through the CLI (``moderation score one.csv -o out.csv``, whole process) against the peer's
   whole process scoring one comment (``benchmarks/_peer.py``: start, import, read, predict, write).
3. Bulk: ``moderation score`` on ``--rows`` news comments (insults-2012, C3, civil comments, sampled with
   replacement, each made distinct by a word of its own; CSV in, CSV out, defaults: both models, reasons for
   comments not approved, ``--jobs`` 2)
   against the peer's bare ``predict_prob`` call and its whole process on the same texts; peak memory.
4. With ``--million-rows N``: peak memory of ``moderation score`` on N comments (target: under 1 GiB).

Ours runs as ``python -m moderation`` from this checkout. Timings are wall-clock seconds: other work on the
machine slows both sides, so read the ratios, which are measured in the same run, one right after the other.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import numpy as np
from abuse import header, peer_predict, peer_python, run_measured, write_comments

from moderation.corpora.abuse import NEWS_CORPORA, load_all

ROOT = Path(__file__).resolve().parents[1]
OURS = [sys.executable, "-m", "moderation"]


def median_wall(command: list[str], tmp: Path, repeats: int) -> float:
    return statistics.median(run_measured(command, tmp / "run.log")[0] for _ in range(repeats))


def report_start(python: Path, tmp: Path, repeats: int) -> None:
    ours = median_wall([sys.executable, "-c", "import moderation; moderation.load()"], tmp, repeats)
    peer = median_wall([str(python), "-c", "import profanity_check"], tmp, repeats)
    verdict = "met" if ours <= peer else "MISSED"
    print(f"== 1. Start-up (median of {repeats}) ==\n  import moderation; moderation.load(): {ours:.2f} s\n"
          f"  import profanity_check: {peer:.2f} s\n  ours / peer: {ours / peer:.2f} (target <= 1: {verdict})\n")


def report_one_comment(python: Path, tmp: Path, repeats: int) -> None:
    source = tmp / "one.csv"
    source.write_text("id,text\n1,You are a complete idiot and everyone knows it\n", encoding="utf-8")
    ours = median_wall([*OURS, "score", str(source), "-o", str(tmp / "one-out.csv")], tmp, repeats)
    peer = statistics.median(peer_predict(python, ["You are a complete idiot and everyone knows it"], tmp)[1]
                             ["wall_seconds"] for _ in range(repeats))
    verdict = "met" if ours <= 1.5 * peer else "MISSED"
    print(f"== 2. One comment, whole process (median of {repeats}) ==\n  moderation score one.csv: {ours:.2f} s\n"
          f"  peer process: {peer:.2f} s\n  ours / peer: {ours / peer:.2f} (target <= 1.5: {verdict})\n")


def score_file(source: Path, tmp: Path) -> tuple[float, int, int, str]:
    """Wall seconds, peak RSS of the largest process, peak summed PSS, and the run's summary line."""
    log = tmp / "score.log"
    seconds, peak, pss = run_measured([*OURS, "score", str(source), "-o", str(tmp / "scored.csv")], log)
    return seconds, peak, pss, log.read_text().strip().splitlines()[-1]


def report_bulk(python: Path, texts: np.ndarray, rows: int, tmp: Path) -> None:
    source = tmp / "comments.csv"
    write_comments(source, texts, rows, seed=1, distinct=True)
    seconds, peak, pss, summary = score_file(source, tmp)
    import pandas as pd

    sample = pd.read_csv(source, dtype={"text": str}, keep_default_na=False)["text"].tolist()
    _, peer = peer_predict(python, sample, tmp)
    ours, bare, whole = rows / seconds, rows / peer["predict_seconds"], rows / peer["wall_seconds"]
    verdict = "met" if ours >= 0.25 * bare else "MISSED"
    print(f"== 3. Bulk: {rows:,} news comments, CSV in -> CSV out, defaults ==\n"
          f"  moderation score: {seconds:.1f} s, {ours:,.0f} comments/s; largest process {peak / 2**20:,.0f} MiB "
          f"RSS, all processes {pss / 2**20:,.0f} MiB PSS\n    {summary}\n"
          f"  peer predict_prob call alone: {peer['predict_seconds']:.1f} s, {bare:,.0f} comments/s\n"
          f"  peer whole process: {peer['wall_seconds']:.1f} s, {whole:,.0f} comments/s\n"
          f"  ours / peer predict_prob: {ours / bare:.3f} (target >= 0.25: {verdict}); "
          f"ours / peer process: {ours / whole:.3f}\n")


def report_memory(texts: np.ndarray, rows: int, tmp: Path) -> None:
    source = tmp / "million.csv"
    write_comments(source, texts, rows, seed=2, distinct=True)
    seconds, peak, pss, summary = score_file(source, tmp)
    verdict = "met" if max(peak, pss) < 2**30 else "MISSED"
    print(f"== 4. Memory: {rows:,} comments ==\n  {seconds:.0f} s, {rows / seconds:,.0f} comments/s; largest process "
          f"{peak / 2**20:,.0f} MiB RSS, all processes {pss / 2**20:,.0f} MiB PSS (target < 1 GiB: {verdict})\n"
          f"    {summary}\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000, help="comments for the bulk comparison")
    parser.add_argument("--million-rows", type=int, default=0, help="comments for the memory run (0: skip)")
    parser.add_argument("--repeats", type=int, default=3, help="runs per start-up figure (the median is shown)")
    parser.add_argument("--peer-python", help="Python of a venv with alt-profanity-check (default: .peer-venv)")
    args = parser.parse_args()
    os.chdir(ROOT)  # `python -m moderation` and `import moderation` take this checkout's code
    python = peer_python(args.peer_python)
    texts = np.concatenate([c.frame["text"].to_numpy(dtype=object) for c in load_all(NEWS_CORPORA)])
    with tempfile.TemporaryDirectory(prefix="speed-bench-") as folder:
        tmp = Path(folder)
        header(python, tmp)
        report_start(python, tmp, args.repeats)
        report_one_comment(python, tmp, args.repeats)
        report_bulk(python, texts, args.rows, tmp)
        if args.million_rows:
            report_memory(texts, args.million_rows, tmp)


if __name__ == "__main__":
    main()
