"""The store's runs table as compare reads it: the chosen entries, code versions, one record a run.

The input is the `runs` DataFrame (columns as in docs/internals.md, "The store"), so a comparison
works on frames from anywhere. `prepare_runs` checks its columns, keeps the chosen entries (and
the entries with a chosen tag on any run), sorts it by entry and time and numbers each entry's
code versions (`number_versions`): a version is a stretch of consecutive runs with the same
commit, dirty flag and content hash. The selectors pick rows of that table; `runs_by_entry` reads
the picked rows as `RunRow`s, the one shape in which comparing an entry reads a run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fixingahole.compare.verdicts import COUNTS, METRICS
from fixingahole.errors import UserError
from fixingahole.options import MEASURING_OPTIONS

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

Setup = tuple[tuple[str, str], ...]  # (name, value as JSON) of the mode and measuring options


@dataclass(frozen=True)
class RunRow:
    """One row of the runs table as compare reads it (by attribute), with what compare derives."""

    run_id: str
    status: str
    figures: dict[str, float]  # metric -> value, for the metrics (and elapsed_s) the run has
    code_hash: str | None
    version: int  # its code version, numbered by `number_versions`
    setup: Setup  # from the `mode` and `options` columns
    count_note: str | None = None  # why its instruction count may vary, or is missing


def prepare_runs(runs: pd.DataFrame, entries: Sequence[str], tags: Sequence[str]) -> pd.DataFrame:
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
    chosen: pd.DataFrame = table[table["entry"].isin(table.loc[tagged, "entry"])]
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
    numbered: pd.DataFrame = table.assign(version=version, back=newest - version)
    return numbered


def runs_by_entry(frame: pd.DataFrame) -> dict[str, list[RunRow]]:
    """The prepared rows of a side as `RunRow`s, grouped by entry (fast for many small groups)."""
    measured = [*METRICS, *(c for c in OPTIONAL_COLUMNS if c in frame.columns)]
    values = frame.loc[:, measured].astype(float).to_numpy(na_value=np.nan)
    counts = frame.loc[:, list(COUNTS)].to_numpy(dtype=float, na_value=np.nan)
    notes = frame["instructions_note"]
    count_notes = [None] * len(frame)  # most runs have no note: skip the conversion
    if notes.notna().any():
        count_notes = notes.astype(object).where(notes.notna(), None).tolist()
    hashes = frame["code_hash"].astype(object).where(frame["code_hash"].notna(), None)
    grouped: dict[str, list[RunRow]] = {}
    setups: dict[tuple[object, object], Setup] = {}  # mostly shared
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
        run = RunRow(run_id, status, figures, code_hash, int(version), setup, count_note)
        grouped.setdefault(entry, []).append(run)
    return grouped


def _setup(mode: object, options: object) -> Setup:
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
