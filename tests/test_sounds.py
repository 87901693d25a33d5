"""The procedural sound library, checked on the audio it actually produces."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.lib.stride_tricks import sliding_window_view
from pedalboard.io import AudioFile
from scipy import signal

from toolkit.mix import sounds
from toolkit.mix.sounds import BEDS, MUSIC, SFX, Library, catalogue, render
from toolkit.mix.sounds import _builtin as builtin
from toolkit.mix.sounds.beds import RECIPES as BED_RECIPES
from toolkit.mix.timeline import RATE

SCREENPLAY = {
    "bed": {"room-tone", "hospital-room", "kitchen", "living-room-night", "diner", "office",
            "coffee-shop", "park", "school-hall", "street", "car"},
    "sfx": {"door-open", "door-close", "door-slam", "knock", "text-notification", "text-send",
            "envelope", "paper-rustle", "footsteps", "cup-down", "spoon-stir", "chair",
            "applause", "keyboard", "phone-buzz"},
    "music": {"intro", "outro", "sting"},
}  # fmt: skip
ALL = [info.name for info in catalogue()]


def dbfs(x: np.ndarray) -> float:
    return 20 * np.log10(np.sqrt(np.mean(np.square(x, dtype=np.float64))))


def peak_db(x: np.ndarray) -> float:
    return 20 * np.log10(np.max(np.abs(x)))


def dominant_hz(x: np.ndarray) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1 / RATE)[np.argmax(spectrum)])


def sound(name: str) -> np.ndarray:
    return render(name, 30.0) if name in BEDS else render(name)


def write(path, audio: np.ndarray, rate: int) -> None:
    """Write (samples,) or (samples, channels) float audio as a 16-bit file."""
    channels = audio.reshape(len(audio), -1).T.astype(np.float32)
    with AudioFile(str(path), "w", rate, len(channels)) as f:
        f.write(channels)


def window_db(x: np.ndarray, centre: int, half: int = round(0.025 * RATE)) -> float:
    return dbfs(x[centre - half : centre + half])


def test_catalogue_covers_the_screenplay_sorted_by_kind_then_name():
    infos = catalogue()
    assert [(i.kind, i.name) for i in infos] == sorted((i.kind, i.name) for i in infos)
    for kind, names in SCREENPLAY.items():
        assert {i.name for i in infos if i.kind == kind} == names
    assert set(BEDS) == SCREENPLAY["bed"] and set(SFX) == SCREENPLAY["sfx"]
    assert set(MUSIC) == SCREENPLAY["music"]
    assert all(i.description for i in infos)


@pytest.mark.parametrize("name", ALL)
def test_every_sound_is_finite_stereo_audible_and_below_full_scale(name):
    x = sound(name)
    assert x.dtype == np.float32 and x.ndim == 2 and x.shape[1] == 2 and len(x) > RATE // 4
    assert np.isfinite(x).all()
    assert dbfs(x) > -45
    assert peak_db(x) < -3


def test_renders_are_deterministic_from_the_name():
    first = {name: sound(name) for name in ALL}
    builtin.base.cache_clear()  # synthesise again rather than replay the cache
    for name in ALL:
        assert np.array_equal(first[name], sound(name)), name


@pytest.mark.parametrize("seconds", [0.5, 7.3, 12.0, 61.01])
def test_beds_have_exactly_the_requested_length(seconds):
    for name in BEDS:
        assert render(name, seconds).shape == (round(seconds * RATE), 2)


@pytest.mark.parametrize("name", BEDS)
def test_beds_sit_in_the_background_balanced_and_decorrelated(name):
    x = render(name, 30.0)
    assert -30.5 <= dbfs(x) <= -23.5
    assert abs(dbfs(x[:, 0]) - dbfs(x[:, 1])) < 1.0
    assert np.corrcoef(x.T)[0, 1] < 0.9


def prediction_error(x: np.ndarray, order: int = 16) -> np.ndarray:
    """|x[t] - linear prediction from the previous `order` samples|, indexed like x.

    Whitening the signal this way exposes a discontinuity that hiss would otherwise mask."""
    lags = sliding_window_view(x[: RATE + order], order + 1)[:, ::-1]
    past, now = lags[:, 1:], lags[:, 0]
    coef = np.linalg.solve(past.T @ past, past.T @ now)  # least squares via normal equations
    return np.abs(signal.lfilter(np.concatenate([[1.0], -coef]), 1.0, x))


@pytest.mark.parametrize("name", BEDS)
def test_bed_loop_seam_has_no_click_and_no_level_change(name):
    n = round(BED_RECIPES[name].loop * RATE)
    x = render(name, n / RATE + 0.1).astype(np.float64)
    typical = np.percentile(np.abs(np.diff(x[:n], axis=0)), 99, axis=0)
    assert np.all(np.abs(x[n] - x[n - 1]) <= 4 * typical)
    for channel in x.T:
        error = prediction_error(channel)
        assert error[n - 2 : n + 20].max() <= 2.5 * np.percentile(error[100 : n - 100], 99)
    inside = [window_db(x, centre) for centre in range(RATE // 20, n, RATE // 40)]
    assert min(inside) - 1 < window_db(x, n) < max(inside) + 1


@pytest.mark.parametrize("name", SFX)
def test_sfx_peak_near_minus_6_dbfs_and_centred(name):
    x = render(name)
    assert -6.5 < peak_db(x) < -5.5
    assert np.array_equal(x[:, 0], x[:, 1])
    assert np.array_equal(render(name, 99.0), x)  # natural length: seconds are ignored


@pytest.mark.parametrize(
    "name, low, high, fades_in",
    [("intro", 8, 12, True), ("outro", 8, 12, True), ("sting", 2, 3, False)],
)
def test_music_length_level_and_fades(name, low, high, fades_in):
    x = render(name)
    assert low <= len(x) / RATE <= high
    assert abs(dbfs(x) + 20) < 1.0
    edge = round(0.025 * RATE)
    assert (window_db(x, edge) < dbfs(x) - 10) == fades_in  # the sting opens on a pluck
    assert window_db(x, len(x) - edge) < dbfs(x) - 10


def test_unknown_names_raise_key_error(tmp_path):
    with pytest.raises(KeyError):
        render("theremin")
    library = Library(tmp_path)
    assert not library.has("theremin")
    with pytest.raises(KeyError):
        library.render("theremin")
    with pytest.raises(KeyError):
        library.kind("theremin")


def test_beds_need_a_duration():
    with pytest.raises(ValueError):
        render("kitchen")


def test_library_without_user_folder_is_the_built_ins():
    library = Library(None)
    assert library.names() == set(ALL)
    assert library.kind("park") == "bed" and library.kind("knock") == "sfx"
    assert np.array_equal(library.render("park", 3.0), render("park", 3.0))


def test_user_recording_overrides_built_in(tmp_path):
    t = np.arange(RATE // 2) / RATE
    tone = 0.5 * np.sin(2 * np.pi * 1000 * t)
    write(tmp_path / "door-slam.wav", tone, RATE)
    library = Library(tmp_path)
    assert library.kind("door-slam") == "sfx" and library.has("door-slam")
    assert library.source("door-slam") == tmp_path / "door-slam.wav"
    assert library.source("knock") is None
    x = library.render("door-slam")
    assert x.shape == (len(tone), 2)
    assert abs(dominant_hz(x[:, 0]) - 1000) < 5 and np.array_equal(x[:, 0], x[:, 1])
    assert np.allclose(x[:, 0], tone, atol=1e-3)


def test_user_file_is_resampled_to_44100_and_made_stereo(tmp_path):
    t = np.arange(22050) / 22050
    write(tmp_path / "thunder.flac", 0.5 * np.sin(2 * np.pi * 440 * t), 22050)
    library = Library(tmp_path)
    assert "thunder" in library.names() and library.kind("thunder") == "sfx"
    x = library.render("thunder")  # an effect plays at its own length
    assert abs(len(x) - RATE) <= 2 and x.shape[1] == 2
    assert abs(dominant_hz(x[:, 1]) - 440) < 3


def test_short_user_bed_loops_to_length_without_clicks_or_dips(tmp_path):
    rng = np.random.default_rng(0)
    sos = signal.butter(2, 400, "lowpass", fs=RATE, output="sos")
    rumble = signal.sosfilt(sos, rng.standard_normal((2 * RATE, 2)), axis=0)
    rumble *= 0.1 / np.max(np.abs(rumble))
    write(tmp_path / "room-tone.wav", rumble, RATE)
    library = Library(tmp_path)
    assert library.kind("room-tone") == "bed"
    x = library.render("room-tone", 7.3)
    assert x.shape == (round(7.3 * RATE), 2)
    assert np.allclose(x[:RATE], rumble[:RATE], atol=1e-3)  # starts as recorded
    typical = np.percentile(np.abs(np.diff(x, axis=0)), 99)
    period = 2 * RATE - round(0.05 * RATE)
    for join in range(period, len(x), period):
        assert np.max(np.abs(x[join] - x[join - 1])) <= 4 * typical
        crossfade = join + round(0.025 * RATE)
        assert abs(window_db(x, crossfade) - dbfs(rumble)) < 3.0
    assert np.array_equal(library.render("room-tone", 7.3), x)  # cached render, same audio


def test_part_of_a_bed_is_that_part_of_the_whole_bed(tmp_path):
    rng = np.random.default_rng(1)
    write(tmp_path / "rain.wav", 0.1 * rng.standard_normal((RATE, 2)), RATE)
    library = Library(tmp_path)
    for name in ("rain", "room-tone"):  # a recording looped with crossfades, a built-in loop
        n = round(9.5 * RATE)
        whole = library.render(name, n / RATE)
        for lo, hi in [(0, n), (0, 10), (RATE - 7, 3 * RATE), (round(8.9 * RATE), n), (n, n)]:
            assert np.array_equal(library.render_part(name, n, lo, hi), whole[lo:hi])
    with pytest.raises(ValueError):
        library.render_part("knock", RATE, 0, 10)


def test_user_file_preference_and_hidden_files(tmp_path):
    t = np.arange(RATE // 4) / RATE
    write(tmp_path / "knock.mp3", 0.3 * np.sin(2 * np.pi * 300 * t), RATE)
    write(tmp_path / "knock.wav", 0.3 * np.sin(2 * np.pi * 2000 * t), RATE)
    (tmp_path / "._knock.wav").write_bytes(b"not audio")
    (tmp_path / "notes.txt").write_text("not a sound")
    library = Library(tmp_path)
    assert library.names() == set(ALL)
    assert abs(dominant_hz(library.render("knock")[:, 0]) - 2000) < 5


def test_package_exports_exactly_the_public_api():
    assert set(sounds.__all__) == {"BEDS", "SFX", "MUSIC", "SoundInfo", "catalogue", "render",
                                   "Library"}  # fmt: skip


def test_a_new_recording_can_be_a_bed(tmp_path) -> None:
    """sounds/rain.wav (no built-in of that name) serves as a bed, looped to length."""
    from toolkit.mix.sounds.library import Library as UserLibrary

    t = np.arange(RATE) / RATE
    with AudioFile(str(tmp_path / "rain.wav"), "w", RATE, 1) as f:
        f.write((0.1 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)[None, :])
    library = UserLibrary(tmp_path)
    assert library.fits("rain", "bed") and library.fits("rain", "sfx")
    assert not library.fits("kitchen", "sfx")
    assert library.render("rain", 3.5).shape == (round(3.5 * RATE), 2)


def test_disk_cache_gives_the_same_audio(tmp_path) -> None:
    cached = Library(None, tmp_path)
    first = cached.render("kitchen", 2.0)
    assert list(tmp_path.glob("kitchen-*.npy"))
    again = Library(None, tmp_path).render("kitchen", 2.0)
    assert np.array_equal(first, again)
    assert np.array_equal(first, Library(None).render("kitchen", 2.0))


@pytest.mark.parametrize("hours", [1.5, 10.0, 13.5])
def test_a_recording_too_long_or_claiming_to_be_is_refused_at_check(tmp_path, hours) -> None:
    """A WAV whose header claims hours of audio (a few bytes of it really there, or a real
    ten-hour file) is refused by check, before a build would decode it into memory."""
    import struct

    from toolkit.errors import DramaError
    from toolkit.mix.check import check_recording

    rate, frames = 8000, int(hours * 3600 * 8000)
    header = b"RIFF" + struct.pack("<I", 36 + 2 * frames) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, 2 * rate, 2, 16)
    header += b"data" + struct.pack("<I", 2 * frames)
    path = tmp_path / "sounds" / "long.wav"
    path.parent.mkdir()
    path.write_bytes(header + bytes(2 * rate))  # one real second
    with pytest.raises(DramaError) as caught:
        check_recording(path)
    assert str(caught.value).startswith("sounds/long.wav:1:1: runs")
    assert "expected a recording under 1 hour" in str(caught.value)


def test_a_recording_under_the_cap_passes(tmp_path) -> None:
    from toolkit.mix.check import check_recording

    path = tmp_path / "sounds" / "short.wav"
    path.parent.mkdir()
    with AudioFile(str(path), "w", 44100, 1) as out:
        out.write(np.zeros((1, 44100), np.float32))
    check_recording(path)


def test_a_build_keeps_drawn_sounds_on_disk_not_in_memory(tmp_path):
    """With a cache folder (as in a build) a built-in is drawn once, kept on disk and read
    back with the same floats; the process does not hold it for the rest of the build."""
    builtin.base.cache_clear()
    drawn = Library(None, tmp_path).render("kitchen", 3.0)
    assert builtin.base.cache_info().currsize == 0
    assert len(list(tmp_path.glob("kitchen-*.npy"))) == 1
    assert np.array_equal(Library(None, tmp_path).render("kitchen", 3.0), drawn)
    assert np.array_equal(render("kitchen", 3.0), drawn)


def test_drawing_every_built_in_imports_no_scipy():
    # scipy.signal holds ~65 MB in a build process that drew a bed with it, for the rest
    # of a cold build, beside the voices.
    code = (
        "import sys\n"
        "from toolkit.mix.sounds._builtin import catalogue, make\n"
        "for info in catalogue():\n"
        "    make(info.name)\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy'}))\n"
    )
    repo = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=repo, check=True
    )
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
