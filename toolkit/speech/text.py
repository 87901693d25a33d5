"""Text as engines can speak it: typography normalized, numbers spelled, long lines split.

Engines expand digits and symbols each their own way, or not at all, so they are turned into
plain words here, once: every engine, and a fallback that takes over mid-build, says the same
words, and the words can be checked against the script."""

from __future__ import annotations

import re
from collections.abc import Callable

# Typography writers paste in, as the ASCII every engine reads the same way.
TYPOGRAPHY = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u00b4": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u201f": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": ", ",
    "\u2013": ", ",
    "\u2014": ", ",
    "\u2015": ", ",
    "\u2212": " minus ",
    "\u2026": "...",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
}
CURRENCIES = {
    "$": ("dollar", "dollars"),
    "\u00a3": ("pound", "pounds"),
    "\u20ac": ("euro", "euros"),
}
# Characters beyond Latin that normalize() turns into words: the script stage lets them through.
SPOKEN_SYMBOLS = frozenset(TYPOGRAPHY) | frozenset(CURRENCIES)
_TRANSLATE = str.maketrans(TYPOGRAPHY)
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_ORDINAL_WORD = {
    "one": "first",
    "two": "second",
    "three": "third",
    "five": "fifth",
    "eight": "eighth",
    "nine": "ninth",
    "twelve": "twelfth",
}
# A whole number: digits grouped by commas in threes ("1,999"), or plain digits ("2026").
_NUMBER = r"\d{1,3}(?:,\d{3})+(?!\d)|\d+"
_SCALE = r"(?:\s+(?P<scale>thousand|million|billion|trillion)\b)?"
_MONEY = re.compile(
    rf"(?P<sign>[$\u00a3\u20ac])\s?(?P<whole>{_NUMBER})(?:\.(?P<fraction>\d+))?{_SCALE}"
)
_PERCENT = re.compile(rf"(?P<whole>{_NUMBER})(?:\.(?P<fraction>\d+))?\s?%")
_ORDINAL_NUMBER = re.compile(r"\b(\d+)(st|nd|rd|th)\b", re.IGNORECASE)
_TIME = re.compile(r"\b([01]?\d|2[0-3]):([0-5]\d)\b(?!:\d)")
_DECIMAL = re.compile(rf"(?<![\d.])({_NUMBER})\.(\d+)(?![\d.])")
_YEAR = re.compile(r"(?<![\d,.])(1[1-9]\d\d|20\d\d)(?!\d|[,.]\d)(?P<plural>'?s\b)?")
_PLURAL = re.compile(rf"(?<![\d,.])({_NUMBER})(?P<plural>'?s\b)")
_INTEGER = re.compile(_NUMBER)
_RANGE = re.compile(r"(\d)\s*[\u2012\u2013]\s*(?=\d)")  # 1990–95: a range, said "to"
# Symbols left over once amounts are spelled ("Tom & Jerry", "a $ sign").
_SYMBOLS = {"&": "and", "%": "percent", **{sign: many for sign, (_, many) in CURRENCIES.items()}}
_SYMBOL = re.compile("[" + re.escape("".join(_SYMBOLS)) + "]")
_TIGHT = re.compile(r"\s+(?=[,.!?;:)\]])|(?<=[(\[])\s+")
_COMMA = re.compile(r",(?=\s)")
_SPACE = re.compile(r"\s")
# A sentence ends at . ! or ? (maybe inside a closing quote or bracket) before a space.
_SENTENCE = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")


def number_words(n: int) -> str:
    """Spell a whole number (0 .. 999,999,999,999) the way a reader would say it."""
    if n < 20:
        return _ONES[n]
    if n < 100:
        return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")
    for size, word in (
        (1_000_000_000, "billion"),
        (1_000_000, "million"),
        (1000, "thousand"),
        (100, "hundred"),
    ):
        if n >= size:
            head, rest = divmod(n, size)
            tail = (" and " if size == 100 or rest < 100 else " ") + number_words(rest)
            return f"{number_words(head)} {word}{tail if rest else ''}"
    raise AssertionError("unreachable")


def ordinal_words(n: int) -> str:
    """6 -> sixth, 21 -> twenty-first, 100 -> one hundredth."""
    words = _digits(str(n))
    head, last = re.match(r"(.*?)([a-z]+)$", words).groups()
    if last in _ORDINAL_WORD:
        return head + _ORDINAL_WORD[last]
    return head + (last[:-1] + "ieth" if last.endswith("y") else last + "th")


def year_words(n: int) -> str:
    """Years as people say them: 1999 -> nineteen ninety-nine, 2026 -> twenty twenty-six,
    1900 -> nineteen hundred, 1905 -> nineteen oh five, 2005 -> two thousand and five."""
    century, rest = divmod(n, 100)
    if 2000 <= n < 2010:
        return number_words(n)
    if rest == 0:
        return f"{number_words(century)} hundred"
    return f"{number_words(century)} {'oh ' if rest < 10 else ''}{number_words(rest)}"


def _plural(words: str) -> str:
    """The nineties, two sixes: the plural of a spelled number."""
    if words.endswith("y"):
        return words[:-1] + "ies"
    return words + ("es" if words.endswith(("x", "s")) else "s")


def _digits(number: str) -> str:
    """A whole number as written: grouped thousands, plain digits, or digit by digit when it
    has a leading zero ("007") or is too long to say as one number."""
    digits = number.replace(",", "")
    if (digits.startswith("0") and len(digits) > 1) or len(digits) > 12:
        return " ".join(_ONES[int(d)] for d in digits)
    return number_words(int(digits))


def _money(match: re.Match[str]) -> str:
    """$5 -> five dollars, $5.50 -> five dollars fifty, $1.5 million -> one point five
    million dollars."""
    one, many = CURRENCIES[match["sign"]]
    whole, fraction = match["whole"], match["fraction"] or ""
    if match["scale"]:
        return f"{_amount(whole, fraction)} {match['scale']} {many}"
    if len(fraction) != 2:
        return f"{_amount(whole, fraction)} {one if whole == '1' and not fraction else many}"
    cents = int(fraction)
    return f"{_digits(whole)} {one if whole == '1' else many}" + (
        f" {number_words(cents)}" if cents else ""
    )


def _amount(whole: str, fraction: str = "") -> str:
    """A number with an optional decimal part: 3.14 -> three point one four."""
    if not fraction:
        return _digits(whole)
    return f"{_digits(whole)} point {' '.join(_ONES[int(d)] for d in fraction)}"


def _time(match: re.Match[str]) -> str:
    hour, minute = int(match[1]), int(match[2])
    if minute == 0:
        return f"{number_words(hour)} o'clock"
    return f"{number_words(hour)} {'oh ' if minute < 10 else ''}{number_words(minute)}"


def _spelled(words: str, plural: str | None) -> str:
    return _plural(words) if plural else words


# In this order: "$5.50" before decimals, "6th" and "10:30" before whole numbers.
_SPOKEN: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (_MONEY, _money),
    (_PERCENT, lambda m: _amount(m["whole"], m["fraction"] or "") + " percent"),
    (_ORDINAL_NUMBER, lambda m: ordinal_words(int(m[1]))),
    (_TIME, _time),
    (_DECIMAL, lambda m: _amount(m[1], m[2])),
    (_YEAR, lambda m: _spelled(year_words(int(m[1])), m["plural"])),
    (_PLURAL, lambda m: _spelled(_digits(m[1]), m["plural"])),
    (_INTEGER, lambda m: _digits(m[0])),
]


def normalize(text: str) -> str:
    """Curly quotes, dashes, ellipses, money, percentages, ordinals, times, years and
    numbers become the plain words every engine pronounces alike. Idempotent."""
    text = _RANGE.sub(r"\1 to ", text).translate(_TRANSLATE)
    for pattern, say in _SPOKEN:
        # Spaced apart, so "v1" becomes "v one", not the non-word "vone".
        text = pattern.sub(lambda m, say=say: f" {say(m)} ", text)
    text = " ".join(_SYMBOL.sub(lambda m: f" {_SYMBOLS[m[0]]} ", text).split())
    text = _TIGHT.sub("", text)  # "( five dollars )" -> "(five dollars)"
    return text.strip(" ,")


def words(text: str) -> list[str]:
    """Words for comparing what was sent to engines with what the script says."""
    return re.findall(r"[^\W_]+(?:'[^\W_]+)*", normalize(text).lower())


def split_sentences(text: str, limit: int) -> list[str]:
    """Pieces of at most `limit` characters for engines that take only so much at once: cut at
    sentence ends, then after a comma, then at a space; a word longer than `limit` is cut
    inside. Every non-space character is kept, in order, and short sentences share a piece."""
    pieces: list[str] = []
    for sentence in _SENTENCE.split(text.strip()):
        for part in _fit(sentence, limit):
            if pieces and len(pieces[-1]) + 1 + len(part) <= limit:
                pieces[-1] += " " + part
            else:
                pieces.append(part)
    return pieces


def _fit(sentence: str, limit: int) -> list[str]:
    parts = []
    while len(sentence) > limit:
        head = sentence[: limit + 1]
        comma = max((m.start() for m in _COMMA.finditer(head)), default=-1)
        space = max((m.start() for m in _SPACE.finditer(head)), default=-1)
        if comma > limit // 2:
            cut = comma + 1
        elif space > 0:
            cut = space
        else:
            cut = limit
        parts.append(sentence[:cut].rstrip())
        sentence = sentence[cut:].lstrip()
    return [*parts, sentence] if sentence else parts
