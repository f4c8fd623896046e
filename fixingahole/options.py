"""The options of one profile, defined once for the command line, the manifest and the batch."""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from fixingahole.errors import UserError

MODES = ("cpu", "memory")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
PRECISION_MIN, PRECISION_MAX = -10, 10
INTERVAL_MIN, INTERVAL_MAX = 0.001, 1.0  # seconds between CPU samples
BASE_WINDOW = 10 * 2**20  # bytes between allocation samples at precision 0 (about 10 MB)


@dataclass(frozen=True)
class ProfileOptions:
    """How to profile one script or notebook; values are checked and normalised when made."""

    mode: str = "cpu"  # "cpu": time only; "memory": time plus heap memory with line blame
    precision: int = 0  # memory sampling granularity, see allocation_window()
    interval: float | None = None  # seconds between CPU samples; None: Scalene's (0.01)
    detailed: bool = False  # also report inside imported libraries (Scalene --profile-all)
    trace: bool = True  # collect call stacks
    # profile async/await (Scalene --async); on 3.12+ it slows every generator step
    async_profile: bool = False
    log_level: str = "WARNING"  # logging records and warnings at this level and up -> logs.log
    no_plots: bool = False  # matplotlib / plotly never open a window
    live: float | None = None  # seconds between live readouts of the top functions
    ignore: tuple[str, ...] = ()  # folders not searched and not reported
    args: tuple[str, ...] = ()  # the script's own arguments
    env: Mapping[str, str] = field(default_factory=dict, hash=False)  # added to the environment
    cwd: Path | None = None  # the script's working directory
    timeout: float | None = None  # seconds before the script is stopped
    verbose: bool = False  # in a batch, print this run's full Profile Summary, not one line
    instructions: bool = False  # also count instructions under Cachegrind, after the profile

    @classmethod
    def from_values(cls, **values: object) -> ProfileOptions:
        """Options from keyword values where None means "not given" (the default applies)."""
        return cls(**{name: value for name, value in values.items() if value is not None})

    def __post_init__(self) -> None:
        """Check every value, and store it in its normal form (tuples, upper-case level, ...)."""
        for option in fields(self):
            object.__setattr__(
                self, option.name, check_option(option.name, getattr(self, option.name))
            )

    def to_argv(self) -> list[str]:
        """The `fixingahole profile` options that reproduce these (env and cwd have no flag)."""
        argv = ["--memory"] if self.mode == "memory" else []
        argv += ["--precision", str(self.precision)] if self.precision else []
        argv += ["--interval", _number(self.interval)] if self.interval else []
        argv += ["--detailed"] if self.detailed else []
        argv += [] if self.trace else ["--no-trace"]
        argv += ["--async"] if self.async_profile else []
        argv += ["--log-level", self.log_level] if self.log_level != "WARNING" else []
        argv += ["--no-plots"] if self.no_plots else []
        argv += ["--live", _number(self.live)] if self.live else []
        argv += ["--timeout", _number(self.timeout)] if self.timeout else []
        argv += ["--instructions"] if self.instructions else []
        for folder in self.ignore:
            argv += ["--ignore", folder]
        return argv + (["--", *self.args] if self.args else [])


def check_option(name: str, value: object) -> object:
    """`value` in normal form for the option `name` (a field, or its manifest key); UserError
    '<name>: must be ..., got ...'."""
    try:
        return _CHECKS[option_field(name)](value)
    except _Invalid as problem:
        raise UserError(f"{name}: must be {problem}, got {show_value(value)}") from None


def option_field(key: str) -> str:
    """The ProfileOptions field a manifest key sets (`async` is a Python keyword)."""
    return "async_profile" if key == "async" else key


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


_CHECKS: dict[str, Callable[[object], object]] = {
    "mode": _choice(MODES),
    "precision": _precision,
    "interval": _interval,
    "detailed": _flag,
    "trace": _flag,
    "async_profile": _flag,
    "log_level": _choice(LOG_LEVELS, upper=True),
    "no_plots": _flag,
    "live": _seconds,
    "ignore": _strings,
    "args": _strings,
    "env": _environment,
    "cwd": _folder,
    "timeout": _seconds,
    "verbose": _flag,
    "instructions": _flag,
}


def _number(seconds: float) -> str:
    """Seconds as typed: 300 rather than 300.0."""
    return str(int(seconds)) if seconds.is_integer() else repr(seconds)


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
