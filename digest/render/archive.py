"""The archive pages and what an issue page shows of the rest of the newsletter.

Rules:
- The archive pages newest first, ``config.archive_per_page`` issues a page: page 1 is
  ``index.html``, page k is ``page/k/`` (``page/k/index.html``); each links its newer and
  older neighbour with rel="prev"/"next".
- An issue page shows its :class:`Neighbours` (previous and next published issue, the most
  recent ones): that value is all it shows of other issues, so a build can tell when a
  page must be rendered again by comparing it.  Drafts are never anyone's neighbour.
- Share links are plain links with the issue's own URL: no script, no tracking
  parameter, nothing the page loads.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote

from digest.core.models import Config, Issue

if TYPE_CHECKING:
    import jinja2

RECENT = 5  # recent issues on an issue page


@dataclass(frozen=True)
class Link:
    """What a page shows of another issue."""

    number: int
    title: str
    url: str
    date: dt.date


@dataclass(frozen=True)
class Neighbours:
    previous: Link | None  # the next older published issue
    next: Link | None  # the next newer published issue
    recent: tuple[Link, ...]  # the newest published issues, this one left out


def _link(issue: Issue) -> Link:
    return Link(issue.number, issue.title, issue.url, issue.date)


def all_neighbours(issues: Sequence[Issue], published: Sequence[Issue], recent: int = RECENT) -> dict[int, Neighbours]:
    """Every issue's neighbours, in one pass (``published``: no drafts, newest first)."""
    ordered = sorted(published, key=lambda i: i.number)
    links = [_link(i) for i in ordered]
    numbers = [i.number for i in ordered]
    newest = [_link(i) for i in published[: recent + 1]]
    found: dict[int, Neighbours] = {}
    for issue in issues:
        lo = bisect.bisect_left(numbers, issue.number)
        hi = bisect.bisect_right(numbers, issue.number)
        found[issue.number] = Neighbours(
            previous=links[lo - 1] if lo > 0 else None,
            next=links[hi] if hi < len(links) else None,
            recent=tuple(link for link in newest if link.number != issue.number)[:recent],
        )
    return found


def page_path(page: int) -> str:
    """Where archive page ``page`` is written, relative to the site."""
    return "index.html" if page == 1 else f"page/{page}/index.html"


def page_url(config: Config, page: int) -> str:
    return config.url if page == 1 else f"{config.url}page/{page}/"


@dataclass(frozen=True)
class ArchivePage:
    """One archive page: where it goes, its number, how many there are, and its issues."""

    path: str
    page: int
    pages: int
    issues: tuple[Issue, ...]


def archive_pages(config: Config, issues: Sequence[Issue]) -> list[ArchivePage]:
    """The archive's pages, each with its issues.  ``issues`` arrive filtered (no drafts) and sorted."""
    size = config.archive_per_page
    count = max(1, -(-len(issues) // size))
    return [
        ArchivePage(page_path(page), page, count, tuple(issues[(page - 1) * size : page * size]))
        for page in range(1, count + 1)
    ]


SEARCH_DIR = "pagefind"  # the search index and its interface, under the site (digest.pipeline.search)


def render_archive_page(env: jinja2.Environment, config: Config, page: ArchivePage) -> str:
    # The search box's files by a relative path: the same site served from another host (a
    # preview, a test server) loads them from there, never from config.url's host.
    search = (
        {"path": ("" if page.page == 1 else "../../") + SEARCH_DIR + "/"} if config.search and page.issues else None
    )
    return env.get_template("archive.html").render(
        search=search,
        issues=list(page.issues),
        page=page.page,
        pages=page.pages,
        page_url=page_url(config, page.page),
        newer_url=page_url(config, page.page - 1) if page.page > 1 else None,
        older_url=page_url(config, page.page + 1) if page.page < page.pages else None,
    )


def share_links(issue: Issue, email_label: str) -> list[tuple[str, str]]:
    """(label, href) of the share links of an issue page."""
    url, title = quote(issue.url, safe=""), quote(issue.title, safe="")
    return [
        (email_label, f"mailto:?subject={title}&body={url}"),
        ("Telegram", f"https://t.me/share/url?url={url}&text={title}"),
        ("WhatsApp", f"https://wa.me/?text={quote(issue.title + ' ' + issue.url, safe='')}"),
        ("X", f"https://x.com/intent/post?text={title}&url={url}"),
        ("Facebook", f"https://www.facebook.com/sharer/sharer.php?u={url}"),
    ]
