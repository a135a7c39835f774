"""Article pages -> the article and its reader comments.

HTML is read through its markup first (``markup``: the comment items it names are taken as they are); the rest
of the page, and any plain-text page, is text. Comments in text are found with one table of header formats,
``FORMATS``: each is a regex over one short line with named groups ``author``, ``date``, ``time`` and ``zone``.
The format with the most hits in a regular run towards the end of the page splits the comment section (whether
its lines open or close their comments is read from the page); a page no format fits has no comments: an
unknown layout gives nothing rather than garbage, unless the learned ``locator`` (``locator.CommentLocator``, the
shipped one by default) places the section there. Regexes only ever see lines of at most ``MAX_HEADER`` characters,
and at most ``MAX_CANDIDATES`` of them, so no input can keep the parser busy for long.
"""

from __future__ import annotations

import functools
import re
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date as date_cls
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

if TYPE_CHECKING:
    from moderation.locator import CommentLocator

MAX_HEADER = 160  # longer lines are prose, never a comment header
LONG_LINE = 120  # the first line this long starts the article body: no comment can sit above it
MAX_GAP = 12_000  # characters between two headers of one comment section
MAX_AUTHOR_WORDS = 7
MAX_NAME_LINE = 60  # a line this short may be a bare name heading a comment
MIN_BARE = 3  # bare name lines needed to make a comment section
FIRST_PARAGRAPHS = 4  # paragraphs the first of them may have between its bare name and the next
MAX_CANDIDATES = 20_000  # header-like lines examined, from the end: bounds the time on any input
LOCATOR_FILE = "locator.joblib"


class PageError(ValueError):
    """The input cannot be an article page at all (not text)."""


@dataclass
class Comment:
    """One reader comment; ``index`` is its 0-based position on the page."""

    index: int
    author: str | None
    posted_at: str | None
    text: str
    reply_to: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Article:
    """The article text of a page and the reader comments under it."""

    title: str | None
    published_at: str | None
    body: str
    comments: list[Comment]

    def to_dict(self) -> dict:
        return asdict(self)


# --- the pieces every header format is built from -------------------------------------------------
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
          r"|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")
_DAY = r"\d{1,2}(?:st|nd|rd|th)?"
_WEEKDAY = r"(?:mon|tue|tues|wed|wednes|thu|thur|thurs|fri|sat|satur|sun)(?:day)?\b\.?"
_DATE = (rf"(?:(?:{_WEEKDAY},?\s)?(?:{_MONTH}\s{_DAY},?\s(?:\d{{4}}|'\d\d)|{_DAY}\.?\s{_MONTH},?\s(?:\d{{4}}|'?\d\d\b)"
         rf"|{_MONTH}\s{_DAY}\b(?!,?\s\d)|\d{{4}}(?:-\d\d-\d\d|/\d\d/\d\d)\b|\d{{1,2}}[/.]\d{{1,2}}[/.]\d\d(?:\d\d)?\b))")
_TIME = r"\d{1,2}:\d\d(?::\d\d)?(?:\s?[ap]\.?m\b\.?)?"
_ZONE = r"(?:[ECMPA][SD]T|AK[SD]T|H[SD]T|[ECMP]T|UTC|GMT)\b"
_SEP = rf"(?:,?\s{{0,2}}(?:{_WEEKDAY},?\s)?(?:at\s|@\s?|[·•-]\s|/{{1,2}}\s?|\|\s)?)"
_REPEATED = rf"(?:\sat\s{_TIME})?"  # CNN writes the time twice: "August 9, 2012 02:07 pm at 2:07 pm"
_TIME_FIRST = rf"(?:(?P<time_first>{_TIME})(?:\s(?P<zone_first>{_ZONE}))?,?\s(?:on\s)?)?"  # "8:22 am on Nov 8, 2012"
STAMP = rf"{_TIME_FIRST}(?P<date>{_DATE}){_SEP}(?:(?P<time>{_TIME})(?:\s(?P<zone>{_ZONE}))?{_REPEATED})?"
_PRONOUN = r"(?:he|she|it|they|we|you|i|what|who|which|this|that|there)\b(?!\.)"
_STAMP_WORD = r"(?:by|posted|on|tracked|updated?|published|modified|edited|last\supdated)\b"  # stamp, never a name
_NAME = rf"(?P<author>(?!(?:[ap]\.?m\b|{_WEEKDAY}|{_ZONE}|{_PRONOUN}|{_STAMP_WORD}))[^\s|/#].{{0,58}}?)"
_PERSON = (r"(?P<author>(?-i:(?:[A-Z][\w'’-]*\.?|[A-Z]\.)(?:\s(?:[A-Z][\w'’-]*\.?|[A-Z]\.)){0,2})"
           r"|(?=[\w.-]*[a-z])[\w.-]{3,30})(?![:,])")  # Capitalised words or one handle, not a "Label:"
_AGO = r"\d+\s(?:second|minute|hour|day|week|month|year)s?\sago(?:\s?\(\s?[\d:]+\s?[ap]m\))?"
_TAIL_SEP = r"[\s|.,:·•#→↓-]*"
_BUTTON = r"(?:reply|report(?:\sas\sabuse)?|flag|permalink|share|quote|like|edit|delete|link|log\sin\sto(?:\sreply)?)"
_BUTTONS = rf"(?:{_TAIL_SEP}(?<!\w){_BUTTON})+{_TAIL_SEP}"  # "· Reply ↓", "| Permalink | Reply": the header's own
_TAIL = rf"(?:{_BUTTONS}|{_TAIL_SEP}(?:\(#\d+\)|journal|@\w{{1,30}})?{_TAIL_SEP})"


@dataclass(frozen=True)
class HeaderFormat:
    """One way sites write a comment's author/date line.

    Whether the line opens or closes its comment is read from the page: headers close their comments
    when nothing but furniture follows the last one.
    """

    name: str
    pattern: re.Pattern[str]
    author_above: bool = False  # the author is the short line just above (the header itself has none)
    telling: bool = False  # the line says it heads a comment (a verb of saying, points): one hit can be enough
    bare: bool = False  # only a name, between text and a blank line: needs MIN_BARE hits naming people, comes last


def _format(name: str, regex: str, **options: bool) -> HeaderFormat:
    return HeaderFormat(name, re.compile(rf"^(?:{regex}){_TAIL}$", re.IGNORECASE), **options)


FORMATS: tuple[HeaderFormat, ...] = (
    _format("wrote", rf"{_NAME} wrote:"),  # Reuters, forums
    _format("says", rf"(?:\(\d+\)\s)?{_NAME}\ssays:?(?:\s{STAMP})?", telling=True),  # WordPress
    _format("date_says", rf"{STAMP}\s?/\s{_NAME}\ssays:?", telling=True),  # WordPress themes: "16. Jul, 2012 / X says:"
    _format("said", rf"(?:\+\s)?{_NAME}(?:\s(?:on\s)?{STAMP})?\ssaid(?:\.\.\.|…)", telling=True),  # Blogger
    _format("said_colon", rf"{_NAME}(?:\son\s{STAMP})?\s(?:said|added)[:,]"),  # WordPress, Tumblr: quotes look alike
    _format("on_date_said", rf"on\s{STAMP},?\s{_NAME}\ssaid:", telling=True),  # WordPress: "On <date> X said:"
    _format("posted_by", rf"posted\sby:?\s{_NAME}\s?(?:\||\s\s|\son\s|\sat\s)\s?{STAMP}"),  # TypePad, Movable Type
    _format("by_on", rf"by\s{_NAME}\son\s{STAMP}"),  # WordPress footers, SB Nation
    _format("slashdot", rf"by\s{_NAME}\s\(\d+\)(?:\s<[^>]{{0,80}}>)?(?:\son\s{STAMP}\s?(?:\(#\d+\))?)?"),
    _format("name_date", rf"(?:[#+]?\d{{1,4}}\.?\s|written\sby\s)?{_NAME}\s?(?:[|/,—–·•-]\s?)?(?:on\s)?{STAMP}"),
    _format("date_name", rf"(?:posted\s)?(?:on\s)?{STAMP}\s?(?:[|/,—–·•-]\s?|by\s)?(?:\d+\s)?{_NAME}"),
    _format("name_points", rf"{_NAME}\s[+-]?\d+\s(?:pts?|points?)", telling=True),  # Livefyre
    _format("name_ago", rf"{_NAME}\s(?:added|posted|wrote|commented|\s?[·•|]\s?)\s{_AGO}", telling=True),
    _format("name_line", rf"(?:https?://\S{{1,100}}\s)?{_PERSON}", bare=True),  # Disqus copies: name, then text
    _format("date_line", rf"(?:posted\s(?:on\s)?|on\s|#\d+\s-\s)?(?:{STAMP}|{_AGO})", author_above=True),
)

NAME_LINE = FORMATS[-2]
_NOT_NAME = re.compile(rf"{_TIME}|{_AGO}|\b(?:19|20)\d\d\b|^{_STAMP_WORD}", re.IGNORECASE)
_ONLY_BUTTONS = re.compile(_BUTTONS, re.IGNORECASE)  # "Reply", "Log in to": no name
_LABEL = re.compile(r":(?!\d)")  # "Source: ...": a colon not inside a time
_CUE = re.compile(r"\d|wrote|says|said|added", re.IGNORECASE)  # a line without one cannot be a header
_DATE_LINE = FORMATS[-1].pattern
_SEARCH_STAMP = re.compile(STAMP, re.IGNORECASE)
_TIME_LINE = re.compile(rf"^(?:@\s?|at\s)?(?P<time>{_TIME})(?:\s(?P<zone>{_ZONE}))?[\s|-]*$", re.IGNORECASE)
_TIME_ONLY = re.compile(rf"^(?:@\s?)?{_TIME}(?:\s{_ZONE})?[\s|-]*$", re.IGNORECASE)
_FURNITURE = re.compile(
    r"^(?:reply|report(?: as)? abuse|flag|permalink|share|quote|like|edit|delete|link|"
    r"[+-]?\d+(?:\s?[:|/]\s?[+-]?\d+)?(?:\s(?:pts?|points?|votes?|likes?|replies|reply))?|"
    r"\d+\s\w+\sago|\(?\d+ repl(?:y|ies)\)?|log in to reply|in reply to .{1,60}|x|related topics|"
    r"\w+ logo|advertisement|share this|print|email)\W*$",
    re.IGNORECASE,
)
_END = re.compile(
    r"^(?:this discussion is (?:now )?closed|comments? (?:are|is) (?:now )?closed|leave a (?:reply|comment)|"
    r"post a comment|add (?:a|your) comment|subscribe to:|newer post|older post|related (?:articles|posts|"
    r"stories)|tags?:|filed under|copyright|©|we welcome comments|comments \(\d+\)|\d+ comments?$|"
    r"our standards|you might also like|trackbacks?|we need your support|support (?:our|independent) journalism)",
    re.IGNORECASE,
)
_ARTICLE_END = re.compile(  # what closes an article and may stand just above its comments
    r"^(?:about the author\b|about [A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,2}:?$|related (?:posts|articles|stories|entries)"
    r":?$|\d+ (?:comments?|responses?|replies)|(?:reader )?comments?:?$|responses?:?$|discussion:?$)",
    re.IGNORECASE,
)
_CREDIT = re.compile(
    r"^(?:credit|photo|image|photograph|source)s?:|^\((?:reporting|editing|writing|additional reporting)\s|"
    r"\b(?:[A-Z][A-Za-z]+/){1,2}[A-Z][\w. -]{0,40}$",
)
_TRAILING_CREDIT = re.compile(r"\s*\((?:reporting|editing|writing|additional reporting) by [^()]*\)\s*$",
                              re.IGNORECASE)
_HTML = re.compile(r"^\s*<|<html|<body", re.IGNORECASE)
_FIXED_ZONES = {"EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
                "AKST": -9, "AKDT": -8, "HST": -10, "HDT": -9, "AST": -4, "ADT": -3, "UTC": 0, "GMT": 0}
_REGION_ZONES = {"ET": "America/New_York", "CT": "America/Chicago", "MT": "America/Denver",
                 "PT": "America/Los_Angeles"}


# --- dates ------------------------------------------------------------------------------------------
def _ymd(date: str) -> tuple[int, int, int] | None:
    """Year, month, day of a matched date; None when it has no year or is not a real date."""
    low = re.sub(rf"\b{_WEEKDAY}[\s,]*", "", date.lower()).strip()
    numbers = [int(n) for n in re.findall(r"\d+", low)]
    month_name = re.search(r"[a-z]+", low)
    if month_name and month_name.group()[:3] in _MONTHS:
        month = _MONTHS.index(month_name.group()[:3]) + 1
        if len(numbers) < 2:
            return None
        day, year = numbers[0], numbers[-1]
    elif re.fullmatch(r"\d{4}(?:-\d\d-\d\d|/\d\d/\d\d)", low):  # year first
        year, month, day = numbers
    elif len(numbers) == 3:
        month, day, year = numbers if numbers[0] <= 12 else (numbers[1], numbers[0], numbers[2])
    else:
        return None
    year += 2000 if year < 100 else 0
    try:
        datetime(year, month, day)
    except ValueError:
        return None
    return year, month, day


def to_iso(date: str | None, time: str | None = None, zone: str | None = None) -> str | None:
    """ISO-8601 for a matched date/time; a US zone becomes its UTC offset, no zone stays without one."""
    ymd = _ymd(date) if date else None
    if ymd is None:
        return None
    day = date_cls(*ymd).isoformat()
    if not time:
        return day
    parts = [int(n) for n in re.findall(r"\d+", time)]
    hour, minute, second = (parts + [0])[:3]
    meridiem = re.search(r"([ap])\.?m", time.lower())
    if meridiem:
        hour = hour % 12 + (12 if meridiem.group(1) == "p" else 0)
    try:
        stamp = datetime(*ymd, hour, minute, second)
    except ValueError:
        return day
    zone = (zone or "").upper()
    if zone in _FIXED_ZONES:
        stamp = stamp.replace(tzinfo=timezone(timedelta(hours=_FIXED_ZONES[zone])))
    elif zone in _REGION_ZONES:
        stamp = stamp.replace(tzinfo=ZoneInfo(_REGION_ZONES[zone]))
        stamp = stamp.replace(tzinfo=timezone(stamp.utcoffset()))
    return stamp.isoformat()


def stamp_iso(match: re.Match[str]) -> str | None:
    """ISO-8601 for a match of ``STAMP``, whose time may stand before its date or after it."""
    return to_iso(match["date"], match["time"] or match["time_first"], match["zone"] or match["zone_first"])


# --- text -------------------------------------------------------------------------------------------
def _lines(text: str) -> list[str]:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\xa0", " ").replace("\t", " ")
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", "", text)
    return [re.sub(r" {3,}", "  ", line).strip() for line in text.split("\n")]


def article_start(lines: Sequence[str]) -> int:
    """The article's first line of at least LONG_LINE characters (0 if none): no comment sits above it."""
    return next((n for n, line in enumerate(lines) if len(line) >= LONG_LINE), 0)


def _join(lines: list[str]) -> str:
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def _plausible_author(name: str | None) -> bool:
    """A header's author group is a name, not a sentence or a number."""
    if not name:
        return False
    name = name.strip(" -|,:")
    if _SEARCH_STAMP.search(name) or _NOT_NAME.search(name) or _ONLY_BUTTONS.fullmatch(name):
        return False
    return (0 < len(name) <= 60 and re.search(r"[^\W\d_]", name) is not None
            and len(name.split()) <= MAX_AUTHOR_WORDS and not re.search(r"(?:[!?]|[^\W\d_]{2}\.)$", name.rstrip(")"))
            or bool(re.fullmatch(r"[\w.@-]+\.\w+", name or "")))


# --- comments ---------------------------------------------------------------------------------------
@dataclass
class _Hit:
    line: int
    author: str | None
    posted_at: str | None
    author_line: int | None = None  # where the author stands when not in the header line itself


def _match(fmt: HeaderFormat, line: str) -> _Hit | None:
    match = fmt.pattern.match(line)
    if match is None:
        return None
    groups = match.groupdict()
    author = groups.get("author")
    if "author" in groups and not _plausible_author(author):
        return None
    posted = stamp_iso(match) if "date" in groups else None
    return _Hit(-1, author.strip(" -|,:") if author else None, posted)


def _next_date(lines: list[str], line: int) -> str | None:
    """The first date line in the few lines after a header that has no date of its own."""
    for following in lines[line + 1:line + 6]:
        stamp = _DATE_LINE.match(following) if len(following) <= MAX_HEADER else None
        if stamp:
            return stamp_iso(stamp)
    return None


def _timed(posted: str | None, lines: list[str], line: int) -> str | None:
    """A header's date completed by a time standing alone on the next line (name, date and time on three lines)."""
    following = lines[line + 1] if line + 1 < len(lines) else ""
    stamp = _TIME_LINE.match(following) if posted and "T" not in posted else None
    return to_iso(posted, stamp["time"], stamp["zone"]) if stamp else posted


def _candidates(lines: list[str], first: int) -> list[int]:
    """The last MAX_CANDIDATES lines that could be headers: short, with a digit or a verb of saying, or name-short."""
    found = [n for n in range(first, len(lines))
             if 0 < len(lines[n]) <= MAX_HEADER and (_CUE.search(lines[n]) or len(lines[n]) <= MAX_NAME_LINE)]
    return found[-MAX_CANDIDATES:]


def _bare_header(lines: list[str], number: int) -> bool:
    """A bare name line heads a comment when text ends just above it and a paragraph starts after a blank."""
    return 0 < number < len(lines) - 2 and bool(lines[number - 1]) and not lines[number + 1] and bool(lines[number + 2])


def _paragraph_start(lines: list[str], line: int) -> int:
    while line > 0 and lines[line - 1]:
        line -= 1
    return line


def _first_name(fmt: HeaderFormat, lines: list[str], hits: list[_Hit]) -> list[_Hit]:
    """The bare name of the section's first comment stands after the article's blank line, not after text, and
    alone between blank lines up to FIRST_PARAGRAPHS paragraphs above the next name (a first comment may run long)."""
    start = _paragraph_start(lines, hits[0].line)
    for _ in range(FIRST_PARAGRAPHS):
        name = start - 2
        if name < 1 or lines[start - 1] or not lines[name]:
            return hits
        if not lines[name - 1] and (first := _match(fmt, lines[name])) is not None:
            first.line = name
            return [first, *hits]
        start = _paragraph_start(lines, name)
    return hits


def _hits(fmt: HeaderFormat, lines: list[str], candidates: list[int]) -> list[_Hit]:
    hits = []
    for number in candidates:
        hit = _match(fmt, lines[number])
        if hit is not None and (not fmt.bare or _bare_header(lines, number)):
            hit.line = number
            hit.posted_at = _timed(hit.posted_at, lines, number) or _next_date(lines, number)
            if fmt.author_above:
                hit.author_line = _author_above(lines, number)
                hit.author = lines[hit.author_line] if hit.author_line is not None else None
            hits.append(hit)
    return hits


def _regular_run(hits: list[_Hit], offsets: list[int]) -> list[_Hit]:
    """The last run of hits with no gap longer than MAX_GAP: a comment section is dense in headers."""
    start = len(hits) - 1
    while start > 0 and offsets[hits[start].line] - offsets[hits[start - 1].line] <= MAX_GAP:
        start -= 1
    return hits[start:]


def _people(hits: list[_Hit], lines: list[str]) -> bool:
    """Bare name lines are people, not subheadings, when one of them comes back or carries a link."""
    names = [lines[h.line] for h in hits]
    return len(set(names)) < len(names) or any("://" in name for name in names)


def _signs_off(fmt: HeaderFormat, hits: list[_Hit], lines: list[str]) -> bool:
    """One dated header right under the page's last text, with only furniture below, signs a comment off
    ("October 19, 2012 | Jane" under a blog's one comment). An article's own byline or dateline stands above its
    text, and a label ("Source: ...", "Photos: ...") is no name, so neither passes."""
    if len(hits) != 1 or fmt.author_above or fmt.bare:
        return False
    hit = hits[0]
    return (bool(hit.author and hit.posted_at) and hit.line > 0 and bool(lines[hit.line - 1])
            and _LABEL.search(lines[hit.line]) is None and not _clean(lines[hit.line + 1:])[0])


def _best(lines: list[str]) -> tuple[HeaderFormat, list[_Hit]] | None:
    """The format with the most hits below the article's first long line, if it is convincing.

    Convincing: two hits, or one in the page's second half naming its author with a date and time or in a
    telling format, or one signing off the page's last text (``_signs_off``); bare name lines need MIN_BARE hits
    that are people.
    Several hits beat one, formats naming the author beside a date or verb come first (bare names, then bare
    date lines are the fallbacks), ties go to the hits that come last.
    """
    first = article_start(lines)
    offsets, total = [], 0
    for line in lines:
        offsets.append(total)
        total += len(line) + 1
    best, best_key, candidates = None, None, _candidates(lines, first)
    for fmt in FORMATS:
        hits = _regular_run(hits, offsets) if (hits := _hits(fmt, lines, candidates)) else []
        if fmt.bare and not _people(hits, lines):
            continue
        dated = _signs_off(fmt, hits, lines) or any(
            h.author and (fmt.telling or h.posted_at and "T" in h.posted_at) and offsets[h.line] > total / 2
            for h in hits)
        key = (len(hits) >= 2, not fmt.bare, not fmt.author_above, len(hits), hits[-1].line if hits else 0)
        if (len(hits) >= (MIN_BARE if fmt.bare else 2) or (hits and dated)) and (best_key is None or key > best_key):
            best, best_key = (fmt, hits), key
    return best


def _clean(lines: list[str]) -> tuple[str, str | None]:
    """A comment's text without furniture lines, and the first date line found among them."""
    kept, posted = [], None
    for line in lines:
        stamp = _DATE_LINE.match(line) if len(line) <= MAX_HEADER else None
        if stamp:
            posted = posted or stamp_iso(stamp)
            continue
        if _FURNITURE.match(line) or _TIME_ONLY.match(line):
            continue
        kept.append(line)
    return _join(kept), posted


def _section_end(lines: list[str], start: int) -> int:
    return next((n for n in range(start, len(lines)) if _END.match(lines[n])), len(lines))


def _paragraph_starts(lines: list[str], start: int, stop: int) -> list[int]:
    return [n for n in range(start, stop) if lines[n] and (n == start or not lines[n - 1])]


def _spans(hits: list[_Hit], lines: list[str]) -> tuple[bool, list[tuple[int, int]]]:
    """Whether the headers close their comments, and the line ranges [start, stop) of each comment."""
    lines_after = [h.line + 1 for h in hits]
    ends = [h.line for h in hits[1:]] + [_section_end(lines, hits[-1].line + 1)]
    if _clean(lines[lines_after[-1]:ends[-1]])[0]:
        return False, list(zip(lines_after, ends, strict=True))
    spans = list(zip(lines_after[:-1], [h.line for h in hits[1:]], strict=True))
    counts = [len(_paragraph_starts(lines, a, b)) for a, b in spans] or [1]
    before = _paragraph_starts(lines, 0, hits[0].line)
    keep = max(1, round(statistics.median(counts)))
    first_start = before[-keep] if len(before) >= keep else (before[0] if before else hits[0].line)
    return True, [(first_start, hits[0].line), *spans]


def _author_above(lines: list[str], line: int) -> int | None:
    """The line just above a bare date line, when it holds a name; a blank or a line of buttons ("Reply") may stand
    between them."""
    above = line - 1
    while above >= 0 and (not lines[above] or _ONLY_BUTTONS.fullmatch(lines[above])) and line - above <= 2:
        above -= 1
    if above >= 0 and lines[above] and _plausible_author(lines[above]) and len(lines[above]) <= 60:
        return above
    return None


def _reply_to(text: str, lowered: dict[str, str]) -> str | None:
    """The earlier commenter (``lowered``: lowercased name -> name) a comment opens by naming."""
    first = text.split("\n", 1)[0].strip()
    alone = first.lstrip("@").rstrip(":,").strip().lower()
    if alone in lowered:
        return lowered[alone]
    at = re.match(r"@(\S+)", first)
    return lowered.get(at.group(1).rstrip(":,").lower()) if at else None


def _name_heading(lines: list[str], number: int) -> _Hit | None:
    """A name alone after a blank line with its paragraph under it, right below or after one blank line (a
    subheading looks the same: see _after_end)."""
    below = number + 1 if number + 1 < len(lines) and lines[number + 1] else number + 2
    if not (number > 0 and below < len(lines) and not lines[number - 1] and lines[below]
            and len(lines[number]) <= MAX_NAME_LINE):
        return None
    hit = _match(NAME_LINE, lines[number])
    if hit is not None:
        hit.line = number
    return hit


def _after_end(lines: list[str]) -> list[_Hit]:
    """Names alone over a paragraph that start right after an article's end (an author bio, "Related posts",
    a comments heading): there they head comments, where anywhere else they could be subheadings."""
    first = article_start(lines)
    for end in range(first, len(lines)):
        if not _ARTICLE_END.match(lines[end][:MAX_HEADER]):
            continue
        after = next((n for n in range(end + 1, len(lines)) if lines[n] and not lines[n - 1]), len(lines))
        if _name_heading(lines, after) is not None:
            stop = _section_end(lines, after + 1)
            return [hit for n in range(after, stop) if (hit := _name_heading(lines, n)) is not None]
    return []


def find_table_comments(lines: list[str]) -> tuple[int, list[Comment]]:
    """The comment section by the header table: where it starts (len(lines) if none) and its comments."""
    best = _best(lines)
    if best is None and (named := _after_end(lines)):
        best = NAME_LINE, named
    elif best is not None and best[0].bare:
        best = best[0], _first_name(best[0], lines, best[1])
    if best is None:
        return len(lines), []
    fmt, hits = best
    closes, spans = _spans(hits, lines)
    section_start = spans[0][0] if closes else hits[0].line
    if fmt.author_above and not closes:  # the author line above belongs to the header, not the text before
        spans = [(start, hits[n + 1].author_line if n + 1 < len(hits) and hits[n + 1].author_line else stop)
                 for n, (start, stop) in enumerate(spans)]
        section_start = hits[0].author_line if hits[0].author_line is not None else section_start
    comments: list[Comment] = []
    earlier: dict[str, str] = {}
    for hit, (start, stop) in zip(hits, spans, strict=True):
        author = hit.author if not (fmt.author_above and closes) else None
        text, posted = _clean(lines[start:stop])
        if not text:
            continue
        comments.append(Comment(len(comments), author, hit.posted_at or posted, text, _reply_to(text, earlier)))
        if author:
            earlier.setdefault(author.lower(), author)
    return section_start, comments


def comment_fields(lines: list[str]) -> tuple[str | None, str | None, str]:
    """Author, time and text of lines known to hold one comment (a marked-up item): a header line names them."""
    for n, line in enumerate(lines[:3]):
        for fmt in FORMATS if 0 < len(line) <= MAX_HEADER else ():
            if not fmt.bare and not fmt.author_above and (hit := _match(fmt, line)):
                text, posted = _clean(lines[:n] + lines[n + 1:])
                return hit.author, hit.posted_at or posted, text
    text, posted = _clean(lines)
    return None, posted, text


def _opens_comment(lines: list[str], n: int, start: int) -> bool:
    """A short line that is no sentence, standing alone after a blank, heads a comment in a located section."""
    line = lines[n]
    header = 0 < len(line) <= MAX_NAME_LINE and len(line.split()) <= MAX_AUTHOR_WORDS \
        and not line.rstrip("”\"')").endswith((".", "!", "?", ",", ";"))
    followed = n + 1 < len(lines) and (not lines[n + 1] or _DATE_LINE.match(lines[n + 1]) is not None)
    return header and followed and (n == start or not lines[n - 1])


def located_comments(lines: list[str], start: int) -> list[Comment]:
    """The comments of a section the locator found: cut before short lines heading a paragraph, all text kept.

    Nothing says which line names the author here, so ``author`` stays None; ``posted_at`` is the first date
    line among a comment's first three lines.
    """
    heads = [n for n in range(start, len(lines)) if n == start or _opens_comment(lines, n, start)]
    comments: list[Comment] = []
    for begin, stop in zip(heads, [*heads[1:], len(lines)], strict=True):
        part = lines[begin:stop]
        stamp = next((m for line in part[:3] if len(line) <= MAX_HEADER and (m := _SEARCH_STAMP.search(line))), None)
        text = _join([line for line in part if not _FURNITURE.match(line)])
        if text:
            posted = stamp_iso(stamp) if stamp else None
            comments.append(Comment(len(comments), None, posted, text))
    return comments


def find_comments(lines: list[str], locator: CommentLocator | None = None) -> tuple[int, list[Comment]]:
    """The line where the comment section starts (len(lines) if none) and its comments.

    The header table first; where it finds nothing, the learned ``locator`` (if given) may place the section.
    """
    start, comments = find_table_comments(lines)
    if comments or locator is None:
        return start, comments
    located = locator.locate(lines)
    if located is None:
        return len(lines), []
    return located, located_comments(lines, located)


# --- the article ------------------------------------------------------------------------------------
def _title(lines: list[str]) -> int | None:
    """The line holding the title: one repeated near the top (a heading echoed), else the first line."""
    top = [n for n, line in enumerate(lines[:40]) if line][:10]
    for n in top[:5]:
        if any(lines[m] == lines[n] for m in top if m > n):
            return n
    return top[0] if top else None


def _published(lines: list[str]) -> tuple[int, str] | None:
    """The first dated short line near the top: the dateline."""
    for n, line in enumerate(lines[:40]):
        match = _SEARCH_STAMP.search(line) if 0 < len(line) <= MAX_HEADER else None
        if match and (iso := stamp_iso(match)):
            return n, iso
    return None


def _body(lines: list[str], title: str | None, dateline: int | None) -> str:
    """The article text without title echoes, dateline, captions, credits and furniture."""
    paragraphs = [line for n, line in enumerate(lines) if n != dateline]
    end = _section_end(paragraphs, 0)
    paragraphs = [p for p in paragraphs[:end] if p != title and not _FURNITURE.match(p)]
    captions = [p for p in paragraphs if _CREDIT.search(p) and len(p) > 60]
    kept = [_TRAILING_CREDIT.sub("", p) for p in paragraphs
            if not p or not _CREDIT.search(p) and not any(c.startswith(p) for c in captions)]
    return _join(kept)


@functools.cache
def shipped_locator() -> CommentLocator:
    """The shipped comment-section locator, verified against its card, loaded once on first use."""
    from moderation import artifacts

    return artifacts.load(artifacts.shipped_dir() / LOCATOR_FILE).estimator


def parse_page(text: str, locator: CommentLocator | Literal["shipped"] | None = "shipped") -> Article:
    """The article and reader comments of one page (plain text or HTML); never raises on any text.

    ``locator`` ("shipped" for ``models/locator.joblib``, None for none) may place a comment section where the header
    table finds none. It is on by default since its threshold lets it fire on no comment-less page out of fold and it
    places no section without text: on the dev half split by site, fitted on one part, it fired on 0.4 % of the
    other part's comment-less pages (see README, "Parsing pages"); it costs 5-35 % of the parser's speed.
    """
    if not isinstance(text, str):
        raise PageError(f"a page must be text, not {type(text).__name__}")
    marked_date = None
    if _HTML.match(text[:1000]) or "<html" in text[:5000].lower() or "<body" in text[:5000].lower():
        from moderation.markup import read_markup

        marked = read_markup(text)
        text, marked_date = marked.text, marked.published_at
        if marked.comments:
            return _article(_lines(text), marked.comments, marked_date)
    lines = _lines(text)
    start, comments = find_comments(lines, shipped_locator() if locator == "shipped" else locator)
    return _article(lines[:start], comments, marked_date)


def _article(head: list[str], comments: list[Comment], published_at: str | None) -> Article:
    """The article from the lines above the comments; the date the markup states wins over a dateline."""
    title_line = _title(head)
    title = head[title_line] if title_line is not None else None
    dated = _published(head)
    dateline = dated[0] if dated and len(head[dated[0]]) <= 120 else None
    body = _body(head, title, dateline)
    return Article(title, published_at or (dated[1] if dated else None), body, comments)


def page_rows(page: str, article: Article, flat: bool = False) -> list[dict]:
    """Output rows for one page: the article with its comments, or (flat) one row per comment."""
    if flat:
        return [{"page": page, "title": article.title, **comment.to_dict()} for comment in article.comments]
    return [{"page": page, **article.to_dict()}]
