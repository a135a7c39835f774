"""From a request's comment body to the texts that are judged: never fewer words than the commenter typed.

Coral's phase sends the body as HTML or as plain text (with ``<`` and entities decoded) and does not say which.
An HTML parser reading a plain-text body drops what follows ``<style>``, ``<script>`` or ``<!--`` and eats
``a<b>c``; so a body is read as HTML only when every ``<`` in it opens a tag Coral's editor can produce
(anything else proves it plain text), and when both readings are possible and differ, both are judged and the
stricter decision wins. A long text is also judged in overlapping windows, so that padding cannot dilute
the words that matter: a TF-IDF score averages over the whole text.
"""

from __future__ import annotations

import html
import re

# Tags Coral's rich-text editor and its sanitizer produce (bold, italic, lists, quotes, links, spoiler, ...)
INLINE_TAGS = frozenset({"a", "b", "strong", "i", "em", "u", "s", "strike", "del", "span", "mark", "code", "sub",
                         "sup"})
BLOCK_TAGS = frozenset({"br", "p", "div", "blockquote", "ul", "ol", "li", "pre", "h1", "h2", "h3", "h4", "h5",
                        "h6"})
TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:\s[^<>]*)?/?>")
WINDOW = 1_000  # characters: longer texts are also judged in windows of this size, half overlapping


def html_text(body: str) -> str | None:
    """The text of ``body`` read as Coral's sanitized HTML (block tags as line breaks, entities decoded), or
    None when it cannot be such HTML: a ``<`` that opens no tag Coral produces (``<style>``, ``<!--``,
    ``a<b and``) means the body is plain text."""
    pieces, end = [], 0
    for match in TAG.finditer(body):
        name = match.group(2).lower()
        if "<" in body[end:match.start()] or name not in INLINE_TAGS | BLOCK_TAGS:
            return None
        pieces += [body[end:match.start()], "\n" if name in BLOCK_TAGS else ""]
        end = match.end()
    if "<" in body[end:]:
        return None
    pieces.append(body[end:])
    return re.sub(r"\n{3,}", "\n\n", html.unescape("".join(pieces))).strip()


def readings(body: str) -> list[str]:
    """The distinct ways ``body`` can be read, HTML first when it can be HTML; the plain reading is always one."""
    as_html = html_text(body)
    return [as_html, body] if as_html is not None and as_html != body.strip() else [body]


def windows(text: str, max_chars: int, size: int = WINDOW) -> tuple[list[str], bool]:
    """The pieces of ``text`` to judge, and whether they leave part of it unread.

    Up to ``size`` characters: the text itself. Up to ``max_chars``: the text and every window of ``size``
    characters starting each ``size / 2`` (so every word under ``size / 2`` long lies whole in one). Longer:
    windows over its first and last ``max_chars / 2`` characters only, which bounds the time a request takes;
    the middle goes unread, and the caller must hold the comment for a moderator.
    """
    if len(text) <= size:
        return [text], False
    step = size // 2
    if len(text) <= max_chars:
        return [text] + [text[i:i + size] for i in range(0, len(text) - step, step)], False
    half = max_chars // 2
    head, tail = text[:half], text[-half:]
    return ([head[i:i + size] for i in range(0, len(head) - step, step)]
            + [tail[i:i + size] for i in range(0, len(tail) - step, step)]), True
