"""flite: the Debian `flite` binary, run per line with a timeout."""

from __future__ import annotations

import functools
import shutil
import subprocess
import tempfile
from pathlib import Path

from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.speech.engine import TIMEOUT, Engine, EngineError, installed, remembered

# Natural mean F0 of each voice (Hz, measured): pitch shifts move flite's own F0 target,
# which keeps the formants where they are (no chipmunk).
NATURAL_F0 = {"slt": 166.0, "rms": 102.0, "kal16": 88.0, "kal": 100.0, "awb": 126.0}


class Flite(Engine):
    name = "flite"

    def problem(self) -> str | None:
        return None if shutil.which("flite") else "flite is not installed (apt-get install flite)"

    @functools.cache  # noqa: B019 - one engine object per process
    def version(self) -> str:
        program = Path(shutil.which("flite") or "flite")
        return remembered("flite", installed([program]), "version", self._version)

    def _version(self) -> str:
        out = subprocess.run(["flite", "--version"], capture_output=True, text=True, timeout=10)
        return out.stdout.split("version:")[-1].strip().split()[0] if out.stdout else "unknown"

    def voices(self) -> tuple[str, ...]:
        return tuple(NATURAL_F0)

    def command(self, spec: VoiceSpec, text_file: str, wav: str) -> list[str]:
        cmd = ["flite", "-voice", spec.voice, "-f", text_file, "-o", wav]
        settings = {"duration_stretch": 1.0 / spec.rate}
        if spec.pitch:
            mean = NATURAL_F0.get(spec.voice, 120.0) * 2 ** (spec.pitch / 12)
            settings |= {"int_f0_target_mean": mean, "int_f0_target_stddev": 0.16 * mean}
        settings |= {k: float(v) for k, v in spec.options}
        for key, value in sorted(settings.items()):
            cmd += ["--setf", f"{key}={value:.3f}"]
        return cmd

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        with tempfile.TemporaryDirectory(prefix="drama-flite-") as tmp:
            text_file, wav = Path(tmp, "line.txt"), Path(tmp, "line.wav")
            # Without a final newline flite drops a last one-word sentence ("Detached.").
            text_file.write_text(text + "\n", encoding="utf-8")
            try:
                subprocess.run(
                    self.command(spec, str(text_file), str(wav)),
                    capture_output=True,
                    timeout=timeout,
                    check=True,
                )
            except subprocess.TimeoutExpired:
                raise EngineError(f"flite did not answer within {timeout:g} s") from None
            except (subprocess.CalledProcessError, OSError) as exc:
                raise EngineError(f"flite failed: {exc}") from None
            return AudioSegment.from_wav(str(wav))
