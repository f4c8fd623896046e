"""ProfileOptions: defaults, normal forms, every validation message, and the allocation window."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from fixingahole.errors import UserError
from fixingahole.options import ProfileOptions, allocation_window, check_option


def test_defaults() -> None:
    options = ProfileOptions()
    assert (options.mode, options.precision, options.log_level) == ("cpu", 0, "WARNING")
    assert (options.detailed, options.trace, options.no_plots) == (False, True, False)
    assert (options.live, options.timeout, options.cwd) == (None, None, None)
    assert options.interval is None  # Scalene's own sampling interval
    assert (options.ignore, options.args, dict(options.env)) == ((), (), {})


def test_values_are_stored_in_normal_form(tmp_path: Path) -> None:
    options = ProfileOptions(
        log_level="debug",
        args=["--name", "a b"],
        ignore=["tests"],
        env={"SEED": "1"},
        cwd=str(tmp_path / "dossier é"),
        timeout=3,
    )
    assert options.log_level == "DEBUG"
    assert options.args == ("--name", "a b")
    assert options.ignore == ("tests",)
    assert options.cwd == tmp_path / "dossier é"
    assert options.timeout == 3.0
    assert isinstance(options.timeout, float)


def test_options_are_frozen_and_hashable() -> None:
    options = ProfileOptions(env={"A": "1"})
    with pytest.raises(AttributeError):
        options.mode = "memory"  # type: ignore[misc]
    assert hash(options) == hash(ProfileOptions(env={"B": "2"}))
    assert options != ProfileOptions(env={"B": "2"})


def test_from_values_treats_none_as_not_given() -> None:
    options = ProfileOptions.from_values(mode="memory", precision=None, trace=None, timeout=5.0)
    assert options == ProfileOptions(mode="memory", timeout=5.0)


def test_updated_keeps_what_is_not_given_and_checks_what_is() -> None:
    options = ProfileOptions(mode="memory", precision=3, args=("x",))
    updated = options.updated(precision=None, log_level="debug", args=["y", "z"])
    assert updated == ProfileOptions(mode="memory", precision=3, log_level="DEBUG", args=("y", "z"))
    with pytest.raises(UserError, match="precision: must be from -10 to 10, got 11"):
        options.updated(precision=11)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("mode", "fast", "mode: must be one of cpu, memory, got 'fast'"),
        ("mode", "CPU", "mode: must be one of cpu, memory, got 'CPU'"),
        ("precision", 11, "precision: must be from -10 to 10, got 11"),
        ("interval", 0, "interval: must be from 0.001 to 1 (seconds), got 0"),
        ("interval", 2.5, "interval: must be from 0.001 to 1 (seconds), got 2.5"),
        ("interval", "fast", "interval: must be a number of seconds from 0.001 to 1, got 'fast'"),
        ("precision", -11, "precision: must be from -10 to 10, got -11"),
        ("precision", 1.5, "precision: must be a whole number from -10 to 10, got 1.5"),
        ("precision", True, "precision: must be a whole number from -10 to 10, got true"),
        ("detailed", "yes", "detailed: must be true or false, got 'yes'"),
        ("trace", 1, "trace: must be true or false, got 1"),
        ("no_plots", None, "no_plots: must be true or false, got None"),
        (
            "log_level",
            "loud",
            "log_level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 'loud'",
        ),
        (
            "log_level",
            10,
            "log_level: must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, got 10",
        ),
        ("live", 0, "live: must be a positive number, got 0"),
        ("live", "2", "live: must be a positive number (seconds), got '2'"),
        ("timeout", -1, "timeout: must be a positive number, got -1"),
        ("timeout", math.inf, "timeout: must be a positive number, got inf"),
        ("timeout", math.nan, "timeout: must be a positive number, got nan"),
        ("timeout", False, "timeout: must be a positive number (seconds), got false"),
        ("ignore", "tests", "ignore: must be a list of strings, got 'tests'"),
        ("args", ["--n", 3], "args: must be a list of strings, got ['--n', 3]"),
        ("env", {"SEED": 1}, "env: must be a table of strings (NAME = \"value\"), got {'SEED': 1}"),
        ("env", ["A=1"], "env: must be a table of strings (NAME = \"value\"), got ['A=1']"),
        ("cwd", 3, "cwd: must be a folder path, got 3"),
        ("cwd", "", "cwd: must be a folder path, got ''"),
        ("verbose", "yes", "verbose: must be true or false, got 'yes'"),
    ],
)
def test_each_validation_message(name: str, value: object, message: str) -> None:
    with pytest.raises(UserError) as caught:
        check_option(name, value)
    assert str(caught.value) == message
    with pytest.raises(UserError) as made:
        ProfileOptions(**{name: value})
    assert str(made.value) == message


def test_to_argv_of_defaults_is_empty() -> None:
    assert ProfileOptions().to_argv() == []
    assert ProfileOptions(verbose=True).to_argv() == []  # how a batch shows it: not the profile


def test_to_argv_reproduces_every_flag() -> None:
    options = ProfileOptions(
        mode="memory",
        precision=-3,
        interval=0.02,
        detailed=True,
        trace=False,
        async_profile=True,
        log_level="info",
        no_plots=True,
        live=0.5,
        timeout=300,
        instructions=True,
        ignore=("tests",),
        args=("--size", "a b"),
        env={"A": "1"},
    )
    assert options.to_argv() == [
        "--memory",
        "--precision",
        "-3",
        "--interval",
        "0.02",
        "--detailed",
        "--no-trace",
        "--async",
        "--log-level",
        "INFO",
        "--no-plots",
        "--live",
        "0.5",
        "--timeout",
        "300",
        "--instructions",
        "--ignore",
        "tests",
        "--",
        "--size",
        "a b",
    ]


def is_prime(number: int) -> bool:
    """Plain trial division by every number up to the square root (independent of the code)."""
    return number > 1 and all(number % d for d in range(2, math.isqrt(number) + 1))


@pytest.mark.parametrize("precision", [-10, -5, 0, 5, 10])
def test_allocation_window_is_a_prime_near_10_mib_scaled(precision: int) -> None:
    target = 10 * 2**20 * 2.0**-precision
    window = allocation_window(precision)
    assert is_prime(window)
    assert abs(window - target) / target < 0.02


def test_allocation_windows_match_the_documented_sizes() -> None:
    assert allocation_window(0) == 10_485_767  # the prime Scalene long used as its default
    assert 9.5e6 < allocation_window(0) < 11e6  # "about 10 MB"
    assert 3.0e5 < allocation_window(5) < 3.5e5  # "about 325 kB"
    assert 3.0e8 < allocation_window(-5) < 3.5e8  # "about 325 MB"
    windows = [allocation_window(p) for p in range(-10, 11)]
    assert windows == sorted(windows, reverse=True)


def test_allocation_window_rejects_an_out_of_range_precision() -> None:
    with pytest.raises(UserError, match="precision: must be from -10 to 10, got 12"):
        allocation_window(12)


def test_async_on_the_command_line_and_in_invoke_sets_the_option() -> None:
    from fixingahole.cli import build_parser
    from fixingahole.commands import PROFILE
    from fixingahole.tasks import ns

    def parsed(*flags: str) -> object:
        args = build_parser().parse_args(["profile", "x.py", *flags])
        return PROFILE.bind(vars(args))["overrides"]["async_profile"]

    assert (parsed(), parsed("--async"), parsed("--no-async")) == (None, True, False)
    names = {name for arg in ns["profile"].get_arguments() for name in arg.names}
    assert {"async", "no-async"} <= names  # invoke: --async, --no-async


def test_the_derived_lists_follow_the_table() -> None:
    from fixingahole.options import MEASURING_OPTIONS, OPTION_KEYS, OPTIONS

    assert [option.field for option in OPTIONS][:3] == ["mode", "precision", "interval"]
    assert "async" in OPTION_KEYS and "async_profile" not in OPTION_KEYS
    assert "live" not in OPTION_KEYS  # a live readout is not a manifest key
    assert MEASURING_OPTIONS == ("precision", "interval", "detailed", "trace", "args", "env", "cwd")
