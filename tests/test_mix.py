"""The drama mix, checked on its stems the way a listener hears them: beds duck under speech and
crossfade between scenes, voices sit where they are panned, rooms ring, V.O. stays dry."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest
from PIL import Image
from scipy.signal import butter, sosfilt

from toolkit.cast import Voice
from toolkit.mix.plot import plot_chapter
from toolkit.mix.render import ROOMS, Duck, lay_out, mix_chapter, render_stems
from toolkit.mix.scenes import SceneCache
from toolkit.mix.sounds import Library
from toolkit.mix.sounds.beds import RECIPES as BED_RECIPES
from toolkit.mix.timeline import RATE, Cue, MixedChapter
from toolkit.script.model import Ambience, Chapter, Line, Music, Pause, Scene, Sfx, Speech, Where

HERE = Where("test.yaml", 1, 1)
VOICES = {
    "MOM": Voice("MOM", (), -0.6, "voices/mom.yaml"),
    "JAMES": Voice("JAMES", (), 0.5, "voices/james.yaml"),
    "AVA": Voice("AVA", (), 0.0, "voices/ava.yaml"),
}
LIBRARY = Library(None)


def speechlike(seconds: float, seed: int) -> np.ndarray:
    """A stand-in for a TTS clip: speech-band noise at -20 dBFS, modulated at a syllable rate,
    starting on a word like a trimmed clip does."""
    rng = np.random.default_rng(seed)
    n = round(seconds * RATE)
    noise = sosfilt(
        butter(2, (100, 6000), "bandpass", fs=RATE, output="sos"), rng.standard_normal(n)
    )
    syllables = 0.6 + 0.4 * np.cos(2 * np.pi * 4.0 * np.arange(n) / RATE)
    clip = noise * syllables
    clip *= 0.1 / np.sqrt(np.mean(clip**2))
    edge = round(0.003 * RATE)
    clip[:edge] *= np.linspace(0, 1, edge)
    clip[-edge:] *= np.linspace(1, 0, edge)
    return clip.astype(np.float32)


def say(character: str, text: str, **kw) -> Speech:
    return Speech(character, text, HERE, **kw)


def scene(
    lines: list[Line], ambience: str = "room-tone", room: str = "small", id: str = "s"
) -> Scene:
    return Scene(id, id.title(), "Somewhere.", ambience, tuple(lines), HERE, room)


def chapter(*scenes: Scene) -> Chapter:
    return Chapter("t", 1, "Test", "A test.", date(2026, 1, 1), scenes, "test.yaml")


def clips_for(book: Chapter, seconds: float = 1.5) -> dict[Speech, np.ndarray]:
    """A clip per line; lines sharing a text (a line and its O.S. twin) share a clip."""
    lines = [x for s in book.scenes for x in s.lines if isinstance(x, Speech)]
    texts = list(dict.fromkeys(x.text for x in lines))
    return {x: speechlike(seconds, texts.index(x.text)) for x in lines}


def mix(book: Chapter, seconds: float = 1.5) -> tuple[dict[str, np.ndarray], MixedChapter]:
    return render_stems(book, clips_for(book, seconds), VOICES, LIBRARY)


def db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(np.square(x, dtype=np.float64)) + 1e-30))


def at(x: np.ndarray, start: float, end: float) -> np.ndarray:
    return x[round(start * RATE) : round(end * RATE)]


def spoken(mixed: MixedChapter) -> list[Cue]:
    return [c for c in mixed.cues if c.kind == "speech"]


def windows_db(x: np.ndarray, seconds: float) -> np.ndarray:
    k = round(seconds * RATE)
    frames = x[: len(x) // k * k].reshape(-1, k * x.shape[1])
    return 10 * np.log10(np.mean(frames.astype(np.float64) ** 2, axis=1) + 1e-30)


def test_bed_ducks_under_speech_stays_down_between_replies_and_returns_in_pauses():
    lines = [say("MOM", "One."), say("JAMES", "Two."), Pause(2.5, HERE), say("MOM", "Three.")]
    lines += [Pause(2.5, HERE), say("JAMES", "Four.")]
    stems, mixed = mix(chapter(scene(lines)), seconds=2.0)
    bed, cues = stems["bed"], spoken(mixed)
    under = db(np.concatenate([at(bed, c.start, c.end) for c in cues]))
    pauses = [
        (a.end, b.start) for a, b in zip(cues, cues[1:], strict=False) if b.start - a.end >= 1
    ]
    assert len(pauses) == 2
    clear = db(np.concatenate([at(bed, a + 1.0, b - 0.2) for a, b in pauses]))
    assert under <= clear - 6
    first_words = db(np.concatenate([at(bed, c.start, c.start + 0.05) for c in cues]))
    assert first_words <= clear - 6  # already down when a word starts
    reply_gap = at(bed, cues[0].end, cues[1].start)
    assert windows_db(reply_gap, 0.05).max() <= clear - 6  # no pumping between quick replies


def test_music_under_speech_is_ducked():
    lines = [Music("intro", HERE), say("MOM", "Over the music.", overlap=3.0)]
    stems, mixed = mix(chapter(scene(lines, room="none")))
    music = next(c for c in mixed.cues if c.kind == "music")
    line = spoken(mixed)[0]
    raw = LIBRARY.render("intro")
    offset = round(music.start * RATE)
    both = (line.start + 0.1, min(line.end, music.end))
    played = at(stems["music"], *both)
    unducked = raw[round(both[0] * RATE) - offset :][: len(played)]
    assert db(played) <= db(unducked) - 6


@pytest.mark.parametrize("room", ["none", "small", "large"])
def test_each_character_is_heard_at_their_pan_and_vo_in_the_centre(room):
    lines = [say("MOM", "Left."), Pause(2.5, HERE), say("JAMES", "Right."), Pause(2.5, HERE)]
    lines += [say("MOM", "Narration.", ext="V.O.")]
    stems, mixed = mix(chapter(scene(lines, room=room)))
    voice = stems["voice"]

    def balance(cue: Cue) -> float:
        heard = at(voice, cue.start, cue.end + 0.4)
        return db(heard[:, 0]) - db(heard[:, 1])

    left, right, narration = spoken(mixed)
    for cue, position in ((left, -0.6), (right, 0.5)):
        angle = (position + 1) * np.pi / 4
        assert balance(cue) == pytest.approx(20 * np.log10(np.cos(angle) / np.sin(angle)), abs=1.0)
    assert balance(narration) == pytest.approx(0.0, abs=0.5)


def tail_db(voice: np.ndarray, cue: Cue) -> float:
    """Energy 100-400 ms after a line ends, relative to the line."""
    return db(at(voice, cue.end + 0.1, cue.end + 0.4)) - db(at(voice, cue.start, cue.end))


def test_vo_is_dry_while_a_line_in_a_large_room_rings_on():
    lines = [say("MOM", "Narration.", ext="V.O."), Pause(3.0, HERE), say("JAMES", "Hello?")]
    lines += [Pause(3.0, HERE)]
    stems, mixed = mix(chapter(scene(lines, room="large")))
    narration, in_scene = spoken(mixed)
    assert tail_db(stems["voice"], narration) < -30
    assert tail_db(stems["voice"], in_scene) > -25


def centroid(x: np.ndarray) -> float:
    power = np.abs(np.fft.rfft(x.mean(axis=1))) ** 2
    return float(np.sum(power * np.fft.rfftfreq(len(x), 1 / RATE)) / np.sum(power))


def test_off_screen_is_quieter_and_darker_and_filtered_is_a_phone_band():
    lines = [say("MOM", "Same words."), Pause(3.0, HERE), say("MOM", "Same words.", ext="O.S.")]
    lines += [Pause(3.0, HERE), say("MOM", "Same words.", ext="FILTERED"), Pause(3.0, HERE)]
    book = chapter(scene(lines, room="small"))
    stems, mixed = mix(book)
    here, off, phone = (at(stems["voice"], c.start, c.end + 2.5) for c in spoken(mixed))
    assert db(off) <= db(here) - 4
    assert centroid(off) < centroid(here)
    power = np.abs(np.fft.rfft(phone.mean(axis=1))) ** 2
    hz = np.fft.rfftfreq(len(phone), 1 / RATE)
    band = power[(hz >= 300) & (hz <= 3500)].sum()
    assert 10 * np.log10(power[hz < 300].sum() / band) < -30
    assert 10 * np.log10(power[hz > 3500].sum() / band) < -30


def test_overlapping_lines_cut_in_and_the_next_waits_for_the_long_line():
    lines = [say("MOM", "A long line."), say("AVA", "Interjection.", overlap=2.5)]
    lines += [say("JAMES", "After."), say("MOM", "Cut in.", overlap=0.8)]
    book = chapter(scene(lines, room="none"))
    clips = clips_for(book)
    clips[lines[0]] = speechlike(4.0, 7)
    clips[lines[1]] = speechlike(0.5, 8)
    _, mixed = render_stems(book, clips, VOICES, LIBRARY)
    long, interjection, after, cut_in = spoken(mixed)
    assert interjection.start == pytest.approx(long.end - 2.5, abs=0.01)
    assert interjection.end < long.end
    assert after.start > long.end  # not in under the line still being spoken
    assert cut_in.start == pytest.approx(after.end - 0.8, abs=0.01)


def test_beds_fade_in_crossfade_at_the_scene_change_and_fade_out():
    book = chapter(
        scene([Pause(6.0, HERE)], ambience="room-tone", id="one"),
        scene([Pause(6.0, HERE)], ambience="kitchen", id="two"),
    )
    stems, mixed = mix(book)
    bed = stems["bed"]
    first, second = (c for c in mixed.cues if c.kind == "bed")
    assert second.start < first.end  # overlapping: a crossfade, not a gap
    assert second.start <= mixed.marks[1].start <= first.end
    before = db(at(bed, first.end - 3.5, second.start))
    after = db(at(bed, first.end, first.end + 3.0))
    crossfade = windows_db(at(bed, second.start, first.end), 0.2)
    assert crossfade.min() >= min(before, after) - 6
    steady = db(at(bed, 3.0, 4.0))
    assert db(at(bed, 0, 0.05)) <= steady - 20
    assert (
        db(bed[-round(0.05 * RATE) :]) <= db(at(bed, mixed.duration - 4, mixed.duration - 3)) - 20
    )
    assert np.all(bed[0] == 0)


def test_same_bed_in_consecutive_scenes_carries_on_without_a_swell():
    book = chapter(scene([Pause(5.0, HERE)], id="one"), scene([Pause(5.0, HERE)], id="two"))
    stems, mixed = mix(book)
    assert len([c for c in mixed.cues if c.kind == "bed"]) == 1
    change = mixed.marks[1].start
    assert db(at(stems["bed"], change - 0.5, change + 0.5)) == pytest.approx(
        db(at(stems["bed"], 1.5, change - 1)), abs=1.5
    )


def test_ambience_line_changes_the_bed_or_replaces_it_before_anything_plays():
    lines = [Ambience("kitchen", HERE), Pause(4.0, HERE), Ambience("park", HERE), Pause(4.0, HERE)]
    _, mixed = mix(chapter(scene(lines, ambience="room-tone")))
    kitchen, park = (c for c in mixed.cues if c.kind == "bed")
    assert (kitchen.name, park.name) == ("kitchen", "park")
    assert park.start < 0.8 + 4.0 < kitchen.end  # crossfading where the line stands


def test_looped_bed_has_no_click_at_the_loop_points():
    stems, mixed = mix(chapter(scene([Pause(30.0, HERE)], ambience="room-tone")))
    bed = stems["bed"]
    loop = round(BED_RECIPES["room-tone"].loop * RATE)
    jumps = np.abs(np.diff(bed, axis=0)).max(axis=1)
    near = np.zeros(len(jumps), bool)
    for seam in range(loop, len(bed) - loop // 2, loop):
        near[seam - RATE // 20 : seam + RATE // 20] = True
    assert near.sum() >= 2 * RATE // 10  # at least two seams inside the bed
    assert jumps[near].max() <= 4 * np.percentile(jumps[~near], 99)


def full_chapter() -> Chapter:
    return chapter(
        scene(
            [Music("sting", HERE), say("MOM", "Once.", ext="V.O."), say("JAMES", "Hi.")],
            id="one",
        ),
        scene(
            [
                say("MOM", "Who's there?"),
                say("AVA", "Me!", ext="O.S.", overlap=0.3),
                Pause(1.0, HERE),
                say("JAMES", "Phone.", ext="FILTERED"),
            ],
            ambience="kitchen",
            room="large",
            id="two",
        ),
    )


def test_same_inputs_give_identical_audio_and_the_mix_is_the_sum_of_the_stems():
    book = full_chapter()
    stems, mixed = mix(book)
    again, remixed = render_stems(book, clips_for(book), VOICES, Library(None))
    assert all(np.array_equal(stems[bus], again[bus]) for bus in stems)
    assert np.array_equal(mixed.audio, remixed.audio)
    assert mixed.cues == remixed.cues and mixed.marks == remixed.marks
    assert np.allclose(mixed.audio, sum(stems.values()), atol=1e-6)
    assert np.allclose(
        mix_chapter(book, clips_for(book), VOICES, LIBRARY).audio, mixed.audio, atol=1e-6
    )


def test_sounds_are_as_long_as_laid_out_and_the_duck_is_the_same_however_cut():
    # The layout sizes the timeline before any sound is put in its room (see Placed).
    lines = [
        say("MOM", "Here."),
        say("MOM", "Away.", ext="O.S."),
        say("MOM", "Inside.", ext="V.O."),
        say("MOM", "Line.", ext="FILTERED"),
        Sfx("knock", HERE, pan=0.5),
        Music("sting", HERE),
    ]
    book = chapter(*[scene(lines, room=room, id=room) for room in ROOMS])
    layout, n = lay_out(book, clips_for(book), VOICES, LIBRARY)
    assert len(layout.placed) == len(lines) * len(ROOMS)
    for item in layout.placed:
        assert len(item.make()) == item.length, item
    duck = Duck(layout.cues, n)
    whole = duck(0, n)
    assert len(whole) == n and whole.min() < 0.5 < whole.max()
    for a, b in [(0, 1), (3, 441), (441, 882), (1000, 77777), (n - 5, n)]:
        assert np.array_equal(duck(a, b), whole[a:b])


def test_speech_cues_start_where_the_voice_is_heard():
    book = chapter(
        *[
            scene(
                [Pause(1.0, HERE), say("MOM", f"Line {i}.", ext=ext), Pause(2.5, HERE)], id=f"s{i}"
            )
            for i, ext in enumerate([None, "V.O.", "O.S.", "FILTERED"])
        ]
    )
    stems, mixed = mix(book)
    ms = RATE // 1000
    for cue in spoken(mixed):
        around = at(stems["voice"], cue.start - 0.3, cue.start + 0.3)
        frames = windows_db(around, 0.001)
        onset = int(np.argmax(frames > db(at(stems["voice"], cue.start, cue.end)) - 20))
        assert (onset * ms) / RATE - 0.3 == pytest.approx(0.0, abs=0.01), cue


def test_plot_writes_the_same_png_every_time(tmp_path):
    _, mixed = mix(full_chapter())
    first = plot_chapter(mixed, tmp_path / "plots" / "one.png")
    data = first.read_bytes()
    with Image.open(first) as image:
        assert image.format == "PNG"
        assert image.size == (1400, 700)
    second = plot_chapter(mixed, tmp_path / "two.png")
    assert second.read_bytes() == data
    assert [p.name for p in (tmp_path / "plots").iterdir()] == ["one.png"]  # no temp files left


def test_a_remix_reuses_the_scenes_an_edit_did_not_touch_and_sounds_the_same(tmp_path):
    """Scene two rings on (a large room) into scene three; scene one's line then grows.
    The remix takes scenes two and three from the cache, at their new places, and is the
    same floats as a mix from nothing; the tail across the scene change is there."""
    ringing = say("JAMES", "Echo.", ext="O.S.")
    book = chapter(
        scene([say("MOM", "First.")], id="one"),
        scene([say("AVA", "Two."), Sfx("knock", HERE), ringing], room="large", id="two"),
        scene([Pause(0.5, HERE), say("MOM", "Three."), Music("sting", HERE)], id="three"),
    )
    clips = clips_for(book)
    cache = SceneCache(tmp_path)
    first = mix_chapter(book, clips, VOICES, LIBRARY, cache)
    assert len(set(first.scenes)) == 3 and len(list(tmp_path.glob("*.f32"))) == 3
    longer = {**clips, book.scenes[0].lines[0]: speechlike(2.7, 99)}
    made: list[str] = []
    real_put = cache.put
    cache.put = lambda key, audio: (made.append(key), real_put(key, audio))[1]
    edited = mix_chapter(book, longer, VOICES, LIBRARY, cache)
    assert made == [edited.scenes[0]] and edited.scenes[1:] == first.scenes[1:]
    fresh = mix_chapter(book, longer, VOICES, LIBRARY)
    assert edited.audio.tobytes() == fresh.audio.tobytes() and edited.cues == fresh.cues
    moved = round((2.7 - 1.5) * RATE) / RATE
    assert edited.marks[2].start == pytest.approx(first.marks[2].start + moved, abs=1e-4)
    # Scene two's mix rings on past the start of scene three, where it is added.
    two = np.frombuffer(cache.blobs.get(edited.scenes[1]), np.float32).reshape(-1, 2)
    span = edited.marks[2].start - edited.marks[1].start
    tail = two[round(span * RATE) :]
    assert len(tail) > RATE // 4 and db(tail) > -90  # a decaying reverb, not silence
    # A scene mix cut short, garbled, or with one byte changed on disk is mixed again, to
    # the same floats.
    path = tmp_path / f"{edited.scenes[2]}.f32"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    (tmp_path / f"{edited.scenes[1]}.f32").write_bytes(b"garbage")
    path = tmp_path / f"{edited.scenes[0]}.f32"
    flipped = bytearray(path.read_bytes())
    flipped[len(flipped) // 2] ^= 0x40
    path.write_bytes(bytes(flipped))
    made.clear()
    again = mix_chapter(book, longer, VOICES, LIBRARY, cache)
    assert made == list(edited.scenes) and again.audio.tobytes() == fresh.audio.tobytes()
