"""`drama deploy` to a folder, a bare git repository and a local S3 server (moto): only what
changed goes up, media before the feed, removals after it, and an interrupted deploy resumed
ends where an uninterrupted one would."""

from __future__ import annotations

import shutil
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import SHOW, run_cli, write_project

from toolkit.publish import deploy as deploying
from toolkit.publish.deploy import Bucket, Folder, deploy, destination, site_files

PUBLIC = "https://audio.dramatoolkit.org/test-show/"


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    show = SHOW.replace("http://127.0.0.1:8000/", PUBLIC)
    root = write_project(tmp_path_factory.mktemp("deploy") / "show", {"script/show.yaml": show})
    result = run_cli("build", "-C", str(root), "-q")
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture
def project(site: Path, tmp_path: Path) -> Path:
    root = tmp_path / "show"
    shutil.copytree(site, root)
    return root


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and not p.name.startswith(".")
    }


def retitle(root: Path) -> None:
    """An edit that changes the feed and one episode's tags, then a rebuild."""
    chapter = root / "script/01-one.yaml"
    chapter.write_text(chapter.read_text().replace("title: One", "title: One, Retitled"))
    assert run_cli("build", "-C", str(root), "-q").exit_code == 0


def test_folder_deploy_dry_run_then_real_then_nothing(project, tmp_path):
    dest = tmp_path / "www"
    dry = run_cli("deploy", "-C", str(project), "--dry-run", f"file:{dest}")
    assert dry.exit_code == 0, dry.stderr
    assert "would upload feed.xml (new)" in dry.output and not dest.exists()
    done = run_cli("deploy", "-C", str(project), str(dest))
    assert done.exit_code == 0, done.stderr
    assert tree(dest) == tree(project / "build")
    again = run_cli("deploy", "-C", str(project), str(dest))
    assert again.exit_code == 0 and "up to date" in again.output


def test_folder_deploy_uploads_changes_feed_last_and_removes_after(project, tmp_path):
    dest = Folder(tmp_path / "www")
    deploy(project / "build", dest, lambda m: None)
    (dest.root / "episodes/old-episode.mp3").write_bytes(b"gone from the site")
    retitle(project)
    order = []
    changes = deploy(project / "build", dest, order.append)
    assert [str(c) for c in changes] == order
    uploads = [c.path for c in changes if c.action == "upload"]
    assert "episodes/01-one.mp3" in uploads and "episodes/02-two.mp3" not in uploads
    assert uploads[-1] == "feed.xml"
    assert order[-1] == "delete episodes/old-episode.mp3 (gone from the site)"
    assert tree(dest.root) == tree(project / "build")


class Interrupted(Exception):
    pass


def interrupt_after(target, uploads: int, monkeypatch) -> list[str]:
    """Make `target` fail on its (uploads+1)th upload, as a dropped connection would."""
    done, put = [], type(target).put

    def flaky(self, path, data):
        if len(done) == uploads:
            raise Interrupted(path)
        put(self, path, data)
        done.append(path)

    monkeypatch.setattr(type(target), "put", flaky)
    return done


def test_interrupted_folder_deploy_resumes_and_never_feeds_ahead(project, tmp_path, monkeypatch):
    dest = Folder(tmp_path / "www")
    deploy(project / "build", dest, lambda m: None)
    before = tree(dest.root)
    retitle(project)
    done = interrupt_after(dest, 1, monkeypatch)
    with pytest.raises(Interrupted):
        deploy(project / "build", dest, lambda m: None)
    assert done and "feed.xml" not in done
    assert tree(dest.root)["feed.xml"] == before["feed.xml"]  # the old feed, its media there
    monkeypatch.undo()
    resumed = deploy(project / "build", dest, lambda m: None)
    assert done[0] not in [c.path for c in resumed]  # what arrived is not sent again
    assert tree(dest.root) == tree(project / "build")


# git --------------------------------------------------------------------------------------


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_git_branch_deploy(project, tmp_path):
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    git(project, "init", "--quiet")
    git(project, "config", "user.email", "writer@dramatoolkit.org")
    git(project, "config", "user.name", "Writer")
    git(project, "remote", "add", "origin", str(bare))
    (project / ".gitignore").write_text("build/\n.cache/\n")
    git(project, "add", "-A")
    git(project, "commit", "--quiet", "-m", "script")
    status = git(project, "status", "--porcelain")
    dry = run_cli("deploy", "-C", str(project), "-n", "git:gh-pages")
    assert dry.exit_code == 0, dry.stderr
    assert "would upload feed.xml (new)" in dry.output
    assert not git(bare, "branch", "--list", "gh-pages")
    done = run_cli("deploy", "-C", str(project), "git:gh-pages")
    assert done.exit_code == 0, done.stderr
    listed = git(bare, "ls-tree", "-r", "--name-only", "gh-pages").split()
    assert sorted(listed) == sorted([*site_files(project / "build"), ".nojekyll"])
    feed = subprocess.run(
        ["git", "show", "gh-pages:feed.xml"], cwd=bare, capture_output=True, timeout=60
    ).stdout
    assert feed == (project / "build/feed.xml").read_bytes()
    assert git(project, "status", "--porcelain") == status  # the user's tree untouched
    assert git(project, "branch", "--show-current").strip() in ("master", "main")
    first = git(bare, "rev-parse", "gh-pages").strip()
    assert "up to date" in run_cli("deploy", "-C", str(project), "git:gh-pages").output
    assert git(bare, "rev-parse", "gh-pages").strip() == first  # no empty commit
    retitle(project)
    assert run_cli("deploy", "-C", str(project), "git:gh-pages").exit_code == 0
    assert git(bare, "rev-parse", "gh-pages^").strip() == first  # history kept


# S3 (moto) --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def s3_endpoint():
    pytest.importorskip("moto")
    from moto.server import ThreadedMotoServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint, monkeypatch, request):
    import boto3

    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": s3_endpoint,
    }.items():
        monkeypatch.setenv(key, value)
    name = f"drama-{request.node.name.replace('_', '-')[:40]}"
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket=name)
    return client, name


def objects(client, name: str) -> dict[str, bytes]:
    listed = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in listed}


def test_s3_deploy_headers_and_no_reupload(project, bucket):
    client, name = bucket
    result = run_cli("deploy", "-C", str(project), f"s3://{name}/show")
    assert result.exit_code == 0, result.stderr
    site = tree(project / "build")
    assert objects(client, name) == {f"show/{k}": v for k, v in site.items()}
    mp3 = client.head_object(Bucket=name, Key="show/episodes/01-one.mp3")
    assert mp3["ContentType"] == "audio/mpeg" and "max-age=604800" in mp3["CacheControl"]
    feed = client.head_object(Bucket=name, Key="show/feed.xml")
    assert feed["ContentType"].startswith("application/rss+xml")
    assert feed["CacheControl"] == "public, max-age=300"
    vtt = client.head_object(Bucket=name, Key="show/episodes/01-one.vtt")
    assert vtt["ContentType"].startswith("text/vtt")
    again = run_cli("deploy", "-C", str(project), "--dry-run", f"s3://{name}/show")
    assert again.exit_code == 0 and "up to date" in again.output  # ETags match


def test_interrupted_s3_deploy_resumes(project, bucket, monkeypatch, tmp_path):
    client, name = bucket
    client.put_object(Bucket=name, Key="show/episodes/99-old.mp3", Body=b"old")
    client.put_object(Bucket=name, Key="other/keep.txt", Body=b"not ours")
    target = destination(f"s3://{name}/show", project, None)
    assert isinstance(target, Bucket)
    done = interrupt_after(target, 3, monkeypatch)
    with pytest.raises(Interrupted):
        deploy(project / "build", target, lambda m: None)
    held = objects(client, name)
    assert len(done) == 3 and "show/feed.xml" not in held  # no feed ahead of its media
    assert "show/episodes/99-old.mp3" in held  # nothing removed before the feed is up
    monkeypatch.undo()
    dry = deploy(project / "build", target, lambda m: None, dry_run=True)
    assert objects(client, name) == held  # a dry run changes nothing
    assert not {c.path for c in dry} & set(done)
    deploy(project / "build", target, lambda m: None)
    site = {f"show/{k}": v for k, v in tree(project / "build").items()}
    assert objects(client, name) == {**site, "other/keep.txt": b"not ours"}


def test_bad_destinations_are_one_line_errors(project):
    for dest, said in [("s3://", "expected s3://BUCKET"), ("git:", "expected git:BRANCH")]:
        result = run_cli("deploy", "-C", str(project), "-n", dest)
        assert result.exit_code == 2 and said in result.stderr
        assert "Traceback" not in result.stderr
    assert deploying.cache_control("feed.xml") == deploying.FEED_CACHE
