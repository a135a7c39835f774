"""The page parser on the five seed pages, on one snippet of each header format, on HTML, and via the CLI."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from moderation.cli import main
from moderation.corpora import shared_dir
from moderation.pages import FORMATS, Article, Comment, PageError, parse_page, to_iso

ARTICLE = ("The council voted on Tuesday to close the old library on Main Street, citing repair costs that "
           "had grown every year since the roof first leaked.")


def seed(prefix: str) -> Article:
    path = next((shared_dir() / "seeds").glob(f"{prefix}_*.txt"))
    return parse_page(path.read_text(encoding="utf-8"))


MRBLUE = (
    "Even though it is a dream, I am all for the total elimination of nuclear weapons. These weapons that can "
    "literally destroy an area 5 miles across or more are horrific and humanity should come together to put an "
    "end to this madness. Secondly, the United States along with Russia has a right to defend itself. No one can "
    "simply say to someone that a country can not have missile defense. The United States should have a huge "
    "missile defense system defending the every coast. Countries such as Russia have surrounded Moscow with a "
    "missile defense system. The biggest problem I can see is that eventually and quite soon missile defense "
    "will become more and more technically advance and extremely effective. Once effective missile defense is "
    "in place countries such as Russia or the United States will no longer have an edge militarily, with an "
    "exception to conventional forces. Maybe Russia has thought about the future of missile defense and "
    "realizes this. I have noticed how Russia is reducing nuclear forces, but starting to rebuild conventional "
    "forces. In the future it will not be about how many nuclear missiles a country can build, but how many "
    "missiles a country can stop if a real threat exists."
)
QUIDPROQUO = (
    "I wouldn’t make any guarantees to anyone at this point. If we have the capability of shooting down "
    "Russia’s missiles, and those missiles are designed to destroy one of our allies, damn right we’ll blow "
    "russia’s missiles out the sky. No questions asked. Why should be be all soft and spineless regarding our "
    "capabilities? I don’t want our country every provoking war or chaos anywhere. But I also do not want us "
    "to be exposed in any way to any type of missile threat that could reach our soils or any of our foreign "
    "bases"
)
NEIL_REPLY = (
    "QuidProQuo\n\nYou are yankee SCUM. You launch a rocket at a target in Russia, you worthless cockroach – "
    "and we will turn your gutless country into a sheet of molten glass that won’t cool until the C23rd.\n\n"
    "You sponsored the Georgian attack on Ossetia – and Russia KICKED YOUR ASS until you sh*t yourselves.\n\n"
    "Feeling lucky, PUNK???????"
)


def test_seed_000_reuters_comments():
    article = seed("000")
    assert article.title == "NATO eyes missile shield progress with Russia after U.S. move"
    assert article.published_at == "2013-03-31T07:40:00-04:00"
    assert article.comments == [
        Comment(0, "Doc62", "2013-03-31T09:38:00-04:00",
                "Trust Putin? However, he is very intelligent/ruthless and nuclear holocaust is not in Russia’s "
                "best interest either. N.Korea is presently playing that game.", None),
        Comment(1, "NeilMcGowan", "2013-03-31T10:40:00-04:00", "Shillary Clinton is an evil neocon witch.", None),
        Comment(2, "MrBlue", "2013-03-31T10:48:00-04:00", MRBLUE, None),
    ]
    assert article.body.startswith("MOSCOW (Reuters) - NATO hopes a U.S. change")
    assert article.body.endswith("seeking through legally binding guarantees.\"")
    for furniture in ("Hillary Clinton (L) talks", "Credit:", "Editing by", "We welcome comments", "Comments (5)",
                      "wrote:", "Report as abuse", "discussion is now closed", "7:40am"):
        assert furniture not in article.body


def test_seed_004_reply_to_keeps_the_text_whole():
    article = seed("004")
    assert article.title == "Russia studying U.S. missile defense moves, still seeks guarantees"
    assert article.published_at == "2013-04-23T10:54:00-04:00"
    assert article.comments == [
        Comment(0, "QuidProQuo", "2013-04-23T15:20:00-04:00", QUIDPROQUO, None),
        Comment(1, "NeilMcGowan", "2013-04-26T03:27:00-04:00", NEIL_REPLY, "QuidProQuo"),
    ]
    assert article.body.startswith("BRUSSELS (Reuters) - Russia is studying changes")
    assert article.body.endswith("with clear-cut guarantees,\" Lavrov said.")
    for furniture in ("John Kerry (R) walks", "Credit:", "Related Topics", "Reporting by", "FILED UNDER",
                      "We welcome comments", "Comments (2)", "Report as abuse"):
        assert furniture not in article.body


@pytest.mark.parametrize(("prefix", "title", "published", "first", "last", "furniture"), [
    ("001", "NATO and Moscow Continue to Talk Missiles", "2011-10-26", "MOSCOW — NATO still hopes",
     "“broader and deeper than they have ever been.”", ("Published:", "Leave a comment")),
    ("002", "Russia asks for regular U.S. missile defence consultations", "2013-03-25T17:16:00",
     "MOSCOW, March 25 (Reuters) - Russia has asked Washington",
     "unless Washington satisfactorily addresses its concerns about missile defence.",
     ("Reuters logo", "5 years ago", "Reporting by", "Our Standards", "0 : 0", "narrow-browser")),
    ("003", "NATO, Russia Still at Odds over Missile Shield in Europe", "2011-12-08T16:58:00",
     "NATO Foreign Ministers have failed to make headway", "Nobody should be closing doors,\" stated Westerwelle.",
     ("EPA/BGNES", "William Hague (L)", "views", "We need your support", "Tags:", "Related Articles")),
])
def test_seeds_without_comments(prefix, title, published, first, last, furniture):
    article = seed(prefix)
    assert (article.title, article.published_at, article.comments) == (title, published, [])
    assert article.body.startswith(first)
    assert article.body.endswith(last)
    assert title not in article.body
    for text in furniture:
        assert text not in article.body


def page(*comment_lines: str) -> str:
    return "Library to close\n\n" + ARTICLE + "\n\n" + "\n".join(comment_lines)


# One real-looking snippet per format: (page lines, expected (author, posted_at) per comment).
SNIPPETS = {
    "wrote": (["Doc62 wrote:", "Trust nobody.", "", "Mar 31, 2013 9:38am EDT  --  Report as abuse",
               "MrBlue wrote:", "A dream, but a good one.", "", "Mar 31, 2013 10:48am PST  --  Report as abuse"],
              [("Doc62", "2013-03-31T09:38:00-04:00"), ("MrBlue", "2013-03-31T10:48:00-08:00")]),
    "says": (["Paul Howard says:", "on October 30, 2012 at 11:02 am", "Great to see this.", "Reply",
              "craig krizek says:", "on October 30, 2012 at 11:04 am", "Agreed, well overdue."],
             [("Paul Howard", "2012-10-30T11:02:00"), ("craig krizek", "2012-10-30T11:04:00")]),
    "date_says": (["16. Jul, 2012 / Mandy says:", "", "Best one I have eaten at.", "",
                   "16. Jul, 2012 / Joy says:", "", "This sounds wonderful!"],
                  [("Mandy", "2012-07-16"), ("Joy", "2012-07-16")]),
    "said": (["Anonymous said...", "", "Wowza! That is really cool!", "October 19, 2012 10:54 AM",
              "Kevin Groff said...", "", "I see a challenge in your future...", "October 19, 2012 11:58 AM"],
             [("Anonymous", "2012-10-19T10:54:00"), ("Kevin Groff", "2012-10-19T11:58:00")]),
    "said_colon": (["Gregg N. on 10/26/2012 at 12:49 PM said:", "", "Great post Pearl.", "Reply",
                    "Paula said,", "", "Bully for you for even attempting dovetails by hand."],
                   [("Gregg N.", "2012-10-26T12:49:00"), ("Paula", None)]),
    "on_date_said": (["On October 12, 2012 at 10:52 am Qaoileann said:", "Lovely read.",
                      "On October 12, 2012 at 11:02 am Carmel said:", "Same here."],
                     [("Qaoileann", "2012-10-12T10:52:00"), ("Carmel", "2012-10-12T11:02:00")]),
    "posted_by": (["love your work, well done", "", "Posted by: canvas prints | June 15, 2012 at 09:38 AM", "",
                   "I am very disappointed.", "", "Posted by: RAM | June 12, 2012 at 01:44 AM"],
                  [("canvas prints", "2012-06-15T09:38:00"), ("RAM", "2012-06-12T01:44:00")]),
    "by_on": (["Maybe there is something to it?", "", "by james on January 31, 2011 at 9:59 am.", "",
               "Great post Rand.", "", "by Damien on January 31, 2011 at 10:12 am."],
              [("james", "2011-01-31T09:59:00"), ("Damien", "2011-01-31T10:12:00")]),
    "slashdot": (["by GameboyRMH (1153867) on Tuesday July 24, @11:29AM (#40750213) Journal",
                  "Why not MicroUSB?", "by cpu6502 (1960974) on Tuesday July 24, @12:21PM (#40751151)",
                  "Because Apple."],
                 [("GameboyRMH", None), ("cpu6502", None)]),
    "name_date": (["Dr. Joan McGettigan10/28/12 5:33 PM", "Thanks for sharing.",
                   "Brandt Schneider10/28/12 5:41 PM", "Indeed."],
                  [("Dr. Joan McGettigan", "2012-10-28T17:33:00"), ("Brandt Schneider", "2012-10-28T17:41:00")]),
    "date_name": (["Fri, 2012-11-09 18:05 — Jeff Moore (not verified)", "Nice work.",
                   "Fri, 2012-11-09 16:55 — Shobhan (not verified)", "Thanks."],
                  [("Jeff Moore (not verified)", "2012-11-09T18:05:00"),
                   ("Shobhan (not verified)", "2012-11-09T16:55:00")]),
    "name_points": (["xdwyer 5 pts", "", "Correction: it is 10 TDs.", "", "baroo 6 pts", "", "Brilliant podcast."],
                    [("xdwyer", None), ("baroo", None)]),
    "name_ago": (["QueenSashy added 1 day ago", "", "Thank you for including my dish!", "",
                  "drbabs added 2 days ago", "", "I tested your turkey, too."],
                 [("QueenSashy", None), ("drbabs", None)]),
    "name_line": (["Amy D.", "", "Love this.", "http://twitter.com/jyarmis Jonathan L. Yarmis", "",
                   "I actually care who you vote for.", "johnbattelle", "", "Thanks for the encouraging words!",
                   "http://twitter.com/jyarmis Jonathan L. Yarmis", "", "Well put, Peter."],
                  [("Amy D.", None), ("Jonathan L. Yarmis", None), ("johnbattelle", None),
                   ("Jonathan L. Yarmis", None)]),
    "date_line": (["Camaleont", "Posted October 28, 2012 at 10:31 pm", "", "These pics look good.", "",
                   "hunt", "Posted October 28, 2012 at 10:32 pm", "", "looks good so far."],
                  [("Camaleont", "2012-10-28T22:31:00"), ("hunt", "2012-10-28T22:32:00")]),
}


def test_every_format_has_a_snippet():
    assert set(SNIPPETS) == {f.name for f in FORMATS}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_format_snippet(name):
    lines, expected = SNIPPETS[name]
    article = parse_page(page(*lines))
    assert [(c.author, c.posted_at) for c in article.comments] == expected
    assert all(c.text and "said" not in c.text and "Posted" not in c.text for c in article.comments)
    assert article.body == ARTICLE


def test_closing_headers_take_the_text_above_them():
    article = parse_page(page(*SNIPPETS["by_on"][0]))
    assert [c.text for c in article.comments] == ["Maybe there is something to it?", "Great post Rand."]


# Variants of the formats above that real sites use: (page lines, expected (author, posted_at) per comment).
VARIANTS = [
    (["Tyler Stambaugh", "November 5, 2012 · 8:23 PM", "", "Do you think anyone will show up?", "",
      "Champs", "November 5, 2012 · 8:54 PM", "", "So there is one bike blog."],
     [("Tyler Stambaugh", "2012-11-05T20:23:00"), ("Champs", "2012-11-05T20:54:00")]),
    (["Chris Lane, on November 6th, 2012  @chrislanephoto", "", "WOW. that was crazy good.",
      "sampath, on November 7th, 2012", "", "That was wonderful."],
     [("Chris Lane", "2012-11-06"), ("sampath", "2012-11-07")]),
    (["Such interesting read.", "", "posted on Thursday, October 25, 2012 at 9:04 AM by hispekshop24",
      "Thanks for the words of wisdom.", "", "posted on Thursday, October 25, 2012 at 9:05 AM by Jon Nugent"],
     [("hispekshop24", "2012-10-25T09:04:00"), ("Jon Nugent", "2012-10-25T09:05:00")]),
    (["skalja added:", "", "Well there goes any motivation I had.", "", "angrysunbird added:", "",
      "Unsurprising bullshit is unsurprising."],
     [("skalja", None), ("angrysunbird", None)]),
    (["thecrus8r  •  15 minutes ago", "", "Keep dreaming!", "baroo • 2 hours ago", "", "Dream on."],
     [("thecrus8r", None), ("baroo", None)]),
]


@pytest.mark.parametrize(("lines", "expected"), VARIANTS)
def test_format_variant(lines, expected):
    article = parse_page(page(*lines))
    assert [(c.author, c.posted_at) for c in article.comments] == expected
    assert article.body == ARTICLE


@pytest.mark.parametrize("header", ["(1) Mike says:", "Carl Rahmström said...", "xdwyer 5 pts",
                                    "thecrus8r  •  15 minutes ago"])
def test_one_telling_header_is_a_comment(header):
    article = parse_page(page(header, "", "Wow that definitely inspired me to work on this!"))
    assert [c.text for c in article.comments] == ["Wow that definitely inspired me to work on this!"]
    assert article.body == ARTICLE


def test_name_date_and_time_on_three_lines_make_one_comment():
    """The time on its own line completes the date, so one such header is evidence enough; a date alone is not."""
    article = parse_page(page("By Dana Writer", "", "Fanatic99", "August 9th, 2012", "2:13 pm", "",
                              "We have been losing all year.", "", "Go team!"))
    assert article.comments == [Comment(0, "Fanatic99", "2012-08-09T14:13:00",
                                        "We have been losing all year.\n\nGo team!")]
    assert parse_page(page("Fanatic99", "August 9th, 2012", "", "We have been losing all year.")).comments == []


def test_one_dated_header_signing_off_the_last_text_is_a_comment():
    """A blog's only comment may be signed off below its text with a date and no time; a label or a line after a
    blank (a dateline, a source) signs nothing off."""
    article = parse_page(page("Great write-up, thanks.", "October 19, 2012 | Jane Roe"))
    assert article.comments == [Comment(0, "Jane Roe", "2012-10-19", "Great write-up, thanks.")]
    assert article.body == ARTICLE
    assert parse_page(page("More at city hall.", "Source: City Hall News, November 9, 2012")).comments == []
    assert parse_page(page("", "Dana Writer, October 19, 2012")).comments == []
    assert parse_page(page("Great write-up.", "October 19, 2012 | Jane Roe", "", "More text.")).comments == []


def test_date_and_time_two_spaces_apart_make_a_header():
    """Columns collapse to two spaces (``_lines``), so a stamp's date and time may stand two spaces apart."""
    article = parse_page(page("Flea Biscuit", "November 12, 2012  01:42 PM ET", "", "Should sit out next week.", "",
                              "Barboy", "November 12, 2012  01:58 PM ET", "", "You missed the joke."))
    assert [(c.author, c.posted_at, c.text) for c in article.comments] == [
        ("Flea Biscuit", "2012-11-12T13:42:00-05:00", "Should sit out next week."),
        ("Barboy", "2012-11-12T13:58:00-05:00", "You missed the joke.")]


def test_a_time_repeated_after_the_stamp_still_closes_a_comment():
    """"August 9, 2012 02:07 pm at 2:07 pm" closes each comment; the name above its text is not the header's, so
    ``author`` stays None and the name stays in the text."""
    article = parse_page(page("ninevegetable", "", "Unless I get asked to run.", "August 9, 2012 02:07 pm at 2:07 pm",
                              "California Gary", "", "It takes me back.", "August 9, 2012 02:15 pm at 2:15 pm"))
    assert [(c.author, c.posted_at, c.text) for c in article.comments] == [
        (None, "2012-08-09T14:07:00", "ninevegetable\n\nUnless I get asked to run."),
        (None, "2012-08-09T14:15:00", "California Gary\n\nIt takes me back.")]


@pytest.mark.parametrize("buttons", ["Reply", "· Reply ↓", "| Permalink | Reply", "Log in to Reply", "• Like",
                                     "Reply Report", "#"])
def test_a_header_may_end_in_its_own_buttons(buttons):
    """Comment systems print their buttons on the header line; they neither hide the header nor pass for a name
    (a date line ending in "Reply" is no date followed by an author called Reply)."""
    for first, second in (("Jo Roe says:", "Al Poe says:"), ("Jo Roe", "Al Poe")):
        article = parse_page(page(first, f"November 8, 2012 at 8:22 am {buttons}", "Great article.", "",
                                  second, f"November 9, 2012 at 9:00 am {buttons}", "I disagree."))
        assert [(c.author, c.posted_at, c.text) for c in article.comments] == [
            ("Jo Roe", "2012-11-08T08:22:00", "Great article."), ("Al Poe", "2012-11-09T09:00:00", "I disagree.")]
    article = parse_page(page(f"Jo Roe on November 8, 2012 at 8:22 am {buttons}", "Great article.", "",
                              f"Al Poe on November 9, 2012 at 9:00 am {buttons}", "I disagree."))
    assert [c.author for c in article.comments] == ["Jo Roe", "Al Poe"]
    assert article.body == ARTICLE


@pytest.mark.parametrize(("stamp", "posted"), [("8:22 am, November 8, 2012", "2012-11-08T08:22:00"),
                                               ("8:22 AM on Nov 8, 2012", "2012-11-08T08:22:00"),
                                               ("8:22AM EST Nov 8 2012", "2012-11-08T08:22:00-05:00")])
def test_a_stamp_may_give_its_time_before_its_date(stamp, posted):
    """Some sites write the time first; as a header's stamp or as a dateline it reads like any other."""
    for header in (f"Jo Roe {stamp}", f"Jo Roe\n{stamp}"):
        article = parse_page(page(header, "Great article.", "", header.replace("Jo Roe", "Al Poe"), "I disagree."))
        assert [(c.author, c.posted_at) for c in article.comments] == [("Jo Roe", posted), ("Al Poe", posted)]
    dated = parse_page(f"Library to close\n{stamp} | Permalink\n\n{ARTICLE}")
    assert (dated.published_at, dated.comments, dated.body) == (posted, [], ARTICLE)


def test_a_year_first_slashed_date_is_one_date():
    """"2012/11/08" is the 8th of November, not a name ending in "20" dated 11 December 2008."""
    article = parse_page(page("Jo Roe 2012/11/08 08:22", "Great article.", "", "Al Poe 2012/11/09 09:00", "No."))
    assert [(c.author, c.posted_at) for c in article.comments] == [("Jo Roe", "2012-11-08T08:22:00"),
                                                                 ("Al Poe", "2012-11-09T09:00:00")]


def test_a_line_of_buttons_may_stand_between_the_name_and_its_date():
    article = parse_page(page("Jo Roe", "Reply", "November 8, 2012 at 8:22 am", "Great article.", "",
                              "Al Poe", "Reply", "November 9, 2012 at 9:00 am", "I disagree."))
    assert [(c.author, c.text) for c in article.comments] == [("Jo Roe", "Great article."), ("Al Poe", "I disagree.")]


def test_a_word_that_stamps_the_page_is_no_author():
    """"Updated <date>" under an article's last paragraph stamps the article; read as a name beside a date it made a
    comment by "Updated". A name in the same place still signs a comment."""
    for word in ("Updated", "Last updated", "Published", "Edited"):
        stamped = page("The council meets again in May.", "", f"{word} November 5, 2012 at 8:23 pm")
        assert parse_page(stamped).comments == []
    signed = parse_page(page("The council meets again in May.", "", "Jo Roe November 5, 2012 at 8:23 pm"))
    assert [(c.author, c.posted_at) for c in signed.comments] == [("Jo Roe", "2012-11-05T20:23:00")]


def test_buttons_alone_are_no_header():
    """Buttons under an article's closing lines, with no date or name beside them, give no comment."""
    assert parse_page(page("Thanks for reading.", "Share | Like", "", "Reply", "")).comments == []


def test_names_alone_between_blank_lines_after_an_author_bio_head_comments():
    """After an article's end (an author bio, "Related Posts", a comments heading) a name alone between blank lines
    opens a comment; the same lines anywhere else may be subheadings and give nothing."""
    bio = "About the Author: Dana writes about city money and has covered the council since 2019."
    article = parse_page(page(bio, "", "Al", "", "One big negative: the buses still run late.", "", "Subversive", "",
                              "Really? I agree with Al.", "", "Not this one, though."))
    assert [(c.author, c.posted_at, c.text) for c in article.comments] == [
        ("Al", None, "One big negative: the buses still run late."),
        ("Subversive", None, "Really? I agree with Al.\n\nNot this one, though.")]
    assert article.body == f"{ARTICLE}\n\n{bio}"
    related = parse_page(page("Related Posts", "", "Marcia", "", "Love the quote about leadership."))
    assert [(c.author, c.text) for c in related.comments] == [("Marcia", "Love the quote about leadership.")]
    assert parse_page(page("", "Marcia", "", "Love the quote about leadership.")).comments == []


def test_a_name_over_its_text_after_an_author_bio_heads_a_comment():
    """After an article's end the name may stand right over its text, with no blank line between; the same lines
    with no article's end above them are subheadings over their paragraphs and give nothing."""
    bio = "About the Author: Dana writes about city money and has covered the council since 2019."
    article = parse_page(page(bio, "", "Al", "One big negative: the buses still run late.", "", "Subversive",
                              "Really? I agree with Al."))
    assert [(c.author, c.posted_at, c.text) for c in article.comments] == [
        ("Al", None, "One big negative: the buses still run late."), ("Subversive", None, "Really? I agree with Al.")]
    assert article.body == f"{ARTICLE}\n\n{bio}"
    assert parse_page(page("", "Background", "The roof first leaked in 2009.", "", "Next Steps",
                           "The council meets again in May.")).comments == []


def test_the_first_bare_name_may_head_several_paragraphs():
    """Disqus copies: the first comment's name stands after the article's blank line, its text may run for several
    paragraphs before the next name; none of those paragraphs stays in the body."""
    article = parse_page(page("Amy D.", "", "Love this.", "", "Though the buses still run late.", "",
                              "And the vote was rushed.", "johnbattelle", "", "Thanks for reading!",
                              "http://twitter.com/jyarmis Jonathan L. Yarmis", "", "Well put.", "johnbattelle", "",
                              "Thanks, Jonathan."))
    assert [(c.author, c.text) for c in article.comments] == [
        ("Amy D.", "Love this.\n\nThough the buses still run late.\n\nAnd the vote was rushed."),
        ("johnbattelle", "Thanks for reading!"), ("Jonathan L. Yarmis", "Well put."),
        ("johnbattelle", "Thanks, Jonathan.")]
    assert article.body == ARTICLE


def test_subheadings_are_not_bare_names():
    section = ["", "Tables", "", "Use tables for tabular data only.", "", "Breadcrumbs", "", "Show the path.", "",
               "Reviews", "", "Mark up ratings."]
    assert parse_page(page(*section)).comments == []
    assert parse_page(page(*[line for line in section if line])).comments == []


def test_unknown_format_and_quoted_speech_give_no_comments():
    assert parse_page(page("Officials wrote:", "The plan is final.")).comments == []
    assert parse_page(page("She said,", "The plan is final.")).comments == []
    assert parse_page(page("What the Judges Said:", "The plan is final.")).comments == []
    assert parse_page(page("Correction: July 27, 2012", "An article on Tuesday misstated the date.")).comments == []
    assert parse_page(page("Just some closing words.", "Thanks for reading.")).comments == []
    assert parse_page("By Jane Doe on March 3, 2012 at 9:00 am\n\n" + ARTICLE).comments == []


@pytest.mark.parametrize(("date", "time", "zone", "expected"), [
    ("Mar 31, 2013", "9:38am", "EDT", "2013-03-31T09:38:00-04:00"),
    ("Nov 6, 2012", "5:21 PM", "CST", "2012-11-06T17:21:00-06:00"),
    ("Aug 8, 2012", "5:21 PM", "MST", "2012-08-08T17:21:00-07:00"),
    ("November 12, 2012", "01:17 PM", "ET", "2012-11-12T13:17:00-05:00"),
    ("July 12, 2012", "01:17 PM", "ET", "2012-07-12T13:17:00-04:00"),
    ("10/28/12", "12:05 AM", None, "2012-10-28T00:05:00"),
    ("25 Oct 2012", None, None, "2012-10-25"),
    ("2012/11/08", "08:22", None, "2012-11-08T08:22:00"),
    ("Tuesday July 24", "11:29AM", None, None),
    ("February 30, 2012", None, None, None),
])
def test_to_iso(date, time, zone, expected):
    assert to_iso(date, time, zone) == expected


def test_html_page():
    html = ("<!doctype html><html><head><title>Library to close</title><style>p{color:red}</style></head><body>"
            "<nav>Home | News</nav><h1>Library to close</h1><p>" + ARTICLE + "</p><script>var x = 1;</script>"
            "<div class='comment'><p>Doc62 wrote:</p><p>Trust <b>nobody</b>.</p><p>Second paragraph.</p>"
            "<p>Mar 31, 2013 9:38am EDT -- Report as abuse</p></div>"
            "<div class='comment'><p>MrBlue wrote:</p><p>A dream.</p>"
            "<p>Mar 31, 2013 10:48am EDT -- Report as abuse</p></div></body></html>")
    article = parse_page(html)
    assert article.title == "Library to close"
    assert article.body == ARTICLE
    assert [(c.author, c.text) for c in article.comments] == [("Doc62", "Trust nobody.\nSecond paragraph."),
                                                             ("MrBlue", "A dream.")]


def test_not_text_is_a_clear_error():
    with pytest.raises(PageError):
        parse_page(b"bytes")  # type: ignore[arg-type]


def test_to_dict_round_trips_through_json():
    article = seed("004")
    assert json.loads(json.dumps(article.to_dict()))["comments"][1]["reply_to"] == "QuidProQuo"


def test_cli_parse_pages_flat_stdin_and_a_missing_file(tmp_path):
    seed_path = next((shared_dir() / "seeds").glob("004_*.txt"))
    runner = CliRunner()
    result = runner.invoke(main, ["parse", str(seed_path), str(tmp_path / "missing.txt")])
    assert result.exit_code == 1
    assert "missing.txt" in result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["page"] for r in rows] == [seed_path.name]
    assert list(rows[0]) == ["page", "title", "published_at", "body", "comments"]
    assert rows[0]["comments"][1]["reply_to"] == "QuidProQuo"

    out = tmp_path / "comments.jsonl"
    result = runner.invoke(main, ["parse", "--flat", "-o", str(out), str(seed_path)])
    assert result.exit_code == 0
    flat = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["page"], r["index"], r["author"]) for r in flat] == [(seed_path.name, 0, "QuidProQuo"),
                                                                   (seed_path.name, 1, "NeilMcGowan")]
    assert {"title", "posted_at", "text", "reply_to"} <= set(flat[0])

    result = runner.invoke(main, ["parse", "-"], input=page(*SNIPPETS["wrote"][0]))
    assert result.exit_code == 0
    assert json.loads(result.stdout)["page"] == "-"
    assert len(json.loads(result.stdout)["comments"]) == 2
