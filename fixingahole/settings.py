"""Settings: defaults < [tool.fixingahole] in pyproject.toml < FIXINGAHOLE_* < arguments."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypedDict, cast

from fixingahole.errors import UserError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

PYPROJECT = "pyproject.toml"
DEFAULT_OUTPUT = "performance"
KNOWN_KEYS = ("ignore", "output", "root", "scheduler")


@dataclass(frozen=True)
class Settings:
    """Where the code lives, where results go, and what is never searched or reported."""

    root: Path  # absolute
    output: Path  # absolute; the run folders and the store live here
    ignore: tuple[Path, ...] = ()  # absolute folders
    pyproject: Path | None = None  # the pyproject.toml the settings came from, if any
    scheduler: str | None = None  # a Dask scheduler's address: profile-all runs on its workers


class _Table(TypedDict, total=False):
    """[tool.fixingahole] as `_read_table` checked it."""

    root: str
    output: str
    ignore: list[str]
    scheduler: str


@dataclass(frozen=True)
class _Value:
    """One configured path, where it came from (for messages) and what it is relative to."""

    text: str
    source: str  # e.g. "FIXINGAHOLE_ROOT=/x" or "pyproject.toml: [tool.fixingahole] root '/x'"
    base: Path

    @property
    def path(self) -> Path:
        """The absolute, normalised path."""
        return _absolute(self.text, self.base)


def display_path(path: Path, base: Path) -> str:
    """`path` relative to `base` when it lies under it (as written, or for an absolute path with
    symlinks resolved), else as given: how messages, commands and records show paths."""
    spellings = [(path, base)]
    if path.is_absolute():
        spellings.append((path.resolve(), base.resolve()))
    for under, top in spellings:
        try:
            return under.relative_to(top).as_posix() or "."
        except ValueError:
            continue
    return str(path)


def load_settings(
    *,
    cwd: Path | None = None,
    environ: Mapping[str, str] | None = None,
    root: Path | str | None = None,
    output: Path | str | None = None,
    ignore: Sequence[Path | str] = (),
    scheduler: str | None = None,
) -> Settings:
    """Settings for a command run from `cwd`; arguments beat FIXINGAHOLE_* beat the pyproject file.

    A relative `root` is relative to the pyproject's folder (file) or to `cwd` (variable,
    argument); relative `output` and `ignore` paths are relative to the root. `ignore` arguments
    add to the configured folders, while FIXINGAHOLE_IGNORE replaces the file's list.
    """
    cwd = Path(os.path.abspath(cwd if cwd is not None else os.getcwd()))
    environ = os.environ if environ is None else environ
    pyproject = find_pyproject(cwd)
    table = _read_table(pyproject, cwd) if pyproject else None
    if table is None:
        pyproject, table = None, {}
    in_file = f"{display_path(pyproject, cwd)}: [tool.fixingahole]" if pyproject else ""

    root_value = _first(
        _argument("--root", root, cwd),
        _variable(environ, "FIXINGAHOLE_ROOT", cwd),
        _Value(table["root"], f"{in_file} root {table['root']!r}", pyproject.parent)
        if pyproject and "root" in table
        else None,
    )
    root_path = _root(root_value) if root_value else cwd.resolve()

    output_value = _first(
        _argument("--output", output, root_path),
        _variable(environ, "FIXINGAHOLE_OUTPUT", root_path),
        _Value(table["output"], f"{in_file} output {table['output']!r}", root_path)
        if "output" in table
        else None,
    ) or _Value(DEFAULT_OUTPUT, f"output {DEFAULT_OUTPUT!r} (the default)", root_path)
    output_path = _output(output_value)

    env_ignore = environ.get("FIXINGAHOLE_IGNORE")
    if env_ignore is not None:
        configured = [part.strip() for part in env_ignore.split(",") if part.strip()]
    else:
        configured = table.get("ignore", [])
    folders = [_absolute(folder, root_path) for folder in [*configured, *ignore]]
    return Settings(
        root=root_path,
        output=output_path,
        ignore=tuple(dict.fromkeys(folders)),
        pyproject=pyproject,
        scheduler=_scheduler(scheduler, environ, table),
    )


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml in `start` or one of its parents, if any."""
    for folder in (start, *start.parents):
        candidate = folder / PYPROJECT
        if candidate.is_file():
            return candidate
    return None


def _read_table(pyproject: Path, cwd: Path) -> _Table | None:
    """The validated [tool.fixingahole] table of `pyproject`, or None when it has none."""
    shown = display_path(pyproject, cwd)
    try:
        with pyproject.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        message = " ".join(str(error).split())
        raise UserError(f"{shown}: invalid TOML: {message}; fix the file") from None
    except OSError as error:
        raise UserError(f"{shown}: cannot be read: {error.strerror}") from None
    tool = data.get("tool")
    table = tool.get("fixingahole") if isinstance(tool, dict) else None
    if table is None:
        return None
    if not isinstance(table, dict):
        raise UserError(f"{shown}: [tool.fixingahole] must be a table, got {table!r}")
    for key, value in table.items():
        where = f"{shown}: [tool.fixingahole]"
        if key not in KNOWN_KEYS:
            raise UserError(f"{where} key {key!r} is unknown (known: {', '.join(KNOWN_KEYS)})")
        if key == "ignore":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise UserError(f"{where} ignore: must be a list of folder names, got {value!r}")
        elif not isinstance(value, str) or not value.strip():
            what = "a scheduler's address, tcp://HOST:PORT" if key == "scheduler" else "a folder"
            raise UserError(f"{where} {key}: must be a non-empty string ({what}), got {value!r}")
    return cast(_Table, table)  # each key and value checked above


def _scheduler(
    argument: str | None, environ: Mapping[str, str], table: Mapping[str, object]
) -> str | None:
    """The Dask scheduler's address: the argument, else FIXINGAHOLE_SCHEDULER, else the file's;
    an empty argument or variable means none (run locally)."""
    for value in (argument, environ.get("FIXINGAHOLE_SCHEDULER"), table.get("scheduler")):
        if value is not None:
            return str(value).strip() or None
    return None


def _absolute(path: Path | str, base: Path) -> Path:
    """`path` made absolute against `base` (with `~` expanded) and normalised."""
    return Path(os.path.abspath(base / Path(path).expanduser()))


def _argument(option: str, value: Path | str | None, base: Path) -> _Value | None:
    """The argument when given, remembered as the command-line option it came from."""
    return None if value is None else _Value(str(value), f"{option} {value}", base)


def _variable(environ: Mapping[str, str], name: str, base: Path) -> _Value | None:
    """The variable `name` when set, remembered with its source."""
    value = environ.get(name)
    if value is None:
        return None
    if not value.strip():
        raise UserError(f"{name} is set but empty: give a folder or unset it")
    return _Value(value, f"{name}={value}", base)


def _first(*values: _Value | None) -> _Value | None:
    """The first value given, in order of precedence."""
    return next((value for value in values if value is not None), None)


def _root(value: _Value) -> Path:
    """The absolute, resolved root folder; a UserError naming the source when it is not a folder."""
    path = value.path.resolve()
    if not path.exists():
        raise UserError(f"{value.source}: folder does not exist")
    if not path.is_dir():
        raise UserError(f"{value.source}: is not a folder")
    return path


def _output(value: _Value) -> Path:
    """The absolute output folder; a UserError naming the source when it is an existing file."""
    path = value.path
    if path.exists() and not path.is_dir():
        raise UserError(f"{value.source}: is a file, not a folder; choose another output folder")
    return path
