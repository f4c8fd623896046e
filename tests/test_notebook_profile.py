"""`fixingahole profile notebook.ipynb` end to end: reports and summary.json speak in cells."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from fixingahole.record import RunRecord

pytestmark = pytest.mark.integration  # real Scalene on notebooks

NUMPY_CELLS = [
    "import numpy as np\nrng = np.random.default_rng(0)",
    "def churn(n):\n"
    "    total = 0.0\n"
    "    for _ in range(n):\n"
    "        total += float(np.sort(rng.random(20_000)).sum())\n"
    "    return total",
    "first = churn(600)",
    "second = [churn(160) for _ in range(4)]\nprint('done', round(first), len(second))",
]
MAGIC_CELLS = [
    "import time",
    "%time total = sum(i * i for i in range(2_000_000))",
    "%%capture captured\nprint('hidden')\nvalue = sum(range(2_000_000))",
    "!echo from-the-shell\nfiles = !echo listed\nprint('files:', files)",
    "len?\nprint('value', value, 'total', total)",
]
RAISING_CELLS = [
    "def spin(n):\n    return sum(i * i for i in range(n))",
    "warm = [spin(300_000) for _ in range(12)]",
    "ratio = 1\nratio = ratio / 0",
    "print('never reached')",
]
PLOT_CELLS = [
    "import matplotlib.pyplot as plt\nimport numpy as np",
    "%matplotlib inline\nxs = np.linspace(0, 10, 200_000)\nys = np.sin(xs) ** 2",
    "fig, ax = plt.subplots()\n"
    "ax.plot(xs, ys)\n"
    "plt.show()\n"
    "print('plotted', sum(i for i in range(3_000_000)))",
]


def notebook(path: Path, cells: list[str]) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.cells = [new_markdown_cell("# a heading that is not a code cell")]
    nb.cells += [new_code_cell(source) for source in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def profile(root: Path, *args: str) -> tuple[subprocess.CompletedProcess, Path]:
    done = subprocess.run(
        [sys.executable, "-m", "fixingahole", "profile", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MPLBACKEND": ""},
    )
    stem = Path(args[0]).stem
    (run_dir,) = (root / "performance" / stem).iterdir()
    return done, run_dir


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("notebooks") / "carnets d'été"
    (folder / "pyproject.toml").parent.mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[tool.fixingahole]\n")
    notebook(folder / "numbers.ipynb", NUMPY_CELLS)
    notebook(folder / "magics.ipynb", MAGIC_CELLS)
    notebook(folder / "raising.ipynb", RAISING_CELLS)
    notebook(folder / "plots.ipynb", PLOT_CELLS)
    return folder


@pytest.fixture(scope="module")
def numbers(root: Path):
    return profile(root, "numbers.ipynb", "--memory")


def test_a_notebook_run_re_renders_as_it_was_written(root: Path, numbers):
    """`fixingahole report` of a notebook run: the same report, cells and their names included
    (it named the script `numbers.ipynb.py` and left the cells out), from the same record."""
    done, run_dir = numbers
    assert done.returncode == 0, done.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert RunRecord.from_json(summary).to_json() == summary
    written = (run_dir / "profile_results.txt").read_text(encoding="utf-8")
    again = subprocess.run(
        [sys.executable, "-m", "fixingahole", "report", str(run_dir)],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    assert "by Total Runtime" in written and "numbers.ipynb [cell 2] line 1" in written
    assert (run_dir / "profile_results.txt").read_text(encoding="utf-8") == written


@pytest.mark.smoke
def test_numpy_notebook_is_reported_by_cell(numbers):
    done, run_dir = numbers
    assert done.returncode == 0, done.stderr
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["kind"] == "notebook" and summary["status"] == "ok"
    churn = next(f for f in summary["functions"] if f["name"] == "churn")
    assert churn["location"] == "numbers.ipynb [cell 2] line 1"
    in_churn = [line for line in summary["lines"] if "[cell 2]" in line["location"]]
    hot = max(in_churn, key=lambda line: line["percent"])
    assert hot["location"] == "numbers.ipynb [cell 2] line 4"
    report = (run_dir / "profile_results.txt").read_text()
    stacks = report[report.index("Stack Trace Summary") :]
    assert "numbers.ipynb [cell 3] line 1; <module>" in stacks  # churn's callers, by cell
    folded = (run_dir / "stacks.folded").read_text().splitlines()
    assert any(line.startswith("<module> (numbers.ipynb);churn (numbers.ipynb)") for line in folded)
    assert "numbers.ipynb [cell 2] line 1" in report
    assert "total += float(np.sort(rng.random(20_000)).sum())" in report
    assert "churn" in done.stdout


def test_run_folder_keeps_notebook_and_generated_script(numbers):
    _, run_dir = numbers
    names = {p.name for p in run_dir.iterdir()}
    assert {"numbers.ipynb", "numbers.notebook.py", "cells.json", "profile.json"} <= names


def test_magics_and_shell_escapes_run(root: Path):
    done, run_dir = profile(root, "magics.ipynb")
    assert done.returncode == 0, done.stderr
    assert "from-the-shell" in done.stdout
    assert "files: ['listed']" in done.stdout
    assert "value 1999999000000" in done.stdout
    assert "hidden" not in done.stdout
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "ok"


def test_a_raising_cell_stops_the_run_and_is_named(root: Path):
    done, run_dir = profile(root, "raising.ipynb")
    assert done.returncode == 1
    assert "cell 3, line 2: ZeroDivisionError: division by zero" in done.stderr
    assert "never reached" not in done.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "failed"
    assert summary["error"] == "cell 3, line 2: ZeroDivisionError: division by zero"
    assert any(f["location"] == "raising.ipynb [cell 1] line 1" for f in summary["functions"])


def test_no_plots_notebook_finishes_without_a_window(root: Path):
    done, run_dir = profile(root, "plots.ipynb", "--no-plots")
    assert done.returncode == 0, done.stderr
    assert "plotted" in done.stdout
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["options"]["no_plots"] is True
    assert any("[cell 3]" in line["location"] for line in summary["lines"])
