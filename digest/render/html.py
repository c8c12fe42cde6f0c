"""Render an issue to HTML: the inlined email, the web page and the bare content fragment.

Rules:
- Templates come from the newsletter's own ``templates/`` folder first, then from the
  built-in ``digest/render/templates/``: a file of the same name overrides the built-in one.
- Autoescape is on for every template except ``.txt`` ones.  User text therefore always
  lands as text; markdown fields become HTML only through the ``markdown`` filters,
  which return safe :class:`~markupsafe.Markup`.
- Output is deterministic: rendering the same issue twice, in any process, gives the
  same bytes (no timestamps, no random ids, no hash-ordered iteration).
- Heavy libraries (mjml, premailer, lxml, babel) are imported inside the functions
  that use them, so that importing this module (and ``digest --help``) stays fast.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from digest.core import paths
from digest.core.errors import DigestError, Problem
from digest.core.i18n import localize_digits, strings_for
from digest.core.loading import NOT_XML
from digest.core.markdown import title_html, title_text, to_html, to_inline_html, to_text
from digest.core.models import Config, Issue
from digest.core.wrap import text_width, wrap
from digest.render import utm
from digest.render import archive
from digest.render.archive import Neighbours

if TYPE_CHECKING:
    import logging

    import jinja2
    import premailer

BUILTIN_TEMPLATES = Path(__file__).resolve().parent / "templates"
TEXT_WIDTH = 78  # columns of the plain-text email: RFC 5322's recommended line length

# The email template links "unsubscribe" to this token; render_email swaps it for the
# configured URL only in the final HTML string.  The real value may be a mailing
# service's merge tag (*|UNSUB|*, {{ UnsubscribeURL }}, {{ unsubscribe_url }}) that
# Jinja would evaluate and lxml would percent-encode, so it must never pass through them.
UNSUBSCRIBE_PLACEHOLDER = "https://unsubscribe.digest.invalid/"

# Feed file names, relative to config.url (feeds.py writes them, pages link to them).
FEED_FILES = {"rss": "feed.xml", "atom": "atom.xml", "json": "feed.json"}

# Validation refuses the characters XML forbids; templates may still bring them in
# (a stray vertical tab in a newsletter's own template), and MJML and lxml would refuse
# the whole issue, so every {{ expression }} is cleaned as a last line of defence.


def xml_safe(text: str) -> str:
    """``text`` without the characters XML forbids (keeps Markup as Markup)."""
    if not NOT_XML.search(text):
        return text
    cleaned = NOT_XML.sub("", text)
    return Markup(cleaned) if isinstance(text, Markup) else cleaned


def _finalize(value: object) -> object:
    # Runs on every {{ expression }} before autoescaping.
    return xml_safe(value) if isinstance(value, str) else value


def text_direction(texts: str | Iterable[str | None] | None, default: str = "ltr") -> str:
    """The direction dir="auto" gives the first of ``texts`` (a string or a list of
    strings, None skipped) that has a strong character: "rtl" or "ltr", else ``default``.

    Templates use it where a line mixes isolated parts (each ``dir="auto"``), which a
    browser's own dir="auto" would skip: an item's meta line runs like its title.
    """
    for text in [texts] if isinstance(texts, str) else texts or ():
        for ch in text or "":
            kind = unicodedata.bidirectional(ch)
            if kind == "L":
                return "ltr"
            if kind in ("R", "AL"):
                return "rtl"
    return default


# Characters that can make dir="auto" choose right-to-left: the Hebrew, Arabic, Syriac,
# Thaana, NKo, Samaritan and Mandaic blocks and their presentation forms, the historic
# right-to-left scripts of the SMP, and the right-to-left mark and embeddings.
_MAY_RUN_RTL = re.compile("[\u0590-\u08ff\u200f\u202b\u202e\u2067\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]")
_DIR_AUTO = Markup(' dir="auto"')


def dir_auto(text: str | None, direction: str) -> Markup:
    """' dir="auto"' for a block of user text that could run against the edition's
    ``direction``, else nothing: the attribute would give what the block inherits.

    In a left-to-right edition dir="auto" can only differ for a text with a
    right-to-left character in it.  In a right-to-left one it differs unless the text's
    first strong character is right-to-left, and then only a text with no left-to-right
    letter at all is left without it (the check stays simple and errs on keeping it).
    """
    if not text:
        return Markup("")
    if direction == "ltr":
        return _DIR_AUTO if _MAY_RUN_RTL.search(text) else Markup("")
    kinds = {unicodedata.bidirectional(ch) for ch in text}
    return Markup("") if "L" not in kinds and kinds & {"R", "AL"} else _DIR_AUTO


_FIRST_TAG = re.compile(r'<([a-z][a-z0-9]*)(?: class="([^"]*)")?(?=[\s>])')


def first_class(html: str, name: str) -> Markup:
    """``html`` (safe markup) with class ``name`` on its first element: the email gives a
    blurb's first block its item gap that way, without a wrapping <div>."""
    def add(m: re.Match[str]) -> str:
        return f'<{m.group(1)} class="{(m.group(2) + " " if m.group(2) else "") + name}"'

    return Markup(_FIRST_TAG.sub(add, str(html), count=1))


def make_env(config: Config) -> jinja2.Environment:
    """The Jinja2 environment for one newsletter (its templates first, then built-ins)."""
    import jinja2
    from babel import Locale, UnknownLocaleError
    from babel.dates import format_date as babel_format_date

    loaders: list[jinja2.BaseLoader] = []
    if (user_templates := _user_templates(config.root)) is not None:
        loaders.append(_OverrideLoader(user_templates, config.root.resolve()))
    loaders.append(jinja2.PackageLoader("digest.render", "templates"))

    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        # Everything but plain text is markup; unknown extensions (e.g. the _style.css
        # partial) are escaped too, so user values cannot close a <style> element.
        autoescape=jinja2.select_autoescape(
            enabled_extensions=("html", "mjml", "xml"),
            disabled_extensions=("txt",),
            default_for_string=True,
            default=True,
        ),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        finalize=_finalize,
    )

    try:
        locale = Locale.parse(config.language, sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        locale = Locale.parse("en")

    def format_date(value: dt.date) -> str:
        return localize_digits(babel_format_date(value, format="long", locale=locale), config.numbering)

    def underline(text: str, char: str = "=") -> str:
        return char * max(3, *(text_width(line) for line in text.split("\n")))  # a wrapped heading: its longest line

    # Markdown fields are optional: None renders as nothing rather than "None".  The email's
    # renders put their link hook (UTM tagging) in the context as link_tag; pages have none.
    schemes = config.link_schemes

    @jinja2.pass_context
    def markdown(ctx: jinja2.runtime.Context, src: str | None, top: int = 1) -> Markup:
        return to_html(src, top, schemes, link=ctx.get("link_tag")) if src else Markup("")

    @jinja2.pass_context
    def markdown_inline(ctx: jinja2.runtime.Context, src: str | None) -> Markup:
        return to_inline_html(src, schemes, link=ctx.get("link_tag")) if src else Markup("")

    @jinja2.pass_context
    def markdown_text(ctx: jinja2.runtime.Context, src: str | None, width: int = TEXT_WIDTH) -> str:
        return to_text(src, width, schemes, link=ctx.get("link_tag")) if src else ""

    env.filters["markdown"] = markdown
    env.filters["markdown_inline"] = markdown_inline
    env.filters["markdown_text"] = markdown_text
    env.filters["wrap"] = lambda text, width=TEXT_WIDTH: "\n".join(wrap(text, width)) if text else ""
    # Titles are inline markdown: markup in the email and the page, plain in text.
    env.filters["title"] = lambda src, linked=False: title_html(src, schemes, linked) if src else Markup("")
    env.filters["title_text"] = lambda src, urls=False: title_text(src, urls, schemes) if src else ""
    env.filters["dir_auto"] = lambda text: dir_auto(text, config.direction)
    env.filters["first_class"] = first_class
    env.filters["format_date"] = format_date
    env.filters["digits"] = lambda value: localize_digits(str(value), config.numbering)
    env.filters["underline"] = underline
    env.filters["direction"] = text_direction

    rtl = config.direction == "rtl"
    words = strings_for(config.language, config.words)
    env.globals.update(
        config=config,
        t=words,
        edition_links=lambda number=None: archive.edition_links(config, number),
        alternates=lambda number=None: archive.alternates(config, number),
        share_links=lambda issue: archive.share_links(issue, words["share_email"]),
        # Physical sides for MJML attributes and email CSS, which have no logical ones.
        start="right" if rtl else "left",
        end="left" if rtl else "right",
        feed_urls={kind: config.url + name for kind, name in FEED_FILES.items()},
    )
    return env


def _user_templates(root: Path) -> Path | None:
    """The newsletter's templates/ folder, or None when it has none.  An unreadable one is an
    error: falling back to the built-in templates would quietly build the wrong emails."""
    folder, problems = paths.templates_folder(root)
    if problems:
        raise DigestError(problems)
    return folder


@lru_cache(maxsize=1)
def _override_loader_class() -> type[jinja2.FileSystemLoader]:
    import jinja2

    class OverrideLoader(jinja2.FileSystemLoader):
        """templates/ as Jinja's loader, refusing what the built-in fallback would hide:
        a file that cannot be read, is not UTF-8, or is a symlink out of the newsletter.
        A byte order mark at the start is dropped (Windows editors write one)."""

        def __init__(self, folder: Path, root: Path) -> None:
            super().__init__(folder)
            self.folder, self.root = folder, root

        def get_source(self, environment: jinja2.Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
            path = self.folder.joinpath(*jinja2.loaders.split_template_path(template))  # refuses ".."
            rel = f"templates/{template}"
            try:
                st = paths.input_stat(path, self.root)
            except paths.Refused as e:
                if e.missing:
                    raise jinja2.TemplateNotFound(template) from None
                raise DigestError([Problem(rel, None, str(e))]) from None
            if not stat.S_ISREG(st.st_mode):
                raise jinja2.TemplateNotFound(template)
            try:
                data = path.read_bytes()
            except OSError as e:
                raise DigestError([Problem(rel, None, f"cannot be read: {paths.reason(e)}")]) from None
            try:
                source = data.decode("utf-8")
            except UnicodeDecodeError as e:
                line = data[: e.start].count(b"\n") + 1
                raise DigestError([Problem(rel, line, f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded); save the file as UTF-8")]) from None
            mtime = st.st_mtime_ns
            return source.removeprefix("\ufeff"), str(path), lambda: _mtime(path) == mtime

    return OverrideLoader


def _mtime(path: Path) -> int | None:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return None


def _OverrideLoader(folder: Path, root: Path) -> jinja2.BaseLoader:  # noqa: N802 - a class made lazily (jinja2 is a heavy import)
    cls: Any = _override_loader_class()
    loader: jinja2.BaseLoader = cls(folder, root)
    return loader


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
    try:
        html = mjml_to_html(mjml_src)
    except MjmlError as e:
        template = env.get_template("email.mjml")
        where = template_path(template.filename)
        if where.startswith("templates/"):  # the newsletter's own template: its markup is the cause
            line, detail = _mjml_error_line(mjml_src, template.filename)
            raise DigestError([Problem(where, line, f"MJML cannot convert what this template produces: {e}{detail}")]) from e
        raise DigestError([Problem(where, None, f"MJML cannot convert the email of {issue.source}: {e}")]) from e
    html, urls = _protect_urls(_reset_rules_in_head(html))
    html = _restore_urls(lean_email(inline_css(html)), urls)
    return finish_email(html, config)


_ENTITY = re.compile(r"&[A-Za-z][A-Za-z0-9]*;")


def _mjml_error_line(mjml_src: str, filename: str | None) -> tuple[int, str]:
    """The template line most likely at fault when MJML refuses what it produced, and what
    is wrong there (MRML's own errors carry no position).  The produced markup is checked
    as XML (which MJML is, but for HTML's named entities); the first line lxml stumbles on
    is looked up in the template's source, where most of an MJML template's lines stand as
    they are written.  Line 1 when nothing better is known."""
    from lxml import etree  # type: ignore[import-untyped]

    try:
        etree.fromstring(_ENTITY.sub("&amp;", mjml_src).encode(), etree.XMLParser(resolve_entities=False, no_network=True))
        return 1, ""
    except etree.XMLSyntaxError as e:
        produced_line, message = e.lineno or 1, str(e.msg or "").split(", line ")[0]
        if m := re.match(r"Opening and ending tag mismatch: (\S+) line (\d+) and", message):
            produced_line, message = int(m.group(2)), f"<{m.group(1)}> is never closed"
    detail = f" ({message})" if message else ""
    produced = mjml_src.splitlines()
    wanted = produced[produced_line - 1].strip() if 0 < produced_line <= len(produced) else ""
    try:
        source = Path(filename).read_text(encoding="utf-8-sig").splitlines() if filename else []
    except (OSError, UnicodeDecodeError):
        source = []
    if wanted:
        for number, text in enumerate(source, 1):
            if text.strip() == wanted:
                return number, detail
        for number, text in enumerate(source, 1):
            if wanted in text or (text.strip() and text.strip() in wanted and len(text.strip()) > 8):
                return number, detail
    return min(produced_line, max(1, len(source))), detail


# The three stages of render_email, public so that tests and timing can reach each.


def email_mjml(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    placeholder = UNSUBSCRIBE_PLACEHOLDER if config.email.unsubscribe_url else None
    tag = utm.tagger(config, issue)
    return env.get_template("email.mjml").render(issue=utm.tag_items(issue, tag), unsubscribe_url=placeholder, link_tag=tag)


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
    return _c1_raw(html)


# lxml's HTML serializer (which premailer uses) percent-encodes href and src values:
# non-ASCII characters and spaces, and older libxml2 versions more.  So a link to
# https://éxample.com/ünï would reach the reader as https://%C3%A9xample.com/%C3%BCn%C3%AF
# (a host that is no longer the editor's), and a merge tag in a URL could be mangled.
# Links and images must reach the reader exactly as MJML wrote them, like in the web
# page and the feeds: every href/src value crosses premailer as an ASCII token and is
# put back afterwards.  MJML always writes these attributes double-quoted.
_URL_ATTR = re.compile(r'(\s(?:href|src)=")([^"]*)(")')
_URL_TOKEN = re.compile(r'(\s(?:href|src)=")https://url-(\d+)\.digest\.invalid/(")')


def _protect_urls(html: str) -> tuple[str, list[str]]:
    urls: list[str] = []

    def token(match: re.Match[str]) -> str:
        urls.append(match.group(2))
        return f"{match.group(1)}https://url-{len(urls) - 1}.digest.invalid/{match.group(3)}"

    return _URL_ATTR.sub(token, html), urls


def _restore_urls(html: str, urls: list[str]) -> str:
    return _URL_TOKEN.sub(lambda m: m.group(1) + urls[int(m.group(2))] + m.group(3), html)


def inline_css(html: str) -> str:
    """Move <style> rules into style="" attributes; media queries stay in <style>."""
    import logging


    doctype = "<!doctype html>"
    # premailer keeps a doctype only if it matches lxml's spelling case-sensitively;
    # take MJML's off and put it back verbatim.
    body = html.lstrip()
    if body[: len(doctype)].lower() == doctype:
        body = body[len(doctype) :]
    inliner = _inliner_class()(
        body,
        allow_network=False,
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,  # inlinable rules move out; @media rules are left over
        strip_important=False,  # left-over @media rules need !important to beat inline
        remove_classes=False,  # the @media rules still select by class
        # MJML sets width/height attributes for Outlook (e.g. <img width="552">);
        # premailer would overwrite them from CSS ("100%"), breaking Outlook's sizes.
        disable_basic_attributes=["width", "height"],
        disable_validation=True,  # mso-* properties are not CSS 2.1, but needed
        cssutils_logging_level=logging.CRITICAL,
        cssutils_logging_handler=_null_handler(),
    )
    # pretty_print would add whitespace between MJML's inline-block columns.
    inlined: str = inliner.transform(pretty_print=False)
    return doctype + inlined


@lru_cache(maxsize=1)
def _inliner_class() -> type[premailer.Premailer]:
    """premailer, keeping what it makes of each stylesheet for the life of the process.

    premailer turns every <style> block back and forth through cssutils on every call
    (a third of a build's time).  An email's stylesheets are the same text for every
    issue of a newsletter, and what premailer makes of a text depends only on the
    text, its position and the options, which are fixed here; so each is made once.
    transform() only reads the parsed rules; the leftover @media rules it turns into
    text once more, which is kept too.
    """
    import premailer

    Rules = tuple[list[tuple[tuple[int, ...], str, str]], list[Any]]
    parsed: dict[tuple[str, int], Rules] = {}
    leftover_text: dict[int, tuple[list[Any], str]] = {}

    class Inliner(premailer.Premailer):
        def _style_to_basic_html_attributes(self, element: Any, style_content: str, force: bool = False) -> None:
            # premailer copies background-color into bgcolor on every element; HTML allows
            # it (and old clients read it) only on these.  A bgcolor MJML wrote stays.
            had = "bgcolor" in element.attrib
            super()._style_to_basic_html_attributes(element, style_content, force)
            if not had and element.tag not in BGCOLOR_ELEMENTS:
                element.attrib.pop("bgcolor", None)

        def _parse_style_rules(self, css_body: str, ruleset_index: int) -> Rules:
            key = (css_body or "", ruleset_index)
            if key not in parsed:
                if len(parsed) >= 64:  # a template that varies its CSS per issue
                    parsed.clear()
                    leftover_text.clear()
                parsed[key] = super()._parse_style_rules(css_body, ruleset_index)
            return parsed[key]

        def _css_rules_to_string(self, rules: list[Any]) -> str:
            known = leftover_text.get(id(rules))
            if known is not None and known[0] is rules:
                return known[1]
            text: str = super()._css_rules_to_string(rules)
            if any(rules is leftover for _, leftover in parsed.values()):
                leftover_text[id(rules)] = (rules, text)
            return text

    return Inliner


@lru_cache(maxsize=1)
def _null_handler() -> logging.Handler:
    """One shared handler: premailer adds it to cssutils' logger on every Premailer(),
    and logging skips a handler that is already attached, so they never pile up."""
    import logging

    return logging.NullHandler()


BGCOLOR_ELEMENTS = frozenset({"table", "td", "body"})
# MJML writes height="auto" on every <img>, which is not a valid height (a number of pixels);
# the inline style's height:auto does the work, and Outlook sizes an image by its width.
_IMG_HEIGHT_AUTO = re.compile(r'(<img\b(?:\s+[\w:-]+(?:="[^"]*")?)*?)\s+height="auto"')  # values are double-quoted


def finish_email(html: str, config: Config) -> str:
    html = _IMG_HEIGHT_AUTO.sub(r"\1", html)
    url = config.email.unsubscribe_url
    if url:
        # Escape only (& → &amp;, " → &#34;): the merge tag must reach the mailing
        # service character for character.
        html = html.replace(UNSUBSCRIBE_PLACEHOLDER, str(escape(url)))
    return html


# Template mistakes as user errors (build.py wraps rendering in template_errors()).


class MjmlError(Exception):
    """MJML rejected the markup the email template produced."""


def template_path(filename: str | None) -> str:
    """How a problem names a template: templates/NAME, or the built-in file."""
    if not filename:
        return "templates"
    path = Path(filename).resolve()
    if path.is_relative_to(BUILTIN_TEMPLATES):
        return f"digest/render/templates/{path.name} (built-in)"
    return f"templates/{path.name}"


@contextmanager
def template_errors() -> Iterator[None]:
    """Turn a template mistake (syntax, unknown variable, missing include) into a
    DigestError naming the template file and line, like any other user error."""
    import jinja2

    try:
        yield
    except DigestError:
        raise
    except jinja2.TemplateSyntaxError as e:
        raise DigestError([Problem(template_path(e.filename), e.lineno, f"template error: {e.message}")]) from e
    except jinja2.TemplateError as e:
        # Jinja rewrites tracebacks so that frames inside a template carry its file
        # name and line: the innermost such frame is where the mistake is.
        filename, line = _innermost_template_frame(e.__traceback__)
        message = f"template {e.name!r} not found" if isinstance(e, jinja2.TemplateNotFound) else str(e.message or e)
        raise DigestError([Problem(template_path(filename), line, f"template error: {message}")]) from e
    except Exception as e:  # noqa: BLE001 - sorted below: the user's template, or a bug in digest
        # A newsletter's own template can fail as it runs ({{ 1/0 }}, a bad strftime format,
        # an include of itself, a string of ten gigabytes): that is the user's error, at the
        # template's line.  The same in a built-in template is a bug in digest.
        filename, line = _innermost_template_frame(e.__traceback__)
        where = template_path(filename) if filename else ""
        if not where.startswith("templates/"):
            raise
        e.__traceback__ = None  # let a huge allocation's frames go before reporting
        raise DigestError([Problem(where, line, f"template error: {_runtime_message(e)}")]) from None


def _runtime_message(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "the template includes or calls itself without end"
    if isinstance(e, MemoryError):
        return "the template needs more memory than there is (a repetition or a loop without bound?)"
    text = str(e) or type(e).__name__
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{text} ({type(e).__name__})"


def _innermost_template_frame(tb: TracebackType | None) -> tuple[str | None, int | None]:
    found: tuple[str | None, int | None] = (None, None)
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename.endswith((".html", ".mjml", ".txt", ".css", ".xml")) or f"{os.sep}templates{os.sep}" in filename:
            found = (filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


# --- a lean email -------------------------------------------------------------------
# Gmail clips a message over 102 KB.  The bytes MJML and premailer add beyond the design
# are taken out here, without changing what any client shows:
# - MJML's reset rules for tables, cells and paragraphs (border-collapse, mso-table-*
#   spacing, p's display:block) stay in <head> instead of being inlined on every cell:
#   the layout tables carry cellspacing/cellpadding/border attributes anyway, the mso-*
#   properties are read only by Outlook, which reads <head> styles, and every <p> has
#   its margin inline from the email's own stylesheet.
# - style="" attributes lose the spaces premailer writes between declarations.
# - class="" names that no remaining <style> rule selects are dropped (premailer keeps
#   them all because the @media rules still select by class).
# - Adjacent Outlook conditional comments with the same condition are merged.
# - Whitespace between block tags goes (never inside <pre>).
_MJML_RESET = re.compile(r'<style type="text/css">\s*(#outlook a \{.*?)</style>', re.DOTALL)
_HEAD_ONLY_RULES = ("#outlook a", "table, td", "p ")


def _reset_rules_in_head(html: str) -> str:
    m = _MJML_RESET.search(html)
    if not m:
        return html
    rules = [" ".join(rule.split()) + "}" for rule in m.group(1).split("}") if rule.strip()]
    head = "".join(r for r in rules if r.startswith(_HEAD_ONLY_RULES))
    inline = "".join(r for r in rules if not r.startswith(_HEAD_ONLY_RULES))
    blocks = f'<style type="text/css" data-premailer="ignore">{head}</style><style type="text/css">{inline}</style>'
    return html[: m.start()] + blocks + html[m.end() :]


_STYLE_ATTR = re.compile(r'(\sstyle=")([^"]*)(")')
_CLASS_ATTR = re.compile(r'\sclass="([^"]*)"')
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.DOTALL)
_CSS_CLASS = re.compile(r"\.(-?[A-Za-z_][\w-]*)")
_CONDITIONAL = re.compile(r"<!--\[if ([^\]]+)\]>(?!<!-->)(.*?)<!\[endif\]-->", re.DOTALL)
_BLOCK = "p|div|ul|ol|li|table|thead|tbody|tr|th|td|h[1-6]|blockquote|hr|pre"
_BLOCK_GAP = re.compile(rf"(<(?:/?(?:{_BLOCK})|hr|br)\b[^>]*>)\s+(?=<)|\s+(?=</?(?:{_BLOCK})\b)")
_PRE = re.compile(r"(<pre\b.*?</pre>)", re.DOTALL)


_SIDES = ("top", "right", "bottom", "left")
_LENGTH = re.compile(r"-?\d+(?:\.\d+)?(?:px|em|%)?|auto")


def _fold_sides(declarations: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``margin:0 0 12px;margin-top:20px`` as ``margin:20px 0 12px`` (the same box; padding too)."""
    for prop in ("margin", "padding"):
        at = [i for i, (p, _) in enumerate(declarations) if p == prop]
        if len(at) != 1:
            continue
        values = declarations[at[0]][1].split()
        if not 1 <= len(values) <= 4 or not all(_LENGTH.fullmatch(v) for v in values):
            continue
        box = dict(zip(_SIDES, (values * 4)[:4] if len(values) == 1 else [values[0], values[1], values[2 % len(values)], values[-1] if len(values) == 4 else values[1]], strict=True))
        later = [(i, p.removeprefix(prop + "-")) for i, (p, v) in enumerate(declarations) if i > at[0] and p.startswith(prop + "-")]
        if not later or any(side not in _SIDES or not _LENGTH.fullmatch(declarations[i][1]) for i, side in later):
            continue
        for i, side in later:
            box[side] = declarations[i][1]
        top, right, bottom, left = (box[s] for s in _SIDES)
        short = [top, right, bottom, left] if left != right else [top, right, bottom] if top != bottom else [top, right] if top != right else [top]
        folded = {i for i, _ in later}
        declarations = [(p, " ".join(short) if i == at[0] else v) for i, (p, v) in enumerate(declarations) if i not in folded]
    return declarations


def _compact_style(match: re.Match[str]) -> str:
    css = match.group(2)
    if re.search(r"""['"(][^'")]*;""", css) or "!important" in css:  # leave anything unusual as written
        return match.group(0)
    declarations = [(p.strip(), v.strip()) for p, _, v in (d.partition(":") for d in css.split(";") if d.strip())]
    return match.group(1) + ";".join(f"{p}:{v}" for p, v in _fold_sides(declarations)) + match.group(3)


def _merge_conditionals(html: str) -> str:
    out: list[str] = []
    pos, last_end, last_condition = 0, -1, ""
    for m in _CONDITIONAL.finditer(html):
        if m.start() == last_end and m.group(1) == last_condition:
            out[-1] = out[-1][: -len("<![endif]-->")] + m.group(2) + "<![endif]-->"
        else:
            out += [html[pos : m.start()], m.group(0)]
        pos = last_end = m.end()
        last_condition = m.group(1)
    return "".join(out) + html[pos:]


def lean_email(html: str) -> str:
    """The inlined email with the bytes taken out that change nothing a client shows (see above)."""
    used = {name for css in _STYLE_BLOCK.findall(html) for name in _CSS_CLASS.findall(css)}

    def classes(m: re.Match[str]) -> str:
        kept = [name for name in m.group(1).split() if name in used]
        return f' class="{" ".join(kept)}"' if kept else ""

    html = _CLASS_ATTR.sub(classes, _STYLE_ATTR.sub(_compact_style, html))
    html = _merge_conditionals(html)
    parts = _PRE.split(html)  # odd parts are <pre> elements: their whitespace is content
    return "".join(part if i % 2 else _BLOCK_GAP.sub(r"\1", part) for i, part in enumerate(parts))
