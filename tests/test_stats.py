"""The statistics behind compare: summaries, the Mann-Whitney U test, and noise calibration."""

from __future__ import annotations

import itertools
import math
import statistics

import numpy as np
import pytest

from fixingahole import stats
from fixingahole.compare import judge
from fixingahole.errors import UserError


def brute_force_p(a: list[float], b: list[float]) -> tuple[float, float, float]:
    """Exact p-values (two-sided, b greater, b less) by listing every way to split the values."""
    pooled = a + b
    order = sorted(pooled)
    rank = {
        value: (order.index(value) + 1 + len(order) - order[::-1].index(value)) / 2
        for value in order
    }
    observed = sum(rank[value] for value in b)
    sums = [
        sum(rank[pooled[i]] for i in chosen)
        for chosen in itertools.combinations(range(len(pooled)), len(b))
    ]
    below = sum(s <= observed + 1e-9 for s in sums) / len(sums)
    above = sum(s >= observed - 1e-9 for s in sums) / len(sums)
    return min(1.0, 2 * min(below, above)), above, below


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]),
        ([1.0, 2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0, 10.0]),
        ([1.0, 2.0, 2.0, 3.0], [2.0, 3.0, 3.0, 4.0, 5.0]),  # ties across the sides
        ([5.0, 5.0, 5.0], [5.0, 5.0]),  # all tied
        ([3.1, 1.2, 4.4, 2.0, 9.9, 0.5], [2.2, 8.8, 7.1]),
        ([1.0], [2.0]),
    ],
)
def test_exact_p_value_matches_listing_every_split(a: list[float], b: list[float]) -> None:
    result = stats.mann_whitney(a, b)
    assert result.exact
    assert (result.p_value, result.p_greater, result.p_less) == pytest.approx(brute_force_p(a, b))


def test_random_samples_match_listing_every_split() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        a = [float(x) for x in rng.integers(0, 6, rng.integers(2, 6))]  # small integers: many ties
        b = [float(x) for x in rng.integers(0, 6, rng.integers(2, 6))]
        result = stats.mann_whitney(a, b)
        assert (result.p_value, result.p_greater, result.p_less) == pytest.approx(
            brute_force_p(a, b)
        )


def test_u_counts_pairs_where_b_is_above_a() -> None:
    assert stats.mann_whitney([1, 2, 3], [4, 5, 6]).u == 9
    assert stats.mann_whitney([4, 5, 6], [1, 2, 3]).u == 0
    assert stats.mann_whitney([1, 2], [2, 3]).u == 3.5  # the tie counts one half


def test_smallest_p_values_of_the_exact_test() -> None:
    assert stats.min_p_value(3, 3) == pytest.approx(0.05)
    assert stats.min_p_value(4, 4) == pytest.approx(1 / 70)
    assert stats.min_p_value(5, 5) == pytest.approx(1 / 252)
    assert stats.min_p_value(1, 1) == 0.5
    separated = stats.mann_whitney([1, 2, 3], [4, 5, 6])
    assert separated.p_value == pytest.approx(0.1)  # two-sided
    assert separated.p_greater == pytest.approx(0.05)
    assert separated.p_less == 1.0
    assert stats.min_repeats(0.05) == 4  # p = 1/20 is not below alpha 0.05
    assert stats.min_repeats(0.1) == 3
    assert stats.min_repeats(0.01) == 5


def test_normal_approximation_agrees_with_the_exact_test_at_the_limit() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0, 1, 20)
    b = rng.normal(0.6, 1, 20)
    exact = stats.mann_whitney(a, b)
    less, greater = stats._normal_tails(exact.u, 20, 20, np.concatenate([a, b]))
    assert exact.exact
    assert greater == pytest.approx(exact.p_greater, abs=0.005)
    assert less == pytest.approx(exact.p_less, abs=0.005)


def test_large_samples_use_the_normal_approximation() -> None:
    rng = np.random.default_rng(4)
    same = stats.mann_whitney(rng.normal(0, 1, 60), rng.normal(0, 1, 60))
    shifted = stats.mann_whitney(rng.normal(0, 1, 60), rng.normal(1, 1, 60))
    assert not same.exact
    assert same.p_value > 0.05
    assert shifted.p_value < 0.001
    assert shifted.p_greater < 0.001 < 0.999 < shifted.p_less


def test_describe_summarises_every_value() -> None:
    values = [1.0, 2.0, 4.0, 10.0]
    figures = stats.describe(values)
    assert figures.n == 4
    assert figures.median == 3.0
    assert figures.mean == 4.25
    assert figures.std == pytest.approx(statistics.stdev(values))
    assert (figures.min, figures.max) == (1.0, 10.0)
    assert stats.describe([2.0]).std is None
    assert stats.describe([]) == stats.Figures(n=0)


def test_geometric_mean() -> None:
    assert stats.geometric_mean([2.0, 0.5]) == pytest.approx(1.0)
    assert stats.geometric_mean([1.1, 1.1, 1.1]) == pytest.approx(1.1)
    assert stats.geometric_mean([]) is None


def test_noise_report_describes_the_spread() -> None:
    samples = [1.0, 1.02, 0.98, 1.01, 0.99, 1.03, 0.97]
    report = stats.noise_report(samples, repeat=5, alpha=0.05)
    assert report.n == 7
    assert report.median == 1.0
    assert report.mad == pytest.approx(0.02)
    assert report.cv == pytest.approx(np.std(samples, ddof=1) / np.mean(samples))
    assert report.suggested_threshold == pytest.approx(0.06)  # 2 x 1.4826 x 0.02, rounded up
    assert "--repeat" in report.text()
    assert f"{report.detectable_change:.1%}" in report.text()


def test_noisier_timings_need_bigger_changes_and_more_repeats() -> None:
    rng = np.random.default_rng(11)
    quiet = stats.noise_report(np.exp(rng.normal(0, 0.01, 20)), repeat=5, alpha=0.05)
    noisy = stats.noise_report(np.exp(rng.normal(0, 0.08, 20)), repeat=5, alpha=0.05)
    assert quiet.detectable_change < noisy.detectable_change
    assert quiet.suggested_threshold < noisy.suggested_threshold
    assert quiet.suggested_repeat <= noisy.suggested_repeat
    more = stats.noise_report(np.exp(rng.normal(0, 0.08, 20)), repeat=10, alpha=0.05)
    assert more.detectable_change < noisy.detectable_change


def test_too_few_repeats_detect_nothing() -> None:
    report = stats.noise_report([1.0, 1.01, 0.99, 1.02], repeat=3, alpha=0.05)
    assert report.detectable_change is None
    assert report.suggested_repeat >= 4
    assert "never be significant" in report.text()


def test_detectable_change_is_what_compare_catches_most_of_the_time() -> None:
    """Simulate the comparisons the report predicts and count how often they say slower."""
    rng = np.random.default_rng(5)
    sigma = 0.03
    report = stats.noise_report(np.exp(rng.normal(0, sigma, 200)), repeat=5, alpha=0.05)
    change = report.detectable_change
    caught = 0
    trials = 400
    for _ in range(trials):
        a = np.exp(rng.normal(0, sigma, 5))
        b = np.exp(rng.normal(math.log1p(change), sigma, 5))
        verdict = judge(list(a), list(b), report.suggested_threshold, 0.05).verdict
        caught += verdict == "slower"
    assert 0.65 <= caught / trials <= 0.95


@pytest.mark.parametrize(
    ("samples", "repeat", "alpha", "message"),
    [
        ([1.0], 5, 0.05, "at least 2 timings"),
        ([1.0, -1.0], 5, 0.05, "positive timings"),
        ([1.0, float("nan")], 5, 0.05, "positive timings"),
        ([1.0, 1.1], 0, 0.05, "--repeat must be at least 1"),
        ([1.0, 1.1], 5, 1.5, "alpha must be between 0 and 1"),
    ],
)
def test_noise_report_rejects_bad_input(
    samples: list[float], repeat: int, alpha: float, message: str
) -> None:
    with pytest.raises(UserError, match=message):
        stats.noise_report(samples, repeat, alpha)
