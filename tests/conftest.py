"""Shared fixtures: a small but real production on disk."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

SHOW = """\
title: Test Show
author: Test Company
description: A short fixture show.
language: en
base_url: http://127.0.0.1:8000/
category: Fiction
subcategory: Drama
explicit: false
type: serial
copyright: "(c) 2026 Test Company"
owner:
  name: Test Company
  email: owner@example.com
narrator: MOM
cast:
  MOM: the mother
  JAMES: the father
  AVA: the daughter
schedule:
  start: 2026-12-01
  every_days: 7
chapters:
  - 01-one.yaml
  - 02-two.yaml
"""

CHAPTER_ONE = """\
id: one
title: One
description: The first chapter.
scenes:
  - id: kitchen
    title: The Kitchen
    setting: A kitchen at night.
    ambience: kitchen
    room: small
    lines:
      - narration: It was late when he came home.
      - JAMES: This isn't the life I signed up for.
        direction: eerily calm
      - MOM: I'm not giving her up.
        direction: quietly
      - sfx: door-slam
      - pause: 1.0
  - id: park
    title: The Park
    setting: A park bench.
    ambience: park
    room: outdoor
    lines:
      - AVA: He's not scary.
      - MOM: That's fair.
"""

CHAPTER_TWO = """\
id: two
title: Two
description: The second chapter.
scenes:
  - id: office
    title: The Office
    setting: An office.
    ambience: office
    lines:
      - JAMES: Can we talk?
      - MOM: What do you want, James?
"""

VOICES = {
    "mom": "engine: flite\nvoice: slt\npan: -0.5\nfallback:\n  - engine: espeak\n    voice: en-us+f2\n",
    "james": "engine: piper\nvoice: joe\npan: 0.5\nfallback:\n  - engine: espeak\n    voice: en-us+m3\n",
    "ava": "engine: flite\nvoice: slt\npitch: 9\nrate: 0.9\npan: 0.0\nfallback:\n  - engine: espeak\n    voice: en-us+f5\n",
}


def write_project(root: Path, files: dict[str, str] | None = None) -> Path:
    """A production with two short chapters; `files` overrides or adds files by path."""
    contents = {
        "script/show.yaml": SHOW,
        "script/01-one.yaml": CHAPTER_ONE,
        "script/02-two.yaml": CHAPTER_TWO,
        **{f"voices/{k}.yaml": v for k, v in VOICES.items()},
        **(files or {}),
    }
    for name, text in contents.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


@pytest.fixture(scope="session", autouse=True)
def released_everything() -> Iterator[None]:
    """Build as of a day after every fixture chapter's release, so tests that are not about
    the schedule see every episode whatever today's date (tests about it set their own).
    Session-wide, so module-scoped builds see it too."""
    before = os.environ.get("DRAMA_TODAY")
    os.environ["DRAMA_TODAY"] = "2030-01-01"
    yield
    if before is None:
        del os.environ["DRAMA_TODAY"]
    else:
        os.environ["DRAMA_TODAY"] = before


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return write_project(tmp_path / "show")


@pytest.fixture(scope="session")
def story_root() -> Path:
    return Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def built_story(story_root: Path, tmp_path_factory) -> Path:
    """The shipped story, cold-built once per run (minutes with its neural voices): tests copy
    it, cache included, rather than each paying for its own cold build."""
    import shutil

    root = tmp_path_factory.mktemp("built-story")
    for folder in ("script", "voices", "sounds"):
        shutil.copytree(story_root / folder, root / folder)
    result = run_cli("build", "-C", str(root), "-q")
    assert result.exit_code == 0, result.stderr
    return root


def copy_project(source: Path, destination: Path) -> Path:
    """A built production copied with its cache, so a rebuild there only redoes what changes."""
    import shutil

    shutil.copytree(source, destination, symlinks=True)
    return destination


def run_cli(*args: str):
    """Invoke `drama` in-process with stderr captured apart from stdout (click 8.1 and 8.2+)."""
    from click.testing import CliRunner

    from toolkit.cli import main

    try:
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(main, list(args))
