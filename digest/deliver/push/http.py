"""The one HTTP client `digest push` talks to mailing services with (httpx).

Rules:
- A deadline for connecting and for each read: DIGEST_PUSH_TIMEOUT seconds (default 30, at most 600).
- 429 and 5xx are tried again (a POST only on 429, 502, 503 and 504), at most RETRIES times,
  after the wait the service asks for in Retry-After (seconds or an HTTP date; more than MAX_WAIT
  seconds is given up at once) or else 1, 2, 4 s. A timeout or a broken connection is not tried
  again: the service may have acted on the request (a second POST would make a second campaign),
  so the error says to look first.
- Any other failure is one line: the service, the HTTP status and the service's own message.
  401 and 403 name the environment variable the service refused.
- Secrets go in headers only, are never printed (dry runs show ***), and are cut out of any text a
  service sends back before it is shown. No redirect is followed: a credential never goes elsewhere.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from digest import __version__
from digest.core.errors import DigestError, Problem

TIMEOUT = 30.0
MAX_TIMEOUT = 600.0
RETRIES = 3
MAX_WAIT = 120.0  # seconds a Retry-After may ask for before digest gives up instead
MASK = "***"
# Answers that say the request was not carried out, so that sending it again cannot do it twice. Any
# other 5xx is tried again only for requests that are the same however often they are made (GET,
# PUT, PATCH): a POST that failed with 500 may have made the campaign, and the next push finds it.
_NOT_DONE = (429, 502, 503, 504)


class Refused(DigestError):
    """The service answered with an error (after any retries)."""

    def __init__(self, service: str, message: str, status: int | None = None) -> None:
        super().__init__([Problem(service, None, message)])
        self.status = status


@dataclass
class Request:
    """One request as digest makes it, or as --dry-run prints it."""

    method: str
    url: str
    body: Any = None  # JSON
    params: Mapping[str, str | list[str]] = field(default_factory=dict)

    def shown(self, base: str, secret_headers: Mapping[str, str]) -> str:
        query = httpx.QueryParams(self.params)
        lines = [f"{self.method} {base}{self.url}{'?' + str(query) if query else ''}"]
        lines += [f"{name}: {MASK}" for name in secret_headers]
        if self.body is not None:
            lines.append(json.dumps(self.body, ensure_ascii=False, indent=2))
        return "\n".join(lines)


@dataclass
class Service:
    """A mailing service's address and credentials: what every request to it carries."""

    name: str  # as the user knows it: "Buttondown"
    base: str  # the API's root URL, no trailing /
    headers: dict[str, str]  # the credentials, never printed
    variables: tuple[str, ...]  # the environment variables they came from, for a refusal's message
    timeout: float = TIMEOUT
    raw: tuple[str, ...] = ()  # the credentials as the environment gave them (a header may hold them encoded)

    def secrets(self) -> list[str]:
        """Every form of the credentials, longest first: none of them is ever shown."""
        forms = {*self.raw, *self.headers.values()}
        forms |= {v.split(" ", 1)[1] for v in self.headers.values() if " " in v}  # "Token abc", "Basic abc"
        return sorted((f for f in forms if len(f) >= 4), key=len, reverse=True)


def timeout_from(environ: Mapping[str, str]) -> float:
    text = environ.get("DIGEST_PUSH_TIMEOUT", "").strip()
    if not text:
        return TIMEOUT
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_TIMEOUT:
        raise DigestError(
            [
                Problem(
                    "environment",
                    None,
                    f"DIGEST_PUSH_TIMEOUT must be seconds from 0 to {MAX_TIMEOUT:.0f}, got {text!r}",
                )
            ]
        )
    return value


class Client:
    """Requests to one service; ``sleep`` waits between tries (time.sleep)."""

    def __init__(self, service: Service, sleep: Callable[[float], None] = time.sleep) -> None:
        self.service = service
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=service.base,
            headers={**service.headers, "User-Agent": f"digest/{__version__}", "Accept": "application/json"},
            timeout=httpx.Timeout(service.timeout),
            follow_redirects=False,
            trust_env=False,  # the service at the address configured: no proxy from the environment
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()

    def send(self, request: Request) -> Any:
        """The JSON the service answered (None for an empty body); raise DigestError with one line otherwise."""
        name = self.service.name
        for attempt in range(RETRIES + 1):
            try:
                response = self.http.request(
                    request.method, request.url, json=request.body, params=httpx.QueryParams(request.params)
                )
            except httpx.TimeoutException:
                raise self._error(
                    f"no answer within {self.service.timeout:g} s ({request.method} {request.url}); it may have"
                    " acted on the request: look in the service before pushing again (DIGEST_PUSH_TIMEOUT sets the"
                    " wait)"
                ) from None
            except httpx.TransportError as e:
                raise self._error(
                    f"cannot reach {self.service.base}: {self._clean(str(e)) or type(e).__name__}"
                ) from None
            status = response.status_code
            if status in _NOT_DONE or (status >= 500 and request.method != "POST"):
                wait = _retry_after(response.headers.get("Retry-After"), attempt)
                if attempt < RETRIES and wait <= MAX_WAIT:
                    self.sleep(wait)
                    continue
                if wait > MAX_WAIT:
                    raise self._error(
                        f"{status}: {self._message(response)} (it asks to wait {wait:.0f} s; try later)", status
                    )
                raise self._error(f"{status}: {self._message(response)} (tried {RETRIES + 1} times)", status)
            if status >= 300:
                message = f"{status}: {self._message(response)}"
                if status in (401, 403):
                    refused = " and ".join(self.service.variables)
                    message += f" ({refused} {'were' if len(self.service.variables) > 1 else 'was'} refused by {name})"
                raise self._error(message, status)
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                raise self._error(f"{status}: the answer is not JSON", status) from None
        raise AssertionError("unreachable")  # the loop returns or raises

    def _error(self, message: str, status: int | None = None) -> Refused:
        return Refused(self.service.name, message, status)

    def _message(self, response: httpx.Response) -> str:
        """The service's own words: listmonk's message, Buttondown's detail, Mailchimp's detail or title,
        Brevo's message; else the HTTP reason."""
        text = ""
        try:
            data = response.json()
        except ValueError:
            data = None
        if isinstance(data, dict):
            for key in ("message", "detail", "title", "error"):
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    text = value
                    break
                if isinstance(value, list) and value:  # Buttondown's validation errors: [{"msg": ...}]
                    first = value[0]
                    text = str(first.get("msg", first)) if isinstance(first, dict) else str(first)
                    break
        return self._clean(text) or response.reason_phrase or "error"

    def _clean(self, text: str) -> str:
        """One line of at most 300 characters, with no secret in it."""
        for secret in self.service.secrets():
            text = text.replace(secret, MASK)
        text = " ".join(text.split())
        return text if len(text) <= 300 else text[:299] + "…"


def _retry_after(value: str | None, attempt: int) -> float:
    backoff = float(2**attempt)
    if not value:
        return backoff
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return backoff
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())
