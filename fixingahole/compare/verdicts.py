"""Verdicts: how one metric changed from A to B, and the settings that rule it.

Verdicts per entry and metric, with r = median(B) / median(A) and t = the threshold:

- `unchanged`: |r - 1| <= t.
- `slower` / `faster`: r > 1 + t (r < 1 - t) and B's runs are significantly slower (faster)
  than A's runs scaled by 1 + t (1 - t): a one-sided Mann-Whitney U test, in the direction the
  medians moved, at level alpha. So `slower` means "more than t slower, with confidence": a
  change of at most t is called slower at most alpha of the time, whatever the noise, and
  unchanged code far less often (under 1% with 5-10% noise and 5 runs per side).
- `~`: past the threshold but not significant (p >= alpha). With one run per side no test is
  possible; with 3 runs per side or fewer the test cannot reach alpha 0.05 (the smallest
  one-sided p for 3 vs 3 is 1/20, two-sided 0.1): the note says so. 4 vs 4 is significant only
  when every run of one side is beyond every run of the other; take 5 repeats per side: they
  tolerate an outlier or two.
- `new` / `missing`: the entry has no runs on A / on B.
- `failed`: a side has runs of the entry but none with status `ok`.

For memory metrics `slower` means "uses more". The entry's verdict is that of its primary metric
(`PRIMARY`): wall time; with metric="cpu" the CPU time of the profiled process tree (on a busy
machine far less disturbed by the neighbours than wall time); with metric="memory" peak heap (max
RSS when a side has no peak heap figures); with metric="instructions" the instruction count of
runs made with --instructions.

Instruction counts (`instructions`, and `script_instructions`: the count minus the interpreter's
bare start-up) are judged by `judge_counts`: a count does not move with machine load, so a change
past the threshold is `slower` or `faster` with one run per side and no test. Instead of a p-value
the judgement holds the entry's measured repeatability (`repeatability`): the largest spread,
(max - min) / median, of the counts of one code version over the entry's runs. A change no larger
than that spread is `~`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from fixingahole import stats
from fixingahole.errors import UserError

METRICS = ("wall_s", "cpu_s", "peak_heap_mb", "max_rss_mb")
COUNTS = ("instructions", "script_instructions")  # of runs made with --instructions
METRIC_LABELS = {
    "wall_s": "wall time",
    "cpu_s": "CPU time",
    "peak_heap_mb": "peak heap",
    "max_rss_mb": "max RSS",
    "instructions": "instructions",
    "script_instructions": "script's own instructions",
}
# what judges an entry under each `metric`: wall time, the CPU time of the profiled process tree
# (far less disturbed by other processes on a busy machine), peak heap, or instruction counts
PRIMARY = {
    "time": "wall_s",
    "cpu": "cpu_s",
    "memory": "peak_heap_mb",
    "instructions": "instructions",
}
COMPARED = ("faster", "slower", "unchanged", "~")  # verdicts of entries with ok runs on both sides


@dataclass(frozen=True)
class Judgement:
    """How one metric changed from A to B."""

    ratio: float | None  # median(B) / median(A)
    p_value: float | None  # the one-sided test's; None within the threshold or without a test
    verdict: str | None  # faster / slower / unchanged / ~; None when a side has no figures
    note: str | None = None
    repeatability: float | None = None  # counts: spread of one code version's counts, measured


def check_settings(
    threshold: float, alpha: float, metric: str, fail_on_regression: float | None
) -> None:
    """A UserError unless the threshold, alpha, metric and gate are ones a verdict can use."""
    if not 0 <= threshold < 1:
        raise UserError(f"the threshold must be at least 0% and under 100%, not {threshold:.0%}")
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1 (e.g. 0.05), not {alpha}")
    if metric not in PRIMARY:
        raise UserError(f"metric must be one of {', '.join(PRIMARY)}, not {metric!r}")
    if fail_on_regression is not None and fail_on_regression < 0:
        raise UserError(f"the regression gate must be 0% or more, not {fail_on_regression:.0%}")


def judge(a: Sequence[float], b: Sequence[float], threshold: float, alpha: float) -> Judgement:
    """The verdict for one metric's values on each side (the rules are in the module docstring)."""
    if len(a) == 0 or len(b) == 0:
        return Judgement(ratio=None, p_value=None, verdict=None)
    median_a, median_b = statistics.median(a), statistics.median(b)
    if median_a <= 0:
        same = median_b == median_a
        note = None if same else "A's median is 0: no ratio"
        return Judgement(None, None, "unchanged" if same else "~", note)
    ratio = median_b / median_a
    if abs(ratio - 1) <= threshold:
        return Judgement(ratio, None, "unchanged")
    if len(a) == 1 and len(b) == 1:
        return Judgement(ratio, None, "~", "one run per side: no significance test was possible")
    scale = 1 + threshold if ratio > 1 else 1 - threshold
    test = stats.mann_whitney([x * scale for x in a], b)
    p_value = test.p_greater if ratio > 1 else test.p_less
    if stats.significant(p_value, alpha):
        return Judgement(ratio, p_value, "slower" if ratio > 1 else "faster")
    note = None
    if not stats.significant(stats.min_p_value(len(a), len(b)), alpha):
        note = (
            f"{len(a)} vs {len(b)} runs cannot reach significance at alpha {alpha:g}: "
            f"take at least {stats.min_repeats(alpha)} runs per side (5 recommended)"
        )
    return Judgement(ratio, p_value, "~", note)


def judge_counts(
    a: Sequence[float], b: Sequence[float], threshold: float, repeatability: float | None
) -> Judgement:
    """The verdict for instruction counts: past the threshold and past the counts' measured
    spread is a change, whatever the number of runs (the rules are in the module docstring)."""
    if len(a) == 0 or len(b) == 0:
        return Judgement(ratio=None, p_value=None, verdict=None, repeatability=repeatability)
    median_a, median_b = statistics.median(a), statistics.median(b)
    if median_a <= 0:
        same = median_b == median_a
        note = None if same else "A's median is 0: no ratio"
        return Judgement(None, None, "unchanged" if same else "~", note, repeatability)
    ratio = median_b / median_a
    if abs(ratio - 1) <= threshold:
        return Judgement(ratio, None, "unchanged", None, repeatability)
    if repeatability is not None and abs(ratio - 1) <= repeatability:
        note = f"the change is within the spread of one version's counts ({repeatability:.2%})"
        return Judgement(ratio, None, "~", note, repeatability)
    return Judgement(ratio, None, "slower" if ratio > 1 else "faster", None, repeatability)


def judge_metric(
    metric: str,
    a: Sequence[float],
    b: Sequence[float],
    threshold: float,
    alpha: float,
    spread: float | None,
) -> Judgement:
    """One metric's verdict by its own rules: counts by `judge_counts` (`spread` is their measured
    repeatability), timings and memory by `judge`."""
    if metric in COUNTS:
        return judge_counts(a, b, threshold, spread)
    return judge(a, b, threshold, alpha)


def repeatability(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per entry and count metric: the largest (max - min) / median of one code version's counts
    (ok runs on one Python version), over the versions with at least two counted runs.

    `table` is the runs table prepared by `fixingahole.compare.runs.prepare_runs`."""
    ok = table[table["status"] == "ok"]
    found: dict[str, dict[str, float]] = {}
    for column in COUNTS:
        counted = ok[ok[column].notna()]
        groups = counted.groupby(["entry", "version", "python"], dropna=False)[column]
        spread = ((groups.max() - groups.min()) / groups.median())[groups.size() >= 2]
        for entry, value in spread.groupby(level=0).max().items():
            found.setdefault(str(entry), {})[column] = float(value)
    return found
