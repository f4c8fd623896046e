"""Where a run came from: git commit/branch/dirty, tool versions, host, CPU, and a content hash.

Called for every run, so it stays cheap: one `git` process (no git library), the standard
library for everything else, and `None` wherever a fact cannot be found.
"""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
from functools import cache
from importlib import metadata
from pathlib import Path

from fixingahole import __version__
from fixingahole.errors import UserError
from fixingahole.record import GitInfo

GIT_TIMEOUT_S = 5.0
_CHUNK = 1 << 20


def git_info(path: Path) -> GitInfo | None:
    """The commit, branch and dirty flag of the git work tree holding `path`, or None outside git.

    `commit` is None before the first commit and `branch` is None on a detached HEAD; a
    repository without a remote works like any other. `dirty` is True when a file git tracks
    differs between HEAD, the index and the work tree (staged or not, including staged new
    files and deletions); untracked files do not count. None also when git is missing, fails
    or takes longer than `GIT_TIMEOUT_S`.
    """
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    argv = ["git", "-C", str(folder), "status", "--porcelain=v2", "--branch"]
    argv.append("--untracked-files=no")
    # GIT_OPTIONAL_LOCKS=0: do not refresh the index, so a run never competes with the user's git.
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=GIT_TIMEOUT_S, env=env, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return _parse_status(done.stdout)


def _parse_status(text: str) -> GitInfo:
    """The commit, branch and dirty flag in `git status --porcelain=v2 --branch` output."""
    commit: str | None = None
    branch: str | None = None
    dirty = False
    for line in text.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.removeprefix("# branch.oid ")
            commit = None if oid == "(initial)" else oid
        elif line.startswith("# branch.head "):
            head = line.removeprefix("# branch.head ")
            branch = None if head == "(detached)" else head
        elif line and not line.startswith("#"):
            dirty = True
    return GitInfo(commit, branch, dirty)


def environment() -> dict[str, str | None]:
    """Python, Scalene and fixing-a-hole versions, host name, platform and CPU model."""
    return dict(_environment())


@cache
def _environment() -> dict[str, str | None]:
    return {
        "python": platform.python_version(),
        "scalene": _version_of("scalene"),
        "fixingahole": __version__,
        "host": socket.gethostname() or None,
        "platform": platform.platform(),
        "cpu": _cpu_model(),
    }


def _version_of(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _cpu_model() -> str | None:
    """The CPU's model name from /proc/cpuinfo (Linux), else what `platform` knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                    return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or None


def content_hash(path: Path) -> str:
    """`sha256:<hex>` of the file's bytes."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK):
                digest.update(chunk)
    except OSError as error:
        raise UserError(
            f"cannot read {path} to hash it ({error.strerror or error}); check the path"
        ) from None
    return f"sha256:{digest.hexdigest()}"
