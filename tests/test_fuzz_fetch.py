"""Fuzzing the fetchers (issue 20): hostile pages, feeds and redirects served from 127.0.0.1.

The fuzz test of issue 9 (tests/test_fuzz.py) mutates newsletters; this one mutates what
`digest add` and `digest collect` fetch.  Hypothesis builds pages, feeds and redirect targets
from fragments a hostile or broken site produces (markup in metadata, charsets that are
codecs but not text encodings, JSON-LD and HTML nested tens of thousands deep, impossible
dates, canonical URLs elsewhere, redirects to other schemes and broken hosts), a real HTTP
server on 127.0.0.1 serves each, and the public functions the commands run (add_url,
collect) fetch it into a copy of the example newsletter.  For every case:

- the outcome is an item written, or a FetchError / DigestError / a feed's report line:
  one line each, never another exception (which the CLI would print as a traceback, exit 2);
- what was written passes `digest check`'s validation (nothing of the page reads as markup
  digest refuses).

The budget is fixed (CASES examples each, derandomised), so a run finds the same things;
DIGEST_FUZZ_FETCH_CASES widens it by hand.  It is set so that it catches the crashes of
issue 20's item 5: on the code before that fix (e08a1ab, digest/compose only), all three
tests fail, Hypothesis reporting RecursionError (JSON-LD, feed HTML through markdownify, a
JSON Feed), LookupError ('base64' is not a text encoding), UnicodeError (http://a..b/) and
IDNAError (a redirect to http://xn--/).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from webserver import Web, send, serve

from digest.compose.add import add_url
from digest.compose.collect import collect
from digest.compose.net import FetchError
from digest.core.config import load_config
from digest.core.errors import DigestError
from digest.core.issues import load_issue

REPO = Path(__file__).resolve().parent.parent
CASES = int(os.environ.get("DIGEST_FUZZ_FETCH_CASES", "60"))
SETTINGS = settings(
    max_examples=CASES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

MARKUP = st.sampled_from(
    [
        "*stars*",
        "`code`",
        "![img](http://x.example/y.png)",
        "[x](javascript:alert(1))",
        "<https://evil.example/>",
        "# h",
        "1. one",
        "> q",
        "&amp;",
        "| a |",
        "\\",
        "_u_",
    ]
)
TEXT = st.lists(st.one_of(MARKUP, st.text(max_size=12)), max_size=5).map(" ".join)
CHARSETS = st.sampled_from(
    [
        "utf-8",
        "windows-1256",
        "base64",
        "rot13",
        "zlib",
        "hex",
        "uu",
        "bz2",
        "quopri",
        "idna",
        "utf-16",
        "utf-7",
        "bogus",
        "",
    ]
)
DATES = st.sampled_from(
    [
        "2026-03-30",
        "99999-01-01",
        "0001-01-01T00:00:00+14:00",
        "9999-12-31T23:59:59-14:00",
        "2026-02-30",
        "Mon, 30 Mar 2026 10:00:00 +0000",
        "yesterday",
        "",
    ]
)
# Python's parsers recurse about a thousand levels deep; 20,000 is past that by far, and
# cheaper to parse than the 100,000 of the issue's cases (tests/test_fetch_hostile.py has those).
DEPTH = st.sampled_from([0, 1, 50, 5_000, 20_000])
URLS = st.sampled_from(
    [
        "/canon",
        "http://127.0.0.1:1/other-port",
        "https://elsewhere.example/",
        "javascript:alert(1)",
        "http://[::1/",
        "http://xn--/",
        "data:,x",
        "//x..y/",
        "",
    ]
)


def _attr(value: str) -> str:
    return value.replace("&", "&amp;").replace('"', "&quot;").replace("<", "&lt;")


@st.composite
def pages(draw: st.DrawFn) -> tuple[bytes, str]:
    depth = draw(DEPTH)
    charset = draw(CHARSETS)
    ld = {"@type": "NewsArticle", "headline": draw(TEXT), "datePublished": draw(DATES), "author": {"name": draw(TEXT)}}
    ld_text = json.dumps(ld)[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
    head = [
        f"<meta charset={charset}>" if draw(st.booleans()) else "",
        f'<meta property="og:title" content="{_attr(draw(TEXT))}">' if draw(st.booleans()) else "",
        f'<meta property="og:description" content="{_attr(draw(TEXT))}">',
        f'<meta property="og:image" content="{_attr(draw(URLS))}">' if draw(st.booleans()) else "",
        f'<meta property="og:image:alt" content="{_attr(draw(TEXT))}">' if draw(st.booleans()) else "",
        f'<meta property="article:published_time" content="{_attr(draw(DATES))}">',
        f'<link rel="canonical" href="{_attr(draw(URLS))}">',
        f"<script type='application/ld+json'>{ld_text}</script>",
        f"<title>{draw(TEXT).replace('<', '&lt;')}</title>",
    ]
    body = (
        "<!doctype html><html><head>"
        + "".join(head)
        + "</head><body>"
        + "<div>" * depth
        + "x"
        + "</div>" * depth
        + "</body></html>"
    )
    header_charset = draw(CHARSETS)
    return body.encode("utf-8", errors="replace"), header_charset


@st.composite
def feeds(draw: st.DrawFn) -> tuple[bytes, str]:
    depth = draw(DEPTH)
    summary = "<div>" * depth + draw(TEXT) + "</div>" * depth + "<a href='javascript:alert(1)'>x</a>"
    if draw(st.booleans()):
        item = {
            "url": f"https://f.example/{draw(st.integers(0, 10**9))}",
            "title": draw(TEXT),
            "date_published": draw(DATES),
            "content_html": summary,
        }
        doc = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": draw(TEXT), "items": [item]})
        if draw(st.booleans()):
            doc = doc[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}"
        return doc.encode(), "application/feed+json"
    escape = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
    item = (
        f"<item><title>{draw(TEXT).translate(escape)}</title>"
        f"<link>https://f.example/{draw(st.integers(0, 10**9))}</link>"
        f"<pubDate>{draw(DATES)}</pubDate><description>{summary.translate(escape)}</description></item>"
    )
    return (
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>F</title>{item}</channel></rss>".encode(),
        "application/rss+xml",
    )


LOCATIONS = st.one_of(
    st.sampled_from(
        [
            "javascript:alert(1)",
            "data:text/html,x",
            "http://xn--/",
            "http://[::1/",
            "http://a..b/",
            "ftp://x/",
            "http://127.0.0.1:99999/",
            "/ok",
        ]
    ),
    # Any other target stays on this server (a leading "/" and no "//"): the test resolves no names.
    st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=30).map(
        lambda t: "/" + t.lstrip("/\\")
    ),
)


def _newsletter(tmp_path: Path) -> Path:
    root = tmp_path / "example"
    root.mkdir()
    shutil.copy2(REPO / "config.yaml", root)
    shutil.copytree(REPO / "issues", root / "issues")
    return root


def _assert_valid(root: Path) -> None:
    config = load_config(root)
    path = root / "issues" / "0044.yaml"
    _, problems = load_issue(config, 44, path, "issues/0044.yaml")
    assert not [p for p in problems if not p.warning], [str(p) for p in problems]


def _one_line(outcome: Callable[[], object]) -> None:
    """The call ends in a value, or in a one-line FetchError or DigestError; anything else fails the test."""
    try:
        outcome()
    except FetchError as e:
        assert "\n" not in str(e), str(e)
    except DigestError as e:
        assert all("\n" not in str(p) for p in e.problems)


@pytest.mark.slow
def test_hostile_pages_give_an_item_or_one_line(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    server = serve()
    web: Web = next(server)
    counter = iter(range(10**9))

    @SETTINGS
    @given(page=pages())
    def case(page: tuple[bytes, str]) -> None:
        body, charset = page
        path = f"/p/{next(counter)}"
        web.routes[path] = lambda h: send(
            h, 200, body, {"Content-Type": f"text/html; charset={charset}" if charset else "text/html"}
        )
        _one_line(lambda: add_url(root, web.url(path), force=True, timeout=5))
        _assert_valid(root)

    try:
        case()
    finally:
        server.close()


@pytest.mark.slow
def test_hostile_feeds_give_entries_or_one_line(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    server = serve()
    web: Web = next(server)
    counter = iter(range(10**9))

    @SETTINGS
    @given(feed=feeds())
    def case(feed: tuple[bytes, str]) -> None:
        body, kind = feed
        path = f"/f/{next(counter)}"
        web.routes[path] = lambda h: send(h, 200, body, {"Content-Type": kind})

        def run() -> None:
            for report in collect(root, [web.url(path)], timeout=5).reports:
                assert "\n" not in str(report), str(report)

        _one_line(run)
        _assert_valid(root)

    try:
        case()
    finally:
        server.close()


@pytest.mark.slow
def test_hostile_redirects_give_a_page_or_one_line(tmp_path: Path) -> None:
    root = _newsletter(tmp_path)
    server = serve()
    web: Web = next(server)
    web.routes["/ok"] = lambda h: send(h, 200, b"<title>OK</title>", {"Content-Type": "text/html"})
    counter = iter(range(10**9))

    @SETTINGS
    @given(location=LOCATIONS)
    def case(location: str) -> None:
        path = f"/r/{next(counter)}"
        web.routes[path] = lambda h: send(h, 302, b"", {"Location": location})
        _one_line(lambda: add_url(root, web.url(path), force=True, timeout=5))

    try:
        case()
    finally:
        server.close()
