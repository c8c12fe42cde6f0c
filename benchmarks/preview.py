"""The preview's figures for ``python -m benchmarks.bench``: edit-to-reload latency of `digest serve`.

For each newsletter given (the benchmark's generated ones), a real `digest serve` runs in
its own process, watching.  One issue's file is edited ``edits`` times; each time this
measures, from the write: the moment the page's long-poll is told to reload (the preview
signals only once the new version can be served), and the moment the new email.html has
been fetched.  Against it stands the in-process render time of that same issue (its
email, plain text and web page, median of ``edits``), which no preview can undercut.
"""

from __future__ import annotations

import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

TARGET_RATIO = 10.0  # edit-to-reload median / render time of the issue
TARGET_SCALING = 1.5  # largest archive's median / smallest's
WAIT = 60.0  # seconds: only so that a broken preview ends the benchmark


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=WAIT)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


def render_ms(root: Path, number: int, repeat: int) -> float:
    """Median milliseconds to render issue ``number`` in this process, warm: what a build
    renders for it (its email, plain text and content: render_issue) and its web page."""
    from digest.core.config import load_config
    from digest.pipeline.stages import context, read_sources, render_issue, render_page, validate_issue
    from digest.render.archive import Neighbours

    ctx = context(load_config(root))
    source = next(src for src in read_sources(ctx.config) if src.number == number)
    issue = validate_issue(ctx, source).issue
    assert issue is not None, f"issue {number} does not validate"
    times = []
    for _ in range(repeat + 2):
        t = time.perf_counter()
        rendered = render_issue(ctx, issue)
        render_page(ctx, issue, rendered.content, Neighbours(None, None, ()))
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times[2:])  # the first two warm caches and imports


class _Serve:
    def __init__(self, root: Path) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "digest", "serve", "--root", str(root), "--port", "0"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not m:
            self.stop()
            raise RuntimeError(f"digest serve did not start: {line!r}")
        self.port = int(m.group(1))
        threading.Thread(target=self.proc.stdout.read, daemon=True).start()  # keep the pipe drained
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # type: ignore[union-attr]

    def state(self, since: int) -> dict[str, Any]:
        return dict(json.loads(_get(self.port, f"/__digest__/reload?since={since}")))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(WAIT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def edit_to_reload(root: Path, number: int, edits: int) -> dict[str, Any]:
    """Median seconds from saving issue ``number`` to the reload signal, and to the new email fetched."""
    path = root / "issues" / f"{number:04d}.yaml"
    original = path.read_text(encoding="utf-8")
    anchor = "Thanks for reading."
    assert anchor in original
    server = _Serve(root)
    signalled, fetched = [], []
    try:
        state = server.state(-1)
        for i in range(edits + 1):  # edit 0 only makes sure the watcher is running
            marker = f"Thanks for reading (edit {i})."
            while True:
                started = time.perf_counter()
                path.write_text(original.replace(anchor, marker), encoding="utf-8")
                new = server.state(state["generation"])  # answered at once if it already changed
                while new["site"] == state["site"] and time.perf_counter() - started < (2 if i == 0 else WAIT):
                    new = server.state(new["generation"])
                if new["site"] != state["site"] or i > 0:
                    break
            told = time.perf_counter()
            if marker.encode() not in _get(server.port, f"/issues/{number}/email.html"):
                raise RuntimeError(f"the reload was signalled before edit {i} could be served")
            done = time.perf_counter()
            state = new
            if i:
                signalled.append(told - started)
                fetched.append(done - started)
    finally:
        server.stop()
        path.write_text(original, encoding="utf-8")
    return {
        "signal_s": statistics.median(signalled),
        "fetched_s": statistics.median(fetched),
        "runs_s": [round(s, 3) for s in signalled],
    }


def preview_latency(roots: dict[int, Path], edits: int = 15) -> dict[str, Any]:
    """Edit-to-reload for each newsletter (issues count → folder), printed and returned."""
    results: dict[str, Any] = {}
    for n, root in sorted(roots.items()):
        number = max(int(p.stem) for p in (root / "issues").glob("*.yaml"))
        render = render_ms(root, number, edits)
        latency = edit_to_reload(root, number, edits)
        ratio = latency["signal_s"] * 1000 / render
        results[str(n)] = {"render_ms": render, **latency, "ratio": ratio}
        print(
            f"preview, {n:>5} issues: edit-to-reload median {latency['signal_s'] * 1000:.0f} ms "
            f"(new email.html fetched at {latency['fetched_s'] * 1000:.0f} ms) = {ratio:.1f}x the in-process render "
            f"of that issue ({render:.0f} ms)   (target <= {TARGET_RATIO:.0f}x)",
            flush=True,
        )
    if len(roots) > 1:
        small, big = str(min(roots)), str(max(roots))
        scaling = results[big]["signal_s"] / results[small]["signal_s"]
        results["scaling"] = scaling
        print(
            f"preview edit-to-reload, {big} vs {small} issues: {scaling:.2f}   (target <= {TARGET_SCALING})", flush=True
        )
    return results
