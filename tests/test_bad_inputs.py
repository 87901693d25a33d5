"""The bad-input corpus in tests/bad/: each broken script, voice or sound is one located line.

A case is a folder holding only the files that differ from the fixture production (conftest)
and an expect.txt:

    # what is wrong (free text)
    remove: voices/ava.yaml                  delete a fixture file
    directory: script/show.yaml              put an empty directory where a file should be
    outside-wav: outside.wav                 a real recording beside, not inside, the project
    symlink: sounds/x.wav -> ../../outside.wav
    fifo: script/02-two.yaml                 a named pipe where a file should be
    sparse: script/02-two.yaml 50000000      a file of that many (zero) bytes
    finding: why this still passes check     a known gap outside the script stage (xfail)
    where: script/01-one.yaml:14:9           the location the error must start with
    says: unknown character 'MOTHER'         fragments the message must contain

Both `drama check` and `drama build` must exit 2 with exactly that one line on stderr, no
traceback and no machine path, and leave a previous build/ byte for byte as it was."""

from __future__ import annotations

import hashlib
import math
import os
import re
import struct
import wave
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import run_cli, write_project

CORPUS = Path(__file__).resolve().parent / "bad"
PREVIOUS = {"feed.xml": b"<rss>previous feed</rss>\n", "episodes/01-one.mp3": b"ID3 previous mp3"}
LOCATED = re.compile(r"error: (?!/)[^\s:]+:\d+:\d+: \S")


@dataclass(frozen=True)
class Case:
    name: str
    where: str
    says: tuple[str, ...]
    setup: tuple[tuple[str, str], ...]
    finding: str | None


def read_case(folder: Path) -> Case:
    where, says, setup, finding = "", [], [], None
    for line in (folder / "expect.txt").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        key, _, value = line.partition(": ")
        if key == "where":
            where = value
        elif key == "says":
            says.append(value)
        elif key == "finding":
            finding = value
        else:
            assert key in ("remove", "directory", "outside-wav", "symlink", "fifo", "sparse"), line
            setup.append((key, value))
    assert where, f"{folder.name}: expect.txt has no where:"
    return Case(folder.name, where, tuple(says), tuple(setup), finding)


CASES = [read_case(folder) for folder in sorted(CORPUS.iterdir()) if folder.is_dir()]


def params() -> list:
    """Every case under both commands; a finding (a known gap, xfail) only under `check`,
    since `build` would get past validation and synthesize the whole fixture."""
    out = []
    for case in CASES:
        for command in ("check", "build"):
            if case.finding and command == "build":
                continue
            marks = [pytest.mark.xfail(strict=True, reason=case.finding)] if case.finding else []
            out.append(pytest.param(case, command, id=f"{case.name}-{command}", marks=marks))
    return out


def tone(path: Path, seconds: float = 0.3) -> None:
    """A short real WAV: a recording that decodes, so only its location is wrong."""
    frames = int(44100 * seconds)
    samples = (int(8000 * math.sin(2 * math.pi * 440 * i / 44100)) for i in range(frames))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"".join(struct.pack("<h", s) for s in samples))


def make_project(tmp_path: Path, case: Case) -> Path:
    """The fixture production with the case's files laid over it and a previous build."""
    root = write_project(tmp_path / "show")
    folder = CORPUS / case.name
    for source in folder.rglob("*"):
        if source.is_file() and source.name != "expect.txt":
            target = root / source.relative_to(folder)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(source.read_bytes())
    for action, value in case.setup:
        if action == "remove":
            (root / value).unlink()
        elif action == "directory":
            (root / value).unlink()
            (root / value).mkdir()
        elif action == "outside-wav":
            tone(tmp_path / value)
        elif action == "fifo":
            (root / value).unlink()
            os.mkfifo(root / value)
        elif action == "sparse":
            name, size = value.split()
            os.truncate(root / name, int(size))
        else:
            link, target = value.split(" -> ")
            (root / link).parent.mkdir(parents=True, exist_ok=True)
            (root / link).symlink_to(target)
    for name, data in PREVIOUS.items():
        (root / "build" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "build" / name).write_bytes(data)
    return root


def snapshot(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_corpus_is_large_and_self_contained() -> None:
    assert len(CASES) >= 40
    for case in CASES:
        for path in (CORPUS / case.name).rglob("*"):
            name = path.relative_to(CORPUS / case.name).as_posix()
            assert name == "expect.txt" or name.split("/")[0] in ("script", "voices", "sounds"), (
                f"{case.name}: {name}"
            )


@pytest.mark.parametrize(("case", "command"), params())
def test_bad_input_is_one_located_line(tmp_path: Path, case: Case, command: str) -> None:
    root = make_project(tmp_path, case)
    before = snapshot(root / "build")
    result = run_cli(command, "-C", str(root))
    assert result.exit_code == 2, (result.output, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert LOCATED.match(line), line
    assert line.startswith(f"error: {case.where}"), line
    for fragment in case.says:
        assert fragment in line, (fragment, line)
    assert "Traceback" not in result.output + result.stderr
    assert str(tmp_path) not in result.output + result.stderr
    assert snapshot(root / "build") == before
    assert not (root / ".cache").exists(), "nothing may be cached before validation passes"
