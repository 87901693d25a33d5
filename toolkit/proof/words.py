"""Comparing what was heard with what the script says, word by word.

Both sides are reduced the same way (numbers spelled by the speech stage's own normalize,
contractions expanded, case, punctuation and hyphens dropped), so a line said correctly is
never counted wrong for how the recognizer spells it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from toolkit.speech.text import normalize

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*")
_WHOLE = {
    "won't": "will not",
    "can't": "can not",
    "cannot": "can not",
    "shan't": "shall not",
    "ain't": "is not",
    "let's": "let us",
    "dr": "doctor",
    "mr": "mister",
    "mrs": "missus",
    "ok": "okay",
}
_IS = {"he", "she", "it", "that", "what", "there", "here", "who", "where", "how"}
_ENDINGS = (("n't", " not"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"), ("'m", " am"))
_ENDINGS += (("'d", " would"),)


def comparable(text: str) -> list[str]:
    """The words of `text` as they are compared: 'Dr. Lee's 3-year-old' and 'doctor lees three
    year old' give the same list."""
    out: list[str] = []
    for token in _TOKEN.findall(normalize(text).lower().replace("-", " ")):
        out += _expand(token).split()
    return out


def _expand(token: str) -> str:
    if token in _WHOLE:
        return _WHOLE[token]
    for ending, full in _ENDINGS:
        if token.endswith(ending):
            return token[: -len(ending)] + full
    if token.endswith("'s") and token[:-2] in _IS:
        return token[:-2] + " is"
    return token.replace("'", "")


@dataclass(frozen=True)
class Alignment:
    """How the expected words map onto the heard ones: for each expected word the index of
    the heard word said in its place (a match or a substitution), or None (not heard)."""

    expected: list[str]
    heard: list[str]
    partner: list[int | None]
    errors: int  # substitutions + deletions + insertions inside the line

    @property
    def word_error(self) -> float:
        return self.errors / max(1, len(self.expected))

    def substitutions(self) -> list[tuple[int, int]]:
        return [
            (i, j)
            for i, j in enumerate(self.partner)
            if j is not None and self.heard[j] != self.expected[i]
        ]


def align(expected: list[str], heard: list[str]) -> Alignment:
    """Word-level edit distance with free heard words before and after the line: the padded
    window may catch the end of the line before or the start of the next one."""
    n, m = len(expected), len(heard)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(1, n + 1):
        cost[i][0] = i
        for j in range(1, m + 1):
            cost[i][j] = min(
                cost[i - 1][j - 1] + (expected[i - 1] != heard[j - 1]),
                cost[i - 1][j] + 1,
                cost[i][j - 1] + 1,
            )
    j = min(range(m + 1), key=lambda k: (cost[n][k], -k))
    errors, partner, i = cost[n][j], [None] * n, n
    while i > 0 and j > 0:
        if cost[i][j] == cost[i - 1][j - 1] + (expected[i - 1] != heard[j - 1]):
            partner[i - 1] = j - 1
            i, j = i - 1, j - 1
        elif cost[i][j] == cost[i - 1][j] + 1:
            i -= 1
        else:
            j -= 1
    return Alignment(expected, heard, partner, errors)


def respell(word: str) -> str:
    """A first-guess respelling from the letters (stress on the first syllable), for a word
    the recognizer did not hear: the writer tunes it by ear."""
    groups = re.findall(r"[aeiouy]+|[^aeiouy]+", word.lower().replace("'", ""))
    if len(groups) > 2 and groups[-1] == "e" and groups[-2] not in "aeiouy":
        groups[-3:] = [groups[-3] + groups[-2] + "e"] if groups[-3][0] in "aeiouy" else groups[-3:]
    syllables: list[str] = []
    onset = ""
    for index, group in enumerate(groups):
        if group[0] not in "aeiouy" or (group == "y" and index == 0):
            if syllables and index < len(groups) - 1:
                keep = 2 if group[-2:] in ("ch", "sh", "th", "ph", "wh") else 1
                syllables[-1] += group[:-keep]
                onset = group[-keep:]
            elif syllables:
                syllables[-1] += group
            else:
                onset = group
            continue
        final = index == len(groups) - 1
        closed = not final and index + 2 < len(groups) and len(groups[index + 1]) > 1
        syllables.append(onset + _vowel(group, final, closed or index + 1 == len(groups) - 1))
        onset = ""
    if not syllables:
        return word.upper()
    syllables[0] = syllables[0].upper()
    return "-".join(syllables)


_LONG = {"a": "ay", "e": "ee", "i": "eye", "o": "oh", "u": "yoo", "y": "ee"}
_SHORT = {"a": "a", "e": "eh", "i": "ih", "o": "o", "u": "uh", "y": "ih"}
_PAIRS = {"ai": "ay", "ay": "ay", "ea": "ee", "ee": "ee", "ie": "ee", "oa": "oh", "oo": "oo"}
_PAIRS |= {"ou": "ow", "ow": "oh", "au": "aw", "aw": "aw", "oi": "oy", "oy": "oy", "ue": "oo"}
_PAIRS |= {"ei": "ay", "ey": "ay"}


def _vowel(group: str, final: bool, closed: bool) -> str:
    if len(group) > 1:
        return _PAIRS.get(group[:2], _LONG[group[0]])
    if final:
        return {"a": "uh", "e": "", "y": "ee", "o": "oh"}.get(group, _LONG[group])
    return _SHORT[group] if closed else _LONG[group]
