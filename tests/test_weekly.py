"""Issue 24 on a newsletter shaped like Perl Weekly (tests/fixtures/weekly, written for the
tests): an editorial that links to its own sections, a sponsor chapter, linked authors.
Every output is checked: the email, the text email, the web page, the archive and the feeds;
and the anchors: unique, Unicode slugs, stable when an item is inserted above."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import lxml.etree
import lxml.html
import pytest
from conftest import FIXTURES, run

from digest.core import issues as anchors
from digest.core.config import load_config
from digest.core.issues import load_issue

WEEKLY = FIXTURES / "weekly"


@pytest.fixture
def weekly(tmp_path: Path) -> Path:
    root = tmp_path / "weekly"
    shutil.copytree(WEEKLY, root)
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    return root


def _html(path: Path) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(path.read_bytes())


def test_web_page_authors_sponsors_anchors_and_permalinks(weekly: Path) -> None:
    doc = _html(weekly / "site/issues/700/index.html")
    # The editorial's links to its own sections lead to ids on the page.
    intro = doc.xpath('//div[@class="intro"]//a/@href')
    assert intro == ["#events", "#sponsors"]
    ids = doc.xpath("//@id")
    assert len(ids) == len(set(ids)) and {"events", "sponsors", "announcements", "articles"} <= set(ids)
    # Every section and item has its id, and a titled one its named permalink.
    holders = '//article[@data-pagefind-body]//*[self::section or contains(concat(" ", @class, " "), " item ")]'
    for element in doc.xpath(holders):
        anchor = element.get("id")
        assert anchor, lxml.html.tostring(element)[:120]
        link = element.xpath(f'.//a[@class="permalink" and @href="#{anchor}"]')
        assert len(link) == 1 and link[0].get("aria-label").startswith("Link to "), anchor
    # The sponsor chapter: a box with its label; its links, and only they, are rel="sponsored".
    (box,) = doc.xpath('//section[@id="sponsors"]')
    assert box.get("class") == "sponsored"
    assert box.xpath('./p[@class="sponsored-label"]/text()') == ["Sponsored"]
    sponsored = sorted(doc.xpath('//a[@rel="sponsored"]/@href'))
    assert sponsored == [
        "https://ads.example.com/",  # the sponsored article's author
        "https://ads.example.com/camel",  # a sponsored article among the editors' picks, boxed on its own
        "https://jobs.example.com/camel",
        "https://jobs.example.com/seniors",  # a link in the sponsor's summary
    ]
    (ad,) = doc.xpath('//article[@id="job-ads-that-pay-for-a-newsletter"]')
    assert ad.get("class") == "item sponsored" and ad.xpath('./p[@class="sponsored-label"]/text()') == ["Sponsored"]
    # Authors: linked where a url is given, names alone otherwise, in the order written.
    (logs,) = doc.xpath('//article[@id="parsing-logs-with-regular-expressions"]//p[@class="meta"]')
    assert logs.text_content() == "Brian Kernel, Dennis Ritchey"
    assert logs.xpath(".//a/@href") == ["https://brian.example.org/"]
    # The page is marked for the search: the issue only, not its navigation.
    assert len(doc.xpath("//*[@data-pagefind-body]")) == 1
    assert doc.xpath("//*[@data-pagefind-body]")[0].tag == "article"
    # Subscribe, on the issue pages too.
    assert doc.xpath('//a[@class="subscribe"]/@href') == ["https://weekly.example.org/subscribe"]


def test_email_has_the_anchors_the_box_and_author_links_but_no_rel(weekly: Path) -> None:
    html = (weekly / "site/issues/700/email.html").read_text(encoding="utf-8")
    doc = lxml.html.fromstring(html)
    # Every section has its id in the email; items where a link of the issue or an id: names them
    # (an id on every item would cost a long issue kilobytes of Gmail's clip).
    assert sorted(doc.xpath("//@id")) == ["announcements", "articles", "events", "sponsors"]
    assert 'href="#events"' in html and 'href="#sponsors"' in html
    assert "rel=" not in html  # rel="sponsored" is for the web: no email client reads it
    assert html.count(">Sponsored</p>") == 2  # the sponsor chapter and the sponsored article
    assert 'href="https://ada.example.net/"' in html and 'href="https://brian.example.org/"' in html
    assert "weekly.example.org/subscribe" not in html  # its readers have subscribed
    other = lxml.html.fromstring((weekly / "site/issues/701/email.html").read_bytes())
    assert "lyon" in other.xpath("//h3/@id")  # linked from the intro, and an id: of its own


def test_text_email_marks_sponsors_and_writes_author_urls(weekly: Path) -> None:
    text = (weekly / "site/issues/700/email.txt").read_text(encoding="utf-8")
    # A link to a place in the issue is the web page's place: plain text has nowhere to jump.
    assert "events\n(https://weekly.example.org/issues/700/#events)" in text
    assert "Ada Lovecraft (https://ada.example.net/)" in text
    assert "Brian Kernel (https://brian.example.org/), Dennis Ritchey" in text
    assert "Grace Hopscotch\n" in text
    chapter = text[text.index("*** Sponsored ***") : text.index("Articles\n")]
    assert "Hire camel experts with Dromedary Jobs" in chapter and chapter.rstrip().endswith("***")
    assert text.count("*** Sponsored ***") == 2
    assert "rel=" not in text and "Subscribe" not in text


def test_archive_numbers_subscribe_and_search_box(weekly: Path) -> None:
    doc = _html(weekly / "site/index.html")
    assert doc.xpath('//ol[@class="issues"]//span[@class="number"]/text()') == ["Issue 701", "Issue 700"]
    # "All issues" names the page it is on; it is no link to itself.
    nav = doc.xpath('//header//nav[@aria-label="The Camel Weekly"]')[0]
    assert nav.xpath("./span[@aria-current='page']/text()") == ["All issues"]
    assert nav.xpath("./a/@href") == ["https://weekly.example.org/subscribe"]
    assert doc.xpath('//div[@id="search"]/@dir') == ["ltr"]
    assert doc.xpath("//script/@src") == ["pagefind/700/pagefind-ui.js"]
    assert (weekly / "site/pagefind/700/pagefind-ui.js").is_file()


def test_feeds_mark_sponsored_issues_and_credit_authors(weekly: Path) -> None:
    atom = lxml.etree.fromstring((weekly / "site/atom.xml").read_bytes())
    ns = {"a": "http://www.w3.org/2005/Atom"}
    (entry,) = [e for e in atom.findall("a:entry", ns) if e.findtext("a:id", namespaces=ns).endswith("/700/")]
    assert [(c.get("term"), c.get("label")) for c in entry.findall("a:category", ns)] == [("sponsored", "Sponsored")]
    people = [
        (c.findtext("a:name", namespaces=ns), c.findtext("a:uri", namespaces=ns))
        for c in entry.findall("a:contributor", ns)
    ]
    assert people == [
        ("Ada Lovecraft", "https://ada.example.net/"),
        ("Brian Kernel", "https://brian.example.org/"),
        ("Dennis Ritchey", None),
        ("Grace Hopscotch", None),
        ("Ad Desk", "https://ads.example.com/"),
    ]
    content = entry.findtext("a:content", namespaces=ns)
    # The content: the label on the boxes, no permalinks, links to places made absolute.
    assert 'class="sponsored-label">Sponsored<' in content and "permalink" not in content
    assert 'href="https://weekly.example.org/issues/700/#events"' in content and 'href="#' not in content
    rss = (weekly / "site/feed.xml").read_text(encoding="utf-8")
    assert rss.count("<category>Sponsored</category>") == 2  # both issues have a sponsor chapter
    feed = json.loads((weekly / "site/feed.json").read_text(encoding="utf-8"))
    item = next(i for i in feed["items"] if i["id"].endswith("/700/"))
    assert item["tags"] == ["sponsored"]
    assert item["_digest"]["contributors"][0] == {"name": "Ada Lovecraft", "url": "https://ada.example.net/"}


# Anchors: what validation computes once, for the pages, the email and the link checks.


def _anchors(root: Path, number: int, text: str) -> list[str]:
    path = root / "issues" / f"{number:04d}.yaml"
    path.write_text(text, encoding="utf-8")
    issue, problems = load_issue(load_config(root), number, path, f"issues/{number:04d}.yaml")
    assert issue is not None, problems
    found = []
    for section in issue.sections:
        for s in (section, *section.sections):
            found += [s.anchor, *(item.anchor for item in s.items)]
    return found


def test_anchors_are_unique_and_stable_when_an_item_is_inserted_above(tmp_path: Path) -> None:
    root = tmp_path / "weekly"
    shutil.copytree(WEEKLY, root)
    text = (WEEKLY / "issues/0700.yaml").read_text(encoding="utf-8")
    before = _anchors(root, 700, text)
    assert len(before) == len(set(before))
    inserted = text.replace(
        "  - title: Announcements\n    items:\n",
        "  - title: Announcements\n    items:\n      - title: Articles\n        url: https://example.org/new\n"
        "      - title: Events\n        url: https://example.org/events-item\n",
    )
    after = _anchors(root, 700, inserted)
    # Every anchor there was is there still, the new items take their own (a section keeps the
    # bare slug its title gives: sections come first), and none is taken twice.
    assert len(after) == len(set(after)) == len(before) + 2
    assert [a for a in after if a in before] == before
    new = [a for a in after if a not in before]
    assert [a.rsplit("-", 1)[0] for a in new] == ["articles", "events"]
    # A section added at the top moves nothing either.
    top = inserted.replace("sections:\n", "sections:\n  - title: Announcements\n    intro: Twice.\n", 1)
    assert [a for a in _anchors(root, 700, top) if a in after] == after


def test_explicit_ids_win_and_slugs_are_unicode() -> None:
    assert anchors.slug("Perl **5.40** & `Raku` — what’s new?", "item") == "perl-5-40-raku-what-s-new"
    assert anchors.slug("رویدادهای هفته", "section") == "رویدادهای-هفته"
    assert anchors.slug("خبرنامهٔ هفتگی", "section") == "خبرنامهٔ-هفتگی"  # the mark stays in its word
    assert anchors.slug("🎉 !!!", "item") == "item"
    assert anchors.slug("[A link](https://x.org/) inside", "item") == "a-link-inside"
    assert len(anchors.slug("word " * 40, "item")) <= anchors.SLUG_CHARS


def test_persian_example_gets_persian_anchors() -> None:
    root = Path(__file__).resolve().parent.parent / "examples" / "persian"
    config = load_config(root)
    path = sorted((root / "issues").glob("*.yaml"))[0]
    issue, _ = load_issue(config, int(path.stem), path, f"issues/{path.name}")
    assert issue is not None
    titled = [s for s in issue.sections if s.title]
    assert titled and all(
        re.search(r"[\u0600-\u06ff]", s.anchor) for s in titled if re.search("[\u0600-\u06ff]", s.title or "")
    )


def test_config_subscribe_and_search_are_checked(newsletter: object, tmp_path: Path) -> None:
    root = tmp_path / "n"
    shutil.copytree(WEEKLY, root)
    config = (root / "config.yaml").read_text(encoding="utf-8")
    (root / "config.yaml").write_text(
        config.replace(
            "subscribe: {url: https://weekly.example.org/subscribe}", "subscribe: {url: ftp://x}\nsearch: 1"
        ),
        encoding="utf-8",
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0].startswith("config.yaml:12: subscribe.url: must be an http(s) or mailto URL")
    assert lines[1] == "config.yaml:13: search: must be true or false, got a number (1)"


def test_config_words_override_the_sponsored_and_subscribe_labels(tmp_path: Path) -> None:
    root = tmp_path / "n"
    shutil.copytree(WEEKLY, root)
    with (root / "config.yaml").open("a", encoding="utf-8") as f:
        f.write('words: {sponsored: Partner content, subscribe: Get it weekly, number: "No. {number}"}\n')
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    site = root / "site"
    web = (site / "issues/700/index.html").read_text(encoding="utf-8")
    assert web.count('<p class="sponsored-label">Partner content</p>') == 2 and ">Sponsored<" not in web
    assert ">Get it weekly</a>" in web
    assert (site / "issues/700/email.html").read_text(encoding="utf-8").count(">Partner content</p>") == 2
    assert "*** Partner content ***" in (site / "issues/700/email.txt").read_text(encoding="utf-8")
    assert 'label="Partner content"' in (site / "atom.xml").read_text(encoding="utf-8")
    assert ">No. 700</span>" in (site / "index.html").read_text(encoding="utf-8")
