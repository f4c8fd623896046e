"""The two faces, `fixingahole` (argparse) and the invoke collection, give every command the same
`run(...)` call for the same command line. No Scalene: each command's `run` is a recorder here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from invoke import Program

from fixingahole import cli
from fixingahole.commands import COMMANDS, COMPARE, Command, Where
from fixingahole.commands.arguments import Argument, Shape
from fixingahole.tasks import POSITIONALS, ns

FACE_ONLY = ("command",)  # the CLI records the command line as typed; invoke has none to record
SAMPLES = {int: "7", float: "0.5", Path: "some dir/é"}
TODAY_SHORTS = {  # invoke's short flags before the commands were declared once (muscle memory)
    "profile": "n=name m=memory c=cpu p=precision d=detailed t=trace o=no-trace l=log-level "
    "i=live e=timeout a=arg g=ignore r=interval v=verbose s=instructions y=async",
    "profile-all": "t=tag o=only r=repeat f=fail-fast d=dry-run m=memory c=cpu p=precision "
    "e=detailed a=trace n=no-trace l=log-level i=live u=timeout g=arg v=interval b=verbose "
    "s=instructions y=async h=scheduler",
    "runs": "e=entry d=date l=last",
    "compare": "e=entry t=tag h=threshold l=alpha m=metric i=lines f=format o=output",
    "calibrate": "n=name r=repeat a=alpha m=memory c=cpu p=precision d=detailed t=trace "
    "o=no-trace l=log-level i=live e=timeout g=arg v=interval b=verbose s=instructions y=async",
    "report": "r=run o=open t=top",
    "history": "e=entry m=metric o=output c=changes t=threshold a=alpha f=format",
    "bisect": "g=good b=bad e=entry r=repeat t=threshold a=alpha m=metric f=format",
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[dict[str, Any]]:
    """Every command's run(...) recorded instead of run; the faces run from an empty folder."""
    recorded: list[dict[str, Any]] = []
    for command in COMMANDS:
        monkeypatch.setattr(command, "run", lambda **kwargs: recorded.append(kwargs) or 0)
    monkeypatch.chdir(tmp_path)
    for name in ("ROOT", "OUTPUT", "MANIFEST"):
        monkeypatch.delenv(f"INVOKE_FIXINGAHOLE_{name}", raising=False)
    return recorded


def through_cli(calls: list[dict[str, Any]], argv: list[str]) -> dict[str, Any]:
    assert cli.main(argv) == 0
    kwargs = calls.pop()
    return {key: value for key, value in kwargs.items() if key not in FACE_ONLY}


def through_invoke(calls: list[dict[str, Any]], argv: list[str]) -> dict[str, Any]:
    Program(namespace=ns, name="invoke").run(["invoke", *argv], exit=False)
    assert calls, f"invoke {argv} did not reach run()"
    return calls.pop()


def word(argument: Argument) -> str:
    if argument.choices:
        return argument.choices[-1]  # not the default
    return SAMPLES.get(argument.parse, "w")


def cases(command: Command) -> list[tuple[str, list[str], list[str]]]:
    """(what, CLI words, invoke words) for the command alone and for each way to give each of its
    arguments, after the positionals and the required flags."""
    base: list[str] = []
    for argument in command.arguments:
        if argument.shape is Shape.POSITIONAL:
            base.append(f"{argument.dest} 1")
        elif argument.required:
            base += [argument.flag, "e"]
    head = [*command.cli_words, *base], [command.name, *base]
    found = [("no options", *head)]
    for argument in command.arguments:
        for cli_words, invoke_words in ways(argument):
            found.append((argument.flag, head[0] + cli_words, head[1] + invoke_words))
    return found


def ways(argument: Argument) -> list[tuple[list[str], list[str]]]:
    shape = argument.shape
    if shape is Shape.OPTIONAL_POSITIONAL:
        return [(["b 2"], ["b 2"])]
    if shape in (Shape.SWITCH, Shape.CHOICE):
        return [([flag.name], [flag.name]) for flag in argument.flags]
    if shape is Shape.FLAG:
        return [([argument.flag], [argument.flag])]
    if shape is Shape.VALUE and not argument.required:
        return [([argument.flag, word(argument)],) * 2]
    if shape is Shape.OPTIONAL_VALUE:
        given = [argument.flag, word(argument)]
        return [([argument.flag], [argument.flag]), (given, given)]
    if shape is Shape.REPEATABLE:
        return [([argument.flag, "u", argument.flag, "v w"],) * 2]
    if shape is Shape.SCRIPT_ARGS:
        return [(["--", "u", "v w"], [argument.flag, "u", argument.flag, "v w"])]
    return []


ALL_CASES = [
    pytest.param(command, cli_words, invoke_words, id=f"{command.name}: {what}")
    for command in COMMANDS
    for what, cli_words, invoke_words in cases(command)
]


@pytest.mark.parametrize(("command", "cli_words", "invoke_words"), ALL_CASES)
def test_both_faces_make_the_same_call(calls, command, cli_words, invoke_words) -> None:
    from_cli = through_cli(calls, cli_words)
    from_invoke = through_invoke(calls, invoke_words)
    assert from_cli == from_invoke
    assert set(from_cli) == set(command.bind({})) - set(FACE_ONLY)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: command.name)
def test_both_faces_take_the_same_flags(command: Command) -> None:
    parser = cli.build_parser()
    sub = parser._subparsers._group_actions[0].choices[command.cli_words[0]]  # type: ignore[union-attr]
    if len(command.cli_words) > 1:
        sub = sub._subparsers._group_actions[0].choices[command.cli_words[1]]
    in_cli = {flag for action in sub._actions for flag in action.option_strings} - {"-h", "--help"}
    context = next(ctx for ctx in ns.to_contexts() if ctx.name == command.name)
    in_invoke = {flag for flag in context.flags if flag.startswith("--")}
    positionals = {f"--{a.dest}" for a in command.arguments if a.shape in POSITIONALS}
    # invoke's positionals are flags too; the CLI takes the script's arguments after --
    assert in_invoke - positionals - {"--arg"} == in_cli


@pytest.mark.parametrize("task", sorted(TODAY_SHORTS))
def test_invoke_keeps_todays_short_flags(task: str) -> None:
    context = next(ctx for ctx in ns.to_contexts() if ctx.name == task)
    wanted = dict(pair.split("=") for pair in TODAY_SHORTS[task].split())
    flags = context.flags  # a short flag is an alias there
    found = {short: flags[f"-{short}"].names[0] for short in wanted if f"-{short}" in flags}
    assert found == wanted


def test_invoke_compare_takes_one_selector(calls) -> None:
    assert through_invoke(calls, ["compare", "B"])["a"] == "B"
    assert through_invoke(calls, ["compare", "A", "B"])["b"] == "B"
    both = through_invoke(calls, ["compare", "before", "B"])  # the old spelling still parses
    assert (both["a"], both["b"]) == ("before", "B")


@pytest.mark.parametrize(
    ("words", "gate"),
    [
        (["--fail-on-regression"], 5.0),
        (["--fail-on-regression", "--threshold", "8"], 8.0),
        (["--fail-on-regression", "12"], 12.0),
        (["--threshold", "8"], None),
    ],
)
def test_a_bare_fail_on_regression_gates_at_the_threshold(calls, words, gate) -> None:
    for kwargs in (
        through_cli(calls, ["compare", "A", *words]),
        through_invoke(calls, ["compare", "A", *words]),
    ):
        assert kwargs["b"] is None
        assert kwargs["fail_on_regression_pct"] == gate


def test_invoke_config_defaults_and_the_flags_that_beat_them(calls, monkeypatch, tmp_path):
    monkeypatch.setenv("INVOKE_FIXINGAHOLE_ROOT", "configured root")
    monkeypatch.setenv("INVOKE_FIXINGAHOLE_MANIFEST", "other.toml")
    kwargs = through_invoke(calls, ["profile-all"])
    assert kwargs["where"] == Where(root=tmp_path / "configured root")
    assert kwargs["manifest"] == Path("other.toml")
    given = through_invoke(calls, ["profile-all", "--root", "mine", "--manifest", "m.toml"])
    assert given["where"].root == tmp_path / "mine" and given["manifest"] == Path("m.toml")


@pytest.mark.parametrize(
    ("words", "message"),
    [
        (["--repeat", "many"], "argument --repeat: invalid int value: 'many'"),
        (["--metric", "speed"], "argument --metric: invalid choice: 'speed'"),
    ],
)
def test_a_bad_word_is_one_line_in_both_faces(calls, capsys, words, message) -> None:
    with pytest.raises(SystemExit) as cli_exit:
        cli.main(["bisect", "a", "b", "--entry", "e", *words])
    assert cli_exit.value.code == 2 and message in capsys.readouterr().err
    with pytest.raises(SystemExit) as invoke_exit:
        Program(namespace=ns, name="invoke").run(["invoke", "bisect", "a", "b", "-e", "e", *words])
    err = capsys.readouterr().err
    assert invoke_exit.value.code == 2 and err.count("\n") == 1
    assert err.startswith(f"fixingahole: error: {message}")
    assert not calls


def test_a_missing_required_flag_is_named_in_invoke(calls, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        Program(namespace=ns, name="invoke").run(["invoke", "bisect", "a", "b"])
    assert exit_.value.code == 2
    assert capsys.readouterr().err == "fixingahole: error: bisect needs --entry NAME\n"


def test_the_compare_gate_is_applied_once(calls) -> None:
    kwargs = COMPARE.bind({"a": "A", "threshold_pct": 3.0, "fail_on_regression_pct": True})
    assert kwargs["fail_on_regression_pct"] == 3.0


@pytest.mark.parametrize("flags", [("--memory", "--cpu"), ("--trace", "--no-trace")])
def test_both_faces_refuse_two_flags_of_one_option(calls, capsys, flags) -> None:
    with pytest.raises(SystemExit) as cli_exit:
        cli.main(["profile", "x.py", *flags])
    assert cli_exit.value.code == 2 and "not allowed with argument" in capsys.readouterr().err
    with pytest.raises(SystemExit) as invoke_exit:
        Program(namespace=ns, name="invoke").run(["invoke", "profile", "x.py", *flags])
    assert invoke_exit.value.code == 2
    assert f"choose one of {flags[0]} and {flags[1]}" in capsys.readouterr().err
    assert not calls
