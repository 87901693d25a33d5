"""Run a build's line syntheses and chapter renders on a Dask distributed cluster.

`Cluster` is a runner with the executor interface the build already uses for its local
process pool, so the pipeline is the same; only what crosses the wire differs. Workers need
the installed toolkit and its engines, not the project folder: a task carries its text and
voice settings, or a chapter's clips as arrays and the user's recordings as bytes, and
returns audio (samples, or the master's files) that the build stores in its local cache.
Dask reruns the tasks of a worker that is lost. Imported only for `--scheduler`."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
import uuid
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from pathlib import Path

from toolkit.cast import is_model_path
from toolkit.errors import DramaError
from toolkit.fsutil import atomic_write_bytes
from toolkit.mix.sounds import Library
from toolkit.script.model import Ambience, Chapter, Music, Sfx
from toolkit.speech.synth import ENGINES, speak_or_error

CONNECT_TIMEOUT = 10.0  # seconds to reach the scheduler and see a first worker
RETRIES = 2  # a task that raises is tried this many more times (a lost worker's are rerun)
HOME = Path(tempfile.gettempdir()) / "drama-toolkit"  # what a worker unpacks, by content
INSTALL = "pip install 'drama-toolkit[cluster]'"


def connect(address: str, log, warn) -> Cluster:
    """A client of the scheduler at `address` with at least one worker; one error line if
    dask is missing or the scheduler cannot be reached."""
    try:
        from distributed import Client
    except ImportError:
        raise DramaError(f"--scheduler needs dask distributed ({INSTALL})") from None
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise DramaError(f"cannot reach the scheduler at {address}: {exc}") from None
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT)
    except TimeoutError:
        client.close()
        raise DramaError(f"the scheduler at {address} has no workers") from None
    cluster = Cluster(client, address, warn)
    link = (
        f", dashboard {client.dashboard_link}"
        if cluster.info()["services"].get("dashboard")
        else ""
    )
    log(f"cluster {address}: {len(cluster.info()['workers'])} workers{link}")
    return cluster


class Cluster(Executor):
    """The build's runner on a cluster, in place of its local process pool."""

    remote = True  # the synthesizer sends every line here, even one

    def __init__(self, client, address: str, warn):
        self.client = client
        self.address = address
        self.warn = warn
        self._live: set = set()  # dask futures in flight (dask cancels a dropped one)
        self._lock = threading.Lock()
        self._engines: dict[str, dict[str, str | None]] = {}  # worker -> engine -> problem
        self._checked = 0.0
        self._warned: set[tuple[str, str]] = set()
        self._models: dict[tuple[str, str], object] = {}  # project model -> its dask future

    def info(self) -> dict:
        return self.client.scheduler_info()

    def submit(self, fn, *args) -> Future:
        """Queue `fn(*args)` on the cluster. A line's synthesis goes only to workers that
        have its engine; a chapter render is given its clips and recordings as data."""
        from toolkit.build import render_chapter

        if fn is speak_or_error:
            spec, *words = args  # text, direction, and whatever else the line takes
            workers = self._workers_for(spec.engine)
            if not workers:
                problem = next(iter(self._engines.values()), {}).get(spec.engine)
                return _done(f"no worker of the cluster can run {spec.engine} ({problem})")
            every = len(workers) == len(self._engines)
            job = (self._model(spec), spec, *words)
            return self._send("speak", _speak, job, None if every else workers)
        if fn is render_chapter:
            cache_dir, chapter, key, clip_files, voices, sounds_dir, formats = args
            # Sent ahead of the task, not inside it: dask's task graphs are not for data.
            data = (_clips(clip_files), _recordings(chapter, sounds_dir))
            sent = self.client.scatter([data], hash=False)[0]
            stored = self._send(f"render-{chapter.id}", _render, (chapter, sent, voices, formats))
            return _then(stored, lambda files: _store(cache_dir, key, files, chapter.number))
        raise TypeError(f"no cluster task for {fn.__name__}")

    def _model(self, spec):
        """A Piper model from the project folder, sent to the cluster once (each worker
        fetches it once and keeps it): (digest, model bytes, config bytes), or None."""
        if spec.engine != "piper" or not is_model_path(spec.voice):
            return None
        if (spec.folder, spec.voice) not in self._models:
            from toolkit.speech.piper import model_files

            model, config = (path.read_bytes() for path in model_files(spec))
            digest = hashlib.sha256(model + b"\0" + config).hexdigest()
            shipped = self.client.scatter([(digest, model, config)], hash=False)[0]
            self._models[spec.folder, spec.voice] = shipped
        return self._models[spec.folder, spec.voice]

    def _send(self, name: str, fn, args: tuple, workers: list[str] | None = None) -> Future:
        task = self.client.submit(
            fn,
            *args,
            key=f"{name}-{uuid.uuid4().hex}",
            retries=RETRIES,
            workers=workers,
            allow_other_workers=False,
        )
        result: Future = Future()
        with self._lock:
            self._live.add(task)
        task.add_done_callback(lambda done: self._settle(done, result, name))
        return result

    def _settle(self, task, result: Future, name: str) -> None:
        """A dask outcome as the executor outcome the build expects: a speech task that
        killed its workers is that voice's failure; a lost scheduler fails the build."""
        from distributed import KilledWorker

        with self._lock:
            self._live.discard(task)
        try:
            result.set_result(task.result())
        except KilledWorker:
            if name == "speak":
                result.set_result("the engine killed the cluster workers that ran it")
            else:
                result.set_exception(BrokenProcessPool(f"{name} killed its cluster workers"))
        except Exception as exc:  # noqa: BLE001 - a task's own error, or the cluster's
            dropped = DramaError(f"the cluster at {self.address} dropped this build's tasks")
            result.set_exception(dropped if task.status == "cancelled" else exc)

    def _workers_for(self, engine: str) -> list[str] | None:
        """The workers that can run `engine`; where only some can, each one that cannot is
        said once.
        Asked of workers as they join, at most once a second."""
        if time.monotonic() - self._checked > 1.0:
            self._checked = time.monotonic()
            new = [w for w in self.info()["workers"] if w not in self._engines]
            if new:
                found = self.client.run(_engine_problems, workers=new, on_error="return")
                self._engines |= {w: p for w, p in found.items() if isinstance(p, dict)}
        workers = [w for w, engines in self._engines.items() if engines.get(engine) is None]
        if len(workers) == len(self._engines) or not workers:
            return workers or []
        for worker, engines in self._engines.items():
            if engines.get(engine) is not None and (worker, engine) not in self._warned:
                self._warned.add((worker, engine))
                self.warn(f"cluster worker {worker}: {engines[engine]}; its lines go to the others")
        return workers

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """Called by a synthesizer giving up on a hung line: the cluster itself stays."""
        if cancel_futures:
            with self._lock:
                pending = [t for t in self._live if not t.done()]
            self.client.cancel(pending)

    def __exit__(self, *exc) -> None:
        self.client.close()


def _done(value) -> Future:
    done: Future = Future()
    done.set_result(value)
    return done


def _then(source: Future, fn) -> Future:
    """A future for fn(source's result), run when it arrives."""
    out: Future = Future()

    def chain(done: Future) -> None:
        try:
            out.set_result(fn(done.result()))
        except Exception as exc:  # noqa: BLE001 - handed to whoever waits on `out`
            out.set_exception(exc)

    source.add_done_callback(chain)
    return out


def _clips(clip_files: dict) -> dict:
    import numpy as np

    return {line: np.load(path) for line, path in clip_files.items()}


def _recordings(chapter: Chapter, sounds_dir: Path | None) -> dict[str, bytes]:
    """The user's files this chapter plays, by file name (the worker has no project)."""
    library = Library(sounds_dir)
    names = {scene.ambience for scene in chapter.scenes}
    names |= {
        line.name
        for scene in chapter.scenes
        for line in scene.lines
        if isinstance(line, Sfx | Music | Ambience)
    }
    sources = (library.source(name) for name in sorted(names))
    return {path.name: path.read_bytes() for path in sources if path is not None}


def _store(cache_dir: Path, key: str, files: dict[str, bytes], number: int) -> int:
    from toolkit.build import store_chapter

    store_chapter(cache_dir, key, files)
    return number


# What runs on a worker.


def _engine_problems() -> dict[str, str | None]:
    return {name: engine.problem() for name, engine in ENGINES.items()}


def _speak(model, spec, *words):
    """speak_or_error, with a project's Piper model unpacked into this machine's temp folder
    (by content, at the path the voice names) in place of the project folder."""
    if model is not None:
        digest, data, config = model
        folder = HOME / "models" / digest
        path = folder / spec.voice
        if not path.exists():
            atomic_write_bytes(path.with_name(path.name + ".json"), config)
            atomic_write_bytes(path, data)
        spec = replace(spec, folder=str(folder))
    return speak_or_error(spec, *words)


def _render(chapter, data: tuple[dict, dict[str, bytes]], voices, formats) -> dict[str, bytes]:
    """A chapter's cache files, from its clips and the user's recordings it plays, unpacked
    into this machine's temp folder by content (the built-ins are kept there too)."""
    from toolkit.build import master_chapter

    clips, recordings = data
    digest = hashlib.sha256()
    for name, data in sorted(recordings.items()):
        digest.update(name.encode() + b"\0" + hashlib.sha256(data).digest())
    folder = HOME / "recordings" / digest.hexdigest()
    for name, data in recordings.items():
        if not (folder / name).exists():
            atomic_write_bytes(folder / name, data)
    library = Library(folder if recordings else None, HOME / "sounds")
    return master_chapter(chapter, clips, voices, library, formats)
