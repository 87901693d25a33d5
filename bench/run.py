"""Benchmark the writer's loop on the real story, everything measured side by side in one run:
cold build, no-op rebuild, one-line edit, peak memory of the whole process tree, real-time
factor per stage, the engines' own synthesis time, and a naive baseline on the same script.

    python bench/run.py [--out bench/results.md]

Runs on a copy of script/, voices/ and sounds/ in a temporary folder: the project's own
build/ and cache are left alone."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EDIT_FROM = "I didn't owe him anything"
EDIT_TO = "I didn't owe him a thing"


def tree_rss(root_pid: int) -> int:
    """Resident memory (bytes) of a process and all its descendants, from /proc."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            parents[int(entry.name)] = int(fields[1])
            rss[int(entry.name)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    family, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in family]
        family.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in family)


def run(command: list[str]) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS and stdout of a command."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, tree_rss(process.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    out, err = process.communicate()
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])}... failed:\n{err}")
    return seconds, peak, out


def engine_seconds(root: Path) -> tuple[float, int]:
    """Seconds the engines spend synthesizing every line once, sequentially, in one process
    (the floor a build is compared with), and how many lines there are."""
    code = f"""
import time
from pathlib import Path
from toolkit.build import Project, check, speech_lines
from toolkit.speech.synth import ENGINES, LIMITS, Synthesizer, delivery
from toolkit.speech.text import normalize, split_sentences
from toolkit.cast import VoiceSpec
checked = check(Project(Path({str(root)!r})))
synth = Synthesizer(checked.voices, Path({str(root)!r}) / ".unused", print, 1)
lines = [l for c in checked.show.chapters for l in speech_lines(c)]
for spec in {{synth.key(l)[0] for l in lines}}:
    ENGINES[spec.engine].synthesize("Warm up.", spec)
total = 0.0
for line in lines:
    spec = synth.key(line)[0]
    rate, _ = delivery(line.direction)
    tuned = VoiceSpec(spec.engine, spec.voice, spec.rate * rate, spec.pitch, spec.volume, spec.options)
    for piece in split_sentences(normalize(line.text), LIMITS[spec.engine]):
        started = time.perf_counter()
        ENGINES[spec.engine].synthesize(piece, tuned)
        total += time.perf_counter() - started
print(total, len(lines))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, lines = out.stdout.split()[-2:]
    return float(seconds), int(lines)


def drama(root: Path, timings: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "toolkit",
        "build",
        "-C",
        str(root),
        "-q",
        "--timings",
        str(timings),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.md")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drama-bench-"))
    try:
        for folder in ("script", "voices", "sounds"):
            if (REPO / folder).is_dir():
                shutil.copytree(REPO / folder, work / folder)
        rows, timing = [], work / "timings.json"

        engines, lines = engine_seconds(work)
        cold, cold_rss, _ = run(drama(work, timing))
        stages = json.loads(timing.read_text())
        feed = (work / "build" / "feed.xml").read_text()
        audio = sum(int(d) for d in _durations(feed))
        noop, noop_rss, _ = run(drama(work, timing))
        chapter = next(
            p for p in sorted((work / "script").glob("*.yaml")) if EDIT_FROM in p.read_text()
        )
        chapter.write_text(chapter.read_text().replace(EDIT_FROM, EDIT_TO, 1))
        edit, edit_rss, _ = run(drama(work, timing))
        edit_stages = json.loads(timing.read_text())
        naive, naive_rss, _ = run(
            [sys.executable, str(REPO / "bench" / "naive.py"), str(work), str(work / "naive")]
        )

        rows.append(("cold build (2 cores)", cold, audio / cold, cold_rss))
        rows.append(("no-op rebuild", noop, audio / noop, noop_rss))
        rows.append(("one-line edit rebuild", edit, audio / edit, edit_rss))
        rows.append(("naive baseline (any edit = full rerun)", naive, audio / naive, naive_rss))
        lines_out = [
            f"# Benchmark: {lines} lines, {audio / 60:.1f} min of audio, {os.cpu_count()} cores",
            "",
            "| scenario | wall s | x real time | peak RSS MB (process tree) |",
            "|---|---:|---:|---:|",
            *[f"| {name} | {s:.2f} | {x:.0f} | {rss / 2**20:.0f} |" for name, s, x, rss in rows],
            "",
            "Speech and mastering overlap (each chapter is mastered once its lines are voiced):",
            "`speech` is the time spent waiting on voices, `mix+master` the time after that.",
            "",
            "| cold build stage | s | x real time |",
            "|---|---:|---:|",
            *[
                f"| {k} | {v:.2f} | {audio / v if v > 0.01 else float('inf'):.0f} |"
                for k, v in stages.items()
            ],
            "",
            "| ratio (same run) | value | target |",
            "|---|---:|---:|",
            f"| engines' own synthesis time, sequential | {engines:.2f} s | |",
            f"| cold build / engine time | {cold / engines:.2f} | <= 1.3 |",
            f"| cold build x real time | {audio / cold:.0f} | >= 30 |",
            f"| no-op rebuild | {noop:.2f} s | < 1 s |",
            f"| one-line edit | {edit:.2f} s (speech {edit_stages['speech']:.2f}, mix+master {edit_stages['mix+master']:.2f}) | < 3 s |",
            f"| naive baseline / one-line edit | {naive / edit:.0f}x | >= 20x |",
            f"| peak RSS, cold build | {cold_rss / 2**20:.0f} MB | < 600 MB |",
        ]
        text = "\n".join(lines_out) + "\n"
        args.out.write_text(text)
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _durations(feed: str) -> list[str]:
    return [part.split("<")[0] for part in feed.split("<itunes:duration>")[1:]]


if __name__ == "__main__":
    main()
