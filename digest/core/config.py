"""config.yaml → a validated :class:`~digest.models.Config`, passed explicitly to every stage."""

from __future__ import annotations

import dataclasses
import re
import stat
import string
from collections.abc import Callable
from functools import partial
from pathlib import Path

from digest.core import colors, i18n, lint, mailing, markdown, paths, validate
from digest.core.errors import DigestError, Problem
from digest.core.loading import Node, cut, parse, read_text, short
from digest.core.models import Author, Config, DarkTheme, Edition, EmailSettings, FeedSource, Image, Theme, Utm
from digest.core.validate import Checker, capped

CONFIG_FILE = "config.yaml"
KEYS = (
    "title",
    "url",
    "description",
    "language",
    "timezone",
    "author",
    "issue_title",
    "email",
    "feed",
    "theme",
    "words",
    "utm",
    "check",
    "sources",
    "editions",
    "archive",
    "digits",
    "links",
    "mailing",
    "search",
    "subscribe",
)
EDITION_KEYS = ("language", "title", "url", "same_numbers", "root")
_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
_NUMBER_SPEC = re.compile(r"0?[1-9]d?")  # {number:3}, {number:03}, {number:03d}


def load_config(root: Path) -> Config:
    """Read and validate ``root/config.yaml``; raise DigestError listing every problem."""
    path = root / CONFIG_FILE
    try:
        st = paths.input_stat(path, root.resolve())
    except paths.Refused as e:
        if e.missing:
            raise DigestError(
                [Problem(CONFIG_FILE, None, f"not found in {root}: is this a newsletter folder? (see --root)")]
            ) from None
        raise DigestError([Problem(CONFIG_FILE, None, str(e))]) from None
    if not stat.S_ISREG(st.st_mode):
        raise DigestError([Problem(CONFIG_FILE, None, "is not a regular file")])
    text, problems = read_text(path, CONFIG_FILE)
    node = None
    if text is not None:
        node, problems = parse(text, CONFIG_FILE)
        if node is None and not problems:
            problems = [Problem(CONFIG_FILE, 1, "is empty: it needs at least title and url")]
    if node is None:
        raise DigestError(problems)
    c = Checker(CONFIG_FILE)
    c.problems.extend(problems)
    config = _config(c, node, root)
    # templates/ is read by every command that renders: an unusable one is reported with config.yaml's problems.
    c.problems.extend(paths.templates_folder(root)[1])
    if config is None or any(not p.warning for p in c.problems):
        raise DigestError(capped(c.problems))
    return config


def _header(c: Checker, read: Callable[[Node, str], str | None]) -> Callable[[Node, str], str | None]:
    """``read``, then refuse a value that cannot be an email header once decoded (:mod:`digest.core.validate`)."""

    def checked(node: Node, path: str) -> str | None:
        value = read(node, path)
        if value is not None and (why := validate.text_problem(value)):
            c.error(node.line, path, why)
            return None
        return value

    return checked


def _address(c: Checker) -> Callable[[Node, str], str | None]:
    """A one-line text that must be exactly one email address, checked as a header (email.from, email.reply_to)."""

    def checked(node: Node, path: str) -> str | None:
        value = c.line_text(node, path)
        if value is not None and (why := validate.address_problem(value)):
            c.error(node.line, path, why if why.startswith(("holds", "has")) else f"{why}, got {short(value)}")
            return None
        return value

    return checked


def _config(c: Checker, node: Node, root: Path) -> Config | None:
    top = c.mapping(node, "", KEYS, required=("title", "url"))
    if top is None:
        return None
    title = c.get(top, "title", "", _header(c, c.line_text))  # the List-Id header of every email
    url = c.get(top, "url", "", c.url)
    if url is not None and not url.endswith("/"):
        url += "/"
    kwargs: dict[str, object] = {}
    if (v := c.get(top, "description", "", c.line_text)) is not None:
        kwargs["description"] = v
    if (lang_node := top.get("language")) is not None and (lang := c.line_text(lang_node, "language")):
        direction = _direction(lang)
        if direction is None:
            c.error(
                lang_node.line,
                "language",
                f"unknown language {short(lang)}: use a BCP 47 tag such as en, ar, fa, sq or pt-BR",
            )
        else:
            kwargs["language"], kwargs["direction"] = lang, direction
    if (tz_node := top.get("timezone")) is not None and (tz := c.line_text(tz_node, "timezone")):
        if _valid_timezone(tz):
            kwargs["timezone"] = tz
        else:
            c.error(tz_node.line, "timezone", f"unknown time zone {short(tz)}: use an IANA name such as Europe/Berlin")
    if (fmt_node := top.get("issue_title")) is not None and (fmt := _header(c, c.line_text)(fmt_node, "issue_title")):
        why = _format_problem(fmt)
        if why:
            c.error(fmt_node.line, "issue_title", why)
        else:
            kwargs["issue_title"] = fmt
    if (a := c.mapping(top.get("author"), "author", ("name", "email"))) is not None:
        # Without email.from, the author is the sender: both reach the From header.
        author_text = _header(c, c.line_text)
        kwargs["author"] = Author(
            name=c.get(a, "name", "author", author_text),
            email=c.get(a, "email", "author", author_text),
        )
    if (
        e := c.mapping(top.get("email"), "email", ("from", "reply_to", "unsubscribe_url", "unsubscribe_mailto"))
    ) is not None:
        mailto = c.get(e, "unsubscribe_mailto", "email", _header(c, c.line_text))
        if mailto is not None and ("@" not in mailto or any(ch in mailto for ch in " <>,")):
            c.error(
                e["unsubscribe_mailto"].line,
                "email.unsubscribe_mailto",
                f"must be one email address like leave@example.org, got {short(mailto)}",
            )
            mailto = None
        kwargs["email"] = EmailSettings(
            from_=c.get(e, "from", "email", _address(c)),
            reply_to=c.get(e, "reply_to", "email", _address(c)),
            # Every email links it: a URL or a merge tag, never javascript: and the like.
            unsubscribe_url=c.get(
                e,
                "unsubscribe_url",
                "email",
                _header(c, lambda n, p: c.url(n, p, mailto=True, merge_tag=True)),
            ),
            unsubscribe_mailto=mailto.removeprefix("mailto:") if mailto else None,
        )
    if (u := c.mapping(top.get("utm"), "utm", ("source", "medium", "campaign"))) is not None:
        utm = {k: c.get(u, k, "utm", c.line_text) for k in ("source", "medium", "campaign")}
        if utm["campaign"] and (why := _format_problem(utm["campaign"], ("number",))):
            c.error(u["campaign"].line, "utm.campaign", why)
        elif any(utm.values()):
            kwargs["utm"] = Utm(**utm)
    if (ch := c.mapping(top.get("check"), "check", ("history",))) is not None:
        if (n := c.get(ch, "history", "check", c.positive)) is not None:
            kwargs["ledger_history"] = n
    if (f := c.mapping(top.get("feed"), "feed", ("items",))) is not None:
        if (n := c.get(f, "items", "feed", c.positive)) is not None:
            kwargs["feed_items"] = n
    if (
        t := c.mapping(
            top.get("theme"), "theme", ("brand_color", "text_color", "background_color", "logo", "icon", "dark")
        )
    ) is not None:
        theme: dict[str, object] = {}
        for key in ("brand_color", "text_color", "background_color"):
            if key in t and t[key].value is None:  # `brand_color: #1f5fa8` unquoted: YAML reads a comment
                c.error(
                    t[key].line,
                    f"theme.{key}",
                    'is empty: in YAML a # starts a comment, so put the colour in quotes, like "#1f5fa8"',
                )
                continue
            if (color := c.get(t, key, "theme", c.line_text)) is not None:
                if _COLOR.fullmatch(color):
                    theme[key] = color.lower()
                    if (
                        key != "background_color"
                        and (ratio := lint.contrast(color, lint.CARD_COLOR)) < lint.MIN_CONTRAST
                    ):
                        c.warn(
                            t[key].line,
                            f"theme.{key}",
                            f"{color} on the white email card has a contrast of {ratio:.1f}:1; readable text needs at"
                            f" least {lint.MIN_CONTRAST}:1 (WCAG AA)",
                        )
                else:
                    c.error(t[key].line, f"theme.{key}", f"must be a colour like #1f5fa8, got {short(color)}")
        if (logo := c.mapping(t.get("logo"), "theme.logo", ("src", "alt"), required=("src", "alt"))) is not None:
            src = c.get(logo, "src", "theme.logo", c.url)
            alt = c.get(logo, "alt", "theme.logo", c.alt_text)
            if src and alt:
                theme["logo"] = Image(src=src, alt=alt)
        if (icon := c.get(t, "icon", "theme", c.url)) is not None:
            theme["icon"] = icon
        light = Theme(**theme)  # type: ignore[arg-type]
        kwargs["theme"] = dataclasses.replace(light, dark=_dark_theme(c, t.get("dark"), light))
    words: list[tuple[str, str]] = []
    if (w := c.mapping(top.get("words"), "words", i18n.WORDS)) is not None:
        for key in i18n.WORDS:
            if (text := c.get(w, key, "words", c.line_text)) is None:
                continue
            if key in i18n.FIELDS and (why := _format_problem(text, i18n.FIELDS[key])) is not None:
                c.error(w[key].line, f"words.{key}", why)
            else:
                words.append((key, text))
        kwargs["words"] = tuple(words)
    if (sources := _sources(c, top.get("sources"))) is not None:
        kwargs["sources"] = sources
    language = str(kwargs.get("language", "en"))
    if lang_node is not None and "language" in kwargs:
        if missing := [word for word in i18n.missing_words(language) if word not in dict(words)]:
            c.warn(
                lang_node.line,
                "language",
                f"digest has no interface words in {_language_name(language, 'en')}: the pages and emails show these in"
                f" English until you write them under words: {', '.join(missing)}",
            )
    digits = "locale"
    if (d := top.get("digits")) is not None and (value := c.line_text(d, "digits")) is not None:
        if value in i18n.DIGITS:
            digits = value
        else:
            c.error(
                d.line,
                "digits",
                "must be locale (the digits the language writes, e.g. ۲۶۳ in Persian) or latin (0-9), got"
                f" {short(value)}",
            )
    kwargs["numbering"] = i18n.numbering_system(language, digits)
    if (a := c.mapping(top.get("archive"), "archive", ("per_page",))) is not None:
        if (n := c.get(a, "per_page", "archive", c.positive)) is not None:
            kwargs["archive_per_page"] = n
    if (search := c.get(top, "search", "", c.boolean)) is not None:
        kwargs["search"] = search
    if (sub := c.mapping(top.get("subscribe"), "subscribe", ("url",), required=("url",))) is not None:
        if (signup := c.get(sub, "url", "subscribe", partial(c.url, mailto=True))) is not None:
            kwargs["subscribe_url"] = signup
    if (e_node := top.get("editions")) is not None and title is not None and url is not None:
        kwargs["editions"], kwargs["x_default"] = _editions(
            c,
            e_node,
            Edition(
                language,
                title,
                url,
                str(kwargs.get("direction", "ltr")),
                _language_name(language),
                True,
                root.resolve(),
            ),
            root,
        )
    if (links := c.mapping(top.get("links"), "links", ("schemes",))) is not None and "schemes" in links:
        kwargs["link_schemes"] = _schemes(c, links["schemes"])
    if (m := mailing.read(c, top, kwargs.get("email"))) is not None:
        kwargs["mailing"] = m
        # Without subscribe:, a listmonk instance's public subscription page (its /subscription/form, which
        # lists the public lists) is the web pages' Subscribe link; the hosted services have no page digest can name.
        if "subscribe_url" not in kwargs and m.service == "listmonk" and m.api_url:
            kwargs["subscribe_url"] = f"{m.api_url}/subscription/form"
    if any(not p.warning for p in c.problems) or title is None or url is None:
        return None
    return Config(root=root, title=title, url=url, warnings=tuple(c.problems), **kwargs)  # type: ignore[arg-type]


_DARK_COLORS = ("background_color", "surface_color", "text_color", "brand_color")


def _dark_theme(c: Checker, node: Node | None, light: Theme) -> DarkTheme:
    """theme.dark: the email's dark colours and logo; whatever it leaves out is derived from the light ones."""
    d = c.mapping(node, "theme.dark", (*_DARK_COLORS, "logo"))
    given: dict[str, str] = {}
    logo = None
    if d is not None:
        for key in _DARK_COLORS:
            if key in d and d[key].value is None:
                c.error(
                    d[key].line,
                    f"theme.dark.{key}",
                    'is empty: in YAML a # starts a comment, so put the colour in quotes, like "#121212"',
                )
            elif (color := c.get(d, key, "theme.dark", c.line_text)) is not None:
                if _COLOR.fullmatch(color):
                    given[key] = color.lower()
                else:
                    c.error(d[key].line, f"theme.dark.{key}", f"must be a colour like #121212, got {short(color)}")
        if (lg := c.mapping(d.get("logo"), "theme.dark.logo", ("src", "alt"), required=("src",))) is not None:
            src = c.get(lg, "src", "theme.dark.logo", c.url)
            alt = (
                c.get(lg, "alt", "theme.dark.logo", c.alt_text)
                if "alt" in lg
                else (light.logo.alt if light.logo else None)
            )
            if src and alt:
                logo = Image(src=src, alt=alt)
            elif src:
                c.error(d["logo"].line, "theme.dark.logo", "needs alt (there is no theme.logo to take it from)")
    dark = colors.derive_dark(
        light.brand_color,
        light.text_color,
        light.background_color,
        dark_background=given.get("background_color"),
        dark_surface=given.get("surface_color"),
        dark_text=given.get("text_color"),
        dark_brand=given.get("brand_color"),
        logo=logo,
    )
    for fg_key, bg_key, ratio in lint.dark_contrast(dark):
        # Reported at the colour config.yaml set; code_color is not a setting: it follows surface_color.
        at = fg_key if fg_key in given else "surface_color" if bg_key == "code_color" else bg_key
        line = d[at].line if d is not None and at in given else (node.line if node is not None else None)
        fg, bg = getattr(dark, fg_key), getattr(dark, bg_key)
        c.warn(
            line,
            f"theme.dark.{at}",
            f"in dark mode, {fg} on {bg} has a contrast of {ratio:.1f}:1; readable text needs at least"
            f" {lint.MIN_CONTRAST}:1 (WCAG AA)",
        )
    return dark


def _sources(c: Checker, node: Node | None) -> tuple[FeedSource, ...] | None:
    """`sources:`: the feeds `digest collect` reads, each {url, section?}."""
    if node is None or (entries := c.items(node, "sources")) is None:
        return None
    sources = []
    for entry, path in entries:
        if (s := c.mapping(entry, path, ("url", "section"), required=("url",))) is None:
            continue
        url = c.get(s, "url", path, c.url)
        section = c.get(s, "section", path, c.line_text)
        if url is not None:
            sources.append(FeedSource(url=url, section=section))
    return tuple(sources)


def _editions(c: Checker, node: Node, this: Edition, root: Path) -> tuple[tuple[Edition, ...], str | None]:
    """The editions listed under ``editions:`` with ``this`` one among them (first, unless
    listed: the same list can then be copied into every edition's config.yaml), and the
    url of the first listed, the x-default."""
    found: list[Edition] = []
    seen_urls: dict[str, str] = {}
    seen_languages: dict[str, str] = {}
    for child, path in c.items(node, "editions") or []:
        entry = c.mapping(child, path, EDITION_KEYS, required=("language", "title", "url"))
        if entry is None:
            continue
        ed_title = c.get(entry, "title", path, c.line_text)
        ed_url = c.get(entry, "url", path, c.url)
        same = c.get(entry, "same_numbers", path, c.boolean)
        language = c.get(entry, "language", path, c.line_text)
        local = _edition_root(c, entry.get("root"), f"{path}.root", root)
        direction = None
        if language is not None:
            direction = _direction(language)
            if direction is None:
                c.error(
                    entry["language"].line,
                    f"{path}.language",
                    f"unknown language {short(language)}: use a BCP 47 tag such as en, ar, fa, sq or pt-BR",
                )
        if ed_title is None or ed_url is None or language is None or direction is None:
            continue
        if not ed_url.endswith("/"):
            ed_url += "/"
        if ed_url in seen_urls:
            c.error(
                entry["url"].line, f"{path}.url", f"is also the url of {seen_urls[ed_url]}: each edition has its own"
            )
            continue
        if language.lower() in seen_languages:
            c.error(
                entry["language"].line,
                f"{path}.language",
                f"{short(language)} is also the language of {seen_languages[language.lower()]}: a reader picks an"
                " edition by its language",
            )
            continue
        if ed_url == this.url and language.lower() != this.language.lower():
            c.error(
                entry["language"].line,
                f"{path}.language",
                f"is {short(language)}, but this entry's url is this newsletter's, whose language is {this.language}",
            )
            continue
        if local is not None and (local == root.resolve()) != (ed_url == this.url):
            why = (
                "is another folder, but this entry's url is this newsletter's"
                if ed_url == this.url
                else "is this newsletter's folder, but this entry's url is another edition's"
            )
            c.error(entry["root"].line, f"{path}.root", why)
            continue
        seen_urls[ed_url] = seen_languages[language.lower()] = path
        found.append(
            this
            if ed_url == this.url
            else Edition(language, ed_title, ed_url, direction, _language_name(language), bool(same), local)
        )
    if not found:
        return (), None
    x_default = found[0].url
    if this not in found:
        found.insert(0, this)
    return tuple(found), x_default


def _edition_root(c: Checker, node: Node | None, path: str, root: Path) -> Path | None:
    """An edition's ``root:``: the folder of a local edition, relative to this newsletter (resolved: the family's
    commands compare folders, not spellings); it must hold a config.yaml."""
    if node is None or (value := c.text(node, path)) is None:
        return None
    try:
        folder = (root / value).resolve()
        ok = folder.is_dir()
        has_config = (folder / CONFIG_FILE).is_file()
    except (OSError, RuntimeError) as e:  # a symlink loop, a name too long
        c.error(node.line, path, f"{short(value)} cannot be opened: {e}")
        return None
    if not ok:
        c.error(
            node.line,
            path,
            f"{short(value)} is not a folder (a local edition's newsletter folder, relative to this one)",
        )
        return None
    if not has_config:
        c.error(node.line, path, f"{short(value)} has no {CONFIG_FILE}: is it the edition's newsletter folder?")
        return None
    return folder


def _language_name(language: str, in_language: str | None = None) -> str:
    """The language's name in itself ("فارسی", "Shqip") or in ``in_language``; the tag if Babel has none."""
    from babel import Locale, UnknownLocaleError

    try:
        name = Locale.parse(language, sep="-").get_display_name(in_language or Locale.parse(language, sep="-"))
    except (ValueError, TypeError, UnknownLocaleError):
        return language
    if not name:
        return language
    return name[:1].upper() + name[1:] if in_language is None else f"{name} ({language})"


def _schemes(c: Checker, node: Node) -> tuple[str, ...]:
    """links.schemes: the URL schemes links may use besides http(s) and mailto."""
    entries = c.items(node, "links.schemes") or []
    schemes: list[str] = []
    for item, path in entries:
        if (name := c.line_text(item, path)) is None:
            continue
        scheme = name.lower().removesuffix(":")
        if scheme in markdown.NEVER_SCHEMES:
            c.error(item.line, path, f"{short(name)} can never be allowed: its links run code or read local files")
        elif not markdown.SCHEME.fullmatch(scheme):
            c.error(
                item.line, path, f"must be a URL scheme such as irc or ftp (letters, digits, + - .), got {short(name)}"
            )
        elif scheme not in ("http", "https", "mailto", *schemes):
            schemes.append(scheme)
    return tuple(schemes)


def _direction(language: str) -> str | None:
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language, sep="-").text_direction
    except (ValueError, UnknownLocaleError):
        return None


def _valid_timezone(name: str) -> bool:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a name too long for a file name
        return False
    return True


def _format_problem(fmt: str, names: tuple[str, ...] = ("title", "number")) -> str | None:
    """Why ``fmt`` is not a safe format string using only the fields ``names``, or None.

    Only ``names`` may appear, and only {number} may carry a format: a zero-padded width
    of one digit ({number:03}).  Anything else could fail on every issue ({title:d}),
    reach into objects ({title.__class__}), or build a gigabyte string
    ({number:>999999999}).
    """
    fields = " and ".join("{" + n + "}" for n in names)
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return f"has a {{ or }} without its partner: write {fields} whole, and {{{{ or }}}} for a brace itself"
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        if name not in names:
            return f"may use only {fields}, got {cut(written)}"
        if conversion or (spec and not (name == "number" and _NUMBER_SPEC.fullmatch(spec))):
            if "number" not in names:
                return f"must use {fields} as it is, with no format after a colon, got {cut(written)}"
            return f"may format only the number, and only with a width such as {{number:03}}, got {cut(written)}"
    return None
