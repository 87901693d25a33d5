"""One build: script → cast → speech → mix → master → publish, everything validated before
anything is written, every output written atomically."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from toolkit.cast import Voice, load_cast
from toolkit.errors import DramaError
from toolkit.fsutil import atomic_write_bytes
from toolkit.master.cover import load_cover, make_cover
from toolkit.master.episode import Episode
from toolkit.master.master import master_chapter
from toolkit.mix.render import check_sounds, mix_chapter
from toolkit.mix.sounds import Library
from toolkit.publish.feed import write_feed
from toolkit.script.loader import load_show
from toolkit.script.model import Show, Speech
from toolkit.speech.synth import Synthesizer

Log = Callable[[str], None]


@dataclass(frozen=True)
class Project:
    """Where a production's files live; every stage takes paths from here."""

    root: Path

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache"

    @property
    def sounds_dir(self) -> Path:
        return self.root / "sounds"


@dataclass(frozen=True)
class Checked:
    """A production that passed every check: what a build needs."""

    show: Show
    voices: dict[str, Voice]
    library: Library


def check(project: Project) -> Checked:
    """Validate script, voices and sounds; raises DramaError at the first problem."""
    show = load_show(project.root)
    voices = load_cast(project.root, show)
    library = Library(project.sounds_dir if project.sounds_dir.is_dir() else None)
    for chapter in show.chapters:
        check_sounds(chapter, library)
    return Checked(show, voices, library)


def speech_lines(show: Show) -> list[Speech]:
    return [
        line
        for chapter in show.chapters
        for scene in chapter.scenes
        for line in scene.lines
        if isinstance(line, Speech)
    ]


def cover_bytes(project: Project, show: Show) -> bytes:
    if show.cover is None:
        return make_cover(show.title, show.author)
    path = project.root / "script" / show.cover
    if not path.is_file():
        raise DramaError(f"cover '{show.cover}' not found in script/", show.file, 1, 1)
    return load_cover(path)


def build(project: Project, log: Log, warn: Log) -> list[Episode]:
    """Render the whole production into build/."""
    checked = check(project)
    show = checked.show
    cover = cover_bytes(project, show)
    synth = Synthesizer(checked.voices, project.cache_dir / "speech", warn)
    lines = speech_lines(show)
    clips = {}
    for index, line in enumerate(lines, start=1):
        clips[line] = synth.clip(line).samples
        if index % 25 == 0 or index == len(lines):
            log(f"speech: {index}/{len(lines)} lines")
    episodes = []
    for chapter in show.chapters:
        mixed = mix_chapter(chapter, clips, checked.voices, checked.library)
        episode = master_chapter(mixed, show, project.build_dir, cover, len(show.chapters))
        episodes.append(episode)
        log(f"episode {chapter.number}: {episode.mp3.name} {episode.duration:.0f} s")
    atomic_write_bytes(project.build_dir / "cover.jpg", cover)
    write_feed(show, episodes, project.build_dir)
    remove_stale(project.build_dir / "episodes", episodes)
    return episodes


def remove_stale(folder: Path, episodes: list[Episode]) -> None:
    """Drop files of chapters that no longer exist, so the site matches the script."""
    stems = {e.mp3.stem for e in episodes}
    for path in folder.glob("*"):
        if path.is_file() and path.name.split(".")[0] not in stems:
            path.unlink()
