"""The commands that write issues: init, new, add, collect, editions, translate."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import click

from digest.cli.common import (
    _STRICT_EDITIONS,
    _common,
    _plural,
    _print_problems,
    main,
)
from digest.core.errors import DigestError


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
