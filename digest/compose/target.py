"""Which issue `add` and `collect` write to, and which links the issues already hold.

Rules:
- The default target is the newest draft; with none, the user is pointed to `digest new`.
  A published issue is a target only when named with --issue.
- A link counts as present when its normalised form (digest.core.urls) is in any issue;
  the first place it appears is what a refusal names.
- Issue files are read leniently here (a broken one just holds no links): validation is
  `digest check`'s job, and the edited file is validated before it is written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import yaml

from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import ISSUES_DIR, discover
from digest.core.loading import read_text
from digest.core.urls import normalize_url

# libyaml's composer where it is installed: a newsletter of 600 issues is read on every add.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class IssueFile:
    number: int
    path: Path
    rel: str
    data: yaml.Node | None  # None for a file that does not parse

    def top(self, key: str) -> yaml.Node | None:
        return _child(self.data, key)

    @property
    def draft(self) -> bool:
        node = self.top("draft")
        return (
            isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:bool" and node.value.lower() == "true"
        )

    @property
    def date(self) -> dt.date | None:
        node = self.top("date")
        if not isinstance(node, yaml.ScalarNode):
            return None
        try:
            return dt.date.fromisoformat(node.value.strip()[:10])
        except ValueError:
            return None


def issue_files(root: Path) -> list[IssueFile]:
    files, problems = discover(root)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    return [issue_file(number, path, rel, read_text(path, rel)[0]) for number, path, rel in files]


def issue_file(number: int, path: Path, rel: str, text: str | None) -> IssueFile:
    """An issue file from its text, read leniently (None: it does not parse)."""
    node = None
    if text is not None:
        try:
            node = yaml.compose(text, Loader=_LOADER)
        except yaml.YAMLError:
            node = None
    return IssueFile(number, path, rel, node)


def target_issue(files: list[IssueFile], number: int | None) -> IssueFile:
    if number is not None:
        for f in files:
            if f.number == number:
                return f
        raise DigestError(
            [
                Problem(
                    ISSUES_DIR,
                    None,
                    f"there is no issue {number}" + (f" (the newest is {files[-1].number})" if files else ""),
                )
            ]
        )
    for f in reversed(files):
        if f.draft:
            return f
    raise DigestError(
        [
            Problem(
                ISSUES_DIR,
                None,
                "no draft issue to add to: start one with `digest new` (or name an issue with --issue)",
            )
        ]
    )


def last_published(files: list[IssueFile]) -> dt.date | None:
    return max((d for f in files if not f.draft and (d := f.date) is not None), default=None)


def known_links(files: list[IssueFile]) -> dict[str, str]:
    """Normalised URL → "issues/0042.yaml:14", where it first appears."""
    links: dict[str, str] = {}
    for f in files:
        for section in _children(f.data, "sections"):
            for item in _children(section, "items"):
                url = _child(item, "url")
                if isinstance(url, yaml.ScalarNode) and url.tag == "tag:yaml.org,2002:str":
                    links.setdefault(normalize_url(url.value), f"{f.rel}:{url.start_mark.line + 1}")
    return links


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def _children(node: yaml.Node | None, key: str) -> list[yaml.Node]:
    child = _child(node, key)
    return list(child.value) if isinstance(child, yaml.SequenceNode) else []
