"""Change points: the code versions at which an entry's level shifted over its stored history.

A code version is a stretch of an entry's consecutive runs with one commit, dirty flag and content
hash (as compare numbers them; `report.history` builds them). The input is, per version in the
order the versions ran, the figures of its ok runs; the history is one point per version, the
median of its runs. Then:

1. PELT (Killick, Fearnhead and Eckley, 2012, as `ruptures` implements it) with the L1 cost on
   the log of those medians (the medians themselves where one is 0) proposes where the level
   shifts. The L1 cost is median-based, so one outlying version moves a segment's level little,
   and segments hold at least two versions, so a single version is never a step of its own. The
   penalty is 2 log(1 + threshold): a shift has to be about the threshold or more, held for two
   versions, to pay for itself.
2. Each proposed step is confirmed over the runs themselves, within the stretch between the last
   confirmed step and the next proposed one, by three checks that must all hold:
   - compare's rule (`compare.judge`): the runs after the step are slower or faster than the
     runs before it, past the threshold and significantly;
   - every version before the step lies on the old side of the midpoint between the two levels,
     and every version after it on the new side: one outlying version is not a level;
   - a permutation test that repeats the search (as E-divisive does, Matteson and James, 2014).
     PELT chose the step because it looked like one, so an ordinary test of the two sides would
     be too ready to agree. The statistic is the largest distance between the medians of the log
     run figures on either side of any version boundary in the stretch (two versions a side at
     least); its p-value is the share of `PERMUTATIONS` shuffles of the stretch's runs (seeded,
     so results repeat) whose largest distance is as large, and it must be under alpha divided
     by the number of steps proposed.
   Steps that are not confirmed are dropped, and their stretches join.

`ruptures` comes with the `forensics` extra.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fixingahole.errors import UserError

MIN_VERSIONS = 2  # a segment holds at least this many code versions
PERMUTATIONS = 999
SEED = 20250101


@dataclass(frozen=True)
class ChangePoint:
    """A shift in level: the version it starts at, and the levels before and after."""

    at: int  # the index of the first version of the new level
    median_before: float  # over the runs of the segment before
    median_after: float
    p_value: float | None
    verdict: str  # slower | faster (for memory: bigger is slower)
    versions_before: int
    versions_after: int

    @property
    def change_pct(self) -> float:
        """The change of the level in percent of the level before."""
        return (self.median_after / self.median_before - 1) * 100


Judge = Callable[[Sequence[float], Sequence[float]], Any]  # compare.judge with its settings


def change_points(
    history: Sequence[Sequence[float]], threshold: float, alpha: float, judge: Judge
) -> list[ChangePoint]:
    """The confirmed shifts of level in a history: per version, its ok runs' figures."""
    proposed = _proposed(history, threshold)
    kept: list[ChangePoint] = []
    start = 0
    for index, at in enumerate(proposed):
        end = proposed[index + 1] if index + 1 < len(proposed) else len(history)
        before, after = history[start:at], history[at:end]
        runs_before = [value for version in before for value in version]
        runs_after = [value for version in after for value in version]
        judgement = judge(runs_before, runs_after)
        if judgement.verdict not in ("slower", "faster") or not _consistent(before, after):
            continue  # not confirmed: the stretch before runs on into the next
        p_value = _permutation_p(history[start:end])
        if p_value >= alpha / len(proposed):
            continue
        kept.append(
            ChangePoint(
                at=at,
                median_before=statistics.median(runs_before),
                median_after=statistics.median(runs_after),
                p_value=p_value,
                verdict=judgement.verdict,
                versions_before=len(before),
                versions_after=len(after),
            )
        )
        start = at
    return kept


def _consistent(before: Sequence[Sequence[float]], after: Sequence[Sequence[float]]) -> bool:
    """Does every version lie on its own side of the midpoint between the two levels?"""
    level_before = statistics.median(value for v in before for value in v)
    level_after = statistics.median(value for v in after for value in v)
    middle = (level_before + level_after) / 2
    sign = 1 if level_after > level_before else -1
    return all(sign * (statistics.median(v) - middle) < 0 for v in before) and all(
        sign * (statistics.median(v) - middle) > 0 for v in after
    )


def _permutation_p(stretch: Sequence[Sequence[float]]) -> float:
    """How often the stretch's runs, shuffled, show a step as large as its largest (see above)."""
    values = np.array([value for version in stretch for value in version], dtype=float)
    logs = np.log(values) if np.all(values > 0) else values
    sizes = np.cumsum([len(version) for version in stretch])
    cuts = sizes[MIN_VERSIONS - 1 : len(stretch) - MIN_VERSIONS]
    if len(cuts) == 0:
        return 1.0
    rng = np.random.default_rng(SEED)
    shuffled = np.vstack([logs, rng.permuted(np.tile(logs, (PERMUTATIONS, 1)), axis=1)])
    largest = np.zeros(len(shuffled))
    for cut in cuts:
        left = np.median(shuffled[:, :cut], axis=1)
        right = np.median(shuffled[:, cut:], axis=1)
        largest = np.maximum(largest, np.abs(left - right))
    return float(np.mean(largest >= largest[0] - 1e-12))


def _proposed(history: Sequence[Sequence[float]], threshold: float) -> list[int]:
    """Indices of the versions where PELT places the start of a new level."""
    try:
        import ruptures
    except ImportError:
        raise UserError(
            "change points need the ruptures library: pip install 'fixingahole[forensics]'"
        ) from None
    if len(history) < 2 * MIN_VERSIONS:
        return []
    medians = np.array([statistics.median(version) for version in history], dtype=float)
    signal = np.log(medians) if np.all(medians > 0) else medians
    search = ruptures.Pelt(model="l1", min_size=MIN_VERSIONS, jump=1).fit(signal.reshape(-1, 1))
    ends = search.predict(pen=2 * math.log(1 + max(threshold, 0.01)))
    return [end for end in ends if end < len(history)]
