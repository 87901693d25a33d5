"""The one small interface every speech engine implements."""

from __future__ import annotations

import contextlib
import json
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from pathlib import Path

from pydub import AudioSegment

from toolkit.cast import VoiceSpec
from toolkit.fsutil import Blobs, atomic_write_bytes

# Seconds one engine call may take before the engine is declared hung.
TIMEOUT = float(os.environ.get("DRAMA_ENGINE_TIMEOUT", "60"))


def installed(paths: Iterable[Path]) -> str:
    """What answers about an installed program depend on: its files, by path and date
    (a new package version or an installed voice changes them)."""
    parts = []
    for path in paths:
        with contextlib.suppress(OSError):
            parts.append(f"{path}:{path.stat().st_mtime_ns}")
    return "\n".join(parts)


def remembered(engine: str, state: str, fact: str, compute: Callable[[], object]):
    """A fact about an installed engine (its version, its voices), kept on disk while its
    installation `state` stays the same: asking the program costs a process start, 0.05-0.4 s,
    that every check and no-op build would otherwise pay. Failures are not kept."""
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = home / "drama-toolkit" / f"{engine}.json"
    try:
        saved = json.loads(path.read_text())
        facts = saved["facts"] if saved.get("state") == state else {}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        facts = {}
    if fact not in facts:
        facts[fact] = compute()
        with contextlib.suppress(OSError):  # a read-only home: asked again next time
            atomic_write_bytes(path, json.dumps({"state": state, "facts": facts}).encode())
    return facts[fact]


class EngineError(Exception):
    """The engine could not voice a line (crashed, hung, offline, silent)."""


class Engine(ABC):
    name: str = ""
    # The phoneme alphabet it reads inline as [[...]] (see toolkit/script/lexicon.py), if any.
    alphabet: str | None = None
    # Cores it may use on one line: 1 in a pool's workers, all of them when the build voices
    # its few lines itself. An engine that threads must give the same bytes on any number.
    cores: int = 1
    # True for an engine that computes in this process and may be called from several threads
    # at once: a build voices its lines on threads sharing one loaded model, instead of in
    # worker processes that would each load one (~400 MB for Kokoro with its front end).
    shares_model: bool = False
    # True for a shared-model engine that voices one line at a time in a process (Piper: its
    # phonemizer keeps global state): a build gives its lines to one thread, in turn.
    one_at_a_time: bool = False
    # Where an engine that voices a line in several calls may keep each call's audio, by
    # what went into it (set by the build meanwhile): an edit voices only the calls it changed.
    calls: Blobs | None = None

    @abstractmethod
    def problem(self) -> str | None:
        """Why this engine cannot run on this machine, or None when it can."""

    @abstractmethod
    def version(self) -> str:
        """Goes into cache keys: a new engine version re-synthesizes."""

    @abstractmethod
    def voices(self) -> tuple[str, ...]:
        """Voice names this engine accepts."""

    @abstractmethod
    def synthesize(self, text: str, spec: VoiceSpec, timeout: float = TIMEOUT) -> AudioSegment:
        """Speak `text` with `spec`'s voice, rate and pitch. Raises EngineError."""

    def voice_version(self, spec: VoiceSpec) -> str:
        """What identifies the voice's own files, when they can change apart from the engine."""
        return ""

    def accepts(self, voice: str) -> bool:
        return voice in self.voices()

    def prepare(self, texts: list[str]) -> None:
        """Read every text a build is about to give `synthesize` at once, before voicing any
        (an engine whose front end can then be let go early). Most have nothing to do."""
        return

    def release(self) -> None:
        """Let go of a loaded model (a build does once no line left needs it); the next
        line loads it again. Engines that load nothing in the build's process have none."""
        return
