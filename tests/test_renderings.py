"""Every rendering of a run and of the store, checked against stored expected output.

The inputs are the recorded Scalene profiles of tests/data/scalene, with fixed figures where a live
run would vary (times, RSS, host, versions, start times, commits); the outputs are the files of
tests/data/expected. A mismatch fails with a unified diff. When a change to a rendering is meant,
regenerate the files and review them with `git diff tests/data/expected`:

    FIXINGAHOLE_UPDATE_EXPECTED=1 pytest tests/test_renderings.py

Each product function is called from one helper below (`text_report` ... `bisect_text`), so a
change of signature is adapted in one place.
"""

from __future__ import annotations

import difflib
import json
import os
from pathlib import Path

import pytest

from fixingahole.scalene_output import Profile
from tests.factories import (
    DATA,
    recorded_locator,
    recorded_profile,
    recorded_record,
    recorded_store,
)

EXPECTED = DATA / "expected"
UPDATE = os.environ.get("FIXINGAHOLE_UPDATE_EXPECTED") == "1"
REGENERATE = "FIXINGAHOLE_UPDATE_EXPECTED=1 pytest tests/test_renderings.py"

# (fixture, status): a profile of each kind Scalene writes, and a failed run.
PROFILES = [
    ("2.4.0-compute-cpu.json", "ok"),
    ("2.4.0-compute-memory.json", "ok"),
    ("2.4.0-allocate-memory.json", "ok"),
    ("2.4.0-numpy-memory.json", "ok"),
    ("2.4.0-raises-cpu.json", "failed"),
    ("1.5.34-compute-cpu.json", "ok"),
    ("same-names/2.4.0-cpu.json", "ok"),
]
COMMIT_A, COMMIT_B = "a" * 40, "b" * 40
STAMP = "20250101_100000"


def matches_expected(name: str, text: str) -> None:
    """`text` is what tests/data/expected/`name` holds (or becomes it, when regenerating)."""
    path = EXPECTED / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return
    if not path.is_file():
        pytest.fail(f"no expected output {path}: make it with {REGENERATE}", pytrace=False)
    expected = path.read_text(encoding="utf-8")
    if text != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            text.splitlines(keepends=True),
            f"tests/data/expected/{name} (stored)",
            f"{name} (rendered now)",
        )
        pytest.fail(
            f"the rendering differs from the stored one; if that is meant, run {REGENERATE}\n"
            + "".join(diff),
            pytrace=False,
        )


def json_text(document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def stem(fixture: str) -> str:
    return fixture.removesuffix(".json").replace("/", "-")


# ---------------------------------------------------------------- the product calls


def text_report(profile: Profile, fixture: str, status: str) -> str:
    """profile_results.txt."""
    from fixingahole.report.text import render_report

    run = recorded_record(profile, fixture, status=status, log_counts={"WARNING": 1})
    return render_report(profile, run, recorded_locator(profile))


def terminal_summary(profile: Profile, fixture: str, status: str) -> str:
    """What `fixingahole profile` prints when the run ends."""
    from fixingahole.report.text import render_summary

    run = recorded_record(profile, fixture, status=status, log_counts={"WARNING": 1})
    return render_summary(profile, run, recorded_locator(profile))


def summary_json(profile: Profile, fixture: str, status: str) -> str:
    """summary.json (build_record is called in factories.recorded_record)."""
    run = recorded_record(
        profile, fixture, status=status, log_counts={"WARNING": 1}, stamp=STAMP, commit=COMMIT_A
    )
    return json_text(run.to_json())


def folded(profile: Profile) -> str:
    """stacks.folded."""
    from fixingahole.report.folded import render_folded

    return render_folded(profile, recorded_locator(profile))


def speedscope(profile: Profile, fixture: str) -> str:
    """speedscope.json."""
    from fixingahole.report.speedscope import build_speedscope

    return json_text(build_speedscope(profile, recorded_locator(profile), stem(fixture)))


def comparison(store, fmt: str):
    """`fixingahole compare aaaaaaaa bbbbbbbb --lines --format FMT` over the store."""
    from fixingahole.compare import compare_runs
    from fixingahole.report.comparison import render

    found = compare_runs(
        store.runs(),
        store.functions,
        COMMIT_A[:8],
        COMMIT_B[:8],
        lines=store.lines,
        cells=store.cells,
    )
    return found, render(found, fmt)


def history(store, fmt: str, *, changes: bool) -> str:
    """`fixingahole history demo [--changes] --format FMT`."""
    from fixingahole.report.history import build_history, history_text, with_changes

    trend = build_history(store.runs(entries=["demo"]), "demo", "wall")
    if changes:
        trend = with_changes(trend, 0.05, 0.05)
    return history_text(trend, fmt)


def bisect_text(store, fmt: str) -> str:
    """What `fixingahole bisect` prints, for a bisect over three commits between A and B."""
    from fixingahole.bisection import BisectResult, Commit, Step
    from fixingahole.report.bisect import render_bisect

    runs = store.runs().sort_values("started_utc")
    ids = {c: runs[runs["git_commit"] == c]["run_id"].tolist() for c in (COMMIT_A, COMMIT_B)}
    good = Commit(COMMIT_A, "the good one", "2025-01-01T09:00:00+00:00")
    middle = Commit("d" * 40, "touch the docs", "2025-01-01T09:30:00+00:00")
    bad = Commit(COMMIT_B, "compute more", "2025-01-01T10:00:00+00:00")
    steps = (
        Step(good, tuple(ids[COMMIT_A]), 4, 10.05, None, None, "good", "good"),
        Step(bad, tuple(ids[COMMIT_B]), 4, 13.05, 1.2985, 0.029, "slower", "bad"),
        Step(middle, (), 0, None, None, None, "skipped", "skipped", "the build failed"),
    )
    found, _ = comparison(store, "json")
    result = BisectResult(
        entry="demo",
        metric="time",
        column="wall_s",
        repeat=4,
        threshold=0.05,
        good=good,
        bad=bad,
        first_bad=bad,
        last_good=good,
        candidates=(bad,),
        steps=steps,
        attribution=found.entries[0].attribution,
    )
    return render_bisect(result, fmt)


# ---------------------------------------------------------------- one run


@pytest.fixture(params=PROFILES, ids=[stem(fixture) for fixture, _ in PROFILES])
def recorded(request, tmp_path: Path) -> tuple[Profile, str, str]:
    """A recorded profile as if recorded in a code base `fixture programs`."""
    fixture, status = request.param
    root = tmp_path / "fixture programs"
    root.mkdir()
    return recorded_profile(fixture, root), fixture, status


def test_text_report(recorded) -> None:
    profile, fixture, status = recorded
    matches_expected(f"{stem(fixture)}/profile_results.txt", text_report(profile, fixture, status))


def test_terminal_summary(recorded) -> None:
    profile, fixture, status = recorded
    text = terminal_summary(profile, fixture, status)
    matches_expected(f"{stem(fixture)}/terminal.txt", text)


def test_summary_json(recorded) -> None:
    profile, fixture, status = recorded
    matches_expected(f"{stem(fixture)}/summary.json", summary_json(profile, fixture, status))


def test_folded_stacks(recorded) -> None:
    profile, fixture, _ = recorded
    matches_expected(f"{stem(fixture)}/stacks.folded", folded(profile))


def test_speedscope(recorded) -> None:
    profile, fixture, _ = recorded
    matches_expected(f"{stem(fixture)}/speedscope.json", speedscope(profile, fixture))


# ---------------------------------------------------------------- a store of recorded runs


# Entry demo's code versions, in the order they ran: (commit, recorded profile, wall times); a
# wall time of None is a failed run. B's recorded profile (memory mode) has other call stacks.
VERSIONS = [
    (COMMIT_A, "2.4.0-compute-cpu.json", [10.0, 10.2, 9.9, 10.1]),
    ("e" * 40, "2.4.0-compute-cpu.json", [10.1, 9.8, 10.0]),
    (COMMIT_B, "2.4.0-compute-memory.json", [13.0, 13.2, 12.9, 13.1, None]),
    ("f" * 40, "2.4.0-compute-memory.json", [13.3, 12.8, 13.0]),
]


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory):
    """The VERSIONS as run folders indexed in a real store."""
    output = tmp_path_factory.mktemp("renderings") / "performance"
    runs = [(commit, fixture, wall) for commit, fixture, walls in VERSIONS for wall in walls]
    return recorded_store(
        output,
        [30.0 if wall is None else wall for _, _, wall in runs],
        [commit for commit, _, _ in runs],
        ["failed" if wall is None else "ok" for _, _, wall in runs],
        [fixture for _, fixture, _ in runs],
    )


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("text", "txt"), ("markdown", "md"), ("json", "json"), ("csv", "csv")]
)
def test_comparison(store, fmt: str, suffix: str) -> None:
    _, text = comparison(store, fmt)
    matches_expected(f"store/compare.{suffix}", text)


@pytest.mark.parametrize("changes", [False, True], ids=["plain", "changes"])
@pytest.mark.parametrize(("fmt", "suffix"), [("text", "txt"), ("json", "json")])
def test_history(store, fmt: str, suffix: str, changes: bool) -> None:
    name = "history-changes" if changes else "history"
    matches_expected(f"store/{name}.{suffix}", history(store, fmt, changes=changes))


def test_bisect(store) -> None:
    matches_expected("store/bisect.txt", bisect_text(store, "text"))
