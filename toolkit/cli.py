"""`drama`: a thin shell over the stages. Every user error is one line and exit status 2."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import click

from toolkit.build import Project, build, check, clean, prune_cache
from toolkit.errors import DramaError
from toolkit.mix.timeline import RATE
from toolkit.script.nodes import closest, typed


class DramaGroup(click.Group):
    """Turns DramaError into one line on stderr and exit status 2, never a traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except DramaError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted: previous outputs are intact", err=True)
            sys.exit(130)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except Exception as exc:  # a bug: still one line; DRAMA_DEBUG=1 shows the traceback
            if os.environ.get("DRAMA_DEBUG"):
                raise
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} (DRAMA_DEBUG=1 for details)", err=True
            )
            sys.exit(1)


project_option = click.option(
    "-C",
    "--project",
    "root",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    show_default=True,
    help="The production folder (with script/ and voices/).",
)


def echo_unless(quiet: bool):
    return (lambda message: None) if quiet else (lambda message: click.echo(message, err=True))


def warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=DramaGroup)
@click.version_option(package_name="drama-toolkit")
def main() -> None:
    """Turn a screenplay in YAML into a mastered, serial audio-drama podcast."""


@main.command("new")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
def new_command(folder: Path) -> None:
    """Start a new production in FOLDER: a show, one chapter, three voices."""
    import shutil
    from importlib.resources import files

    from toolkit.script.schema import schema

    if folder.exists() and any(folder.iterdir()):
        raise DramaError(f"{folder} is not empty, expected a new or empty folder")
    shutil.copytree(str(files("toolkit") / "template"), folder, dirs_exist_ok=True)
    (folder / "script" / "schema.json").write_text(json.dumps(schema(), indent=2) + "\n")
    (folder / "build").mkdir(exist_ok=True)
    click.echo(f"created {folder}: edit script/, then `drama build -C {folder}`")


@main.command("check")
@project_option
def check_command(root: Path) -> None:
    """Validate the script, voices and sounds without rendering anything; warn about what
    would publish a broken show (drama deploy refuses those)."""
    from toolkit.publish import guard

    checked = check(Project(root))
    show = checked.show
    for finding in guard.lint(root, show):
        warn(str(finding))
    for chapter in guard.scheduled(show, guard.today()):
        click.echo(f"scheduled: episode {chapter.number} ({chapter.id}) on {chapter.release}")
    lines = sum(len(scene.lines) for chapter in show.chapters for scene in chapter.scenes)
    click.echo(f"ok: {show.title}: {len(show.chapters)} chapters, {lines} lines")


def progress_bars(quiet: bool):
    """Per-stage progress bars with counts and ETA, on a terminal only."""
    if quiet or not sys.stderr.isatty():
        return None

    def stage(label: str, total: int):
        bar = click.progressbar(length=total, label=f"{label:<10}", file=sys.stderr, show_pos=True)
        bar.__enter__()

        def tick(n: int) -> None:
            bar.update(n)
            if bar.pos >= bar.length:
                bar.__exit__(None, None, None)

        return tick

    return stage


@main.command("build")
@project_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but warnings and errors.")
@click.option(
    "-n",
    "--dry-run",
    "--explain",
    "dry_run",
    is_flag=True,
    help="Say what would be rebuilt and why.",
)
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 64), help="Worker processes (default: one per core)."
)
@click.option(
    "-f",
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["mp3", "flac", "ogg", "opus", "m4b"]),
    help="Also write this format for this build, beside show.yaml's `formats` (repeatable): "
    "FLAC, Ogg or Opus masters of each episode, or the whole show as an m4b audiobook.",
)
@click.option(
    "--strict", is_flag=True, help="Refuse to build while a guardrail warning is left (exit 2)."
)
@click.option(
    "--hold-scheduled",
    "hold",
    is_flag=True,
    help="Leave chapters dated after today out of build/ until their day.",
)
@click.option(
    "--timings",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write each stage's seconds as JSON (used by bench/).",
)
@click.option(
    "--scheduler",
    envvar="DRAMA_SCHEDULER",
    metavar="tcp://HOST:PORT",
    help="Synthesize and render on this Dask cluster (env DRAMA_SCHEDULER; extra 'cluster').",
)
def build_command(
    root: Path,
    quiet: bool,
    dry_run: bool,
    jobs: int | None,
    formats: tuple[str, ...],
    timings: Path | None,
    strict: bool,
    hold: bool,
    scheduler: str | None,
) -> None:
    """Render every chapter to build/episodes/ and write build/feed.xml."""
    started = time.monotonic()
    log = echo_unless(quiet) if not dry_run else click.echo
    stages: dict[str, float] = {}
    bars = progress_bars(quiet)
    episodes = build(
        Project(root), log, warn, bars, jobs, dry_run, stages, formats, strict, hold, scheduler
    )
    if timings:
        stages["total"] = time.monotonic() - started
        timings.write_text(json.dumps(stages, indent=2))
    if episodes and not quiet:
        total = sum(e.duration for e in episodes)
        click.echo(
            f"built {len(episodes)} episodes, {total / 60:.1f} minutes, "
            f"in {time.monotonic() - started:.1f} s: build/feed.xml"
        )


@main.command("deploy")
@project_option
@click.argument("dest")
@click.option("-n", "--dry-run", is_flag=True, help="List what would change; change nothing.")
@click.option("--endpoint-url", help="S3-compatible endpoint (default: $AWS_ENDPOINT_URL, or AWS).")
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but warnings and errors.")
@click.option(
    "--hold-scheduled",
    "hold",
    is_flag=True,
    help="Leave chapters dated after today offline until their day.",
)
def deploy_command(
    root: Path, dest: str, dry_run: bool, endpoint_url: str | None, quiet: bool, hold: bool
):
    """Build, then upload build/ to DEST: a folder (PATH or file:PATH), a git branch pushed to
    origin (git:BRANCH), or S3 (s3://BUCKET/PREFIX). Media first, the feed last, then what
    the site no longer has is removed. Refuses while `drama check` warns."""
    from toolkit.publish import guard
    from toolkit.publish.deploy import deploy, destination

    project = Project(root)
    if dry_run:  # nothing is built or written: the site as it stands, checked
        findings = guard.lint(project.root, check(project).show)
        if findings:
            raise guard.Refused(findings)
    else:
        build(project, echo_unless(True), warn, strict=True, hold=hold)
    target = destination(dest, project.root, endpoint_url)
    log = click.echo if dry_run else echo_unless(quiet)  # a dry run's listing is its output
    changes = deploy(project.build_dir, target, log, dry_run)
    if not quiet or dry_run:
        verb = "would change" if dry_run else "changed"
        click.echo(f"{dest}: {verb} {len(changes)} files" if changes else f"{dest}: up to date")


@main.command("clean")
@project_option
@click.option("--prune", is_flag=True, help="Only drop cache entries the script no longer uses.")
def clean_command(root: Path, prune: bool) -> None:
    """Remove build/ outputs and the cache (or, with --prune, just stale cache entries)."""
    project = Project(root)
    if prune:
        click.echo(f"pruned {prune_cache(project, check(project))} cache entries")
    else:
        clean(project)
        click.echo("removed build/ outputs and .cache/")


@main.command("serve")
@project_option
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on (0.0.0.0 exposes it).",
)
@click.option("-p", "--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option(
    "--watch/--no-watch", "rebuild", default=False, help="Rebuild when the script or voices change."
)
def serve_command(root: Path, host: str, port: int, rebuild: bool) -> None:
    """Serve build/ (the show site and its feed) over HTTP for browsers and podcast apps."""
    from toolkit.publish.server import make_server, serve

    project = Project(root)
    server = make_server(project.build_dir, host, port, live_reload=rebuild)  # port taken: exit 2
    if not (project.build_dir / "feed.xml").is_file():
        build(project, echo_unless(False), warn)
    if rebuild:
        import threading

        from toolkit.watch import watch

        def loop() -> None:
            watch(project, lambda: build(project, echo_unless(True), warn), echo_unless(False))

        threading.Thread(target=loop, daemon=True).start()
    serve(server, project.build_dir)


@main.command("watch")
@project_option
def watch_command(root: Path) -> None:
    """Rebuild whenever a file in script/, voices/ or sounds/ is saved."""
    from toolkit.watch import watch

    project = Project(root)
    say = echo_unless(False)
    try:
        build(project, echo_unless(True), warn)
        say("initial build done")
    except DramaError as exc:
        say(f"error: {exc}")
    watch(project, lambda: build(project, echo_unless(True), warn), say)


@main.command("report")
@project_option
def report_command(root: Path) -> None:
    """Per-episode duration, loudness, true peak, lines and words; exit 1 off target."""
    from toolkit.master.master import report_rows

    episodes = build(Project(root), echo_unless(True), warn)
    rows = report_rows(episodes)
    header = f"{'#':>2}  {'file':<32} {'min:s':>6} {'LUFS':>6} {'dBTP':>6} {'lines':>5} {'words':>5}  characters"
    click.echo(header)
    for row, episode in zip(rows, episodes, strict=True):
        minutes, seconds = divmod(round(row["duration"]), 60)
        speakers = ", ".join(sorted({c for s in episode.chapter.scenes for c in _speakers(s)}))
        flag = "" if row["ok"] else "  OFF TARGET"
        click.echo(
            f"{row['episode']:>2}  {row['file']:<32} {minutes:>3}:{seconds:02d} {row['lufs']:>6.1f} "
            f"{row['true_peak']:>6.1f} {row['lines']:>5} {row['words']:>5}  {speakers}{flag}"
        )
    if not all(row["ok"] for row in rows):
        sys.exit(1)


def _speakers(scene) -> set[str]:
    from toolkit.script.model import Speech

    return {line.character for line in scene.lines if isinstance(line, Speech)}


@main.command("proof")
@project_option
@click.argument("chapters", nargs=-1)
@click.option(
    "-t",
    "--threshold",
    type=click.FloatRange(0, 1),
    default=None,
    help="Flag a line whose word error is above this (default 0.65).",
)
@click.option("--suggest", is_flag=True, help="Propose lexicon respellings for misheard words.")
@click.option(
    "-j", "--jobs", type=click.IntRange(1, 64), help="Worker processes (default: one per core)."
)
@click.option("-q", "--quiet", is_flag=True, help="Only the flagged lines, no summaries.")
def proof_command(
    root: Path,
    chapters: tuple[str, ...],
    threshold: float | None,
    suggest: bool,
    jobs: int | None,
    quiet: bool,
) -> None:
    """Listen to the built episodes and flag lines a listener would not understand
    (exit 1 when any is flagged)."""
    from toolkit.proof.proof import THRESHOLD, proof, suggestions

    threshold = THRESHOLD if threshold is None else threshold
    started = time.monotonic()
    result = proof(Project(root), chapters, warn, progress_bars(quiet), jobs, threshold)
    flagged = [h for h in result.lines if h.error > threshold]
    for h in flagged:
        click.echo(
            f'{h.line.where}: {h.line.character}: heard "{h.heard}" expected "{h.line.text}" '
            f"(word error {h.error:.2f})"
        )
    if not quiet:
        for label, group in (("character", lambda h: h.line.character), ("episode", _episode)):
            click.echo(f"by {label}:")
            for name, rows in _grouped(result.lines, group).items():
                bad = sum(h.error > threshold for h in rows)
                mean = sum(h.error for h in rows) / len(rows)
                click.echo(
                    f"  {name:<28} {len(rows):>4} lines {bad:>4} flagged  mean word error {mean:.2f}"
                )
        heard = f", heard {result.transcribed} lines ({result.seconds / 60:.1f} min of audio)"
        click.echo(
            f"{len(flagged)} of {len(result.lines)} lines flagged at threshold {threshold:g}"
            f"{heard if result.transcribed else ', all from the cache'} in "
            f"{time.monotonic() - started:.1f} s"
        )
    if suggest:
        proposed = suggestions(result.lines, threshold)
        if proposed:
            click.echo("# for script/lexicon.yaml (tune each by ear, then drama build):")
        for word, respelling, said, where in proposed:
            click.echo(f"{word}: {respelling}  # heard {said or 'nothing'!r} at {where}")
    if flagged:
        sys.exit(1)


def _episode(heard) -> str:
    return f"{heard.chapter.number:02d}-{heard.chapter.id}"


def _grouped(lines, key) -> dict[str, list]:
    groups: dict[str, list] = {}
    for line in lines:
        groups.setdefault(key(line), []).append(line)
    return groups


@main.command("sounds")
@project_option
@click.argument("action", required=False, type=click.Choice(["play"]))
@click.argument("name", required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--seconds",
    type=click.FloatRange(0.5, 600),
    default=20.0,
    show_default=True,
    help="Length of a rendered bed.",
)
def sounds_command(
    root: Path, action: str | None, name: str | None, output: Path | None, seconds: float
) -> None:
    """List the sound library, or `sounds play NAME -o file.wav` to render one."""
    from toolkit.mix.sounds import Library, catalogue

    project = Project(root)
    library = Library(project.sounds_dir if project.sounds_dir.is_dir() else None)
    if action is None:
        described = {info.name: info.description for info in catalogue()}
        for kind in ("bed", "sfx", "music"):
            click.echo(f"{kind}:")
            for sound in sorted(n for n in library.names() if library.kind(n) == kind):
                origin = (
                    f"sounds/{library.source(sound).name}" if library.source(sound) else "built-in"
                )
                click.echo(f"  {sound:<20} {origin:<10} {described.get(sound, '')}")
        return
    if not name or not output:
        raise DramaError("usage: drama sounds play NAME -o FILE.wav")
    if not library.has(name):
        raise DramaError(f"unknown sound '{name}', {closest(name, sorted(library.names()))}")
    audio = library.render(name, seconds if library.kind(name) == "bed" else None)
    write_wav(output, audio.T)
    click.echo(f"{output}: {len(audio) / RATE:.2f} s")


@main.command("plot")
@project_option
@click.argument("chapter")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
def plot_command(root: Path, chapter: str, output: Path | None) -> None:
    """Draw a chapter's timeline (who speaks when, beds, cues, loudness) as a PNG."""
    from toolkit.build import mixed_chapter
    from toolkit.mix.plot import plot_chapter

    project = Project(root)
    mixed = mixed_chapter(project, chapter, warn)
    path = (
        output or project.build_dir / "plots" / f"{mixed.chapter.number:02d}-{mixed.chapter.id}.png"
    )
    plot_chapter(mixed, path)
    click.echo(str(path))


AUDITION_TEXT = "I'd want to know. But only if they're nice, and not scary."


@main.command("voices")
@project_option
@click.option(
    "--audition",
    is_flag=True,
    help="Write one WAV per NAME (a character, or engine:voice such as festival:"
    "cmu_us_slt_arctic_hts, with optional ,rate=0.9,pitch=3) of the same line.",
)
@click.argument("names", nargs=-1)
@click.option("--text", default=AUDITION_TEXT, show_default=True, help="The line to audition.")
@click.option(
    "-o",
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the auditions [default: build/auditions].",
)
def voices_command(
    root: Path, audition: bool, names: tuple[str, ...], text: str, output: Path | None
) -> None:
    """The cast: each character's engine, voice and whether it runs here."""
    from toolkit.cast import load_cast
    from toolkit.script.loader import load_show
    from toolkit.speech.synth import first_usable, problem

    if names and not audition:
        raise click.UsageError("NAMES go with --audition")
    if audition:
        _audition(root, names, text, output)
        return
    show = load_show(root)
    for character, voice in load_cast(root, show).items():
        chosen = first_usable(voice)
        click.echo(f"{character}: pan {voice.pan:+.2f}")
        for spec in voice.chain:
            why = problem(spec)
            state = (
                "USED"
                if spec == chosen
                else ("available" if why is None else f"unavailable: {why}")
            )
            extra = f" rate {spec.rate:g}" + (f" pitch {spec.pitch:+g}" if spec.pitch else "")
            click.echo(f"  {spec.engine:<7} {spec.voice:<10}{extra}  {state}")


def _audition(root: Path, names: tuple[str, ...], text: str, output: Path | None) -> None:
    """Each name's voice says `text` into its own WAV, so voices can be compared by ear."""
    import re

    from toolkit.cast import load_cast, voice_of
    from toolkit.script.loader import load_show
    from toolkit.script.model import Speech, Where
    from toolkit.speech.synth import Synthesizer, first_usable, problem

    if not names:
        raise click.UsageError("--audition needs at least one NAME")
    project = Project(root)
    voices, cast = {}, None
    for name in dict.fromkeys(names):
        if ":" in name:
            voice = voice_of(name, root)
            if not first_usable(voice):
                raise DramaError(f"audition '{name}': {problem(voice.chain[0])}")
            voices[name] = voice
        else:
            cast = cast or load_cast(root, load_show(root))
            if name.upper() not in cast:
                raise DramaError(
                    f"audition '{name}': expected a character ({', '.join(cast)}) or engine:voice"
                )
            voices[name] = cast[name.upper()]
    folder = output or project.build_dir / "auditions"
    synth = Synthesizer(voices, project.cache_dir / "speech", warn, jobs=1)
    for name in voices:
        clip = synth.clip(Speech(name, text, Where("<command line>", 1, 1)))
        path = folder / (re.sub(r"[^A-Za-z0-9_.+-]+", "-", name).strip("-").lower() + ".wav")
        write_wav(path, clip.samples[None, :])
        click.echo(f"{path}: {clip.seconds:.2f} s, {clip.spec.label()}")


@main.command("say")
@project_option
@click.argument("character")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--play", is_flag=True, help="Play the line through the default audio device.")
@click.option("--direction", help="A parenthetical such as quietly or laughing.")
def say_command(
    root: Path, character: str, text: str, output: Path | None, play: bool, direction: str | None
) -> None:
    """Hear one line in a character's voice (writes a WAV with -o, plays it with --play)."""
    import tempfile

    from toolkit.cast import load_cast
    from toolkit.playback import play as play_wav
    from toolkit.script.lexicon import load_lexicon
    from toolkit.script.loader import load_show
    from toolkit.script.model import Speech, Where
    from toolkit.speech.synth import Synthesizer

    if not output and not play:
        raise click.UsageError("expected -o FILE, --play, or both")
    show = load_show(root)
    voices = load_cast(root, show)
    name = character.upper()
    if name not in voices:
        raise DramaError(f"unknown character '{character}', expected one of {', '.join(voices)}")
    text = typed(text, f"{name} line", speakable=True)
    direction = typed(direction, "direction") if direction is not None else None
    line = Speech(name, text, Where("<command line>", 1, 1), direction=direction)
    lexicon = load_lexicon(root)
    clip = Synthesizer(voices, Project(root).cache_dir / "speech", warn, None, lexicon).clip(line)
    if output:
        write_wav(output, clip.samples[None, :])
        click.echo(f"{output}: {clip.seconds:.2f} s, {clip.spec.label()}")
    if play:
        with tempfile.TemporaryDirectory(prefix="drama-say-") as tmp:
            wav = output or Path(tmp, "line.wav")
            if not output:
                write_wav(wav, clip.samples[None, :])
            player = play_wav(wav, clip.seconds)
        click.echo(f"played {clip.seconds:.2f} s through {player}, {clip.spec.label()}")


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the script format (for yaml-language-server)."""
    from toolkit.script.schema import schema

    click.echo(json.dumps(schema(), indent=2))


def write_wav(path: Path, audio) -> None:
    """Write (channels, samples) float audio as a WAV via pedalboard, atomically."""
    import io

    from pedalboard.io import AudioFile

    from toolkit.fsutil import atomic_write_bytes

    buffer = io.BytesIO()
    with AudioFile(buffer, "w", RATE, audio.shape[0], format="wav") as f:
        f.write(audio)
    atomic_write_bytes(path, buffer.getvalue())
