"""The validated, immutable model of a newsletter: config settings and issues.

Everything downstream of validation (render, text, feeds, archive) reads only
these objects, never raw YAML.  Markdown fields hold the markdown *source*; the
render stages convert it with :mod:`digest.markdown`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from digest.core.errors import Problem


@dataclass(frozen=True)
class Image:
    src: str  # absolute http(s) URL (a local image's: where the site publishes it, under config.url)
    alt: str  # required: an image without alt text fails the accessibility rule
    # A local image (digest.core.images): its file in the newsletter (images/tirana.jpg), its file
    # in the site (images/<hash>.jpg) and its size there in pixels.  None for an image by URL.
    path: str | None = None
    file: str | None = None
    width: int | None = None
    height: int | None = None

    @property
    def local(self) -> bool:
        return self.file is not None


@dataclass(frozen=True)
class Person:
    """Someone an item credits: a name, and the link to them (a homepage, a profile) when given."""

    name: str
    url: str | None = None


@dataclass(frozen=True)
class Item:
    title: str | None  # inline markdown source (code spans, emphasis; links only in an unlinked title)
    url: str | None
    summary: str | None  # markdown source
    source: str | None
    author: str | None  # the credited names, joined by ", " (the whole credit, with links: authors)
    image: Image | None
    date: dt.date | None
    # The item's own name within its issue: its anchor, and how editions match it when their links differ.
    id: str | None = None
    authors: tuple[Person, ...] = ()  # `author:` as written: a name, {name, url}, or a list of them
    sponsored: bool = False  # paid for: shown in a box under a "Sponsored" label, rel="sponsored" on the web
    # Its anchor in the pages and the email: its id, else a slug of its title, unique in the issue
    # (digest.core.anchors); "" for a model not made by validation.
    anchor: str = ""


@dataclass(frozen=True)
class Section:
    title: str | None  # inline markdown source
    items: tuple[Item, ...]
    intro: str | None = None  # markdown source
    sections: tuple[Section, ...] = ()  # sub-sections: one level down, never deeper
    id: str | None = None  # the section's own name within its issue (its anchor)
    sponsored: bool = False  # every item in it is paid for: one box, one label
    anchor: str = ""  # as Item.anchor

    @property
    def all_items(self) -> tuple[Item, ...]:
        """Its items, then its sub-sections' items."""
        return self.items + tuple(item for sub in self.sections for item in sub.items)


@dataclass(frozen=True)
class Issue:
    number: int
    date: dt.date
    title: str
    subject: str
    preheader: str
    draft: bool
    intro: str | None  # markdown source
    sections: tuple[Section, ...]
    outro: str | None  # markdown source
    source: str  # the issue file, relative to the newsletter root (for messages)
    url: str  # absolute URL of the web version: <config.url>issues/<number>/
    # The date of the last correction to a published issue: the feeds show it as the
    # entry's update, so feed readers show the change; None for an issue never corrected.
    updated: dt.date | None = None
    date_line: int | None = None  # where `date:` is in the file, for the messages that compare issues' dates

    @property
    def slug(self) -> str:
        """The folder name of this issue under site/issues/."""
        return str(self.number)

    @property
    def items(self) -> tuple[Item, ...]:
        return tuple(item for section in self.sections for item in section.all_items)

    @property
    def local_images(self) -> tuple[Image, ...]:
        """Its items' images that are files of the newsletter, in order."""
        return tuple(item.image for item in self.items if item.image is not None and item.image.local)

    @property
    def has_content(self) -> bool:
        """Whether it says anything beyond its title: an item, or an intro (its own, a section's) or outro."""
        sections = [s for section in self.sections for s in (section, *section.sections)]
        return bool(self.items or self.intro or self.outro or any(s.intro for s in sections))


@dataclass(frozen=True)
class Author:
    name: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class Mailing:
    """config.yaml's mailing: the service `digest push` hands an issue to, as a draft campaign."""

    service: str  # listmonk | buttondown | mailchimp | brevo
    api_url: str | None = None  # the instance (listmonk) or another endpoint than the official one; no trailing /
    lists: tuple[str, ...] = ()  # listmonk/Brevo list ids, or the one Mailchimp audience id
    template: int | None = None  # listmonk's template id


@dataclass(frozen=True)
class EmailSettings:
    from_: str | None = None
    reply_to: str | None = None
    # Passed through untouched: it may be a mailing service's merge tag such as
    # *|UNSUB|* or {{ UnsubscribeURL }}.
    unsubscribe_url: str | None = None
    # A second way out in the List-Unsubscribe header, for clients that offer mailto only.
    unsubscribe_mailto: str | None = None


@dataclass(frozen=True)
class Utm:
    """utm_* parameters for the email's item and markdown links; campaign may use {number}."""

    source: str | None = None
    medium: str | None = None
    campaign: str | None = None


@dataclass(frozen=True)
class DarkTheme:
    """The email's colours under prefers-color-scheme: dark (and in Outlook's apps).  The
    defaults are what digest.core.colors.derive_dark makes of Theme's light defaults."""

    background_color: str = "#111113"
    surface_color: str = "#1d1d20"  # the card the text sits on
    text_color: str = "#e5e5e6"
    brand_color: str = "#628fc2"  # links and the masthead rule
    muted_color: str = "#9f9fa1"  # dates, sources, the footer
    rule_color: str = "#454548"
    code_color: str = "#2d2d30"  # the background of code blocks
    logo: Image | None = None  # shown instead of theme.logo in dark mode


@dataclass(frozen=True)
class Theme:
    brand_color: str = "#1f5fa8"
    text_color: str = "#1d1d1f"
    background_color: str = "#f4f4f5"
    logo: Image | None = None
    icon: str | None = None  # a square image: feed readers' icon for the newsletter, the pages' favicon
    dark: DarkTheme = field(default_factory=DarkTheme)


@dataclass(frozen=True)
class FeedSource:
    """A feed `digest collect` reads when no feed is named: config.yaml's `sources:`."""

    url: str  # absolute http(s) URL
    section: str | None = None  # the issue section its entries go to (default: the last one)


@dataclass(frozen=True)
class Edition:
    """A sibling edition of the newsletter in another language (config.yaml's ``editions:``)."""

    language: str  # BCP 47
    title: str
    url: str  # absolute, always ends with "/"
    direction: str = "ltr"
    name: str = ""  # the language's name in itself, for the switcher: "فارسی", "Shqip"
    # It publishes the same issue numbers: an issue page links to the same number there,
    # not to its archive.
    same_numbers: bool = False
    # A local edition (``root:`` in config.yaml): its newsletter folder.  Never rendered, never compared: a
    # template printing {{ edition }} writes no path of this machine.
    root: Path | None = field(default=None, repr=False, compare=False)
    # The issue numbers a local same_numbers edition publishes (digest.core.siblings), so that an issue page
    # links its issue there only where it exists; None (not local): every number is taken to exist.
    issues: frozenset[int] | None = field(default=None, repr=False, compare=False)

    def has(self, number: int) -> bool:
        """Whether this edition publishes issue ``number`` (as far as digest can know)."""
        return self.same_numbers and (self.issues is None or number in self.issues)

    def page_url(self, number: int | None) -> str:
        """The edition's page for issue ``number`` (its archive for None, without same_numbers, or where the
        local edition does not publish that issue)."""
        return f"{self.url}issues/{number}/" if number is not None and self.has(number) else self.url


@dataclass(frozen=True)
class Config:
    root: Path = field(repr=False)  # the newsletter folder: no template prints where it lives ({{ config }})
    title: str
    url: str  # absolute, always ends with "/"
    description: str = ""
    language: str = "en"  # BCP 47
    direction: str = "ltr"  # "rtl" for Arabic, Persian, Hebrew, Urdu... (from the language)
    timezone: str = "UTC"  # IANA name
    author: Author = field(default_factory=Author)
    issue_title: str = "{title} – {number}"
    email: EmailSettings = field(default_factory=EmailSettings)
    feed_items: int = 20
    utm: Utm | None = None  # None: links are left as written
    ledger_history: int = 25  # earlier issues the link ledger of `digest check` compares with
    theme: Theme = field(default_factory=Theme)
    # The templates' interface words set in config.yaml, over the built-in ones for the
    # language: (key, text) pairs, a tuple so that the config stays hashable.
    words: tuple[tuple[str, str], ...] = ()
    sources: tuple[FeedSource, ...] = ()
    # Every edition of the newsletter in the order of the language switcher, this one
    # included (the one whose url is this url); empty when config.yaml lists none.  The first
    # listed in config.yaml is the hreflang x-default.
    editions: tuple[Edition, ...] = ()
    x_default: str | None = None  # the url of the x-default edition
    archive_per_page: int = 30  # issues per archive page (index.html, page/2/, ...)
    search: bool = True  # the archive's search (Pagefind): config.yaml's `search: false` turns it off
    subscribe_url: str | None = None  # config.yaml's subscribe.url: a "Subscribe" link on the web pages
    numbering: str = "latn"  # the CLDR numbering system of digest's own numbers (dates, issue numbers)
    # links.schemes: URL schemes links may use besides http(s) and mailto (never javascript:,
    # data:, vbscript:, file:; config validation refuses them).
    link_schemes: tuple[str, ...] = ()
    mailing: Mailing | None = None  # `digest push`'s service; None: not configured
    warnings: tuple[Problem, ...] = ()  # config.yaml's own warnings (e.g. low-contrast colours)

    def issue_url(self, number: int) -> str:
        return f"{self.url}issues/{number}/"

    def edition_links(self, number: int | None = None) -> list[tuple[Edition, str, bool]]:
        """(edition, href, is this edition) for the language switcher and hreflang links of the
        archive (``number`` None) or of issue ``number``."""
        links = []
        for edition in self.editions:
            this = edition.url == self.url
            href = (self.issue_url(number) if number is not None else self.url) if this else edition.page_url(number)
            links.append((edition, href, this))
        return links

    def alternates(self, number: int | None = None) -> list[tuple[str, str]]:
        """(hreflang, href) of the archive's or issue ``number``'s <link rel="alternate">: only
        pages with the same content in another edition (the archives; an issue in editions
        with ``same_numbers`` that publish it), then x-default when its edition is among them; none when no
        other edition has the page."""
        links = [
            (edition, href)
            for edition, href, this in self.edition_links(number)
            if this or number is None or edition.has(number)
        ]
        if len(links) < 2:
            return []
        return [(e.language, href) for e, href in links] + [
            ("x-default", href) for e, href in links if e.url == self.x_default
        ]
