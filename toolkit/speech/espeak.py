"""espeak-ng through espeakng-loader: pip-only, so it is always there as a fallback.

The library keeps state between utterances that no call resets (its output for a line
depends on what the process said before, even with the noise generator seeded, and
espeak_Terminate plus espeak_Initialize does not clear it). So each line is spoken by a
fresh child interpreter, as flite and festival are: the same line gives the same samples
in any process at any point of any build, and a hung synthesis can be killed."""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import json
import subprocess
import sys
from pathlib import Path

from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.speech.engine import TIMEOUT, Engine, EngineError

_SYNCHRONOUS = 2

# Run as `python -c` with the line as JSON on stdin: 16-bit samples on stdout, or exit 3 with
# the reason on stderr. Imports nothing of the toolkit, so it starts in tens of milliseconds.
_CHILD = r"""
import ctypes, json, sys
import espeakng_loader
job = json.loads(sys.stdin.buffer.read())
lib = ctypes.CDLL(espeakng_loader.get_library_path())
if lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0) <= 0:
    sys.exit("espeak-ng failed to initialise")
samples = []
def collect(wav, count, events):
    if wav and count > 0:
        samples.append(ctypes.string_at(wav, count * 2))
    return 0
callback = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)(collect)
lib.espeak_SetSynthCallback(callback)
if lib.espeak_SetVoiceByName(job["voice"].encode()) != 0:
    print(f"espeak has no voice '{job['voice']}'", file=sys.stderr)
    sys.exit(3)
lib.espeak_SetParameter(1, job["rate"], 0)  # espeakRATE
lib.espeak_SetParameter(3, job["pitch"], 0)  # espeakPITCH
lib.espeak_ng_SetRandSeed(0)  # breathy variants (+f2, +f5, ...) draw noise
text = job["text"].encode("utf-8") + b"\0"
# espeakCHARS_UTF8 | espeakPHONEMES: [[...]] in the text is phoneme mnemonics
status = lib.espeak_Synth(text, len(text), 0, 0, 0, 1 | 0x100, None, None)
lib.espeak_Synchronize()
if status != 0 or not samples:
    print(f"espeak-ng failed (status {status})", file=sys.stderr)
    sys.exit(3)
sys.stdout.buffer.write(b"".join(samples))
"""


@functools.cache
def _library() -> tuple[ctypes.CDLL, int, Path]:
    import espeakng_loader

    lib = ctypes.CDLL(espeakng_loader.get_library_path())
    data = espeakng_loader.get_data_path()
    rate = lib.espeak_Initialize(_SYNCHRONOUS, 0, data.encode(), 0)
    if rate <= 0:
        raise EngineError("espeak-ng failed to initialise")
    return lib, rate, Path(data)


class Espeak(Engine):
    name = "espeak"
    alphabet = "espeak"  # its own mnemonics in [[...]], read with espeakPHONEMES

    def problem(self) -> str | None:
        try:
            _library()
        except (ImportError, OSError, EngineError) as exc:
            return f"espeak-ng is unavailable ({exc})"
        return None

    def version(self) -> str:
        # "+fresh": clips from before each line had a process of its own are made again.
        return importlib.metadata.version("espeakng-loader") + "+fresh"

    @functools.cache  # noqa: B019 - one engine object per process
    def voices(self) -> tuple[str, ...]:
        """Languages (lowercased) and each English one with each variant (`en-us+f2`)."""
        data = _library()[2]
        languages = sorted(p.name.lower() for p in (data / "lang").rglob("*") if p.is_file())
        variants = sorted(p.name for p in (data / "voices" / "!v").iterdir())
        english = [lang for lang in languages if lang in ("en", "en-us")]
        return tuple(languages) + tuple(f"{lang}+{v}" for lang in english for v in variants)

    def accepts(self, voice: str) -> bool:
        """Case-insensitive, as espeak-ng's own voice lookup."""
        language, _, variant = voice.lower().partition("+")
        known = {name.lower() for name in self.voices()}
        return language in known and (not variant or f"en+{variant}" in known)

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        rate = _library()[1]
        job = {
            "voice": spec.voice,
            "rate": int(175 * spec.rate),
            "pitch": int(max(0, min(100, 50 + 4 * spec.pitch))),
            "text": text,
        }
        try:
            done = subprocess.run(
                [sys.executable, "-c", _CHILD],
                input=json.dumps(job).encode(),
                capture_output=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            raise EngineError(f"espeak-ng did not answer within {timeout:g} s") from None
        except OSError as exc:
            raise EngineError(f"espeak-ng could not start ({exc.strerror})") from None
        if done.returncode != 0 or not done.stdout:
            reason = done.stderr.decode(errors="replace").strip().splitlines()
            raise EngineError(
                reason[-1] if reason else f"espeak-ng failed (exit {done.returncode})"
            )
        return AudioSegment(data=done.stdout, sample_width=2, frame_rate=rate, channels=1)
