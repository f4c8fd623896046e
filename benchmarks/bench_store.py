"""Store speed and memory at 100, 1,000 and 10,000 runs of 200 functions each (issue 6, budget 4).

For each size a child process builds the store from synthetic summaries (in bulk, through the
code a rebuild uses, then `Store.add` for the last runs, so the folder has the mix of segment
sizes that adding one run at a time leaves) and times `add`. A second, fresh child times
listing the runs, loading the functions of a few hundred runs, and loading every function row,
and reports its peak RSS. The last line holds the figures:

    python benchmarks/bench_store.py            # about two minutes
    python benchmarks/bench_store.py --quick    # a few seconds, for CI
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FUNCTIONS = 200
LINES = 100
SELECTED = 300  # runs whose functions are loaded, picked at random (no help from ordering)
REPEATS = 5


def synthetic_summary(number: int) -> dict:
    """A schema-1 summary of run `number` of one of ten entries, with FUNCTIONS and LINES rows."""
    entry = f"entry_{number % 10}"
    started = time.gmtime(1_700_000_000 + number * 60)
    rows = [
        {
            "file": f"src/{entry}/module_{k % 7}.py",
            "name": f"function_{k}",
            "lineno": 10 + k,
            "location": f"src/{entry}/module_{k % 7}.py:{10 + k}",
            "percent": 100.0 / (k + 1),
            "seconds": 10.0 / (k + 1),
            "peak_mb": float(k % 50),
            "malloc_mb": float(k % 90),
        }
        for k in range(max(FUNCTIONS, LINES))
    ]
    return {
        "schema": 1,
        "run_id": f"{entry}/{time.strftime('%Y%m%d_%H%M%S', started)}",
        "entry": entry,
        "target": f"src/{entry}/main.py",
        "kind": "script",
        "status": "ok",
        "exit_code": 0,
        "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", started),
        "wall_s": 12.3,
        "cpu_s": 12.9,
        "elapsed_s": 11.8,
        "max_rss_mb": 210.5,
        "peak_heap_mb": 180.2,
        "mode": "memory",
        "options": {"precision": 0, "detailed": False, "args": [], "timeout": None},
        "command": f"fixingahole profile src/{entry}/main.py --memory",
        "tags": ["bench"],
        "code_hash": f"sha256:{number:064x}",
        "git": {"commit": f"{number // 50:040x}", "branch": "main", "dirty": False},
        "environment": {"python": "3.11.7", "scalene": "2.4.0", "fixingahole": "0.1.0",
                        "host": "bench", "platform": "Linux", "cpu": "bench cpu"},
        "log_counts": {},
        "error": None,
        "functions": rows[:FUNCTIONS],
        "lines": [{k: v for k, v in row.items() if k != "name"} for row in rows[:LINES]],
        "leaks": [],
    }  # fmt: skip


def build(store_path: Path, runs: int, adds: int) -> dict:
    """Fill a store with `runs` runs, the last `adds` through `Store.add`; time those adds."""
    from fixingahole.record import RunRecord
    from fixingahole.store import Store, _tables_from_record

    store = Store(store_path)
    bulk = runs - adds
    records = (RunRecord.from_json(synthetic_summary(n)) for n in range(bulk))
    store._replace(_tables_from_record(record, None, n) for n, record in enumerate(records))
    times = []
    for number in range(bulk, runs):
        record = RunRecord.from_json(synthetic_summary(number))
        start = time.perf_counter()
        store.add(record)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "add_p50_ms": 1000 * statistics.median(times),
        "add_p95_ms": 1000 * times[int(0.95 * (len(times) - 1))],
        "add_max_ms": 1000 * times[-1],
        "segments": sum(1 for p in store._generation().iterdir() if not p.name.startswith(".")),
        "build_rss_mb": _peak_rss_mb(),
    }


def measure(store_path: Path) -> dict:
    """Median times of listing runs and loading functions, and this process's peak RSS."""
    import pandas  # noqa: F401 - in the baseline: every reader pays for it

    from fixingahole.store import Store

    baseline_mb = _peak_rss_mb()
    store = Store(store_path)
    run_ids = list(store.runs()["run_id"])
    chosen = random.Random(6).sample(run_ids, min(SELECTED, len(run_ids)))
    result = {"runs": len(run_ids)}
    for name, read in [
        ("list", store.runs),
        ("load", lambda: store.functions(chosen)),
        ("load_all", store.functions),
    ]:
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            rows = len(read())  # the frame is freed before the next read
            times.append(time.perf_counter() - start)
        result[f"{name}_ms"] = 1000 * statistics.median(times)
        result[f"{name}_spread_ms"] = 1000 * (max(times) - min(times))
        result[f"{name}_rows"] = rows
    result["base_rss_mb"] = baseline_mb
    result["peak_rss_mb"] = _peak_rss_mb()
    return result


def _peak_rss_mb() -> float:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1 << 20) if sys.platform == "darwin" else peak / 1024


def _child(*args: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark child {args} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small stores, a few seconds")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        command, path, *numbers = args.child
        if command == "build":
            result = build(Path(path), *map(int, numbers))
        else:
            result = measure(Path(path))
        print(json.dumps(result))
        return 0

    sizes = [20, 100] if args.quick else [100, 1_000, 10_000]
    adds = 20 if args.quick else 100
    rows, figures = [], {}
    for size in sizes:
        folder = Path(tempfile.mkdtemp(prefix="fixingahole bench "))
        try:
            store_path = folder / ".store"
            built = _child("build", str(store_path), str(size), str(min(adds, size)))
            read = _child("measure", str(store_path))
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        rows.append((size, built, read))
        figures[f"list_{size}_ms"] = read["list_ms"]
        figures[f"load{SELECTED}_{size}_ms"] = read["load_ms"]
        figures[f"load_all_{size}_ms"] = read["load_all_ms"]
        figures[f"peak_rss_{size}_mb"] = read["peak_rss_mb"]
    figures = {"add_p50_ms": rows[-1][1]["add_p50_ms"], **figures}

    header = (
        f"{'runs':>6} {'segments':>8} {'add p50':>8} {'add p95':>8} {'list':>8} "
        f"{f'load {SELECTED}':>9} {'load all':>9} {'all rows':>9} "
        f"{'RSS build':>9} {'RSS base':>9} {'RSS peak':>9}"
    )
    print(
        f"store benchmark: {FUNCTIONS} functions and {LINES} lines per run; times in ms, medians "
        f"of {REPEATS}; peak RSS in MB of the build, and of the reader after imports and at the end"
    )
    print(header)
    for size, built, read in rows:
        print(
            f"{size:>6} {built['segments']:>8} {built['add_p50_ms']:>8.1f} "
            f"{built['add_p95_ms']:>8.1f} {read['list_ms']:>8.1f} {read['load_ms']:>9.1f} "
            f"{read['load_all_ms']:>9.1f} {read['load_all_rows']:>9} {built['build_rss_mb']:>9.0f} "
            f"{read['base_rss_mb']:>9.0f} {read['peak_rss_mb']:>9.0f}"
        )
    print(" ".join(f"{name}={value:.0f}" for name, value in figures.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
