"""festival really speaks with its voices' own rate and pitch controls (measured on the audio),
repeats itself byte for byte, and every way it can fail is one line, after which a build
falls back along the voice's chain."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli, write_project
from test_engines import TEXT, f0, voiced_seconds

from toolkit.cast import Voice, VoiceSpec
from toolkit.mix.timeline import RATE
from toolkit.script.model import Speech, Where
from toolkit.speech.engine import EngineError
from toolkit.speech.festival import pitched_model
from toolkit.speech.synth import ENGINES, Synthesizer, cache_key, speak

FESTIVAL = ENGINES["festival"]
SLT = "cmu_us_slt_arctic_hts"
# The HTS voice (what casting wants) and a diphone voice (the other way festival works).
VOICES = [SLT, "kal_diphone"]


@pytest.fixture(autouse=True)
def festival_here() -> None:
    """Under CI festival and its voices are installed by `make test`: missing is a failure."""
    problem = FESTIVAL.problem() or (
        None if set(VOICES) <= set(FESTIVAL.voices()) else "festival voices missing"
    )
    if problem:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


def test_lists_the_installed_voices_as_festival_names_them() -> None:
    assert set(VOICES) | {"ked_diphone"} <= set(FESTIVAL.voices())
    assert FESTIVAL.accepts(SLT) and not FESTIVAL.accepts("slt")


@pytest.mark.parametrize("voice", VOICES)
def test_speaks_at_a_human_pace(voice: str) -> None:
    samples = speak(VoiceSpec("festival", voice), TEXT, None)
    seconds = len(samples) / RATE
    assert 12 / 4.5 < seconds < 12 / 1.5, seconds
    assert voiced_seconds(samples) > 0.6 * seconds


@pytest.mark.parametrize("voice", VOICES)
def test_rate_stretches_durations_and_pitch_moves_f0(voice: str) -> None:
    base = speak(VoiceSpec("festival", voice), TEXT, None)
    slow = speak(VoiceSpec("festival", voice, rate=0.7), TEXT, None)
    fast = speak(VoiceSpec("festival", voice, rate=1.3), TEXT, None)
    up = speak(VoiceSpec("festival", voice, pitch=5), TEXT, None)
    down = speak(VoiceSpec("festival", voice, pitch=-4), TEXT, None)
    # Durations follow the rate (1/0.7 = 1.43, 1/1.3 = 0.77) and the pitch leaves them alone.
    assert 1.3 < len(slow) / len(base) < 1.6, len(slow) / len(base)
    assert 0.7 < len(fast) / len(base) < 0.88, len(fast) / len(base)
    assert abs(len(up) / len(base) - 1) < 0.03
    # The median F0 moves by the semitones asked (2^(5/12) = 1.33, 2^(-4/12) = 0.79), at the
    # same pace: the voice's own F0 model moved, not a resampled recording.
    natural = f0(base)
    assert 1.25 < f0(up) / natural < 1.42, (natural, f0(up))
    assert 0.73 < f0(down) / natural < 0.85, (natural, f0(down))
    assert abs(f0(slow) / natural - 1) < 0.08


def test_hts_slt_is_a_woman_and_a_child_within_her_range() -> None:
    assert 150 < f0(speak(VoiceSpec("festival", SLT), TEXT, None)) < 200
    assert 250 < f0(speak(VoiceSpec("festival", SLT, pitch=9), TEXT, None)) < 330


def test_byte_identical_across_runs() -> None:
    spec = VoiceSpec("festival", SLT, rate=0.9, pitch=3)
    first = FESTIVAL.synthesize("A line said twice, the same way.", spec)
    again = FESTIVAL.synthesize("A line said twice, the same way.", spec)
    assert first.raw_data == again.raw_data and len(first.raw_data) > 32000


def test_text_cannot_escape_the_scheme_string(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    text = f'Quote " and \\ backslash ") (system "touch {marker}") (print "'
    audio = FESTIVAL.synthesize(text, VoiceSpec("festival", SLT))
    assert not marker.exists()
    assert len(audio) > 2000  # all of it was read out, words and all


def test_pitched_model_moves_only_the_log_f0_means() -> None:
    source = Path(FESTIVAL._info(SLT)["model"]).read_bytes()
    shifted = pitched_model(source, 12)
    assert len(shifted) == len(source)
    changed = np.flatnonzero(np.frombuffer(source, np.uint8) != np.frombuffer(shifted, np.uint8))
    assert len(changed) > 1000
    with pytest.raises(EngineError, match="no \\[DATA\\]"):
        pitched_model(b"not a voice", 3)


def test_cache_key_holds_festival_and_voice_package_versions() -> None:
    assert FESTIVAL.version().startswith("2.")
    assert FESTIVAL.voice_version(VoiceSpec("festival", SLT)).startswith("festvox-us-slt-hts=")
    assert cache_key(VoiceSpec("festival", SLT), "Hi.", None) != cache_key(
        VoiceSpec("festival", "kal_diphone"), "Hi.", None
    )


def fake_festival(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """A `festival` first on PATH that runs `body` (in the engine's temporary folder)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    program = folder / "festival"
    program.write_text(f"#!/bin/sh\n{body}\n")
    program.chmod(0o755)
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")


FAILURES = {
    "hangs": ("exec sleep 30", "festival did not answer within 1 s"),
    "crashes": ("echo 'SIOD ERROR: out of memory' >&2; exit 255", "festival failed (exit 255)"),
    "writes nothing": ("exit 0", "festival wrote no audio"),
    "writes garbage": ("echo garbage > line.wav", "festival wrote audio that cannot be read"),
}


@pytest.mark.parametrize("case", FAILURES)
def test_failures_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: str) -> None:
    body, expected = FAILURES[case]
    fake_festival(tmp_path, monkeypatch, body)
    started = time.monotonic()
    with pytest.raises(EngineError) as info:
        FESTIVAL.synthesize("Hello there.", VoiceSpec("festival", SLT), timeout=1)
    message = str(info.value)
    assert time.monotonic() - started < 5
    assert message.startswith(expected), message
    assert "\n" not in message and "drama-festival" not in message and "/" not in message


def build_lines(tmp_path: Path) -> tuple[Synthesizer, list[str], list]:
    voice = Voice(
        "MOM",
        (VoiceSpec("festival", SLT), VoiceSpec("espeak", "en-us+f2")),
        0.0,
        "voices/mom.yaml",
    )
    warnings: list[str] = []
    synth = Synthesizer({"MOM": voice}, tmp_path / "cache", warnings.append, jobs=1)
    lines = [
        Speech("MOM", text, Where("script/a.yaml", n, 9))
        for n, text in ((3, "One line."), (4, "Two lines."), (5, "Three lines."))
    ]
    return synth, warnings, [synth.clip(line) for line in lines]


def test_build_without_festival_falls_back_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no festival (espeak runs in-process)
    _, warnings, clips = build_lines(tmp_path)
    assert [c.spec.engine for c in clips] == ["espeak"] * 3
    assert len(warnings) == 1 and "festival" in warnings[0] and "not installed" in warnings[0]


def test_build_with_a_broken_festival_falls_back_with_one_warning(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    FESTIVAL.voices()  # listed by the real festival; the fake one then fails every line
    fake_festival(tmp_path, monkeypatch, "echo 'SIOD ERROR: bad voice' >&2; exit 255")
    _, warnings, clips = build_lines(tmp_path)
    assert [c.spec.engine for c in clips] == ["espeak"] * 3
    assert len(warnings) == 1 and "festival failed" in warnings[0], warnings


def test_check_suggests_the_festival_voice_meant(tmp_path: Path) -> None:
    project = write_project(
        tmp_path / "show", {"voices/mom.yaml": "engine: festival\nvoice: cmu_us_slt_artic_hts\n"}
    )
    result = run_cli("check", "-C", str(project))
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: voices/mom.yaml:2:8: voice: festival has no voice 'cmu_us_slt_artic_hts', "
        "did you mean 'cmu_us_slt_arctic_hts'?"
    )
