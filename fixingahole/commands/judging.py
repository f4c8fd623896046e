"""The commands that judge stored runs: compare (two selections) and bisect (a commit range)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.commands.arguments import (
    ENTRIES,
    MANIFEST,
    Argument,
    Command,
    Shape,
    Where,
    alpha_option,
    judging,
    location,
    option,
    output_format,
    positional,
    repeat_option,
    tags_option,
    threshold_option,
)
from fixingahole.commands.profiling import _manifest_path, run_entries
from fixingahole.errors import UserError
from fixingahole.record import RunRecord

if TYPE_CHECKING:
    from fixingahole.settings import Settings

BEFORE = "before"  # as compare's first selector: "the runs just before the second one"


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

    def profile(tree_settings: Settings, tree_manifest: Path, count: int) -> list[RunRecord]:
        result = run_entries(
            tree_settings, overrides, tree_manifest, (entry,), (), count, top=0, out=sys.stderr
        )
        if result.interrupted:
            raise KeyboardInterrupt
        return [outcome.record for _, outcome in result.outcomes if outcome.record is not None]

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


def _gate_at_threshold(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A bare --fail-on-regression gates at the threshold."""
    if kwargs["fail_on_regression_pct"] is True:
        kwargs["fail_on_regression_pct"] = kwargs["threshold_pct"]
    return kwargs


COMPARE = Command(
    "compare",
    compare,
    "compare stored runs: what got faster, slower or bigger",
    (
        positional("a", "the baseline selector (or the only one)", short="a", metavar="A"),
        Argument(
            "b",
            Shape.OPTIONAL_POSITIONAL,
            "the selector to compare against A",
            short="b",
            metavar="B",
        ),
        ENTRIES,
        tags_option("only entries with this tag (repeatable)"),
        threshold_option("smallest change in percent called faster or slower (default 5)"),
        alpha_option("significance level of the test (default 0.05)"),
        option(
            "--metric",
            "metric",
            "what decides an entry's verdict and the gate: wall time, CPU time (steadier on a "
            "busy machine), peak memory, or the instruction counts of runs made with "
            "--instructions, judged without a significance test (default time)",
            short="m",
            choices=("time", "cpu", "memory", "instructions"),
            default="time",
        ),
        option(
            "--all",
            "show_all",
            "list function changes for every entry, not only changed ones",
            Shape.FLAG,
            default=False,
        ),
        option(
            "--lines",
            "lines",
            "also list the lines that changed",
            Shape.FLAG,
            short="i",
            default=False,
        ),
        output_format(
            "text",
            "markdown",
            "json",
            "csv",
            "html",
            help="output format (default text); html is a page and needs --output",
        ),
        option(
            "--output",
            "output",
            "write the comparison to FILE instead of the terminal",
            short="o",
            parse=Path,
            metavar="FILE",
        ),
        option(
            "--fail-on-regression",
            "fail_on_regression_pct",
            "exit 1 when an entry is significantly worse by more than PCT "
            "(default: the threshold), or all its B runs failed where A's succeeded",
            Shape.OPTIONAL_VALUE,
            parse=float,
            metavar="PCT",
        ),
        *location(ignore=False, output=False),
    ),
    description="Compare the runs selector A picks with those B picks (with only A: A against "
    "the runs just before it). A selector is a UTC date or date-time prefix (20250101, "
    "20250101_14), a run id (entry/20250101_143000), a git commit prefix or branch, latest or "
    "latest~N. Exit codes: 0 nothing regressed, 1 a regression past --fail-on-regression, "
    "2 bad input or nothing to compare.",
    epilog="example: fixingahole compare 20250101 20250201 --fail-on-regression 10",
    shorts={"--threshold": "h", "--alpha": "l"},
    adapt=_gate_at_threshold,
)
BISECT = Command(
    "bisect",
    bisect,
    "find the first commit at which an entry got slower",
    (
        positional("good", "a commit where the entry was fast", short="g", metavar="GOOD"),
        positional("bad", "a later commit where it is slower", short="b", metavar="BAD"),
        option("--entry", "entry", "the manifest entry", short="e", metavar="NAME", required=True),
        repeat_option("runs per tested commit (default 5)", 5),
        *judging(
            ("time", "cpu", "memory"),
            "time",
            "wall time, CPU time of the profiled processes (steadier on a busy machine) or "
            "peak memory (default time)",
        ),
        output_format("text", "json"),
        MANIFEST,
        *location(ignore=False),
    ),
    description="Find the first commit between GOOD and BAD at which a manifest entry got "
    "slower (with --metric memory: bigger). Each tested commit is checked out in a temporary "
    "git worktree (your work tree is never touched) and profiled --repeat times; runs already "
    "stored for a commit are reused. Exit codes: 0 found, 1 skipped commits leave several "
    "candidates, 2 bad input or BAD is not slower than GOOD, 130 interrupted.",
    epilog="example: fixingahole bisect v1.2 main --entry advanced --repeat 5",
)
