"""The script-format reference cannot drift from the code: its complete example must load, and
every key the loader accepts must be documented."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from toolkit.script import loader
from toolkit.script.model import EXTENSIONS, Ambience, Music, Pause, Sfx, Speech

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "script-format.md"
VOICES = ("mom.yaml", "james.yaml", "ava.yaml")
# A `<!-- file: path -->` marker, then (after blank lines only) a fenced yaml block.
EXAMPLE = re.compile(r"<!--\s*file:\s*(\S+)\s*-->\s*\n```yaml\n(.*?)\n```", re.S)


def doc_text() -> str:
    return DOC.read_text(encoding="utf-8")


def example_files() -> dict[str, str]:
    files = {}
    for path, body in EXAMPLE.findall(doc_text()):
        assert path not in files, f"{path} appears twice in the example"
        files[path] = body + "\n"
    return files


@pytest.fixture
def example(tmp_path: Path) -> Path:
    for path, body in example_files().items():
        target = tmp_path / path
        assert tmp_path in target.resolve().parents, f"example path {path} leaves the project"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(body, encoding="utf-8")
    (tmp_path / "voices").mkdir()
    for name in VOICES:
        shutil.copy(REPO / "voices" / name, tmp_path / "voices" / name)
    return tmp_path


def test_example_names_a_show_and_a_chapter_file():
    files = example_files()
    assert "script/show.yaml" in files
    assert "script/01-example.yaml" in files


def test_example_loads(example: Path):
    show = loader.load_show(example)
    assert [c.file for c in show.chapters] == ["script/01-example.yaml"]
    lines = [line for scene in show.chapters[0].scenes for line in scene.lines]
    speech = [line for line in lines if isinstance(line, Speech)]
    assert any(line.ext is None for line in speech), "a plain character line"
    assert {line.ext for line in speech} >= set(EXTENSIONS), "every ext"
    assert any(line.direction for line in speech), "a direction"
    assert any(line.overlap for line in speech), "an overlap"
    assert any(line.character == show.narrator and line.ext == "V.O." for line in speech)
    for kind in (Pause, Sfx, Ambience, Music):
        assert any(isinstance(line, kind) for line in lines), kind.__name__
    sfx = [line for line in lines if isinstance(line, Sfx)]
    assert any(line.volume for line in sfx) and any(line.pan for line in sfx)
    assert any(line.volume for line in lines if isinstance(line, Music))
    assert {line.name for line in lines if isinstance(line, Music)} == {"intro", "sting", "outro"}


def test_example_voices_and_sounds_check(example: Path):
    from toolkit.cast import load_cast
    from toolkit.mix.check import check_sounds
    from toolkit.mix.sounds import Library

    show = loader.load_show(example)
    assert set(load_cast(example, show)) == set(show.cast)
    for chapter in show.chapters:
        check_sounds(chapter, Library(None))


def test_every_loader_key_is_documented():
    text = doc_text()
    keys = {
        *loader.SHOW_KEYS,
        *loader.CHAPTER_KEYS,
        *loader.SCENE_KEYS,
        *loader.CUE_KEYS,
        *loader.ROOMS,
        *loader.MODIFIERS,
        *(m for modifiers in loader.MODIFIERS.values() for m in modifiers),
        *EXTENSIONS,
    }
    missing = sorted(key for key in keys if f"`{key}`" not in text)
    assert not missing, f"not documented in {DOC.name}: {missing}"


def test_voice_keys_engines_and_directions_are_documented():
    from toolkit.cast import ENGINES, VOICE_KEYS
    from toolkit.speech.synth import DIRECTIONS

    text = doc_text()
    missing = sorted(k for k in (*VOICE_KEYS, *ENGINES, *DIRECTIONS) if f"`{k}`" not in text)
    assert not missing, f"not documented in {DOC.name}: {missing}"


def test_every_built_in_sound_is_documented():
    from toolkit.mix.sounds import catalogue

    text = doc_text()
    missing = sorted(info.name for info in catalogue() if f"`{info.name}`" not in text)
    assert not missing, f"built-in sounds not documented in {DOC.name}: {missing}"


def test_doc_holds_no_machine_paths():
    assert not re.search(r"(/work/|/home/|/tmp/|/Users/|[A-Z]:\\)", doc_text())
