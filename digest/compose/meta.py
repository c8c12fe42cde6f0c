"""A web page → the fields of one issue item, from the metadata the page publishes.

Rules:
- title: og:title, else twitter:title, else JSON-LD headline, else <title>.
- summary: og:description, twitter:description, JSON-LD description, <meta name=description>.
- source: og:site_name, else the JSON-LD publisher's name; author: article:author,
  JSON-LD author name(s), <meta name=author>; date: article:published_time or
  JSON-LD datePublished (the day only).
- url: <link rel=canonical>, else og:url, but only from the page's own origin: the same
  scheme, host and port (a canonical on another site, or on another port of the same
  host, which may be another server, is not trusted; `www.` in front of the host is the
  one difference allowed, as sites answer on both), with tracking parameters removed.
- image: og:image made absolute, only with og:image:alt: an image's alt is what a blind
  reader hears, so it is never invented; an image left out for want of one is a note.
- Text: entities decoded, whitespace collapsed; the page's declared charset (HTTP
  header, then byte-order mark, then <meta charset>) is honoured when it names a text
  encoding (`base64`, `rot13`, `zlib` are codecs, not charsets: UTF-8 is read instead).
  The values are the page's text, not markdown: add escapes them (digest.compose.escape).
- JSON-LD nested deeper than Python's parser allows is skipped, like a broken block.
- A date that cannot be read is left out with a note, never guessed.
"""

from __future__ import annotations

import codecs
import datetime as dt
import html
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

from digest.core.loading import NOT_XML
from digest.core.markdown import url_problem
from digest.core.urls import strip_tracking

_ARTICLE_TYPES = {
    "article",
    "newsarticle",
    "blogposting",
    "report",
    "scholarlyarticle",
    "techarticle",
    "webpage",
    "reportagenewsarticle",
}


@dataclass(frozen=True)
class PageMeta:
    url: str
    title: str | None = None
    summary: str | None = None
    source: str | None = None
    author: str | None = None
    date: dt.date | None = None
    image_src: str | None = None
    image_alt: str | None = None
    origins: tuple[tuple[str, str], ...] = ()  # field → the metadata it came from: ("summary", "og:description")
    notes: tuple[str, ...] = ()  # what was read but left out, and why

    def origin(self, name: str) -> str:
        return dict(self.origins).get(name, name)


def page_metadata(body: bytes, page_url: str, header_charset: str | None = None) -> PageMeta:
    """Read what the page says about itself; ``page_url`` is where it was fetched from (after redirects)."""
    import lxml.html  # type: ignore[import-untyped]
    from lxml.etree import ParserError  # type: ignore[import-untyped]

    text = body.decode(encoding_of(body, header_charset), errors="replace")
    try:
        root = lxml.html.document_fromstring(text.encode("utf-8"), parser=lxml.html.HTMLParser(encoding="utf-8"))
    except (ParserError, ValueError):  # an empty page
        return PageMeta(url=strip_tracking(page_url))
    meta: dict[str, str] = {}
    for m in root.iter("meta"):
        key = (m.get("property") or m.get("name") or "").strip().lower()
        value = _clean(m.get("content"))
        if key and value and key not in meta:
            meta[key] = value
    ld = _json_ld(root)
    canonical = next(
        (
            link.get("href")
            for link in root.iter("link")
            if "canonical" in (link.get("rel") or "").lower().split() and link.get("href")
        ),
        None,
    )
    origins: dict[str, str] = {}
    notes: list[str] = []

    def first(name: str, *candidates: tuple[str, str | None]) -> str | None:
        for origin, value in candidates:
            if value:
                origins[name] = origin
                return value
        return None

    image_src = _absolute(
        page_url,
        first(
            "image",
            ("og:image", meta.get("og:image")),
            ("og:image:url", meta.get("og:image:url")),
            ("og:image:secure_url", meta.get("og:image:secure_url")),
        ),
    )
    image_alt = meta.get("og:image:alt")
    if image_src and not image_alt:
        notes.append(
            f"the page's {origins['image']} ({image_src}) has no og:image:alt, and an image's alt text is never"
            f" invented: to show it, add under the item: image: {{src: {image_src}, alt: what the image shows}}"
        )
    # The first date that reads as one; a note only when every date the page gives is unreadable.
    written = [
        (origin, value)
        for origin, value in (
            ("article:published_time", meta.get("article:published_time")),
            ("JSON-LD datePublished", _ld_text(ld, "datePublished")),
        )
        if value
    ]
    date = next((d for _, value in written if (d := _date(value)) is not None), None)
    if written and date is None:
        origin, value = written[0]
        notes.append(f"the page's {origin} {value[:40]!r} is not a date digest can read: the item has no date")
    return PageMeta(
        url=strip_tracking(_same_origin(page_url, canonical) or _same_origin(page_url, meta.get("og:url")) or page_url),
        title=first(
            "title",
            ("og:title", meta.get("og:title")),
            ("twitter:title", meta.get("twitter:title")),
            ("JSON-LD headline", _ld_text(ld, "headline")),
            ("<title>", _clean(root.findtext(".//title"))),
        ),
        summary=first(
            "summary",
            ("og:description", meta.get("og:description")),
            ("twitter:description", meta.get("twitter:description")),
            ("JSON-LD description", _ld_text(ld, "description")),
            ("meta description", meta.get("description")),
        ),
        source=first(
            "source", ("og:site_name", meta.get("og:site_name")), ("JSON-LD publisher", _ld_name(ld.get("publisher")))
        ),
        author=first(
            "author",
            ("article:author", _author(meta.get("article:author"))),
            ("JSON-LD author", _ld_name(ld.get("author"))),
            ("meta author", meta.get("author")),
        ),
        date=date,
        image_src=image_src if image_src and image_alt else None,
        image_alt=image_alt if image_src and image_alt else None,
        origins=tuple(origins.items()),
        notes=tuple(notes),
    )


def encoding_of(body: bytes, header_charset: str | None) -> str:
    """The Python codec for the page's bytes: the header's charset, a BOM, <meta charset>, else UTF-8."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return name
    for candidate in (header_charset, _meta_charset(body)):
        if candidate and (codec := _codec(candidate)):
            return codec
    return "utf-8"


def _codec(label: str) -> str | None:
    """The codec a charset label names, if it is a text encoding that can read a page."""
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
        # bytes.decode accepts only text encodings: base64, rot13, zlib, hex, uu, bz2 and quopri
        # raise LookupError here, and idna refuses the "replace" error handler a page is read with.
        # A page is markup, so the codec must read ASCII as ASCII (utf-16 and -32 have their BOMs).
        if not name.startswith(("utf-16", "utf-32")) and b"<meta>".decode(name, "replace") != "<meta>":
            return None
    except (LookupError, UnicodeError, ValueError):
        return None
    # As browsers do (WHATWG Encoding): pages labelled Latin-1 or ASCII are windows-1252.
    return "cp1252" if name in ("latin-1", "iso8859-1", "ascii") else name


def _meta_charset(body: bytes) -> str | None:
    """<meta charset> or <meta http-equiv=Content-Type> in the page's first 8 KB (read as
    Latin-1, which any charset label survives)."""
    import email.message

    import lxml.html
    from lxml.etree import ParserError

    try:
        head = lxml.html.document_fromstring(body[:8192].decode("latin-1"))
    except (ParserError, ValueError):
        return None
    for m in head.iter("meta"):
        if m.get("charset"):
            return m.get("charset")
        if (m.get("http-equiv") or "").lower() == "content-type" and m.get("content"):
            header = email.message.Message()
            header["content-type"] = m.get("content", "")
            if charset := header.get_content_charset():
                return charset
    return None


def _json_ld(root: Any) -> dict[str, Any]:
    """The page's main schema.org object: the first article-like one, else the first one with a headline."""
    found: list[dict[str, Any]] = []
    for script in root.iter("script"):
        if (script.get("type") or "").strip().lower() != "application/ld+json" or not script.text:
            continue
        try:
            data = json.loads(script.text)
        except (ValueError, RecursionError):
            continue  # a broken block (or one nested too deep for json) on someone's page is no reason to fail
        stack = data if isinstance(data, list) else [data]
        for obj in stack:
            if isinstance(obj, dict):
                found.append(obj)
                graph = obj.get("@graph")
                if isinstance(graph, list):
                    found.extend(o for o in graph if isinstance(o, dict))
    for obj in found:
        kinds = obj.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if any(isinstance(k, str) and k.lower() in _ARTICLE_TYPES for k in kinds) and "headline" in obj:
            return obj
    return next((obj for obj in found if "headline" in obj), {})


def _ld_text(obj: dict[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return _clean(html.unescape(value)) if isinstance(value, str) else None


def _ld_name(value: object) -> str | None:
    """A schema.org Person/Organization (or a list of them, or a plain name) → "Name, Other Name"."""
    values = value if isinstance(value, list) else [value]
    names = []
    for v in values:
        name = v.get("name") if isinstance(v, dict) else v
        if isinstance(name, str) and (name := _clean(html.unescape(name))):
            names.append(name)
    return ", ".join(dict.fromkeys(names)) or None


def _author(value: str | None) -> str | None:
    # article:author is often a profile URL rather than a name: a URL is no byline.
    if value is None or value.lower().startswith(("http://", "https://")):
        return None
    return value


def _date(value: str | None) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00")).date()
    except (ValueError, OverflowError):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None


def _same_origin(page_url: str, candidate: str | None) -> str | None:
    if not candidate:
        return None
    try:
        url = urljoin(page_url, candidate)
        if url_problem(url, allow_mailto=False):
            return None
        return url if _origin(url) == _origin(page_url) else None
    except ValueError:  # a port out of range, a broken IPv6 address
        return None


def _origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host (without a leading www.) and port, the default port spelt out."""
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    port = parts.port or {"http": 80, "https": 443}.get(scheme)
    return scheme, host[4:] if host.startswith("www.") else host, port


def _absolute(page_url: str, src: str | None) -> str | None:
    if not src:
        return None
    try:
        url = urljoin(page_url, src)
    except ValueError:  # http://[x/
        return None
    return None if url_problem(url, allow_mailto=False) else url


def _clean(value: str | None) -> str | None:
    """One line of text: whitespace collapsed, characters no email or feed may hold dropped."""
    if value is None:
        return None
    return " ".join(NOT_XML.sub("", value).split()) or None
