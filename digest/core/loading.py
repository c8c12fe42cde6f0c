"""Safe YAML loading that keeps the line of every value.

Rules:
- Only plain data: maps, lists, strings, numbers, booleans, nulls and dates.  Any other
  tag (``!!python/object`` and friends) is an error, never constructed.
- Duplicate keys in one mapping are errors (YAML would silently keep the last one).
- Aliases are allowed, but the expanded document is bounded (in values and in
  characters) so an alias bomb ("billion laughs") is refused instead of exhausting memory.
- Nesting is bounded before anything recurses over it, so ``[[[[…`` cannot exhaust the
  stack: libyaml's composer refuses 1,000 levels, and the tree is checked for 64 before it
  is walked (without libyaml, the parser's events are checked before any tree is built).
- Files must be UTF-8 text of bounded size.
- Every problem is worded for the editor of the file, not for a YAML expert: syntax
  errors say what to change, at the line where the change is needed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from digest.core.errors import Problem
from digest.core.yamltext import (
    LIBYAML,
    MAX_DEPTH,
    MAX_NODES,
    TOO_DEEP,
    Lines,
    Loader,
    check_shape,
    check_tree,
    syntax_problem,
)

MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_CHARS = MAX_FILE_BYTES  # expanded text per document: only aliases can go beyond the file's size
SHORT = 60  # longest user value quoted in a message
TOO_LARGE = (
    f"is larger than {MAX_FILE_BYTES // 1024 // 1024} MiB, too large for a newsletter's YAML file: is it the right"
    " file?"
)

_TAG = "tag:yaml.org,2002:"
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
# An explicit tag (``!!bool maybe``) makes PyYAML construct a value that its resolver
# never checked, and its constructors crash on text outside their grammar; so an
# explicitly tagged scalar must first match the pattern the resolver uses for that tag.
_GRAMMAR = {
    tag: re.compile(rx.pattern, rx.flags)
    for resolvers in yaml.resolver.Resolver.yaml_implicit_resolvers.values()
    for tag, rx in resolvers
    if tag in _SCALAR_TAGS
}
_WORDS = {
    "timestamp": "date",
    "bool": "boolean (true or false)",
    "int": "whole number",
    "float": "number",
    "null": "null (write nothing, or ~)",
}
# Characters XML 1.0 forbids (C0 controls but tab/newline/return, lone surrogates,
# U+FFFE/U+FFFF): they would break the feeds and the HTML, so validation refuses them.
NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


class _Invalid:
    """Stands in for a value already reported as a problem, so validation can go on quietly."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = _Invalid()

Scalar = str | int | float | bool | None | dt.date | dt.datetime


@dataclass
class Node:
    """A YAML value with its 1-based line.  ``value`` is a Scalar, list[Node] or dict[str, Node]."""

    value: object
    line: int
    block: bool = False  # a block scalar (| or >): its text starts on the next line
    key_lines: dict[str, int] = field(default_factory=dict)  # for mappings: line of each key
    # For text: the last line it spans, and the whole file's lines (shared, not copied),
    # so that a problem inside a long text can be reported at its own line.
    last_line: int = 0
    source: Sequence[str] = ()

    @property
    def is_map(self) -> bool:
        return isinstance(self.value, dict)

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, list)


def short(value: object, limit: int = SHORT) -> str:
    """``repr`` of a user value, cut short so one long value cannot flood the output."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[: limit - 1]) + "…"
    return repr(value)


def cut(text: str, limit: int = SHORT) -> str:
    """``text`` cut short to ``limit`` characters, for keys and tags quoted in a message."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def read_text(path: Path, rel: str) -> tuple[str | None, list[Problem]]:
    """The file's text, or the problems that make it unreadable as UTF-8 text."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None, [Problem(rel, None, TOO_LARGE)]
        data = path.read_bytes()
    except OSError as e:
        return None, [Problem(rel, None, f"cannot read file: {e.strerror or e}")]
    return decode(data, rel)


def decode(data: bytes, rel: str) -> tuple[str | None, list[Problem]]:
    """The text of a file's bytes, or the problems that make it unreadable as UTF-8 text."""
    if len(data) > MAX_FILE_BYTES:
        return None, [Problem(rel, None, TOO_LARGE)]
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return None, [Problem(rel, None, "is saved as UTF-16 text; save it as UTF-8")]
    if b"\x00" in data[:8192]:
        return None, [
            Problem(
                rel,
                None,
                "is not a text file (it contains NUL bytes, like an image or an archive); it must be YAML text saved as"
                " UTF-8",
            )
        ]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        return None, [
            Problem(rel, line, f"not UTF-8 text (byte 0x{data[e.start]:02x} cannot be decoded); save the file as UTF-8")
        ]
    return text.removeprefix("\ufeff"), []


def parse(text: str, rel: str) -> tuple[Node | None, list[Problem]]:
    """Parse one YAML document into a Node tree, or report why it cannot be."""
    lines = Lines(text)
    try:
        # PyYAML's own composer recurses once per level in Python, so without libyaml a
        # first pass over the parser's events bounds nesting before it builds anything.
        # libyaml's composer is C and refuses nesting past 1,000 levels itself: the file
        # is parsed once, and the tree checked before it is walked.
        if not LIBYAML and (problem := check_shape(text, rel, lines)) is not None:
            return None, [problem]
        loader = Loader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
        if LIBYAML and root is not None and (problem := check_tree(root, rel, lines)) is not None:
            return None, [problem]
    except yaml.reader.ReaderError as e:
        at = lines.at(lines.byte_offset_to_index(e.position) if LIBYAML else e.position)
        return None, [
            Problem(
                rel,
                at,
                f"contains the invisible control character U+{e.character:04X}, which YAML files cannot hold:"
                " delete it",
            )
        ]
    except yaml.MarkedYAMLError as e:
        if LIBYAML and "maximum nesting depth" in (e.problem or ""):
            # libyaml stops 1,000 levels down; the editor needs the line where 64 are passed
            # (on one line of brackets its scanner meets its limit first: that line it is).
            with contextlib.suppress(yaml.YAMLError):
                if (problem := check_shape(text, rel, lines)) is not None:
                    return None, [problem]
        where, message = syntax_problem(e, lines)
        return None, [Problem(rel, where, message)]
    except yaml.YAMLError as e:
        return None, [Problem(rel, None, f"YAML error: {e}")]
    if root is None:
        return None, []
    walker = _Walker(rel, lines)
    node = walker.convert(root)
    # Problems inside values come back with the tree, so validation can report the rest of the file too.
    return node, walker.problems


class _TooBig(Exception):
    pass


class _Walker:
    def __init__(self, rel: str, lines: Lines) -> None:
        self.rel = rel
        self.lines = lines
        self.count = 0
        self.chars = 0
        self.top: tuple[int, str] = (1, "")  # the top-level entry being read: (line, key)
        self.open: set[int] = set()  # the lists and mappings being read, to catch an alias to its own container
        self.problems: list[Problem] = []
        # A fresh constructor per document: it caches every value it builds.
        self.constructor = yaml.constructor.SafeConstructor()

    def convert(self, ynode: yaml.Node) -> Node | None:
        try:
            return self._convert(ynode, "", 0)
        except _TooBig as e:
            line, key = self.top
            self.problems.append(
                Problem(
                    self.rel,
                    line,
                    f"uses aliases (*name) that repeat it to more than {e}; write the values out instead",
                    key,
                )
            )
            return None

    def _convert(self, ynode: yaml.Node, path: str, depth: int) -> Node:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooBig(f"{MAX_NODES:,} values")
        line = self.lines.of(ynode.start_mark)
        if depth > MAX_DEPTH:  # unreachable after check_tree, unless aliases nest deeper
            self.problems.append(Problem(self.rel, line, TOO_DEEP, path))
            return Node(INVALID, line)
        if isinstance(ynode, (yaml.MappingNode, yaml.SequenceNode)):
            if id(ynode) in self.open:
                self.problems.append(
                    Problem(
                        self.rel, line, "an alias (*name) here repeats a list or mapping inside itself, endlessly", path
                    )
                )
                return Node(INVALID, line)
            self.open.add(id(ynode))
            try:
                return self._collection(ynode, line, path, depth)
            finally:
                self.open.discard(id(ynode))
        return self._scalar(ynode, line, path)

    def _collection(self, ynode: yaml.Node, line: int, path: str, depth: int) -> Node:
        if isinstance(ynode, yaml.MappingNode):
            if ynode.tag != _TAG + "map":
                return self._bad_tag(ynode, line, path)
            if ynode.flow_style and any(isinstance(k, yaml.MappingNode) and k.flow_style for k, _ in ynode.value):
                return self._template_braces(ynode, line, path)
            out: dict[str, Node] = {}
            key_lines: dict[str, int] = {}
            for knode, vnode in ynode.value:
                kline = self.lines.of(knode.start_mark)
                if knode.tag == _TAG + "merge":
                    self.problems.append(
                        Problem(self.rel, kline, "YAML merge keys (<<) are not supported: write the keys out", path)
                    )
                    continue
                if not isinstance(knode, yaml.ScalarNode) or knode.tag not in _SCALAR_TAGS:
                    self.problems.append(Problem(self.rel, kline, "keys must be plain text", path))
                    continue
                key = str(knode.value)
                keypath = _join(path, key)
                if depth == 0:
                    self.top = (kline, keypath)
                if key in key_lines:
                    self.problems.append(
                        Problem(
                            self.rel, kline, f"duplicate key (first at line {key_lines[key]}): keep only one", keypath
                        )
                    )
                    continue
                key_lines[key] = kline
                out[key] = self._convert(vnode, keypath, depth + 1)
            return Node(out, line, key_lines=key_lines)
        if ynode.tag != _TAG + "seq":
            return self._bad_tag(ynode, line, path)
        return Node([self._convert(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(ynode.value, 1)], line)

    def _scalar(self, ynode: yaml.Node, line: int, path: str) -> Node:
        if ynode.tag not in _SCALAR_TAGS:
            return self._bad_tag(ynode, line, path)
        self.chars += len(ynode.value)
        if self.chars > MAX_CHARS:
            raise _TooBig(f"{MAX_CHARS // 1024 // 1024} MiB of text")
        grammar = _GRAMMAR.get(ynode.tag)
        try:
            if grammar is not None and not grammar.match(ynode.value):
                raise ValueError(ynode.value)
            value = self.constructor.construct_object(ynode)
        except (ValueError, OverflowError, ArithmeticError, yaml.YAMLError):
            kind = ynode.tag.removeprefix(_TAG)
            self.problems.append(
                Problem(self.rel, line, f"{short(ynode.value)} is not a valid {_WORDS.get(kind, kind)}", path)
            )
            return Node(INVALID, line)
        if isinstance(value, str) and (m := NOT_XML.search(value)):
            self.problems.append(
                Problem(
                    self.rel,
                    line,
                    f"contains the control character U+{ord(m.group()):04X}, which cannot appear in HTML or XML",
                    path,
                )
            )
            return Node(INVALID, line)
        block = getattr(ynode, "style", None) in ("|", ">")  # scalar nodes have a style
        first = self.lines.clamp(line + 1) if block else line  # an empty block scalar at the end: its own line
        if not isinstance(value, str):
            return Node(value, first, block=block)
        end = ynode.end_mark.index
        # A block scalar ends at the start of the next line; any other scalar just after its last character.
        last = self.lines.clamp(self.lines.raw(end) - (1 if block and self.lines.starts_line(end) else 0))
        return Node(value, first, block=block, last_line=max(first, last), source=self.lines.lines)

    def _bad_tag(self, ynode: yaml.Node, line: int, path: str) -> Node:
        tag = ynode.tag.replace(_TAG, "!!", 1) if ynode.tag.startswith(_TAG) else ynode.tag
        if ynode.tag in _SCALAR_TAGS | {_TAG + "map", _TAG + "seq"}:  # a plain-data tag on the wrong kind of value
            kind = (
                "a mapping"
                if isinstance(ynode, yaml.MappingNode)
                else "a list"
                if isinstance(ynode, yaml.SequenceNode)
                else "a single value"
            )
            self.problems.append(
                Problem(self.rel, line, f"YAML tag {tag} cannot be put on {kind}: delete the tag", path)
            )
            return Node(INVALID, line)
        self.problems.append(
            Problem(
                self.rel,
                line,
                f"YAML tag {cut(tag)} is not allowed: only text, numbers, booleans, dates, lists and mappings",
                path,
            )
        )
        return Node(INVALID, line)

    def _template_braces(self, ynode: yaml.Node, line: int, path: str) -> Node:
        """``key: {{ name }}`` reads as a mapping inside a mapping; it is meant as text."""
        written = self.lines.text[ynode.start_mark.index : ynode.end_mark.index]
        written = "" if re.search("[\r\n\x85\u2028\u2029]", written) else written
        example = f": write {short(written)}" if written else ""
        self.problems.append(Problem(self.rel, line, f"text with {{{{ … }}}} must be put in quotes{example}", path))
        return Node(INVALID, line)


def _join(path: str, key: str) -> str:
    """A key path such as ``sections[1].items[2].url``; an absurdly long key is cut short."""
    key = cut(key)
    return f"{path}.{key}" if path else key
