"""`digest serve`: the preview site, its server and the watcher, run together until Ctrl-C.

Rules:
- The address is taken before anything is loaded: a busy port or an unknown host is the
  user's to fix (exit 1), and is better told before a long load than after.
- The watcher survives anything: after an error the server keeps showing the last good version.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import threading
import time
from pathlib import Path

import click

from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import ISSUES_DIR
from digest.preview.editing import Editor
from digest.preview.family import family_sites
from digest.preview.guard import is_loopback
from digest.preview.server import Reloader, make_preview_server
from digest.preview.site import PreviewSite
from digest.preview.watch import watch as watch_sources


def serve(root: Path, host: str, port: int, watch: bool, read_only: bool = False) -> None:
    site = PreviewSite(root)
    reloader = Reloader()
    # The editor writes files: only for this machine's browser (see digest.preview.guard).
    editing = not read_only and is_loopback(host)
    editor = Editor(site, lambda: update({root / ISSUES_DIR / ".editor"})) if editing else None
    try:
        server = make_preview_server(site, reloader, host, port, editor=editor)
    except OSError as e:
        hint = "; --port 0 picks a free port" if e.errno == errno.EADDRINUSE else ""
        raise DigestError([Problem(f"{host}:{port}", None, f"cannot listen there: {e.strerror or e}{hint}")]) from e
    try:
        site.reload()
        if site.config is None:  # nothing can be shown without a valid config.yaml
            raise DigestError(site.general)
        family = family_sites(site)  # the source edition of a family: its local editions are served too
        if family is not None:
            for other in family.sites.values():
                if other is not site:
                    other.reload()
            server.family = family
    except BaseException:
        server.server_close()
        raise
    settle()
    for line in site.errors():
        click.echo(line, err=True)
    reloader.built(site.errors(), changed=True)
    count = len(site.issues)
    click.echo(
        f"serving {root} at http://{host}:{server.server_address[1]}/ ({count:,} issue{'s' if count != 1 else ''};"
        " Ctrl-C to stop)"
    )
    if not editing and not read_only:
        click.echo(f"the editor is off: it is served only on a loopback address, not {host}", err=True)
    stop = threading.Event()

    def update(paths: set[Path]) -> None:
        started, ctx = time.perf_counter(), site.ctx
        try:
            changed = site.update(paths)
        except Exception as e:  # noqa: BLE001 - a bug in digest must not stop the preview
            message = f"internal error: {type(e).__name__}: {e}; still serving the last good version"
            click.echo(message, err=True)
            reloader.built([message, *site.errors()], changed=False)
            return
        if site.ctx is not ctx:  # config.yaml or a template changed: everything was read again
            settle()
        errors = site.errors()
        if changed:
            click.echo(f"{_changes(changed, set(site.issues))} in {time.perf_counter() - started:.2f} s")
        for line in errors:
            click.echo(line, err=True)
        if errors:
            click.echo("still serving the last good version of what has errors", err=True)
        reloader.built(errors, changed=bool(changed))

    def watcher() -> None:
        try:
            watch_sources(root, update, stop)
        except Exception as e:  # noqa: BLE001 - say so rather than silently stop updating
            click.echo(
                f"cannot watch for changes ({type(e).__name__}: {e}); still serving, restart to see edits", err=True
            )

    if watch:
        threading.Thread(target=watcher, daemon=True).start()
        for other in family.sites.values() if family is not None else ():
            if other is not site:
                threading.Thread(target=_watch_edition, args=(other, reloader, stop), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")  # Ctrl-C is how a preview ends, not an error
    finally:
        stop.set()
        reloader.close()  # pages waiting for an update get their answer now
        server.server_close()


def settle() -> None:
    """Keep what the preview has loaded (every issue's model, parsed text and files) out of the cycle collector's
    full passes, which otherwise walk all of it every few edits: at 1,000 issues such a pass stalled the page after
    an edit by about 100 ms.  What an earlier call froze is thawed and collected first, so what a reload replaced
    is not kept for ever.  Only the long-running preview does this; a build leaves the collector as it is."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def _watch_edition(site: PreviewSite, reloader: Reloader, stop: threading.Event) -> None:
    """Keep a family member's preview up to date; its problems show on its own pages (and every page reloads)."""

    def update(paths: set[Path]) -> None:
        ctx = site.ctx
        try:
            changed = site.update(paths)
        except Exception as e:  # noqa: BLE001 - a bug in digest must not stop the preview
            click.echo(f"internal error: {type(e).__name__}: {e}; still serving the last good version", err=True)
            return
        if site.ctx is not ctx:  # read again whole: see settle
            settle()
        if changed:
            click.echo(f"{site.root}: {_changes(changed, set(site.issues))}")
            reloader.built(reloader.errors, changed=True)

    with contextlib.suppress(Exception):
        watch_sources(site.root, update, stop)


def _changes(changed: set[int], present: set[int]) -> str:
    """ "updated issues 2, 3; removed issue 4": what the log says after an edit."""
    parts = []
    for verb, numbers in (("updated", sorted(changed & present)), ("removed", sorted(changed - present))):
        if numbers:
            parts.append(f"{verb} issue{'s' if len(numbers) != 1 else ''} {', '.join(map(str, numbers))}")
    return "; ".join(parts)
