"""The preview of `digest serve`: the site in memory, edit by edit, its pages, and the server's limits."""

from __future__ import annotations

import queue
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import run, tree
from siteserver import make_server
from test_server import HANG_GUARD, fetch, running

from digest.core import lint
from digest.core.cachedir import newsletter_cache
from digest.pipeline.output import locked
from digest.preview import pages
from digest.preview.server import Reloader, Server, make_preview_server
from digest.preview.site import PreviewSite
from digest.preview.watch import watch


@pytest.fixture
def preview(golden_root: Path) -> PreviewSite:
    site = PreviewSite(golden_root)
    site.reload()
    assert site.config is not None
    return site


@pytest.fixture
def served(preview: PreviewSite) -> Iterator[tuple[int, Reloader]]:
    reloader = Reloader()
    with running(make_preview_server(preview, reloader, port=0), reloader) as port:
        yield port, reloader


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")


# --- the site in memory ------------------------------------------------------------------


def test_the_preview_serves_exactly_what_a_build_writes(golden_root: Path) -> None:
    assert run("build", "--root", str(golden_root)).exit_code == 0
    built = tree(golden_root / "site")
    site = PreviewSite(golden_root)
    site.reload()
    files = {rel: site.file(rel) for rel in built if not rel.startswith(".")}
    assert files == {rel: data for rel, data in built.items() if not rel.startswith(".")}


def test_drafts_are_previewed_and_listed_first_but_never_published(preview: PreviewSite) -> None:
    assert preview.issues[8].issue is not None and preview.issues[8].issue.draft
    assert [s.number for s in preview.listing()] == [8, 9, 7, 6]
    assert b"Not yet" in (preview.file("issues/8/email.html") or b"")
    index = pages.index_page(preview.config, preview.listing(), []).decode()
    rows = re.findall(r'<li data-number="(\d+)">(.*?)</li>', index)
    assert [n for n, _ in rows] == ["8", "9", "7", "6"]
    assert 'class="badge draft">Draft<' in rows[0][1] and "Draft" not in rows[1][1] + rows[2][1]
    for rel in ("index.html", "feed.xml", "atom.xml", "feed.json"):
        assert b"Not yet" not in (preview.file(rel) or b"!"), rel  # the archive and feeds as published


def test_an_edit_renders_that_issue_alone_and_the_pages_whose_key_changed(
    golden_root: Path, preview: PreviewSite
) -> None:
    """The preview's pages have the build's keys: an issue page is made again only when its
    issue or its neighbours (number, title, date of the issues it links) change; the archive
    page when an issue it lists changes (a template may show anything of them)."""
    six, seven = preview.render(6).outputs, preview.render(7).outputs
    archive, page6 = preview.file("index.html"), preview.file("issues/6/index.html")
    _edit(golden_root / "issues/0007.yaml", "Every field at once", "Every field, edited")
    assert preview.update({golden_root / "issues/0007.yaml"}) == {7}
    assert preview.issues[6].outputs is six  # untouched
    assert preview.issues[7].outputs is not None and preview.issues[7].outputs is not seven  # rendered before returning
    assert b"Every field, edited" in preview.issues[7].outputs["email.html"]
    assert preview.file("issues/6/index.html") is page6  # its neighbour's number, title and date are unchanged
    assert preview.file("index.html") == archive  # made again (it lists issue 7), the same bytes
    _edit(golden_root / "issues/0007.yaml", "title: Leap day\n", "title: Leap day, retitled\n")
    assert preview.update({golden_root / "issues/0007.yaml"}) == {7}
    assert b"Leap day, retitled" in (preview.file("index.html") or b"")
    # Saving the same bytes again changes nothing.
    assert preview.update({golden_root / "issues/0007.yaml"}) == set()


def test_a_broken_edit_keeps_the_last_good_version_and_reports_it(golden_root: Path, preview: PreviewSite) -> None:
    issue = golden_root / "issues/0007.yaml"
    good = preview.file("issues/7/email.html")
    _edit(issue, "date: 2024-02-29", "date: 2024-02-30")
    assert preview.update({issue}) == {7}
    assert preview.errors() == ["issues/0007.yaml:2: date: '2024-02-30' is not a valid date"]
    assert preview.file("issues/7/email.html") == good
    _edit(issue, "date: 2024-02-30", "date: 2024-02-29")
    preview.update({issue})
    assert preview.errors() == []


def test_new_and_removed_issues_and_a_config_change(golden_root: Path, preview: PreviewSite) -> None:
    new = golden_root / "issues/0009.yaml"
    new.write_text(
        (golden_root / "issues/0006.yaml").read_text(encoding="utf-8").replace("number: 6", "number: 9"),
        encoding="utf-8",
    )
    assert 9 in preview.update({new})
    assert preview.file("issues/9/email.html") is not None
    new.unlink()
    assert preview.update({new}) == {9}
    assert preview.file("issues/9/email.html") is None
    _edit(golden_root / "config.yaml", "title: Golden Weekly", "title: Golden Monthly")
    assert preview.update({golden_root / "config.yaml"}) == {6, 7, 8}
    assert b"Golden Monthly" in (preview.file("issues/7/email.html") or b"")


def test_a_build_holding_the_lock_does_not_hold_up_the_preview(golden_root: Path, preview: PreviewSite) -> None:
    with locked(golden_root, newsletter_cache(golden_root)):
        _edit(golden_root / "issues/0007.yaml", "Every field at once", "Edited while a build ran")
        assert preview.update({golden_root / "issues/0007.yaml"}) == {7}
        assert preview.errors() == []
    assert b"Edited while a build ran" in (preview.file("issues/7/email.html") or b"")


def test_an_issue_broken_from_the_start_shows_its_errors(
    golden_root: Path, served: tuple[int, Reloader], preview: PreviewSite
) -> None:
    port, _ = served
    broken = golden_root / "issues/0010.yaml"
    broken.write_text("date: 2024-13-01\nsections: []\n", encoding="utf-8")
    preview.update({broken})
    for path in ("/preview/10/", "/issues/10/", "/issues/10/email.html"):
        status, _, body = fetch(port, path)
        assert status == 200, path
        assert b"issues/0010.yaml:1: date:" in body, path
    assert fetch(port, "/issues/10/email.txt")[0] == 404


@pytest.mark.slow  # server test: real clients against the preview server
def test_the_watcher_sees_every_save_however_it_is_saved(tmp_path: Path) -> None:
    """Editors, `sed -i` and git save by renaming a new file over the old one; a watch on
    config.yaml itself would stay on the old file and miss every save after the first."""
    (tmp_path / "issues").mkdir()
    (tmp_path / "site" / "issues" / "1").mkdir(parents=True)
    config, issue = tmp_path / "config.yaml", tmp_path / "issues" / "0001.yaml"
    config.write_text("title: 0\n", encoding="utf-8")
    issue.write_text("date: 2024-01-01\n", encoding="utf-8")
    batches: queue.Queue[set[Path]] = queue.Queue()
    stop = threading.Event()
    thread = threading.Thread(target=watch, args=(tmp_path, batches.put, stop), daemon=True)
    thread.start()
    seen: list[set[Path]] = []

    def renamed_over(path: Path, text: str) -> None:
        new = path.with_name(path.name + ".new")
        new.write_text(text, encoding="utf-8")
        new.rename(path)

    def reported(path: Path, save: Callable[[], object], repeat: bool = False) -> None:
        """save(), then wait for a batch naming ``path``; ``repeat``: save again every 2 s meanwhile
        (only for the first save: the watcher may not be running yet)."""
        deadline = time.monotonic() + HANG_GUARD
        save()
        while True:
            try:
                batch = batches.get(timeout=2)
            except queue.Empty:
                assert time.monotonic() < deadline, f"{path} was never reported; batches: {seen}"
                if repeat:
                    save()
                continue
            seen.append(batch)
            if path in batch:
                return

    try:
        reported(config, lambda: renamed_over(config, "title: 1\n"), repeat=True)
        for n in (2, 3, 4):  # each save after the first must be seen too
            reported(config, lambda n=n: renamed_over(config, f"title: {n}\n"))
        reported(config, lambda: config.write_text("title: 5\n", encoding="utf-8"))  # and one written in place
        reported(issue, lambda: renamed_over(issue, "date: 2024-01-02\n"))
        reported(issue, lambda: renamed_over(issue, "date: 2024-01-03\n"))
        (tmp_path / "site" / "issues" / "1" / "index.html").write_text("x", encoding="utf-8")  # not a source
        # templates/ made while serving counts from its first file.
        reported(tmp_path / "templates", lambda: (tmp_path / "templates").mkdir())
        reported(
            tmp_path / "templates" / "email.mjml",
            lambda: (tmp_path / "templates" / "email.mjml").write_text("x", encoding="utf-8"),
        )
        reported(issue, lambda: issue.write_text("date: 2024-01-04\n", encoding="utf-8"))
    finally:
        stop.set()
        thread.join(HANG_GUARD)
    assert not thread.is_alive()
    everything = set().union(*seen)
    assert all(
        p == config or p.parent in (tmp_path, tmp_path / "issues", tmp_path / "templates") for p in everything
    ), everything
    assert not any("site" in p.parts for p in everything)


# --- the preview's pages -----------------------------------------------------------------


def test_the_preview_page_shows_everything_about_the_email(served: tuple[int, Reloader], preview: PreviewSite) -> None:
    port, _ = served
    status, headers, body = fetch(port, "/preview/7/")
    assert status == 200 and headers["content-type"] == "text/html; charset=utf-8"
    page = body.decode()
    for control in (
        'data-set="w=320"',
        'data-set="w=375"',
        'data-set="w=desktop"',
        'data-set="scheme=light"',
        'data-set="scheme=dark"',
        'data-set="view=text"',
    ):
        assert control in page
    issue = preview.issues[7].issue
    assert issue is not None
    email = (preview.file("issues/7/email.html") or b"").decode()
    # The size as sent: the HTML part as the standard library encodes it for sending, with
    # SMTP's CRLF line ends.
    part = EmailMessage()
    part.set_content(email, subtype="html")
    payload = str(part.get_payload())
    assert (
        f"<strong>{(len(payload.encode()) + payload.count(chr(10))) / 1000:.1f} KB</strong> of Gmail's"
        f" {lint.CLIP_BYTES // 1000} KB clip" in page
    )
    assert "Golden Weekly #7: leap day special" in page  # the subject, in the inbox line
    assert '<span class="muted preheader">Everything that can go in an issue, in one issue.</span>' in page
    listed = pages.links(email)
    assert len(listed) == len(re.findall(r"<a\s", email)) > 10  # every link of the email, each once
    table = page.split('id="links"')[1].split("</table>")[0]
    assert re.findall(r'<td class="target">([^<]*)</td>', table) == [pages.html.escape(href) for _, href in listed]
    assert ("View in your browser", "https://golden.example.com/news/issues/7/") in pages.links(email)
    assert (
        "A summary with bold" not in page.split('id="text"')[0].split("<aside>")[-1]
    )  # text view holds the text, not the panels
    text = (preview.file("issues/7/email.txt") or b"").decode()
    assert pages.html.escape(text) in page
    assert fetch(port, "/preview/7")[1]["location"] == "/preview/7/"
    assert fetch(port, "/preview/99/")[0] == 404


def test_inbox_cuts_and_warnings_with_their_lines(
    golden_root: Path, served: tuple[int, Reloader], preview: PreviewSite
) -> None:
    port, _ = served
    long = "A preheader that goes on and on well past what any phone inbox shows in its one line of preview text"
    _edit(
        golden_root / "issues/0007.yaml",
        "preheader: Everything that can go in an issue, in one issue.",
        f"preheader: {long}",
    )
    _edit(golden_root / "issues/0007.yaml", "[inline link]", "[click here]")
    preview.update({golden_root / "issues/0007.yaml"})
    page = fetch(port, "/preview/7/")[2].decode()
    shown = {
        client: re.sub(r"<[^>]+>", "", line)
        for client, line in re.findall(
            r'<div data-client="([^"]+)"><span class="client">[^<]*</span><br>(.*?)</div>', page
        )
    }
    # Gmail on the web: one line of 130 characters, the preheader in what the subject leaves;
    # phones: the subject on a line of its own, then the preheader's line(s).
    assert shown == {
        "Gmail on the web": (
            "Golden Weekly · Golden Weekly #7: leap day special – "
            "A preheader that goes on and on well past what any phone inbox shows in its one line of prev…"
        ),
        "iPhone Mail": (
            "Golden Weekly · Golden Weekly #7: leap day special"
            "A preheader that goes on and on well past what any phone inbox shows in its one line of p…"
        ),
        "Gmail app on a phone": (
            "Golden Weekly · Golden Weekly #7: leap day speci…A preheader that goes on and on well pa…"
        ),
    }
    assert (
        '<strong class="sender">Golden Weekly</strong> · <span class="subject">Golden Weekly #7: leap day'
        " speci…</span><br>" in page
    )
    assert (
        len("Golden Weekly #7: leap day special – ")
        + len("A preheader that goes on and on well past what any phone inbox shows in its one line of prev…")
        == 130
    )
    warnings = [str(p) for p in preview.issues[7].warnings]
    assert warnings and all(re.match(r"issues/0007\.yaml:\d+: warning: ", w) for w in warnings)
    for w in warnings:
        assert pages.html.escape(w) in page


def test_the_frame_shows_the_emails_own_dark_rules(served: tuple[int, Reloader], preview: PreviewSite) -> None:
    port, _ = served
    email = (preview.file("issues/7/email.html") or b"").decode()
    dark = fetch(port, "/preview/7/email.html?scheme=dark")[2].decode()
    light = fetch(port, "/preview/7/email.html?scheme=light")[2].decode()
    assert "prefers-color-scheme:dark" in email
    assert "prefers-color-scheme:dark" not in dark and "(min-width: 0px)" in dark
    assert "prefers-color-scheme:dark" not in light and "(min-width: 0px)" not in light
    assert '<meta name="color-scheme" content="dark">' in dark
    # Apart from the scheme, the frame holds the email as sent.
    assert pages.emulate_scheme(email, "dark") == dark


def test_served_index_and_site_paths(served: tuple[int, Reloader]) -> None:
    port, _ = served
    status, _, body = fetch(port, "/")
    assert status == 200 and b'<a href="/preview/8/"><strong>Not yet</strong></a>' in body
    assert fetch(port, "/issues/7")[1]["location"] == "/issues/7/"
    assert fetch(port, "/feed.xml")[1]["content-type"] == "application/xml"
    for path in (
        "/../config.yaml",
        "/issues/7/../../config.yaml",
        "/config.yaml",
        "/issues/0007.yaml",
        "/%ff",
        "/preview/7/../../config.yaml",
    ):
        assert fetch(port, path)[0] == 404, path


# --- the server's limits (issue 9) -----------------------------------------------------------


@pytest.mark.slow  # server test: real clients against the preview server
def test_a_symlink_loop_in_the_site_is_a_404_and_one_log_line(
    golden_root: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert run("build", "--root", str(golden_root)).exit_code == 0
    site = golden_root / "site"
    (site / "loop-a").symlink_to(site / "loop-b")
    (site / "loop-b").symlink_to(site / "loop-a")
    server = make_server(site, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for path in ("/loop-a", "/loop-a/", "/loop-b/index.html"):
            status, _, _ = fetch(server.server_address[1], path)
            assert status == 404
        assert fetch(server.server_address[1], "/issues/7/")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    err = capfd.readouterr().err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert len(lines) == 3, lines  # one per request
    assert (
        lines[0]
        == "digest serve: /loop-a: a symlink loop (or a path the system cannot resolve) in the site; answered 404"
    )


def _open(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=HANG_GUARD)


@pytest.mark.slow  # server test: real clients against the preview server
def test_idle_and_trickling_clients_are_let_go(preview: PreviewSite) -> None:
    server = make_preview_server(preview, Reloader(), port=0)
    server.idle_seconds, server.request_seconds = 0.5, 1.5
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    try:
        idle = _open(port)  # connects and says nothing
        half = _open(port)
        half.sendall(b"GET / HTTP/1.1\r\n")  # never finishes its headers
        assert idle.recv(100) == b"" and half.recv(100) == b""  # closed by the server
        trickle = _open(port)
        trickle.sendall(b"GET / HTTP/1.1\r\n")
        closed = False
        for _ in range(int(HANG_GUARD / 0.3)):
            try:
                trickle.sendall(b"X")  # a byte at a time, each inside the idle limit
            except OSError:
                closed = True
                break
            time.sleep(0.3)
        assert closed
        assert fetch(port, "/")[0] == 200  # and others are served meanwhile
    finally:
        server.shutdown()
        server.server_close()


def test_many_clients_at_once_are_all_answered(preview: PreviewSite) -> None:
    assert Server.request_queue_size >= 128
    server = make_preview_server(preview, Reloader(), port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    statuses: list[int] = []
    try:
        threads = [
            threading.Thread(target=lambda: statuses.append(fetch(server.server_address[1], "/issues/7/email.html")[0]))
            for _ in range(40)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(HANG_GUARD)
    finally:
        server.shutdown()
        server.server_close()
    assert statuses == [200] * 40


@pytest.mark.slow  # server test: real clients against the preview server
def test_timed_out_clients_leave_no_traceback(preview: PreviewSite, capfd: pytest.CaptureFixture[str]) -> None:
    server = make_preview_server(preview, Reloader(), port=0)
    server.idle_seconds, server.request_seconds = 0.3, 0.6
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        clients = [_open(server.server_address[1]) for _ in range(3)]
        clients[1].sendall(b"GET / HTTP/1.0\r\nHost: x\r\n")
        clients[2].sendall(b"GET /issues/7/email.html HTTP/1.0\r\nHost")
        for c in clients:
            assert c.recv(100) == b""
        assert fetch(server.server_address[1], "/")[0] == 200
    finally:
        server.shutdown()
        server.server_close()
    assert capfd.readouterr().err == ""


def test_the_log_says_what_changed_and_nothing_before_a_config_error(golden_root: Path, preview: PreviewSite) -> None:
    """Issue 19: the log said "updated issues 1, 2" before a config error, "updated issue 3" for a deleted one."""
    from digest.preview.serve import _changes

    gone = golden_root / "issues/0009.yaml"
    gone.unlink()
    removed = preview.update({gone})
    assert _changes(removed, set(preview.issues)) == "removed issue 9"
    _edit(golden_root / "issues/0007.yaml", "title: Leap day\n", "title: Leap day, retitled\n")
    assert _changes(preview.update({golden_root / "issues/0007.yaml"}), set(preview.issues)) == "updated issue 7"
    assert _changes({6, 7, 9}, {6, 7}) == "updated issues 6, 7; removed issue 9"
    _edit(golden_root / "config.yaml", "title: Golden Weekly", "title: [unclosed")
    assert preview.update({golden_root / "config.yaml"}) == set()  # nothing was shown anew
    assert [e.split(":")[0] for e in preview.errors()] == ["config.yaml"]


def test_settle_thaws_what_it_froze_before_so_nothing_replaced_is_kept() -> None:
    """The preview keeps what it loaded out of the collector's full passes (settle), and a reload's settle lets go
    of what the one before froze: a cycle dropped in between is collected then, not kept for the process's life."""
    import gc
    import weakref

    from digest.preview.serve import settle

    class Node:
        pass

    loaded = Node()
    loaded.itself = loaded  # type: ignore[attr-defined]  # a cycle: only the collector can free it
    gone = weakref.ref(loaded)
    try:
        settle()
        del loaded
        gc.collect()
        assert gone() is not None  # frozen: not looked at by the collector
        settle()
        assert gone() is None  # thawed first, then collected
    finally:
        gc.unfreeze()
