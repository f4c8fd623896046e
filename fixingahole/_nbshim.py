"""Runtime support for scripts generated from notebooks: IPython's shell, outside Jupyter.

A generated script whose cells use `get_ipython` (every `%magic`, `%%cell magic`, `!shell` escape
and `obj?` becomes a call to it) or `display` calls `start_shell` in its header. The shell runs over
the script's own globals, so a `%%time` or `%%capture` cell defines variables later cells see, as in
Jupyter. What cannot run outside Jupyter (an unknown magic, a magic that needs a kernel) is skipped
with a warning naming the cell; with FIXINGAHOLE_NO_PLOTS=1 `%matplotlib` is skipped too, so figures
stay on the non-interactive backend the runner chose. Anything else a cell raises stops the script.
"""

from __future__ import annotations

import bisect
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

_log = logging.getLogger("fixingahole.notebook")


@dataclass(frozen=True)
class ScriptCells:
    """Where the generated script's cells start, to name the cell a magic runs in."""

    filename: str  # the script's code file name, as its frames report it
    starts: tuple[int, ...]  # first script line of cell 1, 2, ...

    def current(self) -> str:
        """`cell 3` for the innermost frame of the script on the stack."""
        frame = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back
        number = bisect.bisect_right(self.starts, frame.f_lineno) if frame else 0
        return f"cell {number}" if number else "the notebook"


class ScriptShell(InteractiveShell):
    """IPython's shell for a script: skips, with a warning, what only Jupyter can run."""

    cells = ScriptCells("", ())

    def enable_gui(self, gui: str | None = None) -> None:
        """No event loop to hook outside Jupyter: figures behave as in a plain script."""

    def run_line_magic(self, magic_name: str, line: str, _stack_depth: int = 1) -> Any:
        """Run `%magic line`, or skip it and log why."""
        if magic_name == "matplotlib" and os.environ.get("FIXINGAHOLE_NO_PLOTS") == "1":
            _log.info("%s: skipped %%matplotlib %s (--no-plots)", self.cells.current(), line)
            return None
        try:
            return super().run_line_magic(magic_name, line, _stack_depth + 1)
        except (UsageError, NotImplementedError) as error:
            self._skipped(f"%{magic_name} {line}".rstrip(), error)
            return None

    def run_cell_magic(self, magic_name: str, line: str, cell: str) -> Any:
        """Run a `%%magic line` cell, or skip it and log why."""
        try:
            return super().run_cell_magic(magic_name, line, cell)
        except (UsageError, NotImplementedError) as error:
            self._skipped(f"%%{magic_name} {line}".rstrip(), error)
            return None

    def _skipped(self, what: str, error: Exception) -> None:
        _log.warning("%s: skipped %s: %s", self.cells.current(), what, error)


def start_shell(namespace: dict[str, Any], starts: tuple[int, ...]) -> Callable[[], ScriptShell]:
    """Create the shell over `namespace` (the caller's globals) and return its `get_ipython`.

    `starts` holds the first script line of each cell, cell 1 first.
    """
    config = Config()
    config.HistoryManager.enabled = False  # no history database, in memory or on disk
    config.InteractiveShell.colors = "NoColor"  # output goes to files, not a terminal
    main = sys.modules.get("__main__")
    if main is not None and vars(main) is namespace:
        shell = ScriptShell.instance(config=config, user_module=main)
    else:
        shell = ScriptShell.instance(config=config, user_ns=namespace)
    shell.cells = ScriptCells(sys._getframe(1).f_code.co_filename, starts)
    return shell.get_ipython
