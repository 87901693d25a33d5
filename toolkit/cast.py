"""Cast stage: read voices/<character>.yaml into each character's ordered chain of voices."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from toolkit.errors import DramaError
from toolkit.script import nodes
from toolkit.script.loader import read_yaml, relative
from toolkit.script.model import Show

ENGINES = ["piper", "flite", "espeak", "gtts", "festival", "kokoro"]
VOICE_KEYS = ["engine", "voice", "rate", "pitch", "volume", "pan", "options", "fallback"]
FALLBACK_KEYS = ["engine", "voice", "rate", "pitch", "volume", "options"]
# The options each engine reads (see docs/script-format.md); flite takes any --setf feature.
OPTIONS = {"piper": [], "espeak": [], "gtts": ["tld"], "festival": [], "kokoro": []}
_FEATURE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DOMAIN = re.compile(r"[a-z0-9-]+(\.[a-z0-9-]+)*")
MAX_FEATURE = 100_000.0  # flite features are seconds, Hz and ratios: far below this


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
        if not os.path.exists(path):  # never raises, even for a name too long to exist
            raise DramaError(
                f"no voice for {character}, expected a voice file (engine, voice) here", name, 1, 1
            )
        cast[character] = _voice(name, read_yaml(path, name), character)
    return cast


def _voice(name: str, node: yaml.Node, character: str) -> Voice:
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
    if engine in ("piper", "kokoro") and pitch:
        raise nodes.fail(name, fields["pitch"], f"pitch: {engine} has no pitch control, expected 0")
    return VoiceSpec(
        engine=engine,
        voice=_voice_name(name, fields["voice"], engine),
        rate=num("rate", 0.5, 2.0, 1.0),
        pitch=pitch,
        volume=num("volume", -20.0, 12.0, 0.0),
        options=_options(name, fields["options"], engine) if "options" in fields else (),
    )


def _voice_name(name: str, node: yaml.Node, engine: str) -> str:
    """A voice the engine has, so a typo fails `drama check` instead of every build falling
    back. The lists ship with the toolkit (espeak's with its pip package), so a script that
    checks on one machine checks on all."""
    # Imported here: the engines import this module for VoiceSpec.
    from toolkit.speech.engine import EngineError
    from toolkit.speech.synth import ENGINES as ENGINE_OBJECTS

    voice = nodes.text(name, node, "voice")
    known = ENGINE_OBJECTS[engine]
    if engine == "kokoro":
        return _blend(name, node, voice, known)
    try:
        if known.accepts(voice):
            return voice
        options = list(known.voices())
    except (ImportError, OSError, EngineError):
        return voice  # the engine cannot list its voices here; synthesis will say why
    hint = nodes.closest(voice, options, shown=8)
    raise nodes.fail(name, node, f"voice: {engine} has no voice '{voice}', {hint}")


def _blend(name: str, node: yaml.Node, voice: str, known) -> str:
    """A Kokoro voice: one pack, or packs blended by positive weights (a*0.6+b*0.4)."""
    from toolkit.speech.kokoro import blend

    try:
        parts = blend(voice)
    except ValueError as exc:
        raise nodes.fail(name, node, f"voice: {exc} in kokoro blend '{voice}'") from None
    try:
        packs = list(known.voices())
    except (ImportError, OSError):
        return voice  # the packages are missing here; the build falls back and says why
    for part, _ in parts:
        if part not in packs:
            hint = nodes.closest(part, packs)
            raise nodes.fail(name, node, f"voice: kokoro has no voice '{part}', {hint}")
    return voice


def _options(name: str, node: yaml.Node, engine: str) -> tuple[tuple[str, str], ...]:
    """Only options the engine reads, with values it can use: flite would crash on a
    non-number, and gTTS puts `tld` into the address it calls."""
    fields = nodes.Fields(name, node, "options")
    if engine == "flite":
        return tuple(sorted(_feature(name, fields, key) for key in fields.values))
    if fields.key_nodes and not OPTIONS[engine]:
        first = next(iter(fields.key_nodes))
        raise nodes.fail(
            name, fields.key_nodes[first], f"options: {engine} takes none, found '{first}'"
        )
    fields.check(OPTIONS[engine])
    return tuple(sorted((key, _domain(name, value, key)) for key, value in fields.values.items()))


def _feature(name: str, fields: nodes.Fields, key: str) -> tuple[str, str]:
    if not _FEATURE.fullmatch(key):
        raise nodes.fail(
            name, fields.key_nodes[key], f"options: expected a flite feature name, found '{key}'"
        )
    value = nodes.number(name, fields[key], f"option {key}", -MAX_FEATURE, MAX_FEATURE)
    return key, repr(value)


def _domain(name: str, node: yaml.Node, key: str) -> str:
    text = nodes.text(name, node, f"option {key}")
    if not _DOMAIN.fullmatch(text):
        raise nodes.fail(
            name, node, f"option {key}: expected a domain ending such as co.uk, found '{text}'"
        )
    return text
