"""The show site: an index of episodes and one page per episode with a player, its chapters and
a transcript that follows the audio. Plain static files from hand-written templates in site/,
with the transcript inlined as JSON, so it works from any static host and from file://.

Pages are pure functions of the show and its episodes (no clock), written only when their bytes
change, so a rebuild with no changes leaves every file as it was."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from html import escape
from importlib.resources import files
from pathlib import Path
from string import Template

from toolkit.fsutil import write_if_changed
from toolkit.master.episode import Episode
from toolkit.mix.timeline import Cue
from toolkit.publish.feed import FEED_NAME, base
from toolkit.script.model import Show

ASSETS = ("site.css", "site.js", "feed.xsl")
INDEX_NAME = "index.html"
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]


@dataclass(frozen=True)
class Line:
    """One transcript line as the page's JSON carries it; `words` are (start, end, word)
    timings when the build has them (empty otherwise, and the page highlights whole lines)."""

    start: float
    end: float
    speaker: str
    text: str
    words: tuple[tuple[float, float, str], ...] = ()


def lines(cues: tuple[Cue, ...]) -> list[Line]:
    """Speech cues in time order, whole lines (the page wraps them, unlike captions)."""
    speech = sorted((c for c in cues if c.kind == "speech"), key=lambda c: (c.start, c.end))
    return [
        Line(c.start, c.end, speaker(c.name), " ".join(c.text.split()), _words(c)) for c in speech
    ]


def _words(cue: Cue) -> tuple[tuple[float, float, str], ...]:
    # Word timings are optional on a cue: a build that aligns words adds them.
    return tuple((float(s), float(e), str(w)) for s, e, w in getattr(cue, "words", None) or ())


def speaker(name: str) -> str:
    return name.title()


def page_name(episode: Episode) -> str:
    """episodes/NN-slug.html: the same stem as the episode's MP3."""
    return episode.mp3.with_suffix(".html").name


def clock(seconds: float) -> str:
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _iso_duration(seconds: float) -> str:
    total = max(0, round(seconds))
    return f"PT{total // 3600}H{total // 60 % 60}M{total % 60}S"


def _date(day: date) -> str:
    return f'<time datetime="{day.isoformat()}">{day.day} {MONTHS[day.month - 1]} {day.year}</time>'


def _duration(seconds: float) -> str:
    return f'<time datetime="{_iso_duration(seconds)}">{clock(seconds)}</time>'


def _template(name: str) -> Template:
    return Template((files("toolkit.publish") / "site" / name).read_text(encoding="utf-8"))


def _json_in_html(value: object) -> str:
    """JSON that cannot end its <script> element or open a comment, whatever the text says."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_index(show: Show, episodes: list[Episode]) -> bytes:
    """index.html: cover, title, description, cast, a subscribe box and every episode."""
    feed_url = base(show.base_url) + FEED_NAME
    bare = feed_url.split("://", 1)[-1]
    cast = "\n".join(
        f"      <div><dt>{escape(speaker(name))}</dt><dd>{escape(role)}</dd></div>"
        for name, role in show.cast.items()
    )
    items = []
    for episode in episodes:
        chapter = episode.chapter
        title = escape(chapter.title)
        href = f"episodes/{escape(page_name(episode))}"
        mp3 = f"episodes/{escape(episode.mp3.name)}"
        items.append(
            f'      <li>\n        <button type="button" class="play" data-src="{mp3}" '
            f'data-title="{title}" aria-label="Play episode {chapter.number}: {title}">'
            f'<span aria-hidden="true">▶</span></button>\n'
            f'        <div>\n          <h3><span class="number">{chapter.number}.</span> '
            f'<a href="{href}">{title}</a></h3>\n'
            f'          <p class="meta">{_date(chapter.release)} · {_duration(episode.duration)}</p>\n'
            f"          <p>{escape(chapter.description)}</p>\n        </div>\n      </li>"
        )
    page = _template("index.html").substitute(
        language=escape(show.language),
        title=escape(show.title),
        author=escape(show.author),
        description=escape(show.description),
        feed_url=escape(feed_url),
        podcast_url=escape("podcast://" + bare),
        pcast_url=escape("pcast://" + bare),
        cast=cast,
        episodes="\n".join(items),
        copyright=escape(show.copyright or show.author),
    )
    return page.encode()


def render_episode(
    show: Show, episode: Episode, previous: Episode | None, following: Episode | None
) -> bytes:
    """One episode's page: player, chapters, transcript (and its timings as inline JSON)."""
    chapter = episode.chapter
    spoken = lines(episode.cues)
    marks = sorted(episode.marks, key=lambda m: m.start)
    data = {
        "duration": round(episode.duration, 3),
        "chapters": [
            {"start": round(m.start, 3), "end": round(m.end, 3), "title": m.title} for m in marks
        ],
        "lines": [_line_data(line) for line in spoken],
    }
    chapter_items = "\n".join(
        f'        <li><button type="button" data-start="{m.start:.3f}">'
        f'<span class="at">{clock(m.start)}</span> {escape(m.title)}</button></li>'
        for m in marks
    )
    line_items = "\n".join(
        f'        <li id="line-{n}"><button type="button" class="at" '
        f'aria-label="Play from {clock(line.start)}">{clock(line.start)}</button> '
        f'<span class="who">{escape(line.speaker)}</span> '
        f'<span class="text">{escape(line.text)}</span></li>'
        for n, line in enumerate(spoken, start=1)
    )
    stem = episode.mp3.stem
    page = _template("episode.html").substitute(
        language=escape(show.language),
        show=escape(show.title),
        number=chapter.number,
        title=escape(chapter.title),
        description=escape(chapter.description),
        date=_date(chapter.release),
        duration=_duration(episode.duration),
        seconds=f"{episode.duration:.0f}",
        mp3=escape(episode.mp3.name),
        vtt=escape(f"{stem}.vtt"),
        srt=escape(f"{stem}.srt"),
        chapters_json=escape(f"{stem}.chapters.json"),
        previous=_neighbour(previous, "previous", "← "),
        next=_neighbour(following, "next", ""),
        chapters=chapter_items,
        lines=line_items,
        data=_json_in_html(data),
        copyright=escape(show.copyright or show.author),
    )
    return page.encode()


def _line_data(line: Line) -> dict[str, object]:
    data: dict[str, object] = {
        "start": round(line.start, 3),
        "end": round(line.end, 3),
        "speaker": line.speaker,
        "text": line.text,
    }
    if line.words:
        data["words"] = [[round(s, 3), round(e, 3), w] for s, e, w in line.words]
    return data


def _neighbour(episode: Episode | None, rel: str, arrow: str) -> str:
    if episode is None:
        return ""
    title = escape(episode.chapter.title)
    label = f"{arrow}{episode.chapter.number}. {title}" + (" →" if rel == "next" else "")
    return f'<a rel="{rel}" href="{escape(page_name(episode))}">{label}</a>'


def write_site(show: Show, episodes: list[Episode], build_dir: Path) -> list[Path]:
    """Write index.html, every episode page and the assets; returns the episode pages (the
    build keeps those and removes any other page in episodes/)."""
    ordered = sorted(episodes, key=lambda e: e.chapter.number)
    folder = files("toolkit.publish") / "site"
    for name in ASSETS:
        write_if_changed(build_dir / name, (folder / name).read_bytes())
    write_if_changed(build_dir / INDEX_NAME, render_index(show, ordered))
    pages = []
    for n, episode in enumerate(ordered):
        previous = ordered[n - 1] if n else None
        following = ordered[n + 1] if n + 1 < len(ordered) else None
        body = render_episode(show, episode, previous, following)
        pages.append(write_if_changed(episode.mp3.with_suffix(".html"), body))
    return pages
