"""Start the next issue: a new draft file with the next number, dated a week after the last."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from digest.core.config import load_config
from digest.core.errors import DigestError, Problem
from digest.core.issues import ISSUES_DIR, discover

SKELETON = """\
# Issue {number}. Remove `draft: true` when it is ready to publish.
number: {number}
date: {date}
draft: true
# title: defaults to config.yaml's issue_title, e.g. "{{title}} – {number}"
intro: |
  A sentence or two about this week.
sections:
  - title: Section title
    items:
      - title: Article title
        url: https://example.com/article
        source: Publication
        author: Author Name
        summary: |
          Why this is worth reading, in two or three sentences.
"""


def new_issue(root: Path, date: dt.date | None = None) -> Path:
    """Write ``issues/<next>.yaml`` as a draft and return its path; never overwrite a file."""
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
    number = max(numbers, default=0) + 1
    width = max((len(p.stem) for _, p, _ in files), default=4)
    if date is None:
        last = _last_date(files[-1][1]) if files else None
        date = last + dt.timedelta(days=7) if last else dt.date.today()
    path = root / ISSUES_DIR / f"{number:0{width}d}.yaml"
    try:
        with path.open("x", encoding="utf-8") as f:
            f.write(SKELETON.format(number=number, date=date.isoformat()))
    except FileExistsError:
        raise DigestError([Problem(str(path.relative_to(root)), None, "already exists; not overwriting it")]) from None
    return path


def _last_date(path: Path) -> dt.date | None:
    """The date of the newest issue, read leniently: a broken file just gives no suggestion."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        value = data.get("date") if isinstance(data, dict) else None
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return None
    return value if isinstance(value, dt.date) and not isinstance(value, dt.datetime) else None
