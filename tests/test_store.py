"""The results store on disk: round trips, replacement, concurrency, crashes, compaction, rebuild.

Other processes are real `python` processes running this file as a script (see the bottom).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd
import pytest

from fixingahole.errors import UserError
from fixingahole.record import RunRecord
from fixingahole.store import FANOUT, RebuildReport, Store
from tests.factories import ENVIRONMENT, summary_doc, summary_function, summary_line

HERE = Path(__file__).resolve()


def make_summary(number: int, entry: str = "advanced", **changes) -> dict:
    """A schema-1 summary of run `number`, which has `number % 5 + 1` functions and
    `number % 3 + 2` lines."""
    second = 1_700_000_000 + number * 61
    started = pd.Timestamp(second, unit="s", tz="UTC")
    file = f"examples/{entry}.py"
    functions = [
        summary_function(
            file, f"work_{k}", 10 + k, percent=50.0 - k, seconds=4.5 - k / 10, peak_mb=80.0,
            malloc_mb=310.0,
        )
        for k in range(number % 5 + 1)
    ]  # fmt: skip
    lines = [summary_line(file, 20 + k, percent=30.1, seconds=3.6) for k in range(number % 3 + 2)]
    mine = dict(
        target=file,
        wall_s=10.0 + number,
        cpu_s=9.5,
        elapsed_s=9.0,
        max_rss_mb=210.5,
        options={"precision": 0, "args": ["a b", "ü"], "timeout": None},
        command="fixingahole profile 'examples/my script.py'",
        tags=["nightly", "ci"],
        code_hash=f"sha256:{number:064x}",
        git={"commit": "abc123", "branch": None, "dirty": True},
        environment={**ENVIRONMENT, "cpu": "AMD EPYC 7B13"},
        log_counts={"WARNING": 2},
        functions=functions,
        lines=lines,
    )
    return summary_doc(f"{entry}/{started:%Y%m%d_%H%M%S}", **{**mine, **changes})


def make_record(number: int, entry: str = "advanced", **changes) -> RunRecord:
    """The record of `make_summary`'s summary."""
    return RunRecord.from_json(make_summary(number, entry, **changes))


def expected_rows(run_id: str) -> tuple[int, int]:
    """The function and line counts `make_summary` gave the run with this id."""
    started = datetime.strptime(run_id.split("/")[-1], "%Y%m%d_%H%M%S").replace(tzinfo=timezone.utc)
    number = (int(started.timestamp()) - 1_700_000_000) // 61
    return number % 5 + 1, number % 3 + 2


def assert_complete(store: Store) -> pd.DataFrame:
    """Every stored run once, each with all its function and line rows; returns the runs."""
    runs = store.runs()
    assert runs["run_id"].is_unique
    functions = store.functions()["run_id"].value_counts().to_dict()
    lines = store.lines()["run_id"].value_counts().to_dict()
    assert set(functions) == set(lines) == set(runs["run_id"])
    for run_id in runs["run_id"]:
        assert (functions[run_id], lines[run_id]) == expected_rows(run_id), run_id
    return runs


def segment_names(store: Store) -> list[str]:
    data = [p for p in store.path.iterdir() if p.is_dir() and p.name.startswith("data")]
    assert len(data) == 1, data
    return sorted(p.name for p in data[0].iterdir())


def spawn(*args: str, **kwargs) -> subprocess.Popen:
    """This file run as a worker process, able to import tests.factories as pytest does."""
    paths = [str(HERE.parents[1]), os.environ.get("PYTHONPATH", "")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, paths))}
    return subprocess.Popen([sys.executable, str(HERE), *args], env=env, **kwargs)


@pytest.fixture
def output(tmp_path: Path) -> Path:
    folder = tmp_path / "perf öut put"
    folder.mkdir()
    return folder


@pytest.fixture
def store(output: Path) -> Store:
    return Store(output / ".store")


# -- round trips ---------------------------------------------------------------------------------


def test_add_and_read_back_every_column(store: Store, output: Path) -> None:
    summary = make_summary(7, peak_heap_mb=180.2, error="boom: it failed")
    store.add(RunRecord.from_json(summary), output / "advanced" / "20231114_221320")

    runs = store.runs()
    assert len(runs) == 1
    run = runs.iloc[0]
    assert run["run_id"] == summary["run_id"]
    assert run["started_utc"] == pd.Timestamp(summary["started_utc"])
    assert isinstance(runs["started_utc"].dtype, pd.DatetimeTZDtype)
    assert str(runs["started_utc"].dt.tz) == "UTC"
    for column in ("entry", "target", "kind", "status", "mode", "command", "code_hash", "error"):
        assert run[column] == summary[column], column
    for column in ("wall_s", "cpu_s", "elapsed_s", "max_rss_mb", "peak_heap_mb"):
        assert run[column] == pytest.approx(summary[column]), column
    assert str(runs["exit_code"].dtype) == "Int64" and run["exit_code"] == 0
    assert (run["git_commit"], run["git_dirty"]) == ("abc123", True)
    assert pd.isna(run["git_branch"]), "detached HEAD stays missing"
    assert str(runs["git_dirty"].dtype) == "boolean"
    for key, value in summary["environment"].items():
        assert run[key] == value, key
    for column in ("options", "tags", "log_counts"):
        assert json.loads(run[column]) == summary[column], column
    assert run["run_dir"] == "advanced/20231114_221320"

    functions = store.functions()
    assert functions.drop(columns="run_id").to_dict("records") == summary["functions"]
    assert set(functions["run_id"]) == {summary["run_id"]}
    assert str(functions["lineno"].dtype) == "Int64"
    lines = store.lines()
    assert lines.drop(columns="run_id").to_dict("records") == summary["lines"]


def test_empty_store_has_the_columns_and_types_of_a_full_one(tmp_path: Path) -> None:
    empty = Store(tmp_path / "nothing here" / ".store")
    full = Store(tmp_path / "full" / ".store")
    full.add(make_record(1))
    for table in ("runs", "functions", "lines"):
        none, some = getattr(empty, table)(), getattr(full, table)()
        assert none.empty and not some.empty
        assert none.dtypes.to_dict() == some.dtypes.to_dict(), table
    assert not (tmp_path / "nothing here").exists(), "reading creates nothing"


def test_missing_values_and_git_outside_a_repository(store: Store) -> None:
    summary = make_summary(2, git=None, exit_code=None, status="interrupted", tags=[])
    del summary["environment"]  # read as an environment all unknown
    store.add(RunRecord.from_json(summary))
    run = store.runs().iloc[0]
    assert pd.isna(run["git_commit"]) and pd.isna(run["git_dirty"]) and pd.isna(run["exit_code"])
    assert pd.isna(run["python"]) and pd.isna(run["run_dir"])
    assert run["tags"] == "[]"


def test_started_utc_offsets_are_converted_to_utc(store: Store) -> None:
    store.add(make_record(1, started_utc="2025-01-01T15:30:00+01:00"))
    assert store.runs()["started_utc"][0] == pd.Timestamp("2025-01-01T14:30:00Z")


def test_run_dir_outside_the_output_folder_is_kept_absolute(store: Store, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "run"
    store.add(make_record(1), elsewhere)
    assert store.runs()["run_dir"][0] == elsewhere.resolve().as_posix()


# -- replacement and selection -------------------------------------------------------------------


def test_adding_a_run_again_replaces_it(store: Store) -> None:
    store.add(make_record(1))
    store.add(make_record(2))
    changed = make_summary(1, wall_s=99.0)
    changed["functions"] = changed["functions"] + changed["functions"]
    store.add(RunRecord.from_json(changed))
    runs = store.runs()
    assert sorted(runs["run_id"]) == sorted([make_summary(1)["run_id"], make_summary(2)["run_id"]])
    assert runs.set_index("run_id").loc[changed["run_id"], "wall_s"] == 99.0
    assert len(store.functions([changed["run_id"]])) == 2 * len(make_summary(1)["functions"])


def test_replacement_survives_compaction(store: Store) -> None:
    for round_number in range(3):
        for number in range(2 * FANOUT):
            store.add(make_record(number, wall_s=float(round_number)))
    runs = assert_complete(store)
    assert len(runs) == 2 * FANOUT
    assert set(runs["wall_s"]) == {2.0}
    assert len(segment_names(store)) < 2 * FANOUT, "segments were merged"


def test_select_runs_by_entry_and_time(store: Store) -> None:
    for number in range(6):
        store.add(make_record(number, entry="alpha" if number % 2 else "beta"))
    assert set(store.runs(entries=["alpha"])["entry"]) == {"alpha"}
    assert len(store.runs(entries="beta")) == 3
    assert store.runs(entries=[]).empty
    all_runs = store.runs()
    assert list(all_runs["started_utc"]) == sorted(all_runs["started_utc"]), "oldest first"
    third = all_runs["started_utc"][2]
    assert list(store.runs(since=third)["run_id"]) == list(all_runs["run_id"][2:])
    assert list(store.runs(until=third)["run_id"]) == list(all_runs["run_id"][:2])
    naive = third.tz_convert(None).isoformat()
    assert len(store.runs(since=naive)) == 4, "naive times are UTC"
    with pytest.raises(UserError, match="since="):
        store.runs(since="last tuesday-ish")


def test_functions_and_lines_of_chosen_runs(store: Store) -> None:
    ids = []
    for number in range(3 * FANOUT):
        summary = make_summary(number)
        store.add(RunRecord.from_json(summary))
        ids.append(summary["run_id"])
    chosen = [ids[0], ids[FANOUT + 1], ids[-1]]
    functions = store.functions(chosen)
    assert sorted(set(functions["run_id"])) == sorted(chosen)
    assert len(functions) == sum(expected_rows(i)[0] for i in chosen)
    assert len(store.lines(ids[3])) == expected_rows(ids[3])[1], "one id as a string"
    assert store.functions(["nope/20000101_000000"]).empty
    assert store.lines([]).empty


def test_many_row_groups_merge_and_select_exactly(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Row groups of 7 rows: merges stream several groups, loads skip groups by run id range."""
    monkeypatch.setattr("fixingahole.store.ROW_GROUP_ROWS", 7)
    ids = []
    for number in range(FANOUT * FANOUT + 3):
        summary = make_summary(number)
        store.add(RunRecord.from_json(summary))
        ids.append(summary["run_id"])
    store.add(make_record(5, wall_s=-1.0))  # a replaced run inside a merged segment
    runs = assert_complete(store)
    assert len(runs) == len(ids)
    assert runs.set_index("run_id").loc[ids[5], "wall_s"] == -1.0
    for chosen in (ids[:3], ids[10:40:7], [ids[-1], ids[0]]):
        functions = store.functions(chosen)
        assert functions["run_id"].value_counts().to_dict() == {
            i: expected_rows(i)[0] for i in chosen
        }
        first = make_summary(ids.index(chosen[0]))["functions"]
        rows = functions[functions["run_id"] == chosen[0]].drop(columns="run_id")
        assert rows.to_dict("records") == first, "a run's rows stay in summary order"


# -- bad input -----------------------------------------------------------------------------------


def test_an_option_that_is_not_plain_json_is_a_user_error(store: Store) -> None:
    record = make_record(1, options={"ignore": {"a set"}})
    with pytest.raises(UserError, match="`options` is not plain JSON"):
        store.add(record)
    assert store.runs().empty, "nothing half added"


def test_store_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / ".store").write_text("oops")
    store = Store(tmp_path / ".store")
    with pytest.raises(UserError, match="not a folder"):
        store.add(make_record(1))
    with pytest.raises(UserError, match="not a folder"):
        store.runs()


def test_a_damaged_segment_says_to_rebuild(store: Store) -> None:
    store.add(make_record(1))
    (segment,) = segment_names(store)
    data = next(p for p in store.path.iterdir() if p.name.startswith("data"))
    (data / segment / "runs.parquet").write_bytes(b"garbage")
    with pytest.raises(UserError, match="store rebuild"):
        store.runs()


def test_adding_and_compacting_do_not_import_pandas(store: Store) -> None:
    """pandas takes a large part of a second to import: a profile's add must not pay for it."""
    summaries = [make_summary(n % FANOUT) for n in range(3 * FANOUT)]  # re-adds, then merges
    code = (
        "import sys; from pathlib import Path; from fixingahole.store import Store\n"
        "from fixingahole.record import RunRecord\n"
        f"for doc in {summaries!r}: Store(Path(sys.argv[1])).add(RunRecord.from_json(doc))\n"
        "assert 'pandas' not in sys.modules, 'pandas was imported'"
    )
    subprocess.run([sys.executable, "-c", code, str(store.path)], check=True)
    assert len(assert_complete(store)) == FANOUT
    assert len(segment_names(store)) < FANOUT


# -- concurrency and crashes ---------------------------------------------------------------------


def test_processes_adding_at_the_same_moment_lose_nothing(store: Store, tmp_path: Path) -> None:
    start = tmp_path / "go"
    workers, each = 4, 30
    children = [
        spawn("add", str(store.path), str(w * each), str((w + 1) * each), str(start))
        for w in range(workers)
    ]
    time.sleep(1.0)  # let them import and wait for the start file
    start.touch()
    for child in children:
        assert child.wait(timeout=300) == 0
    runs = assert_complete(store)
    assert len(runs) == workers * each
    assert not [n for n in segment_names(store) if n.startswith(".")], "no leftovers"


def test_killed_writers_leave_a_readable_store_without_partial_runs(store: Store) -> None:
    rng = random.Random(1234)
    for attempt in range(10):
        first = attempt * 1000
        child = spawn("add", str(store.path), str(first), str(first + 1000), stdout=subprocess.PIPE)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.05, 0.6))
        assert child.poll() is None, "the writer stopped before it was killed"
        child.send_signal(signal.SIGKILL)
        child.wait()
        assert_complete(store)
    before = set(store.runs()["run_id"])
    assert before, "the writers got some runs in"
    store.add(make_record(999_999))
    after = assert_complete(store)
    assert set(after["run_id"]) == before | {make_summary(999_999)["run_id"]}
    assert not [n for n in segment_names(store) if n.startswith(".")], "a later add tidied up"


def test_leftovers_of_a_killed_writer_are_ignored_then_removed(store: Store) -> None:
    store.add(make_record(1))
    data = next(p for p in store.path.iterdir() if p.name.startswith("data"))
    half = data / ".tmp-0123456789abcdef"
    half.mkdir()
    (half / "runs.parquet").write_bytes(b"PAR1 half a file")
    assert len(store.runs()) == 1
    store.add(make_record(2))
    assert not half.exists()
    assert len(assert_complete(store)) == 2


def test_reading_while_another_process_adds_and_compacts(store: Store) -> None:
    total = 2 * FANOUT * FANOUT
    writer = spawn("add", str(store.path), "0", str(total), stdout=subprocess.PIPE)
    assert writer.stdout.readline() == b"ready\n"
    reads, seen = 0, 0
    while writer.poll() is None or reads == 0:
        ids = store.runs()["run_id"]
        assert ids.is_unique and len(ids) >= seen
        seen = len(ids)
        chosen = list(ids[-FANOUT:])
        counts = store.functions(chosen)["run_id"].value_counts().to_dict()
        assert counts == {i: expected_rows(i)[0] for i in chosen}
        reads += 1
    assert writer.wait() == 0
    assert reads > 3
    assert len(assert_complete(store)) == total
    assert len(segment_names(store)) <= 3 * (FANOUT - 1)


# -- rebuild -------------------------------------------------------------------------------------


def write_run_folder(output: Path, summary: dict) -> Path:
    folder = output / summary["run_id"]
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return folder


def test_rebuild_from_run_folders(store: Store, output: Path) -> None:
    summaries = [make_summary(n, entry="my entry ü" if n % 2 else "plain") for n in range(12)]
    for summary in summaries:
        write_run_folder(output, summary)
    store.add(make_record(500))  # in the store, without a folder: gone after the rebuild
    report = store.rebuild(output)
    assert report == RebuildReport(added=12, skipped=())
    runs = assert_complete(store)
    assert sorted(runs["run_id"]) == sorted(s["run_id"] for s in summaries)
    assert set(runs["run_dir"]) == {s["run_id"] for s in summaries}
    assert len([p for p in store.path.iterdir() if p.name.startswith("data")]) == 1


def test_rebuild_picks_up_a_folder_copied_from_another_machine(
    store: Store, output: Path, tmp_path: Path
) -> None:
    write_run_folder(output, make_summary(1))
    store.rebuild(output)
    artifact = write_run_folder(tmp_path / "ci artifact", make_summary(2, entry="ci", host="ci-9"))
    shutil.copytree(artifact, output / "ci" / artifact.name)
    assert store.rebuild(output).added == 2
    assert set(store.runs()["entry"]) == {"advanced", "ci"}


def test_rebuild_skips_and_reports_unreadable_summaries(store: Store, output: Path) -> None:
    good = write_run_folder(output, make_summary(1))
    broken = output / "advanced" / "20990101_000000"
    broken.mkdir(parents=True)
    (broken / "summary.json").write_text("{not json", encoding="utf-8")
    future = write_run_folder(output, make_summary(2, schema=99))
    twin = output / "copy" / "20990101_000001"
    twin.mkdir(parents=True)
    (twin / "summary.json").write_text(json.dumps(make_summary(1)), encoding="utf-8")
    (output / "advanced" / "no summary yet").mkdir()
    hidden = output / ".store" / "x"  # the store's own folder is never taken for a run folder
    hidden.mkdir(parents=True)
    (hidden / "summary.json").write_text("{}", encoding="utf-8")

    report = store.rebuild(output)
    assert report.added == 1
    reasons = dict(report.skipped)
    assert set(reasons) == {broken, future, twin}
    assert "not valid JSON" in reasons[broken]
    assert "schema 99" in reasons[future]
    assert str(good) in reasons[twin]
    assert list(store.runs()["run_id"]) == [make_summary(1)["run_id"]]


def test_rebuild_of_a_missing_folder_is_a_user_error(store: Store, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="not a folder"):
        store.rebuild(tmp_path / "missing")


def test_readers_see_the_old_or_the_new_store_during_a_rebuild(store: Store, output: Path) -> None:
    old = set()
    for number in range(3 * FANOUT):
        summary = make_summary(number, entry="old")
        store.add(RunRecord.from_json(summary))
        old.add(summary["run_id"])
    new = {write_run_folder(output, make_summary(n, entry="new")).name for n in range(600)}
    new = {f"new/{name}" for name in new}
    rebuilder = spawn("rebuild", str(store.path), str(output))
    views = []
    while rebuilder.poll() is None:
        ids = set(store.runs()["run_id"])
        assert ids in (old, new), f"{len(ids & old)} old and {len(ids & new)} new runs"
        views.append(ids == new)
    assert rebuilder.wait() == 0
    assert set(store.runs()["run_id"]) == new
    assert len(views) > 3 and not views[0]


# -- worker processes ----------------------------------------------------------------------------


def _worker(argv: list[str]) -> None:
    """`add STORE FIRST STOP [START_FILE]` or `rebuild STORE OUTPUT`, run in a child process."""
    command, path = argv[0], Path(argv[1])
    store = Store(path)
    if command == "rebuild":
        store.rebuild(Path(argv[2]))
        return
    first, stop = int(argv[2]), int(argv[3])
    summaries = [make_summary(n) for n in range(first, stop)]
    print("ready", flush=True)
    if len(argv) > 4:
        while not os.path.exists(argv[4]):
            time.sleep(0.005)
    for summary in summaries:
        store.add(RunRecord.from_json(summary))


if __name__ == "__main__":
    _worker(sys.argv[1:])


# -- notebook cells ------------------------------------------------------------------------------


def notebook_summary(number: int) -> dict:
    cells = [
        {
            "cell": k,
            "first_line": f"x{k} = {k}",
            "hash": f"sha256:{k:016x}",
            "percent": 10.0 * k,
            "seconds": 0.9 * k,
            "peak_mb": 1.5,
            "malloc_mb": 3.0,
            "lines": [
                {
                    "line": 1,
                    "file": "nb.ipynb",
                    "lineno": 4 + k,
                    "location": f"nb.ipynb [cell {k}] line 1",
                    "percent": 10.0 * k,
                    "seconds": 0.9 * k,
                    "peak_mb": 1.5,
                    "malloc_mb": 3.0,
                }
            ],
        }
        for k in (1, 2, 3)
    ]
    return make_summary(number, entry="nb", kind="notebook", cells=cells)


def test_cells_are_kept_through_compaction_and_rebuild(store: Store, output: Path) -> None:
    ids = []
    for number in range(FANOUT + 1):
        summary = notebook_summary(number)
        store.add(RunRecord.from_json(summary))
        ids.append(summary["run_id"])
        run_dir = output / summary["run_id"]
        run_dir.mkdir(parents=True)
        (run_dir / "summary.json").write_text(json.dumps(summary))
    store.add(make_record(99))  # a script: no cells
    cells = store.cells([ids[0], ids[-1]])
    assert list(cells.columns) == [
        "run_id",
        "cell",
        "hash",
        "first_line",
        "percent",
        "seconds",
        "peak_mb",
        "malloc_mb",
    ]
    assert cells[cells["run_id"] == ids[-1]]["cell"].tolist() == [1, 2, 3]
    assert cells["hash"].iloc[1] == "sha256:0000000000000002"
    store.rebuild(output)
    assert len(store.cells()) == 3 * len(ids)


def test_a_segment_written_before_cells_were_kept_reads_as_no_cells(store: Store) -> None:
    store.add(RunRecord.from_json(notebook_summary(1)))
    store.add(make_record(2))
    generation = next(p for p in store.path.iterdir() if p.name.startswith("data"))
    for segment in generation.iterdir():
        (segment / "cells.parquet").unlink()  # as an older fixing-a-hole wrote its segments
    assert store.cells().empty
    for number in range(3, 3 + FANOUT):
        # compaction merges old and new segments
        store.add(RunRecord.from_json(notebook_summary(number)))
    assert len(store.runs()) == FANOUT + 2
    assert len(store.cells()) == 3 * FANOUT
