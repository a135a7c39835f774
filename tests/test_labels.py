"""Label files: the documented format, every bad row named by file and line, agreeing repeats merged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from moderation.labels import LabelProblem, parse_label, read_labels, site_weight, split_holdout


def write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("value, expected", [("1", 1.0), ("yes", 1.0), ("TRUE", 1.0), (True, 1.0), (0, 0.0),
                                             ("no", 0.0), ("false", 0.0), ("", None), (None, None), ("maybe", "bad"),
                                             ("2", "bad")])
def test_label_values(value, expected):
    parsed = parse_label(value)
    if expected == "bad":
        assert parsed is None
    elif expected is None:
        assert np.isnan(parsed)
    else:
        assert parsed == expected


def test_example_file_is_valid_and_has_both_classes():
    frame, problems = read_labels("labeled/example.csv")
    assert problems == []
    assert len(frame) >= 200
    for label in ("abusive", "off_topic"):
        assert set(frame[label].unique()) == {0.0, 1.0}


def test_bad_rows_are_reported_by_file_and_line(tmp_path):
    path = write(tmp_path / "site.csv",
                 "id,text,abusive,insult,off_topic\n"
                 "a,You are an idiot,1,1,\n"                 # 2: fine
                 "b,,0,,\n"                                  # 3: empty text
                 "c,Nice piece,maybe,,\n"                    # 4: unknown value
                 "d,\"A quoted\nmulti-line comment\",0,,\n"  # 5-6: fine, spans two lines
                 "e,Totally fine comment,0,1,\n"             # 7: category without abusive
                 "f,No labels at all,,,\n"                   # 8: nothing said
                 "g,Same words twice,1,,\n"                  # 9: conflicts with 10
                 "h,same   words TWICE,0,,\n")               # 10
    frame, problems = read_labels([path])
    where = {(p.line, p.message.split(":")[0].split(" ")[0]) for p in problems}
    assert {line for line, _ in where} == {3, 4, 7, 8, 9, 10}
    assert all(p.file == str(path) for p in problems)
    assert str(problems[0]).startswith(f"{path}:3: empty text")
    assert any("maybe" in p.message for p in problems if p.line == 4)
    assert any("9" in p.message for p in problems if p.line == 10)  # names the row it conflicts with
    assert list(frame["id"]) == ["a", "d"]
    assert frame.loc[0, "abusive"] == 1 and np.isnan(frame.loc[0, "off_topic"])


def test_jsonl_booleans_merge_and_category_implies_abusive(tmp_path):
    rows = [{"text": "Go away, moron", "insult": True, "source": "desk-a", "labeled_at": "2024-05-01T10:00Z"},
            {"text": "go away,  moron", "abusive": "yes", "off_topic": "no"},
            {"text": "Interesting point", "abusive": False, "labeled_at": "last tuesday"}]
    path = write(tmp_path / "site.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    frame, problems = read_labels(path)
    assert problems == [LabelProblem(str(path), 3, problems[0].message)]
    assert "labeled_at" in problems[0].message
    row = frame.iloc[0]
    assert (row["abusive"], row["insult"], row["off_topic"]) == (1.0, 1.0, 0.0)
    assert row["duplicates"] == [f"{path}:2"]


def test_missing_file_and_text_column_are_problems(tmp_path):
    no_text = write(tmp_path / "x.csv", "comment_body,abusive\nhello,1\n")
    _, problems = read_labels([tmp_path / "absent.csv", no_text])
    assert [p.file for p in problems] == [str(tmp_path / "absent.csv"), str(no_text)]
    assert "no text column" in problems[1].message


def test_holdout_is_stratified_and_reproducible():
    frame = pd.DataFrame({"text": [f"t{i}" for i in range(200)], "abusive": [1.0] * 40 + [0.0] * 160,
                          "off_topic": [np.nan] * 200})
    trained, held = split_holdout(frame, 0.25)
    assert len(held) == 50 and held["abusive"].sum() == 10
    assert split_holdout(frame, 0.25)[1]["text"].tolist() == held["text"].tolist()
    assert not set(trained["text"]) & set(held["text"])


def test_site_weight_gives_the_stated_share():
    w = site_weight(300, 9000.0, 0.2)
    assert 300 * w / (300 * w + 9000) == pytest.approx(0.2)
