"""Undo the obfuscation abusers use (``sh1t``, ``f u c k``, ``a$$``, ``fuuuuck``) and Unicode noise, before vectorising.

One ordered table of rules, applied the same way for training and scoring. ``normalize_with_offsets`` also
returns, for every character of the result, the index of the original character it came from, so that the
words that drove a score can be highlighted in the text the moderator sees.
"""

from __future__ import annotations

import functools
import html
import re
import unicodedata
from collections.abc import Callable

_LEET = str.maketrans({"0": "o", "1": "i", "!": "i", "3": "e", "4": "a", "@": "a", "$": "s", "5": "s", "7": "t",
                       "|": "i", "€": "e"})
_HOMOGLYPHS = str.maketrans({"а": "a", "е": "e", "о": "o", "р": "p", "с": "c", "у": "y", "х": "x", "і": "i",
                             "ѕ": "s", "ԁ": "d", "ɡ": "g", "ո": "n"})


def _decode_escape(match: re.Match) -> str:
    """Literal escape text (``\\n``, ``\\xe2\\x80\\x99``, ``\\u2019``) as scraped corpora store it."""
    raw = match.group(0)
    if raw.startswith("\\x"):
        data = bytes(int(part, 16) for part in raw.split("\\x")[1:])
        return data.decode("utf-8", errors="replace")
    if raw.startswith("\\u"):
        return chr(int(raw[2:], 16))
    return {"\\n": "\n", "\\t": " ", "\\r": "", "\\'": "'", '\\"': '"', "\\\\": "\\"}.get(raw, raw)


@functools.lru_cache(maxsize=65536)
def _fold(char: str) -> str:
    """NFKC (full-width, ligatures, mathematical letters), accents dropped, lowercased, homoglyphs mapped."""
    char = unicodedata.normalize("NFKD", char)
    char = "".join(c for c in char if not unicodedata.combining(c))
    return unicodedata.normalize("NFKC", char).lower().translate(_HOMOGLYPHS)


_NOT_LEET = re.compile(r"\d+[a-z]{1,3}|[a-z]+\d+")  # 38am, 1st, 80s, mp3, user123: numbers, not disguise


def _deleet(match: re.Match) -> str:
    word = match.group(0)
    return word if _NOT_LEET.fullmatch(word) else word.translate(_LEET)


# (pattern, replacement): applied in order. Replacement is a string or a function of the match.
RULES: tuple[tuple[re.Pattern, str | Callable[[re.Match], str]], ...] = (
    (re.compile(r"(?:\\x[0-9a-fA-F]{2})+|\\u[0-9a-fA-F]{4}|\\[ntr'\"\\]"), _decode_escape),
    (re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});"), lambda m: html.unescape(m.group(0))),
    (re.compile(r"https?://\S+|www\.\S+"), " url "),
    (re.compile(r"[A-Z]+"), lambda m: m.group(0).lower()),  # a run at a time: same length, offsets kept
    (re.compile(r"[^\x00-\x7f]"), lambda m: _fold(m.group(0))),
    # a word mixing letters with look-alike digits or symbols: 1d10t, sh1t, a$$, @ss, b!tch
    (re.compile(r"(?<![\w@$!|])(?=[\w@$!|]*[a-z])(?=[\w@$!|]*[0-9@$!|][\w@$!|]*)[a-z0-9@$!|]{3,}(?![\w@$!|])"),
     _deleet),
    # letters spelled out one by one: f u c k, f.u.c.k, s-h-i-t
    (re.compile(r"\b(?:[a-z][ ._\-*]){2,}[a-z]\b"), lambda m: re.sub(r"[ ._\-*]", "", m.group(0))),
    # stretched letters: fuuuuuck -> fuuck
    (re.compile(r"([a-z])\1{2,}"), lambda m: m.group(1) * 2),
)


def _replacement(rule: str | Callable[[re.Match], str], match: re.Match) -> str:
    return rule if isinstance(rule, str) else rule(match)


def normalize(text: str) -> str:
    """The text the models see."""
    for pattern, rule in RULES:
        text = pattern.sub(lambda m, rule=rule: _replacement(rule, m), text)
    return text


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """``normalize(text)`` and, for each of its characters and one past the end, the original index.

    A replacement of the same length maps character to character; any other maps all its characters to
    the start of what it replaced, and the end sentinel keeps spans closed at the original end.
    """
    offsets = list(range(len(text) + 1))
    for pattern, rule in RULES:
        pieces: list[str] = []
        new_offsets: list[int] = []
        last = 0
        for match in pattern.finditer(text):
            start, end = match.span()
            pieces.append(text[last:start])
            new_offsets.extend(offsets[last:start])
            repl = _replacement(rule, match)
            pieces.append(repl)
            if len(repl) == end - start:
                new_offsets.extend(offsets[start:end])
            else:
                new_offsets.extend([offsets[start]] * len(repl))
            last = end
        if not pieces:
            continue
        pieces.append(text[last:])
        new_offsets.extend(offsets[last:])
        text = "".join(pieces)
        offsets = new_offsets
    return text, offsets


def original_span(offsets: list[int], start: int, end: int) -> tuple[int, int]:
    """The span of the original text that normalized characters ``start:end`` came from."""
    return offsets[start], max(offsets[end], offsets[end - 1] + 1)
