"""`fixingahole profile` end to end: the real command, the real Scalene, small real scripts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fixingahole.record import RunRecord
from fixingahole.scalene_output import load_profile
from tests.factories import write

WORK = """
    import sys


    def inner(n):
        return sum(i * i for i in range(n))


    def outer(rounds):
        data = []
        for _ in range(rounds):
            data.append(bytearray(4_000_000))
            inner(300_000)
        return len(data)


    if __name__ == "__main__":
        print("args:", sys.argv[1:])
        print("kept:", outer(int(sys.argv[1]) if len(sys.argv) > 1 else 12))
"""


def fixingahole(*args: str, cwd: Path, env: dict | None = None, timeout: float = 120):
    """Run the installed command as a user would, from `cwd`."""
    return subprocess.run(
        [sys.executable, "-m", "fixingahole", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def only_run_dir(output: Path, entry: str) -> Path:
    runs = sorted((output / entry).iterdir())
    assert len(runs) == 1, runs
    return runs[0]


@pytest.fixture(scope="module")
def code_base(tmp_path_factory) -> Path:
    """A code base whose path has a space and a non-ASCII letter."""
    root = tmp_path_factory.mktemp("cli") / "my códe base"
    write(root / "pyproject.toml", '[tool.fixingahole]\noutput = "perf"\nignore = ["vendor"]\n')
    write(root / "pkg" / "work_load.py", WORK)
    write(root / "vendor" / "work_load.py", "print('never found: vendor is ignored')\n")
    return root


@pytest.fixture(scope="module")
def memory_run(code_base: Path):
    """One memory-mode profile, found by bare name, with arguments containing a space."""
    done = fixingahole(
        "profile", "work_load.py", "--memory", "--", "12", "two words", cwd=code_base
    )
    return done, only_run_dir(code_base / "perf", "work_load")


@pytest.mark.integration
@pytest.mark.smoke
def test_memory_profile_prints_summary_and_exits_zero(memory_run):
    done, _ = memory_run
    assert done.returncode == 0, done.stderr
    assert "args: ['12', 'two words']" in done.stdout
    assert "Top" in done.stdout and "outer" in done.stdout
    assert "Run folder:" in done.stdout


@pytest.mark.integration
def test_memory_run_folder_holds_everything(memory_run):
    _, run_dir = memory_run
    names = {p.name for p in run_dir.iterdir()}
    for name in (
        "work_load.py",
        "profile.json",
        "profile_results.txt",
        "summary.json",
        "stdout.txt",
        "stderr.txt",
        "logs.log",
        "stacks.folded",
        "speedscope.json",
        "report.html",
    ):
        assert name in names, names
    assert "args: ['12', 'two words']" in (run_dir / "stdout.txt").read_text()


@pytest.mark.integration
def test_report_opens_with_command_and_totals(memory_run):
    _, run_dir = memory_run
    first, second = (run_dir / "profile_results.txt").read_text().splitlines()[:2]
    assert first.startswith("fixingahole profile work_load.py --memory")
    assert second.startswith("Finished in ") and second.endswith(" MB of RAM")


@pytest.mark.integration
def test_summary_json_is_consistent_with_scalene(memory_run):
    _, run_dir = memory_run
    summary = json.loads((run_dir / "summary.json").read_text())
    scalene = json.loads((run_dir / "profile.json").read_text())
    assert RunRecord.from_json(summary).to_json() == summary  # summary.json is the record
    assert summary["status"] == "ok" and summary["exit_code"] == 0
    assert summary["mode"] == "memory" and summary["peak_heap_mb"] > 0
    assert summary["run_id"] == f"work_load/{run_dir.name}"
    assert summary["wall_s"] >= summary["elapsed_s"] * 0.5 > 0
    assert summary["max_rss_mb"] > 10
    functions = summary["functions"]
    assert [f["percent"] for f in functions] == sorted(
        (f["percent"] for f in functions), reverse=True
    )
    assert {"inner", "outer"} <= {f["name"] for f in functions}
    for f in functions:
        assert f["seconds"] == pytest.approx(
            f["percent"] / 100 * scalene["elapsed_time_sec"], abs=1e-3
        )
        assert f["file"] == "pkg/work_load.py"


@pytest.mark.integration
def test_cpu_mode_has_no_heap_peak(code_base: Path):
    done = fixingahole(
        "profile", "pkg/work_load.py", "--cpu", "--output", "cpu-runs", cwd=code_base
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(
        (only_run_dir(code_base / "cpu-runs", "work_load") / "summary.json").read_text()
    )
    assert summary["mode"] == "cpu" and summary["peak_heap_mb"] is None
    assert "by Memory Usage" not in done.stdout


SPIN_FOR_A_SECOND = """
    import time

    end = time.process_time() + 1.0
    while time.process_time() < end:
        sum(i * i for i in range(10_000))
"""


@pytest.mark.integration
def test_a_longer_sampling_interval_takes_fewer_samples(code_base: Path):
    """Scalene's intervals are random (exponential), so counts are Poisson: over 1 CPU second,
    about 100 and 20, and the assertion fails about once in 100,000 runs (over work_load.py's
    0.16 s, 16 and 3: once in ten)."""
    write(code_base / "spin_for.py", SPIN_FOR_A_SECOND)
    samples = {}
    for interval in ("0.01", "0.05"):
        output = f"every-{interval}-s"
        done = fixingahole(
            "profile", "spin_for.py", "--interval", interval, "--output", output, cwd=code_base
        )
        assert done.returncode == 0, done.stderr
        run_dir = only_run_dir(code_base / output, "spin_for")
        summary = json.loads((run_dir / "summary.json").read_text())
        assert summary["options"]["interval"] == float(interval)
        samples[interval] = sum(s.count for s in load_profile(run_dir / "profile.json").stacks)
    assert 0 < samples["0.05"] < samples["0.01"] / 2, samples


@pytest.mark.integration
@pytest.mark.smoke
def test_failing_script_keeps_its_run_folder(project: Path):
    write(
        project / "boom.py",
        """
        def spin():
            return sum(range(3_000_000))

        for _ in range(8):
            spin()
        raise RuntimeError("the data file is missing")
    """,
    )
    done = fixingahole("profile", "boom.py", cwd=project)
    assert done.returncode == 1
    assert "RuntimeError: the data file is missing" in done.stderr
    summary = json.loads(
        (only_run_dir(project / "performance", "boom") / "summary.json").read_text()
    )
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert "RuntimeError" in summary["error"]
    assert any(f["name"] == "spin" for f in summary["functions"])


@pytest.mark.integration
def test_too_short_script_is_a_clear_error(project: Path):
    write(project / "quick.py", "print('done')\n")
    done = fixingahole("profile", "quick.py", cwd=project)
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "no-samples" in done.stderr
    summary = json.loads(
        (only_run_dir(project / "performance", "quick") / "summary.json").read_text()
    )
    assert summary["status"] == "no-samples"


@pytest.mark.integration
def test_script_that_changes_directory(project: Path):
    write(
        project / "wander.py",
        """
        import os
        os.makedirs("elsewhere", exist_ok=True)
        os.chdir("elsewhere")
        print(sum(i * i for i in range(4_000_000)))
    """,
    )
    done = fixingahole("profile", "wander.py", cwd=project)
    assert done.returncode == 0, done.stderr
    assert (only_run_dir(project / "performance", "wander") / "profile.json").stat().st_size > 2


@pytest.mark.integration
def test_logs_are_captured_with_the_users_line_numbers(project: Path):
    write(
        project / "noisy.py",
        """
        import logging
        import warnings

        log = logging.getLogger("noisy")
        log.debug("not at WARNING")
        log.warning("first warning")
        warnings.warn("deprecated thing", DeprecationWarning, stacklevel=1)
        print(sum(i * i for i in range(4_000_000)))
    """,
    )
    done = fixingahole("profile", "noisy.py", "--log-level", "warning", cwd=project)
    assert done.returncode == 0, done.stderr
    run_dir = only_run_dir(project / "performance", "noisy")
    logs = (run_dir / "logs.log").read_text()
    assert "noisy.py:6" in logs and "first warning" in logs
    assert "noisy.py:7" in logs and "deprecated thing" in logs
    assert "not at WARNING" not in logs
    summary = json.loads((run_dir / "summary.json").read_text())
    assert sum(summary["log_counts"].values()) == 2


@pytest.mark.integration
def test_ctrl_c_interrupts_and_keeps_partial_profile(project: Path):
    write(
        project / "forever.py",
        """
        import time
        def spin():
            return sum(range(200_000))
        while True:
            spin()
    """,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "fixingahole", "profile", "forever.py"],
        cwd=project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    time.sleep(4)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    summary = json.loads(
        (only_run_dir(project / "performance", "forever") / "summary.json").read_text()
    )
    assert summary["status"] == "interrupted"
    assert any(f["name"] == "spin" for f in summary["functions"])
    leftovers = subprocess.run(["pgrep", "-f", "forever.py"], capture_output=True, text=True)
    assert leftovers.stdout.strip() == ""


SIGNALS_US_AS_IT_ENDS = """
    import os
    import signal
    import time


    def parent(pid):
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return int(stat.read().rsplit(b")", 1)[1].split()[1])


    end = time.process_time() + 0.3
    while time.process_time() < end:
        sum(i * i for i in range(10_000))
    us = parent(os.getpid())
    while b"fixingahole" not in open(f"/proc/{us}/cmdline", "rb").read():
        us = parent(us)
    os.kill(us, signal.SIGINT)
"""


@pytest.mark.integration
def test_ctrl_c_as_the_script_ends_still_stops(project: Path):
    """Ctrl-C and the script's own end race; the end won 17 of 20 runs, which then counted as
    whole, and a batch went on as if nobody had asked."""
    write(project / "late.py", SIGNALS_US_AS_IT_ENDS)
    for attempt in range(3):
        output = f"late-{attempt}"
        done = fixingahole("profile", "late.py", "--output", output, cwd=project)
        assert done.returncode == 130, done.stderr
        summary = json.loads((only_run_dir(project / output, "late") / "summary.json").read_text())
        assert (summary["status"], summary["error"]) == ("interrupted", "interrupted (SIGINT)")


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (None, ["profile", "missing.py"], "missing.py"),
        ("twins", ["profile", "twin.py"], "longer path"),
        pytest.param(  # Scalene runs the script to find the error
            "syntax", ["profile", "broken.py"], "SyntaxError", marks=pytest.mark.integration
        ),
        ("text", ["profile", "notes.txt"], "not a Python script"),
        (None, ["profile", "x.py", "--precision", "11"], "precision"),
        ("badconfig", ["profile", "x.py"], "outptu"),
        ("readonly", ["profile", "ok.py", "--output", "locked"], "locked"),
    ],
)
def test_bad_input_is_one_line_without_traceback(project: Path, setup, args, message):
    if setup == "twins":
        write(project / "a" / "twin.py", "pass\n")
        write(project / "b" / "twin.py", "pass\n")
    if setup == "syntax":
        write(project / "broken.py", "def f(:\n    pass\n")
    if setup == "text":
        write(project / "notes.txt", "hello\n")
    if setup == "badconfig":
        write(project / "pyproject.toml", '[tool.fixingahole]\noutptu = "x"\n')
        write(project / "x.py", "pass\n")
    if setup == "readonly":
        if os.geteuid() == 0:
            (project / "locked").write_text("a file where a folder should be")
        else:
            (project / "locked").mkdir(mode=0o500)
        write(project / "ok.py", "pass\n")
    write(project / "x.py", "pass\n")
    done = fixingahole(*args, cwd=project)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert message in lines[0]


def test_help_lists_every_profile_option(project: Path):
    done = fixingahole("profile", "--help", cwd=project)
    for flag in (
        "--cpu",
        "--memory",
        "--precision",
        "--interval",
        "--detailed",
        "--trace",
        "--no-trace",
        "--async",
        "--log-level",
        "--no-plots",
        "--live",
        "--ignore",
        "--output",
    ):
        assert flag in done.stdout


@pytest.mark.integration
def test_live_readout_shows_top_functions_while_running(project: Path):
    write(
        project / "steady.py",
        """
        import time


        def crunch():
            return sum(i * i for i in range(30_000))


        end = time.perf_counter() + 2.5  # as long on every Python, whatever profiling costs
        while time.perf_counter() < end:
            crunch()
    """,
    )
    done = fixingahole("profile", "steady.py", "--live", "0.5", cwd=project)
    assert done.returncode == 0, done.stderr
    assert "-- live: top functions after" in done.stderr
    assert "crunch  steady.py:4" in done.stderr
