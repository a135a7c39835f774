import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from moderation.textnorm import RULES, normalize, normalize_with_offsets, original_span


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("sh1t", "shit"),
        ("1d10t", "idiot"),
        ("a$$hole", "asshole"),
        ("b!tch", "bitch"),
        ("f u c k off", "fuck off"),
        ("f.u.c.k", "fuck"),
        ("I h a t e them", "i hate them"),
        ("i d i o t", "idiot"),
        ("what an a s s", "what an ass"),
        ("fuuuuuuck", "fuuck"),
        ("Ｆｕｃｋ", "fuck"),
        ("SCUM", "scum"),
        ("café", "cafe"),
        (r"Holder\xe2\x80\x99s\nnext", "holder’s\nnext"),
        ("Tom &amp; Jerry", "tom & jerry"),
        ("see http://example.com/x now", "see  url  now"),
        ("@user @USER you are right", "  you are right"),
        ("@Doc62 you are right", "doc62 you are right"),
        ("you are an @idiot", "you are an idiot"),
        ("what an @ss", "what an ass"),
    ],
)
def test_normalize_undoes_obfuscation(raw, expected):
    assert normalize(raw) == expected


def test_an_address_is_not_a_mention():
    assert "example" in normalize("mail me at jo@example.com")


@pytest.mark.parametrize("kept", ["2013 at 9:38am", "the 1st of 80s", "mp3 user123", "I am a gay Muslim woman"])
def test_numbers_and_plain_words_are_not_deleeted(kept):
    assert normalize(kept) == kept.lower()


@given(st.text(max_size=300) | st.text(alphabet=st.sampled_from("iahtekl u@sr.-"), max_size=40))
def test_offsets_map_every_word_back_into_the_original(text):
    norm, offsets = normalize_with_offsets(text)
    assert norm == normalize(text)
    assert len(offsets) == len(norm) + 1
    assert list(offsets) == sorted(offsets)
    for match in re.finditer(r"\w+", norm):
        begin, end = original_span(offsets, *match.span())
        assert 0 <= begin < end <= len(text)


def test_offsets_point_at_the_disguised_word():
    text = "You are a 1d10t and f u c k you"
    norm, offsets = normalize_with_offsets(text)
    spans = {m.group(): text[slice(*original_span(offsets, *m.span()))] for m in re.finditer(r"\w+", norm)}
    assert spans["idiot"] == "1d10t"
    assert spans["fuck"] == "f u c k"


def _every_rule_scanning(text: str) -> str:
    for rule in RULES:
        text = rule.pattern.sub(rule.replace, text)
    return text


@given(st.text(alphabet=st.sampled_from("aAbSsI1!|@$&;#x\\/.:wthp u-*é€ＦΣі0 \n"), max_size=60) | st.text(max_size=80))
def test_hints_and_whole_text_shortcuts_change_nothing(text):
    """A rule skipped by its hint could not have matched; the whole-text shortcut replaces like the pattern."""
    assert normalize(text) == _every_rule_scanning(text)
