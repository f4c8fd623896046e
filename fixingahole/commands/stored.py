"""The commands over stored runs: runs, report, history and store rebuild."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from fixingahole.commands.arguments import (
    ENTRIES,
    TOP,
    Command,
    Shape,
    Where,
    alpha_option,
    location,
    option,
    output_format,
    positional,
    threshold_option,
)
from fixingahole.errors import UserError


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


def report(run: str, where: Where, *, open_page: bool = False, top: int = 10) -> int:
    """Re-render a run's text report, page and speedscope.json from its folder."""
    from fixingahole.report.page import require_html
    from fixingahole.report.stored import PAGE, load_run, write_atomic, write_views
    from fixingahole.report.text import render_report, render_summary

    settings = where.settings()
    run_dir = _run_folder(run, settings.output)
    stored = load_run(run_dir, settings.root, settings.ignore)
    record, profile, locator, cells = stored.record, stored.profile, stored.locator, stored.cells
    text = render_report(profile, record, locator, top=top, cells=cells)
    write_atomic(run_dir / "profile_results.txt", text)
    written = write_views(run_dir, record, profile, locator)
    print(render_summary(profile, record, locator, top=top, cells=cells))
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


def _peak(heap: float | None, rss: float | None) -> str:
    if _known(heap):
        return f"{heap:.1f} heap"
    return f"{rss:.1f} RSS" if _known(rss) else "-"


def _commit(commit: object, dirty: object) -> str:
    """A short commit, `+` when the tree had uncommitted changes; blank outside git (None, NaN
    or NA: the store's cells)."""
    if not isinstance(commit, str) or not _known(commit):
        return ""
    return commit[:10] + ("+" if _known(dirty) and dirty else "")


def _known(value: object) -> bool:
    """Not None, not NaN, not pandas' NA."""
    return value is not None and value == value and str(value) != "<NA>"


RUNS = Command(
    "runs",
    list_runs,
    "list the runs in the store",
    (
        ENTRIES,
        option(
            "--date",
            "date",
            "only runs whose UTC stamp starts with this (20250101, 20250101_14)",
            short="d",
            metavar="PREFIX",
        ),
        option("--last", "limit", "only the N newest runs", short="l", parse=int, metavar="N"),
        *location(ignore=False),
    ),
    description="List the stored runs, oldest first.",
)
REPORT = Command(
    "report",
    report,
    "re-render a run's text report and page from its folder",
    (
        positional(
            "run",
            "a run id (entry/20250101_143000), a run folder, or latest",
            short="r",
            metavar="RUN",
        ),
        option(
            "--open",
            "open_page",
            "open the page in the browser",
            Shape.FLAG,
            short="o",
            default=False,
        ),
        TOP,
        *location(ignore=False),
    ),
    description="Re-render profile_results.txt, report.html and speedscope.json of a run from "
    "what its folder holds (summary.json, profile.json).",
    epilog="example: fixingahole report latest --open",
    shorts={"--top": "t"},
)
HISTORY = Command(
    "history",
    history,
    "an entry's wall time, CPU time or memory over its runs, and where it shifted",
    (
        positional(
            "entry", "the entry (as `fixingahole runs` lists it)", short="e", metavar="ENTRY"
        ),
        option(
            "--metric",
            "metric",
            "wall time, CPU time or memory (heap peak, else max RSS); default wall",
            short="m",
            choices=("wall", "cpu", "memory"),
            default="wall",
        ),
        option(
            "--output",
            "output",
            "write the plot: .html (interactive), .svg or .png (static)",
            short="o",
            parse=Path,
            metavar="FILE",
        ),
        option(
            "--changes",
            "changes",
            "list the change points",
            Shape.FLAG,
            short="c",
            default=False,
        ),
        threshold_option("with --changes: smallest shift in percent that counts (default 5)"),
        alpha_option("with --changes: significance level (default 0.05)"),
        output_format("text", "json"),
        *location(ignore=False, output=False),
    ),
    description="Plot a metric of an entry over its stored runs: every run a dot (failed runs "
    "marked), the median of each code version a line, commits labelled. Without --output, "
    "a table is printed. --changes lists (and marks) the change points: the code versions "
    "at which the level shifted, found by PELT over the versions and confirmed over their "
    "runs.",
    epilog="example: fixingahole history advanced --metric memory --output trend.html",
)
STORE_REBUILD = Command(
    "store-rebuild",
    rebuild_store,
    "rebuild the store from the run folders",
    location(ignore=False),
    description="Rebuild the store from every run folder's summary.json, including folders "
    "copied in from other machines.",
    words=("store", "rebuild"),
)
