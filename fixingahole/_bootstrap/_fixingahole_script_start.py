"""The profiled script's start, as seen from inside the Scalene process (used by sitecustomize).

Driven by environment variables the runner sets:

- FIXINGAHOLE_SCRIPT: the script's absolute path, as Scalene compiles it (a notebook's code runs
  under FIXINGAHOLE_NOTEBOOK_FILENAME instead; either name marks the start).
- FIXINGAHOLE_STARTED: a file created when the script's first line is about to run, so that the
  runner can tell a failure of Scalene's start-up from one of the script.
- FIXINGAHOLE_PATH_FIRST: the folder the script's imports search first (a notebook's folder); by
  default the script's own, as plain Python does.

`python -m scalene` puts the working directory first on sys.path, so a user's `rich.py` there would
be imported by Scalene in place of its own `rich` (`'rich' is not a package`). While Scalene starts
that entry is taken out; when the script starts, its folder comes first, as under plain Python, and
the third-party top-level modules Scalene loaded that a module of that folder shadows are taken out
of `sys.modules` (Scalene keeps its references to them), so the script imports its own.
"""

from __future__ import annotations

import os
import sys

# Scalene imports itself and standard modules (`random`, `resource`) again while it runs, inside
# its signal handlers: those stay Scalene's.
KEEP = frozenset({"scalene", "sitecustomize", *sys.stdlib_module_names})


def install(loaded_at_start: frozenset[str]) -> None:
    """Watch for the script's start; `loaded_at_start`: sys.modules before Scalene's imports."""
    script = os.environ.get("FIXINGAHOLE_SCRIPT")
    if not script or sys.orig_argv[1:3] != ["-m", "scalene"]:
        return
    _start_scalene_clean()
    marker = os.environ.get("FIXINGAHOLE_STARTED")
    first = os.environ.get("FIXINGAHOLE_PATH_FIRST") or os.path.dirname(script)
    names = {script, os.environ.get("FIXINGAHOLE_NOTEBOOK_FILENAME") or script}
    started: list[bool] = []

    def hook(event: str, args: tuple[object, ...]) -> None:
        if event != "exec" or started or getattr(args[0], "co_filename", None) not in names:
            return
        started.append(True)
        for name in ("FIXINGAHOLE_SCRIPT", "FIXINGAHOLE_STARTED", "FIXINGAHOLE_PATH_FIRST"):
            os.environ.pop(name, None)  # the script's own Python processes are not this one
        try:
            if marker:
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT, 0o644))
            _put_first(first, loaded_at_start)
        except Exception:
            pass  # the script runs as it would have before

    sys.addaudithook(hook)


def _start_scalene_clean() -> None:
    """Keep the working directory, which `-m` puts first on sys.path, out of Scalene's start."""
    import runpy

    # `python -m`'s entry point: private, so typeshed does not declare it.
    run_module_as_main = runpy._run_module_as_main  # type: ignore[attr-defined]

    def run_without_cwd(mod_name: str, alter_argv: bool = True) -> object:
        if sys.path and sys.path[0] in ("", os.getcwd()):
            del sys.path[0]
        return run_module_as_main(mod_name, alter_argv)

    runpy._run_module_as_main = run_without_cwd  # type: ignore[attr-defined]


def _put_first(folder: str, loaded_at_start: frozenset[str]) -> None:
    """The script's imports search `folder` first and find its modules there, as plain Python's."""
    sys.path[:] = [folder, *(p for p in sys.path if p != folder)]
    kept = loaded_at_start | KEEP
    for name in [n for n in _module_names(folder) if n in sys.modules and n not in kept]:
        origin = getattr(sys.modules[name], "__file__", None) or ""
        if not origin.startswith(os.path.join(folder, "")):
            del sys.modules[name]


def _module_names(folder: str) -> set[str]:
    """The top-level modules and packages a folder holds."""
    names: set[str] = set()
    try:
        entries = os.scandir(folder)
    except OSError:
        return names
    with entries:
        for entry in entries:
            stem, dot, suffix = entry.name.partition(".")
            is_module = dot and suffix.rsplit(".", 1)[-1] in ("py", "pyc", "so", "pyd")
            if is_module or os.path.exists(os.path.join(entry.path, "__init__.py")):
                names.add(stem)
    return names
