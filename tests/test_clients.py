"""Real podcast clients (gPodder's `gpo`, podget) against the preview server on 127.0.0.1:
they must fetch every episode intact and, after a new chapter, see exactly one new episode."""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from pedalboard.io import AudioFile
from test_feed import make_chapter, make_episode, make_show
from test_server import serving

from toolkit.master.episode import Episode
from toolkit.publish.feed import episode_guid, write_feed
from toolkit.script.model import Chapter

pytestmark = pytest.mark.slow

TIMEOUT = 120  # seconds per client command: nothing may hang the suite
RATE = 44100
GUID = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")


def need(tool: str, package: str) -> None:
    """Skip without the client, except in CI, where a missing client is a broken runner."""
    if shutil.which(tool) is None:
        reason = f"`{tool}` not found (Debian package {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


def client_env(**extra: str) -> dict[str, str]:
    """The caller's environment minus proxies (all traffic stays on 127.0.0.1) and minus Python
    overrides that would leak into Debian's python3 running gpo."""
    env = {
        key: value
        for key, value in os.environ.items()
        if "proxy" not in key.lower() and key not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
    }
    return env | extra


def run(args: list[str | Path], env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(arg) for arg in args],
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def tone_episode(build: Path, chapter: Chapter) -> Episode:
    """A real one-second stereo MP3, a different pitch per chapter."""
    t = np.arange(RATE) / RATE
    wave = (0.2 * np.sin(2 * np.pi * (330 + 110 * chapter.number) * t)).astype(np.float32)
    source = build.parent / "masters" / f"{chapter.id}.mp3"
    source.parent.mkdir(parents=True, exist_ok=True)
    with AudioFile(str(source), "w", RATE, 2, quality="128k") as out:
        out.write(np.stack([wave, wave]))
    episode = make_episode(build, chapter, audio=source.read_bytes())
    return dataclasses.replace(episode, duration=1.0)


@dataclasses.dataclass
class Site:
    build: Path
    feed_url: str
    chapters: list[Chapter]
    episodes: list[Episode]

    def publish(self, chapter: Chapter) -> Episode:
        """Master one more chapter and re-render the feed, as a rebuild would."""
        episode = tone_episode(self.build, chapter)
        self.chapters.append(chapter)
        self.episodes.append(episode)
        write_feed(make_show(self.chapters), self.episodes, self.build)
        return episode


@pytest.fixture
def site(tmp_path: Path) -> Iterator[Site]:
    build = tmp_path / "build"
    chapters = [make_chapter("door", 1), make_chapter("diner", 2, ("JAMES",))]
    episodes = [tone_episode(build, chapter) for chapter in chapters]
    write_feed(make_show(chapters), episodes, build)
    with serving(build) as port:
        yield Site(build, f"http://127.0.0.1:{port}/feed.xml", chapters, episodes)


def assert_identical(folder: Path, episodes: list[Episode]) -> None:
    assert sorted(p.name for p in folder.iterdir() if p.suffix == ".mp3") == sorted(
        e.mp3.name for e in episodes
    )
    for episode in episodes:
        assert (folder / episode.mp3.name).read_bytes() == episode.mp3.read_bytes()


def test_gpodder_downloads_all_then_exactly_the_new_chapter(site: Site, tmp_path: Path):
    need("gpo", "gpodder")
    home = tmp_path / "gpodder"
    env = client_env(GPODDER_HOME=str(home), GPODDER_DOWNLOAD_DIR=str(home / "downloads"))
    show = make_show(site.chapters)
    folder = home / "downloads" / show.title

    run(["gpo", "subscribe", site.feed_url], env)
    before = GUID.findall(run(["gpo", "episodes", "--guid", site.feed_url], env))
    assert sorted(before) == sorted(episode_guid(show, c) for c in site.chapters)
    run(["gpo", "download", site.feed_url], env)
    assert_identical(folder, site.episodes)

    new = site.publish(make_chapter("return", 3, ("AVA",)))
    run(["gpo", "update", site.feed_url], env)
    pending = run(["gpo", "pending", site.feed_url], env)
    assert new.chapter.title in pending
    assert re.search(r"\b1 new episode\b", pending), pending
    assert not any(c.title in pending for c in site.chapters[:-1]), pending
    after = GUID.findall(run(["gpo", "episodes", "--guid", site.feed_url], env))
    assert len(after) == len(set(after)) == 3  # no duplicates
    assert set(after) == set(before) | {episode_guid(show, new.chapter)}
    run(["gpo", "download", site.feed_url], env)
    assert_identical(folder, site.episodes)


def test_podget_downloads_every_episode(site: Site, tmp_path: Path):
    need("podget", "podget")
    env = client_env()
    config, library = tmp_path / "podget", tmp_path / "library"
    config.mkdir()
    # Create the config first: without it podget installs and fetches its default server list.
    run(["podget", "-d", config, "--create-config", "podgetrc"], env)
    (config / "serverlist").write_text(f"{site.feed_url} Drama Show\n")
    run(["podget", "-d", config, "-l", library, "-s"], env)
    assert_identical(library / "Drama" / "Show", site.episodes)
