"""Comments an HTML page states in its markup, read before the page is flattened to text.

Markup says outright what the text path must guess: schema.org ``Comment``/``UserComments`` microdata and JSON-LD,
``<time datetime>``, and the class and id vocabulary of the common comment systems (WordPress ``li.comment``,
Disqus ``#disqus_thread .post``, Livefyre ``fyre-comment-article``, Viafoura ``vf-comment``, Coral
``coral-comment``, generic ``comment`` items and children of a ``#comments`` section). Each comment's nesting inside
another gives ``reply_to`` (the author it answers). Comment items are taken out of the page; everything else stays
in the text the article is read from, so no text of the page vanishes.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime

from selectolax.lexbor import LexborHTMLParser, LexborNode

from moderation.pages import _FURNITURE, _SEARCH_STAMP, Comment, _join, _lines, comment_fields, stamp_iso

BLOCKS = ("p,div,br,h1,h2,h3,h4,h5,h6,li,tr,td,th,blockquote,article,section,header,footer,pre,"
          "dt,dd,table,ul,ol,hr,aside,figure,figcaption,address,main,form")
DROP = "script,style,nav,noscript,template,svg,iframe,head,button,select,textarea"
_BREAK = "\x1e"  # marks block ends while the text is read, so the source's own newlines can become spaces
MAX_META = 120  # an author/date/actions block longer than this is content, not a comment's header

_ITEM_CLASSES = {"comment", "comment-item", "single-comment", "user-comment", "fyre-comment-article", "vf-comment",
                 "coral-comment", "dsq-comment", "livefyre-comment"}
_ITEM = ",".join([*(f".{name}" for name in _ITEM_CLASSES), '[itemtype*="schema.org/Comment"]',
                  '[itemtype*="schema.org/UserComments"]', '[id^="comment-"]', "#disqus_thread .post",
                  "#disqus_thread .post-list > li"])
_ITEM_ID = re.compile(r"^comment-\d+$")
_SECTION = ("#comments,.comments,#comment-list,.comment-list,.commentlist,.comments-list,#disqus_thread,"
            ".comments-area,#respond-comments")
_AUTHOR_PROP = ('[itemprop="author"] [itemprop="name"],[itemprop="creator"] [itemprop="name"],[itemprop="author"],'
                '[itemprop="creator"],.fn')
_AUTHOR_CLASS = re.compile(r"(?:^|[-_])(?:author|username|user-name|commenter|nickname|display-name|byline)(?:$|[-_])")
_TIME_PROP = '[itemprop="dateCreated"],[itemprop="datePublished"],[itemprop="commentTime"],time'
_TIME_CLASS = re.compile(r"(?:^|[-_])(?:date|time|timestamp|time-ago|posted|published)(?:$|[-_])")
_META_CLASS = re.compile(r"(?:^|[-_])(?:author|meta|metadata|header|byline|avatar|actions|footer|reply|replies|vote|"
                         r"votes|like|likes|flag|share|date|time|timestamp|username)(?:$|[-_])")
_TEXT_PROP = '[itemprop="text"],[itemprop="commentText"]'
_COMMENT_TYPES = {"Comment", "UserComments"}
_SAYS = re.compile(r"\s*(?:says|said|wrote|commented)\s*:?\s*$", re.IGNORECASE)


@dataclass
class Marked:
    """An HTML page read through its markup: the text left once comment items are out, and what markup stated."""

    text: str
    comments: list[Comment]
    published_at: str | None


def block_text(node: LexborNode | None) -> str:
    """Text of a node, one line per block element; line breaks of the HTML source are spaces, as a browser shows."""
    if node is None:
        return ""
    for block in node.css(BLOCKS):
        block.insert_after(_BREAK)
    return node.text(separator="").replace("\n", " ").replace(_BREAK, "\n")


def html_to_text(tree: LexborHTMLParser) -> str:
    """Visible text of a parsed page, one line per block element; scripts, styles and navigation dropped."""
    for node in tree.css(DROP):
        node.decompose()
    title = tree.css_first("title")
    text = block_text(tree.body or tree.root)
    return text if title is None or title.text() in text else f"{title.text()}\n\n{text}"


def iso(value: str | None) -> str | None:
    """A machine-readable date (``datetime`` or ``content`` attribute) as ISO-8601, or None when it is not one."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        if re.fullmatch(r"\d{4}-\d\d-\d\d", value):  # a day without a time stays a day, as on the text path
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value.replace("Z", "+00:00")).isoformat()
    except ValueError:
        match = _SEARCH_STAMP.search(value)
        return stamp_iso(match) if match else None


def _classes(node: LexborNode) -> list[str]:
    return (node.attributes.get("class") or "").lower().split()


def _is_item(node: LexborNode) -> bool:
    """A node the item selector found is a comment unless it is inline, a form, or an id like ``comment-form``."""
    if node.tag in {"a", "span", "form", "textarea", "time"}:
        return False
    node_id = node.attributes.get("id") or ""
    return (bool(_ITEM_CLASSES & set(_classes(node))) or "schema.org/" in (node.attributes.get("itemtype") or "")
            or bool(_ITEM_ID.match(node_id)) or node.css_matches("#disqus_thread *"))


def _items(tree: LexborHTMLParser) -> list[LexborNode]:
    """The comment items of a page in document order; a wrapper holding only another item gives way to it."""
    found = list({node.mem_id: node for node in tree.css(_ITEM) if _is_item(node)}.values())  # a node once
    if not found:
        for section in tree.css(_SECTION):
            found += [child for child in section.iter() if child.tag in {"article", "div", "li", "section"}
                      and child.text(strip=True)]
        found = list({node.mem_id: node for node in found}.values())
    order = {node.mem_id: n for n, node in enumerate(tree.root.traverse(include_text=False))}
    found.sort(key=lambda node: order[node.mem_id])  # a selector list returns its matches selector by selector
    ids = {node.mem_id for node in found}
    inner = {node.mem_id: [d for d in node.traverse(include_text=False) if d.mem_id in ids and d.mem_id != node.mem_id]
             for node in found}
    return [node for node in found if not inner[node.mem_id] or _own_text(node, inner[node.mem_id])]


def _own_text(node: LexborNode, nested: list[LexborNode]) -> str:
    """Text of ``node`` without the text of the items nested in it."""
    text = node.text(separator=" ", strip=True)
    for child in nested:
        text = text.replace(child.text(separator=" ", strip=True), " ", 1)
    return text.strip()


def _parent_item(node: LexborNode, ids: set[int]) -> int | None:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in ids:
            return parent.mem_id
        parent = parent.parent
    return None


def _deepest(node: LexborNode, matches) -> LexborNode | None:
    """The first descendant the predicate accepts that holds no other accepted descendant."""
    accepted = [d for d in node.traverse(include_text=False) if d.mem_id != node.mem_id and matches(d)]
    for candidate in accepted:
        if not any(d.mem_id != candidate.mem_id and matches(d) for d in candidate.traverse(include_text=False)):
            return candidate
    return None


def _is_author_block(node: LexborNode) -> bool:
    return any(_AUTHOR_CLASS.search(c) for c in _classes(node))


def _without_says(text: str) -> str:
    return _SAYS.sub("", text).strip(" -|,:")


def _author(item: LexborNode) -> str | None:
    node = item.css_first(_AUTHOR_PROP) or _deepest(  # an empty author block inside another names no one
        item, lambda d: _is_author_block(d) and d.text(strip=True))
    if node is None:
        return None
    name = _without_says(node.attributes.get("content") or node.text(separator=" ", strip=True))
    return name if 0 < len(name) <= 80 else None


def _posted(item: LexborNode) -> str | None:
    for node in item.css(_TIME_PROP):
        found = iso(node.attributes.get("datetime") or node.attributes.get("content") or node.text(strip=True))
        if found:
            return found
    node = _deepest(item, lambda d: any(_TIME_CLASS.search(c) for c in _classes(d)))
    return iso(node.attributes.get("title") or node.text(strip=True)) if node is not None else None


def _text(item: LexborNode, author: str | None) -> str:
    """The comment's words: its text property if marked, else the item without its header and action blocks.

    An author block holding more than ``author``'s name (a second name, words around it) stays: its other words
    are nowhere else. Read from a copy, so an item without words of its own can stay in the page whole.
    """
    copy = LexborHTMLParser(item.html or "").body
    marked = copy.css_first(_TEXT_PROP) if copy is not None else None
    if marked is None and copy is not None:
        for node in copy.css("*"):
            if (any(_META_CLASS.search(c) for c in _classes(node)) or node.tag == "time") \
                    and len(node.text(strip=True)) <= MAX_META and node.css_first("p") is None \
                    and not (_is_author_block(node) and _without_says(
                        node.text(separator=" ", strip=True).replace(author or "", " ", 1))):
                node.decompose()
        marked = copy
    return _join([line for line in _lines(block_text(marked)) if not _FURNITURE.match(line)])


def _dom_comments(tree: LexborHTMLParser) -> list[Comment]:
    """Comments from the page's comment items, taken out of the tree innermost first (parents keep their own text)."""
    items = _items(tree)
    ids = {node.mem_id for node in items}
    parents = {node.mem_id: _parent_item(node, ids) for node in items}
    found: dict[int, tuple[str | None, str | None, str]] = {}
    for node in reversed(items):
        author, posted = _author(node), _posted(node)
        text = _text(node, author)
        if author is None and posted is None:  # the markup names neither: a header line in the text may
            author, posted, text = comment_fields(_lines(text))
        found[node.mem_id] = (author, posted, text)
        if text:  # an item with no words of its own (a deleted comment's name) is no comment: it stays in the page
            node.decompose()
    comments: list[Comment] = []
    for node in items:
        author, posted, text = found[node.mem_id]
        parent = parents[node.mem_id]
        if text:
            comments.append(Comment(len(comments), author, posted, text, found[parent][0] if parent else None))
    return comments


def _json_ld(tree: LexborHTMLParser) -> list[dict]:
    objects = []
    for script in tree.css('script[type="application/ld+json"]'):
        try:
            data = json.loads(script.text())
        except ValueError:
            continue
        objects += data if isinstance(data, list) else [data]
    return [o for o in objects if isinstance(o, dict)]


def _types(data: dict) -> set:
    kinds = data.get("@type")
    return {str(k) for k in kinds} if isinstance(kinds, list) else {str(kinds)}


def _name(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("name")
    return value.strip() or None if isinstance(value, str) else None


def _ld_comments(objects: list[dict]) -> list[Comment]:
    """Comments in JSON-LD: objects typed Comment or UserComments anywhere, a ``comment`` inside one replying to it."""
    comments: list[Comment] = []

    def visit(value, parent_author: str | None) -> None:
        if isinstance(value, list):
            for element in value:
                visit(element, parent_author)
            return
        if not isinstance(value, dict):
            return
        is_comment = bool(_COMMENT_TYPES & _types(value))
        author = parent_author
        if is_comment:
            author = _name(value.get("author") or value.get("creator"))
            text = value.get("text") or value.get("commentText") or ""
            if isinstance(text, str) and text.strip():
                posted = iso(value.get("dateCreated") or value.get("datePublished") or value.get("commentTime"))
                comments.append(Comment(len(comments), author, posted, text.strip(), parent_author))
        for key, inner in value.items():
            if key not in {"author", "creator"}:
                visit(inner, author if is_comment else None)

    visit(objects, None)
    return comments


def _published(tree: LexborHTMLParser, objects: list[dict]) -> str | None:
    """The article's own date as markup states it (meta, JSON-LD, or a time element outside the comments)."""
    meta = tree.css_first('meta[property="article:published_time"],meta[itemprop="datePublished"]')
    if meta is not None and (found := iso(meta.attributes.get("content"))):
        return found
    for data in objects:
        if not _COMMENT_TYPES & _types(data) and (found := iso(data.get("datePublished"))):
            return found
    node = tree.css_first("article time[datetime],[itemprop='datePublished']")
    return iso(node.attributes.get("datetime") or node.attributes.get("content")) if node is not None else None


def read_markup(html: str) -> Marked:
    """The comments an HTML page marks up, the page's text without them, and the article date it marks up."""
    tree = LexborHTMLParser(html)
    objects = _json_ld(tree)
    comments = _dom_comments(tree)
    published = _published(tree, objects)
    text = html_to_text(tree)
    if not comments and (comments := _ld_comments(objects)):
        said = {line for comment in comments for line in _lines(comment.text) if line}
        text = "\n".join(line for line in _lines(text) if line not in said)
    return Marked(text, comments, published)
