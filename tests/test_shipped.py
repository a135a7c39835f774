"""Sentinel cases on the shipped models: what a moderator would check first."""

import json
import re
from pathlib import Path

import pytest

from moderation.artifacts import shipped_dir
from moderation.scoring import load

pytestmark = pytest.mark.skipif(not (shipped_dir() / "abuse.joblib").exists(), reason="no shipped model")


@pytest.fixture(scope="module")
def shipped():
    return load()


@pytest.fixture(scope="module")
def seed_decisions(shipped, seed_pages):
    from moderation.rows import read_rows
    from moderation.scoring import score_stream

    rows = [row for path in seed_pages.values() for row in read_rows(str(path))]
    return {(r["author"], Path(r["page"]).name[:3]): r for r in score_stream(shipped, rows)}


def test_the_seeds_abusive_comments_are_flagged(seed_decisions):
    # "Shillary Clinton is an evil neocon witch."
    assert seed_decisions[("NeilMcGowan", "000")]["decision"] != "approve"
    assert seed_decisions[("NeilMcGowan", "004")]["decision"] != "approve"  # "You are yankee SCUM…"
    assert seed_decisions[("NeilMcGowan", "004")]["reasons"]


def test_the_seeds_civil_comments_are_approved(seed_decisions):
    for key in [("Doc62", "000"), ("MrBlue", "000")]:
        assert seed_decisions[key]["decision"] == "approve", key


def test_a_heated_civil_seed_comment_is_never_rejected(seed_decisions):
    """QuidProQuo's reply ("damn", "spineless", "destroy") is civil but heated: at the shipped review threshold,
    which catches 80 % of the abusive news comments, it goes to review (p_abusive 0.15); it must never be
    rejected."""
    assert seed_decisions[("QuidProQuo", "004")]["decision"] != "reject"


@pytest.mark.parametrize("text", ["I am a gay Muslim woman", "I am a proud Black man", "My neighbour is Jewish",
                                  "As a transgender teacher I loved this article"])
def test_naming_an_identity_is_not_abuse(shipped, text):
    assert shipped.score([text])["decision"].iloc[0] == "approve"


@pytest.mark.parametrize("text", ["You are a worthless piece of sh1t", "f u c k you moron",
                                  "All immigrants should be shot, they are vermin"])
def test_plain_and_disguised_abuse_is_flagged(shipped, text):
    assert shipped.score([text])["decision"].iloc[0] != "approve"


def test_empty_whitespace_and_huge_comments(shipped):
    out = shipped.score(["", "   ", "word " * 250_000])
    assert len(out) == 3 and out["decision"].notna().all()


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_decision_does_not_depend_on_row_placement(shipped, jobs):
    """Copies of a comment count across the whole input, not per chunk (issue 13, item 14)."""
    from moderation.rows import InputRow
    from moderation.scoring import score_stream

    rant = "The media never tells you the truth about what is really going on in this country"
    filler = [f"Comment number {i} about the council budget and the school roads" for i in range(12)]

    copies = {"a": rant, "b": rant.lower(), "c": rant + "!"}

    def scored(ids):
        rows = [InputRow("test", line, key, copies.get(key) or filler[int(key)]) for line, key in enumerate(ids)]
        out = {r["id"]: r for r in score_stream(shipped, rows, chunk_size=4, jobs=jobs)}
        return [(out[key]["p_off_topic"], out[key]["decision"]) for key in copies]

    together = scored(["a", "b", "c", *map(str, range(12))])
    spread = scored(["a", *map(str, range(5)), "b", *map(str, range(5, 12)), "c"])
    assert together == spread
    alone = shipped.score([rant, rant.lower(), rant + "!", *filler])
    assert [p for p, _ in together] == alone["p_off_topic"][:3].tolist()
    assert "same text as 2 other comments" in str(shipped.score(
        [rant, rant.lower(), rant + "!"], reasons="all")["reasons"][0])


@pytest.mark.parametrize("name", ["abuse", "offtopic", "locator"])
def test_cards_are_strict_json(name):
    """Cards are read by other tools too (jq, a browser): no NaN or Infinity, which only Python's json accepts."""
    def refuse(constant):
        raise ValueError(f"{name} card holds {constant}")

    json.loads((shipped_dir() / f"{name}.card.json").read_text(encoding="utf-8"), parse_constant=refuse)


# A file whose name says "test" may be trained on only where its SOURCE.md says so: Kaggle's insults test set, whose
# solutions were released (the verification set that decided the competition is held back), and the corpora with
# their test part cut out ("minus-test").
TRAINABLE_TEST_FILES = re.compile(r"test_with_solutions|minus-test")


def data_files(node) -> list[str]:
    """Every data file a card's ``training_data`` names, whatever its nesting."""
    if isinstance(node, dict):
        return [f for key, value in node.items() for f in ([value] if key == "file" else data_files(value))]
    if isinstance(node, list):
        return [f for item in node for f in data_files(item)]
    return []


@pytest.mark.parametrize("name", ["abuse", "offtopic", "locator"])
def test_no_shipped_model_learned_from_a_published_test_split(name):
    files = data_files(json.loads((shipped_dir() / f"{name}.card.json").read_text())["training_data"])
    assert files
    assert [f for f in files if "test" in TRAINABLE_TEST_FILES.sub("", f)] == []
