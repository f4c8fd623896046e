"""The `fixingahole` command. Each subcommand is a thin layer over a library function.

Only the standard library is imported at start-up; each command imports what it uses.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from fixingahole import __version__
from fixingahole.errors import UserError
from fixingahole.options import LOG_LEVELS


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, script_args = _split_script_args(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.script_args = tuple(script_args)
    args.argv = argv + (["--", *script_args] if script_args else [])
    try:
        return args.handler(args)
    except UserError as exc:
        print(f"fixingahole: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fixingahole: interrupted", file=sys.stderr)
        return 130


def _split_script_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Everything after the first `--` belongs to the profiled script."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="fixingahole",
        description="Profile Python scripts and notebooks with Scalene, keep every run, "
        "and compare runs across dates, commits and repeats.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)

    profile = commands.add_parser(
        "profile",
        help="profile one script or notebook",
        description="Profile one script or notebook under Scalene and keep the results in a "
        "run folder <root>/<output>/<name>/<UTC timestamp>/. "
        "Arguments after `--` go to the script.",
        epilog="example: fixingahole profile advanced.py --memory -- --size 800",
    )
    profile.add_argument(
        "target", help="a manifest entry, a path, or a bare file name searched under root"
    )
    add_profile_options(profile)
    add_location_options(profile)
    profile.set_defaults(handler=_cmd_profile)

    batch = commands.add_parser(
        "profile-all",
        help="profile every entry of profiles.toml, one at a time",
        description="Profile the entries of the manifest (profiles.toml) one at a time. With "
        "--repeat, rounds are interleaved (a b c, a b c) so drift does not land on one entry. "
        "Exit code 0 when every run succeeded, 1 when one failed, 130 when interrupted.",
    )
    batch.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this entry (repeatable)",
    )
    batch.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="run only entries with this tag (repeatable)",
    )
    batch.add_argument(
        "--repeat",
        type=int,
        metavar="N",
        help="profile each entry N times (overrides the manifest's repeat)",
    )
    batch.add_argument("--fail-fast", action="store_true", help="stop at the first failing run")
    batch.add_argument("--dry-run", action="store_true", help="print what would run, run nothing")
    batch.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on the workers of this Dask scheduler (tcp://HOST:PORT), one profile at a time "
        "per host; '' runs locally (default: configured, or local)",
    )
    add_profile_options(batch)
    add_location_options(batch)
    batch.set_defaults(handler=_cmd_profile_all)

    runs = commands.add_parser(
        "runs", help="list the runs in the store", description="List the stored runs, oldest first."
    )
    runs.add_argument(
        "--entry", action="append", default=[], metavar="NAME", help="only this entry (repeatable)"
    )
    runs.add_argument(
        "--date",
        metavar="PREFIX",
        help="only runs whose UTC stamp starts with this (20250101, 20250101_14)",
    )
    runs.add_argument("--last", type=int, metavar="N", help="only the N newest runs")
    add_location_options(runs, ignore=False)
    runs.set_defaults(handler=_cmd_runs)

    compare = commands.add_parser(
        "compare",
        help="compare stored runs: what got faster, slower or bigger",
        description="Compare the runs selector A picks with those B picks (with only A: A against "
        "the runs just before it). A selector is a UTC date or date-time prefix (20250101, "
        "20250101_14), a run id (entry/20250101_143000), a git commit prefix or branch, latest or "
        "latest~N. Exit codes: 0 nothing regressed, 1 a regression past --fail-on-regression, "
        "2 bad input or nothing to compare.",
        epilog="example: fixingahole compare 20250101 20250201 --fail-on-regression 10",
    )
    compare.add_argument("a", metavar="A", help="the baseline selector (or the only one)")
    compare.add_argument("b", metavar="B", nargs="?", help="the selector to compare against A")
    add_compare_options(compare)
    add_location_options(compare, ignore=False, output=False)
    compare.set_defaults(handler=_cmd_compare)

    calibrate = commands.add_parser(
        "calibrate",
        help="measure an entry's noise and suggest a threshold and repeat count",
        description="Profile one manifest entry several times, then report the spread of its wall "
        "time, the smallest change that many runs per side can detect, and a suggested "
        "--threshold and --repeat for compare.",
    )
    calibrate.add_argument("name", help="the manifest entry")
    calibrate.add_argument(
        "--repeat", type=int, default=10, metavar="N", help="runs to measure (default 10)"
    )
    calibrate.add_argument(
        "--alpha", type=float, default=0.05, help="significance level (default 0.05)"
    )
    add_profile_options(calibrate)
    add_location_options(calibrate)
    calibrate.set_defaults(handler=_cmd_calibrate)

    report = commands.add_parser(
        "report",
        help="re-render a run's text report and page from its folder",
        description="Re-render profile_results.txt, report.html and speedscope.json of a run from "
        "what its folder holds (summary.json, profile.json).",
        epilog="example: fixingahole report latest --open",
    )
    report.add_argument(
        "run", metavar="RUN", help="a run id (entry/20250101_143000), a run folder, or latest"
    )
    report.add_argument("--open", action="store_true", help="open the page in the browser")
    report.add_argument(
        "--top", type=int, default=10, metavar="N", help="functions listed in each top table"
    )
    add_location_options(report, ignore=False)
    report.set_defaults(handler=_cmd_report)

    bisect = commands.add_parser(
        "bisect",
        help="find the first commit at which an entry got slower",
        description="Find the first commit between GOOD and BAD at which a manifest entry got "
        "slower (with --metric memory: bigger). Each tested commit is checked out in a temporary "
        "git worktree (your work tree is never touched) and profiled --repeat times; runs already "
        "stored for a commit are reused. Exit codes: 0 found, 1 skipped commits leave several "
        "candidates, 2 bad input or BAD is not slower than GOOD, 130 interrupted.",
        epilog="example: fixingahole bisect v1.2 main --entry advanced --repeat 5",
    )
    bisect.add_argument("good", metavar="GOOD", help="a commit where the entry was fast")
    bisect.add_argument("bad", metavar="BAD", help="a later commit where it is slower")
    bisect.add_argument("--entry", required=True, metavar="NAME", help="the manifest entry")
    bisect.add_argument(
        "--repeat", type=int, default=5, metavar="N", help="runs per tested commit (default 5)"
    )
    add_judging_options(bisect)
    bisect.add_argument(
        "--format", dest="fmt", choices=("text", "json"), default="text", help="default text"
    )
    bisect.add_argument(
        "--manifest", type=Path, metavar="FILE", help="the manifest (default: <root>/profiles.toml)"
    )
    add_location_options(bisect, ignore=False)
    bisect.set_defaults(handler=_cmd_bisect)

    history = commands.add_parser(
        "history",
        help="an entry's wall time, CPU time or memory over its runs, and where it shifted",
        description="Plot a metric of an entry over its stored runs: every run a dot (failed runs "
        "marked), the median of each code version a line, commits labelled. Without --output, "
        "a table is printed. --changes lists (and marks) the change points: the code versions "
        "at which the level shifted, found by PELT over the versions and confirmed over their "
        "runs.",
        epilog="example: fixingahole history advanced --metric memory --output trend.html",
    )
    history.add_argument(
        "entry", metavar="ENTRY", help="the entry (as `fixingahole runs` lists it)"
    )
    history.add_argument(
        "--metric",
        choices=("wall", "cpu", "memory"),
        default="wall",
        help="wall time, CPU time or memory (heap peak, else max RSS); default wall",
    )
    history.add_argument(
        "--output",
        dest="plot_file",
        type=Path,
        metavar="FILE",
        help="write the plot: .html (interactive), .svg or .png (static)",
    )
    history.add_argument("--changes", action="store_true", help="list the change points")
    history.add_argument(
        "--threshold",
        type=float,
        default=5.0,
        metavar="PCT",
        help="with --changes: smallest shift in percent that counts (default 5)",
    )
    history.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="with --changes: significance level (default 0.05)",
    )
    history.add_argument(
        "--format", dest="fmt", choices=("text", "json"), default="text", help="default text"
    )
    add_location_options(history, ignore=False, output=False)
    history.set_defaults(handler=_cmd_history)

    store = commands.add_parser("store", help="maintain the results store")
    store_commands = store.add_subparsers(title="store commands", metavar="COMMAND", required=True)
    rebuild = store_commands.add_parser(
        "rebuild",
        help="rebuild the store from the run folders",
        description="Rebuild the store from every run folder's summary.json, including folders "
        "copied in from other machines.",
    )
    add_location_options(rebuild, ignore=False)
    rebuild.set_defaults(handler=_cmd_store_rebuild)
    return parser


def add_profile_options(parser: argparse.ArgumentParser) -> None:
    """The options every profile takes (also the manifest's keys)."""
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--cpu",
        dest="mode",
        action="store_const",
        const="cpu",
        help="profile CPU time only (the default; about 1.05x plain Python, plus 0.5 s)",
    )
    mode.add_argument(
        "--memory",
        dest="mode",
        action="store_const",
        const="memory",
        help="profile CPU time and heap memory with line blame (slower)",
    )
    parser.add_argument(
        "--precision",
        type=int,
        metavar="N",
        help="memory sampling granularity from -10 to 10 (default 0): 0 reports allocations of "
        "about 10 MB, 5 about 325 kB, -5 about 325 MB; larger is slower",
    )
    parser.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help="seconds between CPU samples, 0.001 to 1 (default: Scalene's 0.01); "
        "longer costs the script less and gives fewer samples",
    )
    parser.add_argument(
        "--detailed",
        action="store_true",
        default=None,
        help="also report time and memory inside imported libraries, grouped by package",
    )
    parser.add_argument(
        "--trace",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="collect call stacks and print the stack trace summary (default: on)",
    )
    parser.add_argument(
        "--async",
        dest="async_profile",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also profile async/await: time tasks spend suspended at each await (default: off; "
        "on Python 3.12+ it slows every generator step, up to 10x on generator-heavy code)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=LOG_LEVELS,
        metavar="LEVEL",
        help="capture the script's logging records and warnings at this level and above to "
        "logs.log (DEBUG, INFO, WARNING, ERROR, CRITICAL; default WARNING)",
    )
    parser.add_argument(
        "--no-plots",
        action="store_true",
        default=None,
        help="do not show matplotlib or plotly windows, so closing one never counts as run time",
    )
    parser.add_argument(
        "--live",
        type=float,
        metavar="SECONDS",
        help="show the top functions every SECONDS while the script runs",
    )
    parser.add_argument(
        "--timeout", type=float, metavar="SECONDS", help="stop a script that runs longer than this"
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        default=None,
        help="in a batch, print each run's full Profile Summary instead of one line "
        "(a single profile always prints it)",
    )
    parser.add_argument(
        "--instructions",
        action="store_true",
        default=None,
        help="after the profile, run the script once more under Valgrind's Cachegrind and "
        "record the instructions it executed: a count that noise does not move (needs "
        "valgrind; 25-50x slower than the script)",
    )
    parser.add_argument(
        "--top", type=int, default=10, metavar="N", help="functions listed in each top table"
    )
    parser.add_argument(
        "--manifest", type=Path, metavar="FILE", help="the manifest (default: <root>/profiles.toml)"
    )


def add_compare_options(parser: argparse.ArgumentParser) -> None:
    """How to compare, what to show and where to write it."""
    parser.add_argument(
        "--entry", action="append", default=[], metavar="NAME", help="only this entry (repeatable)"
    )
    parser.add_argument(
        "--tag",
        action="append",
        default=[],
        metavar="TAG",
        help="only entries with this tag (repeatable)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=5.0,
        metavar="PCT",
        help="smallest change in percent called faster or slower (default 5)",
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of the test (default 0.05)"
    )
    parser.add_argument(
        "--metric",
        choices=("time", "cpu", "memory", "instructions"),
        default="time",
        help="what decides an entry's verdict and the gate: wall time, CPU time (steadier on a "
        "busy machine), peak memory, or the instruction counts of runs made with "
        "--instructions, judged without a significance test (default time)",
    )
    parser.add_argument(
        "--all",
        dest="show_all",
        action="store_true",
        help="list function changes for every entry, not only changed ones",
    )
    parser.add_argument("--lines", action="store_true", help="also list the lines that changed")
    parser.add_argument(
        "--format",
        dest="fmt",
        choices=("text", "markdown", "json", "csv", "html"),
        default="text",
        help="output format (default text); html is a page and needs --output",
    )
    parser.add_argument(
        "--output",
        dest="report_file",
        type=Path,
        metavar="FILE",
        help="write the comparison to FILE instead of the terminal",
    )
    parser.add_argument(
        "--fail-on-regression",
        nargs="?",
        type=float,
        const=-1.0,
        metavar="PCT",
        help="exit 1 when an entry is significantly worse by more than PCT "
        "(default: the threshold), or all its B runs failed where A's succeeded",
    )


def add_judging_options(parser: argparse.ArgumentParser) -> None:
    """What a change is judged by: the metric, the threshold and the test's level."""
    parser.add_argument(
        "--metric",
        choices=("time", "cpu", "memory"),
        default="time",
        help="wall time, CPU time of the profiled processes (steadier on a busy machine) or "
        "peak memory (default time)",
    )
    parser.add_argument(
        "--threshold",
        type=float,
        default=5.0,
        metavar="PCT",
        help="smallest change in percent that counts (default 5)",
    )
    parser.add_argument(
        "--alpha", type=float, default=0.05, help="significance level of the test (default 0.05)"
    )


def add_location_options(
    parser: argparse.ArgumentParser, *, ignore: bool = True, output: bool = True
) -> None:
    """Where to look for code and where results go."""
    if ignore:
        parser.add_argument(
            "--ignore",
            action="append",
            default=[],
            metavar="DIR",
            help="a folder not searched and not reported, on top of the configured ones "
            "(repeatable)",
        )
    else:
        parser.set_defaults(ignore=[])
    if output:
        parser.add_argument(
            "--output",
            type=Path,
            metavar="DIR",
            help="where run folders go (default: performance/)",
        )
    else:
        parser.set_defaults(output=None)
    parser.add_argument(
        "--root", type=Path, metavar="DIR", help="the code base's root (default: configured or .)"
    )


def _where(args: argparse.Namespace):
    from fixingahole.commands import Where

    # Paths typed on the command line are relative to where the user stands.
    return Where(
        root=args.root.absolute() if args.root else None,
        output=args.output.absolute() if args.output else None,
        ignore=tuple(args.ignore),
        scheduler=getattr(args, "scheduler", None),
    )


def _overrides(args: argparse.Namespace) -> dict:
    """The profile options given on the command line; None where not given."""
    return {
        "mode": args.mode,
        "precision": args.precision,
        "interval": args.interval,
        "detailed": args.detailed,
        "trace": args.trace,
        "async_profile": args.async_profile,
        "log_level": args.log_level,
        "no_plots": args.no_plots,
        "live": args.live,
        "timeout": args.timeout,
        "instructions": args.instructions,
        "args": args.script_args or None,
        "verbose": args.verbose,
    }


def _cmd_profile(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.profile(
        args.target,
        _where(args),
        _overrides(args),
        manifest=args.manifest,
        command=shlex.join(["fixingahole", *args.argv]),
        top=args.top,
    )


def _cmd_profile_all(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.profile_all(
        _where(args),
        _overrides(args),
        manifest=args.manifest,
        only=tuple(args.only),
        tags=tuple(args.tag),
        repeat=args.repeat,
        fail_fast=args.fail_fast,
        dry_run=args.dry_run,
        top=args.top,
    )


def _cmd_runs(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.list_runs(
        _where(args), entries=tuple(args.entry), date=args.date, limit=args.last
    )


def _cmd_compare(args: argparse.Namespace) -> int:
    from fixingahole import commands

    gate = args.fail_on_regression
    return commands.compare(
        args.a,
        args.b,
        _where(args),
        entries=tuple(args.entry),
        tags=tuple(args.tag),
        threshold_pct=args.threshold,
        alpha=args.alpha,
        metric=args.metric,
        show_all=args.show_all,
        lines=args.lines,
        fmt=args.fmt,
        output=args.report_file,
        fail_on_regression_pct=args.threshold if gate == -1.0 else gate,
    )


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.calibrate(
        args.name,
        _where(args),
        _overrides(args),
        manifest=args.manifest,
        repeat=args.repeat,
        alpha=args.alpha,
        top=args.top,
    )


def _cmd_bisect(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.bisect(
        args.good,
        args.bad,
        _where(args),
        entry=args.entry,
        manifest=args.manifest,
        repeat=args.repeat,
        threshold_pct=args.threshold,
        alpha=args.alpha,
        metric=args.metric,
        fmt=args.fmt,
    )


def _cmd_store_rebuild(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.rebuild_store(_where(args))


def _cmd_report(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.report(args.run, _where(args), open_page=args.open, top=args.top)


def _cmd_history(args: argparse.Namespace) -> int:
    from fixingahole import commands

    return commands.history(
        args.entry,
        _where(args),
        metric=args.metric,
        output=args.plot_file,
        changes=args.changes,
        threshold_pct=args.threshold,
        alpha=args.alpha,
        fmt=args.fmt,
    )
