"""The command line: a thin click layer over the library (digest.pipeline, digest.compose,
digest.deliver, digest.preview)."""

from __future__ import annotations

import functools
import shlex
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

    @click.option(
        "--root",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="The newsletter folder (holds config.yaml and issues/).",
    )
    @click.option("--debug", is_flag=True, help="Show tracebacks.")
    @functools.wraps(func)
    def wrapper(*args: Any, root: Path, debug: bool, **kwargs: Any) -> Any:
        try:
            return func(*args, root=root, **kwargs)
        except DigestError as e:
            _print_problems(e.problems)
            errors = sum(p.errors for p in e.problems)
            # What did not happen, said only where something would have: check never writes (its
            # summary is the count alone), and a preview that could not start never writes either;
            # an error may know better (a message the SMTP server took, then no answer: unknown).
            outcome = f"; {e.outcome}" if e.outcome else _OUTCOMES.get(func.__name__, "; nothing was written")
            if errors:
                click.echo(f"{errors} error{'s' if errors != 1 else ''}{outcome}", err=True)
            else:  # only --strict fails on warnings alone
                warnings = len(e.problems)
                plural = "s" if warnings != 1 else ""
                click.echo(f"{warnings} warning{plural}, which --strict makes fatal{outcome}", err=True)
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


_OUTCOMES = {
    "send": "; nothing was sent",
    "push": "; nothing was sent",
    "check": "",
    "serve": "; the preview did not start",
}


def _print_problems(problems: list[Problem]) -> None:
    for p in problems:
        click.echo(str(p), err=True)


# `digest --help` lists the commands in the order of a week's work, each with a summary short
# enough not to be cut ("…") in 80 columns; a command not named here comes last.
_ORDER = ("init", "new", "add", "collect", "translate", "editions", "check", "serve", "build", "export", "send", "push")
_SUMMARIES = {
    "init": "Start a newsletter in a new folder, with a first draft.",
    "new": "Start the next issue as a draft.",
    "add": "Add a web page as an item of the newest draft.",
    "collect": "Add the new entries of feeds to the newest draft.",
    "translate": "Carry an issue into a local edition, to translate.",
    "editions": "What each local edition still lacks, issue by issue.",
    "check": "The pre-send gate: check every issue, writing nothing.",
    "serve": "Preview every issue, drafts included, in a browser.",
    "build": "Build the site: every issue, the archive and the feeds.",
    "export": "Write an issue as an .eml message, as send sends it.",
    "send": "Send an issue as a proof through SMTP.",
    "push": "Hand an issue to the mailing service as a draft.",
}


class _Commands(click.Group):
    """A click group listing commands in _ORDER with _SUMMARIES (Group.list_commands and
    Command.short_help are click's public API)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: (_ORDER.index(n) if n in _ORDER else len(_ORDER), n))

    def add_command(self, cmd: click.Command, name: str | None = None) -> None:
        name = name or cmd.name
        if cmd.short_help is None and name in _SUMMARIES:
            cmd.short_help = _SUMMARIES[name]
        super().add_command(cmd, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="digest")
def main() -> None:
    """Build a weekly curated newsletter from YAML: email HTML, plain text, web archive and feeds.

    \b
    Example:
      digest build            # build ./config.yaml + ./issues/ into ./site/
      digest check --root ~/my-digest
    """


_JOBS = click.option(
    "--jobs", "-j", type=click.IntRange(1, 256), default=None, help="Worker processes (default: one per core)."
)
_STRICT = click.option(
    "--strict", is_flag=True, help="Fail on warnings too (accessibility lint, clip and contrast warnings): for CI."
)


_EDITIONS = click.option(
    "--editions", is_flag=True, help="Every local edition (config.yaml's editions: with root:), errors in one round."
)
_STRICT_EDITIONS = click.option(
    "--strict", is_flag=True, help="Exit 1 when a published translation is missing items, stale or still marked."
)
_VERBOSE = click.option(
    "--verbose", "-v", is_flag=True, help="Print every warning in full, not only those of the issues being prepared."
)


def _print_warnings(warnings: list[Problem], prepared: list[str], verbose: bool) -> None:
    """Every warning of the issues being prepared (the newest, the drafts) and of config.yaml
    and the templates in full; for the rest of the archive, a count of each kind."""
    from digest.core.errors import fold_warnings

    shown, kinds = fold_warnings(warnings, lambda p: verbose or p.path in prepared or not p.path.startswith("issues/"))
    _print_problems(shown)
    if kinds:
        folded = len(warnings) - len(shown)
        click.echo(f"and {_plural(folded, 'warning')} in earlier issues (--verbose prints them):", err=True)
        for line in kinds:
            click.echo(f"  {line}", err=True)


def _warned(problems: list[Problem]) -> str:
    """The summary line's count: ", 3 warnings, 1 note" (notes fail nothing, not even --strict)."""
    notes = sum(p.note for p in problems)
    counts = [_plural(len(problems) - notes, "warning")] if len(problems) > notes else []
    return "".join(f", {c}" for c in counts + ([_plural(notes, "note")] if notes else []))


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
@click.option(
    "--verify", is_flag=True, help="Write every file of the site again, trusting nothing the last build recorded."
)
@_VERBOSE
@_EDITIONS
@_common
def build(
    root: Path, out: Path | None, jobs: int | None, strict: bool, verify: bool, verbose: bool, editions: bool
) -> None:
    """Build every issue, the archive and the feeds into site/.

    The previous site is replaced only when the whole build succeeds. Issues that
    have not changed since the last build come from the build cache (in ~/.cache/digest/).

    \b
    Example:
      digest build --root . --out public
      digest build --verify   # after restoring a backup, or if files were edited in place
      digest build --editions --out public   # every local edition: public/, public/fa/, public/ar/...
    """
    from digest.core.config import load_config
    from digest.pipeline.build import build as run_build

    if editions:
        from digest.editions.family import load_family
        from digest.editions.run import build_family

        family = load_family(root)
        done = build_family(family, out, jobs=jobs, strict=strict, verify=verify)
        _print_warnings(done.warnings, done.prepared, verbose)
        into = f" into {out}" if out is not None else ""
        click.echo(
            f"built {_plural(done.editions, 'edition')}{into}: {_plural(done.issues, 'issue')} ({done.changed:,}"
            f" changed) in {done.seconds:.1f} s{_warned(done.warnings)}"
        )
        return

    report = run_build(load_config(root), out, jobs=jobs, progress=_progress(), strict=strict, verify=verify)
    _print_warnings(report.warnings, report.prepared, verbose)
    click.echo(
        f"built {_plural(report.issues, 'issue')} ({report.changed:,} changed) in {report.seconds:.1f}"
        f" s{_warned(report.warnings)}"
    )


@main.command()
@_JOBS
@_STRICT
@click.option(
    "--links",
    is_flag=True,
    help=(
        "Also request every link of the issues checked (HEAD, then GET), reporting broken and moved ones; results are"
        " kept a day in the build cache."
    ),
)
@click.option(
    "--issue",
    "numbers",
    type=int,
    multiple=True,
    metavar="N",
    help=(
        "Issues for the link ledger, the subject checks and --links (default: the newest and every draft); repeatable."
    ),
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 120),
    default=None,
    help="Seconds --links waits for each server (default 10).",
)
@_VERBOSE
@_EDITIONS
@_common
def check(
    root: Path,
    jobs: int | None,
    strict: bool,
    links: bool,
    numbers: tuple[int, ...],
    timeout: float | None,
    verbose: bool,
    editions: bool,
) -> None:
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
      digest check --editions         # every local edition (editions: entries with root:)
    """
    from digest.core.config import load_config
    from digest.deliver.gate import check as run_check

    if editions:
        from digest.editions.family import load_family
        from digest.editions.run import check_family

        family = load_family(root)
        done = check_family(family, jobs=jobs, strict=strict, links=links, numbers=numbers, timeout=timeout)
        _print_warnings(done.warnings, done.prepared, verbose)
        click.echo(
            f"checked {_plural(done.editions, 'edition')}, {_plural(done.issues, 'issue')}: no"
            f" errors{_warned(done.warnings)}"
        )
        return

    outcome = run_check(load_config(root), jobs=jobs, strict=strict, links=links, numbers=numbers, timeout=timeout)
    _print_warnings(outcome.warnings, outcome.prepared, verbose)
    click.echo(f"checked {_plural(outcome.issues, 'issue')}: no errors{_warned(outcome.warnings)}")


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--title", default=None, help="The newsletter's name (default: from the folder's name).")
@click.option("--url", default="https://example.org/", show_default=True, help="Where the site will be published.")
@click.option(
    "--requirement",
    default=None,
    help=(
        "What CI installs digest from (default: where this digest was installed from, if another machine can reach it)."
    ),
)
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
        click.echo(
            f"note: {REQUIREMENTS} does not say where CI installs digest from (this one came from a folder on this"
            " machine): add it before pushing, or pass --requirement"
        )
    click.echo(f"next: digest build --root {shlex.quote(str(folder))}")  # quoted: pasted into a shell as it is


@main.command()
@click.option("--date", "date_", metavar="YYYY-MM-DD", help="Issue date (default: a week after the last issue).")
@click.option(
    "--number", type=click.IntRange(1, 999_999_999), default=None, help="Issue number (default: one after the last)."
)
@click.option("--force", is_flag=True, help="Start a draft even though another draft has no items yet.")
@_common
def new(root: Path, date_: str | None, number: int | None, force: bool) -> None:
    """Start the next issue as a draft: issues/<next number>.yaml.

    Refused while a draft has no items yet (init makes draft 1): fill that one first, or
    pass --force.

    \b
    Example:
      digest new --date 2026-12-04
      digest new --number 300
    """
    from digest.compose.new import new_issue, parse_date

    # The date is read here, not by click: a wrong one is a user error in the words an issue's
    # date gets (exit 1), not click's usage error (exit 2).
    path = new_issue(root, parse_date(date_, "--date") if date_ is not None else None, number, force=force)
    click.echo(f"created {path}")


_FETCH_TIMEOUT = click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds the whole fetch of each URL may take (connecting, redirects, headers and body).",
)
_ISSUE = click.option(
    "--issue", type=click.IntRange(1), default=None, help="The issue to add to (default: the newest draft)."
)


@main.command()
@click.argument("url")
@_ISSUE
@click.option(
    "--section",
    default=None,
    help="The section to add to (default: the last one); a new one if no section has this title.",
)
@click.option("--force", is_flag=True, help="Add a link already in an issue, or a PDF (titled with its file name).")
@_FETCH_TIMEOUT
@_common
def add(root: Path, url: str, issue: int | None, section: str | None, force: bool, timeout: float) -> None:
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
        added = add_url(root, url, issue=issue, section=section, force=force, timeout=timeout)
    except FetchError as e:
        click.echo(f"{e}; nothing was written", err=True)
        sys.exit(1)
    where = f', section "{added.section}"' if added.section else ""
    click.echo(f'added "{added.title}" to {added.rel}{where}')
    for note in added.notes:
        click.echo(note, err=True)


@main.command()
@click.argument("feeds", nargs=-1)
@_ISSUE
@click.option(
    "--section", default=None, help="The section for every entry (default: each source's section, else the last one)."
)
@click.option(
    "--since",
    metavar="YYYY-MM-DD",
    help="Take entries from this date on (default: those after the latest published issue, else the last 7 days).",
)
@_FETCH_TIMEOUT
@_common
def collect(
    root: Path, feeds: tuple[str, ...], issue: int | None, section: str | None, since: str | None, timeout: float
) -> None:
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
    from digest.compose.new import parse_date

    start = parse_date(since, "--since") if since is not None else None
    result = run_collect(root, list(feeds), issue=issue, section=section, since=start, timeout=timeout)
    if result.note:
        click.echo(result.note, err=True)
    for report in result.reports:
        click.echo(str(report), err=bool(report.error))
        for note in report.notes:
            click.echo(note, err=True)
    added = sum(r.added for r in result.reports)
    click.echo(
        f"added {_plural(added, 'item')} to {result.rel}" if added else f"nothing new; {result.rel} is unchanged"
    )
    if result.ledger_error:
        click.echo(result.ledger_error, err=True)
    if result.failed:
        sys.exit(1)


@main.command()
@click.argument("number", type=int, required=False)
@_STRICT_EDITIONS
@_common
def editions(root: Path, number: int | None, strict: bool) -> None:
    """What each local edition has of every issue of the source edition (or of issue NUMBER).

    One row per edition: absent, draft or published, then its items translated, untranslated
    (a text still marked), stale (the source's title or summary changed since the translation),
    missing (in the source only) and extra, and the texts still marked.  Items correspond by id:,
    else by their link.  Reads only: nothing is written, nothing fetched.

    \b
    Example:
      digest editions
      digest editions 263 --strict   # in CI: exit 1 when a published translation lags
    """
    from digest.editions.family import load_family
    from digest.editions.status import status, table

    rows = status(load_family(root), number)
    for line in table(rows):
        click.echo(line)
    behind = [r for r in rows if r.behind]
    if strict and behind:
        names = ", ".join(f"{r.language} {r.number}" for r in behind)
        plural = "s are" if len(behind) != 1 else " is"
        click.echo(f"{len(behind)} published translation{plural} behind the source ({names})", err=True)
        sys.exit(1)


@main.command()
@click.argument("number", type=int)
@click.option("--to", "language", required=True, metavar="LANG", help="The local edition's language (editions:).")
@_common
def translate(root: Path, number: int, language: str) -> None:
    """Carry issue NUMBER of the source edition into the LANG edition's folder, to translate.

    A new issue is a draft with the same number, date, sections, items, links and images; every
    text to translate is carried over marked [untranslated], which check refuses once the issue is
    published.  An issue already there gets only the items it lacks; nothing else in it changes.

    \b
    Example:
      digest translate 263 --to fa
    """
    from digest.editions.family import load_family
    from digest.editions.translate import translate as run_translate

    done = run_translate(load_family(root), number, language)
    if done.created:
        click.echo(f"created {done.rel} ({_plural(done.added, 'item')} to translate)")
    elif done.added:
        click.echo(f"added {_plural(done.added, 'item')} to translate to {done.rel}")
        if done.published:
            click.echo(f"note: {done.rel} is published: check fails until they are translated", err=True)
    else:
        click.echo(f"nothing to add: {done.rel} has every item of issue {number}")


@main.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to bind; the default keeps the preview on this machine.",
)
@click.option(
    "--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port (0 picks a free one)."
)
@click.option(
    "--watch/--no-watch", default=True, show_default=True, help="Update when config.yaml, issues/ or templates/ change."
)
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
    from digest.preview.serve import serve as run_serve

    run_serve(root, host, port, watch)


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
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The .eml file to write (default: standard output).",
)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="ADDRESS",
    help="Recipient written in the To header (default: the From address); repeatable.",
)
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
    from digest.core.config import load_config
    from digest.deliver import message
    from digest.pipeline.build import render_one

    config = load_config(root)
    issue, html, text = render_one(config, number)
    message.require_content(issue)
    return message.build_message(config, issue, html, text, to or [message.sender(config)])


@main.command()
@click.argument("number", type=int)
@click.option("--dry-run", is_flag=True, help="Print the requests push would make (credentials as ***); send none.")
@_common
def push(root: Path, number: int, dry_run: bool) -> None:
    """Hand issue NUMBER to the mailing service in config.yaml (mailing:) as a draft campaign.

    Runs the pre-send gate first (as `digest check --issue NUMBER`), then creates the draft,
    or updates it when pushed again: one campaign per issue, found through the service.  A
    campaign that is scheduled or sent is never changed, and nothing is ever sent to a list:
    you press send in the service.  Credentials come from the environment only:
    DIGEST_LISTMONK_USER and DIGEST_LISTMONK_TOKEN, DIGEST_BUTTONDOWN_API_KEY,
    DIGEST_MAILCHIMP_API_KEY or DIGEST_BREVO_API_KEY (DIGEST_PUSH_TIMEOUT: seconds to wait).

    \b
    Example:
      read -rs DIGEST_BUTTONDOWN_API_KEY && export DIGEST_BUTTONDOWN_API_KEY   # typed, not echoed
      digest push 264 --dry-run
      digest push 264
    """
    from digest.core.config import load_config
    from digest.deliver.push.run import push as run_push

    outcome = run_push(load_config(root), number, dry_run=dry_run)
    _print_warnings(outcome.warnings, outcome.prepared, False)
    click.echo(outcome.shown if dry_run else outcome.line())
