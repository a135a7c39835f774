"""The learned comment-section locator: its training recipe on a small sample, the shipped artifact, the wiring."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from sklearn.base import clone

from moderation import artifacts
from moderation.artifacts import shipped_dir
from moderation.locator import (
    INVENTED,
    CommentLocator,
    Located,
    PageTable,
    Pick,
    _folds,
    dated_tail,
    dragnet_pages,
    fit_locator,
    holds_text,
    line_features,
    may_open,
    opens_from,
    out_of_fold_picks,
    pick,
    section_features,
    split_at_separator,
)
from moderation.pages import LOCATOR_FILE, Comment, located_comments, parse_page, shipped_locator

ARTICLE = ("The city council approved the 2027 budget on Tuesday after a long debate about transit funding, with "
           "members split over how much should go to buses and how much to new bike lanes.")
CHATTER = [("JaneD", "I think this is finally some money for buses. Good news for me and my kids!"),
           ("troll99", "You are all wrong, the mayor is a crook and I will not vote for him again."),
           ("kelly_b", "Why do you say that? My street has no bus at all, lol.")]
MORE = ("Transit riders had packed the chamber since the morning, and several spoke about buses that arrive late or "
        "not at all on the east side, where most of the new routes will run from next spring.")
PAGE = f"Council approves budget\n\n{ARTICLE}\n\n{MORE}\n\n" + "\n\n".join(f"{n}\n10:05 am\n\n{t}" for n, t in CHATTER)
SIGNED = ["Council approves budget", "", "Editor's note: updated May 3, 2012", "", ARTICLE, "", MORE, "",
          "Posted by Kathy at 10:05 AM", "", "Related: Council delays vote on bike lanes", "May 2, 2012", "",
          "JaneD", "10:05 am", "", CHATTER[0][1]]


@pytest.fixture(scope="module")
def small_fit():
    pages = dragnet_pages()
    sample = [p for p in pages if p["has_comments"]][:30] + [p for p in pages if not p["has_comments"]][:30]
    return fit_locator(sample)


def test_fit_on_a_small_sample_chooses_a_threshold_out_of_fold(small_fit):
    assert np.isfinite(small_fit.model.threshold)
    metrics = small_fit.metrics
    assert metrics["eligible_pages_without_comments"] > 0
    assert metrics["fired_on_those"] <= int(INVENTED * metrics["eligible_pages_without_comments"])
    rows, features = line_features(PAGE.split("\n"))
    probabilities = small_fit.model.predict_proba(features)
    assert probabilities.shape == (len(rows), 2) and list(small_fit.model.classes_) == [0, 1]


def test_the_pick_is_never_the_first_line_and_the_section_sees_how_alike_the_other_lines_are():
    assert pick(np.array([-5.0, -3.0, 1.0, 2.0, -0.5])) == 3
    assert pick(np.array([9.0, -3.0, -1.0, -2.0, -0.5])) == 4  # never the first line
    assert pick(np.array([1.0])) is None
    features = np.arange(10.0).reshape(5, 2)
    seen = section_features(features, np.array([0.0, 1.0, 3.0, 2.5, 0.5]), 2)
    assert list(seen[:2]) == [4.0, 5.0] and seen[2] == 3.0 and seen[3] == 3.0 - 2.5
    assert list(seen[5:]) == [np.log1p(1), np.log1p(1)]  # one line above and one below within ALIKE of the pick


def test_the_locator_looks_only_at_pages_with_a_date_or_time_in_a_short_line_of_their_lower_half():
    assert dated_tail(PAGE.split("\n"))
    undated = [line for line in PAGE.split("\n") if line != "10:05 am"]
    assert not dated_tail(undated)
    assert not dated_tail(["May 3, 2012", ARTICLE, MORE])  # a dateline at the top is the article's
    assert not dated_tail([ARTICLE, f"{MORE} It passed at 10:05 pm on May 3."])  # a time in prose is no header
    assert not parse_page("\n\n".join(undated), locator=clone(shipped_locator()).set_params(threshold=-np.inf)).comments


def test_the_locator_places_no_section_that_holds_no_text():
    """An author's sign-off or a source line under an article looks like a header, but says nothing itself."""
    signed = ["Title", "", ARTICLE, "", "Ian Lynam", "October 8, 2012"]
    assert not holds_text(signed, 4)
    assert not holds_text(["Title", "", ARTICLE, "", "SOURCE: Cancer, online January 25, 2016.", "Share"], 4)
    assert holds_text(["Title", "", ARTICLE, "", "thekar", "", "so true"], 4)
    assert holds_text(PAGE.split("\n"), len(PAGE.split("\n")) - 4)
    eager = clone(shipped_locator()).set_params(threshold=-np.inf)
    eager.line_model_, eager.section_model_ = shipped_locator().line_model_, shipped_locator().section_model_
    assert eager.locate(signed) is None
    assert parse_page("\n".join(signed), locator=eager).body.endswith("Ian Lynam")


def test_a_page_still_holding_the_publisher_separator_is_split_there():
    page = {"doc_id": "x", "text": "Title\n\nBody.\n\n!@#$%^&*  COMMENTS\n\nJane\n\nNice.", "article_gold": "x",
            "comments_gold": "", "has_comments": False}
    split = split_at_separator(page)
    assert (split["article_gold"], split["comments_gold"], split["has_comments"]) == ("Title\n\nBody.\n",
                                                                                    "\nJane\n\nNice.", True)
    assert "!@#" not in split["text"] and split_at_separator(split) == split


def test_located_comments_keep_every_line_and_invent_no_author():
    lines = ["Title", "", ARTICLE, "", "JaneD", "", "Buses first.", "", "Sam", "March 3, 2012", "Bike lanes.", "Reply"]
    assert located_comments(lines, 4) == [Comment(0, None, None, "JaneD\n\nBuses first."),
                                          Comment(1, None, "2012-03-03", "Sam\nMarch 3, 2012\nBike lanes.")]


def test_the_shipped_locator_is_verified_before_loading(tmp_path):
    path = shipped_dir() / LOCATOR_FILE
    artifact = artifacts.load(path)
    assert isinstance(artifact.estimator, CommentLocator)
    assert artifact.card["thresholds"]["opens_comment_section"] == artifact.estimator.threshold
    assert shipped_locator().threshold == artifact.estimator.threshold
    copy = tmp_path / LOCATOR_FILE
    shutil.copy(path, copy)
    shutil.copy(artifacts.card_path(path), artifacts.card_path(copy))
    copy.write_bytes(copy.read_bytes() + b"tampered")
    with pytest.raises(artifacts.ArtifactError, match="sha256"):
        artifacts.load(copy)


def test_the_locator_runs_only_where_the_table_finds_nothing(seed_pages):
    eager = clone(shipped_locator()).set_params(threshold=-np.inf)
    eager.line_model_, eager.section_model_ = shipped_locator().line_model_, shipped_locator().section_model_
    text = seed_pages["000"].read_text(encoding="utf-8")
    assert parse_page(text, locator=eager) == parse_page(text)
    assert parse_page(PAGE, locator=None).comments == []
    found = parse_page(PAGE, locator=eager)
    kept = "\n".join([found.body, *(c.text for c in found.comments)])
    assert found.comments and all(c.author is None for c in found.comments)
    assert all(t in kept for _, t in CHATTER) and ARTICLE in found.body and MORE in found.body


def test_the_shipped_locator_leaves_the_five_seed_pages_as_they_are(seed_pages):
    for path in seed_pages.values():
        text = path.read_text(encoding="utf-8")
        assert parse_page(text, locator="shipped") == parse_page(text), path.name


def test_out_of_fold_picks_never_learn_from_the_unseen_pages():
    """The nested CV behind the section model's scores: picks made without a fold's pages are the picks made on a
    table that never held them."""
    rng = np.random.default_rng(0)
    sizes, starts = [6, 5, 7, 6, 5, 6], [2, None, 3, 1, None, 4]
    X = rng.normal(size=(sum(sizes), 4))
    y = np.concatenate([np.arange(n) == (s if s is not None else -1) for n, s in zip(sizes, starts, strict=True)])
    table = PageTable(X, y.astype(int), np.repeat(np.arange(len(sizes)), sizes), [np.arange(n) for n in sizes], starts)
    folds = [np.array([0, 1]), np.array([2, 3])]
    nested = out_of_fold_picks(table, folds, C=0.1, unseen=np.array([4, 5]))
    kept = table.page < 4
    alone = PageTable(X[kept], table.y[kept], table.page[kept], table.rows[:4], starts[:4])
    plain = out_of_fold_picks(alone, folds, C=0.1)
    assert np.allclose(nested.X, plain.X) and list(nested.page) == list(plain.page) == [0, 1, 2, 3]


def test_folds_do_not_depend_on_how_the_sites_are_labelled():
    """``site_groups`` names its groups by whichever page union-find ends on, which varies with the hash seed."""
    table = PageTable(np.zeros((0, 1)), np.zeros(0), np.zeros(0), [np.zeros(0)] * 8, [None] * 8)
    groups = np.array([7, 7, 3, 3, 9, 5, 5, 1])
    renamed = np.array([40, 40, 11, 11, 2, 30, 30, 8])
    assert [list(f) for f in _folds(table, groups, 3)] == [list(f) for f in _folds(table, renamed, 3)]


def test_no_section_starts_above_the_article_or_at_or_above_its_own_sign_off():
    """A post's "Posted by NAME at TIME" and what stands above its first long line open no comments; lines below the
    sign-off may, and a comment's "Posted by: NAME | DATE" header is no sign-off."""
    assert may_open(SIGNED, 13) and may_open(SIGNED, 10)
    assert not may_open(SIGNED, 2) and not may_open(SIGNED, 6) and not may_open(SIGNED, 8)
    labelled = [*SIGNED[:8], "Posted by: Jane | May 3, 2012 at 10:05 AM", *SIGNED[9:]]
    assert may_open(labelled, 8)
    assert may_open(PAGE.split("\n"), PAGE.split("\n").index(CHATTER[0][0]))


def test_the_locator_places_nothing_where_comments_cannot_start(monkeypatch):
    """A comment-less post whose best pick is its own sign-off gets no comments; the same page's section below the
    sign-off is placed."""
    eager = clone(shipped_locator()).set_params(threshold=-np.inf)
    for line, expected in ((8, None), (2, None), (13, 13)):
        monkeypatch.setattr(eager, "best", lambda lines, line=line: Located(line, 5.0))
        assert eager.locate(SIGNED, extend=False) == expected


def test_a_placed_section_starts_at_the_earliest_alike_opening_the_section_model_accepts(monkeypatch):
    """The line model often picks a later comment's header; the section then starts at the earliest line above that
    looks as much like an opening (within ALIKE), may open comments and scores at the threshold itself."""
    import copy

    import moderation.locator as locator

    model = copy.deepcopy(shipped_locator())
    model.threshold = 0.0
    lines = ["Title", "", ARTICLE, "", "Ann", "First comment.", "", "Bob", "Second comment.", "", "Cy", "Third."]
    rows = np.array([n for n, line in enumerate(lines) if line])  # 0, 2, 4, 5, 7, 8, 10, 11
    scores = np.array([-9.0, -9.0, 1.0, -9.0, 1.0, -9.0, 1.0, -9.0])  # the section score at each row
    monkeypatch.setattr(locator, "section_features", lambda f, lo, k: np.array([scores[k]]))
    monkeypatch.setattr(locator, "_log_odds", lambda m, X: X[:, 0])
    log_odds = np.array([-9.0, -9.0, 1.0, -6.0, 1.5, -6.0, 2.0, -6.0])
    features = np.zeros((len(rows), 1))

    def opening(page: list[str], row: int = 6) -> int:
        return model.first_opening(Pick(rows, features, log_odds, row), opens_from(page))

    assert opening(lines) == 4  # "Cy" picked, "Ann" opens the section
    scores[2] = -1.0  # the section model would not open comments at "Ann": "Bob"
    assert opening(lines) == 7
    log_odds[4] = -1.0  # "Bob" no longer looks alike (more than ALIKE below the pick): the pick
    assert opening(lines) == 10
    scores[2], log_odds[4] = 1.0, 1.5
    signed = [*lines[:3], "Posted by Kathy at 10:05 AM", *lines[4:]]  # the post's sign-off above "Ann"
    assert opening(signed) == 4
    signed_below = [*lines[:6], "Posted by Kathy at 10:05 AM", *lines[7:]]  # between "Ann" and "Bob"
    assert opening(signed_below) == 7
    unread = ["Title", "", "Short intro.", "", *lines[4:]]  # no long line: the article may start anywhere
    assert opening(unread) == 4
    assert opening(lines, 2) == 4  # the pick itself is the earliest


def test_moving_the_start_up_never_places_a_section_the_pick_would_not():
    import copy

    eager = copy.deepcopy(shipped_locator())
    eager.threshold = -np.inf
    for lines in (PAGE.split("\n"), SIGNED, [ARTICLE, "", MORE]):
        for model in (shipped_locator(), eager):
            at_pick, start = model.locate(lines, extend=False), model.locate(lines)
            assert (at_pick is None) == (start is None)
            assert start is None or (start <= at_pick and may_open(lines, start))
