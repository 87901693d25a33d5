"""Lay a chapter out on a sample-accurate timeline and mix it in numpy, like a radio-drama desk:
dialogue placed in its room, beds under each scene ducked for speech, foley and music on cue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pedalboard import (
    Compressor,
    Distortion,
    Gain,
    HighpassFilter,
    LowpassFilter,
    Pedalboard,
    Reverb,
)

from toolkit.cast import Voice
from toolkit.errors import DramaError
from toolkit.mix.timeline import RATE, Cue, Mark, MixedChapter
from toolkit.script.model import Ambience, Chapter, Music, Pause, Scene, Sfx, Speech
from toolkit.script.nodes import closest

# Seconds of silence between things, chosen by ear for conversational drama.
LEAD_IN = 0.8
GAP_REPLY = 0.35  # a reply to someone else
GAP_SAME = 0.55  # the same speaker going on
GAP_SHIFT = 0.8  # narration to dialogue and back
SCENE_GAP = 1.4
TAIL = 2.0
BED_FADE = 1.5  # bed fade in/out and crossfade between scenes
BED_GAIN_DB = -2.0
DUCK_DB = -10.0  # beds and music under speech
ATTACK, RELEASE, LOOKAHEAD = 0.08, 0.45, 0.06
SFX_ADVANCE = 0.6  # the next line may start once this share of an effect has played
ROOMS = {
    "none": None,
    "small": Reverb(room_size=0.2, damping=0.7, wet_level=0.1, dry_level=0.92, width=0.7),
    "medium": Reverb(room_size=0.4, damping=0.6, wet_level=0.14, dry_level=0.9, width=0.85),
    "large": Reverb(room_size=0.75, damping=0.4, wet_level=0.2, dry_level=0.85, width=1.0),
    "outdoor": Reverb(room_size=0.08, damping=0.9, wet_level=0.04, dry_level=0.97, width=1.0),
}
TREATMENTS = {
    # Off-screen: quieter, darker, further into the room.
    "O.S.": Pedalboard([LowpassFilter(2500.0), Gain(-7.0)]),
    # Telephone band: what a phone line or a speaker lets through.
    "FILTERED": Pedalboard(
        [
            HighpassFilter(400.0),
            LowpassFilter(3200.0),
            Compressor(threshold_db=-24.0, ratio=4.0),
            Distortion(drive_db=6.0),
            Gain(-4.0),
        ]
    ),
}


@dataclass(frozen=True)
class Placed:
    """Audio put on one bus at a sample offset."""

    start: int
    audio: np.ndarray  # float32 (n, 2)
    bus: str  # 'voice', 'fx', 'music' or 'bed'


def pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan: -1 left, 0 centre, 1 right."""
    angle = (position + 1.0) * np.pi / 4.0
    return np.stack([mono * np.cos(angle), mono * np.sin(angle)], axis=1).astype(np.float32)


def process(board: Pedalboard | Reverb | None, stereo: np.ndarray, tail: float = 0.0) -> np.ndarray:
    """Run a pedalboard chain over (n, 2) audio, keeping `tail` seconds of ring-out."""
    if board is None:
        return stereo
    padded = np.concatenate([stereo, np.zeros((int(tail * RATE), 2), np.float32)])
    return board(padded.T.copy(), RATE).T.astype(np.float32)


def treat_speech(samples: np.ndarray, line: Speech, voice: Voice, room: str) -> np.ndarray:
    """V.O. stays dry and centred; in-scene dialogue sits in the room at the voice's pan."""
    if line.ext == "V.O.":
        return pan(samples, 0.0)
    stereo = pan(samples, voice.pan)
    if line.ext in TREATMENTS:
        stereo = process(TREATMENTS[line.ext], stereo)
    reverb = ROOMS["large" if line.ext == "O.S." and room != "outdoor" else room]
    return process(reverb, stereo, tail=0.8)


def fade(n: int, seconds: float, fade_in: bool = True, fade_out: bool = True) -> np.ndarray:
    """Equal-power fade envelope of n samples, so crossfaded beds keep their level."""
    env = np.ones(n, np.float32)
    k = min(int(seconds * RATE), n // 2)
    if k:
        ramp = np.sin(np.linspace(0, np.pi / 2, k, dtype=np.float32))
        if fade_in:
            env[:k] = ramp
        if fade_out:
            env[-k:] = ramp[::-1]
    return env


def duck_gain(active: np.ndarray, n: int) -> np.ndarray:
    """Gain curve that dips DUCK_DB wherever `active` (per 10 ms block) is set, with attack,
    release and a little look-ahead so the bed is already down when a word starts."""
    block = RATE // 100
    shift = int(LOOKAHEAD * 100)
    target = np.concatenate([active[shift:], np.zeros(shift, bool)]).astype(np.float32)
    attack, release = np.exp(-0.01 / ATTACK), np.exp(-0.01 / RELEASE)
    env = np.empty_like(target)
    level = 0.0
    for i, want in enumerate(target):
        coeff = attack if want > level else release
        level = coeff * level + (1 - coeff) * want
        env[i] = level
    gain = 10 ** (DUCK_DB * env / 20)
    return np.repeat(gain, block)[:n].astype(np.float32)


class Layout:
    """Walks a chapter's lines, placing each on the timeline and noting cues and marks."""

    def __init__(self, clips: dict[Speech, np.ndarray], voices: dict[str, Voice], library):
        self.clips, self.voices, self.library = clips, voices, library
        self.placed: list[Placed] = []
        self.cues: list[Cue] = []
        self.beds: list[tuple[str, float, str]] = []  # (sound, start, scene)
        self.t = LEAD_IN
        self.last_speech: Speech | None = None
        self.last_end = 0.0

    def put(self, start: float, audio: np.ndarray, bus: str) -> None:
        self.placed.append(Placed(int(round(start * RATE)), audio, bus))

    def scene(self, scene: Scene) -> None:
        self.beds.append((scene.ambience, max(0.0, self.t - SCENE_GAP / 2), scene.id))
        self.last_speech = None
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
                self.beds.append((line.name, self.t, scene.id))
        self.t += SCENE_GAP

    def speech(self, line: Speech, scene: Scene) -> None:
        previous = self.last_speech
        if previous is None:
            start = self.t
        elif line.overlap:
            start = max(self.last_end - line.overlap, self.last_end - self.clip_seconds(previous))
        else:
            shift = (previous.ext == "V.O.") != (line.ext == "V.O.")
            same = previous.character == line.character
            gap = GAP_SHIFT if shift else GAP_SAME if same else GAP_REPLY
            start = max(self.t, self.last_end + gap)
        samples = self.clips[line]
        self.put(
            start, treat_speech(samples, line, self.voices[line.character], scene.room), "voice"
        )
        end = start + len(samples) / RATE
        self.cues.append(Cue(start, end, "speech", line.character, scene.id, line.text))
        self.last_speech, self.last_end = line, end
        self.t = max(self.t, end)

    def clip_seconds(self, line: Speech) -> float:
        return len(self.clips[line]) / RATE

    def sound(
        self, name: str, volume: float, position: float, bus: str, scene: Scene, advance: float
    ) -> None:
        if self.last_speech is not None:
            self.t = max(self.t, self.last_end + GAP_REPLY)
        audio = self.library.render(name) * np.float32(10 ** (volume / 20))
        if bus == "fx":
            mono = audio.mean(axis=1)
            audio = process(ROOMS[scene.room], pan(mono, position), tail=0.6)
        seconds = len(audio) / RATE
        self.put(self.t, audio, bus)
        self.cues.append(
            Cue(self.t, self.t + seconds, "sfx" if bus == "fx" else bus, name, scene.id)
        )
        self.t += seconds * advance
        self.last_end = max(self.last_end, self.t)


def mix_chapter(
    chapter: Chapter, clips: dict[Speech, np.ndarray], voices: dict[str, Voice], library
) -> MixedChapter:
    """Place every line of `chapter` and mix the buses into float32 stereo at RATE."""
    layout = Layout(clips, voices, library)
    starts = []
    for scene in chapter.scenes:
        starts.append(layout.t if starts else 0.0)
        layout.scene(scene)
    end_of_content = max([layout.t] + [p.start / RATE + len(p.audio) / RATE for p in layout.placed])
    total = end_of_content + TAIL
    n = int(round(total * RATE))
    buses = {name: np.zeros((n, 2), np.float32) for name in ("voice", "fx", "music", "bed")}
    for item in layout.placed:
        stop = min(n, item.start + len(item.audio))
        buses[item.bus][item.start : stop] += item.audio[: stop - item.start]
    cues = list(layout.cues)
    for index, (name, start, scene_id) in enumerate(layout.beds):
        stop = layout.beds[index + 1][1] + BED_FADE if index + 1 < len(layout.beds) else total
        a, b = int(start * RATE), min(n, int(stop * RATE))
        bed = library.render(name, (b - a) / RATE) * fade(b - a, BED_FADE)[:, None]
        buses["bed"][a:b] += bed * np.float32(10 ** (BED_GAIN_DB / 20))
        cues.append(Cue(a / RATE, b / RATE, "bed", name, scene_id))
    active = speech_blocks(cues, n)
    gain = duck_gain(active, n)[:, None]
    audio = buses["voice"] + buses["fx"] + (buses["music"] + buses["bed"]) * gain
    marks = [
        Mark(start, starts[i + 1] if i + 1 < len(starts) else total, scene.title)
        for i, (start, scene) in enumerate(zip(starts, chapter.scenes, strict=True))
    ]
    cues.sort(key=lambda c: (c.start, c.kind, c.name))
    return MixedChapter(chapter, audio, tuple(cues), tuple(marks))


def speech_blocks(cues: list[Cue], n: int) -> np.ndarray:
    """Per 10 ms block: is anyone speaking?"""
    active = np.zeros(n // (RATE // 100) + 1, bool)
    for cue in cues:
        if cue.kind == "speech":
            active[int(cue.start * 100) : int(cue.end * 100) + 1] = True
    return active


def check_sounds(chapter: Chapter, library) -> None:
    """Every sound the chapter names must exist as the right kind (a bed, an effect, music)."""
    wanted = []
    for scene in chapter.scenes:
        wanted.append((scene.ambience, "bed", scene.ambience_where or scene.where))
        for line in scene.lines:
            if isinstance(line, Ambience):
                wanted.append((line.name, "bed", line.where))
            elif isinstance(line, Sfx):
                wanted.append((line.name, "sfx", line.where))
            elif isinstance(line, Music):
                wanted.append((line.name, "music", line.where))
    for name, kind, where in wanted:
        if library.has(name) and library.kind(name) == kind:
            continue
        found = (
            f"'{name}' is a {library.kind(name)}"
            if library.has(name)
            else f"unknown sound '{name}'"
        )
        options = sorted(n for n in library.names() if library.kind(n) == kind)
        raise DramaError(
            f"{found}, expected a {kind}: {closest(name, options)} (or add sounds/{name}.wav)",
            where.file,
            where.line,
            where.column,
        )
