"""Plain dataclasses for a validated screenplay: what the script stage hands downstream."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class Where:
    """Where a value sits in the user's YAML (1-based), for error messages."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


EXTENSIONS = ("V.O.", "O.S.", "FILTERED")


@dataclass(frozen=True)
class Speech:
    """A character speaks. `ext` is a screenplay extension (V.O., O.S., FILTERED) or None;
    `overlap` is how many seconds the line starts before the previous one ends."""

    character: str
    text: str
    where: Where
    direction: str | None = None
    ext: str | None = None
    overlap: float = 0.0


@dataclass(frozen=True)
class Pause:
    seconds: float
    where: Where


@dataclass(frozen=True)
class Sfx:
    """A sound effect after the previous line; `volume` in dB, `pan` -1 (left) .. 1 (right)."""

    name: str
    where: Where
    volume: float = 0.0
    pan: float = 0.0


@dataclass(frozen=True)
class Ambience:
    """Change the bed under the rest of the scene."""

    name: str
    where: Where


@dataclass(frozen=True)
class Music:
    """A music cue (intro, outro, sting) played in the clear between lines."""

    name: str
    where: Where
    volume: float = 0.0


Line = Speech | Pause | Sfx | Ambience | Music


@dataclass(frozen=True)
class Scene:
    id: str
    title: str
    setting: str
    ambience: str
    lines: tuple[Line, ...]
    where: Where
    room: str = "small"
    ambience_where: Where | None = None


@dataclass(frozen=True)
class Chapter:
    """One episode of the serial. `id` is stable across edits and feeds the episode GUID."""

    id: str
    number: int
    title: str
    description: str
    release: date
    scenes: tuple[Scene, ...]
    file: str
    id_where: Where | None = None


@dataclass(frozen=True)
class Show:
    title: str
    author: str
    description: str
    language: str
    base_url: str
    category: str
    explicit: bool
    type: str
    narrator: str
    cast: dict[str, str]
    chapters: tuple[Chapter, ...]
    file: str
    cover: str | None = None
    subcategory: str | None = None
    copyright: str = ""
    owner_name: str = ""
    owner_email: str = ""
    season: int = 1
    formats: tuple[str, ...] = ("mp3",)  # deliverables built every time; mp3 always
    caption_sounds: bool = True  # transcripts describe sound effects and music
    guid: str | None = None  # podcast:guid pinned in show.yaml (else derived from base_url)
    cache: str | None = None  # a shared cache's fsspec URL, under the local .cache
    extra: dict[str, str] = field(default_factory=dict)
