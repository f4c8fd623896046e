"""Each CPU sample goes to the threads that used the CPU (the bootstrap's `_shares_by_cpu_used`).

Real Scalene on scripts whose split is known by construction. Scalene shares a sample among all
threads it does not know to be asleep, and it knows only of waits for a `threading.Lock` and of
`join`: a thread in `time.sleep` or `Event.wait` took as much as one that worked (half of a
busy script's samples went to a heartbeat thread).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from fixingahole.scalene_output import load_profile
from tests.factories import write

pytestmark = pytest.mark.integration  # real Scalene

WORK = """
    import json
    import threading
    import time


    def work(seconds):
        start = time.thread_time()
        while time.thread_time() - start < seconds:
            sum(i for i in range(1000))
"""

HEARTBEAT = (
    WORK
    + """

    def heartbeat(stop):
        while not stop.wait(0.02):
            pass


    stop = threading.Event()
    beating = threading.Thread(target=heartbeat, args=(stop,))
    beating.start()
    work(0.6)
    stop.set()
    beating.join()
"""
)

POLLING = (
    WORK
    + """

    def wait_for(thread):
        while thread.is_alive():
            time.sleep(0.02)


    worker = threading.Thread(target=work, args=(0.6,))
    worker.start()
    wait_for(worker)
"""
)

SLEEPER = (
    WORK
    + """

    def nap():
        time.sleep(1.0)


    began = time.perf_counter()
    sleeper = threading.Thread(target=nap)
    sleeper.start()
    work(0.5)
    worked = time.perf_counter() - began
    sleeper.join()
    print(json.dumps(worked / (time.perf_counter() - began)))
"""
)


POOL = (
    WORK
    + """
    from concurrent.futures import ThreadPoolExecutor, as_completed


    def collect():
        with ThreadPoolExecutor(1) as pool:  # two busy workers starve it of the GIL at times
            for done in as_completed([pool.submit(work, 0.3) for _ in range(2)]):
                done.result()


    collect()
"""
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("threads") / "fils d'exécution"
    write(root / "pyproject.toml", '[project]\nname = "threads"\n')
    return root


def profiled(folder: Path, name: str, source: str) -> Path:
    """Profile the script as a user would; its run folder."""
    write(folder / f"{name}.py", source)
    done = subprocess.run(
        [sys.executable, "-m", "fixingahole", "profile", f"{name}.py", "--output", name],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr
    (run_dir,) = (folder / name / name).iterdir()
    return run_dir


def shares(run_dir: Path, *functions: str) -> dict[str, float]:
    """The percentage of the sampled time on the stacks that hold each function (by its last
    name: on 3.10 Scalene calls a thread's function `Thread.work`)."""
    stacks = load_profile(run_dir / "profile.json").stacks

    def on_stack(function: str) -> float:
        return sum(
            s.cpu_fraction
            for s in stacks
            if any(f.name.rpartition(".")[2] == function for f in s.frames)
        )

    total = sum(stack.cpu_fraction for stack in stacks)
    return {function: 100 * on_stack(function) / total for function in functions}


@pytest.mark.every_python
def test_a_thread_waiting_on_an_event_takes_no_share_of_the_work(folder: Path) -> None:
    found = shares(profiled(folder, "heartbeat", HEARTBEAT), "work", "heartbeat")
    assert found["work"] >= 80 and found["heartbeat"] <= 15, found  # Scalene alone: 50/50


def test_a_main_thread_polling_in_sleep_takes_no_share_of_the_work(folder: Path) -> None:
    found = shares(profiled(folder, "polling", POLLING), "work", "wait_for")
    assert found["work"] >= 80 and found["wait_for"] <= 15, found  # Scalene alone: 45-49/51-55


def test_time_spent_waiting_for_a_sleeping_thread_stays_its(folder: Path) -> None:
    """Once the main thread has worked and only waits for the sleeper, no thread works: the time
    is the sleep's (Scalene's weighting puts it within about 20 points on a loaded machine)."""
    run_dir = profiled(folder, "sleeper", SLEEPER)
    found = shares(run_dir, "work", "nap")
    waited = 100 - 100 * json.loads((run_dir / "stdout.txt").read_text())  # of the wall time
    assert found["work"] + found["nap"] >= 95 and abs(found["nap"] - waited) <= 25, (found, waited)


def test_a_main_thread_waiting_on_a_pool_lets_the_workers_be_sampled(folder: Path) -> None:
    """Scalene alone took 1-3 samples in 0.6 s: its signal cannot end the main thread's wait."""
    run_dir = profiled(folder, "pool", POOL)
    samples = sum(stack.count for stack in load_profile(run_dir / "profile.json").stacks)
    summary = json.loads((run_dir / "summary.json").read_text())
    found = {f["name"]: f["percent"] for f in summary["functions"]}  # 3.10's stacks lose `work`
    assert samples >= 15 and found.get("work", 0) >= 85, (samples, found)  # 30-45 here
