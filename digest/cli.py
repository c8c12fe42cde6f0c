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
            outcome = e.outcome or ("nothing was sent" if func.__name__ == "send" else "nothing was written")
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
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Output folder (default: ROOT/site).")
@_JOBS
@_STRICT
@click.option("--verify", is_flag=True, help="Check the cache and the site by their bytes (not by size, time and inode) and repair what differs.")
@_common
def build(root: Path, out: Path | None, jobs: int | None, strict: bool, verify: bool) -> None:
    """Build every issue, the archive and the feeds into site/.

    The previous site is replaced only when the whole build succeeds. Issues that
    have not changed since the last build come from the cache in ROOT/.digest-cache.

    \b
    Example:
      digest build --root . --out public
      digest build --verify   # after restoring a backup, or if files were edited in place
    """
    from digest.build.pipeline import build as run_build

    report = run_build(root, out, jobs=jobs, progress=_progress(), strict=strict, verify=verify)
    _print_problems(report.warnings)
    click.echo(f"built {_plural(report.issues, 'issue')} ({report.changed:,} changed) in {report.seconds:.1f} s")


@main.command()
@_JOBS
@_STRICT
@click.option("--links", is_flag=True, help="Also request every link of the issues checked (HEAD, then GET), reporting broken and moved ones; results are kept a day in ROOT/.digest-cache.")
@click.option("--issue", "numbers", type=int, multiple=True, metavar="N", help="Issues for the link ledger, the subject checks and --links (default: the newest and every draft); repeatable.")
@click.option("--timeout", type=click.FloatRange(0.1, 120), default=None, help="Seconds --links waits for each server (default 10).")
@_common
def check(root: Path, jobs: int | None, strict: bool, links: bool, numbers: tuple[int, ...], timeout: float | None) -> None:
    """The pre-send gate: validate and render every issue without writing anything.

    Reports everything in one round as path:line: message: validation, templates and
    Gmail's clip limit for every issue; for the newest issue and the drafts (or the
    --issue ones), links already used in the issue or in the previous 25 issues
    (check.history in config.yaml), and long subjects and preheaders.  Errors exit 1;
    warnings too with --strict.  Only --links uses the network.

    \b
    Example:
      digest check --root ~/my-digest
      digest check --strict --links   # before sending, and in CI
    """
    from digest.deliver.gate import check as run_check

    outcome = run_check(root, jobs=jobs, strict=strict, links=links, numbers=numbers, timeout=timeout)
    _print_problems(outcome.warnings)
    click.echo(f"checked {_plural(outcome.issues, 'issue')}: no errors")


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--title", default=None, help="The newsletter's name (default: from the folder's name).")
@click.option("--url", default="https://example.org/", show_default=True, help="Where the site will be published.")
@click.option("--requirement", default=None, help="What CI installs digest from (default: where this digest was installed from, if another machine can reach it).")
def init(folder: Path, title: str | None, url: str, requirement: str | None) -> None:
    """Start a new newsletter in FOLDER (new or empty): config.yaml, a first draft, CI.

    Writes a commented config.yaml listing every setting, issues/0001.yaml, templates/README.md,
    a .gitignore, a requirements.txt and a GitHub Actions workflow that installs digest from
    it, checks pull requests and publishes site/ to GitHub Pages.

    \b
    Example:
      digest init my-digest --title "Civic Tech Weekly" --url https://me.github.io/my-digest/
      digest init my-digest --requirement "digest @ git+https://github.com/me/digest@v0.1.0"
    """
    from digest.compose.init import REQUIREMENTS, init_newsletter, installed_from

    requirement = requirement if requirement is not None else installed_from()
    try:
        written = init_newsletter(folder, title=title, url=url, requirement=requirement)
    except DigestError as e:
        _print_problems(e.problems)
        sys.exit(1)
    click.echo(f"created {folder} with {', '.join(written)}")
    if requirement is None:
        click.echo(f"note: {REQUIREMENTS} does not say where CI installs digest from (this one came from a folder on this machine): add it before pushing, or pass --requirement")
    click.echo(f"next: digest build --root {folder}")


@main.command()
@click.option("--date", "date_", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Issue date (default: a week after the last issue).")
@click.option("--number", type=click.IntRange(1, 999_999_999), default=None, help="Issue number (default: one after the last).")
@_common
def new(root: Path, date_: Any, number: int | None) -> None:
    """Start the next issue as a draft: issues/<next number>.yaml.

    \b
    Example:
      digest new --date 2026-12-04
      digest new --number 300
    """
    from digest.compose.new import new_issue

    path = new_issue(root, date_.date() if date_ else None, number)
    click.echo(f"created {path}")


_ISSUE = click.option("--issue", type=click.IntRange(1), default=None, help="The issue to add to (default: the newest draft).")


@main.command()
@click.argument("url")
@_ISSUE
@click.option("--section", default=None, help="The section to add to (default: the last one); a new one if no section has this title.")
@click.option("--force", is_flag=True, help="Add a link already in an issue, or a PDF (titled with its file name).")
@_common
def add(root: Path, url: str, issue: int | None, section: str | None, force: bool) -> None:
    """Fetch the page at URL and add it as an item to the newest draft.

    Title, summary, source, author, date and image come from the page's Open Graph,
    Twitter card, schema.org or HTML metadata.  The item is appended as YAML at the end
    of the section; nothing else in the file changes.

    \b
    Example:
      digest add https://example.org/2026/open-data-law --section "Top stories"
    """
    from digest.compose.add import add_url
    from digest.compose.net import FetchError

    try:
        added = add_url(root, url, issue=issue, section=section, force=force)
    except FetchError as e:
        click.echo(f"{e}; nothing was written", err=True)
        sys.exit(1)
    where = f', section "{added.section}"' if added.section else ""
    click.echo(f'added "{added.title}" to {added.rel}{where}')


@main.command()
@click.argument("feeds", nargs=-1)
@_ISSUE
@click.option("--section", default=None, help="The section for every entry (default: each source's section, else the last one).")
@click.option("--since", type=click.DateTime(formats=["%Y-%m-%d"]), default=None, help="Take entries from this date on (default: those after the latest published issue).")
@_common
def collect(root: Path, feeds: tuple[str, ...], issue: int | None, section: str | None, since: Any) -> None:
    """Add new entries of RSS, Atom and JSON feeds (URLs or files) to the newest draft.

    With no FEED, reads the sources: listed in config.yaml.  An entry is new when it is
    newer than the latest published issue, its link is in no issue, and collect has not
    offered it before (collected.txt, in the newsletter folder, records what it offered:
    commit it).  One line per feed says what was added and what skipped, and why.

    \b
    Example:
      digest collect https://blog.example.org/feed.xml --section "From the blog"
      digest collect --since 2026-03-01
    """
    from digest.compose.collect import collect as run_collect

    result = run_collect(root, list(feeds), issue=issue, section=section, since=since.date() if since else None)
    for report in result.reports:
        click.echo(str(report), err=bool(report.error))
    added = sum(r.added for r in result.reports)
    click.echo(f"added {_plural(added, 'item')} to {result.rel}" if added else f"nothing new; {result.rel} is unchanged")
    if result.ledger_error:
        click.echo(result.ledger_error, err=True)
    if result.failed:
        sys.exit(1)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind; the default keeps the preview on this machine.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0 picks a free one).")
@click.option("--watch/--no-watch", default=True, show_default=True, help="Update when config.yaml, issues/ or templates/ change.")
@_common
def serve(root: Path, host: str, port: int, watch: bool) -> None:
    """Preview every issue, drafts included, as readers will get it.

    Open / for every issue (drafts first) and /preview/<number>/ for an issue's email
    at phone and desktop widths, light and dark, with its plain text, inbox line,
    size, warnings and links.  The site is rendered into memory: serving never writes
    site/ (drafts cannot leak into it).  While it watches, an edit re-renders only that
    issue and open pages reload; errors show on every page until they are fixed.

    \b
    Example:
      digest serve --port 8001
    """
    import threading
    import time

    from digest.preview.server import Reloader, make_preview_server
    from digest.preview.watch import watch as watch_sources
    from digest.preview.site import PreviewSite

    site = PreviewSite(root)
    reloader = Reloader()
    # Take the address before loading: a busy port or unknown host is the user's to fix
    # (exit 1, not an internal error), and is better told before a long load than after.
    try:
        server = make_preview_server(site, reloader, host, port)
    except OSError as e:
        hint = "; --port 0 picks a free port" if e.errno == errno.EADDRINUSE else ""
        raise DigestError([Problem(f"{host}:{port}", None, f"cannot listen there: {e.strerror or e}{hint}")]) from e
    try:
        site.reload()
        if site.config is None:  # nothing can be shown without a valid config.yaml
            raise DigestError(site.general)
    except BaseException:
        server.server_close()
        raise
    for line in site.errors():
        click.echo(line, err=True)
    reloader.built(site.errors(), changed=True)
    click.echo(f"serving {root} at http://{host}:{server.server_address[1]}/ ({_plural(len(site.issues), 'issue')}; Ctrl-C to stop)")
    stop = threading.Event()

    def update(paths: set[Path]) -> None:
        # The watcher must survive anything: the server keeps showing the last good version.
        started = time.perf_counter()
        try:
            changed = site.update(paths)
        except Exception as e:  # noqa: BLE001 - a bug in digest must not stop the preview
            message = f"internal error: {type(e).__name__}: {e}; still serving the last good version"
            click.echo(message, err=True)
            reloader.built([message, *site.errors()], changed=False)
            return
        errors = site.errors()
        if changed:
            numbers = ", ".join(str(n) for n in sorted(changed))
            click.echo(f"updated issue{'s' if len(changed) != 1 else ''} {numbers} in {time.perf_counter() - started:.2f} s")
        for line in errors:
            click.echo(line, err=True)
        if errors:
            click.echo("still serving the last good version of what has errors", err=True)
        reloader.built(errors, changed=bool(changed))

    def watcher() -> None:
        try:
            watch_sources(root, update, stop)
        except Exception as e:  # noqa: BLE001 - say so rather than silently stop updating
            click.echo(f"cannot watch for changes ({type(e).__name__}: {e}); still serving, restart to see edits", err=True)

    if watch:
        threading.Thread(target=watcher, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        click.echo("stopped")  # Ctrl-C is how a preview ends, not an error
    finally:
        stop.set()
        reloader.close()  # pages waiting for an update get their answer now
        server.server_close()


@main.command()
@click.argument("number", type=int)
@click.option("--to", "to", required=True, multiple=True, metavar="ADDRESS", help="Recipient of the proof; repeatable.")
@_common
def send(root: Path, number: int, to: tuple[str, ...]) -> None:
    """Send issue NUMBER as a proof through SMTP (settings from DIGEST_SMTP_* variables).

    The message is the one `digest export` writes: multipart/alternative (text, then
    HTML), with List-Id and List-Unsubscribe headers.  An email that Gmail would clip
    is not sent.  TLS verifies the server (DIGEST_SMTP_CA_FILE: the authorities to trust).
    Each step (connecting and the greeting, then every command) has DIGEST_SMTP_TIMEOUT
    seconds (default 30).  The password is read from the environment only: never type it
    on a command line, where the shell's history and `ps` keep it.

    \b
    Example:
      export DIGEST_SMTP_HOST=smtp.example.org DIGEST_SMTP_USER=me
      read -rs DIGEST_SMTP_PASSWORD && export DIGEST_SMTP_PASSWORD   # typed, not echoed
      digest send 263 --to me@example.org --to editor@example.org
    """
    from digest.deliver import mail, message

    recipients = message.recipients(to)
    settings = mail.smtp_from_environment()
    msg = _message(root, number, recipients)
    mail.send(msg, settings)
    click.echo(f"sent issue {number} to {', '.join(recipients)} via {settings.host}:{settings.port}")


@main.command()
@click.argument("number", type=int)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None, help="The .eml file to write (default: standard output).")
@click.option("--to", "to", multiple=True, metavar="ADDRESS", help="Recipient written in the To header (default: the From address); repeatable.")
@_common
def export(root: Path, number: int, out: Path | None, to: tuple[str, ...]) -> None:
    """Write issue NUMBER as a finished .eml message, as `digest send` would send it.

    For mailing services that import .eml, for archiving, and for reading the raw
    message.  An email that Gmail would clip is not written.

    \b
    Example:
      digest export 263 --out 263.eml
      digest export 263 | less
    """
    from digest.deliver import message

    msg = _message(root, number, message.recipients(to) if to else None)
    data = msg.as_bytes()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        out.write_bytes(data)
    except OSError as e:
        raise DigestError([Problem(str(out), None, f"cannot write: {e.strerror or e}")]) from e
    click.echo(f"wrote issue {number} to {out} ({_plural(len(data), 'byte')})")


def _message(root: Path, number: int, to: list[str] | None) -> Any:
    from digest.build.pipeline import render_issue_email
    from digest.deliver import message

    config, issue, html, text = render_issue_email(root, number)
    return message.build_message(config, issue, html, text, to or [message.sender(config)])
