"""The browser editor's changes to an issue file, made as edits of its text.

Rules:
- Only what is edited changes: every other byte of the file (comments, blank lines, key
  order, quoting, block scalars, flow style) stays as it was.  A value is replaced where it
  stands, in its own style (digest.compose.scalars); a new key goes where the format's
  key order puts it, indented like its neighbours.
- A list entry (an item, a section) is its lines: the comment lines just above its ``-``
  (at its column), its keys, and comment lines inside it (indented further).  Deleting removes
  them, and one of two blank lines left around the gap; moving takes them to the new
  place, re-indented as a whole to the target list's columns.
- Every change is checked: the edited text must parse to the old document with exactly
  that change (digest.compose.editor compares the whole document); a candidate style that
  does not is not used, and an edit that cannot be made is refused, never guessed.
- A flow list (``items: [...]``) is not edited into; a flow mapping (``image: {…}``) is
  written again as one, in flow style.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from digest.compose.edit import _dash_column, _dump, _is_null, _line_end, _refuse_flow
from digest.compose.scalars import Value, Written, candidates, old_style
from digest.compose.yamlspans import (
    KeyPath,
    content_end,
    cut,
    entry_block,
    entry_of,
    gone,
    indent_of,
    line_start,
    list_entry,
    node_at,
    path_text,
    root_node,
    shift,
)
from digest.core.errors import DigestError, Problem
from digest.core.issues import ISSUE_KEYS, ITEM_KEYS, SECTION_KEYS


@dataclass(frozen=True)
class SetField:
    """Set the key at ``path`` to ``value`` (None removes the key; a dict is written in flow style)."""

    path: KeyPath
    value: Value | dict[str, Value]


@dataclass(frozen=True)
class InsertEntry:
    """Insert ``value`` into the list at ``path`` at ``index`` (None: at the end)."""

    path: KeyPath
    value: dict[str, Any]
    index: int | None = None


@dataclass(frozen=True)
class DeleteEntry:
    path: KeyPath  # ends in the entry's position


@dataclass(frozen=True)
class MoveEntry:
    """Move the entry at ``path`` into the list at ``to`` at ``index``, counted once it has left its place."""

    path: KeyPath
    to: KeyPath
    index: int | None = None


Op = SetField | InsertEntry | DeleteEntry | MoveEntry


def apply_data(doc: Any, op: Op) -> None:
    """``op`` made on the parsed document (what the edited text must parse to)."""
    if isinstance(op, SetField):
        parent = _data_at(doc, op.path[:-1])
        if op.value is None:
            parent.pop(op.path[-1], None)
        else:
            parent[op.path[-1]] = copy.deepcopy(op.value)
    elif isinstance(op, InsertEntry):
        target = _data_list(doc, op.path)
        target.insert(len(target) if op.index is None else op.index, copy.deepcopy(op.value))
    elif isinstance(op, DeleteEntry):
        del _data_at(doc, op.path[:-1])[op.path[-1]]
        _emptied(doc, op.path[:-1])
    else:
        entry = _data_at(doc, op.path[:-1]).pop(op.path[-1])
        _emptied(doc, op.path[:-1])
        target = _data_list(doc, op.to)
        target.insert(len(target) if op.index is None else op.index, entry)


def _emptied(doc: Any, path: KeyPath) -> None:
    # A list whose last entry went is its bare key ("items:"), which reads as null.
    if not _data_at(doc, path):
        _data_at(doc, path[:-1])[path[-1]] = None


def _data_at(doc: Any, path: KeyPath) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _data_list(doc: Any, path: KeyPath) -> list[Any]:
    parent = _data_at(doc, path[:-1])
    if parent.get(path[-1]) is None:
        parent[path[-1]] = []
    return parent[path[-1]]


def apply_text(text: str, rel: str, op: Op) -> str:
    """``op`` made on the file's text; raise DigestError if the file cannot take it."""
    expected = yaml.safe_load(text)
    try:
        apply_data(expected, op)
    except (KeyError, IndexError, TypeError, AttributeError):
        raise gone(rel, op.path) from None
    if isinstance(op, SetField):
        if expected == yaml.safe_load(text):
            return text  # the value it has already: not a byte changes (a > block is not folded again)
        return _set(text, rel, op.path, op.value, expected)
    if isinstance(op, InsertEntry):
        return _insert_entry(text, rel, op.path, op.index, lambda dash, indent: _entry_text(op.value, dash, indent))
    root = root_node(text, rel)
    entry, dash = list_entry(text, rel, root, op.path)
    start, end = entry_block(text, entry, dash)
    siblings = node_at(rel, root, op.path[:-1]).value
    removed = cut(text, start, end, first=entry is siblings[0], last=entry is siblings[-1])
    if isinstance(op, DeleteEntry):
        return removed
    if op.to[: len(op.path)] == op.path:
        raise DigestError([Problem(rel, entry.start_mark.line + 1, "cannot move into itself", path_text(op.path))])
    block = text[start:end]
    return _insert_entry(removed, rel, op.to, op.index, lambda d, _: shift(block, d - dash))


def _entry_text(value: dict[str, Any], dash: int, indent: int) -> str:
    """A new entry as block YAML; a key without a value is written bare ("items:"), ready to be filled."""
    given = {k: v for k, v in value.items() if v is not None}
    text = _dump([given], dash, indent) if given else " " * dash + "-\n"
    return text + "".join(" " * indent + f"{k}:\n" for k, v in value.items() if v is None)


# --- setting a field ----------------------------------------------------------------------


def _order_of(path: KeyPath) -> tuple[str, ...]:
    if len(path) == 1:
        return ISSUE_KEYS
    if path[-2] == "image":
        return ("src", "alt")
    if len(path) >= 3 and path[-3] == "items":
        return ITEM_KEYS
    return SECTION_KEYS


def _set(text: str, rel: str, path: KeyPath, value: Value | dict[str, Value], expected: Any) -> str:
    root = root_node(text, rel)
    parent = node_at(rel, root, path[:-1]) if len(path) > 1 else root
    if not isinstance(parent, yaml.MappingNode):
        raise gone(rel, path[:-1])
    key = str(path[-1])
    found = entry_of(parent, key)
    if found is not None and isinstance(value, dict) and isinstance(found[1], yaml.MappingNode):
        if not found[1].flow_style:  # a block mapping: each of its keys set where it is
            for sub in ("src", "alt"):
                text = apply_text(text, rel, SetField((*path, sub), value.get(sub)))
            return text
    if found is None and value is None:
        return text
    if parent.flow_style and (found is None or value is None or isinstance(value, dict)):
        return _rewrite_flow(text, parent, path[:-1], expected)
    if value is None:
        assert found is not None
        return _delete_key(text, rel, parent, found, path)
    options = _written(value, found, text, parent)
    for w in options:
        edited = _replace(text, found[0], found[1], w) if found else _add_key(text, parent, path, key, w)
        if _parses_to(edited, expected):
            return edited
    raise AssertionError(f"no way to write {path_text(path)} found in {rel}")  # a bug, never the user's


def _written(
    value: Value | dict[str, Value], found: tuple[yaml.Node, yaml.Node] | None, text: str, parent: yaml.MappingNode
) -> list[Written]:
    if isinstance(value, dict):
        return [Written(_flow(value))]
    if found is None:
        column = parent.value[0][0].start_mark.column if parent.value else 0
        return candidates(value, "plain", column + 2, False)
    node = found[1]
    style = old_style(text, node) if isinstance(node, yaml.ScalarNode) and not _is_null(node) else "plain"
    indent, width = found[0].start_mark.column + 2, 80
    if parent.flow_style:
        return candidates(value, style, 0, True)
    old: tuple[str, ...] = ()
    if style in ("|", ">"):
        block = text[node.start_mark.index : node.end_mark.index].split("\n")[1:]
        lines = [line for line in block if line.strip()]
        if lines:
            indent = min(indent_of(line) for line in lines)
            width = max(max(len(line) - indent for line in lines), 40)
            old = tuple(line[indent:] for line in block)
    return candidates(value, style, indent, False, width, old)


def _flow(value: dict[str, Value]) -> str:
    parts = []
    for k, v in value.items():
        if v is None:
            continue
        plain = str(v)
        try:
            ok = yaml.safe_load("{k: " + plain + "}") == {"k": v}
        except yaml.YAMLError:
            ok = False
        written = plain if ok and plain == plain.strip() and plain else candidates(v, '"', 0, True)[0].inline
        parts.append(f"{k}: {written}")
    return "{" + ", ".join(parts) + "}"


def _parses_to(text: str, expected: Any) -> bool:
    try:
        return bool(yaml.safe_load(text) == expected)
    except yaml.YAMLError:
        return False


def _replace(text: str, key: yaml.Node, node: yaml.Node, w: Written) -> str:
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        header_end = _line_end(text, start)
        indicator = re.match(r"[|>][-+0-9]*", text[start:])
        assert indicator is not None
        rest = text[start + indicator.end() : header_end].rstrip("\n")  # a comment after the indicator stays
        end = max(content_end(text, node), header_end)
        return text[:start] + w.inline + rest + "\n" + w.block + text[end:]
    if start == end and not text[:start].endswith(" "):
        w = Written(" " + w.inline, w.block)
    if not w.block:
        return text[:start] + w.inline + text[end:]
    line_end = _line_end(text, end)
    rest = text[end:line_end]
    return text[:start] + w.inline + rest + ("" if rest.endswith("\n") else "\n") + w.block + text[line_end:]


def _delete_key(
    text: str, rel: str, parent: yaml.MappingNode, found: tuple[yaml.Node, yaml.Node], path: KeyPath
) -> str:
    key, node = found
    start = key.start_mark.index
    line = line_start(text, start)
    if text[line:start].strip() == "":
        return cut(text, line, content_end(text, node))
    position = [k for k, _ in parent.value].index(key)
    if position + 1 >= len(parent.value):
        raise DigestError([Problem(rel, key.start_mark.line + 1, "is the entry's only key: delete the entry instead")])
    return text[:start] + text[parent.value[position + 1][0].start_mark.index :]


def _add_key(text: str, parent: yaml.MappingNode, path: KeyPath, key: str, w: Written) -> str:
    order = _order_of(path)
    rank = order.index(key) if key in order else len(order)
    before = [(k, v) for k, v in parent.value if (order.index(k.value) if k.value in order else len(order)) <= rank]
    after_node = before[-1][1] if before else parent.value[-1][1]
    column = parent.value[0][0].start_mark.column
    line = " " * column + key + ":" + (" " + w.inline if w.inline else "") + "\n" + w.block
    at = content_end(text, after_node)
    head = text[:at] if text[:at].endswith("\n") or not at else text[:at] + "\n"
    return head + line + text[at:]


def _rewrite_flow(text: str, mapping: yaml.MappingNode, path: KeyPath, expected: Any) -> str:
    value = _data_at(expected, path)
    start, end = mapping.start_mark.index, mapping.end_mark.index
    return text[:start] + _flow(value) + text[end:]


# --- inserting a list entry ---------------------------------------------------------------


def _insert_entry(text: str, rel: str, path: KeyPath, index: int | None, make: Callable[[int, int], str]) -> str:
    root = root_node(text, rel)
    parent = node_at(rel, root, path[:-1]) if len(path) > 1 else root
    if not isinstance(parent, yaml.MappingNode):
        raise gone(rel, path[:-1])
    found = entry_of(parent, str(path[-1]))
    if found is None:  # no such key yet: "items:" and the entry, where the key order puts it
        column = parent.value[0][0].start_mark.column
        return _add_key(text, parent, path, str(path[-1]), Written("", make(column + 2, column + 4)))
    key, seq = found
    if _is_null(seq):
        dash = key.start_mark.column + 2
        at = _line_end(text, key.end_mark.index)
        head = text[:at] if text[:at].endswith("\n") else text[:at] + "\n"
        return head + make(dash, dash + 2) + text[at:]
    _refuse_flow(seq, rel, path_text(path))
    if not isinstance(seq, yaml.SequenceNode) or not seq.value:
        raise DigestError([Problem(rel, seq.start_mark.line + 1, "must be a list", path_text(path))])
    entries = seq.value
    dash = _dash_column(text, entries[0])
    block = make(dash, entries[0].start_mark.column)
    spaced = len(entries) > 1 and text[
        entry_block(text, entries[1], dash)[0] - 2 : entry_block(text, entries[1], dash)[0]
    ] == ("\n\n")
    if index is not None and index < len(entries):
        at = entry_block(text, entries[index], _dash_column(text, entries[index]))[0]
        return text[:at] + block + ("\n" if spaced else "") + text[at:]
    at = entry_block(text, entries[-1], _dash_column(text, entries[-1]))[1]
    head = text[:at] if text[:at].endswith("\n") else text[:at] + "\n"
    return head + ("\n" if spaced else "") + block + text[at:]
