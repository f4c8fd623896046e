"""The hand-made documents and frames of tests/factories.py have the product's shapes."""

from __future__ import annotations

from pathlib import Path

from fixingahole.store import Store
from tests.factories import (
    FUNCTION_COLUMNS,
    cell_rows,
    function_row,
    record,
    recorded_profile,
    recorded_record,
    run_row,
    summary_doc,
)

# Columns of the runs table that only runs counted with --instructions fill; compare reads them
# when present, so a frame without them is what an older store returns.
COUNT_COLUMNS = {"instructions", "startup_instructions", "instructions_note"}


def test_summary_doc_has_the_keys_build_record_writes(tmp_path: Path) -> None:
    fixture = "2.4.0-compute-cpu.json"
    profile = recorded_profile(fixture, tmp_path)
    built = recorded_record(profile, fixture, stamp="20250101_100000", commit="a").to_json()
    assert built["functions"][0]["file"] == "compute.py"  # named relative to the code base
    assert sorted(summary_doc()) == sorted(built)
    assert summary_doc()["started_utc"] == built["started_utc"] == "2025-01-01T10:00:00.000Z"


def test_a_summary_doc_reads_back_from_the_store_as_a_run_row(tmp_path: Path) -> None:
    store = Store(tmp_path / ".store")
    store.add(record("e/20250101_100000", wall_s=2.0, code_hash="sha256:one"))
    stored = store.runs().iloc[0].to_dict()
    row = run_row("e", "20250101_100000", wall=2.0, heap=None, commit=None, branch=None)
    assert set(stored) - COUNT_COLUMNS == set(row) - {"schema"}
    for column in ("run_id", "entry", "status", "started_utc", "wall_s", "host", "python"):
        assert stored[column] == row[column], column


def test_function_and_cell_rows_have_the_store_columns(tmp_path: Path) -> None:
    store = Store(tmp_path / ".store")
    assert list(store.functions().columns) == FUNCTION_COLUMNS == list(function_row("r", "f"))
    assert list(store.cells().columns) == list(cell_rows("r", [("x = 1", 0.5)])[0])
