"""The Scalene child process, run for real on small scripts; and its start-up hook."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import scalene

from fixingahole.errors import UserError
from fixingahole.runner import (
    BOOTSTRAP_DIR,
    PACKAGE_DIR,
    ScaleneRequest,
    ScaleneResult,
    _child_env,
    _failure_line,
    _Tee,
    _trailer_lines,
    count_log_levels,
    run_scalene,
    scalene_command,
)

REPO = Path(__file__).resolve().parents[1]

# Busy for about `seconds` so that Scalene takes samples.
BUSY = """
def busy(seconds):
    import time
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n
"""


def write_script(folder: Path, name: str, source: str) -> Path:
    """Write a dedented script (lines numbered as written, from line 1) and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def request_for(script: Path, run_dir: Path, **options) -> ScaleneRequest:
    """A request that writes everything to run_dir and runs in the script's folder."""
    options.setdefault("echo", False)
    return ScaleneRequest(
        script=script,
        json_path=run_dir / "profile.json",
        run_dir=run_dir,
        cwd=script.parent,
        **options,
    )


def group_processes(pgid: int) -> list[str]:
    """`pid state command` of every process of a process group that /proc still lists."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                command = cmdline.replace(b"\0", b" ").decode(errors="replace")
                found.append(f"{entry} {fields[0]} {command}")
    return found


def line_of(script: Path, marker: str) -> int:
    """The 1-based number of the line of the script that holds `marker`."""
    lines = script.read_text(encoding="utf-8").splitlines()
    return next(n for n, line in enumerate(lines, 1) if marker in line)


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


# --- CPU mode: arguments, odd paths, chdir, output, logs, temp dir --------------------------

CPU_SCRIPT = (
    BUSY
    + """
import logging
import os
import sys
import tempfile
import warnings

logging.basicConfig(format="USER %(levelname)s %(filename)s:%(lineno)d %(message)s")
print("args=" + repr(sys.argv[1:]))
print("tmp=" + tempfile.gettempdir())
print(f"parent={os.getppid()}")
log = logging.getLogger("app")
log.debug("quiet debug")  # DEBUG HERE
log.warning("loud warning")  # WARNING HERE
warnings.warn("mind the gap")  # WARN HERE
print("enabled=" + str(log.isEnabledFor(logging.DEBUG)))
print("Scalene: profile saved to /not/ours.json")
busy(1.5)
os.chdir(os.path.expanduser("~"))
"""
)


@pytest.fixture(scope="module")
def cpu_run(tmp_path_factory) -> tuple[ScaleneResult, Path, Path]:
    base = tmp_path_factory.mktemp("cpu")
    script = write_script(base / "dir with spaces é", "script ü ñ.py", CPU_SCRIPT)
    run_dir = base / "run folder"
    request = request_for(
        script, run_dir, allocation_window=10_485_767, args=("two words", "--n", "3", "")
    )
    return run_scalene(request), run_dir, script


@pytest.mark.integration
def test_cpu_mode_writes_json_at_the_absolute_path_after_chdir(cpu_run):
    result, run_dir, script = cpu_run
    assert result.status == "ok", result
    assert result.exit_code == 0 and result.error is None
    profile = read_json(run_dir / "profile.json")
    assert profile["files"], "Scalene took no sample"
    assert str(script) in profile["files"]
    assert profile["memory"] is False
    assert "--cpu-only" in result.command


@pytest.mark.integration
@pytest.mark.parametrize("fixture", ["cpu_run", "memory_run"])
def test_scalene_runs_the_script_without_relaunching_itself(fixture, request):
    _, run_dir, _ = request.getfixturevalue(fixture)
    stdout = (run_dir / "stdout.txt").read_text(encoding="utf-8")
    assert f"parent={os.getpid()}" in stdout.splitlines(), "one Scalene process, started by us"


@pytest.mark.parametrize(
    "outer",
    [
        {},
        {"LD_PRELOAD": "libfoo.so", "LD_LIBRARY_PATH": "/opt/lib", "PYTHONMALLOC": "malloc"},
        {"LD_PRELOAD": "libscalene.so:libfoo.so"},
    ],
)
@pytest.mark.parametrize("mode", ["cpu", "memory"])
def test_the_environment_satisfies_scalenes_own_relaunch_check(tmp_path, monkeypatch, mode, outer):
    from argparse import Namespace

    from scalene.scalene_preload import ScalenePreload

    for name, value in outer.items():
        monkeypatch.setenv(name, value)
    request = request_for(tmp_path / "s.py", tmp_path, mode=mode, allocation_window=4099)
    env = _child_env(request, tmp_path, tmp_path / "logs.log", str(Path(scalene.__path__[0])))
    monkeypatch.setattr(os, "environ", env)
    args = Namespace(memory=mode == "memory", allocation_sampling_window=4099, disable_jit=False)
    assert ScalenePreload.get_preload_environ(args).items() <= env.items()
    kept = [part for part in outer.get("LD_PRELOAD", "").split(":") if part]
    assert all(part in env.get("LD_PRELOAD", "").split(":") for part in kept)


@pytest.mark.integration
def test_arguments_with_spaces_arrive_intact(cpu_run):
    _, run_dir, _ = cpu_run
    stdout = (run_dir / "stdout.txt").read_text(encoding="utf-8")
    assert "args=['two words', '--n', '3', '']" in stdout


@pytest.mark.integration
def test_output_is_saved_without_scalene_trailer_but_with_users_lookalike(cpu_run):
    _, run_dir, _ = cpu_run
    stdout = (run_dir / "stdout.txt").read_text(encoding="utf-8")
    stderr = (run_dir / "stderr.txt").read_text(encoding="utf-8")
    assert "Scalene: profile saved to /not/ours.json" in stdout
    assert "profile saved" not in stderr
    assert "To view in" not in stderr + stdout
    assert "USER WARNING script ü ñ.py" in stderr  # the user's basicConfig still prints


@pytest.mark.integration
def test_logs_hold_the_users_line_numbers_and_levels(cpu_run):
    result, run_dir, script = cpu_run
    records = [line.split("\t") for line in (run_dir / "logs.log").read_text().splitlines()]
    assert [(r[1], r[2], r[3]) for r in records] == [
        ("WARNING", "app", f"{script}:{line_of(script, 'WARNING HERE')}"),
        ("WARNING", "warnings", f"{script}:{line_of(script, 'WARN HERE')}"),
    ]
    assert records[0][4] == "loud warning"
    assert records[1][4] == "UserWarning: mind the gap"
    assert dict(result.log_counts) == {"WARNING": 2}
    stdout = (run_dir / "stdout.txt").read_text(encoding="utf-8")
    assert "enabled=False" in stdout  # the user's logger levels are untouched


@pytest.mark.integration
def test_the_child_gets_its_own_temp_dir_which_is_removed(cpu_run):
    _, run_dir, _ = cpu_run
    stdout = (run_dir / "stdout.txt").read_text(encoding="utf-8")
    child_tmp = Path(stdout.split("tmp=", 1)[1].splitlines()[0])
    assert child_tmp.parent == Path(tempfile.gettempdir())
    assert child_tmp.name.startswith("fixingahole-")
    assert not child_tmp.exists()


@pytest.mark.integration
def test_cpu_time_and_rss_are_measured(cpu_run):
    result, _, _ = cpu_run
    assert result.cpu_s >= 1.2  # the script is busy for 1.5 s
    assert result.cpu_s <= result.wall_s * (os.cpu_count() or 1) + 0.5
    assert 10 < result.max_rss_mb < 1000


# --- memory mode, DEBUG capture, max RSS --------------------------------------------------

MEMORY_SCRIPT = (
    BUSY
    + """
import logging
import os

print(f"parent={os.getppid()}")
logging.getLogger("app").debug("now at %s", "debug")  # DEBUG HERE
for i in range(10_000):
    logging.getLogger("app.loop").debug("tick %d", i)
block = b"x" * (200 * 1024 * 1024)
busy(1.0)
print(len(block))
"""
)


@pytest.fixture(scope="module")
def memory_run(tmp_path_factory) -> tuple[ScaleneResult, Path, Path]:
    base = tmp_path_factory.mktemp("memory")
    script = write_script(base, "allocate.py", MEMORY_SCRIPT)
    run_dir = base / "run"
    request = request_for(
        script,
        run_dir,
        mode="memory",
        allocation_window=1 << 20,
        log_level="debug",
        profile_all=True,
    )
    return run_scalene(request), run_dir, script


@pytest.mark.integration
def test_memory_mode_writes_json_with_heap_figures(memory_run):
    result, run_dir, _ = memory_run
    assert result.status == "ok", result
    assert "--memory" in result.command and "--cpu-only" not in result.command
    profile = read_json(run_dir / "profile.json")
    assert profile["memory"] is True
    assert profile["max_footprint_mb"] >= 150


@pytest.mark.integration
def test_max_rss_covers_200_mb_touched(memory_run):
    result, _, _ = memory_run
    assert result.max_rss_mb > 200


@pytest.mark.integration
def test_debug_records_are_captured_at_debug_level(memory_run):
    result, run_dir, script = memory_run
    line = f"{script}:{line_of(script, 'DEBUG HERE')}"
    records = [r.split("\t") for r in (run_dir / "logs.log").read_text().splitlines()]
    assert ["DEBUG", "app", line, "now at debug"] in [r[1:] for r in records]
    assert result.log_counts == {"DEBUG": 10_001}
    assert "now at debug" not in (run_dir / "stderr.txt").read_text()


@pytest.mark.integration
def test_the_bootstrap_is_never_in_the_profile_even_with_profile_all(memory_run):
    result, run_dir, _ = memory_run
    assert "--profile-all" in result.command
    files = read_json(run_dir / "profile.json")["files"]
    assert any("logging" in name for name in files)  # libraries are profiled
    assert not [name for name in files if name.startswith(str(BOOTSTRAP_DIR))]


# --- failures -----------------------------------------------------------------------------

FAILING_SCRIPT = (
    BUSY
    + """
def compute():
    return 1 / 0

busy(2.5)
compute()
"""
)


@pytest.fixture(scope="module")
def failing_run(tmp_path_factory):
    base = tmp_path_factory.mktemp("failing")
    script = write_script(base, "fails.py", FAILING_SCRIPT)
    run_dir = base / "run"
    snapshots = []

    def on_snapshot(path: Path) -> None:
        snapshots.append(path.exists())
        if len(snapshots) == 1:
            raise RuntimeError("a broken live view")

    result = run_scalene(request_for(script, run_dir, live=0.5, on_snapshot=on_snapshot))
    return result, run_dir, snapshots


@pytest.mark.integration
def test_a_failing_script_is_failed_with_its_exception_line(failing_run):
    result, run_dir, _ = failing_run
    assert result.status == "failed"
    assert result.exit_code == 1
    assert result.error == "ZeroDivisionError: division by zero"
    assert read_json(run_dir / "profile.json")["files"]
    assert "Traceback" in (run_dir / "stderr.txt").read_text()


@pytest.mark.integration
def test_live_snapshots_are_taken_and_a_failing_callback_does_not_end_the_run(failing_run):
    result, _, snapshots = failing_run
    assert "--profile-interval" in result.command
    assert len(snapshots) >= 3
    assert any(snapshots)  # Scalene rewrote the JSON while the script ran


@pytest.mark.integration
def test_sys_exit_3_is_failed_with_its_code_also_from_a_worker_thread(tmp_path):
    script = write_script(tmp_path, "exits.py", BUSY + "\nimport sys\nbusy(1.0)\nsys.exit(3)\n")
    with ThreadPoolExecutor(1) as pool:  # no signal handlers can be set there
        result = pool.submit(run_scalene, request_for(script, tmp_path / "run")).result()
    assert (result.status, result.exit_code, result.error) == ("failed", 3, "exit code 3")
    assert (tmp_path / "run" / "profile.json").exists()


@pytest.mark.integration
def test_a_script_killed_by_a_signal_says_so(tmp_path):
    source = BUSY + "\nimport os, signal\nbusy(0.5)\nos.kill(os.getpid(), signal.SIGKILL)\n"
    script = write_script(tmp_path, "killed.py", source)
    result = run_scalene(request_for(script, tmp_path / "run"))
    assert (result.status, result.error) == ("failed", "killed by SIGKILL")
    assert "received signal" not in (tmp_path / "run" / "stderr.txt").read_text()


@pytest.mark.integration
def test_a_syntax_error_is_one_line_with_file_and_line(tmp_path):
    script = write_script(tmp_path, "broken script.py", "x = 1\ndef f(:\n    pass\n")
    handlers = [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)]
    result = run_scalene(request_for(script, tmp_path / "run"))
    assert [signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)] == handlers
    assert result.status == "failed"
    assert result.error == f"SyntaxError: invalid syntax ({script}, line 2)"
    assert not (tmp_path / "run" / "profile.json").exists()


# --- stopping: timeout, Ctrl-C, SIGTERM ---------------------------------------------------

FOREVER_SCRIPT = """
import os
import sys

with open(sys.argv[1], "w") as pgid_file:
    pgid_file.write(str(os.getpgrp()))

def spin():
    return sum(range(100_000))

while True:
    spin()
"""


@pytest.mark.integration
def test_timeout_stops_the_group_and_keeps_a_partial_profile(tmp_path):
    script = write_script(tmp_path, "forever.py", FOREVER_SCRIPT)
    pgid_file = tmp_path / "pgid"
    request = request_for(script, tmp_path / "run", timeout=7, args=(str(pgid_file),))
    result = run_scalene(request)
    assert result.status == "timeout"
    assert result.error == "timed out after 7 s"
    assert 7 <= result.wall_s < 7 + 15
    assert read_json(tmp_path / "run" / "profile.json")["files"]
    assert group_processes(int(pgid_file.read_text())) == []


DRIVER = """
import dataclasses
import json
import sys
from pathlib import Path

from fixingahole.runner import ScaleneRequest, run_scalene

script, run_dir, pgid_file = (Path(arg) for arg in sys.argv[1:])
request = ScaleneRequest(
    script=script, json_path=run_dir / "profile.json", run_dir=run_dir, cwd=script.parent,
    args=(str(pgid_file),),
)
result = run_scalene(request)
print("RESULT " + json.dumps(dataclasses.asdict(result), default=str))
"""


@pytest.mark.integration
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_stop_signal_to_us_interrupts_the_run(tmp_path, signum):
    script = write_script(tmp_path, "forever.py", FOREVER_SCRIPT)
    driver = write_script(tmp_path, "driver.py", DRIVER)
    pgid_file = tmp_path / "pgid"
    proc = subprocess.Popen(
        [sys.executable, str(driver), str(script), str(tmp_path / "run"), str(pgid_file)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not pgid_file.exists() or not pgid_file.read_text():
            assert time.monotonic() < deadline and proc.poll() is None, proc.stderr
            time.sleep(0.1)
        time.sleep(1.5)  # let Scalene take samples
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, stderr
    result = json.loads(stdout.split("RESULT ", 1)[1])
    assert result["status"] == "interrupted"
    assert result["error"] == f"interrupted ({signum.name})"
    assert result["cpu_s"] > 1.0  # the profiled child's time is counted, not just the launcher's
    assert read_json(tmp_path / "run" / "profile.json")["files"]
    assert "Scalene execution interrupted." in stderr
    assert group_processes(int(pgid_file.read_text())) == []


# --- no plots, the user's own sitecustomize and PYTHONPATH --------------------------------

PLOTS_SCRIPT = """
import os

import matplotlib.pyplot as plt
import plotly.graph_objects as go

plt.plot([1, 2, 3])
plt.show()
plt.gcf().show()
go.Figure().show()
print("backend=" + plt.get_backend())
print("user sitecustomize=" + os.environ.get("USER_SITECUSTOMIZE_RAN", "no"))
"""

# A stand-in for plotly's layout: the real Figure.show goes through plotly.io.show.
FAKE_PLOTLY = {
    "plotly/__init__.py": "",
    "plotly/io/__init__.py": "def show(fig, *args, **kwargs):\n    raise RuntimeError('opened')\n",
    "plotly/basedatatypes.py": (
        "class BaseFigure:\n"
        "    def show(self, *args, **kwargs):\n"
        "        import plotly.io as pio\n"
        "        return pio.show(self, *args, **kwargs)\n"
    ),
    "plotly/graph_objects.py": "from plotly.basedatatypes import BaseFigure as Figure\n",
    "sitecustomize.py": "import os\nos.environ['USER_SITECUSTOMIZE_RAN'] = 'yes'\n",
}


def make_user_site(folder: Path) -> Path:
    """A PYTHONPATH folder with the plotly stand-in and a sitecustomize of the user's own."""
    for name, text in FAKE_PLOTLY.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


@pytest.mark.integration
@pytest.mark.slow  # importing matplotlib under Scalene takes several seconds
def test_no_plots_never_blocks_and_keeps_the_users_sitecustomize(tmp_path):
    pytest.importorskip("matplotlib")
    site = make_user_site(tmp_path / "user site")
    script = write_script(tmp_path, "plots.py", PLOTS_SCRIPT)
    request = request_for(
        script, tmp_path / "run", no_plots=True, env={"PYTHONPATH": str(site)}, timeout=60
    )
    result = run_scalene(request)
    assert result.status == "ok", (tmp_path / "run" / "stderr.txt").read_text()
    stdout = (tmp_path / "run" / "stdout.txt").read_text()
    assert "backend=agg" in stdout.lower()
    assert "user sitecustomize=yes" in stdout
    assert (tmp_path / "run" / "logs.log").read_text() == ""
    assert "non-interactive" not in (tmp_path / "run" / "stderr.txt").read_text()


# --- echo ----------------------------------------------------------------------------------


@pytest.mark.integration
def test_echo_tees_the_scripts_output_to_ours(tmp_path, capfd):
    script = write_script(
        tmp_path, "hello.py", "import sys\nprint('out ü')\nprint('err', file=sys.stderr)\n"
    )
    run_scalene(request_for(script, tmp_path / "run", echo=True))
    out, err = capfd.readouterr()
    assert "out ü" in out and "err" in err
    assert "profile saved" not in out + err
    assert (tmp_path / "run" / "stdout.txt").read_text(encoding="utf-8") == "out ü\n"


# --- bad input ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"script": Path("/no/such/script.py")}, "no such script"),
        ({"json_path": Path("relative.json")}, "absolute path ending .json"),
        ({"mode": "gpu"}, "use 'cpu' or 'memory'"),
        ({"log_level": "LOUD"}, "log level 'LOUD' is unknown"),
        ({"timeout": 0}, "timeout must be a positive number"),
        ({"allocation_window": 0}, "positive byte count"),
        ({"exclude": ("a,b",)}, "cannot contain a comma"),
    ],
)
def test_bad_requests_are_user_errors(tmp_path, change, message):
    script = write_script(tmp_path, "s.py", "print(1)\n")
    fields = {**request_for(script, tmp_path / "run").__dict__, **change}
    with pytest.raises(UserError, match=message):
        run_scalene(ScaleneRequest(**fields))


def test_an_unwritable_run_folder_is_a_user_error(tmp_path):
    script = write_script(tmp_path, "s.py", "print(1)\n")
    blocker = tmp_path / "a file"
    blocker.write_text("")
    with pytest.raises(UserError, match="cannot write to the run folder"):
        run_scalene(request_for(script, blocker / "run"))


def test_a_missing_scalene_is_a_user_error_naming_the_pip_command(tmp_path):
    # -S leaves site-packages, and so Scalene, off sys.path; the package comes from the repo.
    code = textwrap.dedent(
        f"""
        from pathlib import Path
        from fixingahole.errors import UserError
        from fixingahole.runner import ScaleneRequest, run_scalene
        base = Path({str(tmp_path)!r})
        (base / "s.py").write_text("print(1)")
        try:
            run_scalene(ScaleneRequest(base / "s.py", base / "p.json", base / "run", base))
        except UserError as exc:
            print(exc)
        """
    )
    done = subprocess.run(
        [sys.executable, "-S", "-c", code],
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert "Scalene is not installed" in done.stdout
    assert "-m pip install 'scalene" in done.stdout


# --- the command line ---------------------------------------------------------------------


@pytest.mark.integration
def test_every_flag_of_the_command_is_one_scalene_knows(tmp_path):
    request = ScaleneRequest(
        script=tmp_path / "s.py",
        json_path=tmp_path / "p.json",
        run_dir=tmp_path,
        cwd=tmp_path,
        mode="memory",
        allocation_window=4096,
        cpu_interval=0.02,
        profile_all=True,
        stacks=False,
        program_path=tmp_path,
        exclude=("numpy", "pandas"),
        live=2.5,
        args=("--memory", "x y"),
    )
    command = scalene_command(request)
    assert command[:4] == (sys.executable, "-m", "scalene", "run")
    assert command[command.index("---") + 1 :] == ("--memory", "x y")
    assert command[command.index("-o") + 1 : command.index("---")] == (
        str(tmp_path / "p.json"),
        str(tmp_path / "s.py"),
    )
    excluded = command[command.index("--profile-exclude") + 1]
    assert excluded == f"numpy,pandas,{PACKAGE_DIR}{os.sep}"
    assert command[command.index("--profile-interval") + 1] == "2.5"
    assert command[command.index("--cpu-sampling-rate") + 1] == "0.02"
    help_text = subprocess.run(
        [sys.executable, "-m", "scalene", "run", "--help-advanced"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    help_text += subprocess.run(
        [sys.executable, "-m", "scalene", "run", "--help"], capture_output=True, text=True
    ).stdout
    flags = [arg for arg in command[4 : command.index("-o")] if arg.startswith("--")]
    assert flags and all(f"{flag} " in help_text or f"{flag}\n" in help_text for flag in flags)
    assert "--no-stacks" in flags and "--cpu-only" not in flags


# --- pieces -------------------------------------------------------------------------------


def tee_output(chunks: list[bytes], json_path: Path = Path("/r/profile.json")) -> bytes:
    saved = io.BytesIO()
    tee = _Tee(saved, None, _trailer_lines(json_path))
    for chunk in chunks:
        tee.feed(chunk)
    tee.close()
    return saved.getvalue()


def test_tee_drops_exactly_scalenes_trailer_however_it_is_split():
    trailer = (
        b"\nScalene: profile saved to /r/profile.json\n"
        b"  To view in browser:  scalene view /r/profile.json\n"
        b"  To view in terminal: scalene view --cli /r/profile.json\n"
    )
    data = b"before\n\nblank above\n" + trailer
    for size in (1, 3, 7, len(data)):
        chunks = [data[i : i + size] for i in range(0, len(data), size)]
        assert tee_output(chunks) == b"before\n\nblank above\n"
    assert tee_output([b"no newline at the end", trailer]) == b"no newline at the end\n"


def test_tee_keeps_lookalike_lines_of_the_user():
    kept = [
        b"Scalene: profile saved to /elsewhere.json\n",
        b"Scalene: profile saved to /r/profile.json\nsomething else\n",
        b"  Scalene: profile saved to /r/profile.json\n",
        b"\n\n",
        b"Scalene: profile saved to /r/profile.json",
    ]
    for data in kept:
        assert tee_output([data]) == data


def test_tee_passes_a_partial_line_on_at_once():
    saved = io.BytesIO()
    tee = _Tee(saved, None, _trailer_lines(Path("/r/profile.json")))
    tee.feed(b"progress 10%")
    assert saved.getvalue() == b"progress 10%"
    tee.feed(b"\rprogress 20%\n")
    assert saved.getvalue() == b"progress 10%\rprogress 20%\n"


def test_failure_line_names_the_last_exception_or_how_it_ended():
    chained = [
        "Traceback (most recent call last):",
        '  File "a.py", line 1, in <module>',
        "KeyError: 'x'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "a.py", line 3, in <module>',
        "    raise ValueError('bad\\nvalue')",
        "ValueError: bad",
        "value",
    ]
    assert _failure_line(chained, [], 1) == "ValueError: bad"
    assert _failure_line(chained, [], 3) == "exit code 3"  # a traceback the script printed
    indented = [
        "Traceback (most recent call last):",
        '  File "/x y/b.py", line 4',
        "    if True:",
        "IndentationError: expected an indented block after 'if' statement on line 4",
    ]
    assert _failure_line(indented, [], 1) == (
        "IndentationError: expected an indented block after 'if' statement on line 4"
        " (/x y/b.py, line 4)"
    )
    assert _failure_line([], ["out", "Scalene error: received signal SIGKILL", ""], 247) == (
        "killed by SIGKILL"
    )
    assert _failure_line([], ["Scalene error: received signal SIGKILL", "more"], 247) == (
        "exit code 247"
    )
    assert _failure_line(["some output"], [], 2) == "exit code 2"


def test_count_log_levels(tmp_path):
    log = tmp_path / "logs.log"
    assert count_log_levels(log) == {}
    log.write_text(
        "2025-01-01T00:00:00Z\tWARNING\tapp\ta.py:1\tone\n"
        "2025-01-01T00:00:00Z\tERROR\tapp\ta.py:2\ttwo\\nlines\n"
        "2025-01-01T00:00:00Z\tWARNING\twarnings\ta b.py:3\tUserWarning: three\n"
    )
    assert count_log_levels(log) == {"WARNING": 2, "ERROR": 1}


# --- the bootstrap under plain Python (fast, and on every Python at hand) -----------------

BOOTSTRAP_SCRIPT = """
import sys

print("heavy=" + ",".join(m for m in ("logging", "matplotlib", "plotly") if m in sys.modules))

import logging
import warnings
handler = logging.StreamHandler(sys.stdout)
handler.setFormatter(logging.Formatter("USER %(levelname)s %(filename)s:%(lineno)d %(message)s"))
logging.getLogger().addHandler(handler)
log = logging.getLogger("app")
log.info("at info")  # INFO HERE
log.warning("at warning")  # WARNING HERE
logging.getLogger("app.quiet").setLevel(logging.CRITICAL)
logging.getLogger("app.quiet").error("muted by the user")  # MUTED HERE
try:
    {}["k"]
except KeyError:
    log.exception("lookup failed")  # EXCEPTION HERE
with warnings.catch_warnings(record=True) as caught:
    warnings.warn("recorded, not shown")
print("caught=" + str(len(caught)))
print("enabled=" + str(log.isEnabledFor(logging.INFO)))
"""


def python_versions() -> list[str]:
    """This interpreter, and Python 3.10 when it is installed next to it (pyenv)."""
    versions = [sys.executable]
    root = Path(sys.executable).parents[2]
    versions += [str(p) for p in sorted(root.glob("3.10*/bin/python3.10"))][:1]
    return versions


@pytest.mark.parametrize("python", python_versions())
def test_bootstrap_captures_without_changing_what_the_user_sees(tmp_path, python):
    script = write_script(tmp_path, "logs.py", BOOTSTRAP_SCRIPT)
    log_file = tmp_path / "logs.log"
    env = {
        **os.environ,
        "PYTHONPATH": str(BOOTSTRAP_DIR),
        "FIXINGAHOLE_LOG_FILE": str(log_file),
        "FIXINGAHOLE_LOG_LEVEL": "INFO",
        "FIXINGAHOLE_NO_PLOTS": "1",
    }
    done = subprocess.run(
        [python, str(script)], env=env, capture_output=True, text=True, check=True
    )
    assert "heavy=\n" in done.stdout  # nothing heavy imported at start-up
    # What the user sees is what plain Python shows: only what their own logging lets through.
    assert f"USER WARNING logs.py:{line_of(script, 'WARNING HERE')} at warning" in done.stdout
    assert f"USER ERROR logs.py:{line_of(script, 'EXCEPTION HERE')} lookup failed" in done.stdout
    assert "at info" not in done.stdout + done.stderr
    assert "muted by the user" not in done.stdout + done.stderr
    assert "caught=1\nenabled=False\n" in done.stdout
    records = [line.split("\t") for line in log_file.read_text().splitlines()]
    assert [(r[1], r[2], r[3]) for r in records] == [
        ("INFO", "app", f"{script}:{line_of(script, 'INFO HERE')}"),
        ("WARNING", "app", f"{script}:{line_of(script, 'WARNING HERE')}"),
        ("ERROR", "app.quiet", f"{script}:{line_of(script, 'MUTED HERE')}"),
        ("ERROR", "app", f"{script}:{line_of(script, 'EXCEPTION HERE')}"),
    ]
    assert records[3][4].startswith("lookup failed\\nTraceback (most recent call last):\\n")
    assert records[3][4].endswith("KeyError: 'k'")
