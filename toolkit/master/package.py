"""An episode's published files from its cached master: tags, transcripts, chapters.
Light to import and quick to run, so a retitle re-packages without re-mastering."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from toolkit.errors import DramaError
from toolkit.master.captions import sound_cues
from toolkit.master.tags import Tags, tag_mp3, tag_vorbis
from toolkit.master.transcripts import chapters_json, to_srt, to_vtt
from toolkit.mix.timeline import Cue, Mark
from toolkit.script.model import Chapter, Show

GENRE = "Audio Drama"
EPISODE_FORMATS = ("flac", "ogg", "opus")  # extra masters of each episode beside the MP3
BOOK_FORMATS = ("m4b",)  # one file of the whole show
FORMATS = (*EPISODE_FORMATS, *BOOK_FORMATS)


def check_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """Deliverables asked for beside the MP3, validated, in a stable order."""
    extras = tuple(sorted(set(formats) - {"mp3"}))
    unknown = [fmt for fmt in extras if fmt not in FORMATS]
    if unknown:
        raise DramaError(
            f"unknown audio format {', '.join(unknown)}; expected mp3, {', '.join(FORMATS)}"
        )
    return extras


def master_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The extra masters a chapter's cache entry needs: the episode formats asked for, and
    FLAC whenever the audiobook is (it is encoded from the lossless masters)."""
    asked = set(check_formats(formats))
    needed = {fmt for fmt in asked if fmt in EPISODE_FORMATS}
    if asked & set(BOOK_FORMATS):
        needed.add("flac")
    return tuple(sorted(needed))


def episode_formats(formats: Iterable[str]) -> tuple[str, ...]:
    """The extra files published per episode."""
    return tuple(fmt for fmt in check_formats(formats) if fmt in EPISODE_FORMATS)


def package(
    chapter: Chapter,
    show: Show,
    mp3: bytes,
    duration: float,
    cues: Sequence[Cue],
    marks: Sequence[Mark],
    cover_jpeg: bytes,
    total: int,
    masters: Mapping[str, bytes] | None = None,
) -> dict[str, bytes]:
    """An episode's published files by suffix: the tagged MP3 (and FLAC/Ogg/Opus `masters`
    by format, tagged alike), its VTT and SRT transcripts (sounds described in brackets
    unless the show turns that off) and its Podcasting 2.0 chapters."""
    tags = Tags(
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
    )
    heard = [*cues, *sound_cues(cues)] if show.caption_sounds else list(cues)
    files = {
        ".mp3": tag_mp3(mp3, tags, duration),
        ".vtt": to_vtt(heard).encode(),
        ".srt": to_srt(heard).encode(),
        ".chapters.json": chapters_json(marks, chapter.title).encode(),
    }
    for fmt, data in sorted((masters or {}).items()):
        files[f".{fmt}"] = tag_vorbis(data, tags)
    return files
