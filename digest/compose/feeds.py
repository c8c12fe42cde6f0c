"""RSS, Atom (feedparser) and JSON Feed → entries with plain fields.

Rules:
- A document that is none of these is a broken feed, named as such, never "0 entries".
- Summaries are HTML in most feeds: they become markdown through a library (BeautifulSoup
  drops scripts, styles, images and embeds; markdownify writes the rest), cut at a
  paragraph boundary so an excerpt stays an excerpt.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any
from xml.sax import SAXParseException

SUMMARY_CHARS = 600
_DROP = ("script", "style", "img", "picture", "iframe", "video", "audio", "object", "embed", "form", "svg", "noscript", "figure")


class FeedError(Exception):
    """Not a feed, or one too broken to read."""


@dataclass(frozen=True)
class Entry:
    url: str | None
    title: str | None
    summary: str | None  # markdown
    author: str | None
    date: dt.date | None


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
        published = e.get("published_parsed") or e.get("updated_parsed")
        entries.append(
            Entry(
                url=e.get("link"),
                title=_title(e),
                summary=to_markdown(html) if html else None,
                author=_line(e.get("author")),
                date=dt.datetime.fromtimestamp(calendar.timegm(published), dt.UTC).date() if published else None,
            )
        )
    return Feed(title=_line(parsed.feed.get("title")), entries=entries)


def to_markdown(html: str) -> str | None:
    """Feed HTML → a markdown excerpt: no markup a reader would not see, whole paragraphs up to SUMMARY_CHARS."""
    from bs4 import BeautifulSoup
    from markdownify import MarkdownConverter

    from digest.core.loading import NOT_XML

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(_DROP):
        tag.decompose()
    text = MarkdownConverter(heading_style="ATX", bullets="-").convert_soup(soup)
    # Blocks stay blocks, lines stay lines (a list is one line per entry); spaces collapse within a line.
    paragraphs = ["\n".join(" ".join(line.split()) for line in NOT_XML.sub("", p).splitlines() if line.strip()) for p in text.split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    kept: list[str] = []
    for p in paragraphs:
        if kept and sum(len(k) for k in kept) + len(p) > SUMMARY_CHARS:
            break
        kept.append(p)
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
    if not isinstance(doc, dict) or not str(doc.get("version", "")).startswith("https://jsonfeed.org/version/") or not isinstance(doc.get("items"), list):
        raise FeedError("not a JSON Feed (no jsonfeed.org version and items list)")
    entries = []
    for item in doc["items"]:
        if not isinstance(item, dict):
            continue
        authors: list[Any] = item["authors"] if isinstance(item.get("authors"), list) else [item.get("author")]
        names = [a["name"] for a in authors if isinstance(a, dict) and isinstance(a.get("name"), str)]
        url = item.get("url") or item.get("external_url")
        entries.append(
            Entry(
                url=url if isinstance(url, str) else None,
                title=_line(item.get("title")),
                summary=_json_summary(item),
                author=", ".join(names) or None,
                date=_iso_date(item.get("date_published") or item.get("date_modified")),
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
    except ValueError:
        return None
    return (moment.astimezone(dt.UTC) if moment.tzinfo else moment).date()


def _line(value: object) -> str | None:
    """One line of text: whitespace collapsed, characters no email or feed may hold dropped."""
    from digest.core.loading import NOT_XML

    return " ".join(NOT_XML.sub("", value).split()) or None if isinstance(value, str) else None


def _short(e: object) -> str:
    text = " ".join(str(e).split())
    return text if len(text) <= 120 else text[:119] + "…"
