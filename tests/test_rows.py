import json

import pytest

from moderation.rows import InputError, RowWriter, atomic_output, open_input, read_rows


def test_csv_with_id_and_text_needs_no_flags(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('id,text\na1,"hello, world"\na2,"two\nlines"\n', encoding="utf-8")
    rows = list(read_rows(str(path)))
    assert [(r.id, r.text, r.line) for r in rows] == [("a1", "hello, world", 2), ("a2", "two\nlines", 3)]


def test_bad_rows_become_error_rows_naming_the_line(tmp_path):
    path = tmp_path / "in.csv"
    path.write_bytes(b'id,text\n1,fine\n2,caf\xe9\n3,"a","b"\n4,ok\n')
    rows = list(read_rows(str(path)))
    assert [r.id for r in rows] == ["1", "2", "3", "4"]
    assert rows[1].error == f"{path}:3: not utf-8 (text): try --encoding cp1252"
    assert "malformed CSV row" in rows[2].error and f"{path}:4" in rows[2].error
    assert rows[3].text == "ok"
    assert [r.text for r in read_rows(str(path), encoding="cp1252")][1] == "café"


def test_jsonl_bad_line_is_kept_as_error(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"comment": "a", "comment_id": 7}\nnot json\n{"comment": 5}\n')
    rows = list(read_rows(str(path)))
    assert rows[0].id == "7" and rows[0].text == "a"
    assert rows[1].error.startswith(f"{path}:2: not JSON")
    assert rows[2].error == f"{path}:3: text is not a string"


def test_missing_text_column_is_a_clear_error(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("id,words\n1,a\n")
    with pytest.raises(InputError, match="--text-column"):
        list(read_rows(str(path)))
    assert [r.text for r in read_rows(str(path), text_column="words")] == ["a"]


def test_sniffing(tmp_path):
    def kind(name, content):
        (tmp_path / name).write_text(content)
        return open_input(str(tmp_path / name)).kind

    assert kind("x.csv", "id,text\n1,a\n") == "csv" and kind("x.jsonl", '{"text": "a"}\n') == "jsonl"
    assert kind("p.txt", "Some headline\n\nBody") == "page" and kind("none", "id,text\n1,a") == "csv"
    assert kind("x.json", '[{"text": "a"}]') == "json" and kind("p.html", "<html><p>hi</p></html>") == "page"


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(KeyboardInterrupt), atomic_output(str(target)) as handle:
        RowWriter(handle, "jsonl").write({"a": 1})
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    with atomic_output(str(target)) as handle:
        RowWriter(handle, "csv", ["a", "b"]).write_all([{"a": 1, "b": [{"x": 1}]}])
    assert target.read_text() == 'a,b\n1,"[{""x"": 1}]"\n'
    assert json.loads(target.read_text().splitlines()[1].split(",", 1)[1].strip('"').replace('""', '"'))
