"""Selectors: which runs a side of a comparison holds, from the prepared runs table.

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
version), the selectors that would compare them (`suggestion`): the two newest batches by time
prefix (a batch being runs each started within BATCH_GAP of the end of the one before), else two
repeats by run id.

With one selector, B is what it selects and A (`before`) is, for each entry in B, the newest code
version among that entry's runs older than B's oldest run of it (so `compare latest` is
`compare latest~1 latest`). A run from a dirty work tree carries the same commit and content hash
as the runs before it when only other files changed: select those by date or run id.
"""

from __future__ import annotations

import bisect
import difflib
import re
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from fixingahole.compare.runs import number_versions
from fixingahole.errors import UserError

NEAREST = 4  # runs a selector error lists
BATCH_GAP = pd.Timedelta(seconds=10)  # a run starting later than this after the previous one
# ended starts a new batch (for the selectors an error suggests)
STAMP = "%Y%m%d_%H%M%S"
PREFIX_LENGTHS = (15, 13, 11, 8)  # a stamp's second, minute, hour and day prefixes

_LATEST = re.compile(r"latest(?:~(\d+))?")
_DATE = re.compile(r"(\d{8})(?:_(\d{2}|\d{4}|\d{6}))?")
_HEX = re.compile(r"[0-9a-fA-F]{4,40}")
_SPAN = re.compile(r"(\d{8}(?:_\d{2}|_\d{4}|_\d{6})?)\.\.(\d{8}(?:_\d{2}|_\d{4}|_\d{6})?)")


def select(runs: pd.DataFrame, selector: str) -> pd.DataFrame:
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
        f"{suggestion(runs)}"
    )


def _select_latest(runs: pd.DataFrame, back: int, text: str) -> pd.DataFrame:
    chosen: pd.DataFrame = runs[runs["back"] == back]
    if chosen.empty:
        most = int(runs["back"].max())
        versions = "one code version" if most == 0 else f"at most {most} earlier code versions"
        raise UserError(
            f"{text} matches no runs: the entries have {versions} (latest~N counts versions "
            "back: runs differing in commit, dirty flag or content hash)"
            f"{suggestion(runs)}; newest runs: {_listed(_nearest(runs))}"
        )
    return chosen


def _select_run_id(runs: pd.DataFrame, text: str) -> pd.DataFrame:
    ids = runs["run_id"]
    chosen: pd.DataFrame = runs[ids == text]
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
    begin, end = _prefix_bounds(first)[0], _prefix_bounds(last)[1]
    if end <= begin:
        raise UserError(f"{text!r} ends before it starts: give the earlier time first")
    return _select_between(runs, begin, end, text)


def _prefix_bounds(prefix: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The UTC period of a prefix the pattern of dates has matched (YYYYMMDD[_HH[MM[SS]]])."""
    day, _, clock = prefix.partition("_")
    return _bounds(day, clock, prefix)


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
    chosen: pd.DataFrame = runs[(started >= begin) & (started < end)]
    if not chosen.empty:
        return chosen
    before = runs[started < begin].sort_values("started_utc").tail(2)
    after = runs[started >= end].sort_values("started_utc").head(2)
    raise UserError(
        f"no runs started in {text} (UTC); nearest before: {_listed(before)}; "
        f"nearest after: {_listed(after)}{suggestion(runs)}"
    )


def _select_commit(runs: pd.DataFrame, prefix: str) -> pd.DataFrame:
    commits = runs["git_commit"].astype(object).fillna("").astype(str).str.lower()
    chosen: pd.DataFrame = runs[commits.str.startswith(prefix)]
    distinct = sorted(chosen["git_commit"].unique())
    if len(distinct) > 1:
        shown = ", ".join(commit[:12] for commit in distinct[:5])
        raise UserError(f"commit prefix {prefix} is ambiguous ({shown}): give more digits")
    return chosen


def before(runs: pd.DataFrame, chosen: pd.DataFrame) -> pd.DataFrame:
    """Per entry of `chosen`: the newest code version among its runs older than chosen's oldest."""
    oldest = chosen.groupby("entry")["started_utc"].min()
    limit = runs["entry"].map(oldest)
    earlier: pd.DataFrame = runs[runs["started_utc"] < limit]
    if earlier.empty:
        return earlier
    newest_version = earlier.groupby("entry")["version"].max()
    newest: pd.DataFrame = earlier[earlier["version"].isin(newest_version)]
    return newest


def _listed(runs: pd.DataFrame) -> str:
    """Run ids with their UTC start times, for an error message."""
    shown = [
        f"{run_id} ({started:%Y-%m-%d %H:%M:%S})"
        for run_id, started in zip(runs["run_id"], runs["started_utc"], strict=True)
    ]
    return ", ".join(shown) or "none"


def _nearest(runs: pd.DataFrame, count: int = NEAREST) -> pd.DataFrame:
    """The newest runs, oldest first."""
    newest: pd.DataFrame = runs.sort_values(["started_utc", "run_id"]).tail(count)
    return newest


def suggestion(runs: pd.DataFrame) -> str:
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
            prefix: str = prefixes.pop()
            covered = runs["started_utc"].dt.strftime(STAMP).str.startswith(prefix)
            if covered.sum() == len(batch):
                return prefix
            break
    return f"{stamps.iloc[0]}..{stamps.iloc[-1]}"
