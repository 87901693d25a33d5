"""Cast stage: read voices/<character>.yaml into each character's ordered chain of voices."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from toolkit.errors import DramaError
from toolkit.script import nodes
from toolkit.script.loader import read_yaml, relative
from toolkit.script.model import Show

ENGINES = ["piper", "flite", "espeak", "gtts"]
VOICE_KEYS = ["engine", "voice", "rate", "pitch", "volume", "pan", "options", "fallback"]
FALLBACK_KEYS = ["engine", "voice", "rate", "pitch", "volume", "options"]


@dataclass(frozen=True)
class VoiceSpec:
    """One way to voice a character. rate: speed multiplier; pitch: semitones from the
    voice's natural pitch; volume: dB; options: engine-specific settings (e.g. gtts tld)."""

    engine: str
    voice: str
    rate: float = 1.0
    pitch: float = 0.0
    volume: float = 0.0
    options: tuple[tuple[str, str], ...] = ()

    def label(self) -> str:
        return f"{self.engine} {self.voice}"


@dataclass(frozen=True)
class Voice:
    """A character's voice: the preferred spec first, then fallbacks in order."""

    character: str
    chain: tuple[VoiceSpec, ...]
    pan: float
    file: str


def voice_file(project: Path, character: str) -> Path:
    return project / "voices" / f"{character.lower()}.yaml"


def load_cast(project: Path, show: Show) -> dict[str, Voice]:
    """Every character in the show's cast needs a voice file; unused voice files are ignored."""
    cast = {}
    for character in show.cast:
        path = voice_file(project, character)
        name = relative(path, project)
        if not path.exists():
            raise DramaError(
                f"no voice for {character}, expected a voice file (engine, voice) here", name, 1, 1
            )
        cast[character] = _voice(name, read_yaml(path, name), character)
    return cast


def _voice(name: str, node, character: str) -> Voice:
    fields = nodes.Fields(name, node, "voice")
    fields.check(VOICE_KEYS, ["engine", "voice"])
    chain = [_spec(name, fields)]
    if "fallback" in fields:
        for item in nodes.sequence(name, fields["fallback"], "voice fallback"):
            spec_fields = nodes.Fields(name, item, "fallback")
            spec_fields.check(FALLBACK_KEYS, ["engine", "voice"])
            chain.append(_spec(name, spec_fields))
    pan = nodes.number(name, fields["pan"], "pan", -1.0, 1.0) if "pan" in fields else 0.0
    return Voice(character, tuple(chain), pan, name)


def _spec(name: str, fields: nodes.Fields) -> VoiceSpec:
    def num(key: str, low: float, high: float, default: float) -> float:
        return nodes.number(name, fields[key], key, low, high) if key in fields else default

    engine = nodes.choice(name, fields["engine"], "engine", ENGINES)
    pitch = num("pitch", -12.0, 12.0, 0.0)
    if engine == "piper" and pitch:
        raise nodes.fail(name, fields["pitch"], "pitch: piper has no pitch control, expected 0")
    options: tuple[tuple[str, str], ...] = ()
    if "options" in fields:
        opts = nodes.Fields(name, fields["options"], "options")
        options = tuple(
            sorted((k, nodes.text(name, v, f"option {k}")) for k, v in opts.values.items())
        )
    return VoiceSpec(
        engine=engine,
        voice=nodes.text(name, fields["voice"], "voice"),
        rate=num("rate", 0.5, 2.0, 1.0),
        pitch=pitch,
        volume=num("volume", -20.0, 12.0, 0.0),
        options=options,
    )
