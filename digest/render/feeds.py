"""Render the RSS 2.0, Atom 1.0 and JSON Feed 1.1 feeds.

Rules:
- Entry id (Atom id, RSS guid with isPermaLink="true", JSON id) is the issue's URL: it
  stays the same across rebuilds and when the title or date of an issue is edited.
- Dates are the issue date at 00:00 in config.timezone.  An entry is updated on the
  issue's ``updated`` date (a correction), else on its date; RSS items have no such date.
- Deterministic: the feed's updated/lastBuildDate is the newest entry's update (the Unix
  epoch for an empty feed), never "now"; the generator is plain "digest".
- Sibling editions (config.yaml's ``editions:``) are linked with their language: Atom and
  RSS as the feed's <link rel="alternate" hreflang> (RSS through atom:link), JSON Feed in
  a ``_digest`` extension object.  RSS's own <link> stays the home page.  Entries link only
  their own issue: feedgen 1.0 drops an entry link's rel and hreflang, and a bare second
  link would read as the entry's own.
- Entry content is the issue's fragment without its permalinks (a feed reader shows a "#"
  as text), its links to ``#anchor`` made absolute (the issue page's places).
- Item authors (``author:``) are the entry's Atom <contributor>s (name and uri) and its
  ``_digest.contributors`` in JSON Feed; the entry's author stays the newsletter's.
- An issue with sponsored content carries the category "sponsored" (Atom and RSS, labelled
  with the interface word; JSON Feed's tags), and its content shows the label on each box.
- User text is escaped by lxml (XML) and json.dumps (JSON).  RSS <description> is
  HTML by convention, so the plain-text preheader is HTML-escaped before it goes there.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from zoneinfo import ZoneInfo

from markupsafe import escape

from digest.core.i18n import strings_for
from digest.core.models import Config, Edition, Issue, Person
from digest.render.environment import FEED_FILES, xml_safe

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
SPONSORED = "sponsored"  # the category term of an issue with sponsored content
# What _content.html writes for a permalink and for a link to a place in the issue.
PERMALINK = re.compile(r'<a class="permalink" href="#[^"]*" aria-label="[^"]*" data-pagefind-ignore>#</a>')
_IN_PAGE = re.compile(r'(<a href=")#')


def feed_content(issue: Issue, content: str) -> str:
    """The issue's fragment as a feed entry's content (see the rules above)."""
    return _IN_PAGE.sub(lambda m: m.group(1) + issue.url + "#", PERMALINK.sub("", content))


def contributors(issue: Issue) -> list[Person]:
    """Everyone the issue's items credit, once each, in the order of the issue."""
    seen: dict[tuple[str, str | None], Person] = {}
    for item in issue.items:
        for person in item.authors:
            seen.setdefault((person.name, person.url), person)
    return list(seen.values())


def has_sponsored(issue: Issue) -> bool:
    sections = [s for top in issue.sections for s in (top, *top.sections)]
    return any(s.sponsored for s in sections) or any(item.sponsored for item in issue.items)


def _midnight(config: Config, date: dt.date) -> dt.datetime:
    return dt.datetime.combine(date, dt.time(0), tzinfo=ZoneInfo(config.timezone))


def _published(config: Config, issue: Issue) -> dt.datetime:
    return _midnight(config, issue.date)


def _entry_updated(config: Config, issue: Issue) -> dt.datetime:
    return _midnight(config, issue.updated or issue.date)


def _updated(config: Config, issues: Sequence[Issue]) -> dt.datetime:
    return max((_entry_updated(config, issue) for issue in issues), default=_EPOCH)


def render_feeds(config: Config, issues: Sequence[Issue], contents: Mapping[int, str]) -> dict[str, bytes]:
    """{"feed.xml": RSS, "atom.xml": Atom, "feed.json": JSON Feed} as UTF-8 bytes.

    ``issues`` are the published issues to list, newest first, already limited to
    config.feed_items; ``contents[issue.number]`` is the issue's HTML fragment.
    """
    rss, atom = _xml_feeds(config, issues, contents)
    return {
        FEED_FILES["rss"]: rss,
        FEED_FILES["atom"]: atom,
        FEED_FILES["json"]: _json_feed(config, issues, contents),
    }


def _xml_feeds(config: Config, issues: Sequence[Issue], contents: Mapping[int, str]) -> tuple[bytes, bytes]:
    from feedgen.feed import FeedGenerator

    fg = FeedGenerator()
    fg.id(config.url)
    fg.title(xml_safe(config.title))
    # Atom takes the description as its optional subtitle: only a real one.  RSS requires
    # a description, so it falls back to the title there (set just before rss_str).
    if config.description:
        fg.description(xml_safe(config.description))
    fg.language(config.language)
    fg.generator("digest")
    fg.updated(_updated(config, issues))  # also sets RSS lastBuildDate
    author = config.author
    # Atom requires an author on the feed or on every entry: the newsletter stands in.
    atom_author = {"name": author.name or author.email or config.title}
    if author.email:
        atom_author["email"] = author.email
        # RSS has no feed-level author, only the editor's address ("email (name)").
        fg.managingEditor(f"{author.email} ({author.name})" if author.name else author.email)
    fg.author(atom_author)
    # Atom's logo is wide (2:1) and its icon square; feedgen also makes the logo RSS's <image>.
    if config.theme.logo:
        fg.logo(config.theme.logo.src)
    if config.theme.icon:
        fg.icon(config.theme.icon)

    label = strings_for(config.language, config.words)["sponsored"]
    for issue in issues:  # newest first, as given
        published = _published(config, issue)
        fe = fg.add_entry(order="append")
        fe.guid(issue.url, permalink=True)  # also the Atom id
        fe.title(xml_safe(issue.title))
        fe.link(href=issue.url, rel="alternate", type="text/html")
        fe.content(xml_safe(feed_content(issue, contents[issue.number])), type="html")
        for person in contributors(issue):
            fe.contributor({"name": xml_safe(person.name), **({"uri": person.url} if person.url else {})})
        if has_sponsored(issue):
            fe.category(term=SPONSORED, label=xml_safe(label))
        if issue.preheader:
            fe.summary(str(escape(xml_safe(issue.preheader))), type="html")
        fe.published(published)
        fe.updated(_entry_updated(config, issue))

    # feedgen keeps one link list for both formats, and each format's self link differs.
    # RSS <link> takes the href of the *last* link, so the home page goes last.
    def links(kind: str, media_type: str) -> list[dict[str, str]]:
        return [
            {"href": config.url + FEED_FILES[kind], "rel": "self", "type": media_type},
            *_edition_links(config),
            {"href": config.url, "rel": "alternate", "type": "text/html"},
        ]

    fg.link(links("atom", "application/atom+xml"), replace=True)
    atom = fg.atom_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    fg.link(links("rss", "application/rss+xml"), replace=True)
    if not config.description:
        fg.description(xml_safe(config.title))
    rss = fg.rss_str(pretty=True, encoding="UTF-8", xml_declaration=True)
    return _rss_edition_links(config, rss), atom


def _siblings(config: Config) -> list[Edition]:
    return [ed for ed in config.editions if ed.url != config.url]


def _edition_links(config: Config) -> list[dict[str, str]]:
    return [
        {"href": ed.url, "rel": "alternate", "type": "text/html", "hreflang": ed.language, "title": xml_safe(ed.title)}
        for ed in _siblings(config)
    ]


def _rss_edition_links(config: Config, rss: bytes) -> bytes:
    """feedgen writes only the self link as atom:link in RSS: the editions' links join it."""
    links = _edition_links(config)
    if not links:
        return rss
    from lxml import etree  # type: ignore[import-untyped]

    tree = etree.fromstring(rss)
    channel = tree.find("channel")
    assert channel is not None
    self_link = channel.find("{http://www.w3.org/2005/Atom}link")
    at = list(channel).index(self_link) + 1 if self_link is not None else len(channel)
    for i, attrs in enumerate(links):
        link = etree.Element("{http://www.w3.org/2005/Atom}link", attrib=attrs)
        channel.insert(at + i, link)
    etree.indent(tree, space="  ")
    data: bytes = etree.tostring(tree, encoding="UTF-8", xml_declaration=True, pretty_print=True)
    return data


def _json_feed(config: Config, issues: Sequence[Issue], contents: Mapping[int, str]) -> bytes:
    # Keys are inserted in the order the JSON Feed 1.1 spec lists them.
    feed: dict[str, object] = {
        "version": "https://jsonfeed.org/version/1.1",
        "title": config.title,
        "home_page_url": config.url,
        "feed_url": config.url + FEED_FILES["json"],
    }
    if config.description:
        feed["description"] = config.description
    # JSON Feed's icon and favicon are square: the wide logo would be squashed, so only the icon goes there.
    if config.theme.icon:
        feed["icon"] = config.theme.icon
        feed["favicon"] = config.theme.icon
    author = config.author
    if author.name or author.email:
        person: dict[str, str] = {"name": author.name or author.email or ""}
        if author.email:
            person["url"] = f"mailto:{author.email}"
        feed["authors"] = [person]
    feed["language"] = config.language
    if siblings := _siblings(config):  # a JSON Feed extension: names starting with "_" are the publisher's
        feed["_digest"] = {
            "editions": [
                {
                    "language": ed.language,
                    "title": ed.title,
                    "home_page_url": ed.url,
                    "feed_url": ed.url + FEED_FILES["json"],
                }
                for ed in siblings
            ]
        }
    items = []
    for issue in issues:
        item: dict[str, object] = {
            "id": issue.url,
            "url": issue.url,
            "title": issue.title,
            "content_html": feed_content(issue, contents[issue.number]),
        }
        if issue.preheader:
            item["summary"] = issue.preheader
        item["date_published"] = _published(config, issue).isoformat()
        if issue.updated:
            item["date_modified"] = _entry_updated(config, issue).isoformat()
        if has_sponsored(issue):
            item["tags"] = [SPONSORED]
        if people := contributors(issue):
            item["_digest"] = {"contributors": [{"name": p.name, **({"url": p.url} if p.url else {})} for p in people]}
        items.append(item)
    feed["items"] = items
    text = json.dumps(feed, ensure_ascii=False, indent=2, sort_keys=False)
    return (text + "\n").encode("utf-8")
