"""Serve build/ to real podcast apps and browsers: GET/HEAD, byte ranges (apps seek and resume
with them; the stdlib SimpleHTTPRequestHandler ignores Range), conditional requests, and a feed
whose URLs name the address it is served on, so a phone on the LAN can preview the show.

The build folder is looked up by path on every request and no file stays open between requests,
so a build that swaps a new folder in over build/ is served whole from the next request on."""

from __future__ import annotations

import contextlib
import hashlib
import io
import mimetypes
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import formatdate, parsedate_to_datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from toolkit.errors import DramaError
from toolkit.publish.feed import FEED_NAME, rebase_feed

FeedSource = Callable[[str], bytes]  # served base URL -> feed bytes

CHUNK = 64 * 1024
BACKLOG = 128  # the stdlib's 5 drops connections when a page and an app fetch at once
MAX_TARGET = 4096  # longer request targets get 414 (no file name on disk is that long)
RELOAD_PATH = "/__drama/reload"  # polled by pages served with live reload
FEED_TYPE = "application/rss+xml; charset=utf-8"
# Browsers show rss+xml as text but apply the feed's XSL stylesheet to XML, so a browser
# navigation (it accepts text/html) gets the feed as XML; apps get rss+xml.
BROWSER_FEED_TYPE = "application/xml; charset=utf-8"
TYPES = {
    ".mp3": "audio/mpeg",
    ".opus": "audio/ogg; codecs=opus",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".m4b": "audio/mp4",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip",
    ".json": "application/json",
    ".xml": "application/xml",
    ".xsl": "text/xsl; charset=utf-8",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
}
# Read by web players and apps on other origins (transcripts, chapters, the feed).
SHARED = (".vtt", ".srt", ".json", ".xml")
# A Host header goes into the feed's URLs, so only plain host[:port] forms are trusted.
HOST = re.compile(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})", re.IGNORECASE)
ETAG = re.compile(r'\s*(?:W/)?("[^"]*")\s*(?:,|$)')
# Polls the reload stamp and reloads the page when a rebuild changed build/.
RELOAD_SCRIPT = (
    "<script>(()=>{let s=null;const p=()=>fetch('" + RELOAD_PATH + "',{cache:'no-store'})"
    ".then(r=>r.text()).then(t=>{if(s!==null&&t!==s)location.reload();s=t}).catch(()=>{});"
    "p();setInterval(p,1000)})();</script>"
).encode()


def content_type(path: Path) -> str:
    """Types apps rely on, whatever the machine's mime.types says."""
    guessed = mimetypes.guess_type(path.name)[0]
    return TYPES.get(path.suffix.lower()) or guessed or "application/octet-stream"


def parse_range(header: str | None, size: int) -> range | None:
    """The one byte range asked for, or None to send everything: no header, another unit,
    several ranges or a malformed one, all of which RFC 9110 lets a server ignore.
    An empty range means unsatisfiable (416)."""
    match = RANGE.fullmatch((header or "").strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if not first:  # suffix: the last n bytes
        return range(max(size - int(last), 0), size) if int(last) else range(0)
    start = int(first)
    if last and int(last) < start:
        return None
    if start >= size:
        return range(0)
    return range(start, min(int(last) + 1, size) if last else size)


def resolve(root: Path, target: str) -> Path | HTTPStatus:
    """The file under `root` (already resolved) that a request target names, or the status to
    answer. Decodes once; rejects what only an attack sends (double encoding, backslashes, NUL);
    hides dotfiles; follows symlinks only while they stay inside root."""
    if len(target) > MAX_TARGET:
        return HTTPStatus.REQUEST_URI_TOO_LONG
    raw = target.split("?", 1)[0].split("#", 1)[0]
    path = unquote(raw)
    if not raw.startswith("/") or "\\" in path or "\0" in path or unquote(path) != path:
        return HTTPStatus.BAD_REQUEST
    parts = [part for part in path.split("/") if part]
    if any(part.startswith(".") for part in parts):
        return HTTPStatus.NOT_FOUND
    candidate = root.joinpath(*parts)
    try:
        if candidate.is_dir():
            candidate = candidate / "index.html"
        found = candidate.resolve()
    except (OSError, RuntimeError, ValueError):  # name too long, symlink loop, odd bytes
        return HTTPStatus.NOT_FOUND
    return found if found.is_relative_to(root) else HTTPStatus.NOT_FOUND


@dataclass(frozen=True)
class Validators:
    """What conditional requests compare: a strong ETag (a hash of the bytes) and the date."""

    etag: str
    modified: float  # seconds since the epoch

    @property
    def last_modified(self) -> str:
        return formatdate(self.modified, usegmt=True)


class _Hashes:
    """Content hashes of served files by (device, inode, size, mtime): a file written again
    (atomically, so a new inode) is hashed again; an unchanged one only once."""

    def __init__(self) -> None:
        self._known: dict[tuple[int, ...], str] = {}
        self._lock = threading.Lock()

    def of(self, stream: BinaryIO) -> str:
        info = os.fstat(stream.fileno())
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        with self._lock:
            known = self._known.get(key)
        if known is None:
            digest = hashlib.sha256()
            stream.seek(0)
            while chunk := stream.read(CHUNK):
                digest.update(chunk)
            known = digest.hexdigest()[:32]
            with self._lock:
                if len(self._known) > 4096:
                    self._known.clear()
                self._known[key] = known
        return known


def _tags(header: str) -> list[str] | None:
    """The entity tags of an If-None-Match / If-Range value (None for "*")."""
    if header.strip() == "*":
        return None
    return [match.group(1) for match in ETAG.finditer(header)]


def _date(header: str) -> float | None:
    try:
        return parsedate_to_datetime(header).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def not_modified(headers, current: Validators) -> bool:
    """RFC 9110 13.1.2/13.1.3: If-None-Match (weak comparison) wins over If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        tags = _tags(if_none_match)
        return tags is None or current.etag in tags
    since = _date(headers.get("If-Modified-Since") or "")
    return since is not None and int(current.modified) <= since


def range_applies(headers, current: Validators) -> bool:
    """If-Range: the Range counts only while the client's copy is still this file's bytes: its
    strong ETag is ours, or its date is exactly our Last-Modified. Anything else gets the whole
    file, so a resumed download never splices an old head onto a new tail."""
    if_range = headers.get("If-Range")
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith("W/"):
        return False
    if value.startswith('"'):
        return value == current.etag
    return value == current.last_modified


def _disk_feed(root: Path, base_url: str) -> bytes:
    return rebase_feed((root / FEED_NAME).read_bytes(), base_url)


def build_stamp(root: Path) -> str:
    """Changes whenever a build writes a file in root (write_if_changed leaves the rest)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        with contextlib.suppress(OSError):
            info = path.stat()
            digest.update(f"{path.relative_to(root)}:{info.st_size}:{info.st_mtime_ns}\n".encode())
    return digest.hexdigest()[:16]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: apps fetch many ranges of one file
    server_version = "drama-toolkit"
    timeout = 60  # drop idle keep-alive connections instead of holding a thread
    build_dir: Path
    feed_for: Callable[[Path, str], bytes]
    live_reload: bool
    verbose: bool
    hashes: _Hashes

    def do_GET(self) -> None:
        self._respond(with_body=True)

    def do_HEAD(self) -> None:
        self._respond(with_body=False)

    def log_message(self, format: str, *args: object) -> None:
        if self.verbose:
            super().log_message(format, *args)

    def _base_url(self) -> str:
        host = self.headers.get("Host", "")
        if not HOST.fullmatch(host):
            host = "{}:{}".format(*self.server.server_address[:2])
        return f"http://{host}/"

    def _open(self, root: Path, path: Path) -> tuple[BinaryIO, str, Validators]:
        """The bytes to send, their type and validators, all taken from one open file."""
        kind = content_type(path)
        if path == root / FEED_NAME:
            body = self.feed_for(root, self._base_url())
            modified = path.stat().st_mtime if path.exists() else time.time()
            browser = "text/html" in self.headers.get("Accept", "")
            kind = BROWSER_FEED_TYPE if browser else FEED_TYPE
        elif self.live_reload and kind.startswith("text/html"):
            with path.open("rb") as handle:
                modified = os.fstat(handle.fileno()).st_mtime
                body = _inject(handle.read())
        else:
            stream = path.open("rb")
            try:
                etag = f'"{self.hashes.of(stream)}"'
                modified = os.fstat(stream.fileno()).st_mtime
            except BaseException:
                stream.close()
                raise
            return stream, kind, Validators(etag, modified)
        etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        return io.BytesIO(body), kind, Validators(etag, modified)

    def _respond(self, with_body: bool) -> None:
        root = self.build_dir.resolve()
        if self.live_reload and self.path.split("?", 1)[0] == RELOAD_PATH:
            self._send_bytes(build_stamp(root).encode(), "text/plain; charset=utf-8", with_body)
            return
        found = resolve(root, self.path)
        if isinstance(found, HTTPStatus):
            self.send_error(found)
            return
        try:
            stream, kind, current = self._open(root, found)
        except (OSError, ValueError):  # gone, a folder, unreadable, name too long
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with stream:
            if not_modified(self.headers, current):
                self.send_response(HTTPStatus.NOT_MODIFIED)
                self._validators(current, kind)
                self.end_headers()
                return
            size = stream.seek(0, io.SEEK_END)
            asked = self.headers.get("Range") if range_applies(self.headers, current) else None
            wanted = parse_range(asked, size)
            if wanted is not None and not wanted:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.send_header("Content-Length", "0")
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                return
            span = wanted or range(size)
            self.send_response(HTTPStatus.PARTIAL_CONTENT if wanted else HTTPStatus.OK)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(span)))
            self.send_header("Accept-Ranges", "bytes")
            self._validators(current, kind)
            if wanted:
                self.send_header("Content-Range", f"bytes {span.start}-{span.stop - 1}/{size}")
            self.end_headers()
            if with_body:
                stream.seek(span.start)
                _copy(stream, self.wfile, len(span))

    def _validators(self, current: Validators, kind: str) -> None:
        self.send_header("ETag", current.etag)
        self.send_header("Last-Modified", current.last_modified)
        if kind in (FEED_TYPE, BROWSER_FEED_TYPE):
            self.send_header("Vary", "Accept")
        if kind in (FEED_TYPE, BROWSER_FEED_TYPE) or self.path.split("?", 1)[0].lower().endswith(
            SHARED
        ):
            self.send_header("Access-Control-Allow-Origin", "*")
        if self.live_reload:
            self.send_header("Cache-Control", "no-cache")  # revalidate after every rebuild

    def _send_bytes(self, body: bytes, kind: str, with_body: bool) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if with_body:
            self.wfile.write(body)


def _inject(page: bytes) -> bytes:
    """The page with the reload hook just before </body> (or at the end)."""
    at = page.rfind(b"</body>")
    at = len(page) if at < 0 else at
    return page[:at] + RELOAD_SCRIPT + page[at:]


def _copy(source: BinaryIO, sink: BinaryIO, length: int) -> None:
    while length > 0:
        chunk = source.read(min(CHUNK, length))
        if not chunk:  # file shrank under us; the client sees a short body
            return
        sink.write(chunk)
        length -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = BACKLOG

    def handle_error(self, request: object, client_address: object) -> None:
        """Apps hang up mid-file all the time (seeking, pausing): not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)


def make_server(
    build_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    on_request_feed: FeedSource | None = None,
    verbose: bool = False,
    live_reload: bool = False,
) -> ThreadingHTTPServer:
    """A bound, not yet running server for build_dir (port 0 picks a free port).
    `on_request_feed(base_url)` supplies /feed.xml; by default build_dir/feed.xml is read on each
    request and its URLs rebased onto the address the client used. `live_reload` adds a hook
    to served HTML pages that reloads them after a rebuild (the files on disk never have it).
    Raises DramaError when the address cannot be used (port taken, unknown host)."""
    feed_for = _disk_feed if on_request_feed is None else lambda root, url: on_request_feed(url)
    attributes = {
        "build_dir": Path(build_dir).absolute(),
        "feed_for": staticmethod(feed_for),
        "verbose": verbose,
        "live_reload": live_reload,
        "hashes": _Hashes(),
    }
    try:
        return _Server((host, port), type("Handler", (_Handler,), attributes))
    except (OSError, OverflowError, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise DramaError(f"cannot listen on {host}:{port}: {reason}") from None


def serve(server: ThreadingHTTPServer, build_dir: Path) -> None:
    """Run a server from make_server until Ctrl-C, printing the site and feed URLs once."""
    with server:
        bound_host, bound_port = server.server_address[:2]
        url = f"http://{bound_host}:{bound_port}/"
        print(f"Serving {build_dir} at {url}{FEED_NAME} (site: {url})", file=sys.stderr)
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
