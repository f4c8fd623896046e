"""What each profile mode costs per Python version and kind of code (issues 13 and 20).

Four workloads, each sized under each interpreter to the same plain-Python CPU time: a plain
loop (no calls), generator expressions and comprehensions, an asyncio program (tasks computing
and yielding to the event loop), and call-heavy code (richards-like: many small methods).
Variants: plain Python, the default mode (`fixingahole profile`: Scalene `--cpu-only --stacks
--no-async`), and, as asked, `--no-trace`, `--async`, `--memory`, `--detailed`.

A variant's cost is the CPU time per step of the workload's own work, profiled over plain
(`time.process_time` in the script: Scalene's signal handlers and threads count, its start-up
and report do not). A virtual machine's core changes speed (here by up to 2x, for a quarter
second or more), so runs one after another measure the machine as much as the profiler. So each
variant runs beside plain Python, both pinned to one CPU (`_common.run_pinned`): they take
turns on it every few milliseconds and meet the same speeds. Once both are ready, each runs the
workload in chunks of about 0.05 s for the same wall-clock window, and prints its chunks and
their CPU seconds. Two plain runs paired this way agree within about 1.5%. The median of the
rounds is reported with the range; rounds alternate which process starts first.

Sharing the core, each process gets half of it, and Scalene's CPU timer runs on wall-clock time:
a profiled process is sampled about twice as often per CPU second as alone (100 per second at
the 10 ms default). So each trace run also gives the samples per CPU second it took (from its
call stacks during the work), and the sampling costs are scaled to 100 per CPU second:
`est = 1 + (ratio - 1) x 100 / rate` (the default, --no-trace and --detailed; --async and
--memory cost per generator step or allocation, not per sample). The budget reads `est`.

Interpreters: this one, every `bench-3.X`, `py3X` or nox virtualenv under the repository's
`.venv*` and `.nox` folders, and `--python PATH`; one per version, each needing fixingahole
(this checkout) and Scalene installed. Supported versions not found are listed.

Budget: the default mode <= 1.10x plain on every workload and version.

    python benchmarks/bench_pythons.py                      # about 2 minutes per interpreter
    python benchmarks/bench_pythons.py --python .venv/py312/bin/python --variants all
    python benchmarks/bench_pythons.py --quick              # this interpreter, 1 short round

Last line: `default_worst_est=1.05 default_worst=1.10 default_3.11_loop=1.04 ...`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import FIXINGAHOLE, figure_line, run_captured, run_pinned

REPO = Path(__file__).resolve().parent.parent
SUPPORTED = ("3.10", "3.11", "3.12", "3.13")
WORKLOADS = ("loop", "generators", "asyncio", "calls")
FLAGS = {
    "default": [],
    "no-trace": ["--no-trace"],
    "async": ["--async"],
    "memory": ["--memory"],
    "detailed": ["--detailed"],
}
PER_SAMPLE = ("default", "no-trace", "detailed")  # costs that scale with the samples taken
ALONE_RATE = 100.0  # samples per CPU second at Scalene's 10 ms interval, on an idle core

SCRIPT = '''\
"""`python kinds.py KIND N READY SECONDS`: chunks of N steps of KIND for SECONDS of wall time,
from when two processes have written their files in the folder READY; `[chunks, CPU s]`.
`python kinds.py calibrate SECONDS`: the N of each kind that takes SECONDS of CPU here."""

import asyncio
import json
import os
import statistics
import sys
import time


def loop(n):
    x = i = 0
    while i < n:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        i += 1
    return x


def generators(n):
    total = 0
    for _ in range(n):
        total += sum(i * i for i in range(50))
        total += len([i for i in range(50) if i & 1])
        total += max(i ^ 5 for i in range(50))
    return total


async def task(steps):
    x = 1
    for _ in range(steps):
        for _ in range(100):
            x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        await asyncio.sleep(0)
    return x


def async_program(n):
    async def main():
        return await asyncio.gather(*(task(n // 8) for _ in range(8)))

    return asyncio.run(main())


class Packet:
    def __init__(self, value):
        self.value = value

    def payload(self):
        return self.value


class Worker:
    def __init__(self):
        self.count = 0

    def ready(self, n):
        return self.count < n

    def handle(self, packet):
        self.count += 1
        return self.combine(packet.payload())

    def combine(self, x):
        return (x * 1103515245 + 12345) & 0x7FFFFFFF


def calls(n):
    worker, packet = Worker(), Packet(1)
    while worker.ready(n):
        packet = Packet(worker.handle(packet))
    return packet.value


KINDS = {"loop": loop, "generators": generators, "asyncio": async_program, "calls": calls}


def calibrate(seconds):
    """Each kind timed in turns of about 10 ms, relative to the loop in the same turn (median of
    60 turns), so that a change of the core's speed between kinds does not size them."""
    steps = {kind: steps_taking(work, 0.01) for kind, work in KINDS.items()}
    per_step = {kind: [] for kind in KINDS}
    for _ in range(60):
        for kind, work in KINDS.items():
            per_step[kind].append(timed(work, steps[kind]) / steps[kind])
    loop_step = statistics.median(per_step["loop"])
    sizes = {}
    for kind, times in per_step.items():
        relative = statistics.median(t / base for t, base in zip(times, per_step["loop"]))
        sizes[kind] = max(8, int(seconds / (loop_step * relative)))
    return sizes


def steps_taking(work, seconds):
    steps = 64
    while True:
        spent = timed(work, steps)
        if spent > seconds / 4:
            return max(8, int(steps * seconds / spent))
        steps *= 4


def timed(work, steps):
    start = time.process_time()
    work(steps)
    return time.process_time() - start


def paired(work, steps, ready, seconds):
    """Chunks of work for `seconds` from 0.05 s after both processes of the pair were ready."""
    open(os.path.join(ready, str(os.getpid())), "w").close()
    while len(os.listdir(ready)) < 2:
        time.sleep(0.001)
    start = max(os.stat(os.path.join(ready, name)).st_mtime for name in os.listdir(ready)) + 0.05
    while time.time() < start:
        time.sleep(0.001)
    chunks = spent = 0
    while time.time() < start + seconds:
        spent += timed(work, steps)
        chunks += 1
    return [chunks, spent]


if __name__ == "__main__":
    if sys.argv[1] == "calibrate":
        print(json.dumps(calibrate(float(sys.argv[2]))))
    else:
        kind, steps, ready, seconds = sys.argv[1:5]
        print(json.dumps(paired(KINDS[kind], int(steps), ready, float(seconds))))
'''


def interpreters(given: list[str]) -> dict[str, str]:
    """Version -> interpreter that has this checkout's fixingahole and Scalene; first found."""
    candidates = [sys.executable, *given]
    for pattern in (".venv*/bin/python", ".venv*/*/bin/python", ".nox/*/bin/python"):
        candidates += sorted(str(path) for path in REPO.glob(pattern))
    probe = "import sys, fixingahole, scalene; print('%d.%d' % sys.version_info[:2])"
    probe += "; print(fixingahole.__file__)"
    found: dict[str, str] = {}
    for python in candidates:
        done = subprocess.run([python, "-c", probe], capture_output=True, text=True, check=False)
        if done.returncode != 0:
            if python in given:
                raise SystemExit(f"{python}: cannot import fixingahole and scalene")
            continue
        version, package = done.stdout.split()
        if Path(package).resolve().is_relative_to(REPO) and version not in found:
            found[version] = python
    return dict(sorted(found.items(), key=lambda item: tuple(map(int, item[0].split(".")))))


CHUNK_SECONDS = 0.05  # plain CPU s of one chunk of work
Run = tuple[float, float | None]  # CPU seconds per chunk, samples per CPU second (or None)


def pair(
    python: str,
    variant: str,
    script: Path,
    kind: str,
    size: int,
    seconds: float,
    out: Path,
    plain_first: bool,
) -> tuple[Run, Run]:
    """Plain Python and the variant on one CPU over the same `seconds` of wall time: their runs."""
    ready = out / "ready"
    ready.mkdir(parents=True)
    work = [kind, str(size), str(ready), str(seconds)]
    plain = [python, str(script), *work]
    profiled = [python, *FIXINGAHOLE[1:], "profile", str(script), "--root", str(script.parent)]
    profiled += ["--output", str(out), *FLAGS[variant], "--", *work]
    commands = [plain, profiled] if plain_first else [profiled, plain]
    done = run_pinned(commands, cwd=script.parent)
    alone = done[0] if plain_first else done[1]
    chunks, spent = json.loads(alone.stdout.splitlines()[-1])
    (summary_path,) = out.glob("*/*/summary.json")
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary["status"] != "ok":
        raise SystemExit(f"{variant} {kind}: status {summary['status']}: {summary['error']}")
    run_dir = summary_path.parent
    printed = (run_dir / "stdout.txt").read_text(encoding="utf-8").splitlines()
    profiled_chunks, profiled_spent = json.loads(printed[-1])
    profile = json.loads((run_dir / "profile.json").read_text(encoding="utf-8"))
    stacks = profile.get("stacks", [])
    working = sum(stats["count"] for frames, stats in stacks if any(" timed:" in f for f in frames))
    rate = working / profiled_spent if working else None
    return (spent / chunks, None), (profiled_spent / profiled_chunks, rate)


Results = dict[tuple[str, str], list[Run]]


def measure(
    python: str, variants: list[str], workloads: list[str], rounds: int, seconds: float
) -> Results:
    """{(workload, variant): [(CPU s per chunk, rate), ...]} over the rounds; per variant, the
    plain run it was paired with is under (workload, "plain " + variant)."""
    results: Results = {}
    with tempfile.TemporaryDirectory(prefix="fixingahole-pythons-") as folder:
        root = Path(folder).resolve()
        script = root / "kinds.py"
        script.write_text(SCRIPT, encoding="utf-8")
        calibrated = run_captured([python, str(script), "calibrate", str(CHUNK_SECONDS)], cwd=root)
        sizes = json.loads(calibrated.stdout)
        for index in range(rounds):
            for kind in workloads:
                for variant in variants:
                    out = root / "out" / f"{kind}-{variant}-{index}"
                    size, first = sizes[kind], index % 2 == 0
                    plain, profiled = pair(
                        python, variant, script, kind, size, 2 * seconds, out, first
                    )
                    results.setdefault((kind, "plain " + variant), []).append(plain)
                    results.setdefault((kind, variant), []).append(profiled)
            print(f"  round {index + 1}/{rounds} done", flush=True)
    return results


def summarise(version: str, results: Results, variants: list[str], workloads: list[str]) -> dict:
    """Print one table for the interpreter; its figures."""
    figures = {}
    print(f"{'workload':11} " + " ".join(f"{v:>30}" for v in variants))
    for kind in workloads:
        rates = [rate for _, rate in results.get((kind, "default"), []) if rate]
        rate = statistics.median(rates) if rates else None
        cells = []
        for variant in variants:
            pairs = zip(results[kind, variant], results[kind, "plain " + variant], strict=True)
            ratios = [profiled / alone for (profiled, _), (alone, _) in pairs]
            ratio = statistics.median(ratios)
            name = f"{variant.replace('-', '_')}_{version}_{kind}"
            figures[name] = ratio
            cell = f"{ratio:.3f} ({min(ratios):.2f}-{max(ratios):.2f})"
            if rate and variant in PER_SAMPLE:
                figures[f"{name}_est"] = estimate = 1 + (ratio - 1) * ALONE_RATE / rate
                cell += f" est {estimate:.3f}"
            cells.append(cell)
        print(f"{kind:11} " + " ".join(f"{cell:>30}" for cell in cells))
        if rate:
            print(f"{'':11} samples per CPU second under the default mode: {rate:.0f}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="this interpreter, 1 short round")
    parser.add_argument("--python", action="append", default=[], metavar="PATH")
    parser.add_argument("--versions", help="only these, comma-separated: 3.11,3.12")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=1.0, help="plain CPU s per workload")
    parser.add_argument(
        "--variants", default="default,no-trace", help=f"comma-separated, or all: {','.join(FLAGS)}"
    )
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    args = parser.parse_args(argv)
    variants = list(FLAGS) if args.variants == "all" else args.variants.split(",")
    workloads = args.workloads.split(",")
    unknown = set(variants) - set(FLAGS) | set(workloads) - set(WORKLOADS)
    if unknown:
        raise SystemExit(f"unknown variant or workload: {', '.join(sorted(unknown))}")
    if args.quick:
        found = interpreters([])
        found = {v: p for v, p in found.items() if p == sys.executable}
        args.rounds, args.seconds, variants = 1, 0.3, ["default"]
    else:
        found = interpreters(args.python)
    if args.versions:
        found = {v: p for v, p in found.items() if v in args.versions.split(",")}
    missing = [version for version in SUPPORTED if version not in found]
    print("interpreters: " + ", ".join(f"{v} {p}" for v, p in found.items()))
    if missing:
        print(f"not found (no virtualenv with fixingahole and scalene): {', '.join(missing)}")
    figures: dict[str, float] = {}
    for version, python in found.items():
        print(f"Python {version}: {args.rounds} rounds, {args.seconds:g} CPU s per workload")
        results = measure(python, variants, workloads, args.rounds, args.seconds)
        figures.update(summarise(version, results, variants, workloads))
    print("cost: CPU s per chunk of work, profiled / plain beside it on one CPU: median of rounds")
    print("est: the per-sample cost scaled to 100 samples per CPU second (an idle core)")
    defaults = {k: v for k, v in figures.items() if k.startswith("default_")}
    worst = {}
    if any(k.endswith("_est") for k in defaults):
        worst["default_worst_est"] = max(v for k, v in defaults.items() if k.endswith("_est"))
    if any(not k.endswith("_est") for k in defaults):
        worst["default_worst"] = max(v for k, v in defaults.items() if not k.endswith("_est"))
    print("budget: the default mode <= 1.10x plain (est) on every workload and version")
    print(figure_line({**worst, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
