"""Fetching pages and feeds for `add` and `collect`: the network rules in one place.

Rules:
- http and https only, at every hop of a redirect; at most MAX_REDIRECTS hops, and a
  loop is named as one.
- A deadline of TIMEOUT seconds for the whole fetch (connecting, every redirect, the
  headers and the body), so a server dripping a byte at a time cannot hold `add` past it.
- A host name must be one DNS can hold (no empty label, `http://a..b/`; no broken
  IDNA label, `http://xn--/`), at every hop.
- At most MAX_BYTES of body, counted after decompression (a small gzip bomb is as
  large as what it unpacks to).
- The User-Agent names digest, its version and the newsletter, so a site owner who
  sees it in a log knows who to ask.
- Every failure is a FetchError naming the URL and the cause in one line.
"""

from __future__ import annotations

import os
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
    """GET ``url`` by the rules above; ``conditional`` holds If-None-Match/If-Modified-Since.

    ``timeout`` is the deadline of the whole fetch (every redirect, the headers and the body),
    not only of each read: httpx's timeouts are per operation, so a server sending its header
    block a byte at a time would never trip them.  The fetch therefore runs on an event loop
    of its own under one ``asyncio.timeout``, which cancels whatever is pending when it expires.
    """
    import asyncio

    _check_scheme(url, url)
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(_deadline(url, agent, accept, conditional, timeout, max_bytes, max_redirects))
    finally:
        # Not asyncio.run: it waits for the default executor, where a DNS lookup that never
        # ends would hold the command past its deadline; close() leaves such a thread behind.
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()


async def _deadline(
    url: str,
    agent: str,
    accept: str,
    conditional: Mapping[str, str] | None,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
) -> Response:
    import asyncio

    state = {"current": url}
    try:
        async with asyncio.timeout(timeout):
            return await _fetch(url, state, agent, accept, conditional, timeout, max_bytes, max_redirects)
    except TimeoutError:
        raise FetchError(url, f"timed out after {timeout:g} s{_via(url, state['current'])}") from None


async def _fetch(
    url: str,
    state: dict[str, str],
    agent: str,
    accept: str,
    conditional: Mapping[str, str] | None,
    timeout: float,
    max_bytes: int,
    max_redirects: int,
) -> Response:
    import httpx

    headers = {"User-Agent": agent, "Accept": accept, **(conditional or {})}
    seen = {url}

    async def refuse_bad_redirects(r: httpx.Response) -> None:
        # httpx builds the next request of a redirect even when it is not to follow it, and a
        # Location it cannot build (javascript:alert(1), http://[x/) raises InvalidURL before
        # the response is seen: a response hook sees it first, and refuses it by our rules.
        if r.status_code in _REDIRECTS and "location" in r.headers:
            _check_scheme(url, _join(url, state["current"], r.headers["location"]))

    async with httpx.AsyncClient(
        timeout=httpx.Timeout(timeout), follow_redirects=False, event_hooks={"response": [refuse_bad_redirects]}
    ) as client:
        for _ in range(max_redirects + 1):
            current = state["current"]
            _check_scheme(url, current)
            try:
                async with client.stream("GET", current, headers=headers) as r:
                    if r.status_code in _REDIRECTS and "location" in r.headers:
                        target = _join(url, current, r.headers["location"])
                        if target in seen:
                            raise FetchError(url, f"redirect loop ({current} leads back to {target})")
                        seen.add(target)
                        state["current"] = target
                        continue
                    if r.status_code == 304:
                        return Response(current, 304, "", None, b"")
                    if r.status_code >= 300 or r.status_code < 200:  # a 3xx here has no Location to follow
                        reason = f" {r.reason_phrase}" if r.reason_phrase else ""
                        raise FetchError(url, f"HTTP {r.status_code}{reason}{_via(url, current)}")
                    body = await _read(r, url, max_bytes)
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
                raise FetchError(url, f"cannot connect: {_reason(e)}{_via(url, current)}") from None
            except httpx.HTTPError as e:  # protocol errors, broken encodings, a reset connection...
                raise FetchError(url, f"network error: {_reason(e)}{_via(url, current)}") from None
            except httpx.InvalidURL as e:
                raise FetchError(url, f"not a valid URL: {current} ({_reason(e)})") from None
            except UnicodeError as e:  # a host name's IDNA encoding that _valid_host did not foresee
                raise FetchError(url, f"not a valid host name ({_reason(e)}){_via(url, current)}") from None
    raise FetchError(url, f"more than {max_redirects} redirects")


def _check_scheme(url: str, current: str) -> None:
    where = "" if current == url else f"redirects to {current}: "
    try:
        parts = urlsplit(current)
        host = parts.hostname
        parts.port  # noqa: B018 - a port out of range raises here
    except ValueError:
        raise FetchError(url, f"{where}not a valid URL: {current}") from None
    if parts.scheme.lower() not in ("http", "https") or not host:
        raise FetchError(url, f"{where}only http and https addresses can be fetched")
    if not _valid_host(host):
        raise FetchError(url, f"{where}not a valid host name: {host}")


def _join(url: str, current: str, location: str) -> str:
    try:
        return urljoin(current, location)
    except ValueError:  # http://[::1/
        raise FetchError(url, f"redirects to {location}: not a valid URL") from None


def _valid_host(host: str) -> bool:
    """An IP address, or DNS labels of 1 to 63 characters (after IDNA), 253 in all."""
    import ipaddress

    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    try:
        encoded = [label.encode("idna") if not label.isascii() else label.encode("ascii") for label in labels]
    except UnicodeError:
        return False
    return (
        all(0 < len(label) <= 63 and _punycode(label) for label in encoded)
        and sum(len(label) + 1 for label in encoded) <= 254
    )


def _punycode(label: bytes) -> bool:
    """An ASCII label starting xn-- must be punycode of something (http://xn--/ is not)."""
    if not label.lower().startswith(b"xn--"):
        return True
    try:
        return bool(label[4:].decode("punycode"))
    except UnicodeError:
        return False


async def _read(r: object, url: str, max_bytes: int) -> bytes:
    import httpx

    assert isinstance(r, httpx.Response)
    too_big = (
        f"larger than {max_bytes // (1024 * 1024) or max_bytes} {'MB' if max_bytes >= 1024 * 1024 else 'bytes'}; not"
        " reading it"
    )
    declared = r.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes and "content-encoding" not in r.headers:
        raise FetchError(url, too_big)
    chunks: list[bytes] = []
    size = 0
    async for chunk in r.aiter_bytes():  # the whole fetch's deadline bounds a body dripping a byte at a time
        size += len(chunk)
        if size > max_bytes:
            raise FetchError(url, too_big)
        chunks.append(chunk)
    return b"".join(chunks)


def _via(url: str, current: str) -> str:
    return "" if current == url else f" (redirected to {current})"


def _reason(e: BaseException) -> str:
    """The system's words for a failure: the first OSError with a strerror behind httpx's wrapping
    (anyio reports a refused connection as "All connection attempts failed", caused by the
    group of the refusals themselves), else the exception's own text."""
    pending: list[BaseException] = [e]
    seen: set[int] = set()
    while pending:
        cause = pending.pop(0)
        if id(cause) in seen:
            continue
        seen.add(id(cause))
        if isinstance(cause, OSError) and isinstance(cause.errno, int) and cause.errno > 0:
            return os.strerror(cause.errno)  # asyncio words a refusal "Connect call failed ('127.0.0.1', 1)"
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror
        if isinstance(cause, BaseExceptionGroup):
            pending.extend(cause.exceptions)
        pending.extend(c for c in (cause.__cause__, cause.__context__) if c is not None)
    text = str(e).strip() or type(e).__name__
    # "[Errno -2] Name or service not known" → the words after the number
    if text.startswith("[Errno") and "]" in text:
        text = text.split("]", 1)[1].strip()
    return text
