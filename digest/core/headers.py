"""Values that become email headers (Subject, From, Reply-To, To, List-Id, List-Unsubscribe), checked as a
mail program will read them.

Rules:
- A header value is checked *after decoding*: the email package decodes RFC 2047 encoded words
  (``=?utf-8?q?…?=``) when a header is set, so an encoded CR LF is a real line break by the time the
  message is written, and would start a header line of its own (``Bcc: …``). Any control character
  (C0, DEL, C1), line or paragraph separator, or lone surrogate that decoding brings in is refused;
  the caller names the file, line and key.
- As written (not encoded), a value may not hold a C0 control, a line break of any kind (CR, LF,
  VT, FF, FS, GS, RS, NEL, U+2028, U+2029) or a lone surrogate. DEL and the other C1 controls
  stay allowed there, as the text rules of config.yaml and the issues allow them (they cannot
  break a line, and the email package encodes what is not printable ASCII).
- An address header holds exactly one address that parses without an invalid-syntax defect (an
  obsolete form such as an unquoted period in the name is accepted, as mail readers do). A
  non-ASCII domain must convert to an ASCII one (IDNA) so that the message works with any server;
  a non-ASCII local part needs RFC 6532 (see :mod:`digest.deliver.message`).
- The email package's parser is the judge, the same one that builds the message, so what passes
  here is exactly what the message will hold.
"""

from __future__ import annotations

import unicodedata
from email import errors, policy
from email.headerregistry import Address

# Categories no header may hold once decoded: controls (CR, LF, NUL, ESC, DEL, C1),
# lone surrogates (undecodable bytes) and the Unicode line and paragraph separators.
_REFUSED = ("Cc", "Cs", "Zl", "Zp")
_ADVICE = "an email header cannot hold line breaks or control characters"


_BREAKS = frozenset("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")


def _first_refused(text: str, written: str | None = None) -> str | None:
    """The first character of ``text`` no header may hold. With ``written`` (the value before
    decoding), any control or separator decoding brought in; without, ``text`` is as written."""
    if written is None:
        return next(
            (ch for ch in text if (ch < " " and ch != "\t") or ch in _BREAKS or unicodedata.category(ch) == "Cs"),
            None,
        )
    return next((ch for ch in text if unicodedata.category(ch) in _REFUSED and ch not in written), None)


def _named(ch: str) -> str:
    return f"U+{ord(ch):04X}"


def _decoded_text(value: str) -> str | None:
    """``value`` as an unstructured header (Subject, List-Id) holds it once decoded, or None if unparseable."""
    try:
        return str(policy.default.header_factory("subject", value))
    # The stdlib's header parser has raised IndexError and AttributeError on malformed input;
    # any failure to parse is a value that cannot be a header, a user error.
    except Exception:  # noqa: BLE001
        return None


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be written as an unstructured header, or None when it can."""
    if (ch := _first_refused(value)) is not None:
        return f"holds {_named(ch)}, a control character; {_ADVICE}"
    decoded = _decoded_text(value)
    if decoded is None:
        return "cannot be read as an email header"
    if (ch := _first_refused(decoded, value)) is not None:
        return f"holds {_named(ch)} once its RFC 2047 encoded words (=?…?=) are decoded; {_ADVICE}"
    try:  # an encoded word of undecodable bytes beside other text is decoded only as the header is written
        policy.default.fold_binary("Subject", policy.default.header_factory("subject", value))
    except UnicodeError:
        return f"holds bytes that are not text once its RFC 2047 encoded words (=?…?=) are decoded; {_ADVICE}"
    return None


def parse_address(value: str) -> Address | str:
    """The one address ``value`` holds, or why it is not exactly one valid address."""
    if (ch := _first_refused(value)) is not None:
        return f"holds {_named(ch)}, a control character; {_ADVICE}"
    try:
        header = policy.default.header_factory("to", value)
        addresses = header.addresses
        defects = header.defects
    except ValueError as e:  # the email package refuses CR or LF in an address part (decoded)
        if "CR or LF" in str(e):
            return f"holds a line break once its RFC 2047 encoded words (=?…?=) are decoded; {_ADVICE}"
        return "is not an email address"
    except Exception:  # noqa: BLE001 - see _decoded_text: the parser may fail in any way on bad input
        return "is not an email address"
    if len(addresses) != 1 or any(isinstance(d, errors.InvalidHeaderDefect) for d in defects):
        return "must be one email address like Name <name@example.org>"
    address = addresses[0]
    for part in (address.display_name, address.username, address.domain):
        if (ch := _first_refused(part, value)) is not None:
            return f"holds {_named(ch)} once its RFC 2047 encoded words (=?…?=) are decoded; {_ADVICE}"
    if not address.username or not address.domain:
        return "must be one email address like Name <name@example.org>"
    if ascii_domain(address.domain) is None:
        return f"has a domain that is not a valid internationalised domain name: {address.domain!r}"
    return address


def address_problem(value: str) -> str | None:
    """Why ``value`` is not exactly one address that can be written into a header, or None."""
    found = parse_address(value)
    return found if isinstance(found, str) else None


def ascii_domain(domain: str) -> str | None:
    """``domain`` in ASCII: as it is, or its IDNA form (xn--…); None when it has no valid one."""
    if domain.isascii():
        return domain
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None
