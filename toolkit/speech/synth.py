"""Turn every spoken line into a levelled mono clip, through the cache and the voice fallbacks."""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import os
import re
import signal
import threading
from collections import deque
from collections.abc import Callable, Container, Iterator
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FuturesTimeout
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from itertools import chain
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import soxr
from pydub import AudioSegment
from pydub.silence import detect_leading_silence

from toolkit.cast import Voice, VoiceSpec
from toolkit.errors import DramaError
from toolkit.fsutil import Blobs, atomic_write_bytes
from toolkit.memory import give_back_freed_memory
from toolkit.mix.timeline import RATE
from toolkit.script.lexicon import Lexicon
from toolkit.script.model import Speech
from toolkit.speech.engine import TIMEOUT, Engine, EngineError
from toolkit.speech.espeak import Espeak
from toolkit.speech.festival import Festival
from toolkit.speech.flite import Flite
from toolkit.speech.gtts import GTTS
from toolkit.speech.kokoro import Kokoro
from toolkit.speech.piper import Piper
from toolkit.speech.pronounce import pronounce
from toolkit.speech.text import normalize, split_sentences

ENGINES: dict[str, Engine] = {
    e.name: e for e in (Piper(), Flite(), Espeak(), GTTS(), Festival(), Kokoro())
}
# Characters one engine call may take: gTTS rejects long requests, the others slow down.
# Kokoro splits its pieces into sentences itself (see kokoro.py).
CALL_SUFFIX = ".f32"  # an engine call's audio: float32 mono at the engine's rate (Blobs)
LIMITS = {"gtts": 200, "piper": 600, "flite": 600, "espeak": 2000, "festival": 600, "kokoro": 600}
SPEECH_LUFS = -20.0  # every clip is levelled here before its voice's volume offset
# How a parenthetical direction changes delivery: (rate multiplier, dB).
DIRECTIONS = {
    "whisper": (0.9, -9.0),
    "quiet": (0.95, -4.0),
    "soft": (0.95, -3.0),
    "gentl": (0.95, -2.0),
    "calm": (0.93, -1.0),
    "hesita": (0.9, -2.0),
    "break": (0.9, -3.0),
    "tear": (0.9, -3.0),
    "shout": (1.08, 4.0),
    "angr": (1.05, 3.0),
    "loud": (1.05, 3.0),
    "excit": (1.08, 2.0),
    "quick": (1.1, 0.0),
    "laugh": (1.05, 1.0),
}
# 2: flite is given a final newline (it dropped a last one-word sentence);
# 3: resampled with soxr and levelled with the master's meter (no scipy on the edit path)
CACHE_VERSION = "3"


@dataclass(frozen=True)
class Clip:
    """A spoken line ready to mix: float32 mono at RATE, edges trimmed, levelled."""

    samples: np.ndarray
    spec: VoiceSpec

    @property
    def seconds(self) -> float:
        return len(self.samples) / RATE


def delivery(direction: str | None) -> tuple[float, float]:
    """Rate multiplier and gain (dB) a direction asks for; unknown directions change nothing."""
    if not direction:
        return 1.0, 0.0
    lowered = direction.lower()
    for stem, effect in DIRECTIONS.items():
        if stem in lowered:
            return effect
    return 1.0, 0.0


def problem(spec: VoiceSpec) -> str | None:
    """Why this voice cannot run on this machine, or None when it can. An engine whose
    probe or version query fails in any way (hangs, crashes, prints nothing) cannot."""
    engine = ENGINES[spec.engine]
    try:
        if engine.problem() is not None:
            return engine.problem()
        version(spec.engine)
        accepted = engine.accepts(spec.voice)
        if accepted:
            engine.voice_version(spec)
    except Exception as exc:  # noqa: BLE001 - any engine misbehaving is that voice failing
        return failure(spec.engine, exc)
    return None if accepted else f"{spec.engine} has no voice '{spec.voice}'"


_versions: dict[str, str | Exception] = {}


def version(engine: str) -> str:
    """The engine's version, asked once per process (a failure too, so a hung
    `--version` costs its timeout once, not once per line)."""
    if engine not in _versions:
        try:
            _versions[engine] = ENGINES[engine].version()
        except Exception as exc:  # noqa: BLE001 - kept and raised again below
            _versions[engine] = exc
    found = _versions[engine]
    if isinstance(found, Exception):
        raise found
    return found


def failure(engine: str, exc: BaseException) -> str:
    """An engine's exception as one short line: its own message when it is ours, else what
    kind of failure it was and its first line, without temp paths or decoder dumps."""
    if isinstance(exc, EngineError):
        return " ".join(str(exc).split())
    first = (str(exc).strip().splitlines() or [""])[0]
    first = re.sub(r"(?:[A-Za-z]:)?[\\/][^\s'\":]+", "<file>", first)[:120]
    return f"{engine} failed ({type(exc).__name__}{': ' + first if first else ''})"


def first_usable(
    voice: Voice, skip: Container[VoiceSpec] = (), why: Callable = problem
) -> VoiceSpec | None:
    """The first voice of the chain (not in `skip`) that this machine can run (`why` says
    why one cannot). The chain is probed only this far: a fallback engine is not even
    started while the voice before it works."""
    return next((s for s in voice.chain if s not in skip and why(s) is None), None)


def spoken(spec: VoiceSpec, text: str, lexicon: Lexicon = ()) -> str:
    """The text `spec`'s engine is given: normalized, with the lexicon in its alphabet."""
    return pronounce(normalize(text), lexicon, ENGINES[spec.engine].alphabet)


def cache_key(spec: VoiceSpec, text: str, direction: str | None, lexicon: Lexicon = ()) -> str:
    """Everything that changes the audio of a line, and nothing else (not its position): the
    lexicon only through the text it gives the engine, so an entry re-voices its own lines."""
    rate, gain = delivery(direction)
    engine = ENGINES[spec.engine]
    identity = "+".join(filter(None, (version(spec.engine), engine.voice_version(spec))))
    fields = {
        "v": CACHE_VERSION,
        "engine": spec.engine,
        "engine_version": identity,
        "voice": spec.voice,
        "rate": round(spec.rate * rate, 4),
        "pitch": spec.pitch,
        "volume": spec.volume + gain,
        "options": spec.options,
        "text": spoken(spec, text, lexicon),
    }
    return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


def to_samples(segment: AudioSegment) -> np.ndarray:
    """Engine audio to float32 mono at RATE with its leading and trailing silence trimmed."""
    segment = segment.set_channels(1)
    head = detect_leading_silence(segment, silence_threshold=-50.0, chunk_size=5)
    tail = detect_leading_silence(segment.reverse(), silence_threshold=-50.0, chunk_size=5)
    segment = segment[max(0, head - 10) : max(head, len(segment) - tail + 10)]
    scale = float(1 << (8 * segment.sample_width - 1))
    samples = np.array(segment.get_array_of_samples(), dtype=np.float32) / scale
    if segment.frame_rate == RATE:
        return samples
    return soxr.resample(samples, segment.frame_rate, RATE, quality="HQ").astype(np.float32)


def level(samples: np.ndarray, gain_db: float) -> np.ndarray:
    """Bring a clip to SPEECH_LUFS (RMS for clips too short to gate), then apply `gain_db`."""
    if len(samples) >= int(0.4 * RATE):
        from toolkit.master.loudness import integrated_lufs  # the meter the master uses

        loudness = integrated_lufs(samples)
    else:
        loudness = 20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12) - 0.7
    if not np.isfinite(loudness):
        return samples
    out = samples * np.float32(10 ** ((SPEECH_LUFS - loudness + gain_db) / 20))
    peak = float(np.max(np.abs(out)))
    return out / np.float32(peak / 0.98) if peak > 0.98 else out


def engine_texts(spec: VoiceSpec, text: str, lexicon: Lexicon = ()) -> list[str]:
    """The pieces of a line its engine is given, one call each."""
    return split_sentences(spoken(spec, text, lexicon), LIMITS[spec.engine])


def speak(spec: VoiceSpec, text: str, direction: str | None, lexicon: Lexicon = ()) -> np.ndarray:
    """Synthesize one line with one voice; long text goes to the engine in sentence pieces."""
    engine = ENGINES[spec.engine]
    rate, gain = delivery(direction)
    tuned = replace(spec, rate=spec.rate * rate)
    pieces = []
    for piece in engine_texts(spec, text, lexicon):
        samples = to_samples(engine.synthesize(piece, tuned))
        if len(samples) < RATE // 20 or float(np.max(np.abs(samples))) < 1e-3:
            raise EngineError(f"{spec.label()} returned silence")
        pieces += [samples, np.zeros(int(0.18 * RATE), np.float32)]
    return level(np.concatenate(pieces[:-1]), spec.volume + gain)


def speak_or_error(
    spec: VoiceSpec, text: str, direction: str | None, lexicon: Lexicon = ()
) -> np.ndarray | str:
    """Worker entry point: the samples, or the engine's one-line complaint. The engine's
    scratch memory is handed back after each line, so the next line, or a chapter mastered
    beside it, grows from the process's resting size rather than from this line's peak."""
    try:
        return speak(spec, text, direction, lexicon)
    except Exception as exc:  # noqa: BLE001 - whatever an engine raises fails its voice
        return failure(spec.engine, exc)
    finally:
        give_back_freed_memory()


@contextmanager
def _engines(**settings: object) -> Iterator[None]:
    """Every engine of this process given `settings` (Engine.cores, Engine.calls) meanwhile,
    then its defaults again."""
    for engine in ENGINES.values():
        for name, value in settings.items():
            setattr(engine, name, value)
    try:
        yield
    finally:
        for engine in ENGINES.values():
            for name in settings:
                setattr(engine, name, getattr(Engine, name))


def worker_pool(jobs: int) -> ProcessPoolExecutor:
    """Fresh interpreters (not forks of a process that may hold engine threads)."""
    return ProcessPoolExecutor(
        jobs, mp_context=get_context("spawn"), initializer=_worker_init, initargs=(os.getpid(),)
    )


def _outcomes(futures: list[Future]) -> Iterator[np.ndarray | str | None]:
    """Each worker's answer, or why there is none: an engine that takes more than twice its
    own timeout after the previous line, or takes its worker down, fails its line. The pool is
    lost with it, so lines still waiting then are nobody's fault: None, to be voiced again."""
    lost = False
    for future in futures:
        if lost and not future.done():
            yield None
            continue
        try:
            yield future.result(timeout=2 * TIMEOUT + 10)
        except FuturesTimeout:
            lost = True
            yield f"the engine hung (no answer in {2 * TIMEOUT + 10:g} s)"
        except BrokenProcessPool:
            yield None if lost else "the engine crashed its worker process"
            lost = True


def _stop(pool: ProcessPoolExecutor, futures: list[Future]) -> None:
    """Shut the pool down without waiting on a hung worker: kill what is still running."""
    if not all(f.done() for f in futures):
        for process in list(getattr(pool, "_processes", {}).values()):
            process.kill()
    pool.shutdown(wait=True, cancel_futures=True)


def _worker_init(build: int) -> None:
    """In each worker: die with the build. A build killed with kill -9 must not leave
    workers behind (they would idle forever, holding their engines' memory): Linux sends
    them SIGKILL when the thread that started them ends."""
    with contextlib.suppress(AttributeError, OSError):  # not Linux: no such call
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != build:  # the build died before prctl took effect
        os._exit(1)


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

# Below this many lines to voice, a process pool costs more to start than it saves.
POOL_MIN_LINES = 6


class Synthesizer:
    """Voices lines through the cache, in parallel, falling back along each character's chain.
    A voice that fails is dropped for the rest of the build with one warning, and each voice
    is tried on one line before the rest are sent, so a broken engine costs one timeout."""

    def __init__(
        self,
        cast: dict[str, Voice],
        cache_dir: Path,
        warn: Callable[[str], None],
        jobs: int | None = None,
        lexicon: Lexicon = (),
        calls: Path | None = None,
    ):
        self.cast = cast
        self.lexicon = lexicon
        self.cache_dir = cache_dir
        # where engines keep the audio of each call of a line (Engine.calls), if anywhere
        self.calls = Blobs(calls, CALL_SUFFIX) if calls is not None else None
        self.warn = warn
        self.jobs = jobs or os.cpu_count() or 1
        self.warned: set[str] = set()  # characters whose first choice has been checked
        self.problems: dict[VoiceSpec, str | None] = {}
        self.errors: dict[VoiceSpec, str] = {}
        self.proven: set[VoiceSpec] = set()  # voices that have spoken a line this build
        self._pool: ProcessPoolExecutor | None = None
        self._pooled = False
        # One token per core, taken by each line voiced on a thread here and by whatever else
        # the build computes beside them (see on_a_core).
        self._cores = threading.BoundedSemaphore(self.jobs)
        self._beside, self._beside_lock = 0, threading.Lock()  # see beside_voices

    @contextmanager
    def session(self, lines: int, pool: ProcessPoolExecutor | None = None) -> Iterator[None]:
        """Voice in parallel across several calls that voice `lines` lines in all (one at a
        time when that is too few to pay for it), keeping one pool of workers, each loading
        its engines once, for the engines that do not share their model.
        A `pool` given is shared with the caller, who shuts it down; if an engine hangs in
        it, its workers are killed and the session goes on in a pool of its own. A remote
        pool (a cluster) takes every line, and is kept when a line fails."""
        self._pooled = getattr(pool, "remote", False) or lines >= POOL_MIN_LINES and self.jobs > 1
        self._pool = pool if self._pooled else None
        try:
            yield
        finally:
            if self._pool is not None and self._pool is not pool:
                self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool, self._pooled = None, False

    def on_a_core(self, work: Callable[..., object], *args: object) -> object:
        """`work(*args)` once one of the cores is free of this build's threaded lines: a
        chapter mastered beside the voices takes turns with them instead of running beside
        two long Kokoro calls at once (each holds 100-200 MB while it runs)."""
        with self._cores:
            return work(*args)

    def beside_voices(self, work: Callable[..., object], *args: object) -> object:
        """`work(*args)` on a core (see on_a_core), as work that holds much memory beside
        the voices (a chapter's render, an engine's lines in turn): meanwhile the threads
        voicing take their shortest lines (see _next)."""
        with self._heavy():
            return self.on_a_core(work, *args)

    @contextmanager
    def _heavy(self) -> Iterator[None]:
        with self._beside_lock:
            self._beside += 1
        try:
            yield
        finally:
            with self._beside_lock:
                self._beside -= 1

    def needed(self, later: list[Speech]) -> set[str]:
        """The engines that will voice the lines of `later` the cache lacks."""
        return {self.key(line)[0].engine for line in self.missing(later)}

    def prepare(self, lines: list[Speech]) -> None:
        """Have each engine that voices here read all its text of `lines` (the lines about
        to be voiced, as the plan found them missing) before voicing them (see
        Engine.prepare): a build with many lines does, once."""
        texts: dict[str, list[str]] = {}
        for line in lines:
            spec = self.key(line)[0]
            if ENGINES[spec.engine].shares_model:
                pieces = engine_texts(spec, line.text, self.lexicon)
                texts.setdefault(spec.engine, []).extend(pieces)
        for name, pieces in texts.items():
            ENGINES[name].prepare(pieces)

    def problem(self, spec: VoiceSpec) -> str | None:
        """problem(spec), asked once per build."""
        if spec not in self.problems:
            self.problems[spec] = problem(spec)
        return self.problems[spec]

    def speaker(self, character: str) -> VoiceSpec | None:
        """The character's first voice that runs on this machine and has not failed this
        build (None once all have failed); an unusable first choice is said once."""
        voice = self.cast[character]
        spec = first_usable(voice, self.errors, self.problem)
        if character not in self.warned:
            self.warned.add(character)
            if spec is None and not self.errors:
                raise DramaError(
                    f"no voice of {character} can run here: "
                    + "; ".join(map(self.problem, voice.chain)),
                    voice.file,
                    1,
                    1,
                )
            if spec != voice.chain[0] and voice.chain[0] not in self.errors:
                self.warn(
                    f"{character}: {voice.chain[0].label()} is unavailable here "
                    f"({self.problem(voice.chain[0])}), using {spec.label()}"
                )
        return spec

    def key(self, line: Speech) -> tuple[VoiceSpec, str]:
        """The voice that will speak `line` and its cache key."""
        spec = self.speaker(line.character)
        if spec is None:
            problems = "; ".join(f"{s.label()}: {e}" for s, e in self.errors.items())
            raise DramaError(
                f"no voice of {line.character} could speak this line ({problems})",
                line.where.file,
                line.where.line,
                line.where.column,
            )
        return spec, cache_key(spec, line.text, line.direction, self.lexicon)

    def path(self, key: str) -> Path:
        return self.cache_dir / key[:2] / f"{key}.npy"

    def missing(self, lines: list[Speech]) -> list[Speech]:
        """Lines whose clip is not in the cache, one per distinct clip."""
        todo: dict[str, Speech] = {}
        for line in lines:
            _, key = self.key(line)
            if key not in todo and not _readable(self.path(key)):
                todo[key] = line
        return list(todo.values())

    def clip(self, line: Speech) -> Clip:
        return self.clips([line])[line]

    def clips(
        self, lines: list[Speech], progress: Callable[[int], None] | None = None
    ) -> dict[Speech, Clip]:
        """Every line's clip: synthesize what the cache lacks, then read all from the cache."""
        self.ensure(lines, progress)
        out = {}
        for line in lines:
            spec, key = self.key(line)
            out[line] = Clip(np.load(self.path(key)), spec)
        return out

    def ensure(
        self,
        lines: list[Speech],
        progress: Callable[[int], None] | None = None,
        later: list[Speech] | None = None,
    ) -> None:
        """Synthesize into the cache every clip of `lines` it lacks. A voice not yet heard
        this build speaks one line first, so a broken one fails once, not once per line.
        `later`, when given, are the lines the build voices after these: an engine sharing
        its model that none of them needs is let go, one voicing in turn (see _in_turn) as
        soon as its lines here are, the others once all of these are."""
        with _engines(calls=self.calls):
            todo = self.missing(lines)
            done_with: set[str] = set()
            if later is not None:  # less what is voiced now (a later chapter's line voiced early)
                now = {self.key(line)[1] for line in todo}
                done_with = set(ENGINES) - self.needed(
                    [ln for ln in later if self.key(ln)[1] not in now]
                )
            while todo:
                # each voice's shortest line: a broken voice fails, or a good one is heard, soonest
                by_length = sorted(todo, key=lambda line: -len(line.text))
                first = {self.key(line)[0]: line for line in by_length}
                probes = [line for spec, line in first.items() if spec not in self.proven]
                failed = self._run(probes, progress) if probes else False
                if not failed:
                    self._run([line for line in todo if line not in probes], progress, done_with)
                todo = self.missing(todo)
            released = [name for name in done_with if ENGINES[name].shares_model]
            for name in released:
                ENGINES[name].release()
            if released:
                give_back_freed_memory()

    def _run(
        self,
        lines: list[Speech],
        progress: Callable[[int], None] | None,
        done_with: Container[str] = (),
    ) -> bool:
        """Voice `lines` (in parallel when worth it); True if any voice failed. The engines
        of `done_with` that voice in turn are let go after their lines (see _in_turn)."""
        jobs = [(line, *self.key(line)) for line in lines]
        if not jobs or not (self._pooled or len(jobs) >= POOL_MIN_LINES and self.jobs > 1):
            with _engines(cores=self.jobs):  # nothing else runs meanwhile: one line gets them all
                results = (
                    speak_or_error(spec, line.text, line.direction, self.lexicon)
                    for line, spec, _ in jobs
                )
                return self._collect(zip(jobs, results, strict=True), progress)
        # Longest first: the line left running alone at the end, with the other workers
        # idle, is then a short one.
        jobs.sort(key=lambda job: -len(job[0].text))
        remote = getattr(self._pool, "remote", False)
        here: list = []
        elsewhere: list = []
        for job in jobs:
            (here if ENGINES[job[1].engine].shares_model and not remote else elsewhere).append(job)
        failed = self._threads(here, progress, done_with) if here else False
        if elsewhere:
            failed = self._processes(elsewhere, progress) or failed
        return failed

    def _threads(
        self, jobs: list, progress: Callable[[int], None] | None, done_with: Container[str]
    ) -> bool:
        """Lines of engines that share their model, on one thread a core in this process.
        The lines of an engine that voices one at a time go first, in turn on one thread,
        while the other threads voice the rest (a second thread would only wait on it)."""
        turns: dict[str, list] = {}
        rest = []
        for job in jobs:
            engine = job[1].engine
            (turns.setdefault(engine, []) if ENGINES[engine].one_at_a_time else rest).append(job)
        waiting = deque(rest)
        with ThreadPoolExecutor(self.jobs) as threads:
            in_turn = [
                threads.submit(self._in_turn, name, queue, name in done_with)
                for name, queue in turns.items()
            ]
            picks = [threads.submit(self._next, waiting) for _ in rest]
            pairs = chain(
                zip(
                    [job for queue in turns.values() for job in queue],
                    (result for done in in_turn for result in done.result()),
                    strict=True,
                ),
                (pick.result() for pick in picks),
            )
            return self._collect(pairs, progress)

    def _next(self, waiting: deque) -> tuple[tuple, np.ndarray | str]:
        """The next line of `waiting` (longest first, so that the last to finish is short)
        voiced once a core is free; the shortest instead while work that holds much memory
        runs beside the voices: a long Piper line, or the longest chapter's render, beside
        a long Kokoro call (~130, ~110 and ~150 MB) set a cold build's peak."""
        with self._cores:
            job = waiting.pop() if self._beside else waiting.popleft()
            line, spec, _ = job
            return job, speak_or_error(spec, line.text, line.direction, self.lexicon)

    def _in_turn(self, name: str, jobs: list, let_go: bool) -> list[np.ndarray | str]:
        """One engine's lines voiced in turn, each on a free core; then, if `let_go`, its
        model is unloaded, so it is not held beside the other engines' calls for the rest
        of the build."""
        try:
            with self._heavy():
                return [
                    self.on_a_core(speak_or_error, spec, line.text, line.direction, self.lexicon)
                    for line, spec, _ in jobs
                ]
        finally:
            if let_go:
                ENGINES[name].release()
                give_back_freed_memory()

    def _processes(self, jobs: list, progress: Callable[[int], None] | None) -> bool:
        """Lines of the other engines, in the session's pool of worker processes (which are
        killed if one hangs)."""
        pool = self._pool or worker_pool(self.jobs if self._pooled else min(self.jobs, len(jobs)))
        futures: list[Future] = []
        healthy = False
        try:
            futures = [
                pool.submit(speak_or_error, spec, line.text, line.direction, self.lexicon)
                for line, spec, _ in jobs
            ]
            failed = self._collect(zip(jobs, _outcomes(futures), strict=True), progress)
            healthy = all(f.done() and f.exception() is None for f in futures)
            return failed
        finally:
            if self._pooled and (healthy or getattr(pool, "remote", False)):
                self._pool = pool  # kept for the session's next call
            else:
                _stop(pool, futures)
                self._pool = None

    def _collect(self, pairs, progress: Callable[[int], None] | None) -> bool:
        """Keep each (job, result)'s clip, or warn once about its voice; True if any failed."""
        failed = False
        for (line, spec, key), result in pairs:
            if result is None:
                continue
            if isinstance(result, str):
                failed = True
                if spec not in self.errors:
                    self.errors[spec] = result
                    left = self.speaker(line.character)
                    then = f"using {left.label()} from here on" if left else "no voice left"
                    self.warn(f"{line.where}: {line.character}: {result}; {then}")
                continue
            _save(self.path(key), result)
            self.proven.add(spec)
            if progress:
                progress(1)
        return failed


def _readable(path: Path) -> bool:
    """A cached clip that is there and whole: its .npy header parses and promises exactly the
    bytes the file holds. A truncated or garbled entry is a miss, voiced again, not a crash."""
    try:
        with open(path, "rb") as handle:
            major, _ = np.lib.format.read_magic(handle)
            header = (
                np.lib.format.read_array_header_1_0
                if major == 1
                else np.lib.format.read_array_header_2_0
            )
            shape, _, dtype = header(handle)
            size = int(np.prod(shape)) * dtype.itemsize
            return dtype == np.float32 and os.fstat(handle.fileno()).st_size == handle.tell() + size
    except (OSError, ValueError, TypeError):
        return False


def _save(path: Path, samples: np.ndarray) -> None:
    buffer = io.BytesIO()
    np.save(buffer, samples)
    atomic_write_bytes(path, buffer.getvalue())
