"""Escaping and injection (issue 4): whatever text an editor pastes, it stays text.

Hypothesis writes newsletter folders whose every text field (config title and
description, author, logo alt; issue title, subject, preheader; section titles; item
titles, sources, authors, image alts; intro, summaries and outro) holds arbitrary
Unicode mixed with markup-like and template-like fragments (``<script>``, ``]]>``,
``{{ 7*7 }}``, ``{% raw %}``, ``&amp;``, RTL marks, quotes, backslashes).  The YAML is
written by ``yaml.safe_dump``, so the values reach digest exactly as generated.  The real
CLI builds the folder, and for every output (email HTML, web HTML, archive, plain text,
RSS, Atom, JSON Feed) the test asserts that

- it parses: lxml.html, lxml.etree (no recovery), json, feedparser without bozo;
- each field's text comes back as text, where it belongs (the item title is the text
  of the item's heading, the feed entry's title, a line of the text email...);
- no element or attribute comes from user text: no <script>, no on* attribute, every
  link and image points to a URL the test put there;
- nothing is evaluated as a template: ``{{ 7*7 }}`` is still ``{{ 7*7 }}``, never 49.

Validation collapses runs of whitespace in one-line fields (``title:``...), so the
expected text of a field is its value with whitespace collapsed.  Section and item titles
are inline markdown, so they are written escaped (below) like markdown fields, and must
show exactly as generated.  Markdown fields are
written with every ASCII punctuation character backslash-escaped, so markdown leaves
their text alone and the rendered text must equal it; a second kind of markdown value
is raw markup-like text (``<script>``, ``<img onerror>``), which must show as text.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import feedparser
import lxml.etree
import lxml.html
import pytest
import yaml
from conftest import columns, run, wrapped
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow  # property tests (hypothesis): the fast tier is -m 'not slow'

SITE_URL = "https://news.example.org/digest/"
NUMBER = 41
ISSUE_URL = f"{SITE_URL}issues/{NUMBER}/"
FEED_URLS = {f"{SITE_URL}feed.xml", f"{SITE_URL}atom.xml", f"{SITE_URL}feed.json"}
LOGO_SRC = "https://news.example.org/logo.png"
AUTHOR_EMAIL = "editor@example.org"

# Valid http(s) URLs that are hostile to naive attribute or template handling.
ITEM_URLS = [
    "https://example.com/plain",
    "https://example.com/q?a=1&b=2&amp;c=3",
    'https://example.com/"><script>alert(1)</script>',
    "https://example.com/{{7*7}}/{%raw%}",
    "https://example.com/it's/`back`/\\slash",
    "https://example.com/%3Cb%3E#frag",
    "https://éxample.com/ünïcode/مرحبا",
]
IMAGE_SRCS = ["https://example.com/i.png", 'https://example.com/i.png?x="1"&y=<2>']
UNSUBSCRIBE_URLS = ["*|UNSUB|*", "{{ UnsubscribeURL }}", "{{ unsubscribe_url }}", "https://x.example/u?a=1&b=2"]

FRAGMENTS = [
    "<script>alert(1)</script>",
    "</script>",
    "<img src=x onerror=alert(1)>",
    '" onmouseover="alert(1)" x="',
    "' onfocus='alert(1)",
    "]]>",
    "<![CDATA[",
    "<!-- c -->",
    "{{ 7*7 }}",
    "{% raw %}",
    "{% endraw %}",
    "{# c #}",
    "${7*7}",
    "#{7*7}",
    "&amp;",
    "&lt;b&gt;",
    "&#60;i&#62;",
    "&nbsp;",
    "\u200f",  # RIGHT-TO-LEFT MARK
    "\u202e",  # RIGHT-TO-LEFT OVERRIDE
    "\u200e\u2066\u2069",
    '"',
    "'",
    "\\",
    "\\n",
    "*|UNSUB|*",
    "**bold**",
    "[x](https://evil.example/)",
    "`code`",
    "<",
    ">",
    "&",
]

# Raw markdown: markup-like text markdown must show as text (no autolink-shaped
# "<scheme:...>" pieces, which validation rightly refuses).
RAW_MARKDOWN = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<a href="https://evil.example/">x</a>',
    "<b>bold?</b>",
    "{{ 7*7 }}",
    "{% raw %}",
    "]]>",
    "&amp;",
    "\u202e",
    "plain words",
]
# The raw pieces markdown has no business changing (two "7*7" make an emphasis, "&amp;" is "&").
SHOWN_AS_WRITTEN = [piece for piece in RAW_MARKDOWN if not set(piece) & set("*_`[&\\")]


def xml_char(ch: str) -> bool:
    """XML 1.0's Char production: what an XML document (and so digest) can carry."""
    o = ord(ch)
    return ch in "\t\n\r" or 0x20 <= o <= 0xD7FF or 0xE000 <= o <= 0xFFFD or o >= 0x10000


# C1 controls (U+0080-U+009F) are left out too: XML carries them, but HTML calls them
# parse errors and feed readers (feedparser among them) read them as the Windows-1252
# characters they were mis-decoded from (U+0096 shows as "–"), so no output can promise to
# show them as written.  Validation should refuse them like the C0 controls (reported).
CHARS = st.characters(blacklist_categories=("Cs",)).filter(lambda ch: xml_char(ch) and not 0x80 <= ord(ch) <= 0x9F)


def collapse(text: str) -> str:
    """What validation keeps of a one-line field: whitespace runs become one space."""
    return " ".join(text.split())


one_line = (
    st.lists(st.one_of(st.sampled_from(FRAGMENTS), st.text(CHARS, min_size=1, max_size=8)), min_size=1, max_size=5)
    .map("".join)
    .map(collapse)
    .filter(bool)
)

_MD_PUNCT = re.compile(r"([!-/:-@\[-`{-~])")


def md_literal(text: str) -> str:
    """Markdown whose rendered text is ``text``: every ASCII punctuation character escaped."""
    return _MD_PUNCT.sub(r"\\\1", text)


@dataclass(frozen=True)
class Markdown:
    source: str  # what goes into the YAML
    text: str | None  # the exact text it renders to; None for raw markup-like markdown


markdown = st.one_of(
    one_line.map(lambda t: Markdown(md_literal(t), t)),
    st.lists(st.sampled_from(RAW_MARKDOWN), min_size=1, max_size=4).map(lambda parts: Markdown(" ".join(parts), None)),
)


@dataclass
class Item:
    title: str | None
    url: str | None
    summary: Markdown | None
    source: str | None
    author: str | None
    image: tuple[str, str] | None  # (src, alt)


@dataclass
class Section:
    title: str | None
    items: list[Item]


@dataclass
class Case:
    config_title: str
    description: str
    language: str
    author_name: str
    logo_alt: str
    unsubscribe: str
    title: str | None
    subject: str
    preheader: str
    intro: Markdown | None
    outro: Markdown | None
    sections: list[Section] = field(default_factory=list)

    @property
    def issue_title(self) -> str:
        return self.title if self.title is not None else f"{self.config_title} – {NUMBER}"

    @property
    def items(self) -> list[Item]:
        return [item for section in self.sections for item in section.items]

    def config_yaml(self) -> dict[str, Any]:
        return {
            "title": self.config_title,
            "url": SITE_URL,
            "description": self.description,
            "language": self.language,
            "timezone": "Europe/Berlin",
            "author": {"name": self.author_name, "email": AUTHOR_EMAIL},
            "email": {"from": "News <news@example.org>", "unsubscribe_url": self.unsubscribe},
            "theme": {"logo": {"src": LOGO_SRC, "alt": self.logo_alt}},
        }

    def issue_yaml(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"number": NUMBER, "date": dt.date(2024, 5, 3)}
        if self.title is not None:
            doc["title"] = self.title
        doc.update(subject=self.subject, preheader=self.preheader)
        if self.intro:
            doc["intro"] = self.intro.source
        doc["sections"] = []
        for section in self.sections:
            # Titles are inline markdown: written escaped, they must show exactly as generated.
            s: dict[str, Any] = {"title": md_literal(section.title)} if section.title is not None else {}
            s["items"] = []
            for item in section.items:
                i: dict[str, Any] = {}
                for key in ("title", "url", "source", "author"):
                    if getattr(item, key) is not None:
                        i[key] = getattr(item, key)
                if item.title is not None:
                    i["title"] = md_literal(item.title)
                if item.summary:
                    i["summary"] = item.summary.source
                if item.image:
                    i["image"] = {"src": item.image[0], "alt": item.image[1]}
                s["items"].append(i)
            doc["sections"].append(s)
        if self.outro:
            doc["outro"] = self.outro.source
        return doc


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def items(draw: st.DrawFn) -> Item:
    title = draw(optional(one_line))
    summary = draw(markdown if title is None else optional(markdown))  # an item needs one of them
    image = draw(optional(st.tuples(st.sampled_from(IMAGE_SRCS), one_line)))
    return Item(
        title,
        draw(optional(st.sampled_from(ITEM_URLS))),
        summary,
        draw(optional(one_line)),
        draw(optional(one_line)),
        image,
    )


sections = st.builds(Section, optional(one_line), st.lists(items(), min_size=1, max_size=3))

cases = st.builds(
    Case,
    config_title=one_line,
    description=one_line,
    language=st.sampled_from(["en", "ar"]),
    author_name=one_line,
    logo_alt=one_line,
    unsubscribe=st.sampled_from(UNSUBSCRIBE_URLS),
    title=optional(one_line),
    subject=one_line,
    preheader=one_line,
    intro=optional(markdown),
    outro=optional(markdown),
    sections=st.lists(sections, min_size=1, max_size=2),
)


def dump(path: Path, doc: dict[str, Any]) -> None:
    path.write_text(yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=1 << 20), encoding="utf-8")


def write_newsletter(root: Path, case: Case) -> None:
    (root / "issues").mkdir(parents=True)
    dump(root / "config.yaml", case.config_yaml())
    dump(root / "issues" / f"{NUMBER:04d}.yaml", case.issue_yaml())


# --- parsing ----------------------------------------------------------------------------


def parse_html(data: bytes) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))


def parse_fragment(html: str) -> lxml.html.HtmlElement:
    """An HTML fragment (feed content, RSS description) inside a <div>."""
    return lxml.html.fragment_fromstring(html, create_parent="div")


def parse_xml(data: bytes) -> lxml.etree._Element:
    return lxml.etree.fromstring(
        data, parser=lxml.etree.XMLParser(recover=False, resolve_entities=False, no_network=True)
    )


def text_of(el: lxml.etree._Element) -> str:
    return el.text_content() if isinstance(el, lxml.html.HtmlElement) else "".join(el.itertext())


def texts(doc: lxml.etree._Element, xpath: str) -> list[str]:
    return [text_of(el) for el in doc.xpath(xpath)]


def assert_no_live_markup(
    doc: lxml.html.HtmlElement, hrefs: set[str], srcs: set[str], where: str, *, search: bool = False
) -> None:
    """No element or attribute made from user text, and every link is one the test wrote (or a permalink to an
    element of the page).  ``search``: the archive's search box, Pagefind's interface from the site's own
    pagefind/ folder and its set-up script, are the page's only scripts."""
    scripts = doc.xpath("//script")
    if search:
        assert [s.get("src") for s in scripts][1:] == [None], f"{where}: scripts {scripts!r}"
        src = scripts[0].get("src") or ""
        assert re.fullmatch(r"pagefind/\d+/pagefind-ui\.js", src), f"{where}: script {src!r}"
        setup = scripts[1].text or ""
        assert setup.startswith('window.addEventListener("DOMContentLoaded"') and "<" not in setup, where
        hrefs = hrefs | {src.removesuffix(".js") + ".css"}
    else:
        assert not scripts, f"{where}: live markup element"
    assert not doc.xpath("//iframe|//object|//embed|//form|//svg|//math"), f"{where}: live markup element"
    anchors = {f"#{name}" for name in doc.xpath("//section/@id|//article/@id|//div/@id")}
    for permalink in doc.xpath("//a[@class='permalink']"):
        assert permalink.get("href") in anchors, f"{where}: permalink to {permalink.get('href')!r}, no such element"
        hrefs = hrefs | {permalink.get("href")}
    # Elements and comments only user text could have made (the templates use neither).
    assert not doc.xpath("//b|//i|//comment()[normalize-space(.) = 'c']"), f"{where}: markup from user text"
    for el in doc.iter(lxml.etree.Element):
        bad = [name for name in el.attrib if name.lower().startswith("on") or name.lower() in ("srcdoc", "formaction")]
        assert not bad, f"{where}: <{el.tag}> has event attributes {bad}"
    for href in doc.xpath("//a/@href|//link/@href|//area/@href"):
        assert href in hrefs, f"{where}: unexpected link {href!r}"
    for src in doc.xpath("//img/@src"):
        assert src in srcs, f"{where}: unexpected image {src!r}"


# --- the content of an issue, wherever it appears ------------------------------------------


def assert_markdown_text(doc: lxml.html.HtmlElement, md: Markdown, xpath: str, where: str) -> None:
    found = [t.strip() for t in texts(doc, xpath)]
    if md.text is not None:
        assert md.text in found, f"{where}: {md.text!r} not among {found!r}"
    else:  # raw markup: the tags themselves show as text
        for piece in SHOWN_AS_WRITTEN:
            if piece in md.source:
                assert any(piece in t for t in found), f"{where}: {piece!r} not shown as text in {found!r}"


def assert_content(doc: lxml.html.HtmlElement, case: Case, where: str, *, item_div: str) -> None:
    """The issue body: section titles, item headings and links, meta, images, markdown."""
    headings = {t for t in texts(doc, "//h2|//h3")}
    metas = texts(doc, "//p[contains(concat(' ', @class, ' '), ' meta ')]")
    alts = doc.xpath("//img/@alt")
    for section in case.sections:
        if section.title is not None:
            assert section.title in headings, f"{where}: section title {section.title!r} not a heading"
        for item in section.items:
            if item.title is not None:
                assert item.title in headings, f"{where}: item title {item.title!r} not a heading in {headings!r}"
                if item.url:
                    links = [a.get("href") for a in doc.xpath("//h2/a|//h3/a") if a.text_content() == item.title]
                    assert item.url in links, f"{where}: {item.title!r} does not link to {item.url!r}"
            for text in (item.source, item.author):
                if text is not None:
                    assert any(text in m for m in metas), f"{where}: {text!r} not in the meta lines {metas!r}"
            if item.image:
                assert item.image[1] in alts, f"{where}: alt {item.image[1]!r} not among {alts!r}"
            if item.summary:
                assert_markdown_text(doc, item.summary, item_div, where)
    if case.intro:
        assert_markdown_text(doc, case.intro, item_div, where)
    if case.outro:
        assert_markdown_text(doc, case.outro, item_div, where)


def page_hrefs(case: Case) -> set[str]:
    return {SITE_URL, ISSUE_URL, *FEED_URLS, "#main"} | {i.url for i in case.items if i.url}


def share_hrefs(case: Case) -> set[str]:
    """The issue page's share links: its title and URL, percent-encoded, and nothing else."""
    title, url = quote(case.issue_title, safe=""), quote(ISSUE_URL, safe="")
    return {
        f"mailto:?subject={title}&body={url}",
        f"https://t.me/share/url?url={url}&text={title}",
        f"https://wa.me/?text={quote(case.issue_title + ' ' + ISSUE_URL, safe='')}",
        f"https://x.com/intent/post?text={title}&url={url}",
        f"https://www.facebook.com/sharer/sharer.php?u={url}",
    }


def image_srcs(case: Case) -> set[str]:
    return {LOGO_SRC} | {i.image[0] for i in case.items if i.image}


# --- the outputs ------------------------------------------------------------------------


def check_email(data: bytes, case: Case) -> None:
    doc = parse_html(data)
    where = "email.html"
    hrefs = {ISSUE_URL, SITE_URL, case.unsubscribe} | {i.url for i in case.items if i.url}
    assert_no_live_markup(doc, hrefs, image_srcs(case), where)
    html = doc.getroottree().getroot()
    assert html.get("lang") == case.language
    assert html.get("dir") == ("rtl" if case.language == "ar" else "ltr")
    assert texts(doc, "//title") == [case.subject]
    assert doc.xpath("//div[@role='article']/@aria-label") == [case.subject]
    hidden = doc.xpath("//body/div[contains(@style, 'display:none')]")
    assert hidden and text_of(hidden[0]).startswith(case.preheader), f"{where}: preheader {case.preheader!r} missing"
    assert texts(doc, "//h1") == [case.issue_title]
    assert case.logo_alt in doc.xpath("//img/@alt")
    assert case.unsubscribe in doc.xpath("//a/@href")
    # The lean email wraps a text in dir="auto" only where it could run against the
    # edition; elsewhere a one-paragraph text is its <p>.
    assert_content(doc, case, where, item_div="//div[@dir='auto']|//p")
    footer = " ".join(texts(doc, "//p"))
    assert case.config_title in footer, f"{where}: the footer does not name {case.config_title!r}"


def check_web(data: bytes, case: Case) -> None:
    doc = parse_html(data)
    where = "issues/N/index.html"
    assert_no_live_markup(doc, page_hrefs(case) | share_hrefs(case), image_srcs(case), where)
    assert set(doc.xpath("//section[@class='share']//a/@href")) == share_hrefs(case)
    assert doc.getroottree().getroot().get("dir") == ("rtl" if case.language == "ar" else "ltr")
    assert texts(doc, "//title") == [f"{case.issue_title} · {case.config_title}"]
    assert texts(doc, "//h1") == [case.issue_title]
    assert doc.xpath("//meta[@name='description']/@content") == [case.preheader]
    assert doc.xpath("//meta[@property='og:title']/@content") == [case.issue_title]
    assert doc.xpath("//meta[@property='og:site_name']/@content") == [case.config_title]
    assert texts(doc, "//a[@class='brand']/span") == [case.config_title]
    assert doc.xpath("//a[@class='brand']/img/@alt") == [case.logo_alt]
    assert_content(doc, case, where, item_div="//div[@dir='auto']|//p")  # as in the email


def check_archive(data: bytes, case: Case) -> None:
    doc = parse_html(data)
    where = "index.html"
    assert_no_live_markup(doc, {SITE_URL, ISSUE_URL, *FEED_URLS, "#main"}, {LOGO_SRC}, where, search=True)
    assert texts(doc, "//title") == [case.config_title]
    assert texts(doc, "//h1") == [case.config_title]
    assert texts(doc, "//p[@class='lead']") == [case.description]
    assert doc.xpath("//meta[@name='description']/@content") == [case.description]
    assert texts(doc, "//ol[@class='issues']/li/a") == [case.issue_title]
    assert texts(doc, "//ol[@class='issues']/li/p") == [case.preheader]
    assert {link.get("title") for link in doc.xpath("//link[@rel='alternate']")} == {
        f"{case.config_title} (RSS)",
        f"{case.config_title} (Atom)",
        f"{case.config_title} (JSON Feed)",
    }


def check_text(data: bytes, case: Case) -> None:
    text = data.decode("utf-8")
    # Wrapped at 78 columns: the title's lines, then its underline as long as the longest.
    title = wrapped(case.issue_title).match(text)
    assert title and text[title.end()] == "\n", f"email.txt: does not start with the title {case.issue_title!r}"
    heading = text[: title.end()].split("\n")
    assert text.split("\n")[len(heading)] == "=" * max(3, *map(columns, heading))
    for line in text.splitlines():
        # Only a line without a space to break at (a long URL or word) is longer.
        assert columns(line) <= 78 or " " not in re.sub(r"^(?:[ >]|- |\d+\. )*", "", line), (
            f"email.txt: a line of {columns(line)} columns: {line!r}"
        )
    expected: list[str | None] = [ISSUE_URL, case.unsubscribe]
    for section in case.sections:
        expected.append(section.title)
        for item in section.items:
            expected += [item.title, item.url, item.source, item.author]
            if item.summary and item.summary.text is not None:
                expected.append(item.summary.text)
    for md in (case.intro, case.outro):
        if md and md.text is not None:
            expected.append(md.text)
    for piece in expected:
        if piece is not None:
            assert wrapped(piece).search(text), f"email.txt: {piece!r} is missing"
    for md in [case.intro, case.outro, *(i.summary for i in case.items)]:
        if md and md.text is None and "<script>alert(1)</script>" in md.source:
            assert "<script>alert(1)</script>" in text


def check_content_html(html: str, case: Case, where: str) -> None:
    doc = parse_fragment(html)
    assert_no_live_markup(doc, {i.url for i in case.items if i.url}, {i.image[0] for i in case.items if i.image}, where)
    assert_content(doc, case, where, item_div="//div[@dir='auto']|//p")  # as in the email


ATOM = "{http://www.w3.org/2005/Atom}"
CONTENT = "{http://purl.org/rss/1.0/modules/content/}encoded"


# feedparser is asked only whether a feed is well-formed and which entries it has: its
# text is a feed reader's guess, not the document (it "repairs" text that looks like
# UTF-8 read as Latin-1, so "Õ¦" comes back as "զ").  The exact text is read with lxml.


def check_rss(data: bytes, case: Case) -> None:
    channel = parse_xml(data).find("channel")
    assert channel.findtext("title") == case.config_title
    assert channel.findtext("description") == case.description
    (item,) = channel.findall("item")
    assert item.findtext("title") == case.issue_title
    assert item.findtext("guid") == ISSUE_URL
    assert text_of(parse_fragment(item.findtext("description"))) == case.preheader
    check_content_html(item.findtext(CONTENT), case, "feed.xml content")
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.id for e in parsed.entries] == [ISSUE_URL]
    assert [e.link for e in parsed.entries] == [ISSUE_URL]


def check_atom(data: bytes, case: Case) -> None:
    feed = parse_xml(data)
    assert feed.findtext(f"{ATOM}title") == case.config_title
    assert feed.findtext(f"{ATOM}subtitle") == case.description
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == case.author_name
    (entry,) = feed.findall(f"{ATOM}entry")
    assert entry.findtext(f"{ATOM}title") == case.issue_title
    assert entry.findtext(f"{ATOM}id") == ISSUE_URL
    assert text_of(parse_fragment(entry.findtext(f"{ATOM}summary"))) == case.preheader
    check_content_html(entry.findtext(f"{ATOM}content"), case, "atom.xml content")
    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert [e.id for e in parsed.entries] == [ISSUE_URL]
    assert [e.link for e in parsed.entries] == [ISSUE_URL]


def check_json(data: bytes, case: Case) -> None:
    feed = json.loads(data)
    assert feed["title"] == case.config_title
    assert feed["description"] == case.description
    assert feed["authors"][0]["name"] == case.author_name
    (item,) = feed["items"]
    assert item["id"] == ISSUE_URL
    assert item["title"] == case.issue_title
    assert item["summary"] == case.preheader
    check_content_html(item["content_html"], case, "feed.json content_html")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=cases)
def test_any_text_in_any_field_stays_text_in_every_output(case: Case) -> None:
    with tempfile.TemporaryDirectory(prefix="digest-prop-") as tmp:
        root = Path(tmp) / "news"
        write_newsletter(root, case)
        result = run("build", "--root", str(root))
        assert result.exit_code == 0, result.stderr
        site = root / "site"
        check_email((site / "issues" / str(NUMBER) / "email.html").read_bytes(), case)
        check_web((site / "issues" / str(NUMBER) / "index.html").read_bytes(), case)
        check_text((site / "issues" / str(NUMBER) / "email.txt").read_bytes(), case)
        check_archive((site / "index.html").read_bytes(), case)
        check_rss((site / "feed.xml").read_bytes(), case)
        check_atom((site / "atom.xml").read_bytes(), case)
        check_json((site / "feed.json").read_bytes(), case)


NOT_XML = [chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF]]


@settings(max_examples=25, deadline=None)
@given(
    text=one_line,
    bad=st.sampled_from(NOT_XML),
    at=st.integers(min_value=0),
    key=st.sampled_from(["title", "subject", "preheader", "intro"]),
)
def test_characters_xml_cannot_carry_are_refused_at_their_line(text: str, bad: str, at: int, key: str) -> None:
    at %= len(text) + 1
    value = text[:at] + bad + text[at:]
    doc = {"date": dt.date(2024, 5, 3), key: value, "sections": [{"items": [{"title": "Fine"}]}]}
    with tempfile.TemporaryDirectory(prefix="digest-prop-") as tmp:
        root = Path(tmp) / "news"
        (root / "issues").mkdir(parents=True)
        (root / "config.yaml").write_text(f"title: T\nurl: {SITE_URL}\n", encoding="utf-8")
        dump(root / "issues" / "0001.yaml", doc)
        line = 1 + next(
            i
            for i, ln in enumerate((root / "issues" / "0001.yaml").read_text().splitlines())
            if ln.startswith(f"{key}:")
        )
        result = run("build", "--root", str(root))
        assert result.exit_code == 1
        assert result.stderr.startswith(
            f"issues/0001.yaml:{line}: {key}: contains the control character U+{ord(bad):04X}, "
        )
        assert not (root / "site").exists()
