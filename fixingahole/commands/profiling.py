"""The profiling commands: profile, profile-all and calibrate.

Each function takes plain values, prints what the user should see, returns an exit code, and raises
`UserError` for bad input; the `Command` objects below declare their arguments for both faces.
"""

from __future__ import annotations

import math
import os
import shlex
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from fixingahole.commands.arguments import (
    MANIFEST,
    PROFILE_OPTIONS,
    TOP,
    Command,
    Into,
    Shape,
    Where,
    alpha_option,
    location,
    option,
    positional,
    repeat_option,
    tags_option,
)
from fixingahole.errors import UserError
from fixingahole.record import RunStatus

if TYPE_CHECKING:  # imported where used, so that `fixingahole --help` stays quick
    from fixingahole.batch import BatchResult, Job
    from fixingahole.manifest import Entry
    from fixingahole.options import ProfileOptions
    from fixingahole.profile_run import RunOutcome
    from fixingahole.settings import Settings

DEFAULT_MANIFEST = "profiles.toml"


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
    if outcome.status is not RunStatus.OK:
        print(f"fixingahole: {outcome.status.value}: {outcome.error}", file=sys.stderr)
    return outcome.status.exit_code


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

    settings = where.settings()
    result = run_entries(
        settings,
        overrides,
        _manifest_path(manifest, settings),
        only,
        tags,
        repeat,
        fail_fast=fail_fast,
        dry_run=dry_run,
        top=top,
        scheduler=settings.scheduler,
    )
    if result.outcomes:
        print()
        print(summary_table(result))
    for job, outcome in result.outcomes:
        if outcome.record is None:  # lost or refused: no run folder, so say why here
            print(f"fixingahole: {job.entry.name}: {outcome.error}", file=sys.stderr)
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
    settings = where.settings()
    manifest_path = _manifest_path(manifest, settings)
    result = run_entries(settings, overrides, manifest_path, (name,), (), repeat, top=top)
    ok = [o.record for _, o in result.outcomes if o.record and o.record.status is RunStatus.OK]
    if result.interrupted or len(ok) < 2:
        raise UserError(f"{name}: fewer than 2 successful runs; fix the entry and run again")
    reports = {}
    measured = {
        "time": ("wall time", [r.wall_s for r in ok if r.wall_s]),
        "cpu": ("CPU time", [r.cpu_s for r in ok if r.cpu_s]),
    }
    for metric, (label, timings) in measured.items():
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
    counts = [None if r.instructions is None else r.instructions.instructions for r in ok]
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


def run_entries(
    settings: Settings,
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
) -> BatchResult:
    """Plan and run the selected entries of the manifest; run lines go to `out`; runs go to the
    Dask cluster at `scheduler` when one is given; for a dry run the plan is printed instead,
    and the result has no outcomes."""
    from fixingahole.batch import BatchResult, plan, run_batch
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
        return BatchResult()  # nothing ran
    if any(e.options.instructions for e in entries):
        from fixingahole.instructions import find_valgrind

        find_valgrind()  # before the first run, not after the entries without --instructions

    # A Dask worker passes `settings`, and as `extra` its `stop` event and `workdir`.
    def run_one(job: Job, settings: Settings = settings, **extra: Any) -> RunOutcome:
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


def command_line(target: Path, options: ProfileOptions, root: Path) -> str:
    """The `fixingahole profile` command that reproduces a profile with these options."""
    from fixingahole.settings import display_path

    argv = ["fixingahole", "profile", display_path(target, root), *options.to_argv()]
    return shlex.join(argv)


def _could_be_entry(name: str) -> bool:
    """A name with a folder or a script suffix is a file; only a bare word can name an entry."""
    return "/" not in name and os.sep not in name and not name.endswith((".py", ".ipynb"))


def _manifest_path(manifest: Path | None, settings: Settings) -> Path:
    return Path(manifest) if manifest else settings.root / DEFAULT_MANIFEST


def _estimates(settings: Settings, entries: Sequence[Entry]) -> dict[str, float]:
    """Median wall time of each entry's earlier successful runs, for the batch's time estimate."""
    from fixingahole.profile_run import store_dir
    from fixingahole.store import Store

    runs = Store(store_dir(settings)).runs(entries=[e.name for e in entries])
    ok = runs[runs["status"] == RunStatus.OK.value]
    # pandas is not typed here: the frame is Any, and its medians by entry are floats
    medians: dict[str, float] = ok.groupby("entry")["wall_s"].median().to_dict()
    return medians


PROFILE = Command(
    "profile",
    profile,
    "profile one script or notebook",
    (
        positional(
            "name",
            "a manifest entry, a path, or a bare file name searched under root",
            short="n",
            metavar="target",
        ),
        *PROFILE_OPTIONS,
        TOP,
        MANIFEST,
        *location(),
    ),
    description="Profile one script or notebook under Scalene and keep the results in a "
    "run folder <root>/<output>/<name>/<UTC timestamp>/. "
    "Arguments after `--` go to the script.",
    epilog="example: fixingahole profile advanced.py --memory -- --size 800",
    records_command=True,
)
PROFILE_ALL = Command(
    "profile-all",
    profile_all,
    "profile every entry of profiles.toml, one at a time",
    (
        option(
            "--only",
            "only",
            "run only this entry (repeatable)",
            Shape.REPEATABLE,
            short="o",
            metavar="NAME",
        ),
        tags_option("run only entries with this tag (repeatable)"),
        repeat_option("profile each entry N times (overrides the manifest's repeat)", None),
        option(
            "--fail-fast",
            "fail_fast",
            "stop at the first failing run",
            Shape.FLAG,
            short="f",
            default=False,
        ),
        option(
            "--dry-run",
            "dry_run",
            "print what would run, run nothing",
            Shape.FLAG,
            short="d",
            default=False,
        ),
        option(
            "--scheduler",
            "scheduler",
            "run on the workers of this Dask scheduler (tcp://HOST:PORT), one profile at a time "
            "per host; '' runs locally (default: configured, or local)",
            short="h",
            metavar="ADDRESS",
            into=Into.WHERE,
        ),
        *PROFILE_OPTIONS,
        TOP,
        MANIFEST,
        *location(),
    ),
    description="Profile the entries of the manifest (profiles.toml) one at a time. With "
    "--repeat, rounds are interleaved (a b c, a b c) so drift does not land on one entry. "
    "Exit code 0 when every run succeeded, 1 when one failed, 130 when interrupted.",
    # today's invoke short flags (they came from the order of the task's parameters)
    shorts={
        "--detailed": "e",
        "--trace": "a",
        "--no-trace": "n",
        "--timeout": "u",
        "--arg": "g",
        "--ignore": None,
        "--interval": "v",
        "--verbose": "b",
    },
)
CALIBRATE = Command(
    "calibrate",
    calibrate,
    "measure an entry's noise and suggest a threshold and repeat count",
    (
        positional("name", "the manifest entry", short="n"),
        repeat_option("runs to measure (default 10)", 10),
        alpha_option("significance level (default 0.05)"),
        *PROFILE_OPTIONS,
        TOP,
        MANIFEST,
        *location(),
    ),
    description="Profile one manifest entry several times, then report the spread of its wall "
    "time, the smallest change that many runs per side can detect, and a suggested "
    "--threshold and --repeat for compare.",
    shorts={"--arg": "g", "--ignore": None, "--interval": "v", "--verbose": "b"},
)
