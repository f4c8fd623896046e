"""Run every benchmark and write the table of figures to benchmarks/RESULTS.md (issue 6).

Each `benchmarks/bench_*.py` runs as its own process with this interpreter; its output is shown
as it comes, and its last line (`name=value ...`) holds its figures. The table lists them with
the budgets of issue 6 and whether each is met, then the machine (CPU model, cores, Python,
Scalene), the date, the commit and the command; each benchmark's full output follows, with the
spreads. Exit code 1 when a benchmark failed or printed no figures (a missed budget is not a
failure: the table says so).

    python benchmarks/run_all.py                 # the full suite: about 25 minutes
    python benchmarks/run_all.py --quick         # small sizes, few repeats: about a minute
    python benchmarks/run_all.py --out FILE      # write the table elsewhere

Quick figures come from small sizes: they show the suite works, not whether budgets are met.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
ORDER = (  # by budget number in issue 6; other bench_*.py files follow by name
    "bench_overhead",
    "bench_startup",
    "bench_report",
    "bench_store",
    "bench_compare",
    "bench_batch",
    "bench_modes",
)
# figure -> (budget number, comparison, limit); figures a benchmark does not print are skipped
BUDGETS = {
    "added_s_1s": (1, "<=", 0.3),
    "harness_s_1s": (1, "<=", 0.3),
    "ratio_15s": (1, "<=", 1.02),
    "cpu_ratio_15s_pinned": (1, "<=", 1.02),
    "help_s": (2, "<", 0.25),
    "profile_help_s": (2, "<", 0.25),
    "entry_help_s": (2, "<", 0.25),
    "heavy_modules": (2, "==", 0),
    "report_s": (3, "<", 0.3),
    "rerender_s": (3, "<", 0.3),
    "report_cold_s": (3, "<", 0.3),
    "rerender_cold_s": (3, "<", 0.3),
    "add_p50_ms": (4, "<", 50),
    "list_10000_ms": (4, "<", 1000),
    "load300_10000_ms": (4, "<", 1000),
    "compare_10000_ms": (4, "<", 1000),
    "ratio": (5, "<=", 1.02),
    "cpu_ratio": (6, "<=", 1.10),
    "cpu_ratio_estimate": (6, "<=", 1.10),
    "default_worst": (6, "<=", 1.10),  # bench_pythons: every Python and kind of code
    "default_worst_est": (6, "<=", 1.10),
    # issue 15: pages and history
    "page_s": (15, "<", 0.5),
    "page_mb": (15, "<", 5),
    "page_added_s": (15, "<", 0.3),
    "history_1000_s": (15, "<", 1),
    "history_cold_1000_s": (15, "<", 1),
    "bisect_ratio": (16, "<=", 1.10),
    "cluster_ratio": (17, "<=", 1.03),  # issue 17's budget: a batch on a local Dask cluster
}
CHECKS = {"<": float.__lt__, "<=": float.__le__, "==": float.__eq__}
FIGURE = re.compile(r"^[A-Za-z_][\w.]*=[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def benchmarks() -> list[Path]:
    """The bench_*.py scripts, in budget order."""
    found = {path.stem: path for path in HERE.glob("bench_*.py")}
    named = [found.pop(name) for name in ORDER if name in found]
    return named + [found[name] for name in sorted(found)]


def parse_figures(line: str) -> dict[str, float] | None:
    """`{name: value}` from a line of `name=value` words; None when it is not such a line."""
    words = line.split()
    if not words or not all(FIGURE.match(word) for word in words):
        return None
    return {name: float(value) for name, value in (word.split("=", 1) for word in words)}


def run_one(path: Path, quick: bool, timeout: float) -> dict:
    """Run one benchmark, echoing its output; its figures, output, seconds and any error."""
    argv = [sys.executable, str(path), *(["--quick"] if quick else [])]
    print(f"\n$ {shlex.join(['python', str(path.relative_to(REPO)), *argv[2:]])}", flush=True)
    start = time.perf_counter()
    lines: list[str] = []
    with subprocess.Popen(
        argv,
        cwd=REPO,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group, so a timeout stops its children too
    ) as child:
        timer = threading.Timer(timeout, _kill_group, (child.pid,))
        timer.start()
        try:
            assert child.stdout is not None
            for line in child.stdout:
                print(line, end="", flush=True)
                lines.append(line.rstrip("\n"))
            code = child.wait()
        finally:
            timer.cancel()
            if child.poll() is None:  # Ctrl-C or an error here: do not leave it running
                _kill_group(child.pid)
    seconds = time.perf_counter() - start
    last = next((line for line in reversed(lines) if line.strip()), "")
    figures = parse_figures(last) if code == 0 else None
    error = None
    if code != 0:
        error = f"exit code {code}" + (" (timed out)" if seconds > timeout else "")
    elif figures is None:
        error = f"no figures on the last line: {last!r}"
    return {"figures": figures, "output": lines, "seconds": seconds, "error": error}


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def verdicts(figures: dict[str, float]) -> list[str]:
    """`name <= limit: met` for each figure that has a budget."""
    results = []
    for name, value in figures.items():
        if name in BUDGETS:
            number, op, limit = BUDGETS[name]
            met = CHECKS[op](float(value), float(limit))
            results.append(f"#{number} {name} {op} {limit:g}: {'met' if met else '**missed**'}")
    return results


def machine(load_before: str) -> dict[str, str]:
    """CPU model, cores, load, OS, Python and Scalene versions, and the repository's commit."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in info if line.startswith("model name")),
                cpu,
            )
    except OSError:
        pass
    try:
        scalene = metadata.version("scalene")
    except metadata.PackageNotFoundError:
        scalene = "not installed"
    commit = _git("rev-parse", "--short", "HEAD")
    if commit and _git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "load average (1, 5, 15 min) before and after": f"{load_before}; {_load()}",
        "OS": platform.platform(),
        "Python": f"{platform.python_version()} ({sys.executable})",
        "Scalene": scalene,
        "commit": commit or "unknown",
    }


def _load() -> str:
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def _git(*args: str) -> str:
    try:
        done = subprocess.run(
            ["git", *args], cwd=REPO, capture_output=True, text=True, check=False, timeout=30
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout.strip() if done.returncode == 0 else ""


def markdown(
    results: dict[str, dict], quick: bool, command: str, total_s: float, load_before: str
) -> str:
    """RESULTS.md: the figures table, the machine, and every benchmark's output."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmark results",
        "",
        f"Taken {now} with `{command}` in {total_s:.0f} s"
        + (
            " (quick mode: small sizes, figures not comparable with the budgets)." if quick else "."
        ),
        "Budgets are those of issue 6; each script's docstring says what it measures.",
        "",
        "| benchmark | figures | budgets | seconds |",
        "| --- | --- | --- | --- |",
    ]
    for name, result in results.items():
        if result["error"]:
            figures, budgets = f"**failed**: {result['error']}", ""
        else:
            figures = " ".join(f"`{k}={v:g}`" for k, v in result["figures"].items())
            budgets = "n/a (quick)" if quick else "<br>".join(verdicts(result["figures"]))
        lines.append(f"| {name} | {figures} | {budgets} | {result['seconds']:.0f} |")
    lines += ["", "Machine:", ""]
    lines += [f"- {key}: {value}" for key, value in machine(load_before).items()]
    lines += ["", "## Output of each benchmark", ""]
    for name, result in results.items():
        lines += [f"### {name}", "", "```text", *result["output"], "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="pass --quick to every benchmark")
    parser.add_argument(
        "--out", type=Path, default=HERE / "RESULTS.md", help="where to write the table"
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="per benchmark (default 300, full 1800)"
    )
    args = parser.parse_args(argv)
    timeout = args.timeout or (300.0 if args.quick else 1800.0)
    command = shlex.join(["python", "benchmarks/run_all.py", *(argv or sys.argv[1:])])
    load_before = _load()
    start = time.perf_counter()
    results = {path.stem: run_one(path, args.quick, timeout) for path in benchmarks()}
    text = markdown(results, args.quick, command, time.perf_counter() - start, load_before)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    table_end = text.index("\n## Output of each benchmark")
    print("\n" + text[:table_end])
    print(f"written to {args.out}")
    return 1 if any(result["error"] for result in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
