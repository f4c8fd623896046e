"""The comparison: every entry's runs on both sides aggregated, judged, and explained.

`compare_runs` prepares the runs table (`runs.py`), selects the two sides (`selectors.py`), and
for each entry summarises every metric on each side and judges it (`verdicts.py`). The entries
that changed get the functions and lines that moved most (`changes.py`), a notebook's cells
(`cells.py`) and the functions behind the change (`fixingahole.attribution`, with its rules).

Every run of a side counts, not one of them: repeats are aggregated (median, mean, standard
deviation, count, min, max), and only runs with status `ok` count toward the figures. Instruction
counts (`COUNTS`) are listed when a compared run has one.

`Comparison.exit_code`: 1 when `fail_on_regression` is set and an entry's primary metric is
`slower` by the rules of `verdicts.py` with the gate's percentage as the threshold (so never with
one run per side), or every B run of an entry failed where A's succeeded; else 2 when no entry
has ok runs on both sides (nothing to compare); else 0.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import pandas as pd

from fixingahole import stats
from fixingahole.attribution import Attribution, attribute
from fixingahole.compare.cells import CellChange, cell_changes
from fixingahole.compare.changes import CodeChange, Sides, code_changes
from fixingahole.compare.runs import RunRow, prepare_runs, runs_by_entry
from fixingahole.compare.selectors import before, select, suggestion
from fixingahole.compare.verdicts import (
    COMPARED,
    COUNTS,
    METRIC_LABELS,
    METRICS,
    PRIMARY,
    Judgement,
    check_settings,
    judge,
    judge_metric,
    repeatability,
)

Rows = pd.DataFrame | Callable[[list[str]], pd.DataFrame]  # a table, or its loader by run ids


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one entry, both sides summarised, and the judgement."""

    metric: str  # a column of the runs table, e.g. "wall_s"
    a: stats.Figures
    b: stats.Figures
    judgement: Judgement


@dataclass(frozen=True)
class EntryComparison:
    """One entry: its runs on each side, every metric, and the verdict."""

    entry: str
    verdict: str  # faster / slower / unchanged / ~ / new / missing / failed
    primary: str  # the metric the verdict is of
    runs_a: tuple[str, ...]
    runs_b: tuple[str, ...]
    metrics: tuple[MetricComparison, ...]  # one per metric; a side without runs has n = 0
    code_changed: bool  # the content hashes of the profiled code differ between the sides
    # fails the gate: significantly worse by more than fail_on_regression, or broken on B
    regressed: bool = False
    notes: tuple[str, ...] = ()
    functions: tuple[CodeChange, ...] = ()
    lines: tuple[CodeChange, ...] = ()
    attribution: tuple[Attribution, ...] = ()  # the functions behind the change, largest first
    cells: tuple[CellChange, ...] = ()  # a notebook's cells, matched by source (compare/cells.py)

    def metric(self, name: str) -> MetricComparison | None:
        """The comparison of one metric, if the entry has one."""
        return next((m for m in self.metrics if m.metric == name), None)


@dataclass(frozen=True)
class Side:
    """What one side of the comparison holds."""

    selector: str | None  # None for A when only B was given: the runs just before B
    run_ids: tuple[str, ...]
    commits: tuple[str, ...]
    branches: tuple[str, ...]
    hosts: tuple[str, ...]
    pythons: tuple[str, ...]
    scalenes: tuple[str, ...]


@dataclass(frozen=True)
class Header:
    """What was compared, with which settings, and what makes the sides hard to compare."""

    a: Side
    b: Side
    metric: str  # time | cpu | memory | instructions
    threshold: float
    alpha: float
    fail_on_regression: float | None
    warnings: tuple[str, ...]
    metrics: tuple[str, ...] = METRICS  # listed per entry: COUNTS too when a run has a count


@dataclass(frozen=True)
class GeoMean:
    """The geometric mean of one metric's ratio over the entries compared on both sides."""

    metric: str
    ratio: float | None
    entries: int


@dataclass(frozen=True)
class Comparison:
    """The result of `compare_runs()`: header, one comparison per entry, and a summary row."""

    header: Header
    entries: tuple[EntryComparison, ...]
    geomean: tuple[GeoMean, ...]

    @property
    def regressions(self) -> tuple[str, ...]:
        """The entries that fail the regression gate."""
        return tuple(entry.entry for entry in self.entries if entry.regressed)

    @property
    def exit_code(self) -> int:
        """1 when an entry regressed past the gate, 2 when nothing was compared, else 0."""
        if self.regressions:
            return 1
        if not any(entry.verdict in COMPARED for entry in self.entries):
            return 2
        return 0


def compare_runs(
    runs: pd.DataFrame,
    functions: Rows,
    a: str,
    b: str | None = None,
    *,
    entries: Sequence[str] = (),
    tags: Sequence[str] = (),
    threshold: float = 0.05,
    alpha: float = 0.05,
    metric: str = "time",
    show_all: bool = False,
    lines: Rows | None = None,
    fail_on_regression: float | None = None,
    cells: Rows | None = None,
) -> Comparison:
    """Compare the runs selector `a` picks with those `b` picks (or `a` with the runs before it).

    `functions`, `lines` and `cells` are the store's tables, or loaders called with the run ids
    they need; a notebook entry's cells are listed beside its functions.
    `entries` and `tags` narrow the entries (an entry with a tag on any run). `threshold` and
    `fail_on_regression` are fractions (0.05 = 5%). Functions (and lines, when given) are listed
    for entries that got faster or slower, or for all with `show_all`. The gate fails an entry
    whose primary metric is significantly worse by more than `fail_on_regression`.
    """
    check_settings(threshold, alpha, metric, fail_on_regression)
    table = prepare_runs(runs, entries, tags)
    if b is None:
        side_b = select(table, a)
        side_a = before(table, side_b)
        selectors: tuple[str | None, str] = (None, a)
    else:
        side_a, side_b = select(table, a), select(table, b)
        selectors = (a, b)
    header = _header(side_a, side_b, selectors, metric, threshold, alpha, fail_on_regression)
    if b is None and side_a.empty:  # one code version: say how to compare its batches
        nothing = f"no earlier code version precedes {a}{suggestion(table)}"
        header = replace(header, warnings=(*header.warnings, nothing))
    by_entry_a, by_entry_b = runs_by_entry(side_a), runs_by_entry(side_b)
    spreads = repeatability(table) if header.metrics != METRICS else {}
    compared = [
        _compare_entry(
            name,
            by_entry_a.get(name, []),
            by_entry_b.get(name, []),
            header,
            spreads.get(name, {}),
        )
        for name in sorted(by_entry_a.keys() | by_entry_b.keys())
    ]
    compared = _with_code_changes(
        compared,
        by_entry_a,
        by_entry_b,
        functions,
        lines,
        metric,
        show_all,
        partial(judge, threshold=threshold, alpha=alpha),
        cells,
    )
    return Comparison(
        header=header,
        entries=tuple(compared),
        geomean=tuple(_geomean(compared, name) for name in header.metrics),
    )


def _header(
    side_a: pd.DataFrame,
    side_b: pd.DataFrame,
    selectors: tuple[str | None, str],
    metric: str,
    threshold: float,
    alpha: float,
    fail_on_regression: float | None,
) -> Header:
    a, b = _side(side_a, selectors[0]), _side(side_b, selectors[1])
    warnings = []
    for label, values_a, values_b in (
        ("hosts", a.hosts, b.hosts),
        ("Python versions", a.pythons, b.pythons),
        ("Scalene versions", a.scalenes, b.scalenes),
    ):
        if values_a and values_b and values_a != values_b:
            warnings.append(
                f"the sides ran on different {label} (A: {', '.join(values_a)}; "
                f"B: {', '.join(values_b)}): their timings may not be comparable"
            )
    for name, frame in (("A", side_a), ("B", side_b)):
        if frame["git_dirty"].astype(object).eq(True).any():
            warnings.append(
                f"{name} includes runs from a dirty work tree: changes to files other than the "
                "profiled one are not tracked"
            )
    counted = side_a["instructions"].notna().any() or side_b["instructions"].notna().any()
    metrics = (*METRICS, *COUNTS) if counted or metric == "instructions" else METRICS
    return Header(a, b, metric, threshold, alpha, fail_on_regression, tuple(warnings), metrics)


def _side(frame: pd.DataFrame, selector: str | None) -> Side:
    def distinct(column: str) -> tuple[str, ...]:
        return tuple(sorted(str(value) for value in frame[column].dropna().unique()))

    return Side(
        selector=selector,
        run_ids=tuple(frame.sort_values("started_utc")["run_id"]),
        commits=distinct("git_commit"),
        branches=distinct("git_branch"),
        hosts=distinct("host"),
        pythons=distinct("python"),
        scalenes=distinct("scalene"),
    )


def _compare_entry(
    name: str,
    runs_a: list[RunRow],
    runs_b: list[RunRow],
    header: Header,
    spreads: dict[str, float],
) -> EntryComparison:
    metric, threshold, alpha = header.metric, header.threshold, header.alpha
    primary = PRIMARY[metric]
    ids_a = tuple(run.run_id for run in runs_a)
    ids_b = tuple(run.run_id for run in runs_b)
    ok_a = [run for run in runs_a if run.status == "ok"]
    ok_b = [run for run in runs_b if run.status == "ok"]
    values = {column: (_values(ok_a, column), _values(ok_b, column)) for column in header.metrics}
    metrics = tuple(
        MetricComparison(
            column,
            stats.describe(values[column][0]),
            stats.describe(values[column][1]),
            judge_metric(column, *values[column], threshold, alpha, spreads.get(column)),
        )
        for column in header.metrics
    )
    if not runs_a or not runs_b:
        verdict = "new" if not runs_a else "missing"
        return EntryComparison(name, verdict, primary, ids_a, ids_b, metrics, False)
    notes = []
    by_name = {m.metric: m for m in metrics}
    if metric == "memory" and not (values[primary][0] and values[primary][1]):
        primary = "max_rss_mb"
        notes.append(
            "no peak heap figures on a side (profiled without --memory): judged by max RSS"
        )
    notes += _side_notes(runs_a, ok_a, runs_b, ok_b)
    if primary in COUNTS:
        notes += _count_notes(ok_a, ok_b, spreads.get(primary))
    gate = header.fail_on_regression
    broke = bool(ok_a) and not ok_b  # it ran on A, and on B not once
    if broke and gate is not None:
        notes.append("B: no run succeeded where A's did: fails the gate")
    if not ok_a or not ok_b:
        verdict = "failed"
    else:
        judgement = by_name[primary].judgement
        verdict = judgement.verdict or "~"
        if judgement.note:
            notes.append(judgement.note)
        if judgement.verdict is None:
            notes.append(f"no {METRIC_LABELS[primary]} figures on a side")
    hashes_a = {run.code_hash for run in runs_a} - {None}
    hashes_b = {run.code_hash for run in runs_b} - {None}
    worse = (
        gate is not None
        and verdict in COMPARED
        and judge_metric(primary, *values[primary], gate, alpha, spreads.get(primary)).verdict
        == "slower"
    )
    return EntryComparison(
        entry=name,
        verdict=verdict,
        primary=primary,
        runs_a=ids_a,
        runs_b=ids_b,
        metrics=metrics,
        code_changed=bool(hashes_a and hashes_b and hashes_a != hashes_b),
        regressed=gate is not None and (broke or worse),
        notes=tuple(notes),
    )


def _side_notes(
    runs_a: list[RunRow], ok_a: list[RunRow], runs_b: list[RunRow], ok_b: list[RunRow]
) -> list[str]:
    """Runs that are not ok, mixed code versions, and options that differ between the sides."""
    notes = []
    for label, runs, ok in (("A", runs_a, ok_a), ("B", runs_b, ok_b)):
        if len(ok) < len(runs):
            statuses = ", ".join(sorted({run.status for run in runs if run.status != "ok"}))
            notes.append(f"{label}: {len(runs) - len(ok)} of {len(runs)} runs not ok ({statuses})")
        versions = len({run.version for run in runs})
        if versions > 1:
            notes.append(f"{label} mixes {versions} code versions")
    differing = _differing_options(ok_a, ok_b)
    if differing:
        notes.append(
            f"the sides were profiled with different {', '.join(differing)}: "
            "their timings may not be comparable"
        )
    return notes


def _count_notes(ok_a: list[RunRow], ok_b: list[RunRow], spread: float | None) -> list[str]:
    """What a verdict by instruction counts rests on: uncounted runs, counts that may vary."""
    notes = []
    for label, ok in (("A", ok_a), ("B", ok_b)):
        uncounted = [run for run in ok if "instructions" not in run.figures]
        if uncounted:
            reasons = sorted({run.count_note or "made without --instructions" for run in uncounted})
            notes.append(
                f"{label}: {len(uncounted)} of {len(ok)} runs have no instruction count "
                f"({'; '.join(reasons)})"
            )
        counted_notes = {
            run.count_note
            for run in ok
            if "instructions" in run.figures and run.count_note is not None
        }
        notes += [f"{label}: {note}" for note in sorted(counted_notes)]
    if spread is None:
        notes.append(
            "repeatability not measured: no code version has two counted runs; profile one "
            "twice with --instructions to measure it"
        )
    return notes


def _differing_options(runs_a: list[RunRow], runs_b: list[RunRow]) -> list[str]:
    """The options whose values on A's runs are not those on B's (both sides having runs)."""
    setups_a, setups_b = {run.setup for run in runs_a}, {run.setup for run in runs_b}
    if not setups_a or not setups_b or setups_a == setups_b:
        return []
    names = [name for name, _ in next(iter(setups_a))]
    return [
        name
        for i, name in enumerate(names)
        if {setup[i] for setup in setups_a} != {setup[i] for setup in setups_b}
    ]


def _values(runs: list[RunRow], column: str) -> list[float]:
    return [run.figures[column] for run in runs if column in run.figures]


def _geomean(entries: Iterable[EntryComparison], metric: str) -> GeoMean:
    ratios = []
    for entry in entries:
        found = entry.metric(metric) if entry.verdict in COMPARED else None
        if found is not None and found.judgement.ratio is not None and found.judgement.ratio > 0:
            ratios.append(found.judgement.ratio)
    return GeoMean(metric, stats.geometric_mean(ratios), len(ratios))


def _with_code_changes(
    entries: list[EntryComparison],
    runs_a: dict[str, list[RunRow]],
    runs_b: dict[str, list[RunRow]],
    functions: Rows,
    lines: Rows | None,
    metric: str,
    show_all: bool,
    judge_with: Callable[[Sequence[float], Sequence[float]], Judgement],
    cells: Rows | None = None,
) -> list[EntryComparison]:
    """Attach the functions (and lines) that changed most, the functions behind the change, and
    a notebook's cells, to the entries that changed."""
    sides: dict[str, tuple[str, str]] = {}  # ok run id -> (entry, side)
    attributed = set()
    for entry in entries:
        if entry.verdict in ("faster", "slower") or (show_all and entry.verdict in COMPARED):
            attributed.add(entry.entry)
            for side, runs in (("a", runs_a[entry.entry]), ("b", runs_b[entry.entry])):
                sides.update(
                    (run.run_id, (entry.entry, side)) for run in runs if run.status == "ok"
                )
    if not sides:
        return entries
    rank_by = "peak_mb" if metric == "memory" else "seconds"
    function_rows = _load(functions, sides)
    found_functions = code_changes(function_rows, sides, "name", rank_by)
    found_lines = {}
    if lines is not None:
        found_lines = code_changes(_load(lines, sides), sides, "lineno", rank_by)
    found_cells = {} if cells is None else cell_changes(_load(cells, sides), sides)
    return [
        replace(
            entry,
            functions=found_functions.get(entry.entry, ()),
            lines=found_lines.get(entry.entry, ()),
            attribution=_attribution(
                entry,
                runs_a.get(entry.entry, []),
                runs_b.get(entry.entry, []),
                function_rows,
                rank_by,
                judge_with,
            )
            if entry.entry in attributed
            else (),
            cells=found_cells.get(entry.entry, ()),
        )
        for entry in entries
    ]


def _attribution(
    entry: EntryComparison,
    runs_a: list[RunRow],
    runs_b: list[RunRow],
    rows: pd.DataFrame,
    quantity: str,
    judge_with: Callable[[Sequence[float], Sequence[float]], Judgement],
) -> tuple[Attribution, ...]:
    """The functions behind an entry's change (see `fixingahole.attribution`)."""
    ok_a = [run for run in runs_a if run.status == "ok"]
    ok_b = [run for run in runs_b if run.status == "ok"]
    if not ok_a or not ok_b:
        return ()
    # Function seconds are shares of Scalene's elapsed time, so for time they are set against
    # its change; for memory, and without elapsed figures, against the primary metric's.
    column = "elapsed_s" if quantity == "seconds" else entry.primary
    if not all(column in run.figures for run in ok_a + ok_b):
        column = entry.primary
    values_a = [run.figures[column] for run in ok_a if column in run.figures]
    values_b = [run.figures[column] for run in ok_b if column in run.figures]
    delta = None
    if values_a and values_b:
        delta = statistics.median(values_b) - statistics.median(values_a)
    ids_a, ids_b = [run.run_id for run in ok_a], [run.run_id for run in ok_b]
    return attribute(rows, ids_a, ids_b, delta, judge_with, quantity=quantity)


def _load(source: Rows, sides: Sides) -> pd.DataFrame:
    run_ids = list(sides)
    if callable(source):
        return source(run_ids)
    chosen: pd.DataFrame = source[source["run_id"].isin(run_ids)]
    return chosen
