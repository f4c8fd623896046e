"""Find the first commit between GOOD and BAD at which an entry got slower (or bigger).

The commits are BAD's first-parent line back to GOOD (`git rev-list --first-parent
--ancestry-path GOOD..BAD`). Each commit tested is checked out in a temporary git worktree of its
own (`git worktree add --detach`), so the user's work tree, index, HEAD and stash are never
touched; the worktree is removed when its runs end, on errors and on Ctrl-C too. The entry is
profiled there `repeat` times, with the manifest as it is at that commit; the runs land in the
user's store with that commit recorded, and runs already stored for the same commit and content
hash (clean work tree, status ok) count toward `repeat`, so a second bisect reuses them.

Each commit is judged against GOOD's runs with compare's rule (`compare.judge`): `slower` is bad,
`faster` or `unchanged` good. A `~` (past the threshold but not significant) is measured as many
times again and judged once more; if still `~`, the commit is skipped with a note rather than
guessed at. A commit where the entry is missing or has no successful run is skipped too, as
`git bisect skip` does; when skips leave more than one candidate, all are named. BAD must be
slower than GOOD, or there is nothing to find (a `UserError`, exit 2).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import pandas as pd

from fixingahole.attribution import Attribution
from fixingahole.compare import PRIMARY, Judgement, compare_runs, judge
from fixingahole.errors import UserError
from fixingahole.provenance import content_hash
from fixingahole.record import RunRecord, RunStatus
from fixingahole.settings import Settings

GIT_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Commit:
    """A commit as the result names it."""

    sha: str
    subject: str
    date: str  # author date, ISO 8601


@dataclass(frozen=True)
class Step:
    """One tested commit: its runs, their median, and how it was judged against GOOD."""

    commit: Commit
    runs: tuple[str, ...]
    reused: int  # of `runs`, those already in the store
    median: float | None
    ratio: float | None  # median / GOOD's median
    p_value: float | None
    verdict: str  # compare's verdict against GOOD, or `skipped`
    judged: str  # good | bad | skipped
    note: str | None = None


@dataclass(frozen=True)
class BisectResult:
    """The first bad commit, the last good one, every step, and where the change is."""

    entry: str
    metric: str  # time | cpu | memory
    column: str  # the runs table's column judged
    repeat: int
    threshold: float
    good: Commit
    bad: Commit
    first_bad: Commit | None  # None when skipped commits leave several candidates
    last_good: Commit | None
    candidates: tuple[Commit, ...]  # the commits the first bad one is among
    steps: tuple[Step, ...]
    attribution: tuple[Attribution, ...]


@dataclass(frozen=True)
class Bisector:
    """How to reach the repository, the store and the profiler for one bisect."""

    settings: Settings  # the user's: root and ignored folders under the repository, output
    manifest: Path
    entry: str
    repeat: int
    threshold: float
    alpha: float
    metric: str
    stored_runs: Callable[[], pd.DataFrame]  # the store's runs table
    stored_functions: Callable[[list[str]], pd.DataFrame]
    # profile the entry `count` times with these settings and manifest: the runs' records
    profile: Callable[[Settings, Path, int], list[RunRecord]]


def bisect(bisector: Bisector, good: str, bad: str) -> BisectResult:
    """Bisect GOOD..BAD for `bisector.entry` (the rules are in the module docstring)."""
    top = _toplevel(bisector.settings.root)
    _inside(bisector.manifest, top, "the manifest")
    good_commit, bad_commit = _commit(top, good), _commit(top, bad)
    line = _line(top, good_commit.sha, bad_commit.sha)
    tester = _Tester(bisector, top)
    good_step = tester.step(good_commit, None)
    if good_step.judged == "skipped":
        raise UserError(f"{bisector.entry} cannot be measured at GOOD {good}: {good_step.note}")
    good_step = replace(good_step, judged="good", verdict="good")
    baseline = tester.values[good_commit.sha]
    bad_step = tester.step(bad_commit, baseline)
    if bad_step.judged != "bad":
        raise UserError(
            f"BAD {bad} is not slower than GOOD {good} for {bisector.entry}: "
            f"{_describe(bad_step)}; nothing to bisect"
        )
    steps = [good_step, bad_step]
    low, high = 0, len(line) - 1  # line[0] is GOOD, line[-1] is BAD
    skipped: set[int] = set()
    while (middle := _next_index(low, high, skipped)) is not None:
        step = tester.step(line[middle], baseline)
        steps.append(step)
        if step.judged == "skipped":
            skipped.add(middle)
        elif step.judged == "bad":
            high = middle
        else:
            low = middle
    candidates = tuple(line[i] for i in range(low + 1, high + 1))
    single = len(candidates) == 1
    return BisectResult(
        entry=bisector.entry,
        metric=bisector.metric,
        column=tester.column,
        repeat=bisector.repeat,
        threshold=bisector.threshold,
        good=good_commit,
        bad=bad_commit,
        first_bad=line[high] if single else None,
        last_good=line[low],
        candidates=candidates,
        steps=tuple(steps),
        attribution=tester.attribution(line[low], line[high]),
    )


def _next_index(low: int, high: int, skipped: set[int]) -> int | None:
    """The untested, unskipped commit nearest the middle of (low, high), or None."""
    middle = (low + high) // 2
    order = sorted(range(low + 1, high), key=lambda i: (abs(i - middle), i))
    return next((i for i in order if i not in skipped), None)


@dataclass(frozen=True)
class Measured:
    """One successful run's figure at a commit."""

    run_id: str
    value: float


class _Tester:
    """Measures commits (reusing stored runs) and judges them against GOOD."""

    def __init__(self, bisector: Bisector, top: Path) -> None:
        self.bisector = bisector
        self.top = top
        self.column = PRIMARY[bisector.metric]
        self.values: dict[str, list[Measured]] = {}
        self.judge = partial(judge, threshold=bisector.threshold, alpha=bisector.alpha)

    def step(self, commit: Commit, baseline: list[Measured] | None) -> Step:
        repeat = self.bisector.repeat
        measured, reused, note = self._measure(commit, repeat)
        judgement = self._judge(baseline, measured)
        if judgement is not None and judgement.verdict == "~":  # unclear: measure as much again
            measured, reused, note = self._measure(commit, 2 * repeat)
            judgement = self._judge(baseline, measured)
        runs = tuple(m.run_id for m in measured)
        if not measured:
            return Step(commit, runs, reused, None, None, None, "skipped", "skipped", note)
        self.values[commit.sha] = measured
        median = statistics.median(m.value for m in measured)
        if judgement is None:
            return Step(commit, runs, reused, median, None, None, "good", "good")
        verdict = judgement.verdict or "~"
        judged = {"slower": "bad", "~": "skipped"}.get(verdict, "good")
        note = None
        if verdict == "~":  # no ratio when GOOD's median is 0
            ratio = judgement.ratio
            change = "" if ratio is None else f" ({(ratio - 1) * 100:+.1f}%)"
            note = (
                f"neither slower nor unchanged after {len(measured)} runs{change}: raise --repeat"
            )
        return Step(
            commit, runs, reused, median, judgement.ratio, judgement.p_value, verdict, judged, note
        )

    def _judge(self, baseline: list[Measured] | None, measured: list[Measured]) -> Judgement | None:
        if baseline is None or not measured:
            return None
        return self.judge([m.value for m in baseline], [m.value for m in measured])

    def attribution(self, last_good: Commit, first_bad: Commit) -> tuple[Attribution, ...]:
        """Where the change is: compare's attribution of first bad's runs against last good's."""
        if last_good.sha not in self.values or first_bad.sha not in self.values:
            return ()
        bisector = self.bisector
        comparison = compare_runs(
            bisector.stored_runs(),
            bisector.stored_functions,
            last_good.sha,
            first_bad.sha,
            entries=[bisector.entry],
            threshold=bisector.threshold,
            alpha=bisector.alpha,
            metric=bisector.metric,
            show_all=True,
        )
        return comparison.entries[0].attribution if comparison.entries else ()

    def _measure(self, commit: Commit, wanted: int) -> tuple[list[Measured], int, str | None]:
        """`wanted` successful runs of the commit (stored ones first, profiling the rest), how
        many of them were reused, and a note when there are none."""
        bisector = self.bisector
        with _worktree(self.top, commit.sha) as tree:
            settings = _settings_in(bisector.settings, self.top, tree)
            manifest = tree / bisector.manifest.resolve().relative_to(self.top)
            target = _entry_path(manifest, settings, bisector.entry)
            if isinstance(target, str):
                return [], 0, target
            stored = self._stored(commit.sha, content_hash(target))[-wanted:]
            fresh = []
            if len(stored) < wanted:
                fresh = bisector.profile(settings, manifest, wanted - len(stored))
        figures = [(r.run_id, _figure(r, self.column)) for r in fresh if r.status is RunStatus.OK]
        measured = stored + [Measured(run_id, v) for run_id, v in figures if v is not None]
        note = None if measured else f"no successful run of {bisector.entry} at this commit"
        return measured, len(stored), note

    def _stored(self, sha: str, code_hash: str) -> list[Measured]:
        runs = self.bisector.stored_runs()
        if runs.empty:
            return []
        chosen = runs[
            (runs["entry"] == self.bisector.entry)
            & (runs["git_commit"] == sha)
            & (runs["code_hash"] == code_hash)
            & (runs["status"] == RunStatus.OK.value)
            & (runs["git_dirty"].astype(object) != True)  # noqa: E712 - nullable column
            & runs[self.column].notna()
        ]
        return [
            Measured(str(row.run_id), float(getattr(row, self.column)))
            for row in chosen.itertuples()
        ]


def _entry_path(manifest: Path, settings: Settings, name: str) -> Path | str:
    """The entry's target at this commit, or why it cannot be profiled there."""
    from fixingahole.manifest import load_manifest

    if not manifest.is_file():
        return f"no {manifest.name} at this commit"
    try:
        entries = {e.name: e for e in load_manifest(manifest, settings).entries}
    except UserError as exc:
        return f"the manifest is not valid at this commit ({exc})"
    if name not in entries:
        return f"no entry {name!r} in the manifest at this commit"
    return entries[name].path


def _settings_in(settings: Settings, top: Path, tree: Path) -> Settings:
    """The user's settings moved into a worktree; results still go to the user's output."""
    ignore = tuple(
        tree / path.resolve().relative_to(top) for path in settings.ignore if _under(path, top)
    )
    root = tree / settings.root.resolve().relative_to(top)
    return Settings(root=root, output=settings.output, ignore=ignore)


@contextmanager
def _worktree(top: Path, sha: str) -> Iterator[Path]:
    """A detached worktree of `sha` in a temporary folder, removed afterwards whatever happens."""
    folder = Path(tempfile.mkdtemp(prefix="fixingahole-bisect-"))
    tree = folder / "tree"
    try:
        _git(top, "worktree", "add", "--detach", "--quiet", str(tree), sha)
        yield tree
    finally:
        _remove_worktree(top, tree)
        shutil.rmtree(folder, ignore_errors=True)


def _remove_worktree(top: Path, tree: Path) -> None:
    for argv in (("worktree", "remove", "--force", str(tree)), ("worktree", "prune")):
        subprocess.run(
            ["git", "-C", str(top), *argv],
            capture_output=True,
            timeout=GIT_TIMEOUT_S,
            check=False,
        )


def _toplevel(root: Path) -> Path:
    text = _git(root, "rev-parse", "--show-toplevel", what="the root is not in a git repository")
    top = Path(text.strip()).resolve()
    _inside(root, top, "the root")
    return top


def _figure(record: RunRecord, column: str) -> float | None:
    """A fresh run's value of the runs-table column judged (`compare.PRIMARY`)."""
    source = record.instructions if column in ("instructions", "startup_instructions") else record
    value = None if source is None else getattr(source, column)
    return None if value is None else float(value)


def _inside(path: Path, top: Path, what: str) -> None:
    if not _under(path, top):
        raise UserError(f"{what} ({path}) is not inside the git repository {top}")


def _under(path: Path, top: Path) -> bool:
    try:
        Path(path).resolve().relative_to(top)
    except ValueError:
        return False
    return True


def _commit(top: Path, revision: str) -> Commit:
    text = _git(
        top,
        "log",
        "-1",
        "--format=%H%x00%s%x00%aI",
        f"{revision}^{{commit}}",
        "--",
        what=f"{revision!r} is not a commit in {top}",
    )
    sha, subject, date = text.strip("\n").split("\0")
    return Commit(sha, subject, date)


def _line(top: Path, good: str, bad: str) -> list[Commit]:
    """GOOD, then the first-parent commits from GOOD to BAD, oldest first (BAD last)."""
    ancestor = subprocess.run(
        ["git", "-C", str(top), "merge-base", "--is-ancestor", good, bad],
        capture_output=True,
        timeout=GIT_TIMEOUT_S,
        check=False,
    )
    if ancestor.returncode != 0:
        raise UserError(f"GOOD {good[:12]} is not an ancestor of BAD {bad[:12]}: swap them?")
    text = _git(
        top,
        "log",
        "--first-parent",
        "--ancestry-path",
        "--reverse",
        "--format=%H%x00%s%x00%aI",
        f"{good}..{bad}",
        "--",
    )
    later = [Commit(*row.split("\0")) for row in text.splitlines() if row]
    if not later:
        raise UserError("GOOD and BAD are the same commit: nothing to bisect")
    return [_commit(top, good), *later]


def _git(top: Path, *argv: str, what: str | None = None) -> str:
    """A git command's output; a UserError naming `what` (or git's own message) if it fails."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        done = subprocess.run(
            ["git", "-C", str(top), *argv],
            capture_output=True,
            text=True,
            timeout=GIT_TIMEOUT_S,
            env=env,
            check=False,
        )
    except FileNotFoundError:
        raise UserError("bisect needs git: install it and run again") from None
    except subprocess.TimeoutExpired:
        raise UserError(f"git {argv[0]} took longer than {GIT_TIMEOUT_S:.0f} s") from None
    if done.returncode != 0:
        message = what or (done.stderr.strip().splitlines() or [f"git {argv[0]} failed"])[-1]
        raise UserError(message)
    return done.stdout


def _describe(step: Step) -> str:
    if step.judged == "skipped":
        return step.note or "skipped"
    change = "" if step.ratio is None else f"{(step.ratio - 1) * 100:+.1f}%, "
    return f"{change}verdict {step.verdict}"
