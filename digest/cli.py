"""The command line: a thin click layer over the library API in :mod:`digest.build`."""

from __future__ import annotations

import errno
import functools
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from digest import __version__
from digest.core.errors import DigestError, Problem

F = TypeVar("F", bound=Callable[..., Any])


def _common(func: F) -> F:
    """--root and --debug on every command; user errors become `path:line: message` and exit 1."""

    @click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("."), show_default=True, help="The newsletter folder (holds config.yaml and issues/).")
    @click.option("--debug", is_flag=True, help="Show tracebacks.")
    @functools.wraps(func)
    def wrapper(*args: Any, root: Path, debug: bool, **kwargs: Any) -> Any:
        try:
            return func(*args, root=root, **kwargs)
        except DigestError as e:
            _print_problems(e.problems)
            errors = sum(p.errors for p in e.problems)
            outcome = "nothing was sent" if func.__name__ == "send" else "nothing was written"
            if errors:
                click.echo(f"{errors} error{'s' if errors != 1 else ''}; {outcome}", err=True)
            else:  # only --strict fails on warnings alone
                warnings = len(e.problems)
                click.echo(f"{warnings} warning{'s' if warnings != 1 else ''}, which --strict makes fatal; {outcome}", err=True)
            if debug:
                traceback.print_exc()
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted; nothing was changed", err=True)
            sys.exit(130)
        except Exception as e:  # a bug in digest, not a user error
            if debug:
                raise
            click.echo(f"internal error: {type(e).__name__}: {e} (run again with --debug for the traceback)", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(str(p), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def main() -> None:
    """Build a weekly curated newsletter from YAML: email HTML, plain text, web archive and feeds.

    \b
    Example:
      digest build            # build ./config.yaml + ./issues/ into ./site/
      digest check --root ~/my-digest
    """


_JOBS = click.option("--jobs", "-j", type=click.IntRange(1, 256), default=None, help="Worker processes (default: one per core).")
_STRICT = click.option("--strict", is_flag=True, help="Fail on warnings too (accessibility lint, clip and contrast warnings): for CI.")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'s' if n != 1 else ''}"


def _progress() -> Callable[[int, int], None] | None:
    """A progress bar on a terminal once a build has run for a second; nothing in pipes and CI."""
    import os
    import time

    if not sys.stdout.isatty() or os.environ.get("CI"):
        return None
    started = time.monotonic()
    bar: Any = None

    def update(done: int, total: int) -> None:
        nonlocal bar
        if bar is None:
            if time.monotonic() - started < 1.0:
                return
            bar = click.progressbar(length=total, label="rendering", file=sys.stderr)
            bar.__enter__()
        bar.update(done - bar.pos)
        if done >= total:
            bar.__exit__(None, None, None)

    return update


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output folder (default: ROOT/site).")
@_JOBS
@_STRICT
@_common
def build(root: Path, out: Path | None, jobs: int | None, strict: bool) -> None:
    """Build every issue, the archive and the feeds into site/.

    The previous site is replaced only when the whole build succeeds. Issues that
    have not changed since the last build come from the cache in ROOT/.digest-cache.

    \b
    Example:
      digest build --root . --out public
    """
    from digest.build.pipeline import build as run_build

    report = run_build(root, out, jobs=jobs, progress=_progress(), strict=strict)
    _print_problems(report.warnings)
    click.echo(f"built {_plural(report.issues, 'issue')} ({report.changed:,} changed) in {report.seconds:.1f} s")


@main.command()
@_JOBS
@_STRICT
@_common
def check(root: Path, jobs: int | None, strict: bool) -> None:
    """Validate and render every issue without writing anything.

    Exits 1 and lists every problem as path:line: message.  With --strict,
    warnings fail it too, as a pull request check would want.

    \b
    Example:
      digest check --root ~/my-digest
      digest check --strict   # in CI
    """
    from digest.build.pipeline import check as run_check

    report = run_check(root, jobs=jobs, strict=strict)
    _print_problems(report.warnings)
    click.echo(f"checked {_plural(report.issues, 'issue')}: no errors")


@main.command()
@click.option("--date", "date_", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Issue date (default: a week after the last issue).")
@_common
def new(root: Path, date_: Any) -> None:
    """Start the next issue as a draft: issues/<next number>.yaml.

    \b
    Example:
      digest new --date 2026-12-04
    """
    from digest.compose.new import new_issue

    path = new_issue(root, date_.date() if date_ else None)
    click.echo(f"created {path}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; the default keeps the preview on this machine.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0 picks a free one).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output folder (default: ROOT/site).")
@click.option("--watch/--no-watch", default=True, show_default=True, help="Rebuild when config.yaml, issues/ or templates/ change.")
@_common
def serve(root: Path, host: str, port: int, out: Path | None, watch: bool) -> None:
    """Build, then preview the site, email HTML and drafts in a browser.

    Open /issues/<number>/email.html for the email as sent.  While it watches for
    changes, open pages reload after each rebuild and show a failed build's errors
    (through a script added as they are served; the files in the site never have it).

    \b
    Example:
      digest serve --port 8001
    """
    import threading

    from digest.build.pipeline import build as run_build
    from digest.preview.server import Reloader, make_server
    from digest.preview.server import watch as watch_sources

    site = out or root / "site"
    # Take the address before building: a busy port or unknown host is the user's to fix
    # (exit 1, not an internal error), and is better told before a long build than after.
    try:
        reloader = Reloader() if watch else None
        server = make_server(site, host, port, reloader)
    except OSError as e:
        hint = "; --port 0 picks a free port" if e.errno == errno.EADDRINUSE else ""
        raise DigestError([Problem(f"{host}:{port}", None, f"cannot listen there: {e.strerror or e}{hint}")]) from e
    try:
        report = run_build(root, out)
    except BaseException:
        server.server_close()
        raise
    _print_problems(report.warnings)
    click.echo(f"serving {site} at http://{host}:{server.server_address[1]}/ (Ctrl-C to stop)")
    stop = threading.Event()

    def rebuild() -> None:
        # The watcher must survive any failed rebuild: the server keeps the last good site.
        assert reloader is not None  # rebuilds happen only while watching
        try:
            r = run_build(root, out)
            _print_problems(r.warnings)
            click.echo(f"rebuilt {_plural(r.issues, 'issue')} ({r.changed:,} changed) in {r.seconds:.1f} s")
            reloader.built()
        except DigestError as e:
            _print_problems(e.problems)
            click.echo("build failed; still serving the last good site", err=True)
            reloader.built([str(p) for p in e.problems])
        except Exception as e:  # noqa: BLE001 - a bug in digest must not stop the preview
            message = f"internal error: {type(e).__name__}: {e}; still serving the last good site"
            click.echo(message, err=True)
            reloader.built([message])

    def watcher() -> None:
        try:
            watch_sources(root, rebuild, stop)
        except Exception as e:  # noqa: BLE001 - say so rather than silently stop rebuilding
            click.echo(f"cannot watch for changes ({type(e).__name__}: {e}); still serving, rebuild with digest build", err=True)

    if watch:
        threading.Thread(target=watcher, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")  # Ctrl-C is how a preview ends, not an error
    finally:
        stop.set()
        if reloader is not None:
            reloader.close()  # pages waiting for a rebuild get their answer now
        server.server_close()


@main.command()
@click.argument("number", type=int)
@click.option("--to", required=True, help="Recipient of the test email.")
@_common
def send(root: Path, number: int, to: str) -> None:
    """Send issue NUMBER as a test email through SMTP (settings from DIGEST_SMTP_* variables).

    \b
    Example:
      DIGEST_SMTP_HOST=smtp.example.org DIGEST_SMTP_USER=me DIGEST_SMTP_PASSWORD=… \\
        digest send 263 --to me@example.org
    """
    from digest.deliver import mail
    from digest.build.pipeline import render_issue_email

    settings = mail.smtp_from_environment()
    config, issue, html, text = render_issue_email(root, number)
    mail.send(mail.build_message(config, issue, html, text, to), settings)
    click.echo(f"sent issue {number} to {to} via {settings.host}:{settings.port}")
