"""RSS, Atom (feedparser) and JSON Feed → entries with plain fields.

Rules:
- A document that is none of these is a broken feed, named as such, never "0 entries".
- Summaries are HTML in most feeds: they become markdown through a library (BeautifulSoup
  drops scripts, styles, images and embeds; markdownify writes the rest), cut at a
  paragraph boundary so an excerpt stays an excerpt.  Their text is escaped with
  digest.compose.escape (it shows as the feed wrote it); a link to anything but http(s)
  keeps only its text; HTML nested deeper than MAX_DEPTH, or a summary whose links digest
  would refuse, is kept as its plain paragraphs instead.
- Titles are the feed's text, not markdown: collect escapes them.
- A date is taken only when it reads as the date the feed wrote: feedparser turns some
  impossible dates into real-looking ones (`99999-01-01` → 9999-12-01), so its year must
  be among the digits of the original.  An unreadable date leaves the entry undated, and
  ``Entry.bad_date`` keeps what the feed wrote, for a note.
- JSON nested deeper than Python's parser allows is a broken feed.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any
from xml.sax import SAXParseException

from digest.compose.escape import escape_markdown

SUMMARY_CHARS = 600
MAX_DEPTH = 100  # nested elements in a summary; markdownify recurses once per level
_DROP = (
    "script",
    "style",
    "img",
    "picture",
    "iframe",
    "video",
    "audio",
    "object",
    "embed",
    "form",
    "svg",
    "noscript",
    "figure",
)


class FeedError(Exception):
    """Not a feed, or one too broken to read."""


@dataclass(frozen=True)
class Entry:
    url: str | None
    title: str | None  # text, as the feed wrote it
    summary: str | None  # markdown, the feed's text escaped
    author: str | None
    date: dt.date | None
    bad_date: str | None = None  # a date the feed gave that could not be read


@dataclass(frozen=True)
class Feed:
    title: str | None
    entries: list[Entry]


def parse_feed(data: bytes, base_url: str) -> Feed:
    if data.lstrip()[:1] in (b"{", b"["):
        return _json_feed(data)
    import feedparser

    try:
        parsed = feedparser.parse(data, response_headers={"content-location": base_url})
    except Exception as bug:  # noqa: BLE001 - feedparser's own bugs on hostile bytes (e.g. &#xD800;) are a broken feed, not ours
        raise FeedError(f"cannot be read ({type(bug).__name__}: {_short(bug)})") from None
    if not parsed.get("version"):
        why = parsed.get("bozo_exception")
        if isinstance(why, SAXParseException):
            raise FeedError(f"broken XML at line {why.getLineNumber()}: {_short(why.getMessage())}")
        raise FeedError("not an RSS, Atom or JSON feed")
    entries = []
    for e in parsed.entries:
        html = _first_content(e) if not e.get("summary") else e.get("summary")
        date, bad_date = _entry_date(e)
        entries.append(
            Entry(
                url=e.get("link"),
                title=_title(e),
                summary=to_markdown(html) if html else None,
                author=_line(e.get("author")),
                date=date,
                bad_date=bad_date,
            )
        )
    return Feed(title=_line(parsed.feed.get("title")), entries=entries)


def to_markdown(html: str) -> str | None:
    """Feed HTML → a markdown excerpt: no markup a reader would not see, whole paragraphs up to SUMMARY_CHARS."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    from digest.core.loading import NOT_XML
    from digest.core.markdown import bad_links, url_problem

    class Escaping(MarkdownConverter):
        """markdownify's documented extension point: text nodes escaped by digest's one rule."""

        def escape(self, text: str, parent_tags: set[str]) -> str:
            return escape_markdown(text, pipes=True) if text else ""  # a text node may sit in a table

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for a in soup.find_all("a"):
        href = a.get("href")
        if not isinstance(href, str) or url_problem(href.strip(), allow_mailto=True):
            a.unwrap()  # javascript:, data:, relative or broken: the words stay, the link goes
    if _depth(soup) > MAX_DEPTH:
        return _plain(soup)
    text = Escaping(heading_style="ATX", bullets="-").convert_soup(soup)
    # Blocks stay blocks, lines stay lines (a list is one line per entry); spaces collapse within a line.
    paragraphs = [
        "\n".join(" ".join(line.split()) for line in NOT_XML.sub("", p).splitlines() if line.strip())
        for p in text.split("\n\n")
    ]
    paragraphs = [p for p in paragraphs if p]
    kept: list[str] = []
    for p in paragraphs:
        if kept and sum(len(k) for k in kept) + len(p) > SUMMARY_CHARS:
            break
        kept.append(p)
    summary = "\n\n".join(kept) or None
    if summary and bad_links(summary):  # a link markdownify wrote that digest would refuse
        return _plain(soup)
    return summary


def _depth(soup: Any) -> int:
    """How deeply the elements nest, counted without recursion (which is what is being guarded against)."""
    depths = {id(soup): 0}
    deepest = 0
    for el in soup.descendants:
        depth = depths.get(id(el.parent), 0) + 1
        if getattr(el, "contents", None):
            depths[id(el)] = depth
        deepest = max(deepest, depth)
    return deepest


def _plain(soup: Any) -> str | None:
    """The summary's text only, paragraph by paragraph, escaped; cut like to_markdown's excerpts."""
    from digest.core.loading import NOT_XML

    kept: list[str] = []
    for line in soup.get_text("\n").splitlines():
        line = " ".join(NOT_XML.sub("", line).split())
        if not line:
            continue
        if kept and sum(len(k) for k in kept) + len(line) > SUMMARY_CHARS:
            break
        kept.append(escape_markdown(line))
    return "\n\n".join(kept) or None


def _title(e: Any) -> str | None:
    """Atom titles may be HTML (type="html"): a title is text, so only the text is kept."""
    title = e.get("title")
    if isinstance(title, str) and "html" in (e.get("title_detail") or {}).get("type", ""):
        from bs4 import BeautifulSoup

        title = BeautifulSoup(title, "html.parser").get_text()
    return _line(title)


def _first_content(e: Any) -> str | None:
    content = e.get("content")
    return content[0].get("value") if content else None


def _json_feed(data: bytes) -> Feed:
    """JSON Feed 1.0/1.1 (https://jsonfeed.org/version/1.1), which feedparser does not read."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        raise FeedError(f"not valid JSON ({_short(e)})") from None
    except RecursionError:
        raise FeedError("not a JSON Feed (nested too deeply to read)") from None
    if (
        not isinstance(doc, dict)
        or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/")
        or not isinstance(doc.get("items"), list)
    ):
        raise FeedError("not a JSON Feed (no jsonfeed.org version and items list)")
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else [item.get("author")]
        names = [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
        url = item.get("url") or item.get("external_url")
        written = item.get("date_published") or item.get("date_modified")
        date = _iso_date(written)
        entries.append(
            Entry(
                url=url if isinstance(url, str) else None,
                title=_line(item.get("title")),
                summary=_json_summary(item),
                author=", ".join(names) or None,
                date=date,
                bad_date=(_line(written) or "")[:40] or None if date is None else None,
            )
        )
    return Feed(title=_line(doc.get("title")), entries=entries)


def _json_summary(item: dict[str, Any]) -> str | None:
    """summary and content_text are plain text, content_html is HTML; an excerpt beats the whole text."""
    if isinstance(item.get("summary"), str):
        return _paragraphs(item["summary"])
    if isinstance(item.get("content_html"), str):
        return to_markdown(item["content_html"])
    if isinstance(item.get("content_text"), str):
        return _paragraphs(item["content_text"])
    return None


def _paragraphs(text: str) -> str | None:
    """content_text: plain paragraphs, escaped so that none of it reads as markup."""
    import html

    return to_markdown("".join(f"<p>{html.escape(p)}</p>" for p in text.split("\n\n")))


def _iso_date(value: object) -> dt.date | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return (moment.astimezone(dt.UTC) if moment.tzinfo else moment).date()
    except (ValueError, OverflowError):  # 0001-01-01T00:00:00+14:00 is before year 1 in UTC
        return None


def _entry_date(e: Any) -> tuple[dt.date | None, str | None]:
    """An RSS/Atom entry's date (published, else updated), and what it wrote when that cannot be read."""
    for key in ("published", "updated"):
        written = e.get(key)
        parsed = e.get(f"{key}_parsed")
        if not isinstance(written, str) or not written.strip():
            continue
        if parsed:
            try:
                moment = dt.datetime.fromtimestamp(calendar.timegm(parsed), dt.UTC)
            except (ValueError, OverflowError, OSError):
                moment = None
            # feedparser maps a year it cannot hold onto one it can: the year must be what the feed wrote.
            numbers = re.findall(r"[0-9]+", written)
            if moment is not None and (str(moment.year) in numbers or f"{moment.year % 100:02d}" in numbers):
                return moment.date(), None
        return None, (_line(written) or "")[:40]
    return None, None


def _line(value: object) -> str | None:
    """One line of text: whitespace collapsed, characters no email or feed may hold dropped."""
    from digest.core.loading import NOT_XML

    return " ".join(NOT_XML.sub("", value).split()) or None if isinstance(value, str) else None


def _short(e: object) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 120 else text[:119] + "…"
