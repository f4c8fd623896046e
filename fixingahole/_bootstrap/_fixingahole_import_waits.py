"""A re-entrant `importlib._bootstrap._blocking_on` for CPython below 3.12 (used by sitecustomize).

`_blocking_on` maps a thread id to the module lock that thread waits for; `_ModuleLock.acquire`
sets the thread's entry, and deletes it in a `finally`. On 3.10 and 3.11 there is one entry per
thread, so an import nested inside `acquire` (a signal handler such as Scalene's, a `gc.callbacks`
entry or a finalizer, running between those two steps) sets and deletes the same entry, and the
outer delete raises `KeyError: <thread id>` out of an innocent `import`. CPython 3.12 keeps a list
of locks per thread instead; `ImportWaits` does the same for the older versions.
"""

from __future__ import annotations

import sys

PRUNE_AT = 64  # threads with a list before the lists of ended threads are dropped


class ImportWaits:
    """Thread id -> the innermost module lock it waits for, as a stack per thread.

    Setting pushes, deleting pops (nothing to pop is not an error), `get` answers the top. Each
    method takes one or two steps on the calling thread's own list, and a nested call (pushing
    and popping) leaves that list as it found it, so an interruption between two steps is
    harmless. Only the owning thread changes its list; other threads only read it.
    """

    def __init__(self) -> None:
        self._stacks: dict[int, list[object]] = {}

    def __setitem__(self, tid: int, lock: object) -> None:
        stack = self._stacks.get(tid)
        if stack is None:
            if len(self._stacks) >= PRUNE_AT:
                self._prune()
            stack = self._stacks.setdefault(tid, [])
        stack.append(lock)

    def __delitem__(self, tid: int) -> None:
        stack = self._stacks.get(tid)
        if stack:
            stack.pop()

    def get(self, tid: int, default: object = None) -> object:
        try:
            return self._stacks[tid][-1]
        except (KeyError, IndexError):
            return default

    def _prune(self) -> None:
        """Drop the empty lists of threads that no longer run (a running one may be mid-push)."""
        running = sys._current_frames()
        for tid, stack in list(self._stacks.items()):
            if not stack and tid not in running:
                self._stacks.pop(tid, None)


def install() -> bool:
    """Put an `ImportWaits` in importlib's place on CPython < 3.12; whether it was put there.

    Called at start-up, when no thread waits for a module lock (the table is empty).
    """
    if sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    bootstrap = sys.modules.get("_frozen_importlib")
    table = getattr(bootstrap, "_blocking_on", None)
    if bootstrap is None or type(table) is not dict or table:
        return False
    # importlib's private table, which typeshed does not declare
    bootstrap._blocking_on = ImportWaits()  # type: ignore[attr-defined]
    return True
