"""`summary.json`: the machine-readable record of one run (schema 1, see docs/internals.md).

The store is built from these documents, so every run folder can be re-indexed without Scalene.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from fixingahole.cells import CellStat
from fixingahole.locations import Locator
from fixingahole.report import RunInfo, reported_profile
from fixingahole.scalene_output import FunctionStat, LineStat, Profile

SCHEMA = 1


def build_summary(
    profile: Profile,
    run: RunInfo,
    locator: Locator,
    *,
    run_id: str,
    entry: str,
    target: str | os.PathLike[str],
    kind: str,
    started_utc: str | datetime,
    options: Mapping[str, Any],
    code_hash: str,
    git: Mapping[str, Any] | None,
    environment: Mapping[str, Any],
    tags: Sequence[str] = (),
    cells: Sequence[CellStat] = (),
) -> dict[str, Any]:
    """The `summary.json` document of a run, ready for `json.dump`.

    `target` is the profiled file: an absolute path is named relative to root when under it, a
    relative one is taken as relative to root already. `started_utc` is a datetime (naive ones are
    taken as UTC) or the text `YYYY-MM-DDTHH:MM:SSZ`. It holds what `reported_profile` keeps: no
    files of `run.ignore`, of fixing-a-hole itself, or of libraries unless `run.detailed`.
    `cells` are a notebook's (`fixingahole.cells.cell_stats`), in notebook order.
    """
    profile = reported_profile(profile, run, locator)
    files = profile.files
    functions = sorted(
        (f for file in files for f in file.functions), key=lambda f: f.percent, reverse=True
    )
    lines = [
        line
        for file in files
        for line in file.lines
        if line.percent > 0 or line.peak_mb > 0 or line.malloc_mb > 0
    ]
    leaks = sorted((leak for file in files for leak in file.leaks), key=lambda k: -k.likelihood)
    return {
        "schema": SCHEMA,
        "run_id": run_id,
        "entry": entry,
        "target": _target_text(target, locator),
        "kind": kind,
        "status": run.status,
        "exit_code": run.exit_code,
        "started_utc": _utc_text(started_utc),
        "wall_s": round(run.wall_s, 4),
        "cpu_s": round(run.cpu_s, 4),
        "elapsed_s": round(profile.elapsed_s, 4),
        "max_rss_mb": round(run.max_rss_mb, 3),
        "peak_heap_mb": _peak_heap(profile, run),
        "mode": run.mode,
        "options": dict(options),
        "command": run.command,
        "tags": list(tags),
        "code_hash": code_hash,
        "git": None if git is None else dict(git),
        "environment": dict(environment),
        "log_counts": dict(run.log_counts),
        "error": run.error,
        "functions": [_function(profile, locator, f) for f in functions],
        "lines": [_line(profile, locator, line) for line in lines],
        "leaks": [
            {
                "file": locator.name(leak.file),
                "lineno": leak.lineno,
                "location": locator.location(leak.file, leak.lineno),
                "likelihood": round(leak.likelihood, 4),
                "velocity_mb_s": round(leak.velocity_mb_s, 4),
            }
            for leak in leaks
        ],
        "cells": [_cell(profile, locator, cell) for cell in cells],
    }


def _target_text(target: str | os.PathLike[str], locator: Locator) -> str:
    """The target relative to root when under it, else absolute; relative input is kept."""
    path = Path(target)
    return locator.relative(path) if path.is_absolute() else path.as_posix()


def _utc_text(moment: str | datetime) -> str:
    """`2025-01-01T14:30:00.123Z` (milliseconds: runs started in one second keep their order);
    a naive datetime is taken to be UTC already."""
    if isinstance(moment, str):
        return moment
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.isoformat(timespec="milliseconds").removesuffix("+00:00") + "Z"


def _peak_heap(profile: Profile, run: RunInfo) -> float | None:
    """Scalene's sampled heap peak, or None when memory was not profiled."""
    if not run.memory or profile.peak_heap_mb is None:
        return None
    return round(profile.peak_heap_mb, 3)


def _figures(profile: Profile, stat: FunctionStat | LineStat) -> dict[str, float]:
    return {
        "percent": round(stat.percent, 4),
        "seconds": round(profile.seconds(stat.percent), 4),
        "peak_mb": round(stat.peak_mb, 3),
        "malloc_mb": round(stat.malloc_mb, 3),
    }


def _function(profile: Profile, locator: Locator, function: FunctionStat) -> dict[str, Any]:
    return {
        "file": locator.name(function.file),
        "name": function.name,
        "lineno": function.lineno,
        "location": locator.location(function.file, function.lineno),
        **_figures(profile, function),
        **_totals(profile, function),
    }


def _totals(profile: Profile, function: FunctionStat) -> dict[str, float | None]:
    """Time with callees (from the stacks); null when Scalene recorded no stacks."""
    total = function.total_percent
    if total is None:
        return {"total_percent": None, "total_seconds": None}
    return {"total_percent": round(total, 4), "total_seconds": round(profile.seconds(total), 4)}


def _line(profile: Profile, locator: Locator, line: LineStat) -> dict[str, Any]:
    return {
        "file": locator.name(line.file),
        "lineno": line.lineno,
        "location": locator.location(line.file, line.lineno),
        **_figures(profile, line),
    }


def _cell(profile: Profile, locator: Locator, cell: CellStat) -> dict[str, Any]:
    figures = {
        "percent": round(cell.percent, 4),
        "seconds": round(profile.seconds(cell.percent), 4),
        "peak_mb": round(cell.peak_mb, 3),
        "malloc_mb": round(cell.malloc_mb, 3),
    }
    lines = [{"line": line.line, **_line(profile, locator, line.stat)} for line in cell.lines]
    return {
        "cell": cell.number,
        "first_line": cell.first_line,
        "hash": cell.source_hash,
        **figures,
        "lines": lines,
    }
