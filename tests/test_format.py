"""The issue format beyond plain items: GFM tables and strikethrough, inline markdown in
titles, sections with an intro and sub-sections, and the link schemes config.yaml allows."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run

from digest.core import markdown, plaintext

TABLE_ISSUE = """\
date: 2024-01-05
sections:
  - title: Numbers
    items:
      - title: Perf triage
        url: https://example.com/perf
        summary: |
          | Benchmark | mean | count |
          |:--|--:|---|
          | a-very-long-unbreakable-identifier-name-that-goes-on-and-on-and-on | ~~1.1%~~ 0.4% | `12` |
"""


def _read(root: Path, name: str) -> str:
    return (root / "site" / "issues" / "1" / name).read_text(encoding="utf-8")


def test_tables_and_strikethrough_render_in_every_output(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues={"0001.yaml": TABLE_ISSUE})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output

    web = _read(root, "index.html")
    # Its identifier is wider than a phone: the table is laid out by the email (issue 19).
    assert '<table class="md-table md-fit">' in web
    assert re.search(r'<th style="width:[\d.]+%;text-align:right">mean</th>', web)
    assert "<td><code>12</code></td>" in web
    assert "<s>1.1%</s> 0.4%" in web
    assert "|:--" not in web

    email = _read(root, "email.html")
    # The class stays for the dark design's rules; MJML's layout tables all have role="presentation".
    table = re.search(r'<table class="md-table" style="([^"]*)"><thead>', email)
    assert table and "border-collapse:collapse" in table.group(1)
    assert "width:100%;table-layout:fixed" in table.group(1)
    user_table = email[table.start() : email.index("</table>", table.start())]
    cells = re.findall(r"<t[hd] style=\"([^\"]*)\"", user_table)
    assert len(cells) == 6
    for style in cells:  # every cell bordered and padded inline: no client needs a <style>
        assert "border:1px solid" in style and "padding:4px 5px" in style  # a fitted table's padding
    assert "text-align:right" in cells[1]  # the column's own alignment wins over the default
    assert "<s>1.1%</s> 0.4%" in email

    text = _read(root, "email.txt")
    assert "Benchmark | mean | count\n---\n" in text
    assert "a-very-long-unbreakable-identifier-name-that-goes-on-and-on-and-on | ~~1.1%~~ 0.4% | 12" in text


def test_text_of_a_table_keeps_its_rows_and_links() -> None:
    src = "| a | b |\n|---|---|\n| [docs](https://example.com/d) | x |\n\nafter"
    assert plaintext.to_text(src) == "a | b\n---\ndocs (https://example.com/d) | x\n\nafter"


SCHEME_ISSUE = """\
date: 2024-01-05
sections:
  - title: Chat
    items:
      - title: Come and talk
        url: irc://irc.example.org/rust
        summary: The files are on [our server](ftp://ftp.example.org/pub/), or [in the chat](IRCS://irc.example.org:6697/rust).
"""


def test_link_schemes_are_http_and_mailto_unless_config_allows_more(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues={"0001.yaml": SCHEME_ISSUE})
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.output == "issues/0001.yaml:6: sections[1].items[1].url: must be an http(s) URL, got"
        " 'irc://irc.example.org/rust'\nissues/0001.yaml:7: sections[1].items[1].summary: markdown link target must"
        " be an http(s) or mailto URL, got 'ftp://ftp.example.org/pub/'\nissues/0001.yaml:7:"
        " sections[1].items[1].summary: markdown link target must be an http(s) or mailto URL, got"
        " 'IRCS://irc.example.org:6697/rust'\n3 errors\n"
    )


def test_allowed_schemes_are_links_in_every_output(newsletter: Callable[..., Path]) -> None:
    config = "title: T\nurl: https://t.example.org/\nlinks:\n  schemes: [irc, IRCS, 'ftp:']\n"
    root = newsletter(config=config, issues={"0001.yaml": SCHEME_ISSUE})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    for name in ("index.html", "email.html"):
        html = _read(root, name)
        assert 'href="irc://irc.example.org/rust"' in html
        assert 'href="ftp://ftp.example.org/pub/"' in html
        assert 'href="IRCS://irc.example.org:6697/rust"' in html
    assert "our server (ftp://ftp.example.org/pub/)" in _read(root, "email.txt")


def test_allowed_schemes_are_still_not_allowed_for_images(newsletter: Callable[..., Path]) -> None:
    config = "title: T\nurl: https://t.example.org/\nlinks: {schemes: [ftp]}\n"
    issue = "date: 2024-01-05\nsections:\n  - items:\n      - summary: '![a chart](ftp://ftp.example.org/chart.png)'\n"
    root = newsletter(config=config, issues={"0001.yaml": issue})
    result = run("check", "--root", str(root))
    assert (
        result.output
        == "issues/0001.yaml:4: sections[1].items[1].summary: markdown image target must be an http(s) URL, got"
        " 'ftp://ftp.example.org/chart.png'\n1 error\n"
    )


@pytest.mark.parametrize("scheme", ["javascript", "JavaScript", "DATA:", "vbscript", "File"])
def test_dangerous_schemes_can_never_be_allowed(newsletter: Callable[..., Path], scheme: str) -> None:
    root = newsletter(config=f"title: T\nurl: https://t.example.org/\nlinks:\n  schemes: [irc, '{scheme}']\n")
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.output
        == f"config.yaml:4: links.schemes[2]: {scheme!r} can never be allowed: its links run code or read local files\n"
        "1 error\n"
    )


def test_a_scheme_must_look_like_one(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config="title: T\nurl: https://t.example.org/\nlinks:\n  schemes: ['java%73cript']\n")
    result = run("check", "--root", str(root))
    assert (
        result.output
        == "config.yaml:4: links.schemes[1]: must be a URL scheme such as irc or ftp (letters, digits, + - .), got"
        " 'java%73cript'\n1 error\n"
    )


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        "JAVASCRIPT:alert(1)",
        "jAvAsCrIpT:alert(1)",
        "java\tscript:alert(1)",
        " javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "vbscript:msgbox(1)",
        "file:///etc/passwd",
        "java%73cript:alert(1)",
    ],
)
def test_dangerous_urls_are_refused_whatever_the_allowed_schemes(url: str) -> None:
    # Even a scheme list that names them (config validation refuses that) cannot let them through.
    assert markdown.url_problem(url, schemes=("javascript", "data", "vbscript", "file", "irc")) is not None
    every = ("javascript", "data", "vbscript", "file")
    for src in (f"[x]({url})", f"[x](<{url}>)", f"<{url}>", f"![x]({url})"):
        # Markdown may not read it as a link at all (a tab ends a target); if it does, it is refused.
        assert len(markdown.bad_links(src, every)) == len(markdown.links(src))
        assert not re.search(r'(href|src)="\s*(java|data|vbscript|file)', str(markdown.to_html(src, 1, every)), re.I)


def test_entity_encoded_javascript_in_markdown_is_refused_and_never_rendered() -> None:
    src = "[x](&#106;avascript:alert(1)) [y](java&#x73;cript:alert(1))"
    assert len(markdown.bad_links(src, ("irc",))) == 2
    assert "javascript" not in str(markdown.to_html(src, 1, ("irc",))).lower()


RICH_ISSUE = """\
date: 2024-01-05
sections:
  - title: Updates from the `core` team
    intro: Sorted into *sub-sections*.
    sections:
      - title: Official
        items:
          - title: Announcing `Vec::pop_if` and *friends*
            url: https://example.com/pop-if
            summary: "## Details\\n\\nA ~~nightly~~ stable method."
      - items:
          - title: An item of an untitled sub-section
            url: https://example.com/untitled
  - title: "[Calls for participation](https://example.com/cfp)"
    intro: Nothing this week.
  - items:
      - summary: A blurb without a title.
"""


def _headings(html: str) -> list[tuple[int, str]]:
    return [
        (int(level), re.sub(r"<[^>]+>", "", text))
        for level, text in re.findall(r"<h([1-6])\b[^>]*>(.*?)</h\1>", html, re.DOTALL)
    ]


def test_sections_with_intros_and_sub_sections_keep_the_outline_in_every_output(
    newsletter: Callable[..., Path],
) -> None:
    root = newsletter(issues={"0001.yaml": RICH_ISSUE})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    expected = [
        (1, "Test Weekly – 1"),
        (2, "Updates from the core team"),
        (3, "Official"),
        (4, "Announcing Vec::pop_if and friends"),
        (5, "Details"),
        (3, "An item of an untitled sub-section"),
        (2, "Calls for participation"),
    ]
    for name in ("index.html", "email.html"):
        html = _read(root, name)
        # The web page ends with its share links, a section of the page's own after the content.
        assert _headings(html) == expected + ([(2, "Share")] if name == "index.html" else []), name
        assert "<p>Sorted into <em>sub-sections</em>.</p>" in html.replace(' style="margin:0 0 12px"', "")
        assert "Nothing this week." in html
    text = _read(root, "email.txt")
    assert (
        "Updates from the core team\n--------------------------\n\nSorted into sub-sections.\n\nOfficial\n~~~~~~~~\n"
        in text
    )
    assert "Calls for participation (https://example.com/cfp)\n" in text
    assert "Announcing Vec::pop_if and friends\nhttps://example.com/pop-if\n" in text


def test_only_titled_sections_and_items_are_sectioning_elements(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues={"0001.yaml": RICH_ISSUE})
    assert run("build", "--root", str(root)).exit_code == 0
    web = _read(root, "index.html")
    content = web[web.index("<main") : web.index("</main>")]
    # Every <section> and <article> starts with its heading (the page's own <article> with its <header>),
    # in the row it shares with its permalink.
    found = re.findall(r'<(section|article)\b[^>]*>\s*(?:<div class="heading">)?(<[^>]+>)', content)
    assert len(found) == 7
    for tag, rest in found:
        assert rest.startswith(("<h2", "<h3", "<h4", "<header")), (tag, rest)
    body = content[: content.index('<section class="share"')]
    assert len(re.findall(r"<section[ >]", body)) == 3  # the untitled sub-section and the untitled section make none
    # An untitled item's anchor is a slug of its summary's first words.
    assert '<div class="item" id="a-blurb-without-a-title">\n<div class="summary"><p>A blurb without a' in content


def test_titles_are_markup_in_html_and_plain_text_elsewhere(newsletter: Callable[..., Path]) -> None:
    issue = """\
    date: 2024-01-05
    sections:
      - items:
          - title: Using `impl Trait` in *argument* position
            url: https://example.com/impl
          - title: "1. Not a list, # not a heading, <T> not a tag, <core::ascii::Char> not a link"
    """
    root = newsletter(issues={"0001.yaml": issue})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    for name in ("index.html", "email.html"):
        html = _read(root, name)
        assert re.search(
            r'<a href="https://example.com/impl"[^>]*>Using <code[^>]*>impl Trait</code> in <em>argument</em>'
            r" position</a>",
            html,
        ), name
        assert "1. Not a list, # not a heading, &lt;T&gt; not a tag, &lt;core::ascii::Char&gt; not a link</h2>" in html
    text = _read(root, "email.txt")
    assert "Using impl Trait in argument position\n" in text
    # With no intro and no summary, the preheader comes from the first title, as plain text.
    feed = (root / "site" / "feed.json").read_text(encoding="utf-8")
    assert '"summary": "Using impl Trait in argument position"' in feed


def test_a_linked_title_cannot_hold_a_link(newsletter: Callable[..., Path]) -> None:
    issue = """\
    date: 2024-01-05
    sections:
      - items:
          - title: See [the docs](https://example.com/docs)
            url: https://example.com/item
    """
    root = newsletter(issues={"0001.yaml": issue})
    result = run("check", "--root", str(root))
    assert (
        result.output
        == "issues/0001.yaml:4: sections[1].items[1].title: has a link, but the whole title already links to the item's"
        " url: keep one of them\n1 error\n"
    )


def test_title_links_are_checked_like_any_link(newsletter: Callable[..., Path]) -> None:
    issue = "date: 2024-01-05\nsections:\n  - title: '[Events](javascript:alert(1))'\n    intro: Soon.\n"
    root = newsletter(issues={"0001.yaml": issue})
    result = run("check", "--root", str(root))
    assert (
        result.output
        == "issues/0001.yaml:3: sections[1].title: markdown link target must be an http(s) or mailto URL, got"
        " 'javascript:alert(1)'\n1 error\n"
    )


@pytest.mark.parametrize(
    ("section", "line", "message"),
    [
        ("  - title: Empty\n", 3, "sections[1]: has no items, intro or sections: a section needs at least one of them"),
        (
            "  - title: Deep\n    sections:\n      - title: Sub\n        sections:\n          - intro: Too deep.\n",
            6,
            (
                "sections[1].sections[1].sections: sections go one level deep: a sub-section cannot have sections of"
                " its own"
            ),
        ),
        (
            "  - title: Hollow\n    sections: []\n",
            4,
            "sections[1].sections: has no sections: list them below it, or delete the line",
        ),
    ],
)
def test_a_section_needs_items_an_intro_or_sub_sections(
    newsletter: Callable[..., Path], section: str, line: int, message: str
) -> None:
    root = newsletter(issues={"0001.yaml": "date: 2024-01-05\nsections:\n" + section})
    result = run("check", "--root", str(root))
    assert result.output == f"issues/0001.yaml:{line}: {message}\n1 error\n"


def test_a_derived_preheader_carries_link_text_never_urls(newsletter: Callable[..., Path]) -> None:
    # Issue 19: "Rust (https://www.rust-lang.org/) is a…" spent the inbox line on an address.
    issue = """\
    date: 2024-01-05
    intro: |
      [Rust](https://www.rust-lang.org/) is a language; see <https://example.com/auto> and
      [*the book*](https://doc.example.com/book) or mail [us](mailto:ed@example.com).
    sections:
      - items:
          - title: First
            url: https://example.com/1
    """
    root = newsletter(issues={"0001.yaml": issue})
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    feed = (root / "site" / "feed.json").read_text(encoding="utf-8")
    assert '"summary": "Rust is a language; see and the book or mail us."' in feed
    email = _read(root, "email.html")
    assert re.search(r'<div style="display:none;[^"]*">Rust is a language; see and the book or mail us\.', email)


def test_a_table_near_a_phones_width_gets_column_shares_and_a_small_one_keeps_its_own() -> None:
    from digest.core.markdown import to_html

    # Issue 19: TWiR 446's triage table, estimated to fit by a count of characters (36),
    # came out 277 px in a 272 px column.
    triage = (
        "|            | mean | max | count |\n|:----------:|:----:|:---:|:-----:|\n| Regressions 😿 <br /> (primary) |"
        " 0.5% | 3.2% | 36 |\n| Improvements 🎉 <br /> (secondary) | -2.7% | -13.5% | 182 |\n"
    )
    html = str(to_html(triage))
    assert '<table class="md-table md-fit">' in html and 'class="wrap"' not in html
    shares = [float(x) for x in re.findall(r'<th style="width:([\d.]+)%', html)]
    assert len(shares) == 4 and abs(sum(shares) - 100) < 0.3
    assert shares[0] == max(shares)  # the column of "Improvements" gets the most room
    small = str(to_html("| a | b |\n|---|---|\n| 1 | 2 |\n"))
    assert '<table class="md-table">' in small and "width:" not in small
