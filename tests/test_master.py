"""Mastering on synthetic chapters: loudness, MP3, tags, transcripts, cover, determinism.

The loudness guarantees are checked with reference meters (pyloudnorm, and resample_poly
over the whole signal), not with the fast meters mastering itself uses."""

from __future__ import annotations

import dataclasses
import io
import json
import math
import os
import re
from datetime import date
from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3, BitrateMode
from pedalboard.io import AudioFile
from PIL import Image
from scipy.signal import butter, iirpeak, lfilter, resample_poly, sosfilt

from toolkit.errors import DramaError
from toolkit.fsutil import write_if_changed
from toolkit.master import loudness
from toolkit.master.captions import sound_cues
from toolkit.master.cover import load_cover, make_cover
from toolkit.master.encode import decode, encode_flac, encode_mp3, encode_ogg, measure_decoded
from toolkit.master.episode import Episode
from toolkit.master.loudness import integrated_lufs, normalize, true_peak_db
from toolkit.master.master import master_audio, report_rows, within_targets
from toolkit.master.package import check_formats, package
from toolkit.master.transcripts import captions, chapters_json
from toolkit.mix.timeline import RATE, Cue, Mark, MixedChapter
from toolkit.script.model import Chapter, Scene, Show, Speech, Where

SECONDS = 20.0
LONG_LINE = " ".join(["Listen to me, this is a very long line that keeps on going"] * 4)
VOWELS = ((730, 1090, 2440), (270, 2290, 3010), (300, 870, 2240), (530, 1840, 2480))


def reference_lufs(audio: np.ndarray) -> float:
    return float(pyloudnorm.Meter(RATE).integrated_loudness(np.asarray(audio, np.float64)))


def reference_true_peak(audio: np.ndarray) -> float:
    """dBTP of the whole signal oversampled 4x by resample_poly."""
    x = np.asarray(audio, np.float32)
    peak = max(float(np.abs(resample_poly(x, 4, 1, axis=0)).max()), float(np.abs(x).max()))
    return 20 * math.log10(peak) if peak > 0 else -math.inf


def synthetic_mix(seed: int = 7) -> np.ndarray:
    """Syllable-like tone bursts at varying levels over a noise bed, plus a loud door slam,
    so both the gain and the limiter have work to do."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SECONDS * RATE)) / RATE
    audio = 0.003 * rng.standard_normal((len(t), 2))
    for i, level in enumerate([0.05, 0.3, 0.1, 0.6, 0.2, 0.4, 0.08, 0.5]):
        start = 0.5 + i * 2.3
        span = (t >= start) & (t < start + 1.8)
        envelope = np.abs(np.sin(2 * np.pi * 3.0 * (t[span] - start)))  # syllables
        voice = sum(np.sin(2 * np.pi * 140 * k * t[span]) / k for k in range(1, 8))
        audio[span, 0] += level * envelope * voice
        audio[span, 1] += 0.8 * level * envelope * voice
    slam = slice(int(15.2 * RATE), int(15.5 * RATE))
    decay = np.exp(-np.arange(slam.stop - slam.start) / (0.04 * RATE))
    audio[slam] += 1.5 * rng.standard_normal((len(decay), 2)) * decay[:, None]
    return audio.astype(np.float32)


def speech_like(seconds: float = 30.0, seed: int = 11) -> np.ndarray:
    """Two voices taking turns over room tone: glottal pulses with gliding pitch through vowel
    formants, fricative hiss, pauses between words and lines, each line at its own level, and
    one door slam. At -16 LUFS the speech peaks near 0 dBTP and the slam near +6, like the
    story's chapters, so the limiter works on both."""
    rng = np.random.default_rng(seed)
    total = int(seconds * RATE)
    audio = 0.001 * rng.standard_normal((total + 10 * RATE, 2))
    hiss = butter(4, 3500, "highpass", fs=RATE, output="sos")
    glottis = butter(2, 700, fs=RATE, output="sos")
    pos, line = int(0.3 * RATE), 0
    while pos < total:
        pitch, pan = [(110.0, np.array([0.9, 0.6])), (210.0, np.array([0.55, 0.85]))][line % 2]
        level = 0.3 * 10 ** (rng.uniform(-8, 0) / 20)
        for _ in range(rng.integers(3, 9)):  # words
            for _ in range(rng.integers(1, 4)):  # syllables
                n = int(rng.uniform(0.08, 0.3) * RATE)
                if rng.random() < 0.25:
                    sound = 0.3 * sosfilt(hiss, rng.standard_normal(n))
                else:
                    glide = (
                        pitch * rng.uniform(0.85, 1.15) * np.linspace(1, rng.uniform(0.9, 1.1), n)
                    )
                    sound = sosfilt(glottis, np.diff(np.floor(np.cumsum(glide / RATE)), prepend=0))
                    for formant in VOWELS[rng.integers(len(VOWELS))]:
                        sound = lfilter(*iirpeak(formant, formant / 90, fs=RATE), sound)
                    sound /= np.abs(sound).max()
                sound *= rng.uniform(0.4, 1.0) * level * np.sin(np.linspace(0, np.pi, n))
                audio[pos : pos + n] += sound[:, None] * pan
                pos += n
            pos += int(rng.uniform(0.03, 0.15) * RATE)
        pos += int(rng.uniform(0.3, 0.9) * RATE)
        line += 1
    slam = int(0.6 * total)
    decay = np.exp(-np.arange(int(0.3 * RATE)) / (0.03 * RATE))[:, None]
    audio[slam : slam + len(decay)] += 0.15 * rng.standard_normal((len(decay), 2)) * decay
    return audio[:total].astype(np.float32)


def where() -> Where:
    return Where("story.yaml", 1, 1)


def fake_show() -> tuple[Show, Chapter]:
    scene = Scene(
        id="kitchen",
        title="Kitchen",
        setting="INT. KITCHEN - NIGHT",
        ambience="fridge",
        lines=(Speech("MOM", "Who is there?", where()),),
        where=where(),
    )
    chapter = Chapter(
        id="the-attic",
        number=2,
        title="The Attic",
        description="Something moves upstairs.",
        release=date(2025, 3, 14),
        scenes=(scene,),
        file="story.yaml",
    )
    show = Show(
        title="Night House",
        author="Jane Writer",
        description="A family audio drama.",
        language="en",
        base_url="https://example.org/night-house",
        category="Fiction",
        explicit=False,
        type="serial",
        narrator="NARRATOR",
        cast={"MOM": "flite:slt", "KID": "flite:slt"},
        chapters=(chapter,),
        file="story.yaml",
    )
    return show, chapter


CUES = (
    Cue(0.0, 20.0, "bed", "fridge", "kitchen"),
    Cue(0.5, 2.3, "speech", "MOM", "kitchen", "Who is there?"),
    Cue(2.8, 4.6, "speech", "KID", "kitchen", "Only me & the <cat>."),
    Cue(5.0, 5.4, "sfx", "creak", "kitchen"),
    Cue(7.4, 13.0, "speech", "MOM", "attic", LONG_LINE),
    Cue(15.2, 15.5, "sfx", "door-slam", "attic"),
    Cue(16.0, 18.0, "speech", "KID", "attic", "Mom?"),
)
MARKS = (Mark(0.0, 7.0, "Kitchen"), Mark(7.0, SECONDS, "Attic"))


@pytest.fixture(scope="module")
def cover() -> bytes:
    return make_cover("Night House", "Jane Writer")


def master_chapter(mixed: MixedChapter, show, out: Path, cover: bytes, total: int) -> Episode:
    """What a build does for one chapter: master, package, write the files."""
    done = master_audio(mixed.audio)
    duration = len(done.audio) / RATE
    files = package(mixed.chapter, show, done.mp3, duration, mixed.cues, mixed.marks, cover, total)
    stem = out / "episodes" / f"{mixed.chapter.number:02d}-{mixed.chapter.id}"
    stem.parent.mkdir(parents=True, exist_ok=True)
    for suffix, data in files.items():
        Path(f"{stem}{suffix}").write_bytes(data)
    speech = [c for c in mixed.cues if c.kind == "speech"]
    return Episode(
        chapter=mixed.chapter,
        mp3=Path(f"{stem}.mp3"),
        size=len(files[".mp3"]),
        duration=duration,
        lufs=done.lufs,
        true_peak=done.true_peak,
        vtt=Path(f"{stem}.vtt"),
        srt=Path(f"{stem}.srt"),
        chapters_json=Path(f"{stem}.chapters.json"),
        lines=len(speech),
        words=sum(len(c.text.split()) for c in speech),
    )


@pytest.fixture(scope="module")
def mastered(tmp_path_factory: pytest.TempPathFactory, cover: bytes):
    show, chapter = fake_show()
    mixed = MixedChapter(chapter, synthetic_mix(), CUES, MARKS)
    out = tmp_path_factory.mktemp("build")
    return master_chapter(mixed, show, out, cover, total=6), mixed, out


def decoded_mp3(path: Path) -> tuple[np.ndarray, float, int]:
    with AudioFile(str(path)) as f:
        return f.read(f.frames).T, f.samplerate, f.num_channels


# --- loudness ---


def test_normalize_reaches_loudness_and_peak_targets():
    audio = synthetic_mix()
    gain = 10 ** ((-16 - reference_lufs(audio)) / 20)
    assert reference_true_peak(audio * gain) > -1.0  # the limiter has work to do
    out = normalize(audio)
    assert out.dtype == np.float32 and out.shape == audio.shape
    # the gain search predicts the limited loudness without measuring it: check it did
    assert abs(reference_lufs(out) + 16) <= 0.06
    assert reference_true_peak(out) <= -2.0 + 0.25  # limiter at ceiling minus headroom
    assert np.array_equal(out, normalize(audio))  # deterministic


def test_limiter_holds_a_peak_at_the_very_first_sample():
    audio = speech_like(5.0)
    audio[:200] = 0.9  # no room before it for the look-ahead ramp
    assert reference_true_peak(normalize(audio)) <= -2.0 + 0.25


def test_true_peak_sees_between_samples(monkeypatch: pytest.MonkeyPatch):
    # A tone at a quarter of the rate sampled 45 degrees off its crest: samples reach only
    # 0.707 of the true peak.
    n = np.arange(RATE)
    tone = np.sin(np.pi / 2 * n + np.pi / 4).astype(np.float32)
    stereo = np.stack([tone, tone], axis=1)
    assert 20 * np.log10(np.abs(stereo).max()) == pytest.approx(-3.0, abs=0.05)
    whole = true_peak_db(stereo)
    assert whole == pytest.approx(0.0, abs=0.3)
    monkeypatch.setattr(loudness, "_PEAK_BLOCK", 37)  # block seams must not change the answer
    monkeypatch.setattr(loudness, "_PEAK_BATCH", 1)
    assert true_peak_db(stereo) == pytest.approx(whole, abs=1e-4)


def edge_peaks() -> np.ndarray:
    """Noise with full-scale samples at both ends, where the interpolator reads zeros."""
    audio = 0.1 * np.random.default_rng(2).standard_normal((RATE + 77, 2))
    audio[0], audio[-1] = (1.0, -0.9), (-1.0, 0.8)
    return audio.astype(np.float32)


@pytest.mark.parametrize(
    "make",
    [
        speech_like,
        lambda: speech_like()[:, 0],  # mono
        synthetic_mix,
        lambda: np.sign(speech_like(3.0)) * 0.5,  # square waves: the worst inter-sample peaks
        lambda: np.concatenate([np.zeros((5 * RATE, 2), np.float32), speech_like(3.0)]),
        edge_peaks,
    ],
    ids=["speech", "mono", "mix", "square", "silence-first", "edge-peaks"],
)
def test_meters_agree_with_the_references(make):
    # The fast meters skip work (blocks that cannot hold the peak, Python loops): they must
    # still give the reference answers.
    audio = make()
    assert integrated_lufs(audio) == pytest.approx(reference_lufs(audio), abs=0.01)
    assert true_peak_db(audio) == pytest.approx(reference_true_peak(audio), abs=1e-3)


def test_leveling_in_pieces_matches_whole_recursive_passes(monkeypatch: pytest.MonkeyPatch):
    # K-weighting goes a piece at a time as a cut impulse response, and the limiter's loudness
    # updates a chunk at a time: the energies must be those of scipy's recursive filter over
    # the whole signal (to float32 precision), whatever the sizes, and a render repeats a
    # level() to the float.
    audio = speech_like(20.0)
    before = audio.copy()
    x = np.ascontiguousarray(audio.T)
    gating = loudness._Gating(x.shape[1])
    weighted = sosfilt(loudness._K_WEIGHTING.sos, x, axis=-1)
    power = np.einsum("ij,ij->j", weighted, weighted)
    energies = np.add.reduceat(power[: gating.edges[-1]], gating.edges[:-1], dtype=np.float64)
    leveler = loudness.Leveler(audio)
    assert np.allclose(leveler.energies, energies, rtol=1e-5, atol=1e-12)
    out, setting = leveler.level(-16.0, -2.0)
    assert setting.cuts.starts.size  # the limiter had work to do
    assert np.array_equal(leveler.render(setting), out)
    monkeypatch.setattr(loudness, "_PIECE", 1)
    monkeypatch.setattr(loudness, "_CHUNK", 1000)
    again = loudness.Leveler(audio)
    assert np.allclose(again.energies, energies, rtol=1e-5, atol=1e-12)
    # the gain search may stop at another pass within its aim
    assert integrated_lufs(again.level(-16.0, -2.0)[0]) == pytest.approx(-16.0, abs=0.1)
    assert np.array_equal(audio, before)  # read in place, never written


def test_filter_constants_are_the_reference_designs():
    # The coefficients are constants so that nothing on a build imports scipy or pyloudnorm
    # (seconds of start-up); they must be what those libraries design.
    import math

    from pyloudnorm import IIRfilter
    from scipy.signal import butter, ellip, firwin

    from toolkit.mix import render

    shelf = IIRfilter(4.0, 1 / math.sqrt(2), 1500.0, RATE, "high_shelf")
    high = IIRfilter(0.0, 0.5, 38.0, RATE, "high_pass")
    k = [np.concatenate([f.b, f.a]) for f in (shelf, high)]
    assert np.allclose(loudness._K_WEIGHTING.sos, k, rtol=1e-12)
    fir = 4 * firwin(81, 1 / 4, window=("kaiser", 5.0))
    assert np.allclose(loudness._FIR, fir, rtol=1e-12, atol=1e-15)
    low = butter(2, render.OFFSTAGE_LOWPASS, "lowpass", fs=RATE, output="sos")
    assert np.allclose(render.LOWPASS.sos, low, rtol=1e-12)
    phone = ellip(6, 1.0, 60.0, render.PHONE_BAND, "bandpass", fs=RATE, output="sos")
    assert np.allclose(render.PHONE_FILTER.sos, phone, rtol=1e-10)


def test_filters_match_scipy_recursive_filters():
    from scipy.signal import sosfilt

    from toolkit.mix import render

    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 5 * RATE)).astype(np.float32)
    for f in (loudness._K_WEIGHTING, render.LOWPASS, render.PHONE_FILTER):
        want = sosfilt(f.sos, x, axis=-1)
        assert np.abs(f(x) - want).max() < 1e-6 * np.abs(want).max()
        # a stretch filtered on its own, from the input before it
        part = f(x[:, 70000:], f.history(x, 70000))
        assert np.abs(part - want[:, 70000:]).max() < 1e-6 * np.abs(want).max()


def test_master_audio_corrects_what_the_encoder_changes():
    # White-noise bursts lose loudness in the MP3 (LAME's lowpass removes what K-weighting
    # counts most), so mastering must re-aim from the decoded file, not the float buffer.
    rng = np.random.default_rng(3)
    t = np.arange(4 * RATE) / RATE
    bursts = rng.standard_normal(len(t)) * np.where(t % 1 < 0.3, 1.0, 0.05)
    audio = np.stack([bursts, bursts], axis=1).astype(np.float32)
    assert reference_lufs(decode(encode_mp3(normalize(audio)))) < -16.5
    done = master_audio(audio)
    decoded = decode(done.mp3)
    assert abs(reference_lufs(decoded) + 16) <= 0.25 and reference_true_peak(decoded) <= -1.0
    assert done.lufs == pytest.approx(reference_lufs(decoded), abs=0.01)


def test_master_audio_adds_headroom_when_the_mp3_overshoots():
    # Gunshot-like noise bursts crushed by the limiter: this one decodes at -0.7 dBTP from
    # a -2 dBTP buffer, so the first encode fails and mastering must retry lower.
    rng = np.random.default_rng(5)
    t = np.arange(6 * RATE) / RATE
    tone = 0.05 * np.sin(2 * np.pi * 200 * t) * np.abs(np.sin(2 * np.pi * 3 * t))
    audio = np.stack([tone, tone], axis=1)
    decay = np.exp(-np.arange(int(0.3 * RATE)) / (0.03 * RATE))[:, None]
    for k in range(6):
        audio[k * RATE : k * RATE + len(decay)] += 2 * rng.standard_normal((len(decay), 2)) * decay
    audio = audio.astype(np.float32)
    assert reference_true_peak(decode(encode_mp3(normalize(audio)))) > -1.0
    done = master_audio(audio)
    decoded = decode(done.mp3)
    assert reference_true_peak(decoded) <= -1.0 and abs(reference_lufs(decoded) + 16) <= 0.5


def test_meter_measures_a_stream_as_the_whole() -> None:
    """Loudness and true peak measured a chunk at a time, as the decoded MP3 is, are those
    of the whole signal: the peak exactly, wherever a chunk boundary falls beside it."""
    audio = speech_like()
    n = len(audio)
    for at in (loudness.METER_CHUNK - 3, loudness.METER_CHUNK, 2 * loudness.METER_CHUNK + 5):
        spiky = audio.copy()
        spiky[at, 0] = 0.9
        spiky[at + 1, 0] = -0.9  # an inter-sample peak over the samples, at the boundary
        meter = loudness.Meter(n)
        for lo in range(0, n, loudness.METER_CHUNK):
            meter.add(np.ascontiguousarray(spiky[lo : lo + loudness.METER_CHUNK].T))
        lufs, peak = meter.result()
        assert lufs == pytest.approx(integrated_lufs(spiky), abs=1e-6)
        assert peak == true_peak_db(spiky) and peak > 20 * math.log10(0.9)
    done = master_audio(audio)
    decoded = decode(done.mp3)
    assert measure_decoded(done.mp3) == pytest.approx(
        (integrated_lufs(decoded), true_peak_db(decoded)), abs=1e-6
    )


def test_master_holds_no_second_copy_of_the_chapter() -> None:
    """Mastering keeps no chapter-length buffer beside its input: the levelled audio is
    made a stretch at a time for the encoder and the MP3 is measured as it is decoded.
    numpy's buffers are traced by tracemalloc; a copy of the input would be 53 MB here."""
    import tracemalloc

    t = np.arange(150 * RATE) / RATE
    voice = np.sin(2 * np.pi * 220 * t) * (np.sin(2 * np.pi * 0.5 * t) > 0) * 0.3
    noise = np.random.default_rng(0).standard_normal((len(t), 2)) * 0.01
    audio = (np.stack([voice, voice * 0.8], axis=1) + noise).astype(np.float32)
    audio[10 * RATE] = 0.99
    tracemalloc.start()
    try:
        done = master_audio(audio)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 0.6 * audio.nbytes, f"{peak / 1e6:.1f} MB for a {audio.nbytes / 1e6:.1f} MB input"
    assert abs(done.lufs + 16) <= 0.25 and done.true_peak <= -1.0
    whole = done.audio[0 : len(audio)]  # made as it is sliced: any stretch is the same floats
    assert whole.shape == audio.shape and np.array_equal(done.audio[1000:70000], whole[1000:70000])


def test_decoded_mp3_of_speech_meets_targets():
    audio = speech_like()
    assert reference_true_peak(audio * 10 ** ((-16 - reference_lufs(audio)) / 20)) > 5.0
    done = master_audio(audio)
    decoded = decode(done.mp3)
    lufs, peak = reference_lufs(decoded), reference_true_peak(decoded)
    assert abs(lufs + 16) <= 0.25 and peak <= -1.0
    assert done.lufs == pytest.approx(lufs, abs=0.01)
    assert done.true_peak == pytest.approx(peak, abs=1e-3)
    info = MP3(io.BytesIO(done.mp3)).info
    assert (info.sample_rate, info.channels, info.bitrate) == (44100, 2, 128000)
    assert info.bitrate_mode == BitrateMode.CBR
    assert len(decoded) / RATE == pytest.approx(30.0, abs=0.1)
    assert master_audio(audio).mp3 == done.mp3


# --- the mastered episode ---


def test_mp3_is_44k_stereo_128k_cbr(mastered):
    episode, mixed, _ = mastered
    assert episode.mp3.name == "02-the-attic.mp3"
    info = MP3(episode.mp3).info
    assert (info.sample_rate, info.channels, info.bitrate) == (44100, 2, 128000)
    assert info.bitrate_mode == BitrateMode.CBR
    assert info.length == pytest.approx(SECONDS, abs=0.1)
    assert episode.duration == pytest.approx(mixed.duration)
    assert episode.size == episode.mp3.stat().st_size


def test_decoded_mp3_meets_loudness_targets(mastered):
    episode, _, _ = mastered
    audio, rate, channels = decoded_mp3(episode.mp3)
    assert (rate, channels) == (44100, 2)
    assert len(audio) / rate == pytest.approx(SECONDS, abs=0.1)
    lufs, peak = reference_lufs(audio), reference_true_peak(audio)
    assert abs(lufs + 16) <= 0.5
    assert peak <= -1.0
    assert episode.lufs == pytest.approx(lufs, abs=0.01)
    assert episode.true_peak == pytest.approx(peak, abs=0.01)
    assert within_targets(episode)


def test_episode_counts_and_report(mastered):
    episode, _, _ = mastered
    assert episode.lines == 4
    assert episode.words == 3 + 5 + len(LONG_LINE.split()) + 1
    (row,) = report_rows([episode])
    assert row["episode"] == 2 and row["file"] == "02-the-attic.mp3" and row["ok"] is True


def test_id3_tags(mastered, cover: bytes):
    episode, _, _ = mastered
    tags = ID3(episode.mp3)
    assert tags.version == (2, 3, 0)
    assert tags["TIT2"].text == ["The Attic"]
    assert tags["TPE1"].text == ["Jane Writer"]
    assert tags["TALB"].text == ["Night House"]
    assert tags["TRCK"].text == ["2/6"]
    assert str(tags["TDRC"].text[0]) == "2025"  # mutagen reads TYER back as TDRC
    assert b"TYER" in episode.mp3.read_bytes()[:2000]
    assert tags["TCON"].text == ["Audio Drama"]
    assert tags.getall("COMM")[0].text == ["Something moves upstairs."]
    (apic,) = tags.getall("APIC")
    assert (apic.type, apic.mime, apic.data) == (3, "image/jpeg", cover)
    toc = tags["CTOC:toc"]
    assert toc.child_element_ids == ["ch0", "ch1"]
    assert toc.sub_frames["TIT2"].text == ["Chapters"]
    chaps = [
        (c.element_id, c.start_time, c.end_time, c.sub_frames["TIT2"].text[0])
        for c in sorted(tags.getall("CHAP"), key=lambda c: c.element_id)
    ]
    assert chaps == [("ch0", 0, 7000, "Kitchen"), ("ch1", 7000, 20000, "Attic")]


def test_vtt_transcript(mastered):
    episode, _, _ = mastered
    text = episode.vtt.read_text(encoding="utf-8")
    assert text.startswith("WEBVTT\n\n")
    times = re.findall(
        r"^(\d\d):(\d\d):(\d\d)\.(\d{3}) --> (\d\d):(\d\d):(\d\d)\.(\d{3})$", text, re.M
    )
    seconds = [
        (
            int(a) * 3600 + int(b) * 60 + int(c) + int(d) / 1000,
            int(e) * 3600 + int(f) * 60 + int(g) + int(h) / 1000,
        )
        for a, b, c, d, e, f, g, h in times
    ]
    assert len(seconds) == len(captions([*CUES, *sound_cues(CUES)])) > 7  # long line split
    assert all(start < end for start, end in seconds)
    assert [s for s, _ in seconds] == sorted(s for s, _ in seconds)
    assert "<v MOM>Who is there?" in text
    assert "<v KID>Only me &amp; the &lt;cat&gt;." in text
    # Sounds are described for deaf and hard-of-hearing listeners, with no speaker tag: the
    # built-in door-slam in words, the user's own sounds (creak, fridge) by name.
    assert "00:00:15.200 --> 00:00:16.200\n[a door slams]\n" in text
    assert "\n[creak]\n" in text and "00:00:00.000 --> 00:00:03.000\n[fridge]\n" in text


def test_sound_captions_can_be_turned_off(tmp_path, cover):
    show, chapter = fake_show()
    quiet = dataclasses.replace(show, caption_sounds=False)
    mp3 = encode_mp3(np.zeros((RATE * 2, 2), dtype=np.float32))
    files = package(chapter, quiet, mp3, 2.0, CUES, MARKS, cover, 1)
    vtt, srt = files[".vtt"].decode(), files[".srt"].decode()
    assert "[" not in vtt and "[" not in srt
    assert vtt.count(" --> ") == srt.count(" --> ") == len(captions(CUES))


def test_long_line_pieces_stay_inside_the_line():
    pieces = [c for c in captions(CUES) if c.start >= 7.4 and c.end <= 13.0]
    assert len(pieces) >= 2
    assert all(len(p.text) <= 130 for p in pieces)
    assert " ".join(p.text for p in pieces) == LONG_LINE
    assert pieces[0].start == 7.4 and pieces[-1].end == pytest.approx(13.0)
    assert all(a.end == pytest.approx(b.start) for a, b in zip(pieces, pieces[1:], strict=False))


def test_srt_transcript(mastered):
    episode, _, _ = mastered
    blocks = episode.srt.read_text(encoding="utf-8").strip().split("\n\n")
    assert [b.split("\n")[0] for b in blocks] == [str(n) for n in range(1, len(blocks) + 1)]
    assert blocks[0].split("\n")[1:] == ["00:00:00,000 --> 00:00:03,000", "[fridge]"]
    assert blocks[1].split("\n")[1:] == ["00:00:00,500 --> 00:00:02,300", "MOM: Who is there?"]
    assert "KID: Only me & the <cat>." in blocks[2]


def test_chapters_json(mastered):
    episode, _, _ = mastered
    doc = json.loads(episode.chapters_json.read_text(encoding="utf-8"))
    assert doc["version"] == "1.2.0"
    assert [(c["startTime"], c["title"]) for c in doc["chapters"]] == [
        (m.start, m.title) for m in MARKS
    ]
    assert list(doc["chapters"][0]) == ["startTime", "endTime", "title"]
    assert chapters_json([Mark(1.23456, 2, "x")], "t").count("1.235") == 1


def test_mastering_is_byte_identical(mastered, cover: bytes, tmp_path: Path):
    episode, mixed, _ = mastered
    show, _ = fake_show()
    again = master_chapter(mixed, show, tmp_path, cover, total=6)
    for first, second in [
        (episode.mp3, again.mp3),
        (episode.vtt, again.vtt),
        (episode.srt, again.srt),
        (episode.chapters_json, again.chapters_json),
    ]:
        assert first.read_bytes() == second.read_bytes()


def test_extra_masters_are_deterministic_and_unknown_formats_refused(tmp_path: Path):
    audio = normalize(synthetic_mix()[: 3 * RATE])
    assert encode_ogg(audio) == encode_ogg(audio)
    assert encode_flac(audio) == encode_flac(audio)
    assert decode(encode_flac(audio)).shape == audio.shape
    assert check_formats(["ogg", "mp3", "flac", "ogg"]) == ("flac", "ogg")
    with pytest.raises(DramaError, match="wav"):
        check_formats(["wav"])


# --- cover ---


def test_generated_cover(cover: bytes):
    image = Image.open(io.BytesIO(cover))
    assert (image.format, image.size, image.mode) == ("JPEG", (3000, 3000), "RGB")
    assert make_cover("Night House", "Jane Writer") == cover


@pytest.mark.parametrize("size", [(1000, 1000), (2000, 1500), (3200, 3200)])
def test_user_cover_of_wrong_size_is_refused(tmp_path: Path, size: tuple[int, int]):
    path = tmp_path / "cover.png"
    Image.new("RGB", size, "navy").save(path)
    with pytest.raises(DramaError, match=f"square image 1400-3000 px, found {size[0]}x{size[1]}"):
        load_cover(path)


def test_user_cover_is_converted_to_rgb_jpeg(tmp_path: Path):
    png = tmp_path / "cover.png"
    Image.new("RGBA", (1400, 1400), (200, 0, 0, 128)).save(png)
    image = Image.open(io.BytesIO(load_cover(png)))
    assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (1400, 1400))
    jpeg = tmp_path / "cover.jpg"
    Image.new("RGB", (1500, 1500), "teal").save(jpeg, quality=80)
    assert load_cover(jpeg) == jpeg.read_bytes()
    gif = tmp_path / "cover.gif"
    Image.new("P", (1400, 1400)).save(gif)
    with pytest.raises(DramaError, match="JPEG or PNG"):
        load_cover(gif)


# --- atomic writes ---


def test_atomic_write_leaves_no_temp_and_normal_permissions(tmp_path: Path):
    path = write_if_changed(tmp_path / "sub" / "a.txt", "héllo\n".encode())
    assert path.read_bytes() == "héllo\n".encode()
    assert os.listdir(path.parent) == ["a.txt"]
    stamp = path.stat().st_mtime_ns
    assert write_if_changed(path, "héllo\n".encode()).stat().st_mtime_ns == stamp
    umask = os.umask(0)
    os.umask(umask)
    assert path.stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize(
    ("order", "lo", "hi"),
    [(2, 50, 900), (1, 900, 1800), (2, None, 40), (3, 100, None), (4, 200, 3000)],
)
def test_butterworth_is_scipys_design(order, lo, hi):
    # The procedural sounds' filters, designed without scipy: the same response as
    # scipy.signal.butter's, and the same output as its recursive filter.
    from scipy.signal import butter, sosfilt, sosfreqz

    from toolkit.mix.filters import Filter, butterworth

    kind = "bandpass" if lo and hi else "highpass" if lo else "lowpass"
    want = butter(order, [lo, hi] if lo and hi else lo or hi, kind, fs=RATE, output="sos")
    mine = butterworth(order, lo, hi, RATE)
    w = np.linspace(0, np.pi, 4096)
    assert np.abs(sosfreqz(mine, w)[1] - sosfreqz(want, w)[1]).max() < 1e-9
    x = np.random.default_rng(3).standard_normal(2 * RATE)
    y = sosfilt(want, x)
    assert np.abs(Filter(mine)(x) - y).max() < 1e-6 * np.abs(y).max()
