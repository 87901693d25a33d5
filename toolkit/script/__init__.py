"""Script stage: load the screenplay YAML and validate it into dataclasses."""

from toolkit.script.loader import load_show
from toolkit.script.model import (
    Ambience,
    Chapter,
    Line,
    Music,
    Pause,
    Scene,
    Sfx,
    Show,
    Speech,
    Where,
)

__all__ = [
    "Ambience",
    "Chapter",
    "Line",
    "Music",
    "Pause",
    "Scene",
    "Sfx",
    "Show",
    "Speech",
    "Where",
    "load_show",
]
