"""Helpers for the browser editor's tests: a newsletter to edit, `digest serve` on it, and requests to it."""

from __future__ import annotations

import difflib
import http.client
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from conftest import FIXTURES, MINIMAL_CONFIG

ISSUE = FIXTURES / "editor" / "0005.yaml"
REL = "issues/0005.yaml"


def editor_newsletter(root: Path, git: bool = False) -> Path:
    """A newsletter with the editor's fixture as issue 5 (a draft); with ``git``, a repository with it committed."""
    (root / "issues").mkdir(parents=True)
    (root / "config.yaml").write_text(MINIMAL_CONFIG, encoding="utf-8")
    shutil.copy(ISSUE, root / REL)
    if git:
        for args in (
            ["init", "-q", "-b", "main"],
            ["config", "user.name", "Editor"],
            ["config", "user.email", "editor@example.org"],
            ["add", "."],
            ["commit", "-q", "-m", "start"],
        ):
            subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)
    return root


@dataclass
class Client:
    port: int
    token: str = ""
    version: str = ""

    def request(
        self, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def open(self, number: int = 5) -> dict[str, Any]:
        status, page = self.request("GET", f"/edit/{number}/")
        assert status == 200, page
        m = re.search(rb'name="digest-token" content="([^"]+)"', page)
        assert m is not None
        self.token = m.group(1).decode()
        state = json.loads(re.search(rb'id="state">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
        self.version = state["version"]
        return state  # type: ignore[no-any-return]

    def api(self, payload: dict[str, Any], number: int = 5, **headers: str) -> tuple[int, dict[str, Any]]:
        sent = {"Content-Type": "application/json", "X-Digest-Token": self.token, **headers}
        sent = {k.replace("_", "-"): v for k, v in sent.items() if v is not None}
        status, body = self.request("POST", f"/edit/{number}/api", json.dumps(payload).encode(), sent)
        return status, json.loads(body)


def git_diff(root: Path) -> list[str]:
    """The changed lines (+/-) of the working tree against HEAD, without the headers."""
    out = subprocess.run(
        ["git", "-C", str(root), "diff", "--unified=0", "--no-color", "HEAD", "--", "issues"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line for line in out.splitlines() if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def changed(before: str, after: str) -> tuple[list[str], list[str]]:
    """(removed lines, added lines) between two versions of the file."""
    diff = list(difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0))
    removed = [line[1:] for line in diff if line.startswith("-") and not line.startswith("---")]
    added = [line[1:] for line in diff if line.startswith("+") and not line.startswith("+++")]
    return removed, added


@contextmanager
def serving(root: Path, *args: str) -> Iterator[Client]:
    from test_server import Serve, _serving_port

    server = Serve("--root", str(root), "--port", "0", *args)
    try:
        yield Client(_serving_port(server, root))
    finally:
        server.stop()
    assert not any("Traceback" in line for line in server.stderr), server.stderr
