"""The issues/ folder → validated :class:`~digest.models.Issue` models.

Rules:
- An issue file is ``issues/<number>.yaml`` (digits 0-9, lower-case .yaml); leading zeros
  are allowed, and two files for one number (``0263.yaml`` and ``263.yaml``) are an error.
- No file is dropped in silence: a name meant as an issue but not right (``0002.YAML``,
  ``3.yml``, ``0003.yaml `` with a trailing space, ``٢٦٥.yaml``, ``issue-2.yaml``) is an
  error that says how to rename it.  Ignored by rule: hidden files, editors' backups
  (``~``, ``#…#``, ``.swp``, ``.bak``, ``.orig``, ``.rej``, ``.tmp``), and names that are
  neither YAML nor start with a digit (a README, an images/ folder).
- ``number:``, when given, must equal the file's number.
- A published issue needs at least one section; a draft may be empty (a warning),
  because drafts are built for preview only.  A section needs items, an intro or
  sub-sections (``sections:``, one level down and no deeper).
- Titles are inline markdown; a linked item title (one with a url) holds no link.
- issues/ and the files in it may be symlinks only to places inside the newsletter
  folder; a symlink loop, a dangling link or an unreadable folder is an error.
- Issue files larger than MAX_FILE_BYTES are refused here, before anything reads them.
"""

from __future__ import annotations

import itertools
import os
import re
import stat
from pathlib import Path

from digest.core import anchors, i18n, images, markdown, paths, plaintext, validate
from digest.core.errors import Problem
from digest.core.loading import MAX_FILE_BYTES, TOO_LARGE, Node, cut, decode, parse, read_text
from digest.core.models import Config, Image, Issue, Item, Section
from digest.core.validate import Checker, capped

ISSUES_DIR = "issues"
ISSUE_KEYS = ("number", "date", "updated", "title", "subject", "preheader", "draft", "intro", "sections", "outro")
SECTION_KEYS = ("title", "id", "sponsored", "intro", "items", "sections")
FINGERPRINT_KEY = "translated_from"  # the source's fingerprint on a translated item (digest.core.translation)
ITEM_KEYS = ("title", "url", "summary", "source", "author", "image", "date", "id", FINGERPRINT_KEY, "sponsored")
_FINGERPRINT = re.compile(r"[0-9a-f]{12}")
NOT_TRANSLATED = (
    f"is not translated yet (it holds {validate.UNTRANSLATED}): translate it and delete the marker, or keep the issue"
    " a draft (draft: true)"
)
_NAME = re.compile(r"([0-9]{1,9})\.yaml")
# Editors' backup, swap, lock and temporary files (0004.yaml~, .0004.yaml.swp, #0004.yaml#,
# .#0004.yaml, 0004.yaml.bak, .orig, .rej, .tmp) and hidden files are not issues.
_BACKUP = re.compile(r"[.#].*|.*(?:~|#|\.sw[a-p]|\.bak|\.orig|\.rej|\.tmp)", re.DOTALL | re.IGNORECASE)
PREHEADER_CHARS = 140


def discover(root: Path) -> tuple[list[tuple[int, Path, str]], list[Problem]]:
    """The issue files as (number, path, relative name), sorted by number, and naming problems."""
    folder = root / ISSUES_DIR
    real_root = root.resolve()
    try:
        st = paths.input_stat(folder, real_root, kind="folder")
    except paths.Refused as e:
        if e.missing:
            return [], [Problem(ISSUES_DIR, None, "folder not found: put one <number>.yaml file per issue in it")]
        return [], [Problem(ISSUES_DIR, None, str(e))]
    if not stat.S_ISDIR(st.st_mode):
        return [], [
            Problem(ISSUES_DIR, None, "is not a folder: put one <number>.yaml file per issue in a folder of that name")
        ]
    try:
        names = sorted(os.listdir(folder))
    except OSError as e:
        return [], [
            Problem(
                ISSUES_DIR,
                None,
                f"cannot open the folder: {paths.reason(e)} (a folder needs read and execute permission)",
            )
        ]
    found: dict[int, list[tuple[Path, str]]] = {}
    problems: list[Problem] = []
    for name in names:
        if is_backup(name):
            continue
        path, rel = folder / name, f"{ISSUES_DIR}/{name}"
        number, why = issue_number(name)
        if number is None and why is None:  # not meant as an issue: a README, an images/ folder
            continue
        try:
            st = paths.input_stat(path, real_root)
        except paths.Refused as e:
            if e.parent_denied:
                return [], [
                    Problem(
                        ISSUES_DIR,
                        None,
                        f"cannot look at the files in the folder: {e.args[0].removeprefix('cannot be read: ')} (a"
                        " folder needs execute permission as well as read)",
                    )
                ]
            problems.append(Problem(rel, None, str(e)))
            continue
        if stat.S_ISDIR(st.st_mode):
            problems.append(
                Problem(rel, None, "is a folder: put issue files directly in issues/, named like 0263.yaml")
            )
            continue
        if why is not None:
            problems.append(Problem(rel, None, why))
            continue
        if not stat.S_ISREG(st.st_mode):
            problems.append(Problem(rel, None, "is not a regular file"))
            continue
        if st.st_size > MAX_FILE_BYTES:
            problems.append(Problem(rel, None, TOO_LARGE))
            continue
        assert number is not None
        found.setdefault(number, []).append((path, rel))
    files = []
    for number, entries in sorted(found.items()):
        if len(entries) > 1:
            names_ = " and ".join(rel for _, rel in entries)
            problems.extend(
                Problem(rel, None, f"issue {number} has more than one file: {names_}") for _, rel in entries
            )
            continue
        files.append((number, entries[0][0], entries[0][1]))
    return files, problems


def is_backup(name: str) -> bool:
    """An editor's backup, swap, lock or temporary file, or a hidden one: ignored, by rule."""
    return bool(_BACKUP.fullmatch(name))


def issue_number(name: str) -> tuple[int | None, str | None]:
    """(number, None) for an issue file's name; (None, why not) for a name meant as one that is
    not right; (None, None) for a name not meant as an issue at all (README.md, images)."""
    if m := _NAME.fullmatch(name):
        return int(m.group(1)), None
    stripped = name.strip()
    if stripped != name:
        return None, f"the file name has a space at its start or end: rename it to {cut(stripped)!r}"
    stem, dot, ext = name.rpartition(".")
    if dot and re.fullmatch(r"\d+", stem) and ext.lower() in ("yaml", "yml"):
        digits = str(int(stem)).zfill(len(stem))  # int() reads any script's digits
        if len(stem) > 9:
            return None, "an issue number has at most 9 digits"
        if not stem.isascii():
            return None, f"issue files are numbered with the digits 0-9: rename it to {digits}.yaml"
        return None, f"issue files end in .yaml, in lower case: rename it to {digits}.yaml"
    if name[:1].isdigit() or re.search(r"\.ya?ml", name, re.IGNORECASE):
        return None, "issue files are named by their number, like 0263.yaml"
    return None, None


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
    where = anchors.assign(anchors.holders(top.get("sections")))
    c.anchors = frozenset(where.values())
    intro = c.get(top, "intro", "", c.markdown)
    outro = c.get(top, "outro", "", c.markdown)
    sections = _sections(c, config, top, draft, where)
    _unique_ids(c, top)
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


def _unique_ids(c: Checker, top: dict[str, Node]) -> None:
    """Rule: an id names one section or item of its issue (its anchor on the page)."""
    seen: dict[str, tuple[str, int]] = {}

    def visit(node: Node | None, path: str, key: str) -> None:
        if node is None or not isinstance(node.value, list):
            return
        for index, entry in enumerate(node.value, 1):  # counted from 1, as Checker.items does
            if not isinstance(entry.value, dict):
                continue
            here = f"{path}[{index}]"
            ident = entry.value.get("id")
            if ident is not None and isinstance(ident.value, str) and ident.value.strip():
                name = ident.value.strip()
                if name in anchors.RESERVED:
                    c.error(
                        ident.line,
                        f"{here}.id",
                        f"{name!r} is an id the web page uses itself ({', '.join(sorted(anchors.RESERVED))}): choose"
                        " another",
                    )
                elif name in seen:
                    first, line = seen[name]
                    c.error(
                        ident.line,
                        f"{here}.id",
                        f"{name!r} is also the id of {first} (line {line}): ids must be unique within an issue",
                    )
                else:
                    seen[name] = (here, ident.line)
            if key == "sections":
                visit(entry.value.get("items"), f"{here}.items", "items")
                visit(entry.value.get("sections"), f"{here}.sections", "sections")

    visit(top.get("sections"), "sections", "sections")


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
