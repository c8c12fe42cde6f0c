"""`digest add URL`: a page's metadata → one item appended to the newest draft, over real HTTP."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import immutable, run, tree
from webserver import FIXTURES, Web, send, serve

from digest import __version__
from digest.compose.add import add_url
from digest.compose.net import FetchError

DRAFT = "issues/0044.yaml"


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


def added(root: Path, rel: str = DRAFT) -> dict[str, object]:
    """The last item of the last section of the issue (as parsed)."""
    data = yaml.safe_load((root / rel).read_text(encoding="utf-8"))
    return data["sections"][-1]["items"][-1]


def test_open_graph_page(example: Path, web: Web) -> None:
    url = web.file("/2026/03/open-data-law?utm_source=feed", "og.html", "text/html; charset=utf-8")
    before = (example / DRAFT).read_bytes()
    result = run("add", url, "--root", str(example))
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == f'added "Open data law passes: the “first” vote & what\'s next" to {DRAFT}\n'
    after = (example / DRAFT).read_bytes()
    assert after.startswith(before)  # every byte that was there stays where it was
    assert added(example) == {
        "title": "Open data law passes: the “first” vote & what's next",
        "url": f"{web.base}/2026/03/open-data-law?id=7",  # og:url on the same site, tracking removed
        "source": "Example Times",
        "author": "Nino Beridze",
        "date": __import__("datetime").date(2026, 3, 30),
        "summary": "Parliament voted 84–12 to open procurement records.",
        "image": {"src": f"{web.base}/img/vote.jpg", "alt": "Members of parliament raising their hands"},
    }
    agent = web.requests[-1][1]["user-agent"]
    assert agent == f"digest/{__version__} (+https://digest.example.org/)"
    check = run("check", "--root", str(example))
    assert check.exit_code == 0, check.output


def test_the_item_is_yaml_text_at_the_end_of_the_last_section(example: Path, web: Web) -> None:
    url = web.file("/t", "twitter.html", "text/html")
    before = (example / DRAFT).read_text(encoding="utf-8")
    assert run("add", url, "--root", str(example)).exit_code == 0
    after = (example / DRAFT).read_text(encoding="utf-8")
    assert after == before + (
        "      - title: 'Civic tech meetup: notes'\n"
        f"        url: {web.base}/t\n"  # the canonical on another site is not trusted
        "        author: Sam Park\n"
        "        summary: What we learnt from 30 city halls.\n"
    )  # no image: og:image without og:image:alt gets no invented alt


def test_json_ld_only_page(example: Path, web: Web) -> None:
    url = web.file("/articles/audit-report/?utm_campaign=x", "jsonld.html", "text/html; charset=utf-8")
    assert run("add", url, "--root", str(example)).exit_code == 0
    assert added(example) == {
        "title": "Audit finds 40% of grants unreported",
        "url": f"{web.base}/articles/audit-report/",
        "source": "Audit Watch",
        "author": "Ana Lima, João Reis",
        "date": __import__("datetime").date(2026, 3, 28),
        "summary": "The annual audit & its findings.",
    }


def test_title_only_page_with_entities(example: Path, web: Web) -> None:
    url = web.file("/plain", "title-only.html", "text/html")
    result = run("add", url, "--root", str(example))
    assert result.exit_code == 0, result.output
    assert added(example) == {"title": "Café & Politics: Tom’s <guide>", "url": f"{web.base}/plain"}


def test_windows_1256_page_comes_out_as_arabic(example: Path, web: Web) -> None:
    # The charset is declared only in the page (the header says nothing): the page wins over a UTF-8 guess.
    url = web.file("/ar", "arabic-1256.html", "text/html")
    assert run("add", url, "--root", str(example)).exit_code == 0
    item = added(example)
    assert item["title"] == "تقرير الشفافية السنوي: نتائج جديدة"
    assert item["source"] == "صحيفة المثال"
    assert "تقرير الشفافية السنوي" in (example / DRAFT).read_text(encoding="utf-8")  # written as text, not \u escapes


def test_the_http_charset_wins(example: Path, web: Web) -> None:
    body = "<title>Ελληνικά νέα</title>".encode("iso8859-7")
    web.routes["/el"] = lambda h: send(h, 200, body, {"Content-Type": "text/html; charset=iso-8859-7"})
    assert run("add", web.url("/el"), "--root", str(example)).exit_code == 0
    assert added(example)["title"] == "Ελληνικά νέα"


def test_section_option_picks_a_section_or_starts_one(example: Path, web: Web) -> None:
    url = web.file("/t", "twitter.html", "text/html")
    result = run("add", url, "--root", str(example), "--section", "top stories")
    assert result.stdout == f'added "Civic tech meetup: notes" to {DRAFT}, section "top stories"\n'
    data = yaml.safe_load((example / DRAFT).read_text(encoding="utf-8"))
    assert data["sections"][0]["items"][-1]["url"] == url  # "Top stories", matched regardless of case
    url2 = web.file("/plain", "title-only.html", "text/html")
    assert run("add", url2, "--root", str(example), "--section", "Tools").exit_code == 0
    data = yaml.safe_load((example / DRAFT).read_text(encoding="utf-8"))
    assert data["sections"][-1] == {
        "title": "Tools",
        "items": [{"title": "Café & Politics: Tom’s <guide>", "url": url2}],
    }
    assert run("check", "--root", str(example)).exit_code == 0


def test_a_link_already_in_an_issue_is_refused_naming_issue_and_line(example: Path, web: Web) -> None:
    # https://opendataday.org/ is first linked at issues/0041.yaml:100: another spelling of it is the same link.
    before = tree(example)
    result = run("add", "http://www.opendataday.org?utm_source=x#top", "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "issues/0041.yaml:100: url: already links to http://www.opendataday.org?utm_source=x#top: --force adds it"
        " again\n1 error; nothing was written\n"
    )
    assert tree(example) == before
    assert web.requests == []  # refused before any request


def test_a_canonical_url_already_in_an_issue_is_refused(example: Path, web: Web) -> None:
    url = web.file("/articles/audit-report/?page=1", "jsonld.html", "text/html")
    web.file("/articles/audit-report/?page=2", "jsonld.html", "text/html")
    assert run("add", url, "--root", str(example)).exit_code == 0
    result = run("add", url.replace("?page=1", "?page=2"), "--root", str(example))
    assert result.exit_code == 1
    line = next(i for i, t in enumerate((example / DRAFT).read_text().splitlines(), 1) if "audit-report" in t)
    assert (
        result.stderr
        == f"{DRAFT}:{line}: url: already links to {web.base}/articles/audit-report/: --force adds it again\n1 error;"
        " nothing was written\n"
    )
    forced = run("add", url.replace("?page=1", "?page=2"), "--root", str(example), "--force")
    assert forced.exit_code == 0, forced.output


def test_the_newest_draft_is_the_default_and_issue_picks_another(example: Path, web: Web) -> None:
    url = web.file("/plain", "title-only.html", "text/html")
    assert run("add", url, "--root", str(example), "--issue", "43").exit_code == 0
    assert added(example, "issues/0043.yaml")["url"] == url
    result = run("add", web.url("/x"), "--root", str(example), "--issue", "99")
    assert result.stderr == "issues: there is no issue 99 (the newest is 44)\n1 error; nothing was written\n"


def test_without_a_draft_add_points_to_new(example: Path, web: Web) -> None:
    (example / DRAFT).unlink()
    result = run("add", web.url("/x"), "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "issues: no draft issue to add to: start one with `digest new` (or name an issue with --issue)\n1 error;"
        " nothing was written\n"
    )


@pytest.mark.parametrize(
    ("route", "cause"),
    [
        ("/missing", "HTTP 404 Not Found"),
        ("/loop1", "redirect loop ({base}/loop2 leads back to {base}/loop1)"),
        ("/hop0", "more than 5 redirects"),
        ("/big", "larger than 5 MB; not reading it"),
        ("/big-unannounced", "larger than 5 MB; not reading it"),
        ("/gzip-bomb", "larger than 5 MB; not reading it"),  # 6 KB on the wire, counted as what it unpacks to
        ("/data.json", "is not a web page (application/json); only HTML pages can be added"),
        ("/report.pdf", "is a PDF, not a web page: digest add --force adds it with its file name as the title"),
        ("/to-ftp", "redirects to ftp://127.0.0.1/file: only http and https addresses can be fetched"),
    ],
)
def test_what_cannot_be_added_is_one_line_and_the_file_stays(example: Path, web: Web, route: str, cause: str) -> None:
    web.routes["/loop1"] = lambda h: send(h, 302, b"", {"Location": "/loop2"})
    web.routes["/loop2"] = lambda h: send(h, 301, b"", {"Location": f"{web.base}/loop1"})
    for i in range(6):
        web.routes[f"/hop{i}"] = lambda h, i=i: send(h, 307, b"", {"Location": f"/hop{i + 1}"})
    web.routes["/hop6"] = lambda h: send(h, 200, b"<title>too far</title>", {"Content-Type": "text/html"})
    big = b"<title>big</title>" + b" " * (5 * 1024 * 1024)
    web.routes["/big"] = lambda h: send(h, 200, big, {"Content-Type": "text/html"})
    web.routes["/big-unannounced"] = lambda h: send(h, 200, big, {"Content-Type": "text/html"}, length=False)
    bomb = __import__("gzip").compress(big)
    web.routes["/gzip-bomb"] = lambda h: send(h, 200, bomb, {"Content-Type": "text/html", "Content-Encoding": "gzip"})
    web.routes["/data.json"] = lambda h: send(h, 200, b"{}", {"Content-Type": "application/json"})
    web.file("/report.pdf", "report.pdf", "application/pdf")
    web.routes["/to-ftp"] = lambda h: send(h, 302, b"", {"Location": "ftp://127.0.0.1/file"})
    before = tree(example)
    result = run("add", web.url(route), "--root", str(example))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"{web.url(route)}: {cause.format(base=web.base)}; nothing was written\n"
    assert tree(example) == before


def test_a_redirect_chain_within_the_limit_is_followed(example: Path, web: Web) -> None:
    for i in range(5):
        web.routes[f"/r{i}"] = lambda h, i=i: send(h, 301, b"", {"Location": f"/r{i + 1}"})
    web.file("/r5", "title-only.html", "text/html")
    assert run("add", web.url("/r0"), "--root", str(example)).exit_code == 0
    assert added(example)["url"] == web.url("/r5")  # where the page is, not where the link pointed


def test_a_pdf_is_added_with_force_titled_by_its_file_name(example: Path, web: Web) -> None:
    web.file("/files/Annual%20Report%202025.pdf", "report.pdf", "application/pdf")
    result = run("add", web.url("/files/Annual%20Report%202025.pdf"), "--root", str(example), "--force")
    assert result.exit_code == 0, result.output
    assert added(example) == {"title": "Annual Report 2025.pdf", "url": web.url("/files/Annual%20Report%202025.pdf")}


def test_an_unreachable_host_is_one_line(example: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run("add", f"http://127.0.0.1:{port}/x", "--root", str(example))
    assert result.exit_code == 1
    assert result.stderr == f"http://127.0.0.1:{port}/x: cannot connect: Connection refused; nothing was written\n"


def test_a_slow_server_times_out(example: Path, web: Web) -> None:
    def slow(h: object) -> None:
        web.stop.wait(5)

    web.routes["/slow"] = slow  # type: ignore[assignment]
    before = tree(example)
    started = time.monotonic()
    with pytest.raises(FetchError) as e:
        add_url(example, web.url("/slow"), timeout=0.5)
    assert str(e.value) == f"{web.url('/slow')}: timed out after 0.5 s"
    assert time.monotonic() - started < 4.5  # gave up on its own timeout, not the server's 5 s
    assert tree(example) == before


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://example.org/x", "ftp://example.org/x: must be an http(s) URL, got 'ftp://example.org/x'"),
        ("javascript:alert(1)", "javascript:alert(1): must be an http(s) URL, got 'javascript:alert(1)'"),
        (
            "example.org/page",
            "example.org/page: must be a full http(s) URL (like https://example.com/page), got 'example.org/page'",
        ),
    ],
)
def test_only_http_and_https(example: Path, url: str, message: str) -> None:
    result = run("add", url, "--root", str(example))
    assert (result.exit_code, result.stderr) == (1, f"{message}\n1 error; nothing was written\n")


def test_a_flow_style_section_gets_a_clear_error(example: Path, web: Web) -> None:
    (example / DRAFT).write_text(
        "date: 2026-03-27\ndraft: true\nsections:\n  - title: Links\n    items: [{title: A, url:"
        " 'https://a.example/'}]\n",
        encoding="utf-8",
    )
    before = tree(example)
    result = run("add", web.file("/plain", "title-only.html", "text/html"), "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "issues/0044.yaml:5: sections[1].items: is written in flow style ([...]); digest adds only to block lists, "
        "one '- ' entry per line: rewrite it that way first\n1 error; nothing was written\n"
    )
    assert tree(example) == before


def test_comments_quoting_and_layout_stay_byte_for_byte(example: Path, web: Web) -> None:
    original = (
        "# A hand-kept issue\r\n"
        "date: 2026-03-27   # the Friday\r\n"
        "draft: true\r\n"
        "sections:\r\n"
        "- title: 'Links'\r\n"
        "  items:\r\n"
        '  - title: "Quoted"   # keep me\r\n'
        "    summary: |\r\n"
        "      Two\r\n"
        "\r\n"
        "      paragraphs.\r\n"
        "\r\n"
        "  # a note after the last item\r\n"
        "outro: Bye\r\n"
    )
    (example / DRAFT).write_bytes(original.encode("utf-8"))
    assert run("add", web.file("/plain", "title-only.html", "text/html"), "--root", str(example)).exit_code == 0
    text = (example / DRAFT).read_bytes().decode("utf-8")
    head = original.split("  # a note")[0]
    assert (
        text
        == head
        + f"  - title: 'Café & Politics: Tom’s <guide>'\r\n    url: {web.base}/plain\r\n"
        + original[len(head) :]
    )


def test_a_result_that_would_not_pass_check_is_not_written(example: Path, web: Web) -> None:
    # The draft already has an error: add reports it and leaves the file alone.
    text = (
        (example / DRAFT)
        .read_text(encoding="utf-8")
        .replace("source: Open Knowledge Foundation", "source: Open Knowledge Foundation\n        colour: red")
    )
    (example / DRAFT).write_text(text, encoding="utf-8")
    before = tree(example)
    result = run("add", web.file("/plain", "title-only.html", "text/html"), "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "issues/0044.yaml:19: sections[1].items[2].colour: unknown key; known keys: title, url, summary, source,"
        " author, image, date, id, translated_from, sponsored\n1 error; nothing was written\n"
    )
    assert tree(example) == before


def test_help_has_an_example() -> None:
    for command in ("init", "new", "add", "collect"):
        result = run(command, "--help")
        assert result.exit_code == 0
        assert "Example:\n    digest " + command in result.output


# Each field's sources, in the order the issue gives them: (kind, name, value, what the item gets).
PRIORITY: dict[str, list[tuple[str, str, str, object]]] = {
    "title": [
        ("meta", "og:title", "OG", "OG"),
        ("meta", "twitter:title", "TW", "TW"),
        ("ld", "headline", "LD", "LD"),
        ("title", "", "T", "T"),
    ],
    "summary": [
        ("meta", "og:description", "OG", "OG"),
        ("meta", "twitter:description", "TW", "TW"),
        ("ld", "description", "LD", "LD"),
        ("meta", "description", "M", "M"),
    ],
    "source": [("meta", "og:site_name", "OG", "OG"), ("ld", "publisher", "LD", "LD")],
    "author": [("meta", "article:author", "OG", "OG"), ("ld", "author", "LD", "LD"), ("meta", "author", "M", "M")],
    "date": [
        ("meta", "article:published_time", "2026-01-02T23:30:00+05:00", dt.date(2026, 1, 2)),
        ("ld", "datePublished", "2026-01-03", dt.date(2026, 1, 3)),
    ],
    "url": [
        ("link", "canonical", "https://www.news.example/canon?utm_medium=y&k=1", "https://www.news.example/canon?k=1"),
        ("meta", "og:url", "/og?fbclid=z", "https://news.example/og"),
        ("page", "", "", "https://news.example/a"),
    ],
}


def _page(sources: list[tuple[str, str, str, object]]) -> bytes:
    head = []
    ld: dict[str, object] = {"@type": "NewsArticle"}
    for kind, name, value, _ in sources:
        if kind == "meta":
            attr = "property" if ":" in name and not name.startswith("twitter:") else "name"
            head.append(f'<meta {attr}="{name}" content="{value}">')
        elif kind == "ld":
            ld[name] = {"@type": "Organization", "name": value} if name in ("publisher", "author") else value
        elif kind == "title":
            head.append(f"<title>{value}</title>")
        elif kind == "link":
            head.append(f'<link rel="{name}" href="{value}">')
    if len(ld) > 1:
        head.append(f'<script type="application/ld+json">{__import__("json").dumps(ld)}</script>')
    return ("<!doctype html><html><head>" + "".join(head) + "</head><body></body></html>").encode("utf-8")


@pytest.mark.parametrize("field", list(PRIORITY))
def test_each_field_takes_its_sources_in_order(field: str) -> None:
    # Every source present, then the first taken away, and so on: each time the next one wins.
    from digest.compose.meta import page_metadata

    sources = PRIORITY[field]
    for i, (_, _, _, expected) in enumerate(sources):
        present = sources[i:]
        if field != "title":  # the JSON-LD object counts only with a headline
            present = [*present, ("ld", "headline", "H", None)]
        meta = page_metadata(_page(present), "https://news.example/a?utm_source=x")
        assert getattr(meta, field) == expected, (field, sources[i])


def test_a_canonical_elsewhere_gives_way_to_og_url_and_a_profile_url_is_no_author() -> None:
    from digest.compose.meta import page_metadata

    page = _page(
        [
            ("link", "canonical", "https://aggregator.example/copy", None),
            ("meta", "og:url", "https://news.example/real", None),
            ("meta", "article:author", "https://social.example/nino", None),
            ("meta", "author", "Nino Beridze", None),
        ]
    )
    meta = page_metadata(page, "https://www.news.example/a")
    assert (meta.url, meta.author) == ("https://news.example/real", "Nino Beridze")


def test_a_read_only_issues_folder_is_one_error(example: Path, web: Web) -> None:
    url = web.file("/plain", "title-only.html", "text/html")
    before = tree(example)
    with immutable(example / "issues"):
        result = run("add", url, "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"{DRAFT}: cannot be written (Operation not permitted); it is unchanged\n1 error; nothing was written\n"
    )
    assert tree(example) == before


def test_a_link_another_add_wrote_meanwhile_is_refused_not_added_twice(example: Path, web: Web) -> None:
    """Two `add`s of one link at once: the second to take the writers' lock finds the link the
    first wrote while it was fetching (here the page's server writes it, deterministically)."""
    body = (FIXTURES / "title-only.html").read_bytes()
    url = web.url("/same")

    def meanwhile(h: Any) -> None:
        with (example / DRAFT).open("a", encoding="utf-8") as f:
            f.write(f"      - title: Written meanwhile\n        url: {url}\n")
        send(h, 200, body, {"Content-Type": "text/html"})

    web.routes["/same"] = meanwhile
    result = run("add", url, "--root", str(example))
    line = (example / DRAFT).read_text(encoding="utf-8").splitlines().index(f"        url: {url}") + 1
    assert (result.exit_code, result.stdout) == (1, "")
    assert (
        result.stderr
        == f"{DRAFT}:{line}: url: already links to {url}: --force adds it again\n1 error; nothing was written\n"
    )
    assert (example / DRAFT).read_text(encoding="utf-8").count(url) == 1
