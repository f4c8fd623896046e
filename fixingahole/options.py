"""The options of one profile, defined once.

Each field of `ProfileOptions` is also its row of the option table (`Option`): its flags and kind,
its help, its invoke short flag, its manifest key, whether it changes what a run measures, and how
its value is checked. The command line's options, the invoke tasks' parameters, the manifest's keys
(`OPTION_KEYS`), `ProfileOptions.to_argv` and compare's measuring set (`MEASURING_OPTIONS`) are all
derived from the table (`OPTIONS`), so a new option is one field here, the runner, and a test.
"""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from fixingahole.errors import UserError

MODES = ("cpu", "memory")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")  # least severe first
PRECISION_MIN, PRECISION_MAX = -10, 10
INTERVAL_MIN, INTERVAL_MAX = 0.001, 1.0  # seconds between CPU samples
BASE_WINDOW = 10 * 2**20  # bytes between allocation samples at precision 0 (about 10 MB)
_ROW = "fixingahole.option"  # the field metadata key of an option's row


class Kind(enum.Enum):
    """How an option is given on a command line."""

    FLAG = "flag"  # --detailed: given means on
    SWITCH = "switch"  # --trace / --no-trace
    CHOICE = "choice"  # one flag per value: --cpu / --memory
    VALUE = "value"  # --precision N
    REPEATABLE = "repeatable"  # --ignore DIR, once per value
    SCRIPT_ARGS = "script-args"  # the script's arguments: after `--`, or --arg X in invoke
    MANIFEST = "manifest"  # no flag: only the manifest sets it


@dataclass(frozen=True)
class Flag:
    """One flag of an option."""

    name: str  # --memory
    short: str | None = None  # its invoke short flag (m); None: none
    value: object = True  # what giving it sets (FLAG, SWITCH, CHOICE)
    help: str = ""  # its own help: a CHOICE's flags, a SWITCH's negative form in invoke


@dataclass(frozen=True)
class Option:
    """One row of the option table: everything the faces and the manifest need of an option."""

    kind: Kind
    check: Callable[[object], object]  # a value -> its normal form; raises _Invalid
    help: str = ""
    flags: tuple[Flag, ...] = ()
    metavar: str = ""
    parse: Callable[[str], object] = str  # a command-line word -> the value (VALUE, REPEATABLE)
    choices: tuple[str, ...] = ()  # the words a VALUE takes, when only some are valid
    key: str | None = ""  # the manifest's key ("": the field's name; None: not in the manifest)
    measuring: bool = False  # changes what a run measures (compare notes runs that differ)
    reproduced: bool = True  # to_argv gives it (not: how a batch shows a run)
    field: str = ""  # the ProfileOptions field (filled in from the dataclass)

    @property
    def flag(self) -> Flag:
        """The option's first (for most, only) flag."""
        return self.flags[0]


def _option(default: Any = None, *, factory: Callable[[], Any] | None = None, **row: Any) -> Any:
    """A ProfileOptions field carrying its row of the option table."""
    metadata = {_ROW: Option(**row)}
    if factory is not None:
        return field(default_factory=factory, hash=False, metadata=metadata)
    return field(default=default, metadata=metadata)


class _Invalid(Exception):
    """What a value must be (the end of a 'must be ...' message)."""


def _choice(choices: tuple[str, ...], *, upper: bool = False) -> Callable[[object], str]:
    def check(value: object) -> str:
        text = value.upper() if upper and isinstance(value, str) else value
        if text not in choices:
            raise _Invalid(f"one of {', '.join(choices)}")
        return text

    return check


def _precision(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Invalid(f"a whole number from {PRECISION_MIN} to {PRECISION_MAX}")
    if not PRECISION_MIN <= value <= PRECISION_MAX:
        raise _Invalid(f"from {PRECISION_MIN} to {PRECISION_MAX}")
    return value


def _flag(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("true or false")
    return value


def _seconds(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid("a positive number (seconds)")
    if not (value > 0 and math.isfinite(value)):
        raise _Invalid("a positive number")
    return float(value)


def _interval(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Invalid(f"a number of seconds from {INTERVAL_MIN:g} to {INTERVAL_MAX:g}")
    if not INTERVAL_MIN <= value <= INTERVAL_MAX:
        raise _Invalid(f"from {INTERVAL_MIN:g} to {INTERVAL_MAX:g} (seconds)")
    return float(value)


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise _Invalid("a list of strings")
    return tuple(value)


def _environment(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping) or not all(
        isinstance(key, str) and isinstance(item, str) for key, item in value.items()
    ):
        raise _Invalid('a table of strings (NAME = "value")')
    return dict(value)


def _folder(value: object) -> Path | None:
    if value is None:
        return None
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise _Invalid("a folder path")
    return Path(value)


def check_option(name: str, value: object) -> object:
    """`value` in normal form for the option `name` (a field, or its manifest key); UserError
    '<name>: must be ..., got ...'."""
    try:
        return OPTIONS_BY_FIELD[option_field(name)].check(value)
    except _Invalid as problem:
        raise UserError(f"{name}: must be {problem}, got {show_value(value)}") from None


def option_field(key: str) -> str:
    """The ProfileOptions field a manifest key sets (`async` sets `async_profile`)."""
    return _FIELD_OF_KEY.get(key, key)


def allocation_window(precision: int) -> int:
    """Scalene's --allocation-sampling-window in bytes: the first prime >= 10 MiB x 2**-precision.

    A prime keeps the sampling from falling in step with a program's allocation sizes.
    """
    check_option("precision", precision)
    return _next_prime(round(BASE_WINDOW * 2.0**-precision))


def show_value(value: object) -> str:
    """A value as the user wrote it, for messages (true/false as TOML spells them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


@dataclass(frozen=True)
class ProfileOptions:
    """How to profile one script or notebook; values are checked and normalised when made.

    The field order is the manifest's key order; `to_argv` gives single flags in this order, then
    repeated ones, then the script's arguments.
    """

    mode: str = _option(  # "cpu": time only; "memory": time plus heap memory with line blame
        "cpu",
        kind=Kind.CHOICE,
        check=_choice(MODES),
        flags=(
            Flag(
                "--memory",
                "m",
                "memory",
                "profile CPU time and heap memory with line blame (slower)",
            ),
            Flag(
                "--cpu",
                "c",
                "cpu",
                "profile CPU time only (the default; about 1.05x plain Python, plus 0.5 s)",
            ),
        ),
    )
    precision: int = _option(  # memory sampling granularity, see allocation_window()
        0,
        kind=Kind.VALUE,
        check=_precision,
        flags=(Flag("--precision", "p"),),
        metavar="N",
        parse=int,
        measuring=True,
        help="memory sampling granularity from -10 to 10 (default 0): 0 reports allocations of "
        "about 10 MB, 5 about 325 kB, -5 about 325 MB; larger is slower",
    )
    interval: float | None = _option(  # seconds between CPU samples; None: Scalene's (0.01)
        kind=Kind.VALUE,
        check=_interval,
        flags=(Flag("--interval", "r"),),
        metavar="SECONDS",
        parse=float,
        measuring=True,
        help="seconds between CPU samples, 0.001 to 1 (default: Scalene's 0.01); "
        "longer costs the script less and gives fewer samples",
    )
    detailed: bool = _option(  # also report inside imported libraries (Scalene --profile-all)
        False,
        kind=Kind.FLAG,
        check=_flag,
        flags=(Flag("--detailed", "d"),),
        measuring=True,
        help="also report time and memory inside imported libraries, grouped by package",
    )
    trace: bool = _option(  # collect call stacks
        True,
        kind=Kind.SWITCH,
        check=_flag,
        flags=(
            Flag("--trace", "t", True),
            Flag("--no-trace", "o", False, "do not collect call stacks"),
        ),
        measuring=True,
        help="collect call stacks and print the stack trace summary (default: on)",
    )
    async_profile: bool = _option(  # profile async/await (Scalene --async); slows generators
        False,
        kind=Kind.SWITCH,
        check=_flag,
        flags=(
            Flag("--async", "y", True),
            Flag("--no-async", None, False, "do not profile async/await (the default)"),
        ),
        key="async",  # a Python keyword
        help="also profile async/await: time tasks spend suspended at each await (default: off; "
        "on Python 3.12+ it slows every generator step, up to 10x on generator-heavy code)",
    )
    log_level: str = _option(  # logging records and warnings at this level and up -> logs.log
        "WARNING",
        kind=Kind.VALUE,
        check=_choice(LOG_LEVELS, upper=True),
        flags=(Flag("--log-level", "l"),),
        metavar="LEVEL",
        parse=str.upper,
        choices=LOG_LEVELS,
        help="capture the script's logging records and warnings at this level and above to "
        "logs.log (DEBUG, INFO, WARNING, ERROR, CRITICAL; default WARNING)",
    )
    no_plots: bool = _option(  # matplotlib / plotly never open a window
        False,
        kind=Kind.FLAG,
        check=_flag,
        flags=(Flag("--no-plots"),),
        help="do not show matplotlib or plotly windows, so closing one never counts as run time",
    )
    live: float | None = _option(  # seconds between live readouts of the top functions
        kind=Kind.VALUE,
        check=_seconds,
        flags=(Flag("--live", "i"),),
        metavar="SECONDS",
        parse=float,
        key=None,
        help="show the top functions every SECONDS while the script runs",
    )
    ignore: tuple[str, ...] = _option(  # folders not searched and not reported
        (),
        kind=Kind.REPEATABLE,
        check=_strings,
        flags=(Flag("--ignore", "g"),),
        metavar="DIR",
        help="a folder not searched and not reported, on top of the configured ones (repeatable)",
    )
    args: tuple[str, ...] = _option(  # the script's own arguments
        (),
        kind=Kind.SCRIPT_ARGS,
        check=_strings,
        flags=(Flag("--arg", "a"),),
        metavar="ARG",
        measuring=True,
        help="an argument for the script (repeatable; on the command line: after --)",
    )
    env: Mapping[str, str] = _option(  # added to the environment
        factory=dict, kind=Kind.MANIFEST, check=_environment, measuring=True
    )
    cwd: Path | None = _option(  # noqa: RUF009 (a field specifier) the script's working directory
        kind=Kind.MANIFEST, check=_folder, measuring=True
    )
    timeout: float | None = _option(  # seconds before the script is stopped
        kind=Kind.VALUE,
        check=_seconds,
        flags=(Flag("--timeout", "e"),),
        metavar="SECONDS",
        parse=float,
        help="stop a script that runs longer than this",
    )
    verbose: bool = _option(  # in a batch, print this run's full Profile Summary, not one line
        False,
        kind=Kind.FLAG,
        check=_flag,
        flags=(Flag("--verbose", "v"),),
        reproduced=False,
        help="in a batch, print each run's full Profile Summary instead of one line "
        "(a single profile always prints it)",
    )
    instructions: bool = _option(  # also count instructions under Cachegrind, after the profile
        False,
        kind=Kind.FLAG,
        check=_flag,
        flags=(Flag("--instructions", "s"),),
        help="after the profile, run the script once more under Valgrind's Cachegrind and "
        "record the instructions it executed: a count that noise does not move (needs "
        "valgrind; 25-50x slower than the script)",
    )

    @classmethod
    def from_values(cls, **values: object) -> ProfileOptions:
        """Options from keyword values where None means "not given" (the default applies)."""
        return _DEFAULTS.updated(**values)

    def updated(self, **values: object) -> ProfileOptions:
        """These options with keyword values on top, where None means "not given"."""
        given = {name: value for name, value in values.items() if value is not None}
        # The values are not yet checked (object): __post_init__ checks each one and gives it
        # its field's type, or raises a UserError, so the fields' types hold once it is made.
        return replace(self, **given)  # type: ignore[arg-type]

    def __post_init__(self) -> None:
        """Check every value, and store it in its normal form (tuples, upper-case level, ...)."""
        for option in fields(self):
            object.__setattr__(
                self, option.name, check_option(option.name, getattr(self, option.name))
            )

    def to_argv(self) -> list[str]:
        """The `fixingahole profile` options that reproduce these (env and cwd have no flag)."""
        single: list[str] = []
        repeated: list[str] = []
        script: list[str] = []
        for option in OPTIONS:
            value = getattr(self, option.field)
            if not option.reproduced or value == getattr(_DEFAULTS, option.field):
                continue
            if option.kind in (Kind.FLAG, Kind.SWITCH, Kind.CHOICE):
                single += [flag.name for flag in option.flags if flag.value == value]
            elif option.kind is Kind.VALUE:
                single += [option.flag.name, _text(value)]
            elif option.kind is Kind.REPEATABLE:
                for item in value:
                    repeated += [option.flag.name, item]
            elif option.kind is Kind.SCRIPT_ARGS:
                script = ["--", *value]
        return single + repeated + script


OPTIONS: tuple[Option, ...] = tuple(
    replace(
        row := item.metadata[_ROW],
        field=item.name,
        key=item.name if row.key == "" else row.key,
    )
    for item in fields(ProfileOptions)
)
OPTIONS_BY_FIELD = {option.field: option for option in OPTIONS}
OPTION_KEYS = tuple(option.key for option in OPTIONS if option.key)  # the manifest's keys
MEASURING_OPTIONS = tuple(option.field for option in OPTIONS if option.measuring)
_FIELD_OF_KEY = {option.key: option.field for option in OPTIONS if option.key}
_DEFAULTS = ProfileOptions()


def _text(value: object) -> str:
    """A value as typed on a command line: 300 rather than 300.0."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)


def _is_prime(number: int) -> bool:
    if number < 2:
        return False
    if number % 2 == 0 or number % 3 == 0:
        return number in (2, 3)
    divisor = 5
    while divisor * divisor <= number:
        if number % divisor == 0 or number % (divisor + 2) == 0:
            return False
        divisor += 6
    return True


def _next_prime(number: int) -> int:
    while not _is_prime(number):
        number += 1
    return number
