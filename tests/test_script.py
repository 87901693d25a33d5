"""The script stage: the story loads, and every bad input is one located line with exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import CHAPTER_ONE, SHOW, run_cli, write_project

from toolkit.script.loader import load_show
from toolkit.script.model import Speech

ONE = "script/01-one.yaml"


def test_story_loads_completely(story_root: Path) -> None:
    show = load_show(story_root)
    assert 5 <= len(show.chapters) <= 7
    assert [c.number for c in show.chapters] == list(range(1, len(show.chapters) + 1))
    speakers = {
        line.character
        for chapter in show.chapters
        for scene in chapter.scenes
        for line in scene.lines
        if isinstance(line, Speech)
    }
    assert speakers == {"MOM", "JAMES", "AVA"}
    for chapter in show.chapters:
        for scene in chapter.scenes:
            assert scene.setting and scene.ambience


def test_fixture_lines_keep_their_positions(project: Path) -> None:
    show = load_show(project)
    first = show.chapters[0].scenes[0].lines
    assert first[0] == Speech("MOM", "It was late when he came home.", first[0].where, ext="V.O.")
    assert (first[1].where.line, first[1].where.column) == (12, 9)
    assert first[2].direction == "quietly"
    assert show.chapters[1].release.isoformat() == "2026-12-08"


def chapter(old: str, new: str) -> dict[str, str]:
    assert old in CHAPTER_ONE
    return {ONE: CHAPTER_ONE.replace(old, new, 1)}


def show(old: str, new: str) -> dict[str, str]:
    assert old in SHOW
    return {"script/show.yaml": SHOW.replace(old, new, 1)}


CASES = {
    "unknown character": (
        chapter("- MOM: I'm not", "- MOTHER: I'm not"),
        f"{ONE}:14:9",
        "unknown character 'MOTHER', expected one of AVA, JAMES, MOM",
    ),
    "unknown scene key": (
        chapter("    room: small", "    rooom: small"),
        f"{ONE}:9:5",
        "did you mean 'room'?",
    ),
    "unknown line key": (
        chapter("- pause: 1.0", "- paus: 1.0"),
        f"{ONE}:17:9",
        "did you mean 'pause'?",
    ),
    "tab indentation": (chapter("    room: small", "\troom: small"), f"{ONE}:9:1", "tab"),
    "NaN pause": (
        chapter("pause: 1.0", "pause: .nan"),
        f"{ONE}:17:16",
        "expected a number from 0 to 30",
    ),
    "absurd pause": (
        chapter("pause: 1.0", "pause: 1e9"),
        f"{ONE}:17:16",
        "expected a number from 0 to 30",
    ),
    "negative pause": (
        chapter("pause: 1.0", "pause: -2"),
        f"{ONE}:17:16",
        "expected a number from 0 to 30",
    ),
    "bad extension": (
        chapter("direction: quietly", "ext: VO"),
        f"{ONE}:15:14",
        "expected one of V.O., O.S., FILTERED",
    ),
    "unclosed quote": (
        chapter("- MOM: I'm not giving her up.", '- MOM: "I am not'),
        f"{ONE}:",
        "invalid YAML",
    ),
    "empty line text": (
        chapter("- MOM: I'm not giving her up.", "- MOM: '  '"),
        f"{ONE}:14:14",
        "empty",
    ),
    "wrong type": (
        chapter("room: small", "room: [small]"),
        f"{ONE}:9:11",
        "expected one of none, small",
    ),
    "duplicate scene id": (
        chapter("- id: park", "- id: kitchen"),
        f"{ONE}:18:9",
        "duplicate scene id 'kitchen'",
    ),
    "duplicate key": (
        chapter("    room: small", "    room: small\n    room: large"),
        f"{ONE}:10:5",
        "duplicate key 'room'",
    ),
    "base_url not http": (
        show("http://127.0.0.1:8000/", "ftp://example.com/"),
        "script/show.yaml:5:11",
        "http(s) URL",
    ),
    "missing show title": (
        show("title: Test Show\n", ""),
        "script/show.yaml:1:1",
        "missing key 'title'",
    ),
    "explicit not boolean": (
        show("explicit: false", "explicit: maybe"),
        "script/show.yaml:8:11",
        "true or false",
    ),
    "not UTF-8": ({ONE: b"id: one\ntitle: \xff\xfe\n"}, f"{ONE}:2:8", "not UTF-8"),
    "empty file": ({ONE: ""}, f"{ONE}:1:1", "empty"),
    "unknown sound": (
        chapter("sfx: door-slam", "sfx: door-slamm"),
        f"{ONE}:16:9",
        "did you mean 'door-slam'?",
    ),
    "bed used as effect": (
        chapter("sfx: door-slam", "sfx: kitchen"),
        f"{ONE}:16:9",
        "expected a sfx",
    ),
    "emoji": (
        chapter("He's not scary.", "He's not scary \U0001f600"),
        f"{ONE}:24:29",
        "cannot be spoken",
    ),
    "right-to-left text": (
        chapter("That's fair.", "\u05e9\u05dc\u05d5\u05dd"),
        f"{ONE}:25:14",
        "cannot be spoken",
    ),
    "control character": (
        chapter("That's fair.", '"That\\x07s fair."'),
        f"{ONE}:25:14",
        "control character U+0007",
    ),
    "20,000 characters": (chapter("That's fair.", "word " * 4000), f"{ONE}:25:14", "at most 4000"),
    "unknown engine": (
        {"voices/mom.yaml": "engine: sapi\nvoice: slt\n"},
        "voices/mom.yaml:1:9",
        "expected one of piper, flite",
    ),
    "pan out of range": (
        {"voices/mom.yaml": "engine: flite\nvoice: slt\npan: 3\n"},
        "voices/mom.yaml:3:6",
        "from -1 to 1",
    ),
    "missing voice file": ({"voices/mom.yaml": None}, "voices/mom.yaml:1:1", "no voice for MOM"),
    "chapter outside script": (
        show("- 02-two.yaml", "- ../../etc/passwd"),
        "script/show.yaml:24:5",
        "outside script/",
    ),
}


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_located_line(tmp_path: Path, name: str) -> None:
    files, location, message = CASES[name]
    root = write_project(tmp_path / "show", {k: v for k, v in files.items() if v is not None})
    for path, content in files.items():
        if content is None:
            (root / path).unlink()
    build = root / "build"
    build.mkdir()
    (build / "feed.xml").write_text("previous")
    result = run_cli("check", "-C", str(root))
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {location}"), lines[0]
    assert message in lines[0]
    assert "Traceback" not in result.output
    assert (build / "feed.xml").read_text() == "previous"


def test_directory_instead_of_chapter_file(project: Path) -> None:
    (project / "script/02-two.yaml").unlink()
    (project / "script/02-two.yaml").mkdir()
    result = run_cli("check", "-C", str(project))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "error: script/02-two.yaml:1:1: expected a YAML file, found a directory"
    )


def test_check_accepts_the_fixture(project: Path) -> None:
    result = run_cli("check", "-C", str(project))
    assert result.exit_code == 0, result.output
    assert "2 chapters" in result.output


def test_schema_describes_every_line_form() -> None:
    result = run_cli("schema")
    schema = json.loads(result.output)
    variants = schema["$defs"]["line"]["oneOf"]
    keys = {k for v in variants for k in v.get("properties", {})}
    assert {"narration", "pause", "sfx", "ambience", "music", "direction", "ext", "overlap"} <= keys
    assert schema["$defs"]["scene"]["required"] == ["id", "setting", "ambience", "lines"]
