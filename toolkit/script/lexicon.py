"""The pronunciation lexicon, `script/lexicon.yaml`: how the engines should say a word.

A word maps to a respelling every engine can read (`Ava: AY-vuh`), or to a mapping that may
add phonemes in an engine's own alphabet (`{say: AY-vuh, ipa: ˈeɪvə, espeak: "'eIv@"}`).
The speech stage applies it; here it is only read and checked, with every error located."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from toolkit.script import nodes
from toolkit.script.loader import read_yaml, relative
from toolkit.script.model import Where

LEXICON_FILE = "lexicon.yaml"
# Phoneme alphabets: ipa (piper; kokoro reads its own IPA-like symbols), espeak-ng mnemonics.
ALPHABETS = ("ipa", "espeak")
ENTRY_KEYS = ["say", *ALPHABETS]
_WORD = re.compile(r"[^\W\d_]+(?:['\-][^\W\d_]+)*")
_SAY = re.compile(r"[^\W\d_]+(?:[ '\-][^\W\d_]+)*")


@dataclass(frozen=True)
class Pronunciation:
    """One lexicon entry. `phonemes` holds (alphabet, phonemes) pairs, sorted."""

    word: str
    say: str | None
    phonemes: tuple[tuple[str, str], ...]
    where: Where


Lexicon = tuple[Pronunciation, ...]


def load_lexicon(project: Path) -> Lexicon:
    """The project's lexicon (empty when there is no script/lexicon.yaml), checked."""
    path = project / "script" / LEXICON_FILE
    if not path.exists():
        return ()
    name = relative(path, project)
    fields = nodes.Fields(name, read_yaml(path, name), "lexicon")
    entries: dict[str, Pronunciation] = {}
    for word, key_node in fields.key_nodes.items():
        at = nodes.where(name, key_node)
        if not _WORD.fullmatch(word):
            raise nodes.fail(
                name,
                key_node,
                f"lexicon: expected one word (letters, inner ' or -) as a key, found {word!r}",
            )
        if word.lower() in entries:
            first = entries[word.lower()].where
            raise nodes.fail(
                name,
                key_node,
                f"lexicon: '{word}' is given twice (words are case-insensitive), "
                f"expected each once (first at {first})",
            )
        entries[word.lower()] = _entry(name, word, fields[word], at)
    return tuple(sorted(entries.values(), key=lambda e: e.word.lower()))


def _entry(name: str, word: str, node: yaml.Node, at: Where) -> Pronunciation:
    what = f"lexicon {word}"
    if isinstance(node, yaml.ScalarNode):
        return Pronunciation(word, _say(name, node, what), (), at)
    fields = nodes.Fields(name, node, what)
    for key, key_node in fields.key_nodes.items():
        if key not in ENTRY_KEYS:
            raise nodes.fail(
                name,
                key_node,
                f"{what}: unknown phoneme alphabet '{key}', {nodes.closest(key, ENTRY_KEYS)}",
            )
    if not fields.values:
        raise nodes.fail(
            name, node, f"{what}: expected a respelling or one of {', '.join(ENTRY_KEYS)}"
        )
    say = _say(name, fields["say"], f"{what} say") if "say" in fields else None
    phonemes = tuple(
        (alphabet, _phonemes(name, fields[alphabet], f"{what} {alphabet}"))
        for alphabet in ALPHABETS
        if alphabet in fields
    )
    return Pronunciation(word, say, phonemes, at)


def _say(name: str, node: yaml.Node, what: str) -> str:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        raise nodes.fail(name, node, f"{what}: empty respelling, expected words such as AY-vuh")
    value = nodes.text(name, node, what, speakable=True)
    if not _SAY.fullmatch(value):
        raise nodes.fail(
            name,
            node,
            f"{what}: expected a respelling of letters, spaces, ' and - such as AY-vuh, "
            f"found {value!r}",
        )
    return value


def _phonemes(name: str, node: yaml.Node, what: str) -> str:
    if isinstance(node, yaml.ScalarNode) and node.tag.endswith(":null"):
        raise nodes.fail(name, node, f"{what}: expected phonemes, found nothing")
    value = nodes.text(name, node, what)
    if "[[" in value or "]]" in value or "\n" in value:
        raise nodes.fail(
            name, node, f"{what}: expected the phonemes alone, without [[ ]], found {value!r}"
        )
    return value
