"""Attribution and change points over store-shaped data (the statistics, without profiling)."""

from __future__ import annotations

import math
from functools import partial

import numpy as np
import pandas as pd
import pytest

from fixingahole.attribution import attribute
from fixingahole.changepoints import change_points
from fixingahole.compare import judge
from tests.factories import frame, function_row

RULE = partial(judge, threshold=0.05, alpha=0.05)


def function_table(runs: dict[str, dict[tuple[str, str], float]]) -> pd.DataFrame:
    """The functions table: per run id, {(file, name): seconds}."""
    rows = [
        function_row(run_id, name, file=file, lineno=10 + len(name), seconds=seconds)
        for run_id, functions in runs.items()
        for (file, name), seconds in functions.items()
    ]
    return frame(rows)


def noisy(rng: np.random.Generator, value: float, noise: float = 0.08) -> float:
    return value * math.exp(rng.normal(0, noise))


def planted(seed: int = 1, repeats: int = 5) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Three functions; `advance` takes 0.6 s more on B; `setup` and `report` are unchanged."""
    rng = np.random.default_rng(seed)
    runs: dict[str, dict[tuple[str, str], float]] = {}
    for side in ("a", "b"):
        for i in range(repeats):
            runs[f"e/{side}{i}"] = {
                ("sim.py", "advance"): noisy(rng, 1.0 if side == "a" else 1.6),
                ("sim.py", "setup"): noisy(rng, 0.5),
                ("io.py", "report"): noisy(rng, 0.3),
            }
    ids_a = [f"e/a{i}" for i in range(repeats)]
    ids_b = [f"e/b{i}" for i in range(repeats)]
    return function_table(runs), ids_a, ids_b


def test_the_planted_function_carries_the_change_and_the_others_are_not_slower() -> None:
    table, ids_a, ids_b = planted()
    found = attribute(table, ids_a, ids_b, 0.6, RULE)
    first = found[0]
    assert (first.function, first.file, first.status) == ("advance", "sim.py", "changed")
    assert first.delta == pytest.approx(0.6, abs=0.15)
    assert first.share_pct == pytest.approx(100, abs=25)
    assert first.p_value is not None and first.p_value < 0.05
    assert first.verdict == "slower"
    others = {item.function: item for item in found[1:]}
    assert all(item.verdict != "slower" for item in others.values())


def test_unchanged_functions_are_not_called_slower_over_many_seeds() -> None:
    wrongly_slower = 0
    for seed in range(40):
        table, ids_a, ids_b = planted(seed)
        found = attribute(table, ids_a, ids_b, 0.6, RULE)
        assert found[0].function == "advance"
        wrongly_slower += sum(item.verdict == "slower" for item in found[1:])
    assert wrongly_slower <= 2  # 80 unchanged functions judged; alpha 0.05 past a 5% threshold


def test_a_moved_function_is_matched_by_name_and_new_and_gone_ones_count() -> None:
    runs = {}
    for i in range(4):
        runs[f"e/a{i}"] = {("old/sim.py", "advance"): 1.0, ("sim.py", "legacy"): 0.2}
        runs[f"e/b{i}"] = {("sim.py", "advance"): 1.0, ("sim.py", "fresh"): 0.5}
    ids_a, ids_b = [f"e/a{i}" for i in range(4)], [f"e/b{i}" for i in range(4)]
    found = {
        item.function: item for item in attribute(function_table(runs), ids_a, ids_b, 0.3, RULE)
    }
    assert "advance" not in found  # matched across the move, and unchanged: nothing to attribute
    assert (found["fresh"].status, found["fresh"].verdict) == ("new", "new")
    assert found["fresh"].share_pct == pytest.approx(0.5 / 0.3 * 100)
    assert (found["legacy"].status, found["legacy"].delta) == ("gone", pytest.approx(-0.2))
    assert list(found) == ["fresh", "legacy"]  # largest share first, the one against it last


def test_a_function_absent_from_some_runs_counts_zero_there() -> None:
    runs = {f"e/a{i}": {("w.py", "work"): 1.0} for i in range(5)}
    runs |= {
        f"e/b{i}": {("w.py", "work"): 1.0, **({("w.py", "rare"): 5.0} if i < 2 else {})}
        for i in range(5)
    }
    ids_a, ids_b = [f"e/a{i}" for i in range(5)], [f"e/b{i}" for i in range(5)]
    assert attribute(function_table(runs), ids_a, ids_b, 2.0, RULE) == ()  # medians all equal


# ---------------------------------------------------------------- change points


def history(levels: list[float], runs: int = 3, seed: int = 0, noise: float = 0.06):
    """Per commit (one level each, in order), `runs` figures with log-normal noise."""
    rng = np.random.default_rng(seed)
    return [[noisy(rng, level, noise) for _ in range(runs)] for level in levels]


def found_steps(levels: list[float], seed: int) -> list[tuple[int, str]]:
    found = change_points(history(levels, seed=seed), 0.05, 0.05, RULE)
    return [(point.at, point.verdict) for point in found]


SEEDS = range(50)  # histories drawn per case, with 6% noise on every run


def test_change_points_name_the_planted_commit_in_eight_commits_of_three_runs() -> None:
    levels = [1.0, 1.0, 1.0, 1.0, 1.5, 1.5, 1.5, 1.5]  # slower from commit 04
    assert found_steps(levels, seed=0) == [(4, "slower")]
    results = [found_steps(levels, seed) for seed in SEEDS]
    assert sum((4, "slower") in found for found in results) >= 48
    assert sum(found == [(4, "slower")] for found in results) >= 45  # measured: 47 of 50


def test_a_flat_history_has_no_change_point() -> None:
    assert all(found_steps([1.0] * 8, seed) == [] for seed in SEEDS)


def test_one_outlying_version_is_not_a_change_point() -> None:
    levels = [1.0, 1.0, 1.0, 1.9, 1.0, 1.0, 1.0, 1.0]
    assert sum(found_steps(levels, seed) != [] for seed in SEEDS) <= 2  # measured: 1 of 50


def test_a_step_up_and_a_step_back_are_both_found() -> None:
    levels = [1.0, 1.0, 1.0, 1.4, 1.4, 1.4, 1.0, 1.0, 1.0]
    assert found_steps(levels, seed=0) == [(3, "slower"), (6, "faster")]
