"""How one value is written into an issue file by the browser editor.

Rules:
- A value keeps the style its key had: plain stays plain, 'single' and "double" quotes stay,
  a ``|`` block stays a block (its indentation too), a ``>`` block is folded again at the width
  its lines had.  Where that style cannot hold the new value (a plain ``yes``, a quote inside
  single quotes that is fine, a line break in a plain scalar), the next style that can is used:
  plain, then a ``|`` block for several lines, then double quotes, which hold anything.
- Each candidate is only a proposal: the caller parses the whole edited file and takes the
  first candidate whose document is exactly the intended one (digest.compose.yamlops).
- Dates are written as ``2026-03-27`` (plain, a YAML date), booleans as ``true``/``false``.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from dataclasses import dataclass

import yaml

Value = str | bool | int | dt.date | None


@dataclass(frozen=True)
class Written:
    """A value as text: ``inline`` goes after ``key: `` on the key's line; ``block`` (a block
    scalar's lines, each ending in a newline) follows that line."""

    inline: str
    block: str = ""


def old_style(text: str, node: yaml.Node) -> str:
    """The style of a scalar as written: "plain", "'", '"', "|" or ">"."""
    style = getattr(node, "style", None)
    return style if isinstance(style, str) and style in ("'", '"', "|", ">") else "plain"


def candidates(
    value: Value, style: str, indent: int, flow: bool, width: int = 80, old: tuple[str, ...] = ()
) -> list[Written]:
    """Ways to write ``value``, the most faithful to ``style`` first; a block's lines are indented
    by ``indent`` spaces; ``flow``: inside [...] or {...}, where blocks cannot go; ``old``: a > block's
    lines as they were (without their indentation), whose breaks are kept where their words are."""
    if value is None:
        return [Written("")]
    if isinstance(value, bool):
        return [Written("true" if value else "false")]
    if isinstance(value, dt.date):
        return [Written(value.isoformat())]
    if isinstance(value, int):
        return [Written(str(value))]
    out: list[Written] = []
    multi = "\n" in value.rstrip("\n") or value.endswith("\n")
    order = [style, "plain", "|", '"'] if multi else [style, "plain", '"', "|"]
    if flow:
        order = [s for s in order if s not in ("|", ">")]
    for s in dict.fromkeys(order):
        w = _as(value, s, indent, flow, width, multi, old)
        if w is not None:
            out.append(w)
    return out


def _as(
    value: str, style: str, indent: int, flow: bool, width: int, multi: bool, old: tuple[str, ...] = ()
) -> Written | None:
    if style == "plain":
        if multi or not value or value != value.strip() or "\t" in value or not _printable(value):
            return None
        return Written(value)
    if style == "'":
        if multi or "\t" in value or not _printable(value):
            return None
        return Written("'" + value.replace("'", "''") + "'")
    if style == '"':
        return Written(_double(value))
    if flow or not value or any(c in value for c in "\r\x85\u2028\u2029") or not _printable(value):
        return None
    if style == "|":
        return _literal(value, indent)
    if style == ">":
        return _folded(value, indent, width, old)
    return None


def _printable(value: str) -> bool:
    """Whether YAML can hold ``value`` outside double quotes (its printable set; line breaks but \\n are not)."""
    return all(c in "\n\t" or _yaml_char(c) for c in value)


def _yaml_char(c: str) -> bool:
    n = ord(c)
    return (
        0x20 <= n <= 0x7E
        or 0xA0 <= n <= 0xD7FF
        and c not in "\u2028\u2029"
        or 0xE000 <= n <= 0xFFFD
        and n != 0xFEFF
        or n >= 0x10000
    )


def _double(value: str) -> str:
    dumped = yaml.dump(value, default_style='"', allow_unicode=True, width=1_000_000_000)
    return dumped.rstrip("\n").removesuffix("\n...").rstrip("\n")


def _chomp(value: str) -> tuple[str, str]:
    """(the block's chomping indicator, the text without its final line breaks)."""
    body = value.rstrip("\n")
    ends = len(value) - len(body)
    return ("-" if ends == 0 else "" if ends == 1 else "+"), body


def _literal(value: str, indent: int) -> Written | None:
    chomp, body = _chomp(value)
    lines = body.split("\n")
    if lines[0][:1] in (" ", "\t", ""):
        return None  # a first line starting with a space would set the block's indentation: quoted instead
    extra = "\n" * (len(value) - len(body) - 1) if chomp == "+" else ""
    pad = " " * indent
    text = "".join(pad + line + "\n" if line else "\n" for line in lines)
    return Written("|" + chomp, text + extra)


def _folded(value: str, indent: int, width: int, old: tuple[str, ...] = ()) -> Written | None:
    chomp, body = _chomp(value)
    if chomp == "+":
        return None
    paragraphs = body.split("\n")
    if any(not p or p[0] in " \t" or p != p.rstrip() or "  " in p for p in paragraphs):
        return None  # kept literally by a folded block only with care: a literal block does it plainly
    before = _paragraphs(old)
    pad = " " * indent
    out = []
    for n, p in enumerate(paragraphs):
        was = before[n] if len(before) == len(paragraphs) else []
        lines = _rewrap(p, was, max(width, 20))
        out.append("".join(pad + line + "\n" for line in lines))
    return Written(">" + chomp, "\n".join(out))


def _paragraphs(lines: tuple[str, ...]) -> list[list[str]]:
    """A > block's lines grouped by paragraph (one blank line between two)."""
    out: list[list[str]] = [[]]
    for line in lines:
        if line.strip():
            out[-1].append(line.strip())
        elif out[-1]:
            out.append([])
    return [p for p in out if p]


def _rewrap(text: str, was: list[str], width: int) -> list[str]:
    """``text`` as lines of at most ``width`` characters, keeping the lines it had (``was``) at its start
    and at its end: an edit changes the lines around the edited words, not the whole paragraph."""
    head: list[str] = []
    rest = text
    for line in was:
        if rest == line or rest.startswith(line + " "):
            head.append(line)
            rest = rest[len(line) + 1 :]
        else:
            break
    tail: list[str] = []
    for line in reversed(was[len(head) :]):
        if rest == line or rest.endswith(" " + line):
            tail.insert(0, line)
            rest = rest[: max(len(rest) - len(line) - 1, 0)]
        else:
            break
    middle = textwrap.wrap(rest, width, break_long_words=False, break_on_hyphens=False) if rest else []
    return head + middle + tail
