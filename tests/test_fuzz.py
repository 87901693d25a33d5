"""Fuzzing the script and voice loaders: whatever a file holds, loading either succeeds or
raises DramaError, never another exception (KeyError, TypeError, RecursionError, ...).

Random YAML structures and bytes test the outer checks; mutations of the fixture's own
parsed files (a key dropped, a value swapped for another type, a name replaced) get past
them into the deep code, and character-level edits of the fixture text reach the parser."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import CHAPTER_ONE, SHOW, VOICES, write_project
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from toolkit.cast import load_cast
from toolkit.errors import DramaError
from toolkit.script.loader import load_show

FUZZ = settings(
    max_examples=200,
    deadline=None,
    database=None,  # nothing written into the repository
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
TARGETS = {"show": "script/show.yaml", "chapter": "script/01-one.yaml", "voice": "voices/mom.yaml"}
FIXTURE = {"show": SHOW, "chapter": CHAPTER_ONE, "voice": VOICES["mom"]}

# Values a writer might plausibly put anywhere: names the script knows, paths, odd text.
NAMES = st.sampled_from(
    [
        "MOM", "JAMES", "AVA", "NOBODY", "mom", "narration", "pause", "sfx", "ambience", "music",
        "direction", "ext", "overlap", "volume", "pan", "door-slam", "kitchen", "intro", "park",
        "01-one.yaml", "02-two.yaml", "show.yaml", "../show.yaml", "/etc/passwd", ".", "..",
        "V.O.", "O.S.", "flite", "espeak", "piper", "gtts", "slt", "en-us+f2", "joe", "xyz",
        "2026-12-01", "2026-02-30", "http://", "https://example.com/", "a@b.c", "", " ", "\t",
        "yes", "~", "null", ".nan", "-.inf", "1e999", "0x1F", "10:30", "\u202e", "\U0001f600",
        "x" * 300, "word " * 1000,
    ]
)  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(),
    st.dates(),
    st.datetimes(),
    st.text(max_size=40),
    NAMES,
)
KEYS = st.one_of(NAMES, st.text(max_size=12), st.integers(), st.booleans(), st.none())
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(KEYS, inner, max_size=6),
    max_leaves=25,
)


def loads(root: Path) -> None:
    """Load the production as `drama check` does: the script, then the voices."""
    try:
        show = load_show(root)
        load_cast(root, show)
    except DramaError as exc:
        for error in getattr(exc, "errors", [exc]):  # check reports several at once
            assert error.file is None or not Path(error.file).is_absolute(), str(error)
            assert "\n" not in DramaError.__str__(error)


def fuzz(tmp_path: Path, target: str, content: str | bytes) -> None:
    root = write_project(tmp_path / "show")
    path = root / TARGETS[target]
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    loads(root)


# Plain YAML that safe_dump would quote: values that are not what they look like (YAML 1.1
# booleans, sexagesimal numbers, impossible dates, tags, anchors, deep nesting). A mutation
# leaves a placeholder that dump() swaps for one of these, unquoted.
RAW = st.sampled_from(
    [
        "yes", "No", "~", "", "2026-02-30", "2026-12-01 10:00:00", "10:30", "3.10", "0x1F",
        "1_000", ".nan", "-.inf", "1" + "0" * 400, "!!bool maybe", "!!int x", "!!float x",
        "!!timestamp x", "!!binary aGk=", "!!binary ???", "!!set {a: 1}", "!!omap [a]",
        "!!python/object:os.system x", "!custom x", "&a x", "*a", "<<: {a: 1}",
        "[" * 40 + "]" * 40, "{a: [b, {c: d}]}", '"\\e[31m red"', "'it''s'", "|\n  block",
        "? [a, b]\n  : c",
    ]
)  # fmt: skip
PLACEHOLDER = "RAW-VALUE-{}"


def dump(value: Any, raw: list[str] = ()) -> str:
    text = yaml.safe_dump(value, allow_unicode=True, sort_keys=False, width=10_000)
    for index, fragment in enumerate(raw):
        text = text.replace(PLACEHOLDER.format(index), fragment)
    return text


def paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a parsed document, as the keys and indexes that lead there."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


def mutate(data: st.DataObject, document: Any, raw: list[str]) -> Any:
    """One edit at a random place: drop it, replace it with another type, a known name or
    raw YAML (appended to `raw`), wrap it in a list, empty it, or rename its key."""
    place = data.draw(st.sampled_from(paths(document)))
    if not place:
        return data.draw(VALUES)
    parent = document
    for step in place[:-1]:
        parent = parent[step]
    last = place[-1]
    action = data.draw(
        st.sampled_from(["drop", "replace", "name", "raw", "raw", "wrap", "empty", "rename"])
    )
    if action == "raw":
        parent[last] = PLACEHOLDER.format(len(raw))
        raw.append(data.draw(RAW))
    elif action == "drop":
        del parent[last]
    elif action == "replace":
        parent[last] = data.draw(VALUES)
    elif action == "name":
        parent[last] = data.draw(NAMES)
    elif action == "wrap":
        parent[last] = [parent[last]]
    elif action == "empty":
        parent[last] = type(parent[last])() if isinstance(parent[last], list | dict) else None
    elif isinstance(parent, dict):
        parent[data.draw(KEYS)] = parent.pop(last)
    return document


@pytest.mark.parametrize("target", list(TARGETS))
@FUZZ
@given(value=VALUES)
def test_random_structures(tmp_path: Path, target: str, value: Any) -> None:
    fuzz(tmp_path, target, dump(value))


@pytest.mark.parametrize("target", list(TARGETS))
@FUZZ
@given(data=st.data())
def test_near_valid_documents(tmp_path: Path, target: str, data: st.DataObject) -> None:
    document, raw = yaml.safe_load(FIXTURE[target]), []
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        document = mutate(data, document, raw)
    fuzz(tmp_path, target, dump(document, raw))


# Characters that change what YAML sees: structure, quoting, tags, anchors, odd whitespace.
YAML_BITS = st.sampled_from(
    [":", ": ", "-", "- ", " ", "  ", "\t", "\n", "'", '"', "[", "]", "{", "}", ",", "#", "&a ",
     "*a", "!!", "!!binary ", "!!python/object ", "? ", "|", ">", "%", "@", "`", "---\n", "...",
     "\\", "\x00", "\x07", "\ufeff", "\u2028", "\x85", "\U0001f600", "MOM", "<<: *a"]
)  # fmt: skip


@pytest.mark.parametrize("target", list(TARGETS))
@FUZZ
@given(data=st.data())
def test_edited_text(tmp_path: Path, target: str, data: st.DataObject) -> None:
    text = FIXTURE[target]
    for _ in range(data.draw(st.integers(min_value=1, max_value=4))):
        at = data.draw(st.integers(min_value=0, max_value=len(text)))
        cut = data.draw(st.integers(min_value=0, max_value=3))
        text = text[:at] + data.draw(YAML_BITS) + text[at + cut :]
    fuzz(tmp_path, target, text)


@pytest.mark.parametrize("target", ["show", "chapter"])
@settings(FUZZ, max_examples=150)
@given(content=st.one_of(st.text(max_size=300), st.binary(max_size=300)))
def test_random_text_and_bytes(tmp_path: Path, target: str, content: str | bytes) -> None:
    fuzz(tmp_path, target, content)
