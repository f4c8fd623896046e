"""What tests build by hand: summary.json documents, store frames, scripts and run folders.

Test modules import these as `from tests.factories import ...` (pyproject.toml's pytest
`pythonpath` puts the repository root on sys.path, so plain `pytest` from any folder finds them).

- `summary_doc(**overrides)` is the one place a run's record is made by hand: every other document
  of a run (the store tests' numbered runs, the cluster's hosts) is built on it.
- `run_row`, `function_rows`, `cell_rows` and `frame` make the store's tables (`Store.runs()`,
  `.functions()`, `.cells()`) as the store returns them; tests/test_factories.py checks that their
  columns are the store's, so they cannot drift apart.
- `recorded_run` makes a run folder from a recorded Scalene profile (tests/data/scalene) through
  the real report code, as a profile would have left it; `recorded_store` indexes several.
"""

from __future__ import annotations

import json
import subprocess
import textwrap
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd

DATA = Path(__file__).parent / "data"
SCALENE = DATA / "scalene"

COMMIT_A = "a1b2c3d4" + "0" * 32
COMMIT_B = "b2c3d4e5" + "0" * 32
COMMIT_C = "a1b2ffff" + "0" * 32  # shares the prefix a1b2 with COMMIT_A

ENVIRONMENT = {
    "python": "3.11.7",
    "scalene": "2.4.0",
    "fixingahole": "0.1.0",
    "host": "ci-1",
    "platform": "Linux-6.1-x86_64",
    "cpu": "AMD EPYC",
}


# ---------------------------------------------------------------- files


def write(path: Path, text: str) -> Path:
    """Write dedented text, creating parent folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def git(repo: Path, *argv: str) -> str:
    """Run git in `repo` as a fixed test author; its stdout, stripped."""
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", *argv],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


def invoke(*argv: str) -> int:
    """Run the fixing-a-hole collection through invoke's own Program; return the exit code."""
    from invoke import Program

    from fixingahole.tasks import ns

    try:
        Program(namespace=ns, name="invoke").run(["invoke", *argv])
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


# ---------------------------------------------------------------- summary.json


def started_of(stamp: str) -> str:
    """The `started_utc` text (`YYYY-MM-DDTHH:MM:SSZ`) of a run-id stamp `YYYYMMDD_HHMM[SS]`."""
    day, time = stamp.split("_")[:2]
    time = (time + "00")[:6]
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}T{time[:2]}:{time[2:4]}:{time[4:6]}Z"


def summary_doc(run_id: str = "demo/20250101_100000", /, **overrides: Any) -> dict[str, Any]:
    """A run's summary.json (schema 1) with every key, as profiling writes it; `overrides`
    replace keys. The entry, target, command and start time follow from `run_id`."""
    entry, _, stamp = run_id.rpartition("/")
    document: dict[str, Any] = {
        "schema": 1,
        "run_id": run_id,
        "entry": entry,
        "target": f"{entry}.py",
        "kind": "script",
        "status": "ok",
        "exit_code": 0,
        "started_utc": started_of(stamp).replace("Z", ".000Z"),  # as build_record writes it
        "wall_s": 1.5,
        "cpu_s": 0.5,
        "elapsed_s": 0.4,
        "max_rss_mb": 70.0,
        "peak_heap_mb": None,
        "mode": "cpu",
        "options": {},
        "command": f"fixingahole profile {entry}.py",
        "tags": [],
        "code_hash": "sha256:00",
        "git": None,
        "environment": dict(ENVIRONMENT),
        "log_counts": {},
        "error": None,
        "unprofiled_event_loop": False,
        "functions": [],
        "lines": [],
        "leaks": [],
        "cells": [],
    }
    document.update(overrides)
    return document


def summary_function(file: str, name: str, lineno: int, **overrides: Any) -> dict[str, Any]:
    """One entry of summary.json's `functions`."""
    return {
        "file": file,
        "name": name,
        "lineno": lineno,
        "location": f"{file}:{lineno}",
        "percent": 0.0,
        "seconds": 0.0,
        "peak_mb": 0.0,
        "malloc_mb": 0.0,
        **overrides,
    }


def summary_line(file: str, lineno: int, **overrides: Any) -> dict[str, Any]:
    """One entry of summary.json's `lines`."""
    return {
        "file": file,
        "lineno": lineno,
        "location": f"{file}:{lineno}",
        "percent": 0.0,
        "seconds": 0.0,
        "peak_mb": 0.0,
        "malloc_mb": 0.0,
        **overrides,
    }


# ---------------------------------------------------------------- store frames


def run_row(
    entry: str,
    stamp: str,
    *,
    wall: float = 1.0,
    heap: float | None = 50.0,
    rss: float = 100.0,
    status: str = "ok",
    commit: str | None = COMMIT_A,
    branch: str | None = "main",
    dirty: bool | None = False,
    code_hash: str = "sha256:one",
    tags: tuple[str, ...] = (),
    host: str = "ci-1",
    python: str = "3.11.7",
    scalene: str = "2.4.0",
) -> dict[str, Any]:
    """One row of the store's runs table (`Store.runs()`), with every column."""
    started = pd.Timestamp(pd.to_datetime(stamp[:15], format="%Y%m%d_%H%M%S"), tz="UTC")
    return {
        "schema": 1,
        "run_id": f"{entry}/{stamp}",
        "entry": entry,
        "target": f"examples/{entry}.py",
        "kind": "script",
        "status": status,
        "exit_code": 0 if status == "ok" else 1,
        "started_utc": started,
        "wall_s": wall,
        "cpu_s": wall * 1.1,
        "elapsed_s": wall * 0.9,
        "max_rss_mb": rss,
        "peak_heap_mb": heap,
        "mode": "memory" if heap is not None else "cpu",
        "command": f"fixingahole profile examples/{entry}.py",
        "code_hash": code_hash,
        "error": None if status == "ok" else "it broke",
        "git_commit": commit,
        "git_branch": branch,
        "git_dirty": dirty,
        "python": python,
        "scalene": scalene,
        "fixingahole": "0.1.0",
        "host": host,
        "platform": "Linux-6.1-x86_64",
        "cpu": "AMD EPYC",
        "options": json.dumps({"precision": 0, "detailed": False, "trace": True}),
        "tags": json.dumps(list(tags)),
        "log_counts": json.dumps({}),
        "run_dir": f"{entry}/{stamp}",
    }


FUNCTION_COLUMNS = [
    "run_id", "file", "name", "lineno", "location", "percent", "seconds", "peak_mb", "malloc_mb"
]  # fmt: skip
CELL_COLUMNS = [
    "run_id", "cell", "hash", "first_line", "percent", "seconds", "peak_mb", "malloc_mb"
]  # fmt: skip


def function_row(
    run_id: str, name: str, *, file: str = "work.py", lineno: int = 1, **values: float
) -> dict[str, Any]:
    """One row of the store's functions table; `values` set percent, seconds, peak_mb, malloc_mb."""
    row = {"run_id": run_id, "file": file, "name": name, "lineno": lineno}
    row["location"] = f"{file}:{lineno}"
    return {**row, "percent": 0.0, "seconds": 0.0, "peak_mb": 0.0, "malloc_mb": 0.0, **values}


def function_rows(run_id: str, *functions: tuple[str, int, float, float]) -> list[dict]:
    """Rows of the functions table: (name, lineno, seconds, peak MB) in file work.py."""
    return [
        function_row(run_id, name, lineno=lineno, seconds=seconds, peak_mb=peak, malloc_mb=peak)
        for name, lineno, seconds, peak in functions
    ]


def cell_rows(run_id: str, cells: list[tuple[str, float]]) -> list[dict]:
    """Rows of the cells table: (first line, seconds) of each cell, numbered from 1."""
    return [
        {
            "run_id": run_id,
            "cell": number,
            "hash": f"h-{source}",
            "first_line": source,
            "percent": 0.0,
            "seconds": seconds,
            "peak_mb": 1.0,
            "malloc_mb": 0.0,
        }
        for number, (source, seconds) in enumerate(cells, start=1)
    ]


def frame(rows: list[dict]) -> pd.DataFrame:
    """A table of rows."""
    return pd.DataFrame(rows)


NO_FUNCTIONS = pd.DataFrame(columns=FUNCTION_COLUMNS)


# ---------------------------------------------------------------- runs of recorded profiles


def recorded_result(fixture: str, *, status: str = "ok", wall_s: float = 12.3, **changes):
    """How the Scalene child of a recorded profile ended (fixed figures, no clock)."""
    from fixingahole.record import RunStatus
    from fixingahole.runner import ScaleneResult

    ended = RunStatus(status)
    figures = {"log_counts": {}, **changes}
    return ScaleneResult(
        ended, ended.exit_code, wall_s, wall_s * 0.9, 300.0, ("scalene",), **figures
    )


def recorded_json(fixture: str, root: Path) -> str:
    """A recorded profile's JSON as if recorded in `root`: the recording's folder (a temporary
    one) is replaced by `root` in every path, so that files are named relative to it."""
    text = (SCALENE / fixture).read_text(encoding="utf-8")
    recorded = str(Path(json.loads(text)["program"]).parent)
    return text.replace(json.dumps(recorded)[1:-1], json.dumps(str(root))[1:-1])


def recorded_profile(fixture: str, root: Path):
    """The parsed `recorded_json`; `root` must exist for the Locator to name files under it."""
    from fixingahole.scalene_output import parse_profile

    return parse_profile(json.loads(recorded_json(fixture, root)))


def recorded_locator(profile):
    """The Locator of a recorded profile: rooted at its program's folder, as when recorded."""
    from fixingahole.locations import Locator

    return Locator(Path(profile.program).parent)


def recorded_record(
    profile,
    fixture: str,
    *,
    status: str = "ok",
    wall_s: float = 12.3,
    log_counts: dict[str, int] | None = None,
    entry: str = "demo",
    stamp: str = "20250101_100000",
    commit: str = "a" * 40,
):
    """The RunRecord of a recorded profile, through the real `build_record`."""
    from fixingahole.options import ProfileOptions
    from fixingahole.record import Environment, GitInfo, RunStatus
    from fixingahole.report.record import build_record

    mode = "memory" if "memory" in fixture else "cpu"
    ended = RunStatus(status)
    return build_record(
        profile,
        recorded_locator(profile),
        recorded_result(fixture, status=status, wall_s=wall_s, log_counts=log_counts or {}),
        status=ended,
        error=None if ended is RunStatus.OK else "ValueError: the script raised",
        run_id=f"{entry}/{stamp}",
        entry=entry,
        target=Path("demo.py"),
        kind="script",
        started_utc=datetime.strptime(stamp, "%Y%m%d_%H%M%S").replace(tzinfo=timezone.utc),
        options=ProfileOptions(mode=mode),
        command=f"fixingahole profile demo.py --{mode}",
        code_hash=f"sha256:{commit}",
        git=GitInfo(commit, "main", False),
        environment=Environment(python="3.11.7", scalene="2.4.0", host="ci-1"),
    )


def record(run_id: str = "demo/20250101_100000", /, **overrides: Any):
    """A RunRecord read from `summary_doc(run_id, **overrides)`, as the store reads one back."""
    from fixingahole.record import RunRecord

    return RunRecord.from_json(summary_doc(run_id, **overrides))


def recorded_run(
    output: Path,
    fixture: str,
    *,
    entry: str = "demo",
    stamp: str = "20250101_000000",
    status: str = "ok",
    wall_s: float = 12.3,
    commit: str = "abc123def4567890",
    views: bool = True,
) -> tuple[Path, dict]:
    """A run folder made from a recorded Scalene profile, as a profile would leave it; the code
    base is the folder `fixture programs` beside `output`."""
    from fixingahole.report.folded import render_folded
    from fixingahole.report.stored import write_views

    root = output.parent / "fixture programs"
    root.mkdir(parents=True, exist_ok=True)
    run_dir = output / entry / stamp
    run_dir.mkdir(parents=True)
    profile = recorded_profile(fixture, root)
    locator = recorded_locator(profile)
    run = recorded_record(
        profile, fixture, status=status, wall_s=wall_s, entry=entry, stamp=stamp, commit=commit
    )
    summary = run.to_json()
    (run_dir / "profile.json").write_text(recorded_json(fixture, root), encoding="utf-8")
    (run_dir / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (run_dir / "stacks.folded").write_text(render_folded(profile, locator), encoding="utf-8")
    if views:
        write_views(run_dir, run, profile, locator)
    return run_dir, summary


def recorded_store(output: Path, walls, commits, statuses=None, fixtures=None):
    """Run folders of entry `demo` from recorded profiles, indexed in a real store."""
    from fixingahole.record import RunRecord
    from fixingahole.store import Store

    store = Store(output / ".store")
    for i, (wall, commit) in enumerate(zip(walls, commits, strict=True)):
        run_dir, summary = recorded_run(
            output,
            fixtures[i] if fixtures else "2.4.0-compute-cpu.json",
            stamp=f"20250101_{10 + i // 60:02d}{i % 60:02d}00",
            wall_s=wall,
            commit=commit,
            status=statuses[i] if statuses else "ok",
            views=False,
        )
        store.add(RunRecord.from_json(summary), run_dir)
    return store
