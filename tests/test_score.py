import csv
import io
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from moderation import artifacts
from moderation.cli import main
from moderation.scoring import load

TEXTS = ["You are a stupid 1d10t and a moron", "Thanks, a thoughtful article about the budget.", "   ", ""]


def test_score_has_one_shape_for_any_input_size(tiny_moderator):
    one = tiny_moderator.score(["hello"])
    many = tiny_moderator.score(pd.DataFrame({"text": ["a", "b", "c"], "id": ["x", "y", "z"]}))
    assert list(one.columns) == list(many.columns) == tiny_moderator.columns()
    assert many["id"].tolist() == ["x", "y", "z"]
    assert (many["model_version"] == "tiny-test").all()
    assert set(many["decision"]) <= {"approve", "review", "reject"}
    with pytest.raises(TypeError):
        tiny_moderator.score("one string")


def test_reasons_modes(tiny_moderator):
    flagged = tiny_moderator.score(TEXTS[:2], reasons="flagged")
    for _, row in flagged.iterrows():
        assert (row["decision"] == "approve") == (row["reasons"] == [])
    everything = tiny_moderator.score(TEXTS[:2], reasons="all")
    assert everything["reasons"].map(len).iloc[0] > 0
    assert tiny_moderator.score(TEXTS[:2], reasons="none")["reasons"].map(len).sum() == 0
    for reason in everything["reasons"].iloc[0]:
        assert TEXTS[0][reason["start"]:reason["end"]] == reason["term"]


def test_a_mention_cannot_hide_words_from_the_models(tiny_moderator):
    """An insult written as handles, or after the "@user" the normaliser drops, scores as the plain words."""
    plain = tiny_moderator.score(["you are a stupid moron"], reasons="all")
    probabilities = [c for c in plain.columns if c.startswith("p_")]
    disguises = ["you are a @stupid @moron", "@user you are a stupid moron", "@USER @user you are a @stupid moron"]
    for disguised in disguises:
        scored = tiny_moderator.score([disguised], reasons="all")
        assert scored[probabilities].equals(plain[probabilities]) and scored["decision"][0] == plain["decision"][0]
        assert {r["category"] for r in scored["reasons"][0]} == {r["category"] for r in plain["reasons"][0]}


def test_moderator_is_a_scikit_learn_classifier(tiny_moderator):
    proba = tiny_moderator.predict_proba(TEXTS[:2])
    assert proba.shape == (2, 2) and np.allclose(proba.sum(axis=1), 1)
    assert tiny_moderator.get_params()["version"] == "tiny-test"


def test_load_verifies_the_artifact(tiny_model_file, tmp_path):
    assert load(tiny_model_file).version.startswith("tiny-test")
    broken = tmp_path / "abuse.joblib"
    broken.write_bytes(tiny_model_file.read_bytes() + b"x")
    (tmp_path / "abuse.card.json").write_text((tiny_model_file.parent / "abuse.card.json").read_text())
    with pytest.raises(artifacts.ArtifactError, match="does not match its card"):
        load(broken)
    card = json.loads((tmp_path / "abuse.card.json").read_text())
    broken.write_bytes(tiny_model_file.read_bytes())
    card["scikit_learn_compatible"] = ">=0.1,<0.2"
    (tmp_path / "abuse.card.json").write_text(json.dumps(card))
    with pytest.raises(artifacts.ArtifactError, match="moderation train"):
        load(broken)
    del card["scikit_learn_compatible"], card["format"]  # a card written before model formats were numbered
    (tmp_path / "abuse.card.json").write_text(json.dumps(card))
    with pytest.raises(artifacts.ArtifactError, match="model format 1 .* Retrain with `moderation train`"):
        load(broken)


def _run(args, input=None):
    return CliRunner().invoke(main, args, input=input, catch_exceptions=False)


def test_cli_scores_an_id_text_csv_with_no_flags(tiny_model_file, tmp_path):
    source = tmp_path / "in.csv"
    with source.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "text"])
        writer.writerows([[f"c{i}", t] for i, t in enumerate(TEXTS)])
    out = tmp_path / "out.csv"
    result = _run(["score", str(source), "-o", str(out), "--model", str(tiny_model_file)])
    assert result.exit_code == 1  # the empty and whitespace rows are error rows
    rows = list(csv.DictReader(out.open()))
    assert [r["id"] for r in rows] == ["c0", "c1", "c2", "c3"]
    assert rows[0]["decision"] in {"review", "reject"} and rows[1]["decision"] == "approve"
    assert rows[2]["error"].endswith("in.csv:4: empty text, nothing to score")
    assert json.loads(rows[0]["reasons"])[0]["term"]
    assert {"p_abusive", "p_insult", "model_version", "reason_codes"} <= set(rows[0])


def test_cli_reads_jsonl_from_stdin_and_keeps_bad_lines(tiny_model_file):
    stdin = '{"id": "a", "text": "you moron"}\n{broken\n{"id": "b", "text": "nice"}\n'
    result = _run(["score", "-", "--model", str(tiny_model_file), "--reasons", "none"], input=stdin)
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["id"] for r in rows] == ["a", "2", "b"]
    assert rows[1]["error"].startswith("-:2: not JSON") and rows[1]["decision"] is None
    assert result.exit_code == 1


def test_cli_thresholds_and_policy(tiny_model_file, tmp_path):
    stdin = "id,text\n1,Thanks for the article\n"
    strict = _run(["score", "-", "--model", str(tiny_model_file), "--review", "0"], input=stdin)
    assert json.loads(strict.stdout)["decision"] == "review"
    policy = tmp_path / "site.toml"
    policy.write_text("[categories.abusive]\nenabled = false\n")
    off = _run(["score", "-", "--model", str(tiny_model_file), "--policy", str(policy), "--review", "0"], input=stdin)
    assert json.loads(off.stdout)["decision"] == "approve"
    bad = CliRunner().invoke(main, ["score", "-", "--model", str(tiny_model_file), "--review", "0.9", "--reject",
                                    "0.1"], input=stdin)
    assert bad.exit_code != 0 and "above reject" in bad.output


def test_cli_missing_input_and_missing_column(tiny_model_file, tmp_path):
    result = CliRunner().invoke(main, ["score", str(tmp_path / "nope.csv"), "--model", str(tiny_model_file)])
    assert result.exit_code != 0 and "nope.csv: no such file" in result.output
    source = tmp_path / "cols.csv"
    source.write_text("id,words\n1,hello\n")
    result = CliRunner().invoke(main, ["score", str(source), "--model", str(tiny_model_file)])
    assert result.exit_code != 0 and "--text-column" in result.output
    assert not list(tmp_path.glob("*.tmp"))


def test_cli_scores_article_pages(tiny_model_file, seed_pages):
    result = _run(["score", str(seed_pages["004"]), "--model", str(tiny_model_file), "-o", "-"])
    rows = [json.loads(line) for line in io.StringIO(result.stdout)]
    assert [r["id"] for r in rows] == [f"{seed_pages['004']}#{i}" for i in range(len(rows))]  # the path as given
    assert rows and {"page", "index", "author", "posted_at", "text"} <= set(rows[0])
