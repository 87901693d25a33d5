"""espeak-ng in-process through espeakng-loader: pip-only, so it is always there as a fallback."""

from __future__ import annotations

import ctypes
import functools
import importlib.metadata
import threading
from pathlib import Path

from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.speech.engine import TIMEOUT, Engine, EngineError

_SYNCHRONOUS = 2
_RATE, _PITCH = 1, 3
_CHARS_UTF8 = 1
_PHONEMES = 0x100  # espeakPHONEMES: [[...]] in the text is phoneme mnemonics
_CALLBACK = ctypes.CFUNCTYPE(
    ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p
)
_lock = threading.Lock()  # the library keeps one global voice and callback


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
        return importlib.metadata.version("espeakng-loader")

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
        lib, rate, _ = _library()
        samples: list[bytes] = []

        def collect(wav, count, _events):
            if wav and count > 0:
                samples.append(ctypes.string_at(wav, count * 2))
            return 0

        callback = _CALLBACK(collect)
        data = text.encode("utf-8") + b"\0"
        with _lock:
            lib.espeak_SetSynthCallback(callback)
            if lib.espeak_SetVoiceByName(spec.voice.encode()) != 0:
                raise EngineError(f"espeak has no voice '{spec.voice}'")
            lib.espeak_SetParameter(_RATE, int(175 * spec.rate), 0)
            lib.espeak_SetParameter(_PITCH, int(max(0, min(100, 50 + 4 * spec.pitch))), 0)
            status = lib.espeak_Synth(data, len(data), 0, 0, 0, _CHARS_UTF8 | _PHONEMES, None, None)
            lib.espeak_Synchronize()
        if status != 0 or not samples:
            raise EngineError(f"espeak-ng failed (status {status})")
        return AudioSegment(data=b"".join(samples), sample_width=2, frame_rate=rate, channels=1)
