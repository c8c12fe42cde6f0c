"""digest.core.urls: the shared check for URL-valued settings, and one page, one link, however it was spelt."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import MINIMAL_CONFIG

from digest.core.config import load_config
from digest.core.errors import DigestError
from digest.core.models import FeedSource
from digest.core.urls import MERGE_TAG_EXAMPLES, normalize_url, scheme, strip_tracking, url_problem

MERGE_TAGS = [
    "*|UNSUB|*",
    "{{ UnsubscribeURL }}",
    "{{ unsubscribe_url }}",
    "%unsubscribe_url%",
    "[unsubscribe]",
    "<%asm_group_unsubscribe_raw_url%>",
    "%%unsubscribe_url%%",
]
URLS = ["https://example.org/u?id=*|UNIQID|*", "http://example.org/", "mailto:leave@example.org?subject=unsubscribe"]
# Spellings a browser still reads as the scheme: case, leading spaces and controls, tabs and newlines inside.
REFUSED_SCHEMES = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "java\nscript:alert(1)",
    "\x01javascript:x",
    "data:text/html,<b>",
    "vbscript:msgbox",
    "file:///etc/passwd",
    "ftp://example.org/",
]


@pytest.mark.parametrize("value", MERGE_TAGS + URLS)
def test_unsubscribe_accepts_urls_mailto_and_merge_tags(value: str) -> None:
    assert url_problem(value, mailto=True, merge_tag=True) is None


@pytest.mark.parametrize("value", REFUSED_SCHEMES)
def test_any_other_scheme_is_refused_however_it_is_spelt(value: str) -> None:
    why = url_problem(value, mailto=True, merge_tag=True)
    assert why is not None and why.startswith("must be an http(s) or mailto URL")


def test_the_message_names_what_is_allowed() -> None:
    assert (
        url_problem("javascript:alert(1)", mailto=True, merge_tag=True)
        == f"must be an http(s) or mailto URL or a mailing service's merge tag such as {MERGE_TAG_EXAMPLES} (text with"
        " no scheme), got 'javascript:alert(1)'"
    )
    assert (
        url_problem("example.org/leave", mailto=True, merge_tag=True)
        == f"must be a full URL (like https://example.org/leave) or a merge tag such as {MERGE_TAG_EXAMPLES}, got"
        " 'example.org/leave'"
    )


@pytest.mark.parametrize("value", MERGE_TAGS + ["mailto:a@example.org", "javascript:x"])
def test_plain_url_keys_take_http_only(value: str) -> None:
    assert url_problem(value) is not None


def test_scheme_is_read_as_a_browser_reads_it() -> None:
    assert scheme(" \tJava\nScript:x") == "javascript"
    assert scheme("{{ unsubscribe:url }}") is None
    assert scheme("*|UNSUB|*") is None


@pytest.mark.parametrize(
    "spelling",
    [
        "https://example.com/a/b",
        "http://example.com/a/b",
        "https://www.example.com/a/b",
        "https://EXAMPLE.com/a/b/",
        "https://example.com:443/a/b",
        "http://example.com:80/a/b",
        "https://example.com/a/b#comments",
        "https://example.com/a/b?utm_source=newsletter&utm_medium=email",
        "https://example.com/a/b?fbclid=IwAR0&gclid=x1&mc_eid=abc123&UTM_Campaign=c",
        "  https://example.com/a/b  ",
    ],
)
def test_spellings_of_one_page_compare_equal(spelling: str) -> None:
    assert normalize_url(spelling) == "example.com/a/b"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a", "https://example.com/b"),
        ("https://example.com/a?id=1", "https://example.com/a?id=2"),
        ("https://example.com/A", "https://example.com/a"),  # paths are case-sensitive
        ("https://example.com:8443/a", "https://example.com/a"),
        ("https://blog.example.com/a", "https://example.com/a"),
    ],
)
def test_different_pages_stay_different(a: str, b: str) -> None:
    assert normalize_url(a) != normalize_url(b)


def test_query_order_and_encoding_do_not_matter() -> None:
    assert normalize_url("https://example.com/s?b=2&a=%7Ex") == normalize_url("https://example.com/s?a=~x&b=2")
    assert normalize_url("https://bücher.example/ü") == normalize_url("https://xn--bcher-kva.example/%C3%BC")


def test_what_is_not_a_web_link_is_compared_as_written() -> None:
    assert normalize_url("mailto:editor@example.org") == "mailto:editor@example.org"
    assert normalize_url("https://example.com:99999/x") == "https://example.com:99999/x"


@pytest.mark.parametrize(
    ("url", "clean"),
    [
        ("https://example.com/a?utm_source=x&id=7&fbclid=y#part", "https://example.com/a?id=7#part"),
        ("https://example.com/a?utm_source=x", "https://example.com/a"),
        ("https://example.com/a?q=a%20b&mc_eid=1", "https://example.com/a?q=a%20b"),  # what stays keeps its spelling
        ("https://www.Example.com/a/?id=7", "https://www.Example.com/a/?id=7"),  # nothing to strip: untouched
    ],
)
def test_strip_tracking_removes_only_tracking_parameters(url: str, clean: str) -> None:
    assert strip_tracking(url) == clean


def test_sources_in_config_are_validated(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=MINIMAL_CONFIG
        + "sources:\n  - url: https://blog.example.org/feed.xml\n  - url: https://news.example.org/atom.xml\n   "
        " section: News\n"
    )
    assert load_config(root).sources == (
        FeedSource("https://blog.example.org/feed.xml"),
        FeedSource("https://news.example.org/atom.xml", "News"),
    )


@pytest.mark.parametrize(
    ("sources", "message"),
    [
        (
            "sources: https://x.example/feed\n",
            (
                "config.yaml:3: sources: must be a list (each entry on its own line, starting with '- '), got text"
                " ('https://x.example/feed')"
            ),
        ),
        ("sources:\n  - section: News\n", "config.yaml:4: sources[1]: missing required key 'url'"),
        (
            "sources:\n  - url: file:///etc/passwd\n",
            "config.yaml:4: sources[1].url: must be an http(s) URL, got 'file:///etc/passwd'",
        ),
        (
            "sources:\n  - url: https://x.example/feed\n    sektion: News\n",
            "config.yaml:5: sources[1].sektion: unknown key; did you mean 'section'?",
        ),
    ],
)
def test_bad_sources_name_line_and_key(newsletter: Callable[..., Path], sources: str, message: str) -> None:
    root = newsletter(config=MINIMAL_CONFIG + sources)
    with pytest.raises(DigestError) as e:
        load_config(root)
    assert str(e.value) == message


def canonical_key(url: str) -> str:
    """The key by w3lib alone, bypassing the shortcut for plain links."""
    from urllib.parse import urlencode

    from digest.core import urls

    prepared = urls._prepare(url)
    if isinstance(prepared, str):
        return prepared
    netloc, path, pairs = prepared
    return urls._canonical_key(url.strip(), netloc, path, urlencode(pairs))


def test_the_plain_link_shortcut_agrees_with_w3lib() -> None:
    samples = [
        "https://example.com/a/b-c_d.e~f/?id=7&page=2",
        "https://EXAMPLE.com/A/(x)*+,;=:@!$'",
        "https://example.com",
        "https://example.com:8080/x?b=&a=1&a=0",
        "http://www.example.com/path/?z=1&y=2#frag",
    ]
    for url in samples:
        assert normalize_url(url) == canonical_key(url), url
    corpus = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "this-week-in-rust" / "issues"
    if not corpus.is_dir():
        corpus = Path("/work/shared/corpora/this-week-in-rust/issues")
    if not corpus.is_dir():
        pytest.skip("the This Week in Rust corpus is not here")
    import re as _re

    urls = {
        u
        for f in sorted(corpus.glob("*.yaml"))[::8]
        for u in _re.findall(r"url: (https?://\S+)", f.read_text(encoding="utf-8"))
    }
    assert len(urls) > 1000
    disagree = [u for u in urls if normalize_url(u) != canonical_key(u)]
    assert disagree == []


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_URL_CHARS = st.text(st.sampled_from("aZ09-._~/!$&'()*+,;=:@%?#éü /"), max_size=25)


@settings(max_examples=300, deadline=None)
@given(
    host=st.sampled_from(["example.com", "WWW.Example.org", "bücher.de", "xn--bcher-kva.de", "127.0.0.1:8080"]),
    rest=_URL_CHARS,
)
def test_the_shortcut_and_w3lib_agree_on_generated_links(host: str, rest: str) -> None:
    url = f"https://{host}/{rest}"
    try:
        expected = canonical_key(url)
    except ValueError:
        return
    assert normalize_url(url) == expected


def test_the_scheme_is_read_as_a_browser_reads_it_after_leading_controls() -> None:
    """Browsers drop leading C0 controls and spaces (all of U+0000-U+0020), not a hyphen."""
    from digest.core.urls import scheme

    assert scheme("\x01\x1fjavascript:alert(1)") == "javascript"
    assert scheme("-javascript:alert(1)") is None  # a relative reference, not a javascript: URL
