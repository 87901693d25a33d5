"""`drama`: a thin shell over the stages. Every user error is one line and exit status 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from toolkit.build import Project, build, check
from toolkit.errors import DramaError


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


@main.command("check")
@project_option
def check_command(root: Path) -> None:
    """Validate the script, voices and sounds without rendering anything."""
    checked = check(Project(root))
    show = checked.show
    lines = sum(len(scene.lines) for chapter in show.chapters for scene in chapter.scenes)
    click.echo(f"ok: {show.title}: {len(show.chapters)} chapters, {lines} lines")


@main.command("build")
@project_option
@click.option("-q", "--quiet", is_flag=True, help="Print nothing but warnings and errors.")
def build_command(root: Path, quiet: bool) -> None:
    """Render every chapter to build/episodes/ and write build/feed.xml."""
    episodes = build(Project(root), echo_unless(quiet), warn)
    total = sum(e.duration for e in episodes)
    if not quiet:
        click.echo(
            f"built {len(episodes)} episodes, {total / 60:.1f} minutes, feed at build/feed.xml"
        )


@main.command("voices")
@project_option
def voices_command(root: Path) -> None:
    """The cast: each character's engine, voice and whether it runs here."""
    from toolkit.cast import load_cast
    from toolkit.script.loader import load_show
    from toolkit.speech.synth import ENGINES, resolve

    show = load_show(root)
    for character, voice in load_cast(root, show).items():
        usable = resolve(voice)
        chosen = usable[0] if usable else None
        click.echo(f"{character}: pan {voice.pan:+.2f}")
        for spec in voice.chain:
            engine = ENGINES[spec.engine]
            problem = engine.problem() or (
                None if engine.accepts(spec.voice) else f"no voice '{spec.voice}'"
            )
            state = (
                "USED"
                if spec == chosen
                else ("available" if problem is None else f"unavailable: {problem}")
            )
            extra = f" rate {spec.rate:g}" + (f" pitch {spec.pitch:+g}" if spec.pitch else "")
            click.echo(f"  {spec.engine:<7} {spec.voice:<10}{extra}  {state}")


@main.command("say")
@project_option
@click.argument("character")
@click.argument("text")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--direction", help="A parenthetical such as quietly or laughing.")
def say_command(root: Path, character: str, text: str, output: Path, direction: str | None) -> None:
    """Hear one line in a character's voice (writes a WAV)."""
    import numpy as np
    from pedalboard.io import AudioFile

    from toolkit.cast import load_cast
    from toolkit.mix.timeline import RATE
    from toolkit.script.loader import load_show
    from toolkit.script.model import Speech, Where
    from toolkit.speech.synth import Synthesizer

    show = load_show(root)
    voices = load_cast(root, show)
    name = character.upper()
    if name not in voices:
        raise DramaError(f"unknown character '{character}', expected one of {', '.join(voices)}")
    line = Speech(name, text, Where("<command line>", 1, 1), direction=direction)
    clip = Synthesizer(voices, Project(root).cache_dir / "speech", warn).clip(line)
    with AudioFile(str(output), "w", RATE, 1) as f:
        f.write(np.asarray(clip.samples, np.float32)[None, :])
    click.echo(f"{output}: {clip.seconds:.2f} s, {clip.spec.label()}")


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the script format (for yaml-language-server)."""
    from toolkit.script.schema import schema

    click.echo(json.dumps(schema(), indent=2))
