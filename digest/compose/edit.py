"""Adding items to issue files that people also edit by hand.

Rules:
- Nothing already in the file changes: comments, order, quoting and formatting stay
  byte for byte.  New items are *inserted* as YAML text after the last item of the
  target section; a new section goes after the last section.
- A target written in flow style (``items: [...]``) is refused with a clear error:
  appending to it would mean rewriting it.
- The edited text must parse to the old document plus exactly the new items, load as
  an issue without errors (what `digest check` asks), and only then replaces the file,
  atomically (a temporary file beside it, then a rename).  Otherwise nothing is written.
- Every writer of an issue file goes through rewrite_issue: under the issues folder's lock it
  edits the file as it is at that moment, so concurrent writers never lose an edit; a writer
  that showed the file to someone (the browser editor) passes the version it read, and a file
  changed on disk since is a conflict, never overwritten.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from digest.compose.lock import issues_locked
from digest.core.errors import DigestError, Problem
from digest.core.issues import load_issue
from digest.core.models import Config

Fields = dict[str, Any]  # one item as it goes into the file: title, url, summary...


@dataclass
class Batch:
    """Items bound for one section (by title; None: the last section; or by ``position``)."""

    section: str | None
    items: list[Fields] = field(default_factory=list)
    # The section at this place in the list (from 0), whatever its title: a translation's sections have their
    # own titles.  A new section titled ``section`` when there are not that many.
    position: int | None = None


def append_items(text: str, rel: str, batches: Sequence[Batch]) -> str:
    """``text`` with each batch's items inserted at the end of its section; raise DigestError if
    the file cannot take them."""
    for batch in _in_order(batches):
        if batch.items:
            text = _append(text, rel, batch)
    return text


def _in_order(batches: Sequence[Batch]) -> list[Batch]:
    # "The last section" means the last one before this edit: fill it before new sections follow it.
    return sorted(batches, key=lambda b: b.section is not None or b.position is not None)


def _append(text: str, rel: str, batch: Batch) -> str:
    root = _compose(text, rel)
    if root is None:
        raise DigestError([Problem(rel, 1, "is empty: an issue needs at least date and sections")])
    if not isinstance(root, yaml.MappingNode):
        raise DigestError([Problem(rel, root.start_mark.line + 1, "must be a group of 'key: value' lines")])
    new_section = (
        {"title": batch.section, "items": batch.items} if batch.section is not None else {"items": batch.items}
    )
    seq = _value(root, "sections")
    key = _key(root, "sections")
    if key is None:  # no sections: key at all: it goes at the end of the file
        return _insert(text, len(text), _dump({"sections": [new_section]}, 0, 0, top=True))
    assert seq is not None
    _refuse_flow(seq, rel, "sections")
    if _is_null(seq):
        dash = key.start_mark.column + 2
        return _insert(text, _line_end(text, key.end_mark.index), _dump([new_section], dash, dash + 2))
    if not isinstance(seq, yaml.SequenceNode):
        raise DigestError([Problem(rel, seq.start_mark.line + 1, "must be a list of sections", "sections")])
    sections = seq.value
    target = _find(sections, batch.section, batch.position)
    if target is None:  # a new section after the last one, indented like the others
        if not sections:
            raise DigestError([Problem(rel, seq.start_mark.line + 1, "has no sections to add after", "sections")])
        dash, indent = _dash_column(text, sections[-1]), sections[-1].start_mark.column
        return _insert(text, _after(text, sections[-1]), _dump([new_section], dash, indent))
    index, section = target
    where = f"sections[{index + 1}]"
    if not isinstance(section, yaml.MappingNode):
        raise DigestError([Problem(rel, section.start_mark.line + 1, "must be a group of 'key: value' lines", where)])
    _refuse_flow(section, rel, where)
    items = _value(section, "items")
    items_key = _key(section, "items")
    if items_key is None:
        indent = section.start_mark.column
        return _insert(text, _after(text, section), _dump({"items": batch.items}, indent, indent, top=True))
    assert items is not None
    _refuse_flow(items, rel, f"{where}.items")
    if _is_null(items):
        dash = items_key.start_mark.column + 2
        return _insert(text, _line_end(text, items_key.end_mark.index), _dump(batch.items, dash, dash + 2))
    if not isinstance(items, yaml.SequenceNode) or not items.value:
        raise DigestError([Problem(rel, items.start_mark.line + 1, "must be a list of items", f"{where}.items")])
    last = items.value[-1]
    return _insert(text, _after(text, last), _dump(batch.items, _dash_column(text, last), last.start_mark.column))


def expected_after(before: Any, batches: Sequence[Batch]) -> Any:
    """What the edited file must parse to: the old document with the new items in place (a check on the text edit)."""
    import copy

    doc = copy.deepcopy(before)
    for batch in _in_order(batches):
        if not batch.items:
            continue
        sections = doc.get("sections") if isinstance(doc, dict) else None
        if sections is None:
            doc["sections"] = sections = []
        found = _find_data(sections, batch.section, batch.position)
        if found is None:
            sections.append(
                {"title": batch.section, "items": list(batch.items)}
                if batch.section is not None
                else {"items": list(batch.items)}
            )
        elif found.get("items") is None:
            found["items"] = list(batch.items)
        else:
            found["items"].extend(batch.items)
    return doc


def version_of(data: bytes) -> str:
    """A file's version as a writer that read it passes back: the SHA-256 of its bytes, in hex."""
    return hashlib.sha256(data).hexdigest()


def rewrite_issue(path: Path, rel: str, change: Callable[[bytes], bytes], *, version: str | None = None) -> bytes:
    """The one way digest replaces an issue file (add, collect, the browser editor); returns what was written.

    Under the issues folder's lock (digest.compose.lock): the file is read as it is now,
    ``change`` makes the new bytes from them (raising DigestError to refuse), and they replace
    the file atomically.  So two writers at once never lose each other's edit: the second waits
    and edits what the first wrote.  ``version`` (see :func:`version_of`) is what a writer that
    showed the file to someone read: if the file has changed on disk since, nothing is written
    and the conflict is an error, so an edit made elsewhere is never overwritten."""
    with issues_locked(path.parent, rel.rpartition("/")[0] or "issues"):
        try:
            before = path.read_bytes()
        except FileNotFoundError:
            raise DigestError([Problem(rel, None, "no longer exists; nothing was written")]) from None
        except OSError as e:
            why = f"cannot be read ({e.strerror or e}); nothing was written"
            raise DigestError([Problem(rel, None, why)]) from None
        if version is not None and version_of(before) != version:
            raise DigestError([Problem(rel, None, CONFLICT)])
        data = change(before)
        if data != before:
            write_atomic(path, data, before, rel)
        return data


CONFLICT = (
    "changed on disk since it was read (another command, an editor, git); nothing was written: reload it and edit again"
)


def save_issue(
    config: Config,
    number: int,
    path: Path,
    rel: str,
    batches: Sequence[Batch],
    *,
    version: str | None = None,
    refuse: Callable[[bytes], None] | None = None,
    allowed: Callable[[Problem], bool] | None = None,
) -> bytes:
    """Insert the batches into the issue file as it is now, check the result, and replace the file atomically.
    ``refuse`` sees the file as it is under the lock, before the edit, and may refuse it (raise DigestError).
    ``allowed``: errors of the result that do not stop the edit (translate adds untranslated items to a published
    translation: `check` then fails on them, as it should)."""

    def change(before: bytes) -> bytes:
        if refuse is not None:
            refuse(before)
        return _appended(config, number, path, rel, before, batches, allowed)

    return rewrite_issue(path, rel, change, version=version)


def replace_issue(config: Config, number: int, path: Path, rel: str, data: bytes, *, version: str) -> None:
    """Replace the issue file with ``data`` (an editor's whole new text), only if it loads without
    errors and the file is still the ``version`` the editor read."""

    def checked(before: bytes) -> bytes:
        _, problems = load_issue(config, number, path, rel, data=data)
        if errors := [p for p in problems if not p.warning]:
            raise DigestError(errors)
        return data

    rewrite_issue(path, rel, checked, version=version)


def _appended(
    config: Config,
    number: int,
    path: Path,
    rel: str,
    before: bytes,
    batches: Sequence[Batch],
    allowed: Callable[[Problem], bool] | None = None,
) -> bytes:
    text = before.decode("utf-8")
    # A file written with Windows line ends keeps them: edit it as \n, write it back as \r\n.
    crlf = text.count("\n") == text.count("\r\n") > 0
    if crlf:
        text = text.replace("\r\n", "\n")
    edited = append_items(text, rel, batches)
    data = (edited.replace("\n", "\r\n") if crlf else edited).encode("utf-8")
    try:
        parsed = yaml.safe_load(edited)
    except yaml.YAMLError as e:
        raise AssertionError(f"the edit of {rel} does not parse: {e}") from None  # a bug in the edit, never the user's
    if parsed != expected_after(yaml.safe_load(text) or {}, batches):
        raise AssertionError(f"the edit of {rel} would change what is already there")
    _, problems = load_issue(config, number, path, rel, data=data)
    errors = [p for p in problems if not p.warning and not (allowed and allowed(p))]
    if errors:
        raise DigestError(errors)
    return data


def dump_document(value: dict[str, Any]) -> str:
    """A whole new issue file's YAML, written as `add` writes items (block style, text as | blocks)."""
    return _dump(value, 0, 0, top=True)


def write_atomic(path: Path, data: bytes, before: bytes | None, name: str | None = None) -> None:
    """Replace ``path`` with ``data`` by a rename, unless someone changed it since it was read as ``before``.
    A file that cannot be written (a read-only folder, a full disk) is the user's problem, named as ``name``."""
    real = path.resolve()
    try:
        if before is not None and real.read_bytes() != before:
            raise DigestError(
                [Problem(name or str(path), None, "changed while digest was editing it; run the command again")]
            )
        put_file(real, data, real.stat().st_mode & 0o7777 if real.exists() else FILE_MODE)
    except OSError as e:
        raise DigestError(
            [Problem(name or str(path), None, f"cannot be written ({e.strerror or e}); it is unchanged")]
        ) from None


def put_file(path: Path, data: bytes, mode: int) -> None:
    """``data`` as the file ``path``, by a rename: a reader sees the old file or the new one, and a link at ``path``
    is replaced, never written through."""
    tmp = write_temporary(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_temporary(path: Path, data: bytes, mode: int) -> Path:
    """A file beside ``path`` holding ``data`` on disk (fsynced) with ``mode``, to be renamed
    or linked into place: a reader never sees a half-written file."""
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


# What a new file gets, as open() would give it; read once, at import, because the umask
# can only be read by setting it, which is not safe while other threads create files.
FILE_MODE = 0o666 & ~_umask()


def _compose(text: str, rel: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise DigestError(
            [Problem(rel, line, f"is not valid YAML ({getattr(e, 'problem', None) or e}): fix it first")]
        ) from None


def _key(mapping: yaml.MappingNode, name: str) -> yaml.Node | None:
    return next((k for k, _ in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _value(mapping: yaml.Node, name: str) -> yaml.Node | None:
    if not isinstance(mapping, yaml.MappingNode):
        return None
    return next((v for k, v in mapping.value if isinstance(k, yaml.ScalarNode) and k.value == name), None)


def _title(section: yaml.Node) -> str | None:
    t = _value(section, "title")
    return t.value if isinstance(t, yaml.ScalarNode) and not _is_null(t) else None


def _find(sections: list[yaml.Node], title: str | None, position: int | None = None) -> tuple[int, yaml.Node] | None:
    if position is not None:
        return (position, sections[position]) if position < len(sections) else None
    if title is None:
        return (len(sections) - 1, sections[-1]) if sections else None
    wanted = title.strip().casefold()
    return next(((i, s) for i, s in enumerate(sections) if (_title(s) or "").strip().casefold() == wanted), None)


def _find_data(sections: list[Any], title: str | None, position: int | None = None) -> Any:
    if position is not None:
        return sections[position] if position < len(sections) else None
    if title is None:
        return sections[-1] if sections else None
    wanted = title.strip().casefold()
    return next(
        (s for s in sections if isinstance(s, dict) and str(s.get("title") or "").strip().casefold() == wanted), None
    )


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _refuse_flow(node: yaml.Node, rel: str, where: str) -> None:
    if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)) and node.flow_style:
        brackets = "[...]" if isinstance(node, yaml.SequenceNode) else "{...}"
        raise DigestError(
            [
                Problem(
                    rel,
                    node.start_mark.line + 1,
                    f"is written in flow style ({brackets}); digest adds only to block lists, one '- ' entry per line:"
                    " rewrite it that way first",
                    where,
                )
            ]
        )


def _after(text: str, node: yaml.Node) -> int:
    """Where text goes after ``node``: the start of the line after its last value (comments there stay after it)."""
    while True:
        if isinstance(node, yaml.MappingNode) and node.value and not node.flow_style:
            node = node.value[-1][1]
        elif isinstance(node, yaml.SequenceNode) and node.value and not node.flow_style:
            node = node.value[-1]
        else:
            break
    return _line_end(text, node.end_mark.index)


def _line_end(text: str, index: int) -> int:
    if index > 0 and text[index - 1] == "\n":
        return index  # a block scalar ends at the start of a line already
    end = text.find("\n", index)
    return len(text) if end < 0 else end + 1


def _dash_column(text: str, entry: yaml.Node) -> int:
    """The column of the '- ' that starts a list entry (its content may start further right)."""
    line_start = text.rfind("\n", 0, entry.start_mark.index) + 1
    before = text[line_start : entry.start_mark.index].rstrip()
    return max(len(before) - 1, 0) if before.endswith("-") else max(entry.start_mark.column - 2, 0)


def _insert(text: str, at: int, addition: str) -> str:
    head = text[:at]
    if head and not head.endswith("\n"):
        head += "\n"
    return head + addition + text[at:]


class _Dumper(yaml.SafeDumper):
    """Readable YAML for people to edit: several lines of text as a | block, never a long "…\\n…" string;
    lists indented under their key, as people write them."""

    def ignore_aliases(self, data: Any) -> bool:
        return True  # the same fields twice are written out twice, never as &anchor / *alias

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # YAML reads U+0085, U+2028 and U+2029 as line breaks: only a double-quoted string (which escapes them) keeps them.
    if any(c in value for c in "\x85\u2028\u2029"):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style='"')
    if "\n" not in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value)
    # A | block keeps at most one final line break as written ("keep" chomping, |+, would take in the blank
    # lines that follow it in the file, and an empty block needs it): other text with line breaks is "…\n…".
    block = value.rstrip("\n") != "" and not value.endswith("\n\n")
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if block else '"')


_Dumper.add_representer(str, _represent_str)


def _dump(value: Any, dash: int, indent: int, top: bool = False) -> str:
    """``value`` (a list of entries, or with top=True a mapping) as block YAML whose entries
    start at column ``dash``."""
    body = yaml.dump(
        value, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=100, indent=2
    )
    lines = body.splitlines()
    if top:
        return "".join(" " * dash + line + "\n" if line else "\n" for line in lines)
    # yaml.dump writes a list as "- key: v\n  key: v": move each entry to the file's columns.
    out = []
    for line in lines:
        if line.startswith("- "):
            out.append(" " * dash + "-" + " " * max(indent - dash - 1, 1) + line[2:])
        elif line:
            out.append(" " * (indent - 2) + line if indent >= 2 else line)
        else:
            out.append("")
    return "".join(line + "\n" for line in out)
