"""The commands, once: the `fixingahole` CLI and the invoke tasks are both thin shells over these.

Each function takes plain values, prints what the user should see, returns an exit code, and raises
`UserError` for bad input.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from fixingahole.errors import UserError

STATUS_EXIT = {
    "ok": 0,
    "failed": 1,
    "timeout": 1,
    "no-samples": 2,
    "tool-error": 3,
    "interrupted": 130,
}
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
        from fixingahole.settings import load_settings

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
    from fixingahole.profile_run import profile_target
    from fixingahole.targets import find_target

    settings = where.settings()
    manifest_path = _manifest_path(manifest, settings)
    if _could_be_entry(name) and manifest_path.is_file():
        entries = {e.name: e for e in load_manifest(manifest_path, settings).entries}
        if name in entries:
            if entries[name].repeat == 1:  # one run: a single profile, shown in full
                overrides = {**overrides, "verbose": True}
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
    """Run manifest entries one at a time; print progress, a line per run (its full summary for
    a verbose entry) and a closing table."""
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
    top: int = 10,
) -> int:
    """Profile one entry `repeat` times and report its noise, a threshold and a repeat count."""
    from fixingahole.stats import noise_report

    if repeat < 2:
        raise UserError(f"calibrate needs --repeat 2 or more to measure noise, got {repeat}")
    result = _run_entries(where, overrides, manifest, (name,), (), repeat, top=top)
    ok = [o.summary for _, o in result.outcomes if o.status == "ok"]
    if result.interrupted or len(ok) < 2:
        raise UserError(f"{name}: fewer than 2 successful runs; fix the entry and run again")
    reports = {}
    for metric, column, label in (("time", "wall_s", "wall time"), ("cpu", "cpu_s", "CPU time")):
        timings = [summary[column] for summary in ok if summary.get(column)]
        if len(timings) >= 2:
            reports[metric] = noise_report(timings, compare_repeat, alpha)
            print(f"{name}: {label} over {len(timings)} runs")
            print(reports[metric].text())
            print()
    quieter = min(reports, key=lambda metric: reports[metric].suggested_threshold)
    chosen = reports[quieter]
    print(
        f"gate on {'CPU' if quieter == 'cpu' else 'wall'} time, the steadier here: compare "
        f"--metric {quieter} --threshold {chosen.suggested_threshold * 100:.0f} "
        f"(with --repeat {chosen.suggested_repeat})"
    )
    counts = [summary.get("instructions") for summary in ok]
    if any(count is not None for count in counts):
        print(count_spread(name, counts))
    return 0


def count_spread(name: str, counts: list[int | None]) -> str:
    """How far the instruction counts of one version spread, and the threshold that suits them."""
    from statistics import median

    known = [count for count in counts if count is not None]
    lines = [f"{name}: instructions over {len(known)} of {len(counts)} runs"]
    if len(known) < 2:
        return "\n".join([*lines, "  fewer than 2 counts: no spread measured"])
    spread = (max(known) - min(known)) / median(known)
    threshold = max(1.0, math.ceil(spread * 1000))  # percent: ten times the spread, at least 1
    lines += [
        f"  median {median(known):,.0f}, spread (max - min) / median {spread:.6%}",
        f"  suggested: compare --metric instructions --threshold {threshold:g} "
        "(one run per side is enough)",
    ]
    return "\n".join(lines)


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
    cluster: bool = False,
):
    """Plan and run the selected entries (on the configured Dask scheduler with `cluster`); None
    for a dry run (the plan is printed instead)."""
    settings = where.settings()
    return _run_entries_in(
        settings,
        overrides,
        _manifest_path(manifest, settings),
        only,
        tags,
        repeat,
        fail_fast=fail_fast,
        dry_run=dry_run,
        top=top,
        scheduler=settings.scheduler if cluster else None,
    )


def _run_entries_in(
    settings,
    overrides: Mapping[str, Any],
    manifest_path: Path,
    only: Sequence[str],
    tags: Sequence[str],
    repeat: int | None,
    *,
    fail_fast: bool = False,
    dry_run: bool = False,
    top: int = 10,
    out: TextIO | None = None,
    scheduler: str | None = None,
):
    """`_run_entries` with the settings and the manifest given; run lines go to `out`; runs go
    to the Dask cluster at `scheduler` when one is given."""
    from fixingahole.batch import plan, run_batch
    from fixingahole.manifest import load_manifest, select
    from fixingahole.profile_run import profile_target

    if repeat is not None and repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
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
    if any(e.options.instructions for e in entries):
        from fixingahole.instructions import find_valgrind

        find_valgrind()  # before the first run, not after the entries without --instructions

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
            echo=job.entry.options.verbose,  # else the batch prints one line for the run
        )

    return run_batch(
        jobs,
        settings,
        run_one,
        fail_fast=fail_fast,
        estimates=_estimates(settings, entries),
        out=out,
        scheduler=scheduler,
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
    from fixingahole.profile_run import store_dir
    from fixingahole.report.comparison import render
    from fixingahole.store import Store

    if fmt == "html":
        from fixingahole.report.page import require_html

        if output is None:
            raise UserError("--format html writes a page: name it with --output FILE.html")
        require_html()
    if a == BEFORE:  # `compare before B`: B against the runs just before it
        if b is None:
            raise UserError(f"'{BEFORE}' needs a second selector: compare {BEFORE} latest")
        a, b = b, None
    settings = where.settings()
    store = Store(store_dir(settings))
    runs = store.runs()
    if runs.empty:
        raise UserError("the store holds no runs yet: profile something first (invoke profile-all)")
    comparison = comparing.compare_runs(
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
        cells=store.cells,
    )
    text = render(comparison, fmt, runs=runs, output=settings.output)
    if output:
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UserError(f"cannot write {output}: {exc.strerror}") from None
        print(f"comparison written to {output}")
    else:
        print(text, end="" if text.endswith("\n") else "\n")
    return comparison.exit_code


def bisect(
    good: str,
    bad: str,
    where: Where,
    *,
    entry: str,
    manifest: Path | None = None,
    repeat: int = 5,
    threshold_pct: float = 5.0,
    alpha: float = 0.05,
    metric: str = "time",
    fmt: str = "text",
) -> int:
    """Find the first commit between GOOD and BAD at which an entry got slower: 0 when found."""
    from fixingahole.bisection import Bisector
    from fixingahole.bisection import bisect as find
    from fixingahole.compare import PRIMARY
    from fixingahole.profile_run import store_dir
    from fixingahole.report.bisect import render_bisect
    from fixingahole.store import Store

    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, got {repeat}")
    if metric not in PRIMARY:
        raise UserError(f"--metric must be one of {', '.join(PRIMARY)}, not {metric!r}")
    if fmt not in ("text", "json"):
        raise UserError(f"unknown format {fmt!r}: use text or json")
    settings = where.settings()
    store = Store(store_dir(settings))
    overrides = {"mode": "memory"} if metric == "memory" else {}

    def profile(tree_settings, tree_manifest: Path, count: int) -> list[tuple[str, dict]]:
        result = _run_entries_in(
            tree_settings, overrides, tree_manifest, (entry,), (), count, top=0, out=sys.stderr
        )
        if result.interrupted:
            raise KeyboardInterrupt
        return [(outcome.run_id, outcome.summary) for _, outcome in result.outcomes]

    bisector = Bisector(
        settings=settings,
        manifest=_manifest_path(manifest, settings).absolute(),
        entry=entry,
        repeat=repeat,
        threshold=threshold_pct / 100,
        alpha=alpha,
        metric=metric,
        stored_runs=lambda: store.runs(entries=[entry]),
        stored_functions=store.functions,
        profile=profile,
    )
    result = find(bisector, good, bad)
    print(render_bisect(result, fmt), end="")
    return 0 if result.first_bad is not None else 1


def list_runs(
    where: Where, *, entries: Sequence[str] = (), date: str | None = None, limit: int | None = None
) -> int:
    """Print the store's runs, newest last."""
    from tabulate import tabulate

    from fixingahole.profile_run import store_dir
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
    from fixingahole.profile_run import store_dir
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
    from fixingahole.profile_run import store_dir
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


def report(run: str, where: Where, *, open_page: bool = False, top: int = 10) -> int:
    """Re-render a run's text report, page and speedscope.json from its folder."""
    from fixingahole.report.page import require_html
    from fixingahole.report.stored import PAGE, load_run, write_atomic, write_views
    from fixingahole.report.text import render_report, render_summary

    settings = where.settings()
    run_dir = _run_folder(run, settings.output)
    stored = load_run(run_dir, settings.root, settings.ignore)
    text = render_report(stored.profile, stored.run, stored.locator, top=top)
    write_atomic(run_dir / "profile_results.txt", text)
    written = write_views(run_dir, stored.summary, stored.profile, stored.run, stored.locator)
    print(render_summary(stored.profile, stored.run, stored.locator, top=top))
    print(f"Re-rendered {run_dir / 'profile_results.txt'}")
    for path in written:
        print(f"Re-rendered {path}")
    page = run_dir / PAGE
    if page not in written:
        print(f"report.html not written: {_html_missing()}", file=sys.stderr)
    if open_page:
        require_html()
        import webbrowser

        webbrowser.open(page.resolve().as_uri())
    return 0


def _run_folder(run: str, output: Path) -> Path:
    """A run id (`entry/20250101_143000`), a run folder, or `latest` (the newest run folder)."""
    if run == "latest":
        folders = [p.parent for p in output.glob("*/*/summary.json")]
        if not folders:
            raise UserError(f"no run folders under {output}: profile something first")
        return max(folders, key=lambda p: (p.name, p.parent.name))
    for candidate in (Path(run), output / run):
        if (candidate / "summary.json").is_file():
            return candidate
    raise UserError(
        f"no run {run!r}: give a run id as `fixingahole runs` lists it, a run folder, or latest"
    )


def _html_missing() -> str:
    from fixingahole.report.page import EXTRA

    return f"the page needs the html extra: {EXTRA}"


def history(
    entry: str,
    where: Where,
    *,
    metric: str = "wall",
    output: Path | None = None,
    changes: bool = False,
    threshold_pct: float = 5.0,
    alpha: float = 0.05,
    fmt: str = "text",
) -> int:
    """An entry's metric over its runs: a table (text or JSON), or a plot in `output` (.html,
    .svg, .png); with `changes`, the change points listed and marked."""
    from fixingahole.profile_run import store_dir
    from fixingahole.report.history import STATIC_SUFFIXES, build_history, history_text

    suffix = Path(output).suffix.lower() if output else ""
    if output and suffix not in (".html", *STATIC_SUFFIXES):
        raise UserError(f"--output {output}: name a .html, .svg or .png file")
    if fmt not in ("text", "json"):
        raise UserError(f"unknown format {fmt!r}: use text or json")
    if output:
        from fixingahole.report.page import require_html

        require_html()
    from fixingahole.store import Store

    runs = Store(store_dir(where.settings())).runs(entries=[entry])
    if runs.empty:
        raise UserError(
            f"no runs of {entry!r} in the store: check the name with `fixingahole runs`"
        )
    trend = build_history(runs, entry, metric)
    if changes:
        from fixingahole.report.history import with_changes

        trend = with_changes(trend, threshold_pct / 100, alpha)
    if not output:
        print(history_text(trend, fmt), end="")
        return 0
    if suffix == ".html":
        from fixingahole.report.history import render_history_page
        from fixingahole.report.page import write_page

        write_page(Path(output), render_history_page(trend))
    else:
        from fixingahole.report.history import write_static

        write_static(trend, Path(output))
    print(f"history of {entry} written to {output}")
    return 0
