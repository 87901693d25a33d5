"""festival: the Debian `festival` program and its voice packages (the HTS slt voice above all),
run once per line on a Scheme script in a temporary folder, with a timeout."""

from __future__ import annotations

import functools
import math
import re
import shutil
import subprocess
import tempfile
import wave
from pathlib import Path

import numpy as np
from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.speech.engine import TIMEOUT, Engine, EngineError, installed, remembered

_NAME = re.compile(r"[a-z0-9_]+")
VOICE_ROOT = Path("/usr/share/festival/voices")
# Each voice's own knobs, applied after the voice is selected. HTS voices compute their own
# durations and F0 (festival's Duration_Stretch and F0 targets do nothing there): their rate
# is hts_engine's speed (-r); diphone voices stretch festival's durations and move the
# targets of their F0 model.
_SCRIPT = """\
(voice_{voice})
(if (eq? 'HTS (Parameter.get 'Synth_Method))
    (set! hts_engine_params (append (list (list "-r" {rate:.6f}){model}) hts_engine_params))
    (begin
      (Parameter.set 'Duration_Stretch (/ (Parameter.get 'Duration_Stretch) {rate:.6f}))
      (if (boundp 'int_lr_params)
          (set! int_lr_params
                (mapcar (lambda (p)
                          (if (member (car p) '(target_f0_mean target_f0_std))
                              (list (car p) (* {factor:.6f} (car (cdr p))))
                              p))
                        int_lr_params)))))
(utt.save.wave (utt.synth (Utterance Text "{text}")) "line.wav" 'riff)
"""
_INFO = """\
(voice_{voice})
(format t "method=%s\\n" (Parameter.get 'Synth_Method))
(if (eq? 'HTS (Parameter.get 'Synth_Method))
    (format t "model=%s\\n" (car (cdr (assoc_string "-m" hts_engine_params)))))
"""


def _run(script: str, folder: Path, timeout: float) -> str:
    """Run festival on `script` inside `folder`; its stdout, or EngineError with one line."""
    (folder / "run.scm").write_text(script, encoding="utf-8")
    try:
        out = subprocess.run(
            ["festival", "--batch", "run.scm"],
            cwd=folder,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
        )
    except subprocess.TimeoutExpired:
        raise EngineError(f"festival did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise EngineError(f"festival could not start ({exc.strerror})") from None
    if out.returncode != 0:
        errors = [line for line in out.stderr.splitlines() if "ERROR" in line or "rror" in line]
        reason = (errors or out.stderr.strip().splitlines() or ["no message"])[0]
        raise EngineError(f"festival failed (exit {out.returncode}): {reason.strip()[:200]}")
    return out.stdout


def _remembered(fact: str, compute):
    """A fact festival told, kept until its program or a voice folder changes (installing
    or removing a voice package changes its language folder's date)."""
    program = shutil.which("festival")
    paths = [Path(program)] if program else []
    paths += [VOICE_ROOT, *sorted(VOICE_ROOT.glob("*")), *sorted(VOICE_ROOT.glob("*/*"))]
    return remembered("festival", installed(paths), fact, compute)


def _quote(text: str) -> str:
    """`text` as the inside of a Scheme string literal: only backslash and quote are special;
    line breaks become spaces (festival treats them so anyway)."""
    text = " ".join(text.split())
    return text.replace("\\", "\\\\").replace('"', '\\"')


def pitched_model(data: bytes, semitones: float) -> bytes:
    """An HTS voice file (hts_engine 1.0x format) whose log-F0 means are `semitones` higher:
    what hts_engine's own half-tone option does, which festival does not pass through. The
    trajectory's shape, its global variance and the spectrum are untouched."""
    start = data.find(b"[DATA]\n")
    if start < 0:
        raise EngineError("the voice's HTS model has no [DATA] section")
    start += len(b"[DATA]\n")
    header = dict(
        line.split(":", 1)
        for line in data[:start].decode("ascii", "replace").splitlines()
        if ":" in line
    )
    try:
        states = int(header["NUM_STATES"])
        length = int(header["VECTOR_LENGTH[LF0]"])
        windows = int(header["NUM_WINDOWS[LF0]"])
        msd = int(header["IS_MSD[LF0]"])
        first, last = (int(n) for n in header["STREAM_PDF[LF0]"].split("-"))
    except (KeyError, ValueError):
        raise EngineError("the voice's HTS model has no log-F0 stream it can read") from None
    begin, end = start + first, start + last + 1
    counts = np.frombuffer(data[begin : begin + 4 * states], "<i4")
    width = 2 * length * windows + msd
    pdfs = np.frombuffer(data[begin + 4 * states : end], "<f4").copy()
    if counts.sum() * width != len(pdfs):
        raise EngineError("the voice's HTS model has a log-F0 stream of an unknown layout")
    pdfs = pdfs.reshape(-1, width)
    pdfs[:, :length] += np.float32(semitones * math.log(2) / 12)
    return data[: begin + 4 * states] + pdfs.astype("<f4").tobytes() + data[end:]


def _read_wav(path: Path) -> AudioSegment:
    try:
        with wave.open(str(path), "rb") as wav:
            width, rate, channels = wav.getsampwidth(), wav.getframerate(), wav.getnchannels()
            frames = wav.readframes(wav.getnframes())
    except FileNotFoundError:
        raise EngineError("festival wrote no audio") from None
    except (wave.Error, EOFError, OSError) as exc:
        raise EngineError(f"festival wrote audio that cannot be read ({exc})") from None
    if width != 2 or not frames:
        raise EngineError("festival wrote no usable audio")
    return AudioSegment(data=frames, sample_width=2, frame_rate=rate, channels=channels)


class Festival(Engine):
    name = "festival"

    def problem(self) -> str | None:
        if not shutil.which("festival"):
            return "festival is not installed (apt-get install festival festvox-us-slt-hts)"
        try:
            self.voices()
        except EngineError as exc:
            return f"festival cannot list its voices ({exc})"
        return None

    def version(self) -> str:
        return _remembered("version", self._version)

    def _version(self) -> str:
        try:
            out = subprocess.run(
                ["festival", "--version"], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        found = re.search(r"System: ([\w.:-]+)", out.stdout + out.stderr)
        return found.group(1) if found else "unknown"

    def voice_version(self, spec: VoiceSpec) -> str:
        return self._package(spec.voice)

    @functools.cache  # noqa: B019
    def _package(self, voice: str) -> str:
        """The Debian package version of the voice's files (its files' sizes without dpkg)."""
        return _remembered(f"package {voice}", lambda: self._ask_package(voice))

    def _ask_package(self, voice: str) -> str:
        folder = self._info(voice).get("folder", "")
        try:
            owner = subprocess.run(
                ["dpkg-query", "-S", folder], capture_output=True, text=True, timeout=10
            ).stdout.split(":")[0]
            version = subprocess.run(
                ["dpkg-query", "-W", "-f=${Version}", owner],
                capture_output=True,
                text=True,
                timeout=10,
            ).stdout
            if owner and version:
                return f"{owner}={version}"
        except (OSError, subprocess.TimeoutExpired):
            pass
        files = sorted(p for p in Path(folder).rglob("*") if p.is_file()) if folder else []
        return "files:" + ",".join(str(p.stat().st_size) for p in files)

    @functools.cache  # noqa: B019
    def voices(self) -> tuple[str, ...]:
        """The voices festival finds in its voice folders, as `(voice.list)` names them."""
        return tuple(_remembered("voices", self._ask_voices))

    def _ask_voices(self) -> tuple[str, ...]:
        with tempfile.TemporaryDirectory(prefix="drama-festival-") as tmp:
            out = _run('(format t "%l\\n" (voice.list))\n', Path(tmp), 30)
        return tuple(sorted(_NAME.findall(out.strip().strip("()"))))

    @functools.cache  # noqa: B019
    def _info(self, voice: str) -> dict[str, str]:
        """The voice's synthesis method, HTS model file and folder."""
        return _remembered(f"info {voice}", lambda: self._ask_info(voice))

    def _ask_info(self, voice: str) -> dict[str, str]:
        with tempfile.TemporaryDirectory(prefix="drama-festival-") as tmp:
            out = _run(_INFO.format(voice=voice), Path(tmp), 30)
        info = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        folders = sorted(VOICE_ROOT.glob(f"*/{voice}"))
        if folders:
            info["folder"] = str(folders[0])
        return info

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        if not _NAME.fullmatch(spec.voice):
            raise EngineError(f"festival has no voice '{spec.voice}'")
        with tempfile.TemporaryDirectory(prefix="drama-festival-") as tmp:
            folder = Path(tmp)
            model = ""
            if spec.pitch and "model" in self._info(spec.voice):
                try:
                    data = Path(self._info(spec.voice)["model"]).read_bytes()
                except OSError as exc:
                    raise EngineError(f"festival voice model unreadable ({exc.strerror})") from None
                (folder / "voice.htsvoice").write_bytes(pitched_model(data, spec.pitch))
                model = ' (list "-m" "voice.htsvoice")'
            script = _SCRIPT.format(
                voice=spec.voice,
                rate=spec.rate,
                model=model,
                factor=2 ** (spec.pitch / 12),
                text=_quote(text),
            )
            _run(script, folder, timeout)
            return _read_wav(folder / "line.wav")
