"""The whole story, end to end, as listeners and podcast apps get it (slow: a cold build)."""

from __future__ import annotations

import re
from pathlib import Path

import feedparser
import numpy as np
import podcastparser
import pyloudnorm
import pytest
from conftest import copy_project, run_cli
from mutagen.id3 import ID3
from pedalboard.io import AudioFile
from scipy.signal import resample_poly
from test_clients import GUID, client_env, need, run
from test_server import serving

from toolkit.script.loader import load_show

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def story(built_story: Path, tmp_path_factory) -> Path:
    """The cold-built story, copied: a test here edits and rebuilds it."""
    return copy_project(built_story, tmp_path_factory.mktemp("story") / "story")


def clock(stamp: str) -> float:
    h, m, s = stamp.split(":")
    return int(h) * 3600 + int(m) * 60 + float(s)


def decoded(path: Path) -> np.ndarray:
    with AudioFile(str(path)) as f:
        assert (f.samplerate, f.num_channels) == (44100, 2)
        return f.read(f.frames).T


def test_every_chapter_decodes_and_the_story_runs_long_enough(story: Path) -> None:
    show = load_show(story)
    mp3s = sorted((story / "build/episodes").glob("*.mp3"))
    assert len(mp3s) == len(show.chapters) >= 5
    seconds = [len(decoded(p)) / 44100 for p in mp3s]
    assert sum(seconds) >= 9 * 60, seconds
    feed = feedparser.parse(str(story / "build/feed.xml"))
    assert len(feed.entries) == len(mp3s)
    assert [e.title for e in feed.entries] == [c.title for c in show.chapters]
    for entry, path in zip(feed.entries, mp3s, strict=True):
        assert int(entry.enclosures[0].length) == path.stat().st_size
    with open(story / "build/feed.xml", "rb") as handle:
        parsed = podcastparser.parse("http://127.0.0.1:8000/feed.xml", handle)
    assert len(parsed["episodes"]) == len(mp3s)


def test_every_episode_meets_loudness_targets(story: Path) -> None:
    meter = pyloudnorm.Meter(44100)
    for path in sorted((story / "build/episodes").glob("*.mp3")):
        audio = decoded(path)
        lufs = meter.integrated_loudness(audio)
        peak = 20 * np.log10(np.abs(resample_poly(audio, 4, 1, axis=0)).max())
        assert abs(lufs + 16) <= 0.5, (path.name, lufs)
        assert peak <= -1.0, (path.name, peak)
    report = run_cli("report", "-C", str(story))
    assert report.exit_code == 0, report.output


def test_tags_and_chapter_marks(story: Path) -> None:
    show = load_show(story)
    for chapter, path in zip(
        show.chapters, sorted((story / "build/episodes").glob("*.mp3")), strict=True
    ):
        tags = ID3(path)
        assert tags.version[:2] == (2, 3)
        assert str(tags["TIT2"]) == chapter.title
        assert str(tags["TALB"]) == show.title
        assert str(tags["TRCK"]) == f"{chapter.number}/{len(show.chapters)}"
        assert tags.getall("APIC")[0].type == 3
        marks = sorted(tags.getall("CHAP"), key=lambda c: c.start_time)
        assert [str(m.sub_frames["TIT2"]) for m in marks] == [s.title for s in chapter.scenes]


def test_transcript_cues_start_where_speech_starts(story: Path) -> None:
    """Each cue that follows a pause of 0.3 s or more: the mix gets loud within 100 ms."""
    audio = decoded(story / "build/episodes/01-the-door.mp3").mean(axis=1)
    frames = audio[: len(audio) // 441 * 441].reshape(-1, 441)
    level = 20 * np.log10(np.sqrt((frames**2).mean(axis=1)) + 1e-9)
    starts, end = [], None
    for block in (story / "build/episodes/01-the-door.vtt").read_text().split("\n\n")[1:]:
        stamps = [clock(stamp) for stamp in block.splitlines()[0].split(" --> ")]
        # A sound's caption ([a door slams]) has no speech onset, and the second piece of a
        # long line split in two is timed by its share of the words, not by an onset.
        if "<v " in block and stamps[0] != end:
            starts.append(stamps[0])
        end = stamps[1]
    checked = 0
    for start in starts:
        at = int(round(start * 100))
        before = level[max(0, at - 30) : at - 5]
        floor = float(np.median(before)) if len(before) else 0.0
        if len(before) < 20 or before.max() > level[at : at + 50].max() - 12:
            continue  # no quiet run-up (music or an effect just before): onset not measurable
        onset = at - 10 + int(np.argmax(level[at - 10 : at + 50] > floor + 10))
        assert abs(onset - at) <= 10, (start, onset / 100)
        checked += 1
    assert checked >= 5


def test_gpodder_subscribes_and_sees_one_new_chapter(story: Path, tmp_path: Path) -> None:
    need("gpo", "gpodder")
    home = tmp_path / "gpodder"
    env = client_env(GPODDER_HOME=str(home), GPODDER_DOWNLOAD_DIR=str(home / "downloads"))
    show = load_show(story)
    with serving(story / "build") as port:
        url = f"http://127.0.0.1:{port}/feed.xml"
        run(["gpo", "subscribe", url], env)
        before = GUID.findall(run(["gpo", "episodes", "--guid", url], env))
        assert len(before) == len(set(before)) == len(show.chapters)
        run(["gpo", "download", url], env)
        folder = home / "downloads" / show.title
        for path in (story / "build/episodes").glob("*.mp3"):
            assert (folder / path.name).read_bytes() == path.read_bytes()
        # Add a bonus chapter (its lines are cached: only mixing and publishing run).
        last = sorted((story / "script").glob("0*.yaml"))[-1]
        bonus = re.sub(r"^id: .*$", "id: bonus", last.read_text(), count=1, flags=re.M)
        bonus = re.sub(r"^title: .*$", "title: Bonus", bonus, count=1, flags=re.M)
        (story / "script/99-bonus.yaml").write_text(bonus)
        show_file = story / "script/show.yaml"
        show_file.write_text(show_file.read_text().rstrip("\n") + "\n  - 99-bonus.yaml\n")
        assert run_cli("build", "-C", str(story), "-q").exit_code == 0
        run(["gpo", "update", url], env)
        pending = run(["gpo", "pending", url], env)
        assert re.search(r"\b1 new episode\b", pending), pending
        after = GUID.findall(run(["gpo", "episodes", "--guid", url], env))
        assert len(after) == len(set(after)) == len(show.chapters) + 1
        assert set(before) < set(after)
