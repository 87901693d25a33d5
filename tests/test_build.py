"""End to end on the fixture production: what a listener and a podcast app get, and that a
rebuild redoes only what an edit touched."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import numpy as np
import pytest
from conftest import CHAPTER_ONE, run_cli, write_project
from mutagen.mp3 import MP3
from pedalboard.io import AudioFile

from toolkit.build import Project, build
from toolkit.mix.render import LEAD_IN


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = write_project(tmp_path_factory.mktemp("built") / "show")
    result = run_cli("build", "-C", str(root), "-q")
    assert result.exit_code == 0, result.output + result.stderr
    return root


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        p.relative_to(root).as_posix(): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted((root / "build").rglob("*"))
        if p.is_file()
    }


def test_episodes_decode_and_durations_add_up(built: Path) -> None:
    mp3s = sorted((built / "build/episodes").glob("*.mp3"))
    assert [p.name for p in mp3s] == ["01-one.mp3", "02-two.mp3"]
    total = 0.0
    for path in mp3s:
        with AudioFile(str(path)) as f:
            audio = f.read(f.frames)
            assert (f.samplerate, f.num_channels) == (44100, 2)
        info = MP3(path).info
        assert info.bitrate == 128000
        seconds = audio.shape[1] / 44100
        assert abs(info.length - seconds) < 0.1
        assert np.sqrt((audio**2).mean()) > 0.01
        total += seconds
    feed = feedparser.parse(str(built / "build/feed.xml"))
    assert len(feed.entries) == 2
    durations = [int(e.itunes_duration) for e in feed.entries]
    assert abs(sum(durations) - total) < 2
    for entry, path in zip(feed.entries, mp3s, strict=True):
        assert int(entry.enclosures[0].length) == path.stat().st_size


def test_speech_sits_where_the_transcript_says(built: Path) -> None:
    vtt = (built / "build/episodes/01-one.vtt").read_text()
    assert vtt.startswith("WEBVTT")
    assert "<v JAMES>This isn't the life I signed up for." in vtt
    assert vtt.split("\n\n")[1].endswith("\n[a fridge hums, a clock ticks]")  # the bed, first
    first = next(b for b in vtt.split("\n\n") if "<v " in b).splitlines()[0]
    start = sum(
        float(x) * 60**i for i, x in enumerate(reversed(first.split(" --> ")[0].split(":")))
    )
    assert abs(start - LEAD_IN) < 0.05
    with AudioFile(str(built / "build/episodes/01-one.mp3")) as f:
        audio = f.read(f.frames).mean(axis=0)
    frames = audio[: len(audio) // 441 * 441].reshape(-1, 441)
    level = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    # Before the first line only the bed fades in: well under the speech that follows.
    assert (
        level[: int((start - 0.2) * 100)].max()
        < level[int(start * 100) : int(start * 100) + 200].max() - 10
    )


def test_noop_rebuild_does_nothing(built: Path) -> None:
    before = snapshot(built)
    result = run_cli("build", "-C", str(built))
    assert result.exit_code == 0
    assert "synthesized 0 lines, rendered 0 chapters" in result.stderr
    assert snapshot(built) == before


def test_same_script_builds_identical_bytes(built: Path, tmp_path: Path) -> None:
    again = write_project(tmp_path / "again")
    assert run_cli("build", "-C", str(again), "-q").exit_code == 0
    for name in ("episodes/01-one.mp3", "episodes/02-two.mp3", "feed.xml", "episodes/01-one.vtt"):
        assert (again / "build" / name).read_bytes() == (built / "build" / name).read_bytes(), name


def test_one_line_edit_redoes_one_line_and_one_chapter(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "edit"
    shutil.copytree(built, root)
    before = snapshot(root)
    chapter = root / "script/01-one.yaml"
    chapter.write_text(CHAPTER_ONE.replace("That's fair.", "That's more than fair."))
    dry = run_cli("build", "-C", str(root), "--dry-run")
    assert "chapter 1 (one): render, 1 new or changed lines" in dry.output
    assert 'synthesize MOM: "That\'s more than fair."' in dry.output
    result = run_cli("build", "-C", str(root))
    assert "synthesized 1 lines, rendered 1 chapters" in result.stderr
    after = snapshot(root)
    changed = {name for name in after if after[name] != before.get(name)}
    assert changed == {
        "build/episodes/01-one.mp3",
        "build/episodes/01-one.vtt",
        "build/episodes/01-one.srt",
        "build/episodes/01-one.chapters.json",  # the last scene now ends later
        "build/feed.xml",
        "build/episodes/01-one.html",  # its transcript and duration
        "build/index.html",  # the episode's duration
    }


def test_an_edit_remixes_only_its_scene_and_sounds_as_if_built_afresh(
    built: Path, tmp_path: Path
) -> None:
    """The edited line's scene is mixed again; the chapter's other scene is put back from the
    scene cache (and the outdated mix of the edited one dropped); the episode is the same
    bytes as the edited script built from nothing."""
    root = tmp_path / "edit"
    shutil.copytree(built, root)
    scenes = root / ".cache/scenes"
    before = {p.name for p in scenes.glob("*.f32")}
    assert len(before) == 3  # kitchen and park in chapter one, office in chapter two
    edited = CHAPTER_ONE.replace("That's fair.", "That's more than fair.")
    (root / "script/01-one.yaml").write_text(edited)
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    after = {p.name for p in scenes.glob("*.f32")}
    assert len(after) == 3 and len(after - before) == 1 and len(before - after) == 1
    fresh = write_project(tmp_path / "fresh", {"script/01-one.yaml": edited})
    assert run_cli("build", "-C", str(fresh), "-q").exit_code == 0
    for name in ("episodes/01-one.mp3", "episodes/01-one.vtt", "feed.xml"):
        assert (root / "build" / name).read_bytes() == (fresh / "build" / name).read_bytes()


def test_prune_drops_what_the_script_no_longer_uses_and_keeps_the_rest(
    built: Path, tmp_path: Path
) -> None:
    """After an edit the old line and the old chapter stay cached (undo is free) until
    `drama clean --prune`; that leaves exactly what the current script is made of (its
    scene mixes and MP3 segments too), so the next build voices and renders nothing."""
    root = tmp_path / "prune"
    shutil.copytree(built, root)
    cache = root / ".cache"
    (root / "script/01-one.yaml").write_text(CHAPTER_ONE.replace("That's fair.", "Fine."))
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    before = {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}
    result = run_cli("clean", "--prune", "-C", str(root))
    assert result.exit_code == 0 and "pruned 3 cache entries" in result.output, result.output
    after = {p.relative_to(cache).as_posix() for p in cache.rglob("*") if p.is_file()}
    gone = before - after
    assert len([p for p in gone if p.startswith("speech/")]) == 1  # the old line
    assert sorted(p.rsplit(".", 1)[1] for p in gone if p.startswith("chapters/")) == ["json", "mp3"]
    assert {p.split("/")[0] for p in after} >= {"speech", "chapters", "scenes", "mp3"}
    rebuilt = run_cli("build", "-C", str(root))
    assert "synthesized 0 lines, rendered 0 chapters" in rebuilt.stderr


def test_retitle_and_reorder_synthesize_nothing(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "retitle"
    shutil.copytree(built, root)
    (root / "script/01-one.yaml").write_text(
        CHAPTER_ONE.replace("title: One", "title: The Beginning")
    )
    show = (root / "script/show.yaml").read_text()
    (root / "script/show.yaml").write_text(
        show.replace("  - 01-one.yaml\n  - 02-two.yaml", "  - 02-two.yaml\n  - 01-one.yaml")
    )
    result = run_cli("build", "-C", str(root))
    assert "synthesized 0 lines, rendered 0 chapters" in result.stderr
    feed = feedparser.parse(str(root / "build/feed.xml"))
    assert [e.title for e in feed.entries] == ["Two", "The Beginning"]
    old = {e.title: e.id for e in feedparser.parse(str(built / "build/feed.xml")).entries}
    assert feed.entries[1].id == old["One"] and feed.entries[0].id == old["Two"]


def test_kill_mid_build_keeps_previous_outputs(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "kill"
    shutil.copytree(built, root)
    shutil.rmtree(root / ".cache/chapters")
    before = snapshot(root)
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "build", "-C", str(root), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(2.0)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    after = {k: v[1] for k, v in snapshot(root).items() if not k.endswith(".tmp")}
    assert after == {k: v[1] for k, v in before.items()}
    result = run_cli("build", "-C", str(root), "-q")
    assert result.exit_code == 0
    assert not list((root / "build").rglob("*.tmp")), "the next build sweeps up half-written files"
    assert snapshot(root)["build/episodes/01-one.mp3"][1] == before["build/episodes/01-one.mp3"][1]


def children(pid: int) -> set[int]:
    """Processes whose parent is `pid`, from /proc."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    return found


def test_killed_build_leaves_no_workers_behind(built: Path, tmp_path: Path) -> None:
    """kill -9 of the build alone (not its process group): its workers go with it. (Lines of
    a subprocess engine such as flite are voiced in worker processes; Kokoro's and Piper's on
    threads of the build, and chapters are mastered on one.)"""
    root = tmp_path / "orphans"
    shutil.copytree(built, root)
    chapter = root / "script/02-two.yaml"
    extra = "".join(f"      - MOM: Line number {n} is new.\n" for n in range(20))
    chapter.write_text(chapter.read_text() + extra)
    process = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "build", "-C", str(root), "-q", "-j", "2"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    workers: set[int] = set()
    # Killed once both workers are up (past their imports, ~40 MB, at work): a worker still
    # starting would exit on its own when it finds the build gone.
    while time.monotonic() < deadline and process.poll() is None:
        workers = {pid for pid in children(process.pid) if "spawn_main" in cmdline(pid)}
        if len(workers) == 2 and all(resident_mb(pid) > 30 for pid in workers):
            break
        time.sleep(0.05)
    assert len(workers) == 2, "the build should have started two workers"
    process.kill()
    process.wait()
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in workers if alive(pid)]


def alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def resident_mb(pid: int) -> float:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * 4096 / 2**20
    except (OSError, IndexError, ValueError):
        return 0.0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return ""


def test_second_build_waits_for_the_first(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "lock"
    shutil.copytree(built, root)
    shutil.rmtree(root / ".cache/chapters")
    first = subprocess.Popen([sys.executable, "-m", "toolkit", "build", "-C", str(root), "-q"])
    time.sleep(1.0)
    second = subprocess.run(
        [sys.executable, "-m", "toolkit", "build", "-C", str(root)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.wait(timeout=300) == 0
    assert second.returncode == 0
    assert "rendered 0 chapters" in second.stderr
    assert feedparser.parse(str(root / "build/feed.xml")).entries


def test_removed_chapter_disappears_from_site(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "removed"
    shutil.copytree(built, root)
    show = (root / "script/show.yaml").read_text().replace("  - 02-two.yaml\n", "")
    (root / "script/show.yaml").write_text(show)
    build(Project(root), lambda m: None, lambda m: None)
    assert sorted(p.name for p in (root / "build/episodes").iterdir()) == [
        "01-one.chapters.json",
        "01-one.html",
        "01-one.mp3",
        "01-one.srt",
        "01-one.vtt",
    ]
    assert len(feedparser.parse(str(root / "build/feed.xml")).entries) == 1
    index = (root / "build/index.html").read_text()
    assert "episodes/01-one.html" in index and "episodes/02-two" not in index
    assert 'rel="next"' not in (root / "build/episodes/01-one.html").read_text()


def test_extra_masters_come_and_go_with_the_flag(built: Path, tmp_path: Path) -> None:
    root = tmp_path / "formats"
    shutil.copytree(built, root)
    result = run_cli("build", "-C", str(root), "-f", "flac", "-f", "ogg")
    assert result.exit_code == 0, result.stderr
    assert "rendered 2 chapters" in result.stderr  # the cached MP3 masters lacked these
    episodes = root / "build/episodes"
    with (
        AudioFile(str(episodes / "01-one.flac")) as flac,
        AudioFile(str(episodes / "01-one.mp3")) as mp3,
    ):
        assert abs(flac.frames - mp3.frames) < 0.05 * 44100
    assert (root / "build/episodes/02-two.ogg").read_bytes()[:4] == b"OggS"
    assert run_cli("build", "-C", str(root)).exit_code == 0
    assert not list((root / "build/episodes").glob("*.flac"))
    assert not list((root / "build/episodes").glob("*.ogg"))
