"""A run folder read back (`load_run`), and the files derived from a run's profile and summary.

`load_run` rebuilds what the reports need from the folder alone: `summary.json` (how the run was
started and ended), `profile.json` (Scalene's profile; empty when Scalene wrote none) and, for a
notebook, `cells.json` (the cell map). `write_views` writes `speedscope.json` and, when the html
extra is installed, `report.html`; `profile_run.py` calls it after a run, `fixingahole report` after
re-reading a folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fixingahole.errors import UserError
from fixingahole.locations import Locator
from fixingahole.report import RunInfo
from fixingahole.scalene_output import Profile, load_profile

PAGE = "report.html"
SPEEDSCOPE = "speedscope.json"


@dataclass(frozen=True)
class StoredRun:
    """A run as its folder holds it."""

    run_dir: Path
    summary: dict[str, Any]
    profile: Profile
    run: RunInfo
    locator: Locator


def load_run(run_dir: Path, root: Path, ignore: Sequence[Path] = ()) -> StoredRun:
    """Read a run folder; a one-line error when it is not one."""
    summary_path = run_dir / "summary.json"
    try:
        summary = json.loads(summary_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{run_dir} is not a run folder (it has no summary.json)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {summary_path} ({exc}); the run folder is damaged") from None
    if not isinstance(summary, dict):
        raise UserError(f"{summary_path} is not a summary written by fixing-a-hole")
    json_path = run_dir / "profile.json"
    if not json_path.exists() and summary.get("functions"):
        raise UserError(
            f"{json_path} is missing, so the run's reports cannot be re-rendered "
            "(its summary.json lists functions Scalene sampled); the files kept are unchanged"
        )
    profile = load_profile(json_path) if json_path.exists() else Profile()
    options = summary.get("options") or {}
    run = RunInfo(
        command=str(summary.get("command", "")),
        status=str(summary.get("status", "ok")),
        exit_code=summary.get("exit_code"),
        wall_s=_number(summary.get("wall_s")),
        cpu_s=_number(summary.get("cpu_s")),
        max_rss_mb=_number(summary.get("max_rss_mb")),
        mode=str(summary.get("mode", "cpu")),
        log_counts=dict(summary.get("log_counts") or {}),
        detailed=bool(options.get("detailed", False)),
        trace=bool(options.get("trace", True)),
        error=summary.get("error"),
        ignore=(*ignore, *(root / d for d in options.get("ignore") or ())),
    )
    return StoredRun(run_dir, summary, profile, run, Locator(root, _cell_maps(run_dir)))


def write_views(
    run_dir: Path, summary: dict[str, Any], profile: Profile, run: RunInfo, locator: Locator
) -> list[Path]:
    """Write speedscope.json (when there are stacks) and report.html (with the html extra)."""
    from fixingahole.report.page import html_available
    from fixingahole.report.speedscope import build_speedscope

    written = []
    document = build_speedscope(profile, locator, str(summary.get("run_id", run_dir.name)))
    if document is not None:
        write_atomic(run_dir / SPEEDSCOPE, json.dumps(document, separators=(",", ":")))
        written.append(run_dir / SPEEDSCOPE)
    if html_available():
        from fixingahole.report.html import render_run_page

        write_atomic(run_dir / PAGE, render_run_page(summary, profile, run, locator))
        written.append(run_dir / PAGE)
    return written


def _cell_maps(run_dir: Path) -> dict[str, Any]:
    """The notebook's cell map by the generated script's path, as Scalene named it."""
    path = run_dir / "cells.json"
    if not path.is_file():
        return {}
    from fixingahole.notebook import CellMap

    try:
        cell_map = CellMap.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} ({exc}); profile the notebook again") from None
    return {str(cell_map.script): cell_map}


def _number(value: object) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def write_atomic(path: Path, text: str) -> None:
    """Write under a temporary name, then rename into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
