"""Attribution: which functions account for an entry's change between the two sides of a compare.

Input: the store's `functions` rows of one entry's ok runs, and which runs are A's and which B's.
For every function, its figure in each run (0 in a run where it does not appear) gives two
samples, one per side: its `seconds` (its share of Scalene's elapsed time, the time the program
ran), or for memory its `peak_mb`. Then:

- A function is matched across runs by file and name. When a file moved (a name seen on only one
  side in one file and on only the other side in another), the two are one function, placed where
  B has it.
- `delta` is median(B) - median(A); `share_pct` is delta over the entry's own change in percent
  (for time, the change of the medians of Scalene's elapsed time, which the functions' seconds
  are shares of), so the shares of all the code add up to about 100 and a function that moved
  against the entry is negative.
- `p_value` is the one-sided Mann-Whitney U test of B's per-run figures against A's, in the
  direction the medians moved (as compare's test, without the threshold's scaling); `verdict` is
  compare's own judgement of the two samples (slower / faster / unchanged / ~), or `new` / `gone`
  for a function on one side only.

Rows are ordered by their share, largest first; the `top` with the largest moves are kept.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from fixingahole import stats

TOP = 10  # functions attributed per entry


@dataclass(frozen=True)
class Attribution:
    """One function's part in an entry's change."""

    function: str
    file: str
    lineno: int | None  # where the function is defined
    location: str  # as reports show it (`a.py:12`, `nb.ipynb [cell 3] line 2`)
    status: str  # changed | new (only on B) | gone (only on A)
    median_a: float
    median_b: float
    share_pct: float | None  # of the entry's change; None when the entry did not move
    of_change: float | None  # the entry's change the share is of (B minus A)
    p_value: float | None
    verdict: str | None

    @property
    def delta(self) -> float:
        """B's median minus A's."""
        return self.median_b - self.median_a


Judge = Callable[[Sequence[float], Sequence[float]], Any]  # compare.judge with its settings


def attribute(
    table: pd.DataFrame,
    runs_a: Sequence[str],
    runs_b: Sequence[str],
    entry_delta: float | None,
    judge: Judge,
    *,
    quantity: str = "seconds",
    top: int = TOP,
) -> tuple[Attribution, ...]:
    """The functions that account for an entry's change of `entry_delta` (B minus A)."""
    if not runs_a or not runs_b:
        return ()
    ids_a, ids_b = list(runs_a), list(runs_b)
    rows = table[table["run_id"].isin(ids_a + ids_b)]
    if rows.empty:
        return ()
    rows = _follow_moves(rows, set(ids_a))
    grid = _grid(rows, ids_a, ids_b, quantity)
    split = len(runs_a)
    values = grid.to_numpy()
    medians_a = np.median(values[:, :split], axis=1)
    medians_b = np.median(values[:, split:], axis=1)
    moved = np.abs(medians_b - medians_a)
    chosen = [row for row in np.argsort(-moved, kind="stable")[:top] if moved[row] > 0]
    present = _presence(rows, grid, ids_a, ids_b)
    found = [
        _attribution(
            grid.index[row],
            values[row, :split],
            values[row, split:],
            present[row],
            entry_delta,
            judge,
        )
        for row in chosen
    ]
    direction = 1.0 if (entry_delta or 0) >= 0 else -1.0
    return tuple(sorted(found, key=lambda item: -direction * item.delta))


def _grid(rows: pd.DataFrame, runs_a: list[str], runs_b: list[str], quantity: str) -> pd.DataFrame:
    """Rows: one per function, indexed by (file, name); columns: A's runs then B's; 0 if absent."""
    figures = rows.assign(value=rows[quantity].astype(float).fillna(0.0))
    # a name twice in a run is one function
    how: Literal["sum", "max"] = "sum" if quantity == "seconds" else "max"
    grid = figures.pivot_table(
        index=["file", "name"], columns="run_id", values="value", aggfunc=how, fill_value=0.0
    )
    ordered: pd.DataFrame = grid.reindex(columns=runs_a + runs_b, fill_value=0.0)
    return ordered


def _follow_moves(rows: pd.DataFrame, runs_a: set[str]) -> pd.DataFrame:
    """Relabel A's rows of a function whose file changed to B's file (matched by its name)."""
    on_a = rows["run_id"].isin(runs_a)
    files_a = rows[on_a].groupby("name")["file"].unique()
    files_b = rows[~on_a].groupby("name")["file"].unique()
    moved = {}
    for name in files_a.index.intersection(files_b.index):
        only_a = set(files_a[name]) - set(files_b[name])
        only_b = set(files_b[name]) - set(files_a[name])
        if len(only_a) == 1 and len(only_b) == 1:
            moved[(only_a.pop(), name)] = only_b.pop()
    if not moved:
        return rows
    keys = list(zip(rows["file"], rows["name"], strict=True))
    files = [moved.get(key, key[0]) if a else key[0] for key, a in zip(keys, on_a, strict=True)]
    relabelled: pd.DataFrame = rows.assign(file=files)
    return relabelled


def _presence(
    rows: pd.DataFrame, grid: pd.DataFrame, runs_a: list[str], runs_b: list[str]
) -> list[tuple[bool, bool, str, int | None]]:
    """Per grid row: on A, on B, its location and line (from B's newest run when it has one)."""
    order = {run_id: i for i, run_id in enumerate(runs_a + runs_b)}
    rows = rows.assign(order=rows["run_id"].map(order)).sort_values("order", ascending=False)
    first = rows.drop_duplicates(["file", "name"]).set_index(["file", "name"])
    sides = rows.assign(on_b=rows["run_id"].isin(runs_b)).groupby(["file", "name"])["on_b"]
    on_b, on_a = sides.any(), ~sides.all()
    result = []
    for key in grid.index:
        lineno: Any = first.at[key, "lineno"]  # a number, or missing
        result.append(
            (
                bool(on_a[key]),
                bool(on_b[key]),
                str(first.at[key, "location"]),
                None if pd.isna(lineno) else int(lineno),
            )
        )
    return result


def _attribution(
    key: tuple[str, str],
    a: np.ndarray,
    b: np.ndarray,
    present: tuple[bool, bool, str, int | None],
    entry_delta: float | None,
    judge: Judge,
) -> Attribution:
    on_a, on_b, location, lineno = present
    median_a, median_b = statistics.median(a), statistics.median(b)
    delta = median_b - median_a
    test = stats.mann_whitney(a.tolist(), b.tolist())
    status = "changed" if on_a and on_b else ("new" if on_b else "gone")
    verdict = judge(a.tolist(), b.tolist()).verdict if status == "changed" else status
    return Attribution(
        function=str(key[1]),
        file=str(key[0]),
        lineno=lineno,
        location=location,
        status=status,
        median_a=float(median_a),
        median_b=float(median_b),
        share_pct=None if not entry_delta else delta / entry_delta * 100,
        of_change=entry_delta,
        p_value=test.p_greater if delta > 0 else test.p_less,
        verdict=verdict,
    )
