"""Validate the sounds a script names against the library, before anything is rendered.
Kept apart from the mixer so checking a script stays quick to start."""

from __future__ import annotations

from toolkit.errors import DramaError
from toolkit.mix.sounds import Library
from toolkit.script.model import Ambience, Chapter, Music, Sfx, Where
from toolkit.script.nodes import closest


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
