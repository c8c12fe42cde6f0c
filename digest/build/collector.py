"""Python's cycle collector during a build.

A build makes many long-lived objects and little cyclic garbage: the imported libraries,
the compiled templates, every cached issue, the site record.  The collector scans every
object of a generation each time it runs, so by default it spends a tenth of an edit
build scanning objects that live until the end.  During a build, what exists when it
starts is frozen out of the scans (gc.freeze, which also spares the forked workers'
copy-on-write pages), and the youngest generation is collected a tenth as often.
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator

YOUNG = 10_000  # objects made before the youngest generation is collected (Python's default: 700)


class _Relaxed:
    """The collector's settings are the process's: builds that overlap (threads of one
    process) share one relaxed period, and the last to end puts the settings back."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.depth = 0
        self.threshold = gc.get_threshold()
        self.froze = False

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        with self.lock:
            if self.depth == 0:
                self.threshold = gc.get_threshold()
                self.froze = gc.get_freeze_count() == 0  # never undo a freeze the process made itself
                if self.froze:
                    gc.freeze()
                gc.set_threshold(max(YOUNG, self.threshold[0]), *self.threshold[1:])
            self.depth += 1
        try:
            yield
        finally:
            with self.lock:
                self.depth -= 1
                if self.depth == 0:
                    gc.set_threshold(*self.threshold)
                    if self.froze:
                        gc.unfreeze()


relaxed = _Relaxed()  # for the length of a build; everything as it was afterwards


@contextlib.contextmanager
def paused() -> Iterator[None]:
    """While a hundred thousand containers are made at once and none is garbage (the
    build cache's index and the site record, read from JSON)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
