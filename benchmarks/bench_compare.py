"""How long `compare` takes over a store of many runs: frames in memory, and the real store on disk.

A synthetic store: 50 entries (fewer for small stores), each run 5 times a day, every run with
200 functions; on the last day a fifth of the entries got 20% slower (so their functions are
compared too). Timed: `compare` of the last day against the day before, rendered as text, the
median of several tries. Through the store, reading the runs table and loading the functions of
the compared runs are part of the time. Prints one line per measurement, the headline last:
`compare_10000_ms=...` (through the store on disk when fixingahole.store is there).

    python benchmarks/bench_compare.py          # 100, 1,000 and 10,000 runs
    python benchmarks/bench_compare.py --quick  # a small store: checks that it works
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

from fixingahole.compare import compare_runs
from fixingahole.report.comparison import render

ENTRIES = 50
REPEATS = 5  # runs per entry per day
FUNCTIONS = 200
START = datetime(2025, 1, 1, tzinfo=timezone.utc)


def synthetic(runs: int, functions: int, seed: int = 0) -> list[dict]:
    """`runs` summary.json documents (schema 1), oldest first."""
    rng = np.random.default_rng(seed)
    entries = min(ENTRIES, runs // (2 * REPEATS))
    days = runs // (entries * REPEATS)
    base = {f"entry{e:02d}": rng.uniform(0.5, 20.0) for e in range(entries)}
    summaries = []
    for day in range(days):
        commit = f"{day:08x}" + "0" * 32
        for repeat in range(REPEATS):
            for number, (entry, wall) in enumerate(base.items()):
                slowed = day == days - 1 and number < entries // 5
                wall = wall * (1.2 if slowed else 1.0) * float(np.exp(rng.normal(0, 0.02)))
                started = START + timedelta(days=day, minutes=repeat * 60 + number)
                summaries.append(summary(entry, started, wall, commit, functions, rng))
    return summaries[-runs:]


def summary(
    entry: str,
    started: datetime,
    wall: float,
    commit: str,
    functions: int,
    rng: np.random.Generator,
) -> dict:
    """One run's summary.json, as docs/internals.md describes it."""
    stamp = started.strftime("%Y%m%d_%H%M%S")
    shares = rng.dirichlet(np.ones(functions))
    return {
        "schema": 1,
        "run_id": f"{entry}/{stamp}",
        "entry": entry,
        "target": f"examples/{entry}.py",
        "kind": "script",
        "status": "ok",
        "exit_code": 0,
        "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "wall_s": wall,
        "cpu_s": wall * 1.02,
        "elapsed_s": wall * 0.98,
        "max_rss_mb": 200.0,
        "peak_heap_mb": 150.0,
        "mode": "memory",
        "options": {"precision": 0, "detailed": False, "trace": True},
        "command": f"fixingahole profile examples/{entry}.py",
        "tags": ["bench"],
        "code_hash": f"sha256:{commit[:8]}",
        "git": {"commit": commit, "branch": "main", "dirty": False},
        "environment": {
            "python": "3.11.7",
            "scalene": "2.4.0",
            "fixingahole": "0.1.0",
            "host": "bench",
            "platform": "Linux",
            "cpu": "bench",
        },
        "log_counts": {},
        "error": None,
        "functions": [
            {
                "file": f"examples/{entry}.py",
                "name": f"function_{index}",
                "lineno": 10 + index,
                "location": f"examples/{entry}.py:{10 + index}",
                "percent": float(share * 100),
                "seconds": float(share * wall),
                "peak_mb": float(share * 150.0),
                "malloc_mb": float(share * 300.0),
            }
            for index, share in enumerate(shares)
        ],
        "lines": [],
        "leaks": [],
    }


def frames(summaries: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The store's runs and functions tables, built in memory."""
    scalars = [
        "run_id", "entry", "target", "kind", "status", "exit_code", "wall_s", "cpu_s",
        "elapsed_s", "max_rss_mb", "peak_heap_mb", "mode", "command", "code_hash", "error",
    ]  # fmt: skip
    rows = []
    for doc in summaries:
        row = {name: doc[name] for name in scalars}
        row.update({name: json.dumps(doc[name]) for name in ("options", "tags", "log_counts")})
        row.update(doc["environment"])
        row.update(
            started_utc=pd.Timestamp(doc["started_utc"]),
            git_commit=doc["git"]["commit"],
            git_branch=doc["git"]["branch"],
            git_dirty=doc["git"]["dirty"],
            run_dir=doc["run_id"],
        )
        rows.append(row)
    functions = pd.DataFrame(
        [{"run_id": doc["run_id"], **item} for doc in summaries for item in doc["functions"]]
    )
    return pd.DataFrame(rows), functions


def selectors(summaries: list[dict]) -> tuple[str, str]:
    """The day before the last, and the last day (YYYYMMDD)."""
    last = summaries[-1]["started_utc"][:10].replace("-", "")
    day = datetime.strptime(last, "%Y%m%d") - timedelta(days=1)
    return day.strftime("%Y%m%d"), last


def median_ms(action: Callable[[], object], tries: int) -> tuple[float, float, float]:
    """Median, min and max wall time of `action` in milliseconds."""
    times = []
    for _ in range(tries):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), min(times), max(times)


def in_memory(summaries: list[dict], tries: int) -> float:
    runs, functions = frames(summaries)
    a, b = selectors(summaries)
    check = compare_runs(runs, functions, a, b)
    slower = sum(entry.verdict == "slower" for entry in check.entries)
    p50, low, high = median_ms(lambda: render(compare_runs(runs, functions, a, b)), tries)
    print(
        f"in memory: {len(runs)} runs, {len(functions)} function rows, {a} vs {b}: "
        f"{slower} entries slower; {p50:.0f} ms (min {low:.0f}, max {high:.0f})"
    )
    return p50


def on_disk(summaries: list[dict], tries: int) -> float:
    from fixingahole.store import Store

    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder)
        for doc in summaries:
            run_dir = output / doc["run_id"]
            run_dir.mkdir(parents=True)
            (run_dir / "summary.json").write_text(json.dumps(doc), encoding="utf-8")
        start = time.perf_counter()
        store = Store(output / ".store")
        store.rebuild(output)
        built = time.perf_counter() - start
        a, b = selectors(summaries)

        def through_store() -> str:
            return render(compare_runs(store.runs(), store.functions, a, b))

        p50, low, high = median_ms(through_store, tries)
        print(
            f"store on disk: {len(summaries)} runs (rebuilt in {built:.1f} s), {a} vs {b}: "
            f"{p50:.0f} ms (min {low:.0f}, max {high:.0f})"
        )
        return p50


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small store, to check it works")
    args = parser.parse_args(argv)
    sizes = (500,) if args.quick else (100, 1_000, 10_000)
    functions = 20 if args.quick else FUNCTIONS
    tries = 3 if args.quick else 7
    headline = 0.0
    for size in sizes:
        summaries = synthetic(size, functions)
        headline = in_memory(summaries, tries)
    try:
        import fixingahole.store  # noqa: F401
    except ImportError:
        print("fixingahole.store is not there yet: timed in memory only")
    else:
        headline = on_disk(summaries, tries)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak_mb:.0f} MB")
    print(f"compare_{sizes[-1]}_ms={headline:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
