"""Master one mixed chapter into its published files: tagged MP3, transcripts, chapters.

Loudness and peak are checked on the decoded MP3, not on the float buffer: the encoder
changes both slightly, and the MP3 is what listeners and podcast validators measure."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import numpy as np

from toolkit.errors import DramaError
from toolkit.fsutil import atomic_write_bytes, atomic_write_text
from toolkit.master.encode import decode, encode_flac, encode_mp3, encode_ogg
from toolkit.master.episode import Episode
from toolkit.master.loudness import (
    CEILING_DB,
    LIMITER_HEADROOM_DB,
    LUFS_TOLERANCE,
    TARGET_LUFS,
    Leveler,
    integrated_lufs,
    true_peak_db,
)
from toolkit.master.tags import tag_mp3
from toolkit.master.transcripts import chapters_json, to_srt, to_vtt
from toolkit.mix.timeline import RATE, MixedChapter
from toolkit.script.model import Show

GENRE = "Audio Drama"
EXTRA_FORMATS: dict[str, Callable[[np.ndarray], bytes]] = {
    "flac": encode_flac,
    "ogg": encode_ogg,
}
_MAX_ENCODES = 3
_DECODED_LUFS_AIM = 0.25  # half the tolerance: leaves room for other meters' rounding


class Mastered(NamedTuple):
    audio: np.ndarray  # normalized float32 (samples, 2)
    mp3: bytes  # untagged
    lufs: float  # of the decoded MP3
    true_peak: float  # dBTP of the decoded MP3


def master_audio(audio: np.ndarray) -> Mastered:
    """Normalize and encode; if the decoded MP3 misses the targets, shift the loudness aim
    and add limiter headroom by what was missed and redo (normal speech passes first time).
    The input is analysed once; a redo reuses that and pays mostly for the encode."""
    leveler = Leveler(audio)
    target, headroom = TARGET_LUFS, LIMITER_HEADROOM_DB
    for _ in range(_MAX_ENCODES):
        normalized = leveler.level(target, CEILING_DB - headroom)
        mp3 = encode_mp3(normalized)
        decoded = decode(mp3)
        lufs, peak = integrated_lufs(decoded), true_peak_db(decoded)
        if not math.isfinite(lufs):  # silence: nothing to aim
            break
        if peak <= CEILING_DB and abs(lufs - TARGET_LUFS) <= _DECODED_LUFS_AIM:
            break
        headroom += max(0.0, peak - CEILING_DB + 0.5)  # MP3 overshoot varies with the gain
        target += TARGET_LUFS - lufs
    return Mastered(normalized, mp3, lufs, peak)


def master_chapter(
    mixed: MixedChapter,
    show: Show,
    out_dir: Path,
    cover_jpeg: bytes,
    total: int,
    formats: Iterable[str] = ("mp3",),
) -> Episode:
    """Write out_dir/episodes/NN-<id>.mp3 (always) plus .vtt, .srt, .chapters.json and any
    extra `formats` (flac, ogg), each atomically, and return the measured Episode."""
    extras = sorted(set(formats) - {"mp3"})
    unknown = [fmt for fmt in extras if fmt not in EXTRA_FORMATS]
    if unknown:
        raise DramaError(
            f"unknown audio format {', '.join(unknown)}; expected mp3, {', '.join(EXTRA_FORMATS)}"
        )
    chapter = mixed.chapter
    folder = Path(out_dir) / "episodes"
    stem = f"{chapter.number:02d}-{chapter.id}"
    done = master_audio(mixed.audio)
    duration = len(done.audio) / RATE
    tagged = tag_mp3(
        done.mp3,
        title=chapter.title,
        artist=show.author,
        album=show.title,
        track=chapter.number,
        total=total,
        year=chapter.release.year,
        genre=GENRE,
        comment=chapter.description,
        cover_jpeg=cover_jpeg,
        marks=mixed.marks,
        duration_s=duration,
    )
    mp3 = atomic_write_bytes(folder / f"{stem}.mp3", tagged)
    for fmt in extras:
        atomic_write_bytes(folder / f"{stem}.{fmt}", EXTRA_FORMATS[fmt](done.audio))
    speech = [c for c in mixed.cues if c.kind == "speech"]
    return Episode(
        chapter=chapter,
        mp3=mp3,
        size=mp3.stat().st_size,
        duration=duration,
        lufs=done.lufs,
        true_peak=done.true_peak,
        vtt=atomic_write_text(folder / f"{stem}.vtt", to_vtt(mixed.cues)),
        srt=atomic_write_text(folder / f"{stem}.srt", to_srt(mixed.cues)),
        chapters_json=atomic_write_text(
            folder / f"{stem}.chapters.json", chapters_json(mixed.marks, chapter.title)
        ),
        lines=len(speech),
        words=sum(len(c.text.split()) for c in speech),
    )


def within_targets(episode: Episode) -> bool:
    """-16 LUFS +-0.5 and true peak at most -1 dBTP, as measured on the MP3."""
    return abs(episode.lufs - TARGET_LUFS) <= LUFS_TOLERANCE and episode.true_peak <= CEILING_DB


def report_rows(episodes: Iterable[Episode]) -> list[dict[str, object]]:
    """One row per episode for `drama report`, rounded for reading."""
    return [
        {
            "episode": e.chapter.number,
            "title": e.chapter.title,
            "file": e.mp3.name,
            "duration": round(e.duration, 1),
            "size": e.size,
            "lufs": round(e.lufs, 1),
            "true_peak": round(e.true_peak, 1),
            "lines": e.lines,
            "words": e.words,
            "ok": within_targets(e),
        }
        for e in episodes
    ]
