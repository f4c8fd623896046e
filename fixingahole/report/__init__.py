"""Reports of one run: the text report (`text.py`) and `summary.json` (`summary.py`).

`RunInfo` carries what a report needs besides Scalene's profile: how the run was started and how it
ended, as fixing-a-hole measured it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fixingahole.profile import FileStat, Profile


@dataclass(frozen=True)
class RunInfo:
    """How a run was started and how it ended, besides what Scalene recorded."""

    command: str  # the command line the user ran, as one line of text
    status: str = "ok"  # ok | failed | interrupted | timeout | no-samples
    exit_code: int | None = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0  # user + system of the whole process tree
    max_rss_mb: float = 0.0
    mode: str = "cpu"  # "cpu" or "memory"
    log_counts: Mapping[str, int] = field(default_factory=dict)  # level name -> records captured
    detailed: bool = False  # libraries were profiled too: group them by package
    trace: bool = True  # call stacks were collected: print the stack trace summary
    unprofiled_event_loop: bool = False  # an asyncio event loop ran, profiled without --async
    error: str | None = None  # one line when status is not ok
    ignore: tuple[Path, ...] = ()  # absolute folders whose files are not reported

    @property
    def memory(self) -> bool:
        """True when heap memory was profiled."""
        return self.mode == "memory"


def reported_files(profile: Profile, ignore: tuple[Path, ...]) -> tuple[FileStat, ...]:
    """The profile's files, less those inside an ignored folder."""
    prefixes = set()
    for folder in ignore:
        absolute = os.path.abspath(folder)
        for spelling in (absolute, os.path.realpath(absolute)):
            prefixes.add(spelling.rstrip(os.sep) + os.sep)
    if not prefixes:
        return profile.files
    starts = tuple(prefixes)
    return tuple(
        file
        for file in profile.files
        if not (file.path.startswith(starts) or os.path.realpath(file.path).startswith(starts))
    )
