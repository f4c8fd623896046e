"""A run folder read back (`load_run`), and the files derived from a run's profile and record.

`load_run` rebuilds what the reports need from the folder alone: `summary.json` (the run's
record), `profile.json` (Scalene's profile; empty when Scalene wrote none) and, for a notebook,
`cells.json` (the cell map), so that a re-rendered report is the one the run wrote.
`write_views` writes `speedscope.json` and, when the html extra is installed, `report.html`;
`profile_run.py` calls it after a run, `fixingahole report` after re-reading a folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fixingahole.errors import UserError
from fixingahole.locations import Locator
from fixingahole.record import RunRecord
from fixingahole.scalene_output import Profile, load_profile

if TYPE_CHECKING:
    from fixingahole.cells import CellStat
    from fixingahole.notebook import CellMap

PAGE = "report.html"
SPEEDSCOPE = "speedscope.json"


@dataclass(frozen=True)
class StoredRun:
    """A run as its folder holds it."""

    run_dir: Path
    record: RunRecord
    profile: Profile
    locator: Locator
    cells: tuple[CellStat, ...] = ()  # a notebook's code cells, from the profile and cell map


def load_run(run_dir: Path, root: Path, ignore: Sequence[Path] = ()) -> StoredRun:
    """Read a run folder; a one-line error when it is not one. `ignore` are the settings'
    folders left out of reports (the run's own `--ignore` folders are added)."""
    from fixingahole.cells import cell_stats

    record = read_record(run_dir / "summary.json")
    json_path = run_dir / "profile.json"
    if not json_path.exists() and record.functions:
        raise UserError(
            f"{json_path} is missing, so the run's reports cannot be re-rendered "
            "(its summary.json lists functions Scalene sampled); the files kept are unchanged"
        )
    profile = load_profile(json_path) if json_path.exists() else Profile()
    folders = record.options.get("ignore") or ()
    locator_ignore = (*ignore, *(root / folder for folder in folders))
    cell_maps = _cell_maps(run_dir)
    locator = Locator(root, cell_maps, locator_ignore)
    return StoredRun(run_dir, record, profile, locator, cell_stats(profile, cell_maps))


def read_record(path: Path) -> RunRecord:
    """The record a `summary.json` holds; a one-line error naming the file when it cannot."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path.parent} is not a run folder (it has no summary.json)") from None
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} ({exc}); the run folder is damaged") from None
    try:
        return RunRecord.from_json(document)
    except UserError as exc:
        raise UserError(f"{path}: {exc}") from None


def write_views(run_dir: Path, record: RunRecord, profile: Profile, locator: Locator) -> list[Path]:
    """Write speedscope.json (when there are stacks) and report.html (with the html extra)."""
    from fixingahole.report.page import html_available
    from fixingahole.report.speedscope import build_speedscope

    written = []
    document = build_speedscope(profile, locator, record.run_id)
    if document is not None:
        write_atomic(run_dir / SPEEDSCOPE, json.dumps(document, separators=(",", ":")))
        written.append(run_dir / SPEEDSCOPE)
    if html_available():
        from fixingahole.report.html import render_run_page

        write_atomic(run_dir / PAGE, render_run_page(record, profile, locator))
        written.append(run_dir / PAGE)
    return written


def _cell_maps(run_dir: Path) -> dict[str, CellMap]:
    """The notebook's cell map by the names Scalene knew its code by: the run folder's
    generated script and the name the code ran under, beside the notebook."""
    path = run_dir / "cells.json"
    if not path.is_file():
        return {}
    from fixingahole.notebook import CellMap, notebook_code_name

    try:
        cell_map = CellMap.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot read {path} ({exc}); profile the notebook again") from None
    return {str(cell_map.script): cell_map, str(notebook_code_name(cell_map.notebook)): cell_map}


def write_atomic(path: Path, text: str) -> None:
    """Write under a temporary name, then rename into place."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
