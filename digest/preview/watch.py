"""Watching a newsletter's sources for `digest serve`.

Rules:
- config.yaml is watched through the newsletter folder, never as a file of its own: most
  editors (and `sed -i`, and git) save by writing a new file and renaming it over the old
  one, and a watch on the file stays with the old one, so every save after the first
  would go unseen.  The folder is watched without its subfolders (site/, .digest-cache/
  and .git/ are none of the preview's business, and can hold thousands of folders).
- issues/ and templates/ are watched with everything in them, and watched again whenever
  one of them appears, disappears or is replaced, so a templates/ folder made while
  serving counts from its first file.
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
from digest.core.issues import ISSUES_DIR

TEMPLATES_DIR = "templates"
SOURCES = (CONFIG_FILE, ISSUES_DIR, TEMPLATES_DIR)  # the names in the newsletter folder a preview reads


class _Either:
    """Set when either event is: how the folders' watch is stopped for good or to start again."""

    def __init__(self, *events: threading.Event) -> None:
        self.events = events

    def is_set(self) -> bool:
        return any(e.is_set() for e in self.events)


def _changes(paths: list[Path], stop: Any, **options: Any) -> Iterator[set[Path]]:
    from watchfiles import watch as watch_changes

    try:
        for changes in watch_changes(*paths, stop_event=stop, debounce=200, step=10, **options):
            yield {Path(p) for _, p in changes}
    except Exception:  # noqa: BLE001 - any failure of the native watcher (e.g. the inotify limit)
        for changes in watch_changes(*paths, stop_event=stop, debounce=200, force_polling=True, poll_delay_ms=300, **options):
            yield {Path(p) for _, p in changes}


def watch(root: Path, rebuild: Callable[[set[Path]], None], stop: threading.Event) -> None:
    """Call ``rebuild(changed paths)`` whenever config.yaml, issues/ or templates/ change, until ``stop`` is set."""
    one_at_a_time = threading.Lock()

    def hand_over(paths: set[Path]) -> None:
        with one_at_a_time:
            if not stop.is_set():
                rebuild(paths)

    def watch_folders(again: threading.Event) -> None:
        folders = [root / name for name in (ISSUES_DIR, TEMPLATES_DIR) if (root / name).is_dir()]
        if folders:
            for paths in _changes(folders, _Either(stop, again)):
                hand_over(paths)

    def start_folders() -> tuple[threading.Thread, threading.Event]:
        again = threading.Event()
        thread = threading.Thread(target=watch_folders, args=(again,), daemon=True)
        thread.start()
        return thread, again

    folders, again = start_folders()
    try:
        # Only the folder's own entries are reported (recursive=False), so a name is enough.
        for paths in _changes([root], stop, recursive=False, watch_filter=lambda _change, path: Path(path).name in SOURCES):
            if any(p.name != CONFIG_FILE for p in paths):  # issues/ or templates/ came, went or was replaced
                again.set()
                folders.join()
                folders, again = start_folders()
            hand_over(paths)
    finally:
        again.set()
