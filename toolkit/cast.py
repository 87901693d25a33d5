"""Cast stage: read voices/<character>.yaml into each character's ordered chain of voices."""

from __future__ import annotations

import json
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
    folder: str = ""  # the project folder a voice given as a file path is in

    def label(self) -> str:
        return f"{self.engine} {self.voice}"


@dataclass(frozen=True)
class Voice:
    """A character's voice: the preferred spec first, then fallbacks in order."""

    character: str
    chain: tuple[VoiceSpec, ...]
    pan: float
    file: str


def is_model_path(voice: str) -> bool:
    """A voice given as a model file (piper's `models/amy.onnx`), not as a voice name."""
    return voice.endswith(".onnx") or "/" in voice or "\\" in voice


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
        cast[character] = _voice(name, read_yaml(path, name), character, project)
    return cast


def voice_of(token: str, project: Path) -> Voice:
    """`engine:voice`, optionally with `,rate=0.9,pitch=3,volume=-2`, as a voice of its own
    (for auditions), checked as a voice file would be."""
    engine, colon, rest = token.partition(":")
    voice, *settings = rest.split(",")
    lines = [f"engine: {json.dumps(engine)}", f"voice: {json.dumps(voice)}"]
    try:
        if not colon or not voice:
            raise DramaError(
                "expected a character or engine:voice, e.g. festival:cmu_us_slt_arctic_hts"
            )
        for setting in settings:
            key, _, value = (part.strip() for part in setting.partition("="))
            if key not in ("rate", "pitch", "volume"):
                raise DramaError(
                    f"expected rate=, pitch= or volume= after the voice, found '{setting}'"
                )
            lines.append(f"{key}: {float(value)!r}")
        return _voice("", yaml.compose("\n".join(lines)), token, project)
    except ValueError:
        raise DramaError(f"audition '{token}': expected a number after '='") from None
    except DramaError as exc:  # located in a file that does not exist: keep what it says
        message = (
            exc.message.split(": ", 1)[-1] if exc.message.startswith("voice: ") else exc.message
        )
        raise DramaError(f"audition '{token}': {message}") from None


def _voice(name: str, node: yaml.Node, character: str, project: Path) -> Voice:
    fields = nodes.Fields(name, node, "voice")
    fields.check(VOICE_KEYS, ["engine", "voice"])
    chain = [_spec(name, fields, project)]
    if "fallback" in fields:
        for item in nodes.sequence(name, fields["fallback"], "voice fallback"):
            spec_fields = nodes.Fields(name, item, "fallback")
            spec_fields.check(FALLBACK_KEYS, ["engine", "voice"])
            chain.append(_spec(name, spec_fields, project))
    pan = nodes.number(name, fields["pan"], "pan", -1.0, 1.0) if "pan" in fields else 0.0
    return Voice(character, tuple(chain), pan, name)


def _spec(name: str, fields: nodes.Fields, project: Path) -> VoiceSpec:
    def num(key: str, low: float, high: float, default: float) -> float:
        return nodes.number(name, fields[key], key, low, high) if key in fields else default

    engine = nodes.choice(name, fields["engine"], "engine", ENGINES)
    pitch = num("pitch", -12.0, 12.0, 0.0)
    if engine in ("piper", "kokoro") and pitch:
        raise nodes.fail(name, fields["pitch"], f"pitch: {engine} has no pitch control, expected 0")
    voice = _voice_name(name, fields["voice"], engine, project)
    return VoiceSpec(
        engine=engine,
        voice=voice,
        folder=str(project.resolve()) if engine == "piper" and is_model_path(voice) else "",
        rate=num("rate", 0.5, 2.0, 1.0),
        pitch=pitch,
        volume=num("volume", -20.0, 12.0, 0.0),
        options=_options(name, fields["options"], engine) if "options" in fields else (),
    )


def _voice_name(name: str, node: yaml.Node, engine: str, project: Path) -> str:
    """A voice the engine has, so a typo fails `drama check` instead of every build falling
    back. The lists ship with the toolkit (espeak's with its pip package), so a script that
    checks on one machine checks on all; a piper model path must lead to a model and its
    config inside the project."""
    # Imported here: the engines import this module for VoiceSpec.
    from toolkit.speech.engine import EngineError
    from toolkit.speech.synth import ENGINES as ENGINE_OBJECTS

    voice = nodes.text(name, node, "voice")
    if engine == "piper" and is_model_path(voice):
        return _model_path(name, node, voice, project)
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
    if engine == "piper":
        hint += " (or a model file such as models/amy.onnx)"
    raise nodes.fail(name, node, f"voice: {engine} has no voice '{voice}', {hint}")


def _model_path(name: str, node: yaml.Node, voice: str, project: Path) -> str:
    """A Piper model `voice` (relative to the project, forward slashes) and its config."""

    def fail(why: str) -> DramaError:
        return nodes.fail(name, node, f"voice: piper model '{voice}' {why}")

    if "\\" in voice or voice.startswith("/") or re.match(r"[A-Za-z]:", voice):
        raise fail("must be a path relative to the project folder, with / between folders")
    if not voice.endswith(".onnx"):
        raise fail("is not an .onnx file, expected a Piper model such as models/amy.onnx")
    root = project.resolve()
    model = (project / voice).resolve()
    if not model.is_relative_to(root):
        raise fail("is outside the project folder, expected a file inside it")
    if not model.is_file():
        raise fail("not found, expected a Piper .onnx file relative to the project folder")
    config = model.with_name(model.name + ".json")
    if not config.is_file():
        raise fail(f"has no config beside it, expected {Path(voice).name}.json next to it")
    try:
        json.loads(config.read_text(encoding="utf-8"))["audio"]["sample_rate"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise fail(
            f"has a config that is not a Piper voice config ({Path(voice).name}.json)"
        ) from None
    return voice


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
