"""What mastering hands to publishing: finished files on disk and their measured facts."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.mix.timeline import Cue, Mark
from toolkit.script.model import Chapter


@dataclass(frozen=True)
class Episode:
    """One finished episode. Paths are inside build/; `size` is the MP3's byte length."""

    chapter: Chapter
    mp3: Path
    size: int
    duration: float  # seconds
    lufs: float
    true_peak: float  # dBTP
    vtt: Path | None = None
    srt: Path | None = None
    chapters_json: Path | None = None
    lines: int = 0
    words: int = 0
    extras: tuple[Path, ...] = ()  # FLAC/Ogg masters, when asked for
    cues: tuple[Cue, ...] = ()  # speech, with the times the mix placed it
    marks: tuple[Mark, ...] = ()  # chapter marks, one per scene
