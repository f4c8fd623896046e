"""Provenance against real git repositories made in a temp folder."""

from __future__ import annotations

import hashlib
import platform
import shutil
from importlib import metadata
from pathlib import Path

import pytest

from fixingahole import __version__
from fixingahole.errors import UserError
from fixingahole.provenance import content_hash, environment, git_info
from fixingahole.record import GitInfo
from tests.factories import git

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository with one commit on branch `trunk`, no remote, in a folder with a space and ü."""
    folder = tmp_path / "my repö"
    folder.mkdir()
    git(folder, "init", "-q", "-b", "trunk")
    git(folder, "config", "user.name", "Test Person")
    git(folder, "config", "user.email", "test@example.com")
    git(folder, "config", "commit.gpgsign", "false")
    (folder / "script.py").write_text("print('hi')\n")
    git(folder, "add", "script.py")
    git(folder, "commit", "-q", "-m", "first")
    return folder


@pytest.mark.integration
@needs_git
def test_clean_repository_without_remote(repo: Path) -> None:
    assert git(repo, "remote") == ""
    info = git_info(repo / "script.py")
    assert info == GitInfo(git(repo, "rev-parse", "HEAD"), "trunk", False)
    assert git_info(repo) == info


@pytest.mark.integration
@needs_git
def test_subfolder_reports_the_enclosing_repository(repo: Path) -> None:
    sub = repo / "deep" / "er"
    sub.mkdir(parents=True)
    assert git_info(sub).commit == git(repo, "rev-parse", "HEAD")


@pytest.mark.integration
@needs_git
def test_modified_tracked_file_is_dirty(repo: Path) -> None:
    (repo / "script.py").write_text("print('changed')\n")
    assert git_info(repo).dirty is True
    git(repo, "add", "script.py")
    assert git_info(repo).dirty is True, "a staged change is still dirty"


@pytest.mark.integration
@needs_git
def test_untracked_file_is_not_dirty_but_staged_new_file_is(repo: Path) -> None:
    (repo / "scratch.txt").write_text("notes\n")
    assert git_info(repo).dirty is False
    git(repo, "add", "scratch.txt")
    assert git_info(repo).dirty is True


@pytest.mark.integration
@needs_git
def test_deleted_tracked_file_is_dirty(repo: Path) -> None:
    (repo / "script.py").unlink()
    assert git_info(repo).dirty is True


@pytest.mark.integration
@needs_git
def test_detached_head_has_no_branch(repo: Path) -> None:
    (repo / "script.py").write_text("print('second')\n")
    git(repo, "commit", "-q", "-am", "second")
    first = git(repo, "rev-parse", "HEAD~1")
    git(repo, "checkout", "-q", "--detach", first)
    assert git_info(repo) == GitInfo(first, None, False)


@pytest.mark.integration
@needs_git
def test_repository_without_commits(tmp_path: Path) -> None:
    git(tmp_path, "init", "-q", "-b", "main")
    assert git_info(tmp_path) == GitInfo(None, "main", False)


@needs_git
@pytest.mark.integration
def test_not_a_repository_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "x.py").write_text("")
    # GIT_CEILING_DIRECTORIES keeps git from finding a repository above the temp folder.
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert git_info(tmp_path / "x.py") is None
    assert git_info(tmp_path / "missing" / "y.py") is None


def test_git_missing_gives_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # a PATH on which there is no git
    assert git_info(tmp_path) is None


def test_environment_describes_this_interpreter() -> None:
    env = environment()
    assert set(env) == {"python", "scalene", "fixingahole", "host", "platform", "cpu"}
    assert env["python"] == platform.python_version()
    assert env["fixingahole"] == __version__
    try:
        assert env["scalene"] == metadata.version("scalene")
    except metadata.PackageNotFoundError:
        assert env["scalene"] is None
    assert env["platform"] == platform.platform()
    assert env["cpu"]
    env["python"] = "changed"
    assert environment()["python"] == platform.python_version(), "callers get their own copy"


def test_content_hash_follows_content(tmp_path: Path) -> None:
    script = tmp_path / "dir with space" / "ünï.py"
    script.parent.mkdir()
    script.write_bytes(b"x = 1\n")
    first = content_hash(script)
    assert first == "sha256:" + hashlib.sha256(b"x = 1\n").hexdigest()
    assert content_hash(script) == first
    script.write_bytes(b"x = 2\n")
    assert content_hash(script) != first


def test_content_hash_of_a_large_file(tmp_path: Path) -> None:
    data = bytes(range(256)) * 20_000  # several read chunks
    big = tmp_path / "big.bin"
    big.write_bytes(data)
    assert content_hash(big) == "sha256:" + hashlib.sha256(data).hexdigest()


def test_content_hash_of_missing_file_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read"):
        content_hash(tmp_path / "nope.py")
