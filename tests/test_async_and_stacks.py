"""What fixing-a-hole asks of Scalene for async code and call stacks, on real Scalene runs.

Async profiling is off unless asked (`--async`): on Python 3.12+ Scalene's sys.monitoring
callbacks fire at every generator step. A run whose asyncio event loop ran without it says so.
Call stacks are Python frames only: Scalene's native unwinder is refused in the child.
Scalene's decision whether a file is profiled costs a few file-system lookups, not hundreds: it
is made inside the signal handler, in the script's time, for each new file a sample meets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fixingahole.report.text import ASYNC_NOTE
from fixingahole.runner import BOOTSTRAP_DIR, ScaleneRequest, run_scalene, scalene_command
from tests.factories import write

ASYNC_SCRIPT = """
    import asyncio
    import time


    def spin(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass


    async def worker():
        for _ in range(20):
            spin(0.02)
            await asyncio.sleep(0)


    async def main():
        await asyncio.gather(worker(), worker(), asyncio.sleep(0.4))


    asyncio.run(main())
"""
LOOP_SCRIPT = """
    import time

    end = time.process_time() + 0.8
    while time.process_time() < end:
        pass
"""

# Inside the profiled process: Scalene decides for files it has not met, while the script counts
# the file-system lookups (`os.lstat`, which resolving a path makes per component) that takes;
# then the same files are decided by a fresh tracer that uses the real sysconfig and pathlib.
DECIDING_SCRIPT = """
    import email.parser, json, os, pathlib, sys, sysconfig, time
    from scalene.scalene_profiler import Scalene

    tracing = sys.modules["scalene.scalene_tracing"]
    here = os.path.dirname(os.path.abspath(__file__))
    files = [email.parser.__file__, json.decoder.__file__, tracing.__file__]
    files += [os.path.join(here, "mine.py"), os.path.join(here, "sub", "other.py")]
    files.append(os.path.join(sysconfig.get_path("purelib"), "x", "y.py"))
    lstat, lookups = os.lstat, []
    os.lstat = lambda *args: lookups.append(args) or lstat(*args)
    answers = [Scalene._should_trace(name, "f") for name in files]
    os.lstat = lstat
    kept = tracing.sysconfig, tracing.pathlib
    tracing.sysconfig, tracing.pathlib = sysconfig, pathlib
    fresh = tracing.ScaleneTracing(Scalene._Scalene__args, os.path.dirname(tracing.__file__), here)
    truth = [fresh.should_trace(name, "f") for name in files]
    tracing.sysconfig, tracing.pathlib = kept
    print(json.dumps({"answers": answers, "truth": truth, "lookups": len(lookups)}))
    end = time.process_time() + 0.3
    while time.process_time() < end:
        pass
"""


def request(script: Path, run_dir: Path, **options: object) -> ScaleneRequest:
    return ScaleneRequest(
        script=script,
        json_path=run_dir / "profile.json",
        run_dir=run_dir,
        cwd=script.parent,
        program_path=script.parent,
        echo=False,
        **options,
    )


def test_async_is_asked_for_explicitly_either_way(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    assert "--no-async" in scalene_command(request(script, tmp_path))
    command = scalene_command(request(script, tmp_path, async_profile=True))
    assert "--async" in command and "--no-async" not in command


@pytest.fixture(scope="module")
def aio_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str, str]:
    """The asyncio script profiled by `fixingahole profile` without and with --async: the two
    run folders and what each printed."""
    project = tmp_path_factory.mktemp("aio")
    write(project / "pyproject.toml", '[project]\nname = "demo"\n')
    write(project / "aio.py", ASYNC_SCRIPT)
    printed = []
    for flags in ([], ["--async"]):
        done = subprocess.run(
            [sys.executable, "-m", "fixingahole", "profile", "aio.py", *flags],
            cwd=project,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == 0, done.stderr
        printed.append(done.stdout)
    without, asked = sorted((project / "performance" / "aio").iterdir())
    return without, asked, printed[0], printed[1]


@pytest.mark.integration
@pytest.mark.slow
def test_an_event_loop_run_without_async_is_noted_with_what_it_hides(aio_runs) -> None:
    without, _, printed, _ = aio_runs
    assert f"Async:                {ASYNC_NOTE}" in printed
    assert ASYNC_NOTE in (without / "profile_results.txt").read_text(encoding="utf-8")
    assert json.loads((without / "summary.json").read_text())["options"]["async_profile"] is False
    assert json.loads((without / "profile.json").read_text())["async_profile"] is False


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.every_python  # 3.12+ track awaits differently (the bootstrap's `_await_on_its_line`)
def test_with_async_the_report_lists_the_awaits_and_notes_nothing(aio_runs) -> None:
    _, asked, _, printed = aio_runs
    assert ASYNC_NOTE not in printed
    assert json.loads((asked / "summary.json").read_text())["options"]["async_profile"] is True
    assert json.loads((asked / "profile.json").read_text())["async_profile"] is True
    report = (asked / "profile_results.txt").read_text(encoding="utf-8")
    assert "Top Await Time by Line" in report
    assert "await asyncio.sleep(0)" in report.split("Top Await Time by Line")[1]


@pytest.mark.integration
@pytest.mark.slow
def test_a_script_without_an_event_loop_is_not_noted_and_its_stacks_are_python_only(
    tmp_path: Path,
) -> None:
    script = write(tmp_path / "code" / "loop.py", LOOP_SCRIPT)
    result = run_scalene(request(script, tmp_path / "run"))
    assert (result.status, result.ran_event_loop) == ("ok", False)
    data = json.loads((tmp_path / "run" / "profile.json").read_text())
    assert data["stacks"], "the Python call stacks the report reads"
    assert not data.get("combined_stacks"), "Scalene's native stitched stacks were collected"
    env = {**os.environ, "PYTHONPATH": str(BOOTSTRAP_DIR), "FIXINGAHOLE_PYTHON_STACKS": "1"}
    refused = subprocess.run(
        [sys.executable, "-c", "import scalene._scalene_unwind"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "fixing-a-hole reads Python call stacks only" in refused.stderr
    env.pop("FIXINGAHOLE_PYTHON_STACKS")
    allowed = subprocess.run(
        [sys.executable, "-c", "import scalene._scalene_unwind"], env=env, check=False
    )
    assert allowed.returncode == 0


@pytest.mark.slow
def test_scalene_decides_for_a_new_file_with_a_few_lookups_and_the_same_answer(
    tmp_path: Path,
) -> None:
    script = write(tmp_path / "code" / "decide.py", DECIDING_SCRIPT)
    result = run_scalene(request(script, tmp_path / "run"))
    assert result.status == "ok", result.error
    seen = json.loads((tmp_path / "run" / "stdout.txt").read_text().splitlines()[0])
    assert seen["answers"] == seen["truth"] == [False, False, False, True, True, False]
    # as Scalene 2.4 ships: about 80 library folders resolved per file, 2,709 lookups here; now
    # 47, and up to ~110 when samples during the decisions meet pathlib's files (counted too)
    assert seen["lookups"] <= 50 * 6, seen
