"""Validate the sounds a script names against the library, before anything is rendered.
Kept apart from the mixer so checking a script stays quick to start."""

from __future__ import annotations

from pathlib import Path

from pedalboard.io import AudioFile

from toolkit.errors import DramaError
from toolkit.mix.sounds import Library
from toolkit.script.model import Ambience, Chapter, Music, Sfx, Where
from toolkit.script.nodes import closest

# Longer than any bed, effect or cue a scene loops or places: a recording past this (or a
# header claiming it) would be decoded whole into memory at build time.
MAX_RECORDING_SECONDS = 3600.0


def wanted_sounds(chapter: Chapter) -> list[tuple[str, str, Where]]:
    """(name, kind, where) of every sound a chapter names, in script order."""
    wanted = []
    for scene in chapter.scenes:
        wanted.append((scene.ambience, "bed", scene.ambience_where or scene.where))
        for line in scene.lines:
            if isinstance(line, Ambience):
                wanted.append((line.name, "bed", line.where))
            elif isinstance(line, Sfx):
                wanted.append((line.name, "sfx", line.where))
            elif isinstance(line, Music):
                wanted.append((line.name, "music", line.where))
    return wanted


def check_sounds(chapter: Chapter, library: Library) -> None:
    """Every sound the chapter names must exist as the right kind (a bed, an effect, music)."""
    for name, kind, where in wanted_sounds(chapter):
        if library.fits(name, kind):
            if library.source(name) is not None:
                check_recording(library.source(name))
            continue
        found = (
            f"'{name}' is a {library.kind(name)}"
            if library.has(name)
            else f"unknown sound '{name}'"
        )
        options = sorted(n for n in library.names() if library.kind(n) == kind)
        raise DramaError(
            f"{found}, expected a {kind}: {closest(name, options)} (or add sounds/{name}.wav)",
            where.file,
            where.line,
            where.column,
        )


def check_recording(path: Path) -> None:
    """A user's recording must sit inside sounds/ (no links out of the project) and decode."""
    name = f"sounds/{path.name}"
    if path.parent.resolve() not in path.resolve().parents:
        raise DramaError(
            "links outside sounds/, expected a recording inside the project", name, 1, 1
        )
    try:
        with AudioFile(str(path)) as audio:
            if audio.frames <= 0:
                raise ValueError("no audio in it")
            seconds = audio.frames / audio.samplerate
    except Exception as exc:  # pedalboard raises several types for files it can't read
        reason = str(exc).split("\n")[0].replace(str(path), name)
        raise DramaError(
            f"cannot decode audio ({reason}), expected a WAV, FLAC, OGG or MP3 recording",
            name,
            1,
            1,
        ) from None
    if seconds > MAX_RECORDING_SECONDS:
        raise DramaError(
            f"runs {seconds / 3600:.1f} hours, expected a recording under "
            f"{MAX_RECORDING_SECONDS / 3600:g} hour (loop a short bed instead)",
            name,
            1,
            1,
        )
