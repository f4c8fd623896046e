"""What each profile mode costs a CPU-bound script, against plain Python (issue 6, budget 6).

The script is the CPU-bound pure-Python workload of _common.py, sized to about 4 s under plain
Python on this machine. Three ways to run it: `python workload.py N` (plain),
`python -m fixingahole profile workload.py -- N` (the default mode, cpu: Scalene `--cpu-only
--stacks`) and the same with `--memory` (Scalene `--memory`).

Rounds, one run of each mode in turn, rotated each round so drift spreads evenly. A mode's cost
on the script itself is Scalene's `elapsed_s` from the run's summary.json over the seconds the
script measured for its own work under plain Python in the same round (the interpreter's
start-up left out of both): the median of the rounds, with the range. The total wall time of
each command, start-up and reporting included, is reported separately, and so are the seconds a
mode adds around the script whatever its length (`*_fixed_s`: the command's wall time less the
script's, against the same for plain Python): a script of T seconds takes about
`ratio * T + fixed_s` in that mode.

Then, as a check the machine's drift cannot blur: plain Python and Scalene started together on
one shared core, both running the same work loop in the same wall-clock window, and their
throughput (steps per CPU second of the process, `time.process_time`, which counts Scalene's
signal handlers) compared. Scalene is run with the argv fixingahole.runner builds for the mode.
Sharing a core changes one thing: Scalene's CPU timer runs on wall-clock time, so a process with
half a core is sampled twice per CPU second as often as alone, and the cost measured so is an
upper bound (`*_ratio_shared`). For the cpu mode, whose cost comes mostly from sampling, a run
with twice the sampling interval (`--cpu-sampling-rate 0.02` for Scalene's default 0.01) restores
the alone rate of samples per CPU second: an estimate of the cost alone (`cpu_ratio_estimate`),
free of drift.

Budget: the default mode adds at most 10% (cpu_ratio <= 1.10).

    python benchmarks/bench_modes.py            # 7 rounds of ~4 s, 5 shared windows: ~5 minutes
    python benchmarks/bench_modes.py --quick    # 1 round of ~0.5 s, 1 short window

Last line: `cpu_ratio=1.03 cpu_wall_ratio=1.4 cpu_fixed_s=0.5 memory_ratio=1.3
memory_wall_ratio=1.7 memory_fixed_s=0.6 cpu_ratio_shared=1.1 cpu_ratio_estimate=1.05
memory_ratio_shared=1.5` (shared-core figures only where processes can be pinned to a CPU, i.e. on
Linux).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
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
    workload_times,
    write_workload,
)

from fixingahole.options import allocation_window
from fixingahole.runner import ScaleneRequest, scalene_command

MODES = ("plain", "cpu", "memory")


def profile_argv(mode: str, script: Path, steps: str, output: Path) -> list[str]:
    """`fixingahole profile` of the workload in `mode`, its run folder under `output`."""
    argv = [*FIXINGAHOLE, "profile", str(script), "--root", str(script.parent)]
    argv += ["--output", str(output)]
    argv += ["--memory"] if mode == "memory" else []
    return [*argv, "--", steps]


def run_folder(mode: str, output: Path) -> Path:
    """The one run folder under `output`, checked to be a good run in `mode`."""
    (summary_path,) = output.glob("*/*/summary.json")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary["status"] != "ok" or summary["mode"] != mode:
        raise SystemExit(f"{mode} run: status {summary['status']}, mode {summary['mode']}")
    return summary_path.parent


def run(mode: str, script: Path, steps: str, output: Path) -> tuple[float, float]:
    """(wall seconds of the command, seconds of the script's work) for one run in `mode`."""
    if mode == "plain":
        done = run_captured([sys.executable, str(script), steps], cwd=script.parent)
        return done.wall, workload_times(done.stdout)[0]
    argv = profile_argv(mode, script, steps, output)
    wall = run_captured(argv, cwd=script.parent, capture=False).wall
    summary = json.loads((run_folder(mode, output) / "summary.json").read_text(encoding="utf-8"))
    return wall, summary["elapsed_s"]


WINDOW = """\
import sys, time
from workload import work

start, end = float(sys.argv[1]), float(sys.argv[2])
while time.time() < start:
    time.sleep(0.001)
late, steps, cpu = time.time() - start, 0, time.process_time()
while time.time() < end:
    work(20_000)
    steps += 20_000
print(late, steps, time.process_time() - cpu)
"""
HEAD_START_S = 6.0  # for Scalene to start on half a core before the window opens
SCALENE_INTERVAL_S = 0.01  # Scalene's default --cpu-sampling-rate (seconds between samples)


def shared_window(variant: list[str], window: Path, seconds: float, first_plain: bool) -> float:
    """Plain and `variant` (argv up to the script) on one core in one window: variant's cost."""
    start = time.time() + HEAD_START_S
    times = [str(start), str(start + seconds)]
    plain = [sys.executable, str(window), *times]
    profiled = [*variant, str(window), "---", *times]
    runs = run_pinned([plain, profiled] if first_plain else [profiled, plain], window.parent)
    rates = []
    for run in runs if first_plain else runs[::-1]:
        late, steps, cpu = (float(word) for word in run.stdout.split()[-3:])
        if late > 0.1:
            raise SystemExit(f"started {late:.1f} s late: raise HEAD_START_S")
        rates.append(steps / cpu)
    return rates[0] / rates[1]


def scalene_argv(
    mode: str, root: Path, json_path: Path, double_interval: bool = False
) -> list[str]:
    """What fixingahole passes to Scalene in `mode`, up to the script; optionally sampling half
    as often (twice the CPU sampling interval)."""
    request = ScaleneRequest(
        script=root / "window.py",
        json_path=json_path,
        run_dir=root,
        cwd=root,
        mode=mode,
        allocation_window=allocation_window(0) if mode == "memory" else None,
        program_path=root,
    )
    argv = list(scalene_command(request))
    argv = argv[: argv.index(str(request.script))]
    if double_interval:
        if "--cpu-sampling-rate" in argv:  # fixingahole sets its own interval: double it
            at = argv.index("--cpu-sampling-rate") + 1
            argv[at] = f"{2 * float(argv[at]):g}"
        else:
            argv[4:4] = ["--cpu-sampling-rate", f"{2 * SCALENE_INTERVAL_S:g}"]
    return argv


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of a ~0.5 s script")
    args = parser.parse_args(argv)
    seconds, rounds = (0.5, 1) if args.quick else (4.0, 7)
    window_s, pairs = (1.0, 1) if args.quick else (3.0, 5)
    walls: dict[str, list[float]] = {mode: [] for mode in MODES}
    scripts: dict[str, list[float]] = {mode: [] for mode in MODES}
    shared: dict[str, list[float]] = {}
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
        if can_pin():
            window = root / "window.py"
            window.write_text(WINDOW, encoding="utf-8")
            variants = {
                "cpu_ratio_shared": scalene_argv("cpu", root, root / "cpu.json"),
                "cpu_ratio_estimate": scalene_argv(
                    "cpu", root, root / "half.json", double_interval=True
                ),
                "memory_ratio_shared": scalene_argv("memory", root, root / "memory.json"),
            }
            if args.quick:
                variants = dict(list(variants.items())[:1])
            print(
                f"shared core, {window_s:g} s windows: "
                + "; ".join(f"{name}: {' '.join(argv)}" for name, argv in variants.items())
            )
            for index in range(pairs):
                for name, argv in variants.items():
                    ratio = shared_window(argv, window, window_s, index % 2 == 0)
                    shared.setdefault(name, []).append(ratio)
                    print(f"  {index + 1}/{pairs} {name} {ratio:.4f}", flush=True)

    figures = {}
    print(
        f"{'mode':8} {'script s (median, range)':34} {'cost: median of rounds':24} "
        f"{'wall s':30} {'wall cost':>9}"
    )
    for mode in MODES:
        ratios = [s / p for s, p in zip(scripts[mode], scripts["plain"], strict=True)]
        wall_ratios = [w / p for w, p in zip(walls[mode], walls["plain"], strict=True)]
        cost = f"{statistics.median(ratios):.3f} ({min(ratios):.3f}-{max(ratios):.3f})"
        print(
            f"{mode:8} {spread(scripts[mode]):34} {cost:24} {spread(walls[mode]):30} "
            f"{statistics.median(wall_ratios):9.3f}"
        )
        if mode != "plain":
            figures[f"{mode}_ratio"] = statistics.median(ratios)
            figures[f"{mode}_wall_ratio"] = statistics.median(wall_ratios)
            around = paired(walls[mode], scripts[mode])[0]  # each round's wall less script
            plain_around = paired(walls["plain"], scripts["plain"])[0]
            figures[f"{mode}_fixed_s"] = statistics.median(paired(around, plain_around)[0])
    print("script s: plain = the script's own timing; cpu, memory = Scalene's elapsed_s")
    print(
        "fixed: seconds added around the script (start-up, report): "
        + ", ".join(f"{m} {figures[f'{m}_fixed_s']:.3f} s" for m in MODES[1:])
    )
    for name, ratios in shared.items():
        print(
            f"{name}: {statistics.median(ratios):.4f} x plain's throughput, median "
            f"({min(ratios):.4f}-{max(ratios):.4f}, n={len(ratios)})"
        )
        figures[name] = statistics.median(ratios)
    if shared:
        print(
            "(shared: sampled twice as often per CPU second as alone, an upper bound; estimate: "
            "the cpu mode at the alone sampling rate)"
        )
    print("budget: the default mode (cpu) costs the script at most 10% (cpu_ratio <= 1.10)")
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
