"""Runtime support for scripts generated from notebooks: IPython's shell, outside Jupyter.

A generated script whose cells use `get_ipython` (every `%magic`, `%%cell magic`, `!shell` escape
and `obj?` becomes a call to it) or `display` calls `start_shell` in its header. The shell runs over
the script's own globals, so a `%%time` or `%%capture` cell defines variables later cells see, as in
Jupyter. Under Scalene the bootstrap calls `prepare_shell` before Scalene starts sampling (IPython's
import and start-up take seconds, none of them the notebook's), which binds `get_ipython` in the
script's globals, so the header finds it there and runs nothing. Warnings while the shell starts
are IPython's, not the notebook's: they are not shown.

What cannot run outside Jupyter is skipped with a warning naming the cell: an unknown magic, one
that needs a kernel, and those that only make sense in an interactive session (`obj?` help, `%run`,
`%history`, `%who`, ...: `INTERACTIVE_MAGICS`). With FIXINGAHOLE_NO_PLOTS=1 `%matplotlib` is skipped
too, so figures stay on the non-interactive backend the runner chose. Anything else a cell raises
stops the script.
"""

from __future__ import annotations

import bisect
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

_log = logging.getLogger("fixingahole.notebook")

# Line magics that read or drive an interactive session or a front end: help and source viewers,
# history, the namespace listing, editors, debuggers, other scripts run in the session.
INTERACTIVE_MAGICS = frozenset(
    {
        *("pinfo", "pinfo2", "psearch", "pdef", "pdoc", "pfile", "psource", "page", "pycat"),
        *("history", "hist", "recall", "rerun", "rep", "macro", "save", "pastebin"),
        *("who", "whos", "who_ls", "run", "edit", "ed", "load", "loadpy", "notebook"),
        *("debug", "pdb", "tb", "qtconsole", "connect_info", "clear", "less", "more"),
        *("logstart", "logon", "logoff", "logstop", "logstate", "quickref", "lsmagic", "magic"),
    }
)


@dataclass(frozen=True)
class ScriptCells:
    """Where the generated script's cells start, to name the cell a magic runs in."""

    filename: str  # the script's code file name, as its frames report it
    starts: tuple[int, ...]  # first script line of cell 1, 2, ...

    def depth(self) -> int:
        """The `stacklevel` that makes a log record made by the caller's caller name the
        script's line (1, the caller itself, when the script is not on the stack)."""
        frame: FrameType | None = sys._getframe(2)
        level = 2
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame, level = frame.f_back, level + 1
        return level if frame is not None else 1

    def current(self) -> str:
        """`cell 3` for the innermost frame of the script on the stack."""
        frame: FrameType | None = sys._getframe(1)
        while frame is not None and frame.f_code.co_filename != self.filename:
            frame = frame.f_back
        number = bisect.bisect_right(self.starts, frame.f_lineno) if frame else 0
        return f"cell {number}" if number else "the notebook"


class ScriptShell(InteractiveShell):
    """IPython's shell for a script: skips, with a warning, what only Jupyter can run."""

    cells = ScriptCells("", ())

    def enable_gui(self, gui: str | None = None) -> None:
        """No event loop to hook outside Jupyter: figures behave as in a plain script."""

    def init_virtualenv(self) -> None:
        """Leave sys.path alone: the script runs in the environment its interpreter belongs to.

        (IPython would add `$VIRTUAL_ENV`'s site-packages and warn, because Scalene runs the
        script through a wrapper, not the virtualenv's own `python`.)
        """

    def run_line_magic(self, magic_name: str, line: str, _stack_depth: int = 1) -> Any:
        """Run `%magic line`, or skip it and log why."""
        if magic_name == "matplotlib" and os.environ.get("FIXINGAHOLE_NO_PLOTS") == "1":
            place = self.cells.current()
            depth = self.cells.depth()
            _log.info("%s: skipped %%matplotlib %s (--no-plots)", place, line, stacklevel=depth)
            return None
        if magic_name in INTERACTIVE_MAGICS:
            marks = {"pinfo": "?", "pinfo2": "??"}.get(magic_name)  # `obj?` as the user wrote it
            what = f"{line}{marks}" if marks else f"%{magic_name} {line}".rstrip()
            self._skipped(what, "it needs an interactive session")
            return None
        try:
            return super().run_line_magic(magic_name, line, _stack_depth + 1)
        except (UsageError, NotImplementedError) as error:
            self._skipped(f"%{magic_name} {line}".rstrip(), error)
            return None

    def run_cell_magic(self, magic_name: str, line: str, cell: str) -> Any:
        """Run a `%%magic line` cell, or skip it and log why."""
        try:
            # unannotated in IPython; untyped_calls_exclude does not reach calls through super()
            return super().run_cell_magic(magic_name, line, cell)  # type: ignore[no-untyped-call]
        except (UsageError, NotImplementedError) as error:
            self._skipped(f"%%{magic_name} {line}".rstrip(), error)
            return None

    def _skipped(self, what: str, why: Exception | str) -> None:
        _log.warning(
            "%s: skipped %s: %s", self.cells.current(), what, why, stacklevel=self.cells.depth()
        )


def prepare_shell(filename: str) -> None:
    """Start the shell over `__main__` and bind its `get_ipython` there, ahead of the script.

    The bootstrap calls it with the file name the script's code runs under;
    FIXINGAHOLE_NOTEBOOK_CELLS holds the first script line of each cell (`6,12,17`).
    """
    main = sys.modules["__main__"].__dict__
    shell = _shell(main)
    starts = os.environ.get("FIXINGAHOLE_NOTEBOOK_CELLS", "")
    shell.cells = ScriptCells(filename, tuple(int(line) for line in starts.split(",") if line))
    main["get_ipython"] = shell.get_ipython


def start_shell(namespace: dict[str, Any], starts: tuple[int, ...]) -> Callable[[], ScriptShell]:
    """The shell over `namespace` (the caller's globals), started if need be: its `get_ipython`.

    `starts` holds the first script line of each cell, cell 1 first.
    """
    shell = _shell(namespace)
    shell.cells = ScriptCells(sys._getframe(1).f_code.co_filename, starts)
    return shell.get_ipython


def _shell(namespace: dict[str, Any]) -> ScriptShell:
    """The one shell, over `namespace`: IPython's warnings while it starts are not shown."""
    if ScriptShell.initialized():
        return ScriptShell.instance()
    config = Config()
    config.HistoryManager.enabled = False  # no history database, in memory or on disk
    config.InteractiveShell.colors = "NoColor"  # output goes to files, not a terminal
    main = sys.modules.get("__main__")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if main is not None and vars(main) is namespace:
            return ScriptShell.instance(config=config, user_module=main)
        return ScriptShell.instance(config=config, user_ns=namespace)
