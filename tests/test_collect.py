"""`digest collect`: RSS, Atom and JSON Feed entries → items in the newest draft, over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import immutable, run, tree
from webserver import FIXTURES, Web, send, serve

from digest.compose.collect import collect
from digest.compose.net import FetchError
from digest.core.cachedir import newsletter_cache

DRAFT = "issues/0044.yaml"


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


def items(root: Path, rel: str = DRAFT) -> list[dict[str, object]]:
    data = yaml.safe_load((root / rel).read_text(encoding="utf-8"))
    return [item for section in data["sections"] for item in section["items"]]


def feeds(web: Web) -> dict[str, str]:
    return {
        "rss": web.file("/feed/", "wordpress.rss", "application/rss+xml; charset=UTF-8"),
        "atom": web.file("/atom.xml", "atom.xml", "application/atom+xml"),
        "json": web.file("/feed.json", "feed.json", "application/feed+json"),
        "broken": web.file("/broken.xml", "broken.xml", "text/html"),
    }


def test_wordpress_rss_with_cdata_html_and_entities(example: Path, web: Web) -> None:
    url = feeds(web)["rss"]
    before = (example / DRAFT).read_bytes()
    result = run("collect", url, "--root", str(example))
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{url}: added 2, skipped 1 (1 not after 2026-03-20)\n"  # the January post is older than the last issue
        f"added 2 items to {DRAFT}\n"
    )
    assert (example / DRAFT).read_bytes().startswith(before)
    assert items(example)[-2:] == [
        {
            "title": "Budget data – now open",
            "url": "https://blog.example.org/2026/03/budget-data/",  # utm_* removed
            "source": "Open Commons Blog",
            "author": "Maria Keller",
            "date": dt.date(2026, 3, 30),
            # HTML cleaned into markdown: no script, no tracking pixel, entities decoded.
            # The paragraph linking back to the post itself is dropped.
            "summary": (
                "The city’s budget is **finally** open & searchable. [Browse it](https://data.example.org/budget)."
            ),
        },
        {
            "title": "Procurement portal launched",
            "url": "https://blog.example.org/2026/03/procurement/",
            "source": "Open Commons Blog",
            "author": "Omar Haddad",
            "date": dt.date(2026, 3, 28),
            "summary": "Every tender since 2019, in one place.",
        },
    ]
    assert (example / "collected.txt").read_text(
        encoding="utf-8"
    ) == "blog.example.org/2026/03/budget-data\nblog.example.org/2026/03/procurement\n"
    check = run("check", "--root", str(example))
    assert check.exit_code == 0, check.output


def test_atom_and_json_feed(example: Path, web: Web) -> None:
    f = feeds(web)
    result = run("collect", f["atom"], f["json"], "--root", str(example), "--section", "Elsewhere")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"{f['atom']}: added 1, skipped 0\n{f['json']}: added 2, skipped 1 (1 undated)\nadded 3 items to {DRAFT}\n"
    )
    data = yaml.safe_load((example / DRAFT).read_text(encoding="utf-8"))
    assert data["sections"][-1] == {
        "title": "Elsewhere",
        "items": [
            {
                "title": "Encryption & the new bill",  # an HTML title becomes its text
                "url": "https://rights.example.net/posts/encryption-bill",
                "source": "Rights Watch",
                "author": "Lea Novak",
                "date": dt.date(2026, 3, 29),
                "summary": "What the bill means for *end-to-end* encryption.",
            },
            {
                "title": "Census microdata released",
                "url": "https://desk.example.com/42-census",  # mc_eid removed
                "source": "Data Desk",
                "author": "Kim Lee",
                "date": dt.date(2026, 3, 31),  # 07:00 at +02:00 is 05:00 UTC
                "summary": "Ten million records, **anonymised**.",  # the iframe is gone
            },
            {
                "title": "Budget \\*lines\\* explained",  # a feed title is text: escaped, its stars show as stars
                "url": "https://desk.example.com/44-budget",
                "source": "Data Desk",
                "date": dt.date(2026, 3, 30),
                # JSON Feed's summary is plain text: escaped, so none of it turns into markup.
                "summary": "Plain text, not markup: <b>this</b> & \\*that\\* stay as written.",
            },
        ],
    }


def test_a_second_run_adds_nothing_and_a_deleted_candidate_stays_away(example: Path, web: Web) -> None:
    url = feeds(web)["rss"]
    assert run("collect", url, "--root", str(example)).exit_code == 0
    text = (example / DRAFT).read_text(encoding="utf-8")
    after_first = tree(example)
    again = run("collect", url, "--root", str(example))
    assert again.exit_code == 0, again.output
    assert (
        again.stdout
        == f"{url}: added 0, skipped 3 (2 already in an issue, 1 not after 2026-03-20)\nnothing new; {DRAFT} is"
        " unchanged\n"
    )
    assert tree(example) == after_first
    # The curator deletes the procurement item: next week it is not offered again.
    cut = text.index("      - title: Procurement portal launched")
    (example / DRAFT).write_text(text[:cut], encoding="utf-8")
    third = run("collect", url, "--root", str(example))
    assert (
        third.stdout
        == f"{url}: added 0, skipped 3 (1 already in an issue, 1 not after 2026-03-20, 1 offered before)\nnothing new;"
        f" {DRAFT} is unchanged\n"
    )


def test_conditional_get_with_etag_and_last_modified(example: Path, web: Web) -> None:
    body = (FIXTURES / "wordpress.rss").read_bytes()
    etag, modified = '"v1"', "Mon, 30 Mar 2026 08:00:00 GMT"

    def feed(h: object) -> None:
        from http.server import BaseHTTPRequestHandler

        assert isinstance(h, BaseHTTPRequestHandler)
        if h.headers.get("If-None-Match") == etag:
            send(h, 304, b"", {"ETag": etag})
        else:
            send(h, 200, body, {"Content-Type": "application/rss+xml", "ETag": etag, "Last-Modified": modified})

    web.routes["/feed"] = feed
    assert run("collect", web.url("/feed"), "--root", str(example)).exit_code == 0
    cache = json.loads((newsletter_cache(example) / "collect-feeds.json").read_bytes())  # this user's cache folder
    assert cache == {
        "version": 2,
        "feeds": {web.url("/feed"): {"etag": etag, "last_modified": modified, "admits": "2026-03-21"}},
    }
    second = run("collect", web.url("/feed"), "--root", str(example))
    assert (
        second.stdout == f"{web.url('/feed')}: not modified since the last collect\nnothing new; {DRAFT} is unchanged\n"
    )
    assert web.requests[-1][1]["if-none-match"] == etag
    assert web.requests[-1][1]["if-modified-since"] == modified
    assert "if-none-match" not in web.requests[0][1]


def test_an_earlier_since_asks_again_instead_of_trusting_not_modified(example: Path, web: Web) -> None:
    # The first run skipped the January post as too old; "not modified" must not hide it from --since.
    body = (FIXTURES / "wordpress.rss").read_bytes()

    def feed(h: object) -> None:
        from http.server import BaseHTTPRequestHandler

        assert isinstance(h, BaseHTTPRequestHandler)
        if h.headers.get("If-None-Match") == '"v1"':
            send(h, 304, b"", {"ETag": '"v1"'})
        else:
            send(h, 200, body, {"Content-Type": "application/rss+xml", "ETag": '"v1"'})

    web.routes["/feed"] = feed
    url = web.url("/feed")
    assert (
        run("collect", url, "--root", str(example)).stdout
        == f"{url}: added 2, skipped 1 (1 not after 2026-03-20)\nadded 2 items to {DRAFT}\n"
    )
    older = run("collect", url, "--root", str(example), "--since", "2026-01-01")
    assert older.stdout == f"{url}: added 1, skipped 2 (2 already in an issue)\nadded 1 item to {DRAFT}\n"
    assert "if-none-match" not in web.requests[-1][1]
    assert items(example)[-1]["title"] == "An old post"
    # Learnt under --since 2026-01-01, the validators serve any run that takes no older entries.
    later = run("collect", url, "--root", str(example), "--since", "2026-02-01")
    assert later.stdout == f"{url}: not modified since the last collect\nnothing new; {DRAFT} is unchanged\n"
    assert web.requests[-1][1]["if-none-match"] == '"v1"'


SEALED = '{"mac":"' + "0" * 64 + '","body":{"version": 2, "feeds": {"URL": {"etag": "\\"v1\\"", "admits": ""}}}}'


@pytest.mark.parametrize(
    "planted",
    [
        '{"version": 2, "feeds": {"URL": {"etag": "\\"v1\\"", "admits": ""}}}',  # the plain format, well formed
        SEALED,  # sealed, as earlier versions wrote it
    ],
)
def test_a_cache_that_came_with_the_newsletter_is_never_read(example: Path, web: Web, planted: str) -> None:
    """Validators live in this user's cache folder; one planted in the newsletter (a commit,
    an archive) is never read, in the layout of earlier versions or in the current one."""
    url = feeds(web)["rss"]
    for rel in ("collect/feeds.json", "collect-feeds.json"):
        (example / ".digest-cache" / rel).parent.mkdir(parents=True, exist_ok=True)
        (example / ".digest-cache" / rel).write_text(planted.replace("URL", url), encoding="utf-8")
    assert run("collect", url, "--root", str(example)).exit_code == 0
    assert "if-none-match" not in web.requests[-1][1]


def test_the_cache_is_never_written_through_a_symlink(example: Path, web: Web, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (example / ".digest-cache").symlink_to(outside, target_is_directory=True)
    url = web.file("/feed", "wordpress.rss", "application/rss+xml", ETag='"v1"')
    result = run("collect", url, "--root", str(example))
    assert result.exit_code == 0, result.output
    assert list(outside.iterdir()) == []
    assert "if-none-match" not in web.requests[-1][1]


def test_one_broken_feed_does_not_stop_the_others(example: Path, web: Web) -> None:
    f = feeds(web)
    missing = web.url("/gone.xml")
    result = run("collect", f["broken"], missing, f["atom"], "--root", str(example))
    assert result.exit_code == 1
    assert result.stderr == f"{f['broken']}: not an RSS, Atom or JSON feed\n{missing}: HTTP 404 Not Found\n"
    assert result.stdout == f"{f['atom']}: added 1, skipped 0\nadded 1 item to {DRAFT}\n"
    assert items(example)[-1]["url"] == "https://rights.example.net/posts/encryption-bill"


def test_a_truncated_feed_is_broken_xml_at_its_line(example: Path, web: Web) -> None:
    cut = (FIXTURES / "wordpress.rss").read_bytes()[:50]
    web.routes["/cut.xml"] = lambda h: send(h, 200, cut, {"Content-Type": "application/rss+xml"})
    before = tree(example)
    result = run("collect", web.url("/cut.xml"), "--root", str(example))
    assert (result.exit_code, result.stderr) == (1, f"{web.url('/cut.xml')}: broken XML at line 2: unclosed token\n")
    assert tree(example) == before


def test_feeds_are_asked_for_with_digests_user_agent_and_go_to_the_issue_named(example: Path, web: Web) -> None:
    from digest import __version__

    url = feeds(web)["atom"]
    result = run("collect", url, "--root", str(example), "--issue", "43")
    assert result.stdout == f"{url}: added 1, skipped 0\nadded 1 item to issues/0043.yaml\n"
    assert items(example, "issues/0043.yaml")[-1]["url"] == "https://rights.example.net/posts/encryption-bill"
    assert web.requests[-1][1]["user-agent"] == f"digest/{__version__} (+https://digest.example.org/)"
    assert "application/atom+xml" in web.requests[-1][1]["accept"]


def test_only_broken_feeds_leave_everything_as_it_was(example: Path, web: Web) -> None:
    f = feeds(web)
    before = tree(example)
    result = run("collect", f["broken"], "--root", str(example))
    assert result.exit_code == 1
    assert result.stderr == f"{f['broken']}: not an RSS, Atom or JSON feed\n"
    assert result.stdout == f"nothing new; {DRAFT} is unchanged\n"
    assert tree(example) == before


def test_sources_from_config_with_their_sections(example: Path, web: Web) -> None:
    f = feeds(web)
    with (example / "config.yaml").open("a", encoding="utf-8") as c:
        c.write(f"sources:\n  - url: {f['atom']}\n    section: Rights\n  - url: {f['json']}\n")
    result = run("collect", "--root", str(example))
    assert result.exit_code == 0, result.output
    data = yaml.safe_load((example / DRAFT).read_text(encoding="utf-8"))
    assert [(s.get("title"), [i["title"] for i in s["items"]]) for s in data["sections"]] == [
        (
            "Top stories",
            [
                "Georgia’s new access-to-information law, explained",
                "Open Data Day 2026 in numbers",
                "Census microdata released",
                "Budget \\*lines\\* explained",
            ],
        ),
        ("Rights", ["Encryption & the new bill"]),
    ]


def test_no_feed_and_no_sources(example: Path) -> None:
    result = run("collect", "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "config.yaml: sources: no feeds to collect: name one (digest collect URL) or list them under sources:\n1"
        " error; nothing was written\n"
    )


def test_since_takes_older_entries_and_feeds_may_be_files(example: Path) -> None:
    path = str(FIXTURES / "wordpress.rss")
    result = run("collect", path, "--root", str(example), "--since", "2026-01-01")
    assert result.stdout == f"{path}: added 3, skipped 0\nadded 3 items to {DRAFT}\n"
    assert items(example)[-1]["title"] == "An old post"


def test_a_timeout_is_reported_for_that_feed(example: Path, web: Web) -> None:
    web.routes["/slow"] = lambda h: web.stop.wait(5) and None  # type: ignore[func-returns-value]
    f = feeds(web)
    result = collect(example, [web.url("/slow"), f["atom"]], timeout=0.5)
    assert [str(r) for r in result.reports] == [
        f"{web.url('/slow')}: timed out after 0.5 s",
        f"{f['atom']}: added 1, skipped 0",
    ]
    assert result.failed


def test_a_missing_file_is_named(example: Path, tmp_path: Path) -> None:
    result = run("collect", str(tmp_path / "nope.xml"), "--root", str(example))
    assert result.exit_code == 1
    assert result.stderr == f"{tmp_path / 'nope.xml'}: cannot read it: No such file or directory\n"


def test_fetch_error_is_one_line() -> None:
    assert (
        str(FetchError("https://x.example/feed", "HTTP 500 Internal Server Error"))
        == "https://x.example/feed: HTTP 500 Internal Server Error"
    )


def test_a_ledger_that_cannot_be_written_is_reported_and_the_items_stay(example: Path) -> None:
    path = str(FIXTURES / "atom.xml")
    with immutable(example):  # the newsletter folder, where collected.txt goes; issues/ stays writable
        result = run("collect", path, "--root", str(example))
    assert result.exit_code == 1
    assert result.stdout == f"{path}: added 1, skipped 0\nadded 1 item to {DRAFT}\n"
    assert (
        result.stderr == "collected.txt: cannot be written (Operation not permitted); it is unchanged: "
        f"the items are in {DRAFT}, but if you delete one, the next collect offers it again\n"
    )
    assert items(example)[-1]["url"] == "https://rights.example.net/posts/encryption-bill"
    assert not (example / "collected.txt").exists()


def test_an_issue_that_cannot_be_written_is_one_error(example: Path) -> None:
    before = tree(example)
    with immutable(example / "issues"):
        result = run("collect", str(FIXTURES / "atom.xml"), "--root", str(example))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"{DRAFT}: cannot be written (Operation not permitted); it is unchanged\n1 error; nothing was written\n"
    )
    assert tree(example) == before
