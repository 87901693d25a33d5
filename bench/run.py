"""Benchmark the writer's loop on the real story, everything measured side by side in one run:
cold build, no-op rebuild, one-line edits (narration and dialogue, longest chapter and another),
`drama proof` when there is one, peak memory of the whole process tree, real-time
factor per stage, the engines' own synthesis time, and a naive baseline on the same script.

    python bench/run.py [--out bench/results.md]

Runs on a copy of script/, voices/ and sounds/ in a temporary folder: the project's own
build/ and cache are left alone."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# One-line edits, each timed against the build before it: (name, chapter file, from, to).
EDITS = [
    (
        "narration line, longest chapter",
        "03-the-coffee-shop.yaml",
        "I didn't owe him anything",
        "I didn't owe him a thing",
    ),
    (
        "dialogue line, longest chapter",
        "03-the-coffee-shop.yaml",
        "Why now? Why after all this time?",
        "Why now? Why after all these years?",
    ),
    (
        "narration line, chapter 1",
        "01-the-door.yaml",
        "I couldn't believe what I was hearing.",
        "I couldn't believe my ears.",
    ),
]


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


def run(command: list[str], ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """Wall seconds, peak tree RSS and stdout of a command that exits with a status in `ok`
    (`drama proof` exits 1 when it flags a line)."""
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
    if process.returncode not in ok:
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


def snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted((root / "build").rglob("*"))
        if p.is_file()
    }


def guids(feed: str) -> list[str]:
    return [part.split("<")[0].split(">")[-1] for part in feed.split("<guid")[1:]]


def one_round(work: Path, timing: Path) -> dict[str, object]:
    """A cold build, a no-op, each edit, `drama proof` after the last (when it exists): wall
    seconds, peak RSS and stage timings, and what each edit changed in build/."""
    out: dict[str, object] = {}
    shutil.rmtree(work / "build", ignore_errors=True)
    shutil.rmtree(work / ".cache", ignore_errors=True)
    for folder in ("script", "voices", "sounds"):
        shutil.rmtree(work / folder, ignore_errors=True)
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, work / folder)
    out["cold"] = run(drama(work, timing))[:2]
    out["cold_stages"] = json.loads(timing.read_text())
    out["noop"] = run(drama(work, timing))[:2]
    proof = [sys.executable, "-m", "toolkit", "proof", "-C", str(work)]
    if _has_proof():  # the whole story heard once, so that the proof after the edits is
        out["proof, whole story"] = run(proof, ok=(0, 1))[:2]  # what a writer then waits for
        run(drama(work, timing))  # the word timings it heard go into every transcript once
    feed_before = (work / "build" / "feed.xml").read_text()
    for name, chapter, old, new in EDITS:
        path = work / "script" / chapter
        assert old in path.read_text(), old
        path.write_text(path.read_text().replace(old, new, 1))
        before = snapshot(work)
        out[name] = run(drama(work, timing))[:2]
        out[name + " stages"] = json.loads(timing.read_text())
        after = snapshot(work)
        out[name + " changed"] = sorted(k for k in after if after[k] != before.get(k))
    out["guids stable"] = guids((work / "build" / "feed.xml").read_text()) == guids(feed_before)
    if _has_proof():
        out["proof"] = run(proof, ok=(0, 1))[:2]
    return out


def _has_proof() -> bool:
    probe = [sys.executable, "-m", "toolkit", "proof", "--help"]
    return subprocess.run(probe, capture_output=True, cwd=REPO).returncode == 0


def median(values: list[float]) -> float:
    return statistics.median(values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results.md")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="drama-bench-"))
    try:
        timing = work / "timings.json"
        rounds = [one_round(work, timing) for _ in range(args.rounds)]
        # Once: with Kokoro speaking most of the story it takes minutes.
        engine, lines = engine_seconds(work)
        feed = (work / "build" / "feed.xml").read_text()
        audio = sum(int(d) for d in _durations(feed))
        naive, naive_rss, _ = run(
            [sys.executable, str(REPO / "bench" / "naive.py"), str(work), str(work / "naive")]
        )
        cores = os.cpu_count() or 1

        def wall(key: str) -> float:
            return median([r[key][0] for r in rounds])

        def rss(key: str) -> float:
            return max(r[key][1] for r in rounds) / 2**20

        def stage(key: str, name: str) -> float:
            return median([r[key][name] for r in rounds])

        cold, noop = wall("cold"), wall("noop")
        scenarios = [("cold build", "cold"), ("no-op rebuild", "noop")]
        scenarios += [(f"one-line edit: {name}", name) for name, *_ in EDITS]
        if "proof" in rounds[0]:
            scenarios.append(("drama proof, whole story (first run)", "proof, whole story"))
            scenarios.append(("drama proof after the edits", "proof"))
        edit = wall(EDITS[0][0])
        lines_out = [
            f"# Benchmark: {lines} lines, {audio / 60:.1f} min of audio, {cores} cores",
            "",
            f"Medians of {args.rounds} rounds, each from a fresh copy of the story; every ratio",
            "below is between numbers of the same rounds. The machine is shared with other",
            "jobs (other builds and tests use the same cores), so single timings are noisy.",
            "",
            "| scenario | wall s (median) | runs | x real time | peak RSS MB (process tree) |",
            "|---|---:|---|---:|---:|",
            *[
                f"| {label} | {wall(key):.2f} | {', '.join(f'{r[key][0]:.2f}' for r in rounds)} "
                f"| {audio / wall(key):.0f} | {rss(key):.0f} |"
                for label, key in scenarios
            ],
            f"| naive baseline (any edit = full rerun), once | {naive:.2f} | | "
            f"{audio / naive:.0f} | {naive_rss / 2**20:.0f} |",
            "",
            "Speech and mastering overlap (each chapter is mastered once its lines are voiced):",
            "`speech` is the time spent waiting on voices, `mix+master` the time after that.",
            "",
            "| stage (median s) | cold | " + " | ".join(n for n, *_ in EDITS) + " |",
            "|---|---:|" + "---:|" * len(EDITS),
            *[
                f"| {k} | {stage('cold_stages', k):.2f} | "
                + " | ".join(f"{stage(n + ' stages', k):.2f}" for n, *_ in EDITS)
                + " |"
                for k in rounds[0]["cold_stages"]
            ],
            "",
            "| ratio (same rounds) | value | target |",
            "|---|---:|---:|",
            f"| engines' own synthesis time, sequential (one process, once) | {engine:.2f} s | |",
            f"| cold build / engine time | {cold / engine:.2f} | |",
            f"| cold build / (engine time / {cores} cores) | {cold / (engine / cores):.2f} "
            "| <= 1.2 |",
            f"| no-op rebuild | {noop:.2f} s | < 0.5 s |",
            *[
                f"| one-line edit, {name} | {wall(name):.2f} s | < 2 s (moonshot 1 s) |"
                for name, *_ in EDITS
            ],
            f"| naive baseline / one-line edit | {naive / edit:.0f}x | >= 20x |",
            f"| peak RSS, cold build | {rss('cold'):.0f} MB | < 600 MB |",
            "",
            "What each edit changed in build/ (every round):",
            "",
            *[
                f"- {name}: {', '.join(rounds[0][name + ' changed'])}"
                + (
                    ""
                    if all(r[name + " changed"] == rounds[0][name + " changed"] for r in rounds)
                    else " (rounds differ)"
                )
                for name, *_ in EDITS
            ],
            f"- episode GUIDs unchanged by the edits: {all(r['guids stable'] for r in rounds)}",
        ]
        if "proof" not in rounds[0]:
            lines_out += ["", "`drama proof` is not in this build: not measured."]
        text = "\n".join(lines_out) + "\n"
        args.out.write_text(text)
        print(text)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _durations(feed: str) -> list[str]:
    return [part.split("<")[0] for part in feed.split("<itunes:duration>")[1:]]


if __name__ == "__main__":
    main()
