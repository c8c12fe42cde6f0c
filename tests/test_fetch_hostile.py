"""`add` and `collect` against hostile servers, pages and feeds, over real HTTP on 127.0.0.1.

Issue 20 (items 5, 6, 10, 11, 12) and issue 19 (items 1, 2, 11): whatever a server, page or
feed does, the outcome is an item (with a note for what was left out) or one line naming
the URL and the cause, exit 1; never a traceback, never a fetch past its deadline, never
someone else's text read as markdown.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import lxml.html  # type: ignore[import-untyped]
import pytest
import yaml
from conftest import run, tree
from webserver import Web, send, serve

from digest.compose.add import add_url
from digest.compose.meta import page_metadata
from digest.compose.net import FetchError
from digest.core.markdown import to_html

DRAFT = "issues/0044.yaml"


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


def last_item(root: Path) -> dict[str, object]:
    data = yaml.safe_load((root / DRAFT).read_text(encoding="utf-8"))
    return data["sections"][-1]["items"][-1]


def shown(markdown: str) -> str:
    """What a reader sees of a markdown text: the text of its HTML, and no element but <p>."""
    root = lxml.html.fragment_fromstring(str(to_html(markdown)) or "<p></p>", create_parent="div")
    assert {el.tag for el in root.iter()} <= {"div", "p"}, str(to_html(markdown))
    return root.text_content()


def html_page(*head: str) -> bytes:
    return ("<!doctype html><html><head>" + "".join(head) + "</head><body></body></html>").encode("utf-8")


# ---- issue 20.5: what crashed `add` (exit 2) is one line, exit 1, or an item -----------------


@pytest.mark.parametrize(
    ("location", "cause"),
    [
        ("javascript:alert(1)", "redirects to javascript:alert(1): only http and https addresses can be fetched"),
        (
            "data:text/html,<b>x</b>",
            "redirects to data:text/html,<b>x</b>: only http and https addresses can be fetched",
        ),
        ("http://xn--/", "redirects to http://xn--/: not a valid host name: xn--"),
        ("http://[::1/x", "redirects to http://[::1/x: not a valid URL"),
    ],
)
def test_a_redirect_nowhere_is_one_line(example: Path, web: Web, location: str, cause: str) -> None:
    web.routes["/r"] = lambda h: send(h, 302, b"", {"Location": location})
    before = tree(example)
    result = run("add", web.url("/r"), "--root", str(example))
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == f"{web.url('/r')}: {cause}; nothing was written\n"
    assert tree(example) == before


@pytest.mark.parametrize(
    ("url", "host"),
    [("http://a..b/", "a..b"), ("http://xn--/", "xn--"), (f"http://{'a' * 64}.example/", f"{'a' * 64}.example")],
)
def test_a_host_dns_cannot_hold_is_one_line(example: Path, url: str, host: str) -> None:
    result = run("add", url, "--root", str(example))
    assert (result.exit_code, result.stderr) == (1, f"{url}: not a valid host name: {host}; nothing was written\n")


@pytest.mark.parametrize("charset", ["base64", "rot13", "zlib", "hex", "uu", "bz2", "quopri", "idna"])
def test_a_charset_that_is_not_a_text_encoding_is_ignored(example: Path, web: Web, charset: str) -> None:
    # Declared in the header and in the page: neither is a charset, so the page is read as UTF-8.
    body = f"<meta charset={charset}><title>Ünïcode title</title>".encode()
    web.routes["/p"] = lambda h: send(h, 200, body, {"Content-Type": f"text/html; charset={charset}"})
    result = run("add", web.url("/p"), "--root", str(example))
    assert (result.exit_code, result.stderr) == (0, "")
    assert last_item(example)["title"] == "Ünïcode title"


def test_json_ld_nested_too_deep_is_skipped_like_a_broken_block(example: Path, web: Web) -> None:
    deep = '{"@type": "NewsArticle", "headline": "LD", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    body = html_page("<title>From the title</title>", f"<script type='application/ld+json'>{deep}</script>")
    web.routes["/p"] = lambda h: send(h, 200, body, {"Content-Type": "text/html"})
    result = run("add", web.url("/p"), "--root", str(example))
    assert (result.exit_code, result.stderr) == (0, "")
    assert last_item(example)["title"] == "From the title"


# ---- issue 20.6: a deadline for the whole fetch ------------------------------------------------


def trickle(web: Web, seconds: float) -> None:
    """A server that sends its header block a byte every 50 ms for ``seconds``, then a page:
    every read gets data well within any per-read timeout."""

    def route(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nX-Slow: ")
        end = time.monotonic() + seconds
        while time.monotonic() < end and not web.stop.wait(0.05):
            h.wfile.write(b"z")
        h.wfile.write(b"\r\n\r\n<title>Slow but whole</title>")

    web.routes["/slow"] = route


def test_a_header_block_sent_slowly_meets_the_deadline(example: Path, web: Web) -> None:
    trickle(web, 4)
    before = tree(example)
    with pytest.raises(FetchError) as e:
        add_url(example, web.url("/slow"), timeout=0.5)
    assert str(e.value) == f"{web.url('/slow')}: timed out after 0.5 s"
    assert tree(example) == before


def test_the_deadline_is_an_option_of_add_and_collect(example: Path, web: Web) -> None:
    trickle(web, 4)
    result = run("add", web.url("/slow"), "--root", str(example), "--timeout", "0.5")
    assert (result.exit_code, result.stderr) == (1, f"{web.url('/slow')}: timed out after 0.5 s; nothing was written\n")
    result = run("collect", web.url("/slow"), "--root", str(example), "--timeout", "0.5")
    assert (result.exit_code, result.stderr) == (1, f"{web.url('/slow')}: timed out after 0.5 s\n")


# ---- issue 19.1, 19.2, 20.10: other people's text is escaped ----------------------------------

HOSTILE_TITLE = "Use `rm -rf` and *stars* [x](javascript:alert(1)) <https://evil.example/> &amp; #1"
HOSTILE_SUMMARY = "*stars* and ![img](http://x.example/y.png) and _under_ ~~gone~~ | a | b"


def test_page_metadata_shows_exactly_as_the_page_wrote_it(example: Path, web: Web) -> None:
    body = html_page(
        f'<meta property="og:title" content="{html.escape(HOSTILE_TITLE)}">',
        f'<meta property="og:description" content="{html.escape(HOSTILE_SUMMARY)}">',
    )
    web.routes["/p"] = lambda h: send(h, 200, body, {"Content-Type": "text/html"})
    result = run("add", web.url("/p"), "--root", str(example))
    # Before: "issues/0044.yaml:NN: …title: markdown link target must be…", a line of a file never written.
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f'added "{HOSTILE_TITLE}" to {DRAFT}\n'
    item = last_item(example)
    assert shown(str(item["title"])) == HOSTILE_TITLE  # no code, no emphasis, no link
    assert shown(str(item["summary"])) == HOSTILE_SUMMARY  # no image from a third party
    check = run("check", "--root", str(example))
    assert check.exit_code == 0, check.output


def test_feed_titles_and_summaries_show_exactly_as_the_feed_wrote_them(example: Path, web: Web) -> None:
    today = dt.date.today().isoformat()
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Hostile",
        "items": [
            {"url": "https://h.example/1", "title": HOSTILE_TITLE, "date_published": today, "summary": HOSTILE_SUMMARY},
            {
                "url": "https://h.example/2",
                "title": "Two",
                "date_published": today,
                "content_html": (
                    "<p>*not bold* <a href='javascript:alert(1)'>click</a> <a href='https://ok.example/'>ok</a></p><p>#"
                    " not a heading</p>"
                ),
            },
        ],
    }
    web.routes["/f.json"] = lambda h: send(h, 200, json.dumps(feed).encode(), {"Content-Type": "application/feed+json"})
    result = run("collect", web.url("/f.json"), "--root", str(example))
    # Before: the javascript: link failed the whole collect at lines of the draft that were never written.
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((example / DRAFT).read_text(encoding="utf-8"))
    one, two = data["sections"][-1]["items"][-2:]
    assert shown(one["title"]) == HOSTILE_TITLE
    assert shown(one["summary"]) == HOSTILE_SUMMARY
    assert (
        two["summary"] == "\\*not bold\\* click [ok](https://ok.example/)\n\n\\# not a heading"
    )  # the javascript: link keeps its words only
    check = run("check", "--root", str(example))
    assert check.exit_code == 0, check.output


# ---- issue 20.12: same origin ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("canonical", "expected"),
    [
        ("http://news.example:8080/canon", "http://news.example/a"),  # another port: another server
        ("https://news.example/canon", "http://news.example/a"),  # another scheme
        ("http://news.example:80/canon", "http://news.example:80/canon"),  # the default port, spelt out
        ("http://www.news.example/canon", "http://www.news.example/canon"),  # www. is the one difference allowed
    ],
)
def test_a_canonical_url_is_trusted_only_from_the_same_origin(canonical: str, expected: str) -> None:
    meta = page_metadata(
        html_page("<title>T</title>", f'<link rel="canonical" href="{canonical}">'), "http://news.example/a"
    )
    assert meta.url == expected


# ---- issue 19.11: what add leaves out is said ------------------------------------------------


def test_an_image_without_alt_and_an_unreadable_date_are_notes(example: Path, web: Web) -> None:
    body = html_page(
        '<meta property="og:title" content="T">',
        '<meta property="og:image" content="/i.png">',
        '<meta property="article:published_time" content="99999-01-01">',
    )
    web.routes["/p"] = lambda h: send(h, 200, body, {"Content-Type": "text/html"})
    result = run("add", web.url("/p"), "--root", str(example))
    assert result.exit_code == 0
    url = web.url("/p")
    assert (
        result.stderr
        == f"{url}: note: the page's og:image ({web.base}/i.png) has no og:image:alt, and an image's alt text is never"
        f" invented: to show it, add under the item: image: {{src: {web.base}/i.png, alt: what the image"
        f" shows}}\n{url}: note: the page's article:published_time '99999-01-01' is not a date digest can read: the"
        " item has no date\n"
    )
    assert last_item(example) == {"title": "T", "url": url}


# ---- collect: issue 20.5, 20.11, 19.11 -------------------------------------------------------


def rss(*items: str) -> bytes:
    return (
        "<?xml version='1.0'?><rss version='2.0'><channel><title>Blog</title>" + "".join(items) + "</channel></rss>"
    ).encode()


def rss_item(n: int, date: str, description: str = "") -> str:
    return (
        "<item><title>Post"
        f" {n}</title><link>https://blog.example/{n}</link><pubDate>{date}</pubDate><description>{description}</description></item>"
    )


def test_a_date_that_cannot_be_read_leaves_the_entry_undated_with_a_note(example: Path, web: Web) -> None:
    feed = rss(rss_item(1, "99999-01-01"), rss_item(2, "Mon, 30 Mar 2026 10:00:00 +0000"))
    web.routes["/rss"] = lambda h: send(h, 200, feed, {"Content-Type": "application/rss+xml"})
    url = web.url("/rss")
    result = run("collect", url, "--root", str(example))
    # Before: 99999-01-01 became 9999-12-01, a real-looking date, and the entry was added.
    assert result.exit_code == 0
    assert result.stdout == f"{url}: added 1, skipped 1 (1 undated)\nadded 1 item to {DRAFT}\n"
    assert (
        result.stderr
        == f"{url}: note: https://blog.example/1 has a date that cannot be read ('99999-01-01'): it was skipped as"
        " undated\n"
    )
    assert last_item(example)["url"] == "https://blog.example/2"


def test_a_json_feed_date_before_year_one_in_utc_is_unreadable_not_a_crash(example: Path, web: Web) -> None:
    feed = {
        "version": "https://jsonfeed.org/version/1.1",
        "items": [{"url": "https://j.example/1", "title": "J", "date_published": "0001-01-01T00:00:00+14:00"}],
    }
    web.routes["/f.json"] = lambda h: send(h, 200, json.dumps(feed).encode(), {"Content-Type": "application/feed+json"})
    url = web.url("/f.json")
    result = run("collect", url, "--root", str(example))
    assert (result.exit_code, result.stdout) == (
        0,
        f"{url}: added 0, skipped 1 (1 undated)\nnothing new; {DRAFT} is unchanged\n",
    )
    assert (
        result.stderr
        == f"{url}: note: https://j.example/1 has a date that cannot be read ('0001-01-01T00:00:00+14:00'): it was"
        " skipped as undated\n"
    )


def test_a_json_feed_nested_too_deep_is_a_broken_feed(example: Path, web: Web) -> None:
    body = b'{"version": "https://jsonfeed.org/version/1.1", "items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    web.routes["/f.json"] = lambda h: send(h, 200, body, {"Content-Type": "application/feed+json"})
    before = tree(example)
    result = run("collect", web.url("/f.json"), "--root", str(example))
    assert (result.exit_code, result.stderr) == (
        1,
        f"{web.url('/f.json')}: not a JSON Feed (nested too deeply to read)\n",
    )
    assert tree(example) == before


@pytest.mark.slow  # hostile input: feedparser takes seconds over 50,000 nested elements
def test_a_summary_of_50000_nested_divs_is_kept_as_its_text(example: Path, web: Web) -> None:
    deep = html.escape("<div>" * 50_000 + "Deep *text*" + "</div>" * 50_000)
    web.routes["/rss"] = lambda h: send(
        h, 200, rss(rss_item(1, "Mon, 30 Mar 2026 10:00:00 +0000", deep)), {"Content-Type": "application/rss+xml"}
    )
    result = run("collect", web.url("/rss"), "--root", str(example))
    assert result.exit_code == 0, result.output
    assert last_item(example)["summary"] == "Deep \\*text\\*"


def test_without_a_published_issue_the_last_week_is_new_with_a_hint(example: Path, web: Web) -> None:
    for n in (41, 42, 43):  # only the draft is left: nothing is published
        (example / f"issues/00{n}.yaml").unlink()
    today = dt.date.today()
    old, recent = today - dt.timedelta(days=30), today - dt.timedelta(days=2)
    feed = rss(rss_item(1, f"{old:%d %b %Y} 10:00:00 +0000"), rss_item(2, f"{recent:%d %b %Y} 10:00:00 +0000"))
    web.routes["/rss"] = lambda h: send(h, 200, feed, {"Content-Type": "application/rss+xml"})
    url, since = web.url("/rss"), (today - dt.timedelta(days=7)).isoformat()
    result = run("collect", url, "--root", str(example))
    # Before: both were taken, the month-old one included, without a word about --since.
    assert result.exit_code == 0
    assert result.stdout == f"{url}: added 1, skipped 1 (1 before {since})\nadded 1 item to {DRAFT}\n"
    assert (
        result.stderr
        == f"note: no issue is published yet, so entries from the last 7 days (since {since}) are new; --since DATE"
        " reaches further back\n"
    )
    assert last_item(example)["url"] == "https://blog.example/2"


def test_a_blog_page_is_followed_to_the_feed_it_names(example: Path, web: Web) -> None:
    page = html_page(
        "<title>Blog</title>", '<link rel="alternate" type="application/rss+xml" title="Posts" href="/rss">'
    )
    web.routes["/blog/"] = lambda h: send(h, 200, page, {"Content-Type": "text/html; charset=utf-8"})
    web.routes["/rss"] = lambda h: send(
        h, 200, rss(rss_item(1, "Mon, 30 Mar 2026 10:00:00 +0000")), {"Content-Type": "application/rss+xml"}
    )
    url = web.url("/blog/")
    result = run("collect", url, "--root", str(example))
    # Before: "…/blog/: not an RSS, Atom or JSON feed", exit 1.
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{url}: added 1, skipped 0\nadded 1 item to {DRAFT}\n"
    assert (
        result.stderr
        == f"{url}: note: is a web page; read the feed it names, {web.base}/rss (name that to skip this step)\n"
    )
    assert last_item(example)["url"] == "https://blog.example/1"


def test_an_unreadable_date_gives_way_to_a_readable_one() -> None:
    ld = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "headline": "H", "datePublished":'
        ' "2026-01-03"}</script>'
    )
    page = html_page('<meta property="article:published_time" content="99999-01-01">', ld)
    meta = page_metadata(page, "https://news.example/a")
    assert (meta.date, meta.notes) == (dt.date(2026, 1, 3), ())
