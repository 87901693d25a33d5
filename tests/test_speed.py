"""What makes an edit quick must not change what listeners get: the MP3 encoded in spliced
segments (in parallel or not) is one valid gapless CBR file, an edited build's files are
those of a cold build of the edited script, and a build imports no scipy."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import pytest
from conftest import CHAPTER_ONE, run_cli, write_project

from toolkit.fsutil import Blobs
from toolkit.master import encode, splice
from toolkit.master.encode import _encode_mp3_all, decode, encode_mp3
from toolkit.master.loudness import Leveler, integrated_lufs, normalize
from toolkit.mix.timeline import RATE
from toolkit.speech import synth
from toolkit.speech.festival import Festival
from toolkit.speech.flite import Flite

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def long_audio() -> np.ndarray:
    """100 s of mastered speech-like sound: syllables of harmonics in bursts, with pauses."""
    rng = np.random.default_rng(11)
    t = np.arange(100 * RATE) / RATE
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.3 * t)
    voice = sum(np.sin(2 * np.pi * k * np.cumsum(pitch) / RATE) / k for k in range(1, 8))
    envelope = np.clip(np.sin(2 * np.pi * 3.1 * t), 0, None) * (np.sin(2 * np.pi * 0.11 * t) > -0.3)
    mono = voice * envelope + 0.01 * rng.standard_normal(len(t))
    stereo = np.stack([mono, 0.8 * mono], axis=1).astype(np.float32)
    return normalize(stereo)


@pytest.fixture(scope="module")
def spliced(long_audio: np.ndarray) -> bytes:
    assert len(splice.segments(len(long_audio))) == 3  # two cuts to splice
    return encode_mp3(long_audio)


def _crc16_arc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def test_spliced_mp3_is_one_valid_gapless_cbr_file(tmp_path: Path, long_audio, spliced) -> None:
    path = tmp_path / "spliced.mp3"
    path.write_bytes(spliced)
    checked = subprocess.run(["mp3val", str(path)], capture_output=True, text=True, check=True)
    problems = [
        line
        for line in checked.stdout.splitlines()
        if line.startswith(("WARNING", "ERROR")) and "No supported tags" not in line
    ]
    assert not problems, checked.stdout
    assert "CBR" in checked.stdout
    # ffmpeg reads the LAME header's delay and padding: exactly the samples that went in.
    pcm = subprocess.run(
        ["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-c:a", "pcm_f32le", "-"],
        capture_output=True,
        check=True,
    ).stdout
    assert len(pcm) // 8 == len(long_audio)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-show_entries", "stream=duration,start_time,bit_rate"]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    stream = json.loads(probe.stdout)["streams"][0]
    assert int(stream["bit_rate"]) == 128000
    seconds = float(stream["duration"]) - float(stream["start_time"])
    assert abs(seconds - len(long_audio) / RATE) < splice.FRAME / RATE


def test_spliced_header_matches_a_whole_encode(long_audio, spliced) -> None:
    whole = _encode_mp3_all([long_audio], 128)[0]
    ours, theirs = splice.frames(spliced), splice.frames(whole)
    # Each segment pads its frames (417 or 418 bytes) counting from its own first frame, so
    # the stream may be a byte longer or shorter per cut than a whole encode.
    cuts = len(splice.segments(len(long_audio))) - 1
    assert len(ours) == len(theirs) and abs(len(spliced) - len(whole)) <= cuts
    assert all(f.length in (417, 418) for f in ours)  # every frame 128 kbps
    a, b = spliced.index(b"Info"), whole.index(b"Info")
    assert spliced[a : a + 12] == whole[b : b + 12]  # flags, frame count
    assert int.from_bytes(spliced[a + 12 : a + 16], "big") == len(spliced)  # bytes
    toc = np.frombuffer(spliced[a + 16 : a + 116], np.uint8).astype(int)
    assert np.abs(toc - np.frombuffer(whole[b + 16 : b + 116], np.uint8)).max() <= 1
    lame = a + 120
    # encoder string and settings, delay and padding as LAME wrote them; the music length
    assert spliced[lame : lame + 28] == whole[b + 120 : b + 148]
    assert int.from_bytes(spliced[lame + 28 : lame + 32], "big") == len(spliced)
    music = _crc16_arc(spliced[ours[1].offset :])
    assert int.from_bytes(spliced[lame + 32 : lame + 34], "big") == music
    assert int.from_bytes(spliced[lame + 34 : lame + 36], "big") == _crc16_arc(spliced[: lame + 34])


def test_spliced_audio_is_as_faithful_as_a_whole_encode(long_audio, spliced) -> None:
    # Around each cut as everywhere: the splice adds no click and no dropout.
    whole = decode(_encode_mp3_all([long_audio], 128)[0])
    ours = decode(spliced)
    delay = splice.DELAY + 529  # LAME's delay plus the decoder's
    for k in range(1, len(splice.segments(len(long_audio)))):
        cut = k * splice.SEGMENT * splice.FRAME
        lo, hi = cut - RATE // 4, cut + splice.SEARCH * splice.FRAME + RATE // 4
        source = long_audio[lo:hi]
        for decoded in (ours, whole):
            assert decoded[lo + delay : hi + delay].shape == source.shape
        noise = [
            np.sqrt(((d[lo + delay : hi + delay] - source) ** 2).mean()) for d in (ours, whole)
        ]
        assert noise[0] < 1.5 * noise[1] + 1e-4, noise
        worst = np.abs(ours[lo + delay : hi + delay] - source).max()
        assert worst < 4 * np.abs(whole[lo + delay : hi + delay] - source).max()


def test_helper_process_gives_the_same_bytes(long_audio, spliced) -> None:
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as helper:
        assert encode_mp3(long_audio, helper=helper) == spliced


def test_edited_build_equals_cold_build_of_the_edit(tmp_path: Path) -> None:
    edited = CHAPTER_ONE.replace("That's fair.", "That's more than fair.")
    root = write_project(tmp_path / "edited")
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    (root / "script/01-one.yaml").write_text(edited)
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    cold = write_project(tmp_path / "cold", {"script/01-one.yaml": edited})
    assert run_cli("build", "-C", str(cold), "-q", "-j", "1").exit_code == 0
    files = sorted(p.relative_to(cold) for p in (cold / "build").rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(root) for p in (root / "build").rglob("*") if p.is_file())
    for name in files:
        assert (root / name).read_bytes() == (cold / name).read_bytes(), name


def test_edit_build_imports_no_scipy(tmp_path: Path) -> None:
    # scipy takes 1-2 s to import: more than the rest of a one-line edit's mix and master.
    root = write_project(tmp_path / "show")
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    (root / "script/01-one.yaml").write_text(CHAPTER_ONE.replace("That's fair.", "Fair."))
    code = (
        "import sys\n"
        "from toolkit.cli import main\n"
        "try:\n"
        f"    main(['build', '-C', {str(root)!r}, '-q'])\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'pyloudnorm'}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "[]", done.stdout + done.stderr
    assert (root / "build/episodes/01-one.mp3").exists()


def counting(folder: Path, name: str, log: Path) -> None:
    """`name` first on PATH: notes each start in `log`, then runs the real program."""
    real = shutil.which(name)
    folder.mkdir(parents=True, exist_ok=True)
    program = folder / name
    program.write_text(f'#!/bin/sh\necho "$@" >> {log}\nexec {real} "$@"\n')
    program.chmod(0o755)


def forget_engines() -> None:
    """Drop what this process was told by engines, as a new `drama` process starts."""
    for cached in (Flite.version, Festival.voices, Festival._info, Festival._package):
        cached.cache_clear()
    synth._versions.clear()


def test_a_rebuild_starts_no_engine_and_no_fallback(tmp_path: Path, monkeypatch) -> None:
    """A no-op build starts no engine, and a fallback is not even probed while the voice
    before it works: festival (MOM's fallback here) is started once, on the first build, by
    check listing its voices (never to speak or to tell its version); flite (MOM's and AVA's
    voice) tells its version once, on the first build."""
    log = tmp_path / "started.log"
    for name in ("festival", "flite"):
        counting(tmp_path / "bin", name, log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    forget_engines()  # as a new process would start
    mom = "engine: flite\nvoice: slt\nfallback:\n  - engine: festival\n    voice: kal_diphone\n"
    root = write_project(tmp_path / "show", {"voices/mom.yaml": mom})
    assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    first = log.read_text().splitlines()
    assert first.count("--version") == 1 and first.count("--batch run.scm") == 1, first
    # What check asks festival is asked once per installation, in any process.
    log.unlink()
    for _ in range(2):
        forget_engines()
        assert run_cli("build", "-C", str(root), "-q", "-j", "1").exit_code == 0
    assert not log.exists(), log.read_text()


def test_festival_is_asked_again_when_its_installation_changes(tmp_path: Path, monkeypatch):
    log = tmp_path / "started.log"
    counting(tmp_path / "bin", "festival", log)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:{os.environ['PATH']}")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home"))
    code = "from toolkit.speech.festival import Festival; print(Festival().voices())"
    listed = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
        for _ in range(2)
    ]
    assert listed[0].stdout == listed[1].stdout and "kal_diphone" in listed[0].stdout
    assert len(log.read_text().splitlines()) == 1  # the second process was told from disk
    os.utime(tmp_path / "bin/festival", ns=(0, 0))  # another festival: asked again
    subprocess.run([sys.executable, "-c", code], capture_output=True, cwd=REPO, check=True)
    assert len(log.read_text().splitlines()) == 2


def test_only_the_segments_an_edit_changed_are_encoded_again(
    tmp_path: Path, long_audio, spliced, monkeypatch
) -> None:
    """With the segments of the last encode kept, an edit in the last second encodes only
    the last segment, and the stream is the bytes of an encode from nothing; a kept segment
    that was cut short is encoded again rather than spliced in."""
    assert encode_mp3(long_audio, encoded=Blobs(tmp_path, ".mp3")) == spliced
    edited = long_audio.copy()
    edited[-RATE:] *= np.float32(0.5)
    fresh = encode_mp3(edited)
    cuts = splice.segments(len(edited))
    sizes: list[int] = []
    real = encode._encode_mp3_all

    def counted(pieces: list[np.ndarray], bitrate: int) -> list[bytes]:
        sizes.extend(len(piece) for piece in pieces)
        return real(pieces, bitrate)

    monkeypatch.setattr(encode, "_encode_mp3_all", counted)
    assert encode_mp3(edited, encoded=Blobs(tmp_path, ".mp3")) == fresh
    assert sizes == [cuts[-1][2] - cuts[-1][1]]
    sizes.clear()
    first = tmp_path / f"{encode._segment_key(edited[cuts[0][1] : cuts[0][2]], 128)}.mp3"
    first.write_bytes(first.read_bytes()[:-1000])
    assert encode_mp3(edited, encoded=Blobs(tmp_path, ".mp3")) == fresh
    assert sizes == [cuts[0][2] - cuts[0][1]]


def test_an_edit_late_in_a_chapter_leaves_the_master_before_it_as_it_was(long_audio) -> None:
    """The master gain sits on a grid, so an edit that barely moves the loudness (one line
    of many) leaves every sample before it as it was: what the segments reuse."""
    mix = long_audio * np.float32(0.3)
    edited = mix.copy()
    edited[-2 * RATE :] *= np.float32(1.05)
    before, setting = Leveler(mix).level(-16.0, -1.5)
    after, moved = Leveler(edited).level(-16.0, -1.5)
    assert setting.gain_db == moved.gain_db
    unchanged = len(mix) - 2 * RATE - RATE // 100  # less the limiter's look-ahead
    assert np.array_equal(before[:unchanged], after[:unchanged])
    assert not np.array_equal(before, after)
    assert abs(integrated_lufs(before) + 16.0) < 0.1
