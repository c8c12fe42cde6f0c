"""Validation: YAML node trees → models, with every problem at its file, line and key path.

Rules:
- Unknown keys are errors that suggest the nearest known key: a typo such as
  ``summmary`` must never drop a blurb silently.
- Every field has one type; numbers, lists or nulls where text belongs are errors.
- URLs are absolute http(s) (mailto too inside markdown); anything else is an error.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Callable
from typing import TypeVar

from . import markdown
from .errors import Problem
from .loading import INVALID, Node

T = TypeVar("T")


class Checker:
    """Collects problems for one file while reading typed values out of its nodes."""

    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.problems: list[Problem] = []

    def error(self, line: int | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.rel, line, message, key))

    def warn(self, line: int | None, key: str, message: str) -> None:
        self.problems.append(Problem(self.rel, line, message, key, warning=True))

    def mapping(self, node: Node | None, path: str, known: tuple[str, ...], required: tuple[str, ...] = ()) -> dict[str, Node] | None:
        """The mapping's entries after checking its keys, or None (with a problem) if it is not a mapping."""
        if node is None or node.value is INVALID:
            return None
        if not node.is_map:
            self.error(node.line, path, f"must be a mapping of keys ({', '.join(known)}), got {_kind(node.value)}")
            return None
        entries: dict[str, Node] = node.value  # type: ignore[assignment]
        for key in entries:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
                hint = f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(known)}"
                self.error(node.key_lines.get(key, node.line), _join(path, key), f"unknown key{hint}")
        for key in required:
            if key not in entries and key not in node.key_lines:
                self.error(node.line, path or "", f"missing required key {key!r}")
        return entries

    def get(self, entries: dict[str, Node], key: str, path: str, read: Callable[[Node, str], T | None]) -> T | None:
        """Read ``entries[key]`` with ``read``; a missing key or an explicit null gives None."""
        node = entries.get(key)
        if node is None or node.value is None or node.value is INVALID:
            return None
        return read(node, _join(path, key))

    # Readers: each returns the typed value, or None after recording a problem.

    def text(self, node: Node, path: str) -> str | None:
        if node.value is INVALID:
            return None
        if not isinstance(node.value, str):
            hint = " (put it in quotes)" if isinstance(node.value, (int, float, bool, dt.date)) else ""
            self.error(node.line, path, f"must be text, got {_kind(node.value)}{hint}")
            return None
        value = node.value.strip()
        if not value:
            self.error(node.line, path, "must not be empty")
            return None
        return value

    def line_text(self, node: Node, path: str) -> str | None:
        value = self.text(node, path)
        return " ".join(value.split()) if value is not None else None

    def markdown(self, node: Node, path: str) -> str | None:
        value = self.text(node, path)
        if value is None:
            return None
        for bad in markdown.bad_links(value):
            self.error(node.line + bad.line_offset, path, bad.message)
        return value

    def url(self, node: Node, path: str) -> str | None:
        value = self.text(node, path)
        if value is None:
            return None
        why = markdown.url_problem(value, allow_mailto=False)
        if why:
            self.error(node.line, path, why)
            return None
        return value

    def date(self, node: Node, path: str) -> dt.date | None:
        if node.value is INVALID:
            return None
        value = node.value
        if isinstance(value, dt.datetime):
            self.error(node.line, path, f"must be a date like 2019-11-08 without a time, got {str(node.value)!r}")
            return None
        if isinstance(value, dt.date):
            return value
        if isinstance(value, str):
            try:
                if len(value.strip()) == 10:
                    return dt.date.fromisoformat(value.strip())
            except ValueError:
                pass
            self.error(node.line, path, f"must be a date like 2019-11-08, got {value!r}")
            return None
        self.error(node.line, path, f"must be a date like 2019-11-08, got {_kind(value)}")
        return None

    def boolean(self, node: Node, path: str) -> bool | None:
        if node.value is INVALID:
            return None
        if not isinstance(node.value, bool):
            self.error(node.line, path, f"must be true or false, got {_kind(node.value)}")
            return None
        return node.value

    def integer(self, node: Node, path: str) -> int | None:
        if node.value is INVALID:
            return None
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            self.error(node.line, path, f"must be a whole number, got {_kind(node.value)}")
            return None
        return node.value

    def positive(self, node: Node, path: str) -> int | None:
        value = self.integer(node, path)
        if value is not None and value < 1:
            self.error(node.line, path, f"must be at least 1, got {value}")
            return None
        return value

    def items(self, node: Node, path: str) -> list[tuple[Node, str]] | None:
        """The elements of a list with their key paths (counted from 1, as an editor counts)."""
        if node.value is INVALID:
            return None
        if not node.is_list:
            self.error(node.line, path, f"must be a list, got {_kind(node.value)}")
            return None
        return [(child, f"{path}[{i}]") for i, child in enumerate(node.value, 1)]  # type: ignore[arg-type]


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value})"
    if isinstance(value, dt.datetime):
        return f"a date and time ({value.isoformat()})"
    if isinstance(value, dt.date):
        return f"a date ({value.isoformat()})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return f"text ({_short(value)!r})"
    return type(value).__name__


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
