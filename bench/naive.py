"""The naive baseline the toolkit is measured against: what a first script making the same
deliverable would do. Every line is synthesized in order with no cache (any edit reruns it
all), then each chapter is mixed in stereo with pydub `overlay` in a loop (each call copies
the whole chapter): every line panned with pydub's pan() (V.O. centred, O.S. dulled and
quieter, FILTERED band-passed), every sfx (panned) and music cue at its volume, and each
scene's ambience (and any change of it) looped over its stretch at -4 dB with a fade in and
out, with fixed gaps between things. Then -16 LUFS with pyloudnorm, peaks clipped at -1 dBFS,
and a stereo 128 kbps MP3 per chapter.

Not done, as a first tool would not: room reverb, ducking, crossfades between beds, the
mixer's timing rules, true-peak limiting (a plain clip instead) and chapter marks or tags."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pydub.scipy_effects  # noqa: F401  (registers scipy-backed filters on AudioSegment)
import pyloudnorm
from pedalboard.io import AudioFile
from pydub import AudioSegment

from toolkit.build import Project, check
from toolkit.script.model import Ambience, Pause, Sfx, Speech
from toolkit.speech.synth import Synthesizer, speak

GAP, SCENE_GAP, LEAD_IN, TAIL, FADE = 500, 1400, 800, 2000, 1500  # milliseconds
LOOP = 10.0  # seconds of a bed rendered once and overlaid over and over
CEILING = 10 ** (-1 / 20)  # -1 dBFS


def segment(samples: np.ndarray) -> AudioSegment:
    """Float mono or (n, 2) audio to 16-bit pydub audio, 6 dB down so overlays don't clip."""
    pcm = (np.clip(samples * 0.5, -1, 1) * 32767).astype("<i2").tobytes()
    channels = 1 if samples.ndim == 1 else samples.shape[1]
    return AudioSegment(data=pcm, sample_width=2, frame_rate=44100, channels=channels)


def voice(line: Speech, synth: Synthesizer, pan: float) -> AudioSegment:
    """Synthesize a line (no cache) and treat it the simple way its extension asks."""
    clip = segment(speak(synth.key(line)[0], line.text, line.direction))
    if line.ext == "O.S.":
        clip = clip.low_pass_filter(1800) - 9
    elif line.ext == "FILTERED":
        clip = clip.band_pass_filter(340, 3100)
    return clip.pan(0.0 if line.ext == "V.O." else pan)


def main(root: Path, out: Path) -> None:
    checked = check(Project(root))
    synth = Synthesizer(checked.voices, root / ".naive-unused", print, 1)
    render = checked.library.render
    out.mkdir(parents=True, exist_ok=True)
    for chapter in checked.show.chapters:
        pieces, beds, pos = [], [], LEAD_IN  # (start, audio), [bed, start, end]; ms
        for scene in chapter.scenes:
            beds.append([scene.ambience, pos, None])
            for line in scene.lines:
                if isinstance(line, Pause):
                    pos += int(line.seconds * 1000)
                    continue
                if isinstance(line, Ambience):  # before anything played it replaces the bed
                    beds[-1][2] = pos
                    beds = beds[:-1] if beds[-1][1] == pos else beds
                    beds.append([line.name, pos, None])
                    continue
                if isinstance(line, Speech):
                    piece = voice(line, synth, checked.voices[line.character].pan)
                else:
                    piece = segment(render(line.name)) + line.volume
                    piece = piece.pan(line.pan) if isinstance(line, Sfx) else piece
                overlap = isinstance(line, Speech) and line.overlap
                start = max(0, pos - int(line.overlap * 1000)) if overlap else pos + GAP
                pieces.append((start, piece))
                pos = max(pos, start + len(piece))
            pos += SCENE_GAP
            beds[-1][2] = pos
        mix = AudioSegment.silent(pos + TAIL, 44100).set_channels(2)
        for name, start, end in beds:
            loop = segment(render(name, LOOP))
            bed = AudioSegment.silent(end - start, 44100).set_channels(2)
            for t in range(0, end - start, int(LOOP * 1000)):
                bed = bed.overlay(loop, position=t)
            fade = min(FADE, (end - start) // 2)
            mix = mix.overlay(bed.fade_in(fade).fade_out(fade) - 4, position=start)
        for start, piece in pieces:
            mix = mix.overlay(piece, position=start)
        audio = np.array(mix.get_array_of_samples(), np.float64).reshape(-1, 2) / 32768
        meter = pyloudnorm.Meter(44100)
        audio = pyloudnorm.normalize.loudness(audio, meter.integrated_loudness(audio), -16.0)
        audio = np.clip(audio, -CEILING, CEILING).astype(np.float32)
        with AudioFile(
            str(out / f"{chapter.number:02d}.mp3"), "w", 44100, 2, quality="128 kbps"
        ) as f:
            f.write(audio.T)


if __name__ == "__main__":
    started = time.perf_counter()
    main(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{time.perf_counter() - started:.3f}")
