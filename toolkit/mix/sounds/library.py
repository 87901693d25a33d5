"""The user's own recordings layered over the built-in sounds."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile

from toolkit.fsutil import atomic_write_bytes
from toolkit.mix.timeline import RATE

from ._builtin import base, catalogue, kind_of, loop_to, make, shape, version

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")  # preference order when a stem repeats
CROSSFADE = 0.05  # seconds; long enough to hide a join, short enough not to smear it


class Library:
    """Built-ins plus the user's recordings in a folder (WAV/FLAC/OGG/MP3) that override
    built-ins of the same name (file stem = name). The folder is scanned once, here."""

    def __init__(self, user_dir: Path | None, cache_dir: Path | None = None):
        self._cache_dir = cache_dir
        self._files = _scan(user_dir)
        self._builtin = {info.name for info in catalogue()}
        self._cache: dict[str, np.ndarray] = {}

    def names(self) -> set[str]:
        return self._builtin | set(self._files)

    def kind(self, name: str) -> str:
        """A user file takes the kind of the built-in it replaces; a new name is an sfx."""
        if name in self._files and name not in self._builtin:
            return "sfx"
        return kind_of(name)

    def fits(self, name: str, kind: str) -> bool:
        """Can `name` be used as a bed, sfx or music cue? A recording with a new name can be
        any of them; one that replaces a built-in keeps that built-in's kind."""
        if name in self._files and name not in self._builtin:
            return True
        return self.has(name) and self.kind(name) == kind

    def source(self, name: str) -> Path | None:
        """The user's file behind `name`, or None for a built-in (for cache keys)."""
        return self._files.get(name)

    def has(self, name: str) -> bool:
        return name in self._files or name in self._builtin

    def render(self, name: str, seconds: float | None = None) -> np.ndarray:
        """Like sounds.render; a recording is looped (or cut) to `seconds` when given (as for
        a bed), or kept whole without it. What a sound is made from (a bed's loop, a decoded
        recording) is kept per name; the chapter-length results are not."""
        audio = self._base(name)
        if name not in self._files:
            return shape(name, audio, seconds)
        return audio.copy() if seconds is None else crossfade_loop(audio, round(seconds * RATE))

    def render_part(self, name: str, n: int, lo: int, hi: int) -> np.ndarray:
        """Samples lo..hi of the bed `name` looped (or cut) to n samples: the same floats as
        render(name, n / RATE)[lo:hi], without the rest (a bed can run a whole chapter)."""
        audio = self._base(name)
        if name in self._files:
            return crossfade_loop(audio, n, lo, hi)
        if kind_of(name) != "bed":
            raise ValueError(f"{name!r} is not a bed")
        return loop_to(audio, n, lo, hi)

    def _base(self, name: str) -> np.ndarray:
        if name not in self._cache:
            self._cache[name] = (
                read_audio(self._files[name]) if name in self._files else self._builtin_base(name)
            )
        return self._cache[name]

    def _builtin_base(self, name: str) -> np.ndarray:
        """A built-in's loop or one-shot, kept on disk when there is a cache folder: drawing
        the beds costs seconds that every fresh build process would otherwise repeat."""
        if self._cache_dir is None:
            return base(name)
        path = self._cache_dir / f"{name}-{version()}.npy"
        if path.exists():
            return np.load(path)
        audio = make(name)
        buffer = io.BytesIO()
        np.save(buffer, audio)
        atomic_write_bytes(path, buffer.getvalue())
        return audio


def _scan(user_dir: Path | None) -> dict[str, Path]:
    """Audio files by stem; hidden files (e.g. macOS '._x.wav' forks) are not recordings."""
    if user_dir is None or not Path(user_dir).is_dir():
        return {}
    found: dict[str, Path] = {}
    rank = {suffix: i for i, suffix in enumerate(AUDIO_SUFFIXES)}
    for path in sorted(
        Path(user_dir).iterdir(), key=lambda p: (rank.get(p.suffix.lower(), len(rank)), p)
    ):
        if path.suffix.lower() in rank and not path.name.startswith(".") and path.is_file():
            found.setdefault(path.stem, path)
    return found


def read_audio(path: Path) -> np.ndarray:
    """Decode with pedalboard (no ffmpeg), resample to RATE, return float32 (samples, 2)."""
    with AudioFile(str(path)) as source, source.resampled_to(RATE) as audio:
        data = audio.read(audio.frames)
    if data.shape[1] == 0:
        raise ValueError(f"{path} contains no audio")
    stereo = np.repeat(data, 2, axis=0) if len(data) == 1 else data[:2]
    return np.ascontiguousarray(stereo.T, dtype=np.float32)


def crossfade_loop(audio: np.ndarray, n: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Repeat a recording to exactly n samples (only samples lo..hi of them when given). At
    every join the tail fades (equal power) into the head, so the loop neither clicks nor
    dips; the first lap starts as recorded."""
    hi = n if hi is None else hi
    if n < 0:
        raise ValueError(f"negative length: {n} samples")
    if len(audio) >= n:
        return audio[lo:hi]
    fade = min(round(CROSSFADE * RATE), len(audio) // 4)
    angle = np.linspace(0, np.pi / 2, fade, dtype=np.float32)[:, None]
    body = audio[: len(audio) - fade]
    join = audio[:fade] * np.sin(angle) + audio[len(audio) - fade :] * np.cos(angle)
    # The body as recorded, then laps of it that each start with the join.
    start, stop = max(lo, len(body)) - len(body), hi - len(body)
    if stop <= start:
        return body[lo:hi].copy()
    laps = loop_to(body, stop, start, stop)
    for lap in range(start // len(body) * len(body), stop, len(body)):
        a, b = max(lap, start), min(lap + fade, stop)
        if a < b:
            laps[a - start : b - start] = join[a - lap : b - lap]
    return np.concatenate([body[lo:hi], laps])
