"""An issue file → its validated :class:`~digest.models.Issue` model, and its anchors.

Rules (which files are issues: :mod:`digest.core.issuefiles`):
- ``number:``, when given, must equal the file's number.
- A published issue needs at least one section; a draft may be empty (a warning),
  because drafts are built for preview only.  A section needs items, an intro or
  sub-sections (``sections:``, one level down and no deeper).
- Titles are inline markdown; a linked item title (one with a url) holds no link.

Anchors: every section and item of an issue gets one, the id its page and its email give it.

Rules:
- An explicit ``id:`` is the anchor.  Otherwise the anchor is a slug of the title as a
  reader sees it: lower case, any script's letters, marks and digits kept (a Persian title
  gives a Persian slug), every run of anything else one '-', cut at a word to SLUG_CHARS.
  An untitled item takes its summary's first words; with nothing to slug, "section" or "item".
- Unique within the issue.  Explicit ids and the page's own ids (RESERVED) are taken first;
  then sections in the order of the file, then items: the first of each slug has it bare.
  A later holder of a slug gets a suffix made from its own content (its url, else its text),
  never from its position, so inserting or moving another section or item changes no other
  anchor (only a second holder of the same slug, which has its own content, gets a suffix).
  Two holders with the very same content fall back to -2, -3 in the order of the file.
- Computed once, from the issue's YAML before its fields are read, so that validation can
  check every markdown link to ``#anchor`` against the issue's anchors.
- The web page gives every section and item its id.  The email gives one to every section and
  to the items an id: names or a link of the issue targets (:func:`linked`): an id on each of
  This Week in Rust's 250 items cost #587 14 KB as sent, and nine issues went over Gmail's clip.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from digest.core import i18n, images, markdown, plaintext, validate
from digest.core.errors import Problem
from digest.core.loading import Node, cut, decode, parse, read_text
from digest.core.models import Config, Image, Issue, Item, Section
from digest.core.validate import Checker, capped

ISSUE_KEYS = ("number", "date", "updated", "title", "subject", "preheader", "draft", "intro", "sections", "outro")
SECTION_KEYS = ("title", "id", "sponsored", "intro", "items", "sections")
FINGERPRINT_KEY = "translated_from"  # the source's fingerprint on a translated item (digest.core.translation)
ITEM_KEYS = ("title", "url", "summary", "source", "author", "image", "date", "id", FINGERPRINT_KEY, "sponsored")
_FINGERPRINT = re.compile(r"[0-9a-f]{12}")
NOT_TRANSLATED = (
    f"is not translated yet (it holds {validate.UNTRANSLATED}): translate it and delete the marker, or keep the issue"
    " a draft (draft: true)"
)
PREHEADER_CHARS = 140


def load_issue(
    config: Config, number: int, path: Path, rel: str, data: bytes | None = None
) -> tuple[Issue | None, list[Problem]]:
    """Read (unless its bytes are given), parse and validate one issue file."""
    text, problems = read_text(path, rel) if data is None else decode(data, rel)
    if text is None:
        return None, problems
    node, problems = parse(text, rel)
    if node is None:
        return None, problems or [Problem(rel, 1, "is empty: an issue needs at least date and sections")]
    c = Checker(rel, config.link_schemes)
    c.problems.extend(problems)
    issue = issue_from_node(c, config, number, node)
    return (None if any(not p.warning for p in c.problems) else issue), capped(c.problems)


def _check_subject(c: Checker, top: dict[str, Node], subject: str | None) -> None:
    """The subject is an email header: refused at its line (or the title's, which it defaults to) when it
    cannot be one once its encoded words are decoded (a CR LF there would start a header line of its own)."""
    key = "subject" if "subject" in top else "title" if "title" in top else None
    if key is None or subject is None or (why := validate.text_problem(subject)) is None:
        return  # a subject made from config's title and issue_title: config.yaml's checks cover it
    c.error(top[key].line, key, why)


def issue_from_node(c: Checker, config: Config, number: int, node: Node) -> Issue | None:
    top = c.mapping(node, "", ISSUE_KEYS, required=("date", "sections"))
    if top is None:
        return None
    if (n := c.get(top, "number", "", c.integer)) is not None and n != number:
        c.error(
            top["number"].line,
            "number",
            f"is {cut(str(n), 20)} but the file name {c.rel.rsplit('/', 1)[-1]} says {number}: make them agree",
        )
    date = c.get(top, "date", "", c.date)
    updated = c.get(top, "updated", "", c.date)
    if date is not None and updated is not None and updated < date:
        c.error(
            top["updated"].line,
            "updated",
            f"{updated.isoformat()} is before the issue's date {date.isoformat()}: a correction comes after"
            " publication",
        )
    draft = c.get(top, "draft", "", c.boolean) or False
    title = c.get(top, "title", "", c.line_text) or i18n.format_title(
        config.issue_title, config.title, number, config.numbering
    )
    subject = c.get(top, "subject", "", c.line_text) or title
    _check_subject(c, top, subject)
    preheader = c.get(top, "preheader", "", c.line_text)
    # Anchors first, from the YAML as written: every markdown link to #anchor is checked against them.
    found = holders(top.get("sections"))
    where = assign(found)
    c.anchors = frozenset(where.values())
    intro = c.get(top, "intro", "", c.markdown)
    outro = c.get(top, "outro", "", c.markdown)
    sections = _sections(c, config, top, draft, where)
    _unique_ids(c, found)
    _untranslated(c, draft)
    if date is None or sections is None:
        return None
    return Issue(
        number=number,
        date=date,
        title=title,
        subject=subject,
        preheader=preheader or _derive_preheader(intro, sections),
        draft=draft,
        intro=intro,
        sections=sections,
        outro=outro,
        source=c.rel,
        url=config.issue_url(number),
        updated=updated,
        date_line=top["date"].line,
    )


def _sections(
    c: Checker, config: Config, top: dict[str, Node], draft: bool, where: dict[str, str]
) -> tuple[Section, ...] | None:
    node = top.get("sections")
    if node is None or node.value is None:
        if node is not None:  # a bare "sections:" key
            _empty(c, node.line, "sections", "has no sections", draft)
            return () if draft else None
        return None
    entries = c.items(node, "sections")
    if entries is None:
        return None
    if not entries:
        _empty(c, node.line, "sections", "has no sections", draft)
    return tuple(
        s
        for snode, spath in entries
        if (s := _section(c, config, snode, spath, draft, where, nested=False)) is not None
    )


def _section(
    c: Checker, config: Config, node: Node, path: str, draft: bool, where: dict[str, str], nested: bool
) -> Section | None:
    s = c.mapping(node, path, SECTION_KEYS)
    if s is None:
        return None
    if not any(k in s for k in ("items", "intro", "sections")) and set(s) <= set(SECTION_KEYS):
        c.error(node.line, path, "has no items, intro or sections: a section needs at least one of them")
    title = c.get(s, "title", path, c.title)
    intro = c.get(s, "intro", path, c.markdown)
    items: list[Item] = []
    inode = s.get("items")
    if inode is not None and inode.value is None:
        _empty(c, inode.line, f"{path}.items", "has no items", draft)
    elif inode is not None and (ientries := c.items(inode, f"{path}.items")) is not None:
        if not ientries:
            _empty(c, inode.line, f"{path}.items", "has no items", draft)
        items = [item for n, p in ientries if (item := _item(c, config, n, p, where)) is not None]
    subs: list[Section] = []
    snode = s.get("sections")
    if snode is not None and nested:
        c.error(
            node.key_lines.get("sections", snode.line),
            f"{path}.sections",
            "sections go one level deep: a sub-section cannot have sections of its own",
        )
    elif snode is not None and snode.value is None:
        _empty(c, snode.line, f"{path}.sections", "has no sections", draft)
    elif snode is not None and (sentries := c.items(snode, f"{path}.sections")) is not None:
        if not sentries:
            _empty(c, snode.line, f"{path}.sections", "has no sections", draft)
        subs = [sub for n, p in sentries if (sub := _section(c, config, n, p, draft, where, nested=True)) is not None]
    ident = c.get(s, "id", path, c.identifier)
    sponsored = bool(c.get(s, "sponsored", path, c.boolean))
    return Section(title, tuple(items), intro, tuple(subs), ident, sponsored, where.get(path, ""))


def _unique_ids(c: Checker, found: list[Holder]) -> None:
    """Rule: an id names one section or item of its issue (its anchor on the page), and none the page uses itself."""
    seen: dict[str, Holder] = {}
    for holder in sorted((h for h in found if h.explicit), key=lambda h: h.id_line):
        name, where = holder.explicit or "", f"{holder.path}.id"
        if name in RESERVED:
            reserved = ", ".join(sorted(RESERVED))
            c.error(holder.id_line, where, f"{name!r} is an id the web page uses itself ({reserved}): choose another")
        elif (first := seen.get(name)) is not None:
            c.error(
                holder.id_line,
                where,
                f"{name!r} is also the id of {first.path} (line {first.id_line}): ids must be unique within an issue",
            )
        else:
            seen[name] = holder


def _untranslated(c: Checker, draft: bool) -> None:
    """Rule (digest.core.translation): marked text never reaches a reader: an error at each in a published issue."""
    if c.marked and not draft:
        for line, path in c.marked:
            c.error(line, path, NOT_TRANSLATED)
    elif c.marked:
        (line, path), others = min(c.marked), len(c.marked) - 1
        also = f", nor are {others} other texts" if others else ""
        c.note(line, path, f"is not translated yet{also} (fine for a draft; translate them before publishing)")


def _empty(c: Checker, line: int, path: str, what: str, draft: bool) -> None:
    if draft:
        c.note(line, path, f"{what} (fine for a draft; it must have some before publishing)")
    elif path == "sections":
        c.error(line, path, f"{what}: a published issue needs at least one section")
    else:
        c.error(line, path, f"{what}: list them below it, or delete the line")


def _item(c: Checker, config: Config, node: Node, path: str, where: dict[str, str]) -> Item | None:
    i = c.mapping(node, path, ITEM_KEYS)
    if i is None:
        return None
    title = c.get(i, "title", path, c.title)
    url = c.get(i, "url", path, c.link)
    if title and "url" in i and any(link.kind == "link" for link in markdown.links(title, inline=True)):
        c.error(
            i["title"].line,
            f"{path}.title",
            "has a link, but the whole title already links to the item's url: keep one of them",
        )
    summary = c.get(i, "summary", path, c.markdown)
    if all(k not in i or i[k].value is None for k in ("title", "summary")):
        c.error(node.line, path, "an item needs a title or a summary")
    # Checked, never kept in the model: no template, and so no output, can show it.
    if (fp := c.get(i, FINGERPRINT_KEY, path, c.line_text)) is not None and not _FINGERPRINT.fullmatch(fp):
        why = "must be the 12 hex digits digest translate wrote (the source item's fingerprint); delete the line if"
        c.error(i[FINGERPRINT_KEY].line, f"{path}.{FINGERPRINT_KEY}", f"{why} it is not a translation")
    image = None
    if (im := c.mapping(i.get("image"), f"{path}.image", ("src", "alt"), required=("src", "alt"))) is not None:
        image = _image(c, config, im, f"{path}.image")
    people = c.get(i, "author", path, c.people) or ()
    return Item(
        title=title,
        url=url,
        summary=summary,
        source=c.get(i, "source", path, c.line_text),
        author=", ".join(p.name for p in people) or None,
        image=image,
        date=c.get(i, "date", path, c.date),
        id=c.get(i, "id", path, c.identifier),
        authors=people,
        sponsored=bool(c.get(i, "sponsored", path, c.boolean)),
        anchor=where.get(path, ""),
    )


def _image(c: Checker, config: Config, im: dict[str, Node], path: str) -> Image | None:
    """An item's image: by http(s) URL, or a file in images/ (digest.core.images), checked at its src line."""
    alt = c.get(im, "alt", path, c.alt_text)
    node = im.get("src")
    written = c.get(im, "src", path, c.text)
    if node is None or written is None:
        return None
    if not images.is_local(written):
        src = c.url(node, f"{path}.src")
        return Image(src=src, alt=alt) if src and alt else None
    local = c.local_image(node, f"{path}.src", config.root)
    if local is None or alt is None:
        return None
    return Image(config.url + local.file, alt, local.path, local.file, local.width, local.height)


def _derive_preheader(intro: str | None, sections: tuple[Section, ...]) -> str:
    """Inbox preview text: the intro's opening, else the first item's summary or title.

    Links read as their text, never their URLs: an inbox shows about 90 to 140 characters,
    and "Rust (https://www.rust-lang.org/) is a…" spends a third of them on an address."""
    first = [item for section in sections for item in section.all_items][:1]
    candidates = [plaintext.to_text(intro, urls=False) if intro else ""]
    for item in first:
        candidates += [
            plaintext.to_text(item.summary, urls=False) if item.summary else "",
            plaintext.title_text(item.title) if item.title else "",
        ]
    for source in candidates:
        if source:
            text = " ".join(source.split())
            if text:
                return text if len(text) <= PREHEADER_CHARS else text[: PREHEADER_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return ""


def date_order(issues: list[Issue]) -> list[Problem]:
    """Warnings for an issue dated before, or on the same day as, the issue numbered before
    it: the archive and the feeds order issues by number, so one of the two is wrong."""
    problems = []
    ordered = sorted(issues, key=lambda i: i.number)
    for before, issue in itertools.pairwise(ordered):
        if issue.date < before.date:
            why = f"{issue.date.isoformat()} is before issue {before.number}'s date ({before.date.isoformat()})"
        elif issue.date == before.date:
            why = f"{issue.date.isoformat()} is issue {before.number}'s date too"
        else:
            continue
        message = (
            f"{why}: the archive and the feeds put issues in the order of their numbers; is the date or the number"
            " wrong?"
        )
        problems.append(Problem(issue.source, issue.date_line, message, "date", warning=True))
    return problems


# Anchors (the rules are in the module's docstring).

SLUG_CHARS = 48
# The ids the built-in pages use themselves (the skip link's target, the share and recent
# issues headings, the search box): no section or item may take them.
RESERVED = frozenset({"main", "share", "recent", "search"})
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_DASHES = re.compile(r"-+")


def slug(text: str, fallback: str) -> str:
    """``text`` as an anchor name (see the rules above); ``fallback`` when nothing of it is left."""
    text = unicodedata.normalize("NFC", _MD_LINK.sub(r"\1", text)).lower()
    kept = "".join(ch if unicodedata.category(ch)[0] in "LMN" else "-" for ch in text)
    name = _DASHES.sub("-", kept).strip("-")
    if len(name) > SLUG_CHARS:
        cut = name[:SLUG_CHARS]
        name = cut.rsplit("-", 1)[0] if "-" in cut else cut
    while name and (name[0] == "-" or unicodedata.category(name[0])[0] == "M"):  # a mark cannot start a word
        name = name[1:]
    return name or fallback


@dataclass(frozen=True)
class Holder:
    path: str  # its key path: sections[1].items[2]
    explicit: str | None  # its id:, when it is one
    id_line: int  # the line of its id: (0 without one)
    base: str  # the slug of its title
    content: str  # what tells it from another holder of the same slug


def holders(sections: Node | None) -> list[Holder]:
    """Every section and item under the issue's ``sections:`` node, sections first."""
    found_sections: list[Holder] = []
    found_items: list[Holder] = []

    def text(entry: dict[str, Node], key: str) -> str:
        node = entry.get(key)
        return node.value.strip() if node is not None and isinstance(node.value, str) else ""

    def visit(node: Node | None, path: str, nested: bool) -> None:
        if node is None or not isinstance(node.value, list):
            return
        for index, sec in enumerate(node.value, 1):
            if not isinstance(sec.value, dict):
                continue
            here = f"{path}[{index}]"
            fields: dict[str, Node] = sec.value
            title = text(fields, "title")
            firsts = "\0".join(_item_content(i) for _, i in _entries(fields.get("items"))[:1])
            section_content = f"{title}\0{text(fields, 'intro')}\0{firsts}"
            found_sections.append(
                Holder(here, _explicit(fields), _id_line(fields), slug(title, "section"), section_content)
            )
            for number, entry in _entries(fields.get("items")):
                title = text(entry, "title") or " ".join(text(entry, "summary").split()[:8])
                found_items.append(
                    Holder(
                        f"{here}.items[{number}]",
                        _explicit(entry),
                        _id_line(entry),
                        slug(title, "item"),
                        _item_content(entry),
                    )
                )
            if not nested:
                visit(fields.get("sections"), f"{here}.sections", True)

    visit(sections, "sections", False)
    return found_sections + found_items


def _entries(node: Node | None) -> list[tuple[int, dict[str, Node]]]:
    """The mappings of a list node with their places, counted from 1 (what is not one is validation's to report)."""
    if node is None or not isinstance(node.value, list):
        return []
    return [(n, entry.value) for n, entry in enumerate(node.value, 1) if isinstance(entry.value, dict)]


def _item_content(entry: dict[str, Node]) -> str:
    parts = [entry.get(k) for k in ("url", "title", "summary")]
    return "\0".join(p.value.strip() if p is not None and isinstance(p.value, str) else "" for p in parts)


def _explicit(entry: dict[str, Node]) -> str | None:
    node = entry.get("id")
    return node.value.strip() if node is not None and isinstance(node.value, str) and node.value.strip() else None


def _id_line(entry: dict[str, Node]) -> int:
    node = entry.get("id")
    return node.line if node is not None else 0


def assign(found: list[Holder]) -> dict[str, str]:
    """Each holder's anchor by its key path, unique within the issue (see the rules above)."""
    taken = set(RESERVED) | {h.explicit for h in found if h.explicit}
    anchors: dict[str, str] = {}
    for holder in found:
        if holder.explicit:
            anchors[holder.path] = holder.explicit
            continue
        name = holder.base
        if name in taken:
            name = f"{holder.base}-{hashlib.sha256(holder.content.encode()).hexdigest()[:6]}"
            count = 2
            while name in taken:  # the very same content twice: the order of the file decides
                name = f"{holder.base}-{hashlib.sha256(holder.content.encode()).hexdigest()[:6]}-{count}"
                count += 1
        taken.add(name)
        anchors[holder.path] = name
    return anchors
