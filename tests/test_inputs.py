"""Issue 13's regressions, one test per item: files as newsroom tools export them, outputs, signals, model files.

Every record in is one row out (scored or an error row naming file and line); anything that stops a run stops
it before any work.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation import artifacts, registry
from moderation.cli import main
from moderation.rows import DELIMITERS, InputError, open_inputs, read_rows

ROOT = Path(__file__).resolve().parents[1]


def run(args, input=None):
    return CliRunner().invoke(main, [str(a) for a in args], input=input, catch_exceptions=False)


def score(tiny_model_file, args, input=None):
    return run(["score", *args, "--model", tiny_model_file, "--reasons", "none", "--jobs", "1"], input=input)


def jsonl(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def ids_texts(path, **options) -> list[tuple[str, str | None]]:
    return [(r.id, r.text) for r in read_rows(str(path), **options)]


# --- 1-3: install and model files ------------------------------------------------------------------------------

def test_wheel_carries_the_models():
    """The wheel maps the repository's models/ into moderation/models (CI builds and installs the real wheel);
    every package under moderation/ must be listed, or the wheel would lack it."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = {".".join(p.relative_to(ROOT).parts) for p in (ROOT / "moderation").rglob("__init__.py")}
    assert {p.removesuffix(".__init__.py") for p in packages} | {"moderation.models"} == set(config["packages"])
    assert config["package-dir"]["moderation.models"] == "models"
    shipped = set(config["package-data"]["moderation.models"])
    assert shipped == {p.name for p in (ROOT / "models").iterdir() if p.name != "registry.json"}
    assert (artifacts.shipped_dir() / "abuse.joblib").exists()


def test_promoting_a_model_written_outside_the_home_copies_it_in(tiny_model_file, tmp_path, monkeypatch):
    home, elsewhere = tmp_path / "home", tmp_path / "some" / "dir"
    monkeypatch.setenv("MODERATION_MODELS", str(home))
    elsewhere.mkdir(parents=True)
    site = elsewhere / "site.joblib"
    site.write_bytes(tiny_model_file.read_bytes())
    artifacts.write_card(site, artifacts.read_card(tiny_model_file) | {"version": "site"})
    entry = registry.promote("abuse", site, "test")
    assert entry.file == "site.joblib" and (home / "site.joblib").exists() and (home / "site.card.json").exists()
    assert registry.current("abuse") == home / "site.joblib"
    assert [e.shipped for e in registry.history("abuse")] == [True, False]  # the shipped model comes first
    site.unlink()  # the file it was trained to may go: the registry owns its copy
    assert registry.load_current("abuse").card["version"] == "site"
    (home / "site.joblib").unlink()
    with pytest.raises(registry.RegistryError, match=r"moderation rollback abuse --to abuse-2026"):
        registry.load_current("abuse")
    result = run(["score", "-", "--reasons", "none"], input="id,text\n1,hi\n")
    assert result.exit_code == 1 and "moderation rollback" in result.output and "Traceback" not in result.output


def test_evaluate_finds_a_model_file_without_its_suffix(tiny_model_file):
    assert registry.find(str(tiny_model_file.with_suffix(""))) == ("abuse", tiny_model_file)


def test_models_and_registry_are_written_in_the_home_not_the_package(tiny_model_file, tmp_path, monkeypatch):
    monkeypatch.delenv("MODERATION_MODELS", raising=False)
    package = Path(artifacts.__file__).resolve().parent
    assert package not in artifacts.model_home().resolve().parents
    monkeypatch.setenv("MODERATION_MODELS", str(tmp_path / "home"))
    registry.promote("abuse", tiny_model_file, "test")
    assert (tmp_path / "home" / "registry.json").exists()
    assert not (artifacts.shipped_dir() / "registry.json").exists()


def test_train_without_corpora_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("MODERATION_MODELS", str(tmp_path / "home"))
    monkeypatch.setenv("MODERATION_CORPORA", str(tmp_path / "nowhere"))
    result = CliRunner().invoke(main, ["train", "--quick", "--labels", str(ROOT / "labeled" / "example.csv")])
    assert result.exit_code == 1 and "--corpora DIR" in result.output and "$MODERATION_CORPORA" in result.output
    assert not (tmp_path / "home").exists() or not list((tmp_path / "home").glob("*.joblib"))
    result = CliRunner().invoke(main, ["train", "--quick", "--corpora", str(tmp_path)])
    assert result.exit_code == 1 and f"{tmp_path}: no datasets/ folder there" in result.output


# --- 4-8: input files --------------------------------------------------------------------------------------------

def test_bom_csv_keeps_id_column(tmp_path, tiny_model_file):
    path = tmp_path / "excel.csv"
    path.write_bytes(codecs.BOM_UTF8 + b"id,text\nc7,hello\nc9,you moron\n")
    assert ids_texts(path) == [("c7", "hello"), ("c9", "you moron")]
    (tmp_path / "textfirst.csv").write_bytes(codecs.BOM_UTF8 + b"text,id\nhello,c7\n")
    assert ids_texts(tmp_path / "textfirst.csv") == [("c7", "hello")]
    (tmp_path / "bom.jsonl").write_bytes(codecs.BOM_UTF8 + b'{"id": "a", "text": "hi"}\n')
    assert ids_texts(tmp_path / "bom.jsonl") == [("a", "hi")]
    stdin = score(tiny_model_file, ["-"], input=codecs.BOM_UTF8 + b"id,text\nc7,hello\n")
    assert [r["id"] for r in jsonl(stdin.stdout)] == ["c7"]


def test_unbalanced_quote_is_one_error_row(tmp_path):
    for name, sep in (("q.csv", ","), ("q.tsv", "\t")):
        path = tmp_path / name
        path.write_text(f'id{sep}text\n1{sep}first\n2{sep}"I said: this is wrong\n3{sep}third\n4{sep}fourth\n')
        rows = list(read_rows(str(path)))
        assert [r.id for r in rows] == ["1", "2", "3", "4"]
        assert rows[1].error.startswith(f"{path}:3: malformed CSV") and "unbalanced quote" in rows[1].error
        assert [r.text for r in rows if r.error is None] == ["first", "third", "fourth"]


def test_exports_are_read_by_content_not_only_suffix(tmp_path):
    table = "id,text\n1,first comment\n2,second comment\n"
    expected = [("1", "first comment"), ("2", "second comment")]
    (tmp_path / "comments.csv.gz").write_bytes(gzip.compress(table.encode()))
    (tmp_path / "comments.txt").write_text(table)
    (tmp_path / "comments").write_text(table)
    (tmp_path / "unicode.txt").write_bytes(table.replace(",", "\t").encode("utf-16"))  # Excel "Unicode text"
    (tmp_path / "semi.csv").write_text(table.replace(",", ";"))
    (tmp_path / "tab.csv").write_text(table.replace(",", "\t"))
    for name in ("comments.csv.gz", "comments.txt", "comments", "unicode.txt", "semi.csv", "tab.csv"):
        assert ids_texts(tmp_path / name) == expected, name


def test_parquet_is_read_through_pyarrow(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    pd.DataFrame({"comment_id": [10, 11], "body": ["a", None]}).to_parquet(tmp_path / "c.parquet")
    rows = list(read_rows(str(tmp_path / "c.parquet")))
    assert [(r.id, r.text) for r in rows] == [("10", "a"), ("11", None)]
    assert rows[1].error == f"{tmp_path / 'c.parquet'}:2: text is null, nothing to score"
    (tmp_path / "c").write_bytes((tmp_path / "c.parquet").read_bytes())  # no suffix: the magic bytes say it
    assert ids_texts(tmp_path / "c")[0] == ("10", "a")


@pytest.mark.parametrize("stdin, options, expected", [
    ("text\nhello\nworld\n", [], ["1", "2"]),
    ("msg,who\nhello,a\n", ["--text-column", "msg"], ["1"]),
    ("id\ttext\nx\thello\n", [], ["x"]),
    ('\ufeff{"id": "j", "text": "hello"}\n', [], ["j"]),
    ('[{"id": "a", "text": "x"}, {"id": "b", "text": "y"}]', [], ["a", "b"]),
])
def test_stdin_tables_are_not_taken_for_a_page(tiny_model_file, stdin, options, expected):
    result = score(tiny_model_file, ["-", *options], input=stdin)
    assert [r["id"] for r in jsonl(result.stdout)] == expected and result.exit_code == 0


def test_json_array_is_read_record_by_record(tmp_path):
    records = [{"id": "a", "text": "first"}, {"id": "b", "text": "second"}, {"id": "c", "text": "third"}]
    (tmp_path / "pretty.json").write_text(json.dumps(records, indent=2))
    (tmp_path / "line.json").write_text(json.dumps(records))
    for name in ("pretty.json", "line.json"):
        assert ids_texts(tmp_path / name) == [("a", "first"), ("b", "second"), ("c", "third")]
    (tmp_path / "broken.json").write_text('[\n{"id": "a", "text": "x"},\n{"id": "b", "text": oops},\n'
                                          '{"id": "c", "text": "z"}\n]')
    rows = list(read_rows(str(tmp_path / "broken.json")))
    assert [r.id for r in rows] == ["a", "2", "c"] and rows[1].error.startswith(f"{tmp_path / 'broken.json'}:3:")


def test_undecodable_id_is_an_error_row(tmp_path, tiny_model_file):
    path = tmp_path / "ids.csv"
    path.write_bytes(b"id,text\nok,hello\nb\xe9d,fine text\nok2,world\n")
    out = tmp_path / "out.csv"
    result = score(tiny_model_file, [path, "-o", out])
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert result.exit_code == 1 and [r["id"] for r in rows] == ["ok", "b\\xe9d", "ok2"]
    assert rows[1]["error"] == f"{path}:3: not utf-8 (id): try --encoding cp1252" and rows[2]["decision"]


def test_cp1252_page_is_decoded_not_corrupted(tmp_path, caplog):
    from moderation.rows import read_page

    text = "Headline\n\nThe mayor said \u201cno\u201d \u2014 twice. Caf\u00e9 owners were pleased.\n" * 5
    declared = tmp_path / "declared.html"
    declared.write_bytes(f'<html><head><meta charset="iso-8859-1"></head><body><p>{text}</p></body></html>'
                         .encode("cp1252"))
    assert "\u201cno\u201d" in read_page(str(declared)) and "\ufffd" not in read_page(str(declared))
    plain = tmp_path / "plain.txt"
    plain.write_bytes(text.encode("cp1252"))
    with caplog.at_level("WARNING"):
        assert read_page(str(plain)) == text
    assert "not UTF-8; read as cp1252 (detected)" in caplog.text
    with pytest.raises(InputError, match="not utf-8"):
        read_page(str(plain), encoding="utf-8")


# --- 10-13: whole runs ---------------------------------------------------------------------------------------------

def test_missing_second_input_stops_before_anything_is_written(tmp_path, tiny_model_file):
    first = tmp_path / "a.csv"
    first.write_text("id,text\n1,hello\n")
    result = score(tiny_model_file, [first, tmp_path / "missing.csv"])
    assert result.exit_code == 1 and "missing.csv: no such file" in result.output
    assert '"id"' not in result.output  # no row of the first input was printed
    with pytest.raises(InputError) as caught:
        open_inputs([str(tmp_path / "x.csv"), str(first), str(tmp_path / "y.csv")])
    assert "x.csv" in str(caught.value) and "y.csv" in str(caught.value)  # every problem at once


def test_output_is_checked_before_work_and_written_as_its_suffix_says(tmp_path, tiny_model_file):
    source = tmp_path / "in.csv"
    source.write_text("id,text\n1,hello\n2,thanks\n")
    for output, message in ((tmp_path, "is a folder"), (source, "is also an input"), (tmp_path / "x.parquet",
                                                                                      "cannot write .parquet")):
        result = CliRunner().invoke(main, ["score", str(source), "-o", str(output), "--model", str(tiny_model_file)])
        assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert source.read_text() == "id,text\n1,hello\n2,thanks\n"
    score(tiny_model_file, [source, "-o", tmp_path / "x.tsv"])
    assert (tmp_path / "x.tsv").read_text().splitlines()[0].startswith("id\tdecision\t")
    score(tiny_model_file, [source, "-o", tmp_path / "x.json"])
    assert [r["id"] for r in json.loads((tmp_path / "x.json").read_text())] == ["1", "2"]
    score(tiny_model_file, [source, "-o", tmp_path / "x.jsonl.gz"])
    assert len(gzip.decompress((tmp_path / "x.jsonl.gz").read_bytes()).splitlines()) == 2


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere")
def test_read_only_output_folder_is_refused_before_work(tmp_path, tiny_model_file):
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = CliRunner().invoke(main, ["score", "-", "-o", str(locked / "o.csv"), "--model", str(tiny_model_file)],
                                input="id,text\n1,a\n")
    assert result.exit_code == 1 and "cannot write there" in result.output


def _scoring_process(tiny_model_file, tmp_path, rows=40_000):
    source = tmp_path / "big.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([i, f"comment number {i} about the budget vote, you idiot"] for i in range(rows))
    command = [sys.executable, "-c", "from moderation.cli import main; main()", "score", str(source),
               "-o", str(tmp_path / "out.csv"), "--jobs", "2", "--model", str(tiny_model_file)]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".out.csv.*.tmp")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(0.5)  # well into scoring, chunks in flight
    return process


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT to the main process", "Ctrl-C (SIGINT to the group)"])
def test_signals_stop_cleanly(tiny_model_file, tmp_path, how):
    process = _scoring_process(tiny_model_file, tmp_path)
    assert process.poll() is None, process.communicate()
    if how.startswith("Ctrl-C"):
        os.killpg(process.pid, signal.SIGINT)
    else:
        process.send_signal(signal.SIGTERM if how == "SIGTERM" else signal.SIGINT)
    try:
        _, stderr = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"{how}: still running 30 s later")
    assert process.returncode != 0
    assert b"Traceback" not in stderr and stderr.count(b"KeyboardInterrupt") == 0, stderr.decode()[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.csv"]  # no output, no temporary file


def test_parse_refuses_binary_files(tmp_path, seed_pages):
    (tmp_path / "random.bin").write_bytes(os.urandom(100_000))
    (tmp_path / "program").write_bytes(b"\x7fELF\x02\x01\x01" + os.urandom(5000))
    out = tmp_path / "pages.jsonl"
    result = CliRunner().invoke(main, ["parse", str(tmp_path / "random.bin"), str(seed_pages["004"]),
                                       str(tmp_path / "program"), "-o", str(out)])
    assert result.exit_code == 1
    assert "random.bin: binary data" in result.output and "program: an executable" in result.output
    assert [r["page"] for r in map(json.loads, out.read_text().splitlines())] == [seed_pages["004"].name]


# --- 15: smaller ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("content", ["", "id,text\n"])
def test_empty_and_header_only_inputs_write_the_header(tmp_path, tiny_model_file, content):
    source, out = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(content)
    result = score(tiny_model_file, [source, "-o", out])
    assert result.exit_code == 0 and out.read_text().startswith("id,decision,reason_codes,p_abusive")
    score(tiny_model_file, [source, "-o", tmp_path / "out.json"])
    assert json.loads((tmp_path / "out.json").read_text()) == []


def test_null_text_is_reported_as_null(tmp_path):
    (tmp_path / "n.jsonl").write_text('{"id": "a", "text": null}\n{"id": "b"}\n')
    rows = list(read_rows(str(tmp_path / "n.jsonl")))
    assert rows[0].error.endswith("text is null, nothing to score")
    assert rows[1].error.endswith("missing text column 'text'")


def test_same_page_name_in_two_folders_gets_distinct_ids(tmp_path, seed_pages):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "page.txt").write_bytes(seed_pages["004"].read_bytes())
    ids = [r.id for folder in ("a", "b") for r in read_rows(str(tmp_path / folder / "page.txt"))]
    assert len(ids) == len(set(ids)) > 0


def test_ids_without_id_column_are_row_numbers(tmp_path):
    (tmp_path / "c.csv").write_text('text\n"two\nlines"\n\nsecond\n')
    assert ids_texts(tmp_path / "c.csv") == [("1", "two\nlines"), ("2", "second")]


def test_readme_states_the_scoring_limit():
    from moderation.scoring import MAX_CHARS

    assert f"{MAX_CHARS:,}" in (ROOT / "README.md").read_text()


# --- property: whatever a spreadsheet writes comes back record for record -------------------------------------------

texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.lists(texts.filter(lambda t: t.strip() == t and t.strip()), min_size=1, max_size=8),
       st.sampled_from(DELIMITERS), st.booleans())
def test_any_delimiter_and_bom_round_trip(values, delimiter, bom):
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(["id", "text"])
    writer.writerows([i, value] for i, value in enumerate(values))
    data = (codecs.BOM_UTF8 if bom else b"") + buffer.getvalue().encode()
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"moderation-property-{os.getpid()}.csv"
    try:
        path.write_bytes(data)
        assert ids_texts(path) == [(str(i), value) for i, value in enumerate(values)]
    finally:
        path.unlink()
