"""A published folder replaced all at once: a reader sees the old site or the new, never a mix.

The new site is built in a staging folder beside the real one, starting as hard links of every
file already there (nothing copied, unchanged files keep their dates), and swapped in with one
atomic rename (Linux renameat2 RENAME_EXCHANGE; elsewhere two renames, recovered by the next
build if a kill falls between them). Whatever a build writes into the staging folder gets this
for free. A build that changed nothing discards the staging folder and leaves the site alone."""

from __future__ import annotations

import ctypes
import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from toolkit.errors import DramaError
from toolkit.fsutil import fsync_dir

_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# renameat2 missing (old libc, not Linux) or refused by the file system: use two renames.
_NO_EXCHANGE = {errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP}
# A file system or file that takes no hard link (a full disk is not one of these).
_NO_LINK = {errno.EPERM, errno.EACCES, errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP}


def _real(folder: Path) -> Path:
    """The folder itself, or what a `build` symlink points at (the link stays a link)."""
    return folder.resolve() if folder.is_symlink() else folder


def _beside(real: Path) -> tuple[Path, Path]:
    return real.with_name(f".{real.name}.staging"), real.with_name(f".{real.name}.old")


def recover(folder: Path) -> None:
    """Undo what a killed build left: the old site put back if a kill fell between the two
    renames of the fallback swap, and any staging folder removed. Call it under the build lock."""
    real = _real(folder)
    staging, old = _beside(real)
    if not real.exists() and old.is_dir():
        os.rename(old, real)
    for leftover in (staging, old):
        if leftover.exists():
            shutil.rmtree(leftover)


def site_problem(folder: Path) -> None:
    """Refuse, before any work, a site folder that is a file or that the user made read-only."""
    real = _real(folder)
    name = folder.name
    if real.exists() and not real.is_dir():
        raise DramaError(f"{name} is a file, expected a folder for the site; move it away")
    if real.is_dir() and not os.access(real, os.W_OK):
        raise DramaError(
            f"{name}/ is read-only; make it writable (chmod u+w {name}) and build again"
        )


@contextmanager
def staged(folder: Path) -> Iterator[Path]:
    """A staging copy of `folder` to write the whole new site into; on success it replaces
    `folder` in one step (unless nothing in it changed), on any exception it is dropped."""
    site_problem(folder)
    recover(folder)
    real = _real(folder)
    real.mkdir(parents=True, exist_ok=True)
    staging, _ = _beside(real)
    try:
        _link_tree(real, staging)
        yield staging
        if not _same(real, staging):
            _swap(staging, real)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def _link_tree(source: Path, target: Path) -> None:
    """The site's tree again at `target`: folders made, files hard-linked, symlinks as links.
    (Not shutil.copytree: it gathers every failure, a full disk included, into one error.)"""
    target.mkdir()
    for entry in os.scandir(source):
        to = target / entry.name
        if entry.is_symlink():
            os.symlink(os.readlink(entry.path), to)
        elif entry.is_dir():
            _link_tree(Path(entry.path), to)
        else:
            _link(entry.path, to)


def _link(source: str, target: Path) -> None:
    """Hard-link an unchanged file into the staging folder (a copy where links are refused,
    e.g. an immutable file)."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        shutil.copy2(source, target)


def _same(real: Path, staging: Path) -> bool:
    """True when the staging folder holds exactly the site's own files (the same inodes)."""

    def tree(root: Path) -> dict[str, tuple[int, int] | str]:
        out: dict[str, tuple[int, int] | str] = {}
        for path in root.rglob("*"):
            name = path.relative_to(root).as_posix()
            if path.is_symlink():
                out[name] = os.readlink(path)
            elif path.is_dir():
                out[name] = "dir"
            else:
                stat = path.stat()
                out[name] = (stat.st_dev, stat.st_ino)
        return out

    return tree(real) == tree(staging)


def _swap(staging: Path, real: Path) -> None:
    """Put `staging` where `real` is in one atomic step; the old site ends up at `staging`."""
    try:
        exchange = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    except OSError:  # no C library to load by name (Windows)
        exchange = None
    if exchange is not None:
        code = exchange(
            _AT_FDCWD, os.fsencode(staging), _AT_FDCWD, os.fsencode(real), _RENAME_EXCHANGE
        )
        if code == 0:
            fsync_dir(real.parent)
            return
        number = ctypes.get_errno()
        if number not in _NO_EXCHANGE:
            raise OSError(number, os.strerror(number), str(real))
    _, old = _beside(real)
    os.rename(real, old)
    try:
        os.rename(staging, real)
    except OSError:
        os.rename(old, real)
        raise
    os.rename(old, staging)
    fsync_dir(real.parent)
