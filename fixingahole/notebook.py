"""Notebooks: a `.ipynb` becomes a runnable script plus a `CellMap` from script lines to cells."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Cell:
    """One code cell as it stands in the generated script."""

    number: int  # as the report shows it to the user
    first_line: int  # 1-based line of the generated script where the cell's code starts
    line_count: int  # lines of generated code for this cell
    source: tuple[str, ...]  # the cell's own source lines, as the user wrote them


@dataclass(frozen=True)
class CellMap:
    """Where each code cell of a notebook landed in the generated script."""

    notebook: Path
    script: Path
    cells: tuple[Cell, ...]

    def locate(self, lineno: int) -> tuple[Cell, int] | None:
        """The cell holding a script line, and the 1-based line within the cell."""
        raise NotImplementedError
