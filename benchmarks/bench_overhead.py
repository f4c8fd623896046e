"""Harness overhead: `fixingahole profile X` against bare `python -m scalene run` (budget 1).

A is `python -m fixingahole profile X --root R --output T -- N`; B is `python -m scalene run` with
the argv `fixingahole.runner.scalene_command` builds for that same profile (the same flags:
`--cpu-only --stacks --program-path R --profile-exclude <bootstrap>`, an absolute `-o` into a
temp folder) on the same script with the same arguments, from the same cwd, stdin closed and
output discarded. A and B alternate (A B, B A, ...) in one session; each child has its own TMPDIR.

Two scripts, the same CPU-bound pure-Python workload sized for this machine: about 1 s
(figure: the median of the paired differences A - B, budget <= 0.3 s) and about 15 s (figure:
the median of the paired ratios A / B, budget <= 1.02). Both include Scalene's own start-up
(bare Scalene imports IPython in its launcher and in the child, about 0.5-1 s each).

    python benchmarks/bench_overhead.py            # 9 pairs at 1 s, 5 pairs at 15 s: ~4 minutes
    python benchmarks/bench_overhead.py --quick    # 2 pairs at 0.3 s, 1 pair at 1 s

Last line: `added_s_1s=0.21 ratio_15s=1.008`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

from _common import (
    FIXINGAHOLE,
    figure_line,
    paired,
    run_timed,
    spread,
    steps_for,
    write_workload,
)

from fixingahole.runner import ScaleneRequest, scalene_command


def bare_scalene_argv(script: Path, root: Path, json_path: Path, args: list[str]) -> list[str]:
    """What `fixingahole profile` passes to Scalene for `script` in default (cpu) mode."""
    request = ScaleneRequest(
        script=script,
        json_path=json_path,
        run_dir=json_path.parent,
        cwd=root,
        mode="cpu",
        stacks=True,
        program_path=root,
        args=tuple(args),
    )
    return list(scalene_command(request))


def pairs(root: Path, seconds: float, count: int) -> tuple[list[float], list[float]]:
    """`count` alternating runs of A (fixingahole) and B (bare Scalene) on a `seconds` script."""
    script = write_workload(root, f"work_{seconds:g}s.py")
    args = [str(steps_for(seconds))]
    a_argv = [*FIXINGAHOLE, "profile", str(script), "--root", str(root)]
    a_argv += ["--output", str(root / "out"), "--", *args]
    b_argv = bare_scalene_argv(script, root, root / "bare" / "profile.json", args)
    (root / "bare").mkdir(exist_ok=True)
    print(f"{seconds:g} s script, {args[0]} steps")
    print(f"  A: {' '.join(a_argv)}")
    print(f"  B: {' '.join(b_argv)}")
    a_times, b_times = [], []
    for index in range(count):
        order = [("A", a_argv, a_times), ("B", b_argv, b_times)]
        for name, argv, times in order if index % 2 == 0 else order[::-1]:
            times.append(run_timed(argv, cwd=root))
            print(f"  {index + 1}/{count} {name} {times[-1]:.3f} s", flush=True)
    return a_times, b_times


def report(label: str, a_times: list[float], b_times: list[float]) -> tuple[float, float]:
    """Print both sides and the paired figures; return (median A - B, median A / B)."""
    differences, ratios = paired(a_times, b_times)
    added, ratio = statistics.median(differences), statistics.median(ratios)
    print(f"{label}: fixingahole {spread(a_times)}; bare Scalene {spread(b_times)}")
    print(
        f"{label}: added per pair {added:+.3f} s median "
        f"({min(differences):+.3f} to {max(differences):+.3f}); "
        f"ratio {ratio:.4f} median ({min(ratios):.4f}-{max(ratios):.4f})"
    )
    return added, ratio


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short scripts, few pairs")
    args = parser.parse_args(argv)
    short_s, short_n = (0.3, 2) if args.quick else (1.0, 9)
    long_s, long_n = (1.0, 1) if args.quick else (15.0, 5)
    with tempfile.TemporaryDirectory(prefix="fixingahole-overhead-") as folder:
        root = Path(folder).resolve()
        short = pairs(root, short_s, short_n)
        long = pairs(root, long_s, long_n)
    added, _ = report(f"{short_s:g} s script", *short)
    _, ratio = report(f"{long_s:g} s script", *long)
    print("budgets: added <= 0.3 s on the 1 s script, ratio <= 1.02 on the 15 s script")
    print(figure_line({"added_s_1s": added, "ratio_15s": ratio}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
