"""Run one Scalene child process: argv list, own temp dir, new session, timeout, signals,
tee'd output, and the wall time, CPU time and max RSS of its process tree."""

from __future__ import annotations

import codecs
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol, TextIO

from fixingahole.errors import UserError
from fixingahole.options import LOG_LEVELS
from fixingahole.record import RunStatus

PACKAGE_DIR = Path(__file__).resolve().parent
BOOTSTRAP_DIR = PACKAGE_DIR / "_bootstrap"
GRACE_S = 5.0  # how long a stopped child gets to write its partial profile before harsher signals
WRITE_S_PER_RUN_S = 0.5  # and more for each second it ran: Scalene's writing grows with the run
INTERRUPTED = b"Scalene execution interrupted."  # Scalene's line on stderr as it starts writing
LEFTOVER_GRACE_S = 1.0  # how long processes the script left behind get to end on their own
DRAIN_S = 2.0  # how long output is still read once every process of the group has ended
STARTED_MARKER = "script-started"  # made in the child's temp dir as the script's first line runs
EVENT_LOOP_MARK = "fixingahole-event-loop"  # made in the child's TMPDIR when an event loop runs
FINISHED_MARK = "scalene-finished"  # made in it when Scalene stops sampling to write its profile


@dataclass(frozen=True)
class ScaleneRequest:
    """What to run under Scalene and where its outputs go."""

    script: Path  # absolute path of the .py file to run
    json_path: Path  # absolute path Scalene writes its JSON to
    run_dir: Path  # stdout.txt, stderr.txt and logs.log are written here
    cwd: Path  # the script's working directory
    mode: str = "cpu"  # "cpu" (--cpu-only) or "memory" (--memory)
    # bytes, --allocation-sampling-window; passed in cpu mode too, where it only lets Scalene
    # start without relaunching itself (see _no_relaunch_env)
    allocation_window: int | None = None
    cpu_interval: float | None = None  # seconds between CPU samples (--cpu-sampling-rate)
    profile_all: bool = False  # --profile-all (report inside libraries too)
    stacks: bool = True  # --stacks / --no-stacks (Python frames only: see _bootstrap)
    async_profile: bool = False  # --async / --no-async
    program_path: Path | None = None  # --program-path: profile every file under it
    exclude: tuple[str, ...] = ()  # --profile-exclude substrings
    args: tuple[str, ...] = ()  # the script's own arguments, after ---
    env: Mapping[str, str] = field(default_factory=dict)  # added to the child's environment
    timeout: float | None = None  # seconds; then the process group is stopped
    log_level: str = "WARNING"  # logging records and warnings at this level and above -> logs.log
    no_plots: bool = False  # matplotlib / plotly never open a window
    live: float | None = None  # seconds between live snapshots (--profile-interval)
    on_snapshot: Callable[[Path], None] | None = None  # called with json_path every `live` seconds
    echo: bool = True  # tee the script's stdout/stderr to ours
    path_first: Path | None = None  # searched first by the script's imports (default: its folder)
    # set from another thread to stop the run as Ctrl-C would (a Dask worker's runs: signals
    # reach only the main thread, and a batch's runs are stopped by its client)
    stop: threading.Event | None = None


@dataclass(frozen=True)
class ScaleneResult:
    """How the child ended and what it cost."""

    status: RunStatus  # OK, FAILED, INTERRUPTED, TIMEOUT or TOOL_ERROR (see _tool_failure)
    exit_code: int | None
    wall_s: float
    cpu_s: float  # user + system of the whole process tree
    max_rss_mb: float  # largest resident set of any process in the tree
    command: tuple[str, ...]  # the argv that was run
    log_counts: Mapping[str, int] = field(default_factory=dict)  # level name -> records captured
    error: str | None = None  # one line: the script's exception, or why it was stopped
    ran_event_loop: bool = False  # an asyncio event loop ran (noted only without --async)


def run_scalene(request: ScaleneRequest) -> ScaleneResult:
    """Run the request to the end (or timeout / Ctrl-C) and return how it went."""
    _check(request)
    scalene_dir = _scalene_dir()
    command = scalene_command(request)
    logs = request.run_dir / "logs.log"
    with _run_files(request.run_dir) as (stdout_file, stderr_file):
        tmp = tempfile.mkdtemp(prefix="fixingahole-")
        try:
            env = _child_env(request, Path(tmp), logs, scalene_dir)
            finished = Path(tmp) / FINISHED_MARK
            ending = _run_child(request, command, env, stdout_file, stderr_file, finished)
            _remove_scalene_leftovers(ending.pid)
            script_started = (Path(tmp) / STARTED_MARKER).exists()
            ran_event_loop = (Path(tmp) / EVENT_LOOP_MARK).exists()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    status, error = ending.status, _error_line(request, ending)
    if status is RunStatus.FAILED:
        tool_error = _tool_failure(request, ending, script_started, scalene_dir)
        if tool_error is not None:
            status, error = RunStatus.TOOL_ERROR, tool_error
    return ScaleneResult(
        status=status,
        exit_code=ending.exit_code,
        wall_s=ending.wall_s,
        cpu_s=ending.cpu_s,
        max_rss_mb=ending.max_rss_mb,
        command=command,
        log_counts=count_log_levels(logs),
        error=error,
        ran_event_loop=ran_event_loop,
    )


def scalene_command(request: ScaleneRequest) -> tuple[str, ...]:
    """The argv that runs the request's script under Scalene."""
    argv = [sys.executable, "-m", "scalene", "run"]
    argv.append("--cpu-only" if request.mode == "cpu" else "--memory")
    if request.allocation_window is not None:
        argv += ["--allocation-sampling-window", str(request.allocation_window)]
    if request.cpu_interval is not None:
        argv += ["--cpu-sampling-rate", f"{request.cpu_interval:g}"]
    if request.profile_all:
        argv.append("--profile-all")
    argv.append("--stacks" if request.stacks else "--no-stacks")
    argv.append("--async" if request.async_profile else "--no-async")
    if request.program_path is not None:
        argv += ["--program-path", str(request.program_path)]
    exclude = list(request.exclude)
    # fixing-a-hole's own frames (the bootstrap's log capture, a notebook's shell) are not the
    # user's, even when the package lives under the profiled root (an editable install).
    if "," not in str(PACKAGE_DIR):
        exclude.append(os.path.join(str(PACKAGE_DIR), ""))
    argv += ["--profile-exclude", ",".join(exclude)]
    if request.live is not None:
        argv += ["--profile-interval", f"{request.live:g}"]
    argv += ["-o", str(request.json_path), str(request.script), "---", *request.args]
    return tuple(argv)


def count_log_levels(log_file: Path) -> dict[str, int]:
    """Records per level name in a logs.log written by the bootstrap (no file: none)."""
    counts: dict[str, int] = {}
    try:
        with log_file.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                fields = line.split("\t", 2)
                if len(fields) == 3:
                    counts[fields[1]] = counts.get(fields[1], 0) + 1
    except FileNotFoundError:
        pass
    return counts


def _check(request: ScaleneRequest) -> None:
    """Refuse a request that cannot run, with what to do about it."""
    if not request.script.is_file():
        raise UserError(f"{request.script}: no such script; check the path")
    if not request.json_path.is_absolute() or request.json_path.suffix != ".json":
        raise UserError(
            f"{request.json_path}: the profile must go to an absolute path ending .json"
        )
    json_dir = request.json_path.parent
    if json_dir != request.run_dir and not json_dir.is_dir():
        raise UserError(f"{json_dir}: the folder for the profile does not exist; create it first")
    if not request.cwd.is_dir():
        raise UserError(f"{request.cwd}: the working directory does not exist; create it first")
    if request.mode not in ("cpu", "memory"):
        raise UserError(f"mode {request.mode!r} is unknown; use 'cpu' or 'memory'")
    if request.allocation_window is not None and request.allocation_window < 1:
        raise UserError(
            f"allocation window {request.allocation_window} must be a positive byte count"
        )
    if request.log_level.upper() not in LOG_LEVELS:
        raise UserError(
            f"log level {request.log_level!r} is unknown; use one of {', '.join(LOG_LEVELS)}"
        )
    for name, seconds in (("timeout", request.timeout), ("live", request.live)):
        if seconds is not None and not seconds > 0:
            raise UserError(f"{name} must be a positive number of seconds, not {seconds}")
    if any("," in pattern for pattern in request.exclude):
        raise UserError(
            "a --profile-exclude pattern cannot contain a comma; give each one separately"
        )


def _scalene_dir() -> str:
    """The folder of the installed Scalene package, or a UserError saying how to install it."""
    from importlib.util import find_spec

    spec = find_spec("scalene")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            f"Scalene is not installed for {sys.executable}; "
            f"install it with: {sys.executable} -m pip install 'scalene>=2,<3'"
        )
    return str(Path(spec.submodule_search_locations[0]).resolve())


@contextmanager
def _run_files(run_dir: Path) -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """stdout.txt and stderr.txt, opened for writing, and an empty logs.log, in the run folder."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "logs.log").write_bytes(b"")
        stdout_file = (run_dir / "stdout.txt").open("wb", buffering=0)
    except OSError as exc:
        raise UserError(
            f"cannot write to the run folder {run_dir}: {exc.strerror}; "
            "choose another output folder or fix its permissions"
        ) from None
    with stdout_file, (run_dir / "stderr.txt").open("wb", buffering=0) as stderr_file:
        yield stdout_file, stderr_file


def _child_env(request: ScaleneRequest, tmp: Path, logs: Path, scalene_dir: str) -> dict[str, str]:
    """Our environment plus the request's, with the bootstrap first on PYTHONPATH."""
    env = {**os.environ, **request.env}
    python_path = [str(BOOTSTRAP_DIR), *filter(None, [env.get("PYTHONPATH")])]
    env.pop("FIXINGAHOLE_NO_PLOTS", None)
    env.update(
        PYTHONPATH=os.pathsep.join(python_path),
        PYTHONUNBUFFERED="1",
        TMPDIR=str(tmp),
        FIXINGAHOLE_LOG_FILE=str(logs),
        FIXINGAHOLE_LOG_LEVEL=request.log_level.upper(),
        FIXINGAHOLE_SKIP_PATHS=scalene_dir,
        FIXINGAHOLE_SCRIPT=os.path.abspath(request.script),
        FIXINGAHOLE_STARTED=str(tmp / STARTED_MARKER),
        FIXINGAHOLE_FINISHED_MARK=str(tmp / FINISHED_MARK),
    )
    if request.path_first is not None:
        env["FIXINGAHOLE_PATH_FIRST"] = str(request.path_first)
    if request.no_plots:
        env.update(MPLBACKEND="Agg", FIXINGAHOLE_NO_PLOTS="1")
    env.pop("FIXINGAHOLE_PYTHON_STACKS", None)
    env.pop("FIXINGAHOLE_EVENT_LOOP_MARK", None)
    if request.stacks:
        env["FIXINGAHOLE_PYTHON_STACKS"] = "1"
    if not request.async_profile:
        env["FIXINGAHOLE_EVENT_LOOP_MARK"] = str(tmp / EVENT_LOOP_MARK)
    env.update(_no_relaunch_env(request, env, scalene_dir))
    return env


def _remove_scalene_leftovers(pid: int) -> None:
    """Remove the files Scalene's memory library makes under /tmp (whatever TMPDIR says) for the
    Scalene process, and leaves there; those of the script's own child processes stay."""
    for kind in ("malloc", "memcpy"):
        for role in ("init", "lock", "signal"):
            with suppress(OSError):
                os.remove(f"/tmp/scalene-{kind}-{role}{pid}")


def _no_relaunch_env(
    request: ScaleneRequest, env: Mapping[str, str], scalene_dir: str
) -> dict[str, str]:
    """The variables Scalene 2.x sets before it relaunches itself to run the script, set here.

    Scalene starts a second interpreter unless its environment already holds them (its library
    preloaded in memory mode, the allocation window); with them in place it profiles in its first
    process, which saves a whole Scalene start-up (0.3-1 s). Should a Scalene version want more,
    it still relaunches, as it always did. Without an allocation window nothing is set.
    """
    if request.allocation_window is None:
        return {}
    wanted = {"SCALENE_ALLOCATION_SAMPLING_WINDOW": str(request.allocation_window)}
    if sysconfig.get_config_var("Py_GIL_DISABLED") and "PYTHON_GIL" not in env:
        wanted["PYTHON_GIL"] = "1"  # a free-threaded build: Scalene needs the GIL on
    if sys.platform == "darwin":
        wanted["OBJC_DISABLE_INITIALIZE_FORK_SAFETY"] = "YES"
        if request.mode == "memory":
            wanted["DYLD_INSERT_LIBRARIES"] = os.path.join(scalene_dir, "libscalene.dylib")
    elif sys.platform.startswith("linux") and request.mode == "memory":
        library_path = env.get("LD_LIBRARY_PATH", "")
        if scalene_dir not in library_path:
            wanted["LD_LIBRARY_PATH"] = os.pathsep.join(filter(None, [scalene_dir, library_path]))
        preload = env.get("LD_PRELOAD", "")
        if "libscalene.so" not in preload.split(":"):
            wanted["LD_PRELOAD"] = ":".join(filter(None, ["libscalene.so", preload]))
        if "PYTHONMALLOC" in env:
            wanted["PYTHONMALLOC"] = "default"
    return wanted


@dataclass(frozen=True)
class _Ending:
    """How the process tree ended, as measured here."""

    status: RunStatus
    exit_code: int | None
    wall_s: float
    cpu_s: float
    max_rss_mb: float
    stopped_by: str | None  # why we stopped it: a signal name, or "timeout"
    pid: int  # of the Scalene process


def _run_child(
    request: ScaleneRequest,
    command: tuple[str, ...],
    env: dict[str, str],
    stdout_file: BinaryIO,
    stderr_file: BinaryIO,
    finished: Path,
) -> _Ending:
    """Start the child in its own session, wait for it or stop it, and measure it."""
    trailer = _trailer_lines(request.json_path)
    echo_out = sys.stdout if request.echo else None
    echo_err = _UsersTraceback(sys.stderr, _hidden_dirs()) if request.echo else None
    with _stop_signals() as received:
        started = time.perf_counter()
        child = subprocess.Popen(
            command,
            cwd=request.cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        waiter = _Waiter(child)
        writing = threading.Event()
        assert child.stdout is not None and child.stderr is not None
        try:
            pump = _Pump(
                {
                    child.stdout.fileno(): _Tee(stdout_file, echo_out, trailer),
                    child.stderr.fileno(): _Tee(stderr_file, echo_err, trailer, writing),
                }
            )
            if request.live is not None and request.on_snapshot is not None:
                _start_snapshots(request.live, request.on_snapshot, request.json_path, waiter.done)
            stopped_by = _wait(waiter, received, started, request.timeout, request.stop)
        except BaseException:
            _stop_scalene(child.pid, waiter.done, time.perf_counter() - started, writing, finished)
            raise
        if stopped_by is not None:
            _stop_scalene(child.pid, waiter.done, time.perf_counter() - started, writing, finished)
        elif not _wait_gone(child.pid, waiter.done, LEFTOVER_GRACE_S):
            _end_group(child.pid, waiter.done, (signal.SIGTERM, signal.SIGKILL))
        pump.finish()
        child.stdout.close()
        child.stderr.close()
    if stopped_by is None and received:  # it came as the script ended by itself: still a stop
        stopped_by = received[0]
    if stopped_by == "timeout":
        status = RunStatus.TIMEOUT
    elif stopped_by is not None:
        status = RunStatus.INTERRUPTED
    else:
        status = RunStatus.OK if waiter.exit_code == 0 else RunStatus.FAILED
    if not waiter.done.is_set():  # not even SIGKILL ended it
        return _Ending(status, None, time.perf_counter() - started, 0.0, 0.0, stopped_by, child.pid)
    wall_s = waiter.ended - started
    exit_code = waiter.exit_code if stopped_by is None else None  # a stopped run has none
    return _Ending(
        status, exit_code, wall_s, waiter.cpu_s, waiter.max_rss_mb, stopped_by, child.pid
    )


@contextmanager
def _stop_signals() -> Iterator[list[str]]:
    """Collect SIGINT and SIGTERM sent to us (names, in order) instead of dying of them.

    Handlers can only be set from the main thread; elsewhere the list stays empty.
    """
    received: list[str] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return

    def note(signum: int, frame: object) -> None:
        received.append(signal.Signals(signum).name)

    previous = {signum: signal.signal(signum, note) for signum in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, signal.SIG_DFL if handler is None else handler)


def _wait(
    waiter: _Waiter,
    received: list[str],
    started: float,
    timeout: float | None,
    stop: threading.Event | None = None,
) -> str | None:
    """Wait until the child exits (None), a stop signal or `stop` arrives (its name) or time runs
    out."""
    deadline = None if timeout is None else started + timeout
    try:
        while not waiter.done.wait(0.1):
            if received:
                return received[0]
            if stop is not None and stop.is_set():
                return "stopped by the batch's client"
            if deadline is not None and time.perf_counter() >= deadline:
                return "timeout"
    except KeyboardInterrupt:
        return "SIGINT"
    return None


class _Waiter:
    """Reaps the child from a thread, with the rusage of its whole reaped tree."""

    def __init__(self, child: subprocess.Popen[bytes]) -> None:
        self.done = threading.Event()
        self.exit_code: int | None = None
        self.ended = 0.0
        self.cpu_s = 0.0
        self.max_rss_mb = 0.0
        self._child = child
        threading.Thread(target=self._reap, name="scalene-waiter", daemon=True).start()

    def _reap(self) -> None:
        try:
            _, status, usage = os.wait4(self._child.pid, 0)
        except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): nothing to measure
            self.ended = time.perf_counter()
            self.done.set()
            return
        self.ended = time.perf_counter()
        self.exit_code = os.waitstatus_to_exitcode(status)
        self._child.returncode = self.exit_code  # reaped here: Popen must not wait for it again
        self.cpu_s = usage.ru_utime + usage.ru_stime
        # Linux reports kilobytes, macOS bytes.
        self.max_rss_mb = usage.ru_maxrss / (1024 * 1024 if sys.platform == "darwin" else 1024)
        self.done.set()


def _group_members(pgid: int) -> list[int] | None:
    """Live (not zombie) processes of a process group, from /proc; None without /proc."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return None
    members = []
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
            members.append(int(entry))
    return members


def _group_alive(pgid: int) -> bool:
    """Whether any live process is left in the group."""
    members = _group_members(pgid)
    if members is not None:
        return bool(members)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _wait_gone(
    pgid: int, launcher_done: threading.Event, seconds: float, until: threading.Event | None = None
) -> bool:
    """Wait up to `seconds` (or until `until` is set) for the launcher to be reaped and its
    group to be empty."""
    deadline = time.monotonic() + seconds
    while True:
        if launcher_done.is_set() and not _group_alive(pgid):
            return True
        if time.monotonic() >= deadline or (until is not None and until.is_set()):
            return False
        time.sleep(0.05)


def _end_group(pgid: int, launcher_done: threading.Event, signals: tuple[int, ...]) -> None:
    """Signal the process group, harder each time, until no process of it is left."""
    for signum in signals:
        _signal_group(pgid, signum)
        if _wait_gone(pgid, launcher_done, 1.0 if signum == signal.SIGKILL else GRACE_S):
            return


def _stop_scalene(
    pgid: int,
    launcher_done: threading.Event,
    run_s: float,
    writing: threading.Event,
    finished: Path,
) -> None:
    """Stop a run so that Scalene writes what it sampled, however long it ran.

    SIGINT stops the script with a KeyboardInterrupt, which Scalene catches ("Scalene execution
    interrupted.", seen as `writing`) before it writes its profile. A script that swallows the
    interrupt gets SIGTERM after GRACE_S: Scalene's handler writes the profile at once. Writing
    takes longer the longer the run (3.5 s after 20 s in memory mode), so the grace before
    SIGKILL grows with it; a signal while Scalene writes would cut the profile short, so once
    the script has ended (`finished`, marked by the bootstrap) none is sent until then.
    """
    if not finished.exists():
        _signal_group(pgid, signal.SIGINT)
        if _wait_gone(pgid, launcher_done, GRACE_S, until=writing):
            return
    if not (writing.is_set() or finished.exists()):
        _signal_group(pgid, signal.SIGTERM)
    if _wait_gone(pgid, launcher_done, GRACE_S + WRITE_S_PER_RUN_S * run_s):
        return
    _signal_group(pgid, signal.SIGKILL)
    _wait_gone(pgid, launcher_done, 1.0)


def _signal_group(pgid: int, signum: int) -> None:
    """Send a signal to the process group.

    SIGINT makes Scalene write a partial profile. It goes to every process of the group but
    the launcher (when Scalene relaunched itself), which would exit at once and orphan its
    child, whose resource use would then be lost to us; the launcher exits once its child has.
    """
    members = _group_members(pgid) if signum == signal.SIGINT else None
    others = [pid for pid in members or () if pid != pgid]
    for pid in others:
        with suppress(ProcessLookupError):
            os.kill(pid, signum)
    if not others:
        with suppress(ProcessLookupError):
            os.killpg(pgid, signum)


class _Echo(Protocol):
    """Where a `_Tee` shows its stream: ours, or a `_UsersTraceback` in front of our stderr."""

    def write(self, text: str, /) -> object: ...

    def flush(self) -> object: ...


class _Tee:
    """Copies one output stream of the child to a file and to ours, minus Scalene's trailer.

    The trailer is matched exactly, line by line (an optional blank line, "Scalene: profile
    saved to <json>" and the two "To view" lines); lines that might start it are held back
    until it is clear whether they do.
    """

    def __init__(
        self,
        file: BinaryIO,
        echo: _Echo | None,
        trailer: tuple[bytes, ...],
        interrupted: threading.Event | None = None,
    ) -> None:
        self._interrupted = interrupted  # set when Scalene says it caught the interrupt
        self._file = file
        self._echo = echo
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._trailers = (trailer, trailer[1:])  # the blank line before it may be missing
        self._held: list[bytes] = []
        self._partial = b""
        self._mid_line = False  # the start of the current line was already passed on

    def feed(self, data: bytes) -> None:
        *lines, self._partial = (self._partial + data).split(b"\n")
        if self._interrupted is not None and INTERRUPTED in lines:
            self._interrupted.set()
        for line in lines:
            if self._mid_line:
                self._mid_line = False
                self._emit(line + b"\n")
            else:
                self._add_line(line)
        may_be_trailer = any(line.startswith(self._partial) for line in self._trailers[0])
        if self._partial and (self._mid_line or not (self._held or may_be_trailer)):
            self._emit(self._partial)
            self._partial = b""
            self._mid_line = True

    def close(self) -> None:
        self._emit(b"".join(line + b"\n" for line in self._held) + self._partial)
        self._held = []
        self._partial = b""
        if self._echo is not None:
            self._echo.write(self._decoder.decode(b"", final=True))
            finish = getattr(self._echo, "finish", self._echo.flush)
            finish()

    def _add_line(self, line: bytes) -> None:
        self._held.append(line)
        while self._held and not any(
            t[: len(self._held)] == tuple(self._held) for t in self._trailers
        ):
            self._emit(self._held.pop(0) + b"\n")
        if tuple(self._held) in self._trailers:
            self._held = []

    def _emit(self, data: bytes) -> None:
        if not data:
            return
        self._file.write(data)
        if self._echo is not None:
            self._echo.write(self._decoder.decode(data))
            self._echo.flush()


def _hidden_dirs() -> tuple[str, ...]:
    """Folders whose frames a shown traceback leaves out: Scalene's and fixing-a-hole's."""
    from importlib.util import find_spec

    spec = find_spec("scalene")
    folders = [str(PACKAGE_DIR), *(spec.submodule_search_locations or () if spec else ())]
    return tuple(os.path.join(os.path.realpath(folder), "") for folder in folders)


class _UsersTraceback:
    """The script's stderr as shown: its tracebacks as plain Python shows them.

    Frames of Scalene and fixing-a-hole (a `File` line and the source lines under it) are left
    out, and so is the preamble Scalene prints before the traceback of the script's exception;
    stderr.txt keeps everything. Text that is not a traceback passes at once, partial lines too.
    """

    def __init__(self, out: TextIO, hidden: tuple[str, ...]) -> None:
        self._out = out
        self._hidden = hidden
        self._partial = ""
        self._mid_line = False  # the start of the current line was already passed on
        self._held: list[str] = []  # Scalene's preamble, until its traceback starts
        self._in_traceback = False
        self._skipping = False  # inside a hidden frame

    def write(self, text: str) -> None:
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            if self._mid_line:
                self._mid_line = False
                self._out.write(line + "\n")
            else:
                self._add_line(line)
        starts_block = any(m.startswith(self._partial[:20]) for m in _BLOCK_STARTS)
        held = self._in_traceback or self._held or starts_block
        if self._partial and (self._mid_line or not held):
            self._out.write(self._partial)
            self._partial = ""
            self._mid_line = True

    def flush(self) -> None:
        self._out.flush()

    def finish(self) -> None:
        """Show what is still held back: the output has ended."""
        self._flush_held()
        self._out.write(self._partial)
        self._partial = ""
        self._out.flush()

    def _add_line(self, line: str) -> None:
        if line == _PREAMBLE:
            self._flush_held()
            self._held = [line]
        elif line == _TRACEBACK:
            self._held = []  # Scalene's preamble: not shown
            self._in_traceback, self._skipping = True, False
            self._out.write(line + "\n")
        elif self._held and len(self._held) < 100:
            self._held.append(line)
        elif self._in_traceback:
            self._traceback_line(line)
        else:
            self._flush_held()
            self._out.write(line + "\n")

    def _traceback_line(self, line: str) -> None:
        frame = _FRAME.match(line)
        if frame is not None:
            self._skipping = os.path.realpath(frame["file"]).startswith(self._hidden)
        elif not line.startswith("    "):
            self._in_traceback = self._skipping = False  # the exception line ends it
        if not self._skipping:
            self._out.write(line + "\n")

    def _flush_held(self) -> None:
        self._out.write("".join(line + "\n" for line in self._held))
        self._held = []


def _trailer_lines(json_path: Path) -> tuple[bytes, ...]:
    """The lines Scalene prints after writing its JSON (see Scalene.output_profile)."""
    path = str(json_path)
    return tuple(
        line.encode("utf-8", "surrogateescape")
        for line in (
            "",
            f"Scalene: profile saved to {path}",
            f"  To view in browser:  scalene view {path}",
            f"  To view in terminal: scalene view --cli {path}",
        )
    )


class _Pump:
    """Reads the child's output pipes from a thread and feeds each to its tee."""

    def __init__(self, tees: dict[int, _Tee]) -> None:
        self._tees = tees
        self._finishing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scalene-output", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        """Read what is left (at most DRAIN_S more, for pipes held by escaped processes)."""
        self._finishing.set()
        self._thread.join(DRAIN_S + 1.0)

    def _run(self) -> None:
        with selectors.DefaultSelector() as selector:
            for fd in self._tees:
                selector.register(fd, selectors.EVENT_READ)
            stop_at = None
            while selector.get_map():
                if self._finishing.is_set():
                    stop_at = stop_at or time.monotonic() + DRAIN_S
                    if time.monotonic() >= stop_at:
                        break
                for key, _ in selector.select(timeout=0.1):
                    data = os.read(key.fd, 65536)
                    if data:
                        self._tees[key.fd].feed(data)
                    else:
                        selector.unregister(key.fd)
        for tee in self._tees.values():
            tee.close()


def _start_snapshots(
    every: float, on_snapshot: Callable[[Path], None], json_path: Path, done: threading.Event
) -> None:
    """Call on_snapshot(json_path) every `every` seconds until `done`; its errors are its own."""

    def run() -> None:
        while not done.wait(every):
            with suppress(Exception):  # a broken live view must not end the run
                on_snapshot(json_path)

    threading.Thread(target=run, name="scalene-snapshots", daemon=True).start()


_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s*File "(?P<file>.+)", line (?P<line>\d+)')
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
_PREAMBLE = "Error in program being profiled:"  # Scalene's, before the script's traceback
_BLOCK_STARTS = (_TRACEBACK, _PREAMBLE, '  File "')
_STAND_IN = re.compile(r"[/\\]scalene[/\\]replacement_\w+\.py$")
_KILLED = re.compile(r"^Scalene error: received signal (SIG[A-Z0-9]+)$")


def _error_line(request: ScaleneRequest, ending: _Ending) -> str | None:
    """One line saying why the run did not end well, or None when it did."""
    if ending.status is RunStatus.OK:
        return None
    if ending.stopped_by == "timeout":
        return f"timed out after {request.timeout:g} s"
    if ending.stopped_by is not None:
        return f"interrupted ({ending.stopped_by})"
    return _failure_line(
        _tail_lines(request.run_dir / "stderr.txt"),
        _tail_lines(request.run_dir / "stdout.txt"),
        ending.exit_code,
    )


def _tool_failure(
    request: ScaleneRequest, ending: _Ending, script_started: bool, scalene_dir: str
) -> str | None:
    """One line saying how Scalene or fixing-a-hole failed the run, or None: the script failed.

    The tool failed when the script's first line never ran (Scalene's start-up, or the
    bootstrap) though the script compiles, or when the last traceback's exception was raised
    in Scalene's or fixing-a-hole's own code; Scalene's stand-ins for the script's calls
    (`replacement_*.py`) count as the script.
    """
    stderr_lines = _tail_lines(request.run_dir / "stderr.txt")
    what = _failure_line(
        stderr_lines, _tail_lines(request.run_dir / "stdout.txt"), ending.exit_code
    )
    advice = "not the script's failure; see stderr.txt in the run folder and report it"
    if what.split(":", 1)[0] in _SYNTAX_ERRORS and f"({request.script}, line" in what:
        return None  # Scalene could not compile the script: the script's failure
    if not script_started:
        return f"the tool failed before the script's first line ran: {what} ({advice})"
    frame = _raising_frame(stderr_lines)
    for owner, folder in (("Scalene", scalene_dir), ("fixing-a-hole", str(PACKAGE_DIR))):
        if frame is not None and frame["file"].startswith(os.path.join(folder, "")):
            where = f"{os.path.basename(frame['file'])}, line {frame['line']}"
            return f"{owner} failed in its own code ({where}): {what} ({advice})"
    return None


def _raising_frame(stderr_lines: list[str]) -> re.Match[str] | None:
    """The innermost frame of the last traceback, Scalene's stand-ins skipped."""
    starts = [i for i, line in enumerate(stderr_lines) if line == _TRACEBACK]
    frame = None
    for line in stderr_lines[starts[-1] + 1 :] if starts else ():
        if line and not line[0].isspace():
            break
        match = _FRAME.match(line)
        if match and not _STAND_IN.search(match["file"]):
            frame = match
    return frame


def _tail_lines(path: Path, size: int = 65536) -> list[str]:
    """The lines of the last `size` bytes of a file."""
    with path.open("rb") as file:
        file.seek(max(0, file.seek(0, os.SEEK_END) - size))
        return file.read().decode("utf-8", "replace").splitlines()


def _failure_line(stderr_lines: list[str], stdout_lines: list[str], exit_code: int | None) -> str:
    """The exception line of the script's traceback, or how the process ended.

    An uncaught exception (and a SyntaxError) exits 1; a child killed by a signal makes the
    launcher print `Scalene error: received signal SIGxxx` on stdout as its last line.
    """
    starts = [i for i, line in enumerate(stderr_lines) if line == _TRACEBACK]
    if exit_code == 1 and starts:
        where = None
        for line in stderr_lines[starts[-1] + 1 :]:
            if line and not line[0].isspace():
                if line.split(":", 1)[0] in _SYNTAX_ERRORS and where is not None:
                    return f"{line} ({where['file']}, line {where['line']})"
                return line
            where = _FRAME.match(line) or where
    last_out = next((line for line in reversed(stdout_lines) if line.strip()), "")
    killed = _KILLED.match(last_out)
    if killed:
        return f"killed by {killed[1]}"
    if exit_code is not None and exit_code < 0:
        return f"killed by signal {-exit_code}"
    return f"exit code {exit_code}"
