"""The commands a writer types, run as a writer would."""

from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import CHAPTER_TWO, run_cli
from pedalboard.io import AudioFile

from toolkit.build import Project
from toolkit.watch import watch


def test_new_production_checks_and_lists_voices(tmp_path: Path) -> None:
    folder = tmp_path / "drama"
    result = run_cli("new", str(folder))
    assert result.exit_code == 0, result.output
    assert run_cli("check", "-C", str(folder)).exit_code == 0
    assert (folder / "script/schema.json").is_file()
    voices = run_cli("voices", "-C", str(folder))
    assert voices.exit_code == 0
    assert "ALEX" in voices.output and "piper" in voices.output and "USED" in voices.output
    again = run_cli("new", str(folder))
    assert again.exit_code == 2 and "not empty" in again.stderr


def test_say_writes_one_line(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "ava.wav"
    result = run_cli("say", "-C", str(project), "ava", "I'd want to know.", "-o", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    with AudioFile(str(out)) as f:
        audio = f.read(f.frames)
        assert f.samplerate == 44100
    assert 0.6 < audio.shape[1] / 44100 < 3.0
    assert np.abs(audio).max() > 0.1
    unknown = run_cli("say", "-C", str(project), "BOB", "Hi.", "-o", str(out))
    assert unknown.exit_code == 2 and "expected one of MOM, JAMES, AVA" in unknown.stderr


def test_sounds_list_and_play(project: Path, tmp_path: Path) -> None:
    listing = run_cli("sounds", "-C", str(project))
    assert listing.exit_code == 0
    for name in ("hospital-room", "door-slam", "applause", "intro"):
        assert name in listing.output
    out = tmp_path / "diner.wav"
    played = run_cli(
        "sounds", "-C", str(project), "play", "diner", "-o", str(out), "--seconds", "3"
    )
    assert played.exit_code == 0
    with AudioFile(str(out)) as f:
        assert (f.frames, f.num_channels) == (3 * 44100, 2)
    missing = run_cli("sounds", "-C", str(project), "play", "diner2", "-o", str(out))
    assert missing.exit_code == 2 and "did you mean 'diner'" in missing.stderr


def test_plot_draws_a_chapter(project: Path, tmp_path: Path) -> None:
    out = tmp_path / "one.png"
    result = run_cli("plot", "-C", str(project), "one", "-o", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_serve_points_the_feed_at_itself(project: Path) -> None:
    assert run_cli("build", "-C", str(project), "-q").exit_code == 0
    server = subprocess.Popen(
        [sys.executable, "-m", "toolkit", "serve", "-C", str(project), "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = server.stderr.readline()
        address = banner.split("http://")[1].split("/")[0]
        host, port = address.rsplit(":", 1)
        assert host == "127.0.0.1"
        connection = http.client.HTTPConnection(host, int(port), timeout=10)
        connection.request("GET", "/feed.xml")
        feed = connection.getresponse().read().decode()
        assert f"http://{address}/episodes/01-one.mp3" in feed
        connection.request("GET", "/episodes/01-one.mp3", headers={"Range": "bytes=0-99"})
        response = connection.getresponse()
        assert response.status == 206 and len(response.read()) == 100
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_watch_rebuilds_and_survives_a_bad_edit(project: Path) -> None:
    assert run_cli("build", "-C", str(project), "-q").exit_code == 0
    said: list[str] = []
    chapter = project / "script/02-two.yaml"

    def edit() -> None:
        time.sleep(1.0)
        chapter.write_text(CHAPTER_TWO.replace("- MOM:", "- MOMM:"))
        time.sleep(2.0)
        chapter.write_text(CHAPTER_TWO.replace("Can we talk?", "Can we talk now?"))

    import threading

    from toolkit.build import build

    threading.Thread(target=edit, daemon=True).start()
    watch(
        Project(project),
        lambda: build(Project(project), lambda m: None, lambda m: None),
        said.append,
        stop_after=2,
    )
    assert any(
        s.startswith("error: script/02-two.yaml:") and "unknown character 'MOMM'" in s for s in said
    )
    assert any(s.startswith("rebuilt in") for s in said)
    assert "Can we talk now?" in (project / "build/episodes/02-two.vtt").read_text()


@pytest.mark.parametrize("host", ["used", "not a host!", "999.1.1.1", "2001:db8::zz"])
def test_serve_on_an_unusable_address_is_one_error_line(project: Path, host: str) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        address = "127.0.0.1" if host == "used" else host
        result = subprocess.run(
            [sys.executable, "-m", "toolkit", "serve", "-C", str(project)]
            + ["--host", address, "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: cannot listen on {address}:{port}: ")
    assert "Traceback" not in result.stderr
    assert not (project / "build" / "feed.xml").exists()  # refused before building anything
