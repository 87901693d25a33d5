"""IIR filters (second-order sections) applied as their impulse response by FFT convolution.

scipy.signal takes 1-2 s to import, more than a one-line edit should cost, so the filters
the mix and the meters use are designed once (their coefficients are constants here, checked
against scipy's and pyloudnorm's designs in the tests) and run with numpy alone. A stable
filter's response dies away geometrically: cut where it stays under 1e-9 of its peak, the
convolution gives the recursive filter's output to float32 precision, and a stretch can be
filtered on its own from the input just before it (no filter state to carry)."""

from __future__ import annotations

import numpy as np

_FLOOR = 1e-9  # the response is cut where it stays under this share of its peak
_GRID = 1 << 18  # points the frequency response is sampled at: far past any tail here
_BLOCK = 1 << 16  # FFT size of the overlap-save convolution


class Filter:
    """A filter given as rows of (b0, b1, b2, a0, a1, a2), like scipy's `sos`."""

    def __init__(self, sos: np.ndarray) -> None:
        self.sos = np.asarray(sos, np.float64)
        z = np.exp(-2j * np.pi * np.fft.rfftfreq(_GRID))  # z^-1 on the unit circle
        response = np.ones(len(z), complex)
        for b0, b1, b2, a0, a1, a2 in self.sos:
            response *= (b0 + z * (b1 + z * b2)) / (a0 + z * (a1 + z * a2))
        h = np.fft.irfft(response, _GRID)
        self.taps = int(np.flatnonzero(np.abs(h) > _FLOOR * np.abs(h).max()).max()) + 1
        self._size = max(_BLOCK, 1 << (2 * self.taps - 1).bit_length())
        self._spectrum = np.fft.rfft(h[: self.taps], self._size).astype(np.complex64)

    def __call__(self, x: np.ndarray, before: np.ndarray | None = None) -> np.ndarray:
        """`x` (..., samples) filtered along its last axis, float32. `before` holds the
        input's taps - 1 samples before x (zeros when None: the filter starts at rest)."""
        x = np.asarray(x, np.float32)
        lead = self.taps - 1
        if before is None:
            before = np.zeros((*x.shape[:-1], lead), np.float32)
        full = np.concatenate([np.asarray(before, np.float32), x], axis=-1)
        n, step = x.shape[-1], self._size - lead
        out = np.empty(x.shape, np.float32)
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            block = np.fft.rfft(full[..., lo : hi + lead], self._size)
            out[..., lo:hi] = np.fft.irfft(block * self._spectrum, self._size)[
                ..., lead : lead + hi - lo
            ]
        return out

    def history(self, x: np.ndarray, lo: int | None) -> np.ndarray:
        """The taps - 1 samples of `x` (..., samples) before sample `lo` (None: its end),
        zeros before 0."""
        lead = self.taps - 1
        lo = x.shape[-1] if lo is None else lo
        part = np.asarray(x[..., max(lo - lead, 0) : lo], np.float32)
        pad = [(0, 0)] * (part.ndim - 1) + [(lead - part.shape[-1], 0)]
        return np.pad(part, pad)


def butterworth(order: int, lo: float | None, hi: float | None, rate: float) -> np.ndarray:
    """Butterworth sections (rows as Filter takes them): band-pass with both edges, high-pass
    with `lo` alone, low-pass with `hi` alone, designed as scipy.signal.butter does (analog
    prototype, pre-warped edges, bilinear transform; the tests compare the two), so the
    procedural sounds need no scipy either. Sections are grouped, not paired for recursive
    use: Filter runs their product, where the grouping changes nothing."""
    poles = np.exp(1j * np.pi * (2 * np.arange(order) + order + 1) / (2 * order))
    warp = [2 * rate * np.tan(np.pi * f / rate) if f else 0.0 for f in (lo, hi)]
    if lo and hi:
        width, centre = warp[1] - warp[0], np.sqrt(warp[0] * warp[1])
        half = poles * width / 2
        root = np.sqrt(half**2 - centre**2)
        poles, zeros = np.r_[half + root, half - root], np.r_[np.ones(order), -np.ones(order)]
        at = np.exp(2j * np.arctan(centre / (2 * rate)))  # the pass band's centre, as z
    elif lo:
        poles, zeros, at = warp[0] / poles, np.ones(order), -1.0
    else:
        poles, zeros, at = warp[1] * poles, -np.ones(order), 1.0
    poles = (2 * rate + poles) / (2 * rate - poles)
    upper = poles[poles.imag > 1e-12]
    real = np.sort(poles[np.abs(poles.imag) <= 1e-12].real)
    quadratics = [np.poly([p, np.conj(p)]).real for p in upper]
    quadratics += [np.poly(real[i : i + 2]) for i in range(0, len(real), 2)]
    sections = []
    for i, a in enumerate(quadratics):
        b = np.poly(zeros[2 * i : 2 * i + len(a) - 1])
        sections.append(np.r_[np.pad(b, (0, 3 - len(b))), np.pad(a, (0, 3 - len(a)))])
    sos = np.array(sections)
    z = np.array([1, 1 / at, 1 / at**2])
    gain = np.prod([abs((s[:3] @ z) / (s[3:] @ z)) for s in sos])
    sos[0, :3] /= gain
    return sos
