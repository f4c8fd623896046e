"""Function figures derived from lines and stacks, the same way on every Scalene version.

Scalene's own per-function figures cannot be used as they are: 2.x spreads a loop's samples over
the loop's lines but counts them once in the function (a `while` loop's function shows half its
time), and a function is placed at the line where another file's function of the same name is.
So the functions of a file are read from its source (the text Scalene recorded for each line):

- a function is a `def` (or `async def`), named by its qualified name (`Walker.step`,
  `outer.<locals>.inner`) and placed at its `def` line;
- a line belongs to the innermost `def` around it; lambdas, comprehensions and generator
  expressions are part of the function they are written in, decorators and class bodies of the
  scope around them, and the rest of the file is module level;
- a function's self figures are those of its own lines: CPU percentages and allocations add up,
  the peak is the largest line peak, the Python share and average are weighted by allocations;
- its total is the share of all CPU samples whose call stack holds one of its frames (each stack
  counted once, so recursion is not counted twice), and never less than its self time; None when
  Scalene recorded no stacks.

A file whose source cannot be read this way (code run through `exec`, lines missing) keeps
Scalene's own functions; their totals still come from the stacks, matched by name.
"""

from __future__ import annotations

import ast
import dataclasses
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from fixingahole.scalene_output import FileStat, Frame, FunctionStat, LineStat, StackSample

_CPU = ("python_percent", "native_percent", "system_percent")
_SUMMED = ("malloc_mb", "usage_fraction", "copy_mb_s")


@dataclass(frozen=True)
class Scope:
    """A function of a source file: its qualified name, `def` line and last line."""

    name: str
    lineno: int
    last: int


def scopes_of(lines: Sequence[LineStat]) -> tuple[Scope, ...] | None:
    """The functions of a file whose every line Scalene listed; None when its source is unknown
    (lines missing or out of order) or is not Python this interpreter can parse."""
    if not lines or any(line.lineno != n for n, line in enumerate(lines, 1)):
        return None
    source = "".join(line.source.rstrip("\r\n") + "\n" for line in lines)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    found: list[Scope] = []
    _collect(tree, "", found)
    return tuple(sorted(found, key=lambda scope: scope.lineno))


def _collect(node: ast.AST, prefix: str, found: list[Scope]) -> None:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
            name = prefix + child.name
            found.append(Scope(name, child.lineno, child.end_lineno or child.lineno))
            _collect(child, f"{name}.<locals>.", found)
        elif isinstance(child, ast.ClassDef):
            _collect(child, f"{prefix}{child.name}.", found)
        else:
            _collect(child, prefix, found)


def owners(scopes: Sequence[Scope], count: int) -> list[Scope | None]:
    """For lines 1..count (index 0 unused), the innermost function holding each, None at module
    level. Scopes are sorted by `def` line, so a nested one overwrites the one around it."""
    owner: list[Scope | None] = [None] * (count + 1)
    for scope in scopes:
        for lineno in range(scope.lineno, min(scope.last, count) + 1):
            owner[lineno] = scope
    return owner


def derive(
    files: Sequence[FileStat], stacks: Sequence[StackSample]
) -> tuple[tuple[FileStat, ...], tuple[StackSample, ...]]:
    """Files with their functions derived from lines and stacks, and the stacks with each frame
    given the `def` line of the function it runs in (see the module docstring)."""
    tables = {file.path: _owner_table(file) for file in files}
    stacks = tuple(_placed(sample, tables) for sample in stacks)
    totals = _totals(stacks) if stacks else None
    derived = []
    for file in files:
        table = tables[file.path]
        functions = _own_functions(file, table) if table is not None else file.functions
        derived.append(dataclasses.replace(file, functions=_with_totals(functions, table, totals)))
    return tuple(derived), stacks


def _owner_table(file: FileStat) -> list[Scope | None] | None:
    if file.scopes is None:
        return None
    return owners(file.scopes, max((line.lineno for line in file.lines), default=0))


def _owner(table: list[Scope | None], lineno: int) -> Scope | None:
    return table[lineno] if 0 < lineno < len(table) else None


def _placed(sample: StackSample, tables: dict[str, list[Scope | None] | None]) -> StackSample:
    frames = []
    for frame in sample.frames:
        table = tables.get(frame.file)
        if table is not None:
            scope = _owner(table, frame.lineno)
            frame = dataclasses.replace(frame, def_lineno=scope.lineno if scope else 0)
        frames.append(frame)
    return dataclasses.replace(sample, frames=tuple(frames))


def _frame_key(frame: Frame) -> tuple[str, int | str]:
    """A frame's function: by `def` line where the file's functions are known, else by name."""
    return (frame.file, frame.def_lineno if frame.def_lineno is not None else frame.name)


def _totals(stacks: Iterable[StackSample]) -> dict[tuple[str, int | str], float]:
    """100 x the CPU fraction of the stacks holding each function, each stack counted once."""
    totals: dict[tuple[str, int | str], float] = defaultdict(float)
    for sample in stacks:
        for key in {_frame_key(frame) for frame in sample.frames}:
            totals[key] += sample.cpu_fraction * 100
    return totals


def _own_functions(file: FileStat, table: list[Scope | None]) -> tuple[FunctionStat, ...]:
    grouped: dict[Scope, list[LineStat]] = defaultdict(list)
    for line in file.lines:
        scope = _owner(table, line.lineno)
        if scope is not None:
            grouped[scope].append(line)
    return tuple(_function(file.path, scope, grouped.get(scope, [])) for scope in file.scopes or ())


def _function(path: str, scope: Scope, lines: Sequence[LineStat]) -> FunctionStat:
    """One function's self figures from its own lines."""
    figures = {name: sum(getattr(line, name) for line in lines) for name in (*_CPU, *_SUMMED)}
    malloc: float = figures["malloc_mb"]

    def weighted(name: str) -> float:
        if malloc <= 0:
            return 0.0
        total: float = sum(getattr(line, name) * line.malloc_mb for line in lines)
        return total / malloc

    return FunctionStat(
        file=path,
        name=scope.name,
        lineno=scope.lineno,
        peak_mb=max((line.peak_mb for line in lines), default=0.0),
        avg_mb=weighted("avg_mb"),
        python_fraction=weighted("python_fraction"),
        **figures,
    )


def _with_totals(
    functions: Iterable[FunctionStat],
    table: list[Scope | None] | None,
    totals: dict[tuple[str, int | str], float] | None,
) -> tuple[FunctionStat, ...]:
    """Each function with its total; those with no time, memory or total left out."""
    kept = []
    for function in functions:
        total = None
        if totals is not None:
            key = function.lineno if table is not None else function.name
            total = max(totals.get((function.file, key), 0.0), function.percent)
        if function.percent > 0 or function.peak_mb > 0 or function.malloc_mb > 0 or total:
            kept.append(dataclasses.replace(function, total_percent=total))
    return tuple(kept)
