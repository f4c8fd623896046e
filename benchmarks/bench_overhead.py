"""Harness overhead: `fixingahole profile X` against bare `python -m scalene run` (budget 1).

A is `python -m fixingahole profile X --root R --output T -- N`; B is `python -m scalene run` with
the argv `fixingahole.runner.scalene_command` builds for that same profile (the same flags:
`--cpu-only --allocation-sampling-window W --stacks --program-path R --profile-exclude <package>`,
an absolute `-o` into a temp folder) on the same script with the same arguments, from the same
cwd, stdin closed and output discarded. A and B alternate (A B, B A, ...) in one session; each
child has its own TMPDIR.
Besides wall time, each run's CPU time (its whole process tree) and Scalene's `elapsed_time_sec`
are recorded, to tell time added inside the profiled run from time added around it, and for A
the wall time of its Scalene child (summary.json's `wall_s`): the command's wall time less that
is what fixing-a-hole itself costs (`harness_s_*`, its start-up, report and store). Then, as a
check that the machine's drift cannot blur, pairs of A and B started together on one shared core
(see _common.py): the CPU time A's process tree takes against B's.

Two scripts, the same CPU-bound pure-Python workload sized for this machine: about 1 s
(figure: the median of the paired differences A - B, budget <= 0.3 s) and 13 s of plain-Python
work, about 15 s under Scalene (figure: the median of the paired ratios A / B, budget <= 1.02).
Bare Scalene starts twice (a launcher that relaunches itself with its environment set) and
imports IPython each time (0.5-1.5 s in all here); fixing-a-hole starts it with that environment
already set, and the bootstrap on the child's PYTHONPATH keeps it from importing IPython, so A can
be faster than B: the figures are what a user sees, and the breakdown says where the time went.

    python benchmarks/bench_overhead.py          # 11 + 7 pairs at 1 s, 7 + 5 at 15 s: ~9 minutes
    python benchmarks/bench_overhead.py --quick  # 1 + 1 pairs at 0.3 s, 1 + 1 at 0.6 s

Last line: `added_s_1s=0.21 ratio_15s=1.008 harness_s_1s=0.2 harness_s_15s=0.2
cpu_added_s_1s_pinned=0.1 cpu_ratio_15s_pinned=1.005`
(the pinned figures only where processes can be pinned to a CPU, i.e. on Linux).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from _common import (
    FIXINGAHOLE,
    can_pin,
    figure_line,
    paired,
    run_captured,
    run_pinned,
    spread,
    steps_for,
    write_workload,
)

from fixingahole.options import allocation_window
from fixingahole.runner import ScaleneRequest, scalene_command


def bare_scalene_argv(script: Path, root: Path, json_path: Path, args: list[str]) -> list[str]:
    """What `fixingahole profile` passes to Scalene for `script` in default (cpu) mode."""
    request = ScaleneRequest(
        script=script,
        json_path=json_path,
        run_dir=json_path.parent,
        cwd=root,
        mode="cpu",
        allocation_window=allocation_window(0),
        stacks=True,
        program_path=root,
        args=tuple(args),
    )
    return list(scalene_command(request))


@dataclass
class Side:
    """The runs of one side: wall and CPU seconds of the command, Scalene's elapsed_s, and the
    seconds of the command outside its Scalene child (A only)."""

    wall: list[float] = field(default_factory=list)
    harness: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    elapsed: list[float] = field(default_factory=list)


def commands(root: Path, seconds: float) -> tuple[list[str], list[str], Path]:
    """A's and B's argv for a workload of `seconds`, and the JSON B writes."""
    script = write_workload(root, f"work_{seconds:g}s.py")
    args = [str(steps_for(seconds))]
    a_argv = [*FIXINGAHOLE, "profile", str(script), "--root", str(root)]
    a_argv += ["--output", str(root / "out"), "--", *args]
    b_json = root / "bare" / script.stem / "profile.json"
    b_json.parent.mkdir(parents=True, exist_ok=True)
    b_argv = bare_scalene_argv(script, root, b_json, args)
    print(f"{seconds:g} s script, {args[0]} steps")
    print(f"  A: {' '.join(a_argv)}")
    print(f"  B: {' '.join(b_argv)}")
    return a_argv, b_argv, b_json


def alternate(root: Path, a_argv: list[str], b_argv: list[str], b_json: Path, count: int):
    """`count` alternating runs of A (fixingahole) and B (bare Scalene): (A side, B side)."""
    a, b = Side(), Side()
    a_runs = root / "out" / Path(b_json.parent.name)
    for index in range(count):
        order = [("A", a_argv, a), ("B", b_argv, b)]
        for name, argv, side in order if index % 2 == 0 else order[::-1]:
            seen = set(a_runs.glob("*")) if a_runs.exists() else set()
            done = run_captured(argv, cwd=root, capture=False)
            if name == "A":
                (run_dir,) = set(a_runs.glob("*")) - seen
                json_path = run_dir / "profile.json"
                summary = json.loads((run_dir / "summary.json").read_bytes())
                side.harness.append(done.wall - summary["wall_s"])
            else:
                json_path = b_json
            side.wall.append(done.wall)
            side.cpu.append(done.cpu)
            side.elapsed.append(json.loads(json_path.read_bytes())["elapsed_time_sec"])
            print(
                f"  {index + 1}/{count} {name} wall {done.wall:.3f} s, CPU {done.cpu:.3f} s, "
                f"Scalene elapsed {side.elapsed[-1]:.3f} s",
                flush=True,
            )
    return a, b


def pinned(root: Path, a_argv: list[str], b_argv: list[str], count: int):
    """`count` pairs of A and B sharing one core: (A's CPU seconds, B's CPU seconds)."""
    a_cpu, b_cpu = [], []
    for index in range(count):
        first_a = index % 2 == 0
        runs = run_pinned([a_argv, b_argv] if first_a else [b_argv, a_argv], cwd=root)
        a_run, b_run = runs if first_a else runs[::-1]
        a_cpu.append(a_run.cpu)
        b_cpu.append(b_run.cpu)
        print(
            f"  {index + 1}/{count} on one core: CPU A {a_run.cpu:.3f} s, B {b_run.cpu:.3f} s",
            flush=True,
        )
    return a_cpu, b_cpu


def report(label: str, a: Side, b: Side) -> tuple[float, float]:
    """Print both sides and the paired figures; return (median A - B, median A / B) of wall."""
    differences, ratios = paired(a.wall, b.wall)
    added, ratio = statistics.median(differences), statistics.median(ratios)
    print(f"{label}: wall: fixingahole {spread(a.wall)}; bare Scalene {spread(b.wall)}")
    print(
        f"{label}: wall added per pair {added:+.3f} s median "
        f"({min(differences):+.3f} to {max(differences):+.3f}); "
        f"ratio {ratio:.4f} median ({min(ratios):.4f}-{max(ratios):.4f})"
    )
    # Where the difference lies: in the script's run under Scalene, or around it.
    cpu_added = paired(a.cpu, b.cpu)[0]
    inside = paired(a.elapsed, b.elapsed)[0]
    a_outside = [w - e for w, e in zip(a.wall, a.elapsed, strict=True)]
    b_outside = [w - e for w, e in zip(b.wall, b.elapsed, strict=True)]
    outside = paired(a_outside, b_outside)[0]
    print(
        f"{label}: per pair, medians: CPU added {statistics.median(cpu_added):+.3f} s; "
        f"Scalene elapsed (the script) {statistics.median(inside):+.3f} s; "
        f"wall outside it (start-up, reporting) {statistics.median(outside):+.3f} s"
    )
    print(f"{label}: fixingahole outside its Scalene child: {spread(a.harness)}")
    return added, ratio


def report_pinned(label: str, a_cpu: list[float], b_cpu: list[float]) -> tuple[float, float]:
    """Print the one-core pairs; return (median A - B, median A / B) of CPU seconds."""
    differences, ratios = paired(a_cpu, b_cpu)
    added, ratio = statistics.median(differences), statistics.median(ratios)
    print(
        f"{label} on one core: CPU added per pair {added:+.3f} s median "
        f"({min(differences):+.3f} to {max(differences):+.3f}); "
        f"ratio {ratio:.4f} median ({min(ratios):.4f}-{max(ratios):.4f})"
    )
    return added, ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short scripts, few pairs")
    args = parser.parse_args(argv)
    short_s, short_n, short_pinned = (0.3, 1, 1) if args.quick else (1.0, 11, 7)
    long_s, long_n, long_pinned = (0.6, 1, 1) if args.quick else (13.0, 7, 5)
    figures = {}
    with tempfile.TemporaryDirectory(prefix="fixingahole-overhead-") as folder:
        root = Path(folder).resolve()
        short = commands(root, short_s)
        long = commands(root, long_s)
        print("alternating runs, one after the other:")
        short_sides = alternate(root, *short, short_n)
        long_sides = alternate(root, *long, long_n)
        if can_pin():
            print("pairs started together on one core:")
            short_cpu = pinned(root, *short[:2], short_pinned)
            long_cpu = pinned(root, *long[:2], long_pinned)
    figures["added_s_1s"] = report(f"{short_s:g} s script", *short_sides)[0]
    figures["ratio_15s"] = report(f"{long_s:g} s script", *long_sides)[1]
    figures["harness_s_1s"] = statistics.median(short_sides[0].harness)
    figures["harness_s_15s"] = statistics.median(long_sides[0].harness)
    print(
        "(CPU: of the whole process tree; Scalene elapsed: its elapsed_time_sec, the script's run)"
    )
    if can_pin():
        figures["cpu_added_s_1s_pinned"] = report_pinned(f"{short_s:g} s script", *short_cpu)[0]
        figures["cpu_ratio_15s_pinned"] = report_pinned(f"{long_s:g} s script", *long_cpu)[1]
    print("budgets: added <= 0.3 s on the 1 s script, ratio <= 1.02 on the 15 s script")
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
