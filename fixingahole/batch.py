"""Run manifest entries one at a time, repeats interleaved, with progress and a closing table.

What a batch prints: before each run a progress line (stderr), after it one line for the run
(stdout; `run_line`), or its full Profile Summary for an entry with `verbose`, and at the end the
closing table (`summary_table`). When stdout and stderr are both a terminal the progress line is a
status line redrawn in place; the status is coloured when stdout is one. Anywhere else (CI logs,
files, pipes) every line is plain text with no carriage return or escape sequence.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from statistics import median
from typing import TextIO

from fixingahole.manifest import Entry
from fixingahole.profile_run import RunOutcome
from fixingahole.record import RunRecord, RunStatus, worst_exit_code
from fixingahole.settings import Settings

CLEAR_LINE = "\r\033[K"  # back to the line's start and erase it (terminals only)


@dataclass(frozen=True)
class Job:
    """One profile of one entry in a given round."""

    entry: Entry
    round: int  # 1-based
    rounds: int

    @property
    def label(self) -> str:
        """The entry's name, with `#r` when it runs more than once."""
        return self.entry.name if self.rounds == 1 else f"{self.entry.name} #{self.round}"


@dataclass
class BatchResult:
    """What every job of a batch ended as; jobs not reached are absent."""

    outcomes: list[tuple[Job, RunOutcome]] = field(default_factory=list)
    interrupted: bool = False
    remote: bool = False  # ran on a Dask cluster: the table says on which host

    @property
    def exit_code(self) -> int:
        """The exit code of the worst run (`record.worst_exit_code`); 130 when interrupted."""
        if self.interrupted:
            return RunStatus.INTERRUPTED.exit_code
        return worst_exit_code(outcome.status for _, outcome in self.outcomes)


def plan(entries: Sequence[Entry], repeat: int | None = None) -> list[Job]:
    """Interleave rounds (a b c, a b c, ...) so drift in machine speed spreads over all entries."""
    counts = {e.name: repeat or e.repeat for e in entries}
    rounds = max(counts.values(), default=0)
    return [
        Job(e, r, counts[e.name])
        for r in range(1, rounds + 1)
        for e in entries
        if r <= counts[e.name]
    ]


def run_batch(
    jobs: Sequence[Job],
    settings: Settings,
    run_one: Callable[[Job], RunOutcome],
    *,
    fail_fast: bool = False,
    estimates: dict[str, float] | None = None,
    out: TextIO | None = None,
    scheduler: str | None = None,
) -> BatchResult:
    """Run jobs serially through joblib, or on the Dask cluster at `scheduler` (one at a time per
    host); stop early on Ctrl-C, or on a failure with fail_fast. Each run's line goes to `out`
    (standard output by default)."""
    from joblib import Parallel, delayed

    progress = Progress(jobs, estimates or {}, out=out)
    if scheduler:
        from fixingahole.cluster import run_on_cluster

        return run_on_cluster(scheduler, jobs, settings, run_one, progress, fail_fast=fail_fast)
    result = BatchResult()

    def run(index: int, job: Job) -> None:
        if result.interrupted or (fail_fast and _any_failed(result)):
            return
        progress.starting(index, job)
        outcome = run_one(job)
        progress.finished(job, outcome)
        result.outcomes.append((job, outcome))
        if outcome.status is RunStatus.INTERRUPTED:
            result.interrupted = True

    try:
        Parallel(n_jobs=1, backend="sequential")(delayed(run)(i, j) for i, j in enumerate(jobs))
    except KeyboardInterrupt:
        result.interrupted = True
    finally:
        progress.clear()
    return result


def _any_failed(result: BatchResult) -> bool:
    return any(o.status is not RunStatus.OK for _, o in result.outcomes)


class Progress:
    """`[i/N] entry (round r/R): elapsed, about M:SS left` before each job (to `err`), and the
    job's run line after it (to `out`) unless the entry is verbose."""

    def __init__(
        self,
        jobs: Sequence[Job],
        estimates: dict[str, float],
        *,
        out: TextIO | None = None,
        err: TextIO | None = None,
    ):
        self.jobs = jobs
        self.estimates = dict(estimates)
        self.seen: dict[str, list[float]] = {}
        self.start = time.perf_counter()
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        # the progress line is redrawn in place only when both streams reach the terminal
        # directly (through `| tee` the run lines would arrive late, inside the next status line)
        self.live = is_terminal(self.err) and is_terminal(self.out)
        self.colour = is_terminal(self.out) and not os.environ.get("NO_COLOR")
        self.label_width = max((len(job.label) for job in jobs), default=0)
        self.heap_column = any(job.entry.options.mode == "memory" for job in jobs)
        self.showing = False  # a status line is on the terminal, to be cleared

    def starting(self, index: int, job: Job, host: str | None = None) -> None:
        elapsed = time.perf_counter() - self.start
        remaining = self._remaining(index)
        eta = f", about {_clock(remaining)} left" if remaining is not None else ""
        rounds = f" (round {job.round}/{job.rounds})" if job.rounds > 1 else ""
        rounds += f" on {host}" if host else ""
        text = (
            f"[{index + 1}/{len(self.jobs)}] {job.entry.name}{rounds}: "
            f"{_clock(elapsed)} elapsed{eta}"
        )
        quiet = not (job.entry.options.verbose or job.entry.options.live)
        if self.live and quiet:  # nothing else prints while it runs: redraw in place
            self.err.write(f"{CLEAR_LINE}{text}")
            self.showing = True
        else:
            self.err.write(f"{text}\n")
        self.err.flush()

    def finished(self, job: Job, outcome: RunOutcome) -> None:
        if outcome.record is not None:
            self.seen.setdefault(job.entry.name, []).append(outcome.record.wall_s)
        self.clear()
        if not job.entry.options.verbose:
            line = run_line(job, outcome, self.label_width, self.heap_column, self.colour)
            print(line, file=self.out, flush=True)

    def clear(self) -> None:
        """Erase the status line, if one is showing."""
        if self.showing:
            self.err.write(CLEAR_LINE)
            self.err.flush()
            self.showing = False

    def _remaining(self, index: int) -> float | None:
        """Expected time of the jobs from `index` on: this batch's runs, else the store's."""
        total = 0.0
        for job in self.jobs[index:]:
            name = job.entry.name
            guess = median(self.seen[name]) if name in self.seen else self.estimates.get(name)
            if guess is None:
                return None
            total += guess
        return total


def is_terminal(stream: TextIO) -> bool:
    """True when `stream` is an interactive terminal that understands escape sequences."""
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):  # no isatty, or closed
        return False


def run_line(
    job: Job,
    outcome: RunOutcome,
    label_width: int = 0,
    heap_column: bool = True,
    colour: bool = False,
) -> str:
    """The one line a batch prints for a finished run (see `report.text.render_run_line`)."""
    from fixingahole.report.text import render_run_line

    return render_run_line(
        job.label,
        outcome.status,
        outcome.run_id,
        outcome.record,
        error=outcome.error,
        label_width=label_width,
        heap_column=heap_column,
        colour=colour,
    )


def _clock(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def summary_table(result: BatchResult) -> str:
    """One row per job: status, wall, CPU, peak heap, max RSS, instructions (when counted) and
    top function."""
    from tabulate import tabulate

    counted = any(o.record and o.record.instructions is not None for _, o in result.outcomes)
    rows = []
    for job, outcome in result.outcomes:
        row = [job.label, outcome.status.value, *_figures(outcome.record, counted), outcome.run_id]
        if result.remote:
            row.insert(2, outcome.host or "-")
        rows.append(row)
    headers = [
        "entry",
        "status",
        "wall s",
        "CPU s",
        "peak heap MB",
        "max RSS MB",
        *(["instructions"] if counted else []),
        "top function",
        "run id",
    ]
    if result.remote:
        headers.insert(2, "host")
    return tabulate(rows, headers=headers, disable_numparse=True)


def _figures(record: RunRecord | None, counted: bool) -> list[str]:
    """A run's cells of the closing table, from wall time to top function (`-` when none)."""
    if record is None:
        return ["-"] * (6 if counted else 5)
    top = record.functions[0] if record.functions else None
    return [
        f"{record.wall_s:.2f}",
        f"{record.cpu_s:.2f}",
        _fmt(record.peak_heap_mb, "{:.1f}"),
        f"{record.max_rss_mb:.1f}",
        *([_count(record)] if counted else []),
        f"{top.name} ({top.percent:.1f}%)" if top else "-",
    ]


def _count(record: RunRecord) -> str:
    """A run's instruction count; `-` when not counted."""
    count = None if record.instructions is None else record.instructions.instructions
    return "-" if count is None else f"{count:,}"


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else pattern.format(value)
