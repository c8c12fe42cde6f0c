"""An issue rendered: the email (Jinja2 → MJML → mjml-python → premailer, and its plain-text part),
the web page and the bare content fragment.

The email's stages: Jinja2 in the environment (digest.render.environment); MJML to HTML
through MRML, with what MRML needs to keep every character (below); premailer's CSS inlining
and the lean email (digest.render.inline).

Output is deterministic: rendering the same issue twice, in any process, gives the same
bytes (no timestamps, no random ids, no hash-ordered iteration).

The plain-text email.  Rules: markdown becomes text with every link's URL written out (``markdown_text``);
every text is wrapped at 78 columns, breaking only at spaces, so URLs and code stay
whole and clickable (:mod:`digest.core.wrap`); images appear as their alt text; links
carry config.yaml's utm_* parameters (UTM tagging, below); the result has no
trailing spaces, no runs of blank lines, and ends with exactly one newline.

UTM tagging: utm_* parameters on the email's own links, so that the sites it links to
(and the newsletter's analytics) can tell the email's readers from others.

Rules:
- Only with ``utm:`` in config.yaml, and only in the email (HTML and plain text, and so
  in proofs and exports): never in the web pages or the feeds, whose readers did not
  come from the email.
- Only the issue's own links: item URLs and the links in the markdown of intros,
  summaries and outros.  Never the template's (view in browser, archive, logo), never
  a mailto, never the unsubscribe link, never a link holding a mailing service's merge
  tag (the service must find it as written), never an image.
- A link keeps its own query and fragment byte for byte; the parameters go after its
  query, before its fragment, in the order source, medium, campaign.  A utm_* parameter
  the link already has wins (a partner's own campaign stays).
- ``campaign`` may use ``{number}`` (``{number:03}``): the issue's number.
- Deterministic: the same issue and config give the same links.
"""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote

from markupsafe import Markup

from digest.core import markdown, urls
from digest.core.errors import DigestError, Problem
from digest.core.models import Config, Issue, Section
from digest.core.plaintext import title_text
from digest.render.archive import Neighbours
from digest.render.environment import UNSUBSCRIBE_PLACEHOLDER, template_path
from digest.render.inline import finish_email, inline_email

if TYPE_CHECKING:
    import jinja2


class MjmlError(Exception):
    """MJML rejected the markup the email template produced."""


def render_content(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The issue body as an HTML fragment: used in the web page and as feed content."""
    return env.get_template("_content.html").render(issue=issue).strip() + "\n"


def render_web(env: jinja2.Environment, config: Config, issue: Issue, content: str, neighbours: Neighbours) -> str:
    """The standalone web page of an issue (no external resources but the content's images).

    ``content`` is the issue's render_content(); ``neighbours`` all the page shows of other issues."""
    return env.get_template("issue.html").render(issue=issue, content=Markup(content), neighbours=neighbours)


def render_email(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The email HTML: Jinja2 → MJML → HTML → CSS inlined, unsubscribe URL restored."""
    mjml_src = email_mjml(env, config, issue)
    # Only an override can nest deep enough to crash MRML (the built-in templates and markdown
    # cannot), so only a newsletter with a templates/ folder pays for the count.
    if getattr(env, "overridden", True) and (deep := too_deep(mjml_src)) is not None:
        template = env.get_template("email.mjml")
        where = template_path(template.filename)
        message = (
            f"MJML cannot convert what this template produces: elements nested more than {MAX_DEPTH} deep (<{deep[1]}>)"
        )
        if where.startswith("templates/"):
            raise DigestError([Problem(where, source_line(mjml_src, deep[0], template.filename), message)])
        raise DigestError([Problem(where, None, f"{message}, in the email of {issue.source}")])
    try:
        html = mjml_to_html(mjml_src)
    except MjmlError as e:
        template = env.get_template("email.mjml")
        where = template_path(template.filename)
        if where.startswith("templates/"):  # the newsletter's own template: its markup is the cause
            line, detail = mjml_error_line(mjml_src, template.filename)
            raise DigestError(
                [Problem(where, line, f"MJML cannot convert what this template produces: {e}{detail}")]
            ) from e
        raise DigestError([Problem(where, None, f"MJML cannot convert the email of {issue.source}: {e}")]) from e
    return finish_email(inline_email(html), config)


# The first stage of render_email, public so that tests and timing can reach it.


def email_mjml(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    placeholder = UNSUBSCRIBE_PLACEHOLDER if config.email.unsubscribe_url else None
    tag = tagger(config, issue)
    return env.get_template("email.mjml").render(
        issue=tag_items(issue, tag), unsubscribe_url=placeholder, link_tag=tag, linked=linked_anchors(issue)
    )


# The plain-text email.

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class InIssue:
    """The text email's link hook: a link to ``#anchor`` is written as the web page's place
    (plain text has no places to jump to); any other link gets the UTM tag, if any.  A value,
    as markdown rendering caches on it."""

    page: str  # the issue's web page
    tag: Tagger | None

    def __call__(self, url: str) -> str:
        if url.startswith("#"):
            return self.page + url
        return self.tag(url) if self.tag is not None else url


def render_text(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The text/plain part of the email, from the ``email.txt`` template."""
    tag = tagger(config, issue)  # the email's links carry config.yaml's utm_* parameters
    items = tag_items(_url_titles_dropped(issue), tag)
    text = env.get_template("email.txt").render(issue=items, link_tag=InIssue(issue.url, tag))
    # Templates (including a newsletter's own) need not manage blank lines exactly:
    # the layout is normalised here instead.
    text = _TRAILING_SPACE.sub("", text.replace("\r\n", "\n"))
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n") + "\n"


def _url_titles_dropped(issue: Issue) -> Issue:
    """``issue`` without the titles that are only their item's URL: the text email writes
    an item's URL on its own line, and a title that is the URL printed it twice."""

    def dropped(section: Section) -> Section:
        items = tuple(
            (
                dataclasses.replace(item, title=None)
                if item.title and item.url and title_text(item.title) == item.url
                else item
            )
            for item in section.items
        )
        return dataclasses.replace(section, items=items, sections=tuple(map(dropped, section.sections)))

    return dataclasses.replace(issue, sections=tuple(map(dropped, issue.sections)))


# UTM tagging (the rules are in the module's docstring).

_HTTP = re.compile(r"https?://", re.IGNORECASE)
# Merge tags of Mailchimp (*|UNIQID|*), listmonk, Buttondown and Brevo ({{ ... }}),
# Jinja-like services ({% ... %}) and Campaign Monitor-like ones (%subscriber_id%).
_MERGE_TAG = re.compile(r"\*\|.+?\|\*|\{\{.+?\}\}|\{%.+?%\}|%[A-Za-z_]{3,}%")


@dataclass(frozen=True)
class Tagger:
    """What one issue's email links get: a value, so that markdown rendering can cache on it."""

    params: tuple[tuple[str, str], ...]
    untagged: frozenset[str] = frozenset()  # normalized links that never get them (unsubscribe)

    def __call__(self, url: str) -> str:
        if not _HTTP.match(url) or _MERGE_TAG.search(unquote(url)):
            return url
        if self.untagged and urls.normalize_url(url) in self.untagged:
            return url
        return urls.add_parameters(url, self.params)


def tagger(config: Config, issue: Issue) -> Tagger | None:
    """The tagger for ``issue``'s email, or None when config.yaml has no ``utm:``."""
    utm = config.utm
    if utm is None:
        return None
    campaign = utm.campaign.format(number=issue.number) if utm.campaign else None
    params = tuple(
        (k, v) for k, v in (("utm_source", utm.source), ("utm_medium", utm.medium), ("utm_campaign", campaign)) if v
    )
    unsubscribe = config.email.unsubscribe_url or ""
    untagged = frozenset({urls.normalize_url(unsubscribe)} if _HTTP.match(unsubscribe) else ())
    return Tagger(params, untagged)


def tag_items(issue: Issue, tag: Tagger | None) -> Issue:
    """``issue`` with its items' URLs tagged (markdown links are tagged as they render)."""
    if tag is None:
        return issue

    def tagged(section: Section) -> Section:
        items = tuple(dataclasses.replace(item, url=tag(item.url) if item.url else item.url) for item in section.items)
        return dataclasses.replace(section, items=items, sections=tuple(map(tagged, section.sections)))

    return dataclasses.replace(issue, sections=tuple(map(tagged, issue.sections)))


# MJML to HTML.

_ENTITY = re.compile(r"&[A-Za-z][A-Za-z0-9]*;")


def mjml_error_line(mjml_src: str, filename: str | None) -> tuple[int, str]:
    """The template line most likely at fault when MJML refuses what it produced, and what
    is wrong there (MRML's own errors carry no position).  The produced markup is checked
    as XML (which MJML is, but for HTML's named entities); the first line lxml stumbles on
    is looked up in the template's source, where most of an MJML template's lines stand as
    they are written.  Line 1 when nothing better is known."""
    from lxml import etree  # type: ignore[import-untyped]

    try:
        etree.fromstring(
            _ENTITY.sub("&amp;", mjml_src).encode(), etree.XMLParser(resolve_entities=False, no_network=True)
        )
        return 1, ""
    except etree.XMLSyntaxError as e:
        produced_line, message = e.lineno or 1, str(e.msg or "").split(", line ")[0]
        if m := re.match(r"Opening and ending tag mismatch: (\S+) line (\d+) and", message):
            produced_line, message = int(m.group(2)), f"<{m.group(1)}> is never closed"
    detail = f" ({message})" if message else ""
    return source_line(mjml_src, produced_line, filename), detail


def source_line(mjml_src: str, produced_line: int, filename: str | None) -> int:
    """The line of the template at ``filename`` that most likely wrote line ``produced_line``
    of ``mjml_src``: the same text, else one containing it, else the same number."""
    produced = mjml_src.splitlines()
    wanted = produced[produced_line - 1].strip() if 0 < produced_line <= len(produced) else ""
    try:
        source = Path(filename).read_text(encoding="utf-8-sig").splitlines() if filename else []
    except (OSError, UnicodeDecodeError):
        source = []
    if wanted:
        for number, text in enumerate(source, 1):
            if text.strip() == wanted:
                return number
        for number, text in enumerate(source, 1):
            if wanted in text or (text.strip() and text.strip() in wanted and len(text.strip()) > 8):
                return number
    return min(produced_line, max(1, len(source)))


# MRML parses and renders recursively: 5,000 nested <mj-wrapper> (or about 12,000 nested
# <div>) overflow its thread's stack and the process dies with SIGSEGV, no message.  A real
# email nests about 30 deep (markdown-it stops at 20 levels), so the MJML a template produces
# is refused past MAX_DEPTH, far from the crash even on a thread with a 1 MiB stack.
MAX_DEPTH = 200
_TAG = re.compile(r"<!--.*?-->|<(/?)([A-Za-z][\w:.-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>", re.DOTALL)
_VOID = frozenset("area base br col embed hr img input link meta param source track wbr".split())


def too_deep(mjml_src: str) -> tuple[int, str] | None:
    """(line of ``mjml_src``, tag) where elements first nest deeper than MAX_DEPTH, or None.
    Counted as an HTML parser would: void and self-closed elements do not nest, and an end
    tag closes what is open down to its element (an unclosed <p> does not count for ever)."""
    stack: list[str] = []
    for m in _TAG.finditer(mjml_src):
        name = m.group(2)
        if name is None:  # a comment
            continue
        name = name.lower()
        if m.group(1):
            if name in stack:
                del stack[len(stack) - 1 - stack[::-1].index(name) :]
        elif not m.group(3).rstrip().endswith("/") and name not in _VOID:
            stack.append(name)
            if len(stack) > MAX_DEPTH:
                return mjml_src.count("\n", 0, m.start()) + 1, name
    return None


# MRML (the Rust MJML inside mjml-python 1.4) writes some characters of attribute values
# as Rust escapes: the alt text "ومارّة" comes out as "ومار\u{651}ة", a Persian
# zero-width non-joiner as "\u{200c}" (also in the aria-label MJML makes from the
# title).  Affected: combining marks, format characters (ZWNJ, ZWJ in emoji, bidi
# controls, DEL), non-ASCII spaces (NBSP, U+202F) and a few fillers.  Written as numeric
# character references they pass through MRML untouched, and lxml (inline_css) turns
# them back into the characters.  Except C1 controls (U+0080-U+009F): an HTML parser,
# lxml's included, reads &#x80;-&#x9f; as the Windows-1252 characters (&#x86; is "†",
# &#x93; is "“"), so the email would show a character that the web page and the feeds
# do not have.  Once MRML is done they go back in as the characters themselves.
# MRML also doubles a backslash in an attribute value (alt="a\\b" for a\b, and in the
# aria-label it copies from <mj-title>), so a backslash is written as a reference too,
# except in <mj-style>, whose CSS would not read a reference (and keeps its own escapes).
_MRML_FILLERS = "\u115f\u1160\u3164\uffa0\uff9e\uff9f"
_MRML_CANDIDATE = re.compile(f"[^\\x00-\\x7e\\w]|[{_MRML_FILLERS}]")  # letters and digits are safe; DEL is not
_MJ_STYLE = re.compile(r"(<mj-style\b.*?</mj-style>)", re.DOTALL)


def _mrml_safe(mjml_src: str) -> str:
    def encode(match: re.Match[str]) -> str:
        ch = match.group()
        if unicodedata.category(ch)[0] in "MCZ" or ch in _MRML_FILLERS:
            return f"&#x{ord(ch):x};"
        return ch

    parts = _MJ_STYLE.split(_MRML_CANDIDATE.sub(encode, mjml_src))  # odd parts are <mj-style> blocks
    return "".join(part if i % 2 else part.replace("\\", "&#x5c;") for i, part in enumerate(parts))


_C1_REFERENCE = re.compile("&#x([89][0-9a-f]);")  # as _mrml_safe writes them: user text's own "&" is "&amp;"


def _c1_raw(html: str) -> str:
    return _C1_REFERENCE.sub(lambda m: chr(int(m.group(1), 16)), html)


def mjml_to_html(mjml_src: str) -> str:
    import mjml

    # fonts={} stops MJML from linking Google Fonts; comments stay because Outlook's
    # layout lives in <!--[if mso]> conditional comments.
    try:
        html: str = mjml.mjml2html(_mrml_safe(mjml_src), disable_comments=False, fonts={})
    except Exception as e:  # mjml-python raises bare ValueErrors from the Rust parser
        raise MjmlError(str(e)) from e
    return quiet_preview(_c1_raw(html))


# MJML's mj-preview hides the inbox preview text as white 1 px text (color:#ffffff;
# font-size:1px), which spam filters score as hidden text: SpamAssassin's
# HTML_FONT_LOW_CONTRAST (0.7 on every message), and FONT_INVIS_MSGID for the 1 px size
# alone.  The same text hidden by display, height and overflow (mso-hide for Outlook)
# scores nothing.  MJML has no option for it, so its style is replaced here; it stays the
# body's first child, where inboxes look for it.
_MJ_PREVIEW = re.compile(r'(<body\b[^>]*>\s*<div style=")display:none;font-size:1px;color:#ffffff;[^"]*(")')
PREVIEW_STYLE = "display:none;max-height:0;overflow:hidden;mso-hide:all"


def quiet_preview(html: str) -> str:
    """MJML's hidden preview text, hidden the way spam filters accept (see above)."""
    return _MJ_PREVIEW.sub(lambda m: m.group(1) + PREVIEW_STYLE + m.group(2), html, count=1)


def linked_anchors(issue: Issue) -> frozenset[str]:
    """The anchors the issue's own markdown links to (``[events](#events)``): the email gives ids only to
    those items (an id on every item costs a long issue kilobytes against Gmail's clip)."""
    texts = [issue.intro, issue.outro]
    for top in issue.sections:
        for section in (top, *top.sections):
            texts += [section.title, section.intro]
            texts += [text for item in section.items for text in (item.title, item.summary)]
    found: set[str] = set()
    for text in texts:
        if text and "#" in text:
            found.update(name for link in markdown.links(text) if (name := markdown.fragment(link.target)) is not None)
    return frozenset(found)
