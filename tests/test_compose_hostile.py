"""Hostile pages and feeds: whatever the bytes, metadata and feed reading end in a value or a named error."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from digest.compose.feeds import Feed, FeedError, parse_feed, to_markdown
from digest.compose.meta import PageMeta, encoding_of, page_metadata
from digest.core.loading import NOT_XML

FRAGMENTS = st.sampled_from(
    [
        b"<meta property='og:title' content='",
        b"<meta charset=",
        b"windows-1256>",
        b"x-no-such-charset",
        b"<script type=application/ld+json>",
        b'{"@type": "NewsArticle", "headline": ',
        b'"\\u0000"',
        b"<title>",
        b"</title>",
        b"<link rel=canonical href='javascript:alert(1)'>",
        b"<meta property=og:image content='data:image/png;base64,AA'>",
        b"\x00\x01\xff\xfe",
        b"&#0;&#xD800;&amp;",
        b"<rss version='2.0'><channel><item><title>",
        b"<![CDATA[",
        b"]]>",
        b"<feed xmlns='http://www.w3.org/2005/Atom'>",
        b'{"version": "https://jsonfeed.org/version/1.1", "items": [',
    ]
)
PAGES = st.lists(st.one_of(FRAGMENTS, st.binary(max_size=20)), max_size=12).map(b"".join)


@settings(max_examples=200, deadline=None)
@given(body=PAGES, charset=st.one_of(st.none(), st.sampled_from(["utf-8", "windows-1256", "bogus", "utf-16", ""])))
def test_any_page_gives_metadata_without_markup_or_control_characters(body: bytes, charset: str | None) -> None:
    meta = page_metadata(body, "https://example.org/page", charset)
    assert isinstance(meta, PageMeta)
    assert meta.url.startswith("https://")
    assert meta.image_src is None or meta.image_src.startswith(("http://", "https://"))
    for value in (meta.title, meta.summary, meta.source, meta.author):
        assert value is None or (value == " ".join(value.split()) and not NOT_XML.search(value))
    assert encoding_of(body, charset)


@settings(max_examples=200, deadline=None)
@given(body=PAGES)
def test_any_feed_gives_entries_or_a_feed_error(body: bytes) -> None:
    try:
        feed = parse_feed(body, "https://example.org/feed")
    except FeedError:
        return
    assert isinstance(feed, Feed)
    for e in feed.entries:
        assert e.summary is None or not NOT_XML.search(e.summary)


@settings(max_examples=200, deadline=None)
@given(html=st.text(max_size=200))
def test_summaries_never_carry_live_markup(html: str) -> None:
    # Rendered as digest renders a blurb: no element may run script or load anything but links.
    import lxml.html

    from digest.core.markdown import to_html

    md = to_markdown(
        html + "<script>alert(1)</script><img src=x onerror=alert(1)><iframe src=https://x.example/></iframe>"
    )
    if md is None:
        return
    rendered = lxml.html.fragment_fromstring(str(to_html(md)) or "<p></p>", create_parent="div")
    for el in rendered.iter():
        assert el.tag not in ("script", "img", "iframe", "style", "object", "embed")
        assert not any(name.lower().startswith("on") for name in el.attrib)


# What a reader could see of other people's text: every character a page or a feed may hold,
# weighted towards markdown's own.
OTHERS_TEXT = st.lists(
    st.one_of(
        st.sampled_from(list("\\`*_~[]()<>!&#;:/.|=+-1a@ \n")),
        st.sampled_from(["&amp;", "&#38;", "https:", "1.", "---", "```", "    ", "![i](http://x/y.png)"]),
        st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs")), max_size=5),
    ),
    max_size=30,
).map("".join)


@settings(max_examples=500, deadline=None)
@given(text=OTHERS_TEXT)
def test_escaped_text_renders_as_exactly_that_text(text: str) -> None:
    # Issues 19 and 20: a title or description from someone's page shows as they wrote it,
    # as a block (summary) and as a title; no element but a paragraph comes out of it.
    import lxml.html

    from digest.compose.escape import escape_markdown
    from digest.core.markdown import title_html, to_html

    lines = [" ".join(line.split()) for line in text.split("\n")]
    text = "\n".join(line for line in lines if line)
    if not text:
        return
    title = " ".join(text.split())
    for rendered, source in ((to_html(escape_markdown(text)), text), (title_html(escape_markdown(title)), title)):
        root = lxml.html.fragment_fromstring(str(rendered) or "<p></p>", create_parent="div")
        assert {el.tag for el in root.iter()} <= {"div", "p", "br"}, str(rendered)
        assert " ".join(root.text_content().split()) == " ".join(source.split()), (source, str(rendered))
