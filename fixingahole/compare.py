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
  every run started within that day, hour, minute or second.
- a git commit prefix (at least 4 hex digits): every run recorded at that commit.
- a branch name: for each entry, its newest code version among the runs recorded on that branch.

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
wall time, or with metric="memory" peak heap (max RSS when a side has no peak heap figures).
"""

from __future__ import annotations

import bisect
import difflib
import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fixingahole import stats
from fixingahole.errors import UserError

METRICS = ("wall_s", "cpu_s", "peak_heap_mb", "max_rss_mb")
METRIC_LABELS = {
    "wall_s": "wall time",
    "cpu_s": "CPU time",
    "peak_heap_mb": "peak heap",
    "max_rss_mb": "max RSS",
}
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
)

_LATEST = re.compile(r"latest(?:~(\d+))?")
_DATE = re.compile(r"(\d{8})(?:_(\d{2}|\d{4}|\d{6}))?")
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")


@dataclass(frozen=True)
class Judgement:
    """How one metric changed from A to B."""

    ratio: float | None  # median(B) / median(A)
    p_value: float | None  # the one-sided test's; None within the threshold or without a test
    verdict: str | None  # faster / slower / unchanged / ~; None when a side has no figures
    note: str | None = None


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
    regressed: bool = False  # fails the gate: significantly worse by more than fail_on_regression
    notes: tuple[str, ...] = ()
    functions: tuple[CodeChange, ...] = ()
    lines: tuple[CodeChange, ...] = ()

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
    metric: str  # time | memory
    threshold: float
    alpha: float
    fail_on_regression: float | None
    warnings: tuple[str, ...]


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
) -> Comparison:
    """Compare the runs selector `a` picks with those `b` picks (or `a` with the runs before it).

    `functions` and `lines` are the store's tables, or loaders called with the run ids they need.
    `entries` and `tags` narrow the entries (an entry with a tag on any run). `threshold` and
    `fail_on_regression` are fractions (0.05 = 5%). Functions (and lines, when given) are listed
    for entries that got faster or slower, or for all with `show_all`. The gate fails an entry
    whose primary metric is significantly worse by more than `fail_on_regression`.
    """
    _check_settings(threshold, alpha, metric, fail_on_regression)
    table = _prepare(runs, entries, tags)
    if b is None:
        side_b = select(table, a)
        side_a = _before(table, side_b)
        selectors = (None, a)
    else:
        side_a, side_b = select(table, a), select(table, b)
        selectors = (a, b)
    header = _header(side_a, side_b, selectors, metric, threshold, alpha, fail_on_regression)
    compared = [
        _compare_entry(name, side_a, side_b, header)
        for name in sorted(set(side_a["entry"]) | set(side_b["entry"]))
    ]
    compared = _with_code_changes(compared, side_a, side_b, functions, lines, metric, show_all)
    return Comparison(
        header=header,
        entries=tuple(compared),
        geomean=tuple(_geomean(compared, name) for name in METRICS),
    )


def judge(a: Sequence[float], b: Sequence[float], threshold: float, alpha: float) -> Judgement:
    """The verdict for one metric's values on each side (the rules are in the module docstring)."""
    if len(a) == 0 or len(b) == 0:
        return Judgement(ratio=None, p_value=None, verdict=None)
    median_a, median_b = float(np.median(a)), float(np.median(b))
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


def select(runs: pd.DataFrame, selector: str) -> pd.DataFrame:
    """The runs a selector picks (rules in the module docstring); UserError when none match.

    `runs` must come from `_prepare` (sorted, with code versions numbered).
    """
    text = selector.strip()
    if not text:
        raise UserError(
            "empty selector: give a date (20250101), a run id, a commit, a branch or latest"
        )
    if latest := _LATEST.fullmatch(text):
        return _select_latest(runs, int(latest.group(1) or 0), text)
    if "/" in text:
        return _select_run_id(runs, text)
    if date := _DATE.fullmatch(text):
        return _select_date(runs, date.group(1), date.group(2) or "", text)
    if _HEX.fullmatch(text) and not (chosen := _select_commit(runs, text.lower())).empty:
        return chosen
    on_branch = runs[runs["git_branch"] == text]
    if not on_branch.empty:
        return _select_latest(_number_versions(on_branch.copy()), 0, text)
    branches = sorted(runs["git_branch"].dropna().unique())
    newest = runs.sort_values("started_utc")["run_id"].tail(3).tolist()
    raise UserError(
        f"no runs match {text!r}: it is not a date, run id, commit or branch in the store "
        f"(branches: {', '.join(branches) or 'none'}; newest runs: {', '.join(newest)})"
    )


def _check_settings(
    threshold: float, alpha: float, metric: str, fail_on_regression: float | None
) -> None:
    if not 0 <= threshold < 1:
        raise UserError(
            f"threshold must be a fraction between 0 and 1 (0.05 = 5%), not {threshold}"
        )
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1 (e.g. 0.05), not {alpha}")
    if metric not in ("time", "memory"):
        raise UserError(f"metric must be 'time' or 'memory', not {metric!r}")
    if fail_on_regression is not None and fail_on_regression < 0:
        raise UserError(
            "fail_on_regression must be a fraction of at least 0 (0.1 = 10%), "
            f"not {fail_on_regression}"
        )


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
    table = runs.loc[:, list(RUN_COLUMNS)]
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
    return _number_versions(table.reset_index(drop=True))


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


def _number_versions(table: pd.DataFrame) -> pd.DataFrame:
    """Number each entry's code versions (`version`; `back` counts from the newest, 0).

    A version is a stretch of consecutive runs with the same commit, dirty flag and content hash.
    """
    key = (
        table["git_commit"].astype(object).fillna("").astype(str)
        + "|"
        + table["git_dirty"].astype(object).fillna("").astype(str)
        + "|"
        + table["code_hash"].astype(object).fillna("").astype(str)
    )
    starts = (key != key.shift()) | (table["entry"] != table["entry"].shift())
    version = starts.cumsum()
    newest = version.groupby(table["entry"]).transform("max")
    return table.assign(version=version, back=newest - version)


def _select_latest(runs: pd.DataFrame, back: int, text: str) -> pd.DataFrame:
    chosen = runs[runs["back"] == back]
    if chosen.empty:
        raise UserError(
            f"{text} matches no runs: the entries have at most {int(runs['back'].max())} earlier "
            "code versions (latest~N counts versions back)"
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
    raise UserError(
        f"no run {text!r}; nearby runs: {', '.join(nearby) or 'none'} (fixingahole runs lists them)"
    )


def _select_date(runs: pd.DataFrame, day: str, clock: str, text: str) -> pd.DataFrame:
    try:
        start = datetime.strptime(day + clock, "%Y%m%d%H%M%S"[: 6 + len(clock)])
    except ValueError:
        raise UserError(
            f"{text!r} is not a valid UTC date: use YYYYMMDD, YYYYMMDD_HH, YYYYMMDD_HHMM or "
            "YYYYMMDD_HHMMSS"
        ) from None
    length = {0: timedelta(days=1), 2: timedelta(hours=1), 4: timedelta(minutes=1)}
    begin = pd.Timestamp(start, tz="UTC")
    end = begin + length.get(len(clock), timedelta(seconds=1))
    started = runs["started_utc"]
    chosen = runs[(started >= begin) & (started < end)]
    if not chosen.empty:
        return chosen
    before = runs[started < begin].sort_values("started_utc")["run_id"].tail(2).tolist()
    after = runs[started >= end].sort_values("started_utc")["run_id"].head(2).tolist()
    raise UserError(
        f"no runs started in {text} (UTC); nearest before: {', '.join(before) or 'none'}; "
        f"nearest after: {', '.join(after) or 'none'}"
    )


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
    for label, field in (
        ("hosts", "hosts"),
        ("Python versions", "pythons"),
        ("Scalene versions", "scalenes"),
    ):
        values_a, values_b = getattr(a, field), getattr(b, field)
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
    return Header(a, b, metric, threshold, alpha, fail_on_regression, tuple(warnings))


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


def _compare_entry(
    name: str, side_a: pd.DataFrame, side_b: pd.DataFrame, header: Header
) -> EntryComparison:
    metric, threshold, alpha = header.metric, header.threshold, header.alpha
    runs_a = side_a[side_a["entry"] == name]
    runs_b = side_b[side_b["entry"] == name]
    primary = "wall_s" if metric == "time" else "peak_heap_mb"
    ids_a, ids_b = tuple(runs_a["run_id"]), tuple(runs_b["run_id"])
    ok_a = runs_a[runs_a["status"] == "ok"]
    ok_b = runs_b[runs_b["status"] == "ok"]
    values = {column: (_values(ok_a, column), _values(ok_b, column)) for column in METRICS}
    metrics = tuple(
        MetricComparison(
            column,
            stats.describe(values[column][0]),
            stats.describe(values[column][1]),
            judge(*values[column], threshold, alpha),
        )
        for column in METRICS
    )
    if runs_a.empty or runs_b.empty:
        verdict = "new" if runs_a.empty else "missing"
        return EntryComparison(name, verdict, primary, ids_a, ids_b, metrics, False)
    notes = []
    by_name = {m.metric: m for m in metrics}
    if metric == "memory" and not (values[primary][0] and values[primary][1]):
        primary = "max_rss_mb"
        notes.append(
            "no peak heap figures on a side (profiled without --memory): judged by max RSS"
        )
    for label, runs, ok in (("A", runs_a, ok_a), ("B", runs_b, ok_b)):
        if len(ok) < len(runs):
            statuses = ", ".join(sorted(runs.loc[runs["status"] != "ok", "status"].unique()))
            notes.append(f"{label}: {len(runs) - len(ok)} of {len(runs)} runs not ok ({statuses})")
        if runs["version"].nunique() > 1:
            notes.append(f"{label} mixes {runs['version'].nunique()} code versions")
    if ok_a.empty or ok_b.empty:
        verdict = "failed"
    else:
        judgement = by_name[primary].judgement
        verdict = judgement.verdict or "~"
        if judgement.note:
            notes.append(judgement.note)
        if judgement.verdict is None:
            notes.append(f"no {METRIC_LABELS[primary]} figures on a side")
    hashes_a = set(runs_a["code_hash"].dropna())
    hashes_b = set(runs_b["code_hash"].dropna())
    return EntryComparison(
        entry=name,
        verdict=verdict,
        primary=primary,
        runs_a=ids_a,
        runs_b=ids_b,
        metrics=metrics,
        code_changed=bool(hashes_a and hashes_b and hashes_a != hashes_b),
        regressed=verdict in COMPARED
        and header.fail_on_regression is not None
        and _regressed(*values[primary], header.fail_on_regression, alpha),
        notes=tuple(notes),
    )


def _values(runs: pd.DataFrame, column: str) -> list[float]:
    return [float(value) for value in runs[column].dropna()]


def _regressed(a: Sequence[float], b: Sequence[float], pct: float, alpha: float) -> bool:
    """Are B's values significantly worse than A's by more than pct (never with one run each)?"""
    judgement = judge(a, b, pct, alpha)
    return judgement.verdict == "slower"


def _geomean(entries: Iterable[EntryComparison], metric: str) -> GeoMean:
    ratios = []
    for entry in entries:
        found = entry.metric(metric) if entry.verdict in COMPARED else None
        if found is not None and found.judgement.ratio is not None and found.judgement.ratio > 0:
            ratios.append(found.judgement.ratio)
    return GeoMean(metric, stats.geometric_mean(ratios), len(ratios))


def _with_code_changes(
    entries: list[EntryComparison],
    side_a: pd.DataFrame,
    side_b: pd.DataFrame,
    functions: pd.DataFrame | Callable[[list[str]], pd.DataFrame],
    lines: pd.DataFrame | Callable[[list[str]], pd.DataFrame] | None,
    metric: str,
    show_all: bool,
) -> list[EntryComparison]:
    """Attach the functions (and lines) that changed most to the entries that changed."""
    wanted = {
        entry.entry
        for entry in entries
        if entry.verdict in ("faster", "slower") or (show_all and entry.verdict in COMPARED)
    }
    if not wanted:
        return entries
    ok = pd.concat([side_a.assign(side="a"), side_b.assign(side="b")])
    ok = ok.loc[(ok["status"] == "ok") & ok["entry"].isin(wanted), ["run_id", "entry", "side"]]
    rank_by = "seconds" if metric == "time" else "peak_mb"
    found_functions = _code_changes(_load(functions, ok), ok, ("file", "name"), rank_by)
    found_lines = (
        _code_changes(_load(lines, ok), ok, ("file", "lineno"), rank_by)
        if lines is not None
        else {}
    )
    return [
        replace(
            entry,
            functions=found_functions.get(entry.entry, ()),
            lines=found_lines.get(entry.entry, ()),
        )
        for entry in entries
    ]


def _load(
    source: pd.DataFrame | Callable[[list[str]], pd.DataFrame], ok: pd.DataFrame
) -> pd.DataFrame:
    run_ids = ok["run_id"].tolist()
    if callable(source):
        return source(run_ids)
    return source[source["run_id"].isin(run_ids)]


def _code_changes(
    table: pd.DataFrame, ok: pd.DataFrame, keys: tuple[str, str], rank_by: str
) -> dict[str, tuple[CodeChange, ...]]:
    """Per entry: the functions or lines whose `rank_by` moved most between the sides."""
    if table.empty:
        return {}
    rows = table.merge(ok, on="run_id")
    group = ["entry", "side", *keys]
    per_run = rows.groupby([*group, "run_id"], as_index=False, sort=False).agg(
        seconds=("seconds", "sum"), peak_mb=("peak_mb", "max"), location=("location", "first")
    )
    # Every function seen on a side, in every ok run of that side: absent counts as 0.
    grid = per_run[group].drop_duplicates().merge(ok, on=["entry", "side"])
    grid = grid.merge(per_run.drop(columns="location"), on=[*group, "run_id"], how="left")
    medians = (
        grid.fillna({"seconds": 0.0, "peak_mb": 0.0})
        .groupby(group, sort=False)[["seconds", "peak_mb"]]
        .median()
    )
    wide = medians.unstack("side")
    wide.columns = [f"{value}_{side}" for value, side in wide.columns]
    wide = wide.reindex(columns=["seconds_a", "seconds_b", "peak_mb_a", "peak_mb_b"])
    present_a = wide["seconds_a"].notna()
    present_b = wide["seconds_b"].notna()
    wide = wide.fillna(0.0)
    wide["status"] = np.where(~present_a, "new", np.where(~present_b, "gone", "changed"))
    locations = per_run.sort_values("side").groupby(["entry", *keys], sort=False)["location"].last()
    wide["location"] = locations.reindex(wide.index).to_numpy()
    wide["moved"] = (wide[f"{rank_by}_b"] - wide[f"{rank_by}_a"]).abs()
    wide = wide[wide["moved"] > 0].sort_values("moved", ascending=False)
    top = wide.groupby(level="entry", sort=False).head(TOP_CHANGES).reset_index()
    result: dict[str, list[CodeChange]] = {}
    for row in top.itertuples(index=False):
        result.setdefault(row.entry, []).append(
            CodeChange(
                location=str(row.location),
                name=str(row.name) if "name" in keys else None,
                status=str(row.status),
                seconds_a=float(row.seconds_a),
                seconds_b=float(row.seconds_b),
                peak_mb_a=float(row.peak_mb_a),
                peak_mb_b=float(row.peak_mb_b),
            )
        )
    return {entry: tuple(changes) for entry, changes in result.items()}


def _pct(before: float, after: float) -> float | None:
    return None if before == 0 else (after - before) / before * 100
