"""The feed as podcast apps read it: feedparser, podcastparser (gPodder) and raw XML for the
Podcasting 2.0 tags those parsers skip. Also: byte-for-byte determinism and GUID stability."""

from __future__ import annotations

import dataclasses
import io
import json
import uuid
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from pathlib import Path

import feedparser
import podcastparser
import pytest

from toolkit.build import voice_credits
from toolkit.cast import load_cast
from toolkit.errors import DramaError
from toolkit.master.episode import Episode
from toolkit.publish.feed import (
    ATOM,
    ITUNES,
    PODCAST,
    episode_guid,
    podcast_guid,
    rebase_feed,
    render_feed,
    write_feed,
)
from toolkit.script.loader import load_show
from toolkit.script.model import Chapter, Scene, Show, Speech, Where

BASE = "https://drama.example.org/long-way-back/"
NS = {"itunes": ITUNES, "podcast": PODCAST, "atom": ATOM}
HERE = Where("script/show.yaml", 1, 1)


def make_chapter(
    chapter_id: str, number: int, speakers: tuple[str, ...] = ("MAYA", "JAMES")
) -> Chapter:
    lines = tuple(Speech(character=name, text=f"{name} speaks.", where=HERE) for name in speakers)
    scene = Scene("s1", "Kitchen", "INT. KITCHEN - NIGHT", "room-tone", lines, HERE)
    return Chapter(
        id=chapter_id,
        number=number,
        title=f"The {chapter_id.title()}",
        description=f"In which {chapter_id} happens.",
        release=date(2024, 3, 1) + timedelta(days=number - 1),
        scenes=(scene,),
        file=f"script/{chapter_id}.yaml",
    )


def make_show(chapters: list[Chapter], **changes: object) -> Show:
    show = Show(
        title="The Long Way Back",
        author="Ann Writer",
        description="A mother, a daughter, and the man who left.",
        language="en",
        base_url=BASE,
        category="Fiction",
        subcategory="Drama",
        explicit=False,
        type="serial",
        narrator="MAYA",
        cast={"MAYA": "the mother", "JAMES": "the father", "AVA": "the daughter"},
        chapters=tuple(chapters),
        file="script/show.yaml",
        copyright="© 2024 Ann Writer",
        owner_name="Ann Writer",
        owner_email="ann@example.org",
    )
    return dataclasses.replace(show, **changes)


def make_episode(
    build: Path, chapter: Chapter, audio: bytes | None = None, extras: bool = True
) -> Episode:
    """Files named by chapter id, as mastering names them; `audio` defaults to filler bytes."""
    folder = build / "episodes"
    folder.mkdir(parents=True, exist_ok=True)
    mp3 = folder / f"{chapter.id}.mp3"
    mp3.write_bytes(audio or bytes(range(256)) * (8 + chapter.number))
    vtt, srt, chapters_json = (folder / f"{chapter.id}{ext}" for ext in (".vtt", ".srt", ".json"))
    if extras:
        vtt.write_text("WEBVTT\n\n00:00.000 --> 00:01.000\n<v Maya>Hello.\n")
        srt.write_text("1\n00:00:00,000 --> 00:00:01,000\nHello.\n")
        chapters_json.write_text(
            json.dumps({"version": "1.2.0", "chapters": [{"startTime": 0, "title": "Kitchen"}]})
        )
    return Episode(chapter, mp3, mp3.stat().st_size, 61.4, -16.0, -1.5, vtt, srt, chapters_json)


@pytest.fixture
def story(tmp_path: Path) -> tuple[Show, list[Episode], Path]:
    chapters = [make_chapter("door", 1), make_chapter("diner", 2, ("JAMES",))]
    chapters.append(make_chapter("return", 3, ("AVA", "MAYA")))
    return make_show(chapters), [make_episode(tmp_path, c) for c in chapters], tmp_path


def channel_of(feed: bytes) -> ET.Element:
    channel = ET.fromstring(feed).find("channel")
    assert channel is not None
    return channel


def guids(feed: bytes) -> dict[str, str]:
    """Item GUID by enclosure file name."""
    return {
        item.find("enclosure").get("url").rsplit("/", 1)[1]: item.findtext("guid")
        for item in channel_of(feed).findall("item")
    }


def test_feedparser_reads_serial_with_real_enclosure_sizes(story):
    show, episodes, build = story
    parsed = feedparser.parse(render_feed(show, episodes, build))
    assert not parsed.bozo
    assert parsed.feed.title == show.title
    assert parsed.feed.itunes_type == "serial"
    assert parsed.feed.language == "en"
    assert [e.itunes_episode for e in parsed.entries] == ["1", "2", "3"]
    for entry, episode in zip(parsed.entries, episodes, strict=True):
        (enclosure,) = entry.enclosures
        assert enclosure.href == f"{BASE}episodes/{episode.chapter.id}.mp3"
        assert int(enclosure.length) == episode.mp3.stat().st_size
        assert enclosure.type == "audio/mpeg"
        assert entry.id == episode_guid(show, episode.chapter)
        assert entry.itunes_duration == "61"
        stem = f"{BASE}episodes/{episode.chapter.id}"
        # feedparser keeps only one podcast:transcript per item
        assert entry.podcast_transcript["url"] in {stem + ".vtt", stem + ".srt"}
        assert entry.podcast_chapters["url"] == stem + ".json"
    assert parsed.entries[0].published == "Fri, 01 Mar 2024 06:00:00 GMT"


def test_podcastparser_reads_episodes(story):
    show, episodes, build = story
    parsed = podcastparser.parse(BASE + "feed.xml", io.BytesIO(render_feed(show, episodes, build)))
    assert parsed["title"] == show.title
    assert len(parsed["episodes"]) == 3
    by_guid = {e["guid"]: e for e in parsed["episodes"]}
    for episode in episodes:
        item = by_guid[episode_guid(show, episode.chapter)]
        (enclosure,) = item["enclosures"]
        assert enclosure["url"] == f"{BASE}episodes/{episode.chapter.id}.mp3"
        assert enclosure["file_size"] == episode.size
        assert item["total_time"] == 61
        assert item["number"] == episode.chapter.number


def test_channel_has_required_fields(story):
    show, episodes, build = story
    channel = channel_of(render_feed(show, episodes, build))
    for tag in ("title", "description", "language", "link", "copyright", "generator"):
        assert channel.findtext(tag), tag
    assert channel.findtext("link") == BASE
    assert channel.find("atom:link[@rel='self']", NS).get("href") == BASE + "feed.xml"
    assert channel.find("itunes:image", NS).get("href") == BASE + "cover.jpg"
    assert channel.findtext("image/url") == BASE + "cover.jpg"
    category = channel.find("itunes:category", NS)
    assert category.get("text") == "Fiction"
    assert category.find("itunes:category", NS).get("text") == "Drama"
    assert channel.findtext("itunes:explicit", namespaces=NS) == "false"
    assert channel.findtext("itunes:type", namespaces=NS) == "serial"
    assert channel.findtext("itunes:author", namespaces=NS) == "Ann Writer"
    assert channel.findtext("itunes:owner/itunes:email", namespaces=NS) == "ann@example.org"
    assert channel.findtext("itunes:owner/itunes:name", namespaces=NS) == "Ann Writer"
    assert channel.findtext("lastBuildDate") == "Sun, 03 Mar 2024 06:00:00 GMT"
    for item in channel.findall("item"):
        assert item.findtext("itunes:explicit", namespaces=NS) == "false"
        assert item.findtext("itunes:episodeType", namespaces=NS) == "full"
        assert item.findtext("itunes:season", namespaces=NS) == "1"
        assert item.find("guid").get("isPermaLink") == "false"


VOICES = {"MAYA": "Flite slt", "JAMES": "Piper joe", "AVA": "Kokoro jf_gongitsune"}


def test_podcasting_2_tags(story):
    show, episodes, build = story
    channel = channel_of(render_feed(show, episodes, build, voices=VOICES))
    expected = uuid.uuid5(
        uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6"),
        "drama.example.org/long-way-back/feed.xml",
    )
    assert channel.findtext("podcast:guid", namespaces=NS) == str(expected)
    locked = channel.find("podcast:locked", NS)
    assert (locked.text, locked.get("owner")) == ("no", "ann@example.org")
    assert channel.findtext("podcast:medium", namespaces=NS) == "podcast"
    people = [
        (p.text, p.get("role"), p.get("group")) for p in channel.findall("podcast:person", NS)
    ]
    assert people == [
        ("Ann Writer", "writer", "writing"),
        ("Flite slt as MAYA", "voice actor", "cast"),  # a synthetic voice, not a person
        ("Piper joe as JAMES", "voice actor", "cast"),
        ("Kokoro jf_gongitsune as AVA", "voice actor", "cast"),
    ]
    first, second, third = channel.findall("item")
    transcripts = {t.get("type"): t.attrib for t in first.findall("podcast:transcript", NS)}
    assert transcripts["text/vtt"] == {
        "url": BASE + "episodes/door.vtt",
        "type": "text/vtt",
        "language": "en",
        "rel": "captions",
    }
    assert transcripts["application/x-subrip"]["url"] == BASE + "episodes/door.srt"
    assert first.find("podcast:chapters", NS).attrib == {
        "url": BASE + "episodes/door.json",
        "type": "application/json+chapters",
    }
    voices = [
        [p.text for p in item.findall("podcast:person[@group='cast']", NS)]
        for item in (first, second, third)
    ]
    assert voices == [  # in cast order
        ["Flite slt as MAYA", "Piper joe as JAMES"],
        ["Piper joe as JAMES"],
        ["Flite slt as MAYA", "Kokoro jf_gongitsune as AVA"],
    ]
    writers = [
        item.findtext("podcast:person[@role='writer']", namespaces=NS)
        for item in channel.findall("item")
    ]
    assert writers == ["Ann Writer"] * 3  # item people replace the channel's, so restate


def test_published_podcast_guid_examples():
    """The two worked examples from the namespace's guid.md."""
    assert str(podcast_guid("https://mp3s.nashownotes.com/pc20rss.xml")) == (
        "917393e3-1b1e-5cef-ace4-edaa54e1f810"
    )
    assert str(podcast_guid("http://podnews.net/rss/")) == "9b024349-ccf0-5f69-a609-6b82873eab3c"


def test_items_oldest_first_whatever_the_input_order(story):
    show, episodes, build = story
    feed = render_feed(show, list(reversed(episodes)), build)
    assert feed == render_feed(show, episodes, build)
    numbers = [i.findtext("itunes:episode", namespaces=NS) for i in channel_of(feed).iter("item")]
    assert numbers == ["1", "2", "3"]


def test_render_is_deterministic(story):
    show, episodes, build = story
    first = render_feed(show, episodes, build)
    assert first == render_feed(show, episodes, build)
    assert first.startswith(
        b"<?xml version='1.0' encoding='utf-8'?>\n"
        b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>\n<rss'
    )
    assert b"xmlns:itunes=" in first and b"xmlns:podcast=" in first and b"ns0:" not in first


def test_guids_survive_edits_and_moves(story, tmp_path):
    show, episodes, build = story
    before = guids(render_feed(show, episodes, build))
    assert len(set(before.values())) == 3

    retitled = [
        dataclasses.replace(
            e,
            chapter=dataclasses.replace(
                e.chapter,
                title="Renamed",
                number=10 - e.chapter.number,  # renumbered and so reordered
                description="Rewritten.",
                scenes=make_chapter(e.chapter.id, 1, ("AVA",)).scenes,  # a changed line
            ),
        )
        for e in episodes
    ]
    edited_show = make_show([e.chapter for e in retitled], title="New Title", author="Someone")
    assert guids(render_feed(edited_show, retitled, build)) == before
    served = render_feed(show, episodes, build, base_url="http://127.0.0.1:8123")
    assert guids(served) == before
    assert b"drama.example.org" not in served
    assert channel_of(served).findtext("podcast:guid", namespaces=NS) == str(
        podcast_guid(BASE + "feed.xml")
    )

    other = make_chapter("door-2", 1)
    assert episode_guid(show, other) != episode_guid(show, episodes[0].chapter)
    moved = make_show([], base_url="https://elsewhere.example.net/show")
    assert episode_guid(moved, episodes[0].chapter) != episode_guid(show, episodes[0].chapter)


def test_rebase_equals_rendering_at_that_address(story):
    show, episodes, build = story
    canonical = render_feed(show, episodes, build)
    served = render_feed(show, episodes, build, base_url="http://127.0.0.1:8123/")
    assert rebase_feed(canonical, "http://127.0.0.1:8123") == served
    assert rebase_feed(served, BASE) == canonical


def test_enclosure_urls_are_quoted(tmp_path):
    chapter = make_chapter("night & day", 1)
    show = make_show([chapter], base_url="https://drama.example.org/show")
    episode = make_episode(tmp_path, chapter, extras=False)
    item = channel_of(render_feed(show, [episode], tmp_path)).find("item")
    url = "https://drama.example.org/show/episodes/night%20%26%20day.mp3"
    assert item.find("enclosure").get("url") == url
    assert item.find("podcast:transcript", NS) is None  # files absent: no tags
    assert item.find("podcast:chapters", NS) is None


def test_refuses_files_outside_build_or_of_the_wrong_size(story, tmp_path_factory):
    show, episodes, build = story
    elsewhere = make_episode(tmp_path_factory.mktemp("elsewhere"), episodes[0].chapter)
    with pytest.raises(DramaError, match="not inside the build directory"):
        render_feed(show, [elsewhere], build)
    stale = dataclasses.replace(episodes[0], size=episodes[0].size + 1)
    with pytest.raises(DramaError, match="changed size"):
        render_feed(show, [stale], build)


def test_write_feed_replaces_atomically(story):
    show, episodes, build = story
    (build / "feed.xml").write_bytes(b"old")
    path = write_feed(show, episodes, build)
    assert path == build / "feed.xml"
    assert path.read_bytes() == render_feed(show, episodes, build)
    (build / "plain").write_bytes(b"")
    assert path.stat().st_mode == (build / "plain").stat().st_mode  # readable by web servers
    assert not list(build.glob(".feed.xml.*"))


def test_feed_from_a_loaded_script(project, tmp_path):
    """The script stage's real Show: narration is speech by the narrator, who is in the cast."""
    show = load_show(project)
    build = tmp_path / "build"
    episodes = [make_episode(build, chapter) for chapter in show.chapters]
    credits = voice_credits(load_cast(project, show))
    channel = channel_of(render_feed(show, episodes, build, voices=credits))
    assert channel.find("atom:link", NS).get("href") == "http://127.0.0.1:8000/feed.xml"
    voices = [
        [p.text for p in item.findall("podcast:person[@group='cast']", NS)]
        for item in channel.findall("item")
    ]
    # Each character is credited to the engine voice that plays it here (or its fallback).
    assert credits["MOM"] in ("Flite slt", "eSpeak NG en-us+f2")
    assert credits["JAMES"] in ("Piper joe", "eSpeak NG en-us+m3")
    cast = [f"{credits[name]} as {name}" for name in ("MOM", "JAMES", "AVA")]
    assert voices == [cast, cast[:2]]
    assert [i.findtext("pubDate") for i in channel.findall("item")] == [
        "Tue, 01 Dec 2026 06:00:00 GMT",
        "Tue, 08 Dec 2026 06:00:00 GMT",
    ]
