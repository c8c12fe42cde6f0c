"""The Jinja2 environment every output is rendered in, and the filters templates use.

Rules:
- Templates come from the newsletter's own ``templates/`` folder first, then from the
  built-in ``digest/render/templates/``: a file of the same name overrides the built-in one.
- Autoescape is on for every template except ``.txt`` ones.  User text therefore always
  lands as text; markdown fields become HTML only through the ``markdown`` filters,
  which return safe :class:`~markupsafe.Markup`.
- Output is deterministic: rendering the same issue twice, in any process, gives the
  same bytes (no timestamps, no random ids, no hash-ordered iteration).
- jinja2 and babel are imported inside the functions that use them (``digest --help``
  stays fast).
"""

from __future__ import annotations

import datetime as dt
import os
import re
import unicodedata
from collections.abc import Generator, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from markupsafe import Markup

from digest.core.errors import DigestError, Problem
from digest.core.i18n import localize_digits, strings_for
from digest.core.loading import NOT_XML
from digest.core.markdown import title_html, to_html, to_inline_html
from digest.core.models import Config
from digest.core.plaintext import title_text, to_text
from digest.core.wrap import text_width, wrap
from digest.render import archive
from digest.render.bounds import TemplateLimit, check_weight, render_seconds
from digest.render.sandbox import override_loader, sandbox_class, user_templates

if TYPE_CHECKING:
    import jinja2


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


def _xml_safe_value(value: object) -> object:
    return xml_safe(value) if isinstance(value, str) else value


def _finalize(value: object) -> object:
    # Runs on every {{ expression }} before autoescaping, which prints a list whole: one
    # holding a long text many times is refused before it is printed (bounds.py).
    if isinstance(value, str):
        return xml_safe(value)
    check_weight(value, "the printed value")
    return value


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
_MAY_RUN_RTL = re.compile(
    "[\u0590-\u08ff\u200f\u202b\u202e\u2067\ufb1d-\ufdff\ufe70-\ufeff\U00010800-\U00010fff\U0001e800-\U0001efff]"
)
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


# What one template may produce, in characters.  A template without bound (a repetition, a
# loop) otherwise exhausts memory after it has run, in MJML, CSS inlining or wrapping, where
# no template line is known; this much of an email, page or text is already absurd (Gmail
# clips at 102 KB) and is still converted within a gigabyte.
MAX_OUTPUT = 16 * 1024 * 1024


class TemplateOutputTooLarge(TemplateLimit):
    """A template produced more than MAX_OUTPUT characters."""


def bounded_concat(parts: Iterable[str]) -> str:
    """Jinja's concat (it joins a template's output) with the MAX_OUTPUT bound.

    Over the bound, the error is raised inside the template, at the output that went past
    it, so that it is reported at the template's line like any other template error."""
    out: list[str] = []
    size = 0
    # Chunk by chunk: the template's generator must still be paused at the chunk that went past.
    for chunk in parts:
        size += len(chunk)
        if size > MAX_OUTPUT and isinstance(parts, Generator):
            parts.throw(
                TemplateOutputTooLarge(
                    f"the template produces more than {MAX_OUTPUT // 1024 // 1024} MiB of text (a repetition or a loop"
                    " without bound?)"
                )
            )
        out.append(chunk)
    return "".join(out)


def make_env(config: Config) -> jinja2.Environment:
    """The Jinja2 environment for one newsletter (its templates first, then built-ins).
    Compiled templates are never kept between processes: they are code, and the cache holds data only."""
    import jinja2
    from babel import Locale, UnknownLocaleError
    from babel.dates import format_date as babel_format_date

    loaders: list[jinja2.BaseLoader] = []
    overrides = user_templates(config.root)
    if overrides is not None:
        loaders.append(override_loader(overrides, config.root.resolve()))
    loaders.append(jinja2.PackageLoader("digest.render", "templates"))

    # A newsletter's own templates are code from whoever can commit to it: with any override,
    # every template runs in the sandbox and within the bounds (an override can extend or
    # include the built-in ones, so one rule covers them all).  Without templates/, only
    # digest's own templates run, in a plain environment with the same loader, escaping and filters.
    env = (sandbox_class() if overrides is not None else jinja2.Environment)(
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
        finalize=_finalize if overrides is not None else _xml_safe_value,
        # An environment serves one state of the templates (a change makes a new one: the
        # build's context, the preview's reload), so no template file is looked at again
        # on each use (the archive's pages would stat _base.html a hundred times).
        auto_reload=False,
    )
    if overrides is not None:
        env.concat = bounded_concat  # type: ignore[method-assign]
        env.render_seconds = render_seconds()  # type: ignore[attr-defined]
    env.overridden = overrides is not None  # type: ignore[attr-defined]  # html.render_email's depth check

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
    def markdown(ctx: jinja2.runtime.Context, src: str | None, top: int = 1, rel: str | None = None) -> Markup:
        return to_html(src, top, schemes, link=ctx.get("link_tag"), rel=rel) if src else Markup("")

    @jinja2.pass_context
    def markdown_inline(ctx: jinja2.runtime.Context, src: str | None, rel: str | None = None) -> Markup:
        return to_inline_html(src, schemes, link=ctx.get("link_tag"), rel=rel) if src else Markup("")

    @jinja2.pass_context
    def markdown_text(ctx: jinja2.runtime.Context, src: str | None, width: int = TEXT_WIDTH) -> str:
        return to_text(src, width, schemes, link=ctx.get("link_tag")) if src else ""

    env.filters["markdown"] = markdown
    env.filters["markdown_inline"] = markdown_inline
    env.filters["markdown_text"] = markdown_text
    env.filters["wrap"] = lambda text, width=TEXT_WIDTH: "\n".join(wrap(text, width)) if text else ""

    # Titles are inline markdown: markup in the email and the page, plain in text.
    @jinja2.pass_context
    def title(ctx: jinja2.runtime.Context, src: str | None, linked: bool = False, rel: str | None = None) -> Markup:
        return title_html(src, schemes, linked, ctx.get("link_tag"), rel) if src else Markup("")

    @jinja2.pass_context
    def title_as_text(ctx: jinja2.runtime.Context, src: str | None, urls: bool = False) -> str:
        return title_text(src, urls, schemes, ctx.get("link_tag")) if src else ""

    env.filters["title"] = title
    env.filters["title_text"] = title_as_text
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
        edition_links=config.edition_links,
        alternates=config.alternates,
        share_links=lambda issue: archive.share_links(issue, words["share_email"]),
        # Physical sides for MJML attributes and email CSS, which have no logical ones.
        start="right" if rtl else "left",
        end="left" if rtl else "right",
        feed_urls={kind: config.url + name for kind, name in FEED_FILES.items()},
    )
    if overrides is not None:
        env.bound_filters()  # type: ignore[attr-defined]
    return env


# Template mistakes as user errors at their file and line (the stages wrap rendering in template_errors()).


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
        filename, line = _blame(e)
        message = f"template {e.name!r} not found" if isinstance(e, jinja2.TemplateNotFound) else str(e.message or e)
        raise DigestError([Problem(template_path(filename), line, f"template error: {message}")]) from e
    except TemplateLimit as e:
        # A bound of bounds.py: the template's doing (or the limit set too low), built-in or not.
        filename, line = _blame(e)
        e.__traceback__ = e.__context__ = None
        raise DigestError([Problem(template_path(filename), line, f"template error: {e}")]) from None
    except Exception as e:  # noqa: BLE001 - sorted below: the user's template, or a bug in digest
        # A newsletter's own template can fail as it runs ({{ 1/0 }}, a bad strftime format,
        # an include of itself, a string of ten gigabytes): that is the user's error, at the
        # template's line.  The same in a built-in template is a bug in digest.
        filename, line = _blame(e)
        where = template_path(filename) if filename else ""
        if not where.startswith("templates/"):
            raise
        e.__traceback__ = e.__context__ = None  # let a huge allocation's frames go before reporting
        raise DigestError([Problem(where, line, f"template error: {_runtime_message(e)}")]) from None


def _runtime_message(e: BaseException) -> str:
    if isinstance(e, RecursionError):
        return "the template includes or calls itself without end"
    if isinstance(e, MemoryError):
        return "the template needs more memory than there is (a repetition or a loop without bound?)"
    if isinstance(e, TemplateOutputTooLarge):
        return str(e)
    text = str(e) or type(e).__name__
    text = text if len(text) <= 200 else text[:199] + "…"
    return f"{text} ({type(e).__name__})"


def _blame(e: BaseException) -> tuple[str | None, int | None]:
    """The template file and line to blame for ``e``.

    Rules: the innermost template frame, as for any error.  Out of memory, Jinja's own
    handling can fail in turn (it imports and compiles as it rewrites the traceback): then
    the frames are those of the first error, in its context.  A recursion or a lack of
    memory is the user's template's doing wherever it ends, so it is blamed on an override
    in the stack even if a built-in template (an override's ``{% extends %}``) is innermost;
    for a recursion, on the frame that enters its own file again (the include of itself)."""
    frames: list[tuple[str, int | None]] = []
    seen: BaseException | None = e
    for _ in range(4):  # the error, and what it was raised while handling
        if seen is None or (frames := _template_frames(seen.__traceback__)):
            break
        seen = seen.__context__
    if not frames:
        # Jinja computes constant output as it compiles ({{ "x" * 10**10 }}): no template
        # frame runs yet, but the compile names the file.
        return _compiling(e.__traceback__), None
    if not isinstance(e, (RecursionError, MemoryError)):
        return frames[-1]
    user = [i for i, (filename, _) in enumerate(frames) if template_path(filename).startswith("templates/")]
    if isinstance(e, RecursionError):
        again = [i for i in user if i + 1 < len(frames) and frames[i + 1][0] == frames[i][0]]
        if again:
            return frames[again[-1]]
    return frames[user[-1]] if user else frames[-1]


def _compiling(tb: TracebackType | None) -> str | None:
    """The template file Jinja was compiling when ``tb`` was raised, if it was."""
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_name in ("compile", "_compile", "_generate") and "jinja2" in code.co_filename:
            filename = tb.tb_frame.f_locals.get("filename")
            found = filename if isinstance(filename, str) else found
        tb = tb.tb_next
    return found


def _template_frames(tb: TracebackType | None) -> list[tuple[str, int | None]]:
    """(file, line) of each template frame, outermost first: as Jinja rewrote them, or, in a
    traceback it did not get to rewrite, mapped back from the compiled code's line."""
    found: list[tuple[str, int | None]] = []
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        filename = tb.tb_frame.f_code.co_filename
        if template is not None and template.filename:
            found.append((template.filename, template.get_corresponding_lineno(tb.tb_lineno)))
        elif filename.endswith((".html", ".mjml", ".txt", ".css", ".xml")) or f"{os.sep}templates{os.sep}" in filename:
            found.append((filename, tb.tb_lineno))
        tb = tb.tb_next
    return found
