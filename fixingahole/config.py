"""Settings: defaults < [tool.fixingahole] in the nearest pyproject.toml < FIXINGAHOLE_* < arguments."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    """Where the code lives, where results go, and what is never searched or reported."""

    root: Path  # absolute
    output: Path  # absolute; the run folders and the store live here
    ignore: tuple[Path, ...] = ()  # absolute folders
    pyproject: Path | None = None  # the pyproject.toml the settings came from, if any
