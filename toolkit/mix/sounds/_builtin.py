"""The built-in catalogue: rendering, caching and levelling of every procedural sound."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from toolkit.mix.timeline import RATE

from . import beds, music, sfx
from ._dsp import Recipe, balance, edges, rng_for, to_peak, to_rms

_RECIPES: dict[str, dict[str, Recipe]] = {
    "bed": beds.RECIPES,
    "music": music.RECIPES,
    "sfx": sfx.RECIPES,
}
BEDS: tuple[str, ...] = tuple(sorted(beds.RECIPES))
SFX: tuple[str, ...] = tuple(sorted(sfx.RECIPES))
MUSIC: tuple[str, ...] = tuple(sorted(music.RECIPES))


@dataclass(frozen=True)
class SoundInfo:
    name: str
    kind: str  # 'bed' | 'sfx' | 'music'
    description: str


def catalogue() -> list[SoundInfo]:
    """Every built-in sound, sorted by kind then name."""
    infos = [
        SoundInfo(name, kind, recipe.description)
        for kind, recipes in _RECIPES.items()
        for name, recipe in recipes.items()
    ]
    return sorted(infos, key=lambda info: (info.kind, info.name))


def kind_of(name: str) -> str:
    """Kind of a built-in sound; KeyError for names the library does not know."""
    for kind, recipes in _RECIPES.items():
        if name in recipes:
            return kind
    raise KeyError(name)


def render(name: str, seconds: float | None = None) -> np.ndarray:
    """Float32 (samples, 2) audio at RATE. Beds need `seconds` and loop to exactly that length;
    sfx and music have their natural length and ignore it."""
    return shape(name, base(name), seconds)


@cache
def base(name: str) -> np.ndarray:
    """What a sound is made from, drawn once per process (see make)."""
    return make(name)


def make(name: str) -> np.ndarray:
    """What a sound is made from: a bed's seamless loop, or the whole effect or cue. Drawn
    afresh: a build keeps them on disk, not for its whole life in memory (~70 MB a story)."""
    return _loop(name) if kind_of(name) == "bed" else _one_shot(name)


def shape(name: str, audio: np.ndarray, seconds: float | None) -> np.ndarray:
    """A fresh copy of `base(name)` audio, looped to `seconds` for a bed."""
    if kind_of(name) != "bed":
        return audio.copy()
    if seconds is None:
        raise ValueError(f"bed {name!r} needs a duration in seconds")
    return loop_to(audio, round(seconds * RATE))


def version() -> str:
    """Fingerprint of the code that draws the built-ins, for caching their audio on disk."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def loop_to(loop: np.ndarray, n: int, lo: int = 0, hi: int | None = None) -> np.ndarray:
    """Tile a seamless loop to exactly n samples; only samples lo..hi of them when given."""
    hi = n if hi is None else hi
    if n < 0:
        raise ValueError(f"negative length: {n} samples")
    if not 0 <= lo <= hi <= n:
        raise ValueError(f"samples {lo}..{hi} are not within 0..{n}")
    pieces, at = [], lo
    while at < hi:
        start = at % len(loop)
        pieces.append(loop[start : start + hi - at])
        at += len(pieces[-1])
    return np.concatenate(pieces) if pieces else loop[:0].copy()


def _loop(name: str) -> np.ndarray:
    recipe = beds.RECIPES[name]
    loop = recipe.build(rng_for(name), round(recipe.loop * RATE))
    return to_rms(balance(loop), recipe.level).astype(np.float32)


def _one_shot(name: str) -> np.ndarray:
    if name in sfx.RECIPES:
        mono = to_peak(edges(sfx.RECIPES[name].build(rng_for(name))), -6.0)
        return np.repeat(mono[:, None], 2, axis=1).astype(np.float32)
    recipe = music.RECIPES[name]
    return to_rms(edges(recipe.build(rng_for(name))), recipe.level).astype(np.float32)
