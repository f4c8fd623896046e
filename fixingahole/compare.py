"""Compare two selections of runs: select them, aggregate repeats, test, and give verdicts.

The input is the store's tables as DataFrames (columns as in docs/internals.md, "The store"), so
a comparison works on frames from anywhere. `compare()` is the one entry point; render its result
with `fixingahole.report.comparison.render`.

Selectors, tried in this order (times are UTC):

- `latest`: for each entry, its newest code version: the newest run together with the runs right
  before it that share its git commit, dirty flag and content hash (its repeats).
- `latest~N`: for each entry, the version N before its newest (`latest~0` is `latest`).
- a run id, `entry/YYYYMMDD_HHMMSS[_N]`: that run; `entry/PREFIX` selects that entry's runs
  whose id starts with PREFIX (e.g. `advanced/20250101` for its runs that day).
- a date or date-time prefix, `YYYYMMDD`, `YYYYMMDD_HH`, `YYYYMMDD_HHMM` or `YYYYMMDD_HHMMSS`:
  every run started within that day, hour, minute or second; `FIRST..LAST` (two such prefixes):
  every run started from the beginning of FIRST to the end of LAST (one batch).
- a git commit prefix (at least 4 hex digits): every run recorded at that commit.
- a branch name: for each entry, its newest code version among the runs recorded on that branch.

A selector that matches nothing is a UserError that lists the nearest runs (ids and UTC start
times) and, where runs of one code version are what the user likely meant (`latest~1` with one
version), the selectors that would compare them: the two newest batches by time prefix (a batch
being runs each started within BATCH_GAP of the end of the one before), else two repeats by run id.
With one selector and no earlier code version, a header warning shows the same selectors.

With one selector, B is what it selects and A is, for each entry in B, the newest code version
among that entry's runs older than B's oldest run of it (so `compare latest` is
`compare latest~1 latest`). A run from a dirty work tree carries the same commit and content hash
as the runs before it when only other files changed: select those by date or run id.

Every run of a side counts, not one of them: repeats are aggregated (median, mean, standard
deviation, count, min, max), and only runs with status `ok` count toward the figures.

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

For memory metrics `slower` means "uses more". The entry's verdict is that of its primary metric:
wall time; with metric="cpu" the CPU time of the profiled process tree (on a busy machine far less
disturbed by the neighbours than wall time); with metric="memory" peak heap (max RSS when a side
has no peak heap figures); with metric="instructions" the instruction count of runs made with
--instructions.

Instruction counts (`instructions`, and `script_instructions`: the count minus the interpreter's
bare start-up) are listed when a compared run has one, and judged by `judge_counts`: a count does
not move with machine load, so a change past the threshold is `slower` or `faster` with one run
per side and no test. Instead of a p-value the judgement holds the entry's measured
repeatability: the largest spread, (max - min) / median, of the counts of one code version over
the entry's runs. A change no larger than that spread is `~`.

For the entries whose functions are listed, `attribution` names the functions behind the change,
each with its share of it and a per-run test (the rules are in `fixingahole.attribution`).

`Comparison.exit_code`: 1 when `fail_on_regression` is set and an entry's primary metric is
`slower` by the rules above with the gate's percentage as the threshold (so never with one run
per side), or every B run of an entry failed where A's succeeded; else 2 when no entry has ok
runs on both sides (nothing to compare); else 0.
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial

import numpy as np
import pandas as pd

from fixingahole import stats
from fixingahole.attribution import Attribution, attribute
from fixingahole.compare_cells import CellChange, cell_changes
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
COUNT_COLUMNS = ("instructions", "startup_instructions", "instructions_note")  # may be absent
COMPARED = ("faster", "slower", "unchanged", "~")  # verdicts of entries with ok runs on both sides
TOP_CHANGES = 10  # functions (and lines) listed per entry
RUN_COLUMNS = (
    "run_id",
    "entry",
    "status",
    "started_utc",
    *METRICS,
    "code_hash",
    "git_commit",
    "git_branch",
    "git_dirty",
    "tags",
    "host",
    "python",
    "scalene",
    "mode",
    "options",
)
# read when present: Scalene's elapsed time, what function seconds are shares of (attribution)
OPTIONAL_COLUMNS = ("elapsed_s",)
# The options that change what a run measures (besides the mode); the others (timeout, live,
# log level, ignored folders) do not.
MEASURING_OPTIONS = ("precision", "interval", "detailed", "trace", "args", "env", "cwd")

NEAREST = 4  # runs a selector error lists
BATCH_GAP = pd.Timedelta(seconds=10)  # a run starting later than this after the previous one
# ended starts a new batch (for the selectors an error suggests)
STAMP = "%Y%m%d_%H%M%S"
PREFIX_LENGTHS = (15, 13, 11, 8)  # a stamp's second, minute, hour and day prefixes

_LATEST = re.compile(r"latest(?:~(\d+))?")
_DATE = re.compile(r"(\d{8})(?:_(\d{2}|\d{4}|\d{6}))?")
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_SPAN = re.compile(r"(\d{8}(?:_\d{2}|_\d{4}|_\d{6})?)\.\.(\d{8}(?:_\d{2}|_\d{4}|_\d{6})?)")


@dataclass(frozen=True)
class Judgement:
    """How one metric changed from A to B."""

    ratio: float | None  # median(B) / median(A)
    p_value: float | None  # the one-sided test's; None within the threshold or without a test
    verdict: str | None  # faster / slower / unchanged / ~; None when a side has no figures
    note: str | None = None
    repeatability: float | None = None  # counts: spread of one code version's counts, measured


@dataclass(frozen=True)
class MetricComparison:
    """One metric of one entry, both sides summarised, and the judgement."""

    metric: str  # a column of the runs table, e.g. "wall_s"
    a: stats.Figures
    b: stats.Figures
    judgement: Judgement


@dataclass(frozen=True)
class CodeChange:
    """A function (matched by file and name) or a line (by file and line) on both sides.

    Figures are medians over a side's ok runs, counting 0 for a run in which it did not appear.
    """

    location: str
    name: str | None  # the function's name; None for a line
    status: str  # changed | new (not on A) | gone (not on B)
    seconds_a: float
    seconds_b: float
    peak_mb_a: float
    peak_mb_b: float

    @property
    def delta_seconds(self) -> float:
        """B minus A, in seconds."""
        return self.seconds_b - self.seconds_a

    @property
    def seconds_pct(self) -> float | None:
        """The change in seconds as a percentage of A; None when A is 0."""
        return _pct(self.seconds_a, self.seconds_b)

    @property
    def delta_peak_mb(self) -> float:
        """B minus A, in MB of peak memory."""
        return self.peak_mb_b - self.peak_mb_a

    @property
    def peak_pct(self) -> float | None:
        """The change in peak MB as a percentage of A; None when A is 0."""
        return _pct(self.peak_mb_a, self.peak_mb_b)


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
    cells: tuple[CellChange, ...] = ()  # a notebook's cells, matched by source (compare_cells)

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
    """The result of `compare()`: header, one comparison per entry, and a summary row."""

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


def compare(
    runs: pd.DataFrame,
    functions: pd.DataFrame | Callable[[list[str]], pd.DataFrame],
    a: str,
    b: str | None = None,
    *,
    entries: Sequence[str] = (),
    tags: Sequence[str] = (),
    threshold: float = 0.05,
    alpha: float = 0.05,
    metric: str = "time",
    show_all: bool = False,
    lines: pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None = None,
    fail_on_regression: float | None = None,
    cells: pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None = None,
) -> Comparison:
    """Compare the runs selector `a` picks with those `b` picks (or `a` with the runs before it).

    `functions`, `lines` and `cells` are the store's tables, or loaders called with the run ids
    they need; a notebook entry's cells are listed beside its functions.
    `entries` and `tags` narrow the entries (an entry with a tag on any run). `threshold` and
    `fail_on_regression` are fractions (0.05 = 5%). Functions (and lines, when given) are listed
    for entries that got faster or slower, or for all with `show_all`. The gate fails an entry
    whose primary metric is significantly worse by more than `fail_on_regression`.
    """
    _check_settings(threshold, alpha, metric, fail_on_regression)
    table = _prepare(runs, entries, tags)
    if b is None:
        side_b = _select(table, a)
        side_a = _before(table, side_b)
        selectors = (None, a)
    else:
        side_a, side_b = _select(table, a), _select(table, b)
        selectors = (a, b)
    header = _header(side_a, side_b, selectors, metric, threshold, alpha, fail_on_regression)
    if b is None and side_a.empty:  # one code version: say how to compare its batches
        nothing = f"no earlier code version precedes {a}{_suggestion(table)}"
        header = replace(header, warnings=(*header.warnings, nothing))
    by_entry_a, by_entry_b = _runs_by_entry(side_a), _runs_by_entry(side_b)
    spreads = _repeatability(table) if header.metrics != METRICS else {}
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


def _select(runs: pd.DataFrame, selector: str) -> pd.DataFrame:
    """The prepared runs a selector picks (rules in the module docstring); UserError if none."""
    text = selector.strip()
    if not text:
        raise UserError(
            "empty selector: give a date (20250101), a run id, a commit, a branch or latest; "
            f"newest runs: {_listed(_nearest(runs))}"
        )
    if latest := _LATEST.fullmatch(text):
        return _select_latest(runs, int(latest.group(1) or 0), text)
    if "/" in text:
        return _select_run_id(runs, text)
    if date := _DATE.fullmatch(text):
        return _select_date(runs, date.group(1), date.group(2) or "", text)
    if span := _SPAN.fullmatch(text):
        return _select_span(runs, span.group(1), span.group(2), text)
    if _HEX.fullmatch(text) and not (chosen := _select_commit(runs, text.lower())).empty:
        return chosen
    on_branch = runs[runs["git_branch"] == text]
    if not on_branch.empty:
        return _select_latest(number_versions(on_branch.copy()), 0, text)
    branches = sorted(runs["git_branch"].dropna().unique())
    raise UserError(
        f"no runs match {text!r}: it is not a date, run id, commit or branch in the store "
        f"(branches: {', '.join(branches) or 'none'}; newest runs: {_listed(_nearest(runs))})"
        f"{_suggestion(runs)}"
    )


def _check_settings(
    threshold: float, alpha: float, metric: str, fail_on_regression: float | None
) -> None:
    if not 0 <= threshold < 1:
        raise UserError(f"the threshold must be at least 0% and under 100%, not {threshold:.0%}")
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1 (e.g. 0.05), not {alpha}")
    if metric not in PRIMARY:
        raise UserError(f"metric must be one of {', '.join(PRIMARY)}, not {metric!r}")
    if fail_on_regression is not None and fail_on_regression < 0:
        raise UserError(f"the regression gate must be 0% or more, not {fail_on_regression:.0%}")


def _prepare(runs: pd.DataFrame, entries: Sequence[str], tags: Sequence[str]) -> pd.DataFrame:
    """The runs of the chosen entries, sorted by entry and time, with code versions numbered."""
    missing = [column for column in RUN_COLUMNS if column not in runs.columns]
    if missing:
        raise UserError(
            f"the runs table lacks columns {', '.join(missing)}: rebuild the store "
            "(fixingahole store rebuild)"
        )
    if runs.empty:
        raise UserError("the store holds no runs: profile something first")
    instructions, startup = _counts(runs, "instructions"), _counts(runs, "startup_instructions")
    notes = runs["instructions_note"] if "instructions_note" in runs.columns else None
    optional = [column for column in OPTIONAL_COLUMNS if column in runs.columns]
    table = runs.loc[:, [*RUN_COLUMNS, *optional]].assign(
        instructions=instructions,
        script_instructions=instructions - startup,
        instructions_note=notes,
    )
    known = sorted(table["entry"].unique())
    if entries:
        unknown = sorted(set(entries) - set(known))
        if unknown:
            raise UserError(
                f"no runs of entry {', '.join(unknown)} in the store; entries: {', '.join(known)}"
            )
        table = table[table["entry"].isin(entries)]
    if tags:
        table = _with_tags(table, tags)
    table = table.assign(started_utc=pd.to_datetime(table["started_utc"], utc=True))
    table = table.sort_values(["entry", "started_utc", "run_id"], kind="stable")
    return number_versions(table.reset_index(drop=True))


def _counts(runs: pd.DataFrame, column: str) -> np.ndarray:
    """A count column as floats, NaN where missing (runs made without --instructions)."""
    if column not in runs.columns:
        return np.full(len(runs), np.nan)
    return pd.to_numeric(runs[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _with_tags(table: pd.DataFrame, tags: Sequence[str]) -> pd.DataFrame:
    """The runs of the entries that carry any of the tags on any run."""
    parsed = {text: _tag_list(text) for text in table["tags"].dropna().unique()}
    wanted = set(tags)
    tagged = table["tags"].map(lambda text: bool(wanted & parsed.get(text, set())))
    chosen = table[table["entry"].isin(table.loc[tagged, "entry"])]
    if chosen.empty:
        every = sorted(set().union(*parsed.values())) if parsed else []
        raise UserError(
            f"no entry carries tag {', '.join(tags)}; "
            f"tags in the store: {', '.join(every) or 'none'}"
        )
    return chosen


def _tag_list(text: str) -> set[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return set()
    return {str(tag) for tag in value} if isinstance(value, list) else set()


def number_versions(table: pd.DataFrame) -> pd.DataFrame:
    """Number each entry's code versions (`version`; `back` counts from the newest, 0).

    A version is a stretch of consecutive runs with the same commit, dirty flag and content hash.
    """
    same_as_previous = np.zeros(len(table), dtype=bool)
    same_as_previous[1:] = True
    for column in ("entry", "git_commit", "git_dirty", "code_hash"):
        codes = pd.factorize(table[column])[0]  # missing values share one code
        same_as_previous[1:] &= codes[1:] == codes[:-1]
    version = pd.Series(np.cumsum(~same_as_previous), index=table.index)
    newest = version.groupby(table["entry"]).transform("max")
    return table.assign(version=version, back=newest - version)


def _select_latest(runs: pd.DataFrame, back: int, text: str) -> pd.DataFrame:
    chosen = runs[runs["back"] == back]
    if chosen.empty:
        most = int(runs["back"].max())
        versions = "one code version" if most == 0 else f"at most {most} earlier code versions"
        raise UserError(
            f"{text} matches no runs: the entries have {versions} (latest~N counts versions "
            "back: runs differing in commit, dirty flag or content hash)"
            f"{_suggestion(runs)}; newest runs: {_listed(_nearest(runs))}"
        )
    return chosen


def _select_run_id(runs: pd.DataFrame, text: str) -> pd.DataFrame:
    ids = runs["run_id"]
    chosen = runs[ids == text]
    if chosen.empty:
        chosen = runs[ids.str.startswith(text)]
    if not chosen.empty:
        return chosen
    entry = text.split("/", 1)[0]
    same_entry = sorted(ids[runs["entry"] == entry])
    if same_entry:
        at = bisect.bisect_left(same_entry, text)
        nearby = same_entry[max(0, at - 2) : at + 2]
    else:
        nearby = difflib.get_close_matches(text, ids.tolist(), n=4, cutoff=0.4)
    shown = runs[ids.isin(nearby)].sort_values("started_utc")
    raise UserError(f"no run {text!r}; nearby runs: {_listed(shown)} (fixingahole runs lists them)")


def _select_date(runs: pd.DataFrame, day: str, clock: str, text: str) -> pd.DataFrame:
    begin, end = _bounds(day, clock, text)
    return _select_between(runs, begin, end, text)


def _select_span(runs: pd.DataFrame, first: str, last: str, text: str) -> pd.DataFrame:
    """`FIRST..LAST`: the runs from the start of FIRST's period to the end of LAST's."""
    begin = _bounds(*_DATE.fullmatch(first).groups(""), first)[0]
    end = _bounds(*_DATE.fullmatch(last).groups(""), last)[1]
    if end <= begin:
        raise UserError(f"{text!r} ends before it starts: give the earlier time first")
    return _select_between(runs, begin, end, text)


def _bounds(day: str, clock: str, text: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC period a date or date-time prefix names: [begin, end)."""
    try:
        start = datetime.strptime(day + clock, "%Y%m%d%H%M%S"[: 6 + len(clock)])
    except ValueError:
        raise UserError(
            f"{text!r} is not a valid UTC date: use YYYYMMDD, YYYYMMDD_HH, YYYYMMDD_HHMM or "
            "YYYYMMDD_HHMMSS"
        ) from None
    length = {0: timedelta(days=1), 2: timedelta(hours=1), 4: timedelta(minutes=1)}
    begin = pd.Timestamp(start, tz="UTC")
    return begin, begin + length.get(len(clock), timedelta(seconds=1))


def _select_between(
    runs: pd.DataFrame, begin: pd.Timestamp, end: pd.Timestamp, text: str
) -> pd.DataFrame:
    started = runs["started_utc"]
    chosen = runs[(started >= begin) & (started < end)]
    if not chosen.empty:
        return chosen
    before = runs[started < begin].sort_values("started_utc").tail(2)
    after = runs[started >= end].sort_values("started_utc").head(2)
    raise UserError(
        f"no runs started in {text} (UTC); nearest before: {_listed(before)}; "
        f"nearest after: {_listed(after)}{_suggestion(runs)}"
    )


def _listed(runs: pd.DataFrame) -> str:
    """Run ids with their UTC start times, for an error message."""
    shown = [
        f"{run_id} ({started:%Y-%m-%d %H:%M:%S})"
        for run_id, started in zip(runs["run_id"], runs["started_utc"], strict=True)
    ]
    return ", ".join(shown) or "none"


def _nearest(runs: pd.DataFrame, count: int = NEAREST) -> pd.DataFrame:
    """The newest runs, oldest first."""
    return runs.sort_values(["started_utc", "run_id"]).tail(count)


def _suggestion(runs: pd.DataFrame) -> str:
    """The selectors that compare the two newest batches (time prefixes), else two repeats of
    one entry (run ids): what a user comparing runs of one code version needs; "" when neither."""
    batches = _newest_batches(runs, 2)
    if len(batches) == 2:
        older, newer = (_time_selector(batch, runs) for batch in batches)
        return f"; to compare the two newest batches, select them by time: compare {older} {newer}"
    newest = runs[runs["back"] == 0].sort_values("started_utc")
    repeated = newest[newest["entry"].duplicated(keep=False)]
    if repeated.empty:
        return ""
    entry = repeated["entry"].iloc[-1]
    pair = repeated[repeated["entry"] == entry]["run_id"].tail(2).tolist()
    return f"; to compare two runs, give their ids: compare {pair[0]} {pair[1]}"


def _newest_batches(runs: pd.DataFrame, count: int) -> list[pd.DataFrame]:
    """The newest `count` batches (fewer when there are fewer), oldest first: a batch ends where
    no run starts within BATCH_GAP of the end of the runs before it."""
    if runs.empty:
        return []
    ordered = runs.sort_values(["started_utc", "run_id"])
    ends = ordered["started_utc"] + pd.to_timedelta(ordered["wall_s"].fillna(0), unit="s")
    latest_end = ends.cummax().shift()
    new_batch = (ordered["started_utc"] > latest_end + BATCH_GAP).to_numpy(copy=True)
    new_batch[0] = True
    starts = np.flatnonzero(new_batch)[-count:]
    bounds = [*starts, len(ordered)]
    return [ordered.iloc[bounds[i] : bounds[i + 1]] for i in range(len(starts))]


def _time_selector(batch: pd.DataFrame, runs: pd.DataFrame) -> str:
    """The finest date-time prefix that selects exactly the batch's runs, else the span from
    its first run's second to its last's (`FIRST..LAST`: no other run starts in between)."""
    stamps = batch["started_utc"].dt.strftime(STAMP)
    for length in PREFIX_LENGTHS:
        prefixes = set(stamps.str[:length])
        if len(prefixes) == 1:
            prefix = prefixes.pop()
            covered = runs["started_utc"].dt.strftime(STAMP).str.startswith(prefix)
            if covered.sum() == len(batch):
                return prefix
            break
    return f"{stamps.iloc[0]}..{stamps.iloc[-1]}"


def _select_commit(runs: pd.DataFrame, prefix: str) -> pd.DataFrame:
    commits = runs["git_commit"].astype(object).fillna("").astype(str).str.lower()
    chosen = runs[commits.str.startswith(prefix)]
    distinct = sorted(chosen["git_commit"].unique())
    if len(distinct) > 1:
        shown = ", ".join(commit[:12] for commit in distinct[:5])
        raise UserError(f"commit prefix {prefix} is ambiguous ({shown}): give more digits")
    return chosen


def _before(runs: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Per entry of `chosen`: the newest code version among its runs older than chosen's oldest."""
    oldest = chosen.groupby("entry")["started_utc"].min()
    limit = runs["entry"].map(oldest)
    earlier = runs[runs["started_utc"] < limit]
    if earlier.empty:
        return earlier
    newest_version = earlier.groupby("entry")["version"].max()
    return earlier[earlier["version"].isin(newest_version)]


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


@dataclass(frozen=True)
class _Run:
    """What comparing an entry needs of one run."""

    run_id: str
    status: str
    figures: dict[str, float]  # metric -> value, for the metrics the run has
    code_hash: str | None
    version: int
    setup: tuple[tuple[str, str], ...]  # (name, value as JSON) of the mode and measuring options
    count_note: str | None = None  # why its instruction count may vary, or is missing


def _runs_by_entry(frame: pd.DataFrame) -> dict[str, list[_Run]]:
    """The runs of a side as plain records, grouped by entry (fast for many small groups)."""
    measured = [*METRICS, *(c for c in OPTIONAL_COLUMNS if c in frame.columns)]
    values = frame.loc[:, measured].astype(float).to_numpy(na_value=np.nan)
    counts = frame.loc[:, list(COUNTS)].to_numpy(dtype=float, na_value=np.nan)
    notes = frame["instructions_note"]
    count_notes = [None] * len(frame)  # most runs have no note: skip the conversion
    if notes.notna().any():
        count_notes = notes.astype(object).where(notes.notna(), None).tolist()
    hashes = frame["code_hash"].astype(object).where(frame["code_hash"].notna(), None)
    grouped: dict[str, list[_Run]] = {}
    setups: dict[tuple[object, object], tuple[tuple[str, str], ...]] = {}  # mostly shared
    for row, count_row, count_note, entry, run_id, status, code_hash, version, mode, options in zip(
        values,
        counts,
        count_notes,
        frame["entry"],
        frame["run_id"],
        frame["status"],
        hashes,
        frame["version"],
        frame["mode"].tolist(),
        frame["options"].tolist(),
        strict=True,
    ):
        figures = {m: float(v) for m, v in zip(measured, row, strict=True) if not np.isnan(v)}
        figures.update((m, float(v)) for m, v in zip(COUNTS, count_row, strict=True) if v == v)
        setup = setups.get((mode, options))
        if setup is None:
            setup = setups[mode, options] = _setup(mode, options)
        run = _Run(run_id, status, figures, code_hash, int(version), setup, count_note)
        grouped.setdefault(entry, []).append(run)
    return grouped


def _setup(mode: object, options: object) -> tuple[tuple[str, str], ...]:
    """The mode and the measuring options of a run, each value as JSON text."""
    try:
        record = json.loads(options) if isinstance(options, str) else {}
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    values = {"mode": mode if isinstance(mode, str) else None}
    values.update((name, record.get(name)) for name in MEASURING_OPTIONS)
    return tuple((name, json.dumps(value, sort_keys=True)) for name, value in values.items())


def _compare_entry(
    name: str,
    runs_a: list[_Run],
    runs_b: list[_Run],
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


def judge_metric(
    metric: str,
    a: Sequence[float],
    b: Sequence[float],
    threshold: float,
    alpha: float,
    spread: float | None,
) -> Judgement:
    """One metric's verdict by its own rules: counts by `judge_counts` (`spread` is their measured
    repeatability), timings and memory by `judge`. Bisect and history judge through this too."""
    if metric in COUNTS:
        return judge_counts(a, b, threshold, spread)
    return judge(a, b, threshold, alpha)


def _side_notes(
    runs_a: list[_Run], ok_a: list[_Run], runs_b: list[_Run], ok_b: list[_Run]
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


def _count_notes(ok_a: list[_Run], ok_b: list[_Run], spread: float | None) -> list[str]:
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
        counted_notes = {run.count_note for run in ok if "instructions" in run.figures}
        notes += [f"{label}: {note}" for note in sorted(counted_notes - {None})]
    if spread is None:
        notes.append(
            "repeatability not measured: no code version has two counted runs; profile one "
            "twice with --instructions to measure it"
        )
    return notes


def _repeatability(table: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per entry and count metric: the largest (max - min) / median of one code version's counts
    (ok runs on one Python version), over the versions with at least two counted runs."""
    ok = table[table["status"] == "ok"]
    found: dict[str, dict[str, float]] = {}
    for column in COUNTS:
        counted = ok[ok[column].notna()]
        groups = counted.groupby(["entry", "version", "python"], dropna=False)[column]
        spread = ((groups.max() - groups.min()) / groups.median())[groups.size() >= 2]
        for entry, value in spread.groupby(level=0).max().items():
            found.setdefault(str(entry), {})[column] = float(value)
    return found


def _differing_options(runs_a: list[_Run], runs_b: list[_Run]) -> list[str]:
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


def _values(runs: list[_Run], column: str) -> list[float]:
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
    runs_a: dict[str, list[_Run]],
    runs_b: dict[str, list[_Run]],
    functions: pd.DataFrame | Callable[[list[str]], pd.DataFrame],
    lines: pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None,
    metric: str,
    show_all: bool,
    judge_with: Callable[[Sequence[float], Sequence[float]], Judgement],
    cells: pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None = None,
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
    found_functions = _code_changes(function_rows, sides, "name", rank_by)
    found_lines = {}
    if lines is not None:
        found_lines = _code_changes(_load(lines, sides), sides, "lineno", rank_by)
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
    runs_a: list[_Run],
    runs_b: list[_Run],
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


def _load(
    source: pd.DataFrame | Callable[[list[str]], pd.DataFrame], sides: dict[str, tuple[str, str]]
) -> pd.DataFrame:
    run_ids = list(sides)
    if callable(source):
        return source(run_ids)
    return source[source["run_id"].isin(run_ids)]


def _code_changes(
    table: pd.DataFrame, sides: dict[str, tuple[str, str]], key: str, rank_by: str
) -> dict[str, tuple[CodeChange, ...]]:
    """Per entry: the functions (key "name") or lines ("lineno") whose `rank_by` moved most.

    A function is matched by file and name, a line by file and line number. Each side's figure
    is the median over its ok runs, a run without the function counting 0; a name twice in one
    run is one function (seconds summed, the larger peak).
    """
    table = table[table["run_id"].isin(list(sides))]
    if table.empty:
        return {}
    run_codes, run_ids = pd.factorize(table["run_id"])
    file_codes = pd.factorize(table["file"])[0].astype(np.int64)
    key_codes = pd.factorize(table[key])[0]
    found = file_codes * (key_codes.max() + 2) + key_codes
    seconds = table["seconds"].astype(float).fillna(0.0).to_numpy()
    peaks = table["peak_mb"].astype(float).fillna(0.0).to_numpy()
    locations = table["location"].to_numpy()
    names = table[key].to_numpy()
    entry_of_run = np.array([sides[run_id][0] for run_id in run_ids], dtype=object)
    in_b_run = np.array([sides[run_id][1] == "b" for run_id in run_ids])
    row_entries = entry_of_run[run_codes]
    result = {}
    for entry in pd.unique(row_entries):
        rows = np.flatnonzero(row_entries == entry)
        runs_a = np.flatnonzero((entry_of_run == entry) & ~in_b_run)
        runs_b = np.flatnonzero((entry_of_run == entry) & in_b_run)
        column = np.empty(len(run_ids), dtype=np.int64)
        column[runs_a] = np.arange(len(runs_a))
        column[runs_b] = len(runs_a) + np.arange(len(runs_b))
        groups, group_of_row = np.unique(found[rows], return_inverse=True)
        cells = (group_of_row, column[run_codes[rows]])
        time_grid = np.zeros((len(groups), len(runs_a) + len(runs_b)))
        peak_grid = np.zeros_like(time_grid)
        present = np.zeros(time_grid.shape, dtype=bool)
        np.add.at(time_grid, cells, seconds[rows])
        np.maximum.at(peak_grid, cells, peaks[rows])
        present[cells] = True
        split = len(runs_a)
        figures = {
            "seconds_a": np.median(time_grid[:, :split], axis=1),
            "seconds_b": np.median(time_grid[:, split:], axis=1),
            "peak_mb_a": np.median(peak_grid[:, :split], axis=1),
            "peak_mb_b": np.median(peak_grid[:, split:], axis=1),
        }
        moved = np.abs(figures[f"{rank_by}_b"] - figures[f"{rank_by}_a"])
        top = [g for g in np.argsort(-moved, kind="stable")[:TOP_CHANGES] if moved[g] > 0]
        changes = []
        for group in top:
            in_a, in_b = present[group, :split].any(), present[group, split:].any()
            members = rows[group_of_row == group]
            newest = members[in_b_run[run_codes[members]]] if in_b else members
            changes.append(
                CodeChange(
                    location=str(locations[newest[0]]),
                    name=str(names[members[0]]) if key == "name" else None,
                    status="changed" if in_a and in_b else ("new" if in_b else "gone"),
                    **{name: float(values[group]) for name, values in figures.items()},
                )
            )
        if changes:
            result[str(entry)] = tuple(changes)
    return result


def _pct(before: float, after: float) -> float | None:
    return None if before == 0 else (after - before) / before * 100
