"""`digest check`, the pre-send gate: one round, the link ledger, subject and preheader, --links."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import run

from digest.core.cachedir import newsletter_cache
from digest.core.urls import normalize_url

CONFIG = """\
title: Gate Weekly
url: https://gate.example.org/
"""


def issue(date: str, *urls: str, extra: str = "") -> str:
    items = "".join(f"      - title: Item {i}\n        url: {u}\n" for i, u in enumerate(urls, 1))
    return f"date: {date}\n{extra}sections:\n  - items:\n{items}"


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a", "http://www.example.com/a/"),
        ("https://Example.COM/a?utm_source=x&id=3#top", "https://example.com/a?id=3"),
        ("https://example.com:443/a?fbclid=1&gclid=2&mc_eid=3", "https://example.com/a"),
        ("mailto:Ed@Example.org", "mailto:ed@example.org"),
    ],
)
def test_normalised_urls_are_equal(a: str, b: str) -> None:
    assert normalize_url(a) == normalize_url(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.com/a", "https://example.com/b"),
        ("https://example.com/a?id=3", "https://example.com/a?id=4"),
        ("https://example.com:8443/a", "https://example.com/a"),
        ("https://sub.example.com/a", "https://example.com/a"),
    ],
)
def test_different_pages_stay_different(a: str, b: str) -> None:
    assert normalize_url(a) != normalize_url(b)


def test_the_ledger_names_the_earlier_line_and_issue(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=CONFIG,
        issues={
            "0001.yaml": issue("2024-01-05", "https://example.com/old", "https://example.com/gone"),
            "0002.yaml": issue(
                "2024-01-12",
                "http://www.example.com/old/",
                "https://example.com/new",
                extra=(
                    "intro: See [it again](https://example.com/new#part) and [write to us](mailto:ed@example.org) [at"
                    " this address](mailto:ed@example.org).\n"
                ),
            ),
        },
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert result.stdout == "checked 2 issues: no errors, 2 warnings\n"
    assert (
        result.stderr
        == "issues/0002.yaml:6: warning: sections[1].items[1].url: links http://www.example.com/old/, already linked in"
        " issue 1 (issues/0001.yaml:5)\nissues/0002.yaml:8: warning: sections[1].items[2].url: links"
        " https://example.com/new again: it is already linked at line 2 (intro)\n"
    )
    strict = run("check", "--strict", "--root", str(root))
    assert strict.exit_code == 1
    assert strict.stderr == result.stderr + "2 warnings, which --strict makes fatal\n"


def test_the_ledger_looks_back_check_history_issues(newsletter: Callable[..., Path]) -> None:
    issues = {"0001.yaml": issue("2024-01-05", "https://example.com/x")}
    issues |= {f"000{n}.yaml": issue(f"2024-01-{n + 10}", f"https://example.com/{n}") for n in range(2, 5)}
    issues["0005.yaml"] = issue("2024-01-30", "https://example.com/x")
    root = newsletter(config=CONFIG + "check:\n  history: 3\n", issues=issues)
    result = run("check", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""  # issue 1 is four issues back
    (root / "config.yaml").write_text(CONFIG + "check:\n  history: 4\n", encoding="utf-8")
    assert (
        run("check", "--root", str(root)).stderr
        == "issues/0005.yaml:5: warning: sections[1].items[1].url: links https://example.com/x, already linked in issue"
        " 1 (issues/0001.yaml:5)\n"
    )


def test_only_the_newest_issue_and_drafts_are_ledgered_unless_asked(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        config=CONFIG,
        issues={
            "0001.yaml": issue("2024-01-05", "https://example.com/a"),
            "0002.yaml": issue("2024-01-12", "https://example.com/a"),  # history: cannot be changed now
            "0003.yaml": issue("2024-01-19", "https://example.com/b"),
        },
    )
    assert run("check", "--root", str(root)).stderr == ""
    asked = run("check", "--issue", "2", "--root", str(root))
    assert (
        asked.stderr
        == "issues/0002.yaml:5: warning: sections[1].items[1].url: links https://example.com/a, already linked in issue"
        " 1 (issues/0001.yaml:5)\n"
    )
    missing = run("check", "--issue", "9", "--root", str(root))
    assert missing.exit_code == 1
    assert missing.stderr == "issues: there is no issue 9\n1 error\n"


def test_one_round_renders_the_valid_issues_when_others_fail(newsletter: Callable[..., Path]) -> None:
    blurb = "Long summary text about civic data and budgets, written out at length. " * 6
    big = "date: 2024-01-12\nsections:\n  - items:\n" + "".join(
        f"      - title: Item {i}\n        url: https://example.com/big/{i}\n        summary: {blurb}\n"
        for i in range(150)
    )
    root = newsletter(config=CONFIG, issues={"0001.yaml": "date: 2024-01-05\n", "0002.yaml": big})
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "issues/0001.yaml:1: missing required key 'sections'"
    assert lines[1].startswith("issues/0002.yaml: warning: email.html is ")  # found in the same round
    assert lines[1].endswith(
        " bytes as sent, over Gmail's clipping limit of 102,000: Gmail would hide the rest and the unsubscribe link;"
        " shorten it or split it"
    )
    assert lines[2:] == ["1 error"]


def test_long_subjects_and_preheaders_warn_at_their_lines(newsletter: Callable[..., Path]) -> None:
    subject = "A subject that goes on and on about everything this week has brought to the inbox of our readers"
    root = newsletter(
        config=CONFIG,
        issues={
            "0001.yaml": issue(
                "2024-01-05", "https://example.com/a", extra=f"subject: {subject}\npreheader: {'x' * 141}\n"
            )
        },
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 0
    assert (
        result.stderr
        == f"issues/0001.yaml:2: warning: subject: is {len(subject)} characters; inboxes cut a subject after about 80\n"
        "issues/0001.yaml:3: warning: preheader: is 141 characters; inboxes show about 140 after the subject\n"
    )
    (root / "issues" / "0001.yaml").write_text(
        issue("2024-01-05", "https://example.com/a", extra=f"title: {subject}\n"), encoding="utf-8"
    )
    assert (
        run("check", "--root", str(root)).stderr
        == f"issues/0001.yaml:2: warning: title: is the subject (no subject: is set) and {len(subject)} characters;"
        " inboxes cut a subject after about 80\n"
    )


# --links against a real HTTP server on 127.0.0.1.


class _Handler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str]]

    def log_message(self, *args: object) -> None:
        pass

    def _answer(self, body: bool) -> None:
        self.seen.append((self.command, self.path))
        if self.path == "/slow":
            time.sleep(2)
        if self.path == "/no-head" and self.command == "HEAD":
            self.send_response(405)
        elif self.path == "/moved":
            self.send_response(301)
            self.send_header("Location", "/ok?new=1")
        elif self.path == "/hop":
            self.send_response(302)
            self.send_header("Location", "/ok")
        elif self.path in ("/ok", "/ok?new=1", "/no-head", "/slow"):
            self.send_response(200)
        else:
            self.send_response(404)
        self.send_header("Content-Length", "2" if body else "0")
        self.end_headers()
        if body and self.command == "GET":
            self.wfile.write(b"ok")

    def do_HEAD(self) -> None:  # noqa: N802 - http.server's name
        self._answer(False)

    def do_GET(self) -> None:  # noqa: N802
        self._answer(True)


@pytest.fixture
def web() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Handler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_links_reports_broken_and_moved_links_at_their_lines(
    newsletter: Callable[..., Path], web: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = web
    urls = [f"{base}/ok", f"{base}/moved", f"{base}/missing", f"{base}/no-head", f"{base}/slow", f"{base}/hop"]
    root = newsletter(config=CONFIG, issues={"0001.yaml": issue("2024-01-05", *urls)})
    assert run("check", "--root", str(root)).stderr == ""
    assert seen == []  # without --links nothing touches the network
    result = run("check", "--links", "--timeout", "0.5", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert (
        result.stderr
        == f"issues/0001.yaml:7: warning: sections[1].items[2].url: {base}/moved has moved permanently (HTTP 301) to"
        f" {base}/ok?new=1: link there instead\nissues/0001.yaml:9: warning: sections[1].items[3].url:"
        f" {base}/missing is broken: the server answers HTTP 404\nissues/0001.yaml:13: warning:"
        f" sections[1].items[5].url: {base}/slow is broken: no answer in time (timeout)\n"
    )
    assert ("HEAD", "/no-head") in seen and ("GET", "/no-head") in seen  # HEAD refused, so GET
    assert ("HEAD", "/ok") in seen and ("GET", "/ok") not in seen
    cache = json.loads((newsletter_cache(root) / "links.json").read_text(encoding="utf-8"))
    assert sorted(cache["results"]) == sorted(urls)
    # A second check within a day asks nothing and reports the same.
    seen.clear()
    again = run("check", "--links", "--strict", "--root", str(root))
    assert seen == []
    assert again.exit_code == 1
    assert again.stderr == result.stderr + "3 warnings, which --strict makes fatal\n"


def test_links_reports_a_refused_connection(newsletter: Callable[..., Path]) -> None:
    import socket

    with socket.socket() as closed:  # bound, never listening: connections are refused
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}/x"
        root = newsletter(config=CONFIG, issues={"0001.yaml": issue("2024-01-05", url)})
        result = run("check", "--links", "--root", str(root))
    assert (
        result.stderr
        == f"issues/0001.yaml:5: warning: sections[1].items[1].url: {url} is broken: the connection is refused\n"
    )


def test_links_reports_an_untrusted_certificate_and_an_unknown_host(
    newsletter: Callable[..., Path], web: tuple[str, list[tuple[str, str]]]
) -> None:
    import ssl

    import trustme

    ca = trustme.CA()  # an authority the system has never heard of
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    handler = type("Handler", (_Handler,), {"seen": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        tls = f"https://127.0.0.1:{server.server_address[1]}/ok"
        unknown = "https://digest-test.invalid/x"  # .invalid never resolves (RFC 6761)
        root = newsletter(config=CONFIG, issues={"0001.yaml": issue("2024-01-05", tls, unknown)})
        result = run("check", "--links", "--root", str(root))
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert (
        result.stderr
        == f"issues/0001.yaml:5: warning: sections[1].items[1].url: {tls} is broken: its TLS certificate is not valid\n"
        f"issues/0001.yaml:7: warning: sections[1].items[2].url: {unknown} is broken: the host name does not resolve\n"
    )


def test_a_cache_it_did_not_make_is_not_trusted(
    newsletter: Callable[..., Path], web: tuple[str, list[tuple[str, str]]]
) -> None:
    base, seen = web
    root = newsletter(config=CONFIG, issues={"0001.yaml": issue("2024-01-05", f"{base}/missing")})
    planted = {"format": 1, "results": {f"{base}/missing": {"checked": time.time(), "status": 200}}}
    (root / ".digest-cache").mkdir()  # a cache that came with the folder is never read
    (root / ".digest-cache" / "links.json").write_text(json.dumps(planted))
    malformed = {"format": 1, "results": {f"{base}/missing": {"checked": "soon", "status": 200}}}
    (newsletter_cache(root) / "links.json").write_text(json.dumps(malformed))  # and a malformed one is not trusted
    result = run("check", "--links", "--root", str(root))
    assert ("HEAD", "/missing") in seen
    assert (
        result.stderr
        == f"issues/0001.yaml:5: warning: sections[1].items[1].url: {base}/missing is broken: the server answers HTTP"
        " 404\n"
    )
