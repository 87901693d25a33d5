"""Short musical cues: additive-synthesis pads under a simple melody, warmed by reverb."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pedalboard import LowpassFilter, Pedalboard, Reverb

from ._dsp import Recipe, overlay, pan, process, times

RECIPES: dict[str, Recipe] = {}
Rng = np.random.Generator
Builder = Callable[..., np.ndarray]
PAD_PARTIALS = [(1, 1.0), (2, 0.35), (3, 0.12), (4, 0.05)]
LEAD_PARTIALS = [(1, 1.0), (3, -1 / 9), (5, 1 / 25), (7, -1 / 49)]  # triangle wave
RELEASE = 1.2


def _music(name: str, description: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        RECIPES[name] = Recipe(description, fn, level=-20.0)
        return fn

    return register


def hz(midi: float) -> float:
    return 440.0 * 2 ** ((midi - 69) / 12)


def partials(freq: float, t: np.ndarray, spectrum, rng: Rng) -> np.ndarray:
    """Additive tone; random start phases keep stacked voices from peaking together."""
    phases = rng.uniform(0, 2 * np.pi, len(spectrum))
    return sum(
        a * np.sin(2 * np.pi * k * freq * t + p) for (k, a), p in zip(spectrum, phases, strict=True)
    )


def pad(notes: list[int], seconds: float, rng: Rng) -> np.ndarray:
    """Soft chord: each note twice, detuned a few cents and spread left/right for width."""
    t = times(seconds + RELEASE)
    env = np.minimum(t / 0.8, 1) * np.clip(1 - (t - seconds) / RELEASE, 0, 1)
    out = np.zeros((len(t), 2))
    for midi in notes:
        for side, cents in ((0, -4), (1, 4)):
            out[:, side] += partials(hz(midi + cents / 100), t, PAD_PARTIALS, rng)
    return out * (env / len(notes))[:, None]


def lead(midi: int, seconds: float, rng: Rng, bright: float = 0.9) -> np.ndarray:
    """Melody note: triangle-like tone with a gentle pluck and a short release."""
    t = times(seconds + 0.3)
    env = np.minimum(t / 0.02, 1) * np.exp(-t / bright) * np.clip((seconds + 0.3 - t) / 0.3, 0, 1)
    return partials(hz(midi), t, LEAD_PARTIALS, rng) * env


def score(rng: Rng, beat: float, chords, melody, total: float, fade_in: float, fade_out: float):
    """Lay out chords (start beat, beats, notes) and melody (start beat, midi, beats), then
    reverb, soften and fade the whole cue."""
    out = np.zeros((len(times(total)), 2))
    for start, beats, notes in chords:
        overlay(out, 0.5 * pad(notes, beats * beat, rng), start * beat)
    for start, midi, beats in melody:
        overlay(out, 0.25 * lead(midi, beats * beat, rng)[:, None] * pan(0.15), start * beat)
    board = Pedalboard(
        [
            Reverb(room_size=0.75, damping=0.6, wet_level=0.3, dry_level=0.7),
            LowpassFilter(cutoff_frequency_hz=6000),
        ]
    )
    out = process(board, out)
    t = times(total)
    fade = np.minimum(t / fade_in, 1) * np.clip((total - t) / fade_out, 0, 1) ** 2
    return out * fade[:, None]


@_music("intro", "Warm opening theme: Cmaj7-Am7-Fmaj7-Gsus pads under a slow melody.")
def _intro(rng: Rng) -> np.ndarray:
    chords = [
        (0, 4, [48, 55, 59, 64]),
        (4, 4, [45, 52, 55, 60]),
        (8, 4, [41, 53, 57, 64]),
        (12, 4, [43, 55, 60, 62]),
    ]
    melody = [
        (0, 76, 2),
        (2, 79, 1),
        (3, 74, 1),
        (4, 72, 2),
        (6, 76, 2),
        (8, 77, 1),
        (9, 76, 1),
        (10, 74, 2),
        (12, 72, 1),
        (13, 71, 1),
        (14, 74, 2),
    ]
    return score(rng, 0.6, chords, melody, total=11.2, fade_in=1.5, fade_out=2.0)


@_music("outro", "Closing theme that settles home: Fmaj7-G-Csus4-C, melody falling to C.")
def _outro(rng: Rng) -> np.ndarray:
    chords = [
        (0, 4, [41, 53, 57, 64]),
        (4, 4, [43, 55, 59, 62]),
        (8, 2, [48, 55, 60, 65]),
        (10, 6, [48, 55, 60, 64]),
    ]
    melody = [
        (0, 81, 2),
        (2, 79, 2),
        (4, 77, 1),
        (5, 76, 1),
        (6, 74, 2),
        (8, 76, 1),
        (9, 74, 1),
        (10, 72, 6),
    ]
    return score(rng, 0.65, chords, melody, total=12.0, fade_in=1.0, fade_out=3.0)


@_music("sting", "Short scene-change sting: a rising Cmaj9 arpeggio over a swelling chord.")
def _sting(rng: Rng) -> np.ndarray:
    chords = [(0, 12, [48, 55, 59, 62, 64])]
    melody = [(k, midi, 8 - k) for k, midi in enumerate([60, 64, 67, 71, 74])]
    return score(rng, 0.1, chords, melody, total=2.6, fade_in=0.05, fade_out=1.0)
