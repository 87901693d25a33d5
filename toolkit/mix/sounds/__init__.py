"""Offline procedural sound library: ambience beds, sound effects and music cues.

Everything is synthesised from a seed derived from the sound's name, so builds are reproducible
without shipping or downloading audio; `Library` lets the user's own recordings replace them.
"""

from ._builtin import BEDS, MUSIC, SFX, SoundInfo, catalogue, render
from .library import Library

__all__ = ["BEDS", "MUSIC", "SFX", "Library", "SoundInfo", "catalogue", "render"]
