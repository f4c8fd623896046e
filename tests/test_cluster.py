"""profile-all --scheduler on real Dask clusters on 127.0.0.1: a `distributed.LocalCluster` of two
worker processes, and a scheduler and two workers started by Dask's own commands."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from fixingahole.record import RunRecord
from fixingahole.settings import load_settings
from fixingahole.store import Store
from tests.factories import ENVIRONMENT, summary_doc, write

distributed = pytest.importorskip("distributed")
psutil = pytest.importorskip("psutil")

SPIN = """
    import time

    def spin(n):
        return sum(i * i for i in range(n))

    end = time.perf_counter() + {seconds}
    while time.perf_counter() < end:
        spin(50_000)
"""

MARKED = """
    import os, time

    def spin(n):
        return sum(i * i for i in range(n))

    with open({marks!r}, "a") as marks:
        marks.write(f"start {{os.getpid()}}\\n")
    end = time.perf_counter() + {seconds}
    while time.perf_counter() < end:
        spin(50_000)
    with open({marks!r}, "a") as marks:
        marks.write(f"end {{os.getpid()}}\\n")
"""

DASK_ENVIRON = ("OMP_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")  # a nanny sets them for its worker
CLEAN_ENV = {k: v for k, v in os.environ.items() if not k.startswith("FIXINGAHOLE_")}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def manifest(root: Path, scripts: dict[str, str], repeat: int = 1) -> None:
    write(root / "pyproject.toml", "[tool.fixingahole]\n")
    for name, text in scripts.items():
        write(root / f"{name}.py", text)
    tables = [f'[profiles.{n}]\npath = "{n}.py"\nrepeat = {repeat}\n' for n in scripts]
    write(root / "profiles.toml", "[defaults]\ntimeout = 60\n\n" + "\n".join(tables))


class Batch:
    """`fixingahole profile-all` in a child process, its stderr read line by line as it comes."""

    def __init__(self, root: Path, *args: str):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "fixingahole", "profile-all", *args],
            cwd=root,
            env=CLEAN_ENV,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.err: list[str] = []
        self.seen = threading.Condition()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stderr:
            with self.seen:
                self.err.append(line)
                self.seen.notify_all()

    def wait_for(self, text: str, timeout: float = 60) -> None:
        with self.seen:
            found = self.seen.wait_for(lambda: any(text in line for line in self.err), timeout)
        assert found, f"{text!r} never printed: {''.join(self.err)}"

    def finish(self, timeout: float = 120) -> tuple[int, str, str]:
        out = self.process.stdout.read()
        code = self.process.wait(timeout)
        self.reader.join(10)
        return code, out, "".join(self.err)


def scalene_running(script: str, timeout: float = 30) -> psutil.Process:
    """The Scalene process profiling `script`, once it runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in psutil.process_iter(["cmdline"]):
            cmdline = process.info["cmdline"] or []
            if "scalene" in cmdline and any(part.endswith(f"/{script}") for part in cmdline):
                return process
        time.sleep(0.05)
    raise AssertionError(f"no Scalene process for {script}")


def stored(root: Path):
    return Store(root / "performance" / ".store").runs().sort_values("started_utc")


def assert_serial_per_host(runs) -> None:
    """No two runs of one host overlap in time."""
    for _, group in runs.groupby("host"):
        starts = group["started_utc"].map(lambda t: t.timestamp()).tolist()
        ends = [s + w for s, w in zip(starts, group["wall_s"], strict=True)]
        for end, next_start in zip(ends, starts[1:], strict=False):
            assert next_start >= end - 0.01, (end, next_start)


# -- no cluster needed ------------------------------------------------------------------------


def test_scheduler_setting_precedence(tmp_path: Path):
    write(tmp_path / "pyproject.toml", '[tool.fixingahole]\nscheduler = "tcp://file:1"\n')
    env = {"FIXINGAHOLE_SCHEDULER": "tcp://variable:2"}
    assert load_settings(cwd=tmp_path, environ={}).scheduler == "tcp://file:1"
    assert load_settings(cwd=tmp_path, environ=env).scheduler == "tcp://variable:2"
    chosen = load_settings(cwd=tmp_path, environ=env, scheduler="tcp://argument:3")
    assert chosen.scheduler == "tcp://argument:3"
    assert load_settings(cwd=tmp_path, environ=env, scheduler="").scheduler is None


def test_unreachable_scheduler_is_one_line_and_exit_2_within_10_s(tmp_path: Path):
    manifest(tmp_path, {"a": SPIN.format(seconds=0.1)})
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "fixingahole", "profile-all", "--scheduler", address],
        cwd=tmp_path,
        env=CLEAN_ENV,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert time.monotonic() - started < 10
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "cannot reach the Dask scheduler" in done.stderr
    assert not (tmp_path / "performance").exists()


def test_without_dask_the_option_names_the_extra(tmp_path: Path):
    manifest(tmp_path, {"a": SPIN.format(seconds=0.1)})
    code = (
        "import sys; sys.modules['distributed'] = None\n"  # what an import of a missing one does
        "from fixingahole.cli import main\n"
        "sys.exit(main(['profile-all', '--scheduler', 'tcp://127.0.0.1:1']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=CLEAN_ENV, capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "pip install 'fixingahole[dask]'" in done.stderr and "Traceback" not in done.stderr


def test_invoke_profile_all_takes_the_scheduler(tmp_path: Path, monkeypatch, capsys):
    from invoke import Program

    from fixingahole.tasks import ns

    manifest(tmp_path, {"a": SPIN.format(seconds=0.1)})
    monkeypatch.chdir(tmp_path)
    address = f"tcp://127.0.0.1:{free_port()}"
    with pytest.raises(SystemExit) as exit_:
        Program(namespace=ns, name="invoke").run(["invoke", "profile-all", "--scheduler", address])
    assert exit_.value.code == 2
    assert f"cannot reach the Dask scheduler at {address}" in capsys.readouterr().err


def test_help_does_not_import_dask():
    code = (
        "import sys\nfrom fixingahole.cli import main\n"
        "try:\n    main(['profile-all', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "--scheduler" in done.stdout
    assert done.stdout.strip().endswith("[]")


def summary(run_id: str, host: str) -> dict:
    """A run's summary.json as profiling writes it, from `host`."""
    return summary_doc(run_id, environment={**ENVIRONMENT, "host": host, "platform": "Linux"})


def test_runs_shows_the_host_only_when_runs_came_from_several(project: Path):
    store = Store(project / "performance" / ".store")
    first, second = summary("a/20250101_1000", "box-1"), summary("a/20250101_1100", "box-2")
    store.add(RunRecord.from_json(first), project / "performance" / first["run_id"])
    shown = subprocess.run(
        [sys.executable, "-m", "fixingahole", "runs"], capture_output=True, text=True, env=CLEAN_ENV
    )
    assert "host" not in shown.stdout.splitlines()[0]
    store.add(RunRecord.from_json(second), project / "performance" / second["run_id"])
    shown = subprocess.run(
        [sys.executable, "-m", "fixingahole", "runs"], capture_output=True, text=True, env=CLEAN_ENV
    )
    assert shown.stdout.splitlines()[0].split()[-1] == "host"
    assert "box-1" in shown.stdout and "box-2" in shown.stdout


# -- a LocalCluster of two worker processes ----------------------------------------------------


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[str]:
    with distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=40,
    ) as cluster:
        yield cluster.scheduler_address


@pytest.mark.integration
@pytest.mark.slow
def test_batch_on_a_local_cluster(tmp_path: Path, local_cluster: str):
    where = (  # indented as SPIN is, for dedent
        "    import os\n"
        "    print('cwd', os.getcwd())\n"
        f"    print('env', [os.environ.get(k) for k in {DASK_ENVIRON}])\n"
    )
    manifest(tmp_path, {"a": SPIN.format(seconds=1.0) + where, "b": SPIN.format(seconds=1.0)}, 2)
    code, out, err = Batch(tmp_path, "--scheduler", local_cluster).finish()
    assert code == 0, err
    runs = stored(tmp_path)
    assert list(runs["entry"]) == ["a", "b", "a", "b"], "rounds stay interleaved"
    assert set(runs["status"]) == {"ok"}
    assert runs["host"].tolist() == [socket.gethostname()] * 4
    for run_id in runs["run_id"]:
        folder = tmp_path / "performance" / run_id
        assert (folder / "summary.json").is_file() and (folder / "profile_results.txt").is_file()
    assert_serial_per_host(runs)
    stdout = (tmp_path / "performance" / runs["run_id"].iloc[0] / "stdout.txt").read_text()
    cwd, env = stdout.splitlines()
    assert cwd == f"cwd {tmp_path}", "run where the client runs, as locally"
    assert env == f"env {[psutil.Process().environ().get(k) for k in DASK_ENVIRON]}", (
        "the script sees the environment the worker was started with, not Dask's additions"
    )
    assert f"[4/4] b (round 2/2) on {socket.gethostname()}" in err
    table = out[out.rindex("entry") :]
    assert table.split()[:3] == ["entry", "status", "host"] and "spin" in table
    assert "Run folder: /tmp" not in out, "the worker's own folder is never shown"


@pytest.mark.integration
@pytest.mark.slow
def test_code_changed_under_the_batch_is_refused(tmp_path: Path, local_cluster: str):
    manifest(tmp_path, {"first": SPIN.format(seconds=1.0), "second": SPIN.format(seconds=1.0)})
    batch = Batch(tmp_path, "--scheduler", local_cluster)
    batch.wait_for("[1/2] first")
    write(tmp_path / "second.py", SPIN.format(seconds=1.1))  # not what the client hashed
    code, out, err = batch.finish()
    assert code == 2  # RunStatus.REFUSED: nothing usable measured, fix the setup
    assert list(stored(tmp_path)["entry"]) == ["first"]
    assert f"refused on {socket.gethostname()}: {tmp_path / 'second.py'} differs" in err
    assert "refused" in out[out.rindex("entry") :]


@pytest.mark.integration
@pytest.mark.slow
def test_ctrl_c_stops_the_running_run_and_keeps_it(tmp_path: Path, local_cluster: str):
    manifest(tmp_path, {"long": SPIN.format(seconds=20), "never": SPIN.format(seconds=0.1)})
    batch = Batch(tmp_path, "--scheduler", local_cluster)
    scalene_running("long.py")
    time.sleep(1.0)
    batch.process.send_signal(signal.SIGINT)
    started = time.monotonic()
    code, _, err = batch.finish()
    assert code == 130, err
    assert time.monotonic() - started < 15
    runs = stored(tmp_path)
    assert list(runs["entry"]) == ["long"] and list(runs["status"]) == ["interrupted"]
    assert runs["wall_s"].iloc[0] < 15
    with pytest.raises(AssertionError):  # and nothing of it runs on
        scalene_running("long.py", timeout=0.5)


def marked_pids(marks: Path, word: str) -> list[int]:
    lines = (marks.read_text() if marks.exists() else "").splitlines()
    return [int(line.split()[1]) for line in lines if line.startswith(f"{word} ")]


def kill_worker_of_next_start(marks: Path, seen: int) -> int:
    """Wait for start mark number `seen + 1`, kill the worker process running it; its pid."""
    deadline = time.monotonic() + 60
    while len(marked_pids(marks, "start")) <= seen:
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.05)
    pid = marked_pids(marks, "start")[seen]
    psutil.Process(pid).parent().kill()  # Scalene's parent: the worker process
    return pid


@pytest.mark.integration
@pytest.mark.slow
def test_a_run_whose_workers_die_twice_is_lost_and_the_batch_goes_on(
    tmp_path: Path, local_cluster: str
):
    marks = tmp_path / "marks.txt"
    doomed = MARKED.format(marks=str(marks), seconds=20)
    manifest(tmp_path, {"doomed": doomed, "after": SPIN.format(seconds=1.0)})
    batch = Batch(tmp_path, "--scheduler", local_cluster)
    first = kill_worker_of_next_start(marks, 0)
    second = kill_worker_of_next_start(marks, 1)
    code, out, err = batch.finish()
    assert code == 3, err  # RunStatus.LOST: the cluster failed, not the script
    runs = stored(tmp_path)
    assert list(runs["entry"]) == ["after"] and list(runs["status"]) == ["ok"]
    assert "fixingahole: doomed: lost: the workers running it died 2 times" in err
    table = out[out.rindex("entry") :]
    assert "doomed" in table and "lost" in table
    deadline = time.monotonic() + 10  # both orphaned profiles were ended
    while any(psutil.pid_exists(pid) for pid in (first, second)):
        assert time.monotonic() < deadline, "an orphaned profile runs on"
        time.sleep(0.1)
    assert marked_pids(marks, "end") == []


# -- `dask scheduler` and two `dask worker` processes, by their commands -------------------


@pytest.fixture
def dask_cli_cluster(tmp_path: Path) -> Iterator[tuple[str, list[subprocess.Popen]]]:
    dask = str(Path(sys.executable).with_name("dask"))
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = (tmp_path / "dask.log").open("w")
    quiet = {"stdout": logs, "stderr": subprocess.STDOUT, "stdin": subprocess.DEVNULL}
    flags = ["--host", "127.0.0.1", "--no-dashboard"]
    processes = [subprocess.Popen([dask, "scheduler", "--port", str(port), *flags], **quiet)]
    try:
        for _ in range(2):
            worker = [dask, "worker", address, "--nthreads", "1", *flags]
            processes.append(subprocess.Popen(worker, **quiet))
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=60)
        yield address, processes[1:]
    finally:  # the workers first, so that each closes its worker process while it can
        for group in (processes[1:], processes[:1]):
            for process in group:
                process.terminate()
            for process in group:
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
        logs.close()


@pytest.mark.integration
@pytest.mark.slow
def test_dask_cli_cluster_with_a_worker_killed_mid_profile(tmp_path: Path, dask_cli_cluster):
    address, workers = dask_cli_cluster
    marks = tmp_path / "marks.txt"
    root = tmp_path / "proj ét"
    scripts = {
        "a": SPIN.format(seconds=1.0),
        "b": SPIN.format(seconds=1.0),
        "c": MARKED.format(marks=str(marks), seconds=2.5),
        "d": SPIN.format(seconds=1.0),
    }
    manifest(root, scripts)
    batch = Batch(root, "--scheduler", address)
    batch.wait_for("[3/4] c")
    orphan = scalene_running("c.py")
    deadline = time.monotonic() + 30
    while "start" not in (marks.read_text() if marks.exists() else ""):  # the script runs
        assert time.monotonic() < deadline, "c never started"
        time.sleep(0.05)
    worker = orphan.parent()
    ours = {p.pid for w in workers for p in psutil.Process(w.pid).children(recursive=True)}
    assert worker.pid in ours, "the Scalene process is a child of one of the test's workers"
    worker.kill()
    code, out, err = batch.finish()

    assert code == 0, out + err
    runs = stored(root)
    assert sorted(runs["entry"]) == ["a", "b", "c", "d"] and set(runs["status"]) == {"ok"}
    for run_id in runs["run_id"]:
        assert (root / "performance" / run_id / "summary.json").is_file()
    assert_serial_per_host(runs)
    lines = marks.read_text().split()
    assert lines.count("start") == 2 and lines.count("end") == 1, "c ran again, once"
    assert f"end {orphan.pid}" not in marks.read_text(), "the orphaned profile was ended"
    assert not psutil.pid_exists(orphan.pid) or orphan.status() == psutil.STATUS_ZOMBIE
    table = out[out.rindex("entry") :]
    assert table.count(" ok ") == 4
