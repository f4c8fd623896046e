"""What `--instructions` adds to a profile, per second of script (issue 19).

`--instructions` runs the script once more after its profile, under Valgrind's Cachegrind
(fixingahole.instructions.count_instructions, as a profile calls it). That run is the whole cost:
the profile itself is untouched. Its time grows with the script's: a script of T seconds adds
about `added_s_per_script_s * T + fixed_s` (the Valgrind start-up of the interpreter), and the
first count with an interpreter also counts its bare start-up once (`startup_count_s`, then cached).

The CPU-bound workload of _common.py at two sizes (about 0.1 s and 0.5 s of CPU under plain
Python), in rounds of plain small, counted small, plain large, counted large. Per round, the slope
is the difference of the counted runs' CPU seconds (user + system of the Valgrind child, from its
rusage: a measure the machine's other load barely moves) over the difference of the CPU seconds
the plain runs' steps took (as the workload measures them); the figure is the median over rounds,
with the range. Wall-time slopes are printed beside them; on a busy machine they are larger.

    python benchmarks/bench_instructions.py            # 3 rounds: about 1.5 minutes of CPU
    python benchmarks/bench_instructions.py --quick    # 1 round, smaller sizes
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import figure_line, run_captured, workload_times, write_workload

from fixingahole.instructions import CountRequest, count_instructions


def counted(script: Path, steps: int, folder: Path) -> tuple[float, float, int]:
    """Wall and CPU seconds of one Valgrind count of the workload, and the count."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    count = count_instructions(
        CountRequest(script=script, cwd=folder, run_dir=folder, args=(str(steps),))
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if count.instructions is None:
        raise SystemExit(f"the count failed: {count.note}")
    return wall, cpu, count.instructions


def steps_for_cpu(script: Path, seconds: float) -> int:
    """Workload steps that take about `seconds` of CPU under plain Python, whatever the load."""
    steps = 1_000_000
    _, cpu = workload_times(
        run_captured([sys.executable, str(script), str(steps)], script.parent).stdout
    )
    return max(1, int(steps * seconds / cpu))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of smaller sizes")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to measure")
        print(figure_line({"skipped": 1}))
        return
    rounds, small_s, large_s = (1, 0.03, 0.1) if args.quick else (3, 0.1, 0.5)
    folder = Path(tempfile.mkdtemp(prefix="fixingahole-bench-cg-"))
    os.environ["FIXINGAHOLE_CACHE_DIR"] = str(folder / "cache")
    try:
        script = write_workload(folder)
        sizes = {"small": steps_for_cpu(script, small_s), "large": steps_for_cpu(script, large_s)}
        plain_argv = {name: [sys.executable, str(script), str(n)] for name, n in sizes.items()}
        start = time.perf_counter()
        count_instructions(CountRequest(script=script, cwd=folder, run_dir=folder, args=("1",)))
        startup_count_s = time.perf_counter() - start  # cold cache: start-up counted, then one run
        slopes, wall_slopes, fixed = [], [], []
        for r in range(1, rounds + 1):
            plain, cg = {}, {}
            for name, steps in sizes.items():
                plain[name] = workload_times(run_captured(plain_argv[name], folder).stdout)
                cg[name] = counted(script, steps, folder)
                wall, cpu, instructions = cg[name]
                print(
                    f"  {r}/{rounds} {name}: plain {plain[name][1]:.3f} s CPU, counted "
                    f"{cpu:.3f} s CPU ({wall:.3f} s wall), {instructions:,} instructions",
                    flush=True,
                )
            slope = (cg["large"][1] - cg["small"][1]) / (plain["large"][1] - plain["small"][1])
            wall_slope = (cg["large"][0] - cg["small"][0]) / (plain["large"][0] - plain["small"][0])
            slopes.append(slope)
            wall_slopes.append(wall_slope)
            fixed.append(cg["small"][1] - slope * plain["small"][1])
        warm_s = counted(script, 1, folder)[0]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    median = statistics.median
    print(
        f"added CPU seconds per second of script: {median(slopes):.1f} "
        f"(range {min(slopes):.1f}-{max(slopes):.1f}, n={rounds}); wall: "
        f"{median(wall_slopes):.1f} ({min(wall_slopes):.1f}-{max(wall_slopes):.1f})"
    )
    print(
        f"fixed: {median(fixed):.2f} s CPU per count (the interpreter's start-up under "
        f"Valgrind); a count of a 1-step script takes {warm_s:.2f} s wall with the start-up "
        f"cached, {startup_count_s:.2f} s the first time (start-up counted too)"
    )
    print(
        figure_line(
            {
                "added_s_per_script_s": median(slopes),
                "added_wall_s_per_script_s": median(wall_slopes),
                "fixed_s": median(fixed),
                "first_count_s": startup_count_s,
                "count_s_empty": warm_s,
            }
        )
    )


if __name__ == "__main__":
    main()
