"""profile-all, the invoke tasks and the nox session, driven as users drive them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from invoke import Program

import fixingahole
from fixingahole.store import Store
from fixingahole.tasks import ns
from tests.conftest import write

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


def invoke(*argv: str) -> int:
    """Run the fixing-a-hole collection through invoke's own Program; return the exit code."""
    try:
        Program(namespace=ns, name="invoke").run(["invoke", *argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


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


def test_batch_prints_progress_and_a_closing_table(batch_run):
    assert "[1/4] first" in batch_run.stderr and "[4/4] last" in batch_run.stderr
    table = batch_run.stdout[batch_run.stdout.rindex("entry") :]
    for word in ("first", "fails", "hangs", "last", "timeout", "failed", "spin"):
        assert word in table


def test_runs_task_lists_the_store(batch_project: Path, batch_run, monkeypatch, capsys):
    monkeypatch.chdir(batch_project)
    assert invoke("runs", "--entry", "fails") == 0
    out = capsys.readouterr().out
    assert "fails/" in out and "failed" in out and "first/" not in out


def test_python_api_returns_the_tables(batch_project: Path, batch_run):
    store = fixingahole.open_store(root=batch_project)
    runs = store.runs()
    assert len(runs) == 4
    functions = store.functions(runs["run_id"])
    assert set(functions["run_id"]) == set(runs["run_id"])
    assert "spin" in set(functions["name"])


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
    assert "(round 2/2)" in capsys.readouterr().err


def test_profile_task_runs_an_entry_or_a_file(project: Path):
    write(project / "tool.py", SPIN.format(rounds=5, tail=""))
    write(project / "profiles.toml", '[profiles.named]\npath = "tool.py"\nmode = "memory"\n')
    assert invoke("profile", "named") == 0
    assert invoke("profile", "tool.py", "--arg", "x y") == 0
    runs = stored_runs(project)
    assert list(runs["entry"]) == ["named", "tool"]
    assert list(runs["mode"]) == ["memory", "cpu"]
    summary = json.loads(
        (project / "performance" / runs["run_id"].iloc[1] / "summary.json").read_text()
    )
    assert summary["options"]["args"] == ["x y"]


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


def test_calibrate_measures_noise_and_suggests_settings(project: Path, capsys):
    write(project / "steady.py", SPIN.format(rounds=8, tail=""))
    write(project / "profiles.toml", '[profiles.steady]\npath = "steady.py"\n')
    assert invoke("calibrate", "steady", "--repeat", "3") == 0
    out = capsys.readouterr().out
    assert "steady: wall time over 3 runs" in out
    assert "suggested: --repeat" in out
    assert len(stored_runs(project)) == 3


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
