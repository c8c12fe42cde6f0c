"""The links of issue files, at their lines, and the link ledger of `digest check`.

Rules:
- A link is an item's ``url`` or a markdown link in an intro, a summary or an outro
  (images are not links).  Each is found at the line an editor sees it on.
- The ledger warns about a link that appears twice in one issue (at the second, naming
  the first), and about a link that an earlier issue already had, among the last
  ``check.history`` issues before it (default 25), naming that issue and its line.
  Links are compared normalised (:mod:`digest.core.urls`), as This Week in Rust's CI does.
- mailto links are never duplicates: a contact address belongs in every issue.
- The ledger reads the files itself, so it works on an issue that fails validation too;
  a file that does not parse has no links here (validation reports why).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from digest.core import markdown
from digest.core.errors import Problem
from digest.core.loading import Node, parse
from digest.core.urls import normalize_url
from digest.core.validate import _locate as locate

_MARKDOWN_KEYS = ("intro", "outro")


@dataclass(frozen=True)
class Link:
    url: str
    line: int | None
    key: str  # key path, as validation names it: sections[1].items[2].url


@dataclass(frozen=True)
class IssueLinks:
    number: int
    rel: str
    links: tuple[Link, ...]
    fields: dict[str, Node]  # the top-level keys of the file, for the other checks of the gate


def read(number: int, rel: str, text: str) -> IssueLinks:
    """Every link of one issue file's ``text``, in the order of the file."""
    node, _ = parse(text, rel)
    if node is None or not node.is_map:
        return IssueLinks(number, rel, (), {})
    top: dict[str, Node] = node.value  # type: ignore[assignment]
    found: list[Link] = []
    if "intro" in top:
        found += _markdown_links(top["intro"], "intro")
    sections = top.get("sections")
    for i, section in enumerate(_list(sections), 1):
        for j, item in enumerate(_list(_map(section).get("items")), 1):
            fields = _map(item)
            path = f"sections[{i}].items[{j}]"
            url = fields.get("url")
            if url is not None and isinstance(url.value, str) and url.value.strip():
                found.append(Link(url.value.strip(), url.line, f"{path}.url"))
            if "summary" in fields:
                found += _markdown_links(fields["summary"], f"{path}.summary")
    if "outro" in top:
        found += _markdown_links(top["outro"], "outro")
    return IssueLinks(number, rel, tuple(found), top)


def _list(node: Node | None) -> list[Node]:
    return node.value if node is not None and isinstance(node.value, list) else []


def _map(node: Node | None) -> dict[str, Node]:
    return node.value if node is not None and isinstance(node.value, dict) else {}


def _markdown_links(node: Node, key: str) -> list[Link]:
    if not isinstance(node.value, str):
        return []
    out = []
    cursor = (0, 0)
    for link in markdown.links(node.value.strip()):
        if link.kind != "link" or not link.target:
            continue
        line, cursor = locate(node, link.target, cursor)
        out.append(Link(link.target, line or node.line + link.line_offset, key))
    return out


def duplicates(issues: list[IssueLinks], checked: Iterable[int], history: int) -> list[Problem]:
    """Ledger warnings for the issues numbered in ``checked``; ``issues`` sorted by number."""
    wanted = set(checked)
    problems: list[Problem] = []
    for index, issue in enumerate(issues):
        if issue.number not in wanted:
            continue
        earlier: dict[str, tuple[IssueLinks, Link]] = {}
        for previous in issues[max(0, index - history) : index]:  # newer issues overwrite: the latest use is named
            for link in previous.links:
                earlier[normalize_url(link.url)] = (previous, link)
        seen: dict[str, Link] = {}
        for link in issue.links:
            if not link.url.lower().startswith(("http://", "https://")):
                continue  # mailto: a contact belongs in every issue; others are validation's errors
            norm = normalize_url(link.url)
            if norm in seen:
                first = seen[norm]
                problems.append(
                    Problem(
                        issue.rel,
                        link.line,
                        f"links {link.url} again: it is already linked at line {first.line} ({first.key})",
                        link.key,
                        warning=True,
                    )
                )
                continue
            seen[norm] = link
            if norm in earlier:
                prev, old = earlier[norm]
                where = prev.rel if old.line is None else f"{prev.rel}:{old.line}"
                problems.append(
                    Problem(
                        issue.rel,
                        link.line,
                        f"links {link.url}, already linked in issue {prev.number} ({where})",
                        link.key,
                        warning=True,
                    )
                )
    return problems
