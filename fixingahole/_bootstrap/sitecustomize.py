"""Start-up hook of a script profiled by fixing-a-hole: the runner puts this folder first on
PYTHONPATH. It leaves the script's own code and line numbers alone. Driven by environment variables:

- FIXINGAHOLE_LOG_FILE: append the script's `logging` records and `warnings` to this file.
- FIXINGAHOLE_LOG_LEVEL: the lowest level captured (DEBUG, INFO, WARNING, ERROR, CRITICAL).
- FIXINGAHOLE_SKIP_PATHS: folders (os.pathsep-separated) whose records are not the script's.
- FIXINGAHOLE_NO_PLOTS: "1" makes matplotlib's and plotly's `show` return at once.
- FIXINGAHOLE_NOTEBOOK_SCRIPT: a script generated from a notebook. When Scalene is about to run
  it, before Scalene starts sampling, its code is given the name FIXINGAHOLE_NOTEBOOK_FILENAME
  and, when FIXINGAHOLE_NOTEBOOK_CELLS is set, IPython's shell is started
  (`fixingahole._nbshim.prepare_shell`), so that none of that is profiled as the notebook's.
- (always) Scalene's file rules run once per file (see `_file_rules_once_per_file`).
- FIXINGAHOLE_PYTHON_STACKS: "1" keeps Scalene's call stacks to Python frames (see
  `_NoNativeStacksForScalene`).
- FIXINGAHOLE_EVENT_LOOP_MARK: a file made when an asyncio event loop first runs (see
  `_mark_event_loop`).
- FIXINGAHOLE_FINISHED_MARK: a file made when Scalene stops sampling to write its profile (see
  `_mark_finished`).
- (always) a CPU sample is shared among the threads that used the CPU, never Scalene's own
  (see `_shares_by_cpu_used`), and waits on a Condition take samples (`_condition_waits_sampled`).
- (3.12+) with --async, every coroutine's await time is on its await's line (`_await_on_its_line`).

It keeps Scalene from importing IPython for itself (see `_NoIPythonForScalene`), keeps
Scalene's `run` parser from reading a program argument after `---` as an
abbreviation of its own options (`--n` would otherwise stop it: "ambiguous option"), and keeps
a sample's native time on the line that spent it (see `_native_time_stays`).

On CPython below 3.12 it first makes importlib's per-thread lock bookkeeping re-entrant (see
`_fixingahole_import_waits`), so that an import nested in a signal handler, a gc callback or a
finalizer cannot fail the import it interrupted.

One captured record per line, tab-separated: UTC time, level, source (the logger's name, or
`warnings`), `file:line` and message; backslash, tab, CR and LF inside a field are escaped.
Only small standard modules are imported here; argparse, logging, matplotlib and plotly are
patched right after they are first imported. A sitecustomize further down sys.path runs after.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

TYPE_CHECKING = False  # not from typing, which takes longer to import than all of this file
if TYPE_CHECKING:
    import warnings
    from argparse import ArgumentParser
    from collections.abc import Callable, Iterable, Sequence
    from importlib.machinery import ModuleSpec
    from logging import Logger, LogRecord
    from types import CodeType, FrameType, ModuleType

LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
_HERE = os.path.dirname(os.path.abspath(__file__))
_LEVEL_METHODS = ("debug", "info", "warning", "warn", "error", "exception", "critical", "log")
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\r": "\\r", "\n": "\\n"})


class _LogFile:
    """Appends captured records, one line per write call, so that processes can share the file."""

    def __init__(self, path: str, level: int, skip_paths: list[str]) -> None:
        self.path = path
        self.level = level
        self.skip_paths = tuple(skip_paths)
        self._fd: int | None = None

    def wants(self, level: int, filename: str) -> bool:
        """Whether a record at this level from this file is one of the script's to keep."""
        return level >= self.level and not str(filename).startswith(self.skip_paths)

    def write(
        self, created: float, level_name: str, source: str, filename: str, lineno: int, message: str
    ) -> None:
        fields = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created)),
            level_name,
            source,
            f"{filename}:{lineno}",
            message,
        )
        line = "\t".join(str(field).translate(_ESCAPES) for field in fields) + "\n"
        if self._fd is None:
            self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        os.write(self._fd, line.encode("utf-8", "backslashreplace"))


def _capture_warnings(log: _LogFile) -> None:
    """Copy every warning that is shown to the log; showing it stays the user's business.

    Warnings recorded by `catch_warnings(record=True)` are not shown, so not copied either.
    """
    import warnings

    # The hooks behind showwarning; private, so typeshed does not declare them.
    show = warnings._showwarnmsg  # type: ignore[attr-defined]
    show_impl = warnings._showwarnmsg_impl  # type: ignore[attr-defined]

    def _showwarnmsg(msg: warnings.WarningMessage) -> None:
        try:
            recording = warnings._showwarnmsg_impl is not show_impl  # type: ignore[attr-defined]
            if not recording and log.wants(LEVELS["WARNING"], msg.filename):
                text = f"{msg.category.__name__}: {msg.message}"
                log.write(time.time(), "WARNING", "warnings", msg.filename, msg.lineno, text)
        except Exception:
            pass
        show(msg)

    warnings._showwarnmsg = _showwarnmsg  # type: ignore[attr-defined]


def _capture_logging(log: _LogFile, logging: ModuleType) -> None:
    """Copy records to the log without touching the user's handlers, levels or line numbers.

    `callHandlers` sees each record once, after the logger's filters. When the log wants a
    level the user's logger is not enabled for, `isEnabledFor` answers yes to logging's own
    level methods only, so the record is made; it is then logged here and not passed on.
    """
    logger_class = logging.Logger
    is_enabled_for = logger_class.isEnabledFor
    call_handlers = logger_class.callHandlers
    level_methods = {
        id(code): code for code in (getattr(logger_class, name).__code__ for name in _LEVEL_METHODS)
    }

    def isEnabledFor(self: Logger, level: int) -> bool:
        if is_enabled_for(self, level):
            return True
        return level >= log.level and id(sys._getframe(1).f_code) in level_methods

    def callHandlers(self: Logger, record: LogRecord) -> None:
        try:
            if record.name != "py.warnings" and log.wants(record.levelno, record.pathname):
                message = _record_message(record, logging)
                log.write(
                    record.created,
                    record.levelname,
                    record.name,
                    record.pathname,
                    record.lineno,
                    message,
                )
        except Exception:
            pass
        if record.levelno < log.level or is_enabled_for(self, record.levelno):
            call_handlers(self, record)

    logger_class.isEnabledFor = isEnabledFor
    logger_class.callHandlers = callHandlers


def _record_message(record: LogRecord, logging: ModuleType) -> str:
    try:
        message = record.getMessage()
    except Exception:
        message = f"{record.msg!r} % {record.args!r}"
    if record.exc_info and record.exc_info[0] is not None:
        message += "\n" + logging.Formatter().formatException(record.exc_info)
    return message


def _scalene_args_verbatim(argparse: ModuleType) -> None:
    """Turn off option abbreviations in Scalene's `run` parser only, as it parses."""
    parse_known_args = argparse.ArgumentParser.parse_known_args

    def patched(self: ArgumentParser, *args: object, **kwargs: object) -> object:
        if self.prog == "scalene run":
            self.allow_abbrev = False
        return parse_known_args(self, *args, **kwargs)

    argparse.ArgumentParser.parse_known_args = patched


def _ignore_show(*args: object, **kwargs: object) -> None:
    """A `show` that shows nothing."""
    return None


def _silence_show(owner: str) -> Callable[[ModuleType], None]:
    """A patch that makes `show` of the module (owner "") or of a class in it do nothing."""

    def patch(module: ModuleType) -> None:
        target = getattr(module, owner) if owner else module
        # a module or a class: typeshed's ModuleType reads any attribute but sets none
        target.show = _ignore_show  # type: ignore[union-attr]

    return patch


_PLOT_SHOWS = {
    "matplotlib.pyplot": "",
    "matplotlib.figure": "Figure",
    "plotly.io": "",
    "plotly.basedatatypes": "BaseFigure",
}


class _AfterImport:
    """A meta path finder that patches a module right after its code has run."""

    def __init__(self, patches: dict[str, Callable[[ModuleType], None]]) -> None:
        self.patches = patches

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name not in self.patches:
            return None
        spec = None
        for finder in sys.meta_path[sys.meta_path.index(self) + 1 :]:
            find_spec = getattr(finder, "find_spec", None)
            spec = find_spec(name, path, target) if find_spec else None
            if spec is not None:
                break
        loader = spec.loader if spec is not None else None
        run = getattr(loader, "exec_module", None)
        if loader is None or run is None:
            return spec

        def exec_module(module: ModuleType) -> None:
            run(module)
            if module.__name__ == name and name in self.patches:
                with contextlib.suppress(Exception):
                    self.patches.pop(name)(module)

        with contextlib.suppress(AttributeError):
            loader.exec_module = exec_module
        return spec


class _NoIPythonForScalene:
    """A meta path finder that refuses IPython to Scalene's own modules.

    Scalene imports IPython at start-up, in both of its processes, for Jupyter magics and to ask
    whether it runs in a notebook; that costs 0.5-1 s per process and is never needed here. Each
    of those imports is guarded, so Scalene carries on as outside Jupyter. The script's own
    `import IPython` (a notebook's shell) is untouched.
    """

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "IPython" and _importer().startswith("scalene"):
            raise ImportError("fixing-a-hole runs Scalene outside Jupyter")
        return None


def _native_time_stays(funcutils: ModuleType) -> None:
    """Charge a sample's native time to the line that spent it, not to an earlier call.

    Scalene moves the native time of a sample to "the preceding CALL line" of the sampled frame:
    the last call anywhere above the frame's current instruction, however far up. That is right
    where the frame itself stopped to run the signal handler after a call returned (at a loop's
    backward jump, a call or a function's start). Anywhere else the frame is inside its current
    instruction while other code runs below it: an import, an attribute that imports (numpy's
    `np.random`), an operator that runs Python code. Moving that time put the seconds of
    `import matplotlib.pyplot` on whatever call came before, a skipped `%matplotlib inline` or a
    notebook's shell line. There it stays on the frame's own line.
    """
    import dis
    import functools

    utils = funcutils.ScaleneFuncUtils
    find = utils.find_preceding_call_line
    names = ("RESUME", *(name for name in dis.opmap if name.startswith("CALL")))
    between = {dis.opmap[name] for name in names if name in dis.opmap}
    between.update(dis.hasjrel, dis.hasjabs)

    @functools.cache
    def stops(code: CodeType) -> frozenset[int]:
        """Offsets where the frame itself runs signal handlers, between instructions."""
        return frozenset(i.offset for i in dis.get_instructions(code) if i.opcode in between)

    def find_preceding_call_line(code: CodeType, bytei: int) -> int | None:
        return find(code, bytei) if bytei in stops(code) else None

    utils.find_preceding_call_line = staticmethod(find_preceding_call_line)


def _notebook_before_sampling(script: str) -> Callable[[ModuleType], None]:
    """A patch of Scalene's `profile_code` (which starts sampling, then runs the code): a
    notebook's script is made ready first (`_as_notebook`)."""

    def patch(module: ModuleType) -> None:
        profile_code = module.Scalene.profile_code

        def patched(self: object, code: object, *args: object, **kwargs: object) -> object:
            if os.path.abspath(getattr(code, "co_filename", "")) == script:
                code = _as_notebook(script, code)
            return profile_code(self, code, *args, **kwargs)

        module.Scalene.profile_code = patched

    return patch


def _as_notebook(script: str, code: object) -> object:
    """The script's code under its notebook's file name, with IPython's shell started if needed.

    The name (FIXINGAHOLE_NOTEBOOK_FILENAME, beside the notebook) is under the folder Scalene
    profiles wherever the run folder holding the script is; its lines are put in `linecache`,
    where Scalene and tracebacks look for the source of code that has no file. Should either
    step fail, the script runs as it is, and its own header starts the shell.
    """
    import linecache
    import warnings

    name = os.environ.get("FIXINGAHOLE_NOTEBOOK_FILENAME")
    if name:
        with contextlib.suppress(Exception):
            with open(script, encoding="utf-8") as file:
                source = file.read()
            code = compile(source, name, "exec", dont_inherit=True)
            linecache.cache[name] = (len(source), None, source.splitlines(True), name)
    if os.environ.get("FIXINGAHOLE_NOTEBOOK_CELLS") is not None:
        with contextlib.suppress(Exception), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # IPython's, not the notebook's
            from fixingahole._nbshim import prepare_shell

            prepare_shell(getattr(code, "co_filename", script))
    return code


def _importer() -> str:
    """The module whose import statement is running (importlib's own frames skipped)."""
    frame: FrameType | None = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("importlib"):
        frame = frame.f_back
    name: str = frame.f_globals.get("__name__", "") if frame is not None else ""
    return name


class _NoNativeStacksForScalene:
    """A meta path finder that refuses Scalene its native stack unwinder.

    With --stacks, Scalene 2.4 also unwinds the native (C) stack in a signal handler at every
    CPU sample, sends SIGPROF to every registered thread to unwind theirs, and stitches those to
    the Python stack (`combined_stacks`, two thirds of its JSON). fixing-a-hole reads only the
    Python `stacks`. Without `scalene._scalene_unwind` (a minimal install, to Scalene), Scalene
    keeps collecting Python stacks and skips all of the native work.
    """

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if name == "scalene._scalene_unwind":
            raise ImportError("fixing-a-hole reads Python call stacks only")
        return None


def _file_rules_once_per_file(tracing: ModuleType) -> None:
    """Make Scalene decide once per file, not once per function, whether a file is profiled.

    `ScaleneTracing.should_trace(file, function)` is cached per (file, function), and each miss
    runs the file rules, which resolve the file's path and some 80 `sysconfig` paths. The stack
    walk behind --stacks meets every function on every sampled stack: on code with many
    functions that cost seconds (200 functions: 2.5 s of a 0.1 s script). The rules read only
    the file name and the fixed options, so their answer per file is the same every time.
    """
    rules = getattr(tracing, "ScaleneTracing", None)
    for name in ("_passes_exclusion_rules", "_should_trace_by_location"):
        rule = getattr(rules, name, None)
        if callable(rule):
            setattr(rules, name, _once_per_file(rule))
    _library_paths_once(tracing)


class _Memoised:
    """A module's stand-in whose named functions answer once per argument list (and whose
    `replaced` names are other objects)."""

    def __init__(self, module: ModuleType, names: tuple[str, ...], **replaced: object) -> None:
        import functools

        self._module = module
        for name in names:
            setattr(self, name, functools.cache(getattr(module, name)))
        for name, value in replaced.items():
            setattr(self, name, value)

    def __getattr__(self, name: str) -> object:
        return getattr(self._module, name)


def _library_paths_once(tracing: ModuleType) -> None:
    """Give Scalene's file rules the interpreter's paths resolved once, not once per file.

    To tell a library's file, `_passes_exclusion_rules` asks `sysconfig` for every path of every
    install scheme (about 80) and resolves each on disk, and Scalene wraps every `os` function
    to block its timer signal around it: 7-20 ms per new file, inside the signal handler, in the
    script's time (an asyncio program's samples meet six of asyncio's files). Those paths do
    not change while the process runs, so the tracing module sees `sysconfig`'s answers and
    `Path.resolve`'s kept per path; the rules and their answers stay Scalene's.
    """
    import pathlib

    sysconfig, path_class = getattr(tracing, "sysconfig", None), type(pathlib.Path())
    if sysconfig is None or getattr(tracing, "pathlib", None) is not pathlib:
        return
    resolved: dict[tuple[str, bool], pathlib.Path] = {}

    class ResolvedOnce(path_class):  # type: ignore[valid-type,misc]
        def resolve(self, strict: bool = False) -> pathlib.Path:
            key = (str(self), strict)
            if key not in resolved:
                resolved[key] = super().resolve(strict)
            return resolved[key]

    names = ("get_scheme_names", "get_path_names", "get_path")
    # the globals of Scalene's tracing module (a plain ModuleType here) are replaced
    vars(tracing).update(
        sysconfig=_Memoised(sysconfig, names), pathlib=_Memoised(pathlib, (), Path=ResolvedOnce)
    )


def _each(patches: list[Callable[[ModuleType], None]]) -> Callable[[ModuleType], None]:
    """One patch of a module that applies several, in order."""

    def patch(module: ModuleType) -> None:
        for one in patches:
            one(module)

    return patch


def _file_rules_before_sampling(profiler: ModuleType) -> None:
    """Answer `should_trace` for the frames of Scalene's own start-up before it starts sampling.

    The stack walk behind --stacks meets them at the first sample (the interpreter's, runpy's,
    Scalene's), and deciding for a file the first time takes tens of milliseconds on a busy
    machine: taken then, that time lands inside the script's. The script's own file is decided
    too: the first file that is the program's makes Scalene list the library folders.
    """
    scalene = getattr(profiler, "Scalene", None)
    start = getattr(scalene, "start", None)
    should_trace = getattr(scalene, "_should_trace", None)
    if scalene is None or not (callable(start) and callable(should_trace)):
        return

    def start_after_deciding() -> None:
        frame: FrameType | None = sys._getframe(1)
        while frame is not None:
            with contextlib.suppress(Exception):
                should_trace(frame.f_code.co_filename, frame.f_code.co_name)
            frame = frame.f_back
        for name in ("FIXINGAHOLE_SCRIPT", "FIXINGAHOLE_NOTEBOOK_FILENAME"):
            with contextlib.suppress(Exception):
                if os.environ.get(name):
                    should_trace(os.environ[name], "<module>")
        start()

    scalene.start = staticmethod(start_after_deciding)


WORKING = 0.25  # cores: a thread that uses this much works
SMOOTHING_S = 0.1  # of wall time, over which a thread's CPU use is averaged


class _ThreadRates:
    """Each thread's CPU use in cores, from its pthread CPU clock, averaged over about
    SMOOTHING_S: threads sharing the GIL take turns of 5 ms, as long as Scalene's interval."""

    def __init__(self, clock_of: Callable[[int], int]) -> None:
        self._clock_of = clock_of
        self._last: dict[int, tuple[float, float, float | None]] = {}  # CPU, wall, cores

    def update(self, threads: Iterable[int]) -> dict[int, float]:
        """The cores each of `threads` uses now; a thread seen for the first time has none."""
        wall, last, self._last = time.perf_counter(), self._last, {}
        using = {}
        for thread in threads:
            try:
                cpu = time.clock_gettime(self._clock_of(thread))
            except (OSError, OverflowError):
                continue
            cores, before = None, last.get(thread)
            if before is not None and cpu >= before[0] and wall > before[1]:
                now = (cpu - before[0]) / (wall - before[1])
                weight = min(1.0, (wall - before[1]) / SMOOTHING_S)
                cores = now if before[2] is None else before[2] + weight * (now - before[2])
                using[thread] = cores
            self._last[thread] = (cpu, wall, cores)
        return using

    def skip(self, thread: int) -> None:
        """Leave out of `thread`'s use what it has spent since `update`: Scalene's sample."""
        last = self._last.get(thread)
        if last is not None:
            with contextlib.suppress(OSError, OverflowError):
                cpu = time.clock_gettime(self._clock_of(thread))
                self._last[thread] = (cpu, time.perf_counter(), last[2])


def _shares_by_cpu_used(profiler: ModuleType) -> None:
    """Share each CPU sample among the threads that used the CPU, not among all that exist.

    Scalene splits a sample evenly among the threads with a traced frame but those it marks
    sleeping (its shims mark a thread waiting for a `threading.Lock` or in `join`). A thread in
    `time.sleep` or `Event.wait` still took its share: a worker asleep for a second got 60-70%
    of a busy script's samples, a heartbeat thread half; with every file traced
    (--detailed), Scalene's own three signal-queue threads took three quarters. Here Scalene's
    threads never count, and where several threads are sampled and one of them works (uses a
    quarter of a core or more, `_ThreadRates`), each that uses under a tenth of the busiest
    one's CPU counts as asleep. When none works, the program waits, and the sample stays
    Scalene's: wall time spent waiting is the waiters'.
    """
    import functools
    import inspect
    import threading
    from collections import defaultdict

    scalene = getattr(profiler, "Scalene", None)
    queues = getattr(profiler, "ScaleneSigQueue", None)
    process = getattr(scalene, "_process_cpu_sample", None)
    run = getattr(queues, "run", None)
    if scalene is None or queues is None or not (callable(process) and callable(run)):
        return
    parameters = list(inspect.signature(process).parameters)
    if parameters[1:2] != ["new_frames"] or "is_thread_sleeping" not in parameters:
        return
    at = parameters.index("is_thread_sleeping")
    clock_of = getattr(time, "pthread_getcpuclockid", None)  # Linux and most Unixes
    rates = _ThreadRates(clock_of) if clock_of is not None else None
    scalenes: set[int] = set()

    def asleep(frames: Sequence[tuple[object, int, object]], marked: dict[int, bool]) -> set[int]:
        """The threads to count as asleep in this sample, besides those Scalene `marked`."""
        idle = {thread for _, thread, _ in frames if thread in scalenes}
        awake = [t for _, t, _ in frames if t not in idle and not marked.get(t, False)]
        if rates is None or len(awake) < 2:
            return idle
        using = rates.update(awake)
        busiest = max(using.values(), default=0.0)
        if busiest < WORKING:  # all wait (for a sleep, a child, the network): time is theirs
            return idle
        return idle | {thread for thread, cores in using.items() if cores < busiest / 10}

    @functools.wraps(process)
    def process_cpu_sample(*args: object, **kwargs: object) -> None:
        idle = asleep(args[1], args[at])  # type: ignore[arg-type]
        if idle:
            marked = defaultdict(bool, args[at])  # type: ignore[call-overload]
            marked.update(dict.fromkeys(idle, True))
            args = (*args[:at], marked, *args[at + 1 :])
        process(*args, **kwargs)
        if rates is not None:
            rates.skip(threading.get_ident())  # the main thread's, which runs the sample

    @functools.wraps(run)
    def run_unsampled(self: object) -> None:
        thread = threading.get_ident()
        scalenes.add(thread)
        try:
            run(self)
        finally:
            scalenes.discard(thread)

    scalene._process_cpu_sample = staticmethod(process_cpu_sample)
    queues.run = run_unsampled


def _condition_waits_sampled(profiler: ModuleType) -> None:
    """Let the main thread take samples while it waits on a `Condition` (an `Event`, a `Queue`,
    `as_completed`).

    Samples run in the main thread, and Scalene makes its timer signal restart interrupted
    system calls, so a blocked wait takes none: two busy workers got 1-3 samples in 0.9 s while
    the main thread waited. Scalene's stand-ins for blocking calls wake every switch interval
    and mark the thread asleep; its `threading.Lock` is one, but a Condition makes the lock it
    waits on with `threading._allocate_lock`, which Scalene leaves alone. Here that makes
    Scalene's lock too, as sampling starts.
    """
    scalene = getattr(profiler, "Scalene", None)
    start = getattr(scalene, "start", None)
    if scalene is None or not callable(start):
        return

    def start_with_waits_sampled() -> None:
        import _thread
        import threading

        lock = getattr(threading, "Lock", None)
        if lock is not _thread.allocate_lock and hasattr(threading, "_allocate_lock"):
            threading._allocate_lock = lock
        start()

    scalene.start = staticmethod(start_with_waits_sampled)


def _mark_finished(mark: str) -> Callable[[ModuleType], None]:
    """A patch of Scalene's `stop` (sampling ends, the profile is written next) that makes the
    file `mark` first, so that the runner sends no signal that would cut the writing short."""

    def patch(profiler: ModuleType) -> None:
        scalene = getattr(profiler, "Scalene", None)
        stop = getattr(scalene, "stop", None)
        if scalene is None or not callable(stop):
            return

        def stop_marked() -> None:
            with contextlib.suppress(OSError):
                os.close(os.open(mark, os.O_WRONLY | os.O_CREAT, 0o644))
            stop()

        scalene.stop = staticmethod(stop_marked)

    return patch


def _once_per_file(rule: Callable[[object, str], bool]) -> Callable[[object, str], bool]:
    answers: dict[tuple[int, str], bool] = {}

    def once(self: object, filename: str) -> bool:
        key = (id(self), filename)
        if key not in answers:
            answers[key] = rule(self, filename)
        return answers[key]

    return once


def _mark_event_loop(mark: str) -> Callable[[ModuleType], None]:
    """A patch of `asyncio.events` that makes the file `mark` when an event loop first runs.

    Every loop of the standard library announces itself through `events._set_running_loop`
    when it starts; the patch answers once and puts the original back, so no frame of ours is
    on the stack while the loop runs.
    """

    # Patching a module's function: typeshed's ModuleType reads any attribute but sets none.
    def patch(events: ModuleType) -> None:
        set_running_loop = events._set_running_loop

        def _set_running_loop(loop: object) -> None:
            if loop is not None:
                events._set_running_loop = set_running_loop  # type: ignore[attr-defined]
                with contextlib.suppress(OSError):
                    os.close(os.open(mark, os.O_WRONLY | os.O_CREAT, 0o644))
            set_running_loop(loop)

        events._set_running_loop = _set_running_loop  # type: ignore[attr-defined]

    return patch


_COROUTINE_FLAGS = 0x80 | 0x100  # inspect's CO_COROUTINE | CO_ITERABLE_COROUTINE


def _await_on_its_line(asynchronous: ModuleType) -> None:
    """Track every coroutine's suspension, on the line of its await (--async on 3.12+).

    There Scalene learns of a suspension from sys.monitoring's PY_YIELD, which gives the code and
    the offset of the yield. It keeps only code flagged 0x100, CO_ITERABLE_COROUTINE (generators
    made coroutines, such as asyncio's `sleep(0)`), not 0x80, CO_COROUTINE (every `async def`):
    a program's own coroutines were not tracked, and those seen were filed under the code's
    first line, the `async def`. Here both flags count, and the entry Scalene makes gets the
    offset's line from the code's line table (once per code and offset). As a task suspends,
    its coroutines yield innermost first (and resume outermost first); only the task's own
    coroutine's events are passed on (Scalene reads the same coroutine on 3.10 and 3.11), and
    generators' return at once.
    """
    tracker = getattr(asynchronous, "ScaleneAsync", None)
    on_yield = getattr(tracker, "_on_yield", None)
    on_resume = getattr(tracker, "_on_resume", None)
    current_task = getattr(getattr(asynchronous, "asyncio", None), "current_task", None)
    if tracker is None or not (
        callable(on_yield) and callable(on_resume) and callable(current_task)
    ):
        return
    lines: dict[tuple[CodeType, int], int] = {}

    def line_at(code: CodeType, offset: int) -> int:
        key = (code, offset)
        if key not in lines:
            spans = (line for start, end, line in code.co_lines() if start <= offset < end)
            lines[key] = next((line for line in spans if line is not None), code.co_firstlineno)
        return lines[key]

    def is_coroutine_function(cls: type, code: CodeType) -> bool:
        return bool(getattr(code, "co_flags", 0) & _COROUTINE_FLAGS)

    def tasks_own(code: CodeType) -> object | None:
        """The running task if `code` is its own coroutine's (not one it awaits), else None."""
        if not code.co_flags & _COROUTINE_FLAGS:
            return None
        try:
            task = current_task()
        except RuntimeError:
            return None
        coroutine = task.get_coro() if task is not None else None
        return task if getattr(coroutine, "cr_code", None) is code else None

    def _on_yield(cls: type, code: CodeType, offset: int, retval: object = None) -> None:
        task = tasks_own(code)
        if task is None:
            return
        on_yield(code, offset, retval)
        entry = cls._suspended_tasks.get(id(task))  # type: ignore[attr-defined]
        if entry is not None and entry.lineno == code.co_firstlineno:
            line = line_at(code, offset)
            cls._suspended_tasks[id(task)] = entry._replace(lineno=line)  # type: ignore[attr-defined]

    def _on_resume(cls: type, code: CodeType, offset: int) -> None:
        if tasks_own(code) is not None:
            on_resume(code, offset)

    tracker.is_coroutine_function = classmethod(is_coroutine_function)
    tracker._on_yield = classmethod(_on_yield)
    tracker._on_resume = classmethod(_on_resume)


def _install() -> None:
    if TYPE_CHECKING:  # mypy reads them in the package; the child finds them in this folder
        from fixingahole._bootstrap import _fixingahole_import_waits, _fixingahole_script_start
    else:
        import _fixingahole_import_waits
        import _fixingahole_script_start

    _fixingahole_import_waits.install()
    _fixingahole_script_start.install(frozenset(sys.modules))
    patches: dict[str, Callable[[ModuleType], None]] = {
        "argparse": _scalene_args_verbatim,
        "scalene.scalene_funcutils": _native_time_stays,
    }
    log_path = os.environ.get("FIXINGAHOLE_LOG_FILE")
    if log_path:
        level = LEVELS.get(os.environ.get("FIXINGAHOLE_LOG_LEVEL", "WARNING").upper(), 30)
        skip = os.environ.get("FIXINGAHOLE_SKIP_PATHS", "").split(os.pathsep)
        log = _LogFile(log_path, level, [os.path.join(p, "") for p in (_HERE, *skip) if p])
        if level <= LEVELS["WARNING"]:
            _capture_warnings(log)
        patches["logging"] = lambda module: _capture_logging(log, module)
    if os.environ.get("FIXINGAHOLE_NO_PLOTS") == "1":
        patches.update((name, _silence_show(owner)) for name, owner in _PLOT_SHOWS.items())
    patches["scalene.scalene_tracing"] = _file_rules_once_per_file
    before_sampling: list[Callable[[ModuleType], None]] = [
        _file_rules_before_sampling,
        _shares_by_cpu_used,
        _condition_waits_sampled,
    ]
    finished_mark = os.environ.get("FIXINGAHOLE_FINISHED_MARK")
    if finished_mark:
        before_sampling.append(_mark_finished(finished_mark))
    notebook_script = os.environ.get("FIXINGAHOLE_NOTEBOOK_SCRIPT")
    if notebook_script:
        before_sampling.append(_notebook_before_sampling(os.path.abspath(notebook_script)))
    patches["scalene.scalene_profiler"] = _each(before_sampling)
    event_loop_mark = os.environ.get("FIXINGAHOLE_EVENT_LOOP_MARK")
    if event_loop_mark:
        patches["asyncio.events"] = _mark_event_loop(event_loop_mark)
    if sys.version_info >= (3, 12):
        patches["scalene.scalene_async"] = _await_on_its_line
    if os.environ.get("FIXINGAHOLE_PYTHON_STACKS") == "1":
        sys.meta_path.insert(0, _NoNativeStacksForScalene())
    for name in [name for name in patches if name in sys.modules]:
        patches.pop(name)(sys.modules[name])
    if patches:
        sys.meta_path.insert(0, _AfterImport(patches))
    sys.meta_path.insert(0, _NoIPythonForScalene())


def _run_next_sitecustomize() -> None:
    """Run the sitecustomize this one shadows, if the environment has one."""
    from importlib.machinery import PathFinder

    here = os.path.normcase(_HERE)
    rest = [p for p in sys.path if os.path.normcase(os.path.abspath(p or ".")) != here]
    spec = PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    from importlib.util import module_from_spec

    module = module_from_spec(spec)
    sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


_install()
_run_next_sitecustomize()
