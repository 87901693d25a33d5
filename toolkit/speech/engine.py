"""The one small interface every speech engine implements."""

from __future__ import annotations

import os
from abc import ABC, abstractmethod

from pydub import AudioSegment

from toolkit.cast import VoiceSpec

# Seconds one engine call may take before the engine is declared hung.
TIMEOUT = float(os.environ.get("DRAMA_ENGINE_TIMEOUT", "60"))


class EngineError(Exception):
    """The engine could not voice a line (crashed, hung, offline, silent)."""


class Engine(ABC):
    name: str = ""
    # The phoneme alphabet it reads inline as [[...]] (see toolkit/script/lexicon.py), if any.
    alphabet: str | None = None

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
