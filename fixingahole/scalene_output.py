"""Scalene's JSON as plain data: a `Profile` of files, lines, functions, leaks and stacks.

The parser is tolerant: it reads any Scalene 1.5.x - 2.x file, every key is optional, unknown
keys are ignored and values of the wrong type count as absent. Percentages are of all sampled CPU
time; `seconds()` turns one into seconds. File names are normalised with `os.path.normpath`.

`stacks` has had three shapes, all read here (outermost frame first in each):
- up to 1.5.34: `[[[file, name, line], ...], count]`; the CPU fraction is then count / all counts;
- up to 1.5.52: `[[[file, name, line], ...], [count, python, c, cpu]]`;
- since 1.5.53: `[["<file> <qualname>:<lineno>;", ...], {count, python_time, c_time, cpu_samples}]`.
The stitched `combined_stacks*` and `memory_stacks` of 2.3+ are not read. Stacks start at the
program: the outermost `runpy` frames of `python -m scalene` are dropped (on 3.11+ runpy is frozen,
so Scalene never names them; on 3.10 it does with --detailed).

Scalene's per-function figures are not kept as they are: `functions.py` derives every file's
functions from its lines and the stacks (see there why), and gives each frame its function's line.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, TypeGuard

from fixingahole.errors import UserError

if TYPE_CHECKING:
    from fixingahole.functions import Scope


@dataclass(frozen=True, kw_only=True)
class CodeStat:
    """The CPU and memory figures Scalene gives a line and a function alike."""

    python_percent: float = 0.0
    native_percent: float = 0.0
    system_percent: float = 0.0
    peak_mb: float = 0.0
    malloc_mb: float = 0.0
    avg_mb: float = 0.0
    python_fraction: float = 0.0  # share of the allocations made by Python code, 0..1
    usage_fraction: float = 0.0  # share of all allocated memory, 0..1
    copy_mb_s: float = 0.0

    @property
    def percent(self) -> float:
        """CPU percent (a function's self time): Python + native + system."""
        return self.python_percent + self.native_percent + self.system_percent


@dataclass(frozen=True, kw_only=True)
class LineStat(CodeStat):
    """One source line of a profiled file."""

    file: str
    lineno: int
    source: str
    timeline: tuple[float, ...] = ()  # footprint in MB at this line's memory samples
    await_percent: float = 0.0  # time tasks spent suspended here, in percent (Scalene --async)


@dataclass(frozen=True, kw_only=True)
class FunctionStat(CodeStat):
    """A function's self time and memory (its own lines), and its total time with callees."""

    file: str
    name: str  # qualified name
    lineno: int
    total_percent: float | None = None  # with callees, from the stacks; None without stacks


@dataclass(frozen=True)
class Leak:
    """A line Scalene suspects of leaking memory."""

    file: str
    lineno: int
    likelihood: float  # 0..1
    velocity_mb_s: float


@dataclass(frozen=True)
class Frame:
    """One frame of a call stack."""

    file: str
    name: str
    lineno: int
    def_lineno: int | None = None  # `def` line of its function, 0 at module level, None unknown


@dataclass(frozen=True)
class StackSample:
    """A distinct call path, outermost frame first, with the CPU samples that ended in it."""

    frames: tuple[Frame, ...]
    count: int
    cpu_fraction: float = 0.0  # fraction of all CPU samples, 0..1
    python_fraction: float = 0.0
    native_fraction: float = 0.0


@dataclass(frozen=True)
class FileStat:
    """A profiled file with its lines (every line Scalene listed) and sampled functions."""

    path: str  # normalised absolute path
    percent: float
    lines: tuple[LineStat, ...] = ()
    functions: tuple[FunctionStat, ...] = ()
    leaks: tuple[Leak, ...] = ()
    scopes: tuple[Scope, ...] | None = None  # its functions from its source; None when unknown


@dataclass(frozen=True)
class Profile:
    """Everything fixing-a-hole uses from one Scalene run."""

    program: str = ""
    args: tuple[str, ...] = ()
    elapsed_s: float = 0.0
    memory: bool = False  # was memory profiled
    peak_heap_mb: float | None = None  # max_footprint_mb; None when memory was not profiled
    peak_file: str = ""
    peak_lineno: int = 0
    growth_rate: float = 0.0  # percent
    heap_timeline: tuple[tuple[float, float], ...] = ()  # (seconds since start, MB)
    files: tuple[FileStat, ...] = ()
    stacks: tuple[StackSample, ...] = ()
    scalene_keys: frozenset[str] = field(default_factory=frozenset)  # top-level keys seen

    @property
    def is_empty(self) -> bool:
        """True when Scalene collected nothing (it writes `{}` for too-short runs)."""
        return not self.files

    def seconds(self, percent: float) -> float:
        """Seconds of run time that a CPU percentage stands for."""
        return percent / 100.0 * self.elapsed_s

    @property
    def functions(self) -> tuple[FunctionStat, ...]:
        """Every sampled function of every file."""
        return tuple(f for file in self.files for f in file.functions)

    @property
    def lines(self) -> tuple[LineStat, ...]:
        """Every line of every file."""
        return tuple(line for file in self.files for line in file.lines)

    @property
    def leaks(self) -> tuple[Leak, ...]:
        """Every suspected leak of every file."""
        return tuple(leak for file in self.files for leak in file.leaks)


def parse_profile(data: object) -> Profile:
    """Build a `Profile` from a decoded Scalene JSON document (any 1.5.x - 2.x version)."""
    from fixingahole.functions import derive

    if not isinstance(data, dict):
        raise UserError("A Scalene profile must be a JSON object: pass the file Scalene wrote.")
    raw_files = data.get("files")
    files = (
        tuple(_file(name, raw) for name, raw in raw_files.items() if isinstance(raw, dict))
        if isinstance(raw_files, dict)
        else ()
    )
    memory = data.get("memory") is True or any(_has_memory(file) for file in files)
    peak = data.get("max_footprint_mb")
    args = data.get("args")
    files, stacks = derive(files, _stacks(data.get("stacks")))
    return Profile(
        program=_path(data.get("program")),
        args=tuple(arg for arg in args if isinstance(arg, str)) if isinstance(args, list) else (),
        elapsed_s=_number(data.get("elapsed_time_sec")),
        memory=memory,
        peak_heap_mb=float(peak) if memory and _is_number(peak) else None,
        peak_file=_path(data.get("max_footprint_fname")),
        peak_lineno=_lineno(data.get("max_footprint_lineno")),
        growth_rate=_number(data.get("growth_rate")),
        heap_timeline=_heap_timeline(data.get("samples")),
        files=files,
        stacks=stacks,
        scalene_keys=frozenset(data),
    )


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and parse a Scalene JSON file; `{}` or an empty file gives an empty `Profile`."""
    try:
        text = Path(path).read_bytes()
    except FileNotFoundError:
        raise UserError(
            f"No Scalene profile at {path}: check the path or run the profile again."
        ) from None
    except OSError as error:
        raise UserError(f"Cannot read the Scalene profile {path}: {error.strerror}.") from None
    if not text or text.isspace():
        return Profile()
    try:
        data = json.loads(text)
    except ValueError:
        raise UserError(
            f"{path} is not valid JSON (Scalene may have been stopped while writing it): "
            "run the profile again."
        ) from None
    if not isinstance(data, dict):
        raise UserError(
            f"{path} is not a Scalene profile (not a JSON object): pass Scalene's JSON."
        )
    return parse_profile(data)


# Scalene writes `& < >` in source text as the literal six characters `\u0026` and so on.
_ESCAPES = (("\\u0026", "&"), ("\\u003c", "<"), ("\\u003e", ">"))


def _is_number(value: object) -> TypeGuard[float]:
    """True for a finite JSON number (not a bool, not NaN, not an int too large for a float)."""
    if type(value) is float:
        return math.isfinite(value)
    return type(value) is int and abs(value) < 1e300


def _number(value: object) -> float:
    """A finite JSON number as a float; anything else (absent, null, bool, text, NaN) is 0.

    `_is_number` written out: this runs a dozen times per line of every profiled file."""
    if type(value) is float:
        return value if math.isfinite(value) else 0.0
    return float(value) if type(value) is int and abs(value) < 1e300 else 0.0


def _lineno(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


def _path(value: object) -> str:
    """A file name, normalised (`a/../b.py` -> `b.py`) but not resolved."""
    return os.path.normpath(value) if isinstance(value, str) and value else ""


def _text(value: object) -> str:
    """Source text or a name, with Scalene's escapes undone."""
    if not isinstance(value, str):
        return ""
    if "\\u00" in value:
        for escaped, plain in _ESCAPES:
            value = value.replace(escaped, plain)
    return value


def _file(name: str, raw: dict[str, object]) -> FileStat:
    from fixingahole.functions import scopes_of

    path = _path(name)
    lines = raw.get("lines")
    functions = raw.get("functions")
    parsed = (
        tuple(
            line
            for line in (_line(path, item) for item in lines if isinstance(item, dict))
            if line is not None
        )
        if isinstance(lines, list)
        else ()
    )
    return FileStat(
        path=path,
        percent=_number(raw.get("percent_cpu_time")),
        lines=parsed,
        # `<exec@f.py:12>` names every piece of code one `exec` call made: not one source.
        scopes=None if path.startswith("<") else scopes_of(parsed),
        functions=tuple(
            function
            for function in (_function(path, item) for item in functions if isinstance(item, dict))
            if function is not None
        )
        if isinstance(functions, list)
        else (),
        leaks=_leaks(path, raw.get("leaks")),
    )


def _line(path: str, raw: dict[str, object]) -> LineStat | None:
    lineno = _lineno(raw.get("lineno"))
    if not lineno:
        return None
    return LineStat(
        file=path,
        lineno=lineno,
        source=_text(raw.get("line")),
        timeline=_line_timeline(raw.get("memory_samples")),
        await_percent=_number(raw.get("n_async_await_percent")),
        **_figures(raw),
    )


def _function(path: str, raw: dict[str, object]) -> FunctionStat | None:
    name = _text(raw.get("line"))
    if not name:
        return None
    return FunctionStat(file=path, name=name, lineno=_lineno(raw.get("lineno")), **_figures(raw))


def _figures(raw: dict[str, object]) -> dict[str, float]:
    """The CPU and memory figures that lines and functions share."""
    get = raw.get
    return {
        "python_percent": _number(get("n_cpu_percent_python")),
        "native_percent": _number(get("n_cpu_percent_c")),
        "system_percent": _number(get("n_sys_percent")),
        "peak_mb": _number(get("n_peak_mb")),
        "malloc_mb": _number(get("n_malloc_mb")),
        "avg_mb": _number(get("n_avg_mb")),
        "python_fraction": _number(get("n_python_fraction")),
        "usage_fraction": _number(get("n_usage_fraction")),
        "copy_mb_s": _number(get("n_copy_mb_s")),
    }


def _has_memory(file: FileStat) -> bool:
    return any(line.malloc_mb or line.peak_mb or line.timeline for line in file.lines)


def _line_timeline(samples: object) -> tuple[float, ...]:
    """MB values of a line's memory samples: `[ns, MB]` pairs, or bare MB numbers."""
    if not isinstance(samples, list) or not samples:
        return ()
    values = []
    for sample in samples:
        if isinstance(sample, list) and len(sample) >= 2:
            sample = sample[1]
        if _is_number(sample):
            values.append(float(sample))
    return tuple(values)


def _heap_timeline(samples: object) -> tuple[tuple[float, float], ...]:
    """`[ns, MB]` pairs as (seconds, MB)."""
    if not isinstance(samples, list):
        return ()
    return tuple(
        (sample[0] / 1e9, float(sample[1]))
        for sample in samples
        if isinstance(sample, list)
        and len(sample) >= 2
        and _is_number(sample[0])
        and _is_number(sample[1])
    )


def _leaks(path: str, raw: object) -> tuple[Leak, ...]:
    """`{"lineno": {likelihood, velocity_mb_s}}`, or the list forms `[lineno, likelihood, velocity]`
    and `{"lineno": [likelihood, velocity]}`."""
    if isinstance(raw, dict):
        entries = list(raw.items())
    elif isinstance(raw, list):
        entries = [
            (item[0], item[1:]) if isinstance(item, list) and item else (None, item) for item in raw
        ]
    else:
        return ()
    leaks = []
    for key, value in entries:
        if isinstance(value, dict):
            key = value.get("lineno", key)
            likelihood, velocity = value.get("likelihood"), value.get("velocity_mb_s")
        elif isinstance(value, list) and len(value) >= 2:
            likelihood, velocity = value[0], value[1]
        else:
            continue
        lineno = _lineno(_int(key) if isinstance(key, str) else key)
        if lineno:
            leaks.append(Leak(path, lineno, _number(likelihood), _number(velocity)))
    return tuple(leaks)


def _stacks(raw: object) -> tuple[StackSample, ...]:
    """Every historical shape of `stacks`; see the module docstring."""
    if not isinstance(raw, list):
        return ()
    parsed = []
    for entry in raw:
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[0], list):
            continue
        frames = _from_the_program(
            tuple(frame for frame in map(_frame, entry[0]) if frame is not None)
        )
        figures = _stack_figures(entry[1])
        if frames and figures is not None:
            parsed.append((frames, *figures))
    total = sum(count for _, count, *_ in parsed)
    return tuple(
        StackSample(
            frames=frames,
            count=count,
            cpu_fraction=cpu if cpu is not None else (count / total if total else 0.0),
            python_fraction=python,
            native_fraction=native,
        )
        for frames, count, cpu, python, native in parsed
    )


_LAUNCHER = frozenset({"_run_module_as_main", "_run_code"})  # runpy's, as `python -m` starts


def _from_the_program(frames: tuple[Frame, ...]) -> tuple[Frame, ...]:
    start = 0
    while (
        start < len(frames)
        and frames[start].name in _LAUNCHER
        and os.path.basename(frames[start].file) == "runpy.py"
    ):
        start += 1
    return frames[start:]


def _stack_figures(value: object) -> tuple[int, float | None, float, float] | None:
    """(count, cpu fraction or None when unknown, python fraction, native fraction)."""
    if type(value) is int:
        return value, None, 0.0, 0.0
    if isinstance(value, dict):
        count = value.get("count")
        cpu, python, native = (
            value.get("cpu_samples"),
            value.get("python_time"),
            value.get("c_time"),
        )
    elif isinstance(value, list) and len(value) == 4:
        count, python, native, cpu = value
    else:
        return None
    if type(count) is not int:
        return None
    return count, float(cpu) if _is_number(cpu) else None, _number(python), _number(native)


def _frame(raw: object) -> Frame | None:
    """`"<file> <qualname>:<lineno>;"` (file names may hold spaces) or `[file, name, line]`."""
    if isinstance(raw, str):
        head, _, lineno = raw.rstrip(";").rpartition(":")
        file, _, name = head.rpartition(" ")
        if not name:
            return None
        return Frame(_path(file), name, _int(lineno))
    if isinstance(raw, list) and len(raw) == 3:
        file, name, lineno = raw
        if isinstance(file, str) and isinstance(name, str) and name:
            return Frame(_path(file), name, _lineno(lineno))
    return None


def _int(text: str) -> int:
    """A line number written as text; 0 when it is not one."""
    return int(text) if text.isdecimal() and len(text) < 10 else 0
