"""One issue as a finished email message: what `digest send` delivers and `digest export` writes.

Rules:
- multipart/alternative, UTF-8: the plain text first, the HTML last (the part a client prefers).
- The headers a mailing list needs to be trusted by inboxes: Date, MIME-Version, Message-ID,
  List-Id, and List-Unsubscribe (the unsubscribe URL, and a mailto when
  email.unsubscribe_mailto is set) with List-Unsubscribe-Post for one-click unsubscribing
  (RFC 8058) when the URL is https.
- No header line can be injected (issue 20): every value is checked once decoded
  (:mod:`digest.core.validate`: no control character may appear after RFC 2047 decoding), and the
  message carries a policy that refuses, each time it is written, any header whose folded form
  would start a line that is not a continuation. The first is the user error, with the key that
  holds the value; the second is the guarantee, whatever a future header or library does.
- The clip gate is an error here: a message that Gmail would clip is never sent or exported.
  It measures the HTML part as sent, after its transfer encoding, which is what Gmail counts.
"""

from __future__ import annotations

import datetime as dt
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import EmailPolicy, default
from email.utils import format_datetime, make_msgid
from urllib.parse import quote, urlsplit

from digest.core import lint, validate
from digest.core.errors import DigestError, Problem
from digest.core.models import Config, Issue

_LIST_LABEL = re.compile(r"[^a-z0-9-]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")


class HeaderInjection(ValueError):
    """A header whose written form would start a header line of its own."""


class CheckedPolicy(EmailPolicy):
    """email.policy.default, refusing every header that would not be written as exactly one header line.

    Python 3.11.7's EmailPolicy has no ``verify_generated_headers`` (added by the fix of
    CVE-2024-6923 in later releases), so the same check is made here, through the policy's
    public ``fold`` and ``fold_binary``, the two ways a header is written: after the first
    line, every line break must be the policy's own line separator followed by a space or tab
    (a continuation of the same header).
    """

    def fold(self, name: str, value: str) -> str:
        return _one_header(name, super().fold(name, value), self.linesep)

    def fold_binary(self, name: str, value: str) -> bytes:
        folded = super().fold_binary(name, value)
        _one_header(name, folded.decode("ascii", "surrogateescape"), self.linesep)
        return folded


def _one_header(name: str, folded: str, linesep: str) -> str:
    lines = folded.removesuffix(linesep).split(linesep)
    if any("\r" in line or "\n" in line for line in lines) or any(line[:1] not in (" ", "\t") for line in lines[1:]):
        raise HeaderInjection(f"the {name} header would start a header line of its own")
    return folded


POLICY = CheckedPolicy().clone(**{k: getattr(default, k) for k in ("linesep", "max_line_length", "raise_on_defect")})


def recipients(addresses: tuple[str, ...] | list[str]) -> list[str]:
    """``addresses`` as typed after --to, each checked to be exactly one address."""
    problems = []
    for to in addresses:
        # A line break would start a header of its own ("Bcc: ..."), raw or in an encoded word,
        # a comma a second recipient; either is a user error, not a crash.
        why = validate.address_problem(to)
        if why is not None and ("encoded words" in why or why.startswith("has a domain")):
            problems.append(Problem("--to", None, f"{to!r} {why}"))
        elif why is not None:
            problems.append(Problem("--to", None, f"must be one email address, got {to!r}"))
    if not addresses:
        problems.append(Problem("--to", None, "give at least one recipient"))
    if problems:
        raise DigestError(problems)
    return list(addresses)


def sender(config: Config) -> str:
    if config.email.from_:
        return config.email.from_
    if not config.author.email:
        raise DigestError(
            [Problem("config.yaml", None, "set email.from (or author.email) to send email", "email.from")]
        )
    if not config.author.name:
        return config.author.email
    # The author's name as a quoted display name when it needs quotes ("Doe, Jane"), so that
    # a comma or an angle bracket in it cannot make a second address.
    escaped = config.author.name.replace("\\", "\\\\").replace('"', '\\"')
    if re.search(r'[()<>\[\]:;@\\,."]', config.author.name):
        return f'"{escaped}" <{config.author.email}>'
    return f"{config.author.name} <{config.author.email}>"


def require_content(issue: Issue) -> None:
    """Refuse an issue with nothing in it (a header and a footer): a mistake to send, export or push."""
    if not issue.has_content:
        what = "a draft with no items yet" if issue.draft else "an issue with no items"
        why = f"is {what}: there is nothing to send; add some with digest add URL or digest collect"
        raise DigestError([Problem(issue.source, None, why)])


def list_id(config: Config) -> str:
    """RFC 2919: ``Title <label.host>``, the label from the newsletter URL's path."""
    parts = urlsplit(config.url)
    labels = [_LIST_LABEL.sub("-", p.lower()).strip("-") for p in parts.path.split("/")]
    host = (parts.hostname or "localhost").rstrip(".")
    return f"{config.title} <{'.'.join([*(x for x in reversed(labels) if x), host])}>"


def build_message(
    config: Config, issue: Issue, html: str, text: str, to: list[str], now: dt.datetime | None = None
) -> EmailMessage:
    """The message for ``to`` (already checked by :func:`recipients`); raise DigestError when Gmail would clip it."""
    from_ = sender(config)
    unsubscribe = [f"<{_ascii_uri(config.email.unsubscribe_url)}>"] if config.email.unsubscribe_url else []
    if config.email.unsubscribe_mailto:
        unsubscribe.append(f"<{_mailto(config.email.unsubscribe_mailto)}?subject=unsubscribe>")
    # Every value checked once decoded, before any is set (validation has reported the ones it
    # reads at their lines; this is what the message itself is made of).
    where = {
        "Subject": (issue.source, "subject"),
        "List-Id": ("config.yaml", "title"),
        "List-Unsubscribe": ("config.yaml", "email.unsubscribe_url"),
    }
    texts = {"Subject": issue.subject, "List-Id": list_id(config), "List-Unsubscribe": ", ".join(unsubscribe)}
    problems = [
        Problem(*where[name][:1], None, why, where[name][1])
        for name, value in texts.items()
        if value and (why := validate.text_problem(value))
    ]
    addresses = {"email.from" if config.email.from_ else "author": from_, "email.reply_to": config.email.reply_to or ""}
    problems += [
        Problem("config.yaml", None, why, key)
        for key, value in addresses.items()
        if value and (why := validate.address_problem(value))
    ]
    if problems:
        raise DigestError(problems)
    sent_from, sent_to = _written(from_), [_written(t) for t in to]
    reply_to = [_written(config.email.reply_to)] if config.email.reply_to else []
    # RFC 6532: an address with a non-ASCII local part can only be written in UTF-8 (the
    # email package would otherwise put encoded words inside it, which no server delivers).
    international = not all(a.username.isascii() for a in (sent_from, *sent_to, *reply_to))
    msg = EmailMessage(policy=POLICY.clone(utf8=True) if international else POLICY)
    msg["Subject"] = issue.subject
    msg["From"] = sent_from
    msg["To"] = sent_to
    if reply_to:
        msg["Reply-To"] = reply_to
    msg["Date"] = format_datetime(now or dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain=validate.ascii_domain(sent_from.domain))
    msg["List-Id"] = texts["List-Id"]
    if unsubscribe:
        msg["List-Unsubscribe"] = texts["List-Unsubscribe"]
    if (config.email.unsubscribe_url or "").lower().startswith("https://"):
        msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    _refuse_clipped(issue, msg)
    try:
        msg.as_bytes()  # the policy's check, once before anything is sent or written
    except HeaderInjection as e:
        raise DigestError([Problem(issue.source, None, f"{e}; nothing of it was sent or written")]) from e
    except UnicodeError as e:
        # An encoded word of undecodable bytes (=?utf-8?q?=80?=) that the parser decodes only
        # once the value sits in its header: a lone surrogate, which no message can carry.
        bad = [name for name, value in msg.items() if not _foldable(msg, name, value)]
        why = "holds bytes that are not text once its RFC 2047 encoded words (=?…?=) are decoded"
        problems = [Problem(where[n][0], None, why, where[n][1]) for n in bad if n in where]
        raise DigestError(problems or [Problem(issue.source, None, f"a header {why}")]) from e
    return msg


def _foldable(msg: EmailMessage, name: str, value: object) -> bool:
    try:
        msg.policy.fold_binary(name, value)  # type: ignore[arg-type]
    except UnicodeError:
        return False
    return True


def _written(value: str) -> Address:
    """The address as the message writes it: an ASCII local part with its domain in ASCII (IDNA,
    xn--…), so that the message needs nothing special of any server; a non-ASCII local part as
    written (RFC 6532). ``value`` has passed :func:`digest.core.validate.parse_address`."""
    found = validate.parse_address(value)
    if isinstance(found, str):  # validation refuses these first; this keeps the promise here too
        raise DigestError([Problem("email", None, f"{value!r} {found}")])
    if not found.username.isascii():
        return found
    return Address(found.display_name, found.username, validate.ascii_domain(found.domain) or found.domain)


def _ascii_uri(url: str) -> str:
    """RFC 2369 puts URIs, which are ASCII, in List-Unsubscribe: non-ASCII characters are
    percent-encoded as UTF-8 (the email package would otherwise turn the header into encoded
    words, which no client reads as a link)."""
    return _NON_ASCII.sub(lambda m: quote(m.group(), safe=""), url)


def _mailto(address: str) -> str:
    """A mailto: URI (RFC 6068) for ``address``: the domain in IDNA, the rest percent-encoded."""
    local, _, domain = address.rpartition("@")
    return f"mailto:{_ascii_uri(local)}@{validate.ascii_domain(domain) or _ascii_uri(domain)}"


def html_part(msg: EmailMessage) -> EmailMessage:
    for part in msg.walk():
        if part.get_content_type() == "text/html":
            return part
    raise ValueError("the message has no HTML part")


def _refuse_clipped(issue: Issue, msg: EmailMessage) -> None:
    size = lint.wire_bytes(str(html_part(msg).get_payload()))  # as SMTP carries it: CRLF line ends
    verdict = lint.clip_message(size)
    if verdict is not None and verdict[0]:
        raise DigestError([Problem(issue.source, None, verdict[1])])
