"""Count the instructions a script executes, under Valgrind's Cachegrind, beside its profile.

One Valgrind child per count (an argv list, its own session, `--timeout` applied), running the
script as the profile ran it (interpreter, arguments, working directory, environment, the
bootstrap's `--no-plots`) but without Scalene, with `PYTHONHASHSEED=0` and `PYTHONMALLOC=malloc`
so that two runs of one code version agree to a few instructions in a billion. Cachegrind's
cache simulation is off: only instructions are counted (`I refs`).

A count that cannot be trusted keeps a note: processes the script started are traced into their
own counts and left out of the script's; a script that ran several threads at once is counted,
but the interleaving of threads varies between runs. BLAS and OpenMP pools get one thread (their
idle threads spin, which counts instructions that are not work) unless the user set their size.

The interpreter's bare start-up (`python -c pass` under the same settings) is counted once per
interpreter, bootstrap and environment, and cached in the user's cache folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from fixingahole.errors import UserError
from fixingahole.record import RunStatus
from fixingahole.runner import BOOTSTRAP_DIR, _stop_signals  # Ctrl-C handled as in a profile

FIXED_ENV = {"PYTHONHASHSEED": "0", "PYTHONMALLOC": "malloc"}
ONE_THREAD_POOLS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
SLOWDOWN = (25, 50)  # how much slower a script runs under Cachegrind (bench_instructions: 27x CPU)
POLL_S = 0.1  # how often the child's threads are counted
INSTALL_HINT = (
    "valgrind is not installed (or not on PATH): --instructions needs it; install the "
    "'valgrind' package (Debian/Ubuntu: sudo apt-get install valgrind; macOS Intel: "
    "brew install valgrind)"
)


@dataclass(frozen=True)
class CountRequest:
    """What to count: the script as its profile ran it, and where Valgrind's log goes."""

    script: Path  # absolute; a notebook's generated script
    cwd: Path
    run_dir: Path  # valgrind.log, valgrind.stdout.txt and valgrind.stderr.txt are written here
    args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)  # added to the environment
    no_plots: bool = False
    timeout: float | None = None


@dataclass(frozen=True)
class InstructionCount:
    """The count of one run, the interpreter's start-up count, and what to know about them."""

    status: RunStatus | None  # how the Valgrind run ended; None when it was not run
    instructions: int | None  # the script's process, start-up included; None without a count
    startup: int | None  # `python -c pass` under the same settings
    note: str | None = None  # one line: why there is no count, or why it may vary
    wall_s: float = 0.0

    def fields(self) -> dict[str, int | str | None]:
        """The summary.json keys (and store columns) of the count."""
        return {
            "instructions": self.instructions,
            "startup_instructions": self.startup,
            "instructions_note": self.note,
        }


@dataclass(frozen=True)
class _Counted:
    """How one Valgrind child ended."""

    status: RunStatus
    exit_code: int | None
    counts: dict[int, int]  # pid -> instructions, one per process Valgrind traced
    main_pid: int
    threads: int  # most threads seen at once in the script's process (0: not measured)
    wall_s: float
    log_tail: str  # the last line Valgrind wrote about the main process


def find_valgrind() -> str:
    """The valgrind executable on PATH; a UserError naming the package when there is none."""
    found = shutil.which("valgrind")
    if found is None:
        raise UserError(INSTALL_HINT)
    return found


def count_instructions(request: CountRequest) -> InstructionCount:
    """Count the script's instructions, and the interpreter's start-up (cached)."""
    valgrind = find_valgrind()
    env = count_env(request.env, request.no_plots)
    try:
        startup = startup_instructions(valgrind, env)
    except KeyboardInterrupt:  # the profile before it is kept: say so instead of losing it
        why = "the Valgrind run was interrupted"
        return InstructionCount(RunStatus.INTERRUPTED, None, None, why)
    with tempfile.TemporaryDirectory(prefix="fixingahole-cg-") as tmp:
        argv = [str(request.script), *request.args]
        with (
            (request.run_dir / "valgrind.stdout.txt").open("wb") as stdout,
            (request.run_dir / "valgrind.stderr.txt").open("wb") as stderr,
        ):
            ran = _run_valgrind(
                valgrind, argv, env, request.cwd, Path(tmp), request.timeout, stdout, stderr
            )
        main_log = Path(tmp) / f"valgrind.{ran.main_pid}.log"
        with suppress(OSError):
            shutil.copyfile(main_log, request.run_dir / "valgrind.log")
    instructions = ran.counts.get(ran.main_pid) if ran.status is RunStatus.OK else None
    note = _note(ran, request)
    return InstructionCount(ran.status, instructions, startup, note, ran.wall_s)


def count_env(extra: Mapping[str, str], no_plots: bool) -> dict[str, str]:
    """The environment of a counted run: ours, the request's, the bootstrap, the fixed settings."""
    env = {**os.environ, **extra}
    for name in ("FIXINGAHOLE_LOG_FILE", "FIXINGAHOLE_LOG_LEVEL", "FIXINGAHOLE_NO_PLOTS"):
        env.pop(name, None)  # logs were captured by the profile; nothing is captured here
    python_path = [str(BOOTSTRAP_DIR), *filter(None, [env.get("PYTHONPATH")])]
    env["PYTHONPATH"] = os.pathsep.join(python_path)
    if no_plots:
        env.update(MPLBACKEND="Agg", FIXINGAHOLE_NO_PLOTS="1")
    for name in ONE_THREAD_POOLS:
        env.setdefault(name, "1")
    env.update(FIXED_ENV)
    return env


def startup_instructions(valgrind: str, env: Mapping[str, str]) -> int | None:
    """The instructions of `python -c pass` under `env`, counted once and cached."""
    path = cache_dir() / f"startup-{_startup_key(valgrind, env)}.json"
    with suppress(OSError, ValueError, KeyError, TypeError):
        return int(json.loads(path.read_text(encoding="utf-8"))["instructions"])
    with tempfile.TemporaryDirectory(prefix="fixingahole-cg-") as tmp:
        ran = _run_valgrind(
            valgrind,
            ["-c", "pass"],
            env,
            Path(tmp),
            Path(tmp),
            None,
            subprocess.DEVNULL,
            subprocess.DEVNULL,
        )
    if ran.status is RunStatus.INTERRUPTED:
        raise KeyboardInterrupt
    count = ran.counts.get(ran.main_pid) if ran.status is RunStatus.OK else None
    if count is not None:
        record = {
            "instructions": count,
            "interpreter": sys.executable,
            "python": platform.python_version(),
            "measured_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        }
        with suppress(OSError):  # an unwritable cache costs a recount next time, nothing else
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp_path.write_text(json.dumps(record, indent=2), encoding="utf-8")
            os.replace(tmp_path, path)
    return count


def cache_dir() -> Path:
    """Where start-up counts are cached: $FIXINGAHOLE_CACHE_DIR, else the user's cache folder."""
    if os.environ.get("FIXINGAHOLE_CACHE_DIR"):
        return Path(os.environ["FIXINGAHOLE_CACHE_DIR"])
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "fixingahole"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fixingahole"


def _startup_key(valgrind: str, env: Mapping[str, str]) -> str:
    """What a start-up count depends on: Valgrind, the interpreter, the bootstrap, PYTHON* vars."""
    parts: list[object] = [sys.version, platform.machine()]
    for program in (valgrind, sys.executable):
        real = os.path.realpath(program)
        with suppress(OSError):
            stat = os.stat(real)
            parts += [real, stat.st_size, stat.st_mtime_ns]
    for source in sorted(BOOTSTRAP_DIR.glob("*.py")):
        parts.append(hashlib.sha256(source.read_bytes()).hexdigest())
    parts.append(sorted((k, v) for k, v in env.items() if k.startswith(("PYTHON", "FIXINGAHOLE"))))
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:20]


def _valgrind_argv(valgrind: str, tmp: Path, python_argv: list[str]) -> list[str]:
    """Cachegrind counting instructions only, one output file and log per traced process."""
    where = str(tmp).replace("%", "%%")  # Valgrind expands %p and %q{...} in these paths
    return [
        valgrind,
        "--tool=cachegrind",
        "--cache-sim=no",
        "--branch-sim=no",
        "--trace-children=yes",
        f"--cachegrind-out-file={where}/cachegrind.out.%p",
        f"--log-file={where}/valgrind.%p.log",
        sys.executable,
        *python_argv,
    ]


def _run_valgrind(
    valgrind: str,
    python_argv: list[str],
    env: Mapping[str, str],
    cwd: Path,
    tmp: Path,
    timeout: float | None,
    stdout: IO[bytes] | int,  # a file, or subprocess.DEVNULL
    stderr: IO[bytes] | int,
) -> _Counted:
    """Run Python under Cachegrind to the end, the timeout or Ctrl-C, counting its threads."""
    threads = 0
    stopped_by: RunStatus | None = None
    with _stop_signals() as received:
        started = time.perf_counter()
        child = subprocess.Popen(
            _valgrind_argv(valgrind, tmp, python_argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,
        )
        try:
            while True:
                try:
                    child.wait(POLL_S)
                    break
                except subprocess.TimeoutExpired:
                    pass
                threads = max(threads, _thread_count(child.pid))
                if received:
                    stopped_by = RunStatus.INTERRUPTED
                elif timeout is not None and time.perf_counter() - started > timeout:
                    stopped_by = RunStatus.TIMEOUT
                if stopped_by:
                    _kill_group(child)
                    break
        except BaseException:
            _kill_group(child)
            raise
        wall_s = time.perf_counter() - started
        _kill_group(child, wait=False)  # processes the script left behind
    if stopped_by is None and received:  # it came as the script ended by itself: still a stop
        stopped_by = RunStatus.INTERRUPTED
    status = stopped_by or (RunStatus.OK if child.returncode == 0 else RunStatus.FAILED)
    counts = _read_counts(tmp)
    log_tail = _last_line(tmp / f"valgrind.{child.pid}.log")
    return _Counted(status, child.returncode, counts, child.pid, threads, wall_s, log_tail)


def _kill_group(child: subprocess.Popen[bytes], *, wait: bool = True) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(child.pid, signal.SIGKILL)
    if wait:
        child.wait()


def _thread_count(pid: int) -> int:
    """The threads of a live process (Linux); 0 where it cannot be seen."""
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def _read_counts(tmp: Path) -> dict[int, int]:
    """pid -> instructions, from the `summary:` line of each Cachegrind output file."""
    counts = {}
    for path in tmp.glob("cachegrind.out.*"):
        pid = path.name.rsplit(".", 1)[-1]
        with suppress(OSError, ValueError):
            with path.open("rb") as file:
                file.seek(max(0, file.seek(0, os.SEEK_END) - 4096))
                tail = file.read().decode("ascii", "replace").splitlines()
            summary = next(line for line in reversed(tail) if line.startswith("summary:"))
            counts[int(pid)] = int(summary.split()[1])
    return counts


def _last_line(path: Path) -> str:
    """The last line of a file that says something, without Valgrind's `==pid==` prefix."""
    with suppress(OSError):
        for line in reversed(path.read_text(errors="replace").splitlines()):
            text = line.split("==", 2)[-1].strip() if line.startswith("==") else line.strip()
            if text:
                return text
    return ""


def _note(ran: _Counted, request: CountRequest) -> str | None:
    """Why the run has no count, or why its count may vary; None for a clean count."""
    if ran.status is RunStatus.TIMEOUT:
        return (
            f"the Valgrind run was stopped by --timeout {request.timeout:g} s: under Valgrind a "
            f"script runs about {SLOWDOWN[0]}-{SLOWDOWN[1]}x slower; raise --timeout or count "
            "a shorter workload"
        )
    if ran.status is RunStatus.INTERRUPTED:
        return "the Valgrind run was interrupted"
    stderr = _last_line(request.run_dir / "valgrind.stderr.txt")
    if ran.main_pid not in ran.counts:  # Cachegrind writes its count even when the script fails
        why = ran.log_tail or stderr or f"exit code {ran.exit_code}"
        return f"Valgrind did not count the run ({why}); see valgrind.log and valgrind.stderr.txt"
    if ran.status is RunStatus.FAILED:
        why = stderr or f"exit code {ran.exit_code}"
        return f"the script failed under Valgrind ({why}); see valgrind.stderr.txt"
    others = len(ran.counts) - 1
    if others:
        return (
            f"the script started {others} other process{'es' if others > 1 else ''}, counted "
            "apart and not in this count: for multi-process code, time is the measure"
        )
    if ran.threads > 1:
        return (
            f"the script ran {ran.threads} threads at once: their interleaving varies, so "
            "counts of one version may differ"
        )
    return None
