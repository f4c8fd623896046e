"""One profile, end to end: run folder, Scalene child, parse, report, summary, store."""

from __future__ import annotations

import importlib
import json
import os
import shutil
import sys
import threading
from contextlib import suppress
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from fixingahole.errors import UserError
from fixingahole.options import ProfileOptions, allocation_window
from fixingahole.settings import Settings
from fixingahole.targets import target_kind

if TYPE_CHECKING:
    from fixingahole.instructions import InstructionCount

RUN_STAMP = "%Y%m%d_%H%M%S"


@dataclass(frozen=True)
class RunOutcome:
    """What a profile left behind."""

    run_id: str
    run_dir: Path
    status: str
    exit_code: int | None
    summary: dict


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
    from fixingahole.provenance import content_hash, environment, git_info
    from fixingahole.report import RunInfo
    from fixingahole.report.folded import render_folded
    from fixingahole.report.summary import build_summary
    from fixingahole.report.text import render_report, render_summary
    from fixingahole.runner import ScaleneRequest, run_scalene
    from fixingahole.scalene_output import Profile, load_profile

    kind = target_kind(target)
    if kind == "script":
        check_syntax(target)
    if options.instructions:
        from fixingahole.instructions import find_valgrind

        find_valgrind()  # before anything runs: no valgrind is bad input, not a failed run
    started = datetime.now(timezone.utc)
    entry = entry or target.stem
    new_output = not settings.output.exists()
    run_dir = new_run_dir(settings.output, entry, started)
    run_id = f"{entry}/{run_dir.name}"
    shutil.copy2(target, run_dir / target.name)

    cell_maps = {}
    script = target
    cwd = options.cwd or workdir or Path.cwd()
    env = dict(options.env)
    if kind == "notebook":
        from fixingahole.notebook import convert_notebook, notebook_code_name

        script = run_dir / f"{target.stem}.notebook.py"
        try:
            cell_map = convert_notebook(target, script)
        except UserError:  # refused: nothing of this run is kept
            _remove_run_dir(run_dir, new_output)
            raise
        (run_dir / "cells.json").write_text(json.dumps(cell_map.to_json(), indent=2))
        cwd = options.cwd or target.parent
        # The script's code runs under a name beside the notebook, so that it is profiled
        # wherever the run folder is; the bootstrap renames it and starts IPython's shell.
        code_name = notebook_code_name(target)
        cell_maps[str(script)] = cell_maps[str(code_name)] = cell_map
        env["FIXINGAHOLE_NOTEBOOK_SCRIPT"] = str(script)
        env["FIXINGAHOLE_NOTEBOOK_FILENAME"] = str(code_name)
        if cell_map.shell:
            env["FIXINGAHOLE_NOTEBOOK_CELLS"] = ",".join(str(c.first_line) for c in cell_map.cells)

    locator = _locator(settings, cell_maps)
    json_path = run_dir / "profile.json"
    request = ScaleneRequest(
        script=script,
        json_path=json_path,
        run_dir=run_dir,
        cwd=cwd,
        mode=options.mode,
        allocation_window=allocation_window(options.precision),
        cpu_interval=options.interval,
        profile_all=options.detailed,
        stacks=options.trace,
        async_profile=options.async_profile,
        program_path=settings.root,
        args=tuple(options.args),
        env=env,
        timeout=options.timeout,
        log_level=options.log_level,
        no_plots=options.no_plots,
        live=options.live,
        on_snapshot=_live_printer(locator, options.detailed) if options.live else None,
        echo=echo,
        path_first=cwd if kind == "notebook" else None,  # a notebook imports from its folder
        stop=stop,
    )
    _import_in_background("fixingahole.store")
    _in_background(_preload_pages, "preload pages")
    try:
        result = run_scalene(request)
    except UserError:  # refused before Scalene started (a missing working directory, ...)
        _remove_run_dir(run_dir, new_output)
        raise

    profile, parse_error = Profile(), None
    if json_path.exists():
        try:
            profile = load_profile(json_path)
        except UserError as exc:
            parse_error = str(exc)
    status, error = result.status, result.error
    if kind == "notebook":
        from fixingahole.notebook import name_log_places

        code_name = str(notebook_code_name(target))
        name_log_places(run_dir / "logs.log", code_name, lambda n: locator.location(code_name, n))
    if kind == "notebook" and status == "failed":
        from fixingahole.notebook import describe_failure

        stderr = (run_dir / "stderr.txt").read_text(errors="replace")
        error = (
            describe_failure(cell_maps[str(script)], stderr, notebook_code_name(target)) or error
        )
    if status in ("timeout", "interrupted") and profile.is_empty:
        error = f"{error}; Scalene's profile was lost: it was not written in time"
    if status == "ok" and profile.is_empty:
        status = "no-samples"
        error = parse_error or "the script finished before Scalene took any sample"
    counted = None
    if options.instructions:
        counted = _count_instructions(script, cwd, options, run_dir, status, echo)

    cells = cell_stats(profile, cell_maps)
    run = RunInfo(
        command=command,
        status=status,
        exit_code=result.exit_code,
        wall_s=result.wall_s,
        cpu_s=result.cpu_s,
        max_rss_mb=result.max_rss_mb,
        mode=options.mode,
        precision=options.precision,
        log_counts=dict(result.log_counts),
        detailed=options.detailed,
        trace=options.trace,
        unprofiled_event_loop=result.ran_event_loop,
        error=error,
        ignore=(*settings.ignore, *(settings.root / d for d in options.ignore)),
    )
    summary = build_summary(
        profile,
        run,
        locator,
        run_id=run_id,
        entry=entry,
        target=_display_path(target, settings.root),
        kind=kind,
        started_utc=started,
        options=_options_record(options),
        tags=list(tags),
        code_hash=content_hash(target),
        git=git_info(target.parent),
        environment=environment(),
        cells=cells,
    )
    if counted is not None:
        summary.update(counted.fields())
    report = render_report(profile, run, locator, top=top, cells=cells)
    _write_atomic(run_dir / "profile_results.txt", report)
    _write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2))
    folded = render_folded(profile, locator, detailed=options.detailed)
    if folded:
        _write_atomic(run_dir / "stacks.folded", folded)
    views = _in_background(lambda: _write_views(run_dir, summary, profile, run, locator), "views")
    if echo:
        print(render_summary(profile, run, locator, top=top, cells=cells))
        if counted is not None:
            print(_instructions_line(counted))
        print(f"Run folder: {run_dir}")
    _add_to_store(settings, summary, run_dir)
    views.join()
    if counted is not None and counted.status == "interrupted":
        raise KeyboardInterrupt  # the run is saved; the user asked to stop
    return RunOutcome(run_id, run_dir, status, result.exit_code, summary)


def _count_instructions(
    script: Path, cwd: Path, options: ProfileOptions, run_dir: Path, status: str, echo: bool
) -> InstructionCount:
    """The Valgrind run after the profile, run as the profile ran the script (without Scalene).

    Whatever goes wrong in it, the profile is kept: the count is missing and the note says why.
    """
    from fixingahole.instructions import CountRequest, InstructionCount, count_instructions

    if status not in ("ok", "no-samples"):
        return InstructionCount("skipped", None, None, f"not counted: the profile ended {status}")
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
        return InstructionCount("failed", None, None, f"Valgrind could not run: {exc}")


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


def _locator(settings: Settings, cell_maps: dict):
    from fixingahole.locations import Locator

    return Locator(settings.root, cell_maps)


def _display_path(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _options_record(options: ProfileOptions) -> dict:
    """The options as JSON values, for summary.json."""
    record = {f.name: getattr(options, f.name) for f in fields(options) if f.name != "mode"}
    record["cwd"] = str(options.cwd) if options.cwd else None
    return {k: list(v) if isinstance(v, tuple) else v for k, v in record.items()} | {
        "env": dict(options.env)
    }


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _live_printer(locator, detailed: bool, top: int = 5):
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


def _in_background(work, name: str) -> threading.Thread:
    """Start `work` in a daemon thread and return the thread."""
    thread = threading.Thread(target=work, name=name, daemon=True)
    thread.start()
    return thread


def _preload_pages() -> None:
    """Import jinja2 and pack plotly.js while the script runs, for the page written after it."""
    with suppress(Exception):  # writing the page will say what went wrong
        from fixingahole.report.page import preload

        preload()


def _write_views(run_dir: Path, summary: dict, profile, run, locator) -> None:
    """report.html and speedscope.json; the text report and summary are the record, so a
    failure here only warns."""
    from fixingahole.report.stored import write_views

    try:
        write_views(run_dir, summary, profile, run, locator)
    except Exception as exc:
        print(
            f"warning: run saved in {run_dir} but its page not written ({exc}); "
            f"run `fixingahole report {run_dir}`",
            file=sys.stderr,
        )


def _add_to_store(settings: Settings, summary: dict, run_dir: Path) -> None:
    """Index the run; the run folder is the record, so a store failure only warns."""
    from fixingahole.store import Store

    try:
        Store(store_dir(settings)).add(summary, run_dir)
    except Exception as exc:  # the run folder stays; `store rebuild` recovers the index
        print(
            f"warning: run saved in {run_dir} but not indexed ({exc}); "
            "run `fixingahole store rebuild`",
            file=sys.stderr,
        )
