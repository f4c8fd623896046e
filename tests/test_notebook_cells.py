"""Notebooks through real Scalene: the harness outside the profile, cells as the report's unit.

The notebooks here are written in the manner of a data-science handbook's chapters (arrays and
ufuncs, aggregates, sorting, pandas `eval`/`query`, line plots), with the magics such chapters use.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

pytestmark = pytest.mark.integration  # real Scalene on notebooks

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "analysis.ipynb"

SIX_SMALL_CELLS = [
    "%matplotlib inline",
    "import numpy as np\nimport matplotlib.pyplot as plt",
    "xs = np.linspace(0.0, 1.0, 200_000)",
    "def smooth(v):\n    return np.convolve(v, np.ones(64) / 64, mode='same')",
    "ys = [smooth(xs).sum() for _ in range(60)]",
    "print(len(ys), round(max(ys)))",
]
# Cell 4 is the slow one (it runs cell 2's function); cell 3 holds the memory.
KNOWN_SLOW = [
    "import numpy as np",
    "def churn(n):\n"
    "    total = 0.0\n"
    "    for _ in range(n):\n"
    "        total += float(np.sort(np.random.random(20_000)).sum())\n"
    "    return total",
    "block = np.ones((2_500, 2_500))",
    "result = churn(1500)",
    "print('done', round(result) > 0, block.shape)",
]
INSERTED = "warm = sorted(range(300_000), key=lambda v: -v)"
ARRAYS_CHAPTER = [
    "import numpy as np\nrng = np.random.default_rng(1)",
    "values = rng.integers(1, 10, size=5)\nnp.reciprocal(values.astype(float))",
    "big = rng.integers(1, 100, size=200_000)\n%timeit -n2 -r2 1.0 / big",
    "%%timeit -n1 -r2\nslow_total = 0.0\nfor v in big[:10_000]:\n    slow_total += 1.0 / v",
    "x = np.arange(1, 6)\nnp.add.reduce(x), np.multiply.accumulate(x), np.add.outer(x, x)",
    "data = rng.random(300_000)\nprint(data.sum(), data.min(), data.max())\n"
    "%timeit -n2 -r2 np.sum(data)",
    "np.sum?",
    "def selection_sort(a):\n"
    "    for i in range(len(a)):\n"
    "        swap = i + np.argmin(a[i:])\n"
    "        a[i], a[swap] = a[swap], a[i]\n"
    "    return a\n"
    "ordered = selection_sort(rng.integers(0, 1000, 300))",
    "print(np.sort(rng.random(100_000))[:2], np.partition(rng.random(50), 3)[:3])",
    "import pandas as pd\n"
    "df = pd.DataFrame(rng.random((20_000, 3)), columns=list('abc'))\n"
    "ratio = df.eval('(a + b) / (c + 1)')\n"
    "subset = df.query('a < 0.5 and b < 0.5')\n"
    "print('rows', len(subset), round(float(ratio.mean()), 1))",
    "%matplotlib inline\n"
    "import matplotlib.pyplot as plt\n"
    "grid = np.linspace(0, 10, 1000)\n"
    "fig = plt.figure()\n"
    "plt.plot(grid, np.sin(grid), '-')\n"
    "plt.plot(grid, np.cos(grid), '--');",
    "%who",
    "%history -n 3",
    "%run helper.py",
    "print('end of chapter')",
]


def notebook(path: Path, cells: list[str]) -> Path:
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Py"}
    nb.cells = [new_markdown_cell("# a chapter")] + [new_code_cell(c) for c in cells]
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path


def fixingahole(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fixingahole", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "MPLBACKEND": "", **env},
    )


def newest_run(output: Path, entry: str) -> Path:
    return sorted((output / entry).iterdir())[-1]


def summary_of(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


def outside_cells(summary: dict) -> float:
    """Percent of the notebook's line time on lines in no cell (the generated header)."""
    return sum(
        line["percent"] for line in summary["lines"] if "[generated line" in line["location"]
    )


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("chapters") / "cahier d'été"
    folder.mkdir(parents=True)
    (folder / "pyproject.toml").write_text("[tool.fixingahole]\n")
    shutil.copy(EXAMPLE, folder / "analysis.ipynb")
    notebook(folder / "six.ipynb", SIX_SMALL_CELLS)
    notebook(folder / "known.ipynb", KNOWN_SLOW)
    notebook(folder / "arrays.ipynb", ARRAYS_CHAPTER)
    needs = ["import os\nprint('cwd', os.getcwd())", "import seaborn as sns", "print('never')"]
    notebook(folder / "chapters" / "needs.ipynb", needs)
    (folder / "helper.py").write_text("print('helper ran')\n")
    where = ["import os\nprint('cwd', os.getcwd())", "busy = sum(i * i for i in range(6_000_000))"]
    notebook(folder / "chapters" / "where.ipynb", where)
    (folder / "data").mkdir()
    (folder / "profiles.toml").write_text(
        '[profiles.where]\npath = "chapters/where.ipynb"\ncwd = "data"\n'
    )
    return folder


@pytest.mark.slow
def test_the_example_notebook_spends_its_time_in_cells(root: Path) -> None:
    # as in an activated virtualenv, where IPython used to warn (Scalene runs the script
    # through a wrapper, not the virtualenv's python)
    done = fixingahole(root, "profile", "analysis.ipynb", "--no-plots", VIRTUAL_ENV=sys.prefix)
    assert done.returncode == 0, done.stderr
    summary = summary_of(newest_run(root / "performance", "analysis"))
    assert outside_cells(summary) < 1.0, summary["lines"]
    # every sample is in some cell: the cells add up to the whole notebook
    assert sum(cell["percent"] for cell in summary["cells"]) == pytest.approx(100, abs=1.0)
    assert summary["log_counts"] == {}, done.stderr  # IPython's virtualenv warning is not yours
    assert "virtualenv" not in done.stderr


@pytest.mark.slow
def test_six_small_cells_outside_the_root_keep_the_import_on_its_line(
    root: Path, tmp_path: Path
) -> None:
    output = tmp_path / "elsewhere"
    done = fixingahole(root, "profile", "six.ipynb", "--no-plots", "--output", str(output))
    assert done.returncode == 0, done.stderr
    summary = summary_of(newest_run(output, "six"))
    assert summary["status"] == "ok"  # was no-samples: the script lived outside the root
    assert outside_cells(summary) < 1.0
    cells = {cell["cell"]: cell for cell in summary["cells"]}
    assert cells[1]["first_line"] == "%matplotlib inline"
    assert cells[1]["percent"] < 2.0
    lines = {line["location"]: line["percent"] for line in summary["lines"]}
    magic = lines.get("six.ipynb [cell 1] line 1", 0.0)
    imports = sum(share for place, share in lines.items() if place.startswith("six.ipynb [cell 2]"))
    assert magic < 2.0, lines  # the skipped magic's line is not charged with the next imports
    assert imports > 10 * max(magic, 0.1), lines


@pytest.fixture(scope="module")
def known(root: Path) -> tuple[subprocess.CompletedProcess, Path]:
    done = fixingahole(root, "profile", "known.ipynb", "--memory")
    return done, newest_run(root / "performance", "known")


@pytest.mark.slow
def test_the_cells_section_names_the_slow_cell_and_the_memory_cell(known) -> None:
    done, run_dir = known
    assert done.returncode == 0, done.stderr
    report = (run_dir / "profile_results.txt").read_text()
    runtime = report.index("Cells by Total Runtime")
    memory = report.index(" by Memory Usage (peak)", runtime)
    assert runtime < memory < report.index("Function by Total Runtime")
    first = report[runtime:].splitlines()[2]
    assert first.split()[:3] == ["1.", "cell", "4"] and first.endswith("result = churn(1500)")
    top_memory = report[memory:].splitlines()[2]
    assert top_memory.split()[:3] == ["1.", "cell", "3"]
    assert "Cells by Total Runtime" in done.stdout  # the terminal summary opens with it too


@pytest.mark.slow
def test_summary_cells_add_up_and_carry_their_lines(known) -> None:
    _, run_dir = known
    summary = summary_of(run_dir)
    cells = summary["cells"]
    assert [cell["cell"] for cell in cells] == [1, 2, 3, 4, 5]
    assert cells[3]["first_line"] == "result = churn(1500)"
    assert max(cells, key=lambda c: c["percent"])["cell"] == 4
    assert max(cells, key=lambda c: c["peak_mb"])["cell"] == 3
    assert cells[2]["peak_mb"] > 40 and cells[2]["malloc_mb"] >= cells[2]["peak_mb"] * 0.9
    total = sum(cell["percent"] for cell in cells)
    assert total == pytest.approx(100, abs=1.0)  # all the notebook's code is in its cells
    assert sum(c["seconds"] for c in cells) == pytest.approx(
        total / 100 * summary["elapsed_s"], rel=0.01
    )
    churn_lines = {line["line"] for line in cells[1]["lines"]}
    assert 4 in churn_lines  # the hot loop line is cell 2's, where churn is written
    assert all(line["location"].startswith("known.ipynb [cell 2]") for line in cells[1]["lines"])
    assert len({cell["hash"] for cell in cells}) == 5


@pytest.mark.slow
def test_compare_matches_cells_by_source_across_an_inserted_cell(root: Path, known) -> None:
    _, first = known
    nb = nbformat.read(root / "known.ipynb", as_version=4)
    nb.cells.insert(2, new_code_cell(INSERTED))  # after the markdown cell and cell 1
    nb.cells[-1].source = "print('finished', block.shape)"
    nbformat.write(nb, root / "known.ipynb")
    done = fixingahole(root, "profile", "known.ipynb", "--memory")
    assert done.returncode == 0, done.stderr
    second = newest_run(root / "performance", "known")
    ids = [f"known/{first.name}", f"known/{second.name}"]
    compared = fixingahole(root, "compare", *ids, "--all", "--format", "json")
    assert compared.returncode == 0, compared.stderr
    (entry,) = json.loads(compared.stdout)["entries"]
    pairs = [(c["cell_a"], c["cell_b"], c["status"]) for c in entry["cells"]]
    assert pairs == [
        (1, 1, "same"),
        (None, 2, "new"),
        (2, 3, "same"),
        (3, 4, "same"),
        (4, 5, "same"),
        (5, 6, "changed"),
    ]
    slow = entry["cells"][4]
    assert slow["first_line"] == "result = churn(1500)" and slow["seconds_a"] > 0
    assert slow["seconds_b"] > 0
    text = fixingahole(root, "compare", *ids, "--all").stdout
    assert "cells, matched by their source" in text


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["cpu", "memory"])
def test_a_handbook_chapter_runs_to_the_end(root: Path, mode: str) -> None:
    args = ["profile", "arrays.ipynb", "--no-plots", *(["--memory"] if mode == "memory" else [])]
    done = fixingahole(root, *args)
    assert done.returncode == 0, done.stderr
    run_dir = newest_run(root / "performance", "arrays")
    summary = summary_of(run_dir)
    assert summary["status"] == "ok"
    assert "end of chapter" in done.stdout and "rows" in done.stdout
    assert "per loop" in done.stdout  # %timeit and %%timeit ran
    assert "helper ran" not in done.stdout  # %run is skipped
    logs = (run_dir / "logs.log").read_text()
    for cell, what in ((7, "np.sum?"), (12, "%who"), (13, "%history -n 3"), (14, "%run helper.py")):
        assert f"arrays.ipynb [cell {cell}] line 1\tcell {cell}: skipped {what}" in logs
    assert summary["log_counts"] == {"WARNING": 4}
    assert len(summary["cells"]) == len(ARRAYS_CHAPTER)


@pytest.mark.slow
def test_a_missing_package_fails_in_the_users_cell_in_the_notebooks_folder(root: Path) -> None:
    done = fixingahole(root, "profile", "chapters/needs.ipynb")
    assert done.returncode == 1
    assert f"cwd {root / 'chapters'}" in done.stdout.splitlines()  # as Jupyter runs it
    summary = summary_of(newest_run(root / "performance", "needs"))
    assert summary["status"] == "failed"
    assert summary["error"] == "cell 2, line 1: ModuleNotFoundError: No module named 'seaborn'"


@pytest.mark.slow
def test_the_manifest_cwd_overrides_the_notebooks_folder(root: Path) -> None:
    done = fixingahole(root, "profile-all", "--only", "where")
    assert done.returncode == 0, done.stderr
    output = (newest_run(root / "performance", "where") / "stdout.txt").read_text()
    assert f"cwd {root / 'data'}" in output.splitlines()  # a batch keeps the output there


@pytest.mark.slow
def test_in_a_script_too_an_import_is_not_charged_to_the_call_before_it(root: Path) -> None:
    script = root / "imports.py"
    script.write_text(
        "size = len('abc')\n"
        "import numpy as np\n"
        "import matplotlib.pyplot as plt\n"
        "total = sum(float(np.sort(np.random.random(5_000)).sum()) for _ in range(3_000))\n"
    )
    done = fixingahole(root, "profile", "imports.py")
    assert done.returncode == 0, done.stderr
    lines = {
        line["lineno"]: line["percent"]
        for line in summary_of(newest_run(root / "performance", "imports"))["lines"]
    }
    assert lines.get(1, 0.0) < 2.0, lines  # Scalene moved the imports' native time here
    imports = lines.get(2, 0.0) + lines.get(3, 0.0)
    assert imports > 10 * max(lines.get(1, 0.0), 0.1), lines
