"""The commands, once: the `fixingahole` CLI and the invoke tasks are both thin shells over these.

Each function takes plain values, prints what the user should see, returns an exit code, and raises
`UserError` for bad input.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixingahole.errors import UserError

STATUS_EXIT = {"ok": 0, "failed": 1, "timeout": 1, "no-samples": 2, "interrupted": 130}
DEFAULT_MANIFEST = "profiles.toml"
BEFORE = "before"  # as compare's first selector: "the runs just before the second one"


@dataclass(frozen=True)
class Where:
    """Location overrides from the command line (None: use the configuration)."""

    root: Path | None = None
    output: Path | None = None
    ignore: tuple[str, ...] = ()
    scheduler: str | None = None  # a Dask scheduler's address ("": run locally)

    def settings(self):
        from fixingahole.config import load_settings

        return load_settings(
            root=self.root, output=self.output, ignore=self.ignore, scheduler=self.scheduler
        )


def profile(
    name: str,
    where: Where,
    overrides: Mapping[str, Any],
    *,
    manifest: Path | None = None,
    command: str | None = None,
    top: int = 10,
) -> int:
    """Profile a manifest entry by name, or else a script or notebook found by path or name."""
    from fixingahole.manifest import load_manifest
    from fixingahole.options import ProfileOptions
    from fixingahole.profiling import profile_target
    from fixingahole.targets import find_target

    settings = where.settings()
    manifest_path = _manifest_path(manifest, settings)
    if _could_be_entry(name) and manifest_path.is_file():
        entries = {e.name for e in load_manifest(manifest_path, settings).entries}
        if name in entries:
            return profile_all(where, overrides, manifest=manifest_path, only=(name,), top=top)
    target = find_target(name, settings)
    options = ProfileOptions.from_values(**overrides)
    outcome = profile_target(
        target,
        options,
        settings,
        command=command or command_line(target, options, settings.root),
        top=top,
    )
    if outcome.status != "ok":
        print(f"fixingahole: {outcome.status}: {outcome.summary.get('error')}", file=sys.stderr)
    return STATUS_EXIT.get(outcome.status, 1)


def profile_all(
    where: Where,
    overrides: Mapping[str, Any],
    *,
    manifest: Path | None = None,
    only: Sequence[str] = (),
    tags: Sequence[str] = (),
    repeat: int | None = None,
    fail_fast: bool = False,
    dry_run: bool = False,
    top: int = 10,
) -> int:
    """Run manifest entries one at a time; print progress and a closing table."""
    from fixingahole.batch import summary_table

    result = _run_entries(
        where,
        overrides,
        manifest,
        only,
        tags,
        repeat,
        fail_fast=fail_fast,
        dry_run=dry_run,
        top=top,
        cluster=True,
    )
    if result is None:
        return 0
    if result.outcomes:
        print()
        print(summary_table(result))
    for job, outcome in result.outcomes:
        if outcome.status in ("lost", "refused"):  # no run folder: say why here
            print(f"fixingahole: {job.entry.name}: {outcome.summary['error']}", file=sys.stderr)
    if result.interrupted:
        print("fixingahole: interrupted; the runs above were saved", file=sys.stderr)
    return result.exit_code


def calibrate(
    name: str,
    where: Where,
    overrides: Mapping[str, Any],
    *,
    manifest: Path | None = None,
    repeat: int = 10,
    alpha: float = 0.05,
    compare_repeat: int = 5,
) -> int:
    """Profile one entry `repeat` times and report its noise, a threshold and a repeat count."""
    from fixingahole.stats import noise_report

    if repeat < 2:
        raise UserError(f"calibrate needs --repeat 2 or more to measure noise, got {repeat}")
    result = _run_entries(where, overrides, manifest, (name,), (), repeat, top=0, echo=False)
    timings = [o.summary["wall_s"] for _, o in result.outcomes if o.status == "ok"]
    if result.interrupted or len(timings) < 2:
        raise UserError(f"{name}: fewer than 2 successful runs; fix the entry and run again")
    report = noise_report(timings, compare_repeat, alpha)
    print(f"{name}: wall time over {len(timings)} runs")
    print(report.text())
    return 0


def _run_entries(
    where: Where,
    overrides: Mapping[str, Any],
    manifest: Path | None,
    only: Sequence[str],
    tags: Sequence[str],
    repeat: int | None,
    *,
    fail_fast: bool = False,
    dry_run: bool = False,
    top: int = 10,
    echo: bool = True,
    cluster: bool = False,
):
    """Plan and run the selected entries (on the configured Dask scheduler with `cluster`); None
    for a dry run (the plan is printed instead)."""
    from fixingahole.batch import plan, run_batch
    from fixingahole.manifest import load_manifest, select
    from fixingahole.profiling import profile_target

    if repeat is not None and repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    settings = where.settings()
    manifest_path = _manifest_path(manifest, settings)
    entries = [
        e.with_overrides(**overrides)
        for e in select(load_manifest(manifest_path, settings), only=only, tags=tags)
    ]
    jobs = plan(entries, repeat)
    commands = {e.name: command_line(e.path, e.options, settings.root) for e in entries}
    if dry_run:
        for i, job in enumerate(jobs, 1):
            print(
                f"[{i}/{len(jobs)}] {job.entry.name} (round {job.round}/{job.rounds}): "
                f"{commands[job.entry.name]}"
            )
        return None

    def run_one(job, settings=settings, **extra):  # a Dask worker: its folder, stop, workdir
        return profile_target(
            job.entry.path,
            job.entry.options,
            settings,
            **extra,
            command=commands[job.entry.name],
            entry=job.entry.name,
            tags=job.entry.tags,
            top=top,
            echo=echo,
        )

    return run_batch(
        jobs,
        settings,
        run_one,
        fail_fast=fail_fast,
        estimates=_estimates(settings, entries),
        scheduler=settings.scheduler if cluster else None,
    )


def compare(
    a: str,
    b: str | None,
    where: Where,
    *,
    entries: Sequence[str] = (),
    tags: Sequence[str] = (),
    threshold_pct: float = 5.0,
    alpha: float = 0.05,
    metric: str = "time",
    show_all: bool = False,
    lines: bool = False,
    fmt: str = "text",
    output: Path | None = None,
    fail_on_regression_pct: float | None = None,
) -> int:
    """Compare two selections of stored runs: 1 for a gated regression, 2 for nothing to compare."""
    from fixingahole import compare as comparing
    from fixingahole.profiling import store_dir
    from fixingahole.report.comparison import render
    from fixingahole.store import Store

    if a == BEFORE:  # `compare before B`: B against the runs just before it
        if b is None:
            raise UserError(f"'{BEFORE}' needs a second selector: compare {BEFORE} latest")
        a, b = b, None
    store = Store(store_dir(where.settings()))
    runs = store.runs()
    if runs.empty:
        raise UserError("the store holds no runs yet: profile something first (invoke profile-all)")
    comparison = comparing.compare(
        runs,
        store.functions,
        a,
        b,
        entries=entries,
        tags=tags,
        threshold=threshold_pct / 100,
        alpha=alpha,
        metric=metric,
        show_all=show_all,
        lines=store.lines if lines else None,
        fail_on_regression=None if fail_on_regression_pct is None else fail_on_regression_pct / 100,
    )
    text = render(comparison, fmt)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {output}: {exc.strerror}") from None
        print(f"comparison written to {output}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return comparison.exit_code


def list_runs(
    where: Where, *, entries: Sequence[str] = (), date: str | None = None, limit: int | None = None
) -> int:
    """Print the store's runs, newest last."""
    from tabulate import tabulate

    from fixingahole.profiling import store_dir
    from fixingahole.store import Store

    settings = where.settings()
    runs = Store(store_dir(settings)).runs(entries=list(entries) or None)
    if date:
        runs = runs[runs["run_id"].str.split("/").str[-1].str.startswith(date)]
    runs = runs.sort_values("started_utc")
    if limit:
        runs = runs.tail(limit)
    if runs.empty:
        print("no runs stored yet" + (" that match" if entries or date else ""))
        return 0
    rows = [
        [
            r.entry,
            r.run_id,
            r.started_utc.strftime("%Y-%m-%d %H:%M:%S"),
            r.status,
            f"{r.wall_s:.2f}",
            _peak(r.peak_heap_mb, r.max_rss_mb),
            _commit(r.git_commit, r.git_dirty),
        ]
        for r in runs.itertuples()
    ]
    headers = ["entry", "run id", "UTC time", "status", "wall s", "peak MB", "commit"]
    if runs["host"].nunique() > 1:  # runs from a cluster: say where each ran
        headers.append("host")
        for row, host in zip(rows, runs["host"], strict=True):
            row.append(host if _known(host) else "")
    print(tabulate(rows, headers=headers, disable_numparse=True))
    return 0


def rebuild_store(where: Where) -> int:
    """Rebuild the store from the run folders."""
    from fixingahole.profiling import store_dir
    from fixingahole.store import Store

    settings = where.settings()
    report = Store(store_dir(settings)).rebuild(settings.output)
    print(f"store rebuilt from {settings.output}: {report.added} runs")
    for folder, reason in report.skipped:
        print(f"  skipped {folder}: {reason}", file=sys.stderr)
    return 0


def command_line(target: Path, options, root: Path) -> str:
    """The `fixingahole profile` command that reproduces a profile with these options."""
    try:
        shown = target.relative_to(root).as_posix()
    except ValueError:
        shown = str(target)
    argv = ["fixingahole", "profile", shown, *options.to_argv()]
    return shlex.join(argv)


def _could_be_entry(name: str) -> bool:
    """A name with a folder or a script suffix is a file; only a bare word can name an entry."""
    return "/" not in name and os.sep not in name and not name.endswith((".py", ".ipynb"))


def _manifest_path(manifest: Path | None, settings) -> Path:
    return Path(manifest) if manifest else settings.root / DEFAULT_MANIFEST


def _estimates(settings, entries) -> dict[str, float]:
    """Median wall time of each entry's earlier successful runs, for the batch's time estimate."""
    from fixingahole.profiling import store_dir
    from fixingahole.store import Store

    runs = Store(store_dir(settings)).runs(entries=[e.name for e in entries])
    ok = runs[runs["status"] == "ok"]
    return ok.groupby("entry")["wall_s"].median().to_dict()


def _peak(heap: float | None, rss: float | None) -> str:
    if _known(heap):
        return f"{heap:.1f} heap"
    return f"{rss:.1f} RSS" if _known(rss) else "-"


def _commit(commit: str | None, dirty: bool | None) -> str:
    """A short commit, `+` when the tree had uncommitted changes; blank outside git."""
    if not _known(commit):
        return ""
    return commit[:10] + ("+" if _known(dirty) and dirty else "")


def _known(value: object) -> bool:
    """Not None, not NaN, not pandas' NA."""
    return value is not None and value == value and str(value) != "<NA>"
