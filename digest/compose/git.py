"""The browser editor's Commit: the edited issue file and images/ committed with git, never pushed.

Rules:
- git runs as a subprocess with fixed arguments (no shell); the message is one argument.
- Only the issue file and images/ are committed (``git commit -- paths``): whatever else the
  person has staged or changed stays as it is.
- The default message says what changed since the last commit, like "Issue 264: add 3
  links, edit 1": items are matched by their url (else their title).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

from digest.core.errors import DigestError, Problem

GIT_SECONDS = 60.0
MAX_MESSAGE = 5000


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    try:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=GIT_SECONDS, env=env, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise DigestError([Problem("git", None, f"could not run: {e}")]) from None


def is_repository(root: Path) -> bool:
    return _git(root, "rev-parse", "--is-inside-work-tree").stdout.strip() == "true"


def changed(root: Path, rel: str) -> list[str]:
    """The paths among the issue file and images/ that differ from the last commit (or are new)."""
    tracked = _git(root, "diff", "-z", "--name-only", "--relative", "HEAD", "--", rel, "images").stdout
    new = _git(root, "ls-files", "-z", "--others", "--exclude-standard", "--", rel, "images").stdout
    return sorted({p for p in (tracked + new).split("\0") if p})


def default_message(root: Path, number: int, rel: str) -> str:
    """ "Issue 264: add 3 links, edit 1": what changed in the issue since the last commit."""
    shown = _git(root, "show", f"HEAD:./{rel}")
    now = _load((root / rel).read_text(encoding="utf-8"))
    paths = changed(root, rel)
    images = sum(1 for p in paths if p.startswith("images/"))
    if shown.returncode != 0:
        parts = ["start the issue"]
    else:
        parts = _changes(_load(shown.stdout), now)
    if images:
        parts.append(f"add {images} image{'s' if images != 1 else ''}")
    return f"Issue {number}: {', '.join(parts) or 'edit'}"


def _load(text: str) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def _walk(doc: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]], list[Any]]:
    """The items by url (else title), their order with their section, and each section without its items."""
    items: dict[str, Any] = {}
    order: list[tuple[str, str]] = []
    sections: list[Any] = []

    def visit(entries: object, where: str) -> None:
        for n, s in enumerate(entries if isinstance(entries, list) else [], 1):
            if not isinstance(s, dict):
                continue
            here = f"{where}[{n}]"
            sections.append({k: v for k, v in s.items() if k not in ("items", "sections")})
            for item in s.get("items") or []:
                if isinstance(item, dict):
                    key = str(item.get("url") or item.get("title") or item.get("summary"))
                    items[key] = item
                    order.append((here, key))
            visit(s.get("sections"), f"{here}.sections")

    visit(doc.get("sections"), "sections")
    return items, order, sections


def _changes(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    old, old_order, old_sections = _walk(before)
    new, new_order, new_sections = _walk(after)
    added = [k for k in new if k not in old]
    removed = [k for k in old if k not in new]
    edited = sum(1 for k in new if k in old and new[k] != old[k])
    edited += sum(
        1 for k in set(before) | set(after) if k not in ("sections", "draft") and before.get(k) != after.get(k)
    )
    edited += sum(1 for a, b in zip(old_sections, new_sections, strict=False) if a != b)
    kept = [entry for entry in old_order if entry[1] in new]
    moved = len(kept) - _common(kept, [entry for entry in new_order if entry[1] in old])  # the fewest moves
    parts = []
    if before.get("draft") is True and not after.get("draft"):
        parts.append("publish")
    if added:
        parts.append(f"add {len(added)} link{'s' if len(added) != 1 else ''}")
    if removed:
        parts.append(f"remove {len(removed)}")
    if moved:
        parts.append(f"move {moved}")
    if edited > 0:
        parts.append(f"edit {edited}")
    if (more := len(new_sections) - len(old_sections)) != 0:
        parts.append(f"{'add' if more > 0 else 'remove'} {abs(more)} section{'s' if abs(more) != 1 else ''}")
    return parts


def _common(a: list[tuple[str, str]], b: list[tuple[str, str]]) -> int:
    """The length of the longest common subsequence: the entries that kept their order and section."""
    row = [0] * (len(b) + 1)
    for x in a:
        prev = 0
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], prev + 1 if x == y else max(row[j], row[j - 1])
    return row[-1]


def commit(root: Path, rel: str, message: str) -> str:
    """Commit the issue file and images/ with ``message``; returns git's one-line summary."""
    message = message.replace("\0", "").strip()
    if not message:
        raise DigestError([Problem("commit", None, "needs a message")])
    if len(message) > MAX_MESSAGE:
        raise DigestError([Problem("commit", None, f"message is longer than {MAX_MESSAGE} characters")])
    if not is_repository(root):
        raise DigestError([Problem(".", None, "is not in a git repository: there is nothing to commit to")])
    paths = changed(root, rel)
    if not paths:
        raise DigestError([Problem(rel, None, "has no changes to commit")])
    added = _git(root, "add", "--", *paths)
    if added.returncode != 0:
        raise DigestError([Problem("git add", None, added.stderr.strip() or "failed")])
    done = _git(root, "commit", "-q", "-m", message, "--", *paths)
    if done.returncode != 0:
        raise DigestError([Problem("git commit", None, (done.stderr or done.stdout).strip() or "failed")])
    return _git(root, "log", "-1", "--format=%h %s").stdout.strip()
