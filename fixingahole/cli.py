"""The `fixingahole` command: argparse over the commands of `fixingahole.commands`.

Each command's arguments are declared once (`commands.arguments`); this module turns them into
argparse options and calls the command's `run(...)` with the values parsed. Only the standard
library is imported at start-up; each command imports what it uses.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any

from fixingahole import __version__
from fixingahole.commands import COMMANDS, Command
from fixingahole.commands.arguments import Argument, Shape
from fixingahole.errors import UserError

GROUPS = {"store": "maintain the results store"}  # the CLI's command groups (`store rebuild`)
_COMMAND = "_command"  # the parsed namespace's key for the command chosen


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    argv, script_args = _split_script_args(argv)
    values = vars(build_parser().parse_args(argv))
    command: Command = values.pop(_COMMAND)
    values["args"] = script_args
    typed = argv + (["--", *script_args] if script_args else [])
    values["command"] = shlex.join(["fixingahole", *typed])
    try:
        return command.call(values)
    except UserError as exc:
        print(f"fixingahole: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("fixingahole: interrupted", file=sys.stderr)
        return 130


def _split_script_args(argv: list[str]) -> tuple[list[str], list[str]]:
    """Everything after the first `--` belongs to the profiled script."""
    if "--" in argv:
        i = argv.index("--")
        return argv[:i], argv[i + 1 :]
    return argv, []


def build_parser() -> argparse.ArgumentParser:
    """The argument parser, with one subparser per command."""
    parser = argparse.ArgumentParser(
        prog="fixingahole",
        description="Profile Python scripts and notebooks with Scalene, keep every run, "
        "and compare runs across dates, commits and repeats.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    groups: dict[str, Any] = {}
    for command in COMMANDS:
        *group, word = command.cli_words
        parent = commands
        if group:
            if group[0] not in groups:
                grouped = commands.add_parser(group[0], help=GROUPS[group[0]])
                groups[group[0]] = grouped.add_subparsers(
                    title=f"{group[0]} commands", metavar="COMMAND", required=True
                )
            parent = groups[group[0]]
        sub = parent.add_parser(
            word,
            help=command.help,
            description=command.description or None,
            epilog=command.epilog or None,
        )
        add_arguments(sub, command.arguments)
        sub.set_defaults(**{_COMMAND: command})
    return parser


def add_arguments(parser: argparse.ArgumentParser, arguments: tuple[Argument, ...]) -> None:
    """A command's arguments as argparse arguments (the script's arguments come after `--`)."""
    for argument in arguments:
        if argument.shape in (Shape.CHOICE, Shape.SWITCH):  # one flag at most, as in invoke
            group = parser.add_mutually_exclusive_group()
            for flag in argument.flags:
                group.add_argument(
                    flag.name,
                    dest=argument.dest,
                    action="store_const",
                    const=flag.value,
                    help=flag.help or argument.help,
                )
        elif argument.shape in (Shape.POSITIONAL, Shape.OPTIONAL_POSITIONAL):
            optional = argument.shape is Shape.OPTIONAL_POSITIONAL
            parser.add_argument(
                argument.dest,
                metavar=argument.metavar,
                nargs="?" if optional else None,
                help=argument.help,
            )
        elif argument.shape is not Shape.SCRIPT_ARGS:
            parser.add_argument(
                argument.flag, dest=argument.dest, help=argument.help, **_how(argument)
            )


def _how(argument: Argument) -> dict[str, Any]:
    """argparse's keywords for a flag of this shape."""
    shape = argument.shape
    if shape is Shape.FLAG:
        return {
            "action": "store_const",
            "const": argument.flags[0].value,
            "default": argument.default,
        }
    if shape is Shape.REPEATABLE:
        return {
            "action": "append",
            "type": argument.parse,
            "default": [],
            "metavar": argument.metavar,
        }
    value = {
        "type": argument.parse,
        "default": argument.default,
        "choices": argument.choices or None,
        "metavar": argument.metavar,
        "required": argument.required,
    }
    return (
        {**value, "nargs": "?", "const": argument.const} if shape is Shape.OPTIONAL_VALUE else value
    )
