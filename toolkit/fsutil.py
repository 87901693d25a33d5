"""Atomic file writes: a reader (web server, podcast client, next build) never sees half a file."""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

from toolkit.errors import DramaError

if TYPE_CHECKING:
    from collections.abc import Buffer  # bytes, or any contiguous array (Python 3.12)

_ADVICE = {
    errno.ENOSPC: "free some disk space and build again",
    errno.EDQUOT: "free some disk space and build again",
    errno.EROFS: "the disk is mounted read-only; build on a writable one",
    errno.EACCES: "make it writable (chmod u+w) and build again",
    errno.EPERM: "make it writable (chmod u+w; chattr -i if immutable) and build again",
}


def atomic_write_bytes(path: Path, *chunks: Buffer) -> Path:
    """Write `chunks` (bytes or any contiguous buffer, one after another) to a temp file
    beside `path`, fsync it, then rename over `path`.

    The temp file is created with mode 0666 minus the umask, so the result has the same
    permissions as a plainly written file (mkstemp's 0600 would hide it from a web server)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
    return path


def write_if_changed(path: Path, data: bytes) -> Path:
    """Atomically write `data` unless the file already holds exactly it, so unchanged
    outputs keep their dates and a rebuild with no changes writes nothing."""
    path = Path(path)
    if not (path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data):
        atomic_write_bytes(path, data)
    return path


def fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX only; Windows cannot open a directory)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def disk_error(exc: OSError, root: Path) -> DramaError:
    """A write the disk refused (full, read-only, immutable) as one line naming the folder
    under the project and what to do, instead of an internal error."""
    where = Path(exc.filename or root)
    try:
        parts = where.resolve().relative_to(Path(root).resolve()).parts
        top = parts[0] if parts else "."
        folder = "build/" if top.startswith(".build.") else f"{top}/"  # its staging folder
    except ValueError:
        folder = where.name
    advice = _ADVICE.get(exc.errno or 0, "check the folder and build again")
    return DramaError(f"cannot write {folder}: {exc.strerror or exc}; {advice}")


class Blobs:
    """Bytes kept in files of `folder` by key, each file ending in the SHA-256 of its bytes:
    one cut short or garbled reads as missing, never as other data. `used` collects every
    key asked for or stored, so a caller can tell which files it still needs."""

    def __init__(self, folder: Path, suffix: str):
        self.folder, self.suffix = folder, suffix
        self.used: set[str] = set()

    def get(self, key: str) -> memoryview | None:
        """The bytes kept under `key`, as a view of the file read once (a scene mix is tens
        of MB: no copy of it is made to split off the digest)."""
        self.used.add(key)
        try:
            blob = memoryview((self.folder / f"{key}{self.suffix}").read_bytes())
        except OSError:
            return None
        data, digest = blob[:-32], blob[-32:]
        return data if hashlib.sha256(data).digest() == digest else None

    def put(self, key: str, data: Buffer) -> None:
        """Keep `data` (bytes or a contiguous array, written as it is, without a copy)."""
        self.used.add(key)
        atomic_write_bytes(self.folder / f"{key}{self.suffix}", data, hashlib.sha256(data).digest())
