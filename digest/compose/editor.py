"""The browser editor's saves: its changes made on the issue file, checked, written safely.

Rules:
- A save is a list of changes (digest.compose.yamlops) made on the file as it is under the
  writers' lock, only if it is still the version the page read (rewrite_issue): a file
  changed on disk since is a conflict, and both versions stay as they are.
- The edited text must parse to the old document with exactly those changes, and load as
  an issue with no errors, as `digest check` sees it; otherwise nothing is written and the
  errors (with their key paths) go back to the page.
- A text the page sends without the final line break its block had gets it back: a
  textarea drops it, and the file would change for nothing (``|`` to ``|-``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from digest.compose.edit import rewrite_issue
from digest.compose.yamlops import Op, SetField, apply_data, apply_text
from digest.compose.yamlspans import KeyPath
from digest.core.errors import DigestError, Problem
from digest.core.issues import load_issue
from digest.core.loading import parse
from digest.core.models import Config

DATE_KEYS = ("date", "updated")


def edit_text(text: str, rel: str, ops: Sequence[Op]) -> tuple[str, Any]:
    """``text`` with ``ops`` made on it, and the document it parses to; raise DigestError if it cannot take them."""
    expected = yaml.safe_load(text) or {}
    edited = text
    for op in ops:
        edited = apply_text(edited, rel, op)  # first: it refuses a path that is not in the file
        apply_data(expected, op)
    if yaml.safe_load(edited) != expected:
        raise AssertionError(f"the edit of {rel} would change more than was asked")  # a bug, never the user's
    return edited, expected


def check_edit(config: Config, number: int, path: Path, rel: str, before: bytes, ops: Sequence[Op]) -> bytes:
    """The file's new bytes, or DigestError with every error of the edited issue."""
    text = before.decode("utf-8")
    crlf = text.count("\n") == text.count("\r\n") > 0  # a file with Windows line ends keeps them
    if crlf:
        text = text.replace("\r\n", "\n")
    # The bounded loader first (digest.core.loading): an alias bomb or a nesting too deep is refused
    # before PyYAML's own loader, which the comparison of documents uses, ever sees it.
    node, problems = parse(text, rel)
    if node is None:
        raise DigestError(problems or [Problem(rel, 1, "is empty: an issue needs at least date and sections")])
    edited, _ = edit_text(text, rel, ops)
    data = (edited.replace("\n", "\r\n") if crlf else edited).encode("utf-8")
    _, problems = load_issue(config, number, path, rel, data=data)
    if errors := [p for p in problems if not p.warning]:
        raise DigestError(errors)
    return data


def edit_issue(config: Config, number: int, path: Path, rel: str, ops: Sequence[Op], *, version: str) -> bytes:
    """Make ``ops`` on the issue file if it is still ``version``; returns what was written."""
    return rewrite_issue(path, rel, lambda before: check_edit(config, number, path, rel, before, ops), version=version)


def field_value(doc: Any, path: KeyPath, value: object) -> Any:
    """A value from the page as it goes into the file: "" removes the key; dates as dates where
    they are dates; a text keeps the final line break its old value had."""
    key = path[-1]
    if value == "" or value is None:
        return None
    if isinstance(value, bool):
        return value
    if not isinstance(value, str):
        raise DigestError([Problem("request", None, f"{key}: a value must be text or true/false")])
    if key in DATE_KEYS:
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            return value.strip()
    old = _old(doc, path)
    if isinstance(old, str) and old.endswith("\n") and not value.endswith("\n"):
        return value + "\n"
    return value


def _old(doc: Any, path: KeyPath) -> Any:
    for p in path:
        try:
            doc = doc[p]
        except (KeyError, IndexError, TypeError):
            return None
    return doc


def set_ops(doc: Any, changes: Sequence[tuple[KeyPath, object]]) -> list[Op]:
    """The changes of fields (key path, value) as operations; an image's src and alt are set together."""
    ops: list[Op] = []
    images: dict[KeyPath, dict[str, object]] = {}
    for path, value in changes:
        if len(path) >= 2 and path[-2] == "image":
            images.setdefault(path[:-1], {})[str(path[-1])] = value
            continue
        ops.append(SetField(path, field_value(doc, path, value)))
    for path, given in images.items():
        old = _old(doc, path) if isinstance(_old(doc, path), dict) else {}
        # A key without a value is left out: an item that had no image gets only what was given.
        image = {k: v for k in ("src", "alt") if (v := given[k] if k in given else old.get(k))}
        ops.append(SetField(path, image or None))  # type: ignore[arg-type]
    return ops
