"""Loudness to the podcast standard: -16 LUFS integrated, true peak at most -1 dBTP.

Mastering runs on every chapter of every build, so everything here is vectorized and works
only where it has to:

- Loudness is BS.1770 integrated loudness computed as pyloudnorm does it (its K-weighting
  coefficients, block bounds and gates) but in float32 with no Python loop over blocks:
  several times faster, within 0.01 LU of pyloudnorm (tested).
- True peak is the peak of the 4x oversampled signal, oversampling only the blocks that could
  hold it: an interpolated value is bounded by the samples around it (and their steps), so
  blocks far enough under the running peak are skipped. The answer is exact.
- The limiter is a look-ahead brick wall whose gain reduction is computed only around the
  samples over the ceiling, and the gain search reuses the input's K-weighted signal: a pass
  changes only the limited stretches, so only their loudness is recomputed.
- Memory: a chapter is tens of MB per copy, so nothing holds one it doesn't need. The input
  is read in place, and the K-weighted signal and other whole-signal intermediates are
  worked out piece by piece (K-weighting as its cut impulse response, mix/filters.py: no
  scipy to import), to float32 precision of whole-signal recursive passes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial, reduce
from itertools import pairwise
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from toolkit.memory import give_back_freed_memory
from toolkit.mix.filters import Filter
from toolkit.mix.timeline import RATE

TARGET_LUFS = -16.0
LUFS_TOLERANCE = 0.5
CEILING_DB = -1.0
# The limiter aims this far under the ceiling: MP3 encoding adds inter-sample overshoot
# (measured up to +1.3 dB on crushed gunshot-like bursts, ~0.2 dB on speech). The decoded
# file, not our float buffer, is what listeners hear: master.py checks it and adds headroom.
LIMITER_HEADROOM_DB = 1.0
# The limiter's gain comes from the input's peaks, and applying a moving gain reshapes the
# waveform a little, so an output peak may land a hair over; more than this lowers the
# limiter and redoes the pass.
_LIMITER_SLACK_DB = 0.25
# Aim well inside the tolerance so the encoder's small loudness change still passes.
_LUFS_AIM = 0.05
_MAX_PASSES = 12
# The gain is a multiple of this (dB), the loudness within half of it of the best gain: an
# edit moves a chapter's best gain by hundredths of a dB, so most leave the gain, and with it
# every sample before the edit, as it was (which the MP3 encoder's segment cache reuses).
_GAIN_STEP = 0.1
_MAX_LIMITING_DB = 40.0  # deeper than this the "drama" is a click: stop chasing loudness

# BS.1770 K-weighting as pyloudnorm's Meter designs it at RATE (its IIRfilter high_shelf
# 4 dB, Q 1/sqrt 2, 1500 Hz, then high_pass Q 0.5, 38 Hz; the tests check these against it),
# so our readings match the reference meter.
_K_WEIGHTING = Filter(
    np.array(
        [
            [1.5309095946396625, -2.651169032402396, 1.1691668584809876],
            [1.0, -1.663750110244495, 0.7126575309627482],
            [0.994607809439911, -1.989215618879822, 0.994607809439911],
            [1.0, -1.9892010416922554, 0.9892301960673886],
        ]
    ).reshape(2, 6)
)
_K_TAIL = 4096  # samples of zeros after which the K-weighting has rung out
assert _K_WEIGHTING.taps <= _K_TAIL
_PIECE = 13  # gating intervals (0.1 s each) per piece of K-weighted signal (see _KWeighted)
METER_CHUNK = 480 * 128  # samples: with the filter's taps before them, one FFT of 2 ** 16
_CHUNK = 1 << 16  # samples per piece of other whole-signal work
_GATE_BLOCK = 0.4  # seconds
_GATE_STEP = 0.25  # of a block: 75 % overlap
_ABSOLUTE_GATE = -70.0
_RELATIVE_GATE = -10.0

# True peak: 4x oversampling with resample_poly's default interpolator (an 81-tap Kaiser
# windowed sinc, firwin's design: sinc at the new Nyquist, Kaiser beta 5, unit DC gain), as
# a (taps, phases) matrix: one matrix product oversamples a window.
_OVERSAMPLE = 4
_REACH = 10  # input samples the interpolator reaches on each side
_TAPS = np.arange(-_REACH, _REACH + 1)
_SINC = np.sinc(np.arange(-_REACH * _OVERSAMPLE, _REACH * _OVERSAMPLE + 1) / _OVERSAMPLE)
_SINC *= np.kaiser(len(_SINC), 5.0)
_FIR = _OVERSAMPLE * _SINC / _SINC.sum()
# weight of x[n + tap] in the value at n + phase / 4
_PHASES = np.append(_FIR, np.zeros(_OVERSAMPLE))[
    np.arange(_OVERSAMPLE) + _OVERSAMPLE * (_REACH - _TAPS[:, None])
].astype(np.float32)


def _interpolation_bounds(phases: np.ndarray) -> tuple[float, float]:
    """(a, b): every oversampled value from x[n] to x[n+1] is at most a * max|x| +
    b * max|x[i] - x[i-1]| over the samples the interpolator reaches.

    Each phase is linear interpolation between x[n] and x[n+1] plus a correction whose taps
    nearly cancel; summed by parts, the correction weighs only sample-to-sample steps, which
    are small in all but the top octaves. For speech this bound is a dB or two over the
    samples, where the tap sum allows 7 dB."""
    on_peak = on_step = 0.0
    for phase, weights in enumerate(phases.T.astype(np.float64)):
        linear = np.select([_TAPS == 0, _TAPS == 1], [1 - phase / _OVERSAMPLE, phase / _OVERSAMPLE])
        rest = weights - linear
        # weight of x[n+i] - x[n+i-1]: the rest from tap i on (i >= 1) or before tap i (i <= 0)
        after = np.cumsum(rest[::-1])[::-1]
        before = np.cumsum(rest) - rest
        on_peak = max(on_peak, 1 + abs(rest.sum()))
        on_step = max(on_step, float(np.abs(np.where(_TAPS >= 1, after, -before)).sum()))
    return on_peak, on_step


_TAP_SUM = float(np.abs(_PHASES).sum(axis=0).max())  # no value exceeds this times max|x|
_ON_PEAK, _ON_STEP = _interpolation_bounds(_PHASES)
_PEAK_BLOCK = 128  # samples per block of the skip test
_PEAK_BATCH = 1024  # blocks oversampled at once, bounding the temporary memory

# Limiter. Inter-sample peaks of real audio sit at most ~1.2 dB above the samples around
# them (measured on the story; a tone at a quarter of the rate reaches 3 dB), so the limiter
# oversamples only blocks within this of its ceiling; the result is measured exactly after.
_OVERSHOOT_DB = 4.0
_ATTACK = round(0.002 * RATE)  # samples of look-ahead ramp into a peak
_HOLD = 2  # samples held at full reduction on both sides of a peak
_RELEASE = 0.1 * RATE  # samples for the reduction (in dB, plus the bias) to fall by e
_RELEASE_BIAS_DB = 0.5  # the release decays toward this much boost, so it ends


def integrated_lufs(audio: np.ndarray) -> float:
    """BS.1770 integrated loudness of mono (samples,) or stereo (samples, 2); -inf for
    silence. Raises ValueError under 0.4 s, like pyloudnorm."""
    x = _channels_first(audio)
    gating = _Gating(x.shape[1])
    return gating.lufs(_KWeighted(x, gating).energies)


def true_peak_db(audio: np.ndarray) -> float:
    """Peak of the 4x oversampled signal in dBTP (catches peaks between samples)."""
    x = _channels_first(audio)
    peak = _true_peak(x, _block_peaks(x)) if x.size else 0.0
    return 20 * math.log10(peak) if peak > 0 else -math.inf


class Meter:
    """Integrated loudness and true peak of audio given in consecutive (channels, samples)
    chunks, each a whole number of _PEAK_BLOCK samples but the last (METER_CHUNK fills one
    pass of the K-weighting's FFT): what integrated_lufs and true_peak_db give for the
    whole, holding only the chunk whose true peak waits for the first samples of the next."""

    def __init__(self, n: int) -> None:
        self.gating = _Gating(n)
        self.summed = np.zeros(len(self.gating.edges))  # K-weighted energy before each edge
        self.total, self.at = 0.0, 0
        self.history: np.ndarray | None = None  # the filter's input before the next chunk
        self.lead: np.ndarray | None = None  # the last block before the waiting chunk
        self.waiting: np.ndarray | None = None
        self.peak = 0.0

    def add(self, chunk: np.ndarray) -> None:
        k = _K_WEIGHTING(chunk, self.history)
        raw = chunk if self.history is None else np.concatenate([self.history, chunk], axis=1)
        self.history = _K_WEIGHTING.history(raw, None)
        summed = self.total + np.cumsum(_power(k), dtype=np.float64)
        edges, end = self.gating.edges, self.at + chunk.shape[1]
        i, j = np.searchsorted(edges, [self.at, end], side="right")  # edges in (at, end]
        self.summed[i:j] = summed[edges[i:j] - self.at - 1]
        self.total, self.at = (float(summed[-1]) if summed.size else self.total), end
        if self.waiting is not None:
            self._measure(chunk[:, :_PEAK_BLOCK])
        self.waiting = chunk

    def result(self) -> tuple[float, float]:
        """(LUFS, dBTP) of everything added."""
        if self.waiting is not None:
            self._measure(self.waiting[:, :0])
            self.waiting = None
        return self.gating.lufs(np.diff(self.summed)), _db(self.peak)

    def _measure(self, after: np.ndarray) -> None:
        """Take the waiting chunk's true peak, with a block of its neighbours on each side."""
        current = self.waiting
        lead = current[:, :0] if self.lead is None else self.lead
        window = np.concatenate([lead, current, after], axis=1)
        self.peak = _true_peak_inside(window, lead.shape[1], current.shape[1], self.peak)
        self.lead = current[:, -_PEAK_BLOCK:]


def normalize(
    audio: np.ndarray,
    target_lufs: float = TARGET_LUFS,
    ceiling_db: float = CEILING_DB,
    headroom_db: float = LIMITER_HEADROOM_DB,
) -> np.ndarray:
    """Gain to `target_lufs`, then brick-wall limit at `ceiling_db - headroom_db` dBTP."""
    leveled = Leveler(audio).level(target_lufs, ceiling_db - headroom_db)[0]
    return leveled.reshape(np.shape(audio))


class Setting(NamedTuple):
    """What a Leveler does to its input: a gain and the limiter's cuts."""

    gain_db: float
    cuts: _Cuts


class Leveler:
    """One input's analysis (K-weighted signal, block energies, block peaks), shared by every
    pass of the gain search and by master.py's retries after encoding. Reads the input in
    place: it must not change while the Leveler is in use."""

    def __init__(self, audio: np.ndarray) -> None:
        self.x = _channels_first(audio)
        self.gating = _Gating(self.x.shape[1])
        self.k = _KWeighted(self.x, self.gating)
        self.energies = self.k.energies
        self.lufs = self.gating.lufs(self.energies)
        self.peaks = _block_peaks(self.x)
        self.true_peak = _true_peak(self.x, self.peaks)
        # Per-sample true peak envelope of the blocks the limiter looked at, and each block's
        # row in it (-1 until computed): a few scattered blocks, kept together.
        self._envelope = np.zeros((0, _PEAK_BLOCK), np.float32)
        self._rows = np.full(len(self.peaks), -1)

    def level(self, target_lufs: float, peak_db: float) -> tuple[np.ndarray, Setting]:
        """Audio (samples, channels) at `target_lufs`, limited to `peak_db` dBTP, and the
        Setting that gives it (see setting())."""
        setting = self.setting(target_lufs, peak_db)
        return self.render(setting), setting

    def setting(self, target_lufs: float, peak_db: float) -> Setting:
        """The gain and cuts that bring the input to `target_lufs`, limited to `peak_db` dBTP
        (render and rendered make the audio from it). Its true peak is measured a stretch
        at a time: no copy of the whole audio is made.

        Limiting lowers the loudness, and BS.1770's relative gate can even make it fall as
        the gain rises (crushed gunshots stop dominating once the dialogue passes the gate),
        so the gain is searched: steps along the slope of the last passes until the target
        is bracketed, then regula falsi inside the bracket. If the result's true peak gets past the limiter, the
        limiter is lowered and the search redone. Audio that cannot reach the target within
        _MAX_LIMITING_DB of limiting (a lone click in silence) gets the pass nearest it; the
        measured Episode then shows the miss."""
        if not math.isfinite(self.lufs):
            return Setting(0.0, _NO_CUTS)
        limit_db = peak_db
        for _ in range(_MAX_PASSES):
            setting = Setting(*self._search(target_lufs, peak_db, limit_db))
            peak = _true_peak_in_stretches(partial(self.part, setting), self.x.shape[1])
            overshoot = _db(peak) - (peak_db + _LIMITER_SLACK_DB)
            if overshoot <= 0:
                break
            limit_db -= overshoot + 0.1
        return setting

    def render(self, setting: Setting) -> np.ndarray:
        """The audio (samples, channels) of a Setting, whole."""
        return self.part(setting, 0, self.x.shape[1]).T

    def rendered(self, setting: Setting) -> Rendered:
        """The audio of a Setting, made a stretch at a time as it is sliced."""
        return Rendered(partial(self.part, setting), self.x.shape[1])

    def part(self, setting: Setting, lo: int, hi: int) -> np.ndarray:
        """Samples lo..hi (channels, samples) of a Setting's audio: the gain, and the cuts
        that fall there."""
        y = self.x[:, lo:hi] * np.float32(10 ** (setting.gain_db / 20))
        cuts = setting.cuts
        first, last = np.searchsorted(cuts.stops, lo, "right"), np.searchsorted(cuts.starts, hi)
        if first < last:
            offsets = np.cumsum(cuts.stops - cuts.starts) - (cuts.stops - cuts.starts)
            starts = np.maximum(cuts.starts[first:last], lo)
            stops = np.minimum(cuts.stops[first:last], hi)
            at = offsets[first:last] + starts - cuts.starts[first:last]
            y[:, _ranges(starts - lo, stops - lo)] *= 10 ** (
                cuts.db[_ranges(at, at + stops - starts)] / np.float32(-20)
            )
        return y

    def _search(self, target: float, peak_db: float, limit_db: float) -> tuple[float, _Cuts]:
        """The gain (dB) whose limited loudness is nearest `target`, with its cuts."""
        most_gain = peak_db - _db(self.true_peak) + _MAX_LIMITING_DB
        gain_db, stride = min(target - self.lufs, most_gain), 1.0
        quiet: tuple[float, float] | None = None  # (gain, loudness) of a pass under target
        loud: tuple[float, float] | None = None
        best: tuple[float, float, _Cuts] | None = None  # (distance from target, gain, cuts)
        last: tuple[float, float] | None = None
        tried: set[float] = set()
        for _ in range(_MAX_PASSES):
            gain_db = round(gain_db / _GAIN_STEP) * _GAIN_STEP
            if gain_db in tried:  # the search has narrowed to the grid's step
                break
            tried.add(gain_db)
            cuts = self._cuts(10 ** (gain_db / 20), 10 ** (limit_db / 20))
            lufs = self._limited_lufs(gain_db, cuts)
            if best is None or abs(lufs - target) < best[0]:
                best = (abs(lufs - target), gain_db, cuts)
            if best[0] <= _LUFS_AIM:
                break
            if lufs < target:
                quiet = (gain_db, lufs)
            else:
                loud = (gain_db, lufs)
            if quiet and loud:
                gain_db = _between(quiet, loud, target)
            elif gain_db >= most_gain and lufs < target:
                break
            else:
                # Limiting takes back part of each dB of gain, so a 1:1 step falls short:
                # follow the slope of the last two passes, or widen the steps while there is
                # none, never stepping further than the widening would.
                reach = stride
                if last and (lufs - last[1]) * (gain_db - last[0]) > 0:
                    reach = min(stride, (gain_db - last[0]) / (lufs - last[1]))
                last = (gain_db, lufs)
                gain_db = min(gain_db + (target - lufs) * reach, most_gain)
                stride *= 2
        self.k.pieces.clear()  # needed again only by another search
        give_back_freed_memory()
        return best[1], best[2]

    def _cuts(self, gain: float, limit: float) -> _Cuts:
        """Gain reduction that holds `gain` * input under `limit` (linear) true peak: the
        reduction each oversampled peak needs, held over a few samples and ramped into over
        _ATTACK, then released exponentially (in dB) toward _RELEASE_BIAS_DB below zero so
        that it ends."""
        n = self.x.shape[1]
        near = _near(self.peaks) * (gain * 10 ** (_OVERSHOOT_DB / 20))
        blocks = np.flatnonzero(near > limit)
        envelope = self._oversampled(blocks) * np.float32(gain)
        block, offset = np.nonzero(envelope > limit)
        peaks = blocks[block] * _PEAK_BLOCK + offset
        inside = peaks < n
        peaks, over = peaks[inside], envelope[block, offset][inside]
        if not peaks.size:
            return _NO_CUTS
        # Stretches around the peaks, far enough apart that their ramps cannot meet.
        reach = _ATTACK + _HOLD + 2
        first = np.r_[True, np.diff(peaks) > 2 * reach]
        starts = np.maximum(peaks[first] - reach, 0)
        stops = np.minimum(peaks[np.r_[first[1:], True]] + reach + 1, n)
        lengths = stops - starts
        offsets = np.cumsum(lengths) - lengths
        stretch = np.cumsum(first) - 1
        need = np.zeros(lengths.sum())
        need[offsets[stretch] + peaks - starts[stretch]] = 20 * np.log10(over / limit)
        # Held over _ATTACK + 2 * _HOLD + 1 samples ahead, then averaged over _ATTACK
        # behind: every sample gets at least its own need, ramped in linearly.
        size = _ATTACK + 2 * _HOLD + 1
        held = _window_max(np.pad(need, (_HOLD, size - 1 - _HOLD), mode="symmetric"), size)
        summed = np.cumsum(np.pad(held, (_ATTACK, 0), mode="edge"))
        ramped = (summed[_ATTACK:] - summed[:-_ATTACK]) / _ATTACK
        # Release: each sample keeps the decayed reduction of every sample before it (a
        # running maximum in the log domain, where decay is a straight line).
        t = _ranges(starts, stops) / _RELEASE
        decayed = np.maximum.accumulate(np.log(ramped + _RELEASE_BIAS_DB) + t)
        cut = np.exp(decayed - t) - _RELEASE_BIAS_DB
        # Each stretch's release runs on after it until it ends or the next stretch begins.
        last = decayed[offsets + lengths - 1]
        fade = np.ceil(_RELEASE * (last - np.log(_RELEASE_BIAS_DB))).astype(np.int64) - stops
        tails = np.clip(fade, 0, np.r_[starts[1:], n] - stops)
        tail_t = _ranges(stops, stops + tails) / _RELEASE
        tail_cut = np.exp(np.repeat(last, tails) - tail_t) - _RELEASE_BIAS_DB
        ends = stops + tails
        at = np.cumsum(ends - starts) - (ends - starts)  # where each segment's values start
        db = np.empty((ends - starts).sum(), np.float32)
        db[_ranges(at, at + lengths)] = cut
        db[_ranges(at + lengths, at + lengths + tails)] = tail_cut
        return _Cuts(starts, ends, np.maximum(db, 0))

    def _oversampled(self, blocks: np.ndarray) -> np.ndarray:
        """Per-sample true peak envelope of the input's `blocks`, computed once per block."""
        todo = blocks[self._rows[blocks] < 0]
        if todo.size:
            fresh = [
                _oversampled_peaks(self.x, todo[start : start + _PEAK_BATCH])
                for start in range(0, len(todo), _PEAK_BATCH)
            ]
            self._rows[todo] = len(self._envelope) + np.arange(len(todo))
            self._envelope = np.concatenate([self._envelope, *fresh])
        return self._envelope[self._rows[blocks]]

    def _limited_lufs(self, gain_db: float, cuts: _Cuts) -> float:
        """Loudness of the input at `gain_db` with `cuts` applied. K-weighting is linear, so
        the limited signal K-weighted is gain * K(input) + K(what the cuts took away), and
        the second term only lives in the cut segments and the filter's tail after them."""
        gain = 10 ** (gain_db / 20)
        energies = self.energies * gain**2
        if not cuts.starts.size:
            return self.gating.lufs(energies)
        # Segments closer than the filter's tail are filtered together; the others back to
        # back, each one's tail of zeros letting the filter ring out before the next.
        first = np.r_[True, cuts.starts[1:] - cuts.stops[:-1] > _K_TAIL]
        group = np.cumsum(first) - 1
        starts = cuts.starts[first]
        stops = np.minimum(cuts.stops[np.r_[first[1:], True]] + _K_TAIL, self.x.shape[1])
        lengths = stops - starts
        offsets = np.cumsum(lengths) - lengths  # of each stretch, back to back
        at = offsets[group] + cuts.starts - starts[group]
        cut = _ranges(at, at + cuts.stops - cuts.starts)  # where the cut samples are
        factor = 10 ** (cuts.db / -20) - 1  # their gain change: limited - 1
        # The change of power is summed in float64 from the first stretch on, as one cumsum
        # would; the sums are wanted where the gating edges fall.
        stretch = np.searchsorted(starts, self.gating.edges, side="right") - 1
        inside = np.minimum(self.gating.edges - starts[stretch], lengths[stretch])
        before = np.where(stretch >= 0, offsets[stretch] + inside, 0)  # samples before each
        at_edges = np.zeros(len(before))
        history = np.zeros((self.x.shape[0], _K_WEIGHTING.taps - 1), np.float32)
        summed = np.zeros(1)
        # A _CHUNK of the stretches at a time: the filter's input history and the running
        # sum carry over.
        for lo in range(0, int(lengths.sum()), _CHUNK):
            hi = min(lo + _CHUNK, int(lengths.sum()))
            part = (offsets < hi) & (offsets + lengths > lo)
            part_starts = starts[part] + np.maximum(lo - offsets[part], 0)
            part_stops = starts[part] + np.minimum(hi - offsets[part], lengths[part])
            gains = np.zeros(hi - lo, np.float32)
            i, j = np.searchsorted(cut, [lo, hi])
            gains[cut[i:j] - lo] = factor[i:j]
            gains *= np.float32(gain)
            removed = self.x[:, _ranges(part_starts, part_stops)]
            removed *= gains
            raw, removed = removed, _K_WEIGHTING(removed, history)  # minus the change
            history = _K_WEIGHTING.history(np.concatenate([history, raw], axis=1), None)
            # (g k + r)^2 - (g k)^2 = r (2 g k + r): the change of each sample's power
            weighted = self.k.at(part_starts, part_stops)
            weighted *= np.float32(2 * gain)
            weighted += removed
            change = np.einsum("ij,ij->j", removed, weighted)
            summed = np.cumsum(np.r_[summed[-1], change.astype(np.float64)])
            here = (before >= lo) & (before <= hi)
            at_edges[here] = summed[before[here] - lo]
        return self.gating.lufs(energies + np.diff(at_edges))


class Rendered:
    """Audio (samples, channels) made when sliced, a stretch at a time, by `part(lo, hi)`
    (which gives it channels first): a master's output, encoded and measured without a
    second chapter-length buffer beside its input."""

    def __init__(self, part: Callable[[int, int], np.ndarray], n: int) -> None:
        self.part, self.n = part, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, where: slice) -> np.ndarray:
        lo, hi, _ = where.indices(self.n)
        return self.part(lo, max(lo, hi)).T


class _Cuts(NamedTuple):
    """Limiter gain reduction: sorted disjoint sample segments [starts, stops) and the
    reduction in dB for each of their samples, concatenated. Elsewhere the gain is 1."""

    starts: np.ndarray
    stops: np.ndarray
    db: np.ndarray


_NO_CUTS = _Cuts(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32))


class _Gating:
    """pyloudnorm's 400 ms gating blocks at 75 % overlap for `n` samples. Blocks are built
    from the intervals between consecutive block edges, so block energies are sums of
    interval energies and a change to a few samples updates only their intervals."""

    def __init__(self, n: int) -> None:
        if n < _GATE_BLOCK * RATE:
            raise ValueError("Audio must have length greater than the block size.")
        j = np.arange(int(np.round((n / RATE - _GATE_BLOCK) / (_GATE_BLOCK * _GATE_STEP))) + 1)
        # pyloudnorm's own float expressions, so the bounds agree to the sample
        lo = (_GATE_BLOCK * (j * _GATE_STEP) * RATE).astype(np.int64)
        hi = np.minimum((_GATE_BLOCK * (j * _GATE_STEP + 1) * RATE).astype(np.int64), n)
        self.edges = np.unique(np.concatenate([lo, hi]))
        self.lo = np.searchsorted(self.edges, lo)
        self.hi = np.searchsorted(self.edges, hi)

    def lufs(self, energies: np.ndarray) -> float:
        """Gated integrated loudness from interval energies."""
        summed = np.concatenate([[0.0], np.cumsum(energies)])
        z = (summed[self.hi] - summed[self.lo]) / (_GATE_BLOCK * RATE)
        with np.errstate(divide="ignore"):
            level = -0.691 + 10 * np.log10(z)
        above = z[level >= _ABSOLUTE_GATE]
        if not above.size:
            return -math.inf
        gate = -0.691 + 10 * math.log10(above.mean()) + _RELATIVE_GATE
        kept = z[(level > gate) & (level > _ABSOLUTE_GATE)]
        return -0.691 + 10 * math.log10(kept.mean()) if kept.size else -math.inf


class _KWeighted:
    """The K-weighted signal of (channels, samples) `x`, filtered a piece of _PIECE gating
    intervals at a time: the energy of each interval (summed in float64: the gain search
    subtracts what limiting removes, which can be nearly all of it), and the weighted
    samples of any piece again on demand, the same floats, without holding the whole
    weighted signal."""

    def __init__(self, x: np.ndarray, gating: _Gating) -> None:
        self.x = x
        edges = gating.edges
        self.bounds = np.unique(np.r_[edges[::_PIECE], edges[-1], x.shape[1]])
        self.pieces: dict[int, np.ndarray] = {}  # the ones asked for
        energies = []
        for lo, hi in pairwise(self.bounds):
            k = self.piece(lo, hi)
            if hi <= edges[-1]:  # pieces start and end on edges up to there
                inner = edges[np.searchsorted(edges, lo) : np.searchsorted(edges, hi)]
                energies.append(np.add.reduceat(_power(k), inner - lo, dtype=np.float64))
        self.energies = np.concatenate(energies)

    def at(self, starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
        """The weighted samples (channels, samples) of the sorted, disjoint stretches
        starts..stops, back to back."""
        out = np.empty((self.x.shape[0], int((stops - starts).sum())), np.float32)
        bounds, to = self.bounds.tolist(), 0
        pieces = np.searchsorted(self.bounds, starts, side="right") - 1
        for start, stop, piece in zip(
            starts.tolist(), stops.tolist(), pieces.tolist(), strict=True
        ):
            while start < stop:  # through the pieces the stretch spans
                lo, end = bounds[piece], min(stop, bounds[piece + 1])
                if piece not in self.pieces:
                    self.pieces[piece] = self.piece(lo, bounds[piece + 1])
                out[:, to : to + end - start] = self.pieces[piece][:, start - lo : end - lo]
                to, start, piece = to + end - start, end, piece + 1
        return out

    def piece(self, lo: int, hi: int) -> np.ndarray:
        """Samples lo..hi K-weighted, from the input before them."""
        return _K_WEIGHTING(self.x[:, lo:hi], _K_WEIGHTING.history(self.x, lo))


def _channels_first(audio: np.ndarray) -> np.ndarray:
    """(channels, samples) float32: a view of the input when it is float32 already."""
    x = np.asarray(audio, dtype=np.float32)
    return x[None] if x.ndim == 1 else x.T


def _power(k: np.ndarray) -> np.ndarray:
    """Per-sample power summed over channels (BS.1770 weighs L, R and C by 1)."""
    return np.einsum("ij,ij->j", k, k)


def _chunks(n: int) -> list[tuple[int, int]]:
    """Consecutive whole-block stretches of about _CHUNK samples covering n samples."""
    step = max(_CHUNK // _PEAK_BLOCK, 1) * _PEAK_BLOCK
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


def _block_peaks(x: np.ndarray) -> np.ndarray:
    """Largest |sample| of each _PEAK_BLOCK samples, over all channels (the last may be short)."""
    peaks = np.zeros(-(-x.shape[1] // _PEAK_BLOCK), x.dtype)
    for lo, hi in _chunks(x.shape[1]):
        starts = np.arange(0, hi - lo, _PEAK_BLOCK)
        peaks[lo // _PEAK_BLOCK : lo // _PEAK_BLOCK + len(starts)] = _largest_magnitude(
            np.ascontiguousarray(x[:, lo:hi]), starts
        )
    return peaks


def _largest_magnitude(a: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Largest |value| of (channels, n) `a` between consecutive `starts`, over channels."""
    highest = np.maximum.reduceat(a, starts, axis=1).max(axis=0)
    lowest = np.minimum.reduceat(a, starts, axis=1).min(axis=0)
    return np.maximum(highest, -lowest)


def _near(peaks: np.ndarray) -> np.ndarray:
    """Each block's peak or its neighbours', whichever is largest: the samples the
    interpolator reaches from inside the block."""
    near = peaks.copy()
    np.maximum(near[1:], peaks[:-1], out=near[1:])
    np.maximum(near[:-1], peaks[1:], out=near[:-1])
    return near


def _true_peak(
    x: np.ndarray, peaks: np.ndarray, first: int = 0, last: int | None = None, floor: float = 0.0
) -> float:
    """Linear true peak of (channels, samples) `x` with block peaks `peaks`, oversampling
    only the blocks whose bound beats the running peak, most promising first; of blocks
    first..last only, when given (the others are there for those blocks' neighbours). The
    answer is at least `floor` (the peak found so far elsewhere: fewer blocks to look at)."""
    peak = max(floor, float(peaks.max(initial=0.0)))
    near = _near(peaks)
    bound = near * _TAP_SUM
    todo = np.flatnonzero(bound > peak)
    todo = todo[(todo >= first) & (todo < (len(peaks) if last is None else last))]
    if len(todo) > _PEAK_BATCH:  # a tighter bound costs less than oversampling them all
        steps = _near(_block_steps(x, peaks))
        bound = np.minimum(bound, near * _ON_PEAK + steps * _ON_STEP)
        todo = todo[bound[todo] > peak]
    todo = todo[np.argsort(-bound[todo], kind="stable")]
    for start in range(0, len(todo), _PEAK_BATCH):
        batch = todo[start : start + _PEAK_BATCH]
        batch = batch[bound[batch] > peak]
        if not batch.size:
            break
        peak = max(peak, float(_oversampled_peaks(x, batch).max()))
    return peak


def _true_peak_in_stretches(part: Callable[[int, int], np.ndarray], n: int) -> float:
    """Linear true peak of n samples given by `part(lo, hi)` (channels, samples), asked for a
    stretch at a time with a block of its neighbours on each side: the whole one's exactly."""
    peak = 0.0
    for lo, hi in _chunks(n):
        a, b = max(lo - _PEAK_BLOCK, 0), min(hi + _PEAK_BLOCK, n)
        peak = _true_peak_inside(part(a, b), lo - a, hi - lo, peak)
    return peak


def _true_peak_inside(window: np.ndarray, lead: int, n: int, floor: float) -> float:
    """Linear true peak (at least `floor`) of the n samples of `window` after its first
    `lead` (0 or _PEAK_BLOCK), the samples around them there for the interpolator."""
    first = lead // _PEAK_BLOCK
    return _true_peak(window, _block_peaks(window), first, first + -(-n // _PEAK_BLOCK), floor)


def _block_steps(x: np.ndarray, peaks: np.ndarray) -> np.ndarray:
    """Largest |x[i] - x[i-1]| in each block, over channels. The steps in from and out to
    the zeros beyond the ends are at most the end blocks' peaks."""
    out = np.zeros_like(peaks)
    for lo, hi in _chunks(x.shape[1]):
        # steps[:, i] = x[first + i + 1] - x[first + i]: a block gets the steps into its
        # samples (the first block, those after its first sample)
        first = max(lo - 1, 0)
        steps = np.diff(x[:, first:hi], axis=1)
        starts = np.maximum(np.arange(lo, hi, _PEAK_BLOCK) - 1, 0) - first
        out[lo // _PEAK_BLOCK : lo // _PEAK_BLOCK + len(starts)] = _largest_magnitude(steps, starts)
    out[[0, -1]] = np.maximum(out[[0, -1]], peaks[[0, -1]])
    return out


def _oversampled_peaks(x: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """(len(blocks), _PEAK_BLOCK): per sample, the largest |4x oversampled value| from it up
    to the next sample, over channels; zeros beyond the ends, as resample_poly pads."""
    n = x.shape[1]
    index = blocks[:, None] * _PEAK_BLOCK + np.arange(-_REACH, _PEAK_BLOCK + _REACH)
    windows = x[:, np.clip(index, 0, n - 1)]
    windows[:, (index < 0) | (index >= n)] = 0
    up = np.abs(sliding_window_view(windows, len(_TAPS), axis=-1) @ _PHASES)
    # one maximum per phase: far faster than a reduction over the short last axis
    return reduce(np.maximum, (up[..., p] for p in range(_OVERSAMPLE))).max(axis=0)


def _window_max(a: np.ndarray, size: int) -> np.ndarray:
    """max(a[i : i + size]) for each i that fits, in log2(size) passes."""
    width = 1
    while 2 * width <= size:
        a, width = np.maximum(a[:-width], a[width:]), 2 * width
    n = len(a) - (size - width)
    return np.maximum(a[:n], a[size - width :])


def _ranges(starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Concatenated np.arange(start, stop) for each pair, vectorized."""
    lengths = stops - starts
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(lengths.sum()) + offsets


def _between(quiet: tuple[float, float], loud: tuple[float, float], target: float) -> float:
    """Interpolate the gain for `target` between a too-quiet and a too-loud pass, kept off
    the ends so the bracket always shrinks."""
    (g0, l0), (g1, l1) = quiet, loud
    gain = g0 + (target - l0) * (g1 - g0) / (l1 - l0)
    low, high = min(g0, g1), max(g0, g1)
    margin = (high - low) / 10
    return min(max(gain, low + margin), high - margin)


def _db(linear: float) -> float:
    return 20 * math.log10(linear) if linear > 0 else -math.inf
