"""Where things are in an issue file's text: nodes by key path, and the lines of a list entry.

Rules:
- Nodes come from PyYAML's pure-Python composer, whose marks are character offsets in the
  text (libyaml's are bytes): every span here indexes the text itself.
- A list entry's lines are the comment lines just above its ``-`` (at its column), its keys,
  and the comment lines inside it (indented further); a block scalar's lines end at its last
  line of text, not at the blank lines YAML counts into it.
"""

from __future__ import annotations

import re

import yaml

from digest.compose.edit import _dash_column, _line_end, _refuse_flow
from digest.core.errors import DigestError, Problem

KeyPath = tuple[str | int, ...]  # ("sections", 0, "items", 1, "summary"): list positions from 0
_PART = re.compile(r"([A-Za-z_]+)((?:\[\d{1,6}\])*)")


def parse_path(text: str) -> KeyPath:
    """ "sections[1].items[2].url" (as messages write it, counting from 1) as a KeyPath."""
    out: list[str | int] = []
    for part in text.split(".") if text else []:
        m = _PART.fullmatch(part)
        if m is None:
            raise ValueError(f"not a key path: {text!r}")
        out.append(m.group(1))
        out += [int(n) - 1 for n in re.findall(r"\d+", m.group(2))]
    if any(isinstance(p, int) and p < 0 for p in out):
        raise ValueError(f"not a key path: {text!r}")
    return tuple(out)


def path_text(path: KeyPath) -> str:
    out = ""
    for p in path:
        out += f"[{p + 1}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def root_node(text: str, rel: str) -> yaml.MappingNode:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise DigestError([Problem(rel, None, f"is not valid YAML ({e}): fix it first")]) from None
    if not isinstance(root, yaml.MappingNode):
        raise DigestError([Problem(rel, 1, "must be a group of 'key: value' lines")])
    return root


def gone(rel: str, path: KeyPath) -> DigestError:
    return DigestError([Problem(rel, None, "is no longer in the file: reload the page", path_text(path))])


def entry_of(mapping: yaml.Node, key: str) -> tuple[yaml.Node, yaml.Node] | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next(((k, v) for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)


def node_at(rel: str, root: yaml.Node, path: KeyPath) -> yaml.Node:
    node = root
    for i, p in enumerate(path):
        if isinstance(p, int):
            if not isinstance(node, yaml.SequenceNode) or p >= len(node.value):
                raise gone(rel, path[: i + 1])
            node = node.value[p]
        else:
            found = entry_of(node, p)
            if found is None:
                raise gone(rel, path[: i + 1])
            node = found[1]
    return node


def list_entry(text: str, rel: str, root: yaml.Node, path: KeyPath) -> tuple[yaml.Node, int]:
    """The list entry at ``path`` and the column of its dash."""
    seq = node_at(rel, root, path[:-1])
    entry = node_at(rel, root, path)
    _refuse_flow(seq, rel, path_text(path[:-1]))
    return entry, _dash_column(text, entry)


def line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def content_end(text: str, node: yaml.Node) -> int:
    """Where the lines of ``node`` end: past its last line, before blank lines a block scalar swallows."""
    while isinstance(node, (yaml.MappingNode, yaml.SequenceNode)) and node.value and not node.flow_style:
        node = node.value[-1][1] if isinstance(node, yaml.MappingNode) else node.value[-1]
    start, end = node.start_mark.index, node.end_mark.index
    if isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
        last = len(text[start:end].rstrip(" \t\n")) + start
        return _line_end(text, last)
    return _line_end(text, end)


def indent_of(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def entry_block(text: str, entry: yaml.Node, dash: int) -> tuple[int, int]:
    """The lines of a list entry: [start, end) with the comments above and inside it."""
    at = entry.start_mark.index - 1
    while at >= 0 and text[at] in " \n":
        at -= 1
    start = line_start(text, at)
    while start > 0:
        prev = line_start(text, start - 1)
        line = text[prev : start - 1]
        if not (line.lstrip().startswith("#") and indent_of(line) == dash):
            break
        start = prev
    end = content_end(text, entry)
    while end < len(text):
        line_end = text.find("\n", end) + 1 or len(text)
        line = text[end:line_end].rstrip("\n")
        if not (line.lstrip().startswith("#") and indent_of(line) > dash):
            break
        end = line_end
    return start, end


def cut(text: str, start: int, end: int, first: bool = False, last: bool = False) -> str:
    """``text`` without [start, end), and without a blank line that separated it from its neighbours
    (two blank lines that would meet; one left at the start or the end of a list)."""
    head, tail = text[:start], text[end:]
    if (head.endswith("\n\n") or first or not head) and tail.startswith("\n"):
        tail = tail[1:]
    elif last and head.endswith("\n\n"):
        head = head[:-1]
    return head + tail


def shift(block: str, by: int) -> str:
    """Every line of ``block`` moved ``by`` columns (a negative ``by``: to the left, never past a line's indent)."""
    lines = block.split("\n")
    if by >= 0:
        return "\n".join(" " * by + line if line.strip() else line for line in lines)
    return "\n".join(line[min(-by, indent_of(line)) :] for line in lines)
