"""A chapter's timeline as a picture: who speaks when, which bed plays, where the cues fall, how
loud it gets. For checking a mix by eye without listening through it."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from toolkit.fsutil import atomic_write_bytes
from toolkit.mix.timeline import RATE, Cue, MixedChapter

SIZE, DPI = (14.0, 7.0), 100  # a fixed canvas: the same chapter always gives the same bytes
WINDOW, HOP = 0.4, 0.1  # seconds: the loudness curve is RMS over 400 ms windows
FLOOR_DB = -70.0


def loudness_curve(audio: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(times, dBFS): RMS of both channels over WINDOW, every HOP, from a running sum."""
    power = np.concatenate([[0.0], np.cumsum(np.mean(audio.astype(np.float64) ** 2, axis=1))])
    width, hop = int(WINDOW * RATE), int(HOP * RATE)
    starts = np.arange(0, max(1, len(audio) - width + 1), hop)
    stops = np.minimum(starts + width, len(audio))
    mean = (power[stops] - power[starts]) / np.maximum(stops - starts, 1)
    level = 10 * np.log10(np.maximum(mean, 10 ** (FLOOR_DB / 10)))
    return (starts + (stops - starts) / 2) / RATE, level


def lanes(cues: tuple[Cue, ...]) -> list[str]:
    """Speakers in order of first appearance, then beds, then sound cues."""
    speakers = list(dict.fromkeys(c.name for c in cues if c.kind == "speech"))
    return [*speakers, "beds", "sfx / music"]


def draw_timeline(ax, mixed: MixedChapter, rows: list[str]) -> None:
    y = {name: len(rows) - 1 - i for i, name in enumerate(rows)}
    colours = {name: f"C{i % 10}" for i, name in enumerate(rows[:-2])}
    for cue in mixed.cues:
        if cue.kind == "speech":
            ax.broken_barh(
                [(cue.start, cue.end - cue.start)],
                (y[cue.name] - 0.35, 0.7),
                color=colours[cue.name],
            )
    beds = [c for c in mixed.cues if c.kind == "bed"]
    for i, cue in enumerate(beds):
        row = y["beds"]
        ax.broken_barh(
            [(cue.start, cue.end - cue.start)],
            (row - 0.3, 0.6),
            color="0.75" if i % 2 else "0.6",
        )
        ax.text(cue.start + 0.5, row, cue.name, va="center", fontsize=7, clip_on=True)
    sounds = [c for c in mixed.cues if c.kind in ("sfx", "music")]
    for i, cue in enumerate(sounds):
        row = y["sfx / music"] + (0.2 if i % 2 else -0.2)  # alternate so neighbours don't collide
        marker, colour = ("D", "tab:purple") if cue.kind == "music" else ("v", "tab:red")
        ax.broken_barh([(cue.start, cue.end - cue.start)], (row - 0.06, 0.12), color=colour)
        ax.plot([cue.start], [row], marker=marker, color=colour, markersize=5)
        ax.text(cue.start, row + 0.12, cue.name, fontsize=6, clip_on=True)
    ax.set_yticks(range(len(rows)), list(reversed(rows)))
    ax.set_ylim(-0.7, len(rows) - 0.3)


def draw_marks(axes, mixed: MixedChapter) -> None:
    """Scene boundaries across every panel, titled along the top."""
    for mark in mixed.marks:
        for ax in axes:
            ax.axvline(mark.start, color="0.3", linewidth=0.8, linestyle="--")
        axes[0].text(
            mark.start,
            1.01,
            f" {mark.title}",
            transform=axes[0].get_xaxis_transform(),
            fontsize=8,
            va="bottom",
        )


def plot_chapter(mixed: MixedChapter, path: Path) -> Path:
    """Write a PNG of the chapter's timeline and loudness to `path` (atomically, reproducibly)."""
    from matplotlib.figure import Figure  # lazily: matplotlib costs the CLI a second to import

    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    draw_timeline(top, mixed, lanes(mixed.cues))
    times, level = loudness_curve(mixed.audio)
    bottom.plot(times, level, color="tab:blue", linewidth=0.8)
    bottom.set_ylim(FLOOR_DB, 0)
    bottom.set_ylabel("dBFS (RMS 400 ms)")
    bottom.set_xlabel("seconds")
    bottom.set_xlim(0, mixed.duration)
    draw_marks([top, bottom], mixed)
    fig.suptitle(f"{mixed.chapter.number:02d} {mixed.chapter.title}", fontsize=11)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return atomic_write_bytes(Path(path), buffer.getvalue())
