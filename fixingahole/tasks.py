"""The invoke collection. Add it to your own `tasks.py`:

    from fixingahole.tasks import ns        # as the root: `invoke profile-all`

or beside your own tasks, as a sub-collection (`invoke fixingahole.profile-all`):

    from invoke import Collection
    import fixingahole.tasks

    ns = Collection(my_task)
    ns.add_collection(fixingahole.tasks.ns)

Defaults live under the `fixingahole` config key (`manifest`, `root`, `output`), so `invoke.yaml` or
`INVOKE_FIXINGAHOLE_MANIFEST=other.toml` can change them.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from invoke import Collection, Exit, task

from fixingahole import commands
from fixingahole.errors import UserError

PROFILE_HELP = {
    "memory": "profile heap memory too, with line blame (slower)",
    "cpu": "profile CPU time only (the default)",
    "precision": "memory sampling granularity, -10..10 (0: about 10 MB, 5: about 325 kB)",
    "interval": "seconds between CPU samples, 0.001 to 1 (default: Scalene's 0.01)",
    "detailed": "also report time and memory inside imported libraries",
    "trace": "collect call stacks and print the stack trace summary (the default)",
    "no-trace": "do not collect call stacks",
    "async": "also profile async/await (slows generators on Python 3.12+)",
    "log-level": "capture logging records and warnings at this level and above",
    "no-plots": "do not show matplotlib or plotly windows",
    "live": "show the top functions every SECONDS while the script runs",
    "timeout": "stop a script that runs longer than SECONDS",
    "instructions": "also count the script's instructions under Valgrind's Cachegrind",
    "arg": "an argument for the script (repeatable)",
    "ignore": "a folder not searched and not reported (repeatable)",
    "verbose": "in a batch, print each run's full Profile Summary instead of one line",
}
TOP_HELP = {"top": "functions listed in each top table"}


def _where(c, ignore=(), scheduler=None) -> commands.Where:
    config = c.config.get("fixingahole", {})
    return commands.Where(
        root=Path(config["root"]) if config.get("root") else None,
        output=Path(config["output"]) if config.get("output") else None,
        ignore=tuple(ignore or ()),
        scheduler=scheduler,
    )


def _manifest(c) -> Path | None:
    manifest = c.config.get("fixingahole", {}).get("manifest")
    return Path(manifest) if manifest else None


def _overrides(flags: Mapping[str, Any]) -> dict:
    """A task's profile flags (its arguments, as `locals()` holds them) as profile options; None
    where a flag was not given, so that the manifest decides."""
    if flags["memory"] and flags["cpu"]:
        raise _error(UserError("choose one of --memory and --cpu"))
    if flags["trace"] and flags["no_trace"]:
        raise _error(UserError("choose one of --trace and --no-trace"))

    def number(name: str, kind: type) -> Any:
        return None if flags[name] is None else kind(flags[name])

    return {
        "mode": "memory" if flags["memory"] else "cpu" if flags["cpu"] else None,
        "precision": number("precision", int),
        "interval": number("interval", float),
        "detailed": True if flags["detailed"] else None,
        "trace": True if flags["trace"] else False if flags["no_trace"] else None,
        "async_profile": True if flags["async_"] else None,
        "log_level": flags["log_level"].upper() if flags["log_level"] else None,
        "no_plots": True if flags["no_plots"] else None,
        "live": number("live", float),
        "timeout": number("timeout", float),
        "instructions": True if flags["instructions"] else None,
        "args": tuple(flags["arg"]) if flags["arg"] else None,
        "verbose": True if flags.get("verbose") else None,
    }


def _error(exc: UserError) -> Exit:
    """A user error as invoke shows it: one line, its exit code, no traceback."""
    return Exit(f"fixingahole: error: {exc}", code=exc.exit_code)


def _run(fn, *args, **kwargs) -> None:
    """Call a command; turn its exit code and errors into invoke's `Exit`."""
    try:
        code = fn(*args, **kwargs)
    except UserError as exc:
        raise _error(exc) from None
    if code:
        raise Exit(code=code)


@task(
    help={"name": "a manifest entry, or a script or notebook path or name", **PROFILE_HELP},
    iterable=["arg", "ignore"],
)
def profile(
    c,
    name,
    memory=False,
    cpu=False,
    precision=None,
    detailed=False,
    trace=False,
    no_trace=False,
    log_level=None,
    no_plots=False,
    live=None,
    timeout=None,
    arg=None,
    top=10,
    ignore=None,
    interval=None,  # last: earlier flags keep their short forms
    verbose=False,
    instructions=False,
    async_=False,
):
    """Profile one manifest entry, or any script or notebook, under Scalene."""
    overrides = _overrides(locals())
    _run(commands.profile, name, _where(c, ignore), overrides, manifest=_manifest(c), top=int(top))


@task(
    help={
        "tag": "only entries with this tag (repeatable)",
        "only": "only this entry (repeatable)",
        "repeat": "profile each entry N times, rounds interleaved",
        "fail-fast": "stop at the first failing run",
        "dry-run": "print what would run, run nothing",
        "scheduler": "run on the workers of this Dask scheduler (tcp://HOST:PORT), one profile "
        "at a time per host",
        **PROFILE_HELP,
        **TOP_HELP,
    },
    iterable=["tag", "only", "arg", "ignore"],
)
def profile_all(
    c,
    tag=None,
    only=None,
    repeat=None,
    fail_fast=False,
    dry_run=False,
    memory=False,
    cpu=False,
    precision=None,
    detailed=False,
    trace=False,
    no_trace=False,
    log_level=None,
    no_plots=False,
    live=None,
    timeout=None,
    arg=None,
    top=10,
    ignore=None,
    interval=None,  # last: earlier flags keep their short forms
    verbose=False,
    instructions=False,
    async_=False,
    scheduler=None,
):
    """Profile every entry of profiles.toml, one at a time; exit 1 if any run failed."""
    overrides = _overrides(locals())
    _run(
        commands.profile_all,
        _where(c, ignore, scheduler),
        overrides,
        manifest=_manifest(c),
        only=tuple(only or ()),
        tags=tuple(tag or ()),
        repeat=int(repeat) if repeat is not None else None,
        fail_fast=fail_fast,
        dry_run=dry_run,
        top=int(top),
    )


@task(
    help={
        "entry": "only this entry (repeatable)",
        "date": "only runs whose UTC stamp starts with this (20250101, 20250101_14)",
        "last": "only the N newest runs",
    },
    iterable=["entry"],
)
def runs(c, entry=None, date=None, last=None):
    """List the runs in the store: entry, run id, time, status, wall time, peak memory, commit."""
    _run(
        commands.list_runs,
        _where(c),
        entries=tuple(entry or ()),
        date=date,
        limit=int(last) if last is not None else None,
    )


@task(
    positional=["a", "b"],
    help={
        "a": "the baseline selector: a date prefix, run id, commit, branch, latest, latest~N, "
        "or 'before' (the runs just before B)",
        "b": "the selector compared against A",
        "entry": "only this entry (repeatable)",
        "tag": "only entries with this tag (repeatable)",
        "threshold": "smallest change in percent called faster or slower (default 5)",
        "alpha": "significance level of the test (default 0.05)",
        "metric": "what decides the verdict and the gate: time, cpu, memory or instructions",
        "all": "list function changes for every entry",
        "lines": "also list the lines that changed",
        "format": "text, markdown, json, csv or html (a page; needs --output)",
        "output": "write the comparison to this file",
        "fail-on-regression": "exit 1 when an entry is significantly worse by more than PCT, "
        "or all its B runs failed where A's succeeded",
    },
    iterable=["entry", "tag"],
)
def compare(
    c,
    a,
    b,
    entry=None,
    tag=None,
    threshold=5.0,
    alpha=0.05,
    metric="time",
    all=False,
    lines=False,
    format="text",
    output=None,
    fail_on_regression=None,
):
    """Compare stored runs: exit 1 on a regression past the gate, 2 when nothing compares."""
    _run(
        commands.compare,
        a,
        b,
        _where(c),
        entries=tuple(entry or ()),
        tags=tuple(tag or ()),
        threshold_pct=float(threshold),
        alpha=float(alpha),
        metric=metric,
        show_all=all,
        lines=lines,
        fmt=format,
        output=Path(output) if output else None,
        fail_on_regression_pct=float(fail_on_regression) if fail_on_regression else None,
    )


@task(
    help={
        "name": "the manifest entry",
        "repeat": "runs to measure (default 10)",
        "alpha": "significance level (default 0.05)",
        **PROFILE_HELP,
    },
    iterable=["arg", "ignore"],
)
def calibrate(
    c,
    name,
    repeat=10,
    alpha=0.05,
    memory=False,
    cpu=False,
    precision=None,
    detailed=False,
    trace=False,
    no_trace=False,
    log_level=None,
    no_plots=False,
    live=None,
    timeout=None,
    arg=None,
    ignore=None,
    interval=None,  # last: earlier flags keep their short forms
    verbose=False,
    instructions=False,
    async_=False,
):
    """Profile an entry several times; report its noise and suggest --threshold and --repeat."""
    overrides = _overrides(locals())
    _run(
        commands.calibrate,
        name,
        _where(c, ignore),
        overrides,
        manifest=_manifest(c),
        repeat=int(repeat),
        alpha=float(alpha),
    )


JUDGING_HELP = {
    "metric": "time, cpu (steadier on a busy machine) or memory",
    "threshold": "smallest change in percent that counts (default 5)",
    "alpha": "significance level of the test (default 0.05)",
    "format": "text or json",
}


@task(
    positional=["good", "bad"],
    help={
        "good": "a commit where the entry was fast",
        "bad": "a later commit where it is slower",
        "entry": "the manifest entry",
        "repeat": "runs per tested commit (default 5)",
        **JUDGING_HELP,
    },
)
def bisect(c, good, bad, entry, repeat=5, threshold=5.0, alpha=0.05, metric="time", format="text"):
    """Find the first commit between GOOD and BAD at which an entry got slower."""
    _run(
        commands.bisect,
        good,
        bad,
        _where(c),
        entry=entry,
        manifest=_manifest(c),
        repeat=int(repeat),
        threshold_pct=float(threshold),
        alpha=float(alpha),
        metric=metric,
        fmt=format,
    )


@task(
    help={
        "run": "a run id (entry/20250101_143000), a run folder, or latest",
        "open": "open the page in the browser",
        **TOP_HELP,
    }
)
def report(c, run, open=False, top=10):
    """Re-render a run's text report, report.html and speedscope.json from its folder."""
    _run(commands.report, run, _where(c), open_page=open, top=int(top))


@task(
    positional=["entry"],
    help={
        "entry": "the entry (as `invoke runs` lists it)",
        "metric": "wall, cpu or memory (default wall)",
        "output": "write the plot: .html (interactive), .svg or .png (static)",
        "changes": "list the change points: where the level shifted",
        "threshold": "smallest change in percent that counts (default 5)",
        "alpha": "significance level of the test (default 0.05)",
        "format": "text or json",
    },
)
def history(
    c, entry, metric="wall", output=None, changes=False, threshold=5.0, alpha=0.05, format="text"
):
    """An entry's metric over its code versions: a table, or a plot with --output; --changes."""
    _run(
        commands.history,
        entry,
        _where(c),
        metric=metric,
        output=Path(output) if output else None,
        changes=changes,
        threshold_pct=float(threshold),
        alpha=float(alpha),
        fmt=format,
    )


@task
def store_rebuild(c):
    """Rebuild the store from the run folders (including folders copied from elsewhere)."""
    _run(commands.rebuild_store, _where(c))


ns = Collection(
    "fixingahole",
    profile,
    profile_all,
    runs,
    compare,
    calibrate,
    report,
    history,
    bisect,
    store_rebuild,
)
ns.configure({"fixingahole": {"manifest": None, "root": None, "output": None}})
