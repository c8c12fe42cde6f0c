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

Links compared as a reader would, two spellings of one page being one link (used by
``add``/``collect`` to refuse duplicates, and by the link ledger in ``check``):
- Tracking parameters (``utm_*``, ``fbclid``, ``gclid``, ``mc_eid``...) say who sent
  the reader, not which page: :func:`strip_tracking` removes them from a URL that is
  written into an issue, keeping everything else as the curator or the page gave it.
- :func:`normalize_url` is a comparison key, never a link to print: it also drops the
  scheme's difference (http/https), a leading ``www.``, the default port, the
  fragment and a trailing slash, and orders the query (w3lib's canonical form handles
  case, percent-encoding and international domain names).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode, urlsplit, urlunsplit

from digest.core import markdown
from digest.core.loading import cut, short

# What a browser reads as a scheme: letters first, then letters, digits, + . -, then a colon,
# after dropping leading spaces and C0 controls and every tab and newline (WHATWG URL parsing).
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_BROWSER_DROPS = re.compile(r"[\t\n\r]")
_LEADING = "".join(map(chr, range(0x21)))  # C0 controls and the space
_BARE_ADDRESS = re.compile(r"(?:www\.)?[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}(?:[/?#:]\S*)?", re.ASCII)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MERGE_TAG_EXAMPLES = "*|UNSUB|* or {{ unsubscribe_url }}"


def scheme(value: str) -> str | None:
    """The scheme a browser would read in ``value`` (lower case), or None for text with none."""
    m = _SCHEME.match(_BROWSER_DROPS.sub("", value).lstrip(_LEADING))
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
            return (
                f"must be a full URL (like https://{cut(value.strip(), 40)}) or a merge tag such as"
                f" {MERGE_TAG_EXAMPLES}, got {short(value)}"
            )
        return None
    why = markdown.url_problem(value, allow_mailto=mailto)
    if why is None or not merge_tag or found in ("http", "https") or (mailto and found == "mailto"):
        return why
    return (
        f"must be {kinds} or a mailing service's merge tag such as {MERGE_TAG_EXAMPLES} (text with no scheme), got"
        f" {short(value)}"
    )


TRACKING_PREFIXES = ("utm_",)
TRACKING_NAMES = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_eid",
        "mc_cid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
    }
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def is_tracking(name: str) -> bool:
    lowered = name.lower()
    return lowered in TRACKING_NAMES or lowered.startswith(TRACKING_PREFIXES)


def strip_tracking(url: str) -> str:
    """``url`` without its tracking parameters; otherwise byte for byte as given."""
    parts = urlsplit(url)
    if not parts.query:
        return url
    # Piece by piece, so that what stays keeps its own spelling (no re-encoding).
    pieces = parts.query.split("&")
    kept = [p for p in pieces if p and not is_tracking(unquote_plus(p.split("=", 1)[0]))]
    if len(kept) == len(pieces):
        return url
    return urlunsplit(parts._replace(query="&".join(kept)))


def add_parameters(url: str, params: tuple[tuple[str, str], ...]) -> str:
    """``url`` with the query parameters of ``params`` it does not have yet, after its own
    query (kept byte for byte) and before its fragment; values are percent-encoded."""
    base, hash_, fragment = url.partition("#")
    query = base.partition("?")[2]
    have = {unquote_plus(p.split("=", 1)[0]) for p in query.split("&") if p}
    added = [(k, v) for k, v in params if k not in have]
    if not added:
        return url
    sep = "?" if "?" not in base else "" if base.endswith(("?", "&")) else "&"
    return base + sep + urlencode(added, quote_via=quote) + hash_ + fragment


@functools.lru_cache(maxsize=65536)
def normalize_url(url: str) -> str:
    """The comparison key of a link: equal keys mean the same page to a reader.

    >>> normalize_url("https://www.Example.com:443/a/?utm_source=x&b=2&a=1#top")
    'example.com/a?a=1&b=2'
    >>> normalize_url("http://example.com/a")
    'example.com/a'
    """
    prepared = _prepare(url)
    if isinstance(prepared, str):
        return prepared
    netloc, path, pairs = prepared
    fast = _plain_key(netloc, path, pairs)
    return fast if fast is not None else _canonical_key(url.strip(), netloc, path, urlencode(pairs))


def _prepare(url: str) -> str | tuple[str, str, list[tuple[str, str]]]:
    """(host[:port], path, query pairs without tracking) of a web link, or the text itself for anything else."""
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:  # a port that is not a number: not a URL a reader can open; compare as written
        return text
    scheme = parts.scheme.lower()
    if scheme == "mailto":
        return "mailto:" + parts.path.lower()  # an address, compared without case
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return text  # relative links and other schemes: compared as written
    pairs = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not is_tracking(k)]
    host = parts.hostname
    return (host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"), parts.path, pairs


def _canonical_key(text: str, netloc: str, path: str, query: str) -> str:
    """The key by w3lib's canonical form: percent-encoding, case, IDNA, dot segments, query order."""
    from w3lib.url import canonicalize_url

    try:
        canonical = canonicalize_url(urlunsplit(("https", netloc, path, query, "")))
    except (ValueError, UnicodeError):
        return text
    rest = urlsplit(canonical)
    return _key(rest.netloc.lower(), rest.path, rest.query)


# Most links need none of w3lib's work (nothing to percent-encode, decode or resolve), and
# an issue folder holds tens of thousands: those get the same key without it.
# tests/test_urls.py checks the two agree.
_PLAIN_PATH = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/!$'()*+,=:@")
_PLAIN_QUERY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")


def _plain_key(netloc: str, path: str, pairs: list[tuple[str, str]]) -> str | None:
    if not netloc.isascii() or netloc.startswith("xn--") or ".xn--" in netloc or not _PLAIN_PATH.issuperset(path):
        return None
    if "/." in path or not all(_PLAIN_QUERY.issuperset(k) and _PLAIN_QUERY.issuperset(v) for k, v in pairs):
        return None
    return _key(netloc, path, "&".join(f"{k}={v}" for k, v in sorted(pairs)))


def _key(host: str, path: str, query: str) -> str:
    return host.removeprefix("www.") + path.rstrip("/") + (f"?{query}" if query else "")
