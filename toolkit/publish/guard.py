"""Guardrails before publishing: what would make a valid script a broken show once online.

`drama check` and `drama build` print these as warnings; `drama deploy` and
`drama build --strict` refuse to go on while any is left. Each finding points at the value
in show.yaml to change. Release dates are not a problem but a fact to announce: episodes
dated after today are named at build, and `--hold-scheduled` keeps them offline until their
day (see `scheduled`)."""

from __future__ import annotations

import functools
import ipaddress
import os
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from toolkit.errors import DramaError
from toolkit.publish.feed import FEED_NAME, base, podcast_guid, show_guid
from toolkit.script import nodes
from toolkit.script.loader import SHOW_FILE, read_yaml, relative
from toolkit.script.model import Chapter, Show, Where

TODAY_ENV = "DRAMA_TODAY"  # YYYY-MM-DD: build as of that day (reproducible, or a preview)
# Apple Podcasts categories and their subcategories (podcasters.apple.com, 2024 list).
APPLE_CATEGORIES: dict[str, list[str]] = {
    "Arts": ["Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"],
    "Business": [
        "Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit",
    ],
    "Comedy": ["Comedy Interviews", "Improv", "Stand-Up"],
    "Education": ["Courses", "How To", "Language Learning", "Self-Improvement"],
    "Fiction": ["Comedy Fiction", "Drama", "Science Fiction"],
    "Government": [],
    "History": [],
    "Health & Fitness": [
        "Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality",
    ],
    "Kids & Family": ["Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"],
    "Leisure": [
        "Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies",
        "Home & Garden", "Video Games",
    ],
    "Music": ["Music Commentary", "Music History", "Music Interviews"],
    "News": [
        "Business News", "Daily News", "Entertainment News", "News Commentary", "Politics",
        "Sports News", "Tech News",
    ],
    "Religion & Spirituality": [
        "Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality",
    ],
    "Science": [
        "Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics",
        "Natural Sciences", "Nature", "Physics", "Social Sciences",
    ],
    "Society & Culture": [
        "Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships",
    ],
    "Sports": [
        "Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey",
        "Rugby", "Running", "Soccer", "Softball", "Swimming", "Tennis", "Volleyball",
        "Wilderness", "Wrestling",
    ],
    "Technology": [],
    "True Crime": [],
    "TV & Film": ["After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"],
}  # fmt: skip
# ISO 639-1: the two-letter codes Apple and the RSS <language> element expect.
_CODES = (
    "aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv "
    "cy da de dv dz ee el en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr "
    "ht hu hy hz ia id ie ig ii ik io is it iu ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw "
    "ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na nb nd ne ng nl nn no nr nv "
    "ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so sq sr "
    "ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi "
    "yo za zh zu"
)
ISO_639_1 = frozenset(_CODES.split(" "))
# BCP 47 as feeds use it: language, optional script (Latn), optional region (GB, 419).
_BCP47 = re.compile(r"([a-z]{2})(?:-[A-Z][a-z]{3})?(?:-(?:[A-Z]{2}|[0-9]{3}))?")
# Names for documentation and tests, never real addresses (RFC 2606, RFC 6761, RFC 6762).
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid", "localhost", "local", "internal", "lan", "home")


@dataclass(frozen=True)
class Finding:
    """One thing to fix before publishing, and where."""

    where: Where
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class Refused(DramaError):
    """Publishing stopped by guardrails: every finding, one per line."""

    def __init__(self, findings: list[Finding]):
        first = findings[0]
        super().__init__(first.message, first.where.file, first.where.line, first.where.column)
        self.findings = findings

    def __str__(self) -> str:
        rest = "".join(f"\nerror: {finding}" for finding in self.findings[1:])
        return f"{self.findings[0]}{rest}"


def today() -> date:
    """The day a build publishes as: $DRAMA_TODAY when set (same day, same bytes), else the
    current UTC date."""
    value = os.environ.get(TODAY_ENV)
    if not value:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DramaError(f"{TODAY_ENV}: expected a date YYYY-MM-DD, found '{value}'") from None


def released(show: Show, day: date) -> list[Chapter]:
    return [chapter for chapter in show.chapters if chapter.release <= day]


def scheduled(show: Show, day: date) -> list[Chapter]:
    """Chapters dated after `day`: built and cached, but not published yet."""
    return [chapter for chapter in show.chapters if chapter.release > day]


def lint(root: Path, show: Show) -> list[Finding]:
    """Everything in show.yaml that would publish a broken or clashing show."""
    name = relative(root / "script" / SHOW_FILE, root)
    fields = nodes.Fields(name, read_yaml(root / "script" / SHOW_FILE, name), "show")
    at = {key: nodes.where(name, fields[key]) for key in fields.values}
    found: list[Finding] = []
    problem = _host_problem(urlsplit(show.base_url).hostname or "")
    if problem:
        found.append(Finding(at["base_url"], _base_url_message(show, problem)))
    if show.guid and uuid_of_template() == show_guid(show):
        found.append(
            Finding(
                at["guid"],
                f"show guid: {show.guid} is the drama new template's podcast:guid, shared by "
                "every show made from it; remove `guid:` or give this show its own UUID",
            )
        )
    found += _category(show, at)
    if not _BCP47.fullmatch(show.language) or show.language[:2] not in ISO_639_1:
        found.append(
            Finding(
                at["language"],
                f"show language: found '{show.language}', expected an ISO 639-1 code such as "
                "en, or with a region such as en-GB (podcast apps read only codes)",
            )
        )
    return found


@functools.cache
def uuid_of_template():
    """The podcast:guid every show made by `drama new` gets until its base_url is changed."""
    text = (files("toolkit") / "template" / "script" / SHOW_FILE).read_text(encoding="utf-8")
    return podcast_guid(base(yaml.safe_load(text)["base_url"]) + FEED_NAME)


def _host_problem(host: str) -> str | None:
    """Why podcast apps cannot reach `host`, or None when it may be a public address."""
    host = host.lower().rstrip(".")
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        ip = None
    if ip is not None:
        if ip.is_loopback or ip.is_unspecified:
            return "a loopback address (this machine only)"
        if ip.is_private or ip.is_link_local or ip.is_reserved:
            return "a private network address"
        return None
    if host == "localhost" or host.endswith(".localhost"):
        return "a loopback address (this machine only)"
    if any(host == d or host.endswith("." + d) for d in RESERVED_DOMAINS):
        return "a domain reserved for examples"
    if "." not in host or host.rsplit(".", 1)[1] in RESERVED_TLDS:
        return "not a public domain name"
    return None


def _base_url_message(show: Show, problem: str) -> str:
    shared = (
        " the same one as every show made by `drama new`,"
        if show_guid(show) == uuid_of_template()
        else ""
    )
    return (
        f"show base_url: {show.base_url} is {problem}: fine for a local preview, but podcast "
        f"apps cannot fetch it, and the show's podcast:guid {show_guid(show)} is{shared} "
        "derived from it; set base_url to where the site will be published, "
        "e.g. https://you.github.io/show/, before the first release"
    )


def _category(show: Show, at: dict[str, Where]) -> list[Finding]:
    if show.category not in APPLE_CATEGORIES:
        hint = nodes.closest(show.category, list(APPLE_CATEGORIES))
        if ">" in show.category or "/" in show.category:
            hint = "put the subcategory in `subcategory:`; " + hint
        return [Finding(at["category"], f"show category: '{show.category}' is not one of "
                        f"Apple's podcast categories; {hint}")]  # fmt: skip
    subs = APPLE_CATEGORIES[show.category]
    if show.subcategory and show.subcategory not in subs:
        hint = (
            nodes.closest(show.subcategory, subs)
            if subs
            else f"{show.category} has no subcategories: remove it"
        )
        return [
            Finding(
                at["subcategory"],
                f"show subcategory: '{show.subcategory}' is not an Apple subcategory of "
                f"{show.category}; {hint}",
            )
        ]
    return []
