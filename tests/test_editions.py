"""Editions (issue 13): the four editions of the model site, digits as each language writes
them, the language switcher and hreflang links, the archive's pages, an issue page's
neighbours and share links."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from conftest import REPO, build, run, tree
from lxml import etree
from lxml import html as lxml_html

from digest.core import i18n

# The model site's four editions: the repository root (English) and examples/.
EDITIONS = {
    "en": REPO,
    "ar": REPO / "examples" / "arabic",
    "fa": REPO / "examples" / "persian",
    "sq": REPO / "examples" / "albanian",
}
DIRECTION = {"en": "ltr", "ar": "rtl", "fa": "rtl", "sq": "ltr"}
# Each edition's first issue, its date as the language writes it, and its derived title (or None).
FIRST = {"en": 41, "ar": 263, "fa": 263, "sq": 263}
DATE = {"en": "March 6, 2026", "ar": "8 نوفمبر 2019", "fa": "۸ نوامبر ۲۰۱۹", "sq": "8 nëntor 2019"}
TITLE = {"en": None, "ar": None, "fa": "خبرنامهٔ هفتگی – شمارهٔ ۲۶۳", "sq": "Buletini Javor – Nr. 263"}
URL = "https://test.example.org/"


def _page(data: bytes) -> etree._Element:
    return lxml_html.document_fromstring(data)


@pytest.fixture(scope="module")
def sites(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    built = {}
    for lang, source in EDITIONS.items():
        root = tmp_path_factory.mktemp(lang)
        shutil.copy2(source / "config.yaml", root / "config.yaml")
        shutil.copytree(source / "issues", root / "issues")
        result = run("build", "--root", str(root))
        assert result.exit_code == 0, result.output
        built[lang] = root / "site"
    return built


@pytest.mark.slow  # goes through every locale Babel knows
def test_every_locale_default_numbering_system_has_its_digits() -> None:
    from babel import Locale, localedata

    systems = set()
    for name in localedata.locale_identifiers():
        try:
            systems.add(Locale.parse(name).default_numbering_system)
        except Exception:  # noqa: BLE001 - a few aliases Babel lists but cannot load
            continue
    assert systems <= set(i18n.ZEROS), systems - set(i18n.ZEROS)
    for system, zero in i18n.ZEROS.items():
        digits = [chr(ord(zero) + n) for n in range(10)]
        assert [unicodedata.digit(d) for d in digits] == list(range(10)), system


def test_digits_follow_the_locale_unless_config_says_latin() -> None:
    assert (i18n.numbering_system("fa"), i18n.numbering_system("fa-IR"), i18n.numbering_system("bn")) == (
        "arabext",
        "arabext",
        "beng",
    )
    assert (i18n.numbering_system("en"), i18n.numbering_system("sq"), i18n.numbering_system("fa", "latin")) == (
        "latn",
        "latn",
        "latn",
    )
    assert i18n.format_title("{title} 3.0 – {number:03}", "Web 2", 7, "arabext") == "Web 2 3.0 – ۰۰۷"


@pytest.mark.parametrize("lang", EDITIONS)
def test_each_edition_reads_in_its_own_language(sites: dict[str, Path], lang: str) -> None:
    site = sites[lang]
    english = [
        "View in your browser",
        "Unsubscribe",
        "All issues",
        "Previous issue",
        "Recent issues",
        "Share",
        "Feeds",
        "Skip to content",
        "Editions",
    ]
    first, second = FIRST[lang], FIRST[lang] + 1
    pages = {
        name: site / name
        for name in (
            "index.html",
            f"issues/{first}/index.html",
            f"issues/{second}/index.html",
            f"issues/{first}/email.html",
        )
    }
    for name, path in pages.items():
        doc = _page(path.read_bytes())
        assert (doc.get("lang"), doc.get("dir")) == (lang, DIRECTION[lang]), name
        text = doc.text_content()
        if lang != "en":
            found = [w for w in english if re.search(rf"\b{w}\b", text)]
            assert not found, f"{name}: English interface words {found}"
    web = _page((site / f"issues/{first}/index.html").read_bytes())
    assert web.xpath("string(//article/header//time)") == DATE[lang]
    if TITLE[lang]:
        assert web.xpath("string(//h1)") == TITLE[lang]
        for name in ("index.html", f"issues/{second}/index.html"):  # the archive, the next issue's previous link
            assert TITLE[lang] in _page((site / name).read_bytes()).xpath(
                f"//a[contains(@href, '/issues/{first}/')]//text()"
            ), name
    feed = feedparser.parse((site / "feed.xml").read_bytes())
    atom = feedparser.parse((site / "atom.xml").read_bytes())
    assert feed.feed.language == lang and atom.feed.language == lang
    assert json.loads((site / "feed.json").read_text())["language"] == lang


def test_persian_edition_writes_persian_digits_everywhere_it_writes_numbers(sites: dict[str, Path]) -> None:
    site = sites["fa"]
    for name in ("issues/263/index.html", "issues/263/email.html", "issues/263/email.txt", "index.html"):
        text = (site / name).read_text(encoding="utf-8")
        assert "۸ نوامبر ۲۰۱۹" in text and "8 نوامبر 2019" not in text, name
    assert "خبرنامهٔ هفتگی – شمارهٔ ۲۶۳" in (site / "issues/263/email.html").read_text(encoding="utf-8")
    entry = json.loads((site / "feed.json").read_text())["items"][1]
    assert entry["title"] == "خبرنامهٔ هفتگی – شمارهٔ ۲۶۳"
    assert entry["url"].endswith("/issues/263/") and entry["date_published"].startswith(
        "2019-11-08"
    )  # machine values stay ASCII
    web = _page((site / "issues/263/index.html").read_bytes())
    assert web.xpath("//article/header//time/@datetime") == ["2019-11-08"]


def test_digits_latin_keeps_ascii_digits(newsletter: Callable[..., Path]) -> None:
    config = f"title: خبرنامه\nurl: {URL}\nlanguage: fa\ndigits: latin\n"
    root = newsletter(
        config=config,
        issues={
            "0263.yaml": (
                "date: 2019-11-08\nsections:\n  - items:\n      - title: یک\n        url: https://example.com/\n"
            )
        },
    )
    assert run("build", "--root", str(root)).exit_code == 0
    text = (root / "site/issues/263/index.html").read_text(encoding="utf-8")
    assert "8 نوامبر 2019" in text and "خبرنامه – 263" in text and "۲" not in text


def test_bad_digits_setting_is_an_error(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config=f"title: T\nurl: {URL}\ndigits: persian\n")
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "config.yaml:3: digits: must be locale (the digits the language writes, e.g. ۲۶۳ in Persian) or latin (0-9),"
        " got 'persian'\n1 error\n"
    )


def test_unknown_language_falls_back_to_english_and_names_the_words_to_translate(
    newsletter: Callable[..., Path],
) -> None:
    config = f"""\
        title: Settimanale
        url: {URL}
        language: it
        words:
          archive: Tutti i numeri
          unsubscribe: Annulla l'iscrizione
        """
    root = newsletter(config=config)
    result = run("check", "--root", str(root))
    assert result.exit_code == 0
    missing = [w for w in i18n.WORDS if w not in ("archive", "unsubscribe")]
    assert (
        result.stderr
        == "config.yaml:3: warning: language: digest has no interface words in Italian (it): the pages and emails show"
        f" these in English until you write them under words: {', '.join(missing)}\n"
    )
    assert run("build", "--root", str(root)).exit_code == 0
    web = (root / "site/issues/1/index.html").read_text()
    assert "Tutti i numeri" in web and "Share" in web  # set, and the English fallback


def test_built_in_languages_have_every_word() -> None:
    for lang in i18n.STRINGS:
        assert i18n.missing_words(lang) == (), lang
    assert i18n.missing_words("it") == i18n.WORDS and i18n.missing_words("sq-XK") == ()


def test_language_switcher_and_hreflang_links_on_every_page(sites: dict[str, Path]) -> None:
    home = {
        "en": "https://digest.example.org/",
        "ar": "https://digest.example.org/ar/",
        "fa": "https://digest.example.org/fa/",
        "sq": "https://digest.example.org/sq/",
    }
    for lang, site in sites.items():
        for name, own in (
            ("index.html", home[lang]),
            (f"issues/{FIRST[lang]}/index.html", home[lang] + f"issues/{FIRST[lang]}/"),
        ):
            doc = _page((site / name).read_bytes())
            alternates = {
                link.get("hreflang"): link.get("href") for link in doc.xpath("//head/link[@rel='alternate'][@hreflang]")
            }
            if name == "index.html":  # every edition has an archive: all alternates, English the x-default
                assert alternates == {**home, "x-default": home["en"]}, lang
            elif lang == "en":  # no other edition has English's issue numbers: an issue page has no equivalent
                assert alternates == {}
            else:  # ar, fa and sq publish the same numbers (same_numbers): issue to issue, no x-default
                assert alternates == {code: home[code] + f"issues/{FIRST[lang]}/" for code in ("ar", "fa", "sq")}, lang
            switcher = doc.xpath("//nav[@class='editions']//a")
            assert [a.get("hreflang") for a in switcher] == ["en", "ar", "fa", "sq"]
            assert [a.text_content() for a in switcher] == ["English", "العربية", "فارسی", "Shqip"]
            assert [a.get("lang") for a in switcher] == ["en", "ar", "fa", "sq"]
            assert [a.get("aria-current") for a in switcher] == ["true" if code == lang else None for code in home]
            assert [a.get("href") for a in switcher if a.get("aria-current")] == [own]  # this page itself


def test_same_numbers_links_an_issue_to_the_same_issue_there(newsletter: Callable[..., Path]) -> None:
    config = f"""\
        title: Weekly
        url: {URL}
        editions:
          - language: fa
            title: هفتگی
            url: https://fa.example.org
            same_numbers: true
          - language: ar
            title: الأسبوعية
            url: https://ar.example.org/
        """
    root = newsletter(config=config)
    assert run("build", "--root", str(root)).exit_code == 0
    doc = _page((root / "site/issues/1/index.html").read_bytes())
    alternates = {link.get("hreflang"): link.get("href") for link in doc.xpath("//head/link[@hreflang]")}
    # Arabic has no issue 1 of its own (no same_numbers): its archive is no alternate of this page.
    assert alternates == {
        "en": URL + "issues/1/",
        "fa": "https://fa.example.org/issues/1/",
        "x-default": "https://fa.example.org/issues/1/",
    }
    switcher = [a.get("href") for a in doc.xpath("//nav[@class='editions']//a")]
    assert switcher == [URL + "issues/1/", "https://fa.example.org/issues/1/", "https://ar.example.org/"]
    email = _page((root / "site/issues/1/email.html").read_bytes())
    assert [a.get("href") for a in email.xpath("//a[@hreflang]")] == [
        "https://fa.example.org/issues/1/",
        "https://ar.example.org/",
    ]
    text = (root / "site/issues/1/email.txt").read_text()
    assert "فارسی: https://fa.example.org/issues/1/\nالعربية: https://ar.example.org/\n" in text
    atom = feedparser.parse((root / "site/atom.xml").read_bytes())
    assert [(link.hreflang, link.href) for link in atom.feed.links if "hreflang" in link] == [
        ("fa", "https://fa.example.org/"),
        ("ar", "https://ar.example.org/"),
    ]
    assert [link.href for link in atom.entries[0].links] == [URL + "issues/1/"]
    rss = etree.fromstring((root / "site/feed.xml").read_bytes())
    assert rss.findtext("channel/link") == URL and atom.entries[0].link == URL + "issues/1/"
    assert rss.xpath("channel/*[local-name()='link'][@hreflang]/@href") == [
        "https://fa.example.org/",
        "https://ar.example.org/",
    ]
    assert feedparser.parse((root / "site/feed.xml").read_bytes()).entries[0].link == URL + "issues/1/"
    feed = json.loads((root / "site/feed.json").read_text())
    assert [e["home_page_url"] for e in feed["_digest"]["editions"]] == [
        "https://fa.example.org/",
        "https://ar.example.org/",
    ]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        ("  - {language: fa, title: F, url: 'javascript:alert(1)'}\n", "config.yaml:4: editions[1].url: "),
        (
            (
                "  - {language: fa, title: F, url: https://a.example/}\n  - {language: fa, title: G, url:"
                " https://b.example/}\n"
            ),
            (
                "config.yaml:5: editions[2].language: 'fa' is also the language of editions[1]: a reader picks an"
                " edition by its language\n"
            ),
        ),
        (
            (
                "  - {language: fa, title: F, url: https://a.example/}\n  - {language: ar, title: G, url:"
                " https://a.example}\n"
            ),
            "config.yaml:5: editions[2].url: is also the url of editions[1]: each edition has its own\n",
        ),
        (
            "  - {language: xx-nope, title: F, url: https://a.example/}\n",
            (
                "config.yaml:4: editions[1].language: unknown language 'xx-nope': use a BCP 47 tag such as en, ar, fa,"
                " sq or pt-BR\n"
            ),
        ),
        (
            f"  - {{language: fa, title: F, url: {URL}}}\n",
            (
                "config.yaml:4: editions[1].language: is 'fa', but this entry's url is this newsletter's, whose"
                " language is en\n"
            ),
        ),
        ("  - {language: fa, url: https://a.example/}\n", "config.yaml:4: editions[1]: missing required key 'title'\n"),
        (
            "  - {language: fa, title: F, url: https://a.example/, lang: x}\n",
            "config.yaml:4: editions[1].lang: unknown key; ",
        ),
    ],
)
def test_edition_mistakes_are_errors_at_their_line(newsletter: Callable[..., Path], entries: str, message: str) -> None:
    root = newsletter(config=f"title: T\nurl: {URL}\neditions:\n{entries}")
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert result.stderr.startswith(message), result.stderr
    if message.endswith("\n"):
        assert result.stderr == message + "1 error\n"


ISSUE = (
    "date: 2024-01-{day:02}\n{draft}sections:\n  - items:\n      - title: Item {n}\n        url:"
    " https://example.com/{n}\n"
)


def _issues(numbers: range, drafts: tuple[int, ...] = ()) -> dict[str, str | bytes]:
    return {f"{n:04}.yaml": ISSUE.format(day=n, n=n, draft="draft: true\n" if n in drafts else "") for n in numbers}


def test_archive_pages_newest_first_with_prev_and_next(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=f"title: T\nurl: {URL}\narchive:\n  per_page: 2\n", issues=_issues(range(1, 7), drafts=(6,))
    )
    assert run("build", "--root", str(root)).exit_code == 0
    site = root / "site"
    assert sorted(p for p in tree(site) if not p.startswith(("issues/", "pagefind/"))) == [
        ".digest-site",
        "atom.xml",
        "feed.json",
        "feed.xml",
        "index.html",
        "page/2/index.html",
        "page/3/index.html",
    ]
    listed = {}
    for name, url in (
        ("index.html", URL),
        ("page/2/index.html", URL + "page/2/"),
        ("page/3/index.html", URL + "page/3/"),
    ):
        doc = _page((site / name).read_bytes())
        listed[name] = [int(h.rstrip("/").rsplit("/", 1)[1]) for h in doc.xpath("//ol[@class='issues']//a/@href")]
        assert doc.xpath("//link[@rel='canonical']/@href") == [url]
    assert listed == {"index.html": [5, 4], "page/2/index.html": [3, 2], "page/3/index.html": [1]}
    first, middle, last = (
        _page((site / n).read_bytes()) for n in ("index.html", "page/2/index.html", "page/3/index.html")
    )
    assert (first.xpath("//head/link[@rel='prev']/@href"), first.xpath("//head/link[@rel='next']/@href")) == (
        [],
        [URL + "page/2/"],
    )
    assert (middle.xpath("//head/link[@rel='prev']/@href"), middle.xpath("//head/link[@rel='next']/@href")) == (
        [URL],
        [URL + "page/3/"],
    )
    assert (last.xpath("//head/link[@rel='prev']/@href"), last.xpath("//head/link[@rel='next']/@href")) == (
        [URL + "page/2/"],
        [],
    )
    assert [a.text for a in middle.xpath("//nav[@class='pages']/a")] == ["Newer issues", "Older issues"]
    assert (
        "Page 2 of 3" in middle.xpath("string(//nav[@class='pages'])")
        and middle.findtext(".//title") == "T · Page 2 of 3"
    )


def test_archive_page_numbers_in_the_editions_digits(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=f"title: خبرنامه\nurl: {URL}\nlanguage: fa\narchive:\n  per_page: 1\n", issues=_issues(range(1, 3))
    )
    assert run("build", "--root", str(root)).exit_code == 0
    doc = _page((root / "site/page/2/index.html").read_bytes())
    assert doc.xpath("string(//nav[@class='pages']/span)") == "صفحهٔ ۲ از ۲"


def test_a_short_archive_is_one_page(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues=_issues(range(1, 31)))
    assert run("build", "--root", str(root)).exit_code == 0
    assert not (root / "site/page").exists()
    doc = _page((root / "site/index.html").read_bytes())
    assert len(doc.xpath("//ol[@class='issues']/li")) == 30 and not doc.xpath("//nav[@class='pages']")


def test_issue_page_shows_previous_next_and_recent_issues_but_never_drafts(newsletter: Callable[..., Path]) -> None:
    from digest.preview.site import PreviewSite

    root = newsletter(issues=_issues(range(1, 9), drafts=(5, 8)))
    assert run("build", "--root", str(root)).exit_code == 0
    assert not (root / "site/issues/5").exists() and not (root / "site/issues/8").exists()  # drafts are never published
    preview = PreviewSite(root)  # where a draft's page is seen
    preview.reload()

    def shown(n: int) -> tuple[list[str], list[str], list[str]]:
        page = (
            (root / f"site/issues/{n}/index.html").read_bytes()
            if n not in (5, 8)
            else preview.file(f"issues/{n}/index.html")
        )
        assert page is not None
        doc = _page(page)
        nums = lambda hrefs: [h.rstrip("/").rsplit("/", 1)[1] for h in hrefs]  # noqa: E731
        return (
            nums(doc.xpath("//nav[@class='issue-nav']/a[@rel='prev']/@href")),
            nums(doc.xpath("//nav[@class='issue-nav']/a[@rel='next']/@href")),
            nums(doc.xpath("//aside[@class='recent']//a/@href")),
        )

    assert shown(4) == (["3"], ["6"], ["7", "6", "3", "2", "1"])
    assert shown(7) == (["6"], [], ["6", "4", "3", "2", "1"])
    assert shown(1) == ([], ["2"], ["7", "6", "4", "3", "2"])
    assert shown(5) == (["4"], ["6"], ["7", "6", "4", "3", "2"])  # a draft's page links published issues only


def test_publishing_an_issue_updates_its_neighbours_pages_like_a_clean_build(
    newsletter: Callable[..., Path], tmp_path: Path
) -> None:
    root = newsletter(issues=_issues(range(1, 5)))
    build(root)
    emails = {n: (root / f"site/issues/{n}/email.html").stat().st_ino for n in range(1, 5)}
    (root / "issues/0005.yaml").write_text(ISSUE.format(day=5, n=5, draft=""))
    report = build(root)
    assert report.changed == 1  # only the new issue is rendered; the others' pages are remade from the cache
    assert (
        "/issues/5/" in (root / "site/issues/4/index.html").read_text()
        and "/issues/5/" in (root / "site/issues/1/index.html").read_text()
    )
    assert {
        n: (root / f"site/issues/{n}/email.html").stat().st_ino for n in range(1, 5)
    } == emails  # linked from the cache
    # Retitling an issue changes what its neighbours show of it.
    (root / "issues/0003.yaml").write_text(ISSUE.format(day=3, n=3, draft="").replace("date:", "title: Renamed\ndate:"))
    build(root)
    assert "Renamed" in (root / "site/issues/2/index.html").read_text()
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns(".digest-cache", "site"))
    build(clean, jobs=1)
    assert tree(root / "site") == tree(clean / "site")


def test_editing_an_issue_body_renders_no_other_page(newsletter: Callable[..., Path]) -> None:
    """What an issue page shows of others is its neighbours: an edit that leaves them alone
    leaves every other page as it was (the very file, linked from the build cache)."""
    root = newsletter(issues=_issues(range(1, 9)))
    build(root)
    pages = lambda: {n: (root / f"site/issues/{n}/index.html").stat().st_ino for n in range(1, 9)}  # noqa: E731
    before = pages()
    (root / "issues/0004.yaml").write_text(ISSUE.format(day=4, n=4, draft="").replace("Item 4", "Item four"))
    assert build(root).changed == 1
    after = pages()
    assert after[4] != before[4] and "Item four" in (root / "site/issues/4/index.html").read_text()
    assert {n: i for n, i in after.items() if n != 4} == {n: i for n, i in before.items() if n != 4}


def test_a_damaged_cached_page_is_rendered_again(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues=_issues(range(1, 4)))
    build(root)
    good = tree(root / "site")
    page = root / "site/issues/2/index.html"  # a hard link to its cache entry's file
    page.write_bytes(page.read_bytes().replace(b"Item 2", b"Item X"))
    assert build(root).changed == 0
    assert tree(root / "site") == good


def test_share_links_are_plain_links_with_the_issue_url(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        issues={
            "0001.yaml": (
                "date: 2024-01-05\ntitle: Fish & <chips>\nsections:\n  - items:\n      - title: A\n        url:"
                " https://example.com/\n"
            )
        }
    )
    assert run("build", "--root", str(root)).exit_code == 0
    page = (root / "site/issues/1/index.html").read_bytes()
    doc = _page(page)
    links = doc.xpath("//section[@class='share']//a")
    assert [a.text for a in links] == ["Email", "Telegram", "WhatsApp", "X", "Facebook"]
    hrefs = [a.get("href") for a in links]
    quoted = "https%3A%2F%2Ftest.example.org%2Fissues%2F1%2F"
    assert hrefs == [
        f"mailto:?subject=Fish%20%26%20%3Cchips%3E&body={quoted}",
        f"https://t.me/share/url?url={quoted}&text=Fish%20%26%20%3Cchips%3E",
        f"https://wa.me/?text=Fish%20%26%20%3Cchips%3E%20{quoted}",
        f"https://x.com/intent/post?text=Fish%20%26%20%3Cchips%3E&url={quoted}",
        f"https://www.facebook.com/sharer/sharer.php?u={quoted}",
    ]
    assert all(a.get("rel") == "noopener noreferrer" for a in links)
    assert b"<script" not in page and b"<iframe" not in page and not doc.xpath("//img")


def test_the_preview_shows_the_same_archive_pages_and_issue_pages_as_the_build(
    newsletter: Callable[..., Path], tmp_path: Path
) -> None:
    from digest.preview.site import PreviewSite

    root = newsletter(
        config=f"title: T\nurl: {URL}\narchive:\n  per_page: 2\n", issues=_issues(range(1, 6), drafts=(5,))
    )
    build(root, tmp_path / "built", jobs=1)
    built = tree(tmp_path / "built")
    preview = PreviewSite(root)
    preview.reload()
    pages = [p for p in built if p.endswith(("index.html", "email.html", "email.txt"))]
    assert "page/2/index.html" in pages and "issues/5/index.html" not in pages  # a draft: in the preview only
    assert "issues/4/email.html" in pages and "issues/4/email.txt" in pages
    assert {p: preview.file(p) for p in pages} == {p: built[p] for p in pages}
    assert preview.file("issues/5/index.html") is not None
    assert preview.file("page/4/index.html") is None
    # An edit re-renders the edited issue alone; its neighbours' pages show it as it is now.
    edited = root / "issues/0003.yaml"
    edited.write_text(ISSUE.format(day=3, n=3, draft="").replace("date:", "title: Renamed\ndate:"))
    assert preview.update([edited]) == {3}
    assert "Renamed" in (preview.file("issues/2/index.html") or b"").decode()
    assert "Renamed" in (preview.file("issues/4/index.html") or b"").decode()
