"""Scalene's JSON as plain data: a `Profile` of files, lines, functions, leaks and stacks.

The parser is tolerant: it reads any Scalene 1.5.x - 2.x file, every key is optional, unknown
keys are ignored. Percentages are of all sampled CPU time; `seconds()` turns one into seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class LineStat:
    """One source line of a profiled file."""

    file: str
    lineno: int
    source: str
    python_percent: float = 0.0
    native_percent: float = 0.0
    system_percent: float = 0.0
    peak_mb: float = 0.0
    malloc_mb: float = 0.0
    avg_mb: float = 0.0
    python_fraction: float = 0.0  # share of the allocations made by Python code, 0..1
    usage_fraction: float = 0.0  # share of all allocated memory, 0..1
    copy_mb_s: float = 0.0
    timeline: tuple[float, ...] = ()  # footprint in MB at this line's memory samples

    @property
    def percent(self) -> float:
        """Total CPU percent: Python + native + system."""
        return self.python_percent + self.native_percent + self.system_percent


@dataclass(frozen=True)
class FunctionStat:
    """A function's self time and memory, as Scalene aggregates it."""

    file: str
    name: str  # qualified name
    lineno: int
    python_percent: float = 0.0
    native_percent: float = 0.0
    system_percent: float = 0.0
    peak_mb: float = 0.0
    malloc_mb: float = 0.0
    avg_mb: float = 0.0
    python_fraction: float = 0.0
    usage_fraction: float = 0.0
    copy_mb_s: float = 0.0

    @property
    def percent(self) -> float:
        """Total CPU percent: Python + native + system."""
        return self.python_percent + self.native_percent + self.system_percent


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


def parse_profile(data: dict) -> Profile:
    """Build a `Profile` from a decoded Scalene JSON document (any 1.5.x - 2.x version)."""
    raise NotImplementedError


def load_profile(path) -> Profile:
    """Read and parse a Scalene JSON file; `{}` or an empty file gives an empty `Profile`."""
    raise NotImplementedError
