"""compare: selectors, aggregation, verdicts, outputs and exit codes, over store-shaped frames."""

from __future__ import annotations

import csv
import io
import json
import math

import numpy as np
import pandas as pd
import pytest

from fixingahole import stats
from fixingahole.compare import METRICS, Comparison, compare_runs, judge
from fixingahole.errors import UserError
from fixingahole.report.comparison import CSV_COLUMNS, render
from tests.factories import COMMIT_A, COMMIT_B, COMMIT_C, NO_FUNCTIONS, frame, function_rows
from tests.factories import run_row as run


def two_days(
    slow: float = 1.3, repeats: int = 5, noise: float = 0.01, seed: int = 0
) -> pd.DataFrame:
    """Entries fast and steady, run `repeats` times on each of two days; fast is slower on day 2."""
    rng = np.random.default_rng(seed)
    rows = []
    for day, commit, code in (
        ("20250101", COMMIT_A, "sha256:one"),
        ("20250102", COMMIT_B, "sha256:two"),
    ):
        for i in range(repeats):
            for offset, entry in enumerate(("fast", "steady")):
                scale = slow if (entry == "fast" and day == "20250102") else 1.0
                rows.append(
                    run(
                        entry,
                        f"{day}_10{i}{offset}00",
                        wall=scale * math.exp(rng.normal(0, noise)),
                        commit=commit,
                        code_hash=code if entry == "fast" else "sha256:same",
                    )
                )
    return frame(rows)


# ---------------------------------------------------------------- selectors


def selected(comparison: Comparison, side: str) -> set[str]:
    return set(getattr(comparison.header, side).run_ids)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (
            "20250101",
            {"e/20250101_090000", "e/20250101_140000", "e/20250101_143000", "e/20250101_143000_2"},
        ),
        ("20250101_14", {"e/20250101_140000", "e/20250101_143000", "e/20250101_143000_2"}),
        ("20250101_1430", {"e/20250101_143000", "e/20250101_143000_2"}),
        ("20250101_143000", {"e/20250101_143000", "e/20250101_143000_2"}),
        ("e/20250101_143000", {"e/20250101_143000"}),  # a run id selects that run
        ("e/20250101_14", {"e/20250101_140000", "e/20250101_143000", "e/20250101_143000_2"}),
        ("e/20250102", {"e/20250102_090000"}),
    ],
)
def test_dates_and_run_ids(selector: str, expected: set[str]) -> None:
    runs = frame(
        [
            run("e", "20250101_090000"),
            run("e", "20250101_140000"),
            run("e", "20250101_143000"),
            run("e", "20250101_143000_2"),
            run("e", "20250102_090000"),
        ]
    )
    assert (
        selected(compare_runs(runs, NO_FUNCTIONS, selector, "e/20250102_090000"), "a") == expected
    )


def test_dates_are_utc_whatever_the_frame_holds() -> None:
    runs = frame([run("e", "20250101_233000"), run("e", "20250102_003000")])
    naive = runs.assign(started_utc=runs["started_utc"].dt.tz_localize(None))
    as_text = runs.assign(started_utc=runs["started_utc"].dt.strftime("%Y-%m-%dT%H:%M:%SZ"))
    for table in (runs, naive, as_text):
        comparison = compare_runs(table, NO_FUNCTIONS, "20250101", "20250102")
        assert comparison.header.a.run_ids == ("e/20250101_233000",)
        assert comparison.header.b.run_ids == ("e/20250102_003000",)


def test_commit_prefix_and_branch() -> None:
    runs = frame(
        [
            run("e", "20250101_100000", commit=COMMIT_A, branch="main"),
            run("e", "20250102_100000", commit=COMMIT_B, branch="feature"),
            run("e", "20250103_100000", commit=COMMIT_B, branch="feature"),
            run("e", "20250104_100000", commit=COMMIT_C, branch="feature"),
        ]
    )
    comparison = compare_runs(runs, NO_FUNCTIONS, "a1b2c3", "b2c3")
    assert selected(comparison, "a") == {"e/20250101_100000"}
    assert selected(comparison, "b") == {"e/20250102_100000", "e/20250103_100000"}
    assert comparison.header.b.commits == (COMMIT_B,)
    # a branch is its newest code version: the last commit recorded on it
    assert selected(compare_runs(runs, NO_FUNCTIONS, "main", "feature"), "b") == {
        "e/20250104_100000"
    }
    with pytest.raises(UserError, match="a1b2 is ambiguous"):
        compare_runs(runs, NO_FUNCTIONS, "a1b2", "feature")


def test_latest_takes_the_newest_code_version_with_its_repeats() -> None:
    runs = frame(
        [
            run("e", "20250101_100000", commit=COMMIT_A),
            run("e", "20250101_110000", commit=COMMIT_A),
            run("e", "20250102_100000", commit=COMMIT_B),
            run("e", "20250102_110000", commit=COMMIT_B),
            run("e", "20250102_120000", commit=COMMIT_B),
            run("e", "20250103_100000", commit=COMMIT_B, code_hash="sha256:edited", dirty=True),
            run("f", "20250101_100000", commit=COMMIT_A),
        ]
    )
    latest = compare_runs(runs, NO_FUNCTIONS, "latest~1", "latest")
    assert selected(latest, "b") == {"e/20250103_100000", "f/20250101_100000"}
    assert selected(latest, "a") == {"e/20250102_100000", "e/20250102_110000", "e/20250102_120000"}
    assert selected(compare_runs(runs, NO_FUNCTIONS, "latest~2", "latest~0"), "a") == {
        "e/20250101_100000",
        "e/20250101_110000",
    }
    with pytest.raises(UserError, match="at most 2 earlier code versions"):
        compare_runs(runs, NO_FUNCTIONS, "latest~3", "latest")


def test_one_selector_compares_with_the_runs_just_before() -> None:
    runs = frame(
        [
            run("e", "20250101_100000", commit=COMMIT_A),
            run("e", "20250102_100000", commit=COMMIT_B),
            run("e", "20250102_110000", commit=COMMIT_B),
            run("e", "20250103_100000", commit=COMMIT_C),
            run("e", "20250103_110000", commit=COMMIT_C),
            run("n", "20250103_100000", commit=COMMIT_C),  # nothing before it
        ]
    )
    comparison = compare_runs(runs, NO_FUNCTIONS, "latest")
    assert comparison.header.a.selector is None
    assert selected(comparison, "a") == {"e/20250102_100000", "e/20250102_110000"}
    assert selected(comparison, "b") == {
        "e/20250103_100000",
        "e/20250103_110000",
        "n/20250103_100000",
    }
    assert [entry.verdict for entry in comparison.entries][1] == "new"
    by_date = compare_runs(runs, NO_FUNCTIONS, "20250102")
    assert selected(by_date, "a") == {"e/20250101_100000"}


def test_a_date_with_no_runs_names_the_nearest_runs() -> None:
    runs = frame([run("e", "20250101_100000"), run("e", "20250105_100000")])
    with pytest.raises(UserError) as caught:
        compare_runs(runs, NO_FUNCTIONS, "20250103", "latest")
    message = str(caught.value)
    assert "no runs started in 20250103" in message
    assert "e/20250101_100000" in message
    assert "e/20250105_100000" in message
    assert "\n" not in message


def test_an_unknown_run_id_names_the_runs_of_that_entry_nearby() -> None:
    runs = frame([run("e", f"2025010{day}_100000") for day in range(1, 8)])
    with pytest.raises(
        UserError, match=r"no run 'e/20250104_120000'.*e/20250104_100000.*e/20250105_100000"
    ):
        compare_runs(runs, NO_FUNCTIONS, "e/20250104_120000", "latest")
    with pytest.raises(
        UserError, match="no run 'x/20250101_100000'; nearby runs: e/20250101_100000"
    ):
        compare_runs(runs, NO_FUNCTIONS, "x/20250101_100000", "latest")


def test_an_unknown_selector_lists_branches_and_newest_runs() -> None:
    runs = frame(
        [run("e", "20250101_100000", branch="main"), run("e", "20250102_100000", branch="dev")]
    )
    with pytest.raises(
        UserError, match=r"no runs match 'nope'.*branches: dev, main.*e/20250102_100000"
    ):
        compare_runs(runs, NO_FUNCTIONS, "nope", "latest")
    with pytest.raises(UserError, match="not a valid UTC date"):
        compare_runs(runs, NO_FUNCTIONS, "20251399", "latest")
    with pytest.raises(UserError, match="empty selector"):
        compare_runs(runs, NO_FUNCTIONS, " ", "latest")


def test_latest_1_with_one_version_names_the_batches_by_time() -> None:
    """Two batches at one commit: latest~1 cannot tell them apart, a time prefix can."""
    stamps = ("20261130_015023", "20261130_015025", "20261130_015201", "20261130_015203")
    runs = frame([run(entry, stamp) for stamp, entry in zip(stamps, "abab", strict=True)])
    with pytest.raises(UserError) as caught:
        compare_runs(runs, NO_FUNCTIONS, "latest~1", "latest")
    message = str(caught.value)
    assert message.startswith("latest~1 matches no runs: the entries have one code version")
    assert "select them by time: compare 20261130_0150 20261130_0152" in message
    assert "a/20261130_015201 (2026-11-30 01:52:01), b/20261130_015203 (2026-11-30 01:52:03)" in (
        message
    )
    assert "\n" not in message
    alone = compare_runs(runs, NO_FUNCTIONS, "latest")  # nothing before it: a warning says the same
    assert alone.exit_code == 2
    assert alone.header.warnings[-1] == (
        "no earlier code version precedes latest; to compare the two newest batches, select "
        "them by time: compare 20261130_0150 20261130_0152"
    )
    suggested = compare_runs(runs, NO_FUNCTIONS, "20261130_0150", "20261130_0152")
    assert selected(suggested, "a") == {"a/20261130_015023", "b/20261130_015025"}
    assert selected(suggested, "b") == {"a/20261130_015201", "b/20261130_015203"}


def test_batches_across_a_minute_are_named_by_a_span() -> None:
    """No prefix holds a batch that crosses a minute next to another: FIRST..LAST does."""
    stamps = ("20261130_015958", "20261130_020002", "20261130_020040", "20261130_020042")
    runs = frame([run(entry, stamp) for stamp, entry in zip(stamps, "abab", strict=True)])
    with pytest.raises(UserError) as caught:
        compare_runs(runs, NO_FUNCTIONS, "latest~1", "latest")
    suggested = "compare 20261130_015958..20261130_020002 20261130_020040..20261130_020042"
    assert suggested in str(caught.value)
    comparison = compare_runs(runs, NO_FUNCTIONS, *suggested.split()[1:])
    assert selected(comparison, "a") == {"a/20261130_015958", "b/20261130_020002"}
    assert selected(comparison, "b") == {"a/20261130_020040", "b/20261130_020042"}
    every = {f"{entry}/{stamp}" for entry, stamp in zip("abab", stamps, strict=True)}
    assert selected(compare_runs(runs, NO_FUNCTIONS, "20261130_0159..20261130_0200"), "b") == every
    with pytest.raises(UserError, match="ends before it starts"):
        compare_runs(runs, NO_FUNCTIONS, "20261130_02..20261130_01")
    with pytest.raises(UserError, match=r"no runs started in 20261201\.\.20261202 \(UTC\)"):
        compare_runs(runs, NO_FUNCTIONS, "20261201..20261202")


def test_latest_1_with_repeats_in_one_batch_names_two_run_ids() -> None:
    runs = frame([run("e", f"20261130_0150{second}") for second in (23, 25, 27)])
    with pytest.raises(UserError) as caught:
        compare_runs(runs, NO_FUNCTIONS, "latest~1")
    message = str(caught.value)
    assert "give their ids: compare e/20261130_015025 e/20261130_015027" in message
    assert "e/20261130_015023 (2026-11-30 01:50:23)" in message
    suggested = compare_runs(runs, NO_FUNCTIONS, "e/20261130_015025", "e/20261130_015027")
    assert [entry.verdict for entry in suggested.entries] == ["unchanged"]


def test_entries_and_tags_narrow_the_entries() -> None:
    runs = frame(
        [
            run("a", "20250101_100000", tags=("fast",)),
            run("b", "20250101_100000", tags=("slow",)),
            run("c", "20250101_100000", tags=("slow", "gpu")),
            run("a", "20250102_100000"),  # tags of any run count
            run("b", "20250102_100000"),
            run("c", "20250102_100000"),
        ]
    )
    names = lambda comparison: [entry.entry for entry in comparison.entries]  # noqa: E731
    assert names(compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", entries=["a", "c"])) == [
        "a",
        "c",
    ]
    assert names(compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", tags=["slow"])) == [
        "b",
        "c",
    ]
    assert names(
        compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", entries=["b"], tags=["slow"])
    ) == ["b"]
    with pytest.raises(UserError, match="no runs of entry zzz in the store; entries: a, b, c"):
        compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", entries=["zzz"])
    with pytest.raises(
        UserError, match="no entry carries tag cpu; tags in the store: fast, gpu, slow"
    ):
        compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", tags=["cpu"])


def test_bad_settings_and_tables_are_user_errors() -> None:
    runs = frame([run("e", "20250101_100000"), run("e", "20250102_100000")])
    for settings, message in (
        ({"threshold": -0.1}, "the threshold must be at least 0% and under 100%, not -10%"),
        ({"alpha": 0}, "alpha must be between 0 and 1"),
        ({"metric": "speed"}, "metric must be one of time, cpu, memory, instructions, not 'speed'"),
        ({"fail_on_regression": -1}, "the regression gate must be 0% or more, not -100%"),
    ):
        with pytest.raises(UserError, match=message):
            compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", **settings)
    with pytest.raises(UserError, match="lacks columns git_commit"):
        compare_runs(runs.drop(columns="git_commit"), NO_FUNCTIONS, "latest")
    with pytest.raises(UserError, match="holds no runs"):
        compare_runs(runs.iloc[:0], NO_FUNCTIONS, "latest")


# ---------------------------------------------------------------- aggregation and verdicts


def test_repeats_are_aggregated_not_reduced_to_one() -> None:
    walls = [1.0, 1.2, 0.9, 1.1, 5.0]
    rows = [run("e", f"20250101_10000{i}", wall=wall) for i, wall in enumerate(walls)]
    rows.append(run("e", "20250101_100009", wall=99.0, status="failed"))  # not ok: not counted
    rows.append(run("e", "20250102_100000", wall=1.0))
    comparison = compare_runs(frame(rows), NO_FUNCTIONS, "20250101", "20250102")
    (entry,) = comparison.entries
    wall = entry.metric("wall_s")
    assert wall.a.n == 5
    assert wall.a.median == 1.1
    assert wall.a.mean == pytest.approx(np.mean(walls))
    assert wall.a.std == pytest.approx(np.std(walls, ddof=1))
    assert (wall.a.min, wall.a.max) == (0.9, 5.0)
    assert len(entry.runs_a) == 6
    assert "A: 1 of 6 runs not ok (failed)" in entry.notes


def test_verdicts_slower_faster_unchanged() -> None:
    comparison = compare_runs(two_days(slow=1.3), NO_FUNCTIONS, "20250101", "20250102")
    fast, steady = comparison.entries
    assert (fast.entry, fast.verdict) == ("fast", "slower")
    assert fast.metric("wall_s").judgement.ratio == pytest.approx(1.3, rel=0.05)
    assert fast.metric("wall_s").judgement.p_value == pytest.approx(1 / 252)
    assert fast.code_changed
    assert (steady.verdict, steady.code_changed) == ("unchanged", False)
    assert steady.metric("wall_s").judgement.p_value is None
    faster = compare_runs(two_days(slow=0.7), NO_FUNCTIONS, "20250101", "20250102")
    assert faster.entries[0].verdict == "faster"


def test_a_change_past_the_threshold_that_is_not_significant_is_tilde() -> None:
    rows = []
    for i, (a, b) in enumerate([(1.0, 1.3), (1.2, 0.95), (0.9, 1.25), (1.1, 1.4), (1.05, 1.0)]):
        rows += [run("e", f"20250101_10000{i}", wall=a), run("e", f"20250102_10000{i}", wall=b)]
    (entry,) = compare_runs(frame(rows), NO_FUNCTIONS, "20250101", "20250102").entries
    assert entry.metric("wall_s").judgement.ratio > 1.05
    assert entry.verdict == "~"
    assert entry.metric("wall_s").judgement.p_value > 0.05


def test_one_run_per_side_has_no_test() -> None:
    runs = frame([run("e", "20250101_100000", wall=1.0), run("e", "20250102_100000", wall=2.0)])
    (entry,) = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102").entries
    assert entry.verdict == "~"
    assert "one run per side: no significance test was possible" in entry.notes
    assert entry.metric("wall_s").judgement.p_value is None
    same = frame([run("e", "20250101_100000", wall=1.0), run("e", "20250102_100000", wall=1.01)])
    assert (
        compare_runs(same, NO_FUNCTIONS, "20250101", "20250102").entries[0].verdict == "unchanged"
    )


def test_three_runs_per_side_cannot_reach_alpha() -> None:
    three = compare_runs(two_days(slow=2.0, repeats=3), NO_FUNCTIONS, "20250101", "20250102")
    fast = three.entries[0]
    assert fast.verdict == "~"
    assert fast.metric("wall_s").judgement.p_value == pytest.approx(1 / 20)
    assert any("3 vs 3 runs cannot reach significance at alpha 0.05" in note for note in fast.notes)
    # 4 runs per side reach p = 1/70 when every run of B is beyond every run of A
    four = compare_runs(two_days(slow=2.0, repeats=4), NO_FUNCTIONS, "20250101", "20250102")
    assert four.entries[0].verdict == "slower"
    assert four.entries[0].metric("wall_s").judgement.p_value == pytest.approx(1 / 70)
    assert (
        compare_runs(two_days(slow=2.0, repeats=3), NO_FUNCTIONS, "20250101", "20250102", alpha=0.1)
        .entries[0]
        .verdict
        == "slower"
    )


def test_runs_must_be_beyond_the_threshold_not_only_beyond_a() -> None:
    rows = []
    for i, (a, b) in enumerate(
        [(1.0, 1.07), (1.01, 1.04), (0.99, 1.10), (1.02, 1.06), (1.0, 1.09)]
    ):
        rows += [run("e", f"20250101_10000{i}", wall=a), run("e", f"20250102_10000{i}", wall=b)]
    (entry,) = compare_runs(frame(rows), NO_FUNCTIONS, "20250101", "20250102").entries
    judgement = entry.metric("wall_s").judgement
    assert judgement.ratio == pytest.approx(1.07)
    assert (
        stats.mann_whitney([1.0, 1.01, 0.99, 1.02, 1.0], [1.07, 1.04, 1.10, 1.06, 1.09]).p_greater
        < 0.01
    )
    assert entry.verdict == "~"  # every B run is slower, but not every one by more than 5%
    assert (
        compare_runs(frame(rows), NO_FUNCTIONS, "20250101", "20250102", threshold=0.02)
        .entries[0]
        .verdict
        == "slower"
    )


def test_new_missing_and_failed() -> None:
    runs = frame(
        [
            run("gone", "20250101_100000"),
            run("broken", "20250101_100000"),
            run("broken", "20250102_100000", status="timeout"),
            run("added", "20250102_100000"),
        ]
    )
    comparison = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102")
    assert {entry.entry: entry.verdict for entry in comparison.entries} == {
        "added": "new",
        "broken": "failed",
        "gone": "missing",
    }
    added = comparison.entries[0]
    assert added.metric("wall_s").b.n == 1 and added.metric("wall_s").a.n == 0
    assert comparison.exit_code == 2  # nothing was compared on both sides


def test_an_entry_that_only_fails_on_b_fails_the_gate() -> None:
    rows = [run("e", f"20250101_10000{i}") for i in range(3)]
    rows += [run("e", f"20250102_10000{i}", status="failed") for i in range(3)]
    rows += [run("fixed", "20250101_100000", status="failed"), run("fixed", "20250102_100000")]
    runs = frame(rows)
    ungated = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102")
    assert [entry.verdict for entry in ungated.entries] == ["failed", "failed"]
    assert ungated.exit_code == 2 and not ungated.regressions
    gated = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", fail_on_regression=0.1)
    assert gated.regressions == ("e",) and gated.exit_code == 1  # "fixed" broke on A, not B
    assert "B: no run succeeded where A's did: fails the gate" in gated.entries[0].notes


def test_sides_profiled_differently_are_flagged_per_entry() -> None:
    rows = [run("e", f"20250101_10000{i}") for i in range(5)]
    rows += [run("e", f"20250102_10000{i}") for i in range(5)]
    for row in rows[5:]:  # B sampled every 20 ms, with the script's arguments changed
        changed = {**json.loads(row["options"]), "interval": 0.02, "args": ["--big"]}
        row["options"] = json.dumps(changed)
    (entry,) = compare_runs(frame(rows), NO_FUNCTIONS, "20250101", "20250102").entries
    assert (
        "the sides were profiled with different interval, args: their timings may not be "
        "comparable" in entry.notes
    )
    alike = [run("e", f"2025010{day}_10000{i}") for day in (1, 2) for i in range(5)]
    (same,) = compare_runs(frame(alike), NO_FUNCTIONS, "20250101", "20250102").entries
    assert not any("profiled with different" in note for note in same.notes)


def test_memory_metric_uses_peak_heap_then_max_rss() -> None:
    rows = []
    for i in range(5):
        rows.append(run("e", f"20250101_10000{i}", heap=100.0 + i, rss=200.0))
        rows.append(run("e", f"20250102_10000{i}", heap=150.0 + i, rss=200.0))
    runs = frame(rows)
    (entry,) = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", metric="memory").entries
    assert (entry.primary, entry.verdict) == ("peak_heap_mb", "slower")
    (timed,) = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102").entries
    assert timed.verdict == "unchanged"
    no_heap = runs.assign(peak_heap_mb=None)
    (fallback,) = compare_runs(
        no_heap, NO_FUNCTIONS, "20250101", "20250102", metric="memory"
    ).entries
    assert (fallback.primary, fallback.verdict) == ("max_rss_mb", "unchanged")
    assert any("judged by max RSS" in note for note in fallback.notes)


def test_geometric_mean_row() -> None:
    comparison = compare_runs(two_days(slow=1.44, noise=0.0), NO_FUNCTIONS, "20250101", "20250102")
    wall = next(row for row in comparison.geomean if row.metric == "wall_s")
    assert wall.entries == 2
    assert wall.ratio == pytest.approx(1.2)  # sqrt(1.44 x 1.0)


def test_header_warns_about_different_machines_and_dirty_trees() -> None:
    runs = frame(
        [
            run("e", "20250101_100000", host="laptop", python="3.10.4"),
            run("e", "20250102_100000", host="ci-1", scalene="2.3.0", dirty=True),
        ]
    )
    comparison = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102")
    warnings = " ".join(comparison.header.warnings)
    assert "different hosts (A: laptop; B: ci-1)" in warnings
    assert "different Python versions (A: 3.10.4; B: 3.11.7)" in warnings
    assert "different Scalene versions (A: 2.4.0; B: 2.3.0)" in warnings
    assert "B includes runs from a dirty work tree" in warnings
    assert not compare_runs(two_days(), NO_FUNCTIONS, "20250101", "20250102").header.warnings


# ---------------------------------------------------------------- functions and lines


def functions_for(runs: pd.DataFrame) -> pd.DataFrame:
    """Day 1: work 0.8 s, setup 0.1 s, old 0.05 s; day 2: work moved and slower, new appears."""
    rows = []
    for run_id in runs["run_id"]:
        if "20250101" in run_id:
            rows += function_rows(
                run_id, ("work", 10, 0.8, 10.0), ("setup", 2, 0.1, 1.0), ("old", 30, 0.05, 0.0)
            )
        else:
            rows += function_rows(
                run_id, ("work", 12, 1.1, 12.0), ("setup", 2, 0.1, 1.0), ("new", 40, 0.2, 5.0)
            )
    return frame(rows)


def test_functions_that_changed_most() -> None:
    runs = two_days(slow=1.3)
    comparison = compare_runs(runs, functions_for(runs), "20250101", "20250102")
    fast, steady = comparison.entries
    assert steady.functions == ()  # unchanged entries list no functions
    changes = {change.name: change for change in fast.functions}
    assert list(changes) == ["work", "new", "old"]  # by how much their seconds moved
    work = changes["work"]
    assert (work.status, work.location) == ("changed", "work.py:12")  # matched although it moved
    assert work.delta_seconds == pytest.approx(0.3)
    assert work.seconds_pct == pytest.approx(37.5)
    assert work.delta_peak_mb == pytest.approx(2.0)
    assert (changes["new"].status, changes["new"].seconds_a, changes["new"].seconds_pct) == (
        "new",
        0.0,
        None,
    )
    assert (changes["old"].status, changes["old"].seconds_b) == ("gone", 0.0)
    everything = compare_runs(runs, functions_for(runs), "20250101", "20250102", show_all=True)
    assert everything.entries[1].functions != ()


def test_a_function_missing_from_some_runs_counts_as_zero_there() -> None:
    runs = two_days(slow=1.3, repeats=5)
    rows = []
    for i, run_id in enumerate(runs["run_id"]):
        rows += function_rows(run_id, ("work", 10, 1.0, 0.0))
        if run_id.startswith("fast/20250101") and i < 6:  # in 3 of the 5 runs on A
            rows += function_rows(run_id, ("often", 5, 1.0, 0.0))
        if run_id.startswith("fast/20250101") and i < 4:  # in 2 of the 5 runs on A
            rows += function_rows(run_id, ("rare", 6, 1.0, 0.0))
    comparison = compare_runs(runs, frame(rows), "20250101", "20250102")
    changes = {change.name: change for change in comparison.entries[0].functions}
    assert (changes["often"].status, changes["often"].seconds_a) == ("gone", 1.0)
    assert "rare" not in changes  # its median over the 5 runs is 0 on both sides


def test_loaders_are_called_with_the_compared_runs_only() -> None:
    runs = two_days(slow=1.3)
    table = functions_for(runs)
    asked: list[list[str]] = []

    def load(run_ids: list[str]) -> pd.DataFrame:
        asked.append(run_ids)
        return table[table["run_id"].isin(run_ids)]

    comparison = compare_runs(runs, load, "20250101", "20250102")
    assert len(asked) == 1
    assert set(asked[0]) == set(comparison.entries[0].runs_a) | set(comparison.entries[0].runs_b)
    asked.clear()
    compare_runs(two_days(slow=1.0), load, "20250101", "20250102")
    assert asked == []  # nothing changed: no functions needed


def test_lines_are_matched_by_file_and_line() -> None:
    runs = two_days(slow=1.3)
    lines = functions_for(runs).drop(columns="name")
    comparison = compare_runs(runs, functions_for(runs), "20250101", "20250102", lines=lines)
    changes = {change.location: change for change in comparison.entries[0].lines}
    assert changes["work.py:12"].status == "new"  # a line is its number: the moved line is new
    assert changes["work.py:10"].status == "gone"
    assert changes["work.py:12"].name is None


# ---------------------------------------------------------------- exit codes


def test_exit_codes() -> None:
    runs = two_days(slow=1.3)
    assert compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102").exit_code == 0  # no gate
    gated = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", fail_on_regression=0.1)
    assert (gated.exit_code, gated.regressions) == (1, ("fast",))
    lenient = compare_runs(runs, NO_FUNCTIONS, "20250101", "20250102", fail_on_regression=0.5)
    assert lenient.exit_code == 0
    improved = compare_runs(
        two_days(slow=0.7), NO_FUNCTIONS, "20250101", "20250102", fail_on_regression=0.0
    )
    assert improved.exit_code == 0
    one_each = frame([run("e", "20250101_100000", wall=1.0), run("e", "20250102_100000", wall=3.0)])
    assert (
        compare_runs(
            one_each, NO_FUNCTIONS, "20250101", "20250102", fail_on_regression=0.1
        ).exit_code
        == 0
    )
    memory = compare_runs(
        runs, NO_FUNCTIONS, "20250101", "20250102", metric="memory", fail_on_regression=0.1
    )
    assert memory.exit_code == 0  # the heap did not grow
    nothing = compare_runs(frame([run("e", "20250102_100000")]), NO_FUNCTIONS, "latest")
    assert nothing.exit_code == 2


# ---------------------------------------------------------------- outputs


@pytest.fixture
def mixed() -> Comparison:
    runs = pd.concat(
        [
            two_days(slow=1.3),
            frame([run("added", "20250102_200000"), run("gone|pipe*", "20250101_200000")]),
        ],
        ignore_index=True,
    )
    return compare_runs(
        runs,
        functions_for(runs),
        "20250101",
        "20250102",
        lines=functions_for(runs).drop(columns="name"),
        fail_on_regression=0.1,
    )


def test_json_parses_back(mixed: Comparison) -> None:
    data = json.loads(render(mixed, "json"))
    assert data["exit_code"] == 1
    assert data["header"]["a"]["selector"] == "20250101"
    assert data["header"]["b"]["commits"] == [COMMIT_A, COMMIT_B]
    assert "fast/20250101_100000" in data["header"]["a"]["runs"]
    verdicts = {entry["entry"]: entry["verdict"] for entry in data["entries"]}
    assert verdicts == {
        "added": "new",
        "fast": "slower",
        "gone|pipe*": "missing",
        "steady": "unchanged",
    }
    fast = next(entry for entry in data["entries"] if entry["entry"] == "fast")
    wall = fast["metrics"]["wall_s"]
    assert set(wall["a"]) >= {"median", "mean", "std", "n"}
    assert wall["a"]["n"] == 5
    assert wall["ratio"] == pytest.approx(wall["b"]["median"] / wall["a"]["median"])
    assert wall["change_pct"] == pytest.approx((wall["ratio"] - 1) * 100)
    assert set(fast["metrics"]) == set(METRICS)
    assert fast["functions"][0]["name"] == "work"
    assert fast["lines"]
    assert data["geomean"]["wall_s"]["entries"] == 2


def test_csv_parses_back(mixed: Comparison) -> None:
    rows = list(csv.DictReader(io.StringIO(render(mixed, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    metric_rows = [row for row in rows if row["metric"] != "function"]
    assert len(metric_rows) == 4 * len(METRICS)
    attributed = [row for row in rows if row["metric"] == "function"]
    assert {row["entry"] for row in attributed} <= {"fast", "slow"}
    assert all(row["function"] and row["share_pct"] for row in attributed)
    fast_wall = next(row for row in rows if row["entry"] == "fast" and row["metric"] == "wall_s")
    assert fast_wall["verdict"] == "slower"
    assert float(fast_wall["ratio"]) == pytest.approx(
        float(fast_wall["b_median"]) / float(fast_wall["a_median"])
    )
    assert int(fast_wall["a_n"]) == 5
    added_wall = next(row for row in rows if row["entry"] == "added" and row["metric"] == "wall_s")
    assert (added_wall["a_n"], added_wall["ratio"]) == ("0", "")


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of the first markdown table, header and separator dropped, pipes unescaped."""
    table = []
    for line in text.splitlines():
        if line.startswith("|"):
            table.append(line)
        elif table:
            break
    cells = [
        [cell.strip().replace("\\|", "|").replace("\\*", "*") for cell in _split_cells(line)]
        for line in table[2:]
    ]
    return cells


def _split_cells(line: str) -> list[str]:
    cells, current, escaped = [], "", False
    for char in line.strip()[1:-1]:
        if char == "|" and not escaped:
            cells.append(current)
            current = ""
        else:
            current += char
        escaped = char == "\\" and not escaped
    return [*cells, current]


def test_markdown_rows_parse_back(mixed: Comparison) -> None:
    text = render(mixed, "markdown")
    rows = markdown_rows(text)
    assert all(len(row) == 9 for row in rows)
    verdicts = {row[0]: row[1] for row in rows if row[0]}
    assert verdicts["fast *"] == "slower"
    assert verdicts["gone|pipe*"] == "missing"
    assert verdicts["geometric mean"] == "2 entries"
    assert "### fast: the functions that changed most" in text
    assert "regressed: fast (exit code 1)" in text


def test_text_says_what_was_compared(mixed: Comparison) -> None:
    text = render(mixed, "text")
    assert text.startswith(
        "A: 20250101 - 11 runs (fast/20250101_100000 ... gone|pipe*/20250101_200000); "
        "commit a1b2c3d400 on main"
    )
    assert "B: 20250102 - 11 runs (" in text
    assert "; commit a1b2c3d400, b2c3d4e500 on main" in text
    assert "threshold 5%, alpha 0.05, metric time" in text
    assert "fast *" in text and "slower" in text
    assert "fast: the functions that changed most" in text
    assert text.rstrip().endswith("regressed: fast (exit code 1)")
    one = compare_runs(two_days(repeats=1), NO_FUNCTIONS, "latest")
    assert render(one).startswith(
        "A: the runs just before latest - 2 runs (fast/20250101_100000, steady/20250101_100100)"
    )


def test_unknown_format_is_a_user_error(mixed: Comparison) -> None:
    with pytest.raises(UserError, match="unknown format 'pdf': use one of text, markdown, json"):
        render(mixed, "pdf")


# ---------------------------------------------------------------- statistics that do not cry wolf


def noisy_runs(rng: np.random.Generator, n: int, scale: float = 1.0) -> list[float]:
    """Lognormal timings with 5-10% noise, and a 5% chance per run of a 20-100% outlier."""
    sigma = rng.uniform(0.05, 0.10)
    values = scale * np.exp(rng.normal(0, sigma, n))
    outliers = rng.random(n) < 0.05
    values[outliers] *= 1 + rng.uniform(0.2, 1.0, outliers.sum())
    return [float(value) for value in values]


def test_unchanged_code_is_rarely_called_slower_or_faster() -> None:
    rng = np.random.default_rng(20250101)
    splits = 600
    alarms = sum(
        judge(noisy_runs(rng, 5), noisy_runs(rng, 5), 0.05, 0.05).verdict in ("slower", "faster")
        for _ in range(splits)
    )
    assert alarms / splits < 0.02


def test_a_real_slowdown_is_detected_most_of_the_time() -> None:
    rng = np.random.default_rng(7)
    trials = 400
    caught = sum(
        judge(noisy_runs(rng, 5), noisy_runs(rng, 5, scale=1.2), 0.05, 0.05).verdict == "slower"
        for _ in range(trials)
    )
    assert caught / trials > 0.5


def test_a_a_comparisons_through_the_whole_pipeline() -> None:
    """Repeated runs of unchanged code, compared day against day, rarely fail the gate."""
    rng = np.random.default_rng(99)
    failures = 0
    splits = 60
    for _ in range(splits):
        rows = []
        for day in ("20250101", "20250102"):
            for i, wall in enumerate(noisy_runs(rng, 5)):
                rows.append(run("e", f"{day}_10000{i}", wall=wall))
        comparison = compare_runs(
            frame(rows), NO_FUNCTIONS, "20250101", "20250102", fail_on_regression=0.05
        )
        failures += comparison.exit_code == 1
        assert comparison.entries[0].verdict != "slower" or comparison.exit_code == 1
    assert failures / splits < 0.05
