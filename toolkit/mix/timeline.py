"""What the mix stage hands to mastering: the audio and exactly where everything sits in it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from toolkit.script.model import Chapter

RATE = 44100


@dataclass(frozen=True)
class Cue:
    """One thing placed on the timeline. Times in seconds from the start of the chapter.
    kind is 'speech', 'sfx', 'music' or 'bed'; name is the speaker or the sound. `words`, when
    `drama proof` has timed them, holds (start, end, word) for each word of `text` as written."""

    start: float
    end: float
    kind: str
    name: str
    scene: str
    text: str = ""
    words: tuple[tuple[float, float, str], ...] = ()


@dataclass(frozen=True)
class Mark:
    """A chapter mark inside an episode (one per scene)."""

    start: float
    end: float
    title: str


@dataclass(frozen=True)
class MixedChapter:
    chapter: Chapter
    audio: np.ndarray  # float32, shape (samples, 2), RATE Hz
    cues: tuple[Cue, ...]
    marks: tuple[Mark, ...]
    scenes: tuple[str, ...] = ()  # the keys of its scenes' mixes (see mix/scenes.py)

    @property
    def duration(self) -> float:
        return len(self.audio) / RATE
