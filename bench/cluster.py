"""Measure a cold build of the story locally and on a local Dask cluster, side by side:
wall time, tasks per episode, bytes a line and a chapter move, byte identity.

    python bench/cluster.py [--workers 2]

Builds copies of script/, voices/ and sounds/ in a temporary folder; the scheduler and the
workers run there too, outside the project (they import the toolkit through PYTHONPATH)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.test_cluster import LocalCluster, site, until  # noqa: E402


def copy_story(folder: Path) -> Path:
    for part in ("script", "voices", "sounds"):
        if (REPO / part).is_dir():
            shutil.copytree(REPO / part, folder / part)
    return folder


def cold_build(root: Path, *extra: str) -> float:
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    subprocess.run(
        [sys.executable, "-m", "toolkit", "build", "-C", str(root), "-q", *extra],
        env=env,
        check=True,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        local = cold_build(copy_story(tmp / "local"))
        print(f"cold build, local pool: {local:.1f} s", flush=True)
        (tmp / "cluster").mkdir()
        cluster = LocalCluster(tmp / "cluster")
        try:
            for n in range(args.workers):
                cluster.add_worker(f"w{n}")
            with cluster.client() as client:
                until(lambda: len(cluster.names(client)) == args.workers, "the workers")
                clustered = cold_build(copy_story(tmp / "show"), "--scheduler", cluster.address)
                ran = client.run(lambda dask_worker: dask_worker.state.executed_count)
        finally:
            cluster.stop()
        clips = list((tmp / "show" / ".cache" / "speech").rglob("*.npy"))
        mp3s = list((tmp / "show" / ".cache" / "chapters").glob("*.mp3"))
        episodes = len(mp3s)
        clip_bytes = sum(p.stat().st_size for p in clips)
        same = site(tmp / "show") == site(tmp / "local")
        print(f"cold build, local pool: {local:.1f} s")
        print(
            f"cold build, {args.workers} dask workers: {clustered:.1f} s (byte-identical: {same})"
        )
        print(f"tasks run per worker: {ran} (lines {len(clips)}, chapters {episodes})")
        print(f"tasks per episode: {sum(ran.values()) / episodes:.1f}")
        print(f"bytes per line (float32 clip, each way): {clip_bytes / len(clips) / 1e3:.0f} kB")
        print(
            f"bytes back per chapter (MP3 + timeline): {sum(p.stat().st_size for p in mp3s) / episodes / 1e6:.2f} MB"
        )


if __name__ == "__main__":
    main()
