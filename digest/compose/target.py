"""Which issue `add` and `collect` write to, and which links the issues already hold.

Rules:
- The default target is the newest draft; with none, the user is pointed to `digest new`.
  A published issue is a target only when named with --issue.
- A link counts as present when its normalised form (digest.core.urls) is in any issue;
  the first place it appears is what a refusal names.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from digest.core.errors import DigestError, Problem
from digest.core.issues import ISSUES_DIR, discover
from digest.core.loading import Node, parse, read_text
from digest.core.urls import normalize_url


@dataclass(frozen=True)
class IssueFile:
    number: int
    path: Path
    rel: str
    data: Node | None  # parsed leniently: None for a file that does not parse

    def top(self, key: str) -> object:
        value = self.data.value if self.data is not None and self.data.is_map else {}
        node = value.get(key) if isinstance(value, dict) else None
        return node.value if isinstance(node, Node) else None

    @property
    def draft(self) -> bool:
        return self.top("draft") is True


def issue_files(root: Path) -> list[IssueFile]:
    files, problems = discover(root)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    out = []
    for number, path, rel in files:
        text, _ = read_text(path, rel)
        node = parse(text, rel)[0] if text is not None else None
        out.append(IssueFile(number, path, rel, node))
    return out


def target_issue(files: list[IssueFile], number: int | None) -> IssueFile:
    if number is not None:
        for f in files:
            if f.number == number:
                return f
        raise DigestError([Problem(ISSUES_DIR, None, f"there is no issue {number}" + (f" (the newest is {files[-1].number})" if files else ""))])
    for f in reversed(files):
        if f.draft:
            return f
    raise DigestError([Problem(ISSUES_DIR, None, "no draft issue to add to: start one with `digest new` (or name an issue with --issue)")])


def last_published(files: list[IssueFile]) -> dt.date | None:
    dates = [d for f in files if not f.draft and isinstance(d := f.top("date"), dt.date)]
    return max(dates, default=None)


def known_links(files: list[IssueFile]) -> dict[str, str]:
    """Normalised URL → "issues/0042.yaml:14", where it first appears."""
    links: dict[str, str] = {}
    for f in files:
        for section in _children(f.data, "sections"):
            for item in _children(section, "items"):
                url = _child(item, "url")
                if url is not None and isinstance(url.value, str):
                    links.setdefault(normalize_url(url.value), f"{f.rel}:{url.line}")
    return links


def _child(node: Node | None, key: str) -> Node | None:
    value = node.value.get(key) if node is not None and isinstance(node.value, dict) else None
    return value if isinstance(value, Node) else None


def _children(node: Node | None, key: str) -> list[Node]:
    child = _child(node, key)
    return [n for n in child.value if isinstance(n, Node)] if child is not None and isinstance(child.value, list) else []
