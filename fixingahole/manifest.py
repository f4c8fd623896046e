"""profiles.toml -> validated entries: what to profile, with which options, how often, and tags."""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from fixingahole.errors import UserError
from fixingahole.options import (
    OPTION_KEYS,
    ProfileOptions,
    check_option,
    option_field,
    show_value,
)
from fixingahole.settings import Settings, display_path
from fixingahole.targets import find_target

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

SHARED_KEYS = (*OPTION_KEYS, "repeat", "tags")  # allowed in [defaults] and in an entry
ENTRY_KEYS = ("path", *SHARED_KEYS)
SAFE_NAME = re.compile(r"[\w-][\w.-]*")  # a folder name: no separators, no leading dot
BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")  # a TOML key that needs no quotes
EXAMPLE = '[profiles.demo] with path = "examples/demo.py"'


@dataclass(frozen=True)
class Entry:
    """One thing to profile: its name (also its results folder), the file, and how."""

    name: str
    path: Path  # absolute
    options: ProfileOptions
    repeat: int = 1
    tags: tuple[str, ...] = ()

    def with_overrides(self, **cli_values: object) -> Entry:
        """This entry with command-line values on top; None means "not given".

        Takes the options of ProfileOptions and `repeat`; `ignore` folders are added to the
        entry's own, like --ignore adds to the configured ones.
        """
        given = {key: value for key, value in cli_values.items() if value is not None}
        repeat = _check_repeat(given.pop("repeat", self.repeat))
        options = self.options.updated(**given)
        if "ignore" in given:
            options = options.updated(ignore=(*self.options.ignore, *options.ignore))
        return dataclasses.replace(self, options=options, repeat=repeat)


@dataclass(frozen=True)
class Manifest:
    """A loaded, validated profiles.toml."""

    path: Path  # absolute
    entries: tuple[Entry, ...]


def load_manifest(path: Path, settings: Settings) -> Manifest:
    """Read and validate the manifest at `path`; one UserError listing every problem found."""
    path = Path(os.path.abspath(path))
    shown = display_path(path, Path.cwd())
    if not path.is_file():
        problem = "is a folder, not a file" if path.is_dir() else "not found"
        raise UserError(
            f"{shown}: {problem}; create it with one [profiles.NAME] table per script or"
            f" notebook, e.g. {EXAMPLE}"
        )
    data = _parse(path, shown)
    problems = _Problems(shown)
    for key in data:
        if key not in ("defaults", "profiles"):
            problems.unknown_key("", key, ("defaults", "profiles"))
    defaults = _table(data, "defaults", problems)
    profiles = _table(data, "profiles", problems)
    without_path = {key: value for key, value in defaults.items() if key != "path"}
    shared = _values(without_path, SHARED_KEYS, "[defaults]", path.parent, problems)
    if "path" in defaults:
        problems.add("[defaults] path: only an entry has a path; move it to [profiles.NAME]")
    entries = []
    for name, table in profiles.items():
        entry = _entry(name, table, shared, path.parent, settings, problems)
        if entry is not None:
            entries.append(entry)
    if not profiles and isinstance(data.get("profiles", {}), dict):
        problems.add(f"no entries; add one table per script, e.g. {EXAMPLE}")
    problems.raise_if_any()
    return Manifest(path=path, entries=tuple(entries))


def select(
    manifest: Manifest, only: Iterable[str] = (), tags: Iterable[str] = ()
) -> tuple[Entry, ...]:
    """The entries named in `only` (all when empty) that carry any of `tags` (any when empty)."""
    only, tags = tuple(only), tuple(tags)
    names = [entry.name for entry in manifest.entries]
    unknown = [name for name in only if name not in names]
    if unknown:
        raise UserError(
            f"no entry named {', '.join(map(repr, unknown))} in {manifest.path.name}"
            f" (entries: {', '.join(names)})"
        )
    known_tags = sorted({tag for entry in manifest.entries for tag in entry.tags})
    missing = [tag for tag in tags if tag not in known_tags]
    if missing:
        raise UserError(
            f"no entry has the tag {', '.join(map(repr, missing))} in {manifest.path.name}"
            f" (tags: {', '.join(known_tags) or 'none'})"
        )
    chosen = tuple(
        entry
        for entry in manifest.entries
        if (not only or entry.name in only) and (not tags or set(tags) & set(entry.tags))
    )
    if not chosen:
        raise UserError(
            f"no entry is both named {', '.join(only)} and tagged {', '.join(tags)};"
            " check --only and --tag"
        )
    return chosen


class _Problems:
    """Every problem found in one manifest, one line each."""

    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.lines: list[str] = []

    def __bool__(self) -> bool:
        return bool(self.lines)

    def add(self, line: str) -> None:
        self.lines.append(f"{self.shown}: {line}")

    def unknown_key(self, table: str, key: str, known: tuple[str, ...]) -> None:
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known keys: {', '.join(known)}"
        self.add(f"{table} {key}: unknown key; {hint}".lstrip())

    def raise_if_any(self) -> None:
        if self.lines:
            raise UserError("\n".join(self.lines))


def _parse(path: Path, shown: str) -> dict[str, object]:
    """The TOML document; a UserError that names twice-defined entries, or the TOML error."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise UserError(f"{shown}: cannot be read: {error.strerror}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        twice = _defined_twice(text)
        if twice:
            raise UserError(
                "\n".join(
                    f"{shown}: line {line}: [profiles.{name}] is defined twice;"
                    " give each entry its own name"
                    for name, line in twice
                )
            ) from None
        message = " ".join(str(error).split())
        raise UserError(f"{shown}: invalid TOML: {message}") from None


def _defined_twice(text: str) -> list[tuple[str, int]]:
    """(name, line) of each [profiles.NAME] header that repeats an earlier one."""
    header = re.compile(r"""\s*\[\s*profiles\s*\.\s*("[^"]*"|'[^']*'|[\w-]+)\s*\]\s*(#.*)?""")
    seen: set[str] = set()
    twice = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = header.fullmatch(line)
        if match:
            name = match.group(1).strip("\"'")
            if name in seen:
                twice.append((name, number))
            seen.add(name)
    return twice


def _table(data: Mapping[str, object], key: str, problems: _Problems) -> dict[str, object]:
    """The table `key` of the document ({} when missing or not a table)."""
    value = data.get(key, {})
    if isinstance(value, dict):
        return value
    problems.add(f"{key}: must be a table ([{key}]), got {show_value(value)}")
    return {}


@dataclass(frozen=True)
class _Values:
    """The valid values of [defaults] or of one entry, in normal form; None: not given."""

    repeat: int | None = None
    tags: tuple[str, ...] | None = None
    options: Mapping[str, object] = dataclasses.field(default_factory=dict)  # field -> value

    def over(self, shared: _Values) -> _Values:
        """These values, with the `shared` ones where these give none."""
        return _Values(
            repeat=self.repeat if self.repeat is not None else shared.repeat,
            tags=self.tags if self.tags is not None else shared.tags,
            options={**shared.options, **self.options},
        )


def _entry(
    name: str,
    table: object,
    shared: _Values,
    folder: Path,
    settings: Settings,
    problems: _Problems,
) -> Entry | None:
    """One entry from its table and the [defaults]; None (and problems noted) when invalid."""
    where = f"[profiles.{name}]" if BARE_KEY.fullmatch(name) else f'[profiles."{name}"]'
    count = len(problems.lines)
    if not SAFE_NAME.fullmatch(name):
        problems.add(
            f"{where}: the name becomes a folder name: use letters, digits, '-', '_' and '.'"
            " (not at the start)"
        )
    if not isinstance(table, dict):
        problems.add(f"{where}: must be a table with a path, got {show_value(table)}")
        return None
    values = _values(table, ENTRY_KEYS, where, folder, problems).over(shared)
    path = None
    if "path" not in table:
        problems.add(f"{where} path: missing; give the script or notebook to profile")
    elif isinstance(table["path"], str):
        try:
            path = find_target(table["path"], settings, cwd=folder)
        except UserError as error:
            problems.add(f"{where} path: {error}")
    if path is None or len(problems.lines) > count:  # no path: a problem was noted
        return None
    return Entry(
        name=name,
        path=path,
        options=ProfileOptions.from_values(**values.options),
        repeat=values.repeat if values.repeat is not None else 1,
        tags=values.tags if values.tags is not None else (),
    )


def _values(
    table: Mapping[str, object],
    known: tuple[str, ...],
    where: str,
    folder: Path,
    problems: _Problems,
) -> _Values:
    """The table's values that are valid, in normal form; a problem noted for each other one."""
    repeat: int | None = None
    tags: tuple[str, ...] | None = None
    options: dict[str, object] = {}
    for key, value in table.items():
        if key not in known:
            problems.unknown_key(where, key, known)
            continue
        try:
            if key == "path":
                _check_path(value)  # resolved with the whole entry
            elif key == "repeat":
                repeat = _check_repeat(value)
            elif key == "tags":
                tags = _check_tags(value)
            else:
                options[option_field(key)] = _check_option(key, value, folder)
        except UserError as error:
            problems.add(f"{where} {error}")
    return _Values(repeat=repeat, tags=tags, options=options)


def _check_path(value: object) -> str:
    """An entry's path as written; UserError if it is not a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise UserError(f"path: must be a file path (a string), got {show_value(value)}")
    return value


def _check_repeat(value: object) -> int:
    """How many times to profile; UserError unless a whole number of at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"repeat: must be a whole number of at least 1, got {show_value(value)}")
    return value


def _check_tags(value: object) -> tuple[str, ...]:
    """An entry's tags; UserError unless a list of non-empty strings."""
    if not isinstance(value, list) or not all(isinstance(t, str) and t for t in value):
        raise UserError(f"tags: must be a list of non-empty strings, got {show_value(value)}")
    return tuple(value)


def _check_option(key: str, value: object, folder: Path) -> object:
    """One option's value in normal form (cwd relative to the manifest's folder); UserError
    '<key>: must be ..., got ...' if invalid."""
    if key == "cwd" and isinstance(value, str) and value.strip():
        cwd = Path(os.path.abspath(folder / Path(value).expanduser()))
        if not cwd.is_dir():
            raise UserError(f"cwd: folder {cwd} does not exist")
        return cwd
    return check_option(key, value)
