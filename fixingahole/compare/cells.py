"""Per-cell changes of a notebook entry between the two sides of a comparison.

A cell is matched by its source (the hash `fixingahole.cells` gives it), not by its number: a
cell inserted above shifts every number after it, and comparing cell 3 with the new cell 3 would
compare unrelated code. Each side's layout is the cell order of its newest run; the two layouts
are aligned as sequences of hashes (`difflib`), so that:

- `same`: the cell's source is unchanged (its number may differ: `cell_a` and `cell_b`);
- `changed`: a cell edited in place, where the alignment pairs a cell of A with one of B;
- `new` / `gone`: a cell only B (only A) has.

A source that occurs twice in a notebook is told apart by its occurrence (first, second, ...).
Figures are medians over a side's ok runs, a run without the cell counting 0.
"""

from __future__ import annotations

import difflib
import statistics
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fixingahole.compare.changes import CodeFigures, Sides

_Key = tuple[str, int]  # (source hash, occurrence of that source in the notebook)


@dataclass(frozen=True)
class CellChange(CodeFigures):
    """One cell of a notebook entry on both sides."""

    cell_a: int | None  # its number on A; None when only B has it
    cell_b: int | None
    first_line: str  # as B has it (A's when gone)
    status: str  # same | changed | new | gone


@dataclass(frozen=True)
class _Side:
    """One side's cells of an entry: the newest run's layout, and medians per cell."""

    layout: tuple[_Key, ...]
    numbers: dict[_Key, int]
    first_lines: dict[_Key, str]
    seconds: dict[_Key, float]
    peaks: dict[_Key, float]


def cell_changes(table: pd.DataFrame, sides: Sides) -> dict[str, tuple[CellChange, ...]]:
    """Per notebook entry, its cells matched across the sides (`sides`: run id -> (entry, a|b))."""
    table = table[table["run_id"].isin(list(sides))]
    runs: dict[tuple[str, str], dict[str, list[tuple[_Key, int, str, float, float]]]] = {}
    for run_id, rows in table.groupby("run_id", sort=False):
        entry, side = sides[str(run_id)]
        runs.setdefault((entry, side), {})[str(run_id)] = _run_cells(rows)
    result = {}
    for entry in sorted({entry for entry, _ in runs}):
        a, b = runs.get((entry, "a")), runs.get((entry, "b"))
        if a and b:
            result[entry] = _align(_side(a), _side(b))
    return result


def _run_cells(rows: pd.DataFrame) -> list[tuple[_Key, int, str, float, float]]:
    """A run's cells in order: (key, number, first line, seconds, peak MB)."""
    seen: dict[str, int] = {}
    cells = []
    ordered = rows.sort_values("cell", kind="stable")
    for number, digest, first, seconds, peak in zip(
        ordered["cell"],
        ordered["hash"],
        ordered["first_line"],
        ordered["seconds"],
        ordered["peak_mb"],
        strict=True,
    ):
        occurrence = seen.get(str(digest), 0)
        seen[str(digest)] = occurrence + 1
        cells.append(
            ((str(digest), occurrence), int(number), str(first), _num(seconds), _num(peak))
        )
    return cells


def _num(value: Any) -> float:  # a figure of the cells table, or missing
    return 0.0 if value is None or pd.isna(value) else float(value)


def _side(runs: dict[str, list[tuple[_Key, int, str, float, float]]]) -> _Side:
    newest = runs[max(runs)]
    keys = {key for cells in runs.values() for key, *_ in cells}
    per_run = [
        {key: (seconds, peak) for key, _, _, seconds, peak in cells} for cells in runs.values()
    ]
    return _Side(
        layout=tuple(key for key, *_ in newest),
        numbers={key: number for key, number, *_ in newest},
        first_lines={key: first for key, _, first, *_ in newest},
        seconds={k: statistics.median(r.get(k, (0.0, 0.0))[0] for r in per_run) for k in keys},
        peaks={k: statistics.median(r.get(k, (0.0, 0.0))[1] for r in per_run) for k in keys},
    )


def _align(a: _Side, b: _Side) -> tuple[CellChange, ...]:
    """The cells of both sides in notebook order, paired where their sources match."""
    changes: list[CellChange] = []
    matcher = difflib.SequenceMatcher(None, a.layout, b.layout, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = a.layout[i1:i2], b.layout[j1:j2]
        status = "same" if tag == "equal" else "changed"
        for key_a, key_b in zip(left, right, strict=False):
            changes.append(_change(a, b, key_a, key_b, status))
        changes += [_change(a, b, key, None, "gone") for key in left[len(right) :]]
        changes += [_change(a, b, None, key, "new") for key in right[len(left) :]]
    return tuple(changes)


def _change(a: _Side, b: _Side, key_a: _Key | None, key_b: _Key | None, status: str) -> CellChange:
    first = b.first_lines[key_b] if key_b is not None else a.first_lines[key_a or ("", 0)]
    return CellChange(
        cell_a=None if key_a is None else a.numbers[key_a],
        cell_b=None if key_b is None else b.numbers[key_b],
        first_line=first,
        status=status,
        seconds_a=0.0 if key_a is None else a.seconds[key_a],
        seconds_b=0.0 if key_b is None else b.seconds[key_b],
        peak_mb_a=0.0 if key_a is None else a.peaks[key_a],
        peak_mb_b=0.0 if key_b is None else b.peaks[key_b],
    )
