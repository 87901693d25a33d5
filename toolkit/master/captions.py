"""Words for sounds in captions: what a deaf or hard-of-hearing listener reads for an effect,
a music cue or a new ambience, written as a captioner would (`[door slams]`).

A sound without a description here (a user's own recording) is captioned by its name."""

from __future__ import annotations

from collections.abc import Iterable

from toolkit.mix.timeline import Cue

SOUND_KINDS = ("sfx", "music", "bed")
BED_CAPTION_SECONDS = 3.0  # an ambience is named as it starts, not for the whole scene
CAPTIONS = {
    # sound effects
    "applause": "applause",
    "chair": "a chair scrapes back",
    "cup-down": "a cup is set down",
    "door-close": "a door closes",
    "door-open": "a door creaks open",
    "door-slam": "a door slams",
    "envelope": "an envelope is torn open",
    "footsteps": "footsteps",
    "keyboard": "typing",
    "knock": "knocking at the door",
    "paper-rustle": "papers rustle",
    "phone-buzz": "a phone buzzes",
    "spoon-stir": "a spoon stirs in a mug",
    "text-notification": "a text message chimes",
    "text-send": "a message whooshes away",
    # music
    "intro": "gentle theme music",
    "outro": "closing theme music",
    "sting": "a short musical sting",
    # ambience beds
    "car": "a car engine hums on the road",
    "coffee-shop": "a busy coffee shop",
    "diner": "the clatter and murmur of a diner",
    "hospital-room": "a heart monitor beeps steadily",
    "kitchen": "a fridge hums, a clock ticks",
    "living-room-night": "a quiet house at night",
    "office": "a busy office: keyboards, a distant phone",
    "park": "birdsong and wind in the trees",
    "room-tone": "a quiet room",
    "school-hall": "the echo of a large school hall",
    "street": "traffic on a city street",
}


def caption_text(name: str) -> str:
    """`[a door slams]` for a built-in sound, `[rain on glass]` for a user's `rain-on-glass`."""
    return f"[{CAPTIONS.get(name, name.replace('-', ' ').replace('_', ' '))}]"


def sound_cues(cues: Iterable[Cue]) -> list[Cue]:
    """Sound effects, music and ambience changes as `caption` cues: no speaker, the words in
    brackets. A bed
    is named for its first seconds only; `room-tone` under a scene goes unsaid."""
    out = []
    for cue in cues:
        if cue.kind not in SOUND_KINDS or (cue.kind == "bed" and cue.name == "room-tone"):
            continue
        end = min(cue.end, cue.start + BED_CAPTION_SECONDS) if cue.kind == "bed" else cue.end
        text = caption_text(cue.name)
        out.append(Cue(cue.start, max(end, cue.start + 1.0), "caption", "", cue.scene, text))
    return out
