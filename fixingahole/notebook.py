"""Notebooks: a `.ipynb` becomes a runnable script plus a `CellMap` from script lines to cells.

Cell numbers count the notebook's code cells from 1, top to bottom. Markdown and raw cells are not
counted and execution counts (the `[7]` Jupyter shows) are ignored, so a cell keeps its number
however often, in whatever order, or whether at all the notebook was run before it was saved.

Each code cell's IPython syntax (`%magics`, `%%cell magics`, `!shell` escapes, `obj?` help) becomes
Python through IPython's input transformers, as in nbconvert's `PythonExporter`, and the cells are
written one after the other into one script. A script that needs IPython's shell starts it in its
header (see `fixingahole._nbshim`), unless the shell was started before the script ran, as under
fixing-a-hole, where its start-up is neither sampled nor charged to any cell. Where a
transformer keeps a cell's line count, script lines map exactly to the cell's lines; where a magic
rewrote several lines into one (a `%%time` cell becomes one call), the call maps to the first one.
"""

from __future__ import annotations

import ast
import difflib
import json
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from fixingahole.errors import UserError

_SHELL_NAMES = frozenset({"get_ipython", "display"})  # names that need IPython's shell at run time
_FRAME = re.compile(r'^\s*File "(?P<file>.*)", line (?P<line>\d+)')


@dataclass(frozen=True)
class Cell:
    """One code cell as it stands in the generated script."""

    number: int  # as the report shows it to the user
    first_line: int  # 1-based line of the generated script where the cell's code starts
    line_count: int  # lines of generated code for this cell
    source: tuple[str, ...]  # the cell's own source lines, as the user wrote them
    origins: tuple[int, ...] = ()  # line of `source` behind each generated line; () = one to one

    def line_in_cell(self, offset: int) -> int:
        """The 1-based line of `source` behind the generated line `offset` lines into the cell."""
        return self.origins[offset] if self.origins else offset + 1


@dataclass(frozen=True)
class CellMap:
    """Where each code cell of a notebook landed in the generated script."""

    notebook: Path
    script: Path
    cells: tuple[Cell, ...]
    shell: bool = False  # the script starts IPython's shell (a cell uses magics or `display`)

    def locate(self, lineno: int) -> tuple[Cell, int] | None:
        """The cell holding a script line, and the 1-based line within the cell."""
        for cell in self.cells:
            offset = lineno - cell.first_line
            if 0 <= offset < cell.line_count:
                return cell, cell.line_in_cell(offset)
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (saved as `cells.json` in the run folder)."""
        return {
            "notebook": str(self.notebook),
            "script": str(self.script),
            "cells": [_cell_to_json(cell) for cell in self.cells],
            "shell": self.shell,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CellMap:
        """The map `to_json` wrote."""
        try:
            cells = tuple(
                Cell(
                    number=int(cell["number"]),
                    first_line=int(cell["first_line"]),
                    line_count=int(cell["line_count"]),
                    source=tuple(str(line) for line in cell["source"]),
                    origins=tuple(int(line) for line in cell.get("origins", ())),
                )
                for cell in data["cells"]
            )
            return cls(
                notebook=Path(data["notebook"]),
                script=Path(data["script"]),
                cells=cells,
                shell=bool(data.get("shell", False)),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise UserError(
                f"not a cell map written by fixing-a-hole ({type(error).__name__}: {error}); "
                "profile the notebook again"
            ) from None


def convert_notebook(notebook: Path, script: Path) -> CellMap:
    """Write the notebook's code cells as one runnable script; the notebook is only read."""
    sources = _code_cell_sources(notebook)
    codes = [_to_python(source) for source in sources]
    placed = [
        _place(number, _lines(source), _lines(code))
        for number, (source, code) in enumerate(zip(sources, codes, strict=True), start=1)
    ]
    for cell, code in zip(placed, codes, strict=True):
        _check_cell_compiles(notebook, cell, code)
    needs_shell = any(_SHELL_NAMES & _names(code) for code in codes)
    line = len(_header(notebook.name, needs_shell, ())) + 2  # after the header and a blank line
    cells = []
    for cell in placed:
        cells.append(replace(cell, first_line=line + 1))
        line += cell.line_count + 2  # the cell's marker, its code, and a blank line
    cell_map = CellMap(notebook=notebook, script=script, cells=tuple(cells), shell=needs_shell)
    text = _script_text(cell_map, codes)
    _check_compiles(cell_map, text)
    script.write_text(text, encoding="utf-8")
    return cell_map


def notebook_code_name(notebook: Path) -> Path:
    """The file name a notebook's script runs under when profiled: `analysis.ipynb.py`, beside
    the notebook (nothing is written there), so that it is inside the profiled folder."""
    return notebook.with_name(notebook.name + ".py")


def describe_failure(
    cell_map: CellMap, stderr_text: str, code_name: Path | None = None
) -> str | None:
    """`cell 3, line 2: ZeroDivisionError: division by zero` from the script's traceback, if any.

    The traceback's last frame in the generated script (matched by file name: the script's, or
    `code_name`, the name it ran under) names the place; the first unindented line after it is
    the exception. None when no frame is in the script.
    """
    names = {cell_map.script.name} | ({code_name.name} if code_name else set())
    lines = stderr_text.splitlines()
    last = None
    for index, text in enumerate(lines):
        frame = _FRAME.match(text)
        if frame and Path(frame["file"]).name in names:
            last = index, int(frame["line"])
    if last is None:
        return None
    index, lineno = last
    exception = next(
        (text for text in lines[index + 1 :] if text.strip() and not text[0].isspace()), None
    )
    found = cell_map.locate(lineno)
    if found is None:
        place = f"{cell_map.script.name} line {lineno}"
    else:
        cell, line_in_cell = found
        place = f"cell {cell.number}, line {line_in_cell}"
    return place if exception is None else f"{place}: {exception}"


def name_log_places(log_file: Path, script: str, place: Callable[[int], str]) -> None:
    """Rewrite logs.log so that a record made in the generated script names its cell.

    The fourth field of a record is `file:line`; for the script it becomes `place(line)`
    (`analysis.ipynb [cell 2] line 2`, as the report names it). Other records are kept as they are.
    """
    try:
        records = log_file.read_text(encoding="utf-8", errors="surrogateescape").splitlines(True)
    except FileNotFoundError:
        return
    prefix = script.replace("\\", "\\\\") + ":"  # as the bootstrap escaped it
    changed = False
    for index, record in enumerate(records):
        fields = record.split("\t", 4)
        if len(fields) == 5 and fields[3].startswith(prefix) and fields[3][len(prefix) :].isdigit():
            fields[3] = place(int(fields[3][len(prefix) :]))
            records[index] = "\t".join(fields)
            changed = True
    if changed:
        temp = log_file.with_name(f".{log_file.name}.tmp")
        temp.write_text("".join(records), encoding="utf-8", errors="surrogateescape")
        os.replace(temp, log_file)


def _cell_to_json(cell: Cell) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": cell.number,
        "first_line": cell.first_line,
        "line_count": cell.line_count,
        "source": list(cell.source),
    }
    if cell.origins:
        data["origins"] = list(cell.origins)
    return data


def _code_cell_sources(notebook: Path) -> list[str]:
    """Each code cell's source text, in order, after the checks that make a notebook usable."""
    nb = _read(notebook)
    metadata = nb.get("metadata", {})
    for field, language in (
        ("kernelspec.language", metadata.get("kernelspec", {}).get("language")),
        ("language_info.name", metadata.get("language_info", {}).get("name")),
    ):
        if isinstance(language, str) and language.lower() not in ("python", "python3"):
            raise UserError(
                f"{notebook}: its kernel runs {language} (metadata {field}); "
                "only Python notebooks can be profiled"
            )
    sources = []
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        if not isinstance(source, str):
            raise UserError(f"{notebook}: a code cell's source is not text; fix it in Jupyter")
        sources.append(source.replace("\r\n", "\n").replace("\r", "\n"))
    if not sources:
        raise UserError(f"{notebook}: has no code cells, so there is nothing to profile")
    return sources


def _read(notebook: Path) -> Any:
    """The notebook as nbformat v4, whatever version it was saved in."""
    import nbformat

    try:
        text = notebook.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{notebook}: no such notebook; check the path") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{notebook}: cannot be read ({error}); check the file") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"{notebook}: not valid JSON ({error.msg} at line {error.lineno}, column "
            f"{error.colno}); save it again from Jupyter"
        ) from None
    if not isinstance(data, dict) or not ("nbformat" in data or "cells" in data):
        raise UserError(f"{notebook}: not a Jupyter notebook (no 'nbformat' or 'cells' key)")
    try:
        with warnings.catch_warnings():  # e.g. missing cell ids: harmless, as we never write it
            warnings.simplefilter("ignore")
            return nbformat.reads(text, as_version=4)
    except (nbformat.ValidationError, ValueError, KeyError, TypeError, AttributeError) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UserError(
            f"{notebook}: not a notebook nbformat can read ({message}); "
            "open and save it again in Jupyter"
        ) from None


def _to_python(source: str) -> str:
    """The cell's code with IPython syntax turned into Python, as nbconvert does it."""
    if not source.strip():
        return source
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _lines(text: str) -> list[str]:
    """Text split into lines as Python counts them (no trailing empty line)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _place(number: int, source: list[str], code: list[str]) -> Cell:
    """Cell `number` (first_line still 0) with each line of `code` traced back to `source`."""
    if len(code) == len(source):
        return Cell(number=number, first_line=0, line_count=len(code), source=tuple(source))
    origins: list[int] = []
    matcher = difflib.SequenceMatcher(None, source, code, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            origins.extend(range(i1 + 1, i2 + 1))
        elif tag in ("replace", "insert"):
            last = max(min(i2, len(source)) - 1, 0)  # a rewritten block maps, in order, onto
            origins.extend(min(i1 + k, last) + 1 for k in range(j2 - j1))  # the lines it replaced
    one_to_one = origins == list(range(1, len(code) + 1))
    return Cell(
        number=number,
        first_line=0,
        line_count=len(code),
        source=tuple(source),
        origins=() if one_to_one else tuple(origins),
    )


def _names(code: str) -> set[str]:
    """The variable names a cell's code uses (it compiles: `_check_cell_compiles` ran first)."""
    return {node.id for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Name)}


def _check_cell_compiles(notebook: Path, cell: Cell, code: str) -> None:
    """UserError naming the cell and line when the cell's code is not valid Python."""
    try:
        compile(code, f"cell {cell.number}", "exec", dont_inherit=True)
    except SyntaxError as error:
        offset = min(max((error.lineno or 1) - 1, 0), max(cell.line_count - 1, 0))
        raise UserError(
            f"{notebook}: cell {cell.number}, line {cell.line_in_cell(offset)}: "
            f"SyntaxError: {error.msg}; fix the cell and run again"
        ) from None


def _check_compiles(cell_map: CellMap, text: str) -> None:
    """UserError naming the cell when the cells compile alone but not together (e.g. __future__)."""
    try:
        compile(text, str(cell_map.script), "exec", dont_inherit=True)
    except SyntaxError as error:
        found = cell_map.locate(error.lineno or 0)
        place = f"cell {found[0].number}, line {found[1]}" if found else f"line {error.lineno}"
        raise UserError(
            f"{cell_map.notebook}: {place}: SyntaxError: {error.msg}; "
            "the cells run as one script, so fix the cell and run again"
        ) from None


def _header(name: str, needs_shell: bool, starts: tuple[int, ...]) -> list[str]:
    """The script's first lines: what made it, and the shell's start when a cell needs it."""
    header = [f'# Generated by fixing-a-hole from {name!r}: code cell N follows "# [cell N]".']
    if needs_shell:
        header += [  # under fixing-a-hole the shell is started before profiling (see _nbshim)
            "if 'get_ipython' not in globals():  # IPython's shell, not in any cell",
            "    from fixingahole._nbshim import start_shell; "
            f"get_ipython = start_shell(globals(), {starts!r})",
        ]
    return header


def _script_text(cell_map: CellMap, codes: list[str]) -> str:
    """The generated script: the header, then each cell after its `# [cell N]` line."""
    starts = tuple(cell.first_line for cell in cell_map.cells)
    parts = [*_header(cell_map.notebook.name, cell_map.shell, starts), ""]
    for cell, code in zip(cell_map.cells, codes, strict=True):
        parts += [f"# [cell {cell.number}]", *_lines(code), ""]
    return "\n".join(parts) + "\n"
