"""A comparison as a page: ratios with every run as a dot, verdicts, function deltas, a diff flame.

The chart puts each entry's runs on one scale: a run's figure of the entry's primary metric
divided by the median of side A, so A's dots gather around 1 and the diamond at B's median is the
ratio of medians. For the costliest changed entry (the largest change in seconds among entries
judged slower, faster or ~; else the largest change), a differential flame graph sets the mean
call tree of B's runs against A's (from each run folder's `stacks.folded`): boxes are as wide as
the larger side, red where B spends more time, blue where it spends less.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.compare import METRIC_LABELS, Comparison, EntryComparison
from fixingahole.report.flame import (
    Flame,
    diff_flame,
    icicle_trace,
    in_seconds,
    mean_paths,
    parse_folded,
)
from fixingahole.report.page import render_page

if TYPE_CHECKING:
    import pandas as pd

    from fixingahole.report.flame import Path as CallPath

CHANGED = ("slower", "faster", "~")
SIDE_COLOURS = {"A": "rgb(120,130,150)", "B": "rgb(40,100,200)"}
VERDICT_COLOURS = {
    "slower": "rgb(214,66,50)",
    "faster": "rgb(27,127,59)",
    "~": "rgb(160,90,0)",
    "unchanged": "rgb(92,101,119)",
    "new": "rgb(31,79,163)",
    "missing": "rgb(214,66,50)",
    "failed": "rgb(214,66,50)",
}


def render_compare_page(
    comparison: Comparison, runs: pd.DataFrame | None = None, output: Path | None = None
) -> str:
    """The page; `runs` (the store's runs table) gives the dots, `output` (the folder of the
    run folders) the flame graph; without them the page shows the tables alone."""
    charts = []
    values = _run_values(runs, comparison) if runs is not None else {}
    if values:
        charts.append(_ratio_chart(comparison, values))
    costliest = _costliest(comparison)
    flame = None
    if costliest is not None and runs is not None and output is not None:
        flame = _entry_flame(costliest, runs, output)
        if flame is not None:
            charts.append(diff_flame_chart("flame-chart", flame))
    header = comparison.header
    return render_page(
        "compare.html.j2",
        title=f"{header.a.selector or 'before'} vs {header.b.selector}",
        charts=charts,
        header=header,
        sides=[("A", header.a), ("B", header.b)],
        entries=[_entry_row(entry) for entry in comparison.entries],
        geomean=[
            (METRIC_LABELS.get(g.metric, g.metric), _ratio(g.ratio), g.entries)
            for g in comparison.geomean
        ],
        ratio_chart=bool(values),
        flame_entry=costliest.entry if costliest is not None and flame is not None else None,
        functions=[_function_rows(e) for e in comparison.entries if e.functions],
    )


def _run_values(runs: pd.DataFrame, comparison: Comparison) -> dict[str, dict[str, float | None]]:
    """Run id -> {metric: figure} for the runs the comparison used."""
    wanted = {r for e in comparison.entries for r in (*e.runs_a, *e.runs_b)}
    rows = runs[runs["run_id"].isin(wanted)]
    columns = ["run_id", "status", "wall_s", "cpu_s", "peak_heap_mb", "max_rss_mb"]
    table: dict[str, dict[str, Any]] = {}
    for record in rows[columns].to_dict("records"):
        table[record["run_id"]] = {str(k): _number(v) for k, v in record.items() if k != "run_id"}
        table[record["run_id"]]["status"] = record["status"]
    return table


def _ratio_chart(comparison: Comparison, values: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Every run over the median of A, per entry; diamonds at the ratio of medians."""
    data: list[dict[str, Any]] = []
    for side in ("A", "B"):
        xs, ys, text = [], [], []
        for entry in comparison.entries:
            metric = entry.metric(entry.primary)
            base = metric.a.median if metric else None
            if not base:
                continue
            for run_id in entry.runs_a if side == "A" else entry.runs_b:
                figure = values.get(run_id, {}).get(entry.primary)
                if figure is not None:
                    xs.append(entry.entry)
                    ys.append(figure / base)
                    text.append(f"{run_id}: {figure:.3f} ({values[run_id]['status']})")
        data.append(
            {
                "type": "box",
                "boxpoints": "all",
                "jitter": 0.4,
                "pointpos": 0,
                "name": f"{side} runs",
                "x": xs,
                "y": ys,
                "text": text,
                "hovertemplate": "%{text}<br>%{y:.3f} x A's median<extra></extra>",
                "marker": {"color": SIDE_COLOURS[side], "size": 7},
                "line": {"width": 1},
                "fillcolor": "rgba(0,0,0,0)",
                "offsetgroup": side,
            }
        )
    ratios = [(e, e.metric(e.primary)) for e in comparison.entries]
    shown = [(e, m) for e, m in ratios if m and m.judgement.ratio is not None]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "ratio of medians (B / A)",
            "x": [e.entry for e, _ in shown],
            "y": [m.judgement.ratio for _, m in shown],
            "text": [e.verdict for e, _ in shown],
            "marker": {
                "symbol": "diamond",
                "size": 15,
                "line": {"width": 1, "color": "white"},
                "color": [VERDICT_COLOURS.get(e.verdict, "gray") for e, _ in shown],
            },
            "hovertemplate": "%{x}: B / A = %{y:.3f} (%{text})<extra></extra>",
        }
    )
    layout = {
        "boxmode": "group",
        "yaxis": {"title": {"text": "run / median of A (primary metric)"}},
        "shapes": [
            {
                "type": "line",
                "xref": "paper",
                "x0": 0,
                "x1": 1,
                "y0": 1,
                "y1": 1,
                "line": {"color": "rgb(92,101,119)", "dash": "dot"},
            }
        ],
        "legend": {"orientation": "h", "y": -0.15},
    }
    return {"id": "ratio-chart", "data": data, "layout": layout}


def _costliest(comparison: Comparison) -> EntryComparison | None:
    """The changed entry whose wall time moved most in seconds (any entry when none changed)."""

    def moved(entry: EntryComparison) -> float:
        metric = entry.metric("wall_s")
        if metric is None or metric.a.median is None or metric.b.median is None:
            return -1.0
        return abs(metric.b.median - metric.a.median)

    both = [e for e in comparison.entries if moved(e) >= 0]
    changed = [e for e in both if e.verdict in CHANGED] or both
    return max(changed, key=moved, default=None)


def _entry_flame(entry: EntryComparison, runs: pd.DataFrame, output: Path) -> Flame | None:
    """B's mean call tree against A's, from the run folders; None without stacks."""
    folders = dict(
        zip(runs["run_id"], zip(runs["run_dir"], runs["elapsed_s"], strict=True), strict=True)
    )

    def side(run_ids: Sequence[str]) -> list[dict[CallPath, float]]:
        trees = []
        for run_id in run_ids:
            run_dir, elapsed = folders.get(run_id, (None, 0.0))
            path = output / str(run_dir) / "stacks.folded" if run_dir else None
            if path is not None and path.is_file():
                paths = parse_folded(path.read_text(encoding="utf-8", errors="replace"))
                trees.append(in_seconds(paths, float(_number(elapsed) or 0.0)))
        return trees

    a, b = side(entry.runs_a), side(entry.runs_b)
    if not a or not b:
        return None
    return diff_flame(mean_paths(a), mean_paths(b))


def diff_flame_chart(chart_id: str, flame: Flame) -> dict[str, Any]:
    """The differential flame graph: width the larger side, colour B - A."""
    deltas = [b - a for a, b in zip(flame.total_a, flame.total, strict=True)]
    largest = max((abs(d) for d in deltas), default=0.0) or 1.0
    custom = [
        [file, a, b, b - a, _pct(a, b)]
        for file, a, b in zip(flame.files, flame.total_a, flame.total, strict=True)
    ]
    larger = [max(a, b) for a, b in zip(flame.self_a, flame.self, strict=True)]
    trace = {
        **icicle_trace(flame, larger, "remainder", custom),
        "sort": False,
        "tiling": {"orientation": "v", "flip": "y"},
        "marker": {
            "colors": deltas,
            "colorscale": "RdBu",  # plotly.js: blue low, red high
            "cmin": -largest,
            "cmax": largest,
            "cmid": 0,
            "showscale": True,
            "colorbar": {"title": {"text": "B - A (s)"}},
        },
        "hovertemplate": "<b>%{label}</b> %{customdata[0]}<br>A %{customdata[1]:.3f} s, "
        "B %{customdata[2]:.3f} s<br>%{customdata[3]:+.3f} s %{customdata[4]}<extra></extra>",
    }
    return {"id": chart_id, "data": [trace], "layout": {"margin": {"l": 5, "r": 5, "t": 5, "b": 5}}}


def _entry_row(entry: EntryComparison) -> dict[str, Any]:
    metric = entry.metric(entry.primary)
    return {
        "entry": entry.entry + (" *" if entry.code_changed else ""),
        "verdict": entry.verdict,
        "verdict_class": "tilde" if entry.verdict == "~" else entry.verdict,
        "metric": METRIC_LABELS.get(entry.primary, entry.primary),
        "a": _figure(metric.a.median if metric else None),
        "b": _figure(metric.b.median if metric else None),
        "runs": f"{len(entry.runs_a)} / {len(entry.runs_b)}",
        "ratio": _ratio(metric.judgement.ratio if metric else None),
        "p": _figure(metric.judgement.p_value if metric else None),
        "notes": "; ".join(entry.notes),
    }


def _function_rows(entry: EntryComparison) -> dict[str, Any]:
    rows = []
    for change in entry.functions:
        delta = change.delta_seconds
        rows.append(
            {
                "name": change.name or "",
                "location": change.location,
                "status": change.status,
                "a": f"{change.seconds_a:.3f}",
                "b": f"{change.seconds_b:.3f}",
                "delta": f"{delta:+.3f}",
                "delta_value": delta,
                "cls": "delta-up" if delta > 0 else "delta-down" if delta < 0 else "",
                "peak": f"{change.delta_peak_mb:+.1f}",
            }
        )
    return {"entry": entry.entry, "rows": rows}


def _pct(a: float, b: float) -> str:
    return f"({100 * (b - a) / a:+.0f}%)" if a > 0 else "(new)" if b > 0 else ""


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return None if number != number else number
