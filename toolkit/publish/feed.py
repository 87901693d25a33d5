"""The podcast feed: RSS 2.0 + iTunes + Podcasting 2.0, written with ElementTree.

Output is a pure function of its inputs (no clock), so rebuilding an unchanged show gives identical
bytes. GUIDs come from the canonical `show.base_url` in the script, never from the address the
feed happens to be served on, so moving or previewing the feed never makes apps re-download.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from datetime import UTC, datetime, time
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import quote

from toolkit import __version__
from toolkit.errors import DramaError
from toolkit.fsutil import write_if_changed
from toolkit.master.episode import Episode
from toolkit.script.model import Chapter, Show, Speech

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
PODCAST = "https://podcastindex.org/namespace/1.0"
ATOM = "http://www.w3.org/2005/Atom"
PODCAST_GUID_NAMESPACE = uuid.UUID("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")
FEED_NAME = "feed.xml"
STYLESHEET = b'<?xml-stylesheet type="text/xsl" href="feed.xsl"?>\n'  # a browser shows a page
COVER_NAME = "cover.jpg"
RELEASE_TIME = time(6, 0, tzinfo=UTC)  # chapters give a date; apps want an instant
# Alternate enclosures offered beside the MP3: (type, title) by file suffix.
ALTERNATES = {
    ".opus": ("audio/opus", "Opus"),
    ".ogg": ("audio/ogg", "Ogg Vorbis"),
    ".flac": ("audio/flac", "FLAC (lossless)"),
}

for _prefix, _uri in (("itunes", ITUNES), ("podcast", PODCAST), ("atom", ATOM)):
    ET.register_namespace(_prefix, _uri)


def _it(name: str) -> str:
    return f"{{{ITUNES}}}{name}"


def _pc(name: str) -> str:
    return f"{{{PODCAST}}}{name}"


def base(url: str) -> str:
    """`url` with exactly one trailing slash, so relative paths append cleanly."""
    return url.rstrip("/") + "/"


def podcast_guid(feed_url: str) -> uuid.UUID:
    """Podcasting 2.0 show GUID: uuid5 of the feed URL without scheme and trailing slashes."""
    bare = re.sub(r"^[A-Za-z][A-Za-z0-9+.-]*://", "", feed_url).rstrip("/")
    return uuid.uuid5(PODCAST_GUID_NAMESPACE, bare)


def show_guid(show: Show) -> uuid.UUID:
    """The show's podcast:guid: the one pinned in show.yaml, else seeded by the canonical feed
    URL (the script's base_url). The namespace says it must follow the podcast for life,
    whatever address serves it."""
    if show.guid:
        return uuid.UUID(show.guid)
    return podcast_guid(base(show.base_url) + FEED_NAME)


def episode_guid(show: Show, chapter: Chapter) -> str:
    """Item GUID: uuid5(show GUID, chapter.id). Only the canonical base_url and the chapter id go
    in, so retitling, renumbering, reordering, editing lines or serving elsewhere keep it."""
    return str(uuid.uuid5(show_guid(show), chapter.id))


def release(chapter: Chapter) -> datetime:
    """The chapter's publication instant (its release date at 06:00 UTC)."""
    return datetime.combine(chapter.release, RELEASE_TIME)


def _rfc2822(moment: datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _sub(parent: ET.Element, tag: str, body: str | None = None, /, **attrib: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrib)
    element.text = body
    return element


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _file_url(base_url: str, path: Path, build_dir: Path) -> str:
    try:
        relative = path.resolve().relative_to(build_dir.resolve())
    except ValueError:
        raise DramaError(f"{path} is not inside the build directory {build_dir}") from None
    return base_url + quote(relative.as_posix())


def _speakers(show: Show, chapter: Chapter) -> list[str]:
    """Cast members heard in the chapter, in cast order (narration is speech by show.narrator)."""
    heard = {
        line.character
        for scene in chapter.scenes
        for line in scene.lines
        if isinstance(line, Speech)
    }
    return [name for name in show.cast if name in heard]


def _people(parent: ET.Element, show: Show, cast: list[str], voices: Mapping[str, str]) -> None:
    """Writer plus voices. Item-level people replace the channel's, so items restate the writer.
    A character is played by a synthetic voice, not a person, so the credit names that voice
    and whom it plays ("Flite slt as MOM"); the character alone without a voice to name."""
    _sub(parent, _pc("person"), show.author, role="writer", group="writing")
    for name in cast:
        credit = f"{voices[name]} as {name}" if name in voices else name
        _sub(parent, _pc("person"), credit, role="voice actor", group="cast")


def _channel(
    channel: ET.Element, show: Show, url: str, newest: datetime | None, voices: Mapping[str, str]
) -> None:
    cover = url + COVER_NAME
    _sub(channel, "title", show.title)
    _sub(channel, "link", url)
    _sub(channel, f"{{{ATOM}}}link", href=url + FEED_NAME, rel="self", type="application/rss+xml")
    _sub(channel, "description", show.description)
    _sub(channel, "language", show.language)
    if show.copyright:
        _sub(channel, "copyright", show.copyright)
    _sub(channel, "generator", f"drama-toolkit {__version__}")
    if newest is not None:
        _sub(channel, "lastBuildDate", _rfc2822(newest))
    _sub(channel, _it("author"), show.author)
    owner = _sub(channel, _it("owner"))
    _sub(owner, _it("name"), show.owner_name or show.author)
    if show.owner_email:
        _sub(owner, _it("email"), show.owner_email)
    _sub(channel, _it("image"), href=cover)
    image = _sub(channel, "image")
    _sub(image, "url", cover)
    _sub(image, "title", show.title)
    _sub(image, "link", url)
    category = _sub(channel, _it("category"), text=show.category)
    if show.subcategory:
        _sub(category, _it("category"), text=show.subcategory)
    _sub(channel, _it("explicit"), _bool(show.explicit))
    _sub(channel, _it("type"), show.type)
    _sub(channel, _pc("guid"), str(show_guid(show)))
    locked_owner = {"owner": show.owner_email} if show.owner_email else {}
    _sub(channel, _pc("locked"), "no", **locked_owner)
    _sub(channel, _pc("medium"), "podcast")
    _people(channel, show, list(show.cast), voices)


def _item(
    item: ET.Element,
    show: Show,
    episode: Episode,
    url: str,
    build_dir: Path,
    voices: Mapping[str, str],
) -> None:
    chapter = episode.chapter
    if episode.mp3.stat().st_size != episode.size:
        raise DramaError(f"{episode.mp3} changed size since mastering; rebuild the episode")
    _sub(item, "title", chapter.title)
    _sub(item, "description", chapter.description)
    mp3_url = _file_url(url, episode.mp3, build_dir)
    _sub(item, "link", mp3_url.removesuffix(".mp3") + ".html")  # the episode's page
    _sub(item, "enclosure", url=mp3_url, length=str(episode.size), type="audio/mpeg")
    _sub(item, "guid", episode_guid(show, chapter), isPermaLink="false")
    _sub(item, "pubDate", _rfc2822(release(chapter)))
    _sub(item, _it("title"), chapter.title)
    _sub(item, _it("duration"), str(round(episode.duration)))
    _sub(item, _it("episode"), str(chapter.number))
    _sub(item, _it("season"), str(show.season))
    _sub(item, _it("episodeType"), "full")
    _sub(item, _it("explicit"), _bool(show.explicit))
    _alternates(item, episode, mp3_url, url, build_dir)
    for path, kind in ((episode.vtt, "text/vtt"), (episode.srt, "application/x-subrip")):
        if path is not None and path.is_file():
            transcript_url = _file_url(url, path, build_dir)
            _sub(
                item,
                _pc("transcript"),
                url=transcript_url,
                type=kind,
                language=show.language,
                rel="captions",
            )
    if episode.chapters_json is not None and episode.chapters_json.is_file():
        chapters_url = _file_url(url, episode.chapters_json, build_dir)
        _sub(item, _pc("chapters"), url=chapters_url, type="application/json+chapters")
    _people(item, show, _speakers(show, chapter), voices)


def _alternates(item: ET.Element, episode: Episode, mp3_url: str, url: str, build_dir: Path):
    """podcast:alternateEnclosure for each extra master (the MP3 restated as the default),
    with its real length and average bitrate in bits per second."""
    extras = [path for path in episode.extras if path.suffix in ALTERNATES and path.is_file()]
    if not extras:
        return
    files = [(episode.mp3, "audio/mpeg", "MP3", mp3_url, True)]
    files += [(p, *ALTERNATES[p.suffix], _file_url(url, p, build_dir), False) for p in extras]
    for path, kind, title, file_url, default in files:
        length = path.stat().st_size
        bitrate = round(length * 8 / episode.duration) if episode.duration > 0 else 0
        attrib = {"type": kind, "length": str(length), "bitrate": str(bitrate), "title": title}
        element = _sub(
            item, _pc("alternateEnclosure"), **attrib, **({"default": "true"} if default else {})
        )
        _sub(element, _pc("source"), uri=file_url)


def _serialize(rss: ET.Element) -> bytes:
    """The feed with the stylesheet that makes it readable when opened in a browser (podcast
    apps ignore processing instructions)."""
    ET.indent(rss, space="  ")
    declaration, body = ET.tostring(rss, encoding="utf-8", xml_declaration=True).split(b"\n", 1)
    return declaration + b"\n" + STYLESHEET + body + b"\n"


def render_feed(
    show: Show,
    episodes: list[Episode],
    build_dir: Path,
    base_url: str | None = None,
    voices: Mapping[str, str] | None = None,
) -> bytes:
    """The feed's bytes. `base_url` (default show.base_url) only moves the URLs; items run oldest
    first as a serial needs, and lastBuildDate is the newest pubDate so nothing reads the clock.
    `voices` names the voice that plays each character, for podcast:person."""
    voices = voices or {}
    url = base(base_url or show.base_url)
    ordered = sorted(episodes, key=lambda episode: episode.chapter.number)
    newest = max((release(episode.chapter) for episode in ordered), default=None)
    rss = ET.Element("rss", version="2.0")
    channel = ET.SubElement(rss, "channel")
    _channel(channel, show, url, newest, voices)
    for episode in ordered:
        _item(ET.SubElement(channel, "item"), show, episode, url, build_dir, voices)
    return _serialize(rss)


def rebase_feed(feed: bytes, base_url: str) -> bytes:
    """A rendered feed with every URL moved from its own base (read from atom:link rel=self) to
    `base_url`. GUIDs and enclosure lengths do not depend on the address, so they stay."""
    rss = ET.fromstring(feed)
    self_link = rss.find(f"channel/{{{ATOM}}}link[@rel='self']")
    href = "" if self_link is None else self_link.get("href", "")
    if not href.endswith("/" + FEED_NAME):
        raise DramaError(f"feed has no atom:link rel=self ending in /{FEED_NAME}")
    old, new = href.removesuffix(FEED_NAME), base(base_url)
    for element in rss.iter():
        for key, value in list(element.attrib.items()):
            if value.startswith(old):
                element.set(key, new + value.removeprefix(old))
        if element.text and element.text.startswith(old):
            element.text = new + element.text.removeprefix(old)
    return _serialize(rss)


def write_feed(
    show: Show,
    episodes: list[Episode],
    build_dir: Path,
    base_url: str | None = None,
    voices: Mapping[str, str] | None = None,
) -> Path:
    """Write build_dir/feed.xml atomically (a server or app never reads half a feed), and
    only when it changed (a podcast app polling it sees a stable file)."""
    feed = render_feed(show, episodes, build_dir, base_url, voices)
    return write_if_changed(build_dir / FEED_NAME, feed)
