"""The commands, once: the `fixingahole` CLI (`cli.py`) and the invoke tasks (`tasks.py`) are
both built from `COMMANDS`, and call each command's plain `run(...)` with the same values.

Importing this package imports the standard library only; each command imports what it uses.
"""

from __future__ import annotations

from fixingahole.commands.arguments import Command, Where
from fixingahole.commands.judging import BEFORE, BISECT, COMPARE, bisect, compare
from fixingahole.commands.profiling import (
    CALIBRATE,
    DEFAULT_MANIFEST,
    PROFILE,
    PROFILE_ALL,
    calibrate,
    command_line,
    count_spread,
    profile,
    profile_all,
)
from fixingahole.commands.stored import (
    HISTORY,
    REPORT,
    RUNS,
    STORE_REBUILD,
    history,
    list_runs,
    rebuild_store,
    report,
)

# in the order `fixingahole --help` lists them
COMMANDS: tuple[Command, ...] = (
    PROFILE,
    PROFILE_ALL,
    RUNS,
    COMPARE,
    CALIBRATE,
    REPORT,
    BISECT,
    HISTORY,
    STORE_REBUILD,
)

__all__ = [
    "BEFORE",
    "COMMANDS",
    "DEFAULT_MANIFEST",
    "Command",
    "Where",
    "bisect",
    "calibrate",
    "command_line",
    "compare",
    "count_spread",
    "history",
    "list_runs",
    "profile",
    "profile_all",
    "rebuild_store",
    "report",
]
