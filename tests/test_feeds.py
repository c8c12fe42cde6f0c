"""The feeds (RSS 2.0, Atom 1.0, JSON Feed 1.1) and the archive's feed autodiscovery.

A newsletter of five published issues and a draft, with ``feed: {items: 3}``: the feeds
list the three newest published issues, newest first, each with its full content.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import lxml.etree
import lxml.html
import pytest
from conftest import run

from digest.render.feeds import PERMALINK

URL = "https://feeds.example.org/weekly/"
CONFIG = f"""\
title: Feed Weekly
url: {URL}
description: Five issues and a draft.
language: en
timezone: Europe/Berlin
author: {{name: Ed Itor, email: ed@example.org}}
feed: {{items: 3}}
"""


def issue(n: int, *, title: str | None = None, date: str | None = None, draft: bool = False) -> str:
    return f"""\
date: {date or f"2024-03-{n:02d}"}
title: {title or f"Issue number {n}"}
draft: {"true" if draft else "false"}
intro: Intro of {n} with [a link](https://example.com/intro/{n}).
sections:
  - title: Section of {n}
    items:
      - title: First item of {n}
        url: https://example.com/{n}/first
        summary: Summary of the *first* item of {n}.
        image: {{src: "https://example.com/{n}.png", alt: Picture {n}}}
      - title: Second item of {n}
        url: https://example.com/{n}/second
        source: Source {n}
outro: Outro of {n}.
"""


PUBLISHED = [1, 2, 3, 4, 5]
DRAFT = 6
IN_FEEDS = [5, 4, 3]  # feed.items newest published, newest first


def midnight_utc(year: int, month: int, day: int) -> tuple[int, ...]:
    local = dt.datetime(year, month, day, tzinfo=ZoneInfo("Europe/Berlin"))
    return tuple(local.astimezone(dt.UTC).timetuple()[:6])


def issue_url(n: int) -> str:
    return f"{URL}issues/{n}/"


@pytest.fixture
def site(newsletter: Callable[..., Path]) -> Path:
    issues = {f"{n:04d}.yaml": issue(n) for n in PUBLISHED}
    issues[f"{DRAFT:04d}.yaml"] = issue(DRAFT, draft=True)
    root = newsletter(config=CONFIG, issues=issues)
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    return root / "site"


def parse(path: Path) -> Any:
    data = path.read_bytes()
    parsed = feedparser.parse(data)
    assert parsed.bozo == 0, f"{path.name}: {parsed.get('bozo_exception')}"
    return parsed


def xml(path: Path) -> lxml.etree._Element:
    return lxml.etree.fromstring(
        path.read_bytes(), parser=lxml.etree.XMLParser(recover=False, no_network=True, resolve_entities=False)
    )


def assert_absolute(url: str, where: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "mailto":
        return
    assert parts.scheme in ("http", "https") and parts.netloc, f"{where}: {url!r} is not an absolute URL"


def assert_full_content(html: str, n: int, site: Path, where: str) -> None:
    """The entry's content is the whole issue body, exactly as on its web page but for the page's
    permalinks (a feed reader would show each "#" as text), links absolute."""
    page = (site / "issues" / str(n) / "index.html").read_text(encoding="utf-8")
    assert PERMALINK.search(page), f"{where}: the page of issue {n} has no permalink"
    page = PERMALINK.sub("", page)
    assert html.strip() and html.strip() in page, f"{where}: content of issue {n} is not the body of its web page"
    doc = lxml.html.fragment_fromstring(html, create_parent="div")
    text = doc.text_content()
    for piece in (
        f"Intro of {n}",
        f"Section of {n}",
        f"First item of {n}",
        f"Summary of the first item of {n}.",
        f"Second item of {n}",
        f"Source {n}",
        f"Outro of {n}.",
    ):
        assert piece in text, f"{where}: {piece!r} missing from the content of issue {n}"
    hrefs = doc.xpath("//a/@href")
    assert {
        f"https://example.com/intro/{n}",
        f"https://example.com/{n}/first",
        f"https://example.com/{n}/second",
    } <= set(hrefs)
    assert doc.xpath("//img/@src") == [f"https://example.com/{n}.png"]
    for url in hrefs + doc.xpath("//img/@src"):
        assert_absolute(url, where)


# --- RSS and Atom through feedparser and lxml ------------------------------------------------


@pytest.mark.parametrize("name, version", [("feed.xml", "rss20"), ("atom.xml", "atom10")])
def test_feed_lists_the_newest_published_issues_with_full_content(site: Path, name: str, version: str) -> None:
    parsed = parse(site / name)
    assert parsed.version == version
    assert parsed.feed.title == "Feed Weekly"
    assert [e.id for e in parsed.entries] == [issue_url(n) for n in IN_FEEDS]
    assert [e.link for e in parsed.entries] == [issue_url(n) for n in IN_FEEDS]
    assert [e.title for e in parsed.entries] == [f"Issue number {n}" for n in IN_FEEDS]
    # The issue date at midnight in config.timezone (feedparser gives it in UTC).
    assert [tuple(e.published_parsed[:6]) for e in parsed.entries] == [midnight_utc(2024, 3, n) for n in IN_FEEDS]
    for entry, n in zip(parsed.entries, IN_FEEDS, strict=True):
        (content,) = entry.content
        assert content.type == "text/html"
        # feedparser sanitizes HTML (drops dir=...), so check its text and links here and
        # the exact fragment through lxml below.
        assert f"Summary of the first item of {n}." in lxml.html.fromstring(content.value).text_content()
        for link in entry.links:
            assert_absolute(link.href, f"{name} entry {n}")
    self_links = [link.href for link in parsed.feed.links if link.rel == "self"]
    assert self_links == [URL + name]
    assert [link.href for link in parsed.feed.links if link.rel == "alternate"] == [URL]


def test_rss_parses_with_lxml_and_carries_the_full_content(site: Path) -> None:
    rss = xml(site / "feed.xml")
    assert rss.tag == "rss" and rss.get("version") == "2.0"
    channel = rss.find("channel")
    assert channel.findtext("link") == URL
    items = channel.findall("item")
    assert [i.findtext("guid") for i in items] == [issue_url(n) for n in IN_FEEDS]
    assert all(i.find("guid").get("isPermaLink") == "true" for i in items)
    for item, n in zip(items, IN_FEEDS, strict=True):
        assert_full_content(
            item.findtext("{http://purl.org/rss/1.0/modules/content/}encoded"), n, site, f"feed.xml item {n}"
        )
        # The preheader (derived from the intro, as plain text: links as their text), HTML-escaped as RSS wants.
        assert item.findtext("description") == f"Intro of {n} with a link."  # link text, never the URL (issue 19)


def test_atom_parses_with_lxml_and_carries_the_full_content(site: Path) -> None:
    atom_ns = "{http://www.w3.org/2005/Atom}"
    feed = xml(site / "atom.xml")
    assert feed.tag == f"{atom_ns}feed"
    entries = feed.findall(f"{atom_ns}entry")
    assert [e.findtext(f"{atom_ns}id") for e in entries] == [issue_url(n) for n in IN_FEEDS]
    assert feed.findtext(f"{atom_ns}updated") == "2024-03-05T00:00:00+01:00"  # the newest issue, not the build time
    for entry, n in zip(entries, IN_FEEDS, strict=True):
        content = entry.find(f"{atom_ns}content")
        assert content.get("type") == "html"
        assert_full_content(content.text, n, site, f"atom.xml entry {n}")
        assert entry.findtext(f"{atom_ns}published") == f"2024-03-{n:02d}T00:00:00+01:00"


# --- JSON Feed 1.1 ------------------------------------------------------------------------

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


def validate_json_feed(feed: Any) -> None:
    """The JSON Feed 1.1 rules (https://jsonfeed.org/version/1.1): required fields and types."""
    assert isinstance(feed, dict)
    assert feed["version"] == "https://jsonfeed.org/version/1.1"
    assert isinstance(feed["title"], str) and feed["title"]
    assert isinstance(feed["items"], list)
    for key in ("home_page_url", "feed_url", "icon", "favicon", "next_url"):
        if key in feed:
            assert isinstance(feed[key], str)
            assert_absolute(feed[key], f"feed.json {key}")
    for key in ("description", "user_comment", "language"):
        if key in feed:
            assert isinstance(feed[key], str)
    if "expired" in feed:
        assert isinstance(feed["expired"], bool)
    for author in feed.get("authors", []):
        assert isinstance(author, dict) and set(author) <= {"name", "url", "avatar"} and author
        assert all(isinstance(v, str) for v in author.values())
    assert "author" not in feed, "JSON Feed 1.1 deprecates author: use authors"
    ids = [item["id"] for item in feed["items"]]
    assert len(ids) == len(set(ids)), "item ids must be unique"
    for item in feed["items"]:
        assert isinstance(item, dict)
        assert isinstance(item["id"], str) and item["id"]  # required
        assert isinstance(item.get("content_html"), str) or isinstance(item.get("content_text"), str)  # one is required
        for key in ("url", "external_url", "image", "banner_image"):
            if key in item:
                assert isinstance(item[key], str)
                assert_absolute(item[key], f"feed.json item {key}")
        for key in ("title", "summary", "language"):
            if key in item:
                assert isinstance(item[key], str)
        for key in ("date_published", "date_modified"):
            if key in item:
                assert RFC3339.fullmatch(item[key]), f"{key} {item[key]!r} is not RFC 3339"
                dt.datetime.fromisoformat(item[key])
        if "tags" in item:
            assert all(isinstance(t, str) for t in item["tags"])


def test_json_feed_is_valid_json_feed_1_1_with_the_same_entries(site: Path) -> None:
    raw = (site / "feed.json").read_bytes()
    feed = json.loads(raw)
    validate_json_feed(feed)
    assert feed["home_page_url"] == URL
    assert feed["feed_url"] == URL + "feed.json"
    assert feed["language"] == "en"
    assert feed["authors"] == [{"name": "Ed Itor", "url": "mailto:ed@example.org"}]
    assert [i["id"] for i in feed["items"]] == [issue_url(n) for n in IN_FEEDS]
    assert [i["url"] for i in feed["items"]] == [issue_url(n) for n in IN_FEEDS]
    assert [i["date_published"] for i in feed["items"]] == [f"2024-03-{n:02d}T00:00:00+01:00" for n in IN_FEEDS]
    for item, n in zip(feed["items"], IN_FEEDS, strict=True):
        assert_full_content(item["content_html"], n, site, f"feed.json item {n}")
    # The three formats carry the same content for an issue.
    rss = xml(site / "feed.xml").find("channel").findall("item")
    assert [i.findtext("{http://purl.org/rss/1.0/modules/content/}encoded") for i in rss] == [
        i["content_html"] for i in feed["items"]
    ]


def test_json_feed_validator_rejects_what_the_spec_forbids() -> None:
    """The validator above is a real check: it refuses feeds missing required fields."""
    good = {"version": "https://jsonfeed.org/version/1.1", "title": "T", "items": [{"id": "x", "content_text": "t"}]}
    validate_json_feed(good)
    for bad in (
        {**good, "version": "https://jsonfeed.org/version/1"},
        {k: v for k, v in good.items() if k != "title"},
        {**good, "items": [{"content_text": "no id"}]},
        {**good, "items": [{"id": "x"}]},
        {**good, "items": [{"id": "x", "content_text": "t", "date_published": "2024-03-05"}]},
        {**good, "home_page_url": "/relative/"},
    ):
        with pytest.raises((AssertionError, KeyError)):
            validate_json_feed(bad)


# --- ids, drafts, autodiscovery ---------------------------------------------------------------


def entry_ids(site: Path) -> dict[str, list[str]]:
    return {
        "rss": [e.id for e in parse(site / "feed.xml").entries],
        "atom": [e.id for e in parse(site / "atom.xml").entries],
        "json": [i["id"] for i in json.loads((site / "feed.json").read_bytes())["items"]],
    }


def test_entry_ids_are_stable_across_rebuilds_and_edits_to_title_and_date(site: Path) -> None:
    root = site.parent
    before = entry_ids(site)
    assert before == {kind: [issue_url(n) for n in IN_FEEDS] for kind in before}

    assert run("build", "--root", str(root)).exit_code == 0
    assert entry_ids(site) == before

    (root / "issues" / "0004.yaml").write_text(issue(4, title="A brand new title", date="2024-02-28"), encoding="utf-8")
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert entry_ids(site) == before
    atom = parse(site / "atom.xml")
    edited = next(e for e in atom.entries if e.id == issue_url(4))
    assert edited.title == "A brand new title"  # the edit did reach the feed...
    assert tuple(edited.published_parsed[:6]) == midnight_utc(2024, 2, 28)  # ...with its new date, under the same id


def test_a_correction_shows_as_the_entrys_update_in_every_feed_and_on_the_page(site: Path) -> None:
    root = site.parent
    atom = parse(site / "atom.xml")
    assert all(e.updated_parsed == e.published_parsed for e in atom.entries)  # never corrected: updated = published
    assert "date_modified" not in json.loads((site / "feed.json").read_text(encoding="utf-8"))["items"][1]

    body = issue(4).replace("date: 2024-03-04\n", "date: 2024-03-04\nupdated: 2024-03-20\n")
    (root / "issues" / "0004.yaml").write_text(body, encoding="utf-8")
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output

    atom = parse(site / "atom.xml")
    entry = next(e for e in atom.entries if e.id == issue_url(4))
    assert tuple(entry.published_parsed[:6]) == midnight_utc(2024, 3, 4)
    assert tuple(entry.updated_parsed[:6]) == midnight_utc(2024, 3, 20)
    # The feed changed last when issue 4 was corrected, after the newest issue (5, March 5).
    assert tuple(atom.feed.updated_parsed[:6]) == midnight_utc(2024, 3, 20)
    rss = parse(site / "feed.xml")
    assert tuple(rss.feed.updated_parsed[:6]) == midnight_utc(2024, 3, 20)  # lastBuildDate
    item = next(i for i in rss.entries if i.id == issue_url(4))
    assert tuple(item.published_parsed[:6]) == midnight_utc(2024, 3, 4)  # pubDate stays the publication
    json_feed = json.loads((site / "feed.json").read_text(encoding="utf-8"))
    validate_json_feed(json_feed)
    items = {i["id"]: i for i in json_feed["items"]}
    assert items[issue_url(4)]["date_published"] == "2024-03-04T00:00:00+01:00"
    assert items[issue_url(4)]["date_modified"] == "2024-03-20T00:00:00+01:00"
    assert "date_modified" not in items[issue_url(5)]
    page = lxml.html.fromstring((site / "issues/4/index.html").read_bytes())
    assert page.xpath("//p[@class='date']")[0].text_content() == "March 4, 2024 · Updated March 20, 2024"
    assert page.xpath("//p[@class='date']/time/@datetime") == ["2024-03-04", "2024-03-20"]


@pytest.mark.parametrize("icon", [None, "https://feeds.example.org/icon.png"])
def test_wide_logo_and_square_icon_go_where_each_shape_belongs(
    newsletter: Callable[..., Path], icon: str | None
) -> None:
    theme = "theme:\n  logo: {src: https://feeds.example.org/logo.png, alt: Feed Weekly}\n" + (
        f"  icon: {icon}\n" if icon else ""
    )
    root = newsletter(config=CONFIG + theme, issues={"0001.yaml": issue(1)})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    site = root / "site"
    atom = xml(site / "atom.xml")
    ns = {"a": "http://www.w3.org/2005/Atom"}
    assert atom.xpath("a:logo/text()", namespaces=ns) == ["https://feeds.example.org/logo.png"]
    assert atom.xpath("a:icon/text()", namespaces=ns) == ([icon] if icon else [])
    assert xml(site / "feed.xml").xpath("/rss/channel/image/url/text()") == ["https://feeds.example.org/logo.png"]
    feed = json.loads((site / "feed.json").read_text(encoding="utf-8"))
    validate_json_feed(feed)
    assert (feed.get("icon"), feed.get("favicon")) == (icon, icon)  # never the wide logo, squashed
    for page in ("index.html", "issues/1/index.html"):
        assert lxml.html.fromstring((site / page).read_bytes()).xpath("//link[@rel='icon']/@href") == (
            [icon] if icon else []
        )


def test_drafts_are_never_published_neither_their_files_nor_in_the_archive_and_feeds(site: Path) -> None:
    assert not (site / "issues" / str(DRAFT)).exists()
    draft_url = issue_url(DRAFT)
    archive = lxml.html.fromstring((site / "index.html").read_bytes())
    assert archive.xpath("//ol[@class='issues']/li/a/@href") == [issue_url(n) for n in reversed(PUBLISHED)]
    for name in ("index.html", "feed.xml", "atom.xml", "feed.json"):
        data = (site / name).read_text(encoding="utf-8")
        assert draft_url not in data and f"Issue number {DRAFT}" not in data and f"item of {DRAFT}" not in data, name


def test_archive_links_all_three_feeds_for_autodiscovery(site: Path) -> None:
    archive = lxml.html.fromstring((site / "index.html").read_bytes())
    links = {link.get("type"): link.get("href") for link in archive.xpath("//head/link[@rel='alternate']")}
    assert links == {
        "application/rss+xml": URL + "feed.xml",
        "application/atom+xml": URL + "atom.xml",
        "application/feed+json": URL + "feed.json",
    }
    for link in archive.xpath("//head/link[@rel='alternate']"):
        assert link.get("title"), "each feed link needs a title for the reader's menu"
    for href in links.values():  # each one is a file of the site
        assert (site / urlsplit(href).path.removeprefix(urlsplit(URL).path)).is_file()
