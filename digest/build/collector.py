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
from collections.abc import Iterator

YOUNG = 10_000  # objects made before the youngest generation is collected (Python's default: 700)


@contextlib.contextmanager
def relaxed() -> Iterator[None]:
    """For the length of a build; everything as it was afterwards."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(max(YOUNG, threshold[0]), *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


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
