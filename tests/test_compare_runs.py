"""compare on a store filled by real profiles: a deliberately slowed commit, and A/A splits."""

from __future__ import annotations

import csv
import io
import itertools
import json
from pathlib import Path

import pytest

from fixingahole.cli import main
from fixingahole.compare import judge
from fixingahole.store import Store
from tests.factories import git, write

pytestmark = pytest.mark.integration  # git commits profiled with real Scalene

KERNEL = """
    def kernel(n):
        return sum(i * i for i in range(n))

    for _ in range({rounds}):
        kernel(100_000)
"""
VERSIONS = (("fast", 30), ("slow", 300))  # rounds of a ~10 ms kernel
REPEATS = {"fast": 10, "slow": 5}


def commit_version(root: Path, rounds: int, message: str) -> str:
    write(root / "kernel.py", KERNEL.format(rounds=rounds))
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)
    return git(root, "rev-parse", "HEAD")


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> dict:
    """Two commits of one script, the second doing ten times the work.

    Runs alternate between the commits (fast, slow, fast, slow, ...) so that the machine's drift
    lands on both sides, as `profile-all --repeat` interleaves entries; the fast commit then gets
    five more runs for the A/A check.
    """
    root = tmp_path_factory.mktemp("compare") / "repo"
    write(root / "pyproject.toml", "[tool.fixingahole]\n")
    write(root / ".gitignore", "performance/\n")
    write(root / "profiles.toml", '[profiles.kernel]\npath = "kernel.py"\n')
    git(root, "init", "-q", "-b", "main")
    commits = {name: commit_version(root, rounds, name) for name, rounds in VERSIONS}
    order = ["fast", "slow"] * REPEATS["slow"] + ["fast"] * (REPEATS["fast"] - REPEATS["slow"])
    for name in order:
        git(root, "checkout", "-q", commits[name])
        assert main(["profile-all", "--root", str(root)]) == 0
    return {"root": root, **commits}


def run_compare(history: dict, *args: str, capsys) -> tuple[int, str]:
    code = main(["compare", *args, "--root", str(history["root"])])
    return code, capsys.readouterr().out


def test_slowed_commit_is_slower_and_fails_the_gate(history, capsys):
    fast, slow = history["fast"][:8], history["slow"][:8]
    code, out = run_compare(
        history, fast, slow, "--format", "json", "--fail-on-regression", "10", capsys=capsys
    )
    assert code == 1, out
    report = json.loads(out)
    (entry,) = report["entries"]
    assert entry["entry"] == "kernel" and entry["verdict"] == "slower"


def test_the_same_change_seen_backwards_is_faster_and_passes(history, capsys):
    code, out = run_compare(
        history, history["slow"][:8], history["fast"][:8], "--fail-on-regression", capsys=capsys
    )
    assert code == 0, out
    assert "faster" in out


def test_latest_against_the_runs_before_it(history, capsys):
    """latest: the five trailing fast runs; before them stands one run of the slow commit."""
    code, out = run_compare(history, "latest", "--format", "csv", capsys=capsys)
    wall = next(r for r in csv.DictReader(io.StringIO(out)) if r["metric"] == "wall_s")
    assert code == 0
    assert wall["entry"] == "kernel" and wall["code_changed"] == "True"
    assert (wall["a_n"], wall["b_n"]) == ("1", "5")
    assert float(wall["ratio"]) < 1


def test_markdown_names_both_sides_and_the_code_change(history, capsys):
    code, out = run_compare(history, "latest~1", "latest", "--format", "markdown", capsys=capsys)
    assert code == 0
    assert "| kernel" in out
    assert history["fast"][:7] in out and history["slow"][:7] in out


def test_date_selector_that_matches_nothing_names_nearby_runs(history, capsys):
    code = main(["compare", "19990101", "latest", "--root", str(history["root"])])
    assert code == 2
    err = capsys.readouterr().err
    assert "19990101" in err and "kernel/" in err


def test_repeated_runs_of_unchanged_code_are_not_called_changed(history):
    """A/A: all 252 ways to split ten real runs of one commit into 5 vs 5.

    The verdict's test is exact, so across the splits of exchangeable runs at most alpha of them
    can be called slower (and as many faster), and the 5% threshold removes most of those. On a
    quiet machine none are; the bound holds even when other work makes the machine drift.
    """
    runs = Store(history["root"] / "performance" / ".store").runs()
    same = runs[runs["git_commit"] == history["fast"]]["wall_s"].tolist()
    assert len(same) == REPEATS["fast"]
    verdicts = []
    for chosen in itertools.combinations(range(len(same)), 5):
        a = [same[i] for i in chosen]
        b = [same[i] for i in range(len(same)) if i not in chosen]
        verdicts.append(judge(a, b, threshold=0.05, alpha=0.05).verdict)
    assert len(verdicts) == 252
    assert verdicts.count("slower") <= 0.05 * 252, verdicts.count("slower")
    assert verdicts.count("faster") <= 0.05 * 252, verdicts.count("faster")
    assert verdicts.count("unchanged") + verdicts.count("~") >= 0.9 * 252


def test_one_run_per_side_says_no_test_was_possible(history, capsys):
    runs = Store(history["root"] / "performance" / ".store").runs().sort_values("started_utc")
    fast, slow = runs["run_id"].iloc[0], runs["run_id"].iloc[1]  # runs alternate fast, slow
    code, out = run_compare(history, fast, slow, "--format", "json", capsys=capsys)
    entry = json.loads(out)["entries"][0]
    assert entry["verdict"] == "~"
    assert "no significance test" in out
    assert code == 0
