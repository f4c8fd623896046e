"""An entry's history of code versions, and its change points, as text or JSON.

The JSON is an object: `entry`, `column` (the runs table's column), `versions` (oldest first:
`commit`, `dirty`, `first_run`, `started_utc`, `runs`, `median`) and `changes` (null unless asked
for; else per change point: `commit`, `first_run`, `started_utc`, `median_before`,
`median_after`, `change_pct`, `p_value`, `verdict`, `versions_before`, `versions_after`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fixingahole.changepoints import ChangePoint, Version
from fixingahole.compare import METRIC_LABELS

UNITS = {"wall_s": "s", "cpu_s": "s", "peak_heap_mb": "MB", "max_rss_mb": "MB"}


def render_history(
    entry: str,
    column: str,
    history: Sequence[Version],
    changes: Sequence[ChangePoint] | None,
    fmt: str = "text",
) -> str:
    """The versions (and the change points, when given) as `text` or `json`."""
    if fmt == "json":
        data = {
            "entry": entry,
            "column": column,
            "versions": [_version_dict(version) for version in history],
            "changes": None if changes is None else [_change_dict(point) for point in changes],
        }
        return json.dumps(data, indent=2) + "\n"
    return _text(entry, column, history, changes)


def _version_dict(version: Version) -> dict[str, Any]:
    return {
        "commit": version.commit,
        "dirty": version.dirty,
        "first_run": version.first_run,
        "started_utc": version.started_utc,
        "runs": len(version.values),
        "median": version.median,
    }


def _change_dict(point: ChangePoint) -> dict[str, Any]:
    return {
        "commit": point.at.commit,
        "first_run": point.at.first_run,
        "started_utc": point.at.started_utc,
        "median_before": point.median_before,
        "median_after": point.median_after,
        "change_pct": point.change_pct,
        "p_value": point.p_value,
        "verdict": point.verdict,
        "versions_before": point.versions_before,
        "versions_after": point.versions_after,
    }


def _text(
    entry: str,
    column: str,
    history: Sequence[Version],
    changes: Sequence[ChangePoint] | None,
) -> str:
    from tabulate import tabulate

    unit = UNITS[column]
    runs = sum(len(version.values) for version in history)
    lines = [
        f"{entry}: {METRIC_LABELS[column]} over {len(history)} code versions ({runs} ok runs)",
        "",
    ]
    rows = [
        [
            _commit(version),
            version.first_run,
            str(len(version.values)),
            f"{version.median:.4g} {unit}",
        ]
        for version in history
    ]
    headers = ["commit", "first run", "runs", "median"]
    lines.append(tabulate(rows, headers=headers, disable_numparse=True))
    if changes is not None:
        lines += ["", _changes_title(changes)]
        for point in changes:
            p_value = "" if point.p_value is None else f", p = {point.p_value:.2g}"
            lines.append(
                f"  at {_commit(point.at)} ({point.at.first_run}): "
                f"{point.median_before:.4g} {unit} -> {point.median_after:.4g} {unit} "
                f"({point.change_pct:+.1f}%){p_value}, {point.verdict}"
            )
    return "\n".join(lines) + "\n"


def _changes_title(changes: Sequence[ChangePoint]) -> str:
    if not changes:
        return "no change points: the level held over the whole history"
    count = len(changes)
    plural = "s" if count != 1 else ""
    return f"{count} change point{plural} (PELT on version medians, each confirmed over its runs):"


def _commit(version: Version) -> str:
    if version.commit is None:
        return "(no commit)"
    return version.commit[:10] + ("+" if version.dirty else "")
