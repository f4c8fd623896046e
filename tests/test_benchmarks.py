"""The benchmark suite works: `benchmarks/run_all.py --quick` runs every benchmark for real.

Run once for the module (about a minute: real Scalene runs, real stores). This checks that each
benchmark finishes and prints its figures, not how fast anything is: quick sizes say nothing
about the budgets, and the machine running the tests may be busy.
"""

from __future__ import annotations

import importlib.util
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
EXPECTED = sorted(path.stem for path in BENCHMARKS.glob("bench_*.py"))
pytestmark = pytest.mark.slow  # runs real Scalene for about a minute


def _run_all_module():
    spec = importlib.util.spec_from_file_location("run_all", BENCHMARKS / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def quick_suite(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[subprocess.CompletedProcess, str]:
    """The completed `run_all.py --quick` and the results file it wrote to a temp path."""
    out = tmp_path_factory.mktemp("benchmarks") / "RESULTS.md"
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run_all.py"), "--quick", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    return done, out.read_text(encoding="utf-8") if out.exists() else ""


def _sections(results: str) -> dict[str, list[str]]:
    """Each benchmark's output, from the `### name` sections of the results file."""
    found = re.findall(r"^### (\S+)\n\n```text\n(.*?)^```$", results, re.MULTILINE | re.DOTALL)
    return {name: body.splitlines() for name, body in found}


def _rows(results: str) -> dict[str, str]:
    """Each benchmark's row of the figures table."""
    return {
        line.split("|")[1].strip(): line
        for line in results.splitlines()
        if line.startswith("| bench_")
    }


def _failure_report(done: subprocess.CompletedProcess, results: str, failed: list[str]) -> str:
    """The failed benchmarks' rows and full output (else the suite's tail): why it failed."""
    sections = _sections(results)
    if not failed:
        return done.stdout[-3000:] + done.stderr[-3000:]
    parts = [f"{_rows(results)[name]}\n" + "\n".join(sections.get(name, [])) for name in failed]
    return "\n\n".join(parts) + "\n" + done.stderr[-3000:]


@pytest.mark.integration
def test_the_quick_suite_succeeds_and_writes_its_results(quick_suite) -> None:
    done, results = quick_suite
    failed = [name for name, row in _rows(results).items() if "failed" in row]
    assert done.returncode == 0, _failure_report(done, results, failed)
    assert results.startswith("# Benchmark results")
    assert "quick mode" in results
    for key in ("CPU:", "cores:", "Python:", "Scalene:", "commit:"):
        assert f"- {key}" in results
    assert "python benchmarks/run_all.py --quick --out" in results
    assert "| benchmark | figures | budgets | seconds |" in done.stdout  # the table is printed


@pytest.mark.integration
@pytest.mark.parametrize("name", EXPECTED)
def test_every_benchmark_prints_numeric_figures_last(quick_suite, name: str) -> None:
    _, results = quick_suite
    output = _sections(results).get(name)
    assert output, f"{name} did not run"
    shown = "\n".join(output[-80:])  # its own output, so that a failure says why
    last = next(line for line in reversed(output) if line.strip())
    figures = _run_all_module().parse_figures(last)
    assert figures, f"{name}: last line is not `name=value ...`: {last!r}\n{shown}"
    assert all(math.isfinite(value) for value in figures.values())
    row = _rows(results)[name]
    assert "failed" not in row, f"{row}\n{shown}"
    for figure, value in figures.items():
        assert f"`{figure}={value:g}`" in row


def test_the_expected_benchmarks_are_there() -> None:
    assert {
        "bench_overhead",
        "bench_startup",
        "bench_report",
        "bench_store",
        "bench_compare",
        "bench_batch",
        "bench_modes",
    } <= set(EXPECTED)
