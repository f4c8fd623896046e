"""Statistics for comparing timings: summaries, an exact Mann-Whitney U test, and noise calibration.

The test is Mann-Whitney U on the raw values (a rank test: one outlier moves it by one rank, not
by its size), with both one-sided p-values and the two-sided one. It is exact (a count over all
splits of the pooled ranks, ties included) when both samples together hold at most `EXACT_LIMIT`
values, and a normal approximation with tie and continuity corrections beyond that.

An exact rank test can only be as sure as the number of ways to split the runs allows. With n
runs per side the smallest one-sided p-value is 1 / C(2n, n): 0.05 for 3 vs 3, 0.014 for 4 vs 4,
0.004 for 5 vs 5; two-sided it is twice that (0.1 for 3 vs 3). A result is significant when
p < alpha, so at alpha 0.05 three runs per side never are; four are only when every run of one
side is beyond every run of the other (`min_repeats`); five tolerate a few crossings (an outlier
or two) and are the recommended count.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from fixingahole.errors import UserError

EXACT_LIMIT = 40  # at most this many values in both samples together: exact test
POWER = 0.8  # "catches a change": compare calls it slower in 80% of seeded simulations
TARGET_CHANGE = 0.05  # the suggested repeat count catches at least a change this big
MAX_REPEAT = 30  # never suggest more repeats than this
SIMULATIONS = 2000
SEED = 20250101


@dataclass(frozen=True)
class Figures:
    """A metric's values on one side, summarised; every figure is None when there are none."""

    n: int
    median: float | None = None
    mean: float | None = None
    std: float | None = None  # sample standard deviation; None for fewer than two values
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class MannWhitney:
    """A Mann-Whitney U test of sample b against sample a."""

    u: float  # pairs (a_i, b_j) with b_j > a_i, ties counting one half
    p_value: float  # two-sided
    p_greater: float  # one-sided: b tends to be greater than a
    p_less: float  # one-sided: b tends to be less than a
    exact: bool


def describe(values: Sequence[float]) -> Figures:
    """Median, mean, standard deviation, count, min and max of the values."""
    data = [float(value) for value in values]
    if not data:
        return Figures(n=0)
    mean = math.fsum(data) / len(data)
    std = None
    if len(data) > 1:
        std = math.sqrt(math.fsum((x - mean) ** 2 for x in data) / (len(data) - 1))
    return Figures(
        n=len(data),
        median=statistics.median(data),
        mean=mean,
        std=std,
        min=min(data),
        max=max(data),
    )


def geometric_mean(ratios: Sequence[float]) -> float | None:
    """The geometric mean of positive ratios, or None when there are none."""
    data = np.asarray(ratios, dtype=float)
    if data.size == 0:
        return None
    return float(np.exp(np.mean(np.log(data))))


def min_p_value(n_a: int, n_b: int) -> float:
    """The smallest one-sided p-value an exact rank test can reach (two-sided: twice this)."""
    return 1.0 / math.comb(n_a + n_b, n_a)


def min_repeats(alpha: float) -> int:
    """The fewest runs per side with which the one-sided exact test can reach `alpha` at all."""
    n = 1
    while not significant(min_p_value(n, n), alpha):
        n += 1
    return n


def significant(p_value: float, alpha: float) -> bool:
    """p < alpha, strictly: an exact p-value such as 1/20 does not pass alpha 0.05."""
    return p_value < alpha * (1 - 1e-9)


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> MannWhitney:
    """Mann-Whitney U test: do the values of b tend to be greater (or less) than those of a?"""
    x = np.asarray(a, dtype=float)
    y = np.asarray(b, dtype=float)
    n_a, n_b = x.size, y.size
    if n_a == 0 or n_b == 0:
        raise ValueError("mann_whitney needs at least one value on each side")
    pooled = np.concatenate([x, y])
    doubled_ranks = _doubled_midranks(pooled)
    doubled_sum_b = int(doubled_ranks[n_a:].sum())
    u = doubled_sum_b / 2 - n_b * (n_b + 1) / 2
    exact = n_a + n_b <= EXACT_LIMIT
    if exact:
        less, greater = _exact_tails(tuple(int(r) for r in doubled_ranks), n_b, doubled_sum_b)
    else:
        less, greater = _normal_tails(u, n_a, n_b, pooled)
    two_sided = min(1.0, 2 * min(less, greater))
    return MannWhitney(u=u, p_value=two_sided, p_greater=greater, p_less=less, exact=exact)


def _doubled_midranks(values: np.ndarray) -> np.ndarray:
    """Twice the 1-based ranks, ties sharing their mean rank (doubling keeps them integers)."""
    order = np.argsort(values, kind="mergesort")
    ordered = values[order]
    ranks = np.empty(values.size, dtype=np.int64)
    start = 0
    while start < values.size:
        stop = start
        while stop + 1 < values.size and ordered[stop + 1] == ordered[start]:
            stop += 1
        ranks[order[start : stop + 1]] = start + 1 + stop + 1  # (first + last) rank, doubled mean
        start = stop + 1
    return ranks


@lru_cache(maxsize=1024)
def _rank_sum_counts(doubled_ranks: tuple[int, ...], k: int) -> np.ndarray:
    """How many k-subsets of the pooled ranks have each doubled rank sum (index = sum)."""
    total = sum(doubled_ranks)
    counts = np.zeros((k + 1, total + 1))
    counts[0, 0] = 1.0
    for rank in doubled_ranks:
        counts[1:, rank:] = counts[1:, rank:] + counts[:-1, : total + 1 - rank]
    row: np.ndarray = counts[k]
    return row


def _exact_tails(doubled_ranks: tuple[int, ...], k: int, observed: int) -> tuple[float, float]:
    """P(rank sum <= observed) and P(rank sum >= observed) over all equally likely splits."""
    counts = _rank_sum_counts(tuple(sorted(doubled_ranks)), k)
    whole = counts.sum()
    return float(counts[: observed + 1].sum() / whole), float(counts[observed:].sum() / whole)


def _normal_tails(u: float, n_a: int, n_b: int, pooled: np.ndarray) -> tuple[float, float]:
    """P(U <= u) and P(U >= u) by the normal approximation, corrected for ties and continuity."""
    n = n_a + n_b
    _, tie_sizes = np.unique(pooled, return_counts=True)
    tie_term = float(np.sum(tie_sizes**3 - tie_sizes)) / (n * (n - 1))
    variance = n_a * n_b / 12 * ((n + 1) - tie_term)
    if variance <= 0:
        return 1.0, 1.0
    sd = math.sqrt(variance)
    centre = n_a * n_b / 2
    below = (u + 0.5 - centre) / sd
    above = (u - 0.5 - centre) / sd
    return 0.5 * math.erfc(-below / math.sqrt(2)), 0.5 * math.erfc(above / math.sqrt(2))


@dataclass(frozen=True)
class NoiseReport:
    """How noisy an entry's timings are, and what that means for repeats and the threshold."""

    n: int  # timings measured
    median: float
    mad: float  # median absolute deviation from the median
    cv: float  # coefficient of variation: standard deviation / mean
    repeat: int  # the repeat count asked about
    alpha: float
    suggested_threshold: float  # a fraction, like compare's `threshold`
    suggested_repeat: int
    detectable_change: float | None  # what `repeat` runs per side catch; None: nothing

    def text(self) -> str:
        """A few lines for the terminal."""
        if self.detectable_change is None:
            caught = (
                f"{self.repeat} runs per side can never be significant at alpha {self.alpha:g}: "
                f"take at least {min_repeats(self.alpha)}"
            )
        else:
            caught = (
                f"with {self.repeat} runs per side and threshold {self.suggested_threshold:.0%}, "
                f"a change of {self.detectable_change:.1%} or more is called slower "
                f"{POWER:.0%} of the time (alpha {self.alpha:g})"
            )
        return "\n".join(
            [
                f"{self.n} timings: median {self.median:.4g}, MAD {self.mad:.4g}, "
                f"coefficient of variation {self.cv:.1%}",
                caught,
                f"suggested: --repeat {self.suggested_repeat} "
                f"--threshold {self.suggested_threshold * 100:.0f} (percent)",
            ]
        )


def noise_report(samples: Sequence[float], repeat: int, alpha: float) -> NoiseReport:
    """Measure the spread of repeated timings and what comparing `repeat` runs per side catches.

    - Suggested threshold: twice the robust spread of one run (1.4826 MAD / median), rounded up
      to a whole percent, at least 1%: smaller changes are within a run's own noise, where drift
      between sessions also lives.
    - Detectable change: the smallest change compare calls slower in 80% of seeded simulations
      with `repeat` runs per side and that threshold. Runs are drawn from the timings' own
      log-scale residuals (smoothed), so outliers count as often as they occurred.
    - Suggested repeat count: the fewest runs per side (at most 30) that catch a change of twice
      the threshold, or of 5% when that is more.
    """
    data = np.asarray(samples, dtype=float)
    if data.size < 2:
        raise UserError("calibrate needs at least 2 timings: run the entry with --repeat 2 or more")
    if not np.all(np.isfinite(data)) or np.any(data <= 0):
        raise UserError("calibrate needs positive timings: check that the entry's runs succeeded")
    if repeat < 1:
        raise UserError(f"--repeat must be at least 1, not {repeat}")
    _check_alpha(alpha)
    median = float(np.median(data))
    mad = float(np.median(np.abs(data - median)))
    threshold = max(0.01, math.ceil(2 * 1.4826 * mad / median * 100 - 1e-9) / 100)
    residuals = _log_residuals(data)
    wanted = math.log((1 + max(2 * threshold, TARGET_CHANGE)) / (1 + threshold))
    suggested = next(
        (
            n
            for n in range(min_repeats(alpha), MAX_REPEAT + 1)
            if (shift := detectable_shift(residuals, n, alpha)) is not None and shift <= wanted
        ),
        MAX_REPEAT,
    )
    shift = detectable_shift(residuals, repeat, alpha)
    return NoiseReport(
        n=int(data.size),
        median=median,
        mad=mad,
        cv=float(np.std(data, ddof=1) / np.mean(data)),
        repeat=repeat,
        alpha=alpha,
        suggested_threshold=threshold,
        suggested_repeat=suggested,
        detectable_change=None if shift is None else (1 + threshold) * math.exp(shift) - 1,
    )


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise UserError(f"alpha must be between 0 and 1 (e.g. 0.05), not {alpha}")


def _log_residuals(data: np.ndarray) -> np.ndarray:
    logs = np.log(data)
    residuals: np.ndarray = logs - np.median(logs)
    return residuals


def detectable_shift(residuals: np.ndarray, repeat: int, alpha: float) -> float | None:
    """The smallest log-scale shift the one-sided test calls significant in 80% of simulations.

    `residuals` are log-scale deviations of single runs from their median; each simulation
    draws `repeat` runs per side from them. None when `repeat` runs cannot reach `alpha`.
    """
    critical_u = _critical_u(repeat, repeat, alpha)
    if critical_u is None:
        return None
    rng = np.random.default_rng(SEED)
    spread = float(np.std(residuals, ddof=1))
    quartiles = float(np.subtract(*np.percentile(residuals, [75, 25])))
    bandwidth = 0.9 * min(spread, quartiles / 1.34 or spread) * residuals.size ** (-0.2)
    shape = (SIMULATIONS, repeat)
    a = rng.choice(residuals, shape) + rng.normal(0, bandwidth, shape)
    b = rng.choice(residuals, shape) + rng.normal(0, bandwidth, shape)
    # Shifting b up by d makes U = #{(i, j): a_i - b_j < d}, so U reaches the critical value
    # exactly when d passes the critical_u-th smallest difference a_i - b_j.
    differences = (a[:, :, None] - b[:, None, :]).reshape(SIMULATIONS, -1)
    needed = np.partition(differences, critical_u - 1, axis=1)[:, critical_u - 1]
    return max(0.0, float(np.quantile(needed, POWER)))


def _critical_u(n_a: int, n_b: int, alpha: float) -> int | None:
    """The smallest U (b above a, no ties) the one-sided test calls significant, or None."""
    most = n_a * n_b
    if n_a + n_b <= EXACT_LIMIT:
        ranks = tuple(range(2, 2 * (n_a + n_b) + 1, 2))
        counts = _rank_sum_counts(ranks, n_b)
        offset = n_b * (n_b + 1)  # doubled rank sum of b when U = 0
        tail = np.cumsum(counts[::-1])[::-1] / counts.sum()  # P(sum >= s)
        greater = [float(tail[offset + 2 * u]) for u in range(most + 1)]
    else:
        pooled = np.arange(n_a + n_b, dtype=float)
        greater = [_normal_tails(u, n_a, n_b, pooled)[1] for u in range(most + 1)]
    return next((u for u in range(most + 1) if significant(greater[u], alpha)), None)
