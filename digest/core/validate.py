"""Validation: YAML node trees → models, with every problem at its file, line and key path.

Rules:
- Unknown keys are errors that suggest the nearest known key: a typo such as
  ``summmary`` must never drop a blurb silently.
- Every field has one type; numbers, lists or nulls where text belongs are errors.  A key
  written with no value (``title:``) is an error too, not a silent default.
- URLs are absolute http(s) (mailto too inside markdown); anything else is an error.
- A problem inside a multi-line text (a bad markdown link) is reported at its own line.
- A file reports at most MAX_PROBLEMS problems, then how many more it has: one broken
  pattern repeated a thousand times must not bury the first message.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
import unicodedata
from collections.abc import Callable
from email import errors as email_errors
from email import policy
from email.headerregistry import Address
from pathlib import Path
from typing import TypeVar

from digest.core import images, lint, markdown, urls
from digest.core.errors import Problem
from digest.core.loading import INVALID, Node, cut, short
from digest.core.models import Person

T = TypeVar("T")

MAX_PROBLEMS = 20  # per file
# What `digest translate` puts in front of a text it carried over untranslated (digest.core.translation).
UNTRANSLATED = "[untranslated]"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
# Anchors: any script's letters and digits (a Persian edition names its items in Persian), no spaces or
# punctuation that a URL fragment would have to escape.
_IDENTIFIER = re.compile(r"[^\W_][\w-]{0,63}")


class Checker:
    """Collects problems for one file while reading typed values out of its nodes."""

    def __init__(self, rel: str, schemes: tuple[str, ...] = ()) -> None:
        self.rel = rel
        self.schemes = schemes  # config's links.schemes: further schemes links may use
        self.problems: list[Problem] = []
        self.required: set[str] = set()  # key paths of required keys seen, for the wording of "is empty"
        # The anchors markdown links may name as #anchor: the (digest.core.anchors); None outside an issue.
        self.anchors: frozenset[str] | None = None
        self.marked: list[tuple[int, str]] = []  # (line, key path) of the texts holding UNTRANSLATED

    def error(self, line: int | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.rel, line, message, key))

    def warn(self, line: int | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.rel, line, message, key, warning=True))

    def note(self, line: int | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.rel, line, message, key, warning=True, note=True))

    def mapping(
        self, node: Node | None, path: str, known: tuple[str, ...], required: tuple[str, ...] = ()
    ) -> dict[str, Node] | None:
        """The mapping's entries after checking its keys, or None (with a problem) if it is not a mapping."""
        if node is None or node.value is INVALID:
            return None
        if node.value is None:
            self.error(
                node.line,
                path,
                f"is empty: write its keys ({', '.join(known)}) on the lines below it, or delete the line",
            )
            return None
        if not node.is_map:
            self.error(
                node.line, path, f"must be a group of 'key: value' lines ({', '.join(known)}), got {_kind(node.value)}"
            )
            return None
        entries: dict[str, Node] = node.value  # type: ignore[assignment]
        suggested = set()
        for key in entries:
            if key not in known:
                close = [k for k in known if k == key.lower()] or difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
                suggested.update(close)
                self.error(node.key_lines.get(key, node.line), _join(path, key), f"unknown key{hint}")
        for key in required:
            self.required.add(_join(path, key))
            # A misspelt required key is one mistake: "did you mean 'title'?" says it all.
            if key not in entries and key not in node.key_lines and key not in suggested:
                self.error(node.line, path or "", f"missing required key {key!r}")
        return entries

    def get(self, entries: dict[str, Node], key: str, path: str, read: Callable[[Node, str], T | None]) -> T | None:
        """Read ``entries[key]`` with ``read``; a missing key gives None (an empty one is the reader's error)."""
        node = entries.get(key)
        if node is None or node.value is INVALID:
            return None
        return read(node, _join(path, key))

    def _absent(self, node: Node, path: str) -> bool:
        """True, after reporting it unless it is already reported, if ``node`` holds no usable value."""
        if node.value is None:
            if path in self.required:
                self.error(node.line, path, "is empty, but it is required: write a value after the colon")
            else:
                self.error(node.line, path, "is empty: write a value after the colon, or delete the line")
            return True
        return node.value is INVALID

    # Readers: each returns the typed value, or None after recording a problem.

    def text(self, node: Node, path: str) -> str | None:
        if self._absent(node, path):
            return None
        if not isinstance(node.value, str):
            hint = " (put it in quotes)" if isinstance(node.value, (int, float, bool, dt.date)) else ""
            self.error(node.line, path, f"must be text, got {_kind(node.value)}{hint}")
            return None
        value = node.value.strip()
        if not value:
            self.error(node.line, path, "is empty: write some text, or delete the line")
            return None
        if UNTRANSLATED in value:
            self.marked.append((node.line, path))
        return value

    def line_text(self, node: Node, path: str) -> str | None:
        value = self.text(node, path)
        return " ".join(value.split()) if value is not None else None

    def identifier(self, node: Node, path: str) -> str | None:
        """A name for an anchor: letters, digits, '-' and '_', starting with a letter or digit."""
        value = self.text(node, path)
        if value is not None and not _IDENTIFIER.fullmatch(value):
            self.error(
                node.line,
                path,
                f"{cut(value, 40)!r} is not an id: use letters, digits, '-' and '_' (at most 64, starting with a"
                " letter or digit)",
            )
            return None
        return value

    def markdown(self, node: Node, path: str) -> str | None:
        return self._checked_markdown(node, path, self.text(node, path), inline=False)

    def title(self, node: Node, path: str) -> str | None:
        """A one-line title in inline markdown (code spans, emphasis, links)."""
        return self._checked_markdown(node, path, self.line_text(node, path), inline=True)

    def _checked_markdown(self, node: Node, path: str, value: str | None, inline: bool) -> str | None:
        if value is None:
            return None
        cursor = (0, 0)
        for bad in markdown.bad_links(value, self.schemes, inline, self.anchors):
            line, cursor = _locate(node, bad.url, cursor)
            self.error(line or node.line + bad.line_offset, path, bad.message)
        cursor = (0, 0)
        for link in markdown.links(value, self.schemes, inline):
            line, cursor = _locate(node, link.target, cursor)
            if link.kind == "image" and not link.text.strip():
                # The rule of image.alt (required, never empty) for images in markdown too:
                # alt="" tells a screen reader the image is decoration, and a newsletter's
                # images carry content.
                self.error(line or node.line + link.line_offset, path, lint.EMPTY_ALT)
                continue
            why = lint.alt_text_problem(link.text) if link.kind == "image" else lint.link_text_problem(link.text)
            if why:
                self.warn(line or node.line + link.line_offset, path, why)
        return value

    def alt_text(self, node: Node, path: str) -> str | None:
        value = self.line_text(node, path)
        if value is not None and (why := lint.alt_text_problem(value)):
            self.warn(node.line, path, why)
        return value

    def url(self, node: Node, path: str, *, mailto: bool = False, merge_tag: bool = False) -> str | None:
        """An absolute http(s) URL (see :func:`digest.core.urls.url_problem` for ``mailto`` and ``merge_tag``)."""
        value = self.text(node, path)
        if value is None:
            return None
        why = urls.url_problem(value, mailto=mailto, merge_tag=merge_tag)
        if why:
            self.error(node.line, path, why)
            return None
        return value

    def local_image(self, node: Node, path: str, root: Path) -> images.Local | None:
        """A file in the newsletter's images/ folder (digest.core.images): its path's rules, then the file's."""
        value = self.text(node, path)
        if value is None:
            return None
        if (why := images.path_problem(value)) is not None:
            self.error(node.line, path, why)
            return None
        written = "\n".join(node.source[node.line - 1 : node.last_line or node.line]) if node.source else value
        if value not in images.referenced(written.encode()):
            self.error(node.line, path, images.HIDDEN)
            return None
        try:
            return images.inspect(value, images.read(root, value))
        except images.Unusable as e:
            self.error(node.line, path, str(e))
            return None

    def link(self, node: Node, path: str) -> str | None:
        """An item's link: http(s), or a scheme config.yaml allows (links.schemes)."""
        value = self.text(node, path)
        if value is None:
            return None
        why = markdown.url_problem(value, allow_mailto=False, schemes=self.schemes)
        if why:
            self.error(node.line, path, why)
            return None
        return value

    def people(self, node: Node, path: str) -> tuple[Person, ...] | None:
        """Who an item credits: a name, ``{name, url}``, or a list of either (counted from 1 in messages).
        A person's url follows the rules of every link (http(s), mailto, links.schemes)."""
        if node.is_list:
            entries = self.items(node, path) or []
            found = [self._person(child, here) for child, here in entries]
            people = tuple(p for p in found if p is not None)
            if not entries:
                self.error(node.line, path, "is an empty list: write a name, or delete the line")
            return people if len(people) == len(found) and people else None
        person = self._person(node, path)
        return (person,) if person is not None else None

    def _person(self, node: Node, path: str) -> Person | None:
        if not node.is_map:
            name = self.line_text(node, path)
            return Person(name) if name is not None else None
        entries = self.mapping(node, path, ("name", "url"), required=("name",))
        if entries is None:
            return None
        name = self.get(entries, "name", path, self.line_text)
        url = None
        if (unode := entries.get("url")) is not None and (value := self.text(unode, f"{path}.url")) is not None:
            if why := markdown.url_problem(value, schemes=self.schemes):
                self.error(unode.line, f"{path}.url", why)
                return None
            url = value
        return Person(name, url) if name is not None and (url is not None or "url" not in entries) else None

    def date(self, node: Node, path: str) -> dt.date | None:
        if self._absent(node, path):
            return None
        value = node.value
        if isinstance(value, dt.datetime):
            self.error(node.line, path, f"must be a date like 2019-11-08 without a time, got {str(node.value)!r}")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            if _ISO_DATE.fullmatch(value.strip()):
                try:
                    return dt.date.fromisoformat(value.strip())
                except ValueError:  # the same words as for an unquoted impossible date
                    self.error(node.line, path, f"{short(value.strip())} is not a valid date")
                    return None
            self.error(node.line, path, f"must be a date like 2019-11-08, got {short(value)}")
            return None
        self.error(node.line, path, f"must be a date like 2019-11-08, got {_kind(value)}")
        return None

    def boolean(self, node: Node, path: str) -> bool | None:
        if self._absent(node, path):
            return None
        if not isinstance(node.value, bool):
            self.error(node.line, path, f"must be true or false, got {_kind(node.value)}")
            return None
        return node.value

    def integer(self, node: Node, path: str) -> int | None:
        if self._absent(node, path):
            return None
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            quoted = isinstance(node.value, str) and node.value.strip().isdigit()
            self.error(
                node.line,
                path,
                f"must be a whole number, got {_kind(node.value)}{' (remove the quotes)' if quoted else ''}",
            )
            return None
        return node.value

    def positive(self, node: Node, path: str) -> int | None:
        value = self.integer(node, path)
        if value is not None and value < 1:
            self.error(node.line, path, f"must be at least 1, got {_kind(value)}")
            return None
        return value

    def items(self, node: Node, path: str) -> list[tuple[Node, str]] | None:
        """The elements of a list with their key paths (counted from 1, as an editor counts)."""
        if self._absent(node, path):
            return None
        if not node.is_list:
            self.error(
                node.line,
                path,
                f"must be a list (each entry on its own line, starting with '- '), got {_kind(node.value)}",
            )
            return None
        children: list[Node] = node.value  # type: ignore[assignment]
        return [(child, f"{path}[{i}]") for i, child in enumerate(children, 1)]


def capped(problems: list[Problem]) -> list[Problem]:
    """At most MAX_PROBLEMS of one file's problems (whole lines kept together), then a count of the rest."""
    ordered = sorted(problems, key=lambda p: (p.line or 0, p.key))
    if len(ordered) <= MAX_PROBLEMS:
        return ordered
    keep = MAX_PROBLEMS
    while keep < len(ordered) and ordered[keep].line == ordered[keep - 1].line:
        keep += 1
    rest = ordered[keep:]
    if not rest:
        return ordered
    first = rest[0]
    errors = sum(1 for p in rest if not p.warning)

    def count(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    what = (
        f"{count(errors, 'more error')}"
        if errors == len(rest)
        else f"{count(len(rest), 'more problem')} ({count(errors, 'error')})"
    )
    message = f"{what} from this line on are not shown: fix the ones above, then check again"
    return [*ordered[:keep], Problem(first.path, first.line, message, warning=errors == 0, hidden=errors)]


def _locate(node: Node, url: str, after: tuple[int, int]) -> tuple[int | None, tuple[int, int]]:
    """The source line of ``url`` inside the text of ``node``, searching on from ``after``.

    The value YAML hands over has lost its line structure (``>`` and plain text fold
    their lines), so the link is looked up in the file's own lines.  Links come in the
    order of the text; ``after`` moves past each one found, so a URL used twice is
    reported at each of its lines.  None when the URL is not written out (an entity, an
    escape): the caller falls back to an estimate.
    """
    if not url or not node.source:
        return None, after
    start, col = after
    for index in range(max(start, node.line - 1), min(node.last_line, len(node.source))):
        found = node.source[index].find(url, col if index == start else 0)
        if found >= 0:
            return index + 1, (index, found + 1)
    return None, after


def _join(path: str, key: str) -> str:
    return f"{path}.{cut(key)}" if path else cut(key)


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({cut(str(value), 40)})"
    if isinstance(value, dt.datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"text ({short(value, 40)})"
    return type(value).__name__


# Values that become email headers (Subject, From, Reply-To, To, List-Id, List-Unsubscribe), checked as a
# mail program will read them.
#
# Rules:
# - A header value is checked *after decoding*: the email package decodes RFC 2047 encoded words
#   (``=?utf-8?q?…?=``) when a header is set, so an encoded CR LF is a real line break by the time the
#   message is written, and would start a header line of its own (``Bcc: …``). Any control character
#   (C0, DEL, C1), line or paragraph separator, or lone surrogate that decoding brings in is refused;
#   the caller names the file, line and key.
# - As written (not encoded), a value may not hold a C0 control, a line break of any kind (CR, LF,
#   VT, FF, FS, GS, RS, NEL, U+2028, U+2029) or a lone surrogate. DEL and the other C1 controls
#   stay allowed there, as the text rules of config.yaml and the issues allow them (they cannot
#   break a line, and the email package encodes what is not printable ASCII).
# - An address header holds exactly one address that parses without an invalid-syntax defect (an
#   obsolete form such as an unquoted period in the name is accepted, as mail readers do). A
#   non-ASCII domain must convert to an ASCII one (IDNA) so that the message works with any server;
#   a non-ASCII local part needs RFC 6532 (see :mod:`digest.deliver.message`).
# - The email package's parser is the judge, the same one that builds the message, so what passes
#   here is exactly what the message will hold.

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
    if len(addresses) != 1 or any(isinstance(d, email_errors.InvalidHeaderDefect) for d in defects):
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
