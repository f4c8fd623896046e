"""The invoke collection. Add it to your own `tasks.py`:

    from fixingahole.tasks import ns        # as the root: `invoke profile-all`

or beside your own tasks, as a sub-collection (`invoke fixingahole.profile-all`):

    from invoke import Collection
    import fixingahole.tasks

    ns = Collection(my_task)
    ns.add_collection(fixingahole.tasks.ns)

Each task is a command of `fixingahole.commands`, with the same arguments as `fixingahole <command>`
(flags, positionals, an optional B of compare, a bare --fail-on-regression) and invoke's short
flags set explicitly. The script's arguments are `--arg X`, once each. Defaults live under the
`fixingahole` config key (`manifest`, `root`, `output`), so `invoke.yaml` or
`INVOKE_FIXINGAHOLE_MANIFEST=other.toml` can change them; `--root`, `--output` and `--manifest`
beat them.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# From their modules: the package re-exports them without saying so, which mypy (strict) refuses.
from invoke.collection import Collection
from invoke.context import Context
from invoke.exceptions import Exit
from invoke.parser.argument import Argument as InvokeArgument
from invoke.tasks import Task

from fixingahole.commands import COMMANDS, Command
from fixingahole.commands.arguments import Argument, Shape
from fixingahole.errors import UserError
from fixingahole.options import Flag

POSITIONALS = (Shape.POSITIONAL, Shape.OPTIONAL_POSITIONAL)
CONFIG_DEFAULTS = (("root", "root"), ("output", "output_dir"), ("manifest", "manifest"))


class CommandTask(Task[Callable[..., None]]):
    """An invoke task over a command: its parameters, their help and short flags from the
    command's arguments (not from a function signature, so their order does not matter)."""

    def __init__(self, command: Command) -> None:
        self.command = command
        body = _body(command)
        positional = [a.dest for a in command.arguments if a.shape in POSITIONALS]
        super().__init__(body, name=command.name, positional=positional)

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[InvokeArgument]:
        return [
            parameter
            for argument in self.command.arguments
            for parameter in _parameters(self.command, argument)
        ]


class OptionalPositional(InvokeArgument):
    """A positional that may be left out (compare's B).

    Invoke's parser gives the next word to a positional whose value is None, refuses a task
    whose positionals are still None when it wraps the task up (`complete_context`), and calls a
    word after an optional-value flag ambiguous while a positional is None (`check_ambiguity`).
    This one is None while words are handed out, and "" (nothing given) to those two checks, so
    that `compare A --fail-on-regression 7` reads 7 as the flag's value, as argparse does.
    """

    @property
    def value(self) -> Any:
        if self._value is None and _wrapping_up():
            return ""
        return super().value

    @value.setter
    def value(self, word: str) -> None:
        self.set_value(word, cast=True)


def _wrapping_up() -> bool:
    """Whether invoke's parser asks from one of its checks (a caller a few frames up)."""
    frame = sys._getframe(1)
    for _ in range(6):
        if frame.f_code.co_name in ("complete_context", "check_ambiguity"):
            return True
        if frame.f_back is None:
            return False
        frame = frame.f_back
    return False


def _body(command: Command) -> Callable[..., None]:
    def body(c: Context, **given: Any) -> None:
        values = _values(command, given, c.config.get("fixingahole", {}))
        try:
            code = command.call(values)
        except UserError as exc:
            raise Exit(f"fixingahole: error: {exc}", code=exc.exit_code) from None
        if code:
            raise Exit(code=code)

    body.__name__ = command.name.replace("-", "_")
    body.__doc__ = command.doc()
    return body


def _parameters(command: Command, argument: Argument) -> list[InvokeArgument]:
    """The invoke parameters of one argument (a switch or a choice has one per flag)."""
    help = argument.help
    if argument.choices:
        help += f" (one of {', '.join(argument.choices)})"
    if argument.shape in POSITIONALS:
        kind = OptionalPositional if argument.shape is Shape.OPTIONAL_POSITIONAL else InvokeArgument
        names = _names(argument.dest, argument.short)
        return [
            kind(
                names=names,
                kind=str,
                positional=True,
                help=help,
                attr_name=_attr(names[0]),
            )
        ]
    if argument.shape in (Shape.SWITCH, Shape.CHOICE):
        return [
            InvokeArgument(
                names=_names(flag.name[2:], command.short(flag)),
                kind=bool,
                default=False,
                help=flag.help or help,
                attr_name=_attr(flag.name[2:]),
            )
            for flag in argument.flags
        ]
    flag = argument.flags[0]
    kinds: dict[Shape, dict[str, Any]] = {
        Shape.FLAG: {"kind": bool, "default": False},
        Shape.VALUE: {"kind": str},
        Shape.OPTIONAL_VALUE: {"kind": str, "optional": True},
        Shape.REPEATABLE: {"kind": list, "default": []},
        Shape.SCRIPT_ARGS: {"kind": list, "default": []},
    }
    names = _names(flag.name[2:], command.short(flag))
    return [
        InvokeArgument(names=names, help=help, attr_name=_attr(names[0]), **kinds[argument.shape])
    ]


def _names(name: str, short: str | None) -> tuple[str, ...]:
    return (name, short) if short and short != name else (name,)


def _attr(name: str) -> str | None:
    """The keyword invoke passes a parameter as, when its name has a dash (as invoke names it)."""
    return name.replace("-", "_") if "-" in name else None


def _key(flag: Flag) -> str:
    """The keyword invoke passes a flag as."""
    return flag.name[2:].replace("-", "_")


def _values(
    command: Command, given: Mapping[str, Any], config: Mapping[str, Any]
) -> dict[str, Any]:
    """The command's values from the task's keywords, as the CLI's parser gives them."""
    values = {argument.dest: _value(command, argument, given) for argument in command.arguments}
    for key, dest in CONFIG_DEFAULTS:
        if values.get(dest) is None and config.get(key):
            values[dest] = Path(config[key])
    return values


def _value(command: Command, argument: Argument, given: Mapping[str, Any]) -> Any:
    shape = argument.shape
    if shape in (Shape.SWITCH, Shape.CHOICE):
        chosen = [flag for flag in argument.flags if given.get(_key(flag))]
        if len(chosen) > 1:
            raise _error(UserError(f"choose one of {' and '.join(f.name for f in chosen)}"))
        return chosen[0].value if chosen else None
    word = given.get(argument.dest if shape in POSITIONALS else _key(argument.flags[0]))
    if shape in POSITIONALS:
        return word or None
    if shape is Shape.FLAG:
        return argument.flags[0].value if word else argument.default
    if shape in (Shape.REPEATABLE, Shape.SCRIPT_ARGS):
        return [_parse(argument, item) for item in word or ()]
    if word is None:
        if argument.required:
            raise _error(UserError(f"{command.name} needs {argument.flag} {argument.metavar}"))
        return argument.default
    if word is True:  # a bare OPTIONAL_VALUE
        return argument.const
    return _parse(argument, word)


def _parse(argument: Argument, word: str) -> Any:
    """A word as argparse would read it, with argparse's words for a bad one."""
    try:
        value = argument.parse(word)
    except (TypeError, ValueError):
        kind = getattr(argument.parse, "__name__", "")
        raise _error(
            UserError(f"argument {argument.flag}: invalid {kind} value: {word!r}")
        ) from None
    if argument.choices and value not in argument.choices:
        choices = ", ".join(argument.choices)
        raise _error(
            UserError(
                f"argument {argument.flag}: invalid choice: {value!r} (choose from {choices})"
            )
        )
    return value


def _error(exc: UserError) -> Exit:
    """A user error as invoke shows it: one line, its exit code, no traceback."""
    return Exit(f"fixingahole: error: {exc}", code=exc.exit_code)


ns = Collection("fixingahole", *(CommandTask(command) for command in COMMANDS))
ns.configure({"fixingahole": {"manifest": None, "root": None, "output": None}})
