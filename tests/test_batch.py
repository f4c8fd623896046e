"""profile-all, the invoke tasks and the nox session, driven as users drive them."""

from __future__ import annotations

import io
import json
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest

import fixingahole
from fixingahole.batch import Progress, plan
from fixingahole.manifest import Entry
from fixingahole.options import ProfileOptions
from fixingahole.profile_run import RunOutcome
from fixingahole.record import FunctionRow, RunRecord, RunStatus
from fixingahole.store import Store
from tests.factories import invoke, write

REPO = Path(__file__).resolve().parent.parent

# A round is about 60 ms of CPU, so that the shortest script here gets ~30 of Scalene's samples
# (10 ms apart). At 16 ms a round they got 7.7 on average, spread wide on a busy machine, and 1
# run in 100 got none (Scalene's first timer signal only starts its clock): `no-samples`, not `ok`.
SPIN = """
    def spin(n):
        return sum(i * i for i in range(n))

    for _ in range({rounds}):
        spin(800_000)
    {tail}
"""

MANIFEST = """
    [defaults]
    timeout = 60

    [profiles.first]
    path = "first.py"

    [profiles.fails]
    path = "fails.py"

    [profiles.hangs]
    path = "hangs.py"
    timeout = 10

    [profiles.last]
    path = "last.py"
    tags = ["quick"]
"""


def stored_runs(root: Path):
    return Store(root / "performance" / ".store").runs().sort_values("started_utc")


@pytest.fixture(scope="module")
def batch_project(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("batch") / "proj ét"
    write(root / "pyproject.toml", "[tool.fixingahole]\n")
    write(root / "first.py", SPIN.format(rounds=6, tail=""))
    write(root / "fails.py", SPIN.format(rounds=6, tail='raise ValueError("bad input row 7")'))
    write(root / "hangs.py", SPIN.format(rounds=10**9, tail=""))
    write(root / "last.py", SPIN.format(rounds=6, tail=""))
    write(root / "profiles.toml", MANIFEST)
    return root


@pytest.fixture(scope="module")
def batch_run(batch_project: Path):
    """`invoke profile-all` over a manifest whose middle entries fail and time out."""
    done = subprocess.run(
        [sys.executable, "-m", "invoke", "--search-root", str(REPO), "profile-all"],
        cwd=batch_project,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    return done


@pytest.mark.integration
def test_failures_in_the_middle_do_not_lose_other_entries(batch_project: Path, batch_run):
    assert batch_run.returncode == 1, batch_run.stderr
    runs = stored_runs(batch_project)
    assert list(runs["entry"]) == ["first", "fails", "hangs", "last"]
    assert list(runs["status"]) == ["ok", "failed", "timeout", "ok"]
    hangs = runs[runs["entry"] == "hangs"].iloc[0]
    assert 9.5 < hangs["wall_s"] < 40
    run_dir = batch_project / "performance" / hangs["run_id"]
    summary = json.loads((run_dir / "summary.json").read_text())
    assert any(f["name"] == "spin" for f in summary["functions"]), "partial profile kept"


@pytest.mark.integration
def test_batch_prints_progress_and_a_closing_table(batch_run):
    assert "[1/4] first" in batch_run.stderr and "[4/4] last" in batch_run.stderr
    table = batch_run.stdout[batch_run.stdout.rindex("entry") :]
    for word in ("first", "fails", "hangs", "last", "timeout", "failed", "spin"):
        assert word in table


CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # any control character but tab and newline


@pytest.mark.integration
def test_batch_prints_one_line_per_run_and_no_summaries(batch_run):
    """Not on a terminal: a plain line per finished run before the table, and nothing else."""
    out, err = batch_run.stdout, batch_run.stderr
    assert "Profile Summary" not in out and "Run folder" not in out
    lines = out[: out.rindex("entry")].strip().splitlines()
    starts = [line.split()[:2] for line in lines if not line.startswith(" ")]
    assert starts == [["first", "ok"], ["fails", "failed"], ["hangs", "timeout"], ["last", "ok"]]
    for line in lines:
        if not line.startswith(" "):
            assert re.search(r"\d+\.\d\d s  .*spin \(\d+\.\d%\)  +\w+/\d{8}_\d{6}$", line)
    assert any("failed: " in line and "ValueError: bad input row 7" in line for line in lines)
    assert err.count("\n") >= 4 and "[3/4] hangs" in err
    assert not CONTROL.search(out) and not CONTROL.search(err), "no \\r or colours in a log"


@pytest.mark.integration
def test_verbose_prints_each_full_summary(project: Path, capsys):
    """The manifest's verbose = true, and --verbose on the command line and the task."""
    write(project / "a.py", SPIN.format(rounds=5, tail=""))
    write(project / "b.py", SPIN.format(rounds=5, tail=""))
    write(
        project / "profiles.toml",
        '[profiles.a]\npath = "a.py"\nverbose = true\n\n[profiles.b]\npath = "b.py"\n',
    )
    done = subprocess.run(
        [sys.executable, "-m", "fixingahole", "profile-all"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    runs = done.stdout[: done.stdout.rindex("\nentry")]  # what came before the closing table
    assert runs.count("Profile Summary") == 1  # a's, not b's
    assert re.search(r"^b +ok +\d", runs, re.M) and not re.search(r"^a +ok", runs, re.M)
    assert not CONTROL.search(done.stdout + done.stderr)
    capsys.readouterr()
    assert invoke("profile-all", "--only", "b", "--verbose") == 0
    out = capsys.readouterr().out
    runs = out[: out.rindex("\nentry")]
    assert "Profile Summary" in runs and "Run folder" in runs
    assert not re.search(r"^b +ok +\d", runs, re.M)


class Terminal(io.StringIO):
    """What the batch writes to a terminal, kept as text."""

    def isatty(self) -> bool:
        return True


def progress_of(stream_type, monkeypatch) -> tuple[str, str]:
    """What a two-job batch's progress writes to streams of one type, as plain lines or live."""
    monkeypatch.setenv("TERM", "xterm")
    monkeypatch.delenv("NO_COLOR", raising=False)
    entry = Entry("small", Path("small.py"), ProfileOptions(mode="memory"))
    jobs = plan([entry], repeat=2)
    out, err = stream_type(), stream_type()
    progress = Progress(jobs, {}, out=out, err=err)
    spin = FunctionRow("small.py", "spin", 1, "small.py:1", 80.0, 1.2, 0.0, 0.0)
    for index, job in enumerate(jobs):
        progress.starting(index, job)
        run_id = f"small/20261130_01502{index}"
        record = RunRecord(
            run_id=run_id,
            entry="small",
            target="small.py",
            kind="script",
            status=RunStatus.OK,
            exit_code=0,
            started_utc=f"2026-11-30T01:50:2{index}.000Z",
            wall_s=1.5,
            cpu_s=1.4,
            elapsed_s=1.4,
            max_rss_mb=60.0,
            peak_heap_mb=12.0,
            mode="memory",
            options={},
            command="fixingahole profile small.py --memory",
            functions=(spin,),
        )
        progress.finished(job, RunOutcome.of(record, Path(run_id)))
    return out.getvalue(), err.getvalue()


def test_progress_is_a_status_line_on_a_terminal_and_plain_lines_elsewhere(monkeypatch):
    out, err = progress_of(io.StringIO, monkeypatch)
    assert not CONTROL.search(out + err)
    assert err.splitlines() == [
        "[1/2] small (round 1/2): 0:00 elapsed",
        "[2/2] small (round 2/2): 0:00 elapsed, about 0:02 left",
    ]
    assert out.splitlines()[1].split() == [
        "small",
        "#2",
        "ok",
        "1.50",
        "s",
        "heap",
        "12.0",
        "MB",
        "spin",
        "(80.0%)",
        "small/20261130_015021",
    ]
    live_out, live_err = progress_of(Terminal, monkeypatch)
    assert live_err.count("\r\033[K") == 4 and "\n" not in live_err  # drawn, then erased
    assert "\033[32mok" in live_out  # a coloured status
    assert re.sub(r"\033\[\d+m", "", live_out) == out


@pytest.mark.integration
def test_a_batch_on_a_real_terminal_redraws_its_status_line(project: Path):
    """Under a pseudo-terminal: the status line is drawn and erased, the run line stays."""
    write(project / "t.py", SPIN.format(rounds=5, tail=""))
    write(project / "profiles.toml", '[profiles.t]\npath = "t.py"\n')
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        [sys.executable, "-m", "fixingahole", "profile-all"],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
        env={**os.environ, "TERM": "xterm", "NO_COLOR": ""},
    )
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    os.close(leader)
    assert child.wait(timeout=120) == 0
    text = seen.decode()
    assert "\r\033[K[1/1] t: 0:00 elapsed\r\033[K" in text  # drawn, then erased
    assert re.search(r"t  \033\[32mok +\033\[0m +\d+\.\d\d s  spin", text)


@pytest.mark.integration
def test_runs_task_lists_the_store(batch_project: Path, batch_run, monkeypatch, capsys):
    monkeypatch.chdir(batch_project)
    assert invoke("runs", "--entry", "fails") == 0
    out = capsys.readouterr().out
    assert "fails/" in out and "failed" in out and "first/" not in out


@pytest.mark.integration
def test_python_api_returns_the_tables(batch_project: Path, batch_run):
    store = fixingahole.open_store(root=batch_project)
    runs = store.runs()
    assert len(runs) == 4
    functions = store.functions(runs["run_id"])
    assert set(functions["run_id"]) == set(runs["run_id"])
    assert "spin" in set(functions["name"])


@pytest.mark.integration
@pytest.mark.smoke
def test_repeats_are_interleaved(project: Path, capsys):
    write(project / "a.py", SPIN.format(rounds=5, tail=""))
    write(project / "b.py", SPIN.format(rounds=5, tail=""))
    write(
        project / "profiles.toml",
        '[profiles.a]\npath = "a.py"\n\n[profiles.b]\npath = "b.py"\nrepeat = 3\n',
    )
    assert invoke("profile-all", "--repeat", "2") == 0
    assert list(stored_runs(project)["entry"]) == ["a", "b", "a", "b"]
    out, err = capsys.readouterr()
    assert "(round 2/2)" in err
    assert "Profile Summary" not in out
    lines = [line.split()[:3] for line in out[: out.index("\nentry")].strip().splitlines()]
    assert lines == [["a", "#1", "ok"], ["b", "#1", "ok"], ["a", "#2", "ok"], ["b", "#2", "ok"]]


@pytest.mark.integration
def test_profile_task_runs_an_entry_or_a_file(project: Path, capsys):
    write(project / "tool.py", SPIN.format(rounds=5, tail=""))
    write(project / "profiles.toml", '[profiles.named]\npath = "tool.py"\nmode = "memory"\n')
    assert invoke("profile", "named") == 0
    assert "Profile Summary" in capsys.readouterr().out  # one run of an entry: in full
    assert invoke("profile", "tool.py", "--arg", "x y") == 0
    runs = stored_runs(project)
    assert list(runs["entry"]) == ["named", "tool"]
    assert list(runs["mode"]) == ["memory", "cpu"]
    summary = json.loads(
        (project / "performance" / runs["run_id"].iloc[1] / "summary.json").read_text()
    )
    assert summary["options"]["args"] == ["x y"]


@pytest.mark.integration
def test_command_line_beats_entry_beats_defaults(project: Path, capsys):
    write(project / "tool.py", "pass\n")
    write(
        project / "profiles.toml",
        '[defaults]\nmode = "memory"\nprecision = 3\n\n'
        '[profiles.one]\npath = "tool.py"\nprecision = 5\n',
    )
    assert invoke("profile-all", "--dry-run") == 0
    assert "tool.py --memory --precision 5" in capsys.readouterr().out
    assert invoke("profile-all", "--dry-run", "--cpu", "--precision", "-2") == 0
    out = capsys.readouterr().out
    assert "--memory" not in out and "--precision -2" in out


def test_bad_manifest_is_an_error_without_traceback(project: Path, capsys):
    write(project / "profiles.toml", '[profiles.x]\npath = "nope.py"\ntimeout = -1\n')
    assert invoke("profile-all") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "timeout" in err and "nope.py" in err


@pytest.mark.parametrize("flags", [("--memory", "--cpu"), ("--trace", "--no-trace")])
def test_contradicting_task_flags_are_an_error_without_traceback(project: Path, capsys, flags):
    assert invoke("profile", "anything.py", *flags) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and f"choose one of {flags[0]} and {flags[1]}" in err


@pytest.mark.parametrize("task", ["profile-all", "calibrate x"])
def test_the_interval_reaches_every_profiling_task(project: Path, capsys, task):
    write(project / "x.py", "pass\n")
    write(project / "profiles.toml", '[profiles.x]\npath = "x.py"\n')
    assert invoke(*task.split(), "--interval", "5") == 2
    assert "interval: must be from 0.001 to 1 (seconds), got 5.0" in capsys.readouterr().err


def test_invoke_list_and_help_document_the_tasks():
    listing = subprocess.run(
        [sys.executable, "-m", "invoke", "--list"], cwd=REPO, capture_output=True, text=True
    )
    for name in ("profile", "profile-all", "runs", "store-rebuild"):
        assert name in listing.stdout
    help_text = subprocess.run(
        [sys.executable, "-m", "invoke", "--help", "profile-all"],
        cwd=REPO,
        capture_output=True,
        text=True,
    ).stdout
    for flag in ("--tag", "--only", "--repeat", "--fail-fast", "--dry-run", "--memory"):
        assert flag in help_text


@pytest.mark.integration
def test_nox_profile_session_runs_the_batch(project: Path):
    write(project / "tool.py", SPIN.format(rounds=5, tail=""))
    write(project / "profiles.toml", '[profiles.t]\npath = "tool.py"\ntags = ["x"]\n')
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "nox",
            "--no-venv",
            "-f",
            str(REPO / "noxfile.py"),
            "-s",
            "profile",
            "--",
            "--tag",
            "x",
            "--root",
            str(project),
        ],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert list(stored_runs(project)["entry"]) == ["t"]


@pytest.mark.integration
def test_calibrate_measures_noise_and_suggests_settings(project: Path, capsys):
    write(project / "steady.py", SPIN.format(rounds=8, tail=""))
    write(project / "profiles.toml", '[profiles.steady]\npath = "steady.py"\n')
    assert invoke("calibrate", "steady", "--repeat", "3") == 0
    out = capsys.readouterr().out
    assert "steady: wall time over 3 runs" in out
    assert "steady: CPU time over 3 runs" in out
    assert out.count("suggested: --repeat") == 2
    assert re.search(
        r"gate on (CPU|wall) time, the steadier here: compare --metric (cpu|time)", out
    )
    assert len(stored_runs(project)) == 3


@pytest.mark.integration
def test_store_rebuild_recovers_real_runs_and_copied_folders(
    batch_project: Path, batch_run, tmp_path: Path, monkeypatch
):
    """The run folders are the record: a lost store comes back, with a CI artifact folded in."""
    import shutil

    output = batch_project / "performance"
    before = stored_runs(batch_project)
    artifact = tmp_path / "artifact"
    shutil.copytree(output / before["run_id"].iloc[0], artifact)
    summary = json.loads((artifact / "summary.json").read_text())
    summary["run_id"] = "first/20200101_000000"
    (artifact / "summary.json").write_text(json.dumps(summary))
    shutil.copytree(artifact, output / "first" / "20200101_000000")
    shutil.rmtree(output / ".store")
    monkeypatch.chdir(batch_project)
    assert invoke("store-rebuild") == 0
    after = stored_runs(batch_project)
    assert set(after["run_id"]) == {*before["run_id"], "first/20200101_000000"}
    rebuilt = after.set_index("run_id").loc[list(before["run_id"]), ["status", "wall_s"]]
    assert rebuilt.reset_index(drop=True).equals(
        before[["status", "wall_s"]].reset_index(drop=True)
    )
