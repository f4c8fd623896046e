"""Page speed and size (issue 15): report.html of a memory-mode profile, the run's added time, and
`history` over 1,000 runs.

The profile is tests/data/scalene/2.4.0-numpy-memory.json (1.8 MB, Scalene 2.4.0, `--memory` with
stacks). Measured:
- `page`: `write_views` (report.html and speedscope.json) once the template engine is imported and
  plotly.js packed, as after a run (profiling.py prepares both while the script runs); `page_cold`:
  the same in a fresh interpreter, imports and packing included; the page's size.
- `added`: what a run waits for because of the page. profiling.py writes it in a thread while the
  terminal summary prints and the store indexes the run, then joins it; the tail of a run is timed
  with and without that thread, alternating (A B, B A, ...), and the medians differ by `added`.
- `history`: `fixingahole history ENTRY --output trend.html` over a store holding 1,000 runs of
  the entry (read the store, build, render, write), after the imports; and in a fresh
  interpreter, from before the first import to the page written (`.html` and `.png`).

Budgets: page under 0.5 s, under 5 MB; added time under 0.3 s; history under 1 s.

    python benchmarks/bench_pages.py            # 15 rounds, 5 cold processes each
    python benchmarks/bench_pages.py --quick    # 3 rounds, 1 cold process, 100 runs of history

Last line: `page_s=0.1 page_cold_s=0.3 page_mb=2 added_s=0.05 history_1000_s=0.6 ...`.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import figure_line, spread

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "data" / "scalene" / "2.4.0-numpy-memory.json"


def prepare(run_dir: Path):
    """A run folder from the fixture; returns what profiling.py holds after the run."""
    from fixingahole.locations import Locator
    from fixingahole.options import ProfileOptions
    from fixingahole.record import Environment, RunStatus
    from fixingahole.report.record import build_record
    from fixingahole.runner import ScaleneResult
    from fixingahole.scalene_output import load_profile

    run_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(FIXTURE, run_dir / "profile.json")
    profile = load_profile(run_dir / "profile.json")
    result = ScaleneResult(RunStatus.OK, 0, 12.3, 12.9, 400.0, ("scalene",))
    locator = Locator(Path(profile.program).parent)
    record = build_record(
        profile,
        locator,
        result,
        status=RunStatus.OK,
        error=None,
        run_id=f"numpy_work/{run_dir.name}",
        entry="numpy_work",
        target=Path("numpy_work.py"),
        kind="script",
        started_utc="2025-01-01T00:00:00Z",
        options=ProfileOptions(mode="memory"),
        command="fixingahole profile numpy_work.py --memory",
        code_hash="sha256:0",
        git=None,
        environment=Environment(python=sys.version.split()[0]),
    )
    (run_dir / "summary.json").write_text(json.dumps(record.to_json()), encoding="utf-8")
    return record, profile, locator


def time_page(run_dir: Path, inputs) -> float:
    from fixingahole.report.stored import write_views

    start = time.perf_counter()
    write_views(run_dir, *inputs)
    return time.perf_counter() - start


def run_tail(run_dir: Path, inputs, store_dir: Path, with_page: bool) -> float:
    """profiling.py after the run: terminal summary, store add, and (A) the page in a thread."""
    from fixingahole.profile_run import _in_background
    from fixingahole.report.stored import write_views
    from fixingahole.report.text import render_summary
    from fixingahole.store import Store

    record, profile, locator = inputs
    start = time.perf_counter()
    views = None
    if with_page:
        views = _in_background(lambda: write_views(run_dir, *inputs), "views")
    with contextlib.redirect_stdout(io.StringIO()):
        print(render_summary(profile, record, locator))
    Store(store_dir).add(record, run_dir)
    if views is not None:
        views.join()
    return time.perf_counter() - start


def fill_store(output: Path, runs: int) -> None:
    """`runs` runs of one entry, an hour apart: ten code versions, a few failed runs."""
    from datetime import datetime, timedelta

    from fixingahole.record import RunRecord
    from fixingahole.store import Store

    store = Store(output / ".store")
    first = datetime(2025, 1, 1)
    versions = max(runs // 10, 1)
    for i in range(runs):
        started = first + timedelta(hours=i)
        stamp = started.strftime("%Y%m%d_%H%M%S")
        version = i // versions
        summary = {
            "schema": 1,
            "run_id": f"trend/{stamp}",
            "entry": "trend",
            "target": "trend.py",
            "kind": "script",
            "status": "failed" if i % 97 == 5 else "ok",
            "exit_code": 0,
            "started_utc": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "wall_s": 10 + version * 0.5 + i % 7 * 0.1,
            "cpu_s": 9.0,
            "elapsed_s": 9.0,
            "max_rss_mb": 200.0,
            "peak_heap_mb": None,
            "mode": "cpu",
            "options": {},
            "command": "fixingahole profile trend.py",
            "tags": [],
            "code_hash": f"sha256:{version:064x}",
            "git": {"commit": f"{version + 1:040x}", "branch": "main", "dirty": False},
            "environment": {},
            "log_counts": {},
            "error": None,
            "functions": [],
            "lines": [],
            "leaks": [],
        }
        store.add(RunRecord.from_json(summary), output / "trend" / stamp)


def cold(*args: str) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--child", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"cold {args[0]} failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def child(kind: str, folder: Path) -> float:
    start = time.perf_counter()
    if kind == "page":
        from fixingahole.report.stored import load_run, write_views

        stored = load_run(folder, folder)
        write_views(folder, stored.record, stored.profile, stored.locator)
    elif kind == "runs":  # the baseline: a command that reads the same store
        from fixingahole import commands

        with contextlib.redirect_stdout(io.StringIO()):
            commands.list_runs(commands.Where(root=folder, output=folder / "performance"))
    else:
        from fixingahole import commands

        with contextlib.redirect_stdout(io.StringIO()):
            commands.history(
                "trend",
                commands.Where(root=folder, output=folder / "performance"),
                output=folder / f"trend.{kind}",
            )
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 rounds, 1 cold process")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(child(args.child[0], Path(args.child[1])))
        return 0
    rounds, colds, history_runs = (3, 1, 100) if args.quick else (15, 5, 1000)
    from fixingahole.report.page import preload

    folder = Path(tempfile.mkdtemp(prefix="fixingahole-pages-"))
    try:
        run_dir = folder / "numpy_work" / "20250101_000000"
        inputs = prepare(run_dir)
        preload()
        time_page(run_dir, inputs)
        warm = [time_page(run_dir, inputs) for _ in range(rounds)]
        page_mb = (run_dir / "report.html").stat().st_size / 2**20
        page_cold = [cold("page", str(run_dir)) for _ in range(colds)]
        with_page, without = [], []
        for i in range(rounds):
            order = (True, False) if i % 2 == 0 else (False, True)
            for flag in order:
                store_dir = folder / f"store-{i}-{flag}"
                (with_page if flag else without).append(run_tail(run_dir, inputs, store_dir, flag))
        (folder / "performance").mkdir()
        (folder / "pyproject.toml").write_text('[project]\nname = "bench"\n')
        fill_store(folder / "performance", history_runs)
        child("html", folder)  # imports
        history_warm = [child("html", folder) for _ in range(rounds)]
        history_html = [cold("html", str(folder)) for _ in range(colds)]
        history_png = [cold("png", str(folder)) for _ in range(colds)]
        runs_cold = [cold("runs", str(folder)) for _ in range(colds)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    added = [a - b for a, b in zip(with_page, without, strict=True)]
    print(f"{FIXTURE.name}: {FIXTURE.stat().st_size / 2**20:.1f} MB; report.html {page_mb:.2f} MB")
    print(f"page (warm): {spread(warm)}; cold, with imports and packing: {spread(page_cold)}")
    print(f"run tail with the page thread {spread(with_page)}, without {spread(without)}")
    print(f"  added per pair: {spread(added)}")
    print(f"history over {history_runs} runs, html after the imports: {spread(history_warm)}")
    print(
        f"  cold (imports of pandas, pyarrow, jinja2 / matplotlib included): html "
        f"{spread(history_html)}, png {spread(history_png)}"
    )
    print(f"  baseline: `fixingahole runs` over the same store, cold: {spread(runs_cold)}")
    print("budget: page under 0.5 s and 5 MB; added under 0.3 s; history under 1 s")
    figures = {
        "page_s": statistics.median(warm),
        "page_cold_s": statistics.median(page_cold),
        "page_mb": page_mb,
        "page_added_s": statistics.median(added),
        f"history_{history_runs}_s": statistics.median(history_warm),
        f"history_cold_{history_runs}_s": statistics.median(history_html),
        f"history_png_{history_runs}_s": statistics.median(history_png),
        f"runs_cold_{history_runs}_s": statistics.median(runs_cold),
    }
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
