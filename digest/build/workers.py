"""The executor the per-issue stages run on: a process pool, one worker per core.

Rules:
- The pool starts only when there is enough work to repay starting it; a few issues
  are rendered in this process.
- Rendering's heavy libraries are imported before the workers fork, and the first task
  runs in this process before they do: the workers start with the templates compiled
  and the stylesheet parsed, so none of them pays for that again.
- Output is byte-identical to a one-process build: rendering is deterministic and the
  results come back in order.
- A worker never outlives a build that was killed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TypeVar

from digest.build.stages import preload

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

T = TypeVar("T")
R = TypeVar("R")
POOL_THRESHOLD = 8  # fewer tasks than this run faster here than a pool starts


class Workers:
    def __init__(self, jobs: int | None) -> None:
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, func: Callable[[T], R], items: list[T]) -> Iterator[R]:
        """``func`` over ``items`` in order: submitted at once to the pool, or run lazily here."""
        if self.jobs <= 1 or len(items) < POOL_THRESHOLD:
            return map(func, items)
        return self._warm_map(func, items)

    def _warm_map(self, func: Callable[[T], R], items: list[T]) -> Iterator[R]:
        first = func(items[0])  # here, before the fork: what it warms, every worker inherits
        chunk = max(1, min(16, len(items) // (self.jobs * 4)))
        rest = self._start().map(func, items[1:], chunksize=chunk)
        yield first
        yield from rest

    def _start(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            preload()
            # fork: the workers inherit the imported libraries (and start in milliseconds).
            context = multiprocessing.get_context("fork") if "fork" in multiprocessing.get_all_start_methods() else None
            self._pool = ProcessPoolExecutor(self.jobs, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),))
        return self._pool

    def __enter__(self) -> Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a build that was killed (it would hold the terminal's pipes)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG, Linux only
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
