"""The published site changes all at once: a build killed, interrupted or refused by the disk at
any moment leaves build/ exactly as the old site or exactly as the new one, and the next build
finishes the job.

A build is run in a child interpreter whose file-system calls (rename, replace, link, unlink,
mkdir, rmdir, the site swap) are counted; the child is killed with SIGKILL (or interrupted,
or handed ENOSPC) just before its N-th such call. A first uninstrumented-in-effect run counts
the calls and names the stage each is in (speech, mix/master, tag/publish, swap), so every
moment of an incremental build is covered, not a few guessed delays."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import CHAPTER_ONE, CHAPTER_TWO, run_cli, write_project

DRIVER = r"""
import errno, json, os, signal, sys, traceback
import toolkit.staging
target, action, log = int(sys.argv[1]), sys.argv[2], sys.argv[3]
count, stages = 0, []
STAGES = (("publish", "publish"), ("staged", "staging"), ("render_chapter", "mix+master"),
          ("_save", "speech"))

def stage():
    names = [frame.name for frame in traceback.extract_stack()]
    return next((label for name, label in STAGES if name in names), "other")

def counted(function, label=None):
    def wrapper(*args, **kwargs):
        global count
        count += 1
        if count == target:
            if action == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            if action == "interrupt":
                raise KeyboardInterrupt
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(args[-1]))
        stages.append([label or stage(), function.__name__])
        return function(*args, **kwargs)
    return wrapper

for name in ("replace", "rename", "link", "unlink", "mkdir", "rmdir"):
    setattr(os, name, counted(getattr(os, name)))
toolkit.staging._swap = counted(toolkit.staging._swap, "swap")
from toolkit.cli import main
try:
    main(sys.argv[4:])
finally:
    with open(log, "w") as f:
        json.dump(stages, f)
"""


def tree(folder: Path) -> dict[str, str]:
    """Every file's SHA-256 by name: equal trees are byte-identical, and a failure names the
    files that differ instead of printing megabytes of MP3."""
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def drive(root: Path, target: int, action: str, log: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", DRIVER, str(target), action, str(log)]
        + ["build", "-C", str(root), "-q", "-j", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def states(tmp_path_factory) -> dict:
    """A built production (the old site), the same after an edit (a changed line in chapter 1,
    a retitled chapter 2), and the site an uninterrupted build of the edit makes."""
    base = tmp_path_factory.mktemp("integrity")
    old = write_project(base / "old")
    (old / "build").mkdir(exist_ok=True)
    (old / "build/.gitkeep").write_bytes(b"")
    assert run_cli("build", "-C", str(old), "-q", "-j", "1").exit_code == 0
    edited = base / "edited"
    shutil.copytree(old, edited)
    write_project(
        edited,
        {
            "script/01-one.yaml": CHAPTER_ONE.replace("That's fair.", "That is more than fair."),
            "script/02-two.yaml": CHAPTER_TWO.replace("title: Two", "title: The Talk"),
        },
    )
    # A first build in a child process may fill caches outside the project (what an engine
    # said about itself, kept per installation): done here, so the count is of steady state.
    shutil.copytree(edited, base / "warm")
    assert drive(base / "warm", 0, "kill", base / "warm.json").returncode == 0
    new = base / "new"
    shutil.copytree(edited, new)
    result = drive(new, 0, "kill", base / "stages.json")
    assert result.returncode == 0, result.stderr
    stages = json.loads((base / "stages.json").read_text())
    return {
        "old": tree(old / "build"),
        "new": tree(new / "build"),
        "edited": edited,
        "stages": stages,
        "base": base,
    }


WRITES = ("replace", "rename", "link", "_swap")  # the calls a full disk refuses


def moments(calls: list[list[str]], every: bool, writes_only: bool = False) -> list[int]:
    """Call numbers to stop at: all of them, or the first and last of each stage."""
    numbered = [
        (n, stage) for n, (stage, name) in enumerate(calls, 1) if not writes_only or name in WRITES
    ]
    if every:
        return [n for n, _ in numbered]
    chosen = set()
    for label in dict.fromkeys(stage for _, stage in numbered):
        numbers = [n for n, stage in numbered if stage == label]
        chosen |= {numbers[0], numbers[-1]}
    return sorted(chosen)


def test_the_count_covers_every_stage(states: dict) -> None:
    assert states["old"] != states["new"]
    stages = {stage for stage, _ in states["stages"]}
    assert {"speech", "mix+master", "publish", "swap"} <= stages, states["stages"]


def check_moment(states: dict, tmp_path: Path, target: int, action: str) -> None:
    root = tmp_path / f"{action}-{target}"
    shutil.copytree(states["edited"], root)
    result = drive(root, target, action, tmp_path / "log.json")
    moment = f"{action} at call {target} ({states['stages'][target - 1]})"
    site = tree(root / "build")
    assert site in (states["old"], states["new"]), moment
    if action == "kill":
        assert result.returncode == -9, (moment, result.stderr)
    else:
        assert result.returncode in (2, 130), (moment, result.stderr)
        lines = [line for line in result.stderr.splitlines() if not line.startswith("warning:")]
        assert len(lines) == 1 and "Traceback" not in result.stderr, (moment, result.stderr)
        if action == "disk-full":
            assert lines[0].startswith("error: cannot write"), lines
            assert "free some disk space" in lines[0], lines
    again = run_cli("build", "-C", str(root), "-q", "-j", "1")
    assert again.exit_code == 0, (moment, again.stderr)
    assert tree(root / "build") == states["new"], moment
    leftovers = [p.name for p in root.iterdir() if p.name.startswith(".build.")]
    assert not leftovers, (moment, leftovers)


@pytest.mark.parametrize("action", ["kill", "interrupt", "disk-full"])
def test_stopped_at_each_stage_leaves_old_or_new_site(
    states: dict, tmp_path: Path, action: str
) -> None:
    for target in moments(states["stages"], every=False, writes_only=action == "disk-full"):
        check_moment(states, tmp_path, target, action)


@pytest.mark.slow
def test_killed_at_every_moment_leaves_old_or_new_site(states: dict, tmp_path: Path) -> None:
    for target in moments(states["stages"], every=True):
        check_moment(states, tmp_path, target, "kill")


def test_noop_build_leaves_build_untouched(states: dict, tmp_path: Path) -> None:
    root = tmp_path / "noop"
    shutil.copytree(states["edited"], root)
    assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (root / "build").rglob("*")}
    folder = (root / "build").stat()
    assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    after = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in (root / "build").rglob("*")}
    assert after == before
    assert (root / "build").stat().st_ino == folder.st_ino
    assert (root / "build").stat().st_mtime_ns == folder.st_mtime_ns


def test_unchanged_files_are_hard_linked_not_copied(states: dict, tmp_path: Path) -> None:
    root = tmp_path / "links"
    shutil.copytree(states["edited"], root)
    cover = root / "build/cover.jpg"
    inode = cover.stat().st_ino
    assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    assert (root / "build").is_dir() and not (root / "build").is_symlink()
    assert cover.stat().st_ino == inode  # the same file, moved into the new site by a link
    assert (root / "build/.gitkeep").exists()


def test_build_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    root = write_project(tmp_path / "show")
    (root / "build").write_text("not a folder")
    result = run_cli("build", "-C", str(root))
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if not line.startswith("warning:")] == [
        "error: build is a file, expected a folder for the site; move it away"
    ]
    assert (root / "build").read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_read_only_build_is_one_line(tmp_path: Path) -> None:
    root = write_project(tmp_path / "show")
    (root / "build").mkdir()
    (root / "build").chmod(0o555)
    try:
        result = run_cli("build", "-C", str(root))
    finally:
        (root / "build").chmod(0o755)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: build/ is read-only; make it writable")


def test_corrupt_cache_entries_are_misses(states: dict, tmp_path: Path) -> None:
    """A truncated clip and a garbled chapter entry are voiced and mastered again, giving the
    same site, instead of an internal error until `drama clean`."""
    root = tmp_path / "corrupt"
    shutil.copytree(states["edited"], root)
    assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    site = tree(root / "build")
    clip = max((root / ".cache/speech").rglob("*.npy"), key=lambda p: p.stat().st_mtime_ns)
    clip.write_bytes(clip.read_bytes()[:100])
    # What this build just voiced and mastered (the cache also holds the old site's).
    entry = max((root / ".cache/chapters").glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    entry.write_bytes(b"\x00garbage")
    result = run_cli("build", "-C", str(root), "-j", "1")
    assert result.exit_code == 0, result.stderr
    assert "synthesized 1 lines, rendered 1 chapters" in result.stderr
    assert tree(root / "build") == site


@pytest.mark.slow
def test_same_bytes_whatever_the_workers_and_history(tmp_path: Path) -> None:
    """-j 1, -j 2 and an incremental build (lines voiced in another process, at another time)
    make the same site byte for byte, with piper, flite and espeak voices all speaking."""
    files = {"voices/ava.yaml": "engine: espeak\nvoice: en-us+f5\npan: 0.0\n"}
    sites = []
    for jobs in ("1", "2"):
        root = write_project(tmp_path / f"j{jobs}", files)
        result = run_cli("build", "-C", str(root), "-q", "-j", jobs)
        assert result.exit_code == 0, result.stderr
        warnings = [w for w in result.stderr.splitlines() if w.startswith("warning:")]
        guardrails = [w for w in warnings if w.startswith("warning: script/show.yaml")]
        assert warnings == guardrails, "every engine must run here, none fall back"
        sites.append(tree(root / "build"))
    root = write_project(
        tmp_path / "incremental",
        {**files, "script/01-one.yaml": CHAPTER_ONE.replace("That's fair.", "Fair enough.")},
    )
    assert run_cli("build", "-C", str(root), "-q", "-j", "2").exit_code == 0
    write_project(root, {**files, "script/01-one.yaml": CHAPTER_ONE})
    assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    sites.append(tree(root / "build"))
    assert sites[0] == sites[1], "-j 1 and -j 2 differ"
    assert sites[0] == sites[2], "an incremental build differs from a cold one"


def test_accents_typed_as_combining_marks_are_accepted(tmp_path: Path) -> None:
    """NFD text (e + U+0301, as macOS writes it) is the accented Latin the docs accept: it
    is normalized to NFC, not refused as an unspeakable character."""
    nfd = "Cafe\u0301 cre\u0300me, Ame\u0301lie."
    root = write_project(
        tmp_path / "show", {"script/02-two.yaml": CHAPTER_TWO.replace("Can we talk?", nfd)}
    )
    result = run_cli("check", "-C", str(root))
    assert result.exit_code == 0, result.stderr
    from toolkit.script.loader import load_show

    line = load_show(root).chapters[1].scenes[0].lines[0]
    assert line.text == "Café crème, Amélie."


def test_check_reports_every_error_in_one_run(tmp_path: Path) -> None:
    """Like a compiler: a mistake in each chapter and in a line further down the same
    chapter are all reported, one located line each, in one run of `drama check`."""
    one = CHAPTER_ONE.replace("- MOM: I'm not giving her up.", "- MOTHER: I'm not giving her up.")
    one = one.replace("pause: 1.0", "pause: -1")
    two = CHAPTER_TWO.replace("- JAMES: Can we talk?", "- JAMESS: Can we talk?")
    root = write_project(tmp_path / "show", {"script/01-one.yaml": one, "script/02-two.yaml": two})
    result = run_cli("check", "-C", str(root))
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "script/01-one.yaml:14:9",
        "script/01-one.yaml:17:16",
        "script/02-two.yaml:10:9",
    ], lines
    assert all(line.startswith("error: ") for line in lines)
    many = CHAPTER_TWO.replace("    lines:\n", "    lines:\n" + "      - NOBODY: Hello.\n" * 30)
    write_project(root, {"script/01-one.yaml": CHAPTER_ONE, "script/02-two.yaml": many})
    assert len(run_cli("check", "-C", str(root)).stderr.strip().splitlines()) == 20
