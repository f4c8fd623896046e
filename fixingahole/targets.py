"""Find the script or notebook to profile: a path, or a bare file name searched under root."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Literal

from fixingahole.errors import UserError
from fixingahole.settings import Settings, display_path

Kind = Literal["script", "notebook"]
KINDS: dict[str, Kind] = {".py": "script", ".ipynb": "notebook"}
SKIPPED_FOLDERS = frozenset(
    {".git", ".venv", "venv", "node_modules", "__pycache__", ".nox", ".tox"}
)  # hidden folders (a leading dot) are skipped as well


def target_kind(path: Path) -> Kind:
    """ "script" for a .py file, "notebook" for a .ipynb file; UserError for anything else."""
    kind = KINDS.get(path.suffix.lower())
    if kind is None:
        raise UserError(f"{path} is not a Python script or notebook: give a .py or .ipynb file")
    return kind


def find_target(name: str, settings: Settings, *, cwd: Path | None = None) -> Path:
    """The absolute, resolved script or notebook that `name` means.

    `name` is an absolute path, a path relative to `cwd` or to the root, or a bare file name
    searched under the root; without a suffix it may also mean `name.py` or `name.ipynb`.
    """
    if not name.strip():
        raise UserError("no target given: name a script (.py) or notebook (.ipynb)")
    cwd = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    given = Path(name).expanduser()
    bases = [given] if given.is_absolute() else [cwd / given, settings.root / given]
    bases = list(dict.fromkeys(bases))
    is_bare = given.name == name and name not in (".", "..")
    seen: list[Path] = []
    for files in _places(bases, name, settings, search=is_bare):
        seen += files
        target = _only_one([path for path in files if path.suffix.lower() in KINDS], name, settings)
        if target is not None:
            return target
    for path in seen:
        target_kind(path)  # raises: the file exists but is not a script or notebook
    folder = next((base for base in bases if base.is_dir()), None)
    if folder is not None:
        raise UserError(f"{folder} is a folder: give a script (.py) or notebook (.ipynb) inside it")
    tried = "" if Path(name).suffix.lower() in KINDS else "[.py|.ipynb]"
    looked = " and ".join(f"{base}{tried}" for base in bases)
    searched = (
        f", then searched under {settings.root} (skipping hidden and virtual-environment"
        " folders, the output folder and ignored folders)"
        if is_bare
        else ""
    )
    raise UserError(f"no script or notebook named {name!r}: looked for {looked}{searched}")


def _places(
    bases: list[Path], name: str, settings: Settings, *, search: bool
) -> Iterator[list[Path]]:
    """The files `name` may mean, place by place in order of preference (the search last)."""
    for base in bases:
        yield [path for path in _variants(base) if path.is_file()]
    if search:
        yield _search(settings, set(_names(name)))


def _names(name: str) -> tuple[str, ...]:
    """The file names `name` may mean: itself, and with .py / .ipynb when it has neither."""
    if Path(name).suffix.lower() in KINDS:
        return (name,)
    return (name, f"{name}.py", f"{name}.ipynb")


def _variants(path: Path) -> tuple[Path, ...]:
    """The paths `path` may mean (see `_names`)."""
    return tuple(path.with_name(name) for name in _names(path.name))


def _only_one(scripts: list[Path], name: str, settings: Settings) -> Path | None:
    """The one (resolved) script or notebook in `scripts`; UserError listing them when several."""
    unique = sorted({path.resolve() for path in scripts})
    if len(unique) > 1:
        listed = ", ".join(display_path(path, settings.root) for path in unique)
        raise UserError(
            f"{name!r} matches {len(unique)} files: {listed}; give a longer path to choose one"
        )
    return unique[0] if unique else None


def _search(settings: Settings, names: set[str]) -> list[Path]:
    """Files under the root named one of `names`, pruning skipped, hidden and ignored folders.

    Any folder holding a `.store` is an output folder (perhaps of another --output): its run
    folders hold copies of the profiled code, never the code to profile.
    """
    pruned = {os.path.normpath(folder) for folder in (settings.output, *settings.ignore)}
    found: list[Path] = []
    pending = [os.fspath(settings.root)]
    while pending:
        try:
            scan = os.scandir(pending.pop())
        except OSError:
            continue  # an unreadable folder holds nothing we can profile
        with scan:
            for entry in scan:
                if entry.is_dir(follow_symlinks=False):
                    if not (
                        entry.name.startswith(".")
                        or entry.name in SKIPPED_FOLDERS
                        or entry.path in pruned
                        or os.path.isdir(os.path.join(entry.path, ".store"))
                    ):
                        pending.append(entry.path)
                elif entry.name in names and entry.is_file():
                    found.append(Path(entry.path))
    return found
