"""fixing-a-hole: a profiling workbench for Python code bases, built on Scalene."""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fixingahole.store import Store

__version__ = "0.1.0"


def open_store(
    root: str | PathLike[str] | None = None, output: str | PathLike[str] | None = None
) -> Store:
    """The results store of a code base, configured as for the `fixingahole` command.

    `store.runs()`, `store.functions(run_ids)` and `store.lines(run_ids)` return pandas DataFrames.
    """
    from pathlib import Path

    from fixingahole.profile_run import store_dir
    from fixingahole.settings import load_settings
    from fixingahole.store import Store

    settings = load_settings(
        root=Path(root) if root else None, output=Path(output) if output else None
    )
    return Store(store_dir(settings))
