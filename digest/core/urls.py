"""The one check for URL-valued settings: config keys (logo, icon, unsubscribe_url, and
any later one such as editions or sources) all go through :func:`url_problem`.

Rules:
- A link is an absolute http(s) URL; mailto: only where a key allows it.
- ``unsubscribe_url`` may also be a mailing service's merge tag (``*|UNSUB|*``,
  ``{{ UnsubscribeURL }}``, ``{{ unsubscribe_url }}``, ``%unsubscribe_url%``,
  ``[unsubscribe]``): text with no scheme, which the service swaps for the real link
  when it sends.  Text with a scheme is a URL and is checked as one, so
  ``javascript:alert(1)`` is refused however it is spelt (browsers ignore case,
  surrounding spaces, tabs and newlines in a scheme, so this check does too).
- A merge tag is copied into the email exactly as written (HTML-escaped only); an
  address written without its scheme (``example.com/unsubscribe``) is not a merge tag
  but a mistake, and is refused with the fix.
- Two links are the same link (the link ledger of `digest check`) when they are equal
  after :func:`normalise`: the scheme ignored (http and https name the same page here);
  the host in lower case, without ``www.`` and a default port; no trailing slash on the
  path; no tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_eid``, ``mc_cid``),
  the others in their order; no fragment.  mailto links compare by address, in lower case.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit

from digest.core import markdown
from digest.core.loading import cut, short

# What a browser reads as a scheme: letters first, then letters, digits, + . -, then a colon,
# after dropping leading spaces and C0 controls and every tab and newline (WHATWG URL parsing).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_BROWSER_DROPS = re.compile(r"[\t\n\r]")
_BARE_ADDRESS = re.compile(r"(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?:[/?#:]\S*)?", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MERGE_TAG_EXAMPLES = "*|UNSUB|* or {{ unsubscribe_url }}"


def scheme(value: str) -> str | None:
    """The scheme a browser would read in ``value`` (lower case), or None for text with none."""
    m = _SCHEME.match(_BROWSER_DROPS.sub("", value).lstrip("\x00-\x20 "))
    return m.group(1).lower() if m else None


def url_problem(value: str, *, mailto: bool = False, merge_tag: bool = False) -> str | None:
    """Why ``value`` is not acceptable for a URL-valued setting, or None if it is.

    ``mailto``: a mailto: address is allowed too.  ``merge_tag``: so is a mailing
    service's merge tag, i.e. text with no scheme (see the module's rules)."""
    kinds = "an http(s) or mailto URL" if mailto else "an http(s) URL"
    found = scheme(value)
    if merge_tag and found is None:
        if _CONTROL.search(value):
            return f"must be {kinds} or a merge tag, without control characters, got {short(value)}"
        if _BARE_ADDRESS.fullmatch(value.strip()):
            return f"must be a full URL (like https://{cut(value.strip(), 40)}) or a merge tag such as {MERGE_TAG_EXAMPLES}, got {short(value)}"
        return None
    why = markdown.url_problem(value, allow_mailto=mailto)
    if why is None or not merge_tag or found in ("http", "https") or (mailto and found == "mailto"):
        return why
    return f"must be {kinds} or a mailing service's merge tag such as {MERGE_TAG_EXAMPLES} (text with no scheme), got {short(value)}"


TRACKING = frozenset({"fbclid", "gclid", "mc_eid", "mc_cid"})
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking(name: str) -> bool:
    return name.lower().startswith("utm_") or name.lower() in TRACKING


def normalise(url: str) -> str:
    """The form in which two links to the same page are equal (not itself a working URL)."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return "mailto:" + parts.path.lower()
    host = (parts.hostname or "").rstrip(".")
    host = host.removeprefix("www.")
    if port is not None and port != _DEFAULT_PORTS.get(scheme):
        host += f":{port}"
    path = parts.path.rstrip("/")
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)]
    return f"//{host}{path}" + (f"?{urlencode(query)}" if query else "")
