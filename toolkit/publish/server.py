"""Serve build/ to real podcast apps: GET/HEAD, byte ranges (apps seek and resume with them; the
stdlib SimpleHTTPRequestHandler ignores Range), and a feed whose URLs name the address it is
served on, so a phone on the LAN can preview the show before it is published."""

from __future__ import annotations

import contextlib
import io
import mimetypes
import re
import sys
from collections.abc import Callable
from functools import partial
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote

from toolkit.publish.feed import FEED_NAME, rebase_feed

FeedSource = Callable[[str], bytes]  # served base URL -> feed bytes

CHUNK = 64 * 1024
FEED_TYPE = "application/rss+xml; charset=utf-8"
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
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".html": "text/html; charset=utf-8",
}
# A Host header goes into the feed's URLs, so only plain host[:port] forms are trusted.
HOST = re.compile(r"([A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(:[0-9]{1,5})?")
RANGE = re.compile(r"bytes=([0-9]{0,18})-([0-9]{0,18})", re.IGNORECASE)


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
    raw = target.split("?", 1)[0].split("#", 1)[0]
    path = unquote(raw)
    if not raw.startswith("/") or "\\" in path or "\0" in path or unquote(path) != path:
        return HTTPStatus.BAD_REQUEST
    parts = [part for part in path.split("/") if part]
    if any(part.startswith(".") for part in parts):
        return HTTPStatus.NOT_FOUND
    candidate = root.joinpath(*parts)
    if candidate.is_dir():
        candidate = candidate / "index.html"
    try:
        found = candidate.resolve()
    except (OSError, RuntimeError):  # symlink loop
        return HTTPStatus.NOT_FOUND
    return found if found.is_relative_to(root) else HTTPStatus.NOT_FOUND


def _disk_feed(root: Path, base_url: str) -> bytes:
    return rebase_feed((root / FEED_NAME).read_bytes(), base_url)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: apps fetch many ranges of one file
    server_version = "drama-toolkit"
    timeout = 60  # drop idle keep-alive connections instead of holding a thread
    root: Path
    feed_for: FeedSource
    verbose: bool

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

    def _open(self, path: Path) -> tuple[BinaryIO, str]:
        if path == self.root / FEED_NAME:
            return io.BytesIO(self.feed_for(self._base_url())), FEED_TYPE
        return path.open("rb"), content_type(path)

    def _respond(self, with_body: bool) -> None:
        found = resolve(self.root, self.path)
        if isinstance(found, HTTPStatus):
            self.send_error(found)
            return
        try:
            stream, kind = self._open(found)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        with stream:
            size = stream.seek(0, io.SEEK_END)
            wanted = parse_range(self.headers.get("Range"), size)
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
            if wanted:
                self.send_header("Content-Range", f"bytes {span.start}-{span.stop - 1}/{size}")
            self.end_headers()
            if with_body:
                stream.seek(span.start)
                _copy(stream, self.wfile, len(span))


def _copy(source: BinaryIO, sink: BinaryIO, length: int) -> None:
    while length > 0:
        chunk = source.read(min(CHUNK, length))
        if not chunk:  # file shrank under us; the client sees a short body
            return
        sink.write(chunk)
        length -= len(chunk)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Apps hang up mid-file all the time (seeking, pausing): not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def make_server(
    build_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    on_request_feed: FeedSource | None = None,
    verbose: bool = False,
) -> ThreadingHTTPServer:
    """A bound, not yet running server for build_dir (port 0 picks a free port).
    `on_request_feed(base_url)` supplies /feed.xml; by default build_dir/feed.xml is read on each
    request and its URLs rebased onto the address the client used."""
    root = build_dir.resolve()
    attributes = {
        "root": root,
        "feed_for": staticmethod(on_request_feed or partial(_disk_feed, root)),
        "verbose": verbose,
    }
    return _Server((host, port), type("Handler", (_Handler,), attributes))


def serve(
    build_dir: Path,
    host: str = "127.0.0.1",
    port: int = 8000,
    on_request_feed: FeedSource | None = None,
    verbose: bool = False,
) -> None:
    """Serve build_dir until Ctrl-C, printing the feed URL once (port 0 picks one)."""
    with make_server(build_dir, host, port, on_request_feed, verbose) as server:
        bound_host, bound_port = server.server_address[:2]
        print(
            f"Serving {build_dir} at http://{bound_host}:{bound_port}/{FEED_NAME}", file=sys.stderr
        )
        with contextlib.suppress(KeyboardInterrupt):
            server.serve_forever()
