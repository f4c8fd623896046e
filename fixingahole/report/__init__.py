"""Reports of one run: the text report (`text.py`), the record (`record.py`, `summary.json`),
the page (`html.py`) and the stack files.

Each reads the run's `RunRecord` (how it was started and how it ended, as fixing-a-hole measured
it), Scalene's profile, and the `Locator` (how to name files, and which folders are left out).
`reported_profile` is the part of a profile that reports show.
"""

from __future__ import annotations

import dataclasses
import os
from collections import defaultdict
from collections.abc import Sequence

from fixingahole.functions import derive
from fixingahole.locations import Locator
from fixingahole.scalene_output import FileStat, LineStat, Profile, StackSample


def reported_files(profile: Profile, locator: Locator) -> tuple[FileStat, ...]:
    """The profile's files, less those inside a folder the locator ignores."""
    prefixes = set()
    for folder in locator.ignore:
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


def reported_profile(profile: Profile, locator: Locator, detailed: bool) -> Profile:
    """What the reports show of a profile: the user's files, and libraries only when `detailed`.

    fixing-a-hole's own files are never shown, nor are files of ignored folders. The CPU time of
    a file left out goes back to the shown line that called into it, as Scalene itself charges a
    library it does not sample to its caller. That matters for code Scalene's own `exec`/`eval`
    wrappers compile under a file name of their own (`<exec@dataclasses.py:433>`): Scalene samples
    it although a library made it. The stacks lose the frames of files left out, and the
    functions are derived again from what is left.
    """
    files = reported_files(profile, locator)
    shown = tuple(f for f in files if locator.is_reported(f.path, detailed))
    if len(shown) == len(profile.files):
        return profile
    hidden = {file.path for file in profile.files} - {file.path for file in shown}
    shown = _charge_callers(shown, profile.files, profile.stacks, hidden)
    stacks = tuple(_without(sample, hidden) for sample in profile.stacks)
    files, stacks = derive(shown, tuple(sample for sample in stacks if sample.frames))
    return dataclasses.replace(profile, files=files, stacks=stacks)


def _without(sample: StackSample, hidden: set[str]) -> StackSample:
    frames = tuple(frame for frame in sample.frames if frame.file not in hidden)
    return dataclasses.replace(sample, frames=frames)


def _charge_callers(
    shown: Sequence[FileStat],
    files: Sequence[FileStat],
    stacks: Sequence[StackSample],
    hidden: set[str],
) -> tuple[FileStat, ...]:
    """`shown` with each hidden file's CPU time moved to the shown lines that called into it:
    each line gets the share of the samples ending in the hidden file that it called."""
    ending: dict[str, dict[tuple[str, int], float]] = defaultdict(lambda: defaultdict(float))
    ended: dict[str, float] = defaultdict(float)  # all samples ending in each hidden file
    for sample in stacks:
        if not sample.frames or sample.frames[-1].file not in hidden:
            continue
        ended[sample.frames[-1].file] += sample.cpu_fraction
        caller = next((f for f in reversed(sample.frames) if f.file not in hidden), None)
        if caller is not None:
            ending[sample.frames[-1].file][(caller.file, caller.lineno)] += sample.cpu_fraction
    extra: dict[tuple[str, int], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for file in files:
        callers = ending.get(file.path)
        if not callers:
            continue
        cpu = [sum(getattr(line, name) for line in file.lines) for name in _CPU]
        weight = ended[file.path]
        for where, fraction in callers.items():
            for i, value in enumerate(cpu):
                extra[where][i] += value * fraction / weight
    return tuple(_charged(file, extra) for file in shown)


_CPU = ("python_percent", "native_percent", "system_percent")


def _charged(file: FileStat, extra: dict[tuple[str, int], list[float]]) -> FileStat:
    lines: list[LineStat] = []
    added = 0.0
    for line in file.lines:
        more = extra.get((file.path, line.lineno))
        if more:
            added_cpu = zip(_CPU, more, strict=True)
            line = dataclasses.replace(
                line, **{name: getattr(line, name) + value for name, value in added_cpu}
            )
            added += sum(more)
        lines.append(line)
    if not added:
        return file
    return dataclasses.replace(file, percent=file.percent + added, lines=tuple(lines))
