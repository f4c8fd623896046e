"""A `BisectResult` as text (the terminal) or JSON.

The JSON is an object: `entry`, `metric`, `column`, `repeat`, `threshold`, `good` and `bad` (the
commits given), `first_bad` and `last_good` (each `{sha, subject, date}`; `first_bad` is null when
skipped commits leave several `candidates`), `steps` (per tested commit, in the order tested:
`commit`, `runs`, `reused`, `median`, `ratio`, `change_pct`, `p_value`, `verdict`, `judged`,
`note`) and `attribution` (first bad against last good, as in compare's JSON).
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from fixingahole.bisection import BisectResult, Commit, Step
from fixingahole.compare import METRIC_LABELS
from fixingahole.report.comparison import attribution_dict, attribution_text

UNITS = {"wall_s": "s", "cpu_s": "s", "peak_heap_mb": "MB"}


def render_bisect(result: BisectResult, fmt: str = "text") -> str:
    """The result as `text` or `json`."""
    if fmt == "json":
        return json.dumps(to_dict(result), indent=2) + "\n"
    return _text(result)


def to_dict(result: BisectResult) -> dict[str, Any]:
    """The result as plain JSON-ready data."""
    unit = UNITS[result.column]
    return {
        "entry": result.entry,
        "metric": result.metric,
        "column": result.column,
        "repeat": result.repeat,
        "threshold": result.threshold,
        "good": asdict(result.good),
        "bad": asdict(result.bad),
        "first_bad": asdict(result.first_bad) if result.first_bad else None,
        "last_good": asdict(result.last_good) if result.last_good else None,
        "candidates": [asdict(commit) for commit in result.candidates],
        "steps": [_step_dict(step) for step in result.steps],
        "attribution": [attribution_dict(item, unit) for item in result.attribution],
    }


def _step_dict(step: Step) -> dict[str, Any]:
    return {
        "commit": asdict(step.commit),
        "runs": list(step.runs),
        "reused": step.reused,
        "median": step.median,
        "ratio": step.ratio,
        "change_pct": None if step.ratio is None else (step.ratio - 1) * 100,
        "p_value": step.p_value,
        "verdict": step.verdict,
        "judged": step.judged,
        "note": step.note,
    }


def _text(result: BisectResult) -> str:
    from tabulate import tabulate

    unit = UNITS[result.column]
    lines = [
        f"bisect {result.entry} by {METRIC_LABELS[result.column]}, {result.repeat} runs per "
        f"commit, threshold {result.threshold:.0%}: from {result.good.sha[:10]} (good) to "
        f"{result.bad.sha[:10]} (bad)",
        "",
    ]
    rows = [
        [
            str(number),
            step.commit.sha[:10],
            _shorten(step.commit.subject),
            f"{len(step.runs)} ({step.reused} reused)",
            "" if step.median is None else f"{step.median:.4g} {unit}",
            "" if step.ratio is None else f"{(step.ratio - 1) * 100:+.1f}%",
            "" if step.p_value is None else f"{step.p_value:.2g}",
            step.verdict if step.judged != "skipped" else f"skipped: {step.note}",
            step.judged,
        ]
        for number, step in enumerate(result.steps, 1)
    ]
    headers = ["step", "commit", "subject", "runs", "median", "vs good", "p", "verdict", "judged"]
    lines += [tabulate(rows, headers=headers, disable_numparse=True), ""]
    if result.first_bad is not None:
        lines += ["first bad commit:", *_commit_lines(result.first_bad)]
    else:
        lines.append("the first bad commit is one of these (the others were skipped):")
        for commit in result.candidates:
            lines += _commit_lines(commit)
    if result.last_good is not None:
        lines += ["last good commit:", *_commit_lines(result.last_good)]
    if result.attribution:
        lines += [
            "",
            "where the change is (first bad against last good; shares of the profiled time):",
        ]
        lines += [f"  {attribution_text(item, unit)}" for item in result.attribution[:5]]
    return "\n".join(lines) + "\n"


def _commit_lines(commit: Commit) -> list[str]:
    return [f"  {commit.sha}", f"  {commit.subject}", f"  {commit.date}"]


def _shorten(text: str, width: int = 40) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."
