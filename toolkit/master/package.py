"""An episode's published files from its cached master: tags, transcripts, chapters.
Light to import and quick to run, so a retitle re-packages without re-mastering."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from toolkit.errors import DramaError
from toolkit.master.tags import tag_mp3
from toolkit.master.transcripts import chapters_json, to_srt, to_vtt
from toolkit.mix.timeline import Cue, Mark
from toolkit.script.model import Chapter, Show

GENRE = "Audio Drama"
FORMATS = ("flac", "ogg")  # extra masters beside the MP3


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """Extra masters asked for beside the MP3, validated, in a stable order."""
    extras = tuple(sorted(set(formats) - {"mp3"}))
    unknown = [fmt for fmt in extras if fmt not in FORMATS]
    if unknown:
        raise DramaError(
            f"unknown audio format {', '.join(unknown)}; expected mp3, {', '.join(FORMATS)}"
        )
    return extras


def package(
    chapter: Chapter,
    show: Show,
    mp3: bytes,
    duration: float,
    cues: Sequence[Cue],
    marks: Sequence[Mark],
    cover_jpeg: bytes,
    total: int,
) -> dict[str, bytes]:
    """An episode's published files by suffix: the tagged MP3, its VTT and SRT transcripts
    and its Podcasting 2.0 chapters. Cheap: a retitle re-packages without re-mastering."""
    tagged = tag_mp3(
        mp3,
        title=chapter.title,
        artist=show.author,
        album=show.title,
        track=chapter.number,
        total=total,
        year=chapter.release.year,
        genre=GENRE,
        comment=chapter.description,
        cover_jpeg=cover_jpeg,
        marks=list(marks),
        duration_s=duration,
    )
    return {
        ".mp3": tagged,
        ".vtt": to_vtt(cues).encode(),
        ".srt": to_srt(cues).encode(),
        ".chapters.json": chapters_json(marks, chapter.title).encode(),
    }
