"""Fetching pages and feeds for `add` and `collect`: the network rules in one place.

Rules:
- http and https only, at every hop of a redirect; at most MAX_REDIRECTS hops, and a
  loop is named as one.
- A connect/read timeout (TIMEOUT seconds, also the bound on the whole body's
  arrival, so a server dripping a byte at a time cannot hold `add` for ever).
- At most MAX_BYTES of body, counted after decompression (a small gzip bomb is as
  large as what it unpacks to).
- The User-Agent names digest, its version and the newsletter, so a site owner who
  sees it in a log knows who to ask.
- Every failure is a FetchError naming the URL and the cause in one line.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from digest import __version__

TIMEOUT = 10.0  # seconds
MAX_BYTES = 5 * 1024 * 1024
MAX_REDIRECTS = 5
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(Exception):
    """A page or feed that could not be had: ``str()`` is one line naming the URL and the cause."""

    def __init__(self, url: str, cause: str) -> None:
        self.url, self.cause = url, cause
        super().__init__(f"{url}: {cause}")


@dataclass(frozen=True)
class Response:
    url: str  # after redirects
    status: int  # 200, or 304 for a conditional request that found nothing new
    media_type: str  # lowercased, without parameters: "text/html"
    charset: str | None  # as the Content-Type header declares it
    body: bytes
    etag: str | None = None
    last_modified: str | None = None


def user_agent(newsletter_url: str) -> str:
    return f"digest/{__version__} (+{newsletter_url})"


def fetch(
    url: str,
    *,
    agent: str,
    accept: str = "*/*",
    conditional: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
    max_bytes: int = MAX_BYTES,
    max_redirects: int = MAX_REDIRECTS,
) -> Response:
    """GET ``url`` by the rules above; ``conditional`` holds If-None-Match/If-Modified-Since."""
    import httpx

    headers = {"User-Agent": agent, "Accept": accept, **(conditional or {})}
    seen = {url}
    current = url
    with httpx.Client(timeout=httpx.Timeout(timeout), follow_redirects=False) as client:
        for _ in range(max_redirects + 1):
            _check_scheme(url, current)
            try:
                with client.stream("GET", current, headers=headers) as r:
                    if r.status_code in _REDIRECTS and "location" in r.headers:
                        target = urljoin(current, r.headers["location"])
                        if target in seen:
                            raise FetchError(url, f"redirect loop ({current} leads back to {target})")
                        seen.add(target)
                        current = target
                        continue
                    if r.status_code == 304:
                        return Response(current, 304, "", None, b"")
                    if r.status_code >= 300 or r.status_code < 200:  # a 3xx here has no Location to follow
                        reason = f" {r.reason_phrase}" if r.reason_phrase else ""
                        raise FetchError(url, f"HTTP {r.status_code}{reason}{_via(url, current)}")
                    body = _read(r, url, timeout, max_bytes)
                    media, _, _ = r.headers.get("content-type", "").partition(";")
                    return Response(
                        url=current,
                        status=r.status_code,
                        media_type=media.strip().lower(),
                        charset=r.charset_encoding,
                        body=body,
                        etag=r.headers.get("etag"),
                        last_modified=r.headers.get("last-modified"),
                    )
            except httpx.TimeoutException:
                raise FetchError(url, f"timed out after {timeout:g} s{_via(url, current)}") from None
            except httpx.ConnectError as e:
                raise FetchError(url, f"cannot connect: {_reason(e)}") from None
            except httpx.HTTPError as e:  # protocol errors, broken encodings, a reset connection...
                raise FetchError(url, f"network error: {_reason(e)}") from None
    raise FetchError(url, f"more than {max_redirects} redirects")


def _check_scheme(url: str, current: str) -> None:
    try:
        parts = urlsplit(current)
    except ValueError:
        raise FetchError(url, f"not a valid URL: {current}") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        where = "" if current == url else f"redirects to {current}: "
        raise FetchError(url, f"{where}only http and https addresses can be fetched")


def _read(r: object, url: str, timeout: float, max_bytes: int) -> bytes:
    import httpx

    assert isinstance(r, httpx.Response)
    too_big = f"larger than {max_bytes // (1024 * 1024) or max_bytes} {'MB' if max_bytes >= 1024 * 1024 else 'bytes'}; not reading it"
    declared = r.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and "content-encoding" not in r.headers:
        raise FetchError(url, too_big)
    deadline = time.monotonic() + timeout
    chunks: list[bytes] = []
    size = 0
    for chunk in r.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, too_big)
        if time.monotonic() > deadline:
            raise FetchError(url, f"timed out after {timeout:g} s")
        chunks.append(chunk)
    return b"".join(chunks)


def _via(url: str, current: str) -> str:
    return "" if current == url else f" (redirected to {current})"


def _reason(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    # "[Errno -2] Name or service not known" → the words after the number
    if text.startswith("[Errno") and "]" in text:
        text = text.split("]", 1)[1].strip()
    return text
