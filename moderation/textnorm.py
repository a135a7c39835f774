"""Undo the obfuscation abusers use (``sh1t``, ``f u c k``, ``a$$``, ``fuuuuck``) and Unicode noise, before vectorising.

One ordered table of rules, applied the same way for training and scoring. ``normalize_with_offsets`` also
returns, for every character of the result, the index of the original character it came from, so that the
words that drove a score can be highlighted in the text the moderator sees.
"""

from __future__ import annotations

import functools
import html
import re
import string
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from moderation.lexicon import GROUP_WORDS, HATRED_WORDS, VIOLENCE_WORDS

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


_SPELLED_SEPARATOR = re.compile(r"[ ._\-*]")
# words the attack patterns turn on, which a spelled-out run may hold after the word "i" or "a": "i h a t e" is "i
# hate", not "ihate" (a run such as "i d i o t" or "a s s" stays one word)
_AFTER_ONE_LETTER_WORD = VIOLENCE_WORDS | HATRED_WORDS | GROUP_WORDS


def _spelled_out(match: re.Match) -> str:
    """The letters of a spelled-out run as one word, or as "i"/"a" and the attack word that follows it."""
    word = _SPELLED_SEPARATOR.sub("", match.group(0))
    if word[0] in "ia" and word[1:] in _AFTER_ONE_LETTER_WORD and word not in _AFTER_ONE_LETTER_WORD:
        return f"{word[0]} {word[1:]}"
    return word


def _mention(match: re.Match) -> str:
    """Nothing for the corpora's anonymised "@user"; the handle's word for any other mention."""
    handle = match.group(1)
    return "" if handle.lower() == "user" else handle


@dataclass(frozen=True)
class Rule:
    """``pattern`` matches are replaced by ``replacement`` (a string or a function of the match).

    ``hint`` is a cheap test that is False only when the pattern cannot match (a comment without a digit
    holds no ``sh1t``), so most comments skip most scans. ``whole`` does the same replacement on the whole
    text at once where it keeps every character's place.
    """

    pattern: re.Pattern
    replacement: str | Callable[[re.Match], str]
    hint: Callable[[str], bool] = lambda text: True
    whole: Callable[[str], str] | None = None

    def replace(self, match: re.Match) -> str:
        return self.replacement if isinstance(self.replacement, str) else self.replacement(match)


def _has_any(characters: str) -> Callable[[str], bool]:
    return lambda text: any(c in text for c in characters)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)

# Applied in order.
RULES: tuple[Rule, ...] = (
    Rule(re.compile(r"(?:\\x[0-9a-fA-F]{2})+|\\u[0-9a-fA-F]{4}|\\[ntr'\"\\]"), _decode_escape, _has_any("\\")),
    Rule(re.compile(r"&(?:[a-zA-Z]{2,8}|#\d{2,6}|#x[0-9a-fA-F]{2,5});"), lambda m: html.unescape(m.group(0)),
         _has_any("&")),
    Rule(re.compile(r"https?://\S+|www\.\S+"), " url ", lambda text: "http" in text or "www." in text),
    # a mention names an account, not what is said to it: the corpora's anonymised "@user" taught the models each
    # platform's share of abuse (OLID tweets left out of training: ROC AUC 0.583 kept, 0.736 dropped), so it is
    # dropped; any other handle keeps its word without the "@", since "you are an @idiot" is an insult ("@ss",
    # "@$$" are left to the look-alike spelling below)
    Rule(re.compile(r"(?<![\w@$!|])@(?![sS$]{2})(\w+)"), _mention, _has_any("@")),
    Rule(re.compile(r"[A-Z]+"), lambda m: m.group(0).lower(), whole=lambda text: text.translate(_ASCII_LOWER)),
    Rule(re.compile(r"[^\x00-\x7f]"), lambda m: _fold(m.group(0)), lambda text: not text.isascii()),
    # a word mixing letters with look-alike digits or symbols: 1d10t, sh1t, a$$, @ss, b!tch
    # (such a word has a look-alike next to a letter: the hint finds that pair with one scan for look-alikes)
    Rule(re.compile(r"(?<![\w@$!|])(?=[\w@$!|]*[a-z])(?=[\w@$!|]*[0-9@$!|][\w@$!|]*)[a-z0-9@$!|]{3,}(?![\w@$!|])"),
         _deleet, re.compile(r"[0-9@$!|](?:(?<=[a-z].)|(?=[a-z]))").search),
    # letters spelled out one by one: f u c k, f.u.c.k, s-h-i-t
    # (its last four characters are always a separator, a letter, a separator and a letter ending a word: a hint
    # that starts with a character class is scanned for in C, three times faster than the pattern)
    Rule(re.compile(r"\b(?:[a-z][ ._\-*]){2,}[a-z]\b"), _spelled_out,
         re.compile(r"[ ._\-*][a-z][ ._\-*][a-z]\b").search),
    # stretched letters: fuuuuuck -> fuuck
    Rule(re.compile(r"([a-z])\1\1+"), lambda m: m.group(1) * 2),  # \1{2,} matches the same, twice as slowly
)


def normalize(text: str) -> str:
    """The text the models see."""
    for rule in RULES:
        if rule.hint(text):
            text = rule.whole(text) if rule.whole else rule.pattern.sub(rule.replace, text)
    return text


def normalize_with_offsets(text: str) -> tuple[str, Sequence[int]]:
    """``normalize(text)`` and, for each of its characters and one past the end, the original index.

    A replacement of the same length maps character to character; any other maps all its characters to
    the start of what it replaced, and the end sentinel keeps spans closed at the original end. Offsets
    are built only once a replacement changes the length (most comments keep it: lower-casing); until then
    they are a ``range``, not a list.
    """
    offsets: Sequence[int] | None = None
    for rule in RULES:
        if not rule.hint(text):
            continue
        if rule.whole:
            text = rule.whole(text)
            continue
        matches = list(rule.pattern.finditer(text))
        if not matches:
            continue
        pieces: list[str] = []
        replaced: list[tuple[int, int, int]] = []  # start, end, length of the replacement
        last = 0
        for match in matches:
            start, end = match.span()
            repl = rule.replace(match)
            pieces += [text[last:start], repl]
            replaced.append((start, end, len(repl)))
            last = end
        pieces.append(text[last:])
        if any(end - start != length for start, end, length in replaced):
            offsets = _moved(offsets if offsets is not None else range(len(text) + 1), replaced)
        text = "".join(pieces)
    return text, offsets if offsets is not None else range(len(text) + 1)


def _moved(offsets: Sequence[int], replaced: list[tuple[int, int, int]]) -> list[int]:
    new: list[int] = []
    last = 0
    for start, end, length in replaced:
        new += offsets[last:start]
        new += offsets[start:end] if length == end - start else [offsets[start]] * length
        last = end
    new += offsets[last:]
    return new


def original_span(offsets: Sequence[int], start: int, end: int) -> tuple[int, int]:
    """The span of the original text that normalized characters ``start:end`` came from."""
    return offsets[start], max(offsets[end], offsets[end - 1] + 1)
