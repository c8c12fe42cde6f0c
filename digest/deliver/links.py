"""`digest check --links`: request every link and report the broken and the moved.

Rules:
- Only with --links: without it nothing here runs and nothing touches the network.
- HEAD first; a server that refuses HEAD (any 4xx or 5xx answer to it) is asked again with
  GET, whose body is never read.  Temporary redirects (302, 303, 307) are followed, at
  most MAX_REDIRECTS; a permanent one (301, 308) is reported with the URL it names.
- Broken: a 4xx or 5xx answer, a host that does not resolve, a refused connection, a
  timeout.  Each is a warning at the link's path:line (--strict makes them fatal).
- At most WORKERS requests at once, each with a connect and a read timeout.
- Results are kept for a day in the build cache folder (outside the newsletter: links.json), so a
  second check of the same issue asks nothing; a malformed cache file is ignored.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from digest import __version__
from digest.core.errors import Problem
from digest.deliver.ledger import IssueLinks

WORKERS = 8
TIMEOUT = 10.0  # seconds, for connecting and for each read
MAX_REDIRECTS = 5
CACHE_SECONDS = 24 * 3600
CACHE_FILE = "links.json"
_FORMAT = 1
_PERMANENT = (301, 308)
_TEMPORARY = (302, 303, 307)


@dataclass(frozen=True)
class Result:
    status: int | None  # the final answer's status; None when there was none
    error: str | None = None  # why there was no answer (DNS, refused, timeout)
    moved_to: str | None = None  # where a permanent redirect points

    def problem(self) -> str | None:
        if self.error is not None:
            return f"is broken: {self.error}"
        if self.moved_to is not None:
            return f"has moved permanently (HTTP {self.status}) to {self.moved_to}: link there instead"
        if self.status is not None and self.status >= 400:
            return f"is broken: the server answers HTTP {self.status}"
        return None


def audit(
    issues: list[IssueLinks], cache_dir: Path, timeout: float = TIMEOUT, now: float | None = None
) -> list[Problem]:
    """Warnings for the broken and permanently redirected http(s) links of ``issues``."""
    now = time.time() if now is None else now
    urls = sorted(
        {link.url for issue in issues for link in issue.links if link.url.lower().startswith(("http://", "https://"))}
    )
    cache_path = cache_dir / CACHE_FILE
    known = _read_cache(cache_path, now)
    todo = [u for u in urls if u not in known]
    if todo:
        fresh = _check_all(todo, timeout)
        known.update(fresh)
        _write_cache(cache_path, known, {u: now for u in fresh}, now)
    problems = []
    for issue in issues:
        for link in issue.links:
            result = known.get(link.url)
            if result is not None and (why := result.problem()) is not None:
                problems.append(Problem(issue.rel, link.line, f"{link.url} {why}", link.key, warning=True))
    return problems


def _check_all(urls: list[str], timeout: float) -> dict[str, Result]:
    import httpx

    with (
        httpx.Client(
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=WORKERS, max_keepalive_connections=WORKERS),
            follow_redirects=False,
            headers={"User-Agent": f"digest/{__version__} link check"},
        ) as http,
        ThreadPoolExecutor(WORKERS) as pool,
    ):
        return dict(zip(urls, pool.map(lambda u: check_url(http, u), urls), strict=True))


def check_url(http: Any, url: str) -> Result:
    """HEAD, then GET where HEAD is refused, following temporary redirects."""
    import httpx

    target = url
    for _ in range(MAX_REDIRECTS + 1):
        try:
            status, location = _ask(http, "HEAD", target)
            if status >= 400:
                status, location = _ask(http, "GET", target)
        except httpx.TimeoutException:
            return Result(None, "no answer in time (timeout)")
        except httpx.ConnectError as e:
            return Result(None, _why_no_connection(e))
        except (httpx.HTTPError, httpx.InvalidURL, OSError, ValueError) as e:
            return Result(None, f"the request fails ({type(e).__name__})")
        if status in _PERMANENT and location:
            return Result(status, moved_to=urljoin(target, location))
        if status in _TEMPORARY and location:
            target = urljoin(target, location)
            continue
        return Result(status)
    return Result(None, f"more than {MAX_REDIRECTS} redirects")


def _why_no_connection(error: BaseException) -> str:
    """What the socket said, from the chain of causes httpx keeps."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, socket.gaierror):
            return "the host name does not resolve"
        if isinstance(cause, ssl.SSLCertVerificationError):
            return "its TLS certificate is not valid"
        if isinstance(cause, ssl.SSLError):
            return "the TLS handshake fails"
        if isinstance(cause, ConnectionRefusedError):
            return "the connection is refused"
        cause = cause.__cause__ or cause.__context__
    return "the connection fails"


def _ask(http: Any, method: str, url: str) -> tuple[int, str | None]:
    with http.stream(method, url) as response:  # a GET's body is never read
        return int(response.status_code), response.headers.get("location")


def _read_cache(path: Path, now: float) -> dict[str, Result]:
    """The results younger than a day; anything unexpected in the file is not trusted."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != _FORMAT or not isinstance(data.get("results"), dict):
        return {}
    out = {}
    for url, r in data["results"].items():
        if not (
            isinstance(r, dict)
            and isinstance(r.get("checked"), (int, float))
            and 0 <= now - r["checked"] < CACHE_SECONDS
        ):
            continue
        status, error, moved = r.get("status"), r.get("error"), r.get("moved_to")
        if (status is None or isinstance(status, int)) and all(v is None or isinstance(v, str) for v in (error, moved)):
            out[url] = Result(status, error, moved)
    return out


def _write_cache(path: Path, results: dict[str, Result], fresh: dict[str, float], now: float) -> None:
    """Keep what is still valid and add the new results; a cache that cannot be written only costs time."""
    try:
        old = json.loads(path.read_text(encoding="utf-8")).get("results", {})
    except (OSError, ValueError, AttributeError):
        old = {}
    entries = {}
    for url, r in results.items():
        checked = fresh.get(url, old.get(url, {}).get("checked", now) if isinstance(old.get(url), dict) else now)
        entries[url] = {"checked": checked, "status": r.status, "error": r.error, "moved_to": r.moved_to}
    if path.parent.is_symlink():
        return  # never write through a link out of the newsletter
    tmp = path.with_name(f"{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_text(json.dumps({"format": _FORMAT, "results": entries}, sort_keys=True), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        tmp.unlink(missing_ok=True)
