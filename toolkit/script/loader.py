"""Read script/show.yaml and its chapter files into a validated Show."""

from __future__ import annotations

import difflib
import os
import re
import stat
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import TypeVar
from urllib.parse import urlsplit

import yaml

from toolkit.errors import Collector, DramaError
from toolkit.script import nodes
from toolkit.script.model import (
    EXTENSIONS,
    Ambience,
    Chapter,
    Line,
    Music,
    Pause,
    Scene,
    Sfx,
    Show,
    Speech,
    Where,
)

SHOW_FILE = "show.yaml"
CACHE_URL = re.compile(r"[a-z][a-z0-9+.-]*://\S+")
SHOW_KEYS = [
    "title", "author", "description", "language", "base_url", "cover", "category",
    "subcategory", "explicit", "type", "copyright", "owner", "narrator", "cast",
    "schedule", "season", "chapters", "formats", "captions", "guid",
    "cache",
]  # fmt: skip
SHOW_REQUIRED = [
    "title", "author", "description", "language", "base_url", "category", "explicit",
    "type", "narrator", "cast", "chapters",
]  # fmt: skip
CHAPTER_KEYS = ["id", "title", "description", "release", "scenes"]
SCENE_KEYS = ["id", "title", "setting", "ambience", "room", "lines"]
ROOMS = ["none", "small", "medium", "large", "outdoor"]
CUE_KEYS = ["narration", "pause", "sfx", "ambience", "music"]
# Which keys may sit beside each main key of a line.
MODIFIERS = {
    "narration": ["direction", "overlap"],
    "speech": ["direction", "ext", "overlap"],
    "pause": [],
    "sfx": ["volume", "pan"],
    "ambience": [],
    "music": ["volume"],
}
ALL_MODIFIERS = {key for keys in MODIFIERS.values() for key in keys}
MAX_PAUSE = 30.0
MAX_CHAPTER_HOURS = 3
FAST_WORDS_PER_SECOND = 4.0  # faster than any voice speaks: the length estimate is a floor
MAX_YAML_BYTES = 2_000_000  # a chapter of several hours is ~200 kB; parsing 50 MB takes a minute
MAX_DESCRIPTION_BYTES = 4000  # Apple's limit for a show's description
# Deeper than any script needs (a line sits 5 levels down); PyYAML composes recursively.
MAX_DEPTH = 32
COVER_SUFFIXES = (".jpg", ".jpeg", ".png")
FORMATS = ["mp3", "flac", "ogg", "opus", "m4b"]  # audio deliverables a show may ask for
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# PyYAML's wording of common mistakes, said as what was found and what was expected.
_YAML_PROBLEMS = {
    "mapping values are not allowed here": "found ':' inside a value, expected the value in "
    "quotes or the key indented like its siblings",
    "found character '\\t' that cannot start any token": "found a tab character, expected "
    "spaces (YAML indents with spaces)",
    "found unexpected end of stream": "found the end of the file, expected a closing quote",
    "but found another document": "found a second document ('---'), expected one per file",
    "expected <block end>, but found ':'": "found ':' without a key, expected key: value",
    "expected <block end>, but found '<block": "found a line indented unlike the ones "
    "around it, expected the same indentation for items of one list or mapping",
    "expected <block end>, but found '<scalar>'": "found more text after a complete value, "
    "expected a new key or item (is a quote above left open?)",
    # Any other token where a block should end ('?', '-', '[', ...): an indentation mistake.
    "expected <block end>, but found": "found a line indented unlike the ones around it, "
    "expected the same indentation for items of one list or mapping",
}
_FLOW = re.compile(r"expected ',' or '([\]}])', but got '(.*)'")


def relative(path: Path, root: Path) -> str:
    """How a file is named in messages: relative to the project, never the machine."""
    for base in (root.absolute(), root.resolve()):
        try:  # first as written: a symlink is named where it is, not where it points
            return path.absolute().relative_to(base).as_posix()
        except ValueError:
            pass
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.name


class _Composer(yaml.SafeLoader):
    """Builds the node tree, refusing nesting deeper than MAX_DEPTH before Python's own
    recursion limit would turn it into a crash."""

    depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        if self.depth >= MAX_DEPTH:
            raise yaml.composer.ComposerError(
                None,
                None,
                f"found values nested more than {MAX_DEPTH} levels deep, expected a shallow script",
                self.peek_event().start_mark,
            )
        self.depth += 1
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def read_bytes(path: Path, name: str, limit: int, what: str) -> bytes:
    """A regular file's bytes, at most `limit` of them: a FIFO would block forever and
    /dev/zero never end, so only regular files are opened, and a file is refused by its size
    before it is read (and read no further than the limit, should it grow meanwhile)."""
    info = os.stat(path)
    if stat.S_ISDIR(info.st_mode):
        raise IsADirectoryError(path)
    if not stat.S_ISREG(info.st_mode):
        kind = "a named pipe" if stat.S_ISFIFO(info.st_mode) else "a device or socket"
        raise DramaError(f"expected {what}, found {kind}", name, 1, 1)
    too_big = f"file is over {limit // 1_000_000} MB, expected {what} of at most that"
    if info.st_size > limit:
        raise DramaError(too_big, name, 1, 1)
    with open(path, "rb") as handle:
        raw = handle.read(limit + 1)
    if len(raw) > limit:
        raise DramaError(too_big, name, 1, 1)
    return raw


def read_yaml(path: Path, name: str) -> yaml.Node:
    """Parse one YAML file to a node tree, turning every failure into a located DramaError."""
    try:
        raw = read_bytes(path, name, MAX_YAML_BYTES, "a YAML file")
    except FileNotFoundError:
        raise DramaError("file not found, expected a YAML file here", name, 1, 1) from None
    except IsADirectoryError:
        raise DramaError("expected a YAML file, found a directory", name, 1, 1) from None
    except OSError as exc:
        raise DramaError(f"cannot read file ({exc.strerror})", name, 1, 1) from None
    try:
        source = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        byte = raw[exc.start]
        raise DramaError(
            f"byte 0x{byte:02x} is not UTF-8, expected UTF-8 text", name, line, column
        ) from None
    try:
        composer = _Composer(source)  # checks for unprintable characters right away
        try:
            node = composer.get_single_node()
        finally:
            composer.dispose()
    except yaml.MarkedYAMLError as exc:
        raise _yaml_error(exc, name) from None
    except yaml.reader.ReaderError as exc:
        line = source.count("\n", 0, exc.position) + 1
        column = exc.position - (source.rfind("\n", 0, exc.position) + 1) + 1
        raise DramaError(
            f"invalid YAML: control character U+{exc.character:04X}, expected printable text",
            name,
            line,
            column,
        ) from None
    if node is None:
        raise DramaError("the file is empty, expected a mapping of keys", name, 1, 1)
    return node


def _yaml_error(exc: yaml.MarkedYAMLError, name: str) -> DramaError:
    """Say what was found and expected, where the mistake is: at the opening quote or bracket
    when the file ended inside one."""
    problem = exc.problem or "invalid YAML"
    opened = exc.context_mark
    at_end = "end of stream" in problem or "<stream end>" in problem
    mark = (opened if at_end else None) or exc.problem_mark or opened
    flow = _FLOW.search(problem)
    if flow and opened:
        close = flow[1]
        start = "[" if close == "]" else "{"
        said = (
            f"found the end of the file, expected '{close}' to close this '{start}'"
            if at_end
            else f"found '{flow[2]}' inside the '{start}' opened at line {opened.line + 1}, "
            f"expected ',' or '{close}'"
        )
    else:
        said = next((v for k, v in _YAML_PROBLEMS.items() if k in problem), None)
        said = said or problem + (f" ({exc.context})" if exc.context else "")
    line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
    return DramaError(f"invalid YAML: {said}", name, line, column)


def load_show(project: Path) -> Show:
    """Load and validate the whole screenplay of the project at `project`."""
    script_dir = project / "script"
    name = relative(script_dir / SHOW_FILE, project)
    fields = nodes.Fields(name, read_yaml(script_dir / SHOW_FILE, name), "show")
    fields.check(SHOW_KEYS, SHOW_REQUIRED)

    def text(key: str, default: str = "") -> str:
        return nodes.text(name, fields[key], f"show {key}") if key in fields else default

    description = text("description")
    if len(description.encode()) > MAX_DESCRIPTION_BYTES:
        raise nodes.fail(
            name,
            fields["description"],
            f"show description: {len(description.encode())} bytes, expected at most "
            f"{MAX_DESCRIPTION_BYTES} (podcast directories cut longer ones)",
        )
    base_url = _base_url(name, fields["base_url"])
    cast = _cast(name, fields["cast"])
    narrator = text("narrator")
    if narrator not in cast:
        raise nodes.fail(
            name,
            fields["narrator"],
            f"show narrator: unknown character '{narrator}', expected one of {', '.join(cast)}",
        )
    owner_name, owner_email = _owner(name, fields["owner"]) if "owner" in fields else ("", "")
    start, every = (
        _schedule(name, fields["schedule"]) if "schedule" in fields else (date(2026, 1, 1), 7)
    )
    cover = _cover(name, fields["cover"], script_dir) if "cover" in fields else None
    paths = _chapter_paths(name, fields["chapters"], script_dir)
    chapters = []
    errors = Collector()
    for number, path in enumerate(paths, start=1):
        try:
            release = start + timedelta(days=every * (number - 1))
        except OverflowError:
            raise nodes.fail(
                name,
                fields["schedule"],
                f"show schedule: chapter {number} would be released after the year 9999, "
                "expected an earlier start",
            ) from None
        with errors.attempt():
            chapters.append(
                _chapter(path, relative(path, project), number, release, cast, narrator)
            )
    errors.done()
    _unique([(c.id, c.id_where) for c in chapters], "chapter id")
    return Show(
        title=text("title"),
        author=text("author"),
        description=description,
        language=text("language"),
        base_url=base_url.rstrip("/") + "/",
        category=text("category"),
        subcategory=text("subcategory") or None,
        explicit=nodes.boolean(name, fields["explicit"], "show explicit"),
        type=nodes.choice(name, fields["type"], "show type", ["serial", "episodic"]),
        narrator=narrator,
        cast=cast,
        chapters=tuple(chapters),
        file=name,
        cover=cover,
        copyright=text("copyright"),
        owner_name=owner_name,
        owner_email=owner_email,
        season=nodes.integer(name, fields["season"], "show season", 1, 999)
        if "season" in fields
        else 1,
        formats=_formats(name, fields["formats"]) if "formats" in fields else ("mp3",),
        caption_sounds=_captions(name, fields["captions"]) if "captions" in fields else True,
        guid=_guid(name, fields["guid"]) if "guid" in fields else None,
        cache=_cache_url(name, fields["cache"]) if "cache" in fields else None,
    )


def _formats(name: str, node: yaml.Node) -> tuple[str, ...]:
    """The deliverables built every time (the MP3 always: it is the feed's enclosure)."""
    items = nodes.sequence(name, node, "show formats")
    asked = [nodes.choice(name, item, "show formats", FORMATS) for item in items]
    return tuple(fmt for fmt in FORMATS if fmt == "mp3" or fmt in asked)


def _captions(name: str, node: yaml.Node) -> bool:
    fields = nodes.Fields(name, node, "show captions")
    fields.check(["sounds"])
    return nodes.boolean(name, fields["sounds"], "captions sounds") if "sounds" in fields else True


def _cache_url(name: str, node: yaml.Node) -> str:
    """A shared cache's fsspec URL (s3://bucket/path, file:///srv/cache, ...)."""
    url = nodes.text(name, node, "show cache")
    if not CACHE_URL.fullmatch(url):
        raise nodes.fail(
            name, node, f"show cache: expected a URL such as s3://bucket/drama, found '{url}'"
        )
    return url.rstrip("/")


def _guid(name: str, node: yaml.Node) -> str:
    guid = nodes.text(name, node, "show guid").lower()
    if not UUID.fullmatch(guid):
        raise nodes.fail(
            name,
            node,
            f"show guid: expected a UUID such as {'0' * 8}-0000-0000-0000-{'0' * 12}, found {nodes.describe(node)}",
        )
    return guid


def _cast(name: str, node: yaml.Node) -> dict[str, str]:
    fields = nodes.Fields(name, node, "show cast")
    cast = {}
    for key, value in fields.values.items():
        if not key.isupper() or not key.replace("_", "").isalpha():
            raise nodes.fail(
                name,
                fields.key_nodes[key],
                f"show cast: expected a character name in CAPITALS, found '{key}'",
            )
        cast[key] = nodes.text(name, value, f"cast {key}")
    if not cast:
        raise nodes.fail(name, node, "show cast: expected at least one character, found none")
    return cast


def _owner(name: str, node: yaml.Node) -> tuple[str, str]:
    fields = nodes.Fields(name, node, "show owner")
    fields.check(["name", "email"], ["name", "email"])
    email = nodes.text(name, fields["email"], "owner email")
    if not EMAIL.fullmatch(email):
        raise nodes.fail(
            name, fields["email"], f"owner email: expected an email address, found '{email}'"
        )
    return nodes.text(name, fields["name"], "owner name"), email


def _schedule(name: str, node: yaml.Node) -> tuple[date, int]:
    fields = nodes.Fields(name, node, "show schedule")
    fields.check(["start", "every_days"], ["start"])
    every = (
        nodes.integer(name, fields["every_days"], "schedule every_days", 0, 366)
        if "every_days" in fields
        else 7
    )
    return nodes.day(name, fields["start"], "schedule start"), every


def _base_url(name: str, node: yaml.Node) -> str:
    url = nodes.text(name, node, "show base_url")
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        valid = valid and not parts.query and not parts.fragment and "?" not in url
        valid = valid and "#" not in url
    except ValueError:  # e.g. an unclosed '[' of an IPv6 host
        valid = False
    if not valid or any(char.isspace() for char in url):
        raise nodes.fail(
            name,
            node,
            f"show base_url: expected an http(s) URL such as https://example.com/show/ "
            f"(no query or fragment), found {nodes.describe(node)}",
        )
    return url


def _inside(name: str, node: yaml.Node, script_dir: Path, what: str) -> Path:
    """A file named relative to script/ that stays inside it (no '..', no absolute path)."""
    file = nodes.text(name, node, what)
    path = script_dir / file
    try:
        inside = not Path(file).is_absolute() and script_dir.resolve() in path.resolve().parents
        exists = path.exists()
    except OSError as exc:  # e.g. a name too long for the file system
        raise nodes.fail(
            name, node, f"{what}: cannot use {nodes.describe(node)} ({exc.strerror})"
        ) from None
    if not inside:
        raise nodes.fail(
            name, node, f"{what}: '{file}' is outside script/, expected a file name in script/"
        )
    if not exists:
        raise nodes.fail(name, node, f"{what}: file '{file}' not found in script/")
    return path


def _chapter_paths(name: str, node: yaml.Node, script_dir: Path) -> list[Path]:
    """The chapter files in order: each inside script/, existing, and listed once."""
    items = nodes.sequence(name, node, "show chapters")
    if not items:
        raise nodes.fail(
            name, node, "show chapters: expected at least one chapter file, found none"
        )
    paths = [_inside(name, item, script_dir, "show chapters") for item in items]
    inside = script_dir.resolve()
    _unique(
        [
            (path.resolve().relative_to(inside).as_posix(), nodes.where(name, item))
            for path, item in zip(paths, items, strict=True)
        ],
        "chapter",
    )
    return paths


def _cover(name: str, node: yaml.Node, script_dir: Path) -> str:
    path = _inside(name, node, script_dir, "show cover")
    if path.suffix.lower() not in COVER_SUFFIXES or not path.is_file():
        raise nodes.fail(
            name,
            node,
            f"show cover: expected a JPEG or PNG file in script/, found {nodes.describe(node)}",
        )
    return path.relative_to(script_dir).as_posix()


def _unique(items: list[tuple[str, Where]], what: str) -> None:
    first: dict[str, Where] = {}
    for value, at in items:
        if value in first:
            raise DramaError(
                f"duplicate {what} '{value}', expected each to be unique (first at {first[value]})",
                at.file,
                at.line,
                at.column,
            )
        first[value] = at


def _chapter(
    path: Path, name: str, number: int, release: date, cast: dict[str, str], narrator: str
) -> Chapter:
    fields = nodes.Fields(name, read_yaml(path, name), "chapter")
    fields.check(CHAPTER_KEYS, ["id", "title", "scenes"])
    scene_nodes = nodes.sequence(name, fields["scenes"], "chapter scenes")
    if not scene_nodes:
        raise nodes.fail(
            name, fields["scenes"], "chapter scenes: expected at least one scene, found none"
        )
    scenes = tuple(_each(lambda node: _scene(name, node, cast, narrator), scene_nodes))
    _unique([(s.id, s.where) for s in scenes], "scene id")
    _check_length(scenes)
    return Chapter(
        id=nodes.ident(name, fields["id"], "chapter id"),
        number=number,
        title=nodes.text(name, fields["title"], "chapter title"),
        description=nodes.text(name, fields["description"], "chapter description")
        if "description" in fields
        else "",
        release=nodes.day(name, fields["release"], "chapter release")
        if "release" in fields
        else release,
        scenes=scenes,
        file=name,
        id_where=nodes.where(name, fields["id"]),
    )


T = TypeVar("T")


def _each(make: Callable[[yaml.Node], T], items: list[yaml.Node]) -> list[T]:
    """`make` applied to every item, going on past a bad one to report them all."""
    errors, out = Collector(), []
    for item in items:
        with errors.attempt():
            out.append(make(item))
    errors.done()
    return out


def _check_length(scenes: tuple[Scene, ...]) -> None:
    """Refuse, at the line where it happens, a chapter that runs past MAX_CHAPTER_HOURS even
    spoken fast: mixing it would need more memory than a machine has."""
    seconds = 0.0
    for scene in scenes:
        for line in scene.lines:
            if isinstance(line, Pause):
                seconds += line.seconds
            elif isinstance(line, Speech):
                seconds += len(line.text.split()) / FAST_WORDS_PER_SECOND
            if seconds > MAX_CHAPTER_HOURS * 3600:
                raise DramaError(
                    f"chapter runs past {MAX_CHAPTER_HOURS} hours by here, expected shorter "
                    "chapters (split it into several files)",
                    line.where.file,
                    line.where.line,
                    line.where.column,
                )


def _scene(name: str, node: yaml.Node, cast: dict[str, str], narrator: str) -> Scene:
    fields = nodes.Fields(name, node, "scene")
    fields.check(SCENE_KEYS, ["id", "setting", "ambience", "lines"])
    lines = nodes.sequence(name, fields["lines"], "scene lines")
    if not lines:
        raise nodes.fail(
            name, fields["lines"], "scene lines: expected at least one line, found none"
        )
    scene_id = nodes.ident(name, fields["id"], "scene id")
    return Scene(
        id=scene_id,
        title=nodes.text(name, fields["title"], "scene title")
        if "title" in fields
        else scene_id.replace("-", " ").title(),
        setting=nodes.text(name, fields["setting"], "scene setting"),
        ambience=nodes.ident(name, fields["ambience"], "scene ambience"),
        room=nodes.choice(name, fields["room"], "scene room", ROOMS)
        if "room" in fields
        else "small",
        lines=tuple(_each(lambda item: _line(name, item, cast, narrator), lines)),
        where=nodes.where(name, fields["id"]),
        ambience_where=nodes.where(name, fields["ambience"]),
    )


def _character_hint(key: str, cast: dict[str, str], narrator: str) -> str:
    """'did you mean MOM?' for Mom, MOTHER (her cast description) or NARATOR (the narrator),
    with a note that character keys are capitals; else the cast."""
    lowered = key.lower()
    names = {name.lower(): name for name in cast}
    by_role = {word.lower(): name for name, role in cast.items() for word in role.split()}
    guess = names.get(lowered)
    for options in (names, by_role, {"narrator": narrator, "narration": narrator}):
        match = difflib.get_close_matches(lowered, list(options), n=1, cutoff=0.75)
        guess = guess or (options[match[0]] if match else None)
    known = ", ".join(sorted(cast))
    if guess is None:
        return f"expected one of {known} (character keys are in CAPITALS)"
    return f"did you mean '{guess}'? (character keys are in CAPITALS: {known})"


def _line(name: str, node: yaml.Node, cast: dict[str, str], narrator: str) -> Line:
    characters = sorted(cast)
    fields = nodes.Fields(name, node, "line")
    mains = [k for k in fields.values if k in CUE_KEYS or k.isupper()]
    if len(mains) != 1:
        expected = f"one of {', '.join(CUE_KEYS)} or a character ({', '.join(characters)})"
        if not fields.key_nodes:
            raise nodes.fail(name, node, f"line: empty, expected {expected}")
        first = next(iter(fields.key_nodes))
        if not mains and all(k in ALL_MODIFIERS for k in fields.values):
            raise nodes.fail(
                name,
                fields.key_nodes[first],
                f"line: '{first}' without a line, expected {expected}",
            )
        if not mains and first[:1].isupper():  # 'Mom', 'Mother': a character, not a cue
            hint = _character_hint(first, cast, narrator)
            raise nodes.fail(
                name, fields.key_nodes[first], f"line: unknown character '{first}', {hint}"
            )
        if not mains:
            hint = nodes.closest(first, CUE_KEYS + characters)
            raise nodes.fail(name, fields.key_nodes[first], f"line: unknown key '{first}', {hint}")
        raise nodes.fail(
            name,
            fields.key_nodes[mains[1]],
            f"line: '{mains[0]}' and '{mains[1]}' in one line, expected {expected}",
        )
    main = mains[0]
    value = fields[main]
    at = nodes.where(name, fields.key_nodes[main])
    kind = "speech" if main.isupper() else main
    fields.check([main, *MODIFIERS[kind]])
    if kind == "speech" and main not in cast:
        raise nodes.fail(
            name,
            fields.key_nodes[main],
            f"line: unknown character '{main}', {_character_hint(main, cast, narrator)}",
        )
    if kind in ("speech", "narration"):
        return Speech(
            character=narrator if kind == "narration" else main,
            text=nodes.text(name, value, f"{main} line", speakable=True),
            where=at,
            direction=nodes.text(name, fields["direction"], "direction")
            if "direction" in fields
            else None,
            ext="V.O."
            if kind == "narration"
            else (
                nodes.choice(name, fields["ext"], "ext", list(EXTENSIONS))
                if "ext" in fields
                else None
            ),
            overlap=nodes.number(name, fields["overlap"], "overlap", 0.0, 5.0)
            if "overlap" in fields
            else 0.0,
        )
    if kind == "pause":
        seconds = nodes.number(name, value, "pause", 0.0, MAX_PAUSE)
        if seconds <= 0:
            raise nodes.fail(
                name,
                value,
                f"pause: expected seconds above 0 and at most {MAX_PAUSE:g}, found {nodes.describe(value)}",
            )
        return Pause(seconds, at)
    volume = (
        nodes.number(name, fields["volume"], "volume", -60.0, 12.0) if "volume" in fields else 0.0
    )
    sound = nodes.ident(name, value, f"{kind} name")
    if kind == "sfx":
        pan = nodes.number(name, fields["pan"], "pan", -1.0, 1.0) if "pan" in fields else 0.0
        return Sfx(sound, at, volume=volume, pan=pan)
    if kind == "music":
        return Music(sound, at, volume=volume)
    return Ambience(sound, at)
