"""Rebuild on save: the writer's edit → rebuild → listen loop."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from toolkit.build import Project
from toolkit.errors import DramaError

WATCHED = ("script", "voices", "sounds")


def watch(
    project: Project,
    rebuild: Callable[[], object],
    say: Callable[[str], None],
    stop_after: int | None = None,
) -> None:
    """Run `rebuild` whenever a watched file changes. A bad edit is reported on one line and
    the watcher keeps going, so the writer fixes the YAML and saves again."""
    from watchfiles import watch as changes

    folders = [project.root / name for name in WATCHED if (project.root / name).is_dir()]
    say(f"watching {', '.join(f.name + '/' for f in folders)} (Ctrl-C to stop)")
    batches = changes(*folders, debounce=200, step=50, raise_interrupt=False)
    for seen, batch in enumerate(batches, start=1):
        names = sorted({_relative(Path(path), project.root) for _, path in batch})
        say(f"changed: {', '.join(names)}")
        started = time.monotonic()
        try:
            rebuild()
        except DramaError as exc:
            say(f"error: {exc}")
        else:
            say(f"rebuilt in {time.monotonic() - started:.2f} s")
        if stop_after is not None and seen >= stop_after:
            return


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name
