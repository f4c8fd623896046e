"""A `Comparison` as text (terminal), markdown (a pull-request comment), JSON, CSV or a page.

The JSON is an object: `header` (each side's selector, run ids, commits, branches, hosts, Python
and Scalene versions; the settings; warnings), `entries` (per entry: `entry`, `verdict`,
`primary_metric`, `code_changed`, `regressed`, `runs`, `notes`, and `metrics`: per metric, each
side's `n`, `median`, `mean`, `std`, `min`, `max`, then `ratio` (B / A of the medians),
`change_pct`, `p_value`, `repeatability` (instruction counts: the measured spread of one code
version's counts, which stands in for a p-value), `verdict` and `note`; plus `functions`,
`lines`, for a notebook `cells`, and `attribution`: the functions behind the change, largest share
first, each with `function`, `file`, `lineno`, `location`, `status`, `delta_s` (`delta_mb` with
metric memory), `share_pct`, `p_value` and `verdict`), `geomean` (per metric) and `exit_code`.
Missing figures are null. The CSV has one row per entry and metric, then one per attributed
function (metric `function`, with the function's columns filled and its delta in `function_delta`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.attribution import Attribution
from fixingahole.compare import (
    COUNTS,
    METRIC_LABELS,
    CellChange,
    CodeChange,
    CodeFigures,
    Comparison,
    EntryComparison,
    GeoMean,
    MetricComparison,
    Side,
)
from fixingahole.errors import UserError
from fixingahole.stats import Figures

if TYPE_CHECKING:
    import pandas as pd

FORMATS = ("text", "markdown", "json", "csv", "html")
UNITS = {
    "wall_s": "s",
    "cpu_s": "s",
    "peak_heap_mb": "MB",
    "max_rss_mb": "MB",
    "instructions": "count",
    "script_instructions": "count",
}
LISTED_RUNS = 6  # the text header names a side's runs when it has at most this many
FIGURES = ("n", "median", "mean", "std", "min", "max")
# in the JSON: what functions, lines and cells all carry, then what each adds
CODE_FIGURES = ("seconds_a", "seconds_b", "delta_seconds", "seconds_pct", "peak_mb_a", "peak_mb_b")
CHANGE_FIELDS = ("location", "name", "status", *CODE_FIGURES, "delta_peak_mb", "peak_pct")
CELL_FIELDS = ("cell_a", "cell_b", "first_line", "status", *CODE_FIGURES)
CSV_COLUMNS = (
    "entry",
    "verdict",
    "primary_metric",
    "code_changed",
    "regressed",
    "metric",
    "metric_verdict",
    *(f"a_{name}" for name in FIGURES),
    *(f"b_{name}" for name in FIGURES),
    "ratio",
    "change_pct",
    "p_value",
    "repeatability",
    "function",
    "file",
    "lineno",
    "function_delta",
    "share_pct",
)
ATTRIBUTED = 5  # the text names this many functions behind a change
# the columns of a function's, line's or cell's figures in the text tables
CODE_FIGURE_COLUMNS = ("A s", "B s", "change s", "change %", "A peak MB", "B peak MB")


def render(
    comparison: Comparison,
    fmt: str = "text",
    *,
    runs: pd.DataFrame | None = None,
    output: Path | None = None,
) -> str:
    """The comparison in one of FORMATS. For html, `runs` (the store's runs table) and `output`
    (the folder of the run folders) add every run's dot and the differential flame graph."""
    if fmt == "html":
        from fixingahole.report.compare_page import render_compare_page

        return render_compare_page(comparison, runs, output)
    if fmt == "text":
        return _tables(comparison, markdown=False)
    if fmt == "markdown":
        return _tables(comparison, markdown=True)
    if fmt == "json":
        return json.dumps(to_dict(comparison), indent=2) + "\n"
    if fmt == "csv":
        return _csv(comparison)
    raise UserError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def to_dict(comparison: Comparison) -> dict[str, Any]:
    """The comparison as plain JSON-ready data."""
    header = comparison.header
    return {
        "header": {
            "a": _side_dict(header.a),
            "b": _side_dict(header.b),
            "metric": header.metric,
            "threshold": header.threshold,
            "alpha": header.alpha,
            "fail_on_regression": header.fail_on_regression,
            "warnings": list(header.warnings),
        },
        "entries": [_entry_dict(entry, _unit(comparison)) for entry in comparison.entries],
        "geomean": {
            row.metric: {
                "ratio": row.ratio,
                "change_pct": _change(row.ratio),
                "entries": row.entries,
            }
            for row in comparison.geomean
        },
        "exit_code": comparison.exit_code,
    }


def _side_dict(side: Side) -> dict[str, Any]:
    return {
        "selector": side.selector,
        "runs": list(side.run_ids),
        "commits": list(side.commits),
        "branches": list(side.branches),
        "hosts": list(side.hosts),
        "python": list(side.pythons),
        "scalene": list(side.scalenes),
    }


def _entry_columns(entry: EntryComparison) -> dict[str, Any]:
    """What the JSON and every CSV row say of an entry first."""
    return {
        "entry": entry.entry,
        "verdict": entry.verdict,
        "primary_metric": entry.primary,
        "code_changed": entry.code_changed,
        "regressed": entry.regressed,
    }


def _entry_dict(entry: EntryComparison, unit: str) -> dict[str, Any]:
    return {
        **_entry_columns(entry),
        "runs": {"a": list(entry.runs_a), "b": list(entry.runs_b)},
        "notes": list(entry.notes),
        "metrics": {metric.metric: _metric_dict(metric) for metric in entry.metrics},
        "functions": [_fields(change, CHANGE_FIELDS) for change in entry.functions],
        "lines": [_fields(change, CHANGE_FIELDS) for change in entry.lines],
        "attribution": [attribution_dict(item, unit) for item in entry.attribution],
        "cells": [_fields(change, CELL_FIELDS) for change in entry.cells],
    }


def attribution_dict(item: Attribution, unit: str) -> dict[str, Any]:
    """One attributed function as JSON-ready data; its delta is in `unit` (s or MB)."""
    return {
        "function": item.function,
        "file": item.file,
        "lineno": item.lineno,
        "location": item.location,
        "status": item.status,
        f"delta_{unit.lower()}": item.delta,
        "share_pct": item.share_pct,
        f"of_change_{unit.lower()}": item.of_change,
        "p_value": item.p_value,
        "verdict": item.verdict,
    }


def _unit(comparison: Comparison) -> str:
    """What attribution's figures are in: MB of peak memory, or seconds."""
    return "MB" if comparison.header.metric == "memory" else "s"


def _metric_dict(metric: MetricComparison) -> dict[str, Any]:
    judgement = metric.judgement
    return {
        "a": _fields(metric.a, FIGURES),
        "b": _fields(metric.b, FIGURES),
        "ratio": judgement.ratio,
        "change_pct": _change(judgement.ratio),
        "p_value": judgement.p_value,
        "repeatability": judgement.repeatability,
        "verdict": judgement.verdict,
        "note": judgement.note,
    }


def _fields(record: object, names: Sequence[str]) -> dict[str, Any]:
    """The named attributes of a record, in that order, as JSON-ready data."""
    return {name: getattr(record, name) for name in names}


def _change(ratio: float | None) -> float | None:
    return None if ratio is None else (ratio - 1) * 100


def _csv(comparison: Comparison) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for entry in comparison.entries:
        columns = _entry_columns(entry)  # on each of its rows
        for metric in entry.metrics:
            judgement = metric.judgement
            writer.writerow(
                {
                    **columns,
                    "metric": metric.metric,
                    "metric_verdict": judgement.verdict,
                    **{f"a_{name}": getattr(metric.a, name) for name in FIGURES},
                    **{f"b_{name}": getattr(metric.b, name) for name in FIGURES},
                    "ratio": judgement.ratio,
                    "change_pct": _change(judgement.ratio),
                    "p_value": judgement.p_value,
                    "repeatability": judgement.repeatability,
                }
            )
        for item in entry.attribution:
            writer.writerow(
                {
                    **columns,
                    "metric": "function",
                    "metric_verdict": item.verdict,
                    "p_value": item.p_value,
                    "function": item.function,
                    "file": item.file,
                    "lineno": item.lineno,
                    "function_delta": item.delta,
                    "share_pct": item.share_pct,
                }
            )
    return out.getvalue()


def _tables(comparison: Comparison, *, markdown: bool) -> str:
    """The header, the table of entries, notes, and the functions and lines that moved most."""
    from tabulate import tabulate

    table_format = "github" if markdown else "simple"
    cell = _escape if markdown else str
    parts = ["## Comparison" if markdown else "", *_header_lines(comparison, markdown)]
    rows = []
    for entry in comparison.entries:
        name = cell(entry.entry + (" *" if entry.code_changed else ""))
        for index, metric in enumerate(entry.metrics):
            rows.append(
                [
                    name if index == 0 else "",
                    entry.verdict if index == 0 else "",
                    f"{METRIC_LABELS[metric.metric]} ({UNITS[metric.metric]})",
                    _figures_cell(metric.a, metric.metric),
                    _figures_cell(metric.b, metric.metric),
                    _number(metric.judgement.ratio, ".3f"),
                    _signed_pct(_change(metric.judgement.ratio)),
                    _p_cell(metric),
                    metric.judgement.verdict or "",
                ]
            )
    rows.extend(_geomean_rows(comparison.geomean))
    columns = ["entry", "verdict", "metric", "A", "B", "ratio", "change", "p", "metric verdict"]
    parts += ["", tabulate(rows, headers=columns, tablefmt=table_format, disable_numparse=True)]
    notes = [f"{cell(entry.entry)}: {note}" for entry in comparison.entries for note in entry.notes]
    if notes:
        parts += ["", "Notes:", *(f"- {note}" for note in notes)]
    for entry in comparison.entries:
        if entry.attribution:
            parts += ["", *_attribution_lines(entry, _unit(comparison), markdown)]
        for kind, changes in (("functions", entry.functions), ("lines", entry.lines)):
            if changes:
                title = f"{cell(entry.entry)}: the {kind} that changed most (medians over runs)"
                parts += ["", f"### {title}" if markdown else title, ""]
                parts.append(_changes_table(changes, kind, markdown))
        if entry.cells:
            title = f"{cell(entry.entry)}: cells, matched by their source (medians over runs)"
            parts += ["", f"### {title}" if markdown else title, ""]
            parts.append(_cells_table(entry.cells, markdown))
    parts += ["", _outcome(comparison)]
    return "\n".join(parts).lstrip("\n") + "\n"


def _attribution_lines(entry: EntryComparison, unit: str, markdown: bool) -> list[str]:
    """One sentence for each of the top functions behind the entry's change."""
    cell = _escape if markdown else str
    title = f"{cell(entry.entry)}: where the change is (shares of the profiled time's change)"
    lines = [f"### {title}" if markdown else title, ""]
    for item in entry.attribution[:ATTRIBUTED]:
        text = attribution_text(item, unit)
        lines.append(f"- {cell(text)}" if markdown else f"  {text}")
    return lines


def attribution_text(item: Attribution, unit: str) -> str:
    """`92% of the +1.8 s is in advance (bm_nbody.py:68): +1.66 s, p = 0.004, slower`."""
    share = "" if item.share_pct is None else f"{item.share_pct:.0f}% of the "
    total = "change" if item.of_change is None else f"{item.of_change:+.3g} {unit}"
    p_value = "" if item.p_value is None else f", p = {item.p_value:.2g}"
    return (
        f"{share}{total} is in {item.function} ({item.location}): "
        f"{item.delta:+.3g} {unit}{p_value}, {item.verdict}"
    )


def _header_lines(comparison: Comparison, markdown: bool) -> list[str]:
    header = comparison.header
    a_selector = header.a.selector or f"the runs just before {header.b.selector}"
    lines = [
        f"A: {a_selector} - {_side_summary(header.a)}",
        f"B: {header.b.selector} - {_side_summary(header.b)}",
        f"threshold {header.threshold:.0%}, alpha {header.alpha:g}, metric {header.metric}; "
        "* = the profiled code changed between the sides",
    ]
    if header.fail_on_regression is not None:
        how = "the count grew" if header.metric == "instructions" else "significantly worse"
        lines.append(f"gate: fail when {how} by more than {header.fail_on_regression:.0%}")
    if COUNTS[0] in header.metrics:
        lines.append(
            "instructions: counted under Cachegrind, judged without a test; p holds the "
            "measured repeatability (the spread of one code version's counts) instead"
        )
    lines += [f"warning: {warning}" for warning in header.warnings]
    if markdown:
        lines = [
            f"> {_escape(line)}  " if line.startswith("warning") else f"{line}  " for line in lines
        ]
    return lines


def _side_summary(side: Side) -> str:
    """Its runs (named when few, else the first and last) and their commits and branches."""
    commits = ", ".join(commit[:10] for commit in side.commits) or "no git commit"
    branches = f" on {', '.join(side.branches)}" if side.branches else ""
    ids = side.run_ids
    if len(ids) <= LISTED_RUNS:
        runs = f"{len(ids)} run{'s' if len(ids) != 1 else ''} ({', '.join(ids)})"
    else:
        runs = f"{len(ids)} runs ({ids[0]} ... {ids[-1]})"
    return f"{runs}; commit {commits}{branches}"


def _geomean_rows(geomean: tuple[GeoMean, ...]) -> list[list[str]]:
    rows: list[list[str]] = []
    for row in geomean:
        if row.ratio is None:
            continue
        label = "geometric mean" if not rows else ""
        rows.append(
            [
                label,
                f"{row.entries} entries" if not rows else "",
                f"{METRIC_LABELS[row.metric]} ({UNITS[row.metric]})",
                "",
                "",
                _number(row.ratio, ".3f"),
                _signed_pct(_change(row.ratio)),
                "",
                "",
            ]
        )
    return rows


def _changes_table(changes: tuple[CodeChange, ...], kind: str, markdown: bool) -> str:
    from tabulate import tabulate

    cell = _escape if markdown else str
    rows = [
        [
            cell(str(change.name) if kind == "functions" else change.location),
            cell(change.location) if kind == "functions" else "",
            change.status,
            *_code_figure_cells(change),
            f"{change.delta_peak_mb:+.4g}",
        ]
        for change in changes
    ]
    columns = [
        "function" if kind == "functions" else "line",
        "location" if kind == "functions" else "",
        "status",
        *CODE_FIGURE_COLUMNS,
        "change MB",
    ]
    if kind == "lines":
        rows = [row[:1] + row[2:] for row in rows]
        columns = columns[:1] + columns[2:]
    table_format = "github" if markdown else "simple"
    return tabulate(rows, headers=columns, tablefmt=table_format, disable_numparse=True)


def _cells_table(changes: tuple[CellChange, ...], markdown: bool) -> str:
    """A notebook's cells on both sides: numbers, whether the source changed, and the deltas."""
    from tabulate import tabulate

    cell = _escape if markdown else str
    rows = [
        [
            "" if change.cell_a is None else str(change.cell_a),
            "" if change.cell_b is None else str(change.cell_b),
            change.status,
            cell(change.first_line[:40]),
            *_code_figure_cells(change),
        ]
        for change in changes
    ]
    columns = ["A cell", "B cell", "source", "first line", *CODE_FIGURE_COLUMNS]
    table_format = "github" if markdown else "simple"
    return tabulate(rows, headers=columns, tablefmt=table_format, disable_numparse=True)


def _code_figure_cells(figures: CodeFigures) -> list[str]:
    """The cells of CODE_FIGURE_COLUMNS: seconds on each side and their change, peak MB."""
    return [
        f"{figures.seconds_a:.3g}",
        f"{figures.seconds_b:.3g}",
        f"{figures.delta_seconds:+.3g}",
        _signed_pct(figures.seconds_pct),
        f"{figures.peak_mb_a:.4g}",
        f"{figures.peak_mb_b:.4g}",
    ]


def _outcome(comparison: Comparison) -> str:
    code = comparison.exit_code
    if code == 1:
        return f"regressed: {', '.join(comparison.regressions)} (exit code 1)"
    if code == 2:
        return "nothing to compare: no entry has ok runs on both sides (exit code 2)"
    if comparison.header.fail_on_regression is None:
        return "exit code 0: no regression gate was set"
    return "no regression past the gate (exit code 0)"


def _figures_cell(figures: Figures, metric: str) -> str:
    if figures.n == 0 or figures.median is None:
        return "-"
    if metric in COUNTS:
        return f"{figures.median:,.0f} (n={figures.n})"
    spread = f" ±{figures.std:.2g}" if figures.std is not None else ""
    return f"{figures.median:.4g}{spread} (n={figures.n})"


def _p_cell(metric: MetricComparison) -> str:
    """The p-value; for counts the measured repeatability (a spread), marked with ±."""
    if metric.metric not in COUNTS:
        return _number(metric.judgement.p_value, ".2g")
    repeatability = metric.judgement.repeatability
    if repeatability is None:
        return ""
    return f"±{repeatability:.2%}" if repeatability >= 1e-4 else f"±{repeatability * 100:.1e}%"


def _number(value: float | None, spec: str) -> str:
    return "" if value is None else format(value, spec)


def _signed_pct(value: float | None) -> str:
    return "" if value is None else f"{value:+.1f}%"


def _escape(text: str) -> str:
    """Markdown-safe cell text: pipes and asterisks escaped."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("*", "\\*")
