"""Lay a chapter out on a sample-accurate timeline and mix it in numpy, like a radio-drama desk:
dialogue placed in its room, beds under each scene ducked for speech, foley and music on cue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from pedalboard import Compressor, Distortion, Pedalboard, Reverb

from toolkit.cast import Voice
from toolkit.mix.filters import Filter
from toolkit.mix.scenes import SceneCache, samples_digest, scene_key
from toolkit.mix.timeline import RATE, Cue, Mark, MixedChapter
from toolkit.script.model import Ambience, Chapter, Music, Pause, Scene, Sfx, Speech

# Seconds of silence between things, chosen by ear for conversational drama.
LEAD_IN = 0.8
GAP_REPLY = 0.35  # a reply to someone else
GAP_SAME = 0.55  # the same speaker going on
GAP_SHIFT = 0.8  # narration to dialogue and back
SCENE_GAP = 1.4
TAIL = 2.0
BED_FADE = 1.5  # bed fade in/out, and crossfade centred on each scene change
BED_GAIN_DB = -4.0  # unducked beds ~9-12 LU under dialogue, ~20 LU once ducked
DUCK_DB = -10.0  # beds and music under speech
# Look-ahead longer than the attack: the bed is down before the first word. The hold bridges
# the gaps of a conversation so the bed doesn't pump between lines; in a pause it comes back.
ATTACK, HOLD, RELEASE, LOOKAHEAD = 0.04, 0.45, 0.3, 0.08
BLOCK = RATE // 100  # the duck envelope is computed per 10 ms
SFX_ADVANCE = 0.6  # the next line may start once this share of an effect has played
BUSES = ("voice", "fx", "music", "bed")  # in the order they are mixed
BED_CHUNK = RATE  # samples of the beds worked on at once


@dataclass(frozen=True)
class Room:
    """A scene's acoustics. `wet` is pedalboard's wet_level for a mono source on both inputs
    (the direct sound is added apart, at unity); `tail` is how long the reverb may ring."""

    size: float
    damping: float
    wet: float
    width: float
    tail: float

    @property
    def ring(self) -> int:
        """Samples of reverb after the source."""
        return int(self.tail * RATE)


ROOMS: dict[str, Room | None] = {
    "none": None,
    "small": Room(0.2, 0.7, 0.04, 0.7, 0.6),
    "medium": Room(0.4, 0.6, 0.06, 0.85, 1.0),
    "large": Room(0.75, 0.4, 0.09, 1.0, 2.0),
    "outdoor": Room(0.08, 0.9, 0.015, 1.0, 0.3),
}
# Off-screen: heard from down the hall or next door, so through a bigger space, with less
# direct sound (the reverb stays, which is what makes it sound far) and fewer highs.
OFFSTAGE_ROOM = {"small": "large", "medium": "large"}
OFFSTAGE_DB, OFFSTAGE_LOWPASS = -9.0, 1800.0
# 12 dB/octave (pedalboard's LowpassFilter is only first order, too gentle to darken):
# scipy.signal.butter(2, OFFSTAGE_LOWPASS, "lowpass", fs=RATE, output="sos").
LOWPASS = Filter(
    [
        [0.013865618919745607, 0.027731237839491215, 0.013865618919745607]
        + [1.0, -1.6403712933454329, 0.6958337690244153]
    ]
)
# Telephone: squashed and a little driven, then through an elliptic band-pass steep enough
# that next to nothing is left below 300 Hz or above 3.5 kHz.
PHONE_BAND, PHONE_DB = (340.0, 3100.0), 4.0  # makeup: squashing and band-limiting cost ~8 LU
# scipy.signal.ellip(6, 1.0, 60.0, PHONE_BAND, "bandpass", fs=RATE, output="sos")
PHONE_FILTER = Filter(
    [
        [1.6471137794792305e-03, -4.3092734568977856e-04, 1.6471137794792309e-03]
        + [1.0, -1.8080386668939428e00, 8.5775300796630372e-01],
        [1.0, -1.5354246569814616e00, 1.0, 1.0, -1.7712070337430579e00, 9.0512392626177152e-01],
        [1.0, -1.9998460782407541e00, 1.0, 1.0, -1.9313172742970937e00, 9.3976028332484807e-01],
        [1.0, -1.6820648154021347e00, 1.0, 1.0, -1.7835700590403949e00, 9.7216959957496307e-01],
        [1.0, -1.9990998249669025e00, 1.0, 1.0, -1.9814971674726143e00, 9.8471775250648008e-01],
        [1.0, -1.9986302434955707e00, 1.0, 1.0, -1.9944459109061230e00, 9.9679685489459302e-01],
    ]
)


ONSET_DB, ONSET_LEAD = 20.0, 0.02  # where a cue says a line starts: see audible_onset


@dataclass(frozen=True)
class Placed:
    """Audio put on one bus at a sample offset: `length` samples of float32 (n, 2) that `make`
    renders when the bus is mixed, so a chapter's worth of treated lines never waits in
    memory for the layout to end. `what` is everything `make` renders from, for the key of
    the mix of its scene (`scene`, numbered in the chapter)."""

    start: int
    length: int
    make: Callable[[], np.ndarray]
    bus: str  # 'voice', 'fx' or 'music' (beds are laid out apart)
    scene: int
    what: tuple


@dataclass(frozen=True)
class Bed:
    """An ambience from `switch` seconds (the middle of the crossfade into it) to the next."""

    name: str
    switch: float
    scene: str


def gain(db: float) -> np.float32:
    return np.float32(10 ** (db / 20))


def pan_gains(position: float) -> np.ndarray:
    """Constant-power pan law, -1 left .. 1 right: L² + R² = 1 wherever the source sits."""
    angle = (position + 1.0) * np.pi / 4.0
    return np.array([np.cos(angle), np.sin(angle)], np.float32)


def placed_length(n: int, room: str) -> int:
    """Samples `place` returns for `n` samples of source in `room`."""
    spec = ROOMS[room]
    return n if spec is None else n + spec.ring


def place(mono: np.ndarray, position: float, room: str, direct_db: float = 0.0) -> np.ndarray:
    """A mono source at `position` in `room`: the panned direct sound plus the room's reverb,
    steered to the same side at equal power so reflections don't pull the image to the centre."""
    sides = pan_gains(position)
    direct = mono[:, None] * (sides * gain(direct_db))
    spec = ROOMS[room]
    if spec is None:
        return direct
    out = reverb(mono, spec) * (sides * np.float32(np.sqrt(2.0)))
    out[: len(mono)] += direct
    return out


def reverb(mono: np.ndarray, room: Room) -> np.ndarray:
    """The room's wet signal alone, rung out for room.tail seconds; the last 0.2 s fades so
    cutting the tail there is inaudible."""
    padded = np.concatenate([mono, np.zeros(room.ring, np.float32)])
    board = Reverb(
        room_size=room.size,
        damping=room.damping,
        wet_level=room.wet,
        dry_level=0.0,
        width=room.width,
    )
    wet = board(np.stack([padded, padded]), RATE).T.astype(np.float32)
    k = min(len(wet), RATE // 5)
    wet[-k:] *= np.linspace(1.0, 0.0, k, dtype=np.float32)[:, None]
    return wet


def phone(mono: np.ndarray) -> np.ndarray:
    """What a phone line or a small speaker lets through."""
    board = Pedalboard([Compressor(threshold_db=-24.0, ratio=4.0), Distortion(drive_db=6.0)])
    driven = board(mono[None, :].astype(np.float32), RATE)[0]
    return PHONE_FILTER(driven) * gain(PHONE_DB)


def speech_room(line: Speech, room: str) -> str:
    """Where a line is heard from: V.O. and FILTERED dry, O.S. through a bigger space."""
    if line.ext in ("V.O.", "FILTERED"):
        return "none"
    if line.ext == "O.S.":
        return OFFSTAGE_ROOM.get(room, room)
    return room


def treat_speech(samples: np.ndarray, line: Speech, voice: Voice, room: str) -> np.ndarray:
    """V.O. is the storyteller at the listener's ear: dry and centred. In-scene lines sit at the
    character's place in the room; O.S. further off, FILTERED through the line (dry). As long
    as placed_length(len(samples), speech_room(line, room)) says."""
    heard_in = speech_room(line, room)
    if line.ext == "V.O.":
        return place(samples, 0.0, heard_in)
    if line.ext == "O.S.":
        return place(LOWPASS(samples), voice.pan, heard_in, OFFSTAGE_DB)
    if line.ext == "FILTERED":
        return place(phone(samples), voice.pan, heard_in)
    return place(samples, voice.pan, heard_in)


def ramp(k: int) -> np.ndarray:
    """Quarter sine: paired with its reverse, an equal-power crossfade (sin² + cos² = 1)."""
    return np.sin(np.linspace(0.0, np.pi / 2, k, dtype=np.float32))


def lay_beds(
    beds: list[Bed], n: int, library, out: np.ndarray, duck: Duck | None = None
) -> list[Cue]:
    """Add each bed (ducked by `duck` when given) into `out`, (n, 2), over its stretch of the
    timeline: fading in from the chapter start, crossfading at each switch and fading out at
    the end. Worked through BED_CHUNK samples at a time, so the beds are summed, ducked and
    added exactly as a whole bed bus would be, without one (or a bed's sound) in memory."""
    switches = [round(bed.switch * RATE) for bed in beds] + [n]
    spans = np.diff(switches)
    full = round(BED_FADE * RATE)
    # Fades are shortened so that neighbouring crossfades never overlap.
    fades = [min(full, spans[0] // 2)]
    fades += [min(full, spans[i - 1], spans[i]) for i in range(1, len(beds))]
    fades += [min(full, spans[-1] // 2)]
    stretches = []
    for i, bed in enumerate(beds):
        a = 0 if i == 0 else switches[i] - fades[i] // 2
        b = n if i == len(beds) - 1 else switches[i + 1] - fades[i + 1] // 2 + fades[i + 1]
        stretches.append((bed, a, b, ramp(fades[i]), ramp(fades[i + 1])[::-1]))
    level = gain(BED_GAIN_DB)
    for lo in range(0, n, BED_CHUNK):
        hi = min(lo + BED_CHUNK, n)
        chunk = np.zeros((hi - lo, 2), np.float32)
        for bed, a, b, fade_in, fade_out in stretches:
            if a >= hi or b <= lo:
                continue
            start, stop = max(a, lo), min(b, hi)
            audio = library.render_part(bed.name, b - a, start - a, stop - a)
            env = envelope(b - a, fade_in, fade_out, start - a, stop - a)
            chunk[start - lo : stop - lo] += audio * (env * level)[:, None]
        if duck is not None:
            chunk *= duck(lo, hi)[:, None]
        out[lo:hi] += chunk
    return [Cue(a / RATE, b / RATE, "bed", bed.name, bed.scene) for bed, a, b, *_ in stretches]


def envelope(
    length: int, fade_in: np.ndarray, fade_out: np.ndarray, lo: int, hi: int
) -> np.ndarray:
    """Samples lo..hi of a bed's gain over `length` samples: 1, with `fade_in` at the start and
    `fade_out` at the end (which wins where they meet)."""
    env = np.ones(hi - lo, np.float32)
    end = min(hi, len(fade_in))
    if lo < end:
        env[: end - lo] = fade_in[lo:end]
    out = length - len(fade_out)
    if max(lo, out) < hi:
        env[max(lo, out) - lo :] = fade_out[max(lo, out) - out : hi - out]
    return env


def follow(target: np.ndarray) -> np.ndarray:
    """One-pole envelope follower of a 0/1 target per block, with its own attack and release."""
    up, down = np.exp(-BLOCK / RATE / ATTACK), np.exp(-BLOCK / RATE / RELEASE)
    env = np.empty(len(target))
    level = 0.0
    for i, want in enumerate(target.tolist()):
        coeff = up if want > level else down
        level = coeff * level + (1.0 - coeff) * want
        env[i] = level
    return env


class Duck:
    """Gain for beds and music: DUCK_DB under speech, reached by the first word, held through
    short gaps, released in pauses; interpolated per sample so the gain never steps. Kept
    per 10 ms block; duck(a, b) gives samples a..b, the same floats wherever it is cut."""

    def __init__(self, cues: list[Cue], n: int):
        blocks = n // BLOCK + 2
        target = np.zeros(blocks, bool)
        per_second = RATE / BLOCK
        for cue in cues:
            if cue.kind == "speech":
                start = max(0, int((cue.start - LOOKAHEAD) * per_second))
                target[start : int((cue.end + HOLD) * per_second) + 1] = True
        self.curve = (10 ** (DUCK_DB * follow(target) / 20)).astype(np.float32)

    def __call__(self, a: int, b: int) -> np.ndarray:
        first, last = a // BLOCK, -(-b // BLOCK)
        curve = self.curve[first : last + 1]
        steps = np.arange(BLOCK, dtype=np.float32) / BLOCK
        ramps = (curve[:-1, None] + np.diff(curve)[:, None] * steps).ravel()
        return ramps[a - first * BLOCK : b - first * BLOCK]


def audible_onset(samples: np.ndarray) -> float:
    """Seconds into a clip where a listener hears the line start: ONSET_LEAD before its first
    10 ms frame within ONSET_DB of its loudest. A soft lead-in (a breath, the J of "James")
    can run 100 ms before the first vowel; the cue starts between the two."""
    frames = samples[: len(samples) // BLOCK * BLOCK].reshape(-1, BLOCK)
    if not len(frames):
        return 0.0
    level = np.sqrt((frames.astype(np.float64) ** 2).mean(axis=1)) + 1e-9
    first = int(np.argmax(level > level.max() * 10 ** (-ONSET_DB / 20)))
    return max(0.0, first * BLOCK / RATE - ONSET_LEAD)


class Layout:
    """Walks a chapter's lines, placing each on the timeline and noting cues, beds and marks.
    Each scene is laid out on its own clock (`t`, seconds from the scene's `origin` sample),
    so that the samples of a scene do not depend on where in the chapter it falls."""

    def __init__(self, clips: dict[Speech, np.ndarray], voices: dict[str, Voice], library):
        self.clips, self.voices, self.library = clips, voices, library
        self.placed: list[Placed] = []
        self.cues: list[Cue] = []
        self.beds: list[Bed] = []
        self.scene_starts: list[float] = []
        self.origins: list[int] = []  # each scene's first sample
        self.origin = round(LEAD_IN * RATE)
        self.t = 0.0
        self.last_speech: Speech | None = None
        self.last_start = self.last_end = 0.0  # the previous line or sound

    def at(self, t: float) -> float:
        """Seconds into the chapter of `t` on the scene's clock."""
        return self.origin / RATE + t

    def put(
        self, start: float, length: int, make: Callable[[], np.ndarray], bus: str, what: tuple
    ) -> None:
        offset = self.origin + int(round(start * RATE))
        self.placed.append(Placed(offset, length, make, bus, len(self.origins) - 1, what))

    def bed(self, name: str, switch: float, scene: str) -> None:
        """A bed from `switch` on. One switched to before anything played replaces the last;
        the same bed again simply carries on (crossfading it into itself would swell)."""
        if self.beds and switch <= self.beds[-1].switch:
            self.beds.pop()
        if not self.beds or self.beds[-1].name != name:
            self.beds.append(Bed(name, switch, scene))

    def scene(self, scene: Scene) -> None:
        switch = self.at(-SCENE_GAP / 2) if self.scene_starts else 0.0
        self.scene_starts.append(switch)
        self.origins.append(self.origin)
        self.bed(scene.ambience, switch, scene.id)
        self.last_speech = None
        self.last_start = self.last_end = self.t = 0.0
        for line in scene.lines:
            if isinstance(line, Speech):
                self.speech(line, scene)
            elif isinstance(line, Pause):
                self.t += line.seconds
            elif isinstance(line, Sfx):
                self.sound(line.name, line.volume, line.pan, "fx", scene, SFX_ADVANCE)
            elif isinstance(line, Music):
                self.sound(line.name, line.volume, 0.0, "music", scene, 1.0)
            elif isinstance(line, Ambience):
                # Before anything has played it replaces the scene's bed rather than following it.
                self.bed(line.name, self.at(self.t) if self.t > 0 else switch, scene.id)
        self.origin += int(round((self.t + SCENE_GAP) * RATE))
        self.t = 0.0

    def speech_start(self, line: Speech) -> float:
        """An overlapping line cuts in before the previous line or sound ends (not before it
        started); any other waits a gap that depends on who spoke last."""
        if line.overlap:
            return max(self.last_start, self.last_end - line.overlap)
        previous = self.last_speech
        if previous is None:
            return self.t
        shift = (previous.ext == "V.O.") != (line.ext == "V.O.")
        same = previous.character == line.character
        gap = GAP_SHIFT if shift else GAP_SAME if same else GAP_REPLY
        return max(self.t, self.last_end + gap)

    def speech(self, line: Speech, scene: Scene) -> None:
        samples = self.clips[line]
        start = self.speech_start(line)
        voice = self.voices[line.character]
        length = placed_length(len(samples), speech_room(line, scene.room))
        make = partial(treat_speech, samples, line, voice, scene.room)
        what = (samples_digest(samples), line.ext, voice.pan, scene.room)
        self.put(start, length, make, "voice", what)
        end = start + len(samples) / RATE
        heard = self.at(start + audible_onset(samples))
        self.cues.append(Cue(heard, self.at(end), "speech", line.character, scene.id, line.text))
        self.last_speech = line
        # An interjection that ends first doesn't let the next line in under the long one.
        self.last_start, self.last_end = start, max(self.last_end, end)
        self.t = max(self.t, end)

    def sound(
        self, name: str, volume: float, position: float, bus: str, scene: Scene, advance: float
    ) -> None:
        if self.last_speech is not None:
            self.t = max(self.t, self.last_end + GAP_REPLY)
        audio = self.library.render(name) * gain(volume)
        seconds = len(audio) / RATE  # the sound itself; its reverb tail may run on
        if bus == "fx":
            mono = audio.mean(axis=1)
            length = placed_length(len(mono), scene.room)
            what = (samples_digest(mono), position, scene.room)
            self.put(self.t, length, partial(place, mono, position, scene.room), bus, what)
        else:
            self.put(self.t, len(audio), partial(np.asarray, audio), bus, ())
        kind = "sfx" if bus == "fx" else bus
        self.cues.append(Cue(self.at(self.t), self.at(self.t + seconds), kind, name, scene.id))
        self.last_start = self.t
        self.t += seconds * advance
        self.last_end = max(self.last_end, self.t)


def lay_out(
    chapter: Chapter, clips: dict[Speech, np.ndarray], voices: dict[str, Voice], library
) -> tuple[Layout, int]:
    """The chapter walked through, and its length in samples."""
    layout = Layout(clips, voices, library)
    for scene in chapter.scenes:
        layout.scene(scene)
    ends = [p.start / RATE + p.length / RATE for p in layout.placed]
    total = max([layout.at(0.0), *ends]) + TAIL
    return layout, int(round(total * RATE))


def add(
    buses: dict[str, np.ndarray], placed: list[Placed], duck: Duck | None, origin: int = 0
) -> None:
    """Add each item into its bus's buffer in `buses` (buses may share one), whose first
    sample is sample `origin` of the chapter, music ducked. Each sound is put in its room only
    here and let go once added."""
    placed = placed[::-1]
    while placed:
        item = placed.pop()
        audio = item.make()
        if item.bus == "music":
            audio = audio * duck(item.start, item.start + item.length)[:, None]
        buses[item.bus][item.start - origin : item.start - origin + item.length] += audio


def mix_into(buses: dict[str, np.ndarray], layout: Layout, n: int, library) -> list[Cue]:
    """Add each bus (BUSES) into its buffer in `buses` (buses may share one), beds and music
    ducked under speech, and return the beds' cues; beds are laid a chunk at a time (see
    lay_beds)."""
    duck = Duck(layout.cues, n)
    placed, layout.placed = layout.placed, []
    add(buses, placed, duck)
    return lay_beds(layout.beds, n, library, buses["bed"], duck)


def add_scenes(audio: np.ndarray, layout: Layout, scenes: SceneCache | None) -> list[str]:
    """Add the voices and effects of each scene into `audio`: the scene mixed on its own
    (its reverb tails included) and added at its origin, or its mix from `scenes` when
    nothing in it changed. Only music is left in layout.placed. The scenes' keys, in order.

    A scene is mixed in place, in its stretch of `audio`, with the earlier scenes' tails
    that ring into it set aside meanwhile: its mix is kept from there, and no scene-length
    buffer is made beside the chapter's (the same floats as mixing it apart and adding it)."""
    keys = []
    end = 0  # of what the scenes so far put in `audio`
    for number, origin in enumerate(layout.origins):
        items = [p for p in layout.placed if p.scene == number and p.bus != "music"]
        parts = [(p.bus, p.start - origin, p.length, p.what) for p in items]
        key = scene_key(parts)
        length = max((p.start - origin + p.length for p in items), default=0)
        mixed = scenes.get(key, length) if scenes is not None else None
        if mixed is not None:
            audio[origin : origin + length] += mixed
        else:
            here = audio[origin : origin + length]
            tails = here[: max(0, end - origin)].copy()
            here[: len(tails)] = 0
            add(dict.fromkeys(BUSES, here), items, None, origin)
            if scenes is not None:
                scenes.put(key, here)
            here[: len(tails)] += tails
        end = max(end, origin + length)
        keys.append(key)
        del mixed
    layout.placed = [p for p in layout.placed if p.bus == "music"]
    return keys


def finish(
    chapter: Chapter,
    layout: Layout,
    bed_cues: list[Cue],
    audio: np.ndarray,
    scenes: tuple[str, ...] = (),
) -> MixedChapter:
    """The mixed chapter with its cues (in time order) and a mark per scene."""
    bounds = [*layout.scene_starts, len(audio) / RATE]
    marks = tuple(
        Mark(bounds[i], bounds[i + 1], scene.title) for i, scene in enumerate(chapter.scenes)
    )
    cues = sorted(layout.cues + bed_cues, key=lambda c: (c.start, c.kind, c.name))
    return MixedChapter(chapter, audio, tuple(cues), marks, scenes)


def render_stems(
    chapter: Chapter, clips: dict[Speech, np.ndarray], voices: dict[str, Voice], library
) -> tuple[dict[str, np.ndarray], MixedChapter]:
    """The chapter's buses (BUSES, float32 stereo at RATE, beds and music already ducked under
    speech) and the MixedChapter whose audio is their sum: stems to measure, a mix to master."""
    layout, n = lay_out(chapter, clips, voices, library)
    stems = {bus: np.zeros((n, 2), np.float32) for bus in BUSES}
    bed_cues = mix_into(stems, layout, n, library)
    audio = stems["voice"].copy()
    for bus in BUSES[1:]:
        audio += stems[bus]  # in place: no chapter-length temporaries
    return stems, finish(chapter, layout, bed_cues, audio)


def mix_chapter(
    chapter: Chapter,
    clips: dict[Speech, np.ndarray],
    voices: dict[str, Voice],
    library,
    scenes: SceneCache | None = None,
) -> MixedChapter:
    """Place every line of `chapter` and mix it into float32 stereo at RATE, in one
    chapter-length buffer (render_stems keeps one per bus), scene by scene: the mixes of
    scenes the last render of any chapter left in `scenes` are reused."""
    layout, n = lay_out(chapter, clips, voices, library)
    audio = np.zeros((n, 2), np.float32)
    keys = add_scenes(audio, layout, scenes)
    bed_cues = mix_into(dict.fromkeys(BUSES, audio), layout, n, library)
    return finish(chapter, layout, bed_cues, audio, tuple(keys))
