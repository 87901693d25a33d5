"""The naive baseline the toolkit is measured against: what a first script would do.
Sequential synthesis of every line with no cache, pydub `overlay` in a loop to mix (each call
copies the whole chapter), a looped bed overlaid the same way, and an MP3 per chapter."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from pedalboard.io import AudioFile
from pydub import AudioSegment

from toolkit.build import Project, check, speech_lines
from toolkit.speech.synth import Synthesizer, speak


def segment(samples: np.ndarray) -> AudioSegment:
    pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes()
    return AudioSegment(data=pcm, sample_width=2, frame_rate=44100, channels=1)


def main(root: Path, out: Path) -> None:
    checked = check(Project(root))
    synth = Synthesizer(checked.voices, root / ".naive-unused", print, 1)
    out.mkdir(parents=True, exist_ok=True)
    for chapter in checked.show.chapters:
        clips = [
            speak(synth.key(line)[0], line.text, line.direction) for line in speech_lines(chapter)
        ]
        total = sum(len(c) for c in clips) / 44100 + 0.5 * len(clips) + 2
        mix = AudioSegment.silent(duration=int(total * 1000), frame_rate=44100)
        bed = segment(checked.library.render(chapter.scenes[0].ambience, 10.0).mean(axis=1))
        for start in range(0, int(total * 1000), 10000):
            mix = mix.overlay(bed - 6, position=start)
        position = 500
        for clip in clips:
            piece = segment(clip)
            mix = mix.overlay(piece, position=position)
            position += len(piece) + 500
        audio = np.array(mix.get_array_of_samples(), np.float32) / 32768
        with AudioFile(
            str(out / f"{chapter.number:02d}.mp3"), "w", 44100, 1, quality="128 kbps"
        ) as f:
            f.write(audio[None, :])


if __name__ == "__main__":
    started = time.perf_counter()
    main(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{time.perf_counter() - started:.3f}")
