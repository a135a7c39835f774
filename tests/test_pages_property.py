"""Any text is a page: parse_page returns an Article, quickly, whatever it is given."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.pages import Article, parse_page

# Text built from the pieces headers are made of, so the format regexes get real work, not just noise.
PIECES = st.sampled_from([
    "wrote:", " says:", " said...", "Posted by: ", "by ", " on ", " at ", "October 9, 2012", "10/28/12",
    "5:33 PM", "EDT", " | ", " / ", "Reply", "Report as abuse", "\n", "\n\n", "<p>", "</p>", "<html>", "a",
    "Name", "1 day ago", "(123)", "(#40750213)", "@", "…", " ", "\t", "\r\n", "\x00", "\ufffd", "x" * 150,
])
HEADERISH = st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=200).map("".join)


def check(text: str) -> Article:
    article = parse_page(text)
    assert isinstance(article, Article)
    assert [c.index for c in article.comments] == list(range(len(article.comments)))
    assert all(c.text for c in article.comments)
    return article


@settings(max_examples=300, deadline=2000)
@given(st.text())
def test_any_text(text):
    check(text)


@settings(max_examples=300, deadline=2000)
@given(HEADERISH)
def test_header_like_text(text):
    check(text)


@settings(max_examples=50, deadline=2000)
@given(st.binary(max_size=2000))
def test_binary_looking_text(data):
    check(data.decode("latin-1"))


def test_empty_and_blank_pages():
    for text in ("", " ", "\n\n\n", "<html></html>", "<"):
        assert check(text).comments == []


def test_ten_megabytes_in_seconds():
    block = ("Doc62 wrote:\nTrust nobody, " + "word " * 40 + "\n\nMar 31, 2013 9:38am EDT -- Report as abuse\n"
             + "a" * 300 + "\n" + "by x on " * 15 + "\n")
    text = block * (10_000_000 // len(block))
    started = time.perf_counter()
    article = check(text)
    assert time.perf_counter() - started < 15
    assert len(article.comments) > 1000


def test_ten_megabytes_of_near_miss_header_lines_in_seconds():
    started = time.perf_counter()
    assert check(("1 " * 79 + "\n") * (10_000_000 // 159)).comments == []
    assert time.perf_counter() - started < 15


def test_one_ten_megabyte_line_in_seconds():
    started = time.perf_counter()
    check("said... 10/28/12 " * 600_000)
    assert time.perf_counter() - started < 10
