"""DSP primitives shared by the procedural sounds.

Bed loops are built circularly (frequency-domain filters, wrapped event placement, periodic
modulation, effects pre-rolled with the loop's own tail) so the last sample of a loop flows into its first.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from pedalboard import Pedalboard, Plugin

from toolkit.mix.filters import Filter, butterworth
from toolkit.mix.timeline import RATE


@dataclass(frozen=True)
class Recipe:
    """How to make one built-in sound; `loop` is the loop length in seconds (beds only)."""

    description: str
    build: Callable[..., np.ndarray]
    level: float
    loop: float = 0.0


def rng_for(name: str) -> np.random.Generator:
    """Seeded from a stable hash so a sound renders identically on every run and machine."""
    return np.random.default_rng(zlib.crc32(name.encode()))


def times(seconds: float) -> np.ndarray:
    """Sample times for a buffer of the given duration."""
    return np.arange(round(seconds * RATE)) / RATE


def db(x: float) -> float:
    return 10 ** (x / 20)


def rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x))))


def to_rms(x: np.ndarray, level_db: float) -> np.ndarray:
    return x * (db(level_db) / max(rms(x), 1e-12))


def to_peak(x: np.ndarray, level_db: float) -> np.ndarray:
    return x * (db(level_db) / max(float(np.max(np.abs(x))), 1e-12))


def balance(x: np.ndarray) -> np.ndarray:
    """Equalise channel energy so a bed never leans to one side, whatever its panned events do."""
    per_channel = np.sqrt(np.mean(np.square(x), axis=0))
    return x * (per_channel.mean() / np.maximum(per_channel, 1e-12))


def pan(position: float | np.ndarray) -> np.ndarray:
    """Equal-power gains for position -1 (left) .. 1 (right); shape (..., 2)."""
    angle = (np.asarray(position) + 1) * np.pi / 4
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1) * np.sqrt(2)


def band_gain(n: int, lo: float | None, hi: float | None, order: int, tilt: float) -> np.ndarray:
    """Magnitude response of a Butterworth-shaped band (plus a spectral tilt, -0.5 = pink) on
    the rfft bins of an n-sample loop; DC removed."""
    f = np.fft.rfftfreq(n, 1 / RATE)
    f[0] = f[1]
    gain = np.ones_like(f)
    if hi:
        gain /= np.sqrt(1 + (f / hi) ** (2 * order))
    if lo:
        gain /= np.sqrt(1 + (lo / f) ** (2 * order))
    if tilt:
        gain *= (f / 1000) ** tilt
    gain[0] = 0
    return gain.astype(np.float32)


def loop_filter(
    x: np.ndarray, lo: float | None = None, hi: float | None = None, order: int = 2, tilt: float = 0
) -> np.ndarray:
    """Band filter applied via FFT: being circular, it keeps a loop seamless (beds only)."""
    gain = band_gain(len(x), lo, hi, order, tilt).reshape(-1, *[1] * (x.ndim - 1))
    return np.fft.irfft(np.fft.rfft(x.astype(np.float32), axis=0) * gain, len(x), axis=0)


def loop_noise(
    rng: np.random.Generator,
    n: int,
    lo: float | None = None,
    hi: float | None = None,
    order: int = 2,
    tilt: float = 0,
) -> np.ndarray:
    """Stereo band noise, independent per channel (decorrelated, equal spectrum).

    Drawn straight as a random spectrum: circular by construction and one FFT cheaper."""
    gain = band_gain(n, lo, hi, order, tilt)[:, None]
    shape = (len(gain), 2)
    draw = rng.standard_normal(shape, np.float32) + 1j * rng.standard_normal(shape, np.float32)
    return np.fft.irfft(gain * draw, n, axis=0) * np.float32(np.sqrt(n / 2))


def control(rng: np.random.Generator, n: int, lo: float, hi: float, channels: int) -> np.ndarray:
    """Random control signals band-limited to lo..hi Hz, periodic over a loop of n samples.

    Returned at a 100 Hz control rate (see `upsample`): slow movement needs no audio-rate work."""
    m = max(8, round(n / RATE * 100))
    hz = np.arange(m // 2 + 1) * RATE / n
    mask = ((hz >= lo) & (hz <= hi) & (hz > 0))[:, None]
    shape = (len(hz), channels)
    spectrum = mask * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    return np.fft.irfft(spectrum, m, axis=0)


def upsample(slow: np.ndarray, n: int) -> np.ndarray:
    """Periodic linear interpolation of control-rate rows (m, channels) to n samples."""
    closed = np.concatenate([slow, slow[:1]])
    where = np.arange(n) * (len(slow) / n)
    return np.stack([np.interp(where, np.arange(len(closed)), c) for c in closed.T], axis=1)


def unit(x: np.ndarray) -> np.ndarray:
    """Rescale each column to 0..1."""
    return (x - x.min(axis=0)) / np.ptp(x, axis=0)


def wobble(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    """Smooth periodic random movement in 0..1, no faster than about `rate` Hz."""
    return upsample(unit(control(rng, n, 0, max(rate, 2 * RATE / n), 1)), n)[:, 0]


def loop_tone(freq: float | np.ndarray, n: int, phase: float = 0.0) -> np.ndarray:
    """Sine whose average frequency is snapped to a whole number of cycles per loop."""
    freq = np.broadcast_to(np.asarray(freq, float), (n,))
    target = max(1, round(freq.mean() * n / RATE)) * RATE / n
    cycles = np.cumsum(freq - freq.mean() + target) / RATE
    return np.sin(2 * np.pi * (cycles - cycles[0]) + phase)


def place(loop: np.ndarray, event: np.ndarray, start: float) -> None:
    """Add a one-shot into a loop at `start` seconds, wrapping its tail round to the head."""
    idx = (round(start * RATE) + np.arange(len(event))) % len(loop)
    loop[idx] += event


def overlay(out: np.ndarray, part: np.ndarray, start: float) -> None:
    """Mix a part into a one-shot at `start` seconds; never wraps (an overflow raises)."""
    i = round(start * RATE)
    out[i : i + len(part)] += part


def circular(board: Pedalboard | Plugin, x: np.ndarray, preroll: float = 4.0) -> np.ndarray:
    """Run a stateful effect over the loop's own tail first, so the effect's tail wraps into the
    head. A 4 s pre-roll leaves even a large hall's mismatch ~60 dB down."""
    lead = min(len(x), round(preroll * RATE))
    return process(board, np.concatenate([x[len(x) - lead :], x]))[lead:]


def process(board: Pedalboard | Plugin, x: np.ndarray) -> np.ndarray:
    """Pedalboard on (samples, channels) or mono arrays."""
    mono = x.ndim == 1
    y = board((x[None] if mono else x.T).astype(np.float32), RATE, reset=True)
    return y[0] if mono else y.T


def band(
    x: np.ndarray, lo: float | None = None, hi: float | None = None, order: int = 2
) -> np.ndarray:
    """Causal Butterworth for one-shots: real resonances ring after the hit, never before.
    Along the first axis, like the (samples, channels) arrays the sounds are built from."""
    return np.moveaxis(_butter(lo, hi, order)(np.moveaxis(np.asarray(x), 0, -1)), -1, 0)


@cache
def _butter(lo: float | None, hi: float | None, order: int) -> Filter:
    """Filter designs are reused by hundreds of clicks and clinks; design each once."""
    return Filter(butterworth(order, lo, hi, RATE))


def taper(t: np.ndarray) -> np.ndarray:
    """Quarter-cosine fade over the last quarter of a part, so a truncated decay can't click."""
    return np.cos(np.pi / 2 * np.clip(4 * t / t[-1] - 3, 0, 1))


def decay(seconds: float, tau: float, attack: float = 0.001) -> np.ndarray:
    """Exponential decay envelope with a short linear attack (avoids a click on the onset)."""
    t = times(seconds)
    return np.minimum(t / attack, 1) * np.exp(-t / tau) * taper(t)


def ring(
    freqs: Sequence[float],
    decays: Sequence[float],
    amps: Sequence[float],
    seconds: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sum of decaying sine partials with random phases: struck glass, ceramic, metal, wood."""
    t = times(seconds)
    out = np.zeros_like(t)
    for f, tau, a in zip(freqs, decays, amps, strict=True):
        out += a * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi)) * np.exp(-t / tau)
    return out * np.minimum(t / 0.0005, 1) * taper(t)


def edges(x: np.ndarray, fade: float = 0.004) -> np.ndarray:
    """Short fades at both ends so one-shots never start or stop with a click."""
    n = min(round(fade * RATE), len(x) // 2)
    ramp = np.linspace(0, 1, n)
    x = x.copy()
    x[:n] *= ramp.reshape(-1, *[1] * (x.ndim - 1))
    x[len(x) - n :] *= ramp[::-1].reshape(-1, *[1] * (x.ndim - 1))
    return x
