"""The text report, summary.json and the Locator.

What the report makes of a profile is checked on the recorded Scalene profiles (tests/data/scalene);
what needs Scalene to measure the workload here (which function is hot, who calls the helper,
where the peak is, libraries under --profile-all, notebooks) on real Scalene runs, marked
`integration`.
"""

from __future__ import annotations

import json
import json.decoder
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy
import pytest

from fixingahole.locations import Locator
from fixingahole.notebook import Cell, CellMap
from fixingahole.options import ProfileOptions
from fixingahole.record import SCHEMA, Environment, RunRecord, RunStatus
from fixingahole.report.folded import render_folded
from fixingahole.report.record import build_record
from fixingahole.report.text import call_paths, render_report, render_summary
from fixingahole.runner import ScaleneResult
from fixingahole.scalene_output import Frame, Profile, StackSample, load_profile, parse_profile
from tests.factories import SCALENE, recorded_profile

WORKLOAD = '''\
"""A small workload: one hot function, a helper reached from two callers, allocations."""

from helpers.util import helper


def hot_loop(n):
    total = 0
    for i in range(n):
        total += i % 7
    return total


def caller_a():
    return helper(300_000)


def caller_b():
    return helper(300_000)


def allocate(count):
    blocks = []
    for _ in range(count):
        blocks.append(bytearray(8 * 1024 * 1024))
    return len(blocks)


def main():
    for _ in range(3):
        hot_loop(6_000_000)
        caller_a()
        caller_b()
    allocate(12)


main()
'''

HELPER = """\
def helper(n):
    acc = 0.0
    for i in range(n):
        acc += i ** 0.5
    return acc
"""

LIBRARY_WORKLOAD = """\
import json

data = {"rows": [{"id": i, "name": f"row {i}", "tags": ["a", "b"]} for i in range(2000)]}
for _ in range(40):
    json.loads(json.dumps(data, indent=1, sort_keys=True))
"""

# A notebook's cells as the user wrote them, and the script a converter would make of them.
NOTEBOOK_CELLS = (
    ["import math"],
    [
        "def crunch(n):",
        "    total = 0.0",
        "    for i in range(n):",
        "        total += math.sqrt(i) * math.sin(i)",
        "    return total",
    ],
    ["%time result = crunch(2_000_000) + sum(math.sqrt(i) for i in range(3_000_000))"],
)
CONVERTED = {NOTEBOOK_CELLS[2][0]: NOTEBOOK_CELLS[2][0].removeprefix("%time ")}

SCALENE_TIMEOUT = 120


@dataclass(frozen=True)
class ScaleneRun:
    """A real Scalene run of a script in a project folder, and its parsed profile."""

    root: Path
    script: Path
    json_path: Path
    profile: Profile


def run_scalene(root: Path, script: Path, mode: str, *flags: str) -> ScaleneRun:
    """Profile `script` (cwd `root`) with real Scalene and parse its JSON."""
    json_path = root / f"{script.stem}-{mode}.json"
    mode_flag = "--memory" if mode == "memory" else "--cpu-only"
    argv = [sys.executable, "-m", "scalene", "run", mode_flag, *flags, "-o", str(json_path)]
    argv.append(str(script))
    temp = root / f"tmp-{script.stem}-{mode}"  # Scalene leaves a folder in its temp dir
    temp.mkdir(exist_ok=True)
    subprocess.run(
        argv,
        cwd=root,
        env={**os.environ, "TMPDIR": str(temp)},
        check=True,
        timeout=SCALENE_TIMEOUT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
    )
    return ScaleneRun(root, script, json_path, load_profile(json_path))


def line_of(script: Path, text: str) -> int:
    """The 1-based number of the first line of `script` that contains `text`."""
    for number, line in enumerate(script.read_text(encoding="utf-8").splitlines(), 1):
        if text in line:
            return number
    raise AssertionError(f"{text!r} not in {script}")


def run_info(
    mode: str, *, precision: int = 0, detailed: bool = False, trace: bool = True, **changes
) -> RunRecord:
    """A finished run's record as the reports read it (no figures: those come from the profile)."""
    base = RunRecord(
        run_id="workload/20250101_143000",
        entry="workload",
        target="workload.py",
        kind="script",
        status=RunStatus.OK,
        exit_code=0,
        started_utc="2025-01-01T14:30:00.000Z",
        command=f"fixingahole profile workload.py --{mode}",
        wall_s=3.25,
        cpu_s=3.5,
        elapsed_s=3.0,
        max_rss_mb=123.4,
        peak_heap_mb=None,
        mode=mode,
        options={"precision": precision, "detailed": detailed, "trace": trace},
    )
    return replace(base, **changes)


def section(report: str, title: str) -> str:
    """The block of a report from the line starting with `title` to the next blank line."""
    start = report.index("\n" + title) + 1
    end = report.find("\n\n", start)
    return report[start : end if end >= 0 else len(report)]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A code base whose path has a space and a non-ASCII letter."""
    root = tmp_path_factory.mktemp("report") / "projet été"
    (root / "helpers").mkdir(parents=True)
    (root / "helpers" / "__init__.py").write_text("", encoding="utf-8")
    (root / "helpers" / "util.py").write_text(HELPER, encoding="utf-8")
    (root / "workload.py").write_text(WORKLOAD, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def cpu_run(project: Path) -> ScaleneRun:
    return run_scalene(project, project / "workload.py", "cpu")


@pytest.fixture(scope="module")
def memory_run(project: Path) -> ScaleneRun:
    return run_scalene(project, project / "workload.py", "memory")


@pytest.fixture(scope="module")
def notebook_run(project: Path) -> tuple[ScaleneRun, CellMap]:
    """A notebook-style generated script, profiled, with the CellMap a converter would give."""
    lines = ["#!/usr/bin/env python", "# coding: utf-8"]
    cells = []
    for number, source in enumerate(NOTEBOOK_CELLS, 1):
        lines += ["", "", f"# In[{number}]:", "", ""]
        code = [CONVERTED.get(text, text) for text in source]
        cells.append(Cell(number, len(lines) + 1, len(code), tuple(source)))
        lines += code
    script = project / "analysis.notebook.py"
    script.write_text("\n".join(lines) + "\n", encoding="utf-8")
    cell_map = CellMap(project / "analysis.ipynb", script, tuple(cells))
    return run_scalene(project, script, "cpu"), cell_map


@pytest.fixture(scope="module")
def library_run(project: Path) -> ScaleneRun:
    """A script spending its time in the standard library's json, profiled with --profile-all."""
    script = project / "encode.py"
    script.write_text(LIBRARY_WORKLOAD, encoding="utf-8")
    return run_scalene(project, script, "cpu", "--profile-all")


@pytest.fixture(scope="module")
def cpu_report(cpu_run: ScaleneRun) -> str:
    return render_report(cpu_run.profile, run_info("cpu"), Locator(cpu_run.root))


@pytest.fixture(scope="module")
def memory_report(memory_run: ScaleneRun) -> str:
    return render_report(memory_run.profile, run_info("memory"), Locator(memory_run.root))


def recorded_run(root: Path, fixture: str, folder: str = "") -> ScaleneRun:
    """A recorded profile (tests/data/scalene) read as a run of code base `root`, its program in
    `root`/`folder` (its source copied there, as the report reads it)."""
    where = root / folder
    where.mkdir(parents=True, exist_ok=True)
    profile = recorded_profile(fixture, where)
    sources = SCALENE / ("same-names" if fixture.startswith("same-names/") else "programs")
    for file in profile.files:
        name = Path(file.path).name
        (where / name).write_text((sources / name).read_text(encoding="utf-8"), encoding="utf-8")
    return ScaleneRun(root, Path(profile.program), SCALENE / fixture, profile)


@pytest.fixture(scope="module")
def recorded_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recorded") / "fixture programs"


@pytest.fixture(scope="module")
def recorded_cpu(recorded_root: Path) -> ScaleneRun:
    """compute.py in CPU mode: `hot` and the lines of its loop."""
    return recorded_run(recorded_root, "2.4.0-compute-cpu.json")


@pytest.fixture(scope="module")
def recorded_memory(recorded_root: Path) -> ScaleneRun:
    """allocate.py in memory mode: `churn` and `leak`, a 340 MB heap peak, a likely leak."""
    return recorded_run(recorded_root, "2.4.0-allocate-memory.json")


@pytest.fixture(scope="module")
def recorded_names(recorded_root: Path) -> ScaleneRun:
    """Functions `work` in main.py and same_names.py, and `Tool.work`, all in folder helpers."""
    return recorded_run(recorded_root, "same-names/2.4.0-cpu.json", "helpers")


@pytest.fixture(scope="module")
def recorded_cpu_report(recorded_cpu: ScaleneRun) -> str:
    return render_report(recorded_cpu.profile, run_info("cpu"), Locator(recorded_cpu.root))


@pytest.fixture(scope="module")
def recorded_memory_report(recorded_memory: ScaleneRun) -> str:
    run = recorded_memory
    return render_report(run.profile, run_info("memory"), Locator(run.root))


@pytest.fixture(scope="module")
def recorded_names_report(recorded_names: ScaleneRun) -> str:
    return render_report(recorded_names.profile, run_info("cpu"), Locator(recorded_names.root))


def top_rows(report: str) -> list[tuple[str, float, float, str]]:
    """(name, percent, seconds, location) of each Top Functions by Total Runtime row."""
    block = section(report, "Top ")
    rows = re.findall(r"^\s+\d+\.\s+(\S+)\s+([\d.]+)%\s+([\d.]+) s\s+(.+)$", block, re.M)
    return [(name, float(pct), float(sec), where) for name, pct, sec, where in rows]


def test_report_opens_with_the_command_and_the_time_and_ram(recorded_cpu, recorded_cpu_report):
    lines = recorded_cpu_report.splitlines()
    assert lines[0] == "fixingahole profile workload.py --cpu"
    elapsed = recorded_cpu.profile.elapsed_s
    assert lines[1] == f"Finished in {elapsed:.2f} seconds using 123.4 MB of RAM"
    assert lines[3] == f"Profile Summary ({elapsed:.2f} s total)"


def test_memory_report_states_the_heap_peak_not_rss(recorded_memory, recorded_memory_report):
    peak = recorded_memory.profile.peak_heap_mb
    assert peak is not None and peak > 300  # the leaked blocks are alive at once
    assert recorded_memory_report.splitlines()[1].endswith(f"using {peak:.1f} MB of RAM")
    assert "123.4" not in recorded_memory_report.splitlines()[1]  # not the max RSS


@pytest.mark.integration
def test_hot_function_comes_first_with_seconds_matching_percent(cpu_run, cpu_report):
    rows = top_rows(cpu_report)
    assert rows[0][0] == "hot_loop"
    assert rows[0][3] == f"workload.py:{line_of(cpu_run.script, 'def hot_loop')}"
    percents = [pct for _, pct, _, _ in rows]
    assert percents == sorted(percents, reverse=True)
    elapsed = cpu_run.profile.elapsed_s
    by_name = {f.name: f for f in cpu_run.profile.functions}
    for name, pct, seconds, _ in rows:
        assert pct == pytest.approx(by_name[name].percent, abs=0.051)
        assert seconds == pytest.approx(by_name[name].percent / 100 * elapsed, abs=0.0051)


def test_helper_in_a_subfolder_is_named_relative_to_root(recorded_names_report):
    places = {where for *_, where in top_rows(recorded_names_report)}
    assert places == {"helpers/main.py:5", "helpers/same_names.py:4", "helpers/same_names.py:12"}


def test_line_table_elides_idle_lines(recorded_cpu, recorded_cpu_report):
    table = recorded_cpu_report[recorded_cpu_report.index("compute.py: ") :]
    table = table[: table.index("function summary for compute.py")]
    hot = line_of(recorded_cpu.script, "total += (i & 7)")
    assert re.search(rf"^\s+{hot} │.*│ +total \+= \(i & 7\) if i % 3 < 2 else i >> 2$", table, re.M)
    assert re.search(r"^\s+\.\.\. │", table, re.M)
    assert "def cold" not in table  # never sampled, so left out
    shown = [int(n) for n in re.findall(r"^\s+(\d+) │", table, re.M)]
    source = recorded_cpu.script.read_text(encoding="utf-8").splitlines()
    assert shown == sorted(shown) and len(shown) < len(source) / 2


def test_per_function_summary_follows_each_line_table(recorded_names, recorded_names_report):
    report = recorded_names_report
    summary = report[report.index("function summary for helpers/main.py") :]
    summary = summary[: summary.index("\n\n")]
    work = line_of(recorded_names.script, "def work")
    assert re.search(rf"^\s+{work} │.*│ work$", summary, re.M)
    other = report[report.index("function summary for helpers/same_names.py") :]
    assert re.search(r"^\s+12 │.*│ Tool\.work$", other[: other.index("\n\n")], re.M)


def test_memory_sections_only_in_memory_mode(recorded_cpu_report, recorded_memory_report):
    titles = ("by Memory Usage", "Top Peak Memory by Line", "Possible Memory Leaks", "│ Memory")
    for title in titles:
        assert title in recorded_memory_report
        assert title not in recorded_cpu_report
    heap = r"^Heap peak: +not measured \(profile with --memory\)$"
    assert re.search(heap, recorded_cpu_report, re.M)


def test_memory_sections_say_when_nothing_was_sampled(recorded_root):
    """A run in which no allocation was sampled: every memory section is there and says why it
    is empty, with the sampling window of the precision in effect and how to sample finer."""
    run = recorded_run(recorded_root, "2.4.0-compute-memory.json", "nothing sampled")
    assert not any(line.peak_mb or line.malloc_mb for line in run.profile.lines)
    report = render_report(run.profile, run_info("memory", precision=3), Locator(run.root))
    memory = section(report, "Top Functions by Memory Usage (peak)")
    assert "No allocation in the profiled code was sampled: at --precision 3 Scalene\n" in memory
    assert "samples allocations about every 1.3 MB" in memory
    assert "--precision 7 (about every\n  80 kB; slower)" in memory
    peaks = section(report, "Top Peak Memory by Line")
    assert "(about every 1.3 MB at --precision 3; a higher one samples finer)" in peaks
    assert "none detected (no allocation was sampled)" in section(report, "Possible Memory Leaks")
    assert "Memory usage: nothing was sampled (about every 1.3 MB at --precision 3)" in report
    assert re.search(r"^Heap peak: +nothing was sampled \(about every 1\.3 MB", report, re.M)
    finest = render_summary(run.profile, run_info("memory", precision=10), Locator(run.root))
    assert "even at the finest granularity\n  (--precision 10: about every 10 kB)" in finest
    cpu = render_summary(run.profile, run_info("cpu"), Locator(run.root))
    assert "by Memory Usage" not in cpu and "No allocation" not in cpu  # not asked for


@pytest.mark.integration
def test_peak_memory_lines_point_at_the_allocation(memory_run, memory_report):
    block = section(memory_report, "Top Peak Memory by Line")
    first = block.splitlines()[2]
    where = f"workload.py:{line_of(memory_run.script, 'bytearray')}"
    assert where in first and "bytearray(8 * 1024 * 1024)" in first
    peak = max(line.peak_mb for line in memory_run.profile.lines)
    assert f"{peak:.1f} MB" in first


def test_memory_line_table_has_a_sparkline(recorded_memory_report):
    row = next(
        line
        for line in recorded_memory_report.splitlines()
        if line.rstrip().endswith("kept.append(bytearray(1_000_000))") and "│" in line
    )
    assert re.search("[▁▂▃▄▅▆▇█]{2,}", row)


def test_module_tree_groups_user_code_under_the_root(recorded_names, recorded_names_report):
    tree = section(recorded_names_report, "Functions by Module")
    assert f"└─ {recorded_names.root.name} " in tree
    assert re.search(r"helpers\s+[\d.]+%", tree)
    assert re.search(r"same_names\.py\s+[\d.]+%", tree)
    assert re.search(r"[├└]─ Tool\.work \.+ +[\d.]+%$", tree, re.M)


@pytest.mark.integration
def test_stack_summary_shows_both_callers_of_the_helper(cpu_run, cpu_report):
    block = cpu_report[cpu_report.index("helper (helpers/util.py:1)") :]
    block = block[: block.find("\n\n") if "\n\n" in block else len(block)]
    script = cpu_run.script
    call_a = f"workload.py:{line_of(script, 'return helper(300_000)')}; caller_a"
    call_b = f"workload.py:{line_of(script, 'return helper(300_000)') + 4}; caller_b"
    assert call_a in block and call_b in block
    assert "2 call paths" in block.splitlines()[0]
    total = int(re.search(r"call paths in (\d+) samples$", block.splitlines()[0]).group(1))
    counts = [int(n) for n in re.findall(r"[├└]─ (\d+) samples", block)]
    assert sum(counts) == total and len(counts) == 2


def test_call_paths_count_each_stack_once(recorded_memory):
    key = (str(recorded_memory.script), "main")
    stacks = recorded_memory.profile.stacks
    paths = call_paths(stacks, [key])[key]
    reaching = sum(s.count for s in stacks if any(f.name == "main" for f in s.frames))
    assert sum(paths.values()) == reaching > 0
    assert all(chain[-1].name == "<module>" for chain in paths)


def test_no_stack_summary_without_trace(recorded_cpu, recorded_cpu_report):
    run = recorded_cpu
    report = render_report(run.profile, run_info("cpu", trace=False), Locator(run.root))
    assert "Stack Trace Summary" not in report
    assert "Stack Trace Summary" in recorded_cpu_report


def folded_paths(text: str) -> list[tuple[list[str], int]]:
    """(frames, samples) of each line of a stacks.folded text, checking every line's form."""
    rows = []
    for line in text.splitlines():
        path, _, count = line.rpartition(" ")
        assert path and count.isdecimal(), line
        rows.append((path.split(";"), int(count)))
    return rows


@pytest.mark.integration
def test_folded_stacks_hold_every_sample_heaviest_path_first(cpu_run):
    rows = folded_paths(render_folded(cpu_run.profile, Locator(cpu_run.root)))
    assert sum(count for _, count in rows) == sum(s.count for s in cpu_run.profile.stacks) > 0
    counts = [count for _, count in rows]
    assert counts == sorted(counts, reverse=True)
    assert rows[0][0] == ["<module> (workload.py)", "main (workload.py)", "hot_loop (workload.py)"]
    paths = [frames for frames, _ in rows]
    for caller in ("caller_a", "caller_b"):
        assert [*rows[0][0][:2], f"{caller} (workload.py)", "helper (helpers/util.py)"] in paths


def test_folded_frames_merge_lines_and_never_hold_a_separator():
    def frame(name: str, lineno: int) -> Frame:
        return Frame("/code/a;b.py", name, lineno)

    stacks = (
        StackSample((frame("<module>", 9), frame("f", 2)), count=3),
        StackSample((frame("<module>", 9), frame("f", 4)), count=2),  # f at another line
        StackSample((frame("<module>", 10), frame("g\nh", 1)), count=1),
        StackSample((frame("<module>", 11), frame("idle", 1)), count=0),  # no samples: no line
    )
    folded = render_folded(Profile(stacks=stacks), Locator(Path("/code")))
    assert folded.splitlines() == [
        "<module> (/code/a,b.py);f (/code/a,b.py) 5",
        "<module> (/code/a,b.py);g h (/code/a,b.py) 1",
    ]


def test_failed_status_and_logs_show_near_the_top(recorded_cpu):
    cpu_run = recorded_cpu
    run = run_info(
        "cpu",
        status=RunStatus.FAILED,
        exit_code=1,
        error="ZeroDivisionError: division by zero",
        log_counts={"WARNING": 2, "ERROR": 1},
    )
    head = render_report(cpu_run.profile, run, Locator(cpu_run.root)).splitlines()[:4]
    assert "Status: failed (exit code 1): ZeroDivisionError: division by zero" in head
    assert "Logs: 3 records in logs.log (1 ERROR, 2 WARNING)" in head
    summary = render_summary(cpu_run.profile, run, Locator(cpu_run.root))
    assert re.search(r"^Warnings: +2 \(also 1 ERROR\)$", summary, re.M)


def test_summary_is_the_profile_summary_of_the_report(recorded_cpu, recorded_cpu_report):
    run = recorded_cpu
    summary = render_summary(run.profile, run_info("cpu"), Locator(run.root))
    assert summary.startswith("Profile Summary")
    assert summary.strip() in recorded_cpu_report
    assert "Line Profile" not in summary
    assert re.search(r"^Max RSS Memory Usage: +123\.4 MB$", summary, re.M)
    assert re.search(r"^Wall Time: +3\.25 s$", summary, re.M)


def test_top_limits_the_lists(recorded_memory):
    run = recorded_memory
    assert len(run.profile.functions) > 1
    report = render_report(run.profile, run_info("memory"), Locator(run.root), top=1)
    assert "Top 1 Function by Total Runtime" in report
    assert [row[0] for row in top_rows(report)] == ["churn"]
    assert "Top 1 Function by Memory Usage (peak)" in report


@pytest.mark.integration
def test_ignored_folders_are_not_reported(project, cpu_run):
    locator = Locator(project, ignore=(project / "helpers",))
    report = render_report(cpu_run.profile, run_info("cpu"), locator)
    assert "helpers/util.py" not in report
    assert "hot_loop" in report
    summary = summary_of(cpu_run, "cpu", locator)
    assert all(f["file"] == "workload.py" for f in summary["functions"] + summary["lines"])


def test_empty_profile_says_why(tmp_path):
    (tmp_path / "empty.json").write_text("{}", encoding="utf-8")
    profile = load_profile(tmp_path / "empty.json")
    run = run_info(
        "cpu", status=RunStatus.NO_SAMPLES, error="the script finished before any sample"
    )
    report = render_report(profile, run, Locator(tmp_path))
    assert "Scalene collected no samples." in report
    assert "Status: no-samples (exit code 0)" in report
    assert len(report.splitlines()) < 25
    assert "Line Profile" not in report


def summary_of(
    scalene_run: ScaleneRun, mode: str, locator: Locator, *, kind: str = "script", **options
) -> dict:
    """The summary.json document the profiling module would write for a Scalene run."""
    result = ScaleneResult(RunStatus.OK, 0, 3.25, 3.5, 123.4, ("scalene",), {"WARNING": 1})
    record = build_record(
        scalene_run.profile,
        locator,
        result,
        status=RunStatus.OK,
        error=None,
        run_id="workload/20250101_143000",
        entry="workload",
        target=scalene_run.script,
        kind=kind,
        started_utc=datetime(2025, 1, 1, 15, 30, tzinfo=timezone.utc).astimezone(),
        options=ProfileOptions(mode=mode, **options),
        command=f"fixingahole profile workload.py --{mode}",
        code_hash="sha256:abc",
        git=None,
        environment=Environment(python="3.11"),
        tags=("nightly",),
    )
    return record.to_json()


SUMMARY_KEYS = [
    "schema", "run_id", "entry", "target", "kind", "status", "exit_code", "started_utc",
    "wall_s", "cpu_s", "elapsed_s", "max_rss_mb", "peak_heap_mb", "mode", "options", "command",
    "tags", "code_hash", "git", "environment", "log_counts", "error", "unprofiled_event_loop",
    "functions", "lines", "leaks", "cells",
]  # fmt: skip


def test_summary_json_follows_the_schema(recorded_memory):
    memory_run = recorded_memory
    summary = summary_of(memory_run, "memory", Locator(memory_run.root))
    assert json.loads(json.dumps(summary)) == summary
    assert list(summary) == SUMMARY_KEYS
    assert summary["schema"] == SCHEMA == 1
    assert summary["log_counts"] == {"WARNING": 1}
    assert summary["target"] == "allocate.py"
    assert summary["started_utc"] == "2025-01-01T15:30:00.000Z"
    assert summary["tags"] == ["nightly"]
    assert summary["peak_heap_mb"] == pytest.approx(memory_run.profile.peak_heap_mb, abs=0.001)
    assert summary["elapsed_s"] == pytest.approx(memory_run.profile.elapsed_s, abs=0.0001)


@pytest.mark.integration
def test_summary_functions_and_lines_agree_with_scalene(memory_run):
    profile = memory_run.profile
    summary = summary_of(memory_run, "memory", Locator(memory_run.root))
    functions = summary["functions"]
    assert [f["percent"] for f in functions] == sorted(
        (f["percent"] for f in functions), reverse=True
    )
    assert functions[0]["name"] == "hot_loop"
    assert functions[0]["location"] == f"workload.py:{functions[0]['lineno']}"
    for entry in functions + summary["lines"]:
        assert entry["seconds"] == pytest.approx(
            entry["percent"] / 100 * profile.elapsed_s, abs=1e-3
        )
    alloc = line_of(memory_run.script, "bytearray")
    blamed = {(line["file"], line["lineno"]): line for line in summary["lines"]}
    assert blamed[("workload.py", alloc)]["peak_mb"] > 7
    busy = sum(
        1 for line in profile.lines if line.percent > 0 or line.malloc_mb > 0 or line.peak_mb > 0
    )
    assert len(summary["lines"]) == busy < len(profile.lines)


def test_summary_has_no_heap_peak_in_cpu_mode(recorded_memory):
    run = recorded_memory  # a memory profile, summarised as a CPU run's
    summary = summary_of(run, "cpu", Locator(run.root))
    assert summary["peak_heap_mb"] is None
    assert summary["mode"] == "cpu"


def locate_or_skip(cell_map: CellMap) -> None:
    """Skip while the notebook module's CellMap.locate is still a stub."""
    try:
        cell_map.locate(cell_map.cells[0].first_line)
    except NotImplementedError:
        pytest.skip("CellMap.locate is not implemented yet")


@pytest.mark.integration
def test_notebook_locations_name_cells(notebook_run):
    scalene_run, cell_map = notebook_run
    locate_or_skip(cell_map)
    locator = Locator(scalene_run.root, {str(cell_map.script): cell_map})
    report = render_report(scalene_run.profile, run_info("cpu"), locator)
    rows = top_rows(report)
    assert rows[0][0] == "crunch" and rows[0][3] == "analysis.ipynb [cell 2] line 1"
    assert "analysis.ipynb: " in report and "analysis.notebook.py" not in report
    assert re.search(
        r"\[cell 2\] line 4 │.*│ +total \+= math\.sqrt\(i\) \* math\.sin\(i\)$", report, re.M
    )
    assert "analysis.ipynb [cell 3] line 1; <module>" in report
    magic = re.escape(NOTEBOOK_CELLS[2][0])  # the cell's own text, not the script's
    assert re.search(rf"^ *\[cell 3\] line 1 │.*│ {magic}$", report, re.M)
    summary = summary_of(scalene_run, "cpu", locator, kind="notebook")
    crunch = next(f for f in summary["functions"] if f["name"] == "crunch")
    assert crunch["file"] == "analysis.ipynb"
    assert crunch["location"] == "analysis.ipynb [cell 2] line 1"


def test_locator_names_library_files_by_package(tmp_path):
    locator = Locator(tmp_path)
    numpy_init = os.path.realpath(numpy.__file__)
    assert locator.name(numpy_init) == "numpy/__init__.py"
    assert locator.package(numpy_init) == "numpy"
    assert locator.is_library(numpy_init)
    assert locator.location(json.__file__, 3) == "json/__init__.py:3"
    assert locator.package(json.decoder.__file__) == "json"


def test_locator_names_user_files_relative_to_root(tmp_path):
    root = tmp_path / "my repo ü"
    (root / "pkg").mkdir(parents=True)
    script = root / "pkg" / "mod é.py"
    script.write_text("x = 1\n", encoding="utf-8")
    locator = Locator(root)
    assert locator.location(str(script), 1) == "pkg/mod é.py:1"
    assert locator.package(str(script)) == "my repo ü"
    assert not locator.is_library(str(script))
    outside = tmp_path / "elsewhere.py"
    assert locator.name(str(outside)) == str(outside)
    assert not locator.is_library(str(outside))
    assert locator.source(str(script), 1, "x = 1") == "x = 1"


def test_locator_prefers_site_packages_inside_root(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    site_packages = root / ".venv" / "lib" / "site-packages"
    (site_packages / "fancylib").mkdir(parents=True)
    elsewhere = tmp_path / "src"  # an editable install or PYTHONPATH entry outside root
    (elsewhere / "tool").mkdir(parents=True)
    monkeypatch.setattr(sys, "path", [*sys.path, str(site_packages), str(elsewhere)])
    module = site_packages / "fancylib" / "core.py"
    locator = Locator(root)
    assert locator.name(str(module)) == "fancylib/core.py"
    assert locator.package(str(module)) == "fancylib"
    assert locator.is_library(str(module))
    tool = str(elsewhere / "tool" / "run.py")
    assert locator.location(tool, 2) == "tool/run.py:2"
    assert locator.package(tool) == "tool"
    assert not locator.is_library(tool)  # named by import path, but never folded away


def test_locator_never_reports_its_own_package_and_libraries_only_when_detailed(tmp_path):
    import dataclasses

    import fixingahole

    locator = Locator(tmp_path)
    own = os.path.join(os.path.dirname(fixingahole.__file__), "_bootstrap", "sitecustomize.py")
    assert not locator.is_reported(own, detailed=False)
    assert not locator.is_reported(own, detailed=True)
    assert not locator.is_reported(json.__file__, detailed=False)
    assert locator.is_reported(json.__file__, detailed=True)
    assert locator.is_reported(str(tmp_path / "mine.py"), detailed=False)
    source = Path(dataclasses.__file__).read_text(encoding="utf-8").splitlines()
    line = next(n for n, text in enumerate(source, 1) if "exec(" in text)
    generated = f"<exec@dataclasses.py:{line}>"
    assert locator.name(generated) == f"dataclasses.py:{line} [exec]"
    assert locator.location(generated, 2) == f"dataclasses.py:{line} [exec] line 2"
    assert locator.package(generated) == "dataclasses"
    assert not locator.is_reported(generated, detailed=False)
    assert locator.is_reported(generated, detailed=True)
    unknown = "<eval@no_such_module_here.py:3>"
    assert locator.name(unknown) == "no_such_module_here.py:3 [eval]"
    assert locator.package(unknown) == "no_such_module_here"
    assert not locator.is_reported(unknown, detailed=False)


def test_time_of_code_left_out_goes_to_the_line_that_called_it(tmp_path):
    """A 2.4-shaped profile: `loop` calls code a library compiled through `exec`, which Scalene
    samples as `<exec@dataclasses.py:433>`; one more sample ends there with no caller shown."""
    script = str(tmp_path / "main.py")
    source = ["def loop(n):\n", "    for i in range(n):\n", "        Point(i)\n", "loop(9)\n"]
    percents = {2: 20.0, 3: 30.0}
    lines = [{"lineno": n, "line": text, "n_cpu_percent_python": percents.get(n, 0.0)}
             for n, text in enumerate(source, 1)]  # fmt: skip
    generated = "<exec@dataclasses.py:433>"
    pseudo = [{"lineno": 1, "line": "def __init__(self, x):\n", "n_cpu_percent_python": 40.0}]
    stacks = [
        [[f"{script} <module>:4;", f"{script} loop:3;", f"{generated} __init__:1;"],
         {"count": 3, "cpu_samples": 0.3, "python_time": 0.3, "c_time": 0.0}],
        [[f"{generated} __init__:1;"],
         {"count": 1, "cpu_samples": 0.1, "python_time": 0.1, "c_time": 0.0}],
        [[f"{script} <module>:4;", f"{script} loop:2;"],
         {"count": 5, "cpu_samples": 0.5, "python_time": 0.5, "c_time": 0.0}],
    ]  # fmt: skip
    data = {"elapsed_time_sec": 10.0, "stacks": stacks, "files": {
        script: {"percent_cpu_time": 50.0, "lines": lines},
        generated: {"percent_cpu_time": 40.0, "lines": pseudo},
    }}  # fmt: skip
    profile = parse_profile(data)
    summary = summary_of(
        ScaleneRun(tmp_path, Path(script), tmp_path / "p.json", profile), "cpu", Locator(tmp_path)
    )
    [loop] = summary["functions"]
    assert (loop["name"], loop["location"], loop["lineno"]) == ("loop", "main.py:1", 1)
    assert loop["percent"] == pytest.approx(20 + 30 + 40 * 0.3 / 0.4)  # 3 of 4 samples
    assert loop["seconds"] == pytest.approx(loop["percent"] / 10)
    assert loop["total_percent"] == pytest.approx(80.0)
    called = {line["lineno"]: line["percent"] for line in summary["lines"]}
    assert called == {2: 20.0, 3: pytest.approx(60.0)}
    assert "<exec@" not in json.dumps(summary)


@pytest.mark.integration
def test_rendering_a_memory_profile_is_fast(memory_run):
    locator = Locator(memory_run.root)
    run = run_info("memory")
    start = time.perf_counter()
    for _ in range(10):
        render_report(memory_run.profile, run, locator)
        summary_of(memory_run, "memory", locator)
    assert (time.perf_counter() - start) / 10 < 0.05


@pytest.mark.integration
def test_detailed_groups_library_code_by_package(library_run):
    profile, root = library_run.profile, library_run.root
    detailed = render_report(profile, run_info("cpu", detailed=True), Locator(root))
    tree = section(detailed, "Functions by Module")
    assert re.search(r"^[├└]─ json +[\d.]+%", tree, re.M)
    assert re.search(r"^[│ ]  [├└]─ encoder\.py +[\d.]+%", tree, re.M)
    assert any(where.startswith("json/encoder.py:") for *_, where in top_rows(detailed))
    plain = render_report(profile, run_info("cpu"), Locator(root))
    # libraries only with --detailed (the script's own line `json.loads(json.dumps(...))` may show)
    assert "json/" not in plain and "encoder.py" not in plain
    assert not re.search(r"^[├└]─ json ", plain, re.M)
