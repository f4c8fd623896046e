"""How much of a notebook's profile lands outside its cells (the harness, measured as the notebook).

Profiles `examples/analysis.ipynb` and a notebook of six small cells (`%matplotlib inline`, then
`import numpy`, then a little work) N times each, alternating, with the interpreter running this
file, and prints per run and as medians:

- `outside_pct`: percent of Scalene's samples on lines of the generated script that are in no
  cell (IPython's shell starting, before issue 12: 40-65%);
- `magic_pct`: the six-cell notebook's `%matplotlib inline` line (skipped under --no-plots, so
  it costs nothing; before issue 12 the next cell's import was charged to it).

Runs that do not end `ok` are counted as failures. It reads only `summary.json["lines"]`, so it
also measures a fixing-a-hole from before the fix (run it with that installation's interpreter).

    python benchmarks/bench_notebook.py            # 5 runs of each
    python benchmarks/bench_notebook.py --quick    # 2 runs of each
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import nbformat
from _common import FIXINGAHOLE, figure_line
from nbformat.v4 import new_code_cell, new_notebook

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "analysis.ipynb"
SIX_CELLS = [
    "%matplotlib inline",
    "import numpy as np",
    "xs = np.linspace(0.0, 1.0, 200_000)",
    "def smooth(v):\n    return np.convolve(v, np.ones(64) / 64, mode='same')",
    "ys = [smooth(xs).sum() for _ in range(60)]",
    "print(len(ys))",
]


def profile(root: Path, name: str) -> tuple[dict | None, str]:
    """The summary of one `--no-plots` profile of `name` (None when it did not end ok) and,
    when it did not, why."""
    done = subprocess.run(
        [*FIXINGAHOLE, "profile", name, "--no-plots"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    folder = root / "performance" / Path(name).stem
    if not folder.is_dir():
        return None, f"no run folder (exit {done.returncode}): {done.stderr.strip()[-300:]}"
    summary = json.loads((sorted(folder.iterdir())[-1] / "summary.json").read_text())
    if summary["status"] != "ok":
        return None, f"{summary['status']}: {summary['error']}"
    return summary, ""


def spread(values: list[float]) -> str:
    """`median (min-max, n=k)` of percentages."""
    if not values:
        return "no runs"
    return (
        f"{statistics.median(values):.2f}% ({min(values):.2f}-{max(values):.2f}, n={len(values)})"
    )


def percent(summary: dict, where: str) -> float:
    return sum(line["percent"] for line in summary["lines"] if where in line["location"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 runs of each notebook")
    runs = 2 if parser.parse_args().quick else 5
    root = Path(tempfile.mkdtemp(prefix="fixingahole-notebook-"))
    try:
        (root / "pyproject.toml").write_text("[tool.fixingahole]\n")
        shutil.copy(EXAMPLE, root / "analysis.ipynb")
        nbformat.write(
            new_notebook(cells=[new_code_cell(c) for c in SIX_CELLS]), root / "six.ipynb"
        )
        outside: dict[str, list[float]] = {"analysis": [], "six": []}
        magic: list[float] = []
        failures = 0
        for index in range(runs):
            for name in ("analysis.ipynb", "six.ipynb"):
                summary, why = profile(root, name)
                if summary is None:
                    failures += 1
                    print(f"  {index + 1}/{runs} {name}: {why}")
                    continue
                share = percent(summary, "[generated line")
                outside[Path(name).stem].append(share)
                line = f"  {index + 1}/{runs} {name}: outside cells {share:.2f}%"
                if name == "six.ipynb":
                    magic.append(percent(summary, "[cell 1] line 1"))
                    line += f", %matplotlib inline {magic[-1]:.2f}%"
                print(line, flush=True)
        for stem, values in outside.items():
            print(f"{stem}: outside cells {spread(values)}")
        print(f"six: %matplotlib inline {spread(magic)}; runs not ok: {failures}")
        figures = {
            "nb_outside_pct": statistics.median(outside["analysis"] or [float("nan")]),
            "nb_outside_max_pct": max(outside["analysis"] or [float("nan")]),
            "six_outside_pct": statistics.median(outside["six"] or [float("nan")]),
            "six_outside_max_pct": max(outside["six"] or [float("nan")]),
            "magic_pct": statistics.median(magic or [float("nan")]),
            "failures": failures,
        }
        print(figure_line(figures))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
