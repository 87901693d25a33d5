"""The lexicon applied to the text an engine receives, in the alphabet that engine reads."""

from __future__ import annotations

import functools
import re

from toolkit.script.lexicon import Lexicon

# How each alphabet is written inline; an engine with none gets the respelling.
INLINE = {"ipa": "[[ {} ]]", "espeak": "[[{}]]"}


def pronounce(text: str, lexicon: Lexicon, alphabet: str | None) -> str:
    """`text` (already normalized) with each lexicon word, case-insensitive and whole, replaced
    by its phonemes in `alphabet` where the entry has them, else by its respelling."""
    replacer = _replacer(lexicon, alphabet)
    if replacer is None:
        return text
    said, pattern = replacer
    return pattern.sub(lambda m: said[m[1].lower()], text)


@functools.cache
def _replacer(lexicon: Lexicon, alphabet: str | None) -> tuple[dict[str, str], re.Pattern] | None:
    """What each word becomes and the pattern finding them, built once per lexicon and
    alphabet: every line's cache key goes through pronounce()."""
    said = {}
    for entry in lexicon:
        phonemes = dict(entry.phonemes).get(alphabet) if alphabet else None
        if phonemes is not None:
            said[entry.word.lower()] = INLINE[alphabet].format(phonemes)
        elif entry.say is not None:
            said[entry.word.lower()] = entry.say
    if not said:
        return None
    words = "|".join(re.escape(w) for w in sorted(said, key=len, reverse=True))
    return said, re.compile(rf"(?<![\w'\-])({words})(?![\w\-])", re.IGNORECASE)
