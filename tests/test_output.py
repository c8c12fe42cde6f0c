"""What the outputs must contain: the email's required parts, inlined CSS and size, the
plain text's written-out links, escaping, right-to-left editions, template overrides and
byte-identical rebuilds."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import feedparser
import lxml.etree
import lxml.html
import pytest
from conftest import REPO, run, tree, wrapped

URL = "https://out.example.org/"
CONFIG = f"""\
title: Output Weekly
url: {URL}
language: en
email:
  unsubscribe_url: "*|UNSUB|*"
theme:
  brand_color: "#1f5fa8"
"""

RICH_ISSUE = """\
date: 2024-06-07
subject: "Output Weekly #3"
preheader: What this issue is about, in one line.
intro: |
  Hello **readers**, read [the announcement](https://example.com/announce?a=1&b=2)
  or mail <editor@example.org>.
sections:
  - title: Links
    items:
      - title: An item with everything
        url: https://example.com/item/1
        summary: |
          Some _emphasis_, `code`, an autolink <https://example.org/auto> and a
          [second link](https://example.org/second "with a title").

          > A quote with [a quoted link](https://example.org/quoted).

          1. one [numbered](https://example.org/numbered)
          2. two
        source: The Source
        author: The Author
        image: {src: "https://example.com/pic.png", alt: A picture}
        date: 2024-06-05
      - summary: A blurb with an image ![a chart](https://example.com/chart.png) and [a link](mailto:tips@example.org).
outro: |
  Bye. Reply to [us](mailto:editor@example.org).
"""


def parse_html(data: bytes) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(data, parser=lxml.html.HTMLParser(encoding="utf-8"))


def build(root: Path) -> Path:
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    return root / "site"


@pytest.fixture
def rich(newsletter: Callable[..., Path]) -> Path:
    """The site of a newsletter with one issue (3) that uses every kind of markdown."""
    return build(newsletter(config=CONFIG, issues={"0003.yaml": RICH_ISSUE}))


# --- the email ------------------------------------------------------------------------------


def test_email_has_title_lang_dir_hidden_preheader_and_view_in_browser_link(rich: Path) -> None:
    doc = parse_html((rich / "issues" / "3" / "email.html").read_bytes())
    html = doc.getroottree().getroot()
    assert (html.get("lang"), html.get("dir")) == ("en", "ltr")
    assert [t.text for t in doc.xpath("//head/title")] == ["Output Weekly #3"]
    first = doc.xpath("//body/*[1]")[0]
    assert first.tag == "div" and "display:none" in first.get("style").replace(" ", "")
    assert first.text_content().startswith("What this issue is about, in one line.")
    view = doc.xpath("//a[normalize-space(.) = 'View in your browser']")
    assert [a.get("href") for a in view] == [f"{URL}issues/3/"]
    assert (rich / "issues" / "3" / "index.html").is_file()  # the page that link opens


UNSUBSCRIBE = [
    ("*|UNSUB|*", 'href="*|UNSUB|*"'),  # Mailchimp
    ("{{ UnsubscribeURL }}", 'href="{{ UnsubscribeURL }}"'),  # listmonk
    ("{{ unsubscribe_url }}", 'href="{{ unsubscribe_url }}"'),  # Buttondown
    ("https://x.example/u?a=1&b=2", 'href="https://x.example/u?a=1&amp;b=2"'),
]


@pytest.mark.parametrize("value, attribute", UNSUBSCRIBE, ids=["mailchimp", "listmonk", "buttondown", "query"])
def test_unsubscribe_link_is_exactly_as_configured(newsletter: Callable[..., Path], value: str, attribute: str) -> None:
    config = CONFIG.replace('"*|UNSUB|*"', json.dumps(value))
    site = build(newsletter(config=config, issues={"0003.yaml": RICH_ISSUE}))
    html = (site / "issues" / "3" / "email.html").read_text(encoding="utf-8")
    assert html.count(attribute) == 1, f"{attribute} not in the email"
    assert "digest.invalid" not in html  # no placeholder left behind
    doc = parse_html(html.encode())
    assert [a.get("href") for a in doc.xpath("//a[normalize-space(.) = 'Unsubscribe']")] == [value]
    text = (site / "issues" / "3" / "email.txt").read_text(encoding="utf-8")
    assert f"Unsubscribe: {value}\n" in text


def test_email_links_images_and_alt_texts_reach_the_reader_as_written(newsletter: Callable[..., Path]) -> None:
    """Through MJML and premailer's lxml, which percent-encode non-ASCII URLs (a host
    https://%C3%A9xample.com/ is not the editor's) and double backslashes in attributes."""
    urls = [
        "https://éxample.com/ünï/مرحبا",
        "https://example.com/track?email=*|EMAIL|*&x=1",
        "https://example.com/a\\b",
    ]
    src = "https://example.com/bild-ä.png"
    alt = "Back\\slash, DEL\x7f, zero-width non-joiner\u200c, NBSP\xa0here"
    items = "".join(f"      - title: Item {n}\n        url: {json.dumps(url)}\n" for n, url in enumerate(urls))
    items += (
        f"      - title: Picture\n        image: {{src: {json.dumps(src)}, alt: {json.dumps(alt)}}}\n        url:"
        f" {json.dumps(urls[0])}\n"
    )
    issue = f"date: 2024-06-07\ntitle: {json.dumps(alt)}\nsections:\n  - items:\n{items}"
    site = build(newsletter(config=CONFIG, issues={"0001.yaml": issue}))
    alt_as_kept = " ".join(alt.split())  # one-line fields collapse whitespace (NBSP included)
    email = parse_html((site / "issues/1/email.html").read_bytes())
    web = parse_html((site / "issues/1/index.html").read_bytes())
    for doc, name in ((email, "email"), (web, "web page")):
        hrefs = doc.xpath("//h2/a/@href")
        assert hrefs == urls + [urls[0]], name
        assert [img.get("src") for img in doc.xpath("//img") if img.get("alt") == alt_as_kept] == [src], name
        assert [h.text_content() for h in doc.xpath("//h1")] == [alt_as_kept], name
    assert email.xpath("//div[@role='article']/@aria-label") == [alt_as_kept]  # MJML's copy of the title
    assert "%C3" not in (site / "issues/1/email.html").read_text(encoding="utf-8")


def _without_media_queries(css: str) -> str:
    """``css`` with every @media block (braces balanced) taken out."""
    out, i = [], 0
    while (start := css.find("@media", i)) >= 0:
        out.append(css[i:start])
        depth, j = 0, css.index("{", start)
        while True:
            depth += {"{": 1, "}": -1}.get(css[j], 0)
            j += 1
            if depth == 0:
                break
        i = j
    out.append(css[i:])
    return "".join(out)


# MJML's resets that stay in <head> rather than on every cell (inline.lean_email says why).
MJML_HEAD_RESETS = ["#outlook a", "table,td", "p"]
# The headings' line-heights, in <head> only (email.mjml says why).
HEADING_LINE_HEIGHTS = ["h1", "h2", "h3"]


def test_email_css_is_inlined_and_only_media_queries_stay_in_style_elements(rich: Path) -> None:
    doc = parse_html((rich / "issues" / "3" / "email.html").read_bytes())
    styles = doc.xpath("//style")
    assert styles, "the media queries (responsive columns, mobile h1) must be kept"
    assert any("@media" in s.text for s in styles)
    resets = headings = 0
    for style in styles:
        if style.get("media"):  # <style media="..."> is itself a media query (MJML's Thunderbird rule)
            continue
        left = _without_media_queries(style.text or "")
        if "prefers-color-scheme:dark" in (style.text or ""):
            # The dark design's block keeps, besides its media query, only what no inliner
            # could place: the colour-scheme declaration and the Outlook apps' hooks.
            for rule in filter(None, (r.strip() for r in left.split("}"))):
                selectors = [sel.strip() for sel in rule.split("{")[0].split(",")]
                assert all(sel == ":root" or sel.startswith(("[data-ogsc] ", "[data-ogsb] ")) for sel in selectors), (
                    rule
                )
            continue
        selectors = [rule.split("{")[0].strip() for rule in left.split("}") if rule.strip()]
        if selectors == MJML_HEAD_RESETS:
            resets += 1
            continue
        if selectors == HEADING_LINE_HEIGHTS:
            assert left == "h1{line-height:1.25}h2{line-height:1.3}h3{line-height:1.35}"
            headings += 1
            continue
        assert not left.strip(), f"rules left un-inlined in <style>: {left.strip()!r}"
    assert resets == 1 and headings == 1
    # The rules of the email's <mj-style> reached the elements they select.
    h1 = doc.xpath("//h1")[0]
    assert "font-size:26px" in h1.get("style").replace(" ", "")
    for a in doc.xpath("//a"):
        assert "color:#1f5fa8" in (a.get("style") or "").replace(" ", ""), f"link {a.get('href')} has no inlined colour"
    for a in doc.xpath("//h2/a|//h3/a"):  # item titles are links without underline
        assert "text-decoration:none" in a.get("style").replace(" ", "")
    metas = doc.xpath("//p[span]")  # the meta lines: source, author and date in spans
    assert metas
    for p in metas:
        assert "font-size:13px" in p.get("style").replace(" ", "")
    assert "margin:0 0 12px" in doc.xpath("//ul|//ol")[0].get("style")


def test_twenty_item_issue_stays_under_gmails_clipping_limit(newsletter: Callable[..., Path]) -> None:
    items = []
    for n in range(1, 21):
        image = (
            f'\n        image: {{src: "https://example.com/images/{n}.jpg", alt: "A photograph for item {n} of the'
            ' issue"}'
            if n % 4 == 0
            else ""
        )
        items.append(f"""\
      - title: "Item {n}: a realistic headline of some seventy or eighty characters, give or take"
        url: https://example.com/news/2024/06/{n}/a-long-slug-for-the-article-number-{n}?utm_source=newsletter
        summary: >
          A summary of two or three sentences, as editors write them: what happened, why it
          matters and what to read next, with **emphasis** and a [related link](https://example.org/related/{n}).
          A second sentence adds context so the blurb runs to about three hundred characters.
        source: Publication Number {n}
        author: Firstname Lastname
        date: 2024-06-0{1 + n % 7}{image}
""")
    sections = "".join(f"  - title: Section {s}\n    items:\n" + "".join(items[s * 5 : s * 5 + 5]) for s in range(4))
    issue = (
        f"date: 2024-06-07\nintro: An intro paragraph for the week.\nsections:\n{sections}outro: See you next week.\n"
    )
    site = build(newsletter(config=CONFIG, issues={"0003.yaml": issue}))
    email = (site / "issues" / "3" / "email.html").read_bytes()
    assert parse_html(email).xpath("count(//h3)") == 20
    # Measured at 35,470 bytes (mjml-python 1.4.2, premailer 3.10.0, lxml 6.1.3); Gmail clips at 102 KB.
    assert len(email) < 102 * 1024, f"{len(email)} bytes"


# --- the plain text -------------------------------------------------------------------------


def test_text_writes_out_every_link_and_has_no_markdown_syntax(rich: Path) -> None:
    text = (rich / "issues" / "3" / "email.txt").read_text(encoding="utf-8")
    html = parse_html((rich / "issues" / "3" / "email.html").read_bytes())
    links = {href.removeprefix("mailto:") for href in html.xpath("//a/@href")}
    assert links == {  # the test sees every link it means to
        "https://example.com/announce?a=1&b=2",
        "editor@example.org",
        "https://example.com/item/1",
        "https://example.org/auto",
        "https://example.org/second",
        "https://example.org/quoted",
        "https://example.org/numbered",
        "tips@example.org",
        f"{URL}issues/3/",
        URL,
        "*|UNSUB|*",
    }
    for url in sorted(links):
        assert url in text, f"{url!r} is a link in the email but not written out in the text"
    assert (
        "[a chart]" in text and "chart.png" not in text
    )  # an image in markdown is its alt text, as a screen reader reads it
    for syntax in ("**", "](", "`", "<https:", "<editor@", "![", "_emphasis_"):
        assert syntax not in text, f"markdown syntax {syntax!r} left in the text"
    assert "Hello readers, read the announcement (https://example.com/announce?a=1&b=2)" in text


# --- escaping ---------------------------------------------------------------------------------


SCRIPT_CONFIG = f"""\
title: '<script>alert("config")</script> Weekly'
url: {URL}
description: '<script>alert("description")</script>'
"""
SCRIPT_ISSUE = """\
date: 2024-06-07
title: '<script>alert("title")</script>'
subject: '<script>alert("subject")</script>'
preheader: '<script>alert("preheader")</script>'
sections:
  - title: '<script>alert("section")</script>'
    items:
      - title: '<script>alert("item")</script>'
        url: https://example.com/1
        source: '<script>alert("source")</script>'
        summary: '<script>alert("summary")</script>'
"""


SEARCH_START = (
    'window.addEventListener("DOMContentLoaded", function () { var at = function (b) {'
    ' return new URL("pagefind/" + b, document.baseURI).pathname; }; var bundles = ["0/"];'
    ' new PagefindUI({element: "#search", bundlePath: at(bundles[0]),'
    " mergeIndex: bundles.slice(1).map(function (b) { return {bundlePath: at(b)}; }), showImages: false,"
    ' showSubResults: true, translations: {placeholder: "Search the archive",'
    ' search_label: "Search the archive"}}); });'
)


def test_script_in_every_title_stays_text_in_every_output(newsletter: Callable[..., Path]) -> None:
    site = build(newsletter(config=SCRIPT_CONFIG, issues={"0001.yaml": SCRIPT_ISSUE}))
    title = '<script>alert("title")</script>'
    for name in ("issues/1/email.html", "issues/1/index.html", "index.html"):
        doc = parse_html((site / name).read_bytes())
        scripts = doc.xpath("//script")
        if name == "index.html":  # the archive's search, and nothing else: its interface and the line starting it
            assert [s.get("src") for s in scripts] == ["pagefind/0/pagefind-ui.js", None], name
            assert scripts[1].text == SEARCH_START, name
        else:
            assert not scripts, f"{name} has a <script> element"
        assert title in doc.text_content(), name
    email = parse_html((site / "issues/1/email.html").read_bytes())
    assert [h.text_content() for h in email.xpath("//h1")] == [title]
    assert [h.text_content() for h in email.xpath("//h3")] == ['<script>alert("item")</script>']
    assert email.xpath("//title")[0].text == '<script>alert("subject")</script>'
    web = parse_html((site / "issues/1/index.html").read_bytes())
    assert [h.text_content() for h in web.xpath("//h1")] == [title]
    assert web.xpath("//div[@class='summary']")[0].text_content() == '<script>alert("summary")</script>'
    assert (site / "issues/1/email.txt").read_text(encoding="utf-8").startswith(title + "\n")
    for name in ("feed.xml", "atom.xml"):
        data = (site / name).read_bytes()
        parsed = feedparser.parse(data)
        assert not parsed.bozo and parsed.entries[0].title == title, name
        assert parsed.feed.title == '<script>alert("config")</script> Weekly', name
        root = lxml.etree.fromstring(data)
        assert title in [el.text for el in root.iter()], name
        content = next(
            el.text
            for el in root.iter()
            if el.tag in ("{http://purl.org/rss/1.0/modules/content/}encoded", "{http://www.w3.org/2005/Atom}content")
        )
        assert not lxml.html.fragment_fromstring(content, create_parent="div").xpath("//script"), name
    feed = json.loads((site / "feed.json").read_bytes())
    assert feed["items"][0]["title"] == title
    assert feed["title"] == '<script>alert("config")</script> Weekly'
    assert not lxml.html.fragment_fromstring(feed["items"][0]["content_html"], create_parent="div").xpath("//script")


TEMPLATE_TEXT = "{{ 7*7 }} {% raw %}{{ config.title }}{% endraw %} {{ config.url }} {# hidden #}"


def test_template_syntax_in_user_text_is_never_evaluated(newsletter: Callable[..., Path]) -> None:
    value = json.dumps(TEMPLATE_TEXT)
    config = (
        f"title: {value}\nurl: {URL}\ndescription: {value}\nauthor: {{name: {value}}}\nemail: {{unsubscribe_url: '{{{{"
        " unsubscribe_url }}'}\n"
    )
    issue = f"""\
date: 2024-06-07
title: {value}
subject: {value}
preheader: {value}
intro: {value}
sections:
  - title: {value}
    items:
      - title: {value}
        url: https://example.com/1
        summary: {value}
        source: {value}
        author: {value}
        image: {{src: "https://example.com/i.png", alt: {value}}}
outro: {value}
"""
    site = build(newsletter(config=config, issues={"0001.yaml": issue}))
    for name, data in tree(site).items():
        if name == ".digest-site" or name.startswith("pagefind/"):  # the folder's mark; the index of the pages
            continue
        text = data.decode("utf-8")
        assert "49" not in text, f"{name}: {{{{ 7*7 }}}} was evaluated"
        if name.endswith("email.txt"):  # wrapped at 78 columns: a space may be a line break there
            assert wrapped(TEMPLATE_TEXT).search(text), f"{name}: the template-like text is not there as written"
        else:
            assert TEMPLATE_TEXT in text, f"{name}: the template-like text is not there as written"


def test_c1_control_character_is_refused_or_shown_the_same_everywhere(newsletter: Callable[..., Path]) -> None:
    """U+0093/U+0094 are what "smart quotes" become when Windows text is mis-decoded.  Either
    validation refuses them at their line, or every output carries them as written: the
    email must not show "“" where the web page and the feeds have U+0093."""
    title = "A \x93quoted\x94 \x86word"
    root = newsletter(
        issues={"0001.yaml": f"date: 2024-01-05\ntitle: {json.dumps(title)}\nsections: [{{items: [{{title: x}}]}}]\n"}
    )
    result = run("build", "--root", str(root))
    if result.exit_code == 1:
        assert result.stderr.startswith("issues/0001.yaml:2: title: contains the control character U+0093"), (
            result.stderr
        )
        return
    assert result.exit_code == 0, result.output
    site = root / "site"
    for name in ("issues/1/email.html", "issues/1/index.html"):
        assert [h.text_content() for h in parse_html((site / name).read_bytes()).xpath("//h1")] == [title], name
    atom = lxml.etree.fromstring((site / "atom.xml").read_bytes())
    assert atom.findtext("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title") == title


# --- editions and templates -----------------------------------------------------------------


def test_rtl_edition_is_right_to_left_in_email_and_web(newsletter: Callable[..., Path]) -> None:
    config = f"title: النشرة\nurl: {URL}\nlanguage: ar\n"
    issue = (
        "date: 2024-06-07\ntitle: العدد الأول\nsections:\n  - items:\n      - title: خبر\n        url:"
        " https://example.com/1\n"
    )
    site = build(newsletter(config=config, issues={"0001.yaml": issue}))
    email = parse_html((site / "issues/1/email.html").read_bytes())
    html = email.getroottree().getroot()
    assert (html.get("lang"), html.get("dir")) == ("ar", "rtl")
    assert email.xpath("//div[@role='article']/@dir") == ["rtl"]
    # The mj-text holding the title (the innermost aligned block around it) aligns right.
    around = [d for d in email.xpath("//div[contains(@style, 'text-align')]") if "العدد الأول" in d.text_content()]
    assert around and "text-align:right" in around[-1].get("style").replace(" ", "")
    for name in ("issues/1/index.html", "index.html"):
        root = parse_html((site / name).read_bytes()).getroottree().getroot()
        assert (root.get("lang"), root.get("dir")) == ("ar", "rtl"), name
    assert "عرض في المتصفح" in email.text_content()  # the interface words are Arabic too


def test_interface_words_come_from_the_language_and_from_config(newsletter: Callable[..., Path]) -> None:
    config = f"""\
        title: Buletini
        url: {URL}
        language: sq
        email:
          unsubscribe_url: "*|UNSUB|*"
        words:
          archive: Arkivi i plotë
          why: "Ju vjen sepse jeni abonuar në {{title}} <dhe> {{{{kjo}}}}."
        """
    site = build(newsletter(config=config))
    email = parse_html((site / "issues/1/email.html").read_bytes()).text_content()
    text = (site / "issues/1/email.txt").read_text(encoding="utf-8")
    web = parse_html((site / "issues/1/index.html").read_bytes()).text_content()
    for out in (email, text):
        assert "Shikojeni në shfletues" in out and "Çregjistrohu" in out  # Albanian, built in
        assert "Ju vjen sepse jeni abonuar në Buletini <dhe> {kjo}." in out  # set in config, escaped in HTML
        assert "View in your browser" not in out and "You are receiving" not in out
    for out in (email, text, web):
        assert "Arkivi i plotë" in out and "All issues" not in out
    assert "Kalo te përmbajtja" in web  # the skip link


def test_newsletter_template_overrides_the_built_in_one(newsletter: Callable[..., Path]) -> None:
    custom = (
        '<!doctype html>\n<html lang="{{ config.language }}"><title>{{ issue.title }}</title>\n<p id="custom">Custom:'
        " {{ issue.title }}</p>\n"
    )
    issue = (
        "date: 2024-06-07\ntitle: Fish & <Chips>\nsections: [{items: [{title: One, url: 'https://example.com/1'}]}]\n"
    )
    site = build(newsletter(issues={"0001.yaml": issue}, templates={"issue.html": custom}))
    page = (site / "issues/1/index.html").read_text(encoding="utf-8")
    # The newsletter's template, still autoescaped.
    assert (
        page
        == '<!doctype html>\n<html lang="en"><title>Fish &amp; &lt;Chips&gt;</title>\n<p id="custom">Custom: Fish &amp;'
        " &lt;Chips&gt;</p>\n"
    )
    # The other templates are still the built-in ones.
    assert "View in your browser" in (site / "issues/1/email.html").read_text(encoding="utf-8")
    assert 'type="application/atom+xml"' in (site / "index.html").read_text(encoding="utf-8")


# --- determinism ------------------------------------------------------------------------------


@pytest.fixture
def many(golden_root: Path) -> Path:
    """The golden newsletter plus ten more issues: enough for a build to use its worker pool."""
    seven = (golden_root / "issues" / "0007.yaml").read_text(encoding="utf-8")
    for n in range(9, 19):
        body = seven.replace("number: 7\n", f"number: {n}\n").replace("date: 2024-02-29", f"date: 2024-03-{n:02d}")
        (golden_root / "issues" / f"{n:04d}.yaml").write_text(body, encoding="utf-8")
    return golden_root


@pytest.mark.slow  # builds in several processes with different hash seeds
def test_builds_are_byte_identical_across_runs_and_processes(many: Path, tmp_path: Path) -> None:
    copies = []
    for name in ("second", "seed-0", "seed-4242"):
        copies.append(tmp_path / name)
        shutil.copytree(many, copies[-1])
    first = tree(build(many))
    # 13 issues but the draft (8), which is never published, and the .digest-site mark; the search
    # index (Pagefind's output, byte-identical too) besides.
    assert len([name for name in first if not name.startswith("pagefind/")]) == 4 + 3 * 12 + 1
    assert sum(name.startswith("pagefind/0/fragment/") for name in first) == 12
    assert tree(build(many)) == first  # the same folder again
    assert tree(build(copies[0])) == first  # a fresh copy, in this process
    for root, seed in zip(copies[1:], ("0", "4242"), strict=True):  # other processes, other hash seeds
        env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONPATH": str(REPO)}
        done = subprocess.run(
            [sys.executable, "-m", "digest", "build", "--root", str(root)],
            capture_output=True,
            text=True,
            env=env,
            cwd=root,
        )
        assert done.returncode == 0, done.stderr
        assert tree(root / "site") == first, f"PYTHONHASHSEED={seed} built different bytes"
    assert not re.search(rb"20(2[5-9]|[3-9]\d)-\d\d-\d\d", b"".join(first.values())), (
        "a build date leaked into the output"
    )


def test_markdown_headings_continue_the_outline(newsletter: Callable[..., Path]) -> None:
    """A `#` in a blurb must not restart the page's outline at h1."""
    root = newsletter(
        issues={
            "0001.yaml": (
                """\
        date: 2024-01-05
        intro: "# This week"
        sections:
          - title: News
            items:
              - title: First item
                summary: "# Key findings\\n\\nText."
              - title: Second item
                summary: "### Method\\n\\n##### Sample\\n\\n#### Limits"
        outro: "## Thanks\\n\\n#### Sources"
        """
            )
        }
    )
    assert run("build", "--root", str(root)).exit_code == 0
    for page in ("index.html", "email.html"):
        html = (root / "site/issues/1" / page).read_text(encoding="utf-8")
        assert re.search(r"<h2[^>]*>This week</h2>", html), page
        assert re.search(r"<h4[^>]*>Key findings</h4>", html), page
        assert html.count("<h1") == 1, page
        # No level is ever skipped: ## alone starts at the text's top level, and a jump of
        # two levels becomes one.
        for level, text in ((4, "Method"), (5, "Sample"), (5, "Limits"), (2, "Thanks"), (3, "Sources")):
            assert re.search(rf"<h{level}[^>]*>{text}</h{level}>", html), (page, text)
        levels = [int(n) for n in re.findall(r"<h([1-6])[\s>]", html)]
        assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), (page, levels)


def test_css_inlining_keeps_nothing_from_one_stylesheet_to_the_next() -> None:
    """inline_css keeps what premailer makes of each stylesheet for the process's life:
    a second email with other CSS must come out as a fresh process would write it."""
    from digest.render.inline import inline_css

    def email(colour: str, width: int) -> str:
        return (
            f"<!doctype html><html><head><style>a {{ color: {colour}; }} p {{ margin: 0 0 12px; }}</style>"
            f"<style>@media only screen and (max-width: {width}px) {{ h1 {{ font-size: 22px; }} }}</style></head>"
            '<body><h1>Hi</h1><p>Read <a href="https://example.com/">this</a>.</p></body></html>'
        )

    docs = [email("#1f5fa8", 479), email("#ab1234", 600), email("#1f5fa8", 479)]
    in_process = [inline_css(d) for d in docs]
    code = "import sys; from digest.render.inline import inline_css; sys.stdout.write(inline_css(sys.stdin.read()))"
    fresh = [
        subprocess.run(
            [sys.executable, "-c", code],
            input=d,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        ).stdout
        for d in docs
    ]
    assert in_process == fresh
    assert 'style="color:#ab1234"' in in_process[1] and "max-width: 600px" in in_process[1]
    assert in_process[0] == in_process[2] and in_process[0].count("!important") == 1


def test_bgcolor_stays_off_div_and_pre(newsletter: Callable[..., Path]) -> None:
    """The Nu Html Checker's errors: bgcolor is valid only on table, td and body; height is a number."""
    issue = """\
        date: 2024-01-05
        sections:
          - items:
              - title: First item
                url: https://example.com/1
                image: {src: "https://example.com/i.png", alt: A chart}
                summary: "A code block:\\n\\n```\\ncargo build\\n```"
        """
    root = newsletter(issues={"0001.yaml": issue})
    assert run("build", "--root", str(root)).exit_code == 0
    html = (root / "site/issues/1/email.html").read_text(encoding="utf-8")
    assert re.search(r"<pre\b[^>]*background-color", html) and re.search(
        r'<div\b[^>]*class="body"[^>]*background-color', html
    )
    tags = re.findall(r"<(\w+)[^>]*\sbgcolor=", html)
    assert tags and set(tags) <= {"table", "td", "body"}
    assert re.search(r'<img\b[^>]*alt="A chart"', html) and not re.search(r"<img\b[^>]*\sheight=\"auto\"", html)
