"""A run's call stacks in the folded format flame graph tools read (`stacks.folded`).

One line per distinct call path, outermost frame first, then a space and its CPU samples:
`<module> (a.py);main (a.py);hot (a.py) 125`. A frame is the function and its file as the reports
name them (`crunch (analysis.ipynb)`), without the line, so that a flame graph merges a function's
calls from different lines into one box. speedscope, flamegraph.pl and inferno read it.
fixing-a-hole's own frames are left out, and so are libraries' unless `detailed`: code that
libraries ran through `exec`/`eval` is named after the file that ran it
(`dataclasses.py:433 [exec]`).
"""

from __future__ import annotations

from collections import Counter

from fixingahole.locations import Locator
from fixingahole.scalene_output import Frame, Profile


def render_folded(profile: Profile, locator: Locator, *, detailed: bool = False) -> str:
    """The profile's stacks as folded lines, heaviest first; empty when it has none."""
    samples: Counter[str] = Counter()
    for stack in profile.stacks:
        frames = [f for f in stack.frames if locator.is_reported(f.file, detailed)]
        if frames and stack.count > 0:
            samples[";".join(_frame(frame, locator) for frame in frames)] += stack.count
    return "".join(f"{path} {count}\n" for path, count in samples.most_common())


def _frame(frame: Frame, locator: Locator) -> str:
    """`name (file)`; `;` separates frames and a line ends a path, so neither may stand in one."""
    text = f"{frame.name} ({locator.name(frame.file)})"
    return text.replace(";", ",").replace("\r", " ").replace("\n", " ")
