"""Notebooks: conversion to one script with an exact CellMap, and real runs under Scalene 2.4.

Every notebook is built here with nbformat's v4 API (or the old v1-v3 APIs) in folders whose names
hold spaces and non-ASCII letters. The Scalene runs are shared by module-scoped fixtures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_raw_cell

from fixingahole.errors import UserError
from fixingahole.notebook import Cell, CellMap, convert_notebook, describe_failure
from fixingahole.scalene_output import load_profile

# --- notebooks -----------------------------------------------------------------------------------

NUMPY_CELLS = [
    new_markdown_cell("# Numpy work spread over cells"),
    new_code_cell("import numpy as np\nrng = np.random.default_rng(0)"),
    new_code_cell("a = rng.random((400, 400))\nsquares = [a @ a for _ in range(30)]  # matmul\n"),
    new_raw_cell("raw text, not run"),
    new_code_cell(
        "print('start')\ntotal = sum(i * i for i in range(2_000_000))  # loop\nprint(total)"
    ),
    new_code_cell(""),
    new_code_cell("s = np.sort(rng.random(1_000_000))\nprint('sorted', len(s))"),
]

MAGIC_CELLS = [
    new_code_cell("import numpy as np\n%timeit -n1 -r1 np.arange(10).sum()\nprint('after timeit')"),
    new_code_cell("%%time\nt = sum(range(1000))\nu = t + 1"),
    new_markdown_cell("Jupyter would show the captured output nowhere."),
    new_code_cell("%%capture captured\nprint('inside capture')\nz = 3"),
    new_code_cell(
        "print('later cell sees', u, z, repr(captured.stdout))\n"
        "!echo hi from the shell\n"
        "x = !echo hi\n"
        "print('x =', x)\n"
        "len?"
    ),
    new_code_cell("%unknownmagic foo\n%%nosuchmagic is only a line here"),
    new_code_cell("%%nosuchmagic\nprint('never run')"),
    new_code_cell(
        "%time w = \\\n    2 + 3\nprint('w =', w)\n"
        "work = sum(i * i for i in range(3_000_000))  # after a rewritten magic"
    ),
]

RAISING_CELLS = [
    new_code_cell("import math\n%time values = []"),
    new_code_cell("print('cell 2')\nvalues = [math.sqrt(i) for i in range(2_000_000)]  # hot\n"),
    new_code_cell("print('cell 3 starts')\nratio = len(values) / 0\nprint('after the error')"),
    new_code_cell("print('never printed')"),
]

PLOT_CELLS = [
    new_code_cell("%matplotlib inline\nimport matplotlib\nimport matplotlib.pyplot as plt"),
    new_code_cell(
        "fig, ax = plt.subplots()\nax.plot(range(1000))\nplt.show()\n"
        "print('backend', matplotlib.get_backend())"
    ),
    new_code_cell("work = sum(i * i for i in range(3_000_000))\nprint('done')"),
]


def write_notebook(path: Path, cells: list, **metadata: object) -> Path:
    """A v4 notebook with these cells and a Python kernel (unless metadata says otherwise)."""
    notebook = new_notebook(cells=cells)
    notebook.metadata.update(
        kernelspec={"name": "python3", "display_name": "Python 3", "language": "python"},
        language_info={"name": "python"},
    )
    notebook.metadata.update(metadata)
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose name has a space and non-ASCII letters."""
    path = tmp_path_factory.mktemp("notebooks") / "mes carnets é"
    path.mkdir()
    return path


# --- running under Scalene -----------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """A generated script run under Scalene."""

    cell_map: CellMap
    returncode: int
    stdout: str
    stderr: str
    json_path: Path

    def cpu_by_line(self) -> dict[int, float]:
        """CPU percent of each line of the generated script that has any."""
        profile = load_profile(self.json_path)
        files = [f for f in profile.files if Path(f.path).name == self.cell_map.script.name]
        assert len(files) == 1, [f.path for f in profile.files]
        return {line.lineno: line.percent for line in files[0].lines if line.percent > 0}

    def sources_by_line(self) -> dict[int, str]:
        """Scalene's own text of each line of the generated script."""
        profile = load_profile(self.json_path)
        (file,) = (f for f in profile.files if Path(f.path).name == self.cell_map.script.name)
        return {line.lineno: line.source for line in file.lines}

    def hottest_line(self, cell: int) -> tuple[int, float]:
        """(line in cell, CPU percent) of the cell's line with the most CPU."""
        in_cell = {}
        for lineno, percent in self.cpu_by_line().items():
            found = self.cell_map.locate(lineno)
            if found is not None and found[0].number == cell:
                in_cell[found[1]] = in_cell.get(found[1], 0.0) + percent
        assert in_cell, f"no CPU in cell {cell}: {self.cpu_by_line()}"
        line = max(in_cell, key=in_cell.__getitem__)
        return line, in_cell[line]


def run_under_scalene(folder: Path, name: str, cells: list, **env: str) -> Run:
    """Convert a notebook built from `cells` and run its script with `python -m scalene run`."""
    notebook = write_notebook(folder / f"{name}.ipynb", cells)
    cell_map = convert_notebook(notebook, folder / f"{name}.notebook.py")
    json_path = folder / f"{name} profile.json"
    temp = folder / f"{name} tmp"
    temp.mkdir()
    command = [sys.executable, "-m", "scalene", "run", "--cpu-only", "-o", str(json_path)]
    done = subprocess.run(
        [*command, str(cell_map.script)],
        cwd=folder,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "TMPDIR": str(temp), **env},
    )
    return Run(cell_map, done.returncode, done.stdout, done.stderr, json_path)


def run_with_python(script: Path, *, log_info: bool = False, **env: str):
    """Run a generated script with plain Python (as `__main__`), optionally logging INFO."""
    setup = "import logging; logging.basicConfig(level=logging.INFO); " if log_info else ""
    code = setup + "import runpy, sys; runpy.run_path(sys.argv[1], run_name='__main__')"
    return subprocess.run(
        [sys.executable, "-c", code, str(script)],
        cwd=script.parent,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **env},
    )


@pytest.fixture(scope="module")
def numpy_run(folder: Path) -> Run:
    return run_under_scalene(folder, "numpy work", NUMPY_CELLS)


@pytest.fixture(scope="module")
def magic_run(folder: Path) -> Run:
    return run_under_scalene(folder, "magics ünd escapes", MAGIC_CELLS)


@pytest.fixture(scope="module")
def raising_run(folder: Path) -> Run:
    return run_under_scalene(folder, "raises", RAISING_CELLS)


@pytest.fixture(scope="module")
def plot_run(folder: Path) -> Run:
    return run_under_scalene(
        folder, "plots", PLOT_CELLS, FIXINGAHOLE_NO_PLOTS="1", MPLBACKEND="Agg"
    )


# --- conversion: the CellMap, exactly ------------------------------------------------------------


def test_numpy_notebook_maps_each_code_cell_exactly(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "numpy work.ipynb", NUMPY_CELLS)
    script = tmp_path / "numpy work.notebook.py"
    cell_map = convert_notebook(notebook, script)
    assert cell_map == CellMap(
        notebook=notebook,
        script=script,
        cells=(
            Cell(1, 4, 2, ("import numpy as np", "rng = np.random.default_rng(0)")),
            Cell(
                2,
                8,
                2,
                ("a = rng.random((400, 400))", "squares = [a @ a for _ in range(30)]  # matmul"),
            ),
            Cell(
                3,
                12,
                3,
                (
                    "print('start')",
                    "total = sum(i * i for i in range(2_000_000))  # loop",
                    "print(total)",
                ),
            ),
            Cell(4, 17, 0, ()),
            Cell(5, 19, 2, ("s = np.sort(rng.random(1_000_000))", "print('sorted', len(s))")),
        ),
    )
    lines = script.read_text(encoding="utf-8").splitlines()
    for cell in cell_map.cells:
        assert lines[cell.first_line - 2] == f"# [cell {cell.number}]"
        assert (
            tuple(lines[cell.first_line - 1 : cell.first_line - 1 + cell.line_count]) == cell.source
        )
    assert "_nbshim" not in script.read_text(encoding="utf-8")  # plain Python needs no shell


def test_magics_become_calls_and_rewritten_lines_map_to_their_first_line(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "magics.ipynb", MAGIC_CELLS)
    script = tmp_path / "magics.notebook.py"
    cells = convert_notebook(notebook, script).cells
    assert [(c.number, c.first_line, c.line_count, c.origins) for c in cells] == [
        (1, 6, 3, ()),
        (2, 11, 1, ()),  # the whole %%time cell is one call, on its first line
        (3, 14, 1, ()),
        (4, 17, 5, ()),
        (5, 24, 2, ()),
        (6, 28, 1, ()),
        (7, 31, 3, (1, 3, 4)),  # `%time w = \` and its continuation became one line
    ]
    assert cells[6].source == (
        "%time w = \\",
        "    2 + 3",
        "print('w =', w)",
        "work = sum(i * i for i in range(3_000_000))  # after a rewritten magic",
    )
    lines = script.read_text(encoding="utf-8").splitlines()
    assert lines[1:3] == [
        "if 'get_ipython' not in globals():  # IPython's shell, not in any cell",
        "    from fixingahole._nbshim import start_shell; "
        "get_ipython = start_shell(globals(), (6, 11, 14, 17, 24, 28, 31))",
    ]
    assert (
        lines[10]
        == "get_ipython().run_cell_magic('time', '', 't = sum(range(1000))\\nu = t + 1\\n')"
    )
    assert lines[17:21] == [
        "get_ipython().system('echo hi from the shell')",
        "x = get_ipython().getoutput('echo hi')",
        "print('x =', x)",
        "get_ipython().run_line_magic('pinfo', 'len')",
    ]
    assert lines[30] == "get_ipython().run_line_magic('time', 'w =      2 + 3')"


def test_locate_names_cell_and_line_and_nothing_outside_cells(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "magics.ipynb", MAGIC_CELLS)
    cell_map = convert_notebook(notebook, tmp_path / "magics.notebook.py")
    located = {
        line: (found[0].number, found[1])
        for line in range(-1, 40)
        if (found := cell_map.locate(line)) is not None
    }
    assert located == {
        6: (1, 1), 7: (1, 2), 8: (1, 3),
        11: (2, 1),
        14: (3, 1),
        17: (4, 1), 18: (4, 2), 19: (4, 3), 20: (4, 4), 21: (4, 5),
        24: (5, 1), 25: (5, 2),
        28: (6, 1),
        31: (7, 1), 32: (7, 3), 33: (7, 4),
    }  # fmt: skip


def test_cell_map_round_trips_through_json_text(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "magics.ipynb", MAGIC_CELLS)
    cell_map = convert_notebook(notebook, tmp_path / "magics.notebook.py")
    data = json.loads(json.dumps(cell_map.to_json()))
    assert data["cells"][6]["origins"] == [1, 3, 4]
    assert "origins" not in data["cells"][0]  # one-to-one cells store no origins
    assert CellMap.from_json(data) == cell_map


def test_a_broken_cells_json_is_a_user_error() -> None:
    with pytest.raises(UserError, match="not a cell map written by fixing-a-hole"):
        CellMap.from_json({"notebook": "a.ipynb", "script": "a.py", "cells": [{"number": 1}]})


def test_string_and_list_sources_and_crlf_give_the_same_cells(tmp_path: Path) -> None:
    def notebook_json(sources: list) -> str:
        cells = [
            {
                "cell_type": "code",
                "execution_count": None,
                "metadata": {},
                "outputs": [],
                "source": s,
            }
            for s in sources
        ]
        return json.dumps({"nbformat": 4, "nbformat_minor": 2, "metadata": {}, "cells": cells})

    as_lists = tmp_path / "lists.ipynb"
    as_lists.write_text(notebook_json([["x = 1\n", "y = 2\n"], ["!echo hi\n", "print(x)"]]))
    as_strings = tmp_path / "strings.ipynb"
    as_strings.write_text(notebook_json(["x = 1\r\ny = 2\r\n", "!echo hi\nprint(x)"]))
    from_lists = convert_notebook(as_lists, tmp_path / "lists.py").cells
    from_strings = convert_notebook(as_strings, tmp_path / "strings.py").cells
    assert from_lists == from_strings
    assert [c.source for c in from_lists] == [("x = 1", "y = 2"), ("!echo hi", "print(x)")]


def test_the_notebook_is_never_modified(tmp_path: Path) -> None:
    notebook = write_notebook(tmp_path / "magics.ipynb", MAGIC_CELLS)
    before = notebook.read_bytes(), notebook.stat().st_mtime_ns
    convert_notebook(notebook, tmp_path / "magics.notebook.py")
    assert (notebook.read_bytes(), notebook.stat().st_mtime_ns) == before


@pytest.mark.parametrize("version", [1, 2, 3])
def test_old_nbformat_versions_are_converted(tmp_path: Path, version: int) -> None:
    if version == 3:
        from nbformat import v3

        cells = [v3.new_code_cell(input="x = 1\nprint(x)"), v3.new_text_cell("markdown", "hi")]
        old = v3.new_notebook(worksheets=[v3.new_worksheet(cells=cells)])
        text = nbformat.writes(old, version=3)
    elif version == 2:
        from nbformat import v2

        cells = [v2.new_code_cell(input="x = 1\nprint(x)"), v2.new_text_cell("markdown", "hi")]
        text = v2.nbjson.writes(v2.new_notebook(worksheets=[v2.new_worksheet(cells=cells)]))
    else:
        from nbformat import v1

        cells = [v1.new_code_cell(code="x = 1\nprint(x)"), v1.new_text_cell(text="hi")]
        text = json.dumps(v1.new_notebook(cells=cells))
    notebook = tmp_path / f"v{version}.ipynb"
    notebook.write_text(text)
    cell_map = convert_notebook(notebook, tmp_path / f"v{version}.py")
    assert cell_map.cells == (Cell(1, 4, 2, ("x = 1", "print(x)")),)


# --- bad notebooks -------------------------------------------------------------------------------


def _python_notebook(cells: list) -> str:
    notebook = new_notebook(cells=cells)
    return nbformat.writes(notebook)


def _kernel_notebook(**metadata: object) -> str:
    notebook = new_notebook(cells=[new_code_cell("x <- 1")])
    notebook.metadata.update(metadata)
    return nbformat.writes(notebook)


BAD_NOTEBOOKS = {
    "invalid JSON": ('{"cells": [', "not valid JSON (Expecting value at line 1, column 12)"),
    "a JSON list": ("[1, 2]", "not a Jupyter notebook"),
    "a JSON object of something else": ('{"name": "x"}', "not a Jupyter notebook"),
    "an R kernel": (
        _kernel_notebook(kernelspec={"name": "ir", "display_name": "R", "language": "R"}),
        "its kernel runs R (metadata kernelspec.language); only Python notebooks",
    ),
    "a Julia language": (
        _kernel_notebook(language_info={"name": "julia"}),
        "its kernel runs julia (metadata language_info.name)",
    ),
    "no code cells": (
        _python_notebook([new_markdown_cell("# only words"), new_raw_cell("raw")]),
        "has no code cells",
    ),
    "an nbformat from the future": (
        '{"nbformat": 5, "nbformat_minor": 0, "cells": []}',
        "Unsupported nbformat version 5",
    ),
    "a v4 notebook without metadata": (
        '{"nbformat": 4, "nbformat_minor": 5, "cells": []}',
        "not a notebook nbformat can read",
    ),
    "a syntax error": (
        _python_notebook([new_code_cell("x = 1"), new_code_cell("%time y = 2\ny = (\n")]),
        "cell 2, line 2: SyntaxError: '(' was never closed; fix the cell",
    ),
    "a future import after the first cell": (
        _python_notebook(
            [new_code_cell("x = 1"), new_code_cell("from __future__ import annotations")]
        ),
        "cell 2, line 1: SyntaxError: from __future__ imports must occur at the beginning",
    ),
}


@pytest.mark.parametrize("case", list(BAD_NOTEBOOKS))
def test_bad_notebooks_are_one_line_user_errors(tmp_path: Path, case: str) -> None:
    text, expected = BAD_NOTEBOOKS[case]
    notebook = tmp_path / "bad é.ipynb"
    notebook.write_text(text, encoding="utf-8")
    script = tmp_path / "bad é.notebook.py"
    with pytest.raises(UserError) as raised:
        convert_notebook(notebook, script)
    message = str(raised.value)
    assert expected in message
    assert message.startswith(str(notebook)) and "\n" not in message
    assert not script.exists()


def test_a_missing_notebook_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="no such notebook; check the path"):
        convert_notebook(tmp_path / "nowhere.ipynb", tmp_path / "nowhere.py")


# --- the shim, under plain Python ----------------------------------------------------------------


def test_a_notebook_without_ipython_syntax_never_imports_ipython(tmp_path: Path) -> None:
    cells = [
        new_code_cell("import sys\nx = 2"),
        new_code_cell("print('IPython' in sys.modules, x)"),
    ]
    notebook = write_notebook(tmp_path / "plain.ipynb", cells)
    done = run_with_python(convert_notebook(notebook, tmp_path / "plain.notebook.py").script)
    assert (done.returncode, done.stdout) == (0, "False 2\n"), done.stderr


def test_inline_figures_and_display_run_without_a_kernel(tmp_path: Path) -> None:
    cells = [PLOT_CELLS[0], new_code_cell("plt.plot([1, 2])\nplt.show()\ndisplay('shown')")]
    notebook = write_notebook(tmp_path / "inline.ipynb", cells)
    done = run_with_python(convert_notebook(notebook, tmp_path / "inline.notebook.py").script)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["<Figure size 640x480 with 1 Axes>", "'shown'"]


def test_no_plots_skips_matplotlib_magic_and_logs_the_cell(tmp_path: Path) -> None:
    cells = [new_code_cell("x = 1"), *PLOT_CELLS[:2]]
    notebook = write_notebook(tmp_path / "no plots.ipynb", cells)
    script = convert_notebook(notebook, tmp_path / "no plots.notebook.py").script
    done = run_with_python(script, log_info=True, FIXINGAHOLE_NO_PLOTS="1", MPLBACKEND="Agg")
    assert done.returncode == 0, done.stderr
    assert done.stdout.lower() == "backend agg\n"
    assert (
        "INFO:fixingahole.notebook:cell 2: skipped %matplotlib inline (--no-plots)" in done.stderr
    )


def test_describe_failure_reads_chained_and_library_tracebacks(tmp_path: Path) -> None:
    cells = [
        new_code_cell("import json\ndata = {}"),
        new_code_cell("try:\n    data['missing']\nexcept KeyError:\n    json.loads('{')"),
    ]
    notebook = write_notebook(tmp_path / "chained.ipynb", cells)
    cell_map = convert_notebook(notebook, tmp_path / "chained.notebook.py")
    done = run_with_python(cell_map.script)
    assert done.returncode == 1
    assert "During handling of the above exception" in done.stderr
    assert describe_failure(cell_map, done.stderr) == (
        "cell 2, line 4: json.decoder.JSONDecodeError: "
        "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    )
    assert (
        describe_failure(cell_map, "Traceback (most recent call last):\nKeyboardInterrupt") is None
    )


# --- real runs under Scalene ---------------------------------------------------------------------


@pytest.mark.integration
def test_numpy_hot_lines_map_to_their_cells(numpy_run: Run) -> None:
    assert numpy_run.returncode == 0, numpy_run.stderr
    assert "sorted 1000000" in numpy_run.stdout
    matmul_line, matmul_percent = numpy_run.hottest_line(2)
    loop_line, loop_percent = numpy_run.hottest_line(3)
    assert (matmul_line, loop_line) == (2, 2)
    assert matmul_percent > 5 and loop_percent > 5


@pytest.mark.integration
def test_scalene_sees_the_cells_own_lines_where_locate_points(numpy_run: Run) -> None:
    sources = numpy_run.sources_by_line()
    checked = 0
    for lineno in numpy_run.cpu_by_line():
        found = numpy_run.cell_map.locate(lineno)
        assert found is not None, lineno  # no time outside the cells: no shell was started
        cell, line = found
        assert sources[lineno].rstrip("\n") == cell.source[line - 1]
        checked += 1
    assert checked >= 3


@pytest.mark.integration
def test_magics_and_shell_escapes_run_and_share_the_scripts_globals(magic_run: Run) -> None:
    assert magic_run.returncode == 0, magic_run.stderr
    out = magic_run.stdout
    assert "per loop (mean ± std. dev. of 1 run, 1 loop each)" in out  # %timeit
    assert "after timeit" in out
    assert "CPU times:" in out and "Wall time:" in out  # %%time
    assert "inside capture" not in out.replace("'inside capture\\n'", "")  # %%capture held it
    assert "later cell sees 499501 3 'inside capture\\n'" in out
    assert "hi from the shell" in out
    assert "x = ['hi']" in out
    assert "Return the number of items in a container." not in out  # len? is skipped
    assert "\x1b[" not in out  # no terminal colours in files
    assert "w = 5" in out
    assert "never run" not in out


@pytest.mark.integration
def test_what_cannot_run_outside_jupyter_is_skipped_with_a_warning(magic_run: Run) -> None:
    warnings = [line for line in magic_run.stderr.splitlines() if "skipped" in line]
    assert warnings == [
        "cell 4: skipped len?: it needs an interactive session",
        "cell 5: skipped %unknownmagic foo: Line magic function `%unknownmagic` not found.",
        "cell 5: skipped %%nosuchmagic is only a line here: Line magic function "
        "`%%nosuchmagic` not found.",
        "cell 6: skipped %%nosuchmagic: Cell magic `%%nosuchmagic` not found.",
    ]


@pytest.mark.integration
def test_a_line_after_a_rewritten_magic_still_maps_exactly(magic_run: Run) -> None:
    line, percent = magic_run.hottest_line(7)
    assert line == 4 and percent > 5
    assert magic_run.cell_map.locate(3) is None  # the shell's start-up is outside every cell


@pytest.mark.integration
def test_a_raising_cell_stops_the_run_and_is_named(raising_run: Run) -> None:
    assert raising_run.returncode != 0
    assert "cell 3 starts" in raising_run.stdout
    assert "after the error" not in raising_run.stdout
    assert "never printed" not in raising_run.stdout
    assert describe_failure(raising_run.cell_map, raising_run.stderr) == (
        "cell 3, line 2: ZeroDivisionError: division by zero"
    )


@pytest.mark.integration
def test_the_cells_before_the_failure_are_in_the_profile(raising_run: Run) -> None:
    line, percent = raising_run.hottest_line(2)
    assert line == 2 and percent > 5


@pytest.mark.integration
def test_plots_with_no_plots_do_not_block_or_fail(plot_run: Run) -> None:
    assert plot_run.returncode == 0, plot_run.stderr
    assert plot_run.stdout.lower().splitlines() == ["backend agg", "done"]
    line, percent = plot_run.hottest_line(3)
    assert line == 1 and percent > 5
