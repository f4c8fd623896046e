"""The results store: tables of runs, functions, lines and notebook cells under `<output>/.store`.

Layout and protocol (see docs/internals.md, "The store"):

- `CURRENT` names the live generation folder (`data` when the file is absent). `rebuild` fills a
  new generation and swaps `CURRENT` with `os.replace`, so readers see the old or the new store.
- A generation holds immutable segments: folders named `<runs>-<token>` with `runs.parquet`,
  `functions.parquet`, `lines.parquet` and `cells.parquet` (segments written before cells were
  kept have none: they read as no cells). A segment is written under `.tmp-<token>` and renamed
  into place, so it appears complete or not at all; names starting with `.` are never read.
- `add` writes a one-run segment. Every row of `runs` carries `_version` (the time it was added);
  when a run id is in several segments, readers take the newest version and that segment's rows.
- Compaction merges segments of a similar size (`FANOUT` of them) into one, so a store of N runs
  has O(FANOUT * log N) segments. Inputs are deleted only after the merged segment is durable.
- Locks (`fcntl.flock`): writers hold `lock` shared while they write; a rebuild holds it
  exclusively; whoever gets it exclusively knows no write is under way, so `.tmp-*`/`.del-*`
  leftovers of killed processes are safe to delete. `compact.lock` admits one compactor at a time.
  Readers take no lock: a segment that vanishes under them (merged, or an old generation) makes
  them list again.
"""

from __future__ import annotations

import bisect
import fcntl
import io
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
import pyarrow.parquet as pq

from fixingahole.errors import UserError
from fixingahole.record import DAMAGED, InstructionCounts, RunRecord

if TYPE_CHECKING:
    import pandas as pd


def _schema(columns: list[tuple[str, pa.DataType]]) -> pa.Schema:
    """`pa.schema` of (name, type) pairs, typed so mypy reads the list as such: against the
    stubs' union parameter it would infer `list[tuple[str, object]]`."""
    return pa.schema(columns)


RUNS = _schema(
    [
        ("run_id", pa.string()),
        ("entry", pa.string()),
        ("target", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("exit_code", pa.int64()),
        ("started_utc", pa.timestamp("us", tz="UTC")),
        ("wall_s", pa.float64()),
        ("cpu_s", pa.float64()),
        ("elapsed_s", pa.float64()),
        ("max_rss_mb", pa.float64()),
        ("peak_heap_mb", pa.float64()),
        ("mode", pa.string()),
        ("options", pa.string()),  # JSON text
        ("command", pa.string()),
        ("tags", pa.string()),  # JSON text
        ("code_hash", pa.string()),
        ("git_commit", pa.string()),
        ("git_branch", pa.string()),
        ("git_dirty", pa.bool_()),
        ("python", pa.string()),
        ("scalene", pa.string()),
        ("fixingahole", pa.string()),
        ("host", pa.string()),
        ("platform", pa.string()),
        ("cpu", pa.string()),
        ("log_counts", pa.string()),  # JSON text
        ("error", pa.string()),
        ("run_dir", pa.string()),  # relative to the output folder when under it
        ("instructions", pa.int64()),  # counted under Cachegrind (--instructions), else null
        ("startup_instructions", pa.int64()),  # the interpreter's bare start-up, same settings
        ("instructions_note", pa.string()),  # why a count is missing or may vary
    ]
)
_FIGURES: list[tuple[str, pa.DataType]] = [
    ("percent", pa.float64()),
    ("seconds", pa.float64()),
    ("peak_mb", pa.float64()),
    ("malloc_mb", pa.float64()),
]
FUNCTIONS = _schema(
    [
        ("run_id", pa.string()),
        ("file", pa.string()),
        ("name", pa.string()),
        ("lineno", pa.int64()),
        ("location", pa.string()),
        *_FIGURES,
    ]
)
LINES = _schema(
    [
        ("run_id", pa.string()),
        ("file", pa.string()),
        ("lineno", pa.int64()),
        ("location", pa.string()),
        *_FIGURES,
    ]
)
CELLS = _schema(
    [
        ("run_id", pa.string()),
        ("cell", pa.int64()),
        ("hash", pa.string()),  # of the cell's source: matches a cell across notebook versions
        ("first_line", pa.string()),
        *_FIGURES,
    ]
)
_STORED_RUNS = RUNS.append(pa.field("_version", pa.int64()))
_SCHEMAS = {"runs": _STORED_RUNS, "functions": FUNCTIONS, "lines": LINES, "cells": CELLS}
_ADDED_LATER = ("cells",)  # tables that segments written by older versions do not have
_NOT_COUNTED = InstructionCounts(None, None)  # the count columns of a run without --instructions

FANOUT = 8  # segments of one size class that trigger a merge
REBUILD_CHUNK = FANOUT**3  # runs per segment written by a rebuild
ROW_GROUP_ROWS = 1 << 16  # small enough for row-group statistics to skip unwanted runs
READ_ATTEMPTS = 50
_DEFAULT_GENERATION = "data"
_ISO_UTC = "%Y-%m-%dT%H:%M:%S.%fZ"
_DICTIONARY = pa.dictionary(pa.int32(), pa.string())
_JSON_READ = pj.ReadOptions(use_threads=False)
_T = TypeVar("_T")


@dataclass(frozen=True)
class RebuildReport:
    """What a rebuild indexed: how many runs, and each folder it skipped with the reason."""

    added: int
    skipped: tuple[tuple[Path, str], ...]


@dataclass(frozen=True)
class _Tables:
    """The rows of one or more runs, one Arrow table per store table."""

    runs: pa.Table
    functions: pa.Table
    lines: pa.Table
    cells: pa.Table


@dataclass(frozen=True)
class _Segment:
    path: Path
    runs: int  # as written in its name; duplicates of other segments included


@dataclass(frozen=True)
class _Live:
    """A segment's runs that no newer segment supersedes."""

    segment: _Segment
    runs: pa.Table
    whole: bool  # every run of the segment is live


class Store:
    """The runs, functions and lines of every indexed run, under `path` (`<output>/.store`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    # -- writing -------------------------------------------------------------------------------

    def add(self, record: RunRecord, run_dir: Path | None = None) -> None:
        """Index one run from its record; a run id added again replaces it."""
        tables = _tables_from_record(record, self._run_dir_text(run_dir), time.time_ns())
        self._create()
        with _flock(self.path / "lock", fcntl.LOCK_SH):
            generation = self._generation()
            generation.mkdir(exist_ok=True)
            _write_segment(generation, tables)
        self._sweep()
        self._compact()

    def rebuild(self, output: Path) -> RebuildReport:
        """Replace the store with what the run folders `<output>/*/*/summary.json` hold.

        Unreadable or invalid summaries, and a second folder with a run id already seen, are
        skipped and reported. Adds wait while a rebuild runs; readers keep the old store until
        the new one is complete.
        """
        output = Path(output)
        if not output.is_dir():
            raise UserError(
                f"{output} is not a folder; pass the output folder that holds the run folders"
            )
        skipped: list[tuple[Path, str]] = []

        def indexed() -> Iterator[_Tables]:
            seen: dict[str, Path] = {}
            for folder in _run_folders(output):
                try:
                    record = _read_record(folder / "summary.json")
                    tables = _tables_from_record(record, _relative(folder, output), time.time_ns())
                except UserError as error:
                    skipped.append((folder, str(error)))
                    continue
                run_id = record.run_id
                if run_id in seen:
                    skipped.append(
                        (folder, f"run id {run_id} is already indexed from {seen[run_id]}")
                    )
                    continue
                seen[run_id] = folder
                yield tables

        added = self._replace(indexed())
        return RebuildReport(added, tuple(skipped))

    def _replace(self, runs: Iterable[_Tables]) -> int:
        """Make a store of exactly `runs` and switch to it atomically; returns the count."""
        self._create()
        with _flock(self.path / "lock", fcntl.LOCK_EX):
            generation = self.path / f"{_DEFAULT_GENERATION}-{uuid.uuid4().hex}"
            generation.mkdir()
            count = 0
            for chunk in _chunks(runs, REBUILD_CHUNK):
                _write_segment(generation, _concat(chunk))
                count += len(chunk)
            while group := _merge_group(_list_segments(generation)):
                _merge(generation, group)
            _fsync(generation)
            pointer = self.path / f".tmp-CURRENT-{uuid.uuid4().hex}"
            pointer.write_text(generation.name + "\n", encoding="utf-8")
            _fsync(pointer)
            os.replace(pointer, self.path / "CURRENT")
            _fsync(self.path)
            self._delete_garbage()
        return count

    def _compact(self) -> None:
        """Merge segments while a size class holds `FANOUT` of them, unless another process is."""
        try:
            if not _merge_group(self._segments(self._generation())):
                return
        except FileNotFoundError:
            pass  # a rebuild replaced the generation; look again under the lock
        with _flock(self.path / "compact.lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as mine:
            if not mine:
                return
            while True:
                with _flock(self.path / "lock", fcntl.LOCK_SH):
                    generation = self._generation()
                    group = _merge_group(self._segments(generation))
                    if not group:
                        return
                    _merge(generation, group)

    def _sweep(self) -> None:
        """Delete what killed processes left behind, when no write is under way."""
        if not self._garbage():
            return
        with _flock(self.path / "lock", fcntl.LOCK_EX | fcntl.LOCK_NB) as alone:
            if alone:
                self._delete_garbage()

    def _garbage(self) -> list[Path]:
        """Temp and deleted names, and generations other than the current one."""
        current = self._generation()
        found = [
            p
            for p in _children(self.path)
            if p != current and p.name.startswith((".", _DEFAULT_GENERATION))
        ]
        found += [p for p in _children(current) if p.name.startswith(".")]
        return found

    def _delete_garbage(self) -> None:
        """Delete every leftover; only with the exclusive lock held."""
        for path in self._garbage():
            if path.is_dir():
                _discard(path)
            else:
                path.unlink(missing_ok=True)

    def _create(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError):
            raise UserError(f"the store {self.path} is not a folder; move that file away") from None

    def _run_dir_text(self, run_dir: Path | None) -> str | None:
        return None if run_dir is None else _relative(Path(run_dir), self.path.parent)

    # -- reading -------------------------------------------------------------------------------

    def runs(
        self,
        entries: Iterable[str] | None = None,
        since: Any = None,
        until: Any = None,
    ) -> pd.DataFrame:
        """One row per run, oldest first; `since <= started_utc < until` (naive times are UTC)."""
        low, high = _utc_bound(since, "since"), _utc_bound(until, "until")
        table = self._read(lambda live: _concat_tables([s.runs for s in live], _STORED_RUNS))
        table = table.drop_columns(["_version"])
        if entries is not None:
            wanted = [entries] if isinstance(entries, str) else list(entries)
            table = table.filter(pc.is_in(table["entry"], value_set=pa.array(wanted, pa.string())))
        frame = _frame(table)
        if low is not None:
            frame = frame[frame["started_utc"] >= low]
        if high is not None:
            frame = frame[frame["started_utc"] < high]
        # Named with its type: checked as Python 3.10, pandas-stubs 3 (typing.Self) return Any.
        ordered: pd.DataFrame = frame.sort_values(["started_utc", "run_id"]).reset_index(drop=True)
        return ordered

    def functions(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Function rows of the given runs (all runs when None), each run's in summary order."""
        return _frame(self._rows("functions", run_ids))

    def lines(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """Line rows of the given runs (all runs when None), each run's in summary order."""
        return _frame(self._rows("lines", run_ids))

    def cells(self, run_ids: Iterable[str] | None = None) -> pd.DataFrame:
        """A notebook's cell rows of the given runs (all runs when None), in notebook order."""
        return _frame(self._rows("cells", run_ids))

    def _rows(self, table: str, run_ids: Iterable[str] | None) -> pa.Table:
        if isinstance(run_ids, str):
            run_ids = [run_ids]
        wanted = None if run_ids is None else pa.array(list(run_ids), pa.string())

        def read(live: list[_Live]) -> pa.Table:
            parts = []
            for segment in live:
                ids = segment.runs["run_id"]
                whole = segment.whole
                if wanted is not None:
                    chosen = ids.filter(pc.is_in(ids, value_set=wanted))
                    whole = whole and len(chosen) == len(ids)
                    ids = chosen
                path = _table_file(segment.segment.path, table)
                if len(ids) and path is not None:
                    parts.append(_read_parquet(path, None if whole else ids))
            return _concat_tables(parts, _SCHEMAS[table])

        return self._read(read, columns=["run_id", "_version"])

    def _read(self, build: Callable[[list[_Live]], _T], columns: Sequence[str] | None = None) -> _T:
        """`build` over the live runs of the current generation, again if a segment vanishes."""
        for attempt in range(READ_ATTEMPTS):
            try:
                return build(_live(self._segments(self._generation()), columns))
            except FileNotFoundError:
                time.sleep(0.002 * min(attempt + 1, 10))
        raise UserError(
            f"the store {self.path} kept changing or has lost files while being read; "
            "try again, or run `fixingahole store rebuild`"
        )

    def _generation(self) -> Path:
        """The folder of the current generation."""
        try:
            name = (self.path / "CURRENT").read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return self.path / _DEFAULT_GENERATION
        except NotADirectoryError:
            raise UserError(f"the store {self.path} is not a folder; move that file away") from None
        if not name.startswith(_DEFAULT_GENERATION) or "/" in name or "\\" in name:
            raise UserError(f"{self.path / 'CURRENT'} is damaged; run `fixingahole store rebuild`")
        return self.path / name

    def _segments(self, generation: Path) -> list[_Segment]:
        """The segments of `generation`; FileNotFoundError when it was replaced meanwhile."""
        try:
            return _list_segments(generation)
        except FileNotFoundError:
            if generation == self._generation():
                return []  # nothing written yet
            raise
        except NotADirectoryError:
            raise UserError(f"the store {self.path} is not a folder; move that file away") from None


# -- records to rows ---------------------------------------------------------------------------


def _tables_from_record(record: RunRecord, run_dir: str | None, version: int) -> _Tables:
    """The rows of one run; UserError naming the run when a value cannot be stored."""
    run_id = record.run_id
    git = record.git
    row: dict[str, Any] = {
        "run_id": run_id,
        "entry": record.entry,
        "target": record.target,
        "kind": record.kind,
        "status": record.status.value,
        "exit_code": record.exit_code,
        "wall_s": record.wall_s,
        "cpu_s": record.cpu_s,
        "elapsed_s": record.elapsed_s,
        "max_rss_mb": record.max_rss_mb,
        "peak_heap_mb": record.peak_heap_mb,
        "mode": record.mode,
        "command": record.command,
        "code_hash": record.code_hash,
        "error": record.error,
        **(record.instructions or _NOT_COUNTED).to_json(),
        "options": _json_text(dict(record.options), "options", run_id),
        "tags": _json_text(list(record.tags), "tags", run_id),
        "log_counts": _json_text(dict(record.log_counts), "log_counts", run_id),
        **record.environment.to_json(),
        "started_utc": record.started.strftime(_ISO_UTC),
        "git_commit": None if git is None else git.commit,
        "git_branch": None if git is None else git.branch,
        "git_dirty": None if git is None else git.dirty,
        "run_dir": run_dir,
        "_version": version,
    }
    functions = [{**f.to_json(), "run_id": run_id} for f in record.functions]
    lines = [{**line.to_json(), "run_id": run_id} for line in record.lines]
    cells = [{**cell.to_json(), "run_id": run_id} for cell in record.cells]
    return _Tables(
        runs=_table([row], _STORED_RUNS, run_id, "summary"),
        functions=_table(functions, FUNCTIONS, run_id, "functions"),
        lines=_table(lines, LINES, run_id, "lines"),
        cells=_table(cells, CELLS, run_id, "cells"),
    )


def _table(rows: list[dict[str, Any]], schema: pa.Schema, run_id: str, what: str) -> pa.Table:
    """Rows as a table of `schema`; a UserError says which value does not fit.

    Arrow's JSON reader builds it: unlike `pa.array`, it does not import pandas, which would
    add a large part of a second to every profile.
    """
    if not rows:
        return pa.Table.from_batches([], schema=schema)
    try:
        text = "\n".join(json.dumps(row, ensure_ascii=False, allow_nan=False) for row in rows)
        options = pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        return pj.read_json(io.BytesIO(text.encode()), _JSON_READ, options)
    except (pa.ArrowException, TypeError, ValueError) as error:
        raise UserError(
            f"run {run_id}: a value in the {what} cannot be stored ({error}); {DAMAGED}"
        ) from None


def _json_text(value: object, key: str, run_id: str) -> str:
    """A record's value kept as JSON text (`options`, `tags`, `log_counts`)."""
    try:
        return json.dumps(value, ensure_ascii=False, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise UserError(f"run {run_id}: `{key}` is not plain JSON ({error}); {DAMAGED}") from None


def _relative(folder: Path, output: Path) -> str:
    """`folder` relative to the output folder when under it, else absolute, with `/`."""
    folder = folder.resolve()
    try:
        return folder.relative_to(output.resolve()).as_posix()
    except ValueError:
        return folder.as_posix()


def _run_folders(output: Path) -> list[Path]:
    """`<output>/<entry>/<stamp>/` folders holding a summary.json, skipping hidden names."""
    found = []
    for entry in _children(output):
        if entry.name.startswith(".") or not entry.is_dir():
            continue
        found += [
            run
            for run in _children(entry)
            if not run.name.startswith(".") and (run / "summary.json").is_file()
        ]
    return sorted(found)


def _read_record(path: Path) -> RunRecord:
    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        raise UserError(f"cannot read {path.name} ({error.strerror or error})") from None
    except ValueError as error:
        raise UserError(f"{path.name} is not valid JSON ({error})") from None
    return RunRecord.from_json(document)


# -- segments ------------------------------------------------------------------------------------


def _write_segment(generation: Path, tables: _Tables) -> None:
    """Write the rows of some runs as a new segment."""
    with _new_segment(generation, tables.runs.num_rows) as folder:
        for name in _SCHEMAS:
            path = folder / f"{name}.parquet"
            pq.write_table(getattr(tables, name), path, row_group_size=ROW_GROUP_ROWS)


@contextmanager
def _new_segment(generation: Path, runs: int) -> Iterator[Path]:
    """A temp folder for a segment's files, flushed to disk and renamed into place at the end.

    The generation folder is not flushed: after a power cut a new segment is complete or missing
    (its run folder still has it for a rebuild), never half written.
    """
    token = uuid.uuid4().hex
    temp = generation / f".tmp-{token}"
    temp.mkdir()
    try:
        yield temp
        for name in _SCHEMAS:
            _fsync(temp / f"{name}.parquet")
        os.rename(temp, generation / f"{runs}-{token}")
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise


def _list_segments(generation: Path) -> list[_Segment]:
    """The complete segments in a generation folder, by name."""
    segments = []
    for name in sorted(os.listdir(generation)):
        count, dash, _ = name.partition("-")
        if dash and count.isdigit():
            segments.append(_Segment(generation / name, int(count)))
    return segments


def _merge_group(segments: list[_Segment]) -> list[_Segment]:
    """The segments of the smallest size class that holds at least `FANOUT`, or none."""
    classes: dict[int, list[_Segment]] = {}
    for segment in segments:
        size_class, runs = 0, segment.runs
        while runs >= FANOUT:
            runs //= FANOUT
            size_class += 1
        classes.setdefault(size_class, []).append(segment)
    for size_class in sorted(classes):
        if len(classes[size_class]) >= FANOUT:
            return classes[size_class]
    return []


def _merge(generation: Path, group: list[_Segment]) -> None:
    """Replace `group` by one segment holding their newest version of each run."""
    live = _live(group)
    runs = _concat_tables([s.runs for s in live], _STORED_RUNS)
    with _new_segment(generation, runs.num_rows) as folder:
        pq.write_table(runs, folder / "runs.parquet")
        for name in ("functions", "lines", "cells"):
            _copy_rows(live, name, folder / f"{name}.parquet")
    _fsync(generation)  # the merged segment's name is on disk before its inputs go
    for segment in group:
        _discard(segment.path)


def _copy_rows(live: list[_Live], table: str, target: Path) -> None:
    """Stream the live runs' rows of `table` into one file, a row group at a time.

    Strings stay dictionary-encoded and about one row group is held in memory, so a merge of
    any size needs little memory. Each run's rows stay together and in order.
    """
    strings = [f.name for f in _SCHEMAS[table] if f.type == pa.string()]
    schema = pa.schema(
        [pa.field(f.name, _DICTIONARY) if f.name in strings else f for f in _SCHEMAS[table]]
    )
    pending: list[pa.Table] = []
    with pq.ParquetWriter(target, schema) as writer:
        for segment in live:
            keep = None if segment.whole else segment.runs["run_id"].combine_chunks()
            path = _table_file(segment.segment.path, table)
            if path is None:
                continue
            file = _open_parquet(path, strings)
            for index in range(file.num_row_groups):
                rows = file.read_row_group(index)
                if keep is not None:
                    rows = rows.filter(pc.is_in(rows["run_id"], value_set=keep))
                pending.append(rows.cast(schema))
                if sum(t.num_rows for t in pending) >= ROW_GROUP_ROWS:
                    writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)
                    pending = []
        if pending:
            writer.write_table(pa.concat_tables(pending), row_group_size=ROW_GROUP_ROWS)


def _live(segments: list[_Segment], columns: Sequence[str] | None = None) -> list[_Live]:
    """Each segment's runs (these columns) minus those a newer version in another supersedes."""
    tables = [_read_parquet(s.path / "runs.parquet", columns=columns) for s in segments]
    ids = pa.chunked_array([c for t in tables for c in t["run_id"].chunks], pa.string())
    if pc.count_distinct(ids).as_py() == len(ids):
        return [_Live(s, t, True) for s, t in zip(segments, tables, strict=True)]
    # Never null: `_tables_from_record` gives every row its run id and version.
    run_ids = [cast("list[str]", t["run_id"].to_pylist()) for t in tables]
    newest: dict[str, tuple[int, int, int]] = {}  # run id -> (version, segment size, index)
    for index, (segment, table) in enumerate(zip(segments, tables, strict=True)):
        versions = cast("list[int]", table["_version"].to_pylist())
        for run_id, version in zip(run_ids[index], versions, strict=True):
            key = (version, segment.runs, index)
            if run_id not in newest or key > newest[run_id]:
                newest[run_id] = key
    live = []
    for index, (segment, table) in enumerate(zip(segments, tables, strict=True)):
        keep = [newest[run_id][2] == index for run_id in run_ids[index]]
        kept = table.filter(_mask(keep))
        live.append(_Live(segment, kept, kept.num_rows == table.num_rows))
    return live


def _read_parquet(
    path: Path,
    run_ids: pa.Array[pa.StringScalar] | pa.ChunkedArray[pa.StringScalar] | None = None,
    columns: Sequence[str] | None = None,
) -> pa.Table:
    """A segment file, or only the rows of `run_ids`; FileNotFoundError passes through.

    Strings are read dictionary-encoded and decoded after filtering, which is several times
    faster than decoding every string of a large segment; row groups whose run id range holds
    none of `run_ids` are not read at all.
    """
    schema = _SCHEMAS[path.stem]
    if columns is not None:
        schema = pa.schema([schema.field(name) for name in columns])
    file = _open_parquet(path, [f.name for f in schema if f.type == pa.string()])
    groups = list(range(file.num_row_groups))
    if run_ids is not None:
        run_ids = run_ids.combine_chunks() if isinstance(run_ids, pa.ChunkedArray) else run_ids
        wanted = sorted(cast("list[str]", run_ids.to_pylist()))  # ids of stored rows: never null
        groups = [g for g in groups if _may_hold(file.metadata.row_group(g), wanted)]
    if not groups:
        return pa.Table.from_batches([], schema=schema)
    present = set(file.schema_arrow.names)
    try:
        table = file.read_row_groups(groups, columns=[f.name for f in schema if f.name in present])
    except (pa.ArrowException, OSError) as error:
        raise _damaged(path, error) from None
    if run_ids is not None:
        table = table.filter(pc.is_in(table["run_id"], value_set=run_ids))
    return _with_columns(table, schema).cast(schema)


def _with_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """The table in the schema's column order, columns added since it was written all null."""
    columns = [
        table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(columns, names=schema.names)


def _table_file(segment: Path, table: str) -> Path | None:
    """A segment's file of `table`; None for a table added after an older version wrote it.

    FileNotFoundError when the segment itself is gone (merged meanwhile).
    """
    path = segment / f"{table}.parquet"
    if table in _ADDED_LATER and not path.exists():
        if not (segment / "runs.parquet").exists():
            raise FileNotFoundError(path)
        return None
    return path


def _open_parquet(path: Path, strings: list[str]) -> pq.ParquetFile:
    """A segment file that reads these string columns dictionary-encoded."""
    try:
        return pq.ParquetFile(path, read_dictionary=strings)
    except KeyError:  # a column added since the file was written: read the others
        present = set(pq.read_schema(path).names)
        return _open_parquet(path, [name for name in strings if name in present])
    except FileNotFoundError:
        raise
    except (pa.ArrowException, OSError) as error:
        raise _damaged(path, error) from None


def _damaged(path: Path, error: Exception) -> UserError:
    return UserError(
        f"the store file {path} cannot be read ({error}); run `fixingahole store rebuild`"
    )


def _may_hold(row_group: pq.RowGroupMetaData, wanted: list[str]) -> bool:
    """Whether the row group's run id range (column 0) holds any of the sorted `wanted` ids."""
    statistics = row_group.column(0).statistics
    if statistics is None or not statistics.has_min_max:
        return True
    low, high = statistics.min, statistics.max
    if low is None or high is None:  # has_min_max promises both; this tells mypy
        return True
    index = bisect.bisect_left(wanted, low)
    return index < len(wanted) and wanted[index] <= high


def _concat_tables(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else pa.Table.from_batches([], schema=schema)


def _mask(flags: list[bool]) -> pa.BooleanArray:
    """A boolean array built without `pa.array`, which imports pandas."""
    bits = np.packbits(np.asarray(flags, dtype=bool), bitorder="little")
    # The stubs type `from_buffers` as a plain Array; for a bool type pyarrow makes a BooleanArray.
    return pa.Array.from_buffers(  # type: ignore[return-value]
        pa.bool_(), len(flags), [None, pa.py_buffer(bits.tobytes())]
    )


def _concat(chunk: list[_Tables]) -> _Tables:
    return _Tables(
        **{name: pa.concat_tables([getattr(t, name) for t in chunk]) for name in _SCHEMAS}
    )


def _chunks(items: Iterable[_T], size: int) -> Iterator[list[_T]]:
    chunk: list[_T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _discard(folder: Path) -> None:
    """Take a folder out of sight with one rename, then delete it."""
    trash = folder.with_name(f".del-{uuid.uuid4().hex}")
    try:
        os.rename(folder, trash)
    except FileNotFoundError:
        return
    shutil.rmtree(trash, ignore_errors=True)


def _children(folder: Path) -> list[Path]:
    try:
        return [folder / name for name in os.listdir(folder)]
    except (FileNotFoundError, NotADirectoryError):
        return []


def _fsync(path: Path) -> None:
    """Flush a file or folder to disk; some file systems refuse it for folders, which is fine."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError:
        if not path.is_dir():
            raise
    finally:
        os.close(fd)


@contextmanager
def _flock(path: Path, mode: int) -> Iterator[bool]:
    """Hold `flock(mode)` on `path` (created if needed); yields False when LOCK_NB and taken."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, mode)
        held = True
    except BlockingIOError:
        held = False
    try:
        yield held
    finally:
        os.close(fd)  # closing releases the lock


# -- frames --------------------------------------------------------------------------------------


def _frame(table: pa.Table) -> pd.DataFrame:
    """A DataFrame with nullable integer and boolean columns, whatever the rows hold."""
    import pandas as pd

    nullable = {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}
    return table.to_pandas(types_mapper=nullable.get)


def _utc_bound(value: Any, name: str) -> pd.Timestamp | None:
    import pandas as pd

    if value is None:
        return None
    try:
        moment = pd.Timestamp(value)
    except (TypeError, ValueError):
        raise UserError(
            f"{name}={value!r} is not a date or time; use e.g. 2025-01-31 or 2025-01-31T14:30Z"
        ) from None
    if moment is pd.NaT:
        raise UserError(f"{name} is empty; give a date or time such as 2025-01-31")
    # Named with its type: checked as Python 3.10, pandas-stubs 3 (typing.Self) return Any.
    utc: pd.Timestamp = (
        moment.tz_localize("UTC") if moment.tzinfo is None else moment.tz_convert("UTC")
    )
    return utc
