"""The record of a run, built from its profile when it ends (`build_record`): what
`summary.json` holds (schema in `fixingahole.record`, see docs/internals.md).

The store is built from these records, so every run folder can be re-indexed without Scalene.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.cells import CellStat
from fixingahole.locations import Locator
from fixingahole.record import (
    CellLine,
    CellRow,
    Environment,
    FunctionRow,
    GitInfo,
    InstructionCounts,
    LeakRow,
    LineRow,
    RunRecord,
    RunStatus,
)
from fixingahole.report import reported_profile
from fixingahole.scalene_output import CodeStat, FunctionStat, Leak, LineStat, Profile
from fixingahole.settings import display_path

if TYPE_CHECKING:
    from fixingahole.options import ProfileOptions
    from fixingahole.runner import ScaleneResult


def build_record(
    profile: Profile,
    locator: Locator,
    result: ScaleneResult,
    *,
    status: RunStatus,
    error: str | None,
    run_id: str,
    entry: str,
    target: Path,
    kind: str,
    started_utc: str | datetime,
    options: ProfileOptions,
    command: str,
    code_hash: str,
    git: GitInfo | None,
    environment: Environment,
    tags: Sequence[str] = (),
    cells: Sequence[CellStat] = (),
    instructions: InstructionCounts | None = None,
) -> RunRecord:
    """The record of a run that ended as `result` (its status and error as finally judged).

    `target` is the profiled file, named relative to root when under it. `started_utc` is a
    datetime (naive ones are taken as UTC) or the text `YYYY-MM-DDTHH:MM:SSZ`. The figures are
    what `reported_profile` keeps: no files of the locator's ignored folders, of fixing-a-hole
    itself, or of libraries unless `options.detailed`. `cells` are a notebook's
    (`fixingahole.cells.cell_stats`), in notebook order.
    """
    shown = reported_profile(profile, locator, options.detailed)
    return RunRecord(
        run_id=run_id,
        entry=entry,
        target=display_path(target, locator.root),
        kind=kind,
        status=status,
        exit_code=result.exit_code,
        started_utc=_utc_text(started_utc),
        wall_s=round(result.wall_s, 4),
        cpu_s=round(result.cpu_s, 4),
        elapsed_s=round(shown.elapsed_s, 4),
        max_rss_mb=round(result.max_rss_mb, 3),
        peak_heap_mb=_peak_heap(shown, options),
        mode=options.mode,
        options=recorded_options(options),
        command=command,
        tags=tuple(tags),
        code_hash=code_hash,
        git=git,
        environment=environment,
        log_counts=dict(result.log_counts),
        error=error,
        unprofiled_event_loop=result.ran_event_loop,
        functions=_functions(shown, locator),
        lines=_lines(shown, locator),
        leaks=_leaks(shown, locator),
        cells=tuple(_cell(shown, locator, cell) for cell in cells),
        instructions=instructions,
    )


def recorded_options(options: ProfileOptions) -> dict[str, Any]:
    """The options as JSON values, in field order (`mode` is the record's own field)."""
    record = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    del record["mode"]
    record["cwd"] = str(options.cwd) if options.cwd else None
    record["env"] = dict(options.env)
    return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()}


def _utc_text(moment: str | datetime) -> str:
    """`2025-01-01T14:30:00.123Z` (milliseconds: runs started in one second keep their order);
    a naive datetime is taken to be UTC already."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _peak_heap(profile: Profile, options: ProfileOptions) -> float | None:
    """Scalene's sampled heap peak, or None when memory was not profiled."""
    if options.mode != "memory" or profile.peak_heap_mb is None:
        return None
    return round(profile.peak_heap_mb, 3)


def _functions(profile: Profile, locator: Locator) -> tuple[FunctionRow, ...]:
    """Every reported function, by self time, descending."""
    functions = sorted(
        (f for file in profile.files for f in file.functions), key=lambda f: f.percent, reverse=True
    )
    return tuple(_function(profile, locator, f) for f in functions)


def _function(profile: Profile, locator: Locator, function: FunctionStat) -> FunctionRow:
    total = function.total_percent  # with callees, from the stacks; None without them
    return FunctionRow(
        file=locator.name(function.file),
        name=function.name,
        lineno=function.lineno,
        location=locator.location(function.file, function.lineno),
        **_figures(profile, function),
        total_percent=None if total is None else round(total, 4),
        total_seconds=None if total is None else round(profile.seconds(total), 4),
    )


def _lines(profile: Profile, locator: Locator) -> tuple[LineRow, ...]:
    """The reported lines with any time or memory."""
    return tuple(
        _line(profile, locator, line)
        for file in profile.files
        for line in file.lines
        if line.percent > 0 or line.peak_mb > 0 or line.malloc_mb > 0
    )


def _line(profile: Profile, locator: Locator, line: LineStat) -> LineRow:
    return LineRow(
        file=locator.name(line.file),
        lineno=line.lineno,
        location=locator.location(line.file, line.lineno),
        **_figures(profile, line),
    )


def _figures(profile: Profile, stat: CodeStat) -> dict[str, float]:
    """A line's or a function's time and memory as stored: percent and seconds to 4 decimals,
    MB to 3."""
    return {
        "percent": round(stat.percent, 4),
        "seconds": round(profile.seconds(stat.percent), 4),
        "peak_mb": round(stat.peak_mb, 3),
        "malloc_mb": round(stat.malloc_mb, 3),
    }


def _leaks(profile: Profile, locator: Locator) -> tuple[LeakRow, ...]:
    """The reported leaks, by likelihood, descending."""
    leaks: list[Leak] = sorted(
        (leak for file in profile.files for leak in file.leaks), key=lambda k: -k.likelihood
    )
    return tuple(
        LeakRow(
            file=locator.name(leak.file),
            lineno=leak.lineno,
            location=locator.location(leak.file, leak.lineno),
            likelihood=round(leak.likelihood, 4),
            velocity_mb_s=round(leak.velocity_mb_s, 4),
        )
        for leak in leaks
    )


def _cell(profile: Profile, locator: Locator, cell: CellStat) -> CellRow:
    return CellRow(
        cell=cell.number,
        first_line=cell.first_line,
        hash=cell.source_hash,
        percent=round(cell.percent, 4),
        seconds=round(profile.seconds(cell.percent), 4),
        peak_mb=round(cell.peak_mb, 3),
        malloc_mb=round(cell.malloc_mb, 3),
        lines=tuple(CellLine(line.line, _line(profile, locator, line.stat)) for line in cell.lines),
    )
