"""The record of one run: `RunRecord`, built once when the run ends, and its status, `RunStatus`.

`summary.json` is `RunRecord.to_json()`; the batch, the store, the cluster and every report read
the record by attribute. `from_json` reads every `summary.json` written so far (schema 1: older
ones lack `cells`, the totals with callees and `unprofiled_event_loop`) and refuses, in one line
that says what to do, a document that is not one, of another schema or with a field of the wrong
kind. This module imports nothing heavy: a profile's store entry is made without pandas.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal, TypeVar, overload

from fixingahole.errors import UserError

SCHEMA = 1  # the version of summary.json's shape; a reader refuses any other
DAMAGED = "this summary.json is damaged: profile the run again, or remove its run folder"
_T = TypeVar("_T")


class RunStatus(str, Enum):
    """How a run ended, and the exit code that says so (the one exit-code map)."""

    OK = "ok"
    FAILED = "failed"  # the script raised or exited non-zero
    TIMEOUT = "timeout"  # stopped at --timeout
    INTERRUPTED = "interrupted"  # Ctrl-C (or the batch's client stopped it)
    NO_SAMPLES = "no-samples"  # finished, but Scalene sampled nothing
    TOOL_ERROR = "tool-error"  # Scalene or fixing-a-hole failed, not the script
    LOST = "lost"  # a batch's run whose Dask workers died (no run folder)
    REFUSED = "refused"  # a batch's run a Dask worker would not make: other code there

    def __str__(self) -> str:
        return self.value

    @property
    def exit_code(self) -> int:
        """0 ok; 1 the script failed or timed out; 2 nothing measured that can be used (no
        samples, or a worker with other code); 3 the tool failed (or the cluster lost the run);
        130 interrupted."""
        return _EXIT_CODES[self]

    @property
    def stopped(self) -> bool:
        """Stopped before the script's end (its profile may be partial or lost)."""
        return self in (RunStatus.TIMEOUT, RunStatus.INTERRUPTED)

    @property
    def ran_to_end(self) -> bool:
        """The script ran to its end without failing (sampled or not)."""
        return self in (RunStatus.OK, RunStatus.NO_SAMPLES)


_EXIT_CODES = {
    RunStatus.OK: 0,
    RunStatus.FAILED: 1,
    RunStatus.TIMEOUT: 1,
    RunStatus.NO_SAMPLES: 2,
    RunStatus.REFUSED: 2,
    RunStatus.TOOL_ERROR: 3,
    RunStatus.LOST: 3,
    RunStatus.INTERRUPTED: 130,
}


def worst_exit_code(statuses: Iterable[RunStatus]) -> int:
    """The exit code of a batch: its worst run's (interrupted 130 > tool error 3 > no samples
    2 > failed or timeout 1 > ok 0); 0 for no runs."""
    return max((status.exit_code for status in statuses), default=0)


# -- rows ----------------------------------------------------------------------------------------

_READ = {  # a row field's annotation -> the _Reader method that reads it
    "str": "text",
    "str | None": "optional_text",
    "int": "integer",
    "int | None": "optional_integer",
    "float": "number",
    "float | None": "optional_number",
    "bool | None": "optional_flag",
}
_Row = TypeVar("_Row", bound="_PlainRow")


class _PlainRow:
    """A row of plain JSON values: its keys are its fields' names, in their order."""

    __slots__ = ()

    def to_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def from_json(cls: type[_Row], row: _Reader) -> _Row:
        return cls(**_plain_fields(cls, row))


def _plain_fields(row_type: type[_PlainRow], row: _Reader) -> dict[str, Any]:
    """The row's plain fields, each read by its kind (one that may be null may be missing)."""
    fields = dataclasses.fields(row_type)  # type: ignore[arg-type]
    return {
        f.name: getattr(row, _READ[str(f.type)])(f.name) for f in fields if str(f.type) in _READ
    }


@dataclass(frozen=True, slots=True)
class FunctionRow(_PlainRow):
    """A reported function: self time (its own lines), time with callees, memory."""

    file: str
    name: str
    lineno: int  # its `def` line
    location: str
    percent: float
    seconds: float
    peak_mb: float
    malloc_mb: float
    total_percent: float | None = None  # with callees; None without stacks (or before totals)
    total_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class LineRow(_PlainRow):
    """A reported line with any time or memory."""

    file: str
    lineno: int
    location: str
    percent: float
    seconds: float
    peak_mb: float
    malloc_mb: float


@dataclass(frozen=True, slots=True)
class LeakRow(_PlainRow):
    """A line Scalene suspects of leaking."""

    file: str
    lineno: int
    location: str
    likelihood: float  # 0..1
    velocity_mb_s: float


@dataclass(frozen=True, slots=True)
class CellLine:
    """A line of a notebook cell: its number in the cell, and the line's row."""

    line: int
    row: LineRow

    def to_json(self) -> dict[str, Any]:
        return {"line": self.line, **self.row.to_json()}

    @classmethod
    def from_json(cls, row: _Reader) -> CellLine:
        return cls(line=row.integer("line"), row=LineRow.from_json(row))


@dataclass(frozen=True, slots=True)
class CellRow(_PlainRow):
    """A notebook's code cell: time while it ran, its lines' memory, its source's hash."""

    cell: int  # the cell's number among the code cells
    first_line: str
    hash: str  # of the cell's source: matches the cell across versions of the notebook
    percent: float
    seconds: float
    peak_mb: float
    malloc_mb: float
    lines: tuple[CellLine, ...] = ()  # its lines with any time or memory

    def to_json(self) -> dict[str, Any]:
        return {**_PlainRow.to_json(self), "lines": [line.to_json() for line in self.lines]}

    @classmethod
    def from_json(cls, row: _Reader) -> CellRow:
        lines = tuple(CellLine.from_json(line) for line in row.rows("lines"))
        return cls(**_plain_fields(cls, row), lines=lines)


@dataclass(frozen=True, slots=True)
class GitInfo(_PlainRow):
    """The git work tree of the profiled file (`provenance.git_info`)."""

    commit: str | None  # None before the first commit
    branch: str | None  # None on a detached HEAD
    dirty: bool | None  # a tracked file differs from HEAD


@dataclass(frozen=True, slots=True)
class Environment(_PlainRow):
    """Where the run ran (`provenance.environment`); None where a fact was not found."""

    python: str | None = None
    scalene: str | None = None
    fixingahole: str | None = None
    host: str | None = None
    platform: str | None = None
    cpu: str | None = None


@dataclass(frozen=True, slots=True)
class InstructionCounts:
    """With --instructions: Cachegrind's count of the script's process, and of a bare start-up."""

    instructions: int | None  # None without a count (the note says why)
    startup_instructions: int | None  # `python -c pass` under the same settings
    note: str | None = None  # why there is no count, or why it may vary

    def to_json(self) -> dict[str, Any]:
        return {
            "instructions": self.instructions,
            "startup_instructions": self.startup_instructions,
            "instructions_note": self.note,
        }

    @classmethod
    def from_json(cls, row: _Reader) -> InstructionCounts:
        return cls(
            instructions=row.optional_integer("instructions"),
            startup_instructions=row.optional_integer("startup_instructions"),
            note=row.optional_text("instructions_note"),
        )


# -- the record ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RunRecord:
    """One run as it ended: what was run, how it ended, where, and its reported figures.

    Figures are rounded as stored (percent and seconds to 4 decimals, MB to 3); `options` are
    the profile's options as JSON values (`cwd` as text), in the order they were recorded.
    """

    run_id: str  # `<entry>/<YYYYMMDD_HHMMSS>[_N]`
    entry: str
    target: str  # relative to root when under it, else absolute
    kind: str  # "script" or "notebook"
    status: RunStatus
    exit_code: int | None  # the script's; None when stopped
    started_utc: str  # `2025-01-01T14:30:00.123Z`
    wall_s: float
    cpu_s: float  # user + system of the whole process tree
    elapsed_s: float  # Scalene's
    max_rss_mb: float
    peak_heap_mb: float | None  # None without --memory
    mode: str  # "cpu" or "memory"
    options: Mapping[str, Any]
    command: str  # the command line that reproduces the run
    tags: tuple[str, ...] = ()
    code_hash: str = ""  # `sha256:...` of the profiled file
    git: GitInfo | None = None  # None outside git
    environment: Environment = Environment()
    log_counts: Mapping[str, int] = dataclasses.field(default_factory=dict)
    error: str | None = None  # one line when the status is not ok
    unprofiled_event_loop: bool = False  # an asyncio event loop ran, profiled without --async
    functions: tuple[FunctionRow, ...] = ()  # by percent, descending
    lines: tuple[LineRow, ...] = ()
    leaks: tuple[LeakRow, ...] = ()  # by likelihood, descending
    cells: tuple[CellRow, ...] = ()  # a notebook's code cells in order; () for a script
    instructions: InstructionCounts | None = None  # only with --instructions

    @property
    def memory(self) -> bool:
        """True when heap memory was profiled."""
        return self.mode == "memory"

    @property
    def precision(self) -> int:
        """The memory sampling granularity the run was profiled at."""
        value = self.options.get("precision", 0)
        return value if isinstance(value, int) else 0

    @property
    def detailed(self) -> bool:
        """Libraries were profiled (and are reported) too."""
        return bool(self.options.get("detailed", False))

    @property
    def trace(self) -> bool:
        """Call stacks were asked for."""
        return bool(self.options.get("trace", True))

    @property
    def started(self) -> datetime:
        """`started_utc` as an aware UTC datetime."""
        return parse_utc(self.started_utc)

    def to_json(self) -> dict[str, Any]:
        """The `summary.json` document (schema `SCHEMA`), ready for `json.dump`."""
        document: dict[str, Any] = {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "entry": self.entry,
            "target": self.target,
            "kind": self.kind,
            "status": self.status.value,
            "exit_code": self.exit_code,
            "started_utc": self.started_utc,
            "wall_s": self.wall_s,
            "cpu_s": self.cpu_s,
            "elapsed_s": self.elapsed_s,
            "max_rss_mb": self.max_rss_mb,
            "peak_heap_mb": self.peak_heap_mb,
            "mode": self.mode,
            "options": _copy(self.options),
            "command": self.command,
            "tags": list(self.tags),
            "code_hash": self.code_hash,
            "git": None if self.git is None else self.git.to_json(),
            "environment": self.environment.to_json(),
            "log_counts": dict(self.log_counts),
            "error": self.error,
            "unprofiled_event_loop": self.unprofiled_event_loop,
            "functions": [row.to_json() for row in self.functions],
            "lines": [row.to_json() for row in self.lines],
            "leaks": [row.to_json() for row in self.leaks],
            "cells": [row.to_json() for row in self.cells],
        }
        if self.instructions is not None:
            document.update(self.instructions.to_json())
        return document

    @classmethod
    def from_json(cls, document: object) -> RunRecord:
        """The record a `summary.json` document holds; UserError (naming the run and the field)
        when it is not one this version reads."""
        doc = _Reader.of_summary(document)
        options = doc.mapping("options") or {}
        return cls(
            run_id=doc.run_id,
            entry=doc.text("entry"),
            target=doc.text("target"),
            kind=doc.text("kind"),
            status=doc.status(),
            exit_code=doc.optional_integer("exit_code"),
            started_utc=doc.utc_text("started_utc"),
            wall_s=doc.number("wall_s"),
            cpu_s=doc.number("cpu_s"),
            elapsed_s=doc.number("elapsed_s"),
            max_rss_mb=doc.number("max_rss_mb"),
            peak_heap_mb=doc.optional_number("peak_heap_mb"),
            mode=doc.text("mode"),
            options=options,
            command=doc.text("command"),
            tags=tuple(doc.texts("tags")),
            code_hash=doc.text("code_hash"),
            git=doc.nested("git", GitInfo.from_json),
            environment=doc.nested("environment", Environment.from_json) or Environment(),
            log_counts=doc.counts("log_counts"),
            error=doc.optional_text("error"),
            unprofiled_event_loop=doc.optional_flag("unprofiled_event_loop") or False,
            functions=tuple(FunctionRow.from_json(row) for row in doc.rows("functions")),
            lines=tuple(LineRow.from_json(row) for row in doc.rows("lines")),
            leaks=tuple(LeakRow.from_json(row) for row in doc.rows("leaks")),
            cells=tuple(CellRow.from_json(row) for row in doc.rows("cells")),
            instructions=InstructionCounts.from_json(doc) if doc.has("instructions") else None,
        )

    def with_run_id(self, run_id: str) -> RunRecord:
        """The same run under another id (a cluster's run landed where its id was taken)."""
        return dataclasses.replace(self, run_id=run_id)


def parse_utc(text: str) -> datetime:
    """`2025-01-01T14:30:00Z` (any ISO 8601 offset; none means UTC) as an aware UTC datetime;
    ValueError when it is not one."""
    moment = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith(("Z", "z")) else text)
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _copy(value: Any) -> Any:
    """A JSON value's own copy (objects and arrays copied all the way down)."""
    if isinstance(value, Mapping):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(item) for item in value]
    return value


# -- reading a document --------------------------------------------------------------------------


class _Reader:
    """One JSON object of a summary, read field by field with its kind checked; `where` names
    it in errors (`run a/20250101_000000: functions[2]`)."""

    def __init__(self, document: Mapping[str, Any], where: str, run_id: str) -> None:
        self.document = document
        self.where = where
        self.run_id = run_id

    @classmethod
    def of_summary(cls, document: object) -> _Reader:
        """The top object of a summary, its schema and run id checked."""
        if not isinstance(document, Mapping):
            raise UserError(f"a run summary must be a JSON object; {DAMAGED}")
        if "schema" not in document:
            raise UserError(
                "the summary has no `schema`: it is not a summary.json written by fixing-a-hole; "
                "check the file, or profile the run again"
            )
        schema = document["schema"]
        if schema != SCHEMA or isinstance(schema, bool):
            newer = isinstance(schema, int) and not isinstance(schema, bool) and schema > SCHEMA
            what = "upgrade fixingahole to read it" if newer else DAMAGED
            raise UserError(
                f"summary schema {schema!r} is not supported (this version reads {SCHEMA}); {what}"
            )
        run_id = document.get("run_id")
        if not isinstance(run_id, str) or not run_id:
            raise UserError(f"the summary has no run_id; {DAMAGED}")
        return cls(document, f"run {run_id}", run_id)

    def has(self, key: str) -> bool:
        return key in self.document

    @overload
    def _value(
        self, key: str, kinds: tuple[type[_T], ...], what: str, optional: Literal[False]
    ) -> _T: ...

    @overload
    def _value(
        self, key: str, kinds: tuple[type[_T], ...], what: str, optional: Literal[True]
    ) -> _T | None: ...

    def _value(self, key: str, kinds: tuple[type[_T], ...], what: str, optional: bool) -> _T | None:
        """The value at `key` if it is one of `kinds` (a bool only when asked for, a float only
        finite); None when `optional` and it is null or missing; else a UserError."""
        if key not in self.document and not optional:
            raise UserError(f"{self.where}: `{key}` is missing; {DAMAGED}")
        value: object = self.document.get(key)
        if value is None and optional:
            return None
        if (
            not isinstance(value, kinds)
            or (isinstance(value, bool) and bool not in kinds)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise UserError(f"{self.where}: `{key}` must be {what}, not {value!r}; {DAMAGED}")
        return value

    def text(self, key: str) -> str:
        return self._value(key, (str,), "text", optional=False)

    def optional_text(self, key: str) -> str | None:
        return self._value(key, (str,), "text or null", optional=True)

    def number(self, key: str) -> float:
        return self._value(key, (int, float), "a finite number", optional=False)

    def optional_number(self, key: str) -> float | None:
        return self._value(key, (int, float), "a finite number or null", optional=True)

    def integer(self, key: str) -> int:
        return self._value(key, (int,), "a whole number", optional=False)

    def optional_integer(self, key: str) -> int | None:
        return self._value(key, (int,), "a whole number or null", optional=True)

    def optional_flag(self, key: str) -> bool | None:
        return self._value(key, (bool,), "true, false or null", optional=True)

    def status(self) -> RunStatus:
        value = self.text("status")
        try:
            return RunStatus(value)
        except ValueError:
            known = ", ".join(status.value for status in RunStatus)
            raise UserError(
                f"{self.where}: `status` {value!r} is not one of {known}; {DAMAGED}"
            ) from None

    def utc_text(self, key: str) -> str:
        value = self._value(key, (str,), "an ISO 8601 time", optional=False)
        try:
            parse_utc(value)
        except ValueError:
            raise UserError(
                f"{self.where}: {key} {value!r} is not an ISO 8601 time like "
                f"2025-01-01T14:30:00Z; {DAMAGED}"
            ) from None
        return value

    def mapping(self, key: str) -> dict[str, Any] | None:
        """A JSON object (copied), or None when null or missing."""
        value = self._value(key, (Mapping,), "an object or null", optional=True)
        return None if value is None else _copy(value)

    def nested(self, key: str, build: Any) -> Any:
        """`build(reader)` of a nested object, or None when it is null or missing."""
        value = self._value(key, (Mapping,), "an object or null", optional=True)
        return None if value is None else build(_Reader(value, f"{self.where}: {key}", self.run_id))

    def texts(self, key: str) -> list[str]:
        items = self._value(key, (list,), "a list of text", optional=True) or []
        if not all(isinstance(item, str) for item in items):
            raise UserError(f"{self.where}: `{key}` must be a list of text; {DAMAGED}")
        return list(items)

    def counts(self, key: str) -> dict[str, int]:
        counts = self.mapping(key) or {}
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in counts.values()):
            raise UserError(f"{self.where}: `{key}` must map names to counts; {DAMAGED}")
        return counts

    def rows(self, key: str) -> list[_Reader]:
        """The objects of a list (missing: none, as in summaries written before it existed)."""
        items = self._value(key, (list,), "a list of objects", optional=True) or []
        if not all(isinstance(item, Mapping) for item in items):
            raise UserError(f"{self.where}: `{key}` must be a list of objects; {DAMAGED}")
        return [
            _Reader(item, f"{self.where}: {key}[{i}]", self.run_id) for i, item in enumerate(items)
        ]
