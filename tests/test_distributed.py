"""Scoring on a Dask cluster: a LocalCluster of two worker processes gives the single-process rows and numbers,
loses no row when a worker is killed, and leaves nothing behind when interrupted."""

import csv
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")

from moderation import distributed  # noqa: E402
from moderation.artifacts import shipped_dir  # noqa: E402
from moderation.cli import main  # noqa: E402

ROWS = 3000


@pytest.fixture(scope="module")
def client():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster, Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def comments_file(tmp_path_factory):
    """3,000 Globe and Mail comments with ids; rows 1800-1820 copy rows 0-20 (near-duplicates in another
    partition), two rows have no text, ten hold line breaks."""
    from moderation.corpora.offtopic import load_c3

    frame = load_c3().frame.sample(ROWS, random_state=0)[["text"]].reset_index(drop=True)
    frame.loc[1800:1820, "text"] = frame.loc[0:20, "text"].to_numpy()
    frame.loc[[100, 1500], "text"] = ["", "   "]
    frame.loc[7::300, "text"] = "A comment over two lines,\nas readers write them: " + frame.loc[7::300, "text"]
    frame.insert(0, "id", [f"c{i}" for i in range(ROWS)])
    path = tmp_path_factory.mktemp("comments") / "comments.csv"
    frame.to_csv(path, index=False)
    return path


def _cli(*args):
    return CliRunner().invoke(main, ["score", *map(str, args)], catch_exceptions=False)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.skipif(not (shipped_dir() / "abuse.joblib").exists(), reason="no shipped model")
def test_same_rows_and_numbers_as_moderator_score_on_the_whole_input(client, comments_file):
    shipped = distributed.worker_moderator(distributed.Models())
    frame = pd.read_csv(comments_file, dtype=str, keep_default_na=False)
    ddf = distributed.read_comments([str(comments_file)], blocksize=64 * 2**10)
    assert ddf.npartitions >= 4

    scored = distributed.score(ddf).compute()

    expected = shipped.score(frame)
    assert list(scored.columns) == shipped.columns()
    assert distributed.records(scored) == distributed.records(expected)
    one_part = distributed.score(ddf.repartition(npartitions=1)).compute()  # scored in chunks of CHUNK_ROWS
    assert distributed.records(one_part) == distributed.records(expected)
    copies = distributed.duplicates_in(frame["text"][1800:1821], distributed.shared_digests(ddf["text"]))
    assert (copies >= 1).sum() >= 15  # counted across partitions (a few rows are too short to have a key)
    alone = shipped.score(frame[1800:1821])  # what counting within one partition would give
    assert (alone["p_off_topic"].to_numpy() != expected["p_off_topic"][1800:1821].to_numpy()).any()
    assert set(client.run(lambda: distributed.worker_moderator.cache_info().misses).values()) == {1}


def test_cli_cluster_run_writes_the_single_process_rows(client, comments_file, tiny_model_file, tmp_path):
    # 1,900 rows: one chunk of the single-process run, so its near-duplicate counts are whole-input counts too
    comments = tmp_path / "comments.csv"
    pd.read_csv(comments_file, dtype=str, keep_default_na=False)[:1900].to_csv(comments, index=False)
    single, ordered, unordered = tmp_path / "single.csv", tmp_path / "ordered.csv", tmp_path / "unordered.csv"
    assert _cli(comments, "-o", single, "--model", tiny_model_file, "--jobs", 1).exit_code == 1  # two empty rows
    address = client.scheduler.address
    result = _cli(comments, "-o", ordered, "--model", tiny_model_file, "--cluster", address, "--keep-order")
    assert result.exit_code == 1
    assert "rows: 1900, errors: 2, " in result.output
    assert _cli(comments, "-o", unordered, "--model", tiny_model_file, "--cluster", address).exit_code == 1
    parts = _cli(comments, "-o", f"{tmp_path / 'parts'}/", "--model", tiny_model_file, "--cluster", address)
    assert parts.exit_code == 1, parts.output

    expected = _rows(single)
    for row in expected:  # the single-process error names file and line; the cluster path has no line numbers
        row["error"] = row["error"].rsplit(": ", 1)[-1] if row["error"].endswith("nothing to score") else row["error"]
    assert _rows(ordered) == expected
    assert sorted(_rows(unordered), key=lambda r: r["id"]) == sorted(expected, key=lambda r: r["id"])
    parts = pd.read_parquet(tmp_path / "parts")
    assert len(list((tmp_path / "parts").glob("part-*.parquet"))) > 1
    assert parts["id"].tolist() == [row["id"] for row in expected]
    assert parts["decision"].fillna("").tolist() == [row["decision"] for row in expected]


def test_a_killed_worker_loses_no_row_and_duplicates_none(client, comments_file, tiny_model_file, tmp_path):
    def slow(frame):  # a slow store: the run lasts long enough to kill a worker in the middle of it
        time.sleep(0.3)
        return frame

    ddf = distributed.read_comments([str(comments_file)], blocksize=32 * 2**10)
    ddf = ddf.map_partitions(slow, meta=ddf._meta)
    scored = distributed.score(ddf, distributed.Models(str(tiny_model_file)), error_rows=True)
    out, counts = tmp_path / "out.parquet", []
    run = threading.Thread(target=lambda: counts.append(distributed.write(scored, f"{out}/", client)))
    before = client.run(os.getpid)
    run.start()
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.parquet.*.tmp/part-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    done_at_kill = len(list(tmp_path.glob(".out.parquet.*.tmp/part-*")))
    os.kill(next(iter(before.values())), signal.SIGKILL)
    run.join(900)  # recomputing the lost partitions takes minutes on a busy machine

    assert not run.is_alive() and counts and counts[0]["rows"] == ROWS
    assert 0 < done_at_kill < ddf.npartitions
    written = pd.read_parquet(out)
    assert len(written) == ROWS and written["id"].is_unique
    assert written["id"].tolist() == [f"c{i}" for i in range(ROWS)]
    client.wait_for_workers(2, timeout=60)
    assert set(client.run(os.getpid).values()) != set(before.values())  # the killed worker was replaced


def test_an_interrupted_run_leaves_no_output(client, comments_file, tiny_model_file, tmp_path):
    frame = pd.read_csv(comments_file, dtype=str, keep_default_na=False)
    big = pd.concat([frame.assign(id=frame["id"] + f"-{k}") for k in range(8)])
    source = tmp_path / "big.csv"
    big.to_csv(source, index=False)
    command = [sys.executable, "-c", "from moderation.cli import main; main()", "score", str(source), "-o",
               f"{tmp_path / 'out'}/", "--model", str(tiny_model_file), "--cluster", client.scheduler.address]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, cwd=os.getcwd())
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.*.tmp/part-*")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)

    assert process.returncode != 0, stderr.decode()
    left = sorted(p.name for p in tmp_path.iterdir())
    if left == ["big.csv", "out"]:  # the signal landed after the last part and the rename: then the output is whole
        assert len(pd.read_parquet(tmp_path / "out")) == len(big)
    else:
        assert left == ["big.csv"]


def test_a_part_finishing_after_the_interrupt_does_not_bring_the_folder_back(tmp_path):
    """A worker still scoring when the run was stopped must fail, not recreate the removed folder (CI once
    found ``.out.*.tmp`` left behind this way)."""
    frame = pd.DataFrame({"id": ["a"], "decision": ["approve"]})
    with pytest.raises(FileNotFoundError):
        distributed.write_part(frame, str(tmp_path / ".out.x.tmp" / "part-00000.csv"), "csv")
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_folder_goes_even_when_a_part_lands_while_it_is_removed(tmp_path, monkeypatch):
    real_rmtree, landed = distributed.shutil.rmtree, []

    def racing_rmtree(path, ignore_errors=False):
        if landed:
            return real_rmtree(path, ignore_errors=ignore_errors)
        for child in path.iterdir():  # what rmtree does when a worker's part lands after it listed the folder:
            child.unlink()  # the folder is not empty at the end, and ignore_errors hides that
        (path / "part-00001.csv").write_text("id\n")
        landed.append(path)

    monkeypatch.setattr(distributed.shutil, "rmtree", racing_rmtree)
    with pytest.raises(KeyboardInterrupt), distributed.atomic_directory(str(tmp_path / "out")) as folder:
        (folder / "part-00000.csv").write_text("id\n")
        raise KeyboardInterrupt
    assert landed and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("content", "name", "message"), [
    ("text\nhello there\n", "no_id.csv", "name it with --id-column"),
    ("<p>a page</p>", "page.html", "parse --flat"),
])
def test_inputs_the_cluster_path_cannot_read_get_a_clear_error(client, tiny_model_file, tmp_path, content, name,
                                                               message):
    source = tmp_path / name
    source.write_text(content)
    result = _cli(source, "--model", tiny_model_file, "--cluster", client.scheduler.address)
    assert result.exit_code == 1 and message in result.output


def test_without_dask_cluster_says_how_to_install(tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,hello there\n")
    result = _cli(source, "--model", tiny_model_file, "--cluster", "local:1")
    assert result.exit_code == 1 and "pip install 'moderation[dask]'" in result.output
