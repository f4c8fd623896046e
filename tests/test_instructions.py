"""--instructions: counts under Valgrind's Cachegrind beside the profile, and verdicts by them.

The Valgrind runs are real and their scripts tiny: a Python start-up under Cachegrind costs about
two seconds of CPU. The start-up count is cached once for the whole session.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from fixingahole.cli import main
from fixingahole.commands import count_spread
from fixingahole.compare import COUNTS, METRICS, compare_runs, judge_counts
from fixingahole.instructions import CountRequest, count_instructions
from fixingahole.manifest import load_manifest
from fixingahole.record import RunRecord
from fixingahole.settings import load_settings
from fixingahole.store import Store
from tests.factories import NO_FUNCTIONS, frame, git, invoke, summary_doc, write
from tests.factories import run_row as run

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None, reason="needs valgrind")

LOOP = """
    import sys

    def work(n):
        total = 0
        for i in range(n):
            total += i * i % 7
        {planted}
        return total

    print(work(int(sys.argv[1])))
"""
MANIFEST = """
    [defaults]
    interval = 0.002
    args = ["300000"]

    [profiles.loop]
    path = "loop.py"

    [profiles.same]
    path = "same.py"
"""
# One seventh more iterations of the loop: about 10% more instructions in all.
PLANTED = "for i in range(n // 7):\n            total += i * i % 7"


@pytest.fixture(scope="session")
def count_cache(tmp_path_factory) -> Path:
    """One cache of start-up counts for every test here: it is counted once."""
    return tmp_path_factory.mktemp("count-cache")


@pytest.fixture(autouse=True)
def _shared_cache(count_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FIXINGAHOLE_CACHE_DIR", str(count_cache))


def counted(tmp_path: Path, source: str, timeout: float | None = None):
    script = write(tmp_path / "script ü.py", source)
    return count_instructions(
        CountRequest(script=script, cwd=tmp_path, run_dir=tmp_path, timeout=timeout)
    )


# ---------------------------------------------------------------- end to end


@pytest.mark.integration
@pytest.mark.slow
@needs_valgrind
def test_a_planted_change_is_slower_with_one_run_per_side_and_fails_the_gate(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(project / "loop.py", LOOP.format(planted=""))
    write(project / "same.py", LOOP.format(planted=""))
    write(project / "profiles.toml", MANIFEST)
    git(project, "init", "-q")
    git(project, "add", ".")
    git(project, "commit", "-qm", "A")
    assert main(["profile-all", "--instructions"]) == 0
    assert "instructions" in capsys.readouterr().out.split("\n\n")[-1]  # the closing table

    write(project / "loop.py", LOOP.format(planted=PLANTED))
    git(project, "commit", "-qam", "B: planted")
    assert invoke("profile-all", "--instructions") == 0  # the task's flag, this time
    capsys.readouterr()

    runs = Store(project / "performance" / ".store").runs().set_index("run_id")
    same = runs[runs["entry"] == "same"]["instructions"].tolist()
    assert len(same) == 2 and abs(same[1] - same[0]) / same[0] < 1e-4  # within 0.01%
    assert runs["startup_instructions"].notna().all()
    assert (runs["startup_instructions"] < runs["instructions"]).all()
    summary_path = next((project / "performance" / "loop").glob("*/summary.json"))
    summary = json.loads(summary_path.read_text())
    assert summary["instructions"] > 0 and summary["instructions_note"] is None
    assert summary["options"]["instructions"] is True

    gate = ["compare", "latest", "--metric", "instructions", "--fail-on-regression"]
    assert main([*gate, "--format", "json"]) == 1
    result = json.loads(capsys.readouterr().out)
    verdicts = {entry["entry"]: entry for entry in result["entries"]}
    assert verdicts["loop"]["verdict"] == "slower" and verdicts["loop"]["regressed"]
    assert verdicts["same"]["verdict"] == "unchanged" and not verdicts["same"]["regressed"]
    loop = verdicts["loop"]["metrics"]["instructions"]
    assert (loop["a"]["n"], loop["b"]["n"]) == (1, 1)
    assert 1.07 < loop["ratio"] < 1.14
    assert loop["p_value"] is None
    assert main([*gate, "--threshold", "20"]) == 0  # a 10% change is within a 20% threshold


def test_calibrate_states_the_spread_of_counts_and_a_threshold() -> None:
    text = count_spread("e", [442_315_445, 442_315_423, None])
    assert "e: instructions over 2 of 3 runs" in text
    assert "spread (max - min) / median 0.000005%" in text
    assert "--metric instructions --threshold 1 " in text
    assert "no spread measured" in count_spread("e", [442_315_445])


def test_the_manifest_turns_counting_on_per_entry_or_in_defaults(project: Path) -> None:
    write(project / "a.py", "pass\n")
    text = '[defaults]\ninstructions = true\n\n[profiles.a]\npath = "a.py"\n\n'
    text += '[profiles.b]\npath = "a.py"\ninstructions = false\n'
    write(project / "profiles.toml", text)
    manifest = load_manifest(project / "profiles.toml", load_settings())
    assert [e.options.instructions for e in manifest.entries] == [True, False]


def test_without_valgrind_instructions_is_a_one_line_error(project: Path) -> None:
    write(project / "quick.py", "print('hi')\n")
    write(project / "other.py", "print('hi')\n")
    write(
        project / "profiles.toml",
        '[profiles.first]\npath = "other.py"\n\n'
        '[profiles.counted]\npath = "quick.py"\ninstructions = true\n',
    )
    empty = project / "no valgrind here"
    empty.mkdir()
    env = {**os.environ, "PATH": str(empty)}
    for argv in (["profile", "quick.py", "--instructions"], ["profile-all"]):
        done = subprocess.run(
            [sys.executable, "-m", "fixingahole", *argv],
            cwd=project,
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
        assert "valgrind is not installed" in done.stderr
        assert "apt-get install valgrind" in done.stderr and "brew" in done.stderr
    assert not (project / "performance").exists()  # nothing ran, not even the first entry


# ---------------------------------------------------------------- where counts cannot work


@pytest.mark.integration
@needs_valgrind
def test_the_timeout_stops_the_valgrind_run_and_says_so(tmp_path: Path) -> None:
    count = counted(tmp_path, "while True:\n    pass\n", timeout=1.0)
    assert (count.status, count.instructions) == ("timeout", None)
    assert "--timeout 1 s" in count.note and "25-50x" in count.note
    assert count.startup and count.startup > 1_000_000


@pytest.mark.integration
@needs_valgrind
def test_processes_and_threads_are_marked(tmp_path: Path) -> None:
    forks = counted(
        tmp_path,
        "import os, sys\nif os.fork() == 0:\n    os._exit(0)\nos.wait()\n"
        "print(os.getcwd(), os.environ['PYTHONHASHSEED'], os.environ['PYTHONMALLOC'])\n"
        "sys.stdout.flush()\n",
    )
    assert forks.status == "ok" and forks.instructions > forks.startup
    assert "started 1 other process" in forks.note
    output = (tmp_path / "valgrind.stdout.txt").read_text()
    assert output.split() == [str(tmp_path), "0", "malloc"]  # the cwd, the fixed settings
    assert f"{forks.instructions:,}" in (tmp_path / "valgrind.log").read_text()  # Valgrind agrees
    threads = counted(
        tmp_path,
        "import threading, time\n"
        "pool = [threading.Thread(target=time.sleep, args=(0.6,)) for _ in range(2)]\n"
        "for t in pool:\n    t.start()\nfor t in pool:\n    t.join()\n",
    )
    assert threads.status == "ok" and threads.instructions is not None
    assert "ran 3 threads at once" in threads.note


@pytest.mark.integration
def test_a_valgrind_that_cannot_run_is_not_called_a_failing_script(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = write(
        tmp_path / "bin" / "valgrind", "#!/bin/sh\necho 'valgrind: no such tool' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(fake.parent))
    count = counted(tmp_path, "print('fine')\n")
    assert (count.status, count.instructions, count.startup) == ("failed", None, None)
    assert count.note.startswith("Valgrind did not count the run (valgrind: no such tool)")
    assert "script failed" not in count.note


# ---------------------------------------------------------------- verdicts, over frames


def counted_run(entry: str, stamp: str, count: int, **fields) -> dict:
    row = run(entry, stamp, **fields)
    row.update(instructions=count, startup_instructions=100_000_000, instructions_note=None)
    return row


def test_counts_are_judged_with_one_run_per_side_without_a_test() -> None:
    assert judge_counts([1e9], [1.1e9], 0.05, None).verdict == "slower"
    assert judge_counts([1e9], [0.9e9], 0.05, None).verdict == "faster"
    assert judge_counts([1e9], [1.01e9], 0.05, None).verdict == "unchanged"
    shaky = judge_counts([1e9], [1.1e9], 0.05, 0.2)  # counts of one version spread by 20%
    assert shaky.verdict == "~" and "within the spread" in shaky.note
    assert judge_counts([1e9], [1.1e9], 0.05, None).p_value is None


def test_compare_by_instructions_states_the_measured_repeatability() -> None:
    rows = [
        counted_run("e", "20250101_100000", 500_000_000, code_hash="sha256:a"),
        counted_run("e", "20250101_110000", 500_000_040, code_hash="sha256:a"),
        counted_run("e", "20250102_100000", 560_000_000, code_hash="sha256:b"),
    ]
    comparison = compare_runs(
        frame(rows), NO_FUNCTIONS, "20250101", "20250102", metric="instructions"
    )
    (entry,) = comparison.entries
    assert (entry.verdict, entry.primary) == ("slower", "instructions")
    assert comparison.header.metrics == (*METRICS, *COUNTS)
    counts = entry.metric("instructions").judgement
    assert counts.repeatability == pytest.approx(40 / 500_000_020)
    own = entry.metric("script_instructions")
    assert own.a.median == pytest.approx(400_000_020) and own.judgement.verdict == "slower"
    gated = compare_runs(
        frame(rows), NO_FUNCTIONS, "20250101", "20250102", metric="instructions",
        fail_on_regression=0.2,
    )  # fmt: skip
    assert gated.exit_code == 0  # +12% is within a 20% gate


def test_runs_without_counts_compare_as_before_and_say_why_not_by_counts() -> None:
    rows = [run("e", "20250101_100000"), run("e", "20250102_100000", code_hash="sha256:b")]
    plain = compare_runs(frame(rows), NO_FUNCTIONS, "20250101", "20250102")
    assert plain.header.metrics == METRICS
    by_counts = compare_runs(
        frame(rows), NO_FUNCTIONS, "20250101", "20250102", metric="instructions"
    )
    (entry,) = by_counts.entries
    assert entry.verdict == "~"
    assert any("made without --instructions" in note for note in entry.notes)


def test_a_store_written_before_the_count_columns_reads_them_as_missing(tmp_path: Path) -> None:
    store = Store(tmp_path / ".store")
    summary = summary_doc("old/20250101_100000", wall_s=1.0)
    store.add(RunRecord.from_json(summary))
    (segment,) = (tmp_path / ".store" / "data").iterdir()
    table = pq.read_table(segment / "runs.parquet")
    older = table.drop_columns(["instructions", "startup_instructions", "instructions_note"])
    pq.write_table(older, segment / "runs.parquet")
    counted = {**summary, "run_id": "old/20250102_100000", "instructions": 123}
    store.add(RunRecord.from_json(counted))
    runs = store.runs().set_index("run_id")
    assert runs["instructions"].isna().tolist() == [True, False]
    assert int(runs.loc["old/20250102_100000", "instructions"]) == 123
