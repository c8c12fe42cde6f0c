"""Start the next issue: a new draft file with the next number, dated a week after the last.

Rules:
- The skeleton's hints are YAML comments, never values: a draft sent before the editor
  replaced them shows readers nothing from the skeleton.
- Never overwrite: the file appears whole (written beside it, then hard-linked into
  place, which fails if the name is taken) or not at all.
- One empty draft at a time: while a draft has no items, `new` refuses (naming it) unless
  --force, since `add` and `collect` fill the newest draft and would leave the older one
  behind, and `init` already made draft 1.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path

import yaml

from digest.compose.edit import FILE_MODE, write_temporary
from digest.compose.lock import issues_locked
from digest.compose.target import IssueFile, issue_files
from digest.core.config import load_config
from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import ISSUES_DIR

SKELETON = """\
# Issue {number}: a draft, built for preview only, until you delete the `draft: true` line.
# Fill it with `digest add URL` and `digest collect`, or by hand. Lines starting with #
# are hints: nothing in them reaches readers.
number: {number}
date: {date}
draft: true
# title: "..."          (default: config.yaml's issue_title)
# subject: "..."        (the email's subject; default: the title)
# intro: |
#   A sentence or two about this week.
# outro: |
#   Thanks for reading; reply to this email to suggest a link.
#
# Sections hold the items; an item needs a title or a summary, the rest is optional:
#   - title: Top stories
#     items:
#       - title: The article's headline
#         url: https://...
#         source: The publication
#         author: The author's name
#         date: 2024-01-05
#         summary: |
#           Why this is worth reading, in two or three sentences.
sections:
"""


def skeleton(number: int, date: dt.date) -> str:
    return SKELETON.format(number=number, date=date.isoformat())


def new_issue(root: Path, date: dt.date | None = None, number: int | None = None, *, force: bool = False) -> Path:
    """Write ``issues/<next>.yaml`` (or ``<number>``) as a draft and return its path; never overwrite a file.
    Refused while a draft with no items exists (one is enough to fill), unless ``force``."""
    # Only in a newsletter folder (a mistyped --root must not sprout an issues/ folder),
    # and only when issues/ is in order: a file the numbering cannot see (a duplicate
    # number, a misnamed file) would make the next number wrong.
    load_config(root)
    if not (root / ISSUES_DIR).exists():
        (root / ISSUES_DIR).mkdir()
    # Numbering, the empty-draft rule and the creation under the writers' lock: two `new` at
    # once make one draft, and the second is told about it.
    with issues_locked(root / ISSUES_DIR, ISSUES_DIR):
        files = issue_files(root)
        numbers = [f.number for f in files]
        if number is not None and number in numbers:
            rel = next(f.rel for f in files if f.number == number)
            raise DigestError([Problem(rel, None, f"issue {number} already exists; not overwriting it")])
        if not force and (empty := [f for f in files if f.draft and not _has_items(f)]):
            raise DigestError([Problem(f.rel, None, EMPTY_DRAFT) for f in empty])
        number = number if number is not None else max(numbers, default=0) + 1
        width = max((len(f.path.stem) for f in files), default=4)
        if date is None:
            earlier = [f.path for f in files if f.number < number]
            last = _last_date(earlier[-1]) if earlier else None
            date = last + dt.timedelta(days=7) if last else dt.date.today()
        path = root / ISSUES_DIR / f"{number:0{width}d}.yaml"
        create_new(path, skeleton(number, date).encode("utf-8"))
    return path


EMPTY_DRAFT = (
    "is a draft with no items yet: fill it (digest add URL, digest collect) rather than start another;"
    " digest new --force starts one anyway"
)


def parse_date(value: str, option: str) -> dt.date:
    """A date given on the command line, refused in the words an issue's date: is refused in."""
    text = value.strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        raise DigestError([Problem(option, None, f"must be a date like 2019-11-08, got {text!r}")])
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise DigestError([Problem(option, None, f"{text!r} is not a valid date")]) from None


def _has_items(issue: IssueFile) -> bool:
    """Whether any section (or sub-section) of the issue lists an item; read leniently (a
    file that does not parse counts as having some: it is not an empty skeleton)."""
    if issue.data is None:
        return True
    sections = issue.top("sections")
    stack = list(sections.value) if isinstance(sections, yaml.SequenceNode) else []
    while stack:
        section = stack.pop()
        if not isinstance(section, yaml.MappingNode):
            return True  # something written there, if not a section
        for key, value in section.value:
            name = key.value if isinstance(key, yaml.ScalarNode) else None
            if name == "items" and isinstance(value, yaml.SequenceNode) and value.value:
                return True
            if name == "sections" and isinstance(value, yaml.SequenceNode):
                stack.extend(value.value)
    return False


def create_new(path: Path, data: bytes, name: str | None = None) -> None:
    """Create ``path`` holding ``data``, whole, unless the name is taken, even by a link (then DigestError, the
    file named as ``name``, by default issues/<its name>): nothing is ever written through a link."""
    rel = name or f"{ISSUES_DIR}/{path.name}"
    try:
        tmp = write_temporary(path, data, FILE_MODE)
    except OSError as e:  # a read-only folder, a full disk
        raise DigestError([Problem(rel, None, f"cannot be created ({e.strerror or e})")]) from None
    try:
        os.link(tmp, path)  # atomic, and fails instead of replacing an existing file
    except FileExistsError:
        raise DigestError([Problem(rel, None, "already exists; not overwriting it")]) from None
    except OSError as e:
        raise DigestError([Problem(rel, None, f"cannot be created ({e.strerror or e})")]) from None
    finally:
        tmp.unlink(missing_ok=True)


def _last_date(path: Path) -> dt.date | None:
    """The date of the newest issue, read leniently: a broken file just gives no suggestion."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        value = data.get("date") if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else None
