"""gTTS: Google's online voice. Always with a timeout; offline it fails fast with one clear line."""

from __future__ import annotations

import importlib.metadata
import io

import numpy as np
from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.speech.engine import TIMEOUT, Engine, EngineError

LANGUAGES = ("en", "en-us", "en-gb", "en-au", "en-ca", "en-in", "fr", "de", "es", "it", "pt")


class GTTS(Engine):
    name = "gtts"

    def problem(self) -> str | None:
        try:
            importlib.metadata.version("gTTS")
        except importlib.metadata.PackageNotFoundError:
            return "gTTS is not installed (pip install gtts)"
        return None

    def version(self) -> str:
        return importlib.metadata.version("gTTS")

    def voices(self) -> tuple[str, ...]:
        return LANGUAGES

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        from gtts import gTTS, gTTSError

        options = dict(spec.options)
        lang, _, region = spec.voice.partition("-")
        tld = options.get(
            "tld", {"gb": "co.uk", "au": "com.au", "ca": "ca", "in": "co.in"}.get(region, "com")
        )
        buffer = io.BytesIO()
        try:
            gTTS(
                text, lang=lang, tld=tld, slow=spec.rate < 0.8, lang_check=False, timeout=timeout
            ).write_to_fp(buffer)
        except gTTSError as exc:
            raise EngineError(
                f"gTTS could not reach Google ({exc.msg.split('.')[0]}); it needs the internet"
            ) from None
        except Exception as exc:  # requests and urllib3 raise a wide family
            raise EngineError(f"gTTS failed: {exc}") from None
        return _decode_mp3(buffer.getvalue())


def _decode_mp3(data: bytes) -> AudioSegment:
    """MP3 to a clip without ffmpeg: pedalboard decodes from memory."""
    from pedalboard.io import AudioFile

    if not data:
        raise EngineError("gTTS returned no audio")
    try:
        with AudioFile(io.BytesIO(data)) as f:
            audio, rate = f.read(f.frames), f.samplerate
    except Exception as exc:
        raise EngineError(f"gTTS returned audio that cannot be decoded: {exc}") from None
    mono = np.clip(audio.mean(axis=0), -1, 1)
    pcm = (mono * 32767).astype("<i2").tobytes()
    return AudioSegment(data=pcm, sample_width=2, frame_rate=int(rate), channels=1)
