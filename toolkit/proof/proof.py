"""`drama proof`: listen to every rendered line and flag what a listener would not understand.

Each line is heard where a listener hears it: its own stretch of the mastered episode (the
cue the mix placed, padded a little), so beds, music, room and overlaps are all in what the
recognizer gets, and one line's result never depends on how another was misheard. The
padding may catch a neighbour's edge; heard words before and after the line cost nothing.

A line's result is cached by what is in its stretch: its clip, how it is treated (room,
extension, pan), and every other line or sound reaching into the stretch with its offset,
not where the line sits in the episode. An edit re-hears the edited line (and a neighbour
it overlaps), not the chapter. The word timings of lines heard correctly are kept per master
for the next build's transcripts."""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from toolkit.build import (
    Checked,
    Project,
    _code_hash,
    _sound,
    check,
    plan,
    synthesizer,
)
from toolkit.errors import DramaError
from toolkit.fsutil import atomic_write_bytes, write_if_changed
from toolkit.mix.timeline import Cue
from toolkit.proof.listen import MODEL, RATE, Word, transcribe_batch
from toolkit.proof.words import Alignment, align, comparable
from toolkit.script.model import Chapter, Music, Sfx, Speech
from toolkit.speech.synth import POOL_MIN_LINES, Synthesizer, worker_pool

THRESHOLD = 0.65  # flag a line whose word error is above this (the story: at most 0.60)
PAD = 0.2  # seconds of the mix heard before and after each line
PROOF_VERSION = "2"
BATCH = 4  # lines per job sent to a worker


@dataclass(frozen=True)
class Heard:
    """One line as the recognizer heard it. Word times are seconds in the episode."""

    chapter: Chapter
    line: Speech
    cue: Cue
    words: list[Word]
    alignment: Alignment

    @property
    def heard(self) -> str:
        return " ".join(w for _, _, w in self.words)

    @property
    def error(self) -> float:
        return self.alignment.word_error


@dataclass(frozen=True)
class Proof:
    lines: list[Heard]
    transcribed: int  # lines heard this run (the others came from the cache)
    seconds: float  # audio heard this run


@dataclass(frozen=True)
class _Job:
    chapter: Chapter
    line: Speech
    cue: Cue
    path: Path  # the line's cache entry


def proof(
    project: Project,
    refs: tuple[str, ...],
    warn: Callable[[str], None],
    progress: Callable[[str, int], Callable[[int], None]] | None = None,
    jobs: int | None = None,
    threshold: float = THRESHOLD,
) -> Proof:
    """Hear every speech line of the chosen chapters (all when `refs` is empty)."""
    checked = check(project)
    synth = synthesizer(project, checked, warn, jobs)
    keys = plan(project, checked, synth).chapters
    chapters = _chosen(checked, refs)
    folder = project.cache_dir / "chapters"
    todo: dict[int, list[_Job]] = {}
    for chapter in chapters:
        key = keys[chapter.number]
        if not all((folder / f"{key}.{s}").is_file() for s in ("json", "mp3")):
            raise DramaError(
                f"chapter {chapter.number} ({chapter.id}) is not built as the script now "
                "stands: run drama build first"
            )
        facts = json.loads((folder / f"{key}.json").read_text())
        todo[chapter.number] = _jobs(project, checked, synth, chapter, facts["cues"])
    missing = [job for jobs_ in todo.values() for job in jobs_ if not job.path.is_file()]
    seconds = _hear(
        missing,
        {c.number: folder / f"{keys[c.number]}.mp3" for c in chapters},
        synth.jobs,
        progress,
    )
    lines = []
    for chapter in chapters:
        heard = [_result(job) for job in todo[chapter.number]]
        _keep_words(project, keys[chapter.number], heard, threshold)
        lines += heard
    return Proof(lines, len(missing), seconds)


def _chosen(checked: Checked, refs: tuple[str, ...]) -> list[Chapter]:
    chapters = {str(c.number): c for c in checked.show.chapters}
    chapters |= {c.id: c for c in checked.show.chapters}
    refs = tuple(str(int(ref)) if ref.isdigit() else ref for ref in refs)  # 03 is 3
    for ref in refs:
        if ref not in chapters:
            known = ", ".join(c.id for c in checked.show.chapters)
            raise DramaError(f"unknown chapter '{ref}', expected a number or one of {known}")
    chosen = {chapters[ref].number for ref in refs}
    return [c for c in checked.show.chapters if not refs or c.number in chosen]


def _jobs(
    project: Project, checked: Checked, synth: Synthesizer, chapter: Chapter, raw: list
) -> list[_Job]:
    """Each speech line with its cue and its cache entry. Lines, sounds and music placed on
    the timeline produce their cues in script order, beds apart."""
    cues = [Cue(*c) for c in raw]
    placed = [c for c in cues if c.kind != "bed"]
    sources = [
        line for s in chapter.scenes for line in s.lines if isinstance(line, (Speech, Sfx, Music))
    ]
    if len(placed) != len(sources):
        raise DramaError(f"chapter {chapter.number} ({chapter.id}): run drama build first")
    rooms = {s.id: s.room for s in chapter.scenes}
    described = [_describe(line, checked, synth) for line in sources]
    code = _code_hash()
    out = []
    for cue, line, own in zip(placed, sources, described, strict=True):
        if not isinstance(line, Speech):
            continue
        low, high = cue.start - PAD, cue.end + PAD
        near = [
            [what, round(other.start - cue.start, 2), round(other.end - cue.start, 2)]
            for other, what in zip(placed, described, strict=True)
            if other is not cue and other.start < high and other.end > low
        ]
        beds = sorted({c.name for c in cues if c.kind == "bed" and c.start < high and c.end > low})
        blob = [PROOF_VERSION, MODEL, PAD, code, rooms[cue.scene], own, line.overlap, near, beds]
        key = hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()
        path = project.cache_dir / "proof" / "lines" / key[:2] / f"{key}.json"
        out.append(_Job(chapter, line, cue, path))
    return out


def _describe(line: Speech | Sfx | Music, checked: Checked, synth: Synthesizer) -> list:
    if isinstance(line, Speech):
        return ["speech", synth.key(line)[1], line.ext, checked.voices[line.character].pan]
    if isinstance(line, Sfx):
        return ["sfx", _sound(checked.library, line.name), line.volume, line.pan]
    return ["music", _sound(checked.library, line.name), line.volume]


def _hear(
    jobs: list[_Job],
    masters: dict[int, Path],
    workers: int,
    progress: Callable[[str, int], Callable[[int], None]] | None,
) -> float:
    """Transcribe the lines the cache lacks (in the build's worker pool when there are
    enough), writing each line's words, relative to its cue, as soon as they are heard."""
    if not jobs:
        return 0.0
    tick = progress("proof", len(jobs)) if progress else None
    audio = {n: _decode(masters[n]) for n in sorted({job.chapter.number for job in jobs})}
    windows = [_window(audio[job.chapter.number], job.cue) for job in jobs]
    batches = [list(range(i, min(i + BATCH, len(jobs)))) for i in range(0, len(jobs), BATCH)]

    def save(batch: list[int], heard: list[list[Word]]) -> None:
        for index, words in zip(batch, heard, strict=True):
            cue = jobs[index].cue
            offset = max(0.0, cue.start - PAD) - cue.start  # where its window began
            relative = [[round(s + offset, 3), round(e + offset, 3), w] for s, e, w in words]
            atomic_write_bytes(jobs[index].path, json.dumps({"words": relative}).encode())
            if tick:
                tick(1)

    if workers > 1 and len(jobs) >= POOL_MIN_LINES:
        workers = min(workers, len(batches))
        threads = max(1, (os.cpu_count() or 1) // workers)
        with worker_pool(workers) as pool:
            futures = {
                pool.submit(transcribe_batch, [windows[i] for i in batch], threads): batch
                for batch in batches
            }
            for future in as_completed(futures):
                save(futures[future], future.result())
    else:
        for batch in batches:
            save(batch, transcribe_batch([windows[i] for i in batch]))
    return sum(len(w) for w in windows) / RATE


def _decode(mp3: Path) -> np.ndarray:
    from pedalboard.io import AudioFile

    with AudioFile(str(mp3)).resampled_to(RATE) as f:
        return f.read(f.frames).mean(axis=0).astype(np.float32)


def _window(audio: np.ndarray, cue: Cue) -> np.ndarray:
    low = max(0, int(round((cue.start - PAD) * RATE)))
    return audio[low : int(round((cue.end + PAD) * RATE))]


def _result(job: _Job) -> Heard:
    relative = json.loads(job.path.read_text())["words"]
    words = [(round(s + job.cue.start, 3), round(e + job.cue.start, 3), w) for s, e, w in relative]
    expected = comparable(job.line.text)
    heard = comparable(" ".join(w for _, _, w in words))
    return Heard(job.chapter, job.line, job.cue, words, align(expected, heard))


def _keep_words(project: Project, key: str, lines: list[Heard], threshold: float) -> None:
    """Word timings for the transcripts of this master: each line's words as written, timed
    by the heard words they align with, for lines heard well enough to trust."""
    timed = [_timed(h) if h.error <= threshold else None for h in lines]
    path = project.cache_dir / "proof" / "chapters" / f"{key}.json"
    write_if_changed(path, json.dumps({"words": timed}).encode())


def _timed(heard: Heard) -> list[list] | None:
    """(start, end, word) for each word of the line as written, from the heard words its
    comparable words align with; words heard as nothing take the gap between neighbours."""
    tokens = " ".join(heard.line.text.split()).split(" ")
    parts = [comparable(token) for token in tokens]
    if [w for p in parts for w in p] != heard.alignment.expected:
        return None  # a token whose spoken form depends on its neighbours ("$1.5 million")
    spans = _heard_spans(heard)
    cue, times, done = heard.cue, [], 0
    for part in parts:
        mapped = [heard.alignment.partner[done + k] for k in range(len(part))]
        done += len(part)
        hit = [spans[j] for j in mapped if j is not None and spans[j] is not None]
        times.append((hit[0][0], hit[-1][1]) if hit else None)
    out, last = [], cue.start
    for index, (token, span) in enumerate(zip(tokens, times, strict=True)):
        if span is None:
            later = next((t[0] for t in times[index + 1 :] if t), cue.end)
            span = (last, later)
        start = min(max(span[0], last, cue.start), cue.end)
        end = min(max(span[1], start), cue.end)
        out.append([round(start, 3), round(end, 3), token])
        last = start
    return out


def _heard_spans(heard: Heard) -> list[tuple[float, float] | None]:
    """The time of each comparable heard word: that of the recognizer word it came from."""
    spans: list[tuple[float, float] | None] = []
    for start, end, word in heard.words:
        spans += [(start, end)] * len(comparable(word))
    return (
        spans if len(spans) == len(heard.alignment.heard) else [None] * len(heard.alignment.heard)
    )


def suggestions(lines: list[Heard], threshold: float) -> list[tuple[str, str, str, str]]:
    """(word, respelling, heard as, where) for each word of a flagged line that was misheard
    or not heard, once per word: lexicon lines for the writer to paste and tune by ear."""
    from toolkit.proof.words import respell

    out: dict[str, tuple[str, str, str, str]] = {}
    for h in lines:
        if h.error <= threshold:
            continue
        written = {comparable(t)[0]: t for t in _words_as_written(h.line.text) if comparable(t)}
        for index, word in enumerate(h.alignment.expected):
            partner = h.alignment.partner[index]
            said = h.alignment.heard[partner] if partner is not None else ""
            if said == word or len(word) < 3 or word not in written or word in out:
                continue
            original = written[word]
            out[word] = (original, respell(original), said, str(h.line.where))
    return list(out.values())


def _words_as_written(text: str) -> list[str]:
    import re

    return re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)*", text)
