"""Typed reads of YAML nodes that keep their position, so every error names file:line:column."""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime

import yaml
from yaml.constructor import SafeConstructor

from toolkit.errors import DramaError
from toolkit.script.model import Where
from toolkit.speech.text import SPOKEN_SYMBOLS

MAX_TEXT = 4000
_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_TAG = "tag:yaml.org,2002:"
# Scalar types a script may hold; other tags (!!binary, !!python/..., !custom) are refused.
_SCALAR_TAGS = {
    _TAG + "str": "text",
    _TAG + "int": "whole number",
    _TAG + "float": "number",
    _TAG + "timestamp": "date",
    _TAG + "bool": "true or false",
    _TAG + "null": "null",
}
_AS_WRITTEN = {_TAG + t for t in ("str", "int", "float", "timestamp")}
# What a constructor raises on a malformed scalar: '!!int abc', '!!bool maybe', '2026-02-30'.
_CONSTRUCTION_ERRORS = (yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError)


def where(file: str, node: yaml.Node) -> Where:
    mark = node.start_mark
    return Where(file, mark.line + 1, mark.column + 1)


def fail(file: str, node: yaml.Node, message: str) -> DramaError:
    w = where(file, node)
    return DramaError(message, w.file, w.line, w.column)


def describe(node: yaml.Node) -> str:
    """Name what the user wrote, for 'found X' in messages."""
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if node.tag.endswith(":null"):
        return "nothing"
    value = node.value if len(node.value) <= 40 else node.value[:37] + "..."
    return repr(value)


class Fields:
    """A mapping's values and key nodes by key, checked against the keys a place allows."""

    def __init__(self, file: str, node: yaml.Node, what: str):
        if not isinstance(node, yaml.MappingNode):
            raise fail(file, node, f"{what}: expected a mapping of keys, found {describe(node)}")
        self.file, self.node, self.what = file, node, what
        self.values: dict[str, yaml.Node] = {}
        self.key_nodes: dict[str, yaml.Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise fail(
                    file, key_node, f"{what}: expected a plain key, found {describe(key_node)}"
                )
            key = str(key_node.value)
            if key in self.values:
                # YAML would silently keep the last one.
                first = where(file, self.key_nodes[key])
                raise fail(
                    file,
                    key_node,
                    f"{what}: duplicate key '{key}', expected each key once (first at {first})",
                )
            self.values[key] = value_node
            self.key_nodes[key] = key_node

    def check(self, allowed: Sequence[str], required: Sequence[str] = ()) -> None:
        for key, node in self.key_nodes.items():
            if key not in allowed:
                raise fail(
                    self.file, node, f"{self.what}: unknown key '{key}', {closest(key, allowed)}"
                )
        for key in required:
            if key not in self.values:
                raise fail(
                    self.file,
                    self.node,
                    f"{self.what}: missing key '{key}', expected all of {', '.join(required)}",
                )

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def __getitem__(self, key: str) -> yaml.Node:
        return self.values[key]


def closest(word: str, options: list[str], shown: int | None = None) -> str:
    """'did you mean X?' for a near miss, else the options (the first `shown` of a long list)."""
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.5)
    if match:
        return f"did you mean '{match[0]}'?"
    if shown is None or len(options) <= shown:
        return "expected one of " + ", ".join(options)
    return f"expected one of {', '.join(options[:shown])}, ... ({len(options)} in all)"


def sequence(file: str, node: yaml.Node, what: str) -> list[yaml.Node]:
    if not isinstance(node, yaml.SequenceNode):
        raise fail(file, node, f"{what}: expected a list, found {describe(node)}")
    return list(node.value)


def _scalar(file: str, node: yaml.Node, what: str, expected: str) -> object:
    if not isinstance(node, yaml.ScalarNode):
        raise fail(file, node, f"{what}: expected {expected}, found {describe(node)}")
    if node.tag not in _SCALAR_TAGS:
        tag = node.tag.replace(_TAG, "!!")
        raise fail(file, node, f"{what}: expected {expected}, found a value tagged {tag}")
    try:
        # A fresh constructor each time: a shared one remembers every node it ever built.
        return SafeConstructor().construct_object(node)
    except _CONSTRUCTION_ERRORS:
        kind = _SCALAR_TAGS[node.tag]
        raise fail(
            file, node, f"{what}: expected {expected}, found {describe(node)}, not a valid {kind}"
        ) from None


def text(file: str, node: yaml.Node, what: str, *, speakable: bool = False) -> str:
    """A non-empty string, exactly as written. Speakable text is also checked for characters
    no engine can say, and must hold at least one word."""
    if not (isinstance(node, yaml.ScalarNode) and node.tag in _AS_WRITTEN):
        value = _scalar(file, node, what, "text")  # true, false or null: the rest raised
        # YAML reads a bare yes/no/on/off as true/false, not as the word.
        hint = (
            ""
            if value is None
            else f", which YAML reads as {str(value).lower()} (put it in quotes to mean the word)"
        )
        raise fail(file, node, f"{what}: expected text, found {describe(node)}{hint}")
    # As written, even where YAML sees a number or date: '10:30' would be 630, '3.10' 3.1.
    # NFC: an accent typed as a combining mark (NFD, as macOS file names) is the same letter.
    value = unicodedata.normalize("NFC", node.value.strip())
    if not value:
        raise fail(file, node, f"{what}: expected text, found an empty string")
    if len(value) > MAX_TEXT:
        raise fail(
            file,
            node,
            f"{what}: text is {len(value)} characters, expected at most {MAX_TEXT} "
            "(split it into several lines)",
        )
    for index, char in enumerate(value):
        problem = _bad_char(char, speakable)
        if problem:
            w = where(file, node)
            column = w.column + index if "\n" not in node.value and node.style is None else w.column
            raise DramaError(f"{what}: {problem}", file, w.line, column)
    if speakable and not any(char.isalnum() for char in value):
        raise fail(
            file,
            node,
            f"{what}: nothing to speak in {describe(node)}, expected words "
            "(use pause: for a silence)",
        )
    return value


def typed(value: str, what: str, *, speakable: bool = False, file: str = "<command line>") -> str:
    """Text given on the command line, held to the same rules as text in a script."""
    mark = yaml.Mark(file, 0, 0, 0, None, None)
    return text(file, yaml.ScalarNode(_TAG + "str", value, mark, mark), what, speakable=speakable)


def _bad_char(char: str, speakable: bool) -> str | None:
    code = ord(char)
    category = unicodedata.category(char)
    if category in ("Cc", "Cf", "Co", "Cs") and char not in "\n\t":
        return f"control character U+{code:04X} in text, expected printable text"
    if category == "Cn":  # unassigned, or a noncharacter such as U+FFFF: not valid in a feed
        return f"character U+{code:04X} is not a character, expected printable text"
    if not speakable or code < 0x250 or char in SPOKEN_SYMBOLS or char.isspace():
        return None
    name = unicodedata.name(char, f"U+{code:04X}")
    return f"character '{char}' ({name}) cannot be spoken, expected Latin-script text"


def ident(file: str, node: yaml.Node, what: str) -> str:
    value = _scalar(file, node, what, "an id")
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise fail(
            file,
            node,
            f"{what}: expected an id of lowercase letters, digits and '-', found {describe(node)}",
        )
    return value


def number(file: str, node: yaml.Node, what: str, low: float, high: float) -> float:
    value = _scalar(file, node, what, f"a number from {low:g} to {high:g}")
    # A comparison, not math.isfinite(): NaN fails it too, and a 400-digit int can't overflow.
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise fail(
            file,
            node,
            f"{what}: expected a number from {low:g} to {high:g}, found {describe(node)}",
        )
    return float(value)


def integer(file: str, node: yaml.Node, what: str, low: int, high: int) -> int:
    value = _scalar(file, node, what, f"a whole number from {low} to {high}")
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise fail(
            file,
            node,
            f"{what}: expected a whole number from {low} to {high}, found {describe(node)}",
        )
    return value


def boolean(file: str, node: yaml.Node, what: str) -> bool:
    value = _scalar(file, node, what, "true or false")
    if not isinstance(value, bool):
        raise fail(file, node, f"{what}: expected true or false, found {describe(node)}")
    return value


def day(file: str, node: yaml.Node, what: str) -> date:
    value = _scalar(file, node, what, "a date (YYYY-MM-DD)")
    if not isinstance(value, date) or isinstance(value, datetime):
        raise fail(file, node, f"{what}: expected a date (YYYY-MM-DD), found {describe(node)}")
    return value


def choice(file: str, node: yaml.Node, what: str, options: list[str]) -> str:
    value = _scalar(file, node, what, "one of " + ", ".join(options))
    if value not in options:
        raise fail(
            file, node, f"{what}: expected one of {', '.join(options)}, found {describe(node)}"
        )
    return str(value)
