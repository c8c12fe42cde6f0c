"""`digest add URL`: one page → one item at the end of a section of the newest draft.

Rules:
- A link already in any issue (compared normalised) is refused, naming where it is,
  unless forced: checked before fetching (no request for a known link) and again for
  the page's canonical URL.
- Only HTML pages are read for metadata.  A PDF is added, with its file name as the
  title, only when forced; anything else is refused.
- The page's title and description are its text, not markdown: they are escaped
  (digest.compose.escape) so the item shows exactly what the page wrote.
- Before the issue file is touched, each field gets the checks `digest check` would make
  of it; a field the page filled with something digest refuses is left out, with a note
  naming the page, the metadata it came from and why.  The page is someone else's: its
  mistakes are never reported as lines of the editor's file.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from digest.compose.edit import Batch, Fields, save_issue
from digest.compose.escape import escape_markdown
from digest.compose.meta import PageMeta, page_metadata
from digest.compose.net import TIMEOUT, FetchError, fetch, user_agent
from digest.compose.target import issue_file, issue_files, known_links, target_issue
from digest.core.config import load_config
from digest.core.errors import DigestError, Problem
from digest.core.markdown import bad_links, links, url_problem
from digest.core.urls import normalize_url, strip_tracking

HTML_TYPES = ("text/html", "application/xhtml+xml")
ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"


@dataclass(frozen=True)
class Added:
    rel: str  # the issue file written
    title: str
    url: str
    section: str | None  # None: the issue's last section
    notes: tuple[str, ...] = ()  # "URL: note: …": what the page offered that the item does not have, and why


def add_url(
    root: Path,
    url: str,
    *,
    issue: int | None = None,
    section: str | None = None,
    force: bool = False,
    timeout: float = TIMEOUT,
) -> Added:
    """Fetch ``url`` and append it as an item; raise DigestError (user's input) or FetchError (the network)."""
    config = load_config(root)
    url = url.strip()
    if why := url_problem(url, allow_mailto=False):
        raise DigestError([Problem(url, None, why)])
    files = issue_files(root)
    target = target_issue(files, issue)
    known = known_links(files)
    if not force:
        _refuse_known(known, url)
    response = fetch(url, agent=user_agent(config.url), accept=ACCEPT, timeout=timeout)
    if response.media_type in HTML_TYPES or (not response.media_type and response.body.lstrip()[:1] == b"<"):
        meta = page_metadata(response.body, response.url, response.charset)
    elif response.media_type == "application/pdf" or response.body.startswith(b"%PDF-"):
        if not force:
            raise FetchError(
                url, "is a PDF, not a web page: digest add --force adds it with its file name as the title"
            )
        meta = PageMeta(url=strip_tracking(response.url), title=_file_name(response.url))
    else:
        raise FetchError(
            url, f"is not a web page ({response.media_type or 'no Content-Type'}); only HTML pages can be added"
        )
    if not force and meta.url != url:
        _refuse_known(known, meta.url)
    fields, refused = _fields(meta, config.link_schemes)
    if "title" not in fields and "summary" not in fields:
        why = f" ({'; '.join(refused)})" if refused else ""
        raise FetchError(url, f"the page has no title or description to make an item from{why}")

    def added_meanwhile(current: bytes) -> None:
        # Another add may have written the same link while this one fetched: asked again under the lock.
        if not force:
            now = known_links([issue_file(target.number, target.path, target.rel, current.decode("utf-8", "replace"))])
            for link in dict.fromkeys((url, meta.url)):
                _refuse_known(now, link)

    save_issue(config, target.number, target.path, target.rel, [Batch(section, [fields])], refuse=added_meanwhile)
    notes = tuple(f"{url}: note: {n}" for n in (*meta.notes, *refused))
    return Added(
        rel=target.rel,
        title=meta.title or meta.summary or str(fields.get("title")),
        url=meta.url,
        section=section,
        notes=notes,
    )


def _refuse_known(known: dict[str, str], url: str) -> None:
    if (where := known.get(normalize_url(url))) is not None:
        path, _, line = where.rpartition(":")
        raise DigestError([Problem(path, int(line), f"already links to {url}: --force adds it again", "url")])


def _fields(meta: PageMeta, schemes: tuple[str, ...]) -> tuple[Fields, list[str]]:
    """The item, and a note for each field left out because `digest check` would refuse it."""
    fields: Fields = {}
    refused: list[str] = []
    for key in ("title", "url", "source", "author", "date", "summary"):
        value = getattr(meta, key)
        if not value:
            continue
        if key in ("title", "summary"):
            value = escape_markdown(value)
            # Escaped text holds no link; the checks stay, so that a change to the escaping can never
            # turn into an error at a line of the editor's file.
            problems = [b.message for b in bad_links(value, schemes, inline=key == "title")]
            if key == "title" and any(link.kind == "link" for link in links(value, inline=True)):
                problems.append("a linked title holds no link of its own")
            if problems:
                refused.append(f"the page's {meta.origin(key)} was left out ({problems[0]}): the item has no {key}")
                continue
        fields[key] = value
    if meta.image_src and meta.image_alt:
        fields["image"] = {"src": meta.image_src, "alt": meta.image_alt}
    return fields, refused


def _file_name(url: str) -> str:
    name = unquote(urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1])
    return " ".join(name.split()) or urlsplit(url).hostname or url
