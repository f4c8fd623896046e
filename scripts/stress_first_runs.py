"""Stress the first seconds of a profile: an import-heavy script, profiled again and again.

Each round profiles a script that imports numpy, pandas, matplotlib and IPython (the imports
during which Scalene's first samples land) once at `--interval 0.001` and once with `--memory`,
while two CPU-bound processes compete for the cores. Every profile must end `ok`; the last line
is `runs=N failures=F`, and each failure is printed with its status and error.

    python scripts/stress_first_runs.py --rounds 50     # the long count
    python scripts/stress_first_runs.py --rounds 1      # what the test suite runs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

HEAVY = """
    import matplotlib

    matplotlib.use("Agg")
    import IPython
    import matplotlib.pyplot as plt
    import numpy
    import pandas
    from IPython.core.error import UsageError

    frame = pandas.DataFrame({"x": numpy.arange(200_000) % 97})
    counts = frame.groupby("x").size()
    figure, axes = plt.subplots()
    axes.plot(counts.index, counts.values)
    print(IPython.__version__, UsageError.__name__, int(counts.sum()))
"""
MODES = (("--interval", "0.001"), ("--memory",))


@contextmanager
def competitors(count: int = 2) -> Iterator[None]:
    """`count` CPU-bound Python processes running until the block ends."""
    spinning = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], stdin=subprocess.DEVNULL)
        for _ in range(count)
    ]
    try:
        yield
    finally:
        for process in spinning:
            process.kill()
            process.wait()


def stress(root: Path, rounds: int) -> list[str]:
    """Profile the heavy script `rounds` times in each mode under competition; the failures."""
    (root / "pyproject.toml").write_text("[tool.fixingahole]\n", encoding="utf-8")
    (root / "heavy.py").write_text(textwrap.dedent(HEAVY), encoding="utf-8")
    failures = []
    with competitors():
        for number in range(1, rounds + 1):
            for flags in MODES:
                done = subprocess.run(
                    [sys.executable, "-m", "fixingahole", "profile", "heavy.py", *flags],
                    cwd=root,
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=600,
                )
                if done.returncode != 0:
                    failures.append(f"round {number} {' '.join(flags)}: {_why(done)}")
    return failures


def _why(done: subprocess.CompletedProcess) -> str:
    last = done.stderr.strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
    return last[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20, help="rounds of both modes (20)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="stress-") as folder:
        failures = stress(Path(folder), args.rounds)
    for failure in failures:
        print(failure)
    print(f"runs={2 * args.rounds} failures={len(failures)}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
