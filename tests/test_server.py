"""The preview server: only the site's own files, on loopback, rebuilt when sources change.

Requests go out through http.client with raw, unnormalised paths, exactly as an attacker
would send them.
"""

from __future__ import annotations

import contextlib
import http.client
import inspect
import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO, run, tree
from siteserver import make_server

from digest.cli import serve
from digest.preview.server import Reloader

pytestmark = pytest.mark.slow  # server tests (HTTP on 127.0.0.1): the fast tier is -m 'not slow'

HANG_GUARD = 60.0  # seconds: only so that a broken test ends, never a performance requirement


def fetch(port: int, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HANG_GUARD)
    try:
        conn.request(method, path)  # http.client sends the path as given: no normalisation
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


@pytest.fixture
def site(golden_root: Path) -> Path:
    result = run("build", "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    return golden_root / "site"


@pytest.fixture
def port(site: Path) -> Iterator[int]:
    """make_server with its defaults (host) on a free port, serving in a thread."""
    server = make_server(site, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(HANG_GUARD)


@pytest.mark.parametrize(
    ("path", "file", "type_"),
    [
        ("/", "index.html", "text/html"),
        ("/issues/7/", "issues/7/index.html", "text/html"),
        ("/issues/7/?utm_source=x", "issues/7/index.html", "text/html"),
        ("/issues/7/email.html", "issues/7/email.html", "text/html"),
        ("/issues/7/email.txt", "issues/7/email.txt", "text/plain"),
        ("/feed.xml", "feed.xml", "application/xml"),
        ("/feed.json", "feed.json", "application/json"),
    ],
)
def test_site_files_are_served(site: Path, port: int, path: str, file: str, type_: str) -> None:
    status, headers, body = fetch(port, path)
    assert status == 200
    assert headers["content-type"].startswith(type_)
    assert body == (site / file).read_bytes()


def test_folder_without_slash_redirects_to_the_same_server(port: int) -> None:
    for path in ("/issues/7", "//issues/7"):
        status, headers, _ = fetch(port, path)
        assert status == 301
        assert headers["location"] == "/issues/7/"  # a path on this server, never //host/...


TRAVERSALS = [
    "/../config.yaml",
    "/..%2fconfig.yaml",
    "/%2e%2e/config.yaml",
    "/%2E%2E/config.yaml",
    "/issues/..%2f..%2fconfig.yaml",
    "/issues/../../config.yaml",
    "/%2e%2e%2f%2e%2e%2fetc/passwd",
    "//etc/passwd",
    "/issues/7/..%5c..%5cconfig.yaml",
    "/issues/7/..\\..\\..\\config.yaml",
    "/%2e%2e%5cconfig.yaml",
    "/..%252fconfig.yaml",
    "/issues%2f..%2f..%2fconfig.yaml",
    "/config.yaml%00.html",
    "/%ff%fe/config.yaml",
    "/%c0%ae%c0%ae/config.yaml",
    "/./../config.yaml",
    "/etc/passwd",
]


@pytest.mark.parametrize("path", TRAVERSALS)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_traversal_attempts_get_404_and_never_the_file(golden_root: Path, port: int, path: str, method: str) -> None:
    status, _, body = fetch(port, path, method)
    assert status == 404
    secret = (golden_root / "config.yaml").read_bytes()
    assert secret not in body and b"unsubscribe_url" not in body
    assert b"root:x:0:0" not in body


def test_symlinks_out_of_the_site_are_not_followed(golden_root: Path, site: Path, port: int) -> None:
    (site / "leak.yaml").symlink_to(golden_root / "config.yaml")
    (site / "relative-leak.yaml").symlink_to(Path("..") / "config.yaml")
    (site / "up").symlink_to(golden_root)
    (site / "root").symlink_to("/")
    (site / "sneaky").mkdir()
    (site / "sneaky" / "index.html").symlink_to(golden_root / "config.yaml")
    (site / "issues" / "7" / "more").symlink_to(golden_root / "issues")
    secret = (golden_root / "config.yaml").read_bytes()
    for path in (
        "/leak.yaml",
        "/relative-leak.yaml",
        "/up/config.yaml",
        "/up/",
        "/root/etc/passwd",
        "/sneaky/",
        "/sneaky",
        "/sneaky/index.html",
        "/issues/7/more/0007.yaml",
    ):
        for method in ("GET", "HEAD"):
            status, _, body = fetch(port, path, method)
            assert (path, method, status) == (path, method, 404)
            assert secret not in body and b"root:x:0:0" not in body and b"number: 7" not in body


def test_a_symlink_within_the_site_is_still_served(site: Path, port: int) -> None:
    # The rule is "nothing outside the site", not "no symlinks".
    (site / "latest").symlink_to(site / "issues" / "7")
    status, _, body = fetch(port, "/latest/email.html")
    assert status == 200
    assert body == (site / "issues" / "7" / "email.html").read_bytes()


@pytest.mark.parametrize("folder", ["/issues/", "/issues", "/empty/", "/issues/7/deeper/"])
def test_no_directory_listings(site: Path, port: int, folder: str) -> None:
    (site / "empty").mkdir()
    (site / "issues" / "7" / "deeper").mkdir()
    (site / "issues" / "7" / "deeper" / "secret-draft.txt").write_text("not linked from anywhere")
    status, _, body = fetch(port, folder)
    assert status == 404
    assert b"Directory listing" not in body and b"secret-draft" not in body and b'href="7/"' not in body


def test_binds_to_loopback_by_default(site: Path) -> None:
    assert inspect.signature(make_server).parameters["host"].default == "127.0.0.1"
    server = make_server(site, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
    host = next(p for p in serve.params if p.name == "host")
    assert host.default == "127.0.0.1"
    port = next(p for p in serve.params if p.name == "port")
    assert port.default == 8000


# --- `digest serve` as a user runs it ------------------------------------------------------


def _env() -> dict[str, str]:
    """This checkout's digest for `python -m digest`, installed or not."""
    return dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))


class Serve:
    """`python -m digest serve ...` in a subprocess, its output read line by line in threads."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        self.stdout: queue.Queue[str] = queue.Queue()
        self.stderr: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.stdout.put), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.stderr.append), daemon=True).start()

    @staticmethod
    def _pump(stream: object, sink: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            sink(line.rstrip("\n"))  # type: ignore[operator]

    def next_line(self) -> str:
        try:
            return self.stdout.get(timeout=HANG_GUARD)
        except queue.Empty:
            self.stop()
            pytest.fail(f"digest serve printed nothing; stderr: {self.stderr}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                self.proc.wait(HANG_GUARD)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def _serving_port(server: Serve, root: Path) -> int:
    line = server.next_line()
    m = re.fullmatch(
        rf"serving {re.escape(str(root))} at http://127\.0\.0\.1:(\d+)/ \(\d+ issues?; Ctrl-C to stop\)", line
    )
    assert m, line
    return int(m.group(1))


def test_serve_builds_and_serves_until_interrupted(golden_root: Path) -> None:
    server = Serve("--root", str(golden_root), "--port", "0", "--no-watch")
    try:
        port = _serving_port(server, golden_root)
        assert port != 0
        status, _, body = fetch(port, "/issues/7/")
        assert status == 200
        assert b"Leap day" in body
        assert fetch(port, "/../config.yaml")[0] == 404
    finally:
        server.stop()
    # Ctrl-C is how a preview ends: a clean exit, no traceback.
    assert server.proc.returncode == 0
    assert list(server.stdout.queue) == ["stopped"]
    assert not any("Traceback" in line for line in server.stderr), server.stderr


def test_serve_on_a_busy_port_is_a_clear_error_before_building(golden_root: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as busy:
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "digest", "serve", "--root", str(golden_root), "--port", str(port), "--no-watch"],
            capture_output=True,
            text=True,
            timeout=HANG_GUARD,
            env=_env(),
        )
    assert result.returncode == 1  # a user error, not an internal one (2)
    assert result.stdout == ""
    assert (
        result.stderr == f"127.0.0.1:{port}: cannot listen there: Address already in use; --port 0 picks a free port\n"
        "1 error; the preview did not start\n"
    )
    assert not (golden_root / "site").exists()


def _wait_for_page(
    port: int, path: str, wanted: bytes, touch: Path | None = None, text: str = "", server: Serve | None = None
) -> bytes:
    """Poll until the page contains ``wanted``.  ``touch`` is rewritten with ``text`` every two
    seconds meanwhile: an edit made before the watcher has started would otherwise go unseen."""
    deadline = time.monotonic() + HANG_GUARD
    rewritten = time.monotonic()
    while time.monotonic() < deadline:
        status, _, body = fetch(port, path)
        if status == 200 and wanted in body:
            return body
        if touch is not None and time.monotonic() - rewritten > 2:
            touch.write_text(text, encoding="utf-8")
            rewritten = time.monotonic()
        time.sleep(0.1)
    pytest.fail(f"{path} never showed {wanted!r}; server stderr: {server.stderr if server else '-'}")


def _folder(root: Path) -> dict[str, tuple[bool, bytes, int]]:
    """Every path under ``root`` but the build cache: whether a folder, its bytes, its mtime."""
    return {
        str(p.relative_to(root)): (p.is_dir(), b"" if p.is_dir() else p.read_bytes(), p.lstat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
        if p.relative_to(root).parts[0] != ".digest-cache"
    }


def test_serve_rebuilds_when_an_issue_changes_and_keeps_the_last_good_site(golden_root: Path) -> None:
    issue = golden_root / "issues" / "0007.yaml"
    assert run("build", "--root", str(golden_root)).exit_code == 0
    published = tree(golden_root / "site")
    before = _folder(golden_root)
    server = Serve("--root", str(golden_root), "--port", "0")
    try:
        port = _serving_port(server, golden_root)
        # Every kind of page asked for at least once (each could write, if anything did).
        for path in (
            "/",
            "/preview/7/",
            "/preview/8/",
            "/preview/7/email.html?scheme=dark",
            "/index.html",
            "/issues/8/",
            "/issues/7/email.html",
            "/issues/7/email.txt",
            "/feed.xml",
            "/atom.xml",
            "/feed.json",
        ):
            assert fetch(port, path)[0] == 200, path
        assert b'<h1 dir="auto">Leap day</h1>' in fetch(port, "/issues/7/")[2]

        revised = issue.read_text(encoding="utf-8").replace("title: Leap day\n", "title: Leap day, revised\n")
        issue.write_text(revised, encoding="utf-8")
        _wait_for_page(port, "/issues/7/", b'<h1 dir="auto">Leap day, revised</h1>', issue, revised, server)

        # A broken edit: the error is reported and the last good site stays up.
        issue.write_text(revised.replace("date: 2024-02-29", "date: 2024-02-30"), encoding="utf-8")
        deadline = time.monotonic() + HANG_GUARD
        while "still serving the last good version of what has errors" not in server.stderr:
            assert time.monotonic() < deadline, server.stderr
            time.sleep(0.1)
        assert "issues/0007.yaml:2: date: '2024-02-30' is not a valid date" in server.stderr
        status, _, body = fetch(port, "/issues/7/")
        assert status == 200 and b"Leap day, revised" in body
        # A page opened after the failure says so from the start, not only pages already open.
        assert (
            b"issues/0007.yaml:2: date: '2024-02-30' is not a valid date" in body.split(b"digest serve: live reload")[1]
        )

        fixed = revised.replace("title: Leap day, revised\n", "title: Leap day, fixed\n")
        issue.write_text(fixed, encoding="utf-8")
        _wait_for_page(port, "/issues/7/", b"Leap day, fixed", issue, fixed, server)
        assert re.search(r"^updated issue 7 in \d+\.\d\d s$", "\n".join(list(server.stdout.queue)), re.MULTILINE)
        # Stopped while a page waits for the next update (the long poll): still a clean exit.
        now = json.loads(fetch(port, "/__digest__/reload?since=-1")[2])["generation"]

        def wait_for_update() -> None:
            with contextlib.suppress(OSError, http.client.HTTPException):  # answered, or dropped as the process ends
                fetch(port, f"/__digest__/reload?since={now}")

        waiting = threading.Thread(target=wait_for_update, daemon=True)
        waiting.start()
        time.sleep(0.5)
    finally:
        server.stop()
    assert server.proc.returncode == 0 and list(server.stdout.queue)[-1] == "stopped"
    waiting.join(HANG_GUARD)
    assert not waiting.is_alive()
    assert not any("Traceback" in line for line in server.stderr), server.stderr
    # Serving never touched what `digest build` published, nor anything else in the folder
    # but the build cache (and the issue this test edited).
    assert tree(golden_root / "site") == published
    after = _folder(golden_root)
    assert after.pop("issues/0007.yaml")[1] == issue.read_bytes()
    before.pop("issues/0007.yaml")
    assert after == before


# --- live reload ---------------------------------------------------------------------------

LIVE = b"digest serve: live reload"


@pytest.fixture
def live(site: Path) -> Iterator[tuple[int, Reloader]]:
    """make_server with a Reloader, as `digest serve` runs it while watching."""
    reloader = Reloader()
    with running(make_server(site, port=0, reloader=reloader), reloader) as port:
        yield port, reloader


@contextlib.contextmanager
def running(server: Any, reloader: Reloader) -> Iterator[int]:
    """``server`` answering on a thread; its port. Stopped, and its waiting pages answered, on exit."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        reloader.close()
        server.shutdown()
        server.server_close()
        thread.join(HANG_GUARD)


@pytest.mark.parametrize(
    "path, file",
    [("/", "index.html"), ("/issues/7/", "issues/7/index.html"), ("/issues/7/email.html", "issues/7/email.html")],
)
def test_pages_get_the_reload_script_as_served_and_the_site_files_never_do(
    site: Path, live: tuple[int, Reloader], path: str, file: str
) -> None:
    port, _ = live
    status, headers, body = fetch(port, path)
    on_disk = (site / file).read_bytes()
    assert status == 200 and LIVE not in on_disk
    assert int(headers["content-length"]) == len(body)
    assert headers["cache-control"] == "no-store"
    # The page as built, with the script inserted just before its last </body>.
    script_start = body.index(b"<script>/* digest serve: live reload")
    script_end = body.index(b"</script>\n", script_start) + len(b"</script>\n")
    assert body[:script_start] + body[script_end:] == on_disk
    assert body[script_end:].lstrip().startswith(b"</body>")
    assert fetch(port, path, "HEAD")[1]["content-length"] == str(len(body))


def test_other_files_and_a_server_without_reloader_are_served_as_built(
    site: Path, live: tuple[int, Reloader], port: int
) -> None:
    live_port, _ = live
    assert fetch(live_port, "/feed.xml")[2] == (site / "feed.xml").read_bytes()
    assert fetch(port, "/issues/7/")[2] == (site / "issues/7/index.html").read_bytes()
    assert fetch(port, "/__digest__/reload?since=0")[0] == 404  # not a page of a plain server


def test_a_waiting_page_learns_of_each_build_and_its_errors(live: tuple[int, Reloader]) -> None:
    port, reloader = live
    answers: queue.Queue[tuple[int, bytes]] = queue.Queue()

    def ask(since: int) -> None:
        status, _, body = fetch(port, f"/__digest__/reload?since={since}")
        answers.put((status, body))

    def asked_then(since: int, action: Callable[[], None]) -> object:
        thread = threading.Thread(target=ask, args=(since,))
        thread.start()
        # The question is waiting before the build finishes (else it would be answered at once anyway).
        deadline = time.monotonic() + HANG_GUARD
        while not reloader._changed._waiters:  # type: ignore[attr-defined]
            assert time.monotonic() < deadline
            time.sleep(0.01)
        action()
        thread.join(HANG_GUARD)
        status, body = answers.get_nowait()
        assert status == 200
        return json.loads(body)

    problem = "issues/0007.yaml:2: date: '2024-02-30' is not a valid date"
    assert asked_then(0, lambda: reloader.built([problem])) == {"generation": 1, "site": 0, "errors": [problem]}
    assert asked_then(1, reloader.built) == {"generation": 2, "site": 1, "errors": []}
    assert asked_then(2, reloader.close) == {"generation": 2, "site": 1, "errors": []}  # stopping: answered now
    assert (
        fetch(port, "/__digest__/reload?since=0")[2] == b'{"generation": 2, "site": 1, "errors": []}'
    )  # behind: at once
    assert fetch(port, "/__digest__/reload?since=x")[0] == 400
