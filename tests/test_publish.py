"""Ready to publish: deliverables read back by ffprobe and mutagen (chapters in order, tags,
the audiobook, Opus in the feed), the guardrails and the release schedule."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import feedparser
import mutagen
import numpy as np
import podcastparser
import pytest
from conftest import SHOW, run_cli, write_project
from mutagen.id3 import ID3

from toolkit.build import Project, build
from toolkit.errors import DramaError
from toolkit.master.book import BookChapter, BookTags, make_book
from toolkit.master.cover import make_cover
from toolkit.master.encode import encode_flac, encode_mp3, encode_ogg, encode_opus
from toolkit.master.tags import Tags, tag_mp3, tag_vorbis
from toolkit.mix.timeline import RATE, Mark
from toolkit.publish import guard
from toolkit.script.loader import load_show

NS = {"podcast": "https://podcastindex.org/namespace/1.0"}
PUBLIC = "https://audio.dramatoolkit.org/test-show/"
# Titles whose sizes run against their times: stock mutagen wrote these out of order.
MARKS = [
    Mark(0.0, 2.0, "A very long opening scene title, longer than the rest"),
    Mark(2.0, 3.0, "B"),
    Mark(3.0, 5.5, "Middle scene"),
    Mark(5.5, 6.0, "End"),
]


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"`{tool}` not found (Debian package ffmpeg / mp3val)")
        pytest.skip(f"`{tool}` not found")
    return path


def probe(path: Path) -> dict:
    done = subprocess.run(
        [need("ffprobe"), "-v", "error", "-show_chapters", "-show_format", "-show_streams"]
        + ["-of", "json", str(path)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(done.stdout)


def chapter_times(info: dict) -> list[tuple[float, float, str]]:
    return [
        (float(c["start_time"]), float(c["end_time"]), c["tags"]["title"]) for c in info["chapters"]
    ]


def tone(seconds: float, hz: float = 440.0) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    wave = (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)
    return np.stack([wave, wave], axis=1)


TAGS = dict(
    title="The Door",
    artist="Test Company",
    album="Test Show",
    track=1,
    total=2,
    year=2026,
    genre="Audio Drama",
    comment="The first chapter.",
)


@pytest.fixture(scope="module")
def cover() -> bytes:
    return make_cover("Test Show", "Test Company")


def assert_in_order(found: list[tuple[float, float, str]], duration: float) -> None:
    assert [title for _, _, title in found] == [m.title for m in MARKS]
    assert [start for start, _, _ in found] == pytest.approx([m.start for m in MARKS], abs=0.01)
    assert all(end - start > 0.4 for start, end, _ in found)  # no 1 ms chapter
    assert all(end <= duration + 0.01 for _, end, _ in found)  # none runs past the end
    assert all(
        a[1] == pytest.approx(b[0], abs=0.01) for a, b in zip(found, found[1:], strict=False)
    )


def test_mp3_chapters_are_in_time_order_in_the_file(tmp_path, cover):
    path = tmp_path / "ep.mp3"
    path.write_bytes(
        tag_mp3(encode_mp3(tone(6.0)), Tags(**TAGS, cover_jpeg=cover, marks=MARKS), 6.0)
    )
    assert_in_order(chapter_times(probe(path)), 6.1)
    frames = ID3(path).getall("CHAP")  # mutagen lists frames in file order
    assert [f.start_time for f in frames] == [0, 2000, 3000, 5500]
    assert [f.element_id for f in frames] == ["ch0", "ch1", "ch2", "ch3"]


@pytest.mark.parametrize(
    "fmt,encode", [("flac", encode_flac), ("ogg", encode_ogg), ("opus", encode_opus)]
)
def test_flac_ogg_opus_carry_tags_cover_and_chapters(tmp_path, cover, fmt, encode):
    data = tag_vorbis(encode(tone(6.0)), Tags(**TAGS, cover_jpeg=cover, marks=MARKS))
    assert data == tag_vorbis(encode(tone(6.0)), Tags(**TAGS, cover_jpeg=cover, marks=MARKS))
    path = tmp_path / f"ep.{fmt}"
    path.write_bytes(data)
    tags = mutagen.File(path)
    assert tags["title"] == ["The Door"] and tags["artist"] == ["Test Company"]
    assert tags["album"] == ["Test Show"] and tags["date"] == ["2026"]
    assert tags["chapter001"] == ["00:00:00.000"] and tags["chapter003"] == ["00:00:03.000"]
    assert tags["chapter002name"] == ["B"]
    info = probe(path)
    assert_in_order(chapter_times(info), 6.1)
    pictures = [s for s in info["streams"] if s["disposition"].get("attached_pic")]
    assert len(pictures) == 1 and pictures[0]["width"] == 3000  # the cover, as players see it
    audio = next(s for s in info["streams"] if s["codec_type"] == "audio")
    assert audio["codec_name"] == {"flac": "flac", "ogg": "vorbis", "opus": "opus"}[fmt]
    assert float(info["format"]["duration"]) == pytest.approx(6.0, abs=0.05)


def test_audiobook_has_a_chapter_per_episode(tmp_path, cover):
    lengths = [3.3, 2.25, 4.0]
    parts = [
        BookChapter(f"Episode {n}", encode_flac(tone(s, 300 + 100 * n)))
        for n, s in enumerate(lengths, start=1)
    ]
    tags = BookTags("Test Show", "Test Company", 2026, "Audio Drama", "About it.", "(c) T")
    data = make_book(parts, tags, cover)
    assert data == make_book(parts, tags, cover)  # reproducible
    path = tmp_path / "book.m4b"
    path.write_bytes(data)
    info = probe(path)
    starts = np.cumsum([0, *lengths[:-1]])
    found = chapter_times(info)
    assert [t for _, _, t in found] == ["Episode 1", "Episode 2", "Episode 3"]
    assert [s for s, _, _ in found] == pytest.approx(list(starts), abs=0.01)
    assert float(info["format"]["duration"]) == pytest.approx(sum(lengths), abs=0.05)
    format_tags = info["format"]["tags"]
    assert format_tags["title"] == "Test Show" and format_tags["artist"] == "Test Company"
    assert format_tags["album"] == "Test Show" and format_tags["genre"] == "Audio Drama"
    assert format_tags["date"] == "2026"
    codecs = {s["codec_name"] for s in info["streams"]}
    assert {"aac", "mjpeg"} <= codecs
    book = mutagen.File(path)
    assert [c.title for c in book.chapters] == ["Episode 1", "Episode 2", "Episode 3"]
    assert book.tags["stik"] == [2] and book.tags["covr"][0] == cover


# Guardrails -----------------------------------------------------------------------------


def findings(tmp_path: Path, replace: dict[str, str]) -> list[guard.Finding]:
    text = SHOW
    for old, new in replace.items():
        assert old in text
        text = text.replace(old, new)
    root = write_project(tmp_path / "show", {"script/show.yaml": text})
    return guard.lint(root, load_show(root))


def public(**more: str) -> dict[str, str]:
    return {"base_url: http://127.0.0.1:8000/": f"base_url: {PUBLIC}", **more}


def test_a_publishable_show_has_no_findings(tmp_path):
    assert findings(tmp_path, public()) == []


def test_loopback_base_url_is_located_and_says_the_guid_is_shared(tmp_path):
    [found] = findings(tmp_path, {})
    assert str(found.where) == "script/show.yaml:5:11"
    assert "loopback" in found.message and "drama new" in found.message
    assert str(guard.uuid_of_template()) in found.message


@pytest.mark.parametrize(
    "url,why",
    [
        ("https://example.com/show/", "reserved for examples"),
        ("https://cdn.example.org/x/", "reserved for examples"),
        ("http://localhost:8000/", "loopback"),
        ("http://192.168.1.20/", "private"),
        ("https://myshow.test/", "not a public domain"),
        ("http://[::1]:8000/", "loopback"),
    ],
)
def test_unreachable_base_urls(tmp_path, url, why):
    [found] = findings(tmp_path, {"base_url: http://127.0.0.1:8000/": f"base_url: {url}"})
    assert why in found.message and found.where.line == 5


@pytest.mark.parametrize(
    "replace,line,expected",
    [
        ({"category: Fiction": "category: Fictoin"}, 6, "did you mean 'Fiction'?"),
        ({"category: Fiction": "category: Audio Drama"}, 6, "not one of Apple's"),
        ({"category: Fiction": "category: Fiction > Horror"}, 6, "`subcategory:`"),
        ({"subcategory: Drama": "subcategory: Horror"}, 7, "Comedy Fiction, Drama"),
        ({"language: en": "language: English"}, 4, "ISO 639-1"),
        ({"language: en": "language: xx"}, 4, "ISO 639-1"),
    ],
)
def test_categories_and_language(tmp_path, replace, line, expected):
    [found] = findings(tmp_path, public(**replace))
    assert found.where.line == line and found.where.column > 1
    assert expected in found.message


@pytest.mark.parametrize("language", ["en", "en-GB", "pt-BR", "zh-Hant-TW", "es-419"])
def test_language_codes_pass(tmp_path, language):
    assert findings(tmp_path, public(**{"language: en": f"language: {language}"})) == []


def test_a_guid_shared_with_the_template_is_refused(tmp_path):
    template = str(guard.uuid_of_template())
    [found] = findings(tmp_path, public(**{"narrator: MOM": f"narrator: MOM\nguid: {template}"}))
    assert found.where.line == 15 and "template" in found.message


def test_a_pinned_guid_survives_a_move(tmp_path):
    from toolkit.publish.feed import episode_guid, show_guid

    pinned = "0b5e7a3c-2f4d-4e6a-9b1c-123456789abc"
    root = write_project(tmp_path / "a", {"script/show.yaml": SHOW + f"guid: {pinned}\n"})
    moved = SHOW.replace("http://127.0.0.1:8000/", PUBLIC) + f"guid: {pinned}\n"
    other = write_project(tmp_path / "b", {"script/show.yaml": moved})
    one, two = load_show(root), load_show(other)
    assert str(show_guid(one)) == str(show_guid(two)) == pinned
    assert episode_guid(one, one.chapters[0]) == episode_guid(two, two.chapters[0])


def test_bad_formats_and_guid_are_located_errors(tmp_path):
    for extra, line, said in [
        ("formats: [mp3, wav]\n", 25, "show formats: expected one of mp3, flac, ogg, opus, m4b"),
        ("guid: not-a-uuid\n", 25, "show guid: expected a UUID"),
        ("captions:\n  sound: false\n", 26, "sound"),
    ]:
        root = write_project(tmp_path / str(line) / said[:4], {"script/show.yaml": SHOW + extra})
        with pytest.raises(DramaError) as caught:
            load_show(root)
        assert caught.value.line == line and said in caught.value.message


def test_check_warns_and_strict_build_refuses(project):
    bad = SHOW.replace("category: Fiction", "category: Fictoin")
    (project / "script/show.yaml").write_text(bad)
    checked = run_cli("check", "-C", str(project))
    assert checked.exit_code == 0
    assert "warning: script/show.yaml:5:11: show base_url" in checked.stderr
    assert "warning: script/show.yaml:6:11: show category: 'Fictoin'" in checked.stderr
    refused = run_cli("build", "-C", str(project), "--strict")
    assert refused.exit_code == 2
    lines = refused.stderr.strip().splitlines()
    assert lines[0].startswith("error: script/show.yaml:5:11: show base_url")
    assert lines[1].startswith("error: script/show.yaml:6:11: show category")
    assert "Traceback" not in refused.output + refused.stderr
    assert not (project / "build").exists() and not (project / ".cache").exists()
    denied = run_cli("deploy", "-C", str(project), str(project / "site"))
    assert denied.exit_code == 2 and "error: script/show.yaml:5:11" in denied.stderr
    assert not (project / "site").exists()


def test_check_announces_the_schedule(project, monkeypatch):
    monkeypatch.setenv("DRAMA_TODAY", "2026-12-03")
    checked = run_cli("check", "-C", str(project))
    assert "scheduled: episode 2 (two) on 2026-12-08" in checked.output


# A built fixture show ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def released(tmp_path_factory) -> Path:
    """The fixture show, public, with Opus and the audiobook in its formats, built as of
    the day its first chapter is out and the second is not."""
    show = SHOW.replace("http://127.0.0.1:8000/", PUBLIC) + "formats: [mp3, opus, m4b]\n"
    root = write_project(tmp_path_factory.mktemp("released") / "show", {"script/show.yaml": show})
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRAMA_TODAY", "2026-12-03")
        result = run_cli("build", "-C", str(root), "--strict", "--hold-scheduled")
    assert result.exit_code == 0, result.stderr
    assert "scheduled: episode 2 (two) on 2026-12-08, left out of the feed" in result.stderr
    return root


def test_scheduled_episode_stays_out_until_its_day(released, tmp_path, monkeypatch):
    site = released / "build"
    assert [e.title for e in feedparser.parse(str(site / "feed.xml")).entries] == ["One"]
    assert not list((site / "episodes").glob("02-*"))  # nothing of it is online early
    root = tmp_path / "later"
    shutil.copytree(released, root)
    monkeypatch.setenv("DRAMA_TODAY", "2026-12-08")
    result = run_cli("build", "-C", str(root), "--hold-scheduled")
    assert result.exit_code == 0 and "rendered 0 chapters" in result.stderr  # cached already
    assert [e.title for e in feedparser.parse(str(root / "build/feed.xml")).entries] == [
        "One",
        "Two",
    ]
    again = tmp_path / "again"
    shutil.copytree(released, again)
    shutil.rmtree(again / "build")
    run_cli("build", "-C", str(again), "--hold-scheduled")
    assert (again / "build/feed.xml").read_bytes() == (root / "build/feed.xml").read_bytes()


def test_a_scheduled_episode_is_published_with_its_date_unless_held(released, tmp_path):
    """Without --hold-scheduled every chapter is online at once, each with its own date."""
    root = tmp_path / "now"
    shutil.copytree(released, root)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DRAMA_TODAY", "2026-12-03")
        result = run_cli("build", "-C", str(root))
    assert result.exit_code == 0, result.stderr
    assert "scheduled: episode 2 (two) on 2026-12-08, published now with that date" in (
        result.stderr
    )
    entries = feedparser.parse(str(root / "build/feed.xml")).entries
    assert [e.title for e in entries] == ["One", "Two"] or [e.title for e in entries] == [
        "Two",
        "One",
    ]
    assert (root / "build/episodes/02-two.mp3").is_file()


def test_every_episode_lists_its_chapters_in_order(released, tmp_path, monkeypatch):
    monkeypatch.setenv("DRAMA_TODAY", "2027-01-01")
    root = tmp_path / "all"
    shutil.copytree(released, root)
    assert run_cli("build", "-C", str(root)).exit_code == 0
    for mp3 in sorted((root / "build/episodes").glob("*.mp3")):
        info = probe(mp3)
        marks = json.loads(mp3.with_suffix(".chapters.json").read_text())["chapters"]
        found = chapter_times(info)
        assert [t for _, _, t in found] == [m["title"] for m in marks]
        assert [s for s, _, _ in found] == sorted(s for s, _, _ in found)
        assert all(end > start for start, end, _ in found)
        assert found[-1][1] <= float(info["format"]["duration"]) + 0.05
        for opus_or_mp3 in (mp3, mp3.with_suffix(".opus")):
            assert [t for _, _, t in chapter_times(probe(opus_or_mp3))] == [
                m["title"] for m in marks
            ]
        mp3val = subprocess.run(
            [need("mp3val"), str(mp3)], capture_output=True, text=True, timeout=60
        )
        assert "WARNING" not in mp3val.stdout and "ERROR" not in mp3val.stdout, mp3val.stdout


def test_opus_is_offered_as_an_alternate_enclosure(released):
    site = released / "build"
    item = ET.parse(site / "feed.xml").getroot().find("channel/item")
    alternates = item.findall("podcast:alternateEnclosure", NS)
    by_type = {a.get("type"): a for a in alternates}
    assert set(by_type) == {"audio/mpeg", "audio/opus"}
    assert by_type["audio/mpeg"].get("default") == "true"
    opus = site / "episodes/01-one.opus"
    assert int(by_type["audio/opus"].get("length")) == opus.stat().st_size
    source = by_type["audio/opus"].find("podcast:source", NS).get("uri")
    assert source == PUBLIC + "episodes/01-one.opus"
    mp3 = site / "episodes/01-one.mp3"
    # Both carry the cover (base64 in a Vorbis comment): the audio is what differs.
    art = (site / "cover.jpg").stat().st_size
    assert opus.stat().st_size - art * 4 / 3 < 0.6 * (mp3.stat().st_size - art)
    seconds = float(probe(opus)["format"]["duration"])
    bitrate = int(by_type["audio/opus"].get("bitrate"))
    assert bitrate == pytest.approx(opus.stat().st_size * 8 / seconds, rel=0.02)
    assert item.find("enclosure").get("url") == PUBLIC + "episodes/01-one.mp3"
    parsed = podcastparser.parse(PUBLIC + "feed.xml", io.BytesIO((site / "feed.xml").read_bytes()))
    assert [e["enclosures"][0]["url"] for e in parsed["episodes"]] == [
        PUBLIC + "episodes/01-one.mp3"
    ]
    assert not feedparser.parse(str(site / "feed.xml")).bozo


def test_the_audiobook_is_the_released_show(released):
    book = released / "build/test-show.m4b"
    info = probe(book)
    mp3 = probe(released / "build/episodes/01-one.mp3")
    assert float(info["format"]["duration"]) == pytest.approx(
        float(mp3["format"]["duration"]), abs=0.1
    )
    assert [t for _, _, t in chapter_times(info)] == ["One"]
    assert info["format"]["tags"]["title"] == "Test Show"


def test_formats_persist_and_the_flag_adds_for_one_build(released, tmp_path):
    root = tmp_path / "formats"
    shutil.copytree(released, root)
    assert run_cli("build", "-C", str(root), "-f", "flac").exit_code == 0
    assert (root / "build/episodes/01-one.flac").is_file()
    assert run_cli("build", "-C", str(root)).exit_code == 0
    assert not (root / "build/episodes/01-one.flac").exists()  # -f was for one build
    assert (root / "build/episodes/01-one.opus").is_file()  # show.yaml's formats stay
    assert (root / "build/test-show.m4b").is_file()


def test_build_api_refuses_when_strict(tmp_path):
    root = write_project(tmp_path / "show")
    with pytest.raises(guard.Refused) as caught:
        build(Project(root), print, print, strict=True)
    assert str(caught.value).startswith("script/show.yaml:5:11: show base_url")
