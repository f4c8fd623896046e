"""A run's page (`report.html`): header, functions (and cells), memory, flame graph, line tables.

Built from what the run folder holds: the run's record (`summary.json`: the header, the
functions, cells and leaks, exactly as stored) and Scalene's profile (the source lines, the heap
timeline and the call stacks). A run that did not finish says so at the top and shows whatever
was captured. Heat colours scale with the busiest line of the page: red for time, blue for
memory.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fixingahole.locations import Locator
from fixingahole.record import CellRow, FunctionRow, RunRecord, RunStatus
from fixingahole.report import reported_files
from fixingahole.report.flame import Flame, build_flame, icicle_trace, in_seconds, parse_folded
from fixingahole.report.folded import render_folded
from fixingahole.report.page import render_page
from fixingahole.scalene_output import FileStat, LineStat, Profile

FILE_MIN_PERCENT = 1.0  # as the text report: files taking less of the run get no line table
ALL_LINES_UP_TO = 400  # files this long show every line; longer ones only busy lines
BANNERS = {
    RunStatus.FAILED: "This run failed; the page shows what Scalene captured before it stopped.",
    RunStatus.TIMEOUT: (
        "This run was stopped at its timeout; the page shows what was captured until then."
    ),
    RunStatus.INTERRUPTED: "This run was interrupted; the page shows what was captured until then.",
    RunStatus.NO_SAMPLES: "Scalene collected no samples in this run.",
}
CELL_COLUMNS = ("percent", "seconds", "peak_mb", "malloc_mb")  # a cell's figures, as columns


@dataclass(frozen=True)
class Column:
    title: str
    numeric: bool = False


@dataclass(frozen=True)
class Cell:
    text: str
    value: Any = None  # what the column sorts by, when not the text
    cls: str = ""
    style: str = ""


def render_run_page(record: RunRecord, profile: Profile, locator: Locator) -> str:
    """The page of one run, as HTML text."""
    charts = []
    memory_chart = _memory_chart(profile, record, locator)
    if memory_chart:
        charts.append(memory_chart)
    flame = build_flame(
        in_seconds(parse_folded(render_folded(profile, locator)), profile.elapsed_s)
    )
    if len(flame) > 1:
        charts.append(flame_chart("flame-chart", flame))
    return render_page(
        "run.html.j2",
        title=f"{record.entry}: {record.run_id}",
        charts=charts,
        banner=_banner(record.status, record.error),
        status=record.status.value,
        command=record.command,
        exit_code=record.exit_code,
        run_id=record.run_id,
        started=record.started_utc.replace("T", " ").rstrip("Z"),
        facts=_facts(record),
        totals=_totals(record),
        environment=_environment(record),
        functions=_functions(record),
        cells=_cells(record.cells),
        memory_chart=bool(memory_chart),
        flame_chart=len(flame) > 1,
        memory_note=_memory_note(record),
        leaks=_leaks(record),
        trace=record.trace,
        files=_files(profile, record, locator),
        memory=record.memory,
        file_min=f"{FILE_MIN_PERCENT:g}",
    )


def _banner(status: RunStatus, error: str | None) -> dict[str, str] | None:
    if status is RunStatus.OK:
        return None
    return {
        "title": BANNERS.get(status, f"This run ended with status {status.value}."),
        "detail": error or "",
    }


def _facts(record: RunRecord) -> list[tuple[str, str]]:
    facts = [("target", f"{record.target} ({record.kind})")]
    git = record.git
    if git is not None and git.commit:
        dirty = " with uncommitted changes" if git.dirty else ""
        facts.append(("commit", f"{git.commit[:12]} on {git.branch or '?'}{dirty}"))
    facts.append(("mode", record.mode))
    if record.tags:
        facts.append(("tags", ", ".join(record.tags)))
    if record.log_counts:
        logs = ", ".join(f"{n} {level}" for level, n in record.log_counts.items())
        facts.append(("logs", logs))
    return facts


def _totals(record: RunRecord) -> list[tuple[str, str]]:
    totals = [
        ("wall time", _seconds(record.wall_s)),
        ("CPU time", _seconds(record.cpu_s)),
        ("Scalene elapsed", _seconds(record.elapsed_s)),
        ("max RSS", _mb(record.max_rss_mb)),
    ]
    if record.peak_heap_mb is not None:
        totals.append(("heap peak", _mb(record.peak_heap_mb)))
    totals.append(("functions", str(len(record.functions))))
    return totals


def _environment(record: RunRecord) -> list[tuple[str, str]]:
    return [(key, str(value)) for key, value in record.environment.to_json().items()]


def _functions(record: RunRecord) -> dict[str, Any]:
    columns = [
        Column("function"),
        Column("location"),
        Column("time %", True),
        Column("seconds", True),
        Column("peak MB", True),
        Column("alloc MB", True),
    ]
    rows = [[Cell(f.name), Cell(f.location, cls="mono"), *_figures(f)] for f in record.functions]
    return {"columns": columns, "rows": rows}


def _cells(cells: Sequence[CellRow]) -> dict[str, Any] | None:
    """The notebook's cells (number, first line, figures), when the record has any."""
    if not cells:
        return None
    columns = [Column("cell", True), Column("first line", True)]
    columns += [Column(_title(key), True) for key in CELL_COLUMNS]
    rows = [
        [Cell(str(c.cell), c.cell, "num"), Cell(c.first_line, c.first_line, "num")]
        + [_number_cell(getattr(c, key), 3 if key.endswith("mb") else 2) for key in CELL_COLUMNS]
        for c in cells
    ]
    return {"columns": columns, "rows": rows}


def _leaks(record: RunRecord) -> dict[str, Any]:
    columns = [Column("location"), Column("likelihood %", True), Column("MB/s", True)]
    rows = [
        [
            Cell(k.location, cls="mono"),
            _number_cell(100 * k.likelihood, 0),
            _number_cell(k.velocity_mb_s, 3),
        ]
        for k in record.leaks
    ]
    return {"columns": columns, "rows": rows}


def _figures(stat: FunctionRow) -> list[Cell]:
    return [
        _number_cell(stat.percent, 1),
        _number_cell(stat.seconds, 3),
        _number_cell(stat.peak_mb, 1),
        _number_cell(stat.malloc_mb, 1),
    ]


def _number_cell(value: object, digits: int) -> Cell:
    if not isinstance(value, (int, float)):
        return Cell("", 0, "num")
    return Cell(f"{value:.{digits}f}", value, "num")


def _memory_note(record: RunRecord) -> str:
    if not record.memory:
        return "Memory was not profiled in this run (profile with --memory for a timeline)."
    return "Scalene recorded no memory samples in this run."


def _memory_chart(profile: Profile, record: RunRecord, locator: Locator) -> dict[str, Any] | None:
    """The heap footprint over time, the peak marked, leaks named in the corner."""
    if not profile.heap_timeline:
        return None
    times = [round(t, 4) for t, _ in profile.heap_timeline]
    sizes = [round(mb, 3) for _, mb in profile.heap_timeline]
    top = max(range(len(sizes)), key=sizes.__getitem__)
    peak_mb = profile.peak_heap_mb if profile.peak_heap_mb is not None else sizes[top]
    where = locator.location(profile.peak_file, profile.peak_lineno) if profile.peak_file else ""
    data = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": times,
            "y": sizes,
            "name": "heap",
            "line": {"color": "rgb(40,100,200)", "shape": "hv"},
            "fill": "tozeroy",
            "hovertemplate": "%{x:.2f} s: %{y:.1f} MB<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "markers",
            "x": [times[top]],
            "y": [sizes[top]],
            "name": "largest sample",
            "marker": {"color": "rgb(40,100,200)", "size": 10},
            "hovertemplate": "largest footprint sample: %{y:.1f} MB at %{x:.2f} s<extra></extra>",
        },
        {
            "type": "scatter",
            "mode": "lines",
            "x": [times[0], times[-1]],
            "y": [peak_mb, peak_mb],
            "name": "peak",
            "line": {"color": "rgb(214,66,50)", "dash": "dash"},
            "hovertemplate": f"Scalene's heap peak: {peak_mb:.1f} MB {where}<extra></extra>",
        },
    ]
    annotations = [
        {
            "text": f"peak {peak_mb:.1f} MB" + (f" at {where}" if where else ""),
            "showarrow": False,
            "x": times[-1],
            "y": peak_mb,
            "xanchor": "right",
            "yanchor": "bottom",
            "font": {"color": "rgb(179,38,30)"},
        }
    ]
    leaks = [f"{k.location} ({100 * k.likelihood:.0f}%)" for k in record.leaks]
    if leaks:
        annotations.append(
            {
                "text": "possible leaks: " + "; ".join(leaks[:3]),
                "showarrow": False,
                "xref": "paper",
                "yref": "paper",
                "x": 0,
                "y": 1.08,
                "xanchor": "left",
                "font": {"color": "rgb(179,38,30)"},
            }
        )
    layout = {
        "xaxis": {"title": {"text": "seconds since start"}},
        "yaxis": {"title": {"text": "heap MB"}, "rangemode": "tozero"},
        "showlegend": False,
        "annotations": annotations,
    }
    return {"id": "memory-chart", "data": data, "layout": layout}


def flame_chart(chart_id: str, flame: Flame) -> dict[str, Any]:
    """A flame graph of one call tree: plotly's icicle, root at the bottom, click to zoom."""
    root = flame.total[0] or 1.0
    custom = [
        [file, total, 100 * total / root, own]
        for file, total, own in zip(flame.files, flame.total, flame.self, strict=True)
    ]
    trace = {
        **icicle_trace(flame, flame.total, "total", custom),
        "tiling": {"orientation": "v", "flip": "y"},
        "sort": False,
        "marker": {"colors": [_file_colour(f) for f in flame.files]},
        "hovertemplate": "<b>%{label}</b> %{customdata[0]}<br>%{customdata[1]:.3f} s "
        "(%{customdata[2]:.1f}%) including calls<br>%{customdata[3]:.3f} s in itself"
        "<extra></extra>",
        "texttemplate": "%{label}",
        "maxdepth": -1,
    }
    return {"id": chart_id, "data": [trace], "layout": {"margin": {"l": 5, "r": 5, "t": 5, "b": 5}}}


def _file_colour(file: str) -> str:
    """A warm colour per file, stable from page to page."""
    if not file:
        return "rgb(200,200,200)"
    hue = sum(file.encode()) * 37 % 50  # reds to yellows
    return f"hsl({hue},80%,{62 + hue % 3 * 5}%)"


def _files(profile: Profile, record: RunRecord, locator: Locator) -> list[dict[str, Any]]:
    files = [f for f in reported_files(profile, locator) if _busy(f, record.memory)]
    files.sort(key=lambda f: -f.percent)
    most_time = max((line.percent for f in files for line in f.lines), default=0.0) or 1.0
    most_memory = max((line.malloc_mb for f in files for line in f.lines), default=0.0) or 1.0
    return [
        {
            "name": locator.name(file.path),
            "caption": f"{file.percent:.1f}% of the time, {profile.seconds(file.percent):.2f} s",
            "rows": _line_rows(profile, file, locator, (most_time, most_memory)),
        }
        for file in files
    ]


def _busy(file: FileStat, memory: bool) -> bool:
    return file.percent >= FILE_MIN_PERCENT or (
        memory and any(line.malloc_mb > 0 for line in file.lines)
    )


def _line_rows(
    profile: Profile, file: FileStat, locator: Locator, scale: tuple[float, float]
) -> list[dict[str, str] | None]:
    """Every line of a short file; of a long one the busy lines, None where lines were left out.
    A notebook's generated lines (the converter's, in no cell) show only when they took time."""
    everything = len(file.lines) <= ALL_LINES_UP_TO
    rows: list[dict[str, str] | None] = []
    previous = 0
    for line in file.lines:
        scaffolding = locator.line(file.path, line.lineno).startswith("[generated")
        if (scaffolding or not everything) and not _active(line):
            continue  # a notebook's generated lines show only when they took something
        if line.lineno > previous + 1 and (rows or line.lineno > 1):
            rows.append(None)
        previous = line.lineno
        rows.append(_line_row(profile, file, line, locator, scale))
    return rows


def _active(line: LineStat) -> bool:
    return line.percent > 0 or line.peak_mb > 0 or line.malloc_mb > 0


def _line_row(
    profile: Profile,
    file: FileStat,
    line: LineStat,
    locator: Locator,
    scale: Sequence[float],
) -> dict[str, str]:
    return {
        "label": locator.line(file.path, line.lineno),
        "percent": f"{line.percent:.1f}" if line.percent > 0 else "",
        "seconds": f"{profile.seconds(line.percent):.3f}" if line.percent > 0 else "",
        "peak": f"{line.peak_mb:.1f}" if line.peak_mb > 0 else "",
        "malloc": f"{line.malloc_mb:.1f}" if line.malloc_mb > 0 else "",
        "time_style": _heat("--time", line.percent / scale[0]),
        "memory_style": _heat("--mem", line.malloc_mb / scale[1]),
        "source": locator.source(file.path, line.lineno, line.source).rstrip(),
    }


def _heat(colour: str, share: float) -> str:
    if share <= 0:
        return ""
    return f"background: rgba(var({colour}), {0.08 + 0.6 * min(share, 1.0):.2f})"


def _title(key: str) -> str:
    return {
        "percent": "time %",
        "seconds": "seconds",
        "peak_mb": "peak MB",
        "malloc_mb": "alloc MB",
    }.get(key, key)


def _seconds(value: object) -> str:
    return f"{value:.2f} s" if isinstance(value, (int, float)) else "-"


def _mb(value: object) -> str:
    return f"{value:.1f} MB" if isinstance(value, (int, float)) else "-"
