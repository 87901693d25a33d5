"""Long and odd text: normalized so every engine says the same words, split to each engine's
limit without losing, adding or reordering a word; for the whole story too."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.script.loader import load_show
from toolkit.script.model import Speech
from toolkit.speech import synth
from toolkit.speech.engine import Engine
from toolkit.speech.text import (
    SPOKEN_SYMBOLS,
    normalize,
    number_words,
    ordinal_words,
    split_sentences,
    words,
    year_words,
)

GTTS = synth.LIMITS["gtts"]


def tokens(text: str) -> list[str]:
    return text.split()


def squeezed(text: str) -> str:
    """Every character but whitespace, in order: what a split must neither drop nor add."""
    return "".join(text.split())


def check_pieces(text: str, limit: int) -> list[str]:
    pieces = split_sentences(text, limit)
    for piece in pieces:
        assert 0 < len(piece) <= limit, (piece, limit)
        assert piece == piece.strip()
    assert squeezed("".join(pieces)) == squeezed(text)
    if all(len(token) <= limit for token in tokens(text)):
        assert tokens(" ".join(pieces)) == tokens(text)
    return pieces


# Text with words, sentence ends, commas, long runs without spaces, odd whitespace.
TEXT = st.lists(
    st.sampled_from([*"abcdefghij ,.!?;:'\"-\n\t\u00a0\u2026", "word ", "x" * 40, ". "]),
    max_size=200,
).map("".join)


# Sentences of at most 15 words of at most 12 letters: each fits gTTS's 200 characters.
SENTENCE = st.builds(
    lambda words, end: " ".join(words).capitalize() + end,
    st.lists(
        st.text(alphabet="abcdefghijklmnop", min_size=1, max_size=12), min_size=1, max_size=15
    ),
    st.sampled_from(".!?"),
)


@settings(max_examples=300, deadline=None)
@given(TEXT, st.integers(min_value=1, max_value=250))
def test_split_never_loses_reorders_or_overfills(text: str, limit: int) -> None:
    check_pieces(text, limit)


@settings(max_examples=200, deadline=None)
@given(st.lists(SENTENCE))
def test_split_cuts_only_between_sentences_when_they_fit(sentences: list[str]) -> None:
    pieces = check_pieces(" ".join(sentences), GTTS)
    assert all(piece[-1] in ".!?" for piece in pieces)


def test_a_3000_character_sentence_without_punctuation_fits_gtts() -> None:
    text = " ".join(f"word{i}" for i in range(500))[:3000]
    pieces = check_pieces(text, GTTS)
    assert len(pieces) >= 3000 // GTTS


def test_a_3000_character_word_is_cut_inside_but_kept_whole() -> None:
    pieces = check_pieces("a" * 3000, GTTS)
    assert "".join(pieces) == "a" * 3000


def test_a_long_clause_is_cut_after_a_comma() -> None:
    text = ", ".join(["the rain kept falling on the roof of the old house"] * 8) + "."
    pieces = check_pieces(text, GTTS)
    assert all(piece.endswith((",", ".")) for piece in pieces)


@pytest.mark.parametrize(
    ("written", "spoken"),
    [
        ("\u201cNo,\u201d she said \u2014 \u2018never\u2019\u2026", "\"No,\" she said, 'never'..."),
        ("Wait\u2014what?", "Wait, what?"),
        ("It cost 1,999 dollars.", "It cost one thousand nine hundred and ninety-nine dollars."),
        ("I counted 1,2,3.", "I counted one, two, three."),
        ("3 kids", "three kids"),
        ("In 2026 we moved.", "In twenty twenty-six we moved."),
        ("Back in 1999, and 2005.", "Back in nineteen ninety-nine, and two thousand and five."),
        ("the 1980s", "the nineteen eighties"),
        ("on the 6th floor", "on the sixth floor"),
        ("her 21st, his 100th, the 3rd", "her twenty-first, his one hundredth, the third"),
        ("It's $5.", "It's five dollars."),
        ("$1 or $5.50", "one dollar or five dollars fifty"),
        ("\u20ac20 and \u00a31,000", "twenty euros and one thousand pounds"),
        ("$2.5 million", "two point five million dollars"),
        ("50% off", "fifty percent off"),
        (
            "Meet at 10:30 or 7:05, not 3:00.",
            "Meet at ten thirty or seven oh five, not three o'clock.",
        ),
        ("Pi is 3.14", "Pi is three point one four"),
        ("1990\u201395", "nineteen ninety to ninety-five"),
        ("Agent 007", "Agent zero zero seven"),
        ("Tom & Jerry", "Tom and Jerry"),
        ("Route 66", "Route sixty-six"),
        ("B12", "B twelve"),
    ],
)
def test_normalize_says_it_in_words(written: str, spoken: str) -> None:
    assert normalize(written) == spoken


def test_number_words() -> None:
    assert number_words(0) == "zero"
    assert number_words(115) == "one hundred and fifteen"
    assert number_words(1_000_005) == "one million and five"
    assert number_words(999_999_999_999).startswith("nine hundred and ninety-nine billion")
    assert ordinal_words(12) == "twelfth" and ordinal_words(40) == "fortieth"
    assert year_words(1905) == "nineteen oh five" and year_words(1900) == "nineteen hundred"


def test_a_number_too_long_to_say_is_read_digit_by_digit() -> None:
    assert (
        normalize("1234567890123")
        == "one two three four five six seven eight nine zero one two three"
    )


# Text with the things normalize handles, mixed with words and spaces.
ODD = st.text(
    alphabet=st.sampled_from(
        list("abcdefghijklmnopqrstuvwxyz ABC.,;:!?'\"()-&%$0123456789\n") + sorted(SPOKEN_SYMBOLS)
    ),
    max_size=300,
)


@settings(max_examples=300, deadline=None)
@given(ODD)
def test_normalize_is_idempotent_and_leaves_no_digits_or_symbols(text: str) -> None:
    once = normalize(text)
    assert normalize(once) == once
    assert not re.search(r"\d", once)
    assert not set(once) & (SPOKEN_SYMBOLS | {"&", "%"})
    assert once == " ".join(once.split())


@settings(max_examples=300, deadline=None)
@given(ODD)
def test_normalize_keeps_every_word_without_digits(text: str) -> None:
    """Words are only ever added (numbers and symbols spelled out), never dropped: every
    token of letters alone is still there, in order."""
    letters = re.findall(r"[^\W\d_]+", text)
    plain = [t for t in letters if not re.search(rf"\d[^\w\s]?{t}|{t}\d", text)]  # 6th, 80's
    said = iter(re.findall(r"[^\W\d_]+", normalize(text)))
    assert all(word in said for word in plain)


@settings(max_examples=200, deadline=None)
@given(ODD, st.sampled_from(sorted(set(synth.LIMITS.values()))))
def test_what_engines_get_is_what_the_script_says(text: str, limit: int) -> None:
    pieces = split_sentences(normalize(text), limit)
    assert all(len(piece) <= limit for piece in pieces)
    assert words(" ".join(pieces)) == words(text)


def test_no_line_of_the_story_loses_a_word_on_any_engine(story_root: Path) -> None:
    show = load_show(story_root)
    lines = [
        line
        for chapter in show.chapters
        for scene in chapter.scenes
        for line in scene.lines
        if isinstance(line, Speech)
    ]
    assert len(lines) > 50
    for line in lines:
        expected = words(line.text)
        assert expected, line.where
        for engine, limit in synth.LIMITS.items():
            pieces = split_sentences(normalize(line.text), limit)
            assert all(len(piece) <= limit for piece in pieces), (engine, line.where)
            assert words(" ".join(pieces)) == expected, (engine, line.where)


class Recorder(Engine):
    """Stands in for an engine: remembers each piece and answers with a short tone."""

    name = "gtts"

    def __init__(self) -> None:
        self.pieces: list[str] = []

    def problem(self) -> str | None:
        return None

    def version(self) -> str:
        return "test"

    def voices(self) -> tuple[str, ...]:
        return ("en",)

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = 0) -> AudioSegment:
        self.pieces.append(text)
        tone = (np.sin(np.arange(8000) * 0.2) * 8000).astype(np.int16)
        return AudioSegment(tone.tobytes(), frame_rate=16000, sample_width=2, channels=1)


def test_speak_sends_every_word_in_pieces_the_engine_takes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    recorder = Recorder()
    monkeypatch.setitem(synth.ENGINES, "gtts", recorder)
    text = (
        "On the 6th of May 2026 she paid $5.50 \u2014 \u201cnot a penny more\u201d\u2026 "
        + "and then the rain came down on the long road home " * 12
        + "Done."
    )
    synth.speak(VoiceSpec("gtts", "en"), text, None)
    assert len(recorder.pieces) > 1
    assert all(len(piece) <= GTTS for piece in recorder.pieces)
    assert words(" ".join(recorder.pieces)) == words(text)
