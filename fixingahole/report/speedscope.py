"""A run's call stacks as a speedscope file (`speedscope.json`), in speedscope's published format.

One sampled profile: `shared.frames` holds each distinct function once (`name`, `file` as the
reports name it), `samples` one stack per distinct call path, outermost frame first, as indices
into the frames, and `weights` its CPU time in seconds (Scalene's share of all CPU samples for the
path times its elapsed time). A profile without those shares or without an elapsed time is
weighed in samples instead (unit `none`). Frames carry no line, so that speedscope merges a
function's calls from different lines into one box, as `stacks.folded` does.
"""

from __future__ import annotations

from typing import Any

from fixingahole import __version__
from fixingahole.locations import Locator
from fixingahole.scalene_output import Profile

SCHEMA_URL = "https://www.speedscope.app/file-format-schema.json"


def build_speedscope(profile: Profile, locator: Locator, name: str) -> dict[str, Any] | None:
    """The speedscope document of the profile's stacks; None when it has none."""
    stacks = [s for s in profile.stacks if s.frames and s.count > 0]
    if not stacks:
        return None
    in_seconds = profile.elapsed_s > 0 and all(s.cpu_fraction > 0 for s in stacks)
    frames: dict[tuple[str, str], int] = {}
    samples, weights = [], []
    for stack in stacks:
        path = []
        for frame in stack.frames:
            key = (frame.name, locator.name(frame.file))
            path.append(frames.setdefault(key, len(frames)))
        samples.append(path)
        weight = stack.cpu_fraction * profile.elapsed_s if in_seconds else stack.count
        weights.append(round(weight, 6))
    return {
        "$schema": SCHEMA_URL,
        "name": name,
        "exporter": f"fixingahole {__version__}",
        "activeProfileIndex": 0,
        "shared": {"frames": [{"name": n, "file": f} for n, f in frames]},
        "profiles": [
            {
                "type": "sampled",
                "name": name,
                "unit": "seconds" if in_seconds else "none",
                "startValue": 0,
                "endValue": round(sum(weights), 6),
                "samples": samples,
                "weights": weights,
            }
        ],
    }
