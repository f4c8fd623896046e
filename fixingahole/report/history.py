"""An entry's history: one metric over its stored runs, as a table, a page, or an SVG/PNG plot.

`build_history` turns the store's runs of one entry (oldest first) into `Point`s, one per run,
and `Version`s: stretches of consecutive runs with the same commit, dirty flag and content hash
(the code versions `compare` uses), each with the median of its successful runs. Failed runs are
plotted (marked) but never enter a median. `with_changes` finds the change points
(`fixingahole.changepoints`) and marks each as a vertical line labelled with its change. The page
is plotly (interactive, see `page.py`), the static plots matplotlib; the table is text or JSON.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.errors import UserError
from fixingahole.record import RunStatus

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes

    from fixingahole.changepoints import ChangePoint

# what tells one version of the code from another: (git commit, dirty, content hash)
_VersionKey = tuple[str, bool, str]

METRICS = {
    "wall": ("wall_s", "wall time", "s"),
    "cpu": ("cpu_s", "CPU time", "s"),
    "memory": ("peak_heap_mb", "heap peak", "MB"),
}
RSS = ("max_rss_mb", "max RSS", "MB")  # memory when no run of the entry measured the heap
STATIC_SUFFIXES = (".svg", ".png")


@dataclass(frozen=True)
class Point:
    """One run."""

    run_id: str
    started: datetime
    value: float | None  # None when the run has no figure for the metric
    ok: bool
    status: str
    version: int  # index into History.versions


@dataclass(frozen=True)
class Version:
    """A stretch of consecutive runs of the same code."""

    label: str  # short commit (`+` when dirty), or the content hash outside git
    commit: str | None
    first: datetime
    last: datetime
    median: float | None  # of its successful runs
    runs: int
    ok_runs: int


@dataclass(frozen=True)
class Marker:
    """A labelled moment on the time axis (for change points)."""

    at: datetime
    label: str


@dataclass(frozen=True)
class History:
    entry: str
    metric: str  # the runs column plotted
    label: str  # "wall time"
    unit: str
    points: tuple[Point, ...]
    versions: tuple[Version, ...]
    markers: tuple[Marker, ...] = ()
    changes: tuple[ChangePoint, ...] | None = None  # None: not looked for


def with_changes(history: History, threshold: float, alpha: float) -> History:
    """The history with its change points found and marked (rules in `fixingahole.changepoints`)."""
    from functools import partial

    from fixingahole.changepoints import change_points
    from fixingahole.compare import judge

    figures = [_ok_values(history, i) for i in range(len(history.versions))]
    measured = [i for i, values in enumerate(figures) if values]
    rule = partial(judge, threshold=threshold, alpha=alpha)
    found = change_points([figures[i] for i in measured], threshold, alpha, rule)
    changes = tuple(replace(point, at=measured[point.at]) for point in found)
    markers = tuple(
        Marker(history.versions[point.at].first, f"{point.change_pct:+.0f}%") for point in changes
    )
    return replace(history, markers=history.markers + markers, changes=changes)


def history_text(history: History, fmt: str = "text") -> str:
    """The versions (and change points, when looked for) as `text` or `json`."""
    if fmt == "json":
        return json.dumps(_history_dict(history), indent=2) + "\n"
    lines = [history_table(history)]
    if history.changes is not None:
        lines += ["", *_change_lines(history)]
    return "\n".join(lines) + "\n"


def _change_lines(history: History) -> list[str]:
    changes = history.changes or ()
    if not changes:
        return ["no change points: the level held over the whole history"]
    count = len(changes)
    lines = [
        f"{count} change point{'s' if count != 1 else ''} "
        "(PELT on the versions' medians, each confirmed over their runs):"
    ]
    for point in changes:
        version = history.versions[point.at]
        p_value = "" if point.p_value is None else f", p = {point.p_value:.2g}"
        lines.append(
            f"  at {version.label} ({version.first:%Y-%m-%d %H:%M}): "
            f"{_figure(point.median_before)} -> {_figure(point.median_after)} {history.unit} "
            f"({point.change_pct:+.1f}%){p_value}, {point.verdict}"
        )
    return lines


def _history_dict(history: History) -> dict[str, Any]:
    return {
        "entry": history.entry,
        "column": history.metric,
        "unit": history.unit,
        "versions": [
            {
                "commit": version.commit,
                "label": version.label,
                "first_run_utc": version.first.isoformat(),
                "runs": version.runs,
                "ok_runs": version.ok_runs,
                "median": version.median,
            }
            for version in history.versions
        ],
        "changes": None
        if history.changes is None
        else [
            {
                "commit": history.versions[point.at].commit,
                "version": point.at,
                "started_utc": history.versions[point.at].first.isoformat(),
                "median_before": point.median_before,
                "median_after": point.median_after,
                "change_pct": point.change_pct,
                "p_value": point.p_value,
                "verdict": point.verdict,
            }
            for point in history.changes
        ],
    }


def _ok_values(history: History, version: int) -> list[float]:
    return [
        p.value for p in history.points if p.version == version and p.ok and p.value is not None
    ]


def build_history(runs: pd.DataFrame, entry: str, metric: str = "wall") -> History:
    """The history of `entry` from the store's runs table (a DataFrame, oldest first)."""
    if metric not in METRICS:
        raise UserError(f"unknown metric {metric!r}: use one of {', '.join(METRICS)}")
    rows = runs[runs["entry"] == entry]
    if rows.empty:
        known = sorted(set(runs["entry"]))
        hint = f"; entries with runs: {', '.join(known[:10])}" if known else ""
        raise UserError(f"no runs of {entry!r} in the store{hint}")
    column, label, unit = METRICS[metric]
    if metric == "memory" and not rows[column].notna().any():
        column, label, unit = RSS
    records = rows[
        ["run_id", "started_utc", "status", column, "git_commit", "git_dirty", "code_hash"]
    ].itertuples(index=False, name=None)
    points: list[Point] = []
    keys: list[_VersionKey] = []
    for run_id, started, status, value, commit, dirty, code_hash in records:
        key = (_text(commit), _known(dirty) and bool(dirty), _text(code_hash))
        if not keys or keys[-1] != key:
            keys.append(key)
        figure = float(value) if _known(value) else None
        ok = status == RunStatus.OK.value
        points.append(Point(run_id, started.to_pydatetime(), figure, ok, status, len(keys) - 1))
    versions = tuple(
        _version(key, [p for p in points if p.version == i]) for i, key in enumerate(keys)
    )
    return History(entry, column, label, unit, tuple(points), versions)


def _version(key: _VersionKey, points: Sequence[Point]) -> Version:
    commit, dirty, code_hash = key
    if commit:
        label = commit[:8] + ("+" if dirty else "")
    else:
        label = code_hash.removeprefix("sha256:")[:8] or "?"
    ok = [p.value for p in points if p.ok and p.value is not None]
    return Version(
        label,
        commit or None,
        points[0].started,
        points[-1].started,
        statistics.median(ok) if ok else None,
        len(points),
        len(ok),
    )


def history_table(history: History) -> str:
    """One row per code version: its runs, median and range."""
    from tabulate import tabulate

    rows = []
    for i, version in enumerate(history.versions):
        values = _ok_values(history, i)
        rows.append(
            [
                version.label,
                version.first.strftime("%Y-%m-%d %H:%M"),
                f"{version.ok_runs}/{version.runs}",
                _figure(version.median),
                f"{_figure(min(values))} - {_figure(max(values))}" if values else "-",
            ]
        )
    headers = ["version", "first run (UTC)", "ok/runs", f"median {history.unit}", "range"]
    title = f"{history.entry}: {history.label} over {_runs(len(history.points))}"
    return title + "\n" + tabulate(rows, headers=headers, disable_numparse=True)


def history_figure(history: History) -> dict[str, Any]:
    """The plotly figure: runs as dots (failed ones as crosses), version medians as steps."""
    ok = [p for p in history.points if p.ok and p.value is not None]
    bad = [p for p in history.points if not p.ok and p.value is not None]
    labels = [v.label for v in history.versions]
    data: list[dict[str, Any]] = [
        _dots(ok, labels, "ok runs", {"color": "rgb(40,100,200)", "size": 7, "opacity": 0.75}),
        _dots(bad, labels, "failed runs", {"color": "rgb(214,66,50)", "size": 9, "symbol": "x"}),
    ]
    xs, ys = [], []
    for version in history.versions:
        if version.median is not None:
            xs += [_iso(version.first), _iso(version.last), None]
            ys += [version.median, version.median, None]
    data.insert(
        0,
        {
            "type": "scatter",
            "mode": "lines",
            "x": xs,
            "y": ys,
            "name": "median of each code version",
            "line": {"color": "rgb(32,40,58)", "width": 3},
            "hoverinfo": "skip",
        },
    )
    annotations = [
        {
            "x": _iso(v.first),
            "y": v.median,
            "text": v.label,
            "showarrow": False,
            "yanchor": "bottom",
            "xanchor": "left",
            "font": {"size": 11, "color": "rgb(32,40,58)"},
        }
        for v in history.versions
        if v.median is not None
    ] + [
        {
            "x": _iso(m.at),
            "y": 1,
            "yref": "paper",
            "text": m.label,
            "showarrow": False,
            "yanchor": "bottom",
            "font": {"size": 11, "color": "rgb(160,90,0)"},
        }
        for m in history.markers
    ]
    shapes = [
        {
            "type": "line",
            "x0": _iso(m.at),
            "x1": _iso(m.at),
            "yref": "paper",
            "y0": 0,
            "y1": 1,
            "line": {"color": "rgb(160,90,0)", "dash": "dot"},
        }
        for m in history.markers
    ]
    layout = {
        "xaxis": {"title": {"text": "run started (UTC)"}, "type": "date"},
        "yaxis": {"title": {"text": f"{history.label} ({history.unit})"}, "rangemode": "tozero"},
        "legend": {"orientation": "h", "y": -0.2},
        "annotations": annotations,
        "shapes": shapes,
        "hovermode": "closest",
    }
    return {"data": data, "layout": layout}


def _dots(
    points: Sequence[Point], labels: Sequence[str], name: str, marker: dict[str, Any]
) -> dict[str, Any]:
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "marker": marker,
        "x": [_iso(p.started) for p in points],
        "y": [p.value for p in points],
        "customdata": [[p.run_id, labels[p.version], p.status] for p in points],
        "hovertemplate": "%{customdata[0]}<br>%{y:.3f} (%{customdata[2]})<br>"
        "code %{customdata[1]}<extra></extra>",
    }


def render_history_page(history: History) -> str:
    """The interactive page."""
    from fixingahole.report.page import render_page

    chart = {"id": "history-chart", **history_figure(history)}
    return render_page(
        "history.html.j2",
        title=f"{history.entry}: {history.label} over its runs",
        charts=[chart],
        history=history,
        table=_version_rows(history),
    )


def _version_rows(history: History) -> list[list[str]]:
    return [
        [v.label, v.first.strftime("%Y-%m-%d %H:%M"), f"{v.ok_runs}/{v.runs}", _figure(v.median)]
        for v in history.versions
    ]


def write_static(history: History, path: Path) -> None:
    """An SVG or PNG plot (matplotlib, no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    figure, axes = plt.subplots(figsize=(10, 4.8), dpi=110)
    try:
        _draw(axes, history)
        figure.tight_layout()
        figure.savefig(path, format=path.suffix[1:].lower())
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror}") from None
    finally:
        plt.close(figure)


def _draw(axes: Axes, history: History) -> None:
    # matplotlib's stubs want numbers where it also takes datetimes (through its unit
    # converters) and where the values of `ok` and `bad` are never None: arg-type ignored there.
    ok = [p for p in history.points if p.ok and p.value is not None]
    bad = [p for p in history.points if not p.ok and p.value is not None]
    for version in history.versions:
        if version.median is None:
            continue
        axes.plot(
            [version.first, version.last],  # type: ignore[arg-type]
            [version.median] * 2,
            color="#20283a",
            lw=2.5,
            solid_capstyle="butt",
            zorder=3,
        )
        axes.annotate(
            version.label,
            (version.first, version.median),
            xytext=(2, 4),
            textcoords="offset points",
            fontsize=8,
            color="#20283a",
        )
    axes.scatter(
        [p.started for p in ok],  # type: ignore[arg-type]
        [p.value for p in ok],  # type: ignore[arg-type]
        s=18,
        color="#2864c8",
        alpha=0.75,
        label="ok runs",
        zorder=2,
    )
    if bad:
        axes.scatter(
            [p.started for p in bad],  # type: ignore[arg-type]
            [p.value for p in bad],  # type: ignore[arg-type]
            s=30,
            color="#d64232",
            marker="x",
            label="failed runs",
            zorder=2,
        )
    for marker in history.markers:
        axes.axvline(marker.at, color="#a05a00", ls=":", lw=1)  # type: ignore[arg-type]
        axes.annotate(
            marker.label,
            (marker.at, 1),
            xycoords=("data", "axes fraction"),
            xytext=(2, -12),
            textcoords="offset points",
            fontsize=8,
            color="#a05a00",
        )
    axes.plot([], [], color="#20283a", lw=2.5, label="median of each code version")
    axes.set_ylim(bottom=0)
    axes.set_ylabel(f"{history.label} ({history.unit})")
    axes.set_xlabel("run started (UTC)")
    axes.set_title(f"{history.entry}: {history.label} over {_runs(len(history.points))}")
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right", fontsize=8)
    axes.figure.autofmt_xdate()


def _runs(count: int) -> str:
    return f"{count} run" if count == 1 else f"{count} runs"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _text(value: object) -> str:
    return str(value) if _known(value) else ""


def _known(value: object) -> bool:
    """Not None, not NaN, not pandas' NA."""
    if value is None or str(value) == "<NA>":
        return False
    return not (isinstance(value, float) and math.isnan(value))
