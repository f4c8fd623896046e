"""Helpers shared by the benchmarks: a CPU-bound workload, timed child processes, statistics.

Not a benchmark itself (run_all.py runs `bench_*.py` only). Every command is run with the
interpreter running the benchmark (`sys.executable`), never through a pyenv shim, with stdin
closed and output discarded, so the timings hold the program and nothing of the terminal.

Two ways to compare commands A and B:
- alternating (`run_timed`, `run_captured`): A B, B A, ... one after the other; wall time is
  what a user sees, but on a shared virtual machine the speed of a core drifts by 10-30% from
  one run to the next, so a few runs cannot resolve a difference of a few percent;
- on one shared core (`run_pinned`): A and B started together, both pinned to the same CPU, so
  they take turns on it every few milliseconds and meet the same drift; the CPU time of each
  process tree is compared. Two identical commands come out within about 1.5% of each other.
  Under Scalene's default real-time CPU timer a program that gets half a core is sampled twice
  as often per CPU second, so this overstates Scalene's own sampling cost against plain Python
  (never understates it); between two Scalene runs it cancels out.
"""

from __future__ import annotations

import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

FIXINGAHOLE = (sys.executable, "-m", "fixingahole")

# Pure-Python, CPU-bound, no allocation to speak of: the work is a fixed number of steps, so
# the time a profiler adds to the script shows up in the script's own run time.
WORKLOAD = '''\
"""A CPU-bound pure-Python workload: `python {name} N` runs N steps of a small generator.

It prints the result, the wall seconds and the CPU seconds of this process that the steps took
(signal handlers a profiler runs inside the process count in both).
"""

import sys
import time


def step(x):
    return (x * 1103515245 + 12345) & 0x7FFFFFFF


def work(n):
    x, total = 1, 0
    for _ in range(n):
        x = step(x)
        total += x % 7
    return total


if __name__ == "__main__":
    start, start_cpu = time.perf_counter(), time.process_time()
    result = work(int(sys.argv[1]))
    print(result, time.perf_counter() - start, time.process_time() - start_cpu)
'''


def write_workload(folder: Path, name: str = "workload.py") -> Path:
    """Write the workload script into `folder` and return its path."""
    path = folder / name
    path.write_text(WORKLOAD.format(name=name), encoding="utf-8")
    return path


def steps_for(seconds: float, clock: Callable[[], float] = time.perf_counter) -> int:
    """How many workload steps take about `seconds` under plain Python on this machine.

    The fastest of three timings of about 0.2 s: what the machine does when nothing else runs.
    On a busy machine the wall clock (the default `clock`) still counts the time others hold the
    core, so the steps come out fewer; `clock=time.process_time` counts this process's CPU only.
    """
    namespace: dict = {}
    exec(WORKLOAD.format(name="workload.py"), namespace)
    steps = 100_000
    while True:
        start = clock()
        namespace["work"](steps)
        if clock() - start > 0.2:
            break
        steps *= 2
    fastest = float("inf")
    for _ in range(3):
        start = clock()
        namespace["work"](steps)
        fastest = min(fastest, clock() - start)
    return max(1, int(steps * seconds / fastest))


class Run(NamedTuple):
    """One finished child process."""

    wall: float  # seconds from start to exit
    cpu: float  # user + system seconds of it and every descendant it waited for
    stdout: str  # empty unless captured


def run_timed(
    argv: Sequence[str], cwd: Path, env: dict[str, str] | None = None, tmp: bool = True
) -> float:
    """Run argv to the end (stdin closed, output discarded); its wall time in seconds.

    With `tmp`, the child gets its own TMPDIR, removed afterwards (Scalene leaves folders there).
    """
    return run_captured(argv, cwd, env, tmp, capture=False).wall


def run_captured(
    argv: Sequence[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    tmp: bool = True,
    capture: bool = True,
) -> Run:
    """`run_timed`, with the CPU time of the process tree and (with `capture`) its stdout."""
    env = dict(os.environ if env is None else env)
    folder = tempfile.mkdtemp(prefix="fixingahole-bench-") if tmp else None
    if folder:
        env["TMPDIR"] = folder
    try:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(
            list(argv),
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            check=False,
        )
        took = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    finally:
        if folder:
            shutil.rmtree(folder, ignore_errors=True)
    if done.returncode != 0:
        tail = done.stderr.decode("utf-8", "replace")[-2000:]
        raise SystemExit(f"{' '.join(argv)} exited {done.returncode}:\n{tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Run(took, cpu, (done.stdout or b"").decode("utf-8", "replace"))


def workload_times(stdout: str) -> tuple[float, float]:
    """(wall, CPU) seconds of the steps, from the workload's output."""
    _, wall, cpu = stdout.split()[-3:]
    return float(wall), float(cpu)


def can_pin() -> bool:
    """Whether processes can be pinned to a CPU here (Linux)."""
    return hasattr(os, "sched_setaffinity")


def run_pinned(commands: Sequence[Sequence[str]], cwd: Path) -> list[Run]:
    """Start the commands together on one CPU; each one's tree CPU time and stdout.

    Each gets its own TMPDIR; stdout goes to a file (read afterwards), stdin is closed. The
    `wall` of each is until it was reaped (in order), so only the first one's is exact.
    """
    cpu_id = max(os.sched_getaffinity(0))
    folder = Path(tempfile.mkdtemp(prefix="fixingahole-bench-"))
    try:
        children = []
        for number, argv in enumerate(commands):
            tmp = folder / f"tmp{number}"
            tmp.mkdir()
            with (folder / f"out{number}").open("wb") as stdout:
                child = subprocess.Popen(
                    list(argv),
                    cwd=cwd,
                    env={**os.environ, "TMPDIR": str(tmp)},
                    stdin=subprocess.DEVNULL,
                    stdout=stdout,
                    stderr=subprocess.DEVNULL,
                    preexec_fn=lambda: os.sched_setaffinity(0, {cpu_id}),
                )
            children.append((child, time.perf_counter()))
        runs = []
        for number, (child, started) in enumerate(children):
            _, status, usage = os.wait4(child.pid, 0)
            child.returncode = os.waitstatus_to_exitcode(status)  # reaped here
            if child.returncode != 0:
                raise SystemExit(f"{' '.join(commands[number])} exited {child.returncode}")
            stdout = (folder / f"out{number}").read_text(encoding="utf-8", errors="replace")
            cpu = usage.ru_utime + usage.ru_stime
            runs.append(Run(time.perf_counter() - started, cpu, stdout))
        return runs
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def spread(values: Sequence[float]) -> str:
    """`median (min-max, n=k)` of seconds."""
    return (
        f"{statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f}, n={len(values)})"
    )


def paired(a_times: Sequence[float], b_times: Sequence[float]) -> tuple[list[float], list[float]]:
    """Per-pair differences A - B and ratios A / B of alternating runs."""
    pairs = list(zip(a_times, b_times, strict=True))
    return [a - b for a, b in pairs], [a / b for a, b in pairs]


def figure_line(figures: dict[str, float], digits: int = 3) -> str:
    """The last line every benchmark prints: `name=value name=value`, rounded to `digits`."""
    return " ".join(f"{name}={round(value, digits):g}" for name, value in figures.items())
