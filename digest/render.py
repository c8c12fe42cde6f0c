"""Render an issue to HTML: the inlined email, the web page and the bare content fragment.

Rules:
- Templates come from the newsletter's own ``templates/`` folder first, then from the
  built-in ``digest/templates/``: a file of the same name overrides the built-in one.
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
import logging
import unicodedata
from typing import TYPE_CHECKING

from markupsafe import Markup, escape

from digest.markdown import to_html, to_inline_html, to_text
from digest.models import Config, Issue

if TYPE_CHECKING:
    import jinja2

# The email template links "unsubscribe" to this token; render_email swaps it for the
# configured URL only in the final HTML string.  The real value may be a mailing
# service's merge tag (*|UNSUB|*, {{ UnsubscribeURL }}, {{ unsubscribe_url }}) that
# Jinja would evaluate and lxml would percent-encode, so it must never pass through them.
UNSUBSCRIBE_PLACEHOLDER = "https://unsubscribe.digest.invalid/"

# Feed file names, relative to config.url (feeds.py writes them, pages link to them).
FEED_FILES = {"rss": "feed.xml", "atom": "atom.xml", "json": "feed.json"}

# Interface words of the built-in templates, by primary language subtag.  Anything
# missing falls back to English; a newsletter can override any template instead.
STRINGS: dict[str, dict[str, str]] = {
    "en": {
        "view_in_browser": "View in your browser",
        "unsubscribe": "Unsubscribe",
        "why": "You are receiving this email because you subscribed to {title}.",
        "archive": "All issues",
        "issues": "Issues",
        "no_issues": "No issues yet.",
        "skip": "Skip to content",
        "feeds": "Feeds",
    },
    "ar": {
        "view_in_browser": "عرض في المتصفح",
        "unsubscribe": "إلغاء الاشتراك",
        "why": "تصلك هذه الرسالة لأنك مشترك في {title}.",
        "archive": "جميع الأعداد",
        "issues": "الأعداد",
        "no_issues": "لا توجد أعداد بعد.",
        "skip": "انتقل إلى المحتوى",
        "feeds": "الخلاصات",
    },
    "fa": {
        "view_in_browser": "مشاهده در مرورگر",
        "unsubscribe": "لغو اشتراک",
        "why": "این ایمیل را دریافت می‌کنید چون مشترک {title} هستید.",
        "archive": "همه شماره‌ها",
        "issues": "شماره‌ها",
        "no_issues": "هنوز شماره‌ای منتشر نشده است.",
        "skip": "رفتن به محتوا",
        "feeds": "خوراک‌ها",
    },
    "de": {
        "view_in_browser": "Im Browser ansehen",
        "unsubscribe": "Abmelden",
        "why": "Sie erhalten diese E-Mail, weil Sie {title} abonniert haben.",
        "archive": "Alle Ausgaben",
        "issues": "Ausgaben",
        "no_issues": "Noch keine Ausgaben.",
        "skip": "Zum Inhalt springen",
        "feeds": "Feeds",
    },
    "fr": {
        "view_in_browser": "Voir dans le navigateur",
        "unsubscribe": "Se désabonner",
        "why": "Vous recevez cet e-mail car vous êtes abonné à {title}.",
        "archive": "Tous les numéros",
        "issues": "Numéros",
        "no_issues": "Aucun numéro pour l’instant.",
        "skip": "Aller au contenu",
        "feeds": "Flux",
    },
    "es": {
        "view_in_browser": "Ver en el navegador",
        "unsubscribe": "Darse de baja",
        "why": "Recibes este correo porque estás suscrito a {title}.",
        "archive": "Todos los números",
        "issues": "Números",
        "no_issues": "Todavía no hay números.",
        "skip": "Saltar al contenido",
        "feeds": "Feeds",
    },
}

# premailer adds this handler to cssutils' logger on every Premailer(); logging skips a
# handler that is already attached, so one shared instance never piles up.
_NULL_HANDLER = logging.NullHandler()


def strings_for(language: str) -> dict[str, str]:
    """The interface words for a BCP 47 language tag (English for unknown languages)."""
    primary = language.split("-")[0].lower()
    return {**STRINGS["en"], **STRINGS.get(primary, {})}


def text_width(text: str) -> int:
    """Columns ``text`` takes in a monospace plain-text email (wide CJK = 2, marks = 0)."""
    width = 0
    for ch in text:
        if unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        width += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return width


def make_env(config: Config) -> jinja2.Environment:
    """The Jinja2 environment for one newsletter (its templates first, then built-ins)."""
    import jinja2
    from babel import Locale, UnknownLocaleError
    from babel.dates import format_date as babel_format_date

    loaders: list[jinja2.BaseLoader] = []
    user_templates = config.root / "templates"
    if user_templates.is_dir():
        loaders.append(jinja2.FileSystemLoader(user_templates))
    loaders.append(jinja2.PackageLoader("digest", "templates"))

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
    )

    try:
        locale = Locale.parse(config.language, sep="-")
    except (ValueError, TypeError, UnknownLocaleError):
        locale = Locale.parse("en")

    def format_date(value: dt.date) -> str:
        return babel_format_date(value, format="long", locale=locale)

    def underline(text: str, char: str = "=") -> str:
        return char * max(text_width(text), 3)

    # Markdown fields are optional: None renders as nothing rather than "None".
    env.filters["markdown"] = lambda src: to_html(src) if src else Markup("")
    env.filters["markdown_inline"] = lambda src: to_inline_html(src) if src else Markup("")
    env.filters["markdown_text"] = lambda src: to_text(src) if src else ""
    env.filters["format_date"] = format_date
    env.filters["underline"] = underline

    rtl = config.direction == "rtl"
    env.globals.update(
        config=config,
        t=strings_for(config.language),
        # Physical sides for MJML attributes and email CSS, which have no logical ones.
        start="right" if rtl else "left",
        end="left" if rtl else "right",
        feed_urls={kind: config.url + name for kind, name in FEED_FILES.items()},
    )
    return env


def render_content(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The issue body as an HTML fragment: used in the web page and as feed content."""
    return env.get_template("_content.html").render(issue=issue)


def render_web(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The standalone web page of an issue (no external resources but the content's images)."""
    return env.get_template("issue.html").render(issue=issue)


def render_email(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The email HTML: Jinja2 → MJML → HTML → CSS inlined, unsubscribe URL restored."""
    mjml_src = email_mjml(env, config, issue)
    html = mjml_to_html(mjml_src)
    html = inline_css(html)
    return finish_email(html, config)


# The three stages of render_email, public so that tests and timing can reach each.


def email_mjml(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    placeholder = UNSUBSCRIBE_PLACEHOLDER if config.email.unsubscribe_url else None
    return env.get_template("email.mjml").render(issue=issue, unsubscribe_url=placeholder)


def mjml_to_html(mjml_src: str) -> str:
    import mjml

    # fonts={} stops MJML from linking Google Fonts; comments stay because Outlook's
    # layout lives in <!--[if mso]> conditional comments.
    return mjml.mjml2html(mjml_src, disable_comments=False, fonts={})


def inline_css(html: str) -> str:
    """Move <style> rules into style="" attributes; media queries stay in <style>."""
    import premailer

    doctype = "<!doctype html>"
    # premailer keeps a doctype only if it matches lxml's spelling case-sensitively;
    # take MJML's off and put it back verbatim.
    body = html.lstrip()
    if body[: len(doctype)].lower() == doctype:
        body = body[len(doctype) :]
    inliner = premailer.Premailer(
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
        cssutils_logging_handler=_NULL_HANDLER,
    )
    # pretty_print would add whitespace between MJML's inline-block columns.
    return doctype + inliner.transform(pretty_print=False)


def finish_email(html: str, config: Config) -> str:
    url = config.email.unsubscribe_url
    if url:
        # Escape only (& → &amp;, " → &#34;): the merge tag must reach the mailing
        # service character for character.
        html = html.replace(UNSUBSCRIBE_PLACEHOLDER, str(escape(url)))
    return html
