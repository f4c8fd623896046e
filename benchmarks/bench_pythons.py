"""What each profile mode costs per Python version and kind of code (issues 13 and 20).

Four workloads, each sized under each interpreter to the same plain-Python CPU time: a plain
loop (no calls), generator expressions and comprehensions, an asyncio program (tasks computing
and yielding to the event loop), and call-heavy code (richards-like: many small methods).
Variants: plain Python, the default mode (`fixingahole profile`: Scalene `--cpu-only --stacks
--no-async`), and, as asked, `--no-trace`, `--async`, `--memory`, `--detailed`.

A variant's cost is the CPU seconds the workload's own work took (`time.process_time` in the
script: Scalene's signal handlers and threads count, its start-up and report do not) over plain
Python's in the same round; rounds alternate the variants (rotated each round); the median of
the rounds is reported with the range. CPU time, not wall time, because the machine is shared.

Scalene's CPU timer runs on wall-clock time: a process that gets a fraction of a core is sampled
more often per CPU second than alone (100 per second at the 10 ms default). So each trace run
also gives the samples per CPU second it took (from its call stacks), and the sampling costs
are scaled to 100 per CPU second: `est = 1 + (ratio - 1) x 100 / rate` (the default, --no-trace
and --detailed; --async and --memory cost per generator step or allocation, not per sample).

Interpreters: this one, every `bench-3.X`, `py3X` or nox virtualenv under the repository's
`.venv*` and `.nox` folders, and `--python PATH`; one per version, each needing fixingahole
(this checkout) and Scalene installed. Supported versions not found are listed.

Budget: the default mode <= 1.10x plain on every workload and version.

    python benchmarks/bench_pythons.py                      # about 3 minutes per interpreter
    python benchmarks/bench_pythons.py --python .venv/py312/bin/python --variants all
    python benchmarks/bench_pythons.py --quick              # this interpreter, 1 short round

Last line: `default_worst=1.06 default_worst_est=1.03 default_3.11_loop=1.02 ...`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from _common import FIXINGAHOLE, figure_line, run_captured

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
"""`python kinds.py KIND N`: N steps of KIND, then `wall cpu` seconds of the steps.
`python kinds.py calibrate SECONDS`: the N of each kind that takes SECONDS of CPU here."""

import asyncio
import json
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
    sizes = {}
    for kind, work in KINDS.items():
        steps = 64
        while True:
            start = time.process_time()
            work(steps)
            if time.process_time() - start > 0.05:
                break
            steps *= 2
        best = min(timed(work, steps) for _ in range(3))
        sizes[kind] = max(8, int(steps * seconds / best))
    return sizes


def timed(work, steps):
    start = time.process_time()
    work(steps)
    return time.process_time() - start


if __name__ == "__main__":
    if sys.argv[1] == "calibrate":
        print(json.dumps(calibrate(float(sys.argv[2]))))
    else:
        start, start_cpu = time.perf_counter(), time.process_time()
        KINDS[sys.argv[1]](int(sys.argv[2]))
        print(time.perf_counter() - start, time.process_time() - start_cpu)
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


def run_variant(python: str, variant: str, script: Path, kind: str, size: int, out: Path):
    """(CPU seconds of the work, samples per CPU second or None) of one run."""
    if variant == "plain":
        done = run_captured([python, str(script), kind, str(size)], cwd=script.parent)
        return float(done.stdout.split()[-1]), None
    argv = [python, *FIXINGAHOLE[1:], "profile", str(script), "--root", str(script.parent)]
    argv += ["--output", str(out), *FLAGS[variant], "--", kind, str(size)]
    run_captured(argv, cwd=script.parent, capture=False)
    (summary_path,) = out.glob("*/*/summary.json")
    run_dir = summary_path.parent
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if summary["status"] != "ok":
        raise SystemExit(f"{variant} {kind}: status {summary['status']}: {summary['error']}")
    cpu = float((run_dir / "stdout.txt").read_text(encoding="utf-8").split()[-1])
    profile = json.loads((run_dir / "profile.json").read_text(encoding="utf-8"))
    samples = sum(stats["count"] for _, stats in profile.get("stacks", []))
    return cpu, samples / cpu if samples else None


def measure(python: str, variants: list[str], workloads: list[str], rounds: int, seconds: float):
    """{(workload, variant): [(cpu, rate), ...]} over the rounds, plain first in the tuple."""
    results: dict[tuple[str, str], list] = {}
    with tempfile.TemporaryDirectory(prefix="fixingahole-pythons-") as folder:
        root = Path(folder).resolve()
        script = root / "kinds.py"
        script.write_text(SCRIPT, encoding="utf-8")
        calibrated = run_captured([python, str(script), "calibrate", str(seconds)], cwd=root)
        sizes = json.loads(calibrated.stdout)
        order = ["plain", *variants]
        for index in range(rounds):
            turn = order[index % len(order) :] + order[: index % len(order)]
            for kind in workloads:
                for variant in turn:
                    out = root / "out" / f"{kind}-{variant}-{index}"
                    cpu, rate = run_variant(python, variant, script, kind, sizes[kind], out)
                    results.setdefault((kind, variant), []).append((cpu, rate))
            print(f"  round {index + 1}/{rounds} done", flush=True)
    return results


def summarise(version: str, results: dict, variants: list[str], workloads: list[str]) -> dict:
    """Print one table for the interpreter; its figures."""
    figures = {}
    print(f"{'workload':11} {'plain cpu s':>12} " + " ".join(f"{v:>26}" for v in variants))
    for kind in workloads:
        plain = [cpu for cpu, _ in results[kind, "plain"]]
        rates = [rate for _, rate in results.get((kind, "default"), []) if rate]
        rate = statistics.median(rates) if rates else None
        cells = []
        for variant in variants:
            ratios = [cpu / p for (cpu, _), p in zip(results[kind, variant], plain, strict=True)]
            ratio = statistics.median(ratios)
            figures[f"{variant.replace('-', '_')}_{version}_{kind}"] = ratio
            cell = f"{ratio:.3f} ({min(ratios):.2f}-{max(ratios):.2f})"
            if rate and variant in PER_SAMPLE:
                estimate = 1 + (ratio - 1) * ALONE_RATE / rate
                figures[f"{variant.replace('-', '_')}_{version}_{kind}_est"] = estimate
                cell += f" est {estimate:.3f}"
            cells.append(cell)
        shown = f"{statistics.median(plain):.3f}"
        print(f"{kind:11} {shown:>12} " + " ".join(f"{cell:>26}" for cell in cells))
        if rate:
            print(f"{'':11} samples per CPU second under the default mode: {rate:.0f}")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="this interpreter, 1 short round")
    parser.add_argument("--python", action="append", default=[], metavar="PATH")
    parser.add_argument("--versions", help="only these, comma-separated: 3.11,3.12")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=0.5, help="plain CPU s per workload")
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
        args.rounds, args.seconds, variants = 1, 0.2, ["default"]
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
    print("cost: CPU s of the work, profiled / plain: median of rounds (range)")
    print("est: the per-sample cost scaled to 100 samples per CPU second (an idle core)")
    defaults = {k: v for k, v in figures.items() if k.startswith("default_")}
    worst = {}
    if any(not k.endswith("_est") for k in defaults):
        worst["default_worst"] = max(v for k, v in defaults.items() if not k.endswith("_est"))
    if any(k.endswith("_est") for k in defaults):
        worst["default_worst_est"] = max(v for k, v in defaults.items() if k.endswith("_est"))
    print("budget: the default mode <= 1.10x plain on every workload and version")
    print(figure_line({**worst, **figures}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
