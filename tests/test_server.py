"""The preview server over raw HTTP: ranges as apps send them, HEAD, hostile paths, and a feed
that names the address it is served on."""

from __future__ import annotations

import http.client
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
from test_feed import make_chapter, make_episode, make_show

from toolkit.fsutil import atomic_write_bytes
from toolkit.publish.feed import episode_guid, write_feed
from toolkit.publish.server import RELOAD_PATH, make_server, parse_range

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


# Under real use (issue 17): long names, many connections, validators, odd bytes.


def raw_exchange(port: int, data: bytes) -> bytes:
    """Send raw bytes, read until the server closes; the status line and headers come back."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(data)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    ("target", "statuses"),
    [
        ("/" + "a" * 300, {404}),
        ("/episodes/" + "b" * 300 + ".mp3", {404}),
        ("/" + "c/" * 4096, {414}),
        ("/" + "%e2%80%a6" * 1000, {414}),
        ("/" + "d" * 8192, {414}),
    ],
)
def test_overlong_names_get_an_answer(port, target, statuses, capfd):
    response, _ = request(port, target)
    assert response.status in statuses
    assert request(port, "/episodes/one.mp3")[1] == AUDIO
    assert "Traceback" not in capfd.readouterr().err


ODD_REQUESTS = [
    b"GET /%EF%BF%BF HTTP/1.1\r\n\r\n",
    "GET /\uffff\ufffe HTTP/1.1\r\n\r\n".encode(),
    b"GET /\xff\xfe\x80 HTTP/1.1\r\n\r\n",
    b"GET /%ED%A0%80%ff HTTP/1.1\r\n\r\n",
    b"GET /episodes/\x01\x7f.mp3 HTTP/1.1\r\n\r\n",
    b"GET /feed.xml HTTP/1.1\r\nHost: \xff\xef\xbf\xbf\r\n\r\n",
    b"GET /episodes/one.mp3 HTTP/1.1\r\nRange: bytes=\xef\xbf\xbf-\r\n\r\n",
    b'GET /episodes/one.mp3 HTTP/1.1\r\nIf-None-Match: \xff"\r\nIf-Range: \xff\r\n\r\n',
    b"GET /episodes/one.mp3 HTTP/1.1\r\nIf-Modified-Since: Mon, 99 Foo 99999 99:99 GMT\r\n\r\n",
    b"GET /episodes/one.mp3 HTTP/1.1\r\nIf-Range: Mon, 99 Foo 99999\r\nRange: bytes=0-1\r\n\r\n",
    b"\xff\xfe\xfd\xfc\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"\xff" * 70000 + b"\r\n\r\n",
]


@pytest.mark.parametrize("data", ODD_REQUESTS)
def test_odd_bytes_get_an_answer_never_a_traceback(port, data, capfd):
    head = data.replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1)
    answer = raw_exchange(port, head)
    assert re.match(rb"HTTP/1\.[01] [0-9]{3} ", answer) or answer.startswith(b"<!DOCTYPE")
    assert request(port, "/episodes/one.mp3")[1] == AUDIO  # still serving
    assert "Traceback" not in capfd.readouterr().err


def test_two_hundred_connections_at_once_all_answered(port):
    """The stdlib backlog of 5 timed out 89 of 200 simultaneous connections (a dropped SYN
    costs the client a retransmit of a second or more; 5 s is far more than a full queue needs)."""
    connections = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(200)]
    try:
        for connection in connections:
            connection.sendall(b"HEAD /episodes/one.mp3 HTTP/1.1\r\nConnection: close\r\n\r\n")
        answers = []
        for connection in connections:
            received = b""
            while chunk := connection.recv(4096):
                received += chunk
            answers.append(received.split(b"\r\n", 1)[0])
    finally:
        for connection in connections:
            connection.close()
    assert answers == [b"HTTP/1.1 200 OK"] * 200
    if shutil.which("ss"):  # the kernel's own view of the listen queue: LISTEN 0 <backlog> ...
        listening = subprocess.run(
            ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=True
        ).stdout.split()
        assert int(listening[2]) >= 128


def test_cors_for_transcripts_chapters_and_feed(build):
    chapter = make_chapter("one", 1)
    write_feed(make_show([chapter]), [make_episode(build, chapter, audio=AUDIO)], build)
    (build / "episodes" / "one.chapters.json").write_text("{}")
    (build / "episodes" / "one.srt").write_text("1\n")
    with serving(build) as port:
        for path in ("/feed.xml", "/episodes/one.vtt", "/episodes/one.srt"):
            assert request(port, path)[0].getheader("Access-Control-Allow-Origin") == "*", path
        assert request(port, "/episodes/one.chapters.json")[0].getheader(
            "Access-Control-Allow-Origin"
        )


def test_etag_and_last_modified_give_304(port, build):
    first, _ = request(port, "/episodes/one.mp3")
    etag, modified = first.getheader("ETag"), first.getheader("Last-Modified")
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: a hash of the bytes
    assert parsedate_to_datetime(modified).timestamp() == int(
        (build / "episodes" / "one.mp3").stat().st_mtime
    )
    for headers in (
        {"If-None-Match": etag},
        {"If-None-Match": f'"other", W/{etag}'},
        {"If-None-Match": "*"},
        {"If-Modified-Since": modified},
    ):
        response, body = request(port, "/episodes/one.mp3", headers=headers)
        assert (response.status, body) == (304, b""), headers
        assert response.getheader("ETag") == etag
    for headers in (
        {"If-None-Match": '"other"'},
        {"If-None-Match": '"other"', "If-Modified-Since": modified},  # ETag wins
        {"If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT"},
        {"If-Modified-Since": "not a date"},
    ):
        response, body = request(port, "/episodes/one.mp3", headers=headers)
        assert (response.status, body) == (200, AUDIO), headers
    assert request(port, "/episodes/one.vtt")[0].getheader("ETag") != etag


def test_rewritten_file_gets_a_new_etag_and_if_range_never_splices(port, build):
    path = build / "episodes" / "one.mp3"
    old, _ = request(port, "/episodes/one.mp3")
    assert (
        request(port, "/episodes/one.mp3", headers={"If-None-Match": old.getheader("ETag")})[
            0
        ].status
        == 304
    )
    new_audio = bytes(reversed(AUDIO))
    atomic_write_bytes(path, new_audio)
    os.utime(path, (time.time() + 5, time.time() + 5))
    resumed, body = request(
        port,
        "/episodes/one.mp3",
        headers={"Range": "bytes=5000-", "If-Range": old.getheader("ETag")},
    )
    assert (resumed.status, body) == (200, new_audio)
    new_etag = resumed.getheader("ETag")
    assert new_etag != old.getheader("ETag")
    by_date, body = request(
        port,
        "/episodes/one.mp3",
        headers={"Range": "bytes=5000-", "If-Range": old.getheader("Last-Modified")},
    )
    assert (by_date.status, body) == (200, new_audio)
    for validator in (new_etag, resumed.getheader("Last-Modified")):
        same, body = request(
            port, "/episodes/one.mp3", headers={"Range": "bytes=5000-", "If-Range": validator}
        )
        assert (same.status, body) == (206, new_audio[5000:]), validator
    weak, body = request(
        port, "/episodes/one.mp3", headers={"Range": "bytes=0-9", "If-Range": f"W/{new_etag}"}
    )
    assert (weak.status, body) == (200, new_audio)  # If-Range needs a strong validator


def test_build_folder_swapped_in_is_served_from_the_next_request(tmp_path):
    """Another build may rename a staging folder over build/: nothing is held inside it."""
    build = tmp_path / "build"
    (build / "episodes").mkdir(parents=True)
    (build / "episodes" / "one.mp3").write_bytes(b"old")
    with serving(build) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request("GET", "/episodes/one.mp3")
        assert connection.getresponse().read() == b"old"
        staging = tmp_path / "staging"
        (staging / "episodes").mkdir(parents=True)
        (staging / "episodes" / "one.mp3").write_bytes(b"new")
        build.rename(tmp_path / "old")
        staging.rename(build)
        connection.request("GET", "/episodes/one.mp3")  # same keep-alive connection
        assert connection.getresponse().read() == b"new"
        connection.close()


def test_live_reload_hook_only_in_served_pages(tmp_path):
    build = tmp_path / "build"
    build.mkdir()
    page = b"<!doctype html><html><body><p>hi</p></body></html>\n"
    (build / "index.html").write_bytes(page)
    with serving(build) as port:
        assert request(port, "/")[1] == page
        assert request(port, RELOAD_PATH)[0].status == 404
    with serving(build, live_reload=True) as port:
        response, body = request(port, "/index.html")
        assert RELOAD_PATH.encode() in body and body.endswith(b"</body></html>\n")
        assert response.getheader("Content-Length") == str(len(body))
        stamp = request(port, RELOAD_PATH)[1]
        assert request(port, RELOAD_PATH)[1] == stamp  # nothing rebuilt, no reload
        (build / "episodes").mkdir()
        (build / "episodes" / "one.mp3").write_bytes(AUDIO)
        assert request(port, RELOAD_PATH)[1] != stamp
        assert request(port, "/episodes/one.mp3")[1] == AUDIO  # only HTML gets the hook
    assert (build / "index.html").read_bytes() == page
