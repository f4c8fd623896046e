"""A notebook's profile by cell: each code cell's time and memory, and what identifies the cell.

A cell's time is the time the notebook spent running it, as Jupyter would time the cell: its own
lines and everything they called, a function defined in another cell included. It comes from
Scalene's call stacks (each sample counts for the cell whose top-level line was running); a
profile without stacks (`--no-trace`) gives each cell its own lines' time. Either way the cells
add up to the notebook's time. A cell's memory is that of its own lines: allocations summed, peak
the largest of its lines' peaks (a function's allocations count in the cell that defines it).
Every code cell is listed, idle ones with zeros, in notebook order.

A cell's `source_hash` is that of its source text: it matches a cell across runs of two versions of
a notebook, where a cell inserted above shifts every number after it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fixingahole.scalene_output import LineStat, Profile

if TYPE_CHECKING:
    from fixingahole.notebook import Cell, CellMap


@dataclass(frozen=True)
class CellLine:
    """A line of a cell with any time or memory: its line in the cell, and the script's line."""

    line: int  # 1-based, in the cell's own source
    stat: LineStat


@dataclass(frozen=True)
class CellStat:
    """One code cell of a profiled notebook."""

    number: int  # as the report shows it
    first_line: str  # the cell's first non-blank source line, stripped
    source_hash: str  # "sha256:" and the first 16 hex digits of the cell's source
    percent: float  # of all sampled CPU time, spent while the cell ran
    peak_mb: float
    malloc_mb: float
    lines: tuple[CellLine, ...]


def source_hash(source: tuple[str, ...] | list[str]) -> str:
    """The hash that identifies a cell's source across runs."""
    digest = hashlib.sha256("\n".join(source).encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest[:16]}"


def cell_stats(profile: Profile, cell_maps: Mapping[str, CellMap]) -> tuple[CellStat, ...]:
    """Every code cell of the profiled notebook(s), in order: its time while it ran, its lines."""
    map_of = _MapOf(cell_maps)
    found: dict[tuple[str, int], list[CellLine]] = {}
    for file in profile.files:
        cell_map = map_of(file.path)
        if cell_map is None:
            continue
        for line in file.lines:
            located = cell_map.locate(line.lineno)
            if located is not None and (line.percent > 0 or line.peak_mb or line.malloc_mb):
                cell, in_cell = located
                found.setdefault((str(cell_map.script), cell.number), []).append(
                    CellLine(in_cell, line)
                )
    running = _running_time(profile, map_of) if profile.stacks else None
    cells = []
    for cell_map in {id(m): m for m in cell_maps.values()}.values():  # a map may have two names
        for cell in cell_map.cells:
            key = (str(cell_map.script), cell.number)
            lines = tuple(found.get(key, ()))
            percent = sum(line.stat.percent for line in lines)
            cells.append(
                _cell_stat(cell, lines, percent if running is None else running.get(key, 0.0))
            )
    return tuple(cells)


def _running_time(profile: Profile, map_of: _MapOf) -> dict[tuple[str, int], float]:
    """Percent of CPU time per (script, cell) whose top-level line was running, from the stacks."""
    running: dict[tuple[str, int], float] = {}
    for sample in profile.stacks:
        for frame in sample.frames:  # outermost first: the notebook's top level comes first
            cell_map = map_of(frame.file)
            if cell_map is None or frame.name != "<module>":
                continue
            located = cell_map.locate(frame.lineno)
            if located is not None:
                key = (str(cell_map.script), located[0].number)
                running[key] = running.get(key, 0.0) + 100 * sample.cpu_fraction
            break
    return running


def _cell_stat(cell: Cell, lines: tuple[CellLine, ...], percent: float) -> CellStat:
    stats = [line.stat for line in lines]
    return CellStat(
        number=cell.number,
        first_line=next((text.strip() for text in cell.source if text.strip()), ""),
        source_hash=source_hash(cell.source),
        percent=percent,
        peak_mb=max((stat.peak_mb for stat in stats), default=0.0),
        malloc_mb=sum(stat.malloc_mb for stat in stats),
        lines=lines,
    )


class _MapOf:
    """The cell map of a file name as Scalene wrote it (any spelling of its path), or None."""

    def __init__(self, cell_maps: Mapping[str, CellMap]) -> None:
        self._maps = {spelling: m for path, m in cell_maps.items() for spelling in _spellings(path)}
        self._seen: dict[str, CellMap | None] = {}

    def __call__(self, path: str) -> CellMap | None:
        if path not in self._seen:
            found = (self._maps[s] for s in _spellings(path) if s in self._maps)
            self._seen[path] = next(found, None)
        return self._seen[path]


def _spellings(path: str) -> set[str]:
    absolute = os.path.abspath(path)
    return {absolute, os.path.realpath(absolute)}
