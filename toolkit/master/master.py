"""Master one mixed chapter: loudness, true peak and the encoded masters.

Loudness and peak are checked on the decoded MP3, not on the float buffer: the encoder
changes both slightly, and the MP3 is what listeners and podcast validators measure."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from typing import NamedTuple

import numpy as np

from toolkit.fsutil import Blobs
from toolkit.master.encode import (
    encode_flac,
    encode_mp3,
    encode_ogg,
    encode_opus,
    measure_decoded,
)
from toolkit.master.episode import Episode
from toolkit.master.loudness import (
    CEILING_DB,
    LIMITER_HEADROOM_DB,
    LUFS_TOLERANCE,
    TARGET_LUFS,
    Leveler,
    Rendered,
)
from toolkit.master.package import master_formats

EXTRA_FORMATS: dict[str, Callable[[Rendered], bytes]] = {
    "flac": encode_flac,
    "ogg": encode_ogg,
    "opus": encode_opus,
}
_MAX_ENCODES = 3
_DECODED_LUFS_AIM = 0.25  # half the tolerance: leaves room for other meters' rounding


class Mastered(NamedTuple):
    audio: Rendered  # normalized float32 (samples, 2), made as it is sliced
    mp3: bytes  # untagged
    lufs: float  # of the decoded MP3
    true_peak: float  # dBTP of the decoded MP3


def master_audio(
    audio: np.ndarray, helper: Executor | None = None, encoded: Blobs | None = None
) -> Mastered:
    """Normalize and encode; if the decoded MP3 misses the targets, shift the loudness aim
    and add limiter headroom by what was missed and redo (normal speech passes first time).
    The input is analysed once; a redo reuses that and pays mostly for the encode.

    Besides the input, no chapter-length buffer: the normalized audio is made a stretch at
    a time as the encoder takes it, and the MP3 is measured as it is decoded. A `helper`
    process, when given, encodes half the MP3 (the same bytes as without it): an edit, one
    chapter mastered alone. `encoded` holds MP3 segments of earlier masters to reuse."""
    leveler = Leveler(audio)
    target, headroom = TARGET_LUFS, LIMITER_HEADROOM_DB
    for _ in range(_MAX_ENCODES):
        setting = leveler.setting(target, CEILING_DB - headroom)
        mp3 = encode_mp3(leveler.rendered(setting), helper=helper, encoded=encoded)
        lufs, peak = measure_decoded(mp3)
        if not math.isfinite(lufs):  # silence: nothing to aim
            break
        if peak <= CEILING_DB and abs(lufs - TARGET_LUFS) <= _DECODED_LUFS_AIM:
            break
        headroom += max(0.0, peak - CEILING_DB + 0.5)  # MP3 overshoot varies with the gain
        target += TARGET_LUFS - lufs
    return Mastered(leveler.rendered(setting), mp3, lufs, peak)


def extra_masters(audio: Rendered, formats: Iterable[str]) -> dict[str, bytes]:
    """The normalized audio as each extra master's bytes (flac, ogg, opus), by file suffix."""
    return {f".{fmt}": EXTRA_FORMATS[fmt](audio) for fmt in master_formats(formats)}


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
