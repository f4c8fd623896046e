"""Start-up: `fixingahole --help` and `fixingahole profile --help` (issue 6, budget 2).

Each is run as `python -m fixingahole ...` with this interpreter, and `--help` also through the
console script installed beside it (`bin/fixingahole`, what `pyenv which fixingahole` names; the
pyenv shim on PATH adds about 0.3 s of its own and is left out), stdout discarded. The commands
alternate; the median and range of the runs are reported next to `python -c pass` (the
interpreter's own start-up, which no command can go under). Budget: under 0.25 s each.

A second check: after `import fixingahole.cli` and `build_parser()` in a fresh interpreter,
none of pandas, pyarrow, nbconvert, nbformat, IPython, joblib, tabulate, jinja2, plotly,
matplotlib, dask, distributed or invoke is in sys.modules (they belong on the paths that use them).
`python -X importtime` lists the slowest imports.

    python benchmarks/bench_startup.py            # 15 runs of each
    python benchmarks/bench_startup.py --quick    # 5 runs of each

Last line: `help_s=0.11 profile_help_s=0.12 heavy_modules=0`.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from _common import FIXINGAHOLE, figure_line, run_timed, spread

HEAVY = (
    "pandas",
    "pyarrow",
    "nbconvert",
    "nbformat",
    "IPython",
    "joblib",
    "tabulate",
    "jinja2",
    "plotly",
    "matplotlib",
    *("dask", "distributed"),  # only profile-all --scheduler (issue 17)
    "invoke",  # only the invoke tasks (tasks.py)
)
PROBE = """
import json, sys
import fixingahole.cli
fixingahole.cli.build_parser()
print(json.dumps(sorted(sys.modules)))
"""


def loaded_after_parser() -> list[str]:
    """Every module in sys.modules of a fresh interpreter once the parser is built."""
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def slowest_imports(count: int = 8) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest top-level imports of the CLI."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", PROBE],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if cumulative.strip().isdigit() and not name.startswith("   "):  # top level only
            rows.append((int(cumulative), name.strip()))
    return sorted(rows, reverse=True)[:count]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 runs of each instead of 15")
    args = parser.parse_args(argv)
    runs = 5 if args.quick else 15
    cwd = Path.cwd()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "fixingahole --help": [*FIXINGAHOLE, "--help"],
        "fixingahole profile --help": [*FIXINGAHOLE, "profile", "--help"],
    }
    entry_point = Path(sys.executable).with_name("fixingahole")
    if entry_point.is_file():
        commands["bin/fixingahole --help"] = [str(entry_point), "--help"]
    for argv in commands.values():  # warm the file cache and the bytecode
        run_timed(argv, cwd, tmp=False)
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(runs):
        for name, argv in commands.items():
            times[name].append(run_timed(argv, cwd, tmp=False))
    for name, values in times.items():
        print(f"{name:28} {spread(values)}")

    modules = loaded_after_parser()
    heavy = [name for name in HEAVY if name in modules]
    print(f"after import fixingahole.cli + build_parser: {len(modules)} modules in sys.modules")
    print(f"heavy libraries loaded: {', '.join(heavy) if heavy else 'none'}")
    print("slowest top-level imports (cumulative):")
    for micros, name in slowest_imports():
        print(f"  {micros / 1000:7.1f} ms  {name}")
    print("budget: each --help under 0.25 s; no heavy library imported")
    figures = {
        "help_s": statistics.median(times["fixingahole --help"]),
        "profile_help_s": statistics.median(times["fixingahole profile --help"]),
        **(
            {"entry_help_s": statistics.median(times["bin/fixingahole --help"])}
            if "bin/fixingahole --help" in times
            else {}
        ),
        "python_s": statistics.median(times["python -c pass"]),
        "heavy_modules": len(heavy),
    }
    print(figure_line(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
