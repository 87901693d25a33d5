"""Engines that hang, crash or fall silent: the voice's fallback takes over with one warning,
or the build stops with one clear line naming the character and the line; never a hang."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import write_project

FAKE_FLITE = {
    "hang": "sleep 1000",
    "crash": "echo 'Segmentation fault' >&2; exit 139",
    "silence": (
        'out=""; while [ $# -gt 0 ]; do [ "$1" = -o ] && out=$2; shift; done; '
        "python3 -c \"import sys,wave; w=wave.open(sys.argv[1],'wb'); w.setnchannels(1); "
        'w.setsampwidth(2); w.setframerate(16000); w.writeframes(bytes(32000)); w.close()" "$out"'
    ),
}


def fake_flite(folder: Path, behaviour: str) -> dict[str, str]:
    """An environment whose `flite` misbehaves (but still reports a version)."""
    folder.mkdir()
    script = folder / "flite"
    script.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "  version: flite-fake"; exit 0; fi\n'
        f"{FAKE_FLITE[behaviour]}\n"
    )
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "DRAMA_ENGINE_TIMEOUT": "3"}


def drama(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "toolkit", *args, "-C", str(root)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )


@pytest.mark.parametrize("behaviour", ["hang", "crash", "silence"])
def test_broken_engine_falls_back_once(tmp_path: Path, behaviour: str) -> None:
    root = write_project(tmp_path / "show")
    env = fake_flite(tmp_path / "bin", behaviour)
    started = time.monotonic()
    result = drama(root, env, "build")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 120
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    warnings = [w for w in warnings if "show.yaml" not in w]  # the loopback base_url's
    # MOM and AVA both speak through flite: one warning each, not one per line.
    assert len(warnings) == 2, warnings
    assert all("using espeak" in w for w in warnings)
    assert "Traceback" not in result.stderr
    assert len(list((root / "build/episodes").glob("*.mp3"))) == 2


def test_broken_engine_without_fallback_is_one_line(tmp_path: Path) -> None:
    root = write_project(tmp_path / "show", {"voices/mom.yaml": "engine: flite\nvoice: slt\n"})
    (root / "build").mkdir()
    (root / "build/feed.xml").write_text("previous")
    env = fake_flite(tmp_path / "bin", "hang")
    result = drama(root, env, "build")
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    assert errors[0].startswith("error: script/01-one.yaml:")
    assert "MOM" in errors[0] and "did not answer" in errors[0]
    assert "Traceback" not in result.stderr
    assert (root / "build/feed.xml").read_text() == "previous"


def test_engine_hung_inside_a_worker_is_killed_and_the_build_completes(tmp_path: Path) -> None:
    """An engine stuck in its own process (no subprocess to time out) hangs a pool worker: the
    workers are killed, the voice falls back, and chapters queued in that pool are still
    mastered. No worker is left behind."""
    root = write_project(tmp_path / "show")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import time\n"
        "import toolkit.speech.flite\n"
        "toolkit.speech.flite.Flite.synthesize = lambda *args, **kwargs: time.sleep(1000)\n"
    )
    path = os.pathsep.join(filter(None, [str(hook), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path, "DRAMA_ENGINE_TIMEOUT": "1"}
    started = time.monotonic()
    result = drama(root, env, "build", "-j", "2")
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 150
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    warnings = [w for w in warnings if "show.yaml" not in w]  # the loopback base_url's
    assert len(warnings) == 2 and all("hung" in w and "using espeak" in w for w in warnings)
    assert "Traceback" not in result.stderr
    assert len(list((root / "build/episodes").glob("*.mp3"))) == 2
    leftover = subprocess.run(["pgrep", "-f", str(hook)], capture_output=True, text=True)
    assert leftover.stdout == ""
