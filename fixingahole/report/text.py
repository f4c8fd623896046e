"""The text report of a run (`profile_results.txt`) and its Profile Summary (shown in the terminal).

Every percentage is of all sampled CPU time, as Scalene reports it, and every time in seconds is
that percentage of Scalene's elapsed time. Function figures are self time, the sum of the
function's own lines; the stack trace summary adds the total with callees (see `functions.py`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from fixingahole.cells import CellStat
from fixingahole.locations import Locator
from fixingahole.options import LOG_LEVELS, PRECISION_MAX, allocation_window
from fixingahole.record import RunRecord, RunStatus
from fixingahole.report import reported_profile
from fixingahole.scalene_output import FileStat, Frame, FunctionStat, LineStat, Profile, StackSample

WIDTH = 78
HEAVY_RULE = "═" * WIDTH
LIGHT_RULE = "─" * WIDTH
SPARKS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 10
FILE_MIN_PERCENT = 1.0  # files taking less of the run get no line table
LINE_MIN_PERCENT = 1.0  # lines below this share of time and of memory activity are elided
PEAK_LINES = 5
STACK_FUNCTIONS = 5
STACK_PATHS = 5
CELL_SOURCE_WIDTH = 44  # a cell's first line is cut to this many characters in the cell sections
AWAIT_LINES = 5
ASYNC_NOTE = "an asyncio event loop ran; await time not shown (add --async)"
SEVERITY = tuple(reversed(LOG_LEVELS))  # most severe first
NO_SAMPLES = (
    "Scalene collected no samples.",
    "This usually means the program finished before Scalene took its first sample (runs",
    "of well under a second), or that its code lives where Scalene does not look: inside",
    "the Python installation, or outside the program's folder without --detailed.",
)
RUN_STATUS_WIDTH = len("no-samples")  # the widths of a run line's cells; a longer value
RUN_HEAP_WIDTH = len("heap 100.0 MB")  # pushes the cells after it right
RUN_TOP_WIDTH = 24
STATUS_COLOURS = {RunStatus.OK: "\033[32m", RunStatus.NO_SAMPLES: "\033[33m"}
FAILED_COLOUR = "\033[31m"  # every other status
UNSAMPLED = "No allocation in the profiled code was sampled"
NO_PEAK = "  Allocations were sampled, but Scalene attributed no peak to any of them."
FINER = 4  # --precision steps suggested when nothing was sampled (each halves the window)


@dataclass(frozen=True)
class _View:
    """What the report shows: the reported files and functions, and how to name them."""

    profile: Profile
    run: RunRecord
    locator: Locator
    top: int
    files: tuple[FileStat, ...]
    functions: tuple[FunctionStat, ...]  # sampled, by percent, descending
    cells: tuple[CellStat, ...] = ()  # a notebook's code cells, in order

    @classmethod
    def of(
        cls,
        profile: Profile,
        run: RunRecord,
        locator: Locator,
        top: int,
        cells: Sequence[CellStat] = (),
    ) -> _View:
        profile = reported_profile(profile, locator, run.detailed)
        files = profile.files
        functions = [f for file in files for f in file.functions if f.percent > 0 or f.peak_mb > 0]
        functions.sort(key=lambda f: f.percent, reverse=True)
        return cls(profile, run, locator, top, files, tuple(functions), tuple(cells))

    @property
    def memory(self) -> bool:
        return self.run.memory

    @property
    def allocations_sampled(self) -> bool:
        """True when Scalene sampled an allocation in a reported file."""
        return any(
            stat.peak_mb > 0 or stat.malloc_mb > 0
            for file in self.files
            for stats in (file.lines, file.functions)
            for stat in stats
        )

    @property
    def elapsed_s(self) -> float:
        """Scalene's elapsed time, or the measured wall time when Scalene recorded none."""
        return self.profile.elapsed_s or self.run.wall_s


def render_report(
    profile: Profile,
    record: RunRecord,
    locator: Locator,
    *,
    top: int = 10,
    cells: Sequence[CellStat] = (),
) -> str:
    """The full text report: header, Profile Summary, line tables, memory, stack traces.

    A notebook's `cells` (`fixingahole.cells.cell_stats`) open the Profile Summary.
    """
    view = _View.of(profile, record, locator, top, cells)
    parts = [_header(view), _summary(view)]
    if not profile.is_empty:
        parts += [
            _line_profile(view),
            _peak_lines(view),
            _leaks(view),
            _await_lines(view),
            _stack_summary(view),
        ]
    return "\n\n".join("\n".join(part) for part in parts if part) + "\n"


def render_summary(
    profile: Profile,
    record: RunRecord,
    locator: Locator,
    *,
    top: int = 10,
    cells: Sequence[CellStat] = (),
) -> str:
    """The Profile Summary alone, as printed to the terminal at the end of a run."""
    return "\n".join(_summary(_View.of(profile, record, locator, top, cells))) + "\n"


def render_run_line(
    label: str,
    status: RunStatus,
    run_id: str,
    record: RunRecord | None,
    *,
    error: str | None = None,
    label_width: int = 0,
    heap_column: bool = True,
    colour: bool = False,
) -> str:
    """One finished run as one line: label (entry and round), status, wall time, heap peak
    (blank when not measured), top function and run id, from its record (None: a batch's run
    that made none); then an indented line with the error when the run did not succeed. Columns
    line up across the runs of a batch given the same `label_width` and `heap_column`."""
    shown = f"{status.value:<{RUN_STATUS_WIDTH}}"
    if colour:
        shown = f"{STATUS_COLOURS.get(status, FAILED_COLOUR)}{shown}\033[0m"
    top = "-"
    if record is not None and record.functions:
        top = f"{record.functions[0].name} ({record.functions[0].percent:.1f}%)"
    cells = [
        label.ljust(label_width),
        shown,
        f"{record.wall_s:7.2f} s" if record is not None else f"{'-':>9}",
    ]
    if heap_column:
        heap = None if record is None else record.peak_heap_mb
        peak = f"heap {_mb(heap)}" if heap is not None else ""
        cells.append(f"{peak:<{RUN_HEAP_WIDTH}}")
    cells += [f"{top:<{RUN_TOP_WIDTH}}", run_id]
    line = "  ".join(cells)
    if status is not RunStatus.OK and error:
        line += f"\n    {status.value}: {error}"
    return line


# formatting


def _percent(value: float) -> str:
    return f"{value:.1f}%"


def _cell_percent(value: float) -> str:
    """A percentage for a table cell: blank when it would read 0.0%."""
    return f"{value:.1f}%" if value >= 0.05 else ""


def _mb(value: float) -> str:
    return f"{value / 1024:.2f} GB" if value >= 1024 else f"{value:.1f} MB"


def _seconds(value: float) -> str:
    return f"{value:.2f} s"


def _bytes(value: int) -> str:
    """A size in bytes as MB or kB (powers of 1024, as Scalene's MB are)."""
    if value >= 2**20:
        return f"{value / 2**20:.1f} MB"
    return f"{value / 2**10:.0f} kB" if value >= 2**10 else f"{value} bytes"


def _sparkline(values: Sequence[float], scale: float) -> str:
    """Unicode blocks for a series, at most SPARK_WIDTH wide (bucket maxima), 0..scale."""
    if not values or scale <= 0:
        return ""
    if len(values) > SPARK_WIDTH:
        size = len(values) / SPARK_WIDTH
        values = [
            max(values[int(i * size) : max(int((i + 1) * size), int(i * size) + 1)])
            for i in range(SPARK_WIDTH)
        ]
    top = len(SPARKS) - 1
    return "".join(SPARKS[min(top, max(0, round(v / scale * top)))] for v in values)


def _count(n: int, noun: str) -> str:
    """`1 Function`, `3 Functions`."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _log_counts(counts: dict[str, int]) -> str:
    """`4 WARNING, 1 ERROR`, most severe first."""
    order = {level: i for i, level in enumerate(SEVERITY)}
    levels = sorted((k for k, n in counts.items() if n), key=lambda k: (order.get(k, 99), k))
    return ", ".join(f"{counts[level]} {level}" for level in levels)


def _heading(title: str, rule: str = LIGHT_RULE) -> list[str]:
    return [title, rule[: max(len(title), 40)]]


def _ranked(rows: Sequence[Sequence[str]], aligns: str) -> list[str]:
    """Rows of cells, padded to aligned columns (`<` or `>` per column), two spaces apart."""
    if not rows:
        return []
    widths = [max(len(row[i]) for row in rows) for i in range(len(aligns))]
    lines = []
    for row in rows:
        cells = [
            cell.ljust(w) if a == "<" else cell.rjust(w)
            for cell, w, a in zip(row, widths, aligns, strict=True)
        ]
        lines.append(("  " + "  ".join(cells)).rstrip())
    return lines


# header and summary


def _header(view: _View) -> list[str]:
    run, peak = view.run, view.profile.peak_heap_mb
    ram = peak if view.memory and peak is not None else run.max_rss_mb
    lines = [run.command, f"Finished in {view.elapsed_s:.2f} seconds using {ram:.1f} MB of RAM"]
    if run.status is not RunStatus.OK:
        lines.append(_status(run))
    total = sum(run.log_counts.values())
    if total:
        counts = _log_counts(dict(run.log_counts))
        lines.append(f"Logs: {_count(total, 'record')} in logs.log ({counts})")
    return lines


def _status(run: RunRecord) -> str:
    text = f"Status: {run.status}"
    if run.exit_code is not None:
        text += f" (exit code {run.exit_code})"
    return text + (f": {run.error}" if run.error else "")


def _summary(view: _View) -> list[str]:
    lines = [f"Profile Summary ({_seconds(view.elapsed_s)} total)", HEAVY_RULE]
    if view.profile.is_empty:
        lines += [] if view.run.status.stopped else ["", *NO_SAMPLES]
    else:
        blocks = (
            _top_cells(view),
            _top_cell_memory(view),
            _top_runtime(view),
            _top_memory(view),
            _module_tree(view),
        )
        for block in blocks:
            if block:
                lines += ["", *block]
    return [*lines, "", *_closing(view)]


def _cell_source(cell: CellStat) -> str:
    text = cell.first_line
    return text if len(text) <= CELL_SOURCE_WIDTH else text[: CELL_SOURCE_WIDTH - 1] + "…"


def _top_cells(view: _View) -> list[str]:
    """A notebook's cells by time, and what all its cells add up to."""
    timed = sorted((c for c in view.cells if c.percent > 0), key=lambda c: -c.percent)
    if not timed:
        return []
    seconds = view.profile.seconds
    rows = [
        (
            f"{i}.",
            f"cell {c.number}",
            _percent(c.percent),
            _seconds(seconds(c.percent)),
            _cell_source(c),
        )
        for i, c in enumerate(timed[: view.top], 1)
    ]
    total = sum(c.percent for c in view.cells)
    lines = [*_heading(f"Top {_count(len(rows), 'Cell')} by Total Runtime")]
    lines += _ranked(rows, "><>><")
    lines.append(
        f"  All {_count(len(view.cells), 'cell')}: {_percent(total)}, "
        f"{_seconds(seconds(total))} of {_seconds(view.elapsed_s)}"
    )
    return lines


def _top_cell_memory(view: _View) -> list[str]:
    """A notebook's cells by the peak memory of their lines (memory mode only)."""
    if not view.memory:
        return []
    heavy = sorted((c for c in view.cells if c.peak_mb > 0), key=lambda c: -c.peak_mb)
    if not heavy:
        return []
    rows = [
        (
            f"{i}.",
            f"cell {c.number}",
            _mb(c.peak_mb),
            f"{_mb(c.malloc_mb)} allocated",
            _cell_source(c),
        )
        for i, c in enumerate(heavy[: view.top], 1)
    ]
    title = f"Top {_count(len(rows), 'Cell')} by Memory Usage (peak)"
    return [*_heading(title), *_ranked(rows, "><>><")]


def _top_runtime(view: _View) -> list[str]:
    timed = [f for f in view.functions if f.percent > 0][: view.top]
    if not timed:
        return []
    seconds = view.profile.seconds
    rows = [
        (f"{i}.", f.name, _percent(f.percent), _seconds(seconds(f.percent)), _where(view, f))
        for i, f in enumerate(timed, 1)
    ]
    lines = [*_heading(f"Top {_count(len(timed), 'Function')} by Total Runtime")]
    lines += _ranked(rows, "><>><")
    outside = _module_level_percent(view)
    if outside >= 1.0:
        lines.append(
            f"  Code outside functions (module level): {_percent(outside)}, "
            f"{_seconds(seconds(outside))}; see the line tables."
        )
    return lines


def _module_level_percent(view: _View) -> float:
    """Share of CPU samples taken in module-level code of reported files (from the stacks)."""
    paths = {file.path for file in view.files}
    total = 0.0
    for sample in view.profile.stacks:
        frame = sample.frames[-1] if sample.frames else None
        if frame is not None and frame.name == "<module>" and frame.file in paths:
            total += sample.cpu_fraction
    return 100 * total


def _top_memory(view: _View) -> list[str]:
    if not view.memory:
        return []
    heavy = sorted((f for f in view.functions if f.peak_mb > 0), key=lambda f: -f.peak_mb)
    heavy = heavy[: view.top]
    if not heavy:
        why = [NO_PEAK] if view.allocations_sampled else _not_sampled(view.run)
        return [*_heading("Top Functions by Memory Usage (peak)"), *why]
    rows = [
        (f"{i}.", f.name, _mb(f.peak_mb), f"{_mb(f.malloc_mb)} allocated", _where(view, f))
        for i, f in enumerate(heavy, 1)
    ]
    title = f"Top {_count(len(heavy), 'Function')} by Memory Usage (peak)"
    return [*_heading(title), *_ranked(rows, "><>><")]


def _not_sampled(run: RunRecord) -> list[str]:
    """Why a memory section is empty: the sampling window in effect, and how to sample finer."""
    precision = run.precision
    window = _bytes(allocation_window(precision))
    if precision >= PRECISION_MAX:
        return [
            f"  {UNSAMPLED}, even at the finest granularity",
            f"  (--precision {precision}: about every {window}): it allocated next to nothing.",
        ]
    finer = min(precision + FINER, PRECISION_MAX)
    return [
        f"  {UNSAMPLED}: at --precision {precision} Scalene",
        f"  samples allocations about every {window}, so smaller ones can go unseen.",
        f"  Sample finer with a higher --precision, e.g. --precision {finer} (about every",
        f"  {_bytes(allocation_window(finer))}; slower).",
    ]


def _not_sampled_short(run: RunRecord) -> list[str]:
    """A shorter `nothing was sampled`, for the sections after the Profile Summary's."""
    finer = (
        "the finest there is" if run.precision >= PRECISION_MAX else "a higher one samples finer"
    )
    return [f"  {UNSAMPLED}", f"  ({_sampling(run)}; {finer})."]


def _sampling(run: RunRecord) -> str:
    """The sampling granularity in effect, in a few words."""
    return f"about every {_bytes(allocation_window(run.precision))} at --precision {run.precision}"


def _where(view: _View, function: FunctionStat) -> str:
    return view.locator.location(function.file, function.lineno)


def _closing(view: _View) -> list[str]:
    run, profile = view.run, view.profile
    if not view.memory:
        heap = "not measured (profile with --memory)"
    elif profile.peak_heap_mb is None:
        heap = "not recorded"
    elif not view.allocations_sampled and not profile.peak_heap_mb:
        heap = f"nothing was sampled ({_sampling(run)})"
    else:
        heap = f"{_mb(profile.peak_heap_mb)} (growth rate {profile.growth_rate:.1f}%)"
    warnings = str(run.log_counts.get("WARNING", 0))
    others = {k: n for k, n in run.log_counts.items() if k != "WARNING" and n}
    if others:
        warnings += f" (also {_log_counts(others)})"
    rows = [
        (
            "Total time:",
            f"{_seconds(profile.elapsed_s) if profile.elapsed_s else 'nothing'} sampled by "
            f"Scalene, {_seconds(run.cpu_s)} CPU",
        ),
        ("Heap peak:", heap),
        ("Max RSS Memory Usage:", _mb(run.max_rss_mb)),
        ("Wall Time:", _seconds(run.wall_s)),
        ("Warnings:", warnings),
        *_derivation(view),
    ]
    if run.status is not RunStatus.OK:
        rows.append(("Status:", _status(run).removeprefix("Status: ")))
    if run.unprofiled_event_loop:
        rows.append(("Async:", ASYNC_NOTE))
    return [HEAVY_RULE, *(f"{label:<22}{value}" for label, value in rows)]


def _derivation(view: _View) -> list[tuple[str, str]]:
    """How function figures were made (see `functions.py`), for the closing rows."""
    rows = [("Function figures:", "self time = the sum of the function's own lines")]
    if view.profile.stacks:
        rows.append(("", "with callees = the samples whose call stack holds it"))
    return rows


# Functions by Module


@dataclass
class _Node:
    """A level of the module tree, with its functions' total time and largest peak."""

    label: str
    percent: float = 0.0
    peak_mb: float = 0.0
    functions: int = 0
    children: dict[str, _Node] | None = None

    def add(self, function: FunctionStat) -> None:
        self.percent += function.percent
        self.peak_mb = max(self.peak_mb, function.peak_mb)
        self.functions += 1

    def child(self, label: str) -> _Node:
        if self.children is None:
            self.children = {}
        return self.children.setdefault(label, _Node(label))


def _tree_path(locator: Locator, path: str) -> list[str]:
    """package / module / file of a file; a module level that repeats the package is left out."""
    package = locator.package(path)
    name = locator.name(path)
    folder, _, filename = name.rpartition("/")
    module = "" if name.startswith("/") else folder.replace("/", ".")
    return [package, *([module] if module and module != package else []), filename]


def _module_tree(view: _View) -> list[str]:
    if not view.functions:
        return []
    locator = view.locator
    root = _Node("")
    for function in view.functions:
        node = root
        node.add(function)
        for level in _tree_path(locator, function.file):
            node = node.child(level)
            node.add(function)
        node.child(function.name).add(function)
    rows: list[tuple[str, _Node]] = []
    _walk(root, "", rows)
    width = max(max(len(label) for label, _ in rows) + 4, 32)
    mb = view.memory
    lines = [*_heading("Functions by Module")]
    header = f"{'':<{width}}{'time':>7}" + (f"{'peak':>11}" if mb else "")
    lines.append(header.rstrip())
    for label, node in rows:
        leader = (
            " " + "." * (width - len(label) - 2) + " "
            if not node.children
            else " " * (width - len(label))
        )
        text = f"{label}{leader}{_percent(node.percent):>7}"
        if mb:
            text += f"{_mb(node.peak_mb) if node.peak_mb > 0 else '':>11}"
        if node.children:
            count = node.functions
            text += f"   ({_count(count, 'function')})"
        lines.append(text.rstrip())
    return lines


def _walk(node: _Node, indent: str, rows: list[tuple[str, _Node]]) -> None:
    children = sorted((node.children or {}).values(), key=lambda n: -n.percent)
    for i, child in enumerate(children):
        last = i == len(children) - 1
        rows.append((f"{indent}{'└─' if last else '├─'} {child.label}", child))
        _walk(child, indent + ("   " if last else "│  "), rows)


# line tables


@dataclass(frozen=True)
class _Column:
    group: str  # first header row
    title: str  # second header row
    left: bool = False


_TIME_COLUMNS = (_Column("Time", "Python"), _Column("", "native"), _Column("", "system"))
_MEMORY_COLUMNS = (
    _Column("Memory", "Python"),
    _Column("", "peak"),
    _Column("", "timeline / %", left=True),
    _Column("Copy", "(MB/s)"),
)


def _line_profile(view: _View) -> list[str]:
    busy = sorted(
        (f for f in view.files if f.percent >= FILE_MIN_PERCENT), key=lambda f: -f.percent
    )
    lines = _heading("Line Profile", HEAVY_RULE)
    profile = view.profile
    if view.memory and profile.heap_timeline:
        spark = _sparkline([mb for _, mb in profile.heap_timeline], profile.peak_heap_mb or 0.0)
        peak = _mb(profile.peak_heap_mb or 0.0)
        lines.append(f"Memory usage: {spark} (peak {peak}, growth rate {profile.growth_rate:.1f}%)")
    elif view.memory and not view.allocations_sampled:
        lines.append(f"Memory usage: nothing was sampled ({_sampling(view.run)})")
    if not busy:
        lines.append(f"No file took {FILE_MIN_PERCENT:.0f}% or more of the run.")
    for file in busy:
        lines += ["", *_file_table(view, file)]
    return lines


def _matters(line: LineStat, memory: bool) -> bool:
    if line.percent >= LINE_MIN_PERCENT:
        return True
    return memory and (line.usage_fraction * 100 >= LINE_MIN_PERCENT or line.copy_mb_s >= 1)


def _cells(view: _View, stat: LineStat | FunctionStat, timeline: Sequence[float] = ()) -> list[str]:
    """The time and (in memory mode) memory cells of a line-table row."""
    cells = [
        _cell_percent(stat.python_percent),
        _cell_percent(stat.native_percent),
        _cell_percent(stat.system_percent),
    ]
    if view.memory:
        allocated = stat.malloc_mb > 0 or stat.peak_mb > 0
        spark = _sparkline(timeline, view.profile.peak_heap_mb or max(timeline, default=0.0))
        usage = _cell_percent(stat.usage_fraction * 100)
        cells += [
            _cell_percent(stat.python_fraction * 100) if allocated else "",
            _mb(stat.peak_mb) if stat.peak_mb > 0 else "",
            f"{spark:<{SPARK_WIDTH}} {usage:>6}" if usage else "",
            f"{stat.copy_mb_s:.0f}" if stat.copy_mb_s >= 0.5 else "",
        ]
    return cells


def _file_table(view: _View, file: FileStat) -> list[str]:
    locator, profile = view.locator, view.profile
    name = locator.name(file.path)
    seconds = profile.seconds(file.percent)
    lines = [
        f"{name}: {_percent(file.percent)} of time "
        f"({_seconds(seconds)} of {_seconds(view.elapsed_s)})"
    ]
    columns = [_Column("", "Line"), *_TIME_COLUMNS, *(_MEMORY_COLUMNS if view.memory else ())]
    rows: list[list[str] | None] = []  # None: lines left out
    previous = 0
    for line in file.lines:
        if not _matters(line, view.memory):
            continue
        if line.lineno > previous + 1:
            rows.append(None)
        previous = line.lineno
        source = locator.source(file.path, line.lineno, line.source)
        label = locator.line(file.path, line.lineno)
        rows.append([label, *_cells(view, line, line.timeline), source.rstrip()])
    functions = sorted(
        (f for f in file.functions if f.percent > 0 or f.peak_mb > 0), key=lambda f: f.lineno
    )
    summary = [[locator.line(file.path, f.lineno), *_cells(view, f), f.name] for f in functions]
    return lines + _grid(columns, name, rows, summary, f"function summary for {name}")


def _grid(
    columns: Sequence[_Column],
    source_title: str,
    rows: Sequence[list[str] | None],
    summary: Sequence[list[str]],
    summary_title: str,
) -> list[str]:
    """A boxed table: two header rows, `...` for rows left out, then the function summary."""
    widths = [max(len(c.group), len(c.title)) for c in columns]
    for row in (*rows, *summary):
        if row is not None:
            widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]

    def render(cells: Iterable[str], last: str = "") -> str:
        padded = [
            f" {cell:<{w}} " if col.left else f" {cell:>{w}} "
            for cell, w, col in zip(cells, widths, columns, strict=True)
        ]
        return ("│".join(padded) + "│ " + last).rstrip()

    def rule(line: str, cross: str) -> str:
        return cross.join(line * (w + 2) for w in widths) + cross + line * 30

    out = [
        render(c.group for c in columns),
        render((c.title for c in columns), source_title),
        rule("━", "┿"),
    ]
    blank = [""] * len(columns)
    for row in rows:
        out.append(render(["...", *blank[1:]]) if row is None else render(row[:-1], row[-1]))
    if summary:
        out += [rule("─", "┼"), render(blank, summary_title)]
        out += [render(row[:-1], row[-1]) for row in summary]
    return out


# memory: peak lines and leaks


def _peak_lines(view: _View) -> list[str]:
    if not view.memory:
        return []
    lines = [line for file in view.files for line in file.lines if line.peak_mb > 0]
    lines.sort(key=lambda line: -line.peak_mb)
    rows = _line_rows(view, lines[:PEAK_LINES], lambda line: _mb(line.peak_mb))
    if not rows:
        why = [NO_PEAK] if view.allocations_sampled else _not_sampled_short(view.run)
        return [*_heading("Top Peak Memory by Line"), *why]
    return [*_heading("Top Peak Memory by Line"), *_ranked(rows, "><><")]


def _leaks(view: _View) -> list[str]:
    if not view.memory:
        return []
    leaks = sorted(
        (leak for file in view.files for leak in file.leaks), key=lambda leak: -leak.likelihood
    )
    locator = view.locator
    rows = [
        (
            locator.location(leak.file, leak.lineno),
            f"likelihood {leak.likelihood * 100:.0f}%",
            f"velocity {leak.velocity_mb_s:.1f} MB/s",
        )
        for leak in leaks
    ]
    if not rows:
        unseen = "" if view.allocations_sampled else " (no allocation was sampled)"
        return [*_heading("Possible Memory Leaks"), f"  none detected{unseen}"]
    return [*_heading("Possible Memory Leaks"), *_ranked(rows, "<>>")]


def _await_lines(view: _View) -> list[str]:
    """The lines where tasks waited longest (Scalene --async): percent of the sampled time that
    suspended tasks spent at each await, summed over the tasks."""
    lines = [line for file in view.files for line in file.lines if line.await_percent >= 0.05]
    lines.sort(key=lambda line: -line.await_percent)
    rows = _line_rows(view, lines[:AWAIT_LINES], lambda line: _percent(line.await_percent))
    if not rows:
        return []
    return [*_heading("Top Await Time by Line (tasks suspended there)"), *_ranked(rows, "><><")]


def _line_rows(
    view: _View, lines: list[LineStat], figure: Callable[[LineStat], str]
) -> list[tuple[str, ...]]:
    """Ranked rows of lines: rank, place, the figure, the source text."""
    locator = view.locator
    return [
        (
            f"{i}.",
            locator.location(line.file, line.lineno),
            figure(line),
            locator.source(line.file, line.lineno, line.source).strip(),
        )
        for i, line in enumerate(lines, 1)
    ]


# Stack Trace Summary


def call_paths(
    stacks: Iterable[StackSample], functions: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], Counter[tuple[Frame, ...]]]:
    """For each (file, name), the distinct caller chains (innermost caller first) -> samples.

    A stack reaches a function when the function is on it; the chain is what lies above its
    innermost appearance, so recursion counts once and the function's own line does not split paths.
    """
    wanted = set(functions)
    paths: dict[tuple[str, str], Counter[tuple[Frame, ...]]] = {key: Counter() for key in wanted}
    for sample in stacks:
        frames = sample.frames
        seen: set[tuple[str, str]] = set()
        for i in range(len(frames) - 1, -1, -1):
            key = (frames[i].file, frames[i].name)
            if key in wanted and key not in seen:
                seen.add(key)
                paths[key][tuple(reversed(frames[:i]))] += sample.count
    return paths


def _with_callees(view: _View, function: FunctionStat) -> str:
    """`100.0% with callees, 1.42 s; ` (empty when the total is not known)."""
    total = function.total_percent
    if total is None:
        return ""
    return f"{_percent(total)} with callees, {_seconds(view.profile.seconds(total))}; "


def _stack_summary(view: _View) -> list[str]:
    if not view.run.trace or not view.profile.stacks:
        return []
    costly = [f for f in view.functions if f.percent > 0][: min(view.top, STACK_FUNCTIONS)]
    paths = call_paths(view.profile.stacks, ((f.file, f.name) for f in costly))
    locator = view.locator
    lines = _heading(f"Stack Trace Summary ({_seconds(view.elapsed_s)} total)", HEAVY_RULE)
    shown = 0
    for function in costly:
        found = paths[(function.file, function.name)]
        if not found:
            continue
        shown += 1
        total = sum(found.values())
        count = len(found)
        lines += [
            "",
            f"{function.name} ({_where(view, function)}): {_percent(function.percent)} self time, "
            f"{_seconds(view.profile.seconds(function.percent))}; {_with_callees(view, function)}"
            f"reached by {_count(count, 'call path')} in {total} samples",
        ]
        ranked = found.most_common(STACK_PATHS)
        rest = count - len(ranked)
        for i, (chain, samples) in enumerate(ranked):
            last = i == len(ranked) - 1 and not rest
            lines.append(f"  {'└─' if last else '├─'} {samples} samples ({samples / total:.0%})")
            bar = "   " if last else "│  "
            if not chain:
                lines.append(f"  {bar}   (called from the top level)")
            for frame in chain:
                lines.append(
                    f"  {bar}   {locator.location(frame.file, frame.lineno)}; {frame.name}"
                )
        if rest:
            hidden = total - sum(n for _, n in ranked)
            lines.append(f"  └─ {rest} more call paths ({hidden} samples)")
    return lines if shown else []
