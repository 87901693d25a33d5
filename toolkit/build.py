"""One build: script → cast → speech → mix → master → publish, like `make` on audio.

Everything is validated before anything is written. Synthesized lines are cached by what
changes their audio; mastered chapters are cached by what changes theirs (the clips, the
sounds, the mix and master code), so a rebuild redoes only what an edit touched. Outputs are
written atomically and only when their bytes change, under a lock, so an interrupted or
concurrent build never leaves a half-written site."""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, Executor, Future, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import toolkit
from toolkit.cast import Voice, load_cast
from toolkit.errors import Collector, DramaError
from toolkit.fsutil import Blobs, atomic_write_bytes, disk_error, write_if_changed
from toolkit.master.episode import Episode
from toolkit.master.package import check_formats, episode_formats, master_formats
from toolkit.memory import give_back_freed_memory
from toolkit.mix.check import check_sounds
from toolkit.mix.scenes import SUFFIX as SCENE_SUFFIX
from toolkit.mix.scenes import SceneCache
from toolkit.mix.sounds import Library
from toolkit.mix.timeline import Cue, Mark
from toolkit.publish import guard
from toolkit.script.lexicon import Lexicon, load_lexicon
from toolkit.script.loader import load_show
from toolkit.script.model import Ambience, Chapter, Music, Pause, Sfx, Show, Speech
from toolkit.shared_cache import shared_cache
from toolkit.speech.synth import POOL_MIN_LINES, Synthesizer, worker_pool
from toolkit.staging import site_problem, staged

Log = Callable[[str], None]
Progress = Callable[[str, int], Callable[[int], None]]
# The code that shapes a chapter's audio: editing it invalidates mastered chapters.
AUDIO_CODE = ("mix", "master")
NOT_AUDIO_CODE = ("plot.py", "check.py", "tags.py", "transcripts.py", "cover.py", "episode.py")
NOT_AUDIO_CODE += ("captions.py", "book.py", "package.py")
ENGINE_NAMES = {"espeak": "eSpeak NG", "gtts": "Google TTS", "piper": "Piper", "flite": "Flite"}


@dataclass(frozen=True)
class Project:
    """Where a production's files live; every stage takes paths from here."""

    root: Path

    @property
    def build_dir(self) -> Path:
        return self.root / "build"

    @property
    def cache_dir(self) -> Path:
        return self.root / ".cache"

    @property
    def sounds_dir(self) -> Path:
        return self.root / "sounds"


@dataclass(frozen=True)
class Checked:
    """A production that passed every check: what a build needs."""

    show: Show
    voices: dict[str, Voice]
    library: Library
    lexicon: Lexicon = ()


@dataclass(frozen=True)
class Plan:
    """What a build will do and why, for --dry-run and for the build itself."""

    lines: list[Speech]  # to synthesize
    chapters: dict[int, str]  # chapter number -> audio key
    render: list[int]  # chapter numbers to mix and master
    reasons: list[str]


def check(project: Project) -> Checked:
    """Validate script, voices and sounds. Every chapter, scene, line, voice and sound is
    checked even after one fails, and all their errors are raised together (DramaErrors)."""
    show = load_show(project.root)
    voices = load_cast(project.root, show)
    library = Library(project.sounds_dir if project.sounds_dir.is_dir() else None)
    errors = Collector()
    for chapter in show.chapters:
        with errors.attempt():
            check_sounds(chapter, library)
    with errors.attempt():
        user_cover(project, show)
    errors.done()
    return Checked(show, voices, library, load_lexicon(project.root))


def synthesizer(project: Project, checked: Checked, warn: Log, jobs: int | None = None):
    cache = project.cache_dir
    return Synthesizer(
        checked.voices, cache / "speech", warn, jobs, checked.lexicon, cache / "calls"
    )


def speech_lines(chapter: Chapter) -> list[Speech]:
    return [line for scene in chapter.scenes for line in scene.lines if isinstance(line, Speech)]


def _code_hash() -> str:
    digest = hashlib.sha256()
    package = Path(toolkit.__file__).parent
    for stage in AUDIO_CODE:
        for path in sorted((package / stage).rglob("*.py")):
            if path.name not in NOT_AUDIO_CODE:
                digest.update(path.read_bytes())
    return digest.hexdigest()


def audio_key(chapter: Chapter, synth: Synthesizer, checked: Checked, code: str) -> str:
    """Everything that changes a chapter's audio: not titles, positions or its number."""
    scenes = []
    for scene in chapter.scenes:
        lines: list[object] = [scene.room, _sound(checked.library, scene.ambience)]
        for line in scene.lines:
            if isinstance(line, Speech):
                voice = checked.voices[line.character]
                lines.append(["speech", synth.key(line)[1], line.ext, line.overlap, voice.pan])
            elif isinstance(line, Pause):
                lines.append(["pause", line.seconds])
            elif isinstance(line, Sfx):
                lines.append(["sfx", _sound(checked.library, line.name), line.volume, line.pan])
            elif isinstance(line, Music):
                lines.append(["music", _sound(checked.library, line.name), line.volume])
            elif isinstance(line, Ambience):
                lines.append(["ambience", _sound(checked.library, line.name)])
        scenes.append([scene.id, lines])
    blob = json.dumps([code, scenes], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def _sound(library: Library, name: str) -> str:
    source = library.source(name)
    return name if source is None else hashlib.sha256(source.read_bytes()).hexdigest()


def plan(
    project: Project, checked: Checked, synth: Synthesizer, formats: tuple[str, ...] = ()
) -> Plan:
    lines = [line for chapter in checked.show.chapters for line in speech_lines(chapter)]
    missing = synth.missing(lines)
    code = _code_hash()
    keys, render, reasons = {}, [], []
    missing_set = set(missing)
    for chapter in checked.show.chapters:
        key = keys[chapter.number] = audio_key(chapter, synth, checked, code)
        cached = project.cache_dir / "chapters" / key
        if _cached(cached, master_formats(formats)):
            continue
        render.append(chapter.number)
        new = [line for line in speech_lines(chapter) if line in missing_set]
        why = f"{len(new)} new or changed lines" if new else "mix inputs changed"
        reasons.append(f"chapter {chapter.number} ({chapter.id}): render, {why}")
    for line in missing:
        reasons.append(f"{line.where}: synthesize {line.character}: {line.text[:50]!r}")
    return Plan(missing, keys, render, reasons)


def _cached(entry: Path, formats: tuple[str, ...]) -> bool:
    """A mastered chapter in the cache whose facts read back (a garbled entry is redone)."""
    try:
        json.loads(Path(f"{entry}.json").read_bytes())
    except (OSError, ValueError):
        return False
    return all(Path(f"{entry}.{suffix}").is_file() for suffix in ("mp3", *formats))


def render_chapter(
    cache_dir: Path,
    chapter: Chapter,
    key: str,
    clip_files: dict[Speech, Path],
    voices: dict[str, Voice],
    sounds_dir: Path | None,
    formats: tuple[str, ...] = (),
    helper: Executor | None = None,
) -> int:
    """Mix and master one chapter into the chapter cache (untagged MP3, any extra masters,
    and its timeline; the timeline last, as the mark that the entry is complete).
    Takes only picklable inputs: it runs on a cluster's worker, or here (with a `helper`
    process to share the encoding when it is the only one)."""
    import numpy as np

    files = master_chapter(
        chapter,
        {line: np.load(path) for line, path in clip_files.items()},
        voices,
        Library(sounds_dir, cache_dir / "sounds"),
        formats,
        helper,
        SceneCache(cache_dir / "scenes"),
        Blobs(cache_dir / "mp3", SEGMENT_SUFFIX),
    )
    store_chapter(cache_dir, key, files)
    del files
    give_back_freed_memory()
    return chapter.number


def master_chapter(
    chapter: Chapter,
    clips: dict[Speech, object],
    voices: dict[str, Voice],
    library: Library,
    formats: tuple[str, ...] = (),
    helper: Executor | None = None,
    scenes: SceneCache | None = None,
    encoded: Blobs | None = None,
) -> dict[str, bytes]:
    """One chapter mixed and mastered, as the cache files it makes (suffix -> bytes, the
    timeline ".json" last): no paths, so a cluster worker can run it (without the scenes
    and MP3 segments kept from earlier renders, `scenes` and `encoded`). The clips and the
    library's sounds are let go once mixed, unless the caller holds them: the longest
    chapter's are ~40 MB that its master would otherwise carry beside two copies of it."""
    from toolkit.master.master import extra_masters, master_audio
    from toolkit.mix.render import mix_chapter

    mixed = mix_chapter(chapter, clips, voices, library, scenes)
    del clips, library
    give_back_freed_memory()
    done = master_audio(mixed.audio, helper, encoded)
    facts = {
        "duration": len(done.audio) / 44100,
        "lufs": done.lufs,
        "true_peak": done.true_peak,
        "cues": [[c.start, c.end, c.kind, c.name, c.scene, c.text] for c in mixed.cues],
        "marks": [[m.start, m.end] for m in mixed.marks],
        "scenes": list(mixed.scenes),
        "segments": sorted(encoded.used) if encoded else [],
    }
    files = {".mp3": done.mp3, **extra_masters(done.audio, formats)}
    return files | {".json": json.dumps(facts).encode()}


def store_chapter(cache_dir: Path, key: str, files: dict[str, bytes]) -> None:
    """Write a mastered chapter's files into the cache, in order (the timeline last)."""
    for suffix, data in files.items():
        atomic_write_bytes(cache_dir / "chapters" / f"{key}{suffix}", data)


def publish_chapter(
    project: Project,
    site: Path,
    chapter: Chapter,
    key: str,
    show: Show,
    cover: bytes,
    formats: tuple[str, ...] = (),
) -> Episode:
    """Package the cached master and write the episode's files, each only if its bytes changed."""
    from toolkit.master.package import package

    folder = project.cache_dir / "chapters"
    facts = json.loads((folder / f"{key}.json").read_text())
    extras = episode_formats(formats)
    cues = with_words([Cue(*c) for c in facts["cues"]], project.cache_dir, key)
    marks = [
        Mark(start, end, scene.title)
        for (start, end), scene in zip(facts["marks"], chapter.scenes, strict=True)
    ]
    files = package(
        chapter,
        show,
        (folder / f"{key}.mp3").read_bytes(),
        facts["duration"],
        cues,
        marks,
        cover,
        len(show.chapters),
        {fmt: (folder / f"{key}.{fmt}").read_bytes() for fmt in extras},
    )
    stem = site / "episodes" / f"{chapter.number:02d}-{chapter.id}"
    paths = {
        suffix: write_if_changed(Path(f"{stem}{suffix}"), data) for suffix, data in files.items()
    }
    speech = [c for c in cues if c.kind == "speech"]
    return Episode(
        chapter=chapter,
        mp3=paths[".mp3"],
        size=len(files[".mp3"]),
        duration=facts["duration"],
        lufs=facts["lufs"],
        true_peak=facts["true_peak"],
        vtt=paths[".vtt"],
        srt=paths[".srt"],
        chapters_json=paths[".chapters.json"],
        lines=len(speech),
        words=sum(len(c.text.split()) for c in speech),
        extras=tuple(paths[f".{fmt}"] for fmt in extras),
        cues=tuple(speech),
        marks=tuple(marks),
    )


def with_words(cues: list[Cue], cache_dir: Path, key: str) -> list[Cue]:
    """The speech cues with the word timings `drama proof` measured on exactly this master
    (keyed by its audio key), when it has; a build never needs proof to have run."""
    path = cache_dir / "proof" / "chapters" / f"{key}.json"
    if not path.is_file():
        return cues
    timed = iter(json.loads(path.read_text())["words"])
    return [
        replace(c, words=tuple(tuple(w) for w in next(timed) or ())) if c.kind == "speech" else c
        for c in cues
    ]


def user_cover(project: Project, show: Show) -> bytes | None:
    """The show's own cover checked (square, 1400-3000 px, JPEG or PNG), or None."""
    from toolkit.master.cover import load_cover

    if show.cover is None:
        return None
    name = f"script/{show.cover}"
    try:
        return load_cover(project.root / name)
    except DramaError as exc:
        raise DramaError(exc.message.replace(str(project.root / name), name), name, 1, 1) from None


def cover_bytes(project: Project, show: Show) -> bytes:
    """The show's cover: the user's file, or one drawn from title and author (cached)."""
    from toolkit.master.cover import make_cover

    own = user_cover(project, show)
    if own is not None:
        return own
    key = hashlib.sha256(json.dumps([show.title, show.author]).encode()).hexdigest()
    cached = project.cache_dir / "covers" / f"{key}.jpg"
    if not cached.exists():
        atomic_write_bytes(cached, make_cover(show.title, show.author))
    return cached.read_bytes()


@contextmanager
def locked(project: Project, log: Log) -> Iterator[None]:
    """One build at a time per project; a second one waits for the first."""
    project.cache_dir.mkdir(parents=True, exist_ok=True)
    with open(project.cache_dir / "build.lock", "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log("another build of this project is running; waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build(
    project: Project,
    log: Log,
    warn: Log,
    progress: Progress | None = None,
    jobs: int | None = None,
    dry_run: bool = False,
    timings: dict[str, float] | None = None,
    formats: tuple[str, ...] = (),
    strict: bool = False,
    hold: bool = False,
    scheduler: str | None = None,
) -> list[Episode]:
    """Render the production into build/: only what changed since the last build, the
    show's formats plus `formats`. Chapters dated after guard.today() are announced; with
    `hold` they stay out of build/ (rendered into the cache) until their day. Guardrail findings are warnings,
    or refuse the build when `strict`. `timings`, when given, receives each stage's seconds;
    `scheduler`, a Dask scheduler's address, runs the syntheses and renders on its cluster."""
    timings = {} if timings is None else timings
    with timed(timings, "check"):
        checked = check(project)
    show = checked.show
    formats = check_formats((*show.formats, *formats))
    findings = guard.lint(project.root, show)
    if strict and findings:
        raise guard.Refused(findings)
    for finding in findings:
        warn(str(finding))
    day = guard.today()
    for chapter in guard.scheduled(show, day):
        when = f"episode {chapter.number} ({chapter.id}) on {chapter.release}"
        then = "left out of the feed until then" if hold else "published now with that date"
        log(f"scheduled: {when}, {then}")
    synth = synthesizer(project, checked, warn, jobs)
    if dry_run:
        for reason in plan(project, checked, synth, formats).reasons or ["nothing to rebuild"]:
            log(reason)
        return []
    site_problem(project.build_dir)
    released = guard.released(show, day) if hold else list(show.chapters)
    shared = shared_cache(show.cache, warn)
    try:
        with runner(scheduler, log, warn) as pool, locked(project, log):
            todo = plan(project, checked, synth, formats)
            if shared and shared.pull(project.cache_dir, entries(synth, todo, formats)):
                todo = plan(project, checked, synth, formats)
            sweep_temporaries(project)
            render_all(project, checked, synth, todo, progress, formats, timings, pool)
            if todo.render:
                drop_unmade(project, todo.chapters.values())
            if shared:
                shared.push(project.cache_dir, entries(synth, todo, formats))
            with timed(timings, "publish"):
                with staged(project.build_dir) as site:
                    episodes = publish(project, site, checked, released, todo.chapters, formats)
                episodes = [moved(e, site, project.build_dir) for e in episodes]
    except OSError as exc:  # a full, read-only or immutable disk: one line, what to do
        raise disk_error(exc, project.root) from None
    log(f"synthesized {len(todo.lines)} lines, rendered {len(todo.render)} chapters")
    return episodes


def publish(
    project: Project,
    site: Path,
    checked: Checked,
    chapters: list[Chapter],
    keys: dict[int, str],
    formats: tuple[str, ...],
) -> list[Episode]:
    """Write the whole site into `site` (a staging copy of build/, swapped in afterwards):
    episodes, transcripts, cover, audiobook and feed, and drop what this build no longer
    makes. Everything published goes here, so all of it appears at once."""
    from toolkit.publish.feed import write_feed
    from toolkit.publish.site import write_site

    show = checked.show
    cover = cover_bytes(project, show)
    episodes = [
        publish_chapter(project, site, c, keys[c.number], show, cover, formats) for c in chapters
    ]
    write_if_changed(site / "cover.jpg", cover)
    book = (
        publish_book(project, site, show, chapters, keys, cover)
        if "m4b" in formats and chapters
        else None
    )
    write_feed(show, episodes, site, voices=voice_credits(checked.voices))
    pages = write_site(show, episodes, site)
    remove_stale(site / "episodes", episodes, pages)
    for path in site.glob("*.m4b"):
        if path != book:
            path.unlink()
    return episodes


def moved(episode: Episode, old: Path, new: Path) -> Episode:
    """An episode whose file paths pointed into the staging folder, pointing into build/."""
    fields = {"mp3": episode.mp3, "vtt": episode.vtt, "srt": episode.srt}
    fields |= {"chapters_json": episode.chapters_json}
    out = {k: new / v.relative_to(old) for k, v in fields.items() if v is not None}
    extras = tuple(new / p.relative_to(old) for p in episode.extras)
    return dataclasses.replace(episode, **out, extras=extras)


def voice_credits(voices: dict[str, Voice]) -> dict[str, str]:
    """Who plays each character, for the feed: the first voice of its chain that runs here
    (what the build speaks with), e.g. 'Flite slt'."""
    from toolkit.speech.synth import first_usable

    credits = {}
    for name, voice in voices.items():
        spec = first_usable(voice) or voice.chain[0]
        credits[name] = f"{ENGINE_NAMES.get(spec.engine, spec.engine.title())} {spec.voice}"
    return credits


def publish_book(
    project: Project,
    site: Path,
    show: Show,
    chapters: list[Chapter],
    keys: dict[int, str],
    cover: bytes,
) -> Path:
    """build/<show slug>.m4b from the chapters' cached FLAC masters; the book itself is
    cached by everything in it, so an unchanged show is not encoded again."""
    from toolkit.master.book import BookChapter, BookTags, make_book
    from toolkit.master.package import GENRE

    year = chapters[0].release.year
    tags = BookTags(show.title, show.author, year, GENRE, show.description, show.copyright)
    book_code = (Path(toolkit.__file__).parent / "master" / "book.py").read_bytes()
    blob = [[keys[c.number], c.title] for c in chapters], list(tags.__dict__.values())
    digest = hashlib.sha256(json.dumps(blob).encode() + book_code + cover).hexdigest()
    cached = project.cache_dir / "books" / f"{digest}.m4b"
    if not cached.exists():
        folder = project.cache_dir / "chapters"
        parts = [
            BookChapter(c.title, (folder / f"{keys[c.number]}.flac").read_bytes()) for c in chapters
        ]
        atomic_write_bytes(cached, make_book(parts, tags, cover))
    slug = re.sub(r"[^a-z0-9]+", "-", show.title.lower()).strip("-") or "audiobook"
    return write_if_changed(site / f"{slug}.m4b", cached.read_bytes())


def render_all(
    project: Project,
    checked: Checked,
    synth: Synthesizer,
    todo: Plan,
    progress: Progress | None,
    formats: tuple[str, ...],
    timings: dict[str, float],
    cluster: Executor | None = None,
) -> None:
    """Voice the missing lines and mix and master the chapters the plan names, as a pipeline
    (here, or on a `cluster` runner): each chapter is queued for mastering as soon as its own
    lines are voiced, while the voices go on with the next chapter's lines. `timings` gets
    the seconds spent waiting on speech and the mastering time left over once speech was
    done."""
    started = time.perf_counter()
    speech_tick = progress("speech", len(todo.lines)) if progress and todo.lines else None
    mix_tick = progress("mix+master", len(todo.render)) if progress and todo.render else None
    sounds = project.sounds_dir if project.sounds_dir.is_dir() else None
    chapters = [c for c in checked.show.chapters if c.number in todo.render]
    # Longest first (by words spoken), so the render left running alone at the end is short.
    chapters.sort(key=lambda c: -sum(len(line.text.split()) for line in speech_lines(c)))
    pooled = synth.jobs > 1 and (len(chapters) > 1 or len(todo.lines) >= POOL_MIN_LINES)
    # Chapters are mastered on a thread beside the voices, one at a time (each holds a few
    # chapter-length buffers); the speech's own pool of workers, if it needs one, is its own.
    local = ThreadPoolExecutor(1) if pooled and cluster is None else contextlib.nullcontext()
    queued = []
    alone = cluster is None and synth.jobs > 1 and len(chapters) == 1 and not pooled
    # On the render thread a chapter waits for a core the voices leave free.
    work = partial(synth.beside_voices, render_chapter) if cluster is None else render_chapter
    early = early_lines(synth, todo.lines) if pooled else []
    if pooled and cluster is None:
        synth.prepare(todo.lines)
    with local as renderer:
        pool = cluster or renderer
        with synth.session(len(todo.lines), cluster):
            for number, chapter in enumerate(chapters):
                later = [ln for c in chapters[number + 1 :] for ln in speech_lines(c)]
                with timed(timings, "speech"):  # models no later line needs are let go
                    synth.ensure(
                        speech_lines(chapter) + early, speech_tick, later if pooled else None
                    )
                early = []
                files = {line: synth.path(synth.key(line)[1]) for line in speech_lines(chapter)}
                job = (project.cache_dir, chapter, todo.chapters[chapter.number], files)
                job += (checked.voices, sounds, formats)
                with _helper(alone) as helper:  # started once the voices are done
                    future = _submit(pool, work, job, helper)
                if future.done() and mix_tick:  # rendered here, not queued
                    mix_tick(1)
                queued.append((future, job, future.done()))
            with timed(timings, "speech"):
                synth.ensure(todo.lines, speech_tick)  # clips of chapters that need no render
        for future, job, ticked in queued:
            try:
                future.result()
            except (BrokenProcessPool, CancelledError):  # the cluster lost it: render it here
                render_chapter(*job)
            if mix_tick and not ticked:
                mix_tick(1)
    timings["mix+master"] = time.perf_counter() - started - timings.get("speech", 0.0)


def early_lines(synth: Synthesizer, lines: list[Speech]) -> list[Speech]:
    """The lines of every engine but the one that voices the most text: voiced with the
    first chapter, so that their models are let go early (Piper's ~100 MB beside two Kokoro
    calls set a build's peak; its lines go in turn on one thread, see Synthesizer._threads)
    instead of at their last line in the last chapter."""
    engine = {line: synth.key(line)[0].engine for line in lines}
    text = Counter()
    for line in lines:
        text[engine[line]] += len(line.text)
    most = text.most_common(1)[0][0] if text else None
    return [line for line in lines if engine[line] != most]


def _submit(
    pool: Executor | None, work: Callable[..., int], job: tuple, helper: Executor | None
) -> Future:
    """Queue a chapter's render (on the render thread or the cluster), or render it here when
    there is neither (or no longer a cluster)."""
    if pool is not None:
        try:
            return pool.submit(work, *job)
        except (BrokenProcessPool, RuntimeError):
            pass
    done: Future = Future()
    done.set_result(render_chapter(*job, helper=helper))
    return done


def entries(synth: Synthesizer, todo: Plan, formats: tuple[str, ...]) -> list[str]:
    """The cache files (relative to .cache) of the lines and chapters a plan makes."""
    lines = [
        synth.path(synth.key(line)[1]).relative_to(synth.cache_dir.parent) for line in todo.lines
    ]
    suffixes = dict.fromkeys(("mp3", *master_formats(formats), "json"))
    chapters = [f"chapters/{todo.chapters[n]}.{ext}" for n in todo.render for ext in suffixes]
    return [str(path) for path in lines] + chapters


def runner(scheduler: str | None, log: Log, warn: Log):
    """The cluster to render on, or nothing (a local pool); dask is imported only here."""
    if not scheduler:
        return contextlib.nullcontext()
    from toolkit.cluster import connect

    return connect(scheduler, log, warn)


@contextmanager
def _helper(wanted: bool) -> Iterator[Executor | None]:
    """A process to share the encoding of a chapter rendered here (an edit), started now so
    that it has loaded the encoder by the time the mix is done."""
    if not wanted:
        yield None
        return
    from toolkit.master.encode import warm

    with worker_pool(1) as helper:
        helper.submit(warm)
        yield helper


@contextmanager
def timed(timings: dict[str, float], stage: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started


def sweep_temporaries(project: Project) -> None:
    """Remove temp files a killed build left in the cache (the lock guarantees none is in
    use); build/ itself is only ever replaced whole."""
    for path in project.cache_dir.rglob(".*.tmp"):
        path.unlink(missing_ok=True)


def remove_stale(folder: Path, episodes: list[Episode], pages: list[Path]) -> None:
    """Drop every file no episode of this build wrote (removed chapters, formats no longer
    asked for, their pages), so the site matches the script."""
    keep = {p.name for e in episodes for p in (e.mp3, e.vtt, e.srt, e.chapters_json, *e.extras)}
    keep |= {page.name for page in pages}
    for path in folder.glob("*"):
        if path.is_file() and path.name not in keep:
            path.unlink()


def prune_cache(project: Project, checked: Checked) -> int:
    """Delete cached lines and chapters the current script no longer uses, and the engines'
    calls (they only spare the next edit of a long line its unchanged sentences); returns
    the count."""
    synth = synthesizer(project, checked, lambda m: None, 1)
    todo = plan(project, checked, synth)
    lines = [line for c in checked.show.chapters for line in speech_lines(c)]
    keep = {synth.path(synth.key(line)[1]).name for line in lines}
    suffixes = (".mp3", ".json", ".flac", ".ogg", ".opus")
    keep |= {f"{key}{ext}" for key in todo.chapters.values() for ext in suffixes}
    for names in made_from(project, todo.chapters.values()).values():
        keep |= names
    removed = 0
    for folder in ("speech", "chapters", "calls", *MADE_FROM):
        for path in (project.cache_dir / folder).rglob("*"):
            if path.is_file() and path.name not in keep:
                path.unlink()
                removed += 1
    return removed


SEGMENT_SUFFIX = ".mp3"  # a chapter's MP3 segments in .cache/mp3
# What a chapter's facts list of the files in these cache folders it was made from.
MADE_FROM = {"scenes": ("scenes", SCENE_SUFFIX), "mp3": ("segments", SEGMENT_SUFFIX)}


def made_from(project: Project, keys: Iterable[str]) -> dict[str, set[str]]:
    """The files in each MADE_FROM folder that the chapters of these audio keys were made
    from: their scenes' mixes and their MP3 segments."""
    used: dict[str, set[str]] = {folder: set() for folder in MADE_FROM}
    for key in keys:
        with contextlib.suppress(OSError, ValueError, KeyError):
            facts = json.loads((project.cache_dir / "chapters" / f"{key}.json").read_text())
            for folder, (field, suffix) in MADE_FROM.items():
                used[folder] |= {f"{name}{suffix}" for name in facts.get(field, ())}
    return used


def drop_unmade(project: Project, keys: Iterable[str]) -> None:
    """Delete the scene mixes and MP3 segments no current chapter was made from: at ~0.35 MB
    a second of audio the scenes would otherwise pile up with every edit (lines and
    chapters, far smaller, stay until `drama clean --prune`, so undoing an edit costs
    nothing)."""
    for folder, names in made_from(project, keys).items():
        for path in (project.cache_dir / folder).glob("*"):
            if path.is_file() and path.name not in names:
                path.unlink(missing_ok=True)


def clean(project: Project) -> None:
    """Remove everything built and cached (keeps build/.gitkeep)."""
    import shutil

    for path in project.build_dir.glob("*"):
        if path.name != ".gitkeep":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    shutil.rmtree(project.cache_dir, ignore_errors=True)
    os.makedirs(project.build_dir, exist_ok=True)


def mixed_chapter(project: Project, ref: str, warn: Log):
    """One chapter (by number or id) mixed in memory, for pictures and inspection."""
    from toolkit.mix.render import mix_chapter

    checked = check(project)
    chapters = {str(c.number): c for c in checked.show.chapters}
    chapters |= {c.id: c for c in checked.show.chapters}
    if ref not in chapters:
        known = ", ".join(c.id for c in checked.show.chapters)
        raise DramaError(f"unknown chapter '{ref}', expected a number or one of {known}")
    chapter = chapters[ref]
    synth = synthesizer(project, checked, warn)
    clips = {line: clip.samples for line, clip in synth.clips(speech_lines(chapter)).items()}
    return mix_chapter(chapter, clips, checked.voices, checked.library)
