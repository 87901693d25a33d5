"""The preview server over raw HTTP: ranges as apps send them, HEAD, hostile paths, and a feed
that names the address it is served on."""

from __future__ import annotations

import http.client
import os
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_feed import make_chapter, make_episode, make_show

from toolkit.publish.feed import episode_guid, write_feed
from toolkit.publish.server import make_server, parse_range

AUDIO = bytes(range(256)) * 40  # 10240 bytes
SECRET = b"top secret outside the build dir"


@pytest.fixture
def build(tmp_path: Path) -> Path:
    build = tmp_path / "build"
    (build / "episodes").mkdir(parents=True)
    (build / "episodes" / "one.mp3").write_bytes(AUDIO)
    (build / "episodes" / "one.vtt").write_text("WEBVTT\n")
    (build / "notes.xml").write_text("<notes/>")
    (tmp_path / "secret").write_bytes(SECRET)
    (build / "leak").symlink_to(tmp_path / "secret")
    (build / "inside.mp3").symlink_to(build / "episodes" / "one.mp3")
    return build


@contextmanager
def serving(build: Path, **options: object) -> Iterator[int]:
    """A server for build on a free 127.0.0.1 port, in a thread; yields the port."""
    server = make_server(build, "127.0.0.1", 0, **options)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture
def port(build: Path) -> Iterator[int]:
    with serving(build) as port:
        yield port


def request(
    port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def test_get_whole_file(port):
    response, body = request(port, "/episodes/one.mp3")
    assert response.status == 200
    assert body == AUDIO
    assert response.getheader("Content-Length") == str(len(AUDIO))
    assert response.getheader("Accept-Ranges") == "bytes"
    assert response.getheader("Content-Type") == "audio/mpeg"


def test_head_has_get_headers_and_no_body(port):
    get, _ = request(port, "/episodes/one.mp3")
    head, body = request(port, "/episodes/one.mp3", "HEAD")
    assert head.status == 200
    assert body == b""
    for name in ("Content-Length", "Content-Type", "Accept-Ranges"):
        assert head.getheader(name) == get.getheader(name)


@pytest.mark.parametrize(
    ("header", "start", "stop"),
    [("bytes=0-99", 0, 100), ("bytes=100-", 100, len(AUDIO)), ("bytes=-50", len(AUDIO) - 50, None)],
)
def test_ranges(port, header, start, stop):
    response, body = request(port, "/episodes/one.mp3", headers={"Range": header})
    stop = stop or len(AUDIO)
    assert response.status == 206
    assert body == AUDIO[start:stop]
    assert response.getheader("Content-Length") == str(stop - start)
    assert response.getheader("Content-Range") == f"bytes {start}-{stop - 1}/{len(AUDIO)}"


def test_head_with_range(port):
    response, body = request(port, "/episodes/one.mp3", "HEAD", {"Range": "bytes=0-9"})
    assert (response.status, body, response.getheader("Content-Length")) == (206, b"", "10")


def test_range_past_the_end_is_unsatisfiable(port):
    for header in ("bytes=999999-", "bytes=-0", f"bytes={len(AUDIO)}-"):
        response, body = request(port, "/episodes/one.mp3", headers={"Range": header})
        assert response.status == 416, header
        assert response.getheader("Content-Range") == f"bytes */{len(AUDIO)}"
        assert body == b""


def test_range_end_is_clamped(port):
    response, body = request(port, "/episodes/one.mp3", headers={"Range": "bytes=10000-99999"})
    assert response.status == 206
    assert body == AUDIO[10000:]


@pytest.mark.parametrize(
    "header",
    ["bytes=abc", "bytes=5-2", "items=0-1", "bytes=0-1,5-9", "bytes=-", "bytes=" + "9" * 30],
)
def test_malformed_or_multiple_ranges_get_the_whole_file(port, header):
    """RFC 9110 lets a server ignore a Range it will not honour; several ranges included."""
    response, body = request(port, "/episodes/one.mp3", headers={"Range": header})
    assert response.status == 200
    assert body == AUDIO


@pytest.mark.parametrize(
    "path",
    [
        "/../secret",
        "/%2e%2e/secret",
        "/%252e%252e/secret",
        "/episodes/..%2f..%2fsecret",
        "//etc/passwd",
        "/%2fetc/passwd",
        "/..\\secret",
        "/%5c..%5csecret",
        "/leak",
        "/episodes%00.mp3",
        "/.hidden",
        "http://127.0.0.1/../secret",
    ],
)
def test_nothing_outside_the_build_dir(port, path):
    response, body = request(port, path)
    assert response.status in (400, 404)
    assert SECRET not in body
    assert b"root:" not in body


def test_symlink_inside_the_build_dir_is_served(port):
    assert request(port, "/inside.mp3")[1] == AUDIO


def test_missing_and_directories(port, build):
    assert request(port, "/nope.mp3", "HEAD")[0].status == 404
    assert request(port, "/episodes/")[0].status == 404
    (build / "episodes" / "index.html").write_text("<p>hi</p>")
    response, body = request(port, "/episodes")
    assert (response.status, body) == (200, b"<p>hi</p>")
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"


def test_content_types(port):
    assert request(port, "/episodes/one.vtt")[0].getheader("Content-Type").startswith("text/vtt")
    assert request(port, "/notes.xml")[0].getheader("Content-Type") == "application/xml"


def test_feed_points_at_the_served_address(build):
    chapter = make_chapter("one", 1)
    show = make_show([chapter])
    episode = make_episode(build, chapter, audio=AUDIO)
    write_feed(show, [episode], build)
    with serving(build) as port:
        response, body = request(port, "/feed.xml")
        assert response.getheader("Content-Type") == "application/rss+xml; charset=utf-8"
        assert response.getheader("Content-Length") == str(len(body))
        channel = ET.fromstring(body).find("channel")
        served = f"http://127.0.0.1:{port}/"
        assert channel.findtext("link") == served
        item = channel.find("item")
        enclosure = item.find("enclosure")
        assert enclosure.get("url") == served + "episodes/one.mp3"
        assert enclosure.get("length") == str(len(AUDIO))
        assert item.findtext("guid") == episode_guid(show, chapter)
        assert request(port, "/episodes/one.mp3")[1] == AUDIO

        named = request(port, "/feed.xml", headers={"Host": "drama.local:8080"})[1]
        assert b'url="http://drama.local:8080/episodes/one.mp3"' in named
        hostile = request(port, "/feed.xml", headers={"Host": 'x"><evil'})[1]
        assert b"evil" not in hostile
        assert served.encode() in hostile


def test_feed_source_callable(build):
    def feed_for(base_url: str) -> bytes:
        return f"<rss>{base_url}</rss>".encode()

    with serving(build, on_request_feed=feed_for) as port:
        body = request(port, "/feed.xml")[1]
        assert body == f"<rss>http://127.0.0.1:{port}/</rss>".encode()


def test_missing_feed_is_404(port):
    assert request(port, "/feed.xml")[0].status == 404


def test_client_hanging_up_mid_file_is_harmless(port, build, capfd):
    big = os.urandom(4 * 1024 * 1024)
    (build / "big.mp3").write_bytes(big)
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", "/big.mp3")
    connection.getresponse().read(1000)
    connection.close()
    assert request(port, "/big.mp3", headers={"Range": "bytes=-10"})[1] == big[-10:]
    time.sleep(0.2)  # let the abandoned handler hit the reset
    assert "Traceback" not in capfd.readouterr().err


def test_quiet_by_default(port, capfd):
    request(port, "/episodes/one.mp3")
    request(port, "/nope")
    assert capfd.readouterr().err == ""


def test_parse_range_unit():
    assert parse_range(None, 10) is None
    assert parse_range("bytes=2-4", 10) == range(2, 5)
    assert parse_range("BYTES=-3", 10) == range(7, 10)
    assert parse_range("bytes=-30", 10) == range(0, 10)
    assert parse_range("bytes=0-", 0) == range(0)  # nothing to send from an empty file
