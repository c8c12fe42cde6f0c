"""The text side of YAML loading: line numbers as an editor shows them, the bounds on a
document's shape, and syntax errors worded for the editor of the file.

Rules:
- Line numbers are an editor's: NEL, LS and PS are not line breaks there.
- Nesting is bounded before anything recurses over it: libyaml's composer refuses 1,000
  levels, the tree is checked for 64 before it is walked; without libyaml, the parser's
  events are checked before any tree is built.
"""

from __future__ import annotations

import bisect
import re
from typing import Any

import yaml

from digest.core.errors import Problem

MAX_NODES = 100_000  # expanded nodes per document, aliases counted every time they are used
MAX_DEPTH = 64
TOO_DEEP = f"lists and mappings are nested more than {MAX_DEPTH} levels deep"
Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# Line numbers are the ones an editor shows.  YAML also counts NEL (U+0085), LS (U+2028)
# and PS (U+2029) as line breaks, which editors do not, so no line number is taken from
# the parser's marks: each is worked out from the mark's character index.
_EDITOR_BREAK = re.compile(r"\r\n|\r|\n")
_YAML_ONLY_BREAK = re.compile("[\x85\u2028\u2029]")
_BREAK_NAMES = {"\x85": "NEXT LINE", "\u2028": "LINE SEPARATOR", "\u2029": "PARAGRAPH SEPARATOR"}
LIBYAML = hasattr(yaml, "CSafeLoader") and Loader is yaml.CSafeLoader


class Lines:
    """The file's lines as an editor shows them, and the line of any character index."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lines = _EDITOR_BREAK.split(text)
        self.starts = [0, *(m.end() for m in _EDITOR_BREAK.finditer(text))]
        # The last line an editor shows with something on it: a file's final line break
        # does not start a line of its own, so nothing is reported past the end.
        self.count = max(1, len(self.lines) - (len(self.lines) > 1 and self.lines[-1] == ""))

    def at(self, index: int) -> int:
        """The 1-based line of the character at ``index`` (the end of the file is on the last line)."""
        return self.clamp(self.raw(index))

    def raw(self, index: int) -> int:
        """The line of ``index`` without the clamp (the end of a file after its final break is one line on)."""
        return bisect.bisect_right(self.starts, index)

    def of(self, mark: Any) -> int:  # yaml.Mark, or libyaml's own Mark
        return self.at(mark.index)

    def starts_line(self, index: int) -> bool:
        i = bisect.bisect_right(self.starts, index)
        return i > 0 and self.starts[i - 1] == index

    def clamp(self, line: int) -> int:
        return min(max(1, line), self.count)

    def char(self, mark: Any) -> str:
        return self.text[mark.index] if mark is not None and mark.index < len(self.text) else ""

    def byte_offset_to_index(self, offset: int) -> int:
        """libyaml reports a reader error's position in bytes of UTF-8, not in characters."""
        return len(self.text.encode("utf-8", "surrogatepass")[:offset].decode("utf-8", "ignore"))


def check_shape(text: str, rel: str, lines: Lines) -> Problem | None:
    depth = count = 0
    for event in yaml.parse(text, Loader=Loader):
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_DEPTH:
                return Problem(rel, _line(event, lines), TOO_DEEP)
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1
        if isinstance(event, yaml.NodeEvent):
            count += 1
            if count > MAX_NODES:
                return Problem(rel, _line(event, lines), f"has more than {MAX_NODES:,} values; split it up")
    return None


def check_tree(root: yaml.Node, rel: str, lines: Lines) -> Problem | None:
    """:func:`check_shape` on the composed tree: the same values counted in the same
    order (document order; an alias counts once, as its event does, and is not entered)."""
    count = 0
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > MAX_NODES:
            return Problem(rel, lines.of(node.start_mark), f"has more than {MAX_NODES:,} values; split it up")
        if id(node) in seen or not isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            continue
        seen.add(id(node))
        if depth + 1 > MAX_DEPTH:
            return Problem(rel, lines.of(node.start_mark), TOO_DEEP)
        children = [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else node.value
        stack.extend((child, depth + 1) for child in reversed(children))
    return None


def _line(event: yaml.Event, lines: Lines) -> int | None:
    return lines.of(event.start_mark) if event.start_mark else None


# Syntax errors: what the parser says → what the editor should do.  The parser's own
# wording differs between libyaml and pure-Python PyYAML; both are matched.
_CLOSERS = {"[": "]", "{": "}", '"': '"', "'": "'"}


def syntax_problem(e: yaml.MarkedYAMLError, lines: Lines) -> tuple[int | None, str]:
    """The line to fix and what to do there, for a YAML syntax error."""
    context, problem = e.context or "", e.problem or ""
    at = e.problem_mark or e.context_mark
    line = lines.of(at) if at else None
    start = lines.of(e.context_mark) if e.context_mark else line  # where the broken construct began
    if "maximum nesting depth" in problem:  # libyaml's own limit, met while looking ahead
        return line, TOO_DEEP
    source_line = lines.lines[line - 1] if line else ""
    indent = source_line[: len(source_line) - len(source_line.lstrip(" \t"))]
    found = lines.char(e.problem_mark)

    def syntax(where: int | None, message: str) -> tuple[int | None, str]:
        return where, f"YAML syntax error: {message}"

    # A line break only YAML sees (NEL, LS, PS) before the error is its likely cause.
    if at is not None and (m := _YAML_ONLY_BREAK.search(lines.text, 0, at.index + 1)):
        name = _BREAK_NAMES[m.group()]
        return syntax(
            lines.at(m.start()),
            f"this line holds the invisible character U+{ord(m.group()):04X} ({name}), which YAML reads as a line break"
            " though an editor shows none: replace it with a space or a real line break",
        )

    if re.search(r"\btab\b", problem) or found == "\t" or "\t" in indent:
        return syntax(line, "a tab is used for indentation or spacing here; YAML needs spaces")
    if "quoted scalar" in context and "end of stream" in problem:
        quote = lines.char(e.context_mark) or '"'
        return syntax(start, f"the text in quotes that starts on this line never ends: add the closing {quote}")
    if "quoted scalar" in context and "escape" in problem:
        return syntax(
            line,
            r'a backslash in "double quotes" starts an escape such as \n; write \\ for a backslash, or use single'
            r" quotes",
        )
    if "cannot start any token" in problem and found in ("@", "`"):
        return syntax(line, f"text cannot start with {found} unless it is in quotes: put the whole text in quotes")
    if "scanning an alias" in context or "undefined alias" in problem:
        return syntax(
            line,
            "text that starts with * is read as an alias (a reference to an &anchor): put the whole text in quotes",
        )
    if "flow node" in context and at is not None and at.index >= len(lines.text.rstrip()):
        # The file ends inside a flow collection: libyaml marks the end; the opener is what to fix.
        opened = max(lines.text.rfind("["), lines.text.rfind("{"))
        if opened >= 0:
            opener = lines.text[opened]
            return syntax(
                lines.at(opened),
                f"the {opener} that starts here is never closed with {_CLOSERS[opener]}: put the whole text in quotes"
                " if it is text",
            )
    if "flow sequence" in context or "flow mapping" in context:
        opener = lines.char(e.context_mark) or ("[" if "sequence" in context else "{")
        return syntax(
            start,
            f"the {opener} that starts here is never closed with {_CLOSERS.get(opener, ']')}: put the whole text in"
            " quotes if it is text",
        )
    if "single document" in context:
        return syntax(line, "a second YAML document starts here (after ---): keep one document per file")
    if "mapping values are not allowed" in problem:
        return syntax(
            line,
            "a colon and space (': ') cannot appear here: put the whole text in quotes, or indent this line like the"
            " ones around it",
        )
    if "simple key" in context:
        return syntax(
            start, "this line has no 'key: value' where one is expected: check its indentation, or put text in quotes"
        )
    if "block mapping" in context or "block collection" in context or "expected <block end>" in problem:
        value = _value_of(source_line)
        if value[:1] in _CLOSERS:
            return syntax(
                line,
                f"a value that starts with {value[0]} ends at the matching {_CLOSERS[value[0]]}, and more follows it:"
                " put the whole text in quotes",
            )
        return syntax(line, "this line is not indented like the lines around it: check its spaces")
    return syntax(line, " ".join(x for x in (context, problem) if x))


def _value_of(line: str) -> str:
    """What follows the key (and any list dashes) on a line of YAML."""
    rest = line.strip()
    while rest.startswith("- "):
        rest = rest[2:].lstrip()
    m = re.match(r"[^\s:\[\]{}\"'][^:]*:\s+", rest)
    return rest[m.end() :] if m else rest
