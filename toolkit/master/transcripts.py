"""Transcripts and chapter files for podcast apps, from the timeline the mix stage produced.

WebVTT carries the speaker as a voice tag (`<v MOM>`), which is what drama needs; SRT has no
speaker field, so the name leads the text. Both come from the same cue pieces. A cue whose
words `drama proof` timed gets a `<00:01:02.340>` tag before each word in the VTT, and its
pieces start and end where their words do."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass

from toolkit.mix.timeline import Cue, Mark

MAX_CHARS = 120  # longer lines are split so captions stay readable on a phone


@dataclass(frozen=True)
class Caption:
    start: float
    end: float
    speaker: str
    text: str
    words: tuple[tuple[float, float, str], ...] = ()


def captions(cues: Iterable[Cue]) -> list[Caption]:
    """Speech cues (and `caption` cues: sounds, no speaker) in time order, long lines split at word boundaries into pieces whose times
    share out the line's span in proportion to their word counts."""
    speech = sorted(
        (c for c in cues if c.kind in ("speech", "caption")), key=lambda c: (c.start, c.end)
    )
    return [piece for cue in speech for piece in _split(cue)]


def to_vtt(cues: Iterable[Cue]) -> str:
    blocks = ["WEBVTT"]
    for c in captions(cues):
        text = _timed(c) if c.words else _escape_vtt(c.text)
        voiced = f"<v {_escape_vtt(c.speaker)}>{text}" if c.speaker else text
        blocks.append(f"{_clock(c.start, '.')} --> {_clock(c.end, '.')}\n{voiced}")
    return "\n\n".join(blocks) + "\n"


def to_srt(cues: Iterable[Cue]) -> str:
    blocks = [
        f"{n}\n{_clock(c.start, ',')} --> {_clock(c.end, ',')}\n"
        + (f"{c.speaker}: {c.text}" if c.speaker else c.text)
        for n, c in enumerate(captions(cues), start=1)
    ]
    return "\n\n".join(blocks) + "\n"


def chapters_json(marks: Iterable[Mark], title: str) -> str:
    """Podcasting 2.0 JSON chapters (version 1.2.0); times in seconds, 3 decimals."""
    doc = {
        "version": "1.2.0",
        "title": title,
        "chapters": [
            {"startTime": round(m.start, 3), "endTime": round(m.end, 3), "title": m.title}
            for m in sorted(marks, key=lambda m: m.start)
        ],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2) + "\n"


def _timed(caption: Caption) -> str:
    """The caption's words, each after the first tagged with its start (strictly inside the
    caption and increasing, as WebVTT asks)."""
    out, last = [], caption.start
    for index, (start, _, word) in enumerate(caption.words):
        tagged = index > 0 and last < start < caption.end
        out.append(f"<{_clock(start, '.')}>" * tagged + _escape_vtt(word))
        last = start if tagged else last
    return " ".join(out)


def _split(cue: Cue) -> list[Caption]:
    text = " ".join(cue.text.split())
    words = text.split(" ")
    timed = cue.words if len(cue.words) == len(words) else ()
    if len(text) <= MAX_CHARS:
        if timed:  # proof's words lie inside the cue: they can only tighten it
            return [Caption(timed[0][0], timed[-1][1], cue.name, text, timed)]
        return [Caption(cue.start, cue.end, cue.name, text)]
    width = len(text) / math.ceil(len(text) / MAX_CHARS)  # balanced pieces, not a short tail
    pieces: list[list[str]] = [[]]
    for word in words:
        if len(" ".join(pieces[-1])) >= width:
            pieces.append([])
        pieces[-1].append(word)
    span, done, out = cue.end - cue.start, 0, []
    for piece in pieces:
        start = cue.start + span * done / len(words)
        own = timed[done : done + len(piece)]
        done += len(piece)
        end = cue.start + span * done / len(words)
        if own:
            start, end = own[0][0], own[-1][1]
        out.append(Caption(start, end, cue.name, " ".join(piece), own))
    return out


def _clock(seconds: float, separator: str) -> str:
    ms = max(0, round(seconds * 1000))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{separator}{ms:03d}"


def _escape_vtt(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
