"""How a report names files and lines: the way the user sees them, not the way Scalene saw them.

- the user's code under root: a path relative to root (`examples/advanced.py:12`);
- a library: its path inside site-packages, the standard library or another import folder
  (`numpy/linalg/_linalg.py:400`);
- a script generated from a notebook: the notebook's cell (`analysis.ipynb [cell 3] line 2`);
- code that Scalene's `exec`/`eval` wrappers name `<exec@file.py:433>`: the file and line that ran
  it, found by name among the libraries and the root (`dataclasses.py:433 [exec] line 2`), and
  owned by that file's package;
- fixing-a-hole's own package: kind "harness", never reported;
- anything else: the absolute path.

A Locator also holds the folders whose files no report shows (`ignore`: the settings' and the
run's `--ignore` folders), so that every report of a run leaves out the same files.
"""

from __future__ import annotations

import glob
import linecache
import os
import re
import site
import sys
import sysconfig
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fixingahole.notebook import Cell, CellMap

_NO_CELL_MAPS: Mapping[str, CellMap] = MappingProxyType({})
_HARNESS = os.path.dirname(os.path.abspath(__file__))
_GENERATED = re.compile(r"<(exec|eval)@(.+):(\d+)>")
_CREATOR_DEPTH = 3  # folders below a library folder searched for the file that ran exec/eval


def _spellings(path: str | os.PathLike[str]) -> set[str]:
    """A path as written (normalised, absolute) and with its symlinks resolved."""
    text = os.path.abspath(os.fspath(path))
    return {text, os.path.realpath(text)}


def _prefixes(folders: Iterable[str]) -> tuple[str, ...]:
    """Existing folders, every spelling, longest first, each ending in a separator."""
    found: set[str] = set()
    for folder in folders:
        if folder and os.path.isdir(folder):
            found.update(_spellings(folder))
    return tuple(sorted((f.rstrip(os.sep) + os.sep for f in found), key=len, reverse=True))


def _library_folders() -> list[str]:
    """The standard library and every site-packages folder of this interpreter."""
    paths = sysconfig.get_paths()
    folders = [paths.get(key, "") for key in ("stdlib", "platstdlib", "purelib", "platlib")]
    folders += site.getsitepackages() if hasattr(site, "getsitepackages") else []
    folders.append(site.getusersitepackages())
    folders += [p for p in sys.path if "site-packages" in p or "dist-packages" in p]
    return folders


def _relative(path: str, prefixes: tuple[str, ...]) -> str | None:
    """`path` below the longest prefix holding it, with forward slashes; None when none does."""
    for prefix in prefixes:
        if path.startswith(prefix):
            return path[len(prefix) :].replace(os.sep, "/")
    return None


class Locator:
    """Names files, lines and packages of a profile the way the user sees them."""

    def __init__(
        self,
        root: Path,
        cell_maps: Mapping[str, CellMap] = _NO_CELL_MAPS,
        ignore: Iterable[Path] = (),
    ) -> None:
        self.root = Path(os.path.abspath(root))
        self.ignore = tuple(ignore)  # absolute folders whose files are not reported
        self._root_prefixes = _prefixes([str(self.root)])
        self._library_prefixes = _prefixes(_library_folders())
        # Other import folders (editable installs, PYTHONPATH); sys.path[0] is the running
        # program's own folder, not a library.
        own = set(self._root_prefixes) | set(self._library_prefixes)
        self._path_prefixes = tuple(p for p in _prefixes(sys.path[1:]) if p not in own)
        self._cell_maps: dict[str, CellMap] = {}
        for script, cell_map in cell_maps.items():
            for spelling in _spellings(script):
                self._cell_maps[spelling] = cell_map
        self._harness_prefixes = _prefixes([_HARNESS])
        self._names: dict[str, tuple[str, str]] = {}
        self._creators: dict[str, str | None] = {}  # `<exec@...>` -> the file that ran it
        self._candidates: dict[str, list[str]] = {}  # file name -> files of that name

    def _classify(self, path: str) -> tuple[str, str]:
        """(name, kind): kind is "notebook", "user", "library", "importable", "harness" or
        "other"."""
        cached = self._names.get(path)
        if cached is not None:
            return cached
        generated = _GENERATED.fullmatch(path)
        if generated is not None:
            result = self._generated(path, *generated.groups())
        elif not os.path.isabs(path):  # <string>, <frozen ...>: nothing better to say
            result = (path, "other")
        elif _relative(os.path.abspath(path), self._harness_prefixes) is not None:
            result = (self._user_name(path), "harness")
        elif path in self._cell_maps:
            result = (self._user_name(str(self._cell_maps[path].notebook)), "notebook")
        else:
            absolute = os.path.abspath(path)
            library = _relative(absolute, self._library_prefixes)
            own = _relative(absolute, self._root_prefixes)
            importable = _relative(absolute, self._path_prefixes)
            if library is not None:
                result = (library, "library")
            elif own is not None:
                result = (own, "user")
            elif importable is not None:
                result = (importable, "importable")
            else:
                result = (absolute, "other")
        self._names[path] = result
        return result

    def _generated(self, path: str, how: str, base: str, lineno: str) -> tuple[str, str]:
        """`<exec@dataclasses.py:433>`: named after, and of the kind of, the file that ran it;
        a library's when that file is not found."""
        creator = self._creator(how, base, int(lineno))
        self._creators[path] = creator
        if creator is None:
            return f"{base}:{lineno} [{how}]", "library"
        name, kind = self._classify(creator)
        return f"{name}:{lineno} [{how}]", kind

    def _creator(self, how: str, base: str, lineno: int) -> str | None:
        """The library or root file named `base` whose line `lineno` calls `exec`/`eval`."""
        candidates = self._candidates.get(base)
        if candidates is None:
            searched = [(p, _CREATOR_DEPTH) for p in self._library_prefixes]
            searched += [(p, 1) for p in self._root_prefixes]
            candidates = [
                found
                for prefix, depth in searched
                for level in range(depth + 1)
                for found in sorted(
                    glob.glob(os.path.join(glob.escape(prefix), *["*"] * level, glob.escape(base)))
                )
            ]
            self._candidates[base] = candidates
        return next((c for c in candidates if f"{how}(" in linecache.getline(c, lineno)), None)

    def _user_name(self, path: str) -> str:
        """Relative to root when under it, else absolute."""
        absolute = os.path.abspath(path)
        return _relative(absolute, self._root_prefixes) or absolute

    def _cell(self, path: str, lineno: int) -> tuple[Cell, int] | None:
        """The notebook cell and line in it for a line of a generated script, if any."""
        cell_map = self._cell_maps.get(path)
        return None if cell_map is None else cell_map.locate(lineno)

    def name(self, path: str) -> str:
        """How the report names a file: `a/b.py`, `numpy/linalg/_linalg.py`, `analysis.ipynb`."""
        return self._classify(path)[0]

    def is_library(self, path: str) -> bool:
        """True for files of site-packages or the standard library (not of other import folders)."""
        return self._classify(path)[1] == "library"

    def is_reported(self, path: str, detailed: bool) -> bool:
        """False for fixing-a-hole's own files, and for libraries unless `detailed`."""
        kind = self._classify(path)[1]
        return kind != "harness" and (detailed or kind != "library")

    def line(self, path: str, lineno: int) -> str:
        """A line as a line table labels it: `12`, or `[cell 3] line 2` in a notebook."""
        if self._classify(path)[1] != "notebook":
            return str(lineno)
        found = self._cell(path, lineno)
        if found is None:
            return f"[generated line {lineno}]"
        cell, line_in_cell = found
        return f"[cell {cell.number}] line {line_in_cell}"

    def location(self, path: str, lineno: int) -> str:
        """`file:line`, or `analysis.ipynb [cell 3] line 2` for a notebook's generated script."""
        name, kind = self._classify(path)
        if path in self._creators:
            return f"{name} line {lineno}"
        separator = " " if kind == "notebook" else ":"
        return f"{name}{separator}{self.line(path, lineno)}"

    def source(self, path: str, lineno: int, fallback: str) -> str:
        """A line's text as the user wrote it: the notebook cell's own line, else `fallback`."""
        found = self._cell(path, lineno)
        if found is None:
            return fallback
        cell, line_in_cell = found
        if 1 <= line_in_cell <= len(cell.source):
            return cell.source[line_in_cell - 1].rstrip("\r\n")
        return fallback

    def package(self, path: str) -> str:
        """The top of the module tree: a library's top-level package, or the root's name."""
        name, kind = self._classify(path)
        creator = self._creators.get(path)
        if creator is not None:
            return self.package(creator)
        if path in self._creators:  # exec/eval code of a file not found: its module's name
            stem = name.split(":", 1)[0].removesuffix(".py")
            return "exec/eval code" if stem == "__init__" else stem
        if kind in ("user", "notebook"):
            return self.root.name or str(self.root)
        if kind in ("library", "importable"):
            top = name.split("/", 1)[0]
            return top[:-3] if top.endswith(".py") else top
        return os.path.dirname(name) or name
