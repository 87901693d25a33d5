"""Loudness to the podcast standard: -16 LUFS integrated, true peak at most -1 dBTP.

pyloudnorm measures BS.1770 integrated loudness but has no true-peak meter, so peaks are
measured on a 4x oversampled copy. Limiting uses pedalboard's BrickwallLimiter (lookahead,
true-peak sidechain, no makeup gain): pedalboard's older `Limiter` is a loudness maximizer
that adds makeup gain and clips at 0 dBFS, so it cannot hold a -1 dBTP ceiling."""

from __future__ import annotations

import math

import numpy as np
import pyloudnorm
from pedalboard import BrickwallLimiter
from scipy.signal import resample_poly

from toolkit.mix.timeline import RATE

TARGET_LUFS = -16.0
LUFS_TOLERANCE = 0.5
CEILING_DB = -1.0
# The limiter aims this far under the ceiling: MP3 encoding adds inter-sample overshoot
# (measured up to +1.3 dB on crushed gunshot-like bursts, ~0.2 dB on speech). The decoded
# file, not our float buffer, is what listeners hear: master.py checks it and adds headroom.
LIMITER_HEADROOM_DB = 1.0
# BrickwallLimiter's true-peak sidechain lets a little through; more than this is retried.
_LIMITER_SLACK_DB = 0.25
# Aim well inside the tolerance so small measurement differences (decoder, meter) still pass.
_LUFS_AIM = 0.1
_MAX_PASSES = 12
_MAX_LIMITING_DB = 40.0  # deeper than this the "drama" is a click: stop chasing loudness
_MIN_LUFS_SECONDS = 0.4  # pyloudnorm's gating block: shorter clips cannot be measured
_TP_CHUNK = 1 << 20  # oversample in chunks: a 4x copy of a whole hour would need gigabytes
_TP_PAD = 64  # input samples of context per side; resample_poly's filter spans 10


def integrated_lufs(audio: np.ndarray) -> float:
    """BS.1770 integrated loudness of (samples,) or (samples, channels); -inf for silence."""
    x = np.asarray(audio, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return float(pyloudnorm.Meter(RATE).integrated_loudness(x))


def true_peak_db(audio: np.ndarray) -> float:
    """Peak of the 4x oversampled signal in dBTP (catches peaks between samples)."""
    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    peak = float(np.abs(x).max(initial=0.0))
    for start in range(0, len(x), _TP_CHUNK):
        stop = min(start + _TP_CHUNK, len(x))
        lo, hi = max(0, start - _TP_PAD), min(len(x), stop + _TP_PAD)
        up = resample_poly(x[lo:hi], 4, 1, axis=0)
        peak = max(peak, float(np.abs(up[(start - lo) * 4 : (stop - lo) * 4]).max()))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def normalize(
    audio: np.ndarray,
    target_lufs: float = TARGET_LUFS,
    ceiling_db: float = CEILING_DB,
    headroom_db: float = LIMITER_HEADROOM_DB,
) -> np.ndarray:
    """Gain to `target_lufs`, then brick-wall limit at `ceiling_db - headroom_db` dBTP.

    Limiting lowers the loudness, and BS.1770's relative gate can even make it fall as the
    gain rises (crushed gunshots stop dominating once the dialogue passes the gate), so each
    pass redoes gain and limiter from the original audio while searching the gain: widening
    steps until the target is bracketed, then regula falsi inside the bracket. A pass whose
    limiter lets peaks through lowers the limiter. Audio that cannot reach the target within
    _MAX_LIMITING_DB of limiting (a lone click in silence) gets the pass nearest the target;
    the measured Episode then shows the miss."""
    x = np.ascontiguousarray(audio, dtype=np.float32)
    lufs = integrated_lufs(x)
    if not math.isfinite(lufs):
        return x.copy()
    peak_goal = ceiling_db - headroom_db
    most_gain = peak_goal - true_peak_db(x) + _MAX_LIMITING_DB
    limit_db, gain_db, stride = peak_goal, min(target_lufs - lufs, most_gain), 1.0
    quiet: tuple[float, float] | None = None  # (gain, loudness) of a pass under the target
    loud: tuple[float, float] | None = None
    best: tuple[float, np.ndarray] | None = None  # (distance from target, audio)
    for _ in range(_MAX_PASSES):
        y = _limit(x * np.float32(10 ** (gain_db / 20)), limit_db)
        overshoot = true_peak_db(y) - (peak_goal + _LIMITER_SLACK_DB)
        if overshoot > 0:
            limit_db -= overshoot + 0.1
            continue
        lufs = integrated_lufs(y)
        if best is None or abs(lufs - target_lufs) < best[0]:
            best = (abs(lufs - target_lufs), y)
        if best[0] <= _LUFS_AIM:
            break
        if lufs < target_lufs:
            quiet = (gain_db, lufs)
        else:
            loud = (gain_db, lufs)
        if quiet and loud:
            gain_db = _between(quiet, loud, target_lufs)
        elif gain_db >= most_gain and lufs < target_lufs:
            break
        else:  # limiting only takes loudness away: a 1:1 step falls short, so widen them
            gain_db = min(gain_db + (target_lufs - lufs) * stride, most_gain)
            stride *= 2
    return y if best is None else best[1]


def level_voice(clip_mono: np.ndarray, target_lufs: float = -20.0) -> np.ndarray:
    """Scale one speech clip to `target_lufs` so voices from different engines sit together.

    Clips under 0.4 s fall back to RMS in dBFS, which for mono speech is within a fraction
    of a dB of LUFS (K-weighting is nearly flat through the voice band)."""
    x = np.asarray(clip_mono, dtype=np.float32)
    if len(x) >= _MIN_LUFS_SECONDS * RATE:
        level = integrated_lufs(x)
    else:
        ms = float(np.mean(np.square(x, dtype=np.float64))) if len(x) else 0.0
        level = 10 * math.log10(ms) if ms > 0 else -math.inf
    if not math.isfinite(level):
        return x.copy()
    return x * np.float32(10 ** ((target_lufs - level) / 20))


def _between(quiet: tuple[float, float], loud: tuple[float, float], target: float) -> float:
    """Interpolate the gain for `target` between a too-quiet and a too-loud pass, kept off
    the ends so the bracket always shrinks."""
    (g0, l0), (g1, l1) = quiet, loud
    gain = g0 + (target - l0) * (g1 - g0) / (l1 - l0)
    low, high = min(g0, g1), max(g0, g1)
    margin = (high - low) / 10
    return min(max(gain, low + margin), high - margin)


def _limit(audio: np.ndarray, ceiling_db: float) -> np.ndarray:
    """Lookahead limiter with a 4x oversampled sidechain; audio is (samples, channels)."""
    limiter = BrickwallLimiter(ceiling_db=ceiling_db, release_ms=100.0, true_peak=True)
    return limiter(audio.T, RATE).T.copy()
