"""Run one Scalene child process: argv list, own temp dir, new session, timeout, signals, tee'd output."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class ScaleneRequest:
    """What to run under Scalene and where its outputs go."""

    script: Path  # absolute path of the .py file to run
    json_path: Path  # absolute path Scalene writes its JSON to
    run_dir: Path  # stdout.txt, stderr.txt and logs.log are written here
    cwd: Path  # the script's working directory
    mode: str = "cpu"  # "cpu" (--cpu-only) or "memory" (--memory)
    allocation_window: int | None = None  # bytes, --allocation-sampling-window (memory mode)
    profile_all: bool = False  # --profile-all (report inside libraries too)
    stacks: bool = True  # --stacks / --no-stacks
    program_path: Path | None = None  # --program-path: profile every file under it
    exclude: tuple[str, ...] = ()  # --profile-exclude substrings
    args: tuple[str, ...] = ()  # the script's own arguments, after ---
    env: Mapping[str, str] = field(default_factory=dict)  # added to the child's environment
    timeout: float | None = None  # seconds; then the process group is stopped
    log_level: str = "WARNING"  # logging records and warnings at this level and above -> logs.log
    no_plots: bool = False  # matplotlib / plotly never open a window
    live: float | None = None  # seconds between live snapshots (--profile-interval)
    on_snapshot: Callable[[Path], None] | None = None  # called with json_path every `live` seconds
    echo: bool = True  # tee the script's stdout/stderr to ours


@dataclass(frozen=True)
class ScaleneResult:
    """How the child ended and what it cost."""

    status: str  # "ok", "failed", "interrupted" or "timeout"
    exit_code: int | None
    wall_s: float
    cpu_s: float  # user + system of the whole process tree
    max_rss_mb: float  # largest resident set of any process in the tree
    command: tuple[str, ...]  # the argv that was run
    log_counts: Mapping[str, int] = field(default_factory=dict)  # level name -> records captured
    error: str | None = None  # one line: the script's exception, or why it was stopped


def run_scalene(request: ScaleneRequest) -> ScaleneResult:
    """Run the request to the end (or timeout / Ctrl-C) and return how it went."""
    raise NotImplementedError
