"""Mixed scenes kept on disk by what went into them: a chapter remixed after an edit puts
back every scene the edit did not touch instead of placing its lines in their rooms again.

A scene's voices and effects are laid out on the scene's own clock (see render.Layout), so
a scene that only moved, because an earlier one grew, is the same floats at a new offset.
What crosses scene boundaries is mixed over the whole chapter every time: reverb tails are
part of the scene they ring from and are added where they fall, and the beds and music,
which are ducked under speech all along the chapter, are never cached."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pedalboard

from toolkit.fsutil import Blobs

_CODE = hashlib.sha256(pedalboard.__version__.encode())
for _name in ("render.py", "filters.py", "scenes.py"):
    _CODE.update((Path(__file__).parent / _name).read_bytes())


def scene_key(parts: list[object]) -> str:
    """The key of a scene's mix from a description of everything in it (see Layout.put)."""
    digest = _CODE.copy()
    digest.update(repr(parts).encode())
    return digest.hexdigest()


def samples_digest(samples: np.ndarray) -> str:
    """What a clip or sound is, for a scene's key: its floats."""
    return hashlib.blake2b(np.ascontiguousarray(samples), digest_size=16).hexdigest()


SUFFIX = ".f32"  # raw float32 stereo, with fsutil.Blobs' SHA-256 at the end


class SceneCache:
    """Scene mixes in `folder` by scene_key: raw float32 stereo kept as fsutil.Blobs, so a
    file cut short or with a byte changed reads as missing and the scene is mixed again."""

    def __init__(self, folder: Path):
        self.blobs = Blobs(folder, SUFFIX)

    def get(self, key: str, length: int) -> np.ndarray | None:
        """The scene's mix, `length` samples of float32 stereo, or None when it is not there
        or does not read back whole."""
        data = self.blobs.get(key)
        if data is None or len(data) != length * 8:
            return None
        return np.frombuffer(data, np.float32).reshape(length, 2)

    def put(self, key: str, audio: np.ndarray) -> None:
        self.blobs.put(key, np.ascontiguousarray(audio, np.float32))
