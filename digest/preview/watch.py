"""Watching a newsletter's sources for `digest serve`.

Rules:
- config.yaml is watched through the newsletter folder, never as a file of its own: most
  editors (and `sed -i`, and git) save by writing a new file and renaming it over the old
  one, and a watch on the file stays with the old one, so every save after the first
  would go unseen.  The folder is watched without its subfolders (site/, .site.digest-new/
  and .git/ are none of the preview's business, and can hold thousands of folders).
- issues/, templates/ and images/ are watched with everything in them, and watched again whenever
  one of them appears, disappears or is replaced, so a templates/ folder made while
  serving counts from its first file.
- A folder that appears (or is replaced) is listed once its new watch is in place, so a
  file saved into it in the moment between is handed over too.
- Changes are handed over one batch at a time, never from two threads at once.
- A save is taken in once no further change has come for 10 ms (an editor's write and
  rename arrive together), so the wait adds little to an edit's way to the reader.
- If the native watcher fails (the inotify limit, say) it polls instead of going deaf:
  a preview that silently stops updating is worse than a slower one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from digest.core.config import CONFIG_FILE
from digest.core.images import IMAGES_DIR
from digest.core.issuefiles import ISSUES_DIR

TEMPLATES_DIR = "templates"
FOLDERS = (ISSUES_DIR, TEMPLATES_DIR, IMAGES_DIR)  # watched with everything in them
SOURCES = (CONFIG_FILE, *FOLDERS)  # the names in the newsletter folder a preview reads


class _Either:
    """Set when either event is: how the folders' watch is stopped for good or to start again."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def _changes(
    paths: list[Path], stop: Any, ready: Callable[[], None] | None = None, **options: Any
) -> Iterator[set[Path]]:
    """Batches of changed paths.  ``ready`` is called once the native watch is in place
    (its first wake-up, changes or not): what was saved before that is the caller's to find."""
    from watchfiles import watch as watch_changes

    try:
        extra: dict[str, Any] = {"yield_on_timeout": True, "rust_timeout": 100} if ready else {}
        for changes in watch_changes(*paths, stop_event=stop, debounce=200, step=10, **options, **extra):
            if ready is not None:
                ready()
                ready = None
            if changes:
                yield {Path(p) for _, p in changes}
    except Exception:  # noqa: BLE001 - any failure of the native watcher (e.g. the inotify limit)
        for changes in watch_changes(
            *paths, stop_event=stop, debounce=200, force_polling=True, poll_delay_ms=300, **options
        ):
            yield {Path(p) for _, p in changes}


def watch(root: Path, rebuild: Callable[[set[Path]], None], stop: threading.Event) -> None:
    """Call ``rebuild(changed paths)`` whenever config.yaml or a watched folder changes, until ``stop`` is set."""
    one_at_a_time = threading.Lock()

    def hand_over(paths: set[Path]) -> None:
        with one_at_a_time:
            if not stop.is_set():
                rebuild(paths)

    def watch_folders(again: threading.Event, fresh: set[Path]) -> None:
        folders = [root / name for name in FOLDERS if (root / name).is_dir()]

        def ready() -> None:
            # A file saved into a folder that just appeared, before its watch was in place,
            # is handed over from a listing of the folder: no save is missed in that gap.
            found = {p for folder in folders if folder in fresh for p in folder.rglob("*") if p.is_file()}
            if found:
                hand_over(found)

        if folders:
            for paths in _changes(folders, _Either(stop, again), ready if fresh else None):
                hand_over(paths)

    def start_folders(fresh: set[Path] | None = None) -> tuple[threading.Thread, threading.Event]:
        again = threading.Event()
        thread = threading.Thread(target=watch_folders, args=(again, fresh or set()), daemon=True)
        thread.start()
        return thread, again

    folders, again = start_folders()
    try:
        # Only the folder's own entries are reported (recursive=False), so a name is enough.
        for paths in _changes(
            [root], stop, recursive=False, watch_filter=lambda _change, path: Path(path).name in SOURCES
        ):
            if any(p.name != CONFIG_FILE for p in paths):  # a watched folder came, went or was replaced
                again.set()
                folders.join()
                folders, again = start_folders({p for p in paths if p.name != CONFIG_FILE})
            hand_over(paths)
    finally:
        again.set()
