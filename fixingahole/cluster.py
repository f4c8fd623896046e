"""Run a batch's runs on the workers of a Dask cluster, in plan order, one at a time per host.

The client gives each host a lane of runs in plan order (so repeats stay interleaved), asking Dask
to place them on that host; on the worker side (`remote.py`) each run waits for the one before it
and takes the host's lock, so two runs, two batches or a rescheduled run never overlap on one
machine. Each finished run folder comes back as bytes and is unpacked into the client's output
folder and indexed in its store, as a local run would be; `summary.json` says on which host it
ran.

Faults: a run whose worker dies is rescheduled by Dask and counted by the worker side, which
reports it `lost` after its second attempt; Ctrl-C stops the batch's running runs (they come back
`interrupted`), cancels the rest, and keeps every finished one.
"""

from __future__ import annotations

import asyncio
import io
import json
import socket
import sys
import tarfile
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fixingahole.batch import BatchResult, Job, Progress
from fixingahole.errors import UserError
from fixingahole.profile_run import RUN_STAMP, RunOutcome, _add_to_store, new_run_dir
from fixingahole.record import RunRecord, RunStatus
from fixingahole.remote import CodeCheck, RemoteBatch, RemoteRun, profile_on_worker
from fixingahole.settings import Settings

if TYPE_CHECKING:
    from distributed import Client, Future

CONNECT_TIMEOUT_S = 3.0  # reaching the scheduler
WORKERS_TIMEOUT_S = 10.0  # for the first worker to be there
POLL_S = 1.0  # how often the client looks for new workers while runs are in flight
LANE = 2  # runs in flight per host: one profiling, the next waiting for the host's lock
STOP_WAIT_S = 15.0  # how long stopped runs get to come back (Scalene writes a partial profile)
EXTRA = "fixingahole[dask]"
SOCKET_SCHEMES = ("tcp", "tls", "ws", "wss")  # addresses a plain TCP connect can probe


def run_on_cluster(
    address: str,
    jobs: Sequence[Job],
    settings: Settings,
    run_one: Callable[..., RunOutcome],
    progress: Progress,
    *,
    fail_fast: bool = False,
) -> BatchResult:
    """Run every job on the cluster at `address`; return what each ended as."""
    client = connect(address)
    try:
        with client.as_current():  # what distributed.wait and the batch's objects talk to
            return _Dispatch(client, jobs, settings, run_one, progress, fail_fast).run()
    finally:
        client.close(timeout=5)


def connect(address: str) -> Client:
    """A `distributed.Client` of the scheduler at `address` with at least one worker."""
    try:
        from distributed import Client
    except ImportError:
        raise UserError(
            f"--scheduler needs Dask's distributed scheduler: pip install '{EXTRA}'"
        ) from None
    _check_address(address)
    try:
        client = Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except Exception as exc:  # something else listens there, or it hung up
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise UserError(
            f"cannot talk to a Dask scheduler at {address} ({reason}); start one with "
            "`dask scheduler`, or check the address"
        ) from None
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except (TimeoutError, asyncio.TimeoutError):
        client.close()
        raise UserError(
            f"no Dask worker is connected to {address} after {WORKERS_TIMEOUT_S:g} s; "
            f"start one on each machine with `dask worker {address}`"
        ) from None
    return client


def _check_address(address: str) -> None:
    """Refuse an address Dask cannot parse or nothing listens at, before a client is made."""
    from distributed.comm.addressing import parse_address, parse_host_port
    from distributed.comm.registry import get_backend

    try:
        scheme, location = parse_address(address)
        get_backend(scheme)
        host, port = parse_host_port(location) if scheme in SOCKET_SCHEMES else (None, None)
    except (ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())
        raise UserError(f"--scheduler {address!r}: {reason}; give tcp://HOST:PORT") from None
    if host is None or port is None:
        return
    try:  # a refused or unroutable address fails here at once, not after Dask's retries
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise UserError(
            f"cannot reach the Dask scheduler at {address} ({exc.strerror or exc}); start it "
            "with `dask scheduler`, or check the address"
        ) from None


class _Dispatch:
    """One batch on one client: what is pending, what each host runs, and what came back.

    Each host has a lane of at most `LANE` runs in flight, in plan order: the first profiles,
    the next waits for the host's lock, so a host never idles while a result travels back.
    """

    def __init__(
        self,
        client: Client,
        jobs: Sequence[Job],
        settings: Settings,
        run_one: Callable[..., RunOutcome],
        progress: Progress,
        fail_fast: bool,
    ) -> None:
        self.client = client
        self.settings = settings
        self.run_one = run_one
        self.progress = progress
        self.fail_fast = fail_fast
        self.batch = RemoteBatch(uuid.uuid4().hex[:12], settings, Path.cwd())
        self.pending = deque(enumerate(jobs))
        self.busy: dict[Any, tuple[int, Job, str]] = {}  # future -> (index, job, host)
        # host -> its futures in flight, in plan order
        self.lanes: dict[str, deque[Future[RemoteRun]]] = {}
        self.host_names: dict[str, str] = {}  # a worker's address -> its machine's name
        self.announced: set[Any] = set()
        self.checks = {job.entry.name: code_check(job.entry.path) for job in jobs}
        self.result = BatchResult(remote=True)
        self.submitted: list[int] = []

    def run(self) -> BatchResult:
        try:
            while self.pending or self.busy:
                self._dispatch()
                for future in self._finished(POLL_S):
                    self._collect(future)
        except KeyboardInterrupt:
            self._stop()
        finally:
            self._forget()
        return self.result

    def _dispatch(self) -> None:
        """Fill each host's lane with the next pending jobs."""
        if self.result.interrupted or (self.fail_fast and _any_failed(self.result)):
            self.pending.clear()
            return
        for host in sorted(self._hosts()):
            lane = self.lanes.setdefault(host, deque())
            while self.pending and len(lane) < LANE:
                index, job = self.pending.popleft()
                after = self.busy[lane[-1]][0] if lane else None
                future = self._submit(index, job, host, after)
                self.busy[future] = (index, job, host)
                lane.append(future)
            self._announce(lane)

    def _announce(self, lane: deque[Future[RemoteRun]]) -> None:
        """Print the progress line of the run now profiling at the head of a lane."""
        if lane and lane[0] not in self.announced:
            self.announced.add(lane[0])
            index, job, host = self.busy[lane[0]]
            self.progress.starting(index, job, host=self.host_names.get(host, host))

    def _hosts(self) -> set[str]:
        """The addresses of the machines with workers now (learning the name of new ones)."""
        workers = self.client.scheduler_info(n_workers=-1).get("workers", {})
        new = {info["host"]: worker for worker, info in workers.items()}
        new = {host: worker for host, worker in new.items() if host not in self.host_names}
        if new:
            with suppress(Exception):  # a worker gone meanwhile: shown by address
                names = self.client.run(socket.gethostname, workers=list(new.values()))
                self.host_names.update({host: names[worker] for host, worker in new.items()})
        return {info["host"] for info in workers.values()}

    def _submit(self, index: int, job: Job, host: str, after: int | None) -> Future[RemoteRun]:
        from distributed import Variable

        Variable(self.batch.attempts(index), client=self.client).set(0)
        self.submitted.append(index)
        return self.client.submit(
            profile_on_worker,
            self.run_one,
            job,
            self.checks[job.entry.name],
            self.batch,
            index,
            after,
            key=f"fixingahole-{self.batch.token}-{index}",
            workers=[host],
            allow_other_workers=True,  # its host gone: any other worker
            pure=False,
        )

    def _finished(self, timeout: float) -> list[Future[RemoteRun]]:
        """The futures that are done, waiting up to `timeout` for the first (or a new worker)."""
        from distributed import wait

        if not self.busy:
            time.sleep(timeout)  # no worker yet: look again
            return []
        try:
            done, _ = wait(list(self.busy), timeout=timeout, return_when="FIRST_COMPLETED")
        except (TimeoutError, asyncio.TimeoutError):
            return []
        return list(done)

    def _collect(self, future: Future[RemoteRun]) -> None:
        index, job, host = self.busy.pop(future)
        lane = self.lanes[host]
        lane.remove(future)
        try:
            remote = future.result()
        except UserError:
            raise
        except Exception as exc:  # KilledWorker, a cancelled or erred task
            remote = RemoteRun(host, RunStatus.LOST, f"lost on {host}: {type(exc).__name__}: {exc}")
        if remote.cancelled:  # stopped while it waited: it never ran
            self._announce(lane)
            return
        if future not in self.announced:  # it overtook the head (a run Dask redid): say so now
            self.progress.starting(index, job, host=remote.host)
        self._announce(lane)
        outcome = land(remote, self.settings)
        self.progress.finished(job, outcome)
        self.result.outcomes.append((job, outcome))
        if outcome.status is RunStatus.INTERRUPTED:
            self.result.interrupted = True

    def _stop(self) -> None:
        """Ctrl-C: stop the running runs, keep what they saved, cancel the rest."""
        from distributed import Event, wait

        self.result.interrupted = True
        self.pending.clear()
        if not self.busy:
            return
        print("fixingahole: stopping the runs in progress...", file=sys.stderr, flush=True)
        Event(self.batch.stop, client=self.client).set()
        with suppress(TimeoutError, asyncio.TimeoutError, KeyboardInterrupt):
            wait(list(self.busy), timeout=STOP_WAIT_S)
        for future in list(self.busy):
            if future.done():
                self._collect(future)
            else:
                future.cancel()
                self.busy.pop(future)

    def _forget(self) -> None:
        """Drop the batch's objects from the scheduler, and stop anything still running."""
        from distributed import Event, Variable

        try:
            if self.busy:
                Event(self.batch.stop, client=self.client).set()
                self.client.cancel(list(self.busy))
            for index in self.submitted:
                Variable(self.batch.attempts(index), client=self.client).delete()
        except Exception:  # the scheduler gone: nothing left to tidy there
            pass


def _any_failed(result: BatchResult) -> bool:
    return any(o.status is not RunStatus.OK for _, o in result.outcomes)


def code_check(path: Path) -> CodeCheck:
    """What a worker must find at `path`: the same bytes at the same commit."""
    from fixingahole.provenance import content_hash, git_info

    git = git_info(path)
    return CodeCheck(path, content_hash(path), git.commit if git else None)


def land(remote: RemoteRun, settings: Settings) -> RunOutcome:
    """Unpack a worker's run folder into the output folder and index it; a run id already taken
    here gets the next free suffix."""
    if not remote.archive or remote.record is None:
        return RunOutcome(remote.status, error=remote.error, host=remote.host)
    record = RunRecord.from_json(remote.record)
    entry, stamp = record.run_id.split("/")
    run_dir = new_run_dir(settings.output, entry, datetime.strptime(stamp[:15], RUN_STAMP))
    with tarfile.open(fileobj=io.BytesIO(remote.archive), mode="r:gz") as tar:
        tar.extractall(run_dir, filter="data")
    run_id = f"{entry}/{run_dir.name}"
    if run_id != record.run_id:
        record = record.with_run_id(run_id)
        summary = json.dumps(record.to_json(), indent=2)
        (run_dir / "summary.json").write_text(summary, encoding="utf-8")
    _add_to_store(settings, record, run_dir)
    return RunOutcome.of(record, run_dir)
