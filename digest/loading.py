"""Safe YAML loading that keeps the line of every value.

Rules:
- Only plain data: maps, lists, strings, numbers, booleans, nulls and dates.  Any other
  tag (``!!python/object`` and friends) is an error, never constructed.
- Duplicate keys in one mapping are errors (YAML would silently keep the last one).
- Aliases are allowed, but the expanded document is bounded so an alias bomb
  ("billion laughs") is refused instead of exhausting memory.
- Files must be UTF-8 text of bounded size.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import yaml

from .errors import Problem

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_NODES = 100_000  # expanded nodes per document, aliases counted every time they are used
MAX_DEPTH = 64

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_constructor = yaml.constructor.SafeConstructor()
_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
# Characters XML 1.0 cannot carry; they would break the feeds and the HTML.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")

class _Invalid:
    """Stands in for a value already reported as a problem, so validation can go on quietly."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()

Scalar = Union[str, int, float, bool, None, dt.date, dt.datetime]


@dataclass
class Node:
    """A YAML value with its 1-based line.  ``value`` is a Scalar, list[Node] or dict[str, Node]."""

    value: object
    line: int
    block: bool = False  # a block scalar (| or >): its text starts on the next line
    key_lines: dict[str, int] = field(default_factory=dict)  # for mappings: line of each key

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)


def read_text(path: Path, rel: str) -> tuple[str | None, list[Problem]]:
    """The file's text, or the problems that make it unreadable as UTF-8 text."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None, [Problem(rel, None, f"file is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB")]
        data = path.read_bytes()
    except OSError as e:
        return None, [Problem(rel, None, f"cannot read file: {e.strerror or e}")]
    if b"\x00" in data[:8192]:
        return None, [Problem(rel, None, "not a text file (it contains NUL bytes)")]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return None, [Problem(rel, line, f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded); save the file as UTF-8")]
    return text.removeprefix("\ufeff"), []


def parse(text: str, rel: str) -> tuple[Node | None, list[Problem]]:
    """Parse one YAML document into a Node tree, or report why it cannot be."""
    if _too_deep(text):
        return None, [Problem(rel, None, f"nesting deeper than {MAX_DEPTH} levels")]
    try:
        loader = _Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else None
        msg = " ".join(str(x) for x in (e.context, e.problem) if x)
        lines = text.splitlines()
        if line and line <= len(lines) and "\t" in lines[line - 1]:
            msg += " (tabs cannot indent YAML: use spaces)"
        return None, [Problem(rel, line, f"YAML syntax error: {msg}")]
    except yaml.YAMLError as e:
        return None, [Problem(rel, None, f"YAML error: {e}")]
    if root is None:
        return None, []
    walker = _Walker(rel)
    node = walker.convert(root, "", 0)
    # Problems inside values come back with the tree, so validation can report the rest of the file too.
    return node, walker.problems


def _too_deep(text: str) -> bool:
    """A cheap over-estimate of flow nesting: the YAML composer recurses once per level."""
    depth = 0
    for ch in text:
        if ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif ch in "]}":
            depth = max(0, depth - 1)
    return False


class _TooBig(Exception):
    pass


class _Walker:
    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.count = 0
        self.problems: list[Problem] = []

    def convert(self, ynode: yaml.Node, key: str, depth: int) -> Node | None:
        try:
            return self._convert(ynode, key, depth)
        except _TooBig:
            self.problems.append(Problem(self.rel, None, f"document too large once its aliases are expanded (over {MAX_NODES} values)"))
            return None

    def _convert(self, ynode: yaml.Node, path: str, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig
        line = ynode.start_mark.line + 1
        if depth > MAX_DEPTH:
            self.problems.append(Problem(self.rel, line, f"nesting deeper than {MAX_DEPTH} levels", path))
            return Node(INVALID, line)
        if isinstance(ynode, yaml.MappingNode):
            if ynode.tag != _TAG + "map":
                return self._bad_tag(ynode, line, path)
            out: dict[str, Node] = {}
            key_lines: dict[str, int] = {}
            for knode, vnode in ynode.value:
                kline = knode.start_mark.line + 1
                if knode.tag == _TAG + "merge":
                    self.problems.append(Problem(self.rel, kline, "YAML merge keys (<<) are not supported", path))
                    continue
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in _SCALAR_TAGS:
                    self.problems.append(Problem(self.rel, kline, "keys must be plain text", path))
                    continue
                key = str(knode.value)
                keypath = f"{path}.{key}" if path else key
                if key in key_lines:
                    self.problems.append(Problem(self.rel, kline, f"duplicate key (first at line {key_lines[key]})", keypath))
                    continue
                key_lines[key] = kline
                out[key] = self._convert(vnode, keypath, depth + 1)
            return Node(out, line, key_lines=key_lines)
        if isinstance(ynode, yaml.SequenceNode):
            if ynode.tag != _TAG + "seq":
                return self._bad_tag(ynode, line, path)
            return Node([self._convert(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(ynode.value, 1)], line)
        if ynode.tag not in _SCALAR_TAGS:
            return self._bad_tag(ynode, line, path)
        try:
            value = _constructor.construct_object(ynode)
        except (ValueError, OverflowError, yaml.YAMLError):
            kind = ynode.tag.removeprefix(_TAG)
            word = {"timestamp": "date"}.get(kind, kind)
            self.problems.append(Problem(self.rel, line, f"{ynode.value!r} is not a valid {word}", path))
            return Node(INVALID, line)
        if isinstance(value, str) and (m := _NOT_XML.search(value)):
            self.problems.append(Problem(self.rel, line, f"contains the control character U+{ord(m.group()):04X}, which cannot appear in HTML or XML", path))
            return Node(INVALID, line)
        block = ynode.style in ("|", ">")
        return Node(value, line + 1 if block else line, block=block)

    def _bad_tag(self, ynode: yaml.Node, line: int, path: str) -> Node:
        tag = ynode.tag.replace(_TAG, "!!", 1) if ynode.tag.startswith(_TAG) else ynode.tag
        self.problems.append(Problem(self.rel, line, f"YAML tag {tag} is not allowed: only text, numbers, booleans, dates, lists and mappings", path))
        return Node(INVALID, line)
