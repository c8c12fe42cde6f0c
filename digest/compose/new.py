"""Start the next issue: a new draft file with the next number, dated a week after the last.

Rules:
- The skeleton's hints are YAML comments, never values: a draft sent before the editor
  replaced them shows readers nothing from the skeleton.
- Never overwrite: the file appears whole (written beside it, then hard-linked into
  place, which fails if the name is taken) or not at all.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from digest.compose.edit import FILE_MODE, write_temporary
from digest.core.config import load_config
from digest.core.errors import DigestError, Problem
from digest.core.issues import ISSUES_DIR, discover

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


def new_issue(root: Path, date: dt.date | None = None, number: int | None = None) -> Path:
    """Write ``issues/<next>.yaml`` (or ``<number>``) as a draft and return its path; never overwrite a file."""
    # Only in a newsletter folder (a mistyped --root must not sprout an issues/ folder),
    # and only when issues/ is in order: a file the numbering cannot see (a duplicate
    # number, a misnamed file) would make the next number wrong.
    load_config(root)
    if not (root / ISSUES_DIR).exists():
        (root / ISSUES_DIR).mkdir()
    files, problems = discover(root)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    numbers = [n for n, _, _ in files]
    if number is not None and number in numbers:
        rel = next(r for n, _, r in files if n == number)
        raise DigestError([Problem(rel, None, f"issue {number} already exists; not overwriting it")])
    number = number if number is not None else max(numbers, default=0) + 1
    width = max((len(p.stem) for _, p, _ in files), default=4)
    if date is None:
        earlier = [p for n, p, _ in files if n < number]
        last = _last_date(earlier[-1]) if earlier else None
        date = last + dt.timedelta(days=7) if last else dt.date.today()
    path = root / ISSUES_DIR / f"{number:0{width}d}.yaml"
    create_new(path, skeleton(number, date).encode("utf-8"))
    return path


def create_new(path: Path, data: bytes) -> None:
    """Create ``path`` holding ``data``, whole, unless the name is taken (then DigestError)."""
    rel = f"{ISSUES_DIR}/{path.name}"
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
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        value = data.get("date") if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else None
