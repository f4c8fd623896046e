"""The run record: summary.json round trips, schema checks, statuses and their exit codes.

Records are built from the recorded Scalene fixtures (tests/data/scalene) as a run builds them;
no Scalene runs here.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from fixingahole.batch import BatchResult, Job
from fixingahole.errors import UserError
from fixingahole.locations import Locator
from fixingahole.manifest import Entry
from fixingahole.options import ProfileOptions
from fixingahole.profile_run import RunOutcome
from fixingahole.record import (
    SCHEMA,
    CellLine,
    CellRow,
    Environment,
    GitInfo,
    InstructionCounts,
    LineRow,
    RunRecord,
    RunStatus,
    worst_exit_code,
)
from fixingahole.report.record import build_record
from fixingahole.report.text import render_summary
from fixingahole.runner import ScaleneResult
from fixingahole.scalene_output import load_profile

SCALENE = Path(__file__).resolve().parent / "data" / "scalene"
FIXTURES = sorted(p.relative_to(SCALENE) for p in SCALENE.glob("**/*.json"))


def record_of(fixture: Path, **changes) -> RunRecord:
    """The record a run of the fixture's profile would have written."""
    profile = load_profile(SCALENE / fixture)
    mode = "memory" if "memory" in fixture.name else "cpu"
    result = ScaleneResult(RunStatus.OK, 0, 12.3456789, 11.1, 300.123456, ("scalene",), {})
    record = build_record(
        profile,
        Locator(Path(profile.program).parent),
        result,
        status=RunStatus.OK if profile.functions else RunStatus.NO_SAMPLES,
        error=None,
        run_id="demo/20250101_000000",
        entry="demo",
        target=Path(profile.program),
        kind="script",
        started_utc="2025-01-01T00:00:00.123Z",
        options=ProfileOptions(mode=mode, args=("a b", "ü")),
        command=f"fixingahole profile demo.py --{mode}",
        code_hash="sha256:abc",
        git=GitInfo("abc123", None, True),
        environment=Environment("3.11.7", "2.4.0", "0.1.0", "ci-1", "Linux", "AMD EPYC"),
        tags=("nightly",),
    )
    return replace(record, **changes)


def round_trip(record: RunRecord) -> None:
    """summary.json text -> record -> the same text, and the same record."""
    text = json.dumps(record.to_json(), indent=2)
    again = RunRecord.from_json(json.loads(text))
    assert again == record
    assert json.dumps(again.to_json(), indent=2) == text


@pytest.mark.parametrize("fixture", FIXTURES, ids=str)
def test_every_recorded_profile_round_trips(fixture: Path) -> None:
    record = record_of(fixture)
    round_trip(record)
    document = record.to_json()
    assert document["schema"] == SCHEMA
    assert document["target"] == Path(load_profile(SCALENE / fixture).program).name
    assert document["wall_s"] == 12.3457 and document["max_rss_mb"] == 300.123
    assert list(document["options"])[:3] == ["precision", "interval", "detailed"]


def test_a_notebook_and_an_instruction_count_round_trip() -> None:
    line = LineRow("nb.ipynb", 12, "nb.ipynb [cell 2] line 1", 1.68, 0.29, 61.8, 61.8)
    cells = (
        CellRow(1, "import numpy as np", "sha256:aa", 0.5, 0.1, 0.0, 0.0),
        CellRow(
            2, "x = np.ones(10**7)", "sha256:bb", 2.41, 0.41, 61.8, 122.8, (CellLine(1, line),)
        ),
    )
    counts = InstructionCounts(442315445, 125738001, None)
    record = record_of(FIXTURES[0], kind="notebook", cells=cells, instructions=counts)
    round_trip(record)
    document = record.to_json()
    assert list(document)[-3:] == ["instructions", "startup_instructions", "instructions_note"]
    assert document["cells"][1]["lines"][0] == {"line": 1, **line.to_json()}
    assert "instructions" not in record_of(FIXTURES[0]).to_json()  # only with --instructions


def test_a_summary_written_before_cells_totals_and_the_event_loop_key_is_read() -> None:
    document = record_of(FIXTURES[0]).to_json()
    for key in ("cells", "unprofiled_event_loop"):
        del document[key]
    for function in document["functions"]:
        del function["total_percent"], function["total_seconds"]
    record = RunRecord.from_json(document)
    assert record.cells == () and record.unprofiled_event_loop is False
    assert all(f.total_percent is None for f in record.functions)
    assert record.functions[0].name == document["functions"][0]["name"]


def test_the_event_loop_mark_survives_the_record() -> None:
    """It was lost when `fixingahole report` re-rendered a run from its folder."""
    fixture = Path("2.4.0-compute-cpu.json")
    record = RunRecord.from_json(record_of(fixture, unprofiled_event_loop=True).to_json())
    assert record.unprofiled_event_loop is True
    shown = render_summary(load_profile(SCALENE / fixture), record, Locator(Path("/")))
    assert "Async:                an asyncio event loop ran" in shown


def test_a_missing_schema_says_it_is_not_a_summary() -> None:
    document = record_of(FIXTURES[0]).to_json()
    del document["schema"]
    with pytest.raises(UserError, match=r"no `schema`: it is not a summary\.json written by"):
        RunRecord.from_json(document)


def test_a_newer_schema_says_to_upgrade() -> None:
    document = {**record_of(FIXTURES[0]).to_json(), "schema": SCHEMA + 1}
    with pytest.raises(UserError, match=f"schema {SCHEMA + 1} is not supported.*upgrade"):
        RunRecord.from_json(document)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema": "1"}, "schema '1' is not supported .*profile the run again"),
        ({"run_id": ""}, "no run_id"),
        ({"status": "great"}, "`status` 'great' is not one of ok, failed"),
        ({"started_utc": "yesterday"}, "started_utc 'yesterday' is not an ISO 8601 time"),
        ({"wall_s": "fast"}, "`wall_s` must be a finite number, not 'fast'"),
        ({"wall_s": True}, "`wall_s` must be a finite number"),
        ({"peak_heap_mb": float("nan")}, "`peak_heap_mb` must be a finite number or null"),
        ({"git": "main"}, "`git` must be an object or null"),
        ({"tags": "nightly"}, "`tags` must be a list of text"),
        ({"log_counts": {"WARNING": "two"}}, "`log_counts` must map names to counts"),
        ({"functions": {"name": "f"}}, "`functions` must be a list of objects"),
        ({"lines": [{"lineno": "twelve"}]}, r"lines\[0\]: `file` is missing"),
    ],
)
def test_a_damaged_summary_names_the_run_and_the_field(change: dict, message: str) -> None:
    document = {**record_of(FIXTURES[0]).to_json(), **change}
    with pytest.raises(UserError, match=message) as raised:
        RunRecord.from_json(document)
    assert "\n" not in str(raised.value)


def test_a_summary_that_is_not_an_object() -> None:
    with pytest.raises(UserError, match="must be a JSON object"):
        RunRecord.from_json(["not", "a", "summary"])


EXIT_CODES = {
    RunStatus.OK: 0,
    RunStatus.FAILED: 1,
    RunStatus.TIMEOUT: 1,
    RunStatus.NO_SAMPLES: 2,
    RunStatus.REFUSED: 2,
    RunStatus.TOOL_ERROR: 3,
    RunStatus.LOST: 3,
    RunStatus.INTERRUPTED: 130,
}


def test_every_status_has_its_exit_code() -> None:
    assert {status: status.exit_code for status in RunStatus} == EXIT_CODES
    assert {s for s in RunStatus if s.stopped} == {RunStatus.TIMEOUT, RunStatus.INTERRUPTED}
    assert {s for s in RunStatus if s.ran_to_end} == {RunStatus.OK, RunStatus.NO_SAMPLES}
    assert [f"{s}" for s in RunStatus] == [s.value for s in RunStatus]  # as summary.json spells it


def batch_of(*statuses: RunStatus, interrupted: bool = False) -> BatchResult:
    entry = Entry("e", Path("e.py"), ProfileOptions())
    outcomes = [(Job(entry, i + 1, len(statuses)), RunOutcome(s)) for i, s in enumerate(statuses)]
    return BatchResult(outcomes=outcomes, interrupted=interrupted)


@pytest.mark.parametrize(
    ("statuses", "code"),
    [
        ((), 0),
        ((RunStatus.OK, RunStatus.OK), 0),
        ((RunStatus.OK, RunStatus.TIMEOUT), 1),
        ((RunStatus.FAILED, RunStatus.NO_SAMPLES, RunStatus.OK), 2),
        ((RunStatus.NO_SAMPLES, RunStatus.TOOL_ERROR, RunStatus.FAILED), 3),
        ((RunStatus.TOOL_ERROR, RunStatus.INTERRUPTED), 130),
    ],
)
def test_a_batch_exits_with_its_worst_run(statuses: tuple[RunStatus, ...], code: int) -> None:
    assert worst_exit_code(statuses) == batch_of(*statuses).exit_code == code


def test_a_single_run_batch_exits_as_the_single_profile_would() -> None:
    for status in RunStatus:
        assert batch_of(status).exit_code == status.exit_code
    assert batch_of(RunStatus.OK, interrupted=True).exit_code == 130  # Ctrl-C between runs
