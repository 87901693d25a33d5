"""`drama deploy`: put build/ online, so that podcast apps never see a feed ahead of its media.

A deploy compares what the site has with what the destination holds, by content hash, using
what the destination itself can tell: the files' own SHA-256 in a folder, the blob ids of
the branch's tree in git, the ETag (the MD5 of a single-part upload) in S3. Nothing is kept
on the side, so a deploy that was interrupted is resumed by running it again: what already
arrived matches and is skipped. The order keeps every feed ever online playable:

1. every changed file except the feed (audio, transcripts, cover, pages),
2. the feed, once everything it points at is there,
3. removal of what the site no longer has, once no feed points at it.

A git branch gets the whole site as one commit (built with plumbing, the user's working tree
and index untouched) pushed to `origin`: one atomic step, like `mkdocs gh-deploy`."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from toolkit.errors import DramaError
from toolkit.fsutil import atomic_write_bytes
from toolkit.publish.feed import FEED_NAME

Log = Callable[[str], None]
# Cache-Control by kind: audio and art change rarely and are big; the feed is polled.
MEDIA_CACHE = "public, max-age=604800"  # a week: re-rendered files keep their name
TEXT_CACHE = "public, max-age=3600"
FEED_CACHE = "public, max-age=300"
CONTENT_TYPES = {
    ".mp3": "audio/mpeg",
    ".m4b": "audio/mp4",
    ".m4a": "audio/mp4",
    ".opus": "audio/ogg; codecs=opus",
    ".ogg": "audio/ogg",
    ".flac": "audio/flac",
    ".jpg": "image/jpeg",
    ".png": "image/png",
    ".xml": "application/rss+xml; charset=utf-8",
    ".xsl": "text/xsl; charset=utf-8",
    ".vtt": "text/vtt; charset=utf-8",
    ".srt": "application/x-subrip; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
    ".txt": "text/plain; charset=utf-8",
}
MEDIA_SUFFIXES = (".mp3", ".m4b", ".m4a", ".opus", ".ogg", ".flac", ".jpg", ".png")


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def cache_control(name: str) -> str:
    if name == FEED_NAME:
        return FEED_CACHE
    return MEDIA_CACHE if Path(name).suffix.lower() in MEDIA_SUFFIXES else TEXT_CACHE


@dataclass(frozen=True)
class Change:
    action: str  # "upload" or "delete"
    path: str  # relative to the site root, with /
    why: str  # "new", "changed", "gone from the site"

    def __str__(self) -> str:
        return f"{self.action} {self.path} ({self.why})"


def site_files(build_dir: Path) -> dict[str, Path]:
    """Everything the site publishes, by relative path (no hidden or temporary files)."""
    if not (build_dir / FEED_NAME).is_file():
        raise DramaError(f"{build_dir.name}/{FEED_NAME} not found, expected a built site")
    found = {}
    for path in sorted(build_dir.rglob("*")):
        relative = path.relative_to(build_dir)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            found[relative.as_posix()] = path
    return found


def plan(local: dict[str, str], remote: dict[str, str]) -> list[Change]:
    """Uploads (feed last) then deletions, from digests by path on both sides."""
    uploads = [
        Change("upload", path, "new" if path not in remote else "changed")
        for path in sorted(local, key=lambda p: (p == FEED_NAME, p))
        if remote.get(path) != local[path]
    ]
    deletes = [
        Change("delete", path, "gone from the site")
        for path in sorted(remote.keys() - local.keys())
    ]
    return uploads + deletes


class Folder:
    """A directory, e.g. one a web server serves, or a mounted share."""

    def __init__(self, root: Path):
        self.root = root

    def digest(self, data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()

    def remote(self) -> dict[str, str]:
        if not self.root.is_dir():
            return {}
        return {
            path.relative_to(self.root).as_posix(): self.digest(path.read_bytes())
            for path in self.root.rglob("*")
            if path.is_file() and not path.name.startswith(".")
        }

    def put(self, path: str, data: bytes) -> None:
        atomic_write_bytes(self.root / path, data)

    def delete(self, path: str) -> None:
        target = self.root / path
        target.unlink(missing_ok=True)
        for folder in target.parents:
            if folder == self.root or any(folder.iterdir()):
                break
            folder.rmdir()


class Bucket:
    """An S3 bucket (AWS or any S3-compatible store) under a key prefix, through boto3."""

    def __init__(self, bucket: str, prefix: str, endpoint_url: str | None):
        try:
            import boto3
        except ImportError:
            raise DramaError(
                "deploying to s3:// needs boto3: pip install 'drama-toolkit[deploy]'"
            ) from None
        self.bucket, self.prefix = bucket, prefix.strip("/") + "/" if prefix.strip("/") else ""
        self.client = boto3.client(
            "s3", endpoint_url=endpoint_url or os.environ.get("AWS_ENDPOINT_URL")
        )

    def digest(self, data: bytes) -> str:
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def remote(self) -> dict[str, str]:
        found = {}
        pages = self.client.get_paginator("list_objects_v2")
        with self._errors():
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix):
                for item in page.get("Contents", []):
                    found[item["Key"][len(self.prefix) :]] = item["ETag"].strip('"')
        return found

    def put(self, path: str, data: bytes) -> None:
        with self._errors():
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.prefix + path,
                Body=data,
                ContentType=content_type(path),
                CacheControl=cache_control(path),
                ContentMD5=base64.b64encode(
                    hashlib.md5(data, usedforsecurity=False).digest()
                ).decode(),
            )

    def delete(self, path: str) -> None:
        with self._errors():
            self.client.delete_object(Bucket=self.bucket, Key=self.prefix + path)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """boto3's failures (no such bucket, denied, unreachable) as one-line user errors."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            yield
        except (BotoCoreError, ClientError) as exc:
            raise DramaError(f"s3://{self.bucket}/{self.prefix}: {exc}") from None


class Branch:
    """A branch of the project's git repository, pushed to its `origin` remote (GitHub Pages
    style). Objects are written into the repository; its working tree and index are not
    touched."""

    def __init__(self, repo: Path, branch: str, remote: str = "origin"):
        self.repo, self.branch, self.remote_name = repo, branch, remote
        self.git("rev-parse", "--git-dir")

    def git(self, *args: str, data: bytes | None = None, env: dict | None = None) -> str:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.repo,
                input=data,
                capture_output=True,
                env={**os.environ, **(env or {})},
                timeout=300,
            )
        except FileNotFoundError:
            raise DramaError("deploying to git: needs the git program") from None
        if done.returncode != 0:
            said = done.stderr.decode(errors="replace").strip().splitlines()
            raise DramaError(f"git {args[0]}: {said[-1] if said else 'failed'}")
        return done.stdout.decode()

    def digest(self, data: bytes) -> str:
        return hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()

    def head(self) -> str | None:
        """The branch's commit on the remote, fetched so its tree can be read."""
        listed = self.git("ls-remote", self.remote_name, f"refs/heads/{self.branch}").split()
        if not listed:
            return None
        self.git("fetch", "--quiet", self.remote_name, f"refs/heads/{self.branch}")
        return listed[0]

    def remote(self) -> dict[str, str]:
        head = self.head()
        if head is None:
            return {}
        found = {}
        for row in self.git("ls-tree", "-r", "-z", head).split("\0"):
            if row:
                meta, path = row.split("\t", 1)
                found[path] = meta.split()[2]
        found.pop(".nojekyll", None)
        return found

    def publish(self, files: dict[str, Path], message: str) -> str:
        """One commit holding exactly `files` (plus .nojekyll), pushed; returns its id."""
        parent = self.head()
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
            entries = {".nojekyll": self.git("hash-object", "-w", "--stdin", data=b"").strip()}
            for path, source in files.items():
                entries[path] = self.git(
                    "hash-object", "-w", "--stdin", data=source.read_bytes()
                ).strip()
            listing = "".join(f"100644 {sha}\t{path}\0" for path, sha in sorted(entries.items()))
            self.git("update-index", "--add", "-z", "--index-info", data=listing.encode(), env=env)
            tree = self.git("write-tree", env=env).strip()
        if parent is not None and self.git("rev-parse", f"{parent}^{{tree}}").strip() == tree:
            return parent
        args = ["commit-tree", tree, "-m", message] + (["-p", parent] if parent else [])
        commit = self.git(*args).strip()
        self.git("push", "--quiet", self.remote_name, f"{commit}:refs/heads/{self.branch}")
        self.git("update-ref", f"refs/heads/{self.branch}", commit)
        return commit


def destination(target: str, root: Path, endpoint_url: str | None):
    """`s3://bucket/prefix`, `git:BRANCH`, `file:PATH` or a plain path."""
    if target.startswith("s3://"):
        parts = urlsplit(target)
        if not parts.netloc:
            raise DramaError(f"deploy: expected s3://BUCKET/PREFIX, found '{target}'")
        return Bucket(parts.netloc, parts.path, endpoint_url)
    if target.startswith("git:"):
        branch = target.removeprefix("git:")
        if not branch or branch.startswith("-") or " " in branch:
            raise DramaError(f"deploy: expected git:BRANCH, found '{target}'")
        return Branch(root, branch)
    path = Path(target.removeprefix("file:")).expanduser()
    return Folder(path if path.is_absolute() else root / path)


def deploy(build_dir: Path, target, log: Log, dry_run: bool = False) -> list[Change]:
    """Bring `target` in line with the site; returns the changes (made, or with `dry_run`
    only listed)."""
    files = site_files(build_dir)
    local = {path: target.digest(source.read_bytes()) for path, source in files.items()}
    changes = plan(local, target.remote())
    if dry_run:
        for change in changes:
            log(f"would {change}")
        return changes
    if isinstance(target, Branch):
        commit = target.publish(files, f"Deploy {len(files)} files with drama")
        for change in changes:
            log(str(change))
        log(f"{target.remote_name} {target.branch}: {commit[:12]}")
        return changes
    for change in changes:
        if change.action == "upload":
            target.put(change.path, files[change.path].read_bytes())
        else:
            target.delete(change.path)
        log(str(change))
    return changes
