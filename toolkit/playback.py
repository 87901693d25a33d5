"""Play a WAV through the default audio device with whichever system player is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from toolkit.errors import DramaError

# First found wins: the sound servers' own players, then ALSA's, then ffmpeg's, then macOS's.
PLAYERS = (
    ("paplay", ()),
    ("pw-play", ()),
    ("aplay", ("-q",)),
    ("ffplay", ("-nodisp", "-autoexit", "-loglevel", "error")),
    ("afplay", ()),
)


def audio_device() -> bool:
    """Whether this machine has somewhere to play sound: a sound server or a sound card."""
    if sys.platform == "darwin" or os.environ.get("PULSE_SERVER"):
        return True
    runtime = Path(os.environ.get("XDG_RUNTIME_DIR", f"/run/user/{os.getuid()}"))
    if (runtime / "pulse" / "native").exists() or (runtime / "pipewire-0").exists():
        return True
    return any(Path("/dev/snd").glob("pcm*")) if Path("/dev/snd").is_dir() else False


def play(wav: Path, seconds: float) -> str:
    """Play `wav` to the end; the player's name. DramaError (one line) when it cannot."""
    if not audio_device():
        raise DramaError("cannot play: no audio device here; use -o FILE to write a WAV instead")
    found = [(name, args) for name, args in PLAYERS if shutil.which(name)]
    if not found:
        names = ", ".join(name for name, _ in PLAYERS)
        raise DramaError(f"cannot play: no audio player found (one of {names}); use -o FILE")
    name, args = found[0]
    try:
        out = subprocess.run(
            [name, *args, str(wav)], capture_output=True, text=True, timeout=seconds + 15
        )
    except subprocess.TimeoutExpired:
        raise DramaError(f"cannot play: {name} did not finish") from None
    if out.returncode != 0:
        reason = (out.stderr.strip().splitlines() or [f"exit status {out.returncode}"])[-1]
        reason = reason.replace(str(wav), wav.name)
        raise DramaError(f"cannot play through {name}: {reason}")
    return name
