"""Ambience beds: stereo loops built circularly so they tile without a seam.

Every builder returns one loop of `n` samples; callers balance, level and tile it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from pedalboard import Pedalboard, Reverb

from toolkit.mix.timeline import RATE

from ._dsp import (
    Recipe,
    band,
    circular,
    control,
    loop_filter,
    loop_noise,
    loop_tone,
    overlay,
    pan,
    place,
    ring,
    times,
    to_rms,
    unit,
    upsample,
    wobble,
)
from .sfx import burst, clink, key_click

RECIPES: dict[str, Recipe] = {}
Rng = np.random.Generator
Builder = Callable[..., np.ndarray]


def _bed(
    name: str, description: str, level: float, loop: float = 12.0
) -> Callable[[Builder], Builder]:
    def register(fn: Builder) -> Builder:
        RECIPES[name] = Recipe(description, fn, level=level, loop=loop)
        return fn

    return register


def space(x: np.ndarray, size: float, wet: float, damping: float = 0.5) -> np.ndarray:
    """Circular reverb: puts events in a room without breaking the loop."""
    verb = Reverb(room_size=size, damping=damping, wet_level=wet, dry_level=1.0 - wet / 2)
    return circular(Pedalboard([verb]), x)


def air(rng: Rng, n: int, level: float, hi: float = 4000) -> np.ndarray:
    """Room tone: soft pinkish noise, the sound of a quiet space."""
    return to_rms(loop_noise(rng, n, 20, hi, tilt=-0.5), level)


def hum(n: int, freq: float, amps: list[float], level: float) -> np.ndarray:
    """Mains/motor hum with harmonics, identical in both ears."""
    tone = sum(a * loop_tone(freq * (k + 1), n, k) for k, a in enumerate(amps))
    return to_rms(np.stack([tone, tone], axis=1), level)


def murmur(rng: Rng, n: int, voices: int, busy: float, level: float) -> np.ndarray:
    """Distant talkers: speech-band noise chopped into syllables (3-7 Hz) and sentences.

    The voices' envelopes are combined at control rate into one envelope per ear (their noises
    are independent, so powers add); that keeps a crowd as cheap as a single voice."""
    syllables = control(rng, n, 3, 7, voices)
    syllables = np.tanh(np.clip(2 * syllables / syllables.std(axis=0), 0, None))
    talking = np.clip((unit(control(rng, n, 0, 0.35, voices)) - (1 - busy)) * 6, 0, 1)
    ears = pan(rng.uniform(-0.8, 0.8, voices)) ** 2
    envelope = upsample(np.sqrt((syllables * talking) ** 2 @ ears), n)
    return to_rms(loop_filter(rng.standard_normal((n, 2)) * envelope, 200, 1500, order=3), level)


def scatter(
    rng: Rng, loop: np.ndarray, make: Callable[[Rng], np.ndarray], count: int, spread: float = 0.8
) -> None:
    """Drop `count` one-shots from `make(rng)` at random times and pans (mono in, stereo out)."""
    for _ in range(count):
        event = make(rng)
        where = rng.uniform(0, len(loop) / RATE)
        place(loop, event[:, None] * pan(rng.uniform(-spread, spread)), where)


def events(n: int) -> np.ndarray:
    """An empty stereo layer for one-shots, kept apart so only it goes through the reverb."""
    return np.zeros((n, 2))


def typing(rng: Rng, loop: np.ndarray, start: float, seconds: float, position: float) -> None:
    """A burst of key presses at one desk."""
    t = start
    while t < start + seconds:
        place(loop, rng.uniform(0.4, 1.0) * key_click(rng)[:, None] * pan(position), t)
        t += rng.gamma(4, 0.035)


def chirp(f0: float, f1: float, seconds: float) -> np.ndarray:
    """One bird note: an exponential pitch sweep with a soft bell envelope."""
    t = times(seconds)
    freq = f0 * (f1 / f0) ** (t / seconds)
    return np.sin(2 * np.pi * np.cumsum(freq) / RATE) * np.sin(np.pi * t / seconds) ** 2


def phrase(rng: Rng) -> np.ndarray:
    """A short song from one of three made-up species."""
    kind, p = rng.integers(3), rng.uniform(0.85, 1.15)
    notes = {
        0: [(4200 * p, 2800 * p, 0.08, 0.12)] * rng.integers(3, 6),
        1: [(2500 * p, 5000 * p, 0.04, 0.07)] * rng.integers(5, 9),
        2: [(3500 * p, 3700 * p, 0.12, 0.16), (2700 * p, 2300 * p, 0.18, 0.2)],
    }[kind]
    out = np.zeros(round(2.5 * RATE))
    t = 0.0
    for f0, f1, dur, step in notes:
        overlay(out, chirp(f0, f1, dur), t)
        t += step
    return out


def passing_car(rng: Rng, seconds: float = 7.0) -> np.ndarray:
    """A car driving past: rumble, engine note with Doppler drop, tyre hiss, panned across."""
    t = times(seconds)
    near = (t - seconds / 2) / rng.uniform(0.6, 1.0)
    env = np.sin(np.pi * t / seconds) ** 2 / (1 + near**2)
    f0 = rng.uniform(70, 110) * (1 + 0.04 * np.tanh(-near))
    phase = 2 * np.pi * np.cumsum(f0) / RATE
    engine = np.sin(phase) + 0.4 * np.sin(2 * phase)
    rumble = band(rng.standard_normal(len(t)), 50, 900)
    hiss = band(rng.standard_normal(len(t)), 700, 4000)
    mono = (rumble + 0.15 * engine) * env + 0.5 * hiss * env**2
    direction = rng.choice([-1, 1])
    return mono[:, None] * pan(direction * 0.9 * np.tanh(near))


@_bed("room-tone", "Quiet interior room tone: soft air and a faint electrical hum.", -30)
def _room_tone(rng: Rng, n: int) -> np.ndarray:
    return air(rng, n, -30) + hum(n, 60, [0.3, 1, 0.2], -48)


@_bed("hospital-room", "Hospital room: HVAC hum and a heart monitor beeping at 72 bpm.", -27, 10)
def _hospital_room(rng: Rng, n: int) -> np.ndarray:
    hvac = to_rms(loop_noise(rng, n, 30, 600, tilt=-0.5), -29) + hum(n, 60, [1, 0.5, 0.2], -40)
    t = times(0.11)
    beep = np.sin(2 * np.pi * 960 * t) * np.sin(np.pi * t / 0.11) ** 0.5
    beeps = events(n)
    for k in range(12):
        place(beeps, 0.08 * beep[:, None] * pan(0.3), (k + 0.5) * n / RATE / 12)
    return hvac + space(beeps, 0.3, 0.25)


@_bed("kitchen", "Kitchen: fridge compressor hum and a ticking wall clock.", -28)
def _kitchen(rng: Rng, n: int) -> np.ndarray:
    fridge = hum(n, 60, [0.6, 1, 0.4, 0.2], -32) * (0.85 + 0.3 * wobble(rng, n, 0.5))[:, None]
    motor = to_rms(loop_noise(rng, n, 80, 400), -36)
    clock = events(n)
    for second in range(round(n / RATE)):
        f = 3100 if second % 2 else 2600
        tick = ring([f, 1.6 * f], [0.004, 0.003], [1, 0.5], 0.04, rng) + burst(
            rng, 0.04, 0.001, 2000
        )
        place(clock, 0.05 * tick[:, None] * pan(-0.4), second + 0.5)
    return fridge + motor + air(rng, n, -36) + space(clock, 0.3, 0.2)


@_bed("living-room-night", "Living room at night: near silence, distant traffic swells.", -30)
def _living_room_night(rng: Rng, n: int) -> np.ndarray:
    traffic = loop_noise(rng, n, 25, 220) * (0.3 + 0.7 * wobble(rng, n, 0.12))[:, None]
    far_car = events(n)
    place(far_car, loop_filter(passing_car(rng, 8.0), hi=300), rng.uniform(0, n / RATE))
    return air(rng, n, -38, hi=2500) + to_rms(traffic, -34) + 0.3 * far_car


@_bed("diner", "Diner: grill sizzle, crockery clinks and a murmur of voices.", -25)
def _diner(rng: Rng, n: int) -> np.ndarray:
    pops = (rng.random((n, 2)) < 150 / RATE) * rng.uniform(0.2, 1, (n, 2))
    sizzle = loop_noise(rng, n, 2500, 10000) * (0.7 + 0.3 * wobble(rng, n, 0.6))[:, None]
    grill = to_rms(sizzle, -33) + to_rms(loop_filter(pops, 2000, 9000), -42)
    clinks = events(n)
    scatter(rng, clinks, lambda r: r.uniform(0.02, 0.07) * clink(r, r.uniform(0.8, 1.4)), 9)
    room = murmur(rng, n, 8, 0.65, -28) + clinks
    return air(rng, n, -36) + grill * pan(0.25) + space(room, 0.5, 0.3)


@_bed("office", "Open-plan office: HVAC, keyboards, a phone ringing across the floor.", -27, 24)
def _office(rng: Rng, n: int) -> np.ndarray:
    hvac = to_rms(loop_noise(rng, n, 30, 900, tilt=-0.5), -30) + hum(n, 60, [0.5, 1], -44)
    desks = events(n)
    for position in (-0.6, 0.5):
        for _ in range(3):
            typing(rng, desks, rng.uniform(0, n / RATE), rng.uniform(1.5, 4), position)
    place(desks, phone_ring() * pan(0.7), rng.uniform(0, n / RATE))
    return hvac + space(0.04 * desks, 0.6, 0.35)


def phone_ring() -> np.ndarray:
    """Desk-phone trill (1000/1250 Hz at 16 Hz), two rings, heard from across the room."""
    t = times(5.0)
    freq = np.where(np.sin(2 * np.pi * 16 * t) > 0, 1000, 1250)
    gate = ((t < 1.0) | ((t > 3.0) & (t < 4.0))).astype(float)
    tone = np.sin(2 * np.pi * np.cumsum(freq) / RATE) * band(gate, hi=40)
    return 0.3 * band(tone, 400, 2500)[:, None]


@_bed("coffee-shop", "Coffee shop: espresso steam bursts, cup clinks, busy chatter.", -25, 16)
def _coffee_shop(rng: Rng, n: int) -> np.ndarray:
    steam = events(n)
    t = times(3.5)
    hiss = band(rng.standard_normal(len(t)), 1500, 8000) * (0.7 + 0.3 * np.sin(2 * np.pi * 13 * t))
    shape = np.minimum(t / 0.4, 1) * np.minimum((3.5 - t) / 0.6, 1)
    place(steam, 0.05 * hiss[:, None] * shape[:, None] * pan(-0.5), rng.uniform(0, n / RATE))
    cups = events(n)
    scatter(rng, cups, lambda r: r.uniform(0.02, 0.06) * clink(r, r.uniform(0.7, 1.3)), 12)
    room = murmur(rng, n, 12, 0.7, -27) + cups + steam
    return air(rng, n, -36) + space(room, 0.45, 0.3)


@_bed("park", "Park: birdsong, wind gusting through trees, children playing far off.", -27)
def _park(rng: Rng, n: int) -> np.ndarray:
    gust = wobble(rng, n, 0.25)[:, None]
    wind = to_rms(loop_noise(rng, n, 20, 400, tilt=-0.5), -30) * (0.3 + 0.7 * gust**2)
    leaves = to_rms(loop_noise(rng, n, 600, 5000), -40) * gust**3
    birds = events(n)
    scatter(rng, birds, lambda r: r.uniform(0.01, 0.04) * phrase(r), 6, spread=0.9)
    children = loop_filter(murmur(rng, n, 5, 0.5, -44), 500, 3000) * 1.5
    return wind + leaves + space(birds, 0.5, 0.2, damping=0.8) + children


@_bed("school-hall", "School hall: a big reverberant room, rustling, a far-off murmur.", -28)
def _school_hall(rng: Rng, n: int) -> np.ndarray:
    hall = to_rms(loop_noise(rng, n, 30, 1500, tilt=-0.7), -31)
    rustle = events(n)
    scatter(rng, rustle, lambda r: r.uniform(0.001, 0.005) * burst(r, 0.15, 0.05, 1500, 6000), 14)
    murmurs = murmur(rng, n, 4, 0.3, -38)
    return hall + space(rustle + murmurs, 0.9, 0.45, damping=0.3)


@_bed("street", "City street: traffic rumble with cars passing by.", -25, 16)
def _street(rng: Rng, n: int) -> np.ndarray:
    rumble = loop_noise(rng, n, 25, 250, tilt=-0.5) * (0.7 + 0.3 * wobble(rng, n, 0.2))[:, None]
    cars = events(n)
    for k in range(4):
        place(cars, passing_car(rng), (k + rng.uniform(0, 0.6)) * n / RATE / 4)
    return to_rms(rumble, -28) + to_rms(cars, -28) + air(rng, n, -38)


@_bed("car", "Inside a moving car: engine drone and road noise.", -24)
def _car(rng: Rng, n: int) -> np.ndarray:
    rpm = 28 * (1 + 0.02 * (wobble(rng, n, 0.1) - 0.5))
    engine = sum(a * loop_tone(k * rpm, n, k) for k, a in [(2, 1), (4, 0.4), (6, 0.15)])
    road = to_rms(loop_noise(rng, n, 20, 300, tilt=-1), -25)
    wind = to_rms(loop_noise(rng, n, 400, 3000), -38)
    return road + wind + to_rms(np.stack([engine, engine], axis=1), -30)
