"""The issues/ folder → validated :class:`~digest.models.Issue` models.

Rules:
- An issue file is ``issues/<number>.yaml``; leading zeros are allowed, and two files
  for one number (``0263.yaml`` and ``263.yaml``) are an error.
- ``number:``, when given, must equal the file's number.
- A published issue needs at least one section with at least one item; a draft may
  be empty (a warning), because drafts are built for preview only.
- Issue files that are symlinks to somewhere outside the newsletter folder are refused.
- Issue files larger than MAX_FILE_BYTES are refused here, before anything reads them.
"""

from __future__ import annotations

import re
from pathlib import Path

from digest.core import markdown
from digest.core.errors import Problem
from digest.core.loading import MAX_FILE_BYTES, TOO_LARGE, Node, cut, decode, parse, read_text
from digest.core.models import Config, Image, Issue, Item, Section
from digest.core.validate import Checker, capped

ISSUES_DIR = "issues"
ISSUE_KEYS = ("number", "date", "updated", "title", "subject", "preheader", "draft", "intro", "sections", "outro")
SECTION_KEYS = ("title", "items")
ITEM_KEYS = ("title", "url", "summary", "source", "author", "image", "date")
_NAME = re.compile(r"(\d{1,9})\.yaml")
PREHEADER_CHARS = 140


def discover(root: Path) -> tuple[list[tuple[int, Path, str]], list[Problem]]:
    """The issue files as (number, path, relative name), sorted by number, and naming problems."""
    folder = root / ISSUES_DIR
    if not folder.is_dir():
        return [], [Problem(ISSUES_DIR, None, "folder not found: put one <number>.yaml file per issue in it")]
    real_root = root.resolve()
    found: dict[int, list[tuple[Path, str]]] = {}
    problems: list[Problem] = []
    for path in sorted(folder.iterdir()):
        rel = f"{ISSUES_DIR}/{path.name}"
        if path.name.startswith("."):
            continue
        m = _NAME.fullmatch(path.name)
        if not m:
            if path.suffix in (".yaml", ".yml"):
                problems.append(Problem(rel, None, "issue files are named by their number, like 0263.yaml"))
            continue
        if path.is_symlink() and not path.resolve().is_relative_to(real_root):
            problems.append(Problem(rel, None, "is a symlink to a file outside the newsletter folder; refusing to read it"))
            continue
        if not path.is_file():
            problems.append(Problem(rel, None, "is not a regular file"))
            continue
        if path.stat().st_size > MAX_FILE_BYTES:
            problems.append(Problem(rel, None, TOO_LARGE))
            continue
        found.setdefault(int(m.group(1)), []).append((path, rel))
    files = []
    for number, paths in sorted(found.items()):
        if len(paths) > 1:
            names = " and ".join(rel for _, rel in paths)
            problems.extend(Problem(rel, None, f"issue {number} has more than one file: {names}") for _, rel in paths)
            continue
        files.append((number, paths[0][0], paths[0][1]))
    return files, problems


def load_issue(config: Config, number: int, path: Path, rel: str, data: bytes | None = None) -> tuple[Issue | None, list[Problem]]:
    """Read (unless its bytes are given), parse and validate one issue file."""
    text, problems = read_text(path, rel) if data is None else decode(data, rel)
    if text is None:
        return None, problems
    node, problems = parse(text, rel)
    if node is None:
        return None, problems or [Problem(rel, 1, "is empty: an issue needs at least date and sections")]
    c = Checker(rel)
    c.problems.extend(problems)
    issue = issue_from_node(c, config, number, node)
    return (None if any(not p.warning for p in c.problems) else issue), capped(c.problems)


def issue_from_node(c: Checker, config: Config, number: int, node: Node) -> Issue | None:
    top = c.mapping(node, "", ISSUE_KEYS, required=("date", "sections"))
    if top is None:
        return None
    if (n := c.get(top, "number", "", c.integer)) is not None and n != number:
        c.error(top["number"].line, "number", f"is {cut(str(n), 20)} but the file name {c.rel.rsplit('/', 1)[-1]} says {number}: make them agree")
    date = c.get(top, "date", "", c.date)
    updated = c.get(top, "updated", "", c.date)
    if date is not None and updated is not None and updated < date:
        c.error(top["updated"].line, "updated", f"{updated.isoformat()} is before the issue's date {date.isoformat()}: a correction comes after publication")
    draft = c.get(top, "draft", "", c.boolean) or False
    title = c.get(top, "title", "", c.line_text) or config.issue_title.format(title=config.title, number=number)
    subject = c.get(top, "subject", "", c.line_text) or title
    preheader = c.get(top, "preheader", "", c.line_text)
    intro = c.get(top, "intro", "", c.markdown)
    outro = c.get(top, "outro", "", c.markdown)
    sections = _sections(c, top, draft)
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
    )


def _sections(c: Checker, top: dict[str, Node], draft: bool) -> tuple[Section, ...] | None:
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
    sections = []
    for snode, spath in entries:
        s = c.mapping(snode, spath, SECTION_KEYS, required=("items",))
        if s is None:
            continue
        title = c.get(s, "title", spath, c.line_text)
        items: list[Item] = []
        inode = s.get("items")
        if inode is not None and inode.value is None:
            _empty(c, inode.line, f"{spath}.items", "has no items", draft)
        elif inode is not None and (ientries := c.items(inode, f"{spath}.items")) is not None:
            if not ientries:
                _empty(c, inode.line, f"{spath}.items", "has no items", draft)
            items = [item for n, p in ientries if (item := _item(c, n, p)) is not None]
        sections.append(Section(title=title, items=tuple(items)))
    return tuple(sections)


def _empty(c: Checker, line: int, path: str, what: str, draft: bool) -> None:
    if draft:
        c.warn(line, path, f"{what} (fine for a draft; it must have some before publishing)")
    else:
        c.error(line, path, f"{what}: a published issue needs at least one section with at least one item")


def _item(c: Checker, node: Node, path: str) -> Item | None:
    i = c.mapping(node, path, ITEM_KEYS)
    if i is None:
        return None
    title = c.get(i, "title", path, c.line_text)
    summary = c.get(i, "summary", path, c.markdown)
    if all(k not in i or i[k].value is None for k in ("title", "summary")):
        c.error(node.line, path, "an item needs a title or a summary")
    image = None
    if (im := c.mapping(i.get("image"), f"{path}.image", ("src", "alt"), required=("src", "alt"))) is not None:
        src = c.get(im, "src", f"{path}.image", c.url)
        alt = c.get(im, "alt", f"{path}.image", c.alt_text)
        image = Image(src=src, alt=alt) if src and alt else None
    return Item(
        title=title,
        url=c.get(i, "url", path, c.url),
        summary=summary,
        source=c.get(i, "source", path, c.line_text),
        author=c.get(i, "author", path, c.line_text),
        image=image,
        date=c.get(i, "date", path, c.date),
    )


def _derive_preheader(intro: str | None, sections: tuple[Section, ...]) -> str:
    """Inbox preview text: the intro's opening, else the first item's summary or title."""
    candidates = [intro] + [x for item in (sections[0].items[:1] if sections else ()) for x in (item.summary, item.title)]
    for source in candidates:
        if source:
            text = " ".join(markdown.to_text(source).split())
            if text:
                return text if len(text) <= PREHEADER_CHARS else text[: PREHEADER_CHARS - 1].rsplit(" ", 1)[0] + "…"
    return ""
