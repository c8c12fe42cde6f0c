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
from collections.abc import Iterable, Sequence
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
    chunks: tuple[int, ...] = ()  # the search bundles, by their first issue number (search_chunks)


def archive_pages(config: Config, issues: Sequence[Issue]) -> list[ArchivePage]:
    """The archive's pages, each with its issues.  ``issues`` arrive filtered (no drafts) and sorted."""
    size = config.archive_per_page
    count = max(1, -(-len(issues) // size))
    chunks = search_chunks(issue.number for issue in issues)
    return [
        ArchivePage(page_path(page), page, count, tuple(issues[(page - 1) * size : page * size]), chunks)
        for page in range(1, count + 1)
    ]


SEARCH_DIR = "pagefind"  # the search bundles and their interface, under the site (digest.pipeline.search)
# Issues a search bundle indexes: issue n is in the bundle SEARCH_DIR/<n // CHUNK * CHUNK>/, a fixed
# range, so that a new or edited issue changes one bundle and never moves an issue to another one.
CHUNK = 100


def chunk_of(number: int) -> int:
    """The search bundle of issue ``number``: the first issue number of its range."""
    return number // CHUNK * CHUNK


def search_chunks(numbers: Iterable[int]) -> tuple[int, ...]:
    """The search bundles the issues ``numbers`` fill, in order."""
    return tuple(sorted({chunk_of(n) for n in numbers}))


def render_archive_page(env: jinja2.Environment, config: Config, page: ArchivePage) -> str:
    # The search box's files by a relative path: the same site served from another host (a
    # preview, a test server) loads them from there, never from config.url's host.
    # The first bundle is the box's own (bundlePath), the others join it (Pagefind's mergeIndex):
    # one box searches every issue.
    search = (
        {"path": ("" if page.page == 1 else "../../") + SEARCH_DIR + "/", "bundles": [f"{n}/" for n in page.chunks]}
        if config.search and page.issues and page.chunks
        else None
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
