"""One run of a batch on a Dask worker: check that the code is the client's, take the host's
profiling lock, profile, and send the run folder back as bytes.

The lock is an `flock` on one file in the host's temporary folder, so that all worker processes
of a host share it, however many there are, and the kernel releases it when its holder dies. The
holder writes the folder its run works in beside the lock and removes that record when it is
done; a holder that finds a record left (its predecessor died in the middle of a profile) first
ends the processes still working in that folder, so an orphaned profile never overlaps the next
(a run given up as lost does the same when the lock is free, so no orphan outlives its batch).

The run gets the environment the worker was started with, not the one Dask's nanny adds for
the worker process, and its output stays off the worker's terminal.
"""

from __future__ import annotations

import fcntl
import io
import os
import shutil
import signal
import socket
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.profile_run import RunOutcome
from fixingahole.record import RunStatus
from fixingahole.settings import Settings

if TYPE_CHECKING:
    from distributed import Event

LOCK_FILE = "fixingahole-profile.lock"
MAX_ATTEMPTS = 2  # a run whose worker dies is retried once, then reported lost
COUNTER_TIMEOUT_S = 10.0  # a run's attempt counter not there by then: its batch is over


@dataclass(frozen=True)
class CodeCheck:
    """The code the client means for an entry: its path, content hash and git commit."""

    path: Path
    code_hash: str
    commit: str | None


@dataclass(frozen=True)
class RemoteBatch:
    """What every run of one batch shares: the client's settings and working directory, and the
    names of the batch's cluster-wide objects (a stop event; an attempt count, a turn per run)."""

    token: str
    settings: Settings
    workdir: Path  # the client's current directory: where scripts without a `cwd` run

    @property
    def stop(self) -> str:
        return f"fixingahole-{self.token}-stop"

    def attempts(self, index: int) -> str:
        return f"fixingahole-{self.token}-attempts-{index}"

    def turn(self, index: int) -> str:
        """Set once run `index` holds its host's lock or is over: the next may try for it."""
        return f"fixingahole-{self.token}-turn-{index}"


@dataclass(frozen=True)
class RemoteRun:
    """What a worker sends back for one run: the run's record as its JSON (plain data crosses
    Dask) and its folder, or why there is none: REFUSED (other code), LOST (its workers died)
    or `cancelled` (stopped while it waited for the host's lock: it never ran)."""

    host: str
    status: RunStatus
    error: str | None = None
    record: dict[str, Any] | None = None  # `RunRecord.to_json()`; None when no run was made
    archive: bytes = b""  # the run folder as a tar.gz; empty when no run was made
    cancelled: bool = False

    @classmethod
    def never_ran(cls, host: str, why: str) -> RemoteRun:
        """A run stopped (or its batch over) before it took the host's lock."""
        return cls(host, RunStatus.INTERRUPTED, why, cancelled=True)


class Stopped(Exception):
    """The client stopped the batch before this run took the host's lock."""


def profile_on_worker(
    run_one: Callable[..., RunOutcome],
    job: object,
    check: CodeCheck,
    batch: RemoteBatch,
    index: int,
    after: int | None = None,
) -> RemoteRun:
    """Profile `job` on this worker with `run_one` (the client's single-profile function), after
    run `after` of the batch has taken the host's lock."""
    from distributed import Event

    turn = Event(batch.turn(index))
    try:
        return _profile(run_one, job, check, batch, index, after, turn)
    finally:
        turn.set()


def _profile(
    run_one: Callable[..., RunOutcome],
    job: object,
    check: CodeCheck,
    batch: RemoteBatch,
    index: int,
    after: int | None,
    turn: Event,
) -> RemoteRun:
    host = socket.gethostname()
    attempt = _count_attempt(batch.attempts(index))
    if attempt is None:  # the client is gone (a run Dask redid after the batch ended)
        return RemoteRun.never_ran(host, "its batch is over")
    if attempt > MAX_ATTEMPTS:
        end_orphans_if_free()
        error = f"lost: the workers running it died {MAX_ATTEMPTS} times (last on {host})"
        return RemoteRun(host, RunStatus.LOST, error)
    refusal = refuse_other_code(check, host)
    if refusal:
        return RemoteRun(host, RunStatus.REFUSED, refusal)
    stop, work = threading.Event(), None
    try:
        with _watch_stop(batch.stop, stop):
            if after is not None:
                _wait_for_turn(batch.turn(after), stop)
            with host_lock(stop) as work, _quiet(), _environ_as_started():
                turn.set()
                settings = replace(batch.settings, output=work)
                outcome = run_one(job, settings=settings, stop=stop, workdir=batch.workdir)
        # after the lock: the host's next run goes on
        archive = b"" if outcome.run_dir is None else _archive(outcome.run_dir)
    except Stopped:
        return RemoteRun.never_ran(host, "stopped before it started")
    finally:
        if work is not None:
            shutil.rmtree(work, ignore_errors=True)
    record = None if outcome.record is None else outcome.record.to_json()
    return RemoteRun(host, outcome.status, outcome.error, record, archive)


@contextmanager
def _environ_as_started() -> Iterator[None]:
    """Give the run the environment the worker was started with: a nanny sets Dask's
    `distributed.nanny.pre-spawn-environ` (OMP_NUM_THREADS=1, MALLOC_TRIM_THRESHOLD_, ...) for
    its worker process, which would otherwise reach the profiled script and change what it does.
    The nanny is the worker's parent; its environment is the user's."""
    import dask
    import psutil
    from distributed import get_worker

    keys = list(dask.config.get("distributed.nanny.pre-spawn-environ", None) or ())
    try:
        parent = psutil.Process(os.getppid()).environ() if get_worker().nanny else None
    except (ValueError, psutil.Error):  # not in a worker, or the parent's is unreadable
        parent = None
    if not keys or parent is None:
        yield
        return
    saved = {key: os.environ.get(key) for key in keys}
    _set_environ({key: parent.get(key) for key in keys})
    try:
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: dict[str, str | None]) -> None:
    for key, value in values.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@contextmanager
def _quiet() -> Iterator[None]:
    """Keep the run's echo (the script's output, its summary) off the worker's terminal: it is
    all in the run folder, which goes back to the client."""
    with (
        open(os.devnull, "w", encoding="utf-8") as sink,
        redirect_stdout(sink),
        redirect_stderr(sink),
    ):
        yield


def refuse_other_code(check: CodeCheck, host: str) -> str | None:
    """Why this host must not profile the entry (its file or commit differs), or None."""
    from fixingahole.errors import UserError
    from fixingahole.provenance import content_hash, git_info

    try:
        here = content_hash(check.path)
    except UserError:
        return (
            f"refused on {host}: {check.path} is missing there; "
            "put the same code at the same path on every worker"
        )
    if here != check.code_hash:
        return (
            f"refused on {host}: {check.path} differs from the client's "
            f"({here[:15]} there, {check.code_hash[:15]} here); "
            "put the same code at the same path on every worker"
        )
    git = git_info(check.path)
    commit = git.commit if git else None
    if commit != check.commit:
        return (
            f"refused on {host}: the code is at commit {_short(commit)} there and "
            f"{_short(check.commit)} here; check out the same commit on every worker"
        )
    return None


def _short(commit: str | None) -> str:
    return commit[:10] if commit else "none (not in git)"


def _count_attempt(name: str) -> int | None:
    """Count this attempt at a run (the client set its counter to 0); return its number, or
    None when the counter is gone (the client dropped it at the batch's end)."""
    from distributed import Variable

    counter = Variable(name)
    try:
        attempt = int(counter.get(timeout=COUNTER_TIMEOUT_S)) + 1
    except TimeoutError:
        return None
    counter.set(attempt)
    return attempt


def _wait_for_turn(name: str, stop: threading.Event) -> None:
    """Wait until the batch's run before this one on the host has its turn, or `stop`."""
    from distributed import Event

    previous = Event(name)
    while not previous.wait(timeout=1.0):  # the scheduler answers when it is set
        if stop.is_set():
            raise Stopped
    if stop.is_set():
        raise Stopped


@contextmanager
def _watch_stop(name: str, stop: threading.Event) -> Iterator[None]:
    """Set `stop` when the client sets the batch's stop event, while the block runs."""
    from distributed import Event

    event = Event(name)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            with suppress(Exception):  # the scheduler gone: the run goes on to its end
                if event.wait(timeout=2.0):  # the scheduler answers when it is set
                    stop.set()
                    return

    watcher = threading.Thread(target=watch, name="fixingahole-stop-watch", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        done.set()


@contextmanager
def host_lock(stop: threading.Event) -> Iterator[Path]:
    """Hold the host's profiling lock; yield a new work folder (the caller removes it)."""
    record = _record_path()
    fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the kernel wakes it; no polling beside a profile
        if stop.is_set():  # stopped while it waited
            raise Stopped
        end_orphans(record)
        work = Path(tempfile.mkdtemp(prefix="fixingahole-run-"))
        record.write_text(str(work), encoding="utf-8")
        try:
            yield work
        finally:
            record.unlink(missing_ok=True)
    finally:
        os.close(fd)  # releases the lock


def end_orphans_if_free() -> None:
    """End a dead holder's run on this host unless a live one holds the lock (it has done so)."""
    fd = os.open(_lock_path(), os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        end_orphans(_record_path())
    except BlockingIOError:
        pass
    finally:
        os.close(fd)


def _lock_path() -> Path:
    return Path(tempfile.gettempdir()) / LOCK_FILE


def _record_path() -> Path:
    return _lock_path().with_name(f"{LOCK_FILE}.holder")


def end_orphans(record: Path) -> None:
    """End the processes of a dead holder's run (named by `record`), and remove its folder."""
    try:
        folder = record.read_text(encoding="utf-8").strip()
    except OSError:
        return
    import psutil  # distributed's own dependency

    if folder:
        for process in psutil.process_iter(["cmdline"]):
            if any(folder in part for part in process.info["cmdline"] or ()):
                with suppress(OSError):
                    os.killpg(os.getpgid(process.pid), signal.SIGKILL)
        shutil.rmtree(folder, ignore_errors=True)
    record.unlink(missing_ok=True)


def _archive(run_dir: Path) -> bytes:
    """The run folder as tar.gz bytes (fast compression: profile.json compresses well)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=1) as tar:
        tar.add(run_dir, arcname=".")
    return buffer.getvalue()
