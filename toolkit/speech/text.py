"""Text as engines can speak it: typography normalized, numbers spelled, long lines split."""

from __future__ import annotations

import re

_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u00b4": "'",
        "\u2032": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": ", ",
        "\u2014": ", ",
        "\u00a0": " ",
    }
)
_ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def number_words(n: int) -> str:
    """Spell a whole number (0 .. 999,999,999) the way a reader would say it."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    for size, word in ((1_000_000, "million"), (1000, "thousand"), (100, "hundred")):
        if n >= size:
            head, rest = divmod(n, size)
            tail = (" and " if size == 100 else " ") + number_words(rest) if rest else ""
            return f"{number_words(head)} {word}{tail}"
    raise AssertionError("unreachable")


def _spell(match: re.Match[str]) -> str:
    digits = match.group(0).replace(",", "")
    if len(digits) > 9:
        return " ".join(_ONES[int(d)] for d in digits)
    return number_words(int(digits))


def normalize(text: str) -> str:
    """Curly quotes, dashes, ellipses and digits become what every engine pronounces."""
    text = text.translate(_TYPOGRAPHY).replace("\u2026", "...")
    text = re.sub(r"\d[\d,]*\d|\d", _spell, text)
    return " ".join(text.split())


def words(text: str) -> list[str]:
    """Words for comparing what was sent to engines with what the script says."""
    return re.findall(r"[a-z0-9]+(?:'[a-z]+)?", normalize(text).lower())


def split_sentences(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters, cut at sentence ends, then commas, then spaces."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text):
        while len(sentence) > limit:
            cut = max(sentence.rfind(", ", 0, limit), sentence.rfind(" ", 0, limit))
            cut = cut if cut > 0 else limit
            pieces.append(sentence[:cut].strip(" ,"))
            sentence = sentence[cut:].strip(" ,")
        if pieces and len(pieces[-1]) + len(sentence) + 1 <= limit:
            pieces[-1] += " " + sentence
        elif sentence:
            pieces.append(sentence)
    return pieces
