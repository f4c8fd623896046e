"""What each profile mode costs a CPU-bound script, against plain Python (issue 6, budget 6).

The script is the CPU-bound pure-Python workload of _common.py, sized to about 4 s under plain
Python on this machine. Three ways to run it, rotated each round so drift spreads evenly:
`python workload.py N` (plain), `python -m fixingahole profile workload.py -- N` (the default
mode, cpu: Scalene `--cpu-only --stacks`) and the same with `--memory` (Scalene `--memory`).

The mode's cost on the script itself is Scalene's `elapsed_s` from the run's summary.json over
the seconds the script measures for its own work under plain Python (the interpreter's start-up
left out of both). The total wall time of each command, start-up and reporting included, is
reported separately. Budget: the default mode adds at most 10% (ratio <= 1.10).

    python benchmarks/bench_modes.py            # 5 rounds of a ~4 s script: ~2 minutes
    python benchmarks/bench_modes.py --quick    # 1 round of a ~0.5 s script

Last line: `cpu_ratio=1.03 memory_ratio=1.3 cpu_wall_ratio=1.4 memory_wall_ratio=1.7`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from _common import FIXINGAHOLE, figure_line, run_captured, spread, steps_for, write_workload

MODES = ("plain", "cpu", "memory")


def run(mode: str, script: Path, steps: str, output: Path) -> tuple[float, float]:
    """(wall seconds of the command, seconds of the script's work) for one run in `mode`."""
    if mode == "plain":
        done = run_captured([sys.executable, str(script), steps], cwd=script.parent)
        return done.wall, float(done.stdout.split()[-1])
    argv = [*FIXINGAHOLE, "profile", str(script), "--root", str(script.parent)]
    argv += ["--output", str(output)]
    argv += ["--memory"] if mode == "memory" else []
    wall = run_captured([*argv, "--", steps], cwd=script.parent, capture=False).wall
    (summary_path,) = output.glob("*/*/summary.json")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary["status"] != "ok" or summary["mode"] != mode:
        raise SystemExit(f"{mode} run: status {summary['status']}, mode {summary['mode']}")
    return wall, summary["elapsed_s"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of a ~0.5 s script")
    args = parser.parse_args(argv)
    seconds, rounds = (0.5, 1) if args.quick else (4.0, 5)
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    scripts: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="fixingahole-modes-") as folder:
        root = Path(folder).resolve()
        script = write_workload(root)
        steps = str(steps_for(seconds))
        print(f"{script.name} {steps}: about {seconds:g} s of pure-Python work")
        for index in range(rounds):
            order = MODES[index % 3 :] + MODES[: index % 3]
            for mode in order:
                wall, work = run(mode, script, steps, root / "out" / f"{mode}-{index}")
                walls[mode].append(wall)
                scripts[mode].append(work)
                print(f"  {index + 1}/{rounds} {mode:6} wall {wall:.3f} s, script {work:.3f} s")

    plain = statistics.median(scripts["plain"])
    plain_wall = statistics.median(walls["plain"])
    figures = {}
    print(f"{'mode':8} {'script s (median, range)':34} {'cost':>6} {'wall s':30} {'wall cost':>9}")
    for mode in MODES:
        ratio = statistics.median(scripts[mode]) / plain
        wall_ratio = statistics.median(walls[mode]) / plain_wall
        print(
            f"{mode:8} {spread(scripts[mode]):34} {ratio:6.3f} {spread(walls[mode]):30} "
            f"{wall_ratio:9.3f}"
        )
        if mode != "plain":
            figures[f"{mode}_ratio"] = ratio
            figures[f"{mode}_wall_ratio"] = wall_ratio
    print("script s: plain = the script's own timing; cpu, memory = Scalene's elapsed_s")
    print("budget: the default mode (cpu) costs the script at most 10% (cpu_ratio <= 1.10)")
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
