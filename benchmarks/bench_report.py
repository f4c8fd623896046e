"""Report speed: parse a real Scalene JSON, render the report and summary.json (issue 6, budget 3).

The profile is tests/data/scalene/2.4.0-numpy-memory.json (1.8 MB, Scalene 2.4.0, `--memory`
with stacks, a numpy script that ran 11 s). Timed, as fixingahole.profile_run does it after the
run: `load_profile`, `render_report` (the full text report), `build_record` with the
provenance it records (content hash, git, environment) and `json.dumps`, and the terminal
summary (`render_summary`). Then re-rendering the stored run from its folder: read summary.json
and profile.json from disk, read the record back and render the report and summary again.

Each is measured in this process after the imports (median of several runs, with the range),
and cold: in a fresh interpreter, from before the first fixingahole import to the end of one
render (the interpreter's own start-up is not included). Budget: under 0.3 s each.

    python benchmarks/bench_report.py            # 15 warm runs, 5 cold processes each
    python benchmarks/bench_report.py --quick    # 3 warm runs, 1 cold process each

Last line: `report_s=0.12 rerender_s=0.11 report_cold_s=0.25 rerender_cold_s=0.24`.
"""

from __future__ import annotations

import argparse
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
TARGET = REPO / "examples" / "advanced.py"  # a file in git, for the provenance of the summary


def render_new(run_dir: Path) -> dict[str, float]:
    """What profile_run.profile_target does once Scalene is done; seconds of each step."""
    from fixingahole.locations import Locator
    from fixingahole.options import ProfileOptions
    from fixingahole.provenance import content_hash, environment, git_info
    from fixingahole.record import Environment, RunStatus
    from fixingahole.report.record import build_record
    from fixingahole.report.text import render_report, render_summary
    from fixingahole.runner import ScaleneResult
    from fixingahole.scalene_output import load_profile

    marks = [time.perf_counter()]
    profile = load_profile(run_dir / "profile.json")
    marks.append(time.perf_counter())
    result = ScaleneResult(RunStatus.OK, 0, 12.3, 12.9, 400.0, ("scalene",))
    locator = Locator(Path(profile.program).parent)
    git = git_info(TARGET.parent)
    record = build_record(
        profile,
        locator,
        result,
        status=RunStatus.OK,
        error=None,
        run_id=f"numpy_work/{run_dir.name}",
        entry="numpy_work",
        target=Path(profile.program),
        kind="script",
        started_utc="2025-01-01T00:00:00Z",
        options=ProfileOptions(mode="memory"),
        command="fixingahole profile numpy_work.py --memory",
        code_hash=content_hash(TARGET),
        git=git,
        environment=Environment(**environment()),
    )
    text = json.dumps(record.to_json(), indent=2)
    marks.append(time.perf_counter())
    report = render_report(profile, record, locator)
    marks.append(time.perf_counter())
    render_summary(profile, record, locator)
    marks.append(time.perf_counter())
    (run_dir / "profile_results.txt").write_text(report, encoding="utf-8")
    (run_dir / "summary.json").write_text(text, encoding="utf-8")
    marks.append(time.perf_counter())
    steps = ("parse", "summary", "report", "terminal", "write")
    return {step: marks[i + 1] - marks[i] for i, step in enumerate(steps)}


def render_stored(run_dir: Path) -> dict[str, float]:
    """Re-render a stored run from its folder alone; seconds of each step."""
    from fixingahole.locations import Locator
    from fixingahole.record import RunRecord
    from fixingahole.report.text import render_report
    from fixingahole.scalene_output import load_profile

    marks = [time.perf_counter()]
    record = RunRecord.from_json(json.loads((run_dir / "summary.json").read_text(encoding="utf-8")))
    profile = load_profile(run_dir / "profile.json")
    marks.append(time.perf_counter())
    locator = Locator(Path(profile.program).parent)
    render_report(profile, record, locator)
    marks.append(time.perf_counter())
    json.dumps(record.to_json(), indent=2)
    marks.append(time.perf_counter())
    steps = ("parse", "report", "summary")
    return {step: marks[i + 1] - marks[i] for i, step in enumerate(steps)}


def cold(kind: str, run_dir: Path) -> float:
    """Imports plus one render, in a fresh interpreter: seconds."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", kind, str(run_dir)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"cold {kind} failed:\n{done.stderr}")
    return float(done.stdout.split()[-1])


def warm(action, run_dir: Path, runs: int) -> tuple[list[float], dict[str, float]]:
    """Totals of `runs` calls, and the median of each step."""
    results = [action(run_dir) for _ in range(runs)]
    totals = [sum(result.values()) for result in results]
    steps = {step: statistics.median(r[step] for r in results) for step in results[0]}
    return totals, steps


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 warm runs, 1 cold process")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        kind, run_dir = args.child
        start = time.perf_counter()
        (render_new if kind == "new" else render_stored)(Path(run_dir))
        print(time.perf_counter() - start)
        return 0

    runs, colds = (3, 1) if args.quick else (15, 5)
    folder = Path(tempfile.mkdtemp(prefix="fixingahole-report-"))
    try:
        run_dir = folder / "numpy_work" / "20250101_000000"
        run_dir.mkdir(parents=True)
        shutil.copyfile(FIXTURE, run_dir / "profile.json")
        render_new(run_dir)  # imports, and the summary.json the re-render reads
        new_totals, new_steps = warm(render_new, run_dir, runs)
        old_totals, old_steps = warm(render_stored, run_dir, runs)
        new_cold, old_cold = [], []
        for _ in range(colds):
            new_cold.append(cold("new", run_dir))
            old_cold.append(cold("stored", run_dir))
        report_kb = (run_dir / "profile_results.txt").stat().st_size / 1024
        summary_kb = (run_dir / "summary.json").stat().st_size / 1024
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    print(
        f"{FIXTURE.name}: {FIXTURE.stat().st_size / 2**20:.1f} MB; "
        f"report {report_kb:.0f} kB, summary.json {summary_kb:.0f} kB"
    )
    print(f"render a new run:   warm {spread(new_totals)}; cold {spread(new_cold)}")
    print("  median per step: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in new_steps.items()))
    print(f"re-render from disk: warm {spread(old_totals)}; cold {spread(old_cold)}")
    print("  median per step: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in old_steps.items()))
    print("budget: under 0.3 s each (cold includes the imports, not the interpreter's start-up)")
    figures = {
        "report_s": statistics.median(new_totals),
        "rerender_s": statistics.median(old_totals),
        "report_cold_s": statistics.median(new_cold),
        "rerender_cold_s": statistics.median(old_cold),
    }
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
