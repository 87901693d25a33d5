"""One-shot sound effects: mono, natural length, peak-normalised; the mixer pans them."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pedalboard import Reverb

from toolkit.mix.timeline import RATE

from ._dsp import Recipe, band, decay, edges, overlay, process, ring, times

RECIPES: dict[str, Recipe] = {}
Rng = np.random.Generator
Builder = Callable[..., np.ndarray]


def _sfx(name: str, description: str) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        RECIPES[name] = Recipe(description, fn, level=-6.0)
        return fn

    return register


def room(x: np.ndarray, size: float = 0.3, wet: float = 0.12) -> np.ndarray:
    """A touch of small-room reverb so dry synthetic hits sit in a space."""
    tail = np.concatenate([x, np.zeros(RATE // 2)])
    return process(Reverb(room_size=size, damping=0.6, wet_level=wet, dry_level=1.0), tail)


def burst(rng: Rng, seconds: float, tau: float, lo=None, hi=None) -> np.ndarray:
    """Filtered noise hit: the raw material of knocks, thuds, clicks and claps."""
    return band(rng.standard_normal(len(times(seconds))), lo, hi) * decay(seconds, tau)


def clink(rng: Rng, pitch: float = 1.0, seconds: float = 0.35) -> np.ndarray:
    """Ceramic/metal contact: a few inharmonic partials that die fast."""
    base = np.array([2150, 3480, 5260, 7110]) * pitch * rng.uniform(0.95, 1.05, 4)
    tick = burst(rng, seconds, 0.002, lo=3000)
    return ring(base, [0.09, 0.06, 0.04, 0.025], [1, 0.6, 0.35, 0.2], seconds, rng) + 0.3 * tick


def key_click(rng: Rng, heavy: bool = False) -> np.ndarray:
    """One key press: plastic tick on the way down and a softer bottom-out thunk."""
    tick = burst(rng, 0.06, 0.0025, lo=1800, hi=9000)
    thunk = burst(rng, 0.06, 0.008 if heavy else 0.004, lo=120, hi=900)
    body = ring([rng.uniform(2200, 3600)], [0.006], [0.4], 0.06, rng)
    return tick + (1.4 if heavy else 0.6) * thunk + body


def creak(rng: Rng, seconds: float, start: float, end: float) -> np.ndarray:
    """Hinge creak: stick-slip pulses at a drifting rate, coloured by a resonant band."""
    t = times(seconds)
    rate = np.geomspace(start, end, len(t)) * (1 + 0.08 * np.sin(2 * np.pi * 3.1 * t))
    phase = np.cumsum(rate) / RATE
    pulses = np.diff(np.floor(phase), prepend=0) * rng.uniform(0.5, 1.0, len(t))
    env = np.sin(np.pi * t / seconds) ** 0.7
    squeak = band(band(pulses, 500, 2600, order=2), 900, 1800, order=1) * env
    return squeak / np.max(np.abs(squeak))


def thud(rng: Rng, seconds: float, freq: float, tau: float) -> np.ndarray:
    """Low body resonance plus a noise transient: a door in its frame, a foot on the floor."""
    t = times(seconds)
    body = np.sin(2 * np.pi * freq * t * (1 + 0.3 * np.exp(-t / 0.02))) * decay(seconds, tau)
    return body + 0.6 * burst(rng, seconds, tau / 3, hi=1200)


@_sfx("door-open", "Latch click, then a hinge creak as the door swings.")
def _door_open(rng: Rng) -> np.ndarray:
    out = np.zeros(round(1.5 * RATE))
    overlay(out, 0.5 * burst(rng, 0.08, 0.006, lo=1500), 0.0)
    overlay(out, 0.4 * burst(rng, 0.05, 0.004, lo=800, hi=5000), 0.09)
    overlay(out, 0.35 * creak(rng, 1.1, 35, 70), 0.25)
    return room(out)


@_sfx("door-close", "Short creak, the door meets the frame, the latch catches.")
def _door_close(rng: Rng) -> np.ndarray:
    out = np.zeros(round(1.2 * RATE))
    overlay(out, 0.2 * creak(rng, 0.5, 60, 40), 0.0)
    overlay(out, thud(rng, 0.5, 90, 0.07), 0.5)
    overlay(out, 0.45 * burst(rng, 0.06, 0.005, lo=2000), 0.53)
    return room(out)


@_sfx("door-slam", "Heavy door slammed: a boomy hit with a rattle in the frame.")
def _door_slam(rng: Rng) -> np.ndarray:
    out = thud(rng, 1.0, 70, 0.18) + 0.7 * burst(rng, 1.0, 0.03, lo=200, hi=3000)
    rattle = burst(rng, 0.25, 0.05, lo=1500, hi=5000) * (1 + np.sin(2 * np.pi * 38 * times(0.25)))
    overlay(out, 0.25 * rattle, 0.05)
    return room(out, size=0.6, wet=0.25)


@_sfx("knock", "Three knuckle knocks on a wooden door.")
def _knock(rng: Rng) -> np.ndarray:
    out = np.zeros(round(0.9 * RATE))
    for i, start in enumerate([0.0, 0.19, 0.38]):
        wood = ring(
            [rng.uniform(170, 190), rng.uniform(330, 360), 720],
            [0.05, 0.03, 0.015],
            [1, 0.5, 0.2],
            0.2,
            rng,
        )
        hit = wood + 0.5 * burst(rng, 0.2, 0.004, lo=600, hi=4000)
        overlay(out, (1 - 0.1 * i) * hit, start + rng.uniform(0, 0.015))
    return room(out)


@_sfx("text-notification", "Two-tone chime of an incoming text message.")
def _text_notification(rng: Rng) -> np.ndarray:
    out = np.zeros(round(0.9 * RATE))
    for start, f in [(0.0, 1318.5), (0.13, 1975.5)]:
        overlay(out, ring([f, 2 * f, 3 * f], [0.25, 0.1, 0.05], [1, 0.25, 0.08], 0.7, rng), start)
    return out


@_sfx("text-send", "Quick rising whoosh of a sent message.")
def _text_send(rng: Rng) -> np.ndarray:
    t = times(0.45)
    noise = rng.standard_normal(len(t))
    out = np.zeros_like(t)
    for centre, when in [(600, 0.1), (1200, 0.16), (2400, 0.22), (4800, 0.27)]:
        out += band(noise, centre / 1.5, centre * 1.5) * np.exp(-(((t - when) / 0.07) ** 2))
    return out


@_sfx("envelope", "Envelope flap torn open and a letter slid out.")
def _envelope(rng: Rng) -> np.ndarray:
    tear_t = times(0.5)
    grains = (rng.random(len(tear_t)) < 0.02) * rng.standard_normal(len(tear_t))
    tear = band(grains, 1500, 9000) * np.sin(np.pi * tear_t / 0.5) ** 0.5
    slide_t = times(0.8)
    slide = band(rng.standard_normal(len(slide_t)), 800, 5000) * np.sin(np.pi * slide_t / 0.8)
    out = np.zeros(round(1.6 * RATE))
    overlay(out, tear + 0.06 * band(rng.standard_normal(len(tear_t)), 2000, 8000), 0.0)
    overlay(out, 0.3 * slide, 0.7)
    return out


@_sfx("paper-rustle", "Sheets of paper handled and shuffled.")
def _paper_rustle(rng: Rng) -> np.ndarray:
    t = times(1.3)
    density = 0.004 + 0.02 * np.sin(np.pi * t / 1.3) ** 2
    grains = (rng.random(len(t)) < density) * rng.standard_normal(len(t))
    crackle = band(band(grains, 1200, 8000), hi=10000)
    hiss = band(rng.standard_normal(len(t)), 2000, 7000) * 0.05 * np.sin(np.pi * t / 1.3)
    return crackle + hiss


@_sfx("footsteps", "Five unhurried footsteps on a wooden floor.")
def _footsteps(rng: Rng) -> np.ndarray:
    out = np.zeros(round(3.2 * RATE))
    for i in range(5):
        start = i * 0.55 + rng.uniform(-0.02, 0.02)
        overlay(out, thud(rng, 0.3, rng.uniform(80, 100), 0.03), start)
        overlay(out, 0.25 * burst(rng, 0.12, 0.02, lo=1500, hi=6000), start + 0.06)
    return room(out, size=0.4, wet=0.15)


@_sfx("cup-down", "Ceramic cup set down on a table.")
def _cup_down(rng: Rng) -> np.ndarray:
    out = np.zeros(round(0.6 * RATE))
    overlay(out, 0.6 * thud(rng, 0.2, 160, 0.02), 0.0)
    overlay(out, clink(rng, 0.8, 0.5), 0.004)
    overlay(out, 0.3 * clink(rng, 0.8, 0.3), 0.035)
    return out


@_sfx("spoon-stir", "Teaspoon stirring round a mug, tapping the rim at the end.")
def _spoon_stir(rng: Rng) -> np.ndarray:
    t = times(2.8)
    swirl = band(rng.standard_normal(len(t)), 300, 1500) * (0.5 + 0.5 * np.sin(2 * np.pi * 2.5 * t))
    out = 0.03 * swirl * np.sin(np.pi * t / 2.8)
    for start in np.arange(0.1, 2.0, 0.4) + rng.uniform(0, 0.08, 5):
        overlay(out, 0.35 * clink(rng, 1.3, 0.3), start)
    overlay(out, clink(rng, 1.25, 0.4), 2.15)
    overlay(out, 0.8 * clink(rng, 1.25, 0.4), 2.3)
    return out


@_sfx("chair", "A chair dragged back across the floor.")
def _chair(rng: Rng) -> np.ndarray:
    t = times(0.9)
    chatter = 1 + 0.5 * np.sin(2 * np.pi * 23 * t)
    scrape = band(creak(rng, 0.9, 110, 150), 200, 3000) * chatter
    rumble = band(rng.standard_normal(len(t)), 80, 600) * np.sin(np.pi * t / 0.9) * 0.3
    return room(scrape + rumble)


@_sfx("applause", "A small audience applauding: claps swell and fade over about four seconds.")
def _applause(rng: Rng) -> np.ndarray:
    seconds = 4.2
    t = times(seconds)
    density = 250 * np.sin(np.pi * np.minimum(t / 3.8, 1)) ** 1.5
    impulses = (rng.random(len(t)) < density / RATE) * rng.uniform(0.3, 1.0, len(t))
    out = np.zeros(len(t) + RATE // 10)
    for k in range(4):
        kernel = burst(rng, 0.03, rng.uniform(0.004, 0.008), lo=700 + 300 * k, hi=3500 + 800 * k)
        hits = impulses * (rng.integers(0, 4, len(t)) == k)
        out[: len(t) + len(kernel) - 1] += np.convolve(hits, kernel)
    return room(out, size=0.7, wet=0.3)


@_sfx("keyboard", "A couple of seconds of typing, ending on the space bar.")
def _keyboard(rng: Rng) -> np.ndarray:
    out = np.zeros(round(2.4 * RATE))
    start = 0.02
    while start < 2.0:
        overlay(out, rng.uniform(0.5, 1.0) * key_click(rng), start)
        start += rng.gamma(4, 0.03)
    overlay(out, key_click(rng, heavy=True), 2.1)
    return room(out, size=0.2, wet=0.08)


@_sfx("phone-buzz", "A phone vibrating on a table: two buzzes.")
def _phone_buzz(rng: Rng) -> np.ndarray:
    t = times(0.45)
    motor = np.sign(np.sin(2 * np.pi * 165 * t)) * (1 + 0.3 * np.sin(2 * np.pi * 11 * t))
    rattle = band(motor, 150, 3000) + 0.2 * band(rng.standard_normal(len(t)), 1000, 4000)
    buzz = edges(rattle * np.minimum(t / 0.03, 1), 0.03)
    out = np.zeros(round(1.2 * RATE))
    overlay(out, buzz, 0.0)
    overlay(out, buzz, 0.7)
    return out
