"""Regenerate the Scalene JSON fixtures in tests/data/scalene/ with real Scalene releases.

Each release is installed with pip into a throwaway venv under a temporary directory. The small
programs of tests/data/scalene/programs/ are copied into a folder whose name holds a space
("fixture programs"), so stack frames carry file names with a space, and run there under each
release. Each JSON lands in tests/data/scalene/<version>-<program>-<mode>.json.

The releases, one per historical shape of the JSON (all install on Python 3.11 as they are):

- 1.5.34: the last whose `stacks` frames are `[file, name, line]` lists with integer counts;
- 1.5.51: frames still lists, values `[count, python, c, cpu]` (changed to strings in 1.5.53);
- 2.1.4: frame strings with dict values, the 2.x command line, no async or combined stacks yet;
- 2.4.0: the current release; it also writes `2.4.0-numpy-memory.json`, the full file of a
  ~8 s numpy run, kept whole for the report speed benchmark.

Small fixtures over MAX_FIXTURE_BYTES lose `combined_stacks*` and `memory_stacks` (the bulk of
the bytes, which the parser ignores); the script says when it does.

Usage: python scripts/regenerate_scalene_fixtures.py [VERSION ...]   (needs PyPI; a few minutes)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "data" / "scalene"
PROGRAMS = FIXTURES / "programs"
VERSIONS = ("1.5.34", "1.5.51", "2.1.4", "2.4.0")
RUNS = (("compute", "cpu"), ("compute", "memory"), ("allocate", "memory"), ("raises", "cpu"))
BENCHMARK_VERSION = "2.4.0"
BENCHMARK_PROGRAM = "numpy_work"  # not numpy.py, which would shadow numpy itself
BENCHMARK_FIXTURE = "2.4.0-numpy-memory.json"
BULKY_KEYS = ("combined_stacks", "combined_stacks_timeline", "memory_stacks")
MAX_FIXTURE_BYTES = 300_000
RUN_TIMEOUT_S = 300


def scalene_argv(python: Path, version: str, mode: str, program: Path, outfile: Path) -> list[str]:
    """The command line that profiles `program` with the given Scalene release."""
    if version.startswith("1."):
        flags = ["--cpu"] if mode == "cpu" else ["--cpu", "--memory", "--memory-leak-detector"]
        return [
            str(python),
            "-m",
            "scalene",
            "--json",
            "--outfile",
            str(outfile),
            "--stacks",
            *flags,
            str(program),
        ]
    flags = ["--cpu-only"] if mode == "cpu" else ["--memory", "--memory-leak-detector"]
    return [
        str(python),
        "-m",
        "scalene",
        "run",
        "-o",
        str(outfile),
        "--stacks",
        *flags,
        str(program),
    ]


def make_venv(where: Path, version: str) -> Path:
    """Create a venv holding `scalene==version` (and numpy); return its python."""
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    python = where / "bin" / "python"
    install = [str(python), "-m", "pip", "install", "--quiet", f"scalene=={version}", "numpy"]
    subprocess.run(install, check=True)
    return python


def profile(python: Path, version: str, program: Path, mode: str, outfile: Path) -> None:
    """Run one program under Scalene, writing its JSON to `outfile`."""
    tmp = outfile.parent / "tmp"
    tmp.mkdir(exist_ok=True)
    env = {**os.environ, "TMPDIR": str(tmp)}
    argv = scalene_argv(python, version, mode, program, outfile)
    done = subprocess.run(
        argv,
        cwd=program.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        start_new_session=True,
    )
    shutil.rmtree(tmp, ignore_errors=True)
    if not outfile.exists():
        raise SystemExit(f"{' '.join(argv)} wrote no JSON (exit {done.returncode}):\n{done.stderr}")


def keep_small(path: Path) -> None:
    """Drop the stacks the parser ignores from a fixture that is too large to keep whole."""
    if path.stat().st_size <= MAX_FIXTURE_BYTES:
        return
    data = json.loads(path.read_text(encoding="utf-8"))
    dropped = [key for key in BULKY_KEYS if data.pop(key, None) is not None]
    path.write_text(json.dumps(data, indent=4), encoding="utf-8")
    print(f"  {path.name}: over {MAX_FIXTURE_BYTES} bytes, dropped {', '.join(dropped)}")


def regenerate(version: str, scratch: Path) -> None:
    """Install one release and write its fixtures."""
    print(f"Scalene {version}: installing")
    python = make_venv(scratch / f"venv-{version}", version)
    programs = scratch / "fixture programs"
    runs = [(f"{version}-{name}-{mode}.json", name, mode) for name, mode in RUNS]
    if version == BENCHMARK_VERSION:
        runs.append((BENCHMARK_FIXTURE, BENCHMARK_PROGRAM, "memory"))
    for fixture, name, mode in runs:
        profile(python, version, programs / f"{name}.py", mode, scratch / fixture)
        target = FIXTURES / fixture
        shutil.move(scratch / fixture, target)
        if fixture != BENCHMARK_FIXTURE:
            keep_small(target)
        print(f"  {target.name}: {target.stat().st_size} bytes")


def main(argv: list[str]) -> None:
    versions = argv or list(VERSIONS)
    with tempfile.TemporaryDirectory(prefix="scalene-fixtures-") as scratch_name:
        scratch = Path(scratch_name)
        shutil.copytree(PROGRAMS, scratch / "fixture programs")
        for version in versions:
            regenerate(version, scratch)


if __name__ == "__main__":
    main(sys.argv[1:])
