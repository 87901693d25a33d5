"""Every engine really speaks; gTTS is driven through its real code path with the network
replaced at the transport, and its offline and hung failures are clear and bounded."""

from __future__ import annotations

import base64
import io
import json
import socket
import time

import numpy as np
import pytest
import requests
from pedalboard.io import AudioFile

from toolkit.cast import Voice, VoiceSpec
from toolkit.errors import DramaError
from toolkit.mix.timeline import RATE
from toolkit.script.model import Speech, Where
from toolkit.speech.engine import EngineError
from toolkit.speech.gtts import GTTS
from toolkit.speech.synth import ENGINES, Synthesizer, speak

TEXT = "This isn't the life I signed up for. I want my freedom."
WORDS = len(TEXT.split())
LOCAL = [
    VoiceSpec("piper", "joe"),
    VoiceSpec("flite", "slt"),
    VoiceSpec("flite", "slt", rate=0.9, pitch=9),
    VoiceSpec("flite", "rms"),
    VoiceSpec("espeak", "en-us+f2"),
]


def voiced_seconds(samples: np.ndarray) -> float:
    """Seconds of 20 ms frames within 35 dB of the loudest frame."""
    frames = samples[: len(samples) // 882 * 882].reshape(-1, 882)
    rms = np.sqrt((frames**2).mean(axis=1)) + 1e-9
    return float((20 * np.log10(rms / rms.max()) > -35).sum() * 0.02)


def f0(samples: np.ndarray) -> float:
    """Median pitch by autocorrelation over voiced 40 ms frames."""
    estimates = []
    for start in range(0, len(samples) - 1764, 1764):
        frame = samples[start : start + 1764]
        if np.sqrt((frame**2).mean()) < 0.05:
            continue
        corr = np.correlate(frame, frame, "full")[1763:]
        lo, hi = RATE // 450, RATE // 70
        lag = lo + int(np.argmax(corr[lo:hi]))
        if corr[lag] > 0.4 * corr[0]:
            estimates.append(RATE / lag)
    return float(np.median(estimates))


@pytest.mark.parametrize("spec", LOCAL, ids=lambda s: f"{s.label()}{'+pitch' if s.pitch else ''}")
def test_local_engine_speaks(spec: VoiceSpec) -> None:
    if ENGINES[spec.engine].problem():
        pytest.skip(ENGINES[spec.engine].problem())
    samples = speak(spec, TEXT, None)
    assert samples.dtype == np.float32 and samples.ndim == 1
    seconds = len(samples) / RATE
    # 12 words: a human pace is 2-4 words a second.
    assert 12 / 4.5 < seconds < 12 / 1.5, seconds
    assert voiced_seconds(samples) > 0.6 * seconds
    # Edges trimmed: speech starts within 60 ms of the clip's start and ends within 120 ms.
    loud = np.flatnonzero(np.abs(samples) > 0.02)
    assert loud[0] < 0.06 * RATE and len(samples) - loud[-1] < 0.12 * RATE


def test_child_voice_is_pitched_up_without_new_engine() -> None:
    if ENGINES["flite"].problem():
        pytest.skip("flite missing")
    woman = f0(speak(VoiceSpec("flite", "slt"), TEXT, None))
    child = f0(speak(VoiceSpec("flite", "slt", pitch=9), TEXT, None))
    assert 140 < woman < 210, woman
    assert 240 < child < 330, child


def test_espeak_says_a_line_the_same_whatever_came_before() -> None:
    """espeak-ng's library carries state from one utterance to the next: a line voiced after
    others (in a -j 1 build) must still equal the line voiced first (in a fresh worker)."""
    line = (VoiceSpec("espeak", "en-us+f5"), "He's not scary.", None)
    first = speak(*line)
    for spec, text in [
        (VoiceSpec("espeak", "de", rate=2.0), "Guten Tag, wie geht es?"),
        (VoiceSpec("espeak", "en-us+m3"), "Can we talk?"),
        line[:2],
    ]:
        speak(spec, text, None)
        assert np.array_equal(speak(*line), first)


def test_piper_is_deterministic() -> None:
    a = speak(VoiceSpec("piper", "joe"), "Hello there, Ava.", None)
    b = speak(VoiceSpec("piper", "joe"), "Hello there, Ava.", None)
    assert np.array_equal(a, b)


def test_direction_changes_delivery() -> None:
    plain = speak(VoiceSpec("espeak", "en-us+f2"), TEXT, None)
    quiet = speak(VoiceSpec("espeak", "en-us+f2"), TEXT, "whispering")
    assert np.sqrt((quiet**2).mean()) < 0.5 * np.sqrt((plain**2).mean())
    assert len(quiet) > len(plain)


def mp3_of_tone(seconds: float = 1.5) -> bytes:
    t = np.arange(int(24000 * seconds)) / 24000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 3 * t))).astype(np.float32)
    buffer = io.BytesIO()
    with AudioFile(buffer, "w", 24000, 1, format="mp3") as f:
        f.write(tone[None, :])
    return buffer.getvalue()


def batchexecute(mp3: bytes) -> bytes:
    """The body Google's batchexecute endpoint answers with."""
    payload = json.dumps([base64.b64encode(mp3).decode()])
    frame = [["wrb.fr", "jQ1olc", payload, None, None, None, "generic"]]
    return (")]}'\n\n" + json.dumps(frame, separators=(",", ":"))).encode()


def test_gtts_adapter_through_the_transport(monkeypatch: pytest.MonkeyPatch) -> None:
    sent = []

    def send(self, request, **kwargs):
        sent.append((request, kwargs))
        response = requests.Response()
        response.status_code = 200
        response.raw = io.BytesIO(batchexecute(mp3_of_tone()))
        response.request = request
        return response

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    clip = GTTS().synthesize("Can we talk?", VoiceSpec("gtts", "en-gb"), timeout=7)
    assert abs(len(clip) / 1000 - 1.5) < 0.2
    assert clip.dBFS > -30
    request, kwargs = sent[0]
    assert request.url.startswith("https://translate.google.co.uk/")
    assert "Can we talk" in requests.utils.unquote(request.body)
    assert kwargs["timeout"] == 7


def test_gtts_offline_is_one_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, request, **kwargs):
        raise requests.exceptions.ConnectionError("Failed to resolve 'translate.google.com'")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    with pytest.raises(EngineError, match="needs the internet"):
        GTTS().synthesize("Can we talk?", VoiceSpec("gtts", "en"))


def test_gtts_hung_server_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """A server that accepts and never answers: the timeout ends it, no hang."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    monkeypatch.setattr(
        "gtts.tts._translate_url", lambda tld, path: f"http://127.0.0.1:{port}/{path}"
    )
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    started = time.monotonic()
    try:
        with pytest.raises(EngineError):
            GTTS().synthesize("Can we talk?", VoiceSpec("gtts", "en"), timeout=1.0)
    finally:
        server.close()
    assert time.monotonic() - started < 10


def test_gtts_cast_falls_back_with_one_warning(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self, request, **kwargs):
        raise requests.exceptions.ConnectionError("no network")

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", refuse)
    voice = Voice(
        "MOM", (VoiceSpec("gtts", "en"), VoiceSpec("espeak", "en-us+f2")), 0.0, "voices/mom.yaml"
    )
    warnings: list[str] = []
    synth = Synthesizer({"MOM": voice}, tmp_path, warnings.append)
    lines = [
        Speech("MOM", text, Where("script/a.yaml", n, 9))
        for n, text in ((3, "One line."), (4, "Two lines."))
    ]
    clips = [synth.clip(line) for line in lines]
    assert all(c.spec.engine == "espeak" for c in clips)
    assert len(warnings) == 1 and "gTTS" in warnings[0] and "espeak" in warnings[0]


def test_gtts_only_cast_fails_with_one_line(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        requests.adapters.HTTPAdapter,
        "send",
        lambda *a, **k: (_ for _ in ()).throw(requests.exceptions.ConnectionError("x")),
    )
    voice = Voice("MOM", (VoiceSpec("gtts", "en"),), 0.0, "voices/mom.yaml")
    synth = Synthesizer({"MOM": voice}, tmp_path, lambda m: None)
    with pytest.raises(DramaError) as info:
        synth.clip(Speech("MOM", "Hello.", Where("script/a.yaml", 3, 9)))
    assert str(info.value).startswith("script/a.yaml:3:9: no voice of MOM could speak this line")
    assert "\n" not in str(info.value)


def test_level_uses_lufs_and_falls_back_to_rms_for_short_clips() -> None:
    """Every clip is brought to SPEECH_LUFS, so no voice is louder than another."""
    from toolkit.master.loudness import integrated_lufs
    from toolkit.speech.synth import SPEECH_LUFS, level

    rng = np.random.default_rng(1)
    long_clip = (0.01 * rng.standard_normal(RATE)).astype(np.float32)
    assert integrated_lufs(level(long_clip, 0.0)) == pytest.approx(SPEECH_LUFS, abs=0.05)
    short = (0.3 * np.sin(2 * np.pi * 500 * np.arange(RATE // 5) / RATE)).astype(np.float32)
    levelled = level(short, 2.0)
    # Under 0.4 s: RMS less BS.1770's 0.691 dB offset stands in for LUFS.
    loudness = 10 * np.log10(np.mean(np.square(levelled))) - 0.7
    assert loudness == pytest.approx(SPEECH_LUFS + 2.0, abs=0.01)
    silent = np.zeros(RATE, np.float32)
    assert np.array_equal(level(silent, 0.0), silent)
