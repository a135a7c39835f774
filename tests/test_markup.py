"""HTML pages read through their markup: one hand-written page per comment system, and the issue's example exact."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from moderation.pages import _END, _FURNITURE, Comment, parse_page

STORY = "<p>The city council approved the 2027 budget on Tuesday after a long debate about transit funding.</p>"
BODY = "The city council approved the 2027 budget on Tuesday after a long debate about transit funding."


def page(comments_html: str, head: str = "") -> str:
    return (f"<html><head><title>Council approves budget</title>{head}</head><body><article>"
            f"<h1>Council approves budget</h1>{STORY}</article>{comments_html}</body></html>")


def test_the_issue_example_exactly():
    html = """<html><head><title>Council approves budget</title></head><body><article><h1>Council approves budget</h1>
<p>The city council approved the 2027 budget on Tuesday after a long debate about transit funding.</p></article>
<section id="comments"><h2>Comments</h2>
<div class="comment"><span class="author">JaneD</span> <time datetime="2026-11-20T10:00:00-05:00">Nov 20, 2026
10:00am EST</time><p>Finally some money for buses. Good news.</p></div>
<div class="comment"><span class="author">troll99</span> <time>Nov 20, 2026 10:05am EST</time><p>You are all
idiots, the mayor is a crook.</p></div>
</section></body></html>"""
    article = parse_page(html)
    assert article.title == "Council approves budget"
    assert article.published_at is None  # the page states no date of its own; a comment's time is not one
    assert article.body == f"{BODY}\n\nComments"  # what is not a comment stays in the body
    assert article.comments == [
        Comment(0, "JaneD", "2026-11-20T10:00:00-05:00", "Finally some money for buses. Good news."),
        Comment(1, "troll99", "2026-11-20T10:05:00-05:00", "You are all idiots, the mayor is a crook."),
    ]


WORDPRESS = """<div id="comments" class="comments-area"><h2 class="comments-title">2 thoughts on “Budget”</h2>
<ol class="comment-list">
 <li id="comment-11" class="comment even thread-even depth-1">
  <article id="div-comment-11" class="comment-body">
   <footer class="comment-meta"><div class="comment-author vcard"><img class="avatar" src="a.png">
     <b class="fn">Maria Lopez</b> <span class="says">says:</span></div>
    <div class="comment-metadata"><a href="#comment-11"><time datetime="2026-11-20T15:00:00+00:00">November 20,
     2026 at 3:00 pm</time></a></div></footer>
   <div class="comment-content"><p>Buses first, then bike lanes.</p><p>Good call.</p></div>
   <div class="reply"><a class="comment-reply-link" href="#">Reply</a></div>
  </article>
  <ol class="children">
   <li id="comment-12" class="comment byuser odd alt depth-2">
    <article id="div-comment-12" class="comment-body">
     <footer class="comment-meta"><div class="comment-author vcard"><b class="fn">Sam</b> <span class="says">says:
     </span></div><div class="comment-metadata"><time datetime="2026-11-20T16:30:00+00:00">4:30 pm</time></div>
     </footer><div class="comment-content"><p>Bike lanes are cheaper.</p></div>
     <div class="reply"><a class="comment-reply-link" href="#">Reply</a></div>
    </article></li></ol></li></ol>
<div id="respond" class="comment-respond"><h3>Leave a Reply</h3><form id="commentform"><textarea id="comment">
</textarea></form></div></div>"""

DISQUS = """<div id="disqus_thread"><ul class="post-list">
<li class="post"><div class="post-content"><div class="post-byline"><span class="author"><a>kerry_b</a></span></div>
 <div class="post-meta"><a class="time-ago" title="Friday, November 20, 2026 9:15 AM">2 hours ago</a></div>
 <div class="post-message"><p>Who pays for the maintenance?</p></div>
 <ul class="children"><li class="post"><div class="post-content"><div class="post-byline"><span class="author">
 <a>transit_fan</a></span></div><div class="post-message"><p>The state grant does.</p></div></div></li></ul>
</div></li></ul></div>"""

LIVEFYRE = """<div class="fyre"><div class="fyre-comment-stream">
<article class="fyre-comment-article"><header class="fyre-comment-head"><a class="fyre-comment-username">
<span>Dee W.</span></a><time class="fyre-comment-date" datetime="2026-11-21T08:00:00Z">Nov 21</time></header>
<section class="fyre-comment-wrapper"><div class="fyre-comment"><p>Long overdue.</p></div></section>
<footer class="fyre-comment-footer"><a class="fyre-comment-like">Like</a><a class="fyre-comment-reply">Reply</a>
</footer></article></div></div>"""

VIAFOURA = """<div class="vf-comments"><div class="vf-comment"><div class="vf-comment-header">
<span class="vf-username">northend</span><span class="vf-timestamp">Nov 22, 2026 7:45 pm</span></div>
<div class="vf-comment-body"><p>The crosstown route needs it most.</p></div>
<div class="vf-comment-actions"><button>Reply</button><span class="vf-likes">3</span></div></div></div>"""

CORAL = """<div id="coral_thread"><div class="coral-comment"><div class="coral-comment-username">Priya</div>
<time class="coral-comment-timestamp" datetime="2026-11-23T12:00:00.000Z">1 day ago</time>
<div class="coral-comment-content">Please publish the line items.</div>
<div class="coral-comment-reply"><div class="coral-comment"><div class="coral-comment-username">Council Staff</div>
<div class="coral-comment-content">They are on the city website.</div></div></div></div></div>"""

MICRODATA = """<div id="comments"><div itemscope itemtype="http://schema.org/Comment">
<span itemprop="author" itemscope itemtype="http://schema.org/Person"><span itemprop="name">Ola N.</span></span>
<meta itemprop="dateCreated" content="2026-11-24T09:30:00-05:00"><div itemprop="text">Fares should stay flat.</div>
</div><div itemscope itemtype="http://schema.org/UserComments"><span itemprop="creator">Ben</span>
<span itemprop="commentTime">2026-11-24</span><p itemprop="commentText">Agreed with Ola.</p></div></div>"""

JSON_LD = """<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",
"headline": "Council approves budget", "datePublished": "2026-11-19T18:00:00-05:00",
"comment": [{"@type": "Comment", "author": {"@type": "Person", "name": "Rae"}, "dateCreated": "2026-11-20T11:00:00Z",
 "text": "Where is the money for sidewalks?", "comment": [{"@type": "Comment", "author": "Tom",
 "text": "In next year's plan."}]}]}</script>"""

GENERIC = """<section class="comments"><h3>Reader comments</h3>
<article><p>Jo wrote:</p><p>Nice to see a vote on time for once.</p></article>
<article><p>No name on this one, just an opinion.</p></article></section>"""


@pytest.mark.parametrize("html, expected", [
    (WORDPRESS, [Comment(0, "Maria Lopez", "2026-11-20T15:00:00+00:00", "Buses first, then bike lanes.\nGood call."),
                 Comment(1, "Sam", "2026-11-20T16:30:00+00:00", "Bike lanes are cheaper.", "Maria Lopez")]),
    (DISQUS, [Comment(0, "kerry_b", "2026-11-20T09:15:00", "Who pays for the maintenance?"),
              Comment(1, "transit_fan", None, "The state grant does.", "kerry_b")]),
    (LIVEFYRE, [Comment(0, "Dee W.", "2026-11-21T08:00:00+00:00", "Long overdue.")]),
    (VIAFOURA, [Comment(0, "northend", "2026-11-22T19:45:00", "The crosstown route needs it most.")]),
    (CORAL, [Comment(0, "Priya", "2026-11-23T12:00:00+00:00", "Please publish the line items."),
             Comment(1, "Council Staff", None, "They are on the city website.", "Priya")]),
    (MICRODATA, [Comment(0, "Ola N.", "2026-11-24T09:30:00-05:00", "Fares should stay flat."),
                 Comment(1, "Ben", "2026-11-24", "Agreed with Ola.")]),
    (GENERIC, [Comment(0, "Jo", None, "Nice to see a vote on time for once."),
               Comment(1, None, None, "No name on this one, just an opinion.")]),
], ids=["wordpress", "disqus", "livefyre", "viafoura", "coral", "microdata", "generic_section"])
def test_comment_system_markup(html, expected):
    article = parse_page(page(html))
    assert article.comments == expected
    assert article.title == "Council approves budget"
    assert article.body.startswith(BODY)
    assert not any(c.text in article.body for c in expected)


def test_json_ld_comments_nest_and_date_the_article():
    article = parse_page(page("", head=JSON_LD))
    assert article.comments == [Comment(0, "Rae", "2026-11-20T11:00:00+00:00", "Where is the money for sidewalks?"),
                                Comment(1, "Tom", None, "In next year's plan.", "Rae")]
    assert article.published_at == "2026-11-19T18:00:00-05:00"
    assert article.body == BODY


def test_markup_without_comments_keeps_every_line_in_the_body():
    html = page('<section id="comments"><h2>Comments</h2><p>Be the first to comment.</p></section>'
                '<footer><p>Copyright 2026 City Paper</p></footer>')
    article = parse_page(html)
    assert article.comments == []
    assert article.body.startswith(BODY) and "Be the first to comment." in article.body


def test_broken_json_ld_is_ignored():
    article = parse_page(page("", head='<script type="application/ld+json">{"@type": "Comment", </script>'))
    assert article.comments == [] and article.body == BODY
    assert json.dumps(article.to_dict())


WORD = st.text(alphabet=st.characters(whitelist_categories=("L", "N")), min_size=1, max_size=12).filter(
    lambda word: not _FURNITURE.match(word) and not _END.match(word))  # furniture ("Reply", "3") is meant to go
TAGS = ('<div class="comment">', "</div>", '<li id="comment-7" class="comment">', "</li>", '<span class="author">',
        "</span>", "<p>", "</p>", '<div itemscope itemtype="http://schema.org/Comment">', '<ol class="children">',
        "</ol>", '<script type="application/ld+json">', "</script>", "<br>", " ")


@settings(max_examples=150, deadline=3000)
@given(st.lists(st.one_of(st.sampled_from(TAGS), WORD), max_size=80))
def test_any_comment_markup_parses_and_loses_no_word(pieces):
    html = page("".join(pieces))
    article = parse_page(html)
    assert [c.index for c in article.comments] == list(range(len(article.comments)))
    kept = " ".join([article.title or "", article.body, *(f"{c.author or ''} {c.text}" for c in article.comments)])
    inside_script = "".join(pieces).split('<script type="application/ld+json">')[1:]
    for word in (p for p in pieces if p not in TAGS):
        assert word in kept or any(word in part for part in inside_script)
