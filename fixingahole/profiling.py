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

from fixingahole.config import Settings
from fixingahole.errors import UserError
from fixingahole.options import ProfileOptions, allocation_window
from fixingahole.targets import target_kind

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
    from fixingahole.profile import Profile, load_profile
    from fixingahole.provenance import content_hash, environment, git_info
    from fixingahole.report import RunInfo
    from fixingahole.report.folded import render_folded
    from fixingahole.report.summary import build_summary
    from fixingahole.report.text import render_report, render_summary
    from fixingahole.runner import ScaleneRequest, run_scalene

    kind = target_kind(target)
    if kind == "script":
        check_syntax(target)
    started = datetime.now(timezone.utc)
    entry = entry or target.stem
    run_dir = new_run_dir(settings.output, entry, started)
    run_id = f"{entry}/{run_dir.name}"
    shutil.copy2(target, run_dir / target.name)

    cell_maps = {}
    script = target
    cwd = options.cwd or workdir or Path.cwd()
    if kind == "notebook":
        from fixingahole.notebook import convert_notebook

        script = run_dir / f"{target.stem}.notebook.py"
        cell_map = convert_notebook(target, script)
        (run_dir / "cells.json").write_text(json.dumps(cell_map.to_json(), indent=2))
        cell_maps[str(script)] = cell_map
        cwd = options.cwd or target.parent

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
        program_path=settings.root,
        args=tuple(options.args),
        env=dict(options.env),
        timeout=options.timeout,
        log_level=options.log_level,
        no_plots=options.no_plots,
        live=options.live,
        on_snapshot=_live_printer(locator) if options.live else None,
        echo=echo,
        stop=stop,
    )
    _import_in_background("fixingahole.store")
    result = run_scalene(request)

    profile, parse_error = Profile(), None
    if json_path.exists():
        try:
            profile = load_profile(json_path)
        except UserError as exc:
            parse_error = str(exc)
    status, error = result.status, result.error
    if kind == "notebook" and status == "failed":
        from fixingahole.notebook import describe_failure

        stderr = (run_dir / "stderr.txt").read_text(errors="replace")
        error = describe_failure(cell_maps[str(script)], stderr) or error
    if status == "ok" and profile.is_empty:
        status = "no-samples"
        error = parse_error or "the script finished before Scalene took any sample"

    run = RunInfo(
        command=command,
        status=status,
        exit_code=result.exit_code,
        wall_s=result.wall_s,
        cpu_s=result.cpu_s,
        max_rss_mb=result.max_rss_mb,
        mode=options.mode,
        log_counts=dict(result.log_counts),
        detailed=options.detailed,
        trace=options.trace,
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
    )
    report = render_report(profile, run, locator, top=top)
    _write_atomic(run_dir / "profile_results.txt", report)
    _write_atomic(run_dir / "summary.json", json.dumps(summary, indent=2))
    folded = render_folded(profile, locator)
    if folded:
        _write_atomic(run_dir / "stacks.folded", folded)
    if echo:
        print(render_summary(profile, run, locator, top=top))
        print(f"Run folder: {run_dir}")
    _add_to_store(settings, summary, run_dir)
    return RunOutcome(run_id, run_dir, status, result.exit_code, summary)


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


def _live_printer(locator, top: int = 5):
    """A snapshot callback that prints the current top functions to stderr."""
    from fixingahole.profile import load_profile

    def show(json_path: Path) -> None:
        try:
            profile = load_profile(json_path)
        except UserError:
            return  # not written yet, or caught half-written
        functions = sorted(profile.functions, key=lambda f: f.percent, reverse=True)[:top]
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

    threading.Thread(target=load, name=f"import {module}", daemon=True).start()


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
