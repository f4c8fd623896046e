"""What a command takes, declared once for both faces (the `fixingahole` CLI and the invoke tasks).

An `Argument` says how a value is given (`Shape`), its flags (with invoke's short flag set
explicitly), its help, and where it goes: the command's own keyword (`dest`), the location
(`Where`) or the profile options. The groups several commands share are here: the location options,
the profile options (from the option table, `fixingahole.options.OPTIONS`), the judging options and
the format. `Command` binds the values a face parsed to its plain `run(...)`.
"""

from __future__ import annotations

import enum
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.options import OPTIONS, OPTIONS_BY_FIELD, Flag, Kind, Option

if TYPE_CHECKING:
    from fixingahole.settings import Settings


class Shape(enum.Enum):
    """How a value is given on a command line."""

    POSITIONAL = "positional"
    OPTIONAL_POSITIONAL = "optional-positional"  # compare's B
    FLAG = "flag"  # --dry-run: given means its flag's value (True)
    SWITCH = "switch"  # --trace / --no-trace
    CHOICE = "choice"  # one flag per value: --memory / --cpu
    VALUE = "value"  # --repeat N
    OPTIONAL_VALUE = "optional-value"  # --fail-on-regression [PCT]: bare, it gives `const`
    REPEATABLE = "repeatable"  # --tag T, once per value
    SCRIPT_ARGS = "script-args"  # after `--` (CLI), --arg X (invoke)


class Into(enum.Enum):
    """Where a value goes in the command's `run(...)` call."""

    KEYWORD = "keyword"  # its own keyword, `dest`
    WHERE = "where"  # the `where` argument (a `Where`)
    OVERRIDES = "overrides"  # the `overrides` argument (profile options, None: not given)


@dataclass(frozen=True)
class Argument:
    """One argument of a command, for both faces."""

    dest: str  # run()'s keyword (or the Where / profile option it sets)
    shape: Shape
    help: str = ""
    flags: tuple[Flag, ...] = ()  # none for a positional
    short: str | None = None  # a positional's invoke short flag (its flags carry their own)
    metavar: str | None = None
    parse: Callable[[str], Any] = str  # a command-line word -> the value
    choices: tuple[str, ...] = ()
    default: Any = None
    const: Any = True  # what a bare OPTIONAL_VALUE gives
    required: bool = False
    into: Into = Into.KEYWORD

    @property
    def flag(self) -> str:
        """The first flag's name (the positional's name for a positional)."""
        return self.flags[0].name if self.flags else self.dest


def positional(
    dest: str, help: str, *, short: str | None = None, metavar: str | None = None
) -> Argument:
    """A positional argument; `short` is its invoke short flag (invoke's positionals are flags)."""
    return Argument(dest, Shape.POSITIONAL, help, short=short, metavar=metavar)


def option(
    flag: str,
    dest: str,
    help: str,
    shape: Shape = Shape.VALUE,
    *,
    short: str | None = None,
    **rest: Any,
) -> Argument:
    """A flag with one name: `--flag` sets `dest` (a repeatable one starts as [])."""
    if shape is Shape.REPEATABLE:
        rest.setdefault("default", [])
    return Argument(dest, shape, help, flags=(Flag(flag, short),), **rest)


def from_option(row: Option, into: Into = Into.OVERRIDES) -> Argument:
    """The argument of one row of the option table."""
    return Argument(
        row.field,
        Shape(row.kind.value),
        row.help,
        flags=row.flags,
        metavar=row.metavar or None,
        parse=row.parse,
        choices=row.choices,
        default=[] if row.kind in (Kind.REPEATABLE, Kind.SCRIPT_ARGS) else None,
        into=into,
    )


LOCATION_ONLY = ("ignore",)  # options the CLI has always taken as location options (on Settings)
PROFILE_OPTIONS = tuple(
    from_option(row)
    for row in OPTIONS
    if row.kind is not Kind.MANIFEST and row.field not in LOCATION_ONLY
)
TOP = option(
    "--top", "top", "functions listed in each top table", parse=int, default=10, metavar="N"
)
MANIFEST = option(
    "--manifest",
    "manifest",
    "the manifest (default: <root>/profiles.toml)",
    parse=Path,
    metavar="FILE",
)
IGNORE = from_option(OPTIONS_BY_FIELD["ignore"], Into.WHERE)
OUTPUT = option(
    "--output",
    "output_dir",
    "where run folders go (default: performance/)",
    parse=Path,
    metavar="DIR",
    into=Into.WHERE,
)
ROOT = option(
    "--root",
    "root",
    "the code base's root (default: configured or .)",
    parse=Path,
    metavar="DIR",
    into=Into.WHERE,
)


ENTRIES = option(
    "--entry",
    "entries",
    "only this entry (repeatable)",
    Shape.REPEATABLE,
    short="e",
    metavar="NAME",
)


def tags_option(help: str) -> Argument:
    """--tag T, repeatable: entries with any of these tags."""
    return option("--tag", "tags", help, Shape.REPEATABLE, short="t", metavar="TAG")


def location(*, ignore: bool = True, output: bool = True) -> tuple[Argument, ...]:
    """Where to look for code and where results go."""
    return (*((IGNORE,) if ignore else ()), *((OUTPUT,) if output else ()), ROOT)


def judging(metrics: tuple[str, ...], default: str, help: str) -> tuple[Argument, ...]:
    """What a change is judged by: the metric, the threshold and the test's level."""
    return (
        option("--metric", "metric", help, choices=metrics, default=default, short="m"),
        threshold_option("smallest change in percent that counts (default 5)"),
        alpha_option("significance level of the test (default 0.05)"),
    )


def threshold_option(help: str) -> Argument:
    """--threshold PCT: the smallest change that counts."""
    return option(
        "--threshold", "threshold_pct", help, parse=float, default=5.0, metavar="PCT", short="t"
    )


def alpha_option(help: str) -> Argument:
    """--alpha: the significance level of the test."""
    return option("--alpha", "alpha", help, parse=float, default=0.05, short="a")


def repeat_option(help: str, default: int | None) -> Argument:
    """--repeat N: how many runs."""
    return option("--repeat", "repeat", help, parse=int, default=default, metavar="N", short="r")


def output_format(*formats: str, help: str = "default text") -> Argument:
    """--format: how the result is written (text by default)."""
    return option("--format", "fmt", help, choices=formats, default="text", short="f")


@dataclass(frozen=True)
class Where:
    """Location overrides from the command line (None: use the configuration)."""

    root: Path | None = None
    output: Path | None = None
    ignore: tuple[str, ...] = ()
    scheduler: str | None = None  # a Dask scheduler's address ("": run locally)

    def settings(self) -> Settings:
        from fixingahole.settings import load_settings

        return load_settings(
            root=self.root, output=self.output, ignore=self.ignore, scheduler=self.scheduler
        )

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> Where:
        """The location values a face parsed; paths typed are relative to where the user stands."""
        root, output = values.get("root"), values.get("output_dir")
        return cls(
            root=Path(root).absolute() if root else None,
            output=Path(output).absolute() if output else None,
            ignore=tuple(values.get("ignore") or ()),
            scheduler=values.get("scheduler"),
        )


@dataclass(eq=False)
class Command:
    """One command: its arguments, declared once, and the plain function that runs it."""

    name: str  # the invoke task's name
    run: Callable[..., int]  # plain values in, exit code out; raises UserError for bad input
    help: str  # one line
    arguments: tuple[Argument, ...]
    description: str = ""
    epilog: str = ""
    words: tuple[str, ...] = ()  # the CLI's words, when not (name,): ("store", "rebuild")
    shorts: Mapping[str, str | None] = field(default_factory=dict)  # invoke short flags by flag
    adapt: Callable[[dict[str, Any]], dict[str, Any]] | None = None  # last touch to run's keywords
    records_command: bool = False  # run() takes `command`, the command line as typed

    @property
    def cli_words(self) -> tuple[str, ...]:
        return self.words or (self.name,)

    def short(self, flag: Flag) -> str | None:
        """A flag's invoke short flag in this command."""
        return self.shorts.get(flag.name, flag.short)

    def bind(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """run()'s keywords from the values a face parsed (every argument's dest)."""
        kwargs: dict[str, Any] = {}
        overrides: dict[str, Any] = {}
        for argument in self.arguments:
            value = values.get(argument.dest, argument.default)
            if argument.into is Into.OVERRIDES:
                listed = argument.shape is Shape.SCRIPT_ARGS
                overrides[argument.dest] = (tuple(value) or None) if listed else value
            elif argument.into is Into.KEYWORD:
                repeated = argument.shape is Shape.REPEATABLE
                kwargs[argument.dest] = tuple(value) if repeated else value
        kwargs["where"] = Where.from_values(values)
        if any(argument.into is Into.OVERRIDES for argument in self.arguments):
            kwargs["overrides"] = overrides
        if self.records_command and "command" in values:
            kwargs["command"] = values["command"]
        return self.adapt(kwargs) if self.adapt else kwargs

    def call(self, values: Mapping[str, Any]) -> int:
        """Run the command with the values a face parsed."""
        return self.run(**self.bind(values))

    def doc(self) -> str:
        """The help line, then the description (an invoke task's docstring)."""
        first = f"{self.help[0].upper()}{self.help[1:]}."
        return f"{first}\n\n{textwrap.fill(self.description, 88)}" if self.description else first
