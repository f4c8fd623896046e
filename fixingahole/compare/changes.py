"""Code changes: the functions and lines of an entry whose figures moved most between the sides.

A function is matched across runs by file and name, a line by file and line number. Each side's
figure is the median over its ok runs, a run in which the code did not appear counting 0; a name
twice in one run is one function (seconds summed, the larger peak). `CodeFigures` is what every
piece of code compared across the sides carries, these and a notebook's cells (`cells.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

TOP_CHANGES = 10  # functions (and lines) listed per entry

Sides = Mapping[str, tuple[str, str]]  # ok run id -> (entry, "a" or "b")


@dataclass(frozen=True)
class CodeFigures:
    """A piece of code's seconds and peak MB on each side: medians over the side's ok runs."""

    seconds_a: float
    seconds_b: float
    peak_mb_a: float
    peak_mb_b: float

    @property
    def delta_seconds(self) -> float:
        """B minus A, in seconds."""
        return self.seconds_b - self.seconds_a

    @property
    def delta_peak_mb(self) -> float:
        """B minus A, in MB of peak memory."""
        return self.peak_mb_b - self.peak_mb_a

    @property
    def seconds_pct(self) -> float | None:
        """The change in seconds as a percentage of A; None when A is 0."""
        return _pct(self.seconds_a, self.seconds_b)

    @property
    def peak_pct(self) -> float | None:
        """The change in peak MB as a percentage of A; None when A is 0."""
        return _pct(self.peak_mb_a, self.peak_mb_b)


@dataclass(frozen=True)
class CodeChange(CodeFigures):
    """A function (matched by file and name) or a line (by file and line) on both sides."""

    location: str
    name: str | None  # the function's name; None for a line
    status: str  # changed | new (not on A) | gone (not on B)


def code_changes(
    table: pd.DataFrame, sides: Sides, key: str, rank_by: str
) -> dict[str, tuple[CodeChange, ...]]:
    """Per entry: the functions (key "name") or lines ("lineno") whose `rank_by` moved most, at
    most TOP_CHANGES of them (the rules are in the module docstring)."""
    table = table[table["run_id"].isin(list(sides))]
    if table.empty:
        return {}
    run_codes, run_ids = pd.factorize(table["run_id"])
    file_codes = pd.factorize(table["file"])[0].astype(np.int64)
    key_codes = pd.factorize(table[key])[0]
    found = file_codes * (key_codes.max() + 2) + key_codes
    seconds = table["seconds"].astype(float).fillna(0.0).to_numpy()
    peaks = table["peak_mb"].astype(float).fillna(0.0).to_numpy()
    locations = table["location"].to_numpy()
    names = table[key].to_numpy()
    entry_of_run = np.array([sides[run_id][0] for run_id in run_ids], dtype=object)
    in_b_run = np.array([sides[run_id][1] == "b" for run_id in run_ids])
    row_entries = entry_of_run[run_codes]
    result = {}
    for entry in pd.unique(row_entries):
        rows = np.flatnonzero(row_entries == entry)
        runs_a = np.flatnonzero((entry_of_run == entry) & ~in_b_run)
        runs_b = np.flatnonzero((entry_of_run == entry) & in_b_run)
        column = np.empty(len(run_ids), dtype=np.int64)
        column[runs_a] = np.arange(len(runs_a))
        column[runs_b] = len(runs_a) + np.arange(len(runs_b))
        groups, group_of_row = np.unique(found[rows], return_inverse=True)
        cells = (group_of_row, column[run_codes[rows]])
        time_grid = np.zeros((len(groups), len(runs_a) + len(runs_b)))
        peak_grid = np.zeros_like(time_grid)
        present = np.zeros(time_grid.shape, dtype=bool)
        np.add.at(time_grid, cells, seconds[rows])
        np.maximum.at(peak_grid, cells, peaks[rows])
        present[cells] = True
        split = len(runs_a)
        figures = {
            "seconds_a": np.median(time_grid[:, :split], axis=1),
            "seconds_b": np.median(time_grid[:, split:], axis=1),
            "peak_mb_a": np.median(peak_grid[:, :split], axis=1),
            "peak_mb_b": np.median(peak_grid[:, split:], axis=1),
        }
        moved = np.abs(figures[f"{rank_by}_b"] - figures[f"{rank_by}_a"])
        top = [g for g in np.argsort(-moved, kind="stable")[:TOP_CHANGES] if moved[g] > 0]
        changes = []
        for group in top:
            in_a, in_b = present[group, :split].any(), present[group, split:].any()
            members = rows[group_of_row == group]
            newest = members[in_b_run[run_codes[members]]] if in_b else members
            changes.append(
                CodeChange(
                    location=str(locations[newest[0]]),
                    name=str(names[members[0]]) if key == "name" else None,
                    status="changed" if in_a and in_b else ("new" if in_b else "gone"),
                    **{name: float(values[group]) for name, values in figures.items()},
                )
            )
        if changes:
            result[str(entry)] = tuple(changes)
    return result


def _pct(before: float, after: float) -> float | None:
    return None if before == 0 else (after - before) / before * 100
