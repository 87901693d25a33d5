"""A second cache level that builds and machines share: any fsspec URL (s3://, file://,
memory://...), from `cache:` in show.yaml or DRAMA_CACHE. The local .cache stays the first
level: a build fetches only the lines and chapters it lacks, and sends back what it made.
Entries are named by what makes their audio, so any build that names one may use it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from pathlib import Path

from toolkit.errors import DramaError
from toolkit.fsutil import atomic_write_bytes

ENV = "DRAMA_CACHE"


class SharedCache:
    """Files under a URL, by their path relative to the local cache folder. A cache that
    fails (offline, no credentials) is said once and the build goes on without it."""

    def __init__(self, url: str, warn: Callable[[str], None]):
        try:
            import fsspec
        except ImportError:
            raise DramaError(
                f"cache {url} needs fsspec (pip install 'drama-toolkit[cluster]')"
            ) from None
        try:
            self.fs, self.root = fsspec.core.url_to_fs(url)
        except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs
            raise DramaError(f"cache {url}: {exc}") from None
        self.url, self.warn, self.broken = url, warn, False

    def pull(self, local: Path, names: list[str]) -> int:
        """Fetch the named files the local cache lacks; how many were found."""
        wanted = {f"{self.root}/{n}": n for n in names if not (local / n).exists()}
        found = self._call(self._cat, list(wanted), default={}) if wanted else {}
        for path, data in sorted(found.items(), key=lambda item: item[0].endswith(".json")):
            atomic_write_bytes(local / wanted[path], data)  # a chapter's timeline last
        return len(found)

    def push(self, local: Path, names: list[str]) -> None:
        """Send the named local files (each written whole, then moved into place)."""
        for name in sorted(names, key=lambda n: n.endswith(".json")):
            if (local / name).exists():
                self._call(self._put, f"{self.root}/{name}", (local / name).read_bytes())

    def _cat(self, paths: list[str]) -> dict[str, bytes]:
        try:
            return self.fs.cat(paths, on_error="omit")
        except FileNotFoundError:  # none of them is there
            return {}

    def _put(self, path: str, data: bytes) -> None:
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        self.fs.pipe_file(temporary, data)
        self.fs.mv(temporary, path)

    def _call(self, action, *args, default=None):
        if self.broken:
            return default
        try:
            return action(*args)
        except Exception as exc:  # noqa: BLE001 - each backend has its own errors
            self.broken = True
            self.warn(f"shared cache {self.url}: {exc}; building without it")
            return default


def shared_cache(url: str | None, warn: Callable[[str], None]) -> SharedCache | None:
    """The shared cache DRAMA_CACHE or show.yaml names (the machine's setting first)."""
    url = os.environ.get(ENV) or url
    return SharedCache(url.rstrip("/"), warn) if url else None
