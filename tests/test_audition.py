"""`drama voices --audition` writes one WAV of the same line per voice, so a writer can choose
by ear; `drama say --play` plays through the audio device, or says in one line why it cannot."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli
from pedalboard.io import AudioFile
from test_engines import f0, voiced_seconds

from toolkit.mix.timeline import RATE
from toolkit.speech.synth import ENGINES

NEEDED = ("festival", "flite", "piper")


@pytest.fixture(autouse=True)
def engines_here() -> None:
    missing = [name for name in NEEDED if ENGINES[name].problem()]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"missing engines: {missing}")
        pytest.skip(f"missing engines: {missing}")


def read(path: Path) -> np.ndarray:
    with AudioFile(str(path)) as f:
        assert f.samplerate == RATE
        return f.read(f.frames)[0]


def test_audition_writes_one_spoken_wav_per_voice(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "auditions"
    names = ["mom", "festival:cmu_us_slt_arctic_hts,pitch=9", "piper:joe", "espeak:en-us+f2"]
    result = run_cli("voices", "-C", str(project), "--audition", *names, "-o", str(out))
    assert result.exit_code == 0, result.stderr
    files = {
        "mom.wav": "flite slt",
        "festival-cmu_us_slt_arctic_hts-pitch-9.wav": "festival cmu_us_slt_arctic_hts",
        "piper-joe.wav": "piper joe",
        "espeak-en-us+f2.wav": "espeak en-us+f2",
    }
    assert sorted(p.name for p in out.iterdir()) == sorted(files)
    for name, label in files.items():
        assert f"{out / name}: " in result.output and label in result.output
        samples = read(out / name)
        seconds = len(samples) / RATE
        assert 11 / 4.5 < seconds < 11 / 1.5, (name, seconds)  # the same 11-word line
        assert voiced_seconds(samples) > 0.6 * seconds
    # The pitched festival voice is a child's height, joe a man's.
    assert f0(read(out / "festival-cmu_us_slt_arctic_hts-pitch-9.wav")) > 250
    assert f0(read(out / "piper-joe.wav")) < 150


def test_audition_text_and_default_folder(project: Path) -> None:
    text = "One two three four five six seven eight nine ten eleven twelve thirteen fourteen."
    result = run_cli(
        "voices", "-C", str(project), "--audition", "festival:kal_diphone", "--text", text
    )
    assert result.exit_code == 0, result.stderr
    samples = read(project / "build" / "auditions" / "festival-kal_diphone.wav")
    assert len(samples) / RATE > 14 / 4.5


@pytest.mark.parametrize(
    ("name", "says"),
    [
        (
            "festival:cmu_slt",
            "audition 'festival:cmu_slt': festival has no voice 'cmu_slt', did you mean 'cmu_us_slt_arctic_hts'?",
        ),
        ("NOBODY", "audition 'NOBODY': expected a character (MOM, JAMES, AVA) or engine:voice"),
        ("piper:joe,pitch=3", "audition 'piper:joe,pitch=3': pitch: piper has no pitch control"),
        ("flite:slt,speed=2", "expected rate=, pitch= or volume= after the voice, found 'speed=2'"),
    ],
)
def test_bad_audition_name_is_one_line(project: Path, name: str, says: str) -> None:
    result = run_cli("voices", "-C", str(project), "--audition", name)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (project / "build" / "auditions").exists()


def no_sound_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    monkeypatch.delenv("PULSE_SERVER", raising=False)
    return runtime


def test_say_play_without_an_audio_device_is_one_line(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if any(Path("/dev/snd").glob("pcm*")):
        pytest.skip("this machine has a sound card")
    no_sound_server(tmp_path, monkeypatch)
    result = run_cli("say", "-C", str(project), "MOM", "Hello there.", "--play")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: cannot play: no audio device here; use -o FILE to write a WAV instead\n"
    )


def fake_paplay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A sound server socket and a `paplay` first on PATH that runs `body` ($1: the WAV)."""
    (no_sound_server(tmp_path, monkeypatch) / "pulse").mkdir()
    (tmp_path / "runtime" / "pulse" / "native").touch()
    folder = tmp_path / "bin"
    folder.mkdir()
    (folder / "paplay").write_text(f"#!/bin/sh\n{body}\n")
    (folder / "paplay").chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


def test_say_play_hands_the_line_to_the_player(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard = tmp_path / "heard.wav"
    fake_paplay(tmp_path, monkeypatch, f'cp "$1" {heard}')
    result = run_cli("say", "-C", str(project), "MOM", "Hello there, my love.", "--play")
    assert result.exit_code == 0, result.stderr
    assert "through paplay" in result.output
    samples = read(heard)
    assert 0.8 < len(samples) / RATE < 3.5 and voiced_seconds(samples) > 0.5


def test_say_play_when_the_player_fails_is_one_line(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_paplay(tmp_path, monkeypatch, "echo 'Connection failure: Connection refused' >&2; exit 1")
    out = tmp_path / "line.wav"
    result = run_cli("say", "-C", str(project), "MOM", "Hello.", "--play", "-o", str(out))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1] == (
        "error: cannot play through paplay: Connection failure: Connection refused"
    )
    assert out.exists()  # the file asked for is written all the same


def test_say_needs_output_or_play(project: Path) -> None:
    result = run_cli("say", "-C", str(project), "MOM", "Hello.")
    assert result.exit_code == 2 and "expected -o FILE, --play, or both" in result.stderr
