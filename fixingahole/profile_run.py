"""One profile, end to end: run folder, Scalene child, parse, record, reports, store."""

from __future__ import annotations

import importlib
import json
import shutil
import sys
import threading
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from fixingahole.errors import UserError
from fixingahole.locations import Locator
from fixingahole.options import ProfileOptions, allocation_window
from fixingahole.record import Environment, InstructionCounts, RunRecord, RunStatus
from fixingahole.scalene_output import Profile
from fixingahole.settings import Settings
from fixingahole.targets import target_kind

if TYPE_CHECKING:
    from fixingahole.cells import CellStat
    from fixingahole.instructions import InstructionCount
    from fixingahole.notebook import CellMap
    from fixingahole.runner import ScaleneResult

RUN_STAMP = "%Y%m%d_%H%M%S"


@dataclass(frozen=True)
class RunOutcome:
    """What a profile left behind: its record and run folder. A batch's run that made neither
    (lost or refused on a Dask worker) has no record: only its status, why, and the host."""

    status: RunStatus
    record: RunRecord | None = None
    run_dir: Path | None = None
    error: str | None = None  # one line when the status is not ok
    host: str | None = None  # where it ran, when known

    @classmethod
    def of(cls, record: RunRecord, run_dir: Path) -> RunOutcome:
        """The outcome of a run that made its folder and record."""
        return cls(record.status, record, run_dir, record.error, record.environment.host)

    @property
    def run_id(self) -> str:
        """The run's id; `-` when no run was made."""
        return "-" if self.record is None else self.record.run_id


@dataclass(frozen=True)
class _Run:
    """One profile in the making: where it is kept, what runs, and how its files are named."""

    target: Path
    kind: str  # "script" or "notebook"
    entry: str
    started: datetime
    run_dir: Path
    new_output: bool  # this run made the output folder (removed again if the run is refused)
    script: Path  # what Scalene runs: the target, or a notebook's generated script
    cwd: Path
    env: dict[str, str]
    cell_maps: dict[str, CellMap]
    locator: Locator

    @property
    def run_id(self) -> str:
        return f"{self.entry}/{self.run_dir.name}"


@dataclass(frozen=True)
class _Ending:
    """How the run ended, as judged from the runner's result and Scalene's profile."""

    result: ScaleneResult
    profile: Profile
    status: RunStatus
    error: str | None


def profile_target(
    target: Path,
    options: ProfileOptions,
    settings: Settings,
    *,
    command: str,
    entry: str | None = None,
    tags: tuple[str, ...] = (),
    echo: bool = True,
    top: int = 10,
    stop: threading.Event | None = None,
    workdir: Path | None = None,
) -> RunOutcome:
    """Profile one script or notebook under Scalene and keep everything in a new run folder;
    setting `stop` (from another thread) stops the run as Ctrl-C would. A script without a `cwd`
    option runs in `workdir` (default: the current directory; a Dask worker passes the client's)."""
    from fixingahole.cells import cell_stats

    run = _start(target, options, settings, entry or target.stem, workdir)
    ending = _judge(run, _run_scalene(run, options, settings, echo, stop))
    counted = None
    if options.instructions:
        counted = _count_instructions(
            run.script, run.cwd, options, run.run_dir, ending.status, echo
        )
    cells = cell_stats(ending.profile, run.cell_maps)
    record = _record(run, ending, options, command, tags, cells, counted)
    _keep(run, record, ending.profile, cells, settings, top=top, echo=echo, counted=counted)
    if counted is not None and counted.status is RunStatus.INTERRUPTED:
        raise KeyboardInterrupt  # the run is saved; the user asked to stop
    return RunOutcome.of(record, run.run_dir)


def _start(
    target: Path, options: ProfileOptions, settings: Settings, entry: str, workdir: Path | None
) -> _Run:
    """Check what can be checked before anything runs, then make the run folder (with a copy of
    the target and, for a notebook, its generated script and cell map)."""
    kind = target_kind(target)
    if kind == "script":
        check_syntax(target)
    if options.instructions:
        from fixingahole.instructions import find_valgrind

        find_valgrind()  # before anything runs: no valgrind is bad input, not a failed run
    started = datetime.now(timezone.utc)
    new_output = not settings.output.exists()
    run_dir = new_run_dir(settings.output, entry, started)
    shutil.copy2(target, run_dir / target.name)
    cwd = options.cwd or workdir or Path.cwd()
    script, env = target, dict(options.env)
    cell_maps: dict[str, CellMap] = {}
    if kind == "notebook":
        try:
            script, env, cell_maps = _notebook_script(target, run_dir, env)
        except UserError:  # refused: nothing of this run is kept
            _remove_run_dir(run_dir, new_output)
            raise
        cwd = options.cwd or target.parent
    ignore = (*settings.ignore, *(settings.root / d for d in options.ignore))
    locator = Locator(settings.root, cell_maps, ignore)
    return _Run(
        target, kind, entry, started, run_dir, new_output, script, cwd, env, cell_maps, locator
    )


def _notebook_script(
    notebook: Path, run_dir: Path, env: dict[str, str]
) -> tuple[Path, dict[str, str], dict[str, CellMap]]:
    """Convert a notebook into the run folder: the script Scalene runs, the environment that
    tells the bootstrap about it, and the cell map by the names its code is known by."""
    from fixingahole.notebook import convert_notebook, notebook_code_name

    script = run_dir / f"{notebook.stem}.notebook.py"
    cell_map = convert_notebook(notebook, script)
    (run_dir / "cells.json").write_text(json.dumps(cell_map.to_json(), indent=2))
    # The script's code runs under a name beside the notebook, so that it is profiled
    # wherever the run folder is; the bootstrap renames it and starts IPython's shell.
    code_name = notebook_code_name(notebook)
    env = {
        **env,
        "FIXINGAHOLE_NOTEBOOK_SCRIPT": str(script),
        "FIXINGAHOLE_NOTEBOOK_FILENAME": str(code_name),
    }
    if cell_map.shell:
        env["FIXINGAHOLE_NOTEBOOK_CELLS"] = ",".join(str(c.first_line) for c in cell_map.cells)
    return script, env, {str(script): cell_map, str(code_name): cell_map}


def _run_scalene(
    run: _Run,
    options: ProfileOptions,
    settings: Settings,
    echo: bool,
    stop: threading.Event | None,
) -> ScaleneResult:
    """Run the script under Scalene (the store and the page's libraries load meanwhile)."""
    from fixingahole.runner import ScaleneRequest, run_scalene

    request = ScaleneRequest(
        script=run.script,
        json_path=run.run_dir / "profile.json",
        run_dir=run.run_dir,
        cwd=run.cwd,
        mode=options.mode,
        allocation_window=allocation_window(options.precision),
        cpu_interval=options.interval,
        profile_all=options.detailed,
        stacks=options.trace,
        async_profile=options.async_profile,
        program_path=settings.root,
        args=tuple(options.args),
        env=run.env,
        timeout=options.timeout,
        log_level=options.log_level,
        no_plots=options.no_plots,
        live=options.live,
        on_snapshot=_live_printer(run.locator, options.detailed) if options.live else None,
        echo=echo,
        path_first=run.cwd if run.kind == "notebook" else None,  # it imports from its folder
        stop=stop,
    )
    _import_in_background("fixingahole.store")
    _in_background(_preload_pages, "preload pages")
    try:
        return run_scalene(request)
    except UserError:  # refused before Scalene started (a missing working directory, ...)
        _remove_run_dir(run.run_dir, run.new_output)
        raise


def _judge(run: _Run, result: ScaleneResult) -> _Ending:
    """The run's status and error line, from the runner's and what Scalene wrote: a finished
    run with an empty profile has no samples; a notebook's failure names its cell."""
    from fixingahole.scalene_output import load_profile

    json_path = run.run_dir / "profile.json"
    profile, parse_error = Profile(), None
    if json_path.exists():
        try:
            profile = load_profile(json_path)
        except UserError as exc:
            parse_error = str(exc)
    status, error = result.status, result.error
    if run.kind == "notebook":
        error = _notebook_places(run, status, error)
    if status.stopped and profile.is_empty:
        error = f"{error}; Scalene's profile was lost: it was not written in time"
    if status is RunStatus.OK and profile.is_empty:
        status = RunStatus.NO_SAMPLES
        error = parse_error or "the script finished before Scalene took any sample"
    return _Ending(result, profile, status, error)


def _notebook_places(run: _Run, status: RunStatus, error: str | None) -> str | None:
    """Name the notebook's cells in `logs.log`; a failed notebook's error names its cell."""
    from fixingahole.notebook import describe_failure, name_log_places, notebook_code_name

    code_name = notebook_code_name(run.target)
    name = str(code_name)
    name_log_places(run.run_dir / "logs.log", name, lambda n: run.locator.location(name, n))
    if status is not RunStatus.FAILED:
        return error
    stderr = (run.run_dir / "stderr.txt").read_text(errors="replace")
    return describe_failure(run.cell_maps[str(run.script)], stderr, code_name) or error


def _record(
    run: _Run,
    ending: _Ending,
    options: ProfileOptions,
    command: str,
    tags: tuple[str, ...],
    cells: tuple[CellStat, ...],
    counted: InstructionCount | None,
) -> RunRecord:
    """The run's record, with where it came from."""
    from fixingahole.provenance import content_hash, environment, git_info
    from fixingahole.report.record import build_record

    git = git_info(run.target.parent)
    return build_record(
        ending.profile,
        run.locator,
        ending.result,
        status=ending.status,
        error=ending.error,
        run_id=run.run_id,
        entry=run.entry,
        target=run.target,
        kind=run.kind,
        started_utc=run.started,
        options=options,
        command=command,
        code_hash=content_hash(run.target),
        git=git,
        environment=Environment(**environment()),
        tags=tags,
        cells=cells,
        instructions=None if counted is None else _counts(counted),
    )


def _counts(counted: InstructionCount) -> InstructionCounts:
    return InstructionCounts(counted.instructions, counted.startup, counted.note)


def _keep(
    run: _Run,
    record: RunRecord,
    profile: Profile,
    cells: tuple[CellStat, ...],
    settings: Settings,
    *,
    top: int,
    echo: bool,
    counted: InstructionCount | None,
) -> None:
    """Write the run's reports and record into its folder (the page in a thread meanwhile),
    print its summary, and index it in the store."""
    from fixingahole.report.folded import render_folded
    from fixingahole.report.stored import write_atomic
    from fixingahole.report.text import render_report, render_summary

    report = render_report(profile, record, run.locator, top=top, cells=cells)
    write_atomic(run.run_dir / "profile_results.txt", report)
    write_atomic(run.run_dir / "summary.json", json.dumps(record.to_json(), indent=2))
    folded = render_folded(profile, run.locator, detailed=record.detailed)
    if folded:
        write_atomic(run.run_dir / "stacks.folded", folded)
    views = _in_background(lambda: _write_views(run.run_dir, record, profile, run.locator), "views")
    if echo:
        print(render_summary(profile, record, run.locator, top=top, cells=cells))
        if counted is not None:
            print(_instructions_line(counted))
        print(f"Run folder: {run.run_dir}")
    _add_to_store(settings, record, run.run_dir)
    views.join()


def _count_instructions(
    script: Path, cwd: Path, options: ProfileOptions, run_dir: Path, status: RunStatus, echo: bool
) -> InstructionCount:
    """The Valgrind run after the profile, run as the profile ran the script (without Scalene).

    Whatever goes wrong in it, the profile is kept: the count is missing and the note says why.
    """
    from fixingahole.instructions import CountRequest, InstructionCount, count_instructions

    if not status.ran_to_end:
        note = f"not counted: the profile ended {status.value}"
        return InstructionCount(None, None, None, note)
    if echo:
        print("Counting instructions under Valgrind's Cachegrind ...", file=sys.stderr, flush=True)
    request = CountRequest(
        script=script,
        cwd=cwd,
        run_dir=run_dir,
        args=tuple(options.args),
        env=dict(options.env),
        no_plots=options.no_plots,
        timeout=options.timeout,
    )
    try:
        return count_instructions(request)
    except OSError as exc:  # Valgrind could not be started, or the run folder not written
        return InstructionCount(RunStatus.FAILED, None, None, f"Valgrind could not run: {exc}")


def _instructions_line(counted: InstructionCount) -> str:
    """The count for the terminal: total, start-up and the script's own share, or why none."""
    if counted.instructions is None:
        return f"Instructions: not counted: {counted.note}"
    line = f"Instructions: {counted.instructions:,} (Cachegrind)"
    if counted.startup is not None:
        own = counted.instructions - counted.startup
        line += f"; interpreter start-up {counted.startup:,}, the script's own {own:,}"
    return line + (f"; note: {counted.note}" if counted.note else "")


def _remove_run_dir(run_dir: Path, new_output: bool) -> None:
    """Remove a run folder that holds no run, its entry folder when that is left empty, and the
    output folder when this run made it and it is left empty."""
    shutil.rmtree(run_dir, ignore_errors=True)
    with suppress(OSError):
        run_dir.parent.rmdir()
        if new_output:
            run_dir.parent.parent.rmdir()


def check_syntax(script: Path) -> None:
    """Refuse a script Python cannot compile, before anything runs or is written."""
    try:
        source = script.read_bytes()
        compile(source, str(script), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise UserError(
            f"{script}: line {exc.lineno}: SyntaxError: {exc.msg}; fix the script and run again"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{script}: not a Python script ({exc})") from None
    except OSError as exc:
        raise UserError(f"{script}: cannot read it ({exc.strerror})") from None


def new_run_dir(output: Path, entry: str, started: datetime) -> Path:
    """Create `<output>/<entry>/<UTC stamp>[_N]/`; a suffix when that second is taken."""
    parent = output / entry
    try:
        parent.mkdir(parents=True, exist_ok=True)
        stamp = started.strftime(RUN_STAMP)
        for n in range(1, 1000):
            run_dir = parent / (stamp if n == 1 else f"{stamp}_{n}")
            try:
                run_dir.mkdir()
            except FileExistsError:
                continue
            return run_dir
    except OSError as exc:
        raise UserError(
            f"cannot create a run folder under {output}: {exc.strerror}; "
            "choose another folder with --output or fix its permissions"
        ) from None
    raise UserError(f"{parent}: too many runs in one second")


def _live_printer(locator: Locator, detailed: bool, top: int = 5) -> Callable[[Path], None]:
    """A snapshot callback that prints the current top functions to stderr (those a report
    would show: no harness, libraries only when `detailed`)."""
    from fixingahole.scalene_output import load_profile

    def show(json_path: Path) -> None:
        try:
            profile = load_profile(json_path)
        except UserError:
            return  # not written yet, or caught half-written
        shown = [
            f for f in profile.functions if f.percent > 0 and locator.is_reported(f.file, detailed)
        ]
        functions = sorted(shown, key=lambda f: f.percent, reverse=True)[:top]
        if not functions:
            return
        lines = [f"-- live: top functions after {profile.elapsed_s:.1f} s --"]
        for f in functions:
            where = locator.location(f.file, f.lineno)
            lines.append(
                f"  {f.percent:5.1f}%  {profile.seconds(f.percent):7.2f} s  {f.name}  {where}"
            )
        print("\n".join(lines), file=sys.stderr, flush=True)

    return show


def store_dir(settings: Settings) -> Path:
    """Where the store lives: a hidden folder beside the run folders."""
    return settings.output / ".store"


def _import_in_background(module: str) -> None:
    """Import `module` in a daemon thread, so that it is ready when the run ends (the store's
    pyarrow and numpy take 0.1-0.3 s, which would otherwise come after the run)."""

    def load() -> None:
        with suppress(Exception):  # the import where it is used will say what went wrong
            importlib.import_module(module)

    _in_background(load, f"import {module}")


def _in_background(work: Callable[[], None], name: str) -> threading.Thread:
    """Start `work` in a daemon thread and return the thread."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread


def _preload_pages() -> None:
    """Import jinja2 and pack plotly.js while the script runs, for the page written after it."""
    with suppress(Exception):  # writing the page will say what went wrong
        from fixingahole.report.page import preload

        preload()


def _write_views(run_dir: Path, record: RunRecord, profile: Profile, locator: Locator) -> None:
    """report.html and speedscope.json; the text report and summary are the record, so a
    failure here only warns."""
    from fixingahole.report.stored import write_views

    try:
        write_views(run_dir, record, profile, locator)
    except Exception as exc:
        print(
            f"warning: run saved in {run_dir} but its page not written ({exc}); "
            f"run `fixingahole report {run_dir}`",
            file=sys.stderr,
        )


def _add_to_store(settings: Settings, record: RunRecord, run_dir: Path) -> None:
    """Index the run; the run folder is the record, so a store failure only warns."""
    from fixingahole.store import Store

    try:
        Store(store_dir(settings)).add(record, run_dir)
    except Exception as exc:  # the run folder stays; `store rebuild` recovers the index
        print(
            f"warning: run saved in {run_dir} but not indexed ({exc}); "
            "run `fixingahole store rebuild`",
            file=sys.stderr,
        )
