"""The editor of `digest serve`: what its page is told, and what its requests do.

Rules:
- The page edits one issue file and holds the version (digest.compose.edit.version_of) it
  was shown; every write names it, and a file changed on disk since is refused
  (HTTP 409), both versions intact: the page offers to reload.
- Writes go only to the issue files the preview lists (issues/) and to images/, never
  through a symbolic link; every issue write goes through digest.compose (the writers'
  lock, validation as `digest check`, an atomic replace).
- After a write the preview takes in the file at once (not only when the watcher sees
  it), so the email shown beside the editor is the saved one.
- Add link, Collect and New issue are `digest add`, `digest collect` and `digest new`;
  Publish is draft: false (and a date) followed by the pre-send gate; Commit is git's.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import stat
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from digest.compose import git
from digest.compose.edit import CONFLICT as _CONFLICT
from digest.compose.edit import version_of
from digest.compose.editor import edit_issue, edit_text, set_ops
from digest.compose.images import save_image
from digest.compose.yamlops import DeleteEntry, InsertEntry, MoveEntry, Op
from digest.compose.yamlspans import KeyPath, parse_path
from digest.core import images, markdown
from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import ISSUES_DIR
from digest.core.issues import load_issue
from digest.core.loading import decode, parse
from digest.core.models import Config
from digest.preview.site import PreviewSite

Answer = tuple[int, dict[str, Any]]


class Editor:
    """The editing side of a preview site (one per `digest serve`)."""

    def __init__(self, site: PreviewSite, written: Callable[[], None]) -> None:
        self.site = site
        self.written = written  # the preview takes in what was written (and tells open pages)
        self.lock = threading.Lock()  # one request edits at a time; the writers' lock covers other processes

    # --- what the page is shown ---------------------------------------------------------

    def state(self, number: int, data: bytes | None = None) -> dict[str, Any]:
        config, path, rel = self._file(number)
        data = path.read_bytes() if data is None else data
        _, problems = load_issue(config, number, path, rel, data=data)
        doc = _document(data, rel)
        return {
            "number": number,
            "rel": rel,
            "version": version_of(data),
            "doc": _jsonable(doc),
            "problems": [_problem(p) for p in problems],
            "previews": previews(config, doc),
            "direction": config.direction,
            "imageTypes": ",".join(f"image/{kind.lower()}" for kind in images.FORMATS),  # what build publishes
            "git": git.is_repository(config.root),
        }

    # --- requests -----------------------------------------------------------------------

    def handle(self, number: int, request: dict[str, Any]) -> Answer:
        op = request.get("op")
        try:
            with self.lock:
                if op == "new_issue":
                    return self._new_issue()
                if op == "commit_message":
                    _, _, rel = self._file(number)
                    return 200, {"message": git.default_message(self._config().root, number, rel)}
                if op == "commit":
                    _, _, rel = self._file(number)
                    done = git.commit(self._config().root, rel, str(request.get("message") or ""))
                    return 200, {"done": done, "state": self.state(number)}
                version = str(request.get("version") or "")
                if op == "add_link":
                    return self._add_link(number, request, version)
                if op == "collect":
                    return self._collect(number, version)
                if op == "publish":
                    return self._publish(number, request, version)
                return self._edit(number, self._ops(number, op, request), version)
        except DigestError as e:
            conflict = any(p.message == _CONFLICT for p in e.problems)
            return (409 if conflict else 422), {"problems": [_problem(p) for p in e.problems], "conflict": conflict}
        except (ValueError, KeyError, TypeError) as e:
            return 400, {"problems": [_said(f"a malformed request ({e})")]}

    def upload(self, number: int, name: str, data: bytes) -> Answer:
        try:
            self._file(number)
            with self.lock:
                rel = save_image(self._config().root, name, data)
        except DigestError as e:
            return 422, {"problems": [_problem(p) for p in e.problems]}
        return 200, {"src": rel}

    def _ops(self, number: int, op: object, request: dict[str, Any]) -> list[Op]:
        if op == "save":
            changes = [(parse_path(str(p)), v) for p, v in request["changes"]]
            _, path, rel = self._file(number)
            return set_ops(_document(path.read_bytes(), rel), changes)
        if op == "add_item":
            fields = {str(k): v for k, v in dict(request.get("fields") or {"title": "New item"}).items() if v}
            if any(not isinstance(v, str) for v in fields.values()):
                raise ValueError("an item's fields are text")
            return [InsertEntry(parse_path(str(request["list"])), fields, _index(request.get("index")))]
        if op == "add_section":
            title = str(request.get("title") or "New section")
            return [InsertEntry(parse_path(str(request.get("list") or "sections")), {"title": title, "items": None})]
        if op == "delete":
            return [DeleteEntry(_entry_path(request["path"]))]
        if op == "move":
            return [
                MoveEntry(_entry_path(request["path"]), parse_path(str(request["to"])), _index(request.get("index")))
            ]
        raise ValueError(f"unknown operation {op!r}")

    def _edit(self, number: int, ops: list[Op], version: str) -> Answer:
        config, path, rel = self._file(number)
        self._writable(path, rel)
        try:
            data = edit_issue(config, number, path, rel, ops, version=version)
        except DigestError as e:
            answer = {"problems": [_problem(p) for p in e.problems], "conflict": False}
            if any(p.message == _CONFLICT for p in e.problems):
                answer["conflict"] = True
                return 409, answer
            answer["previews"] = self._tried_previews(path, rel, ops)
            return 422, answer
        self.written()
        return 200, {"state": self.state(number, data)}

    def _tried_previews(self, path: Path, rel: str, ops: list[Op]) -> dict[str, str]:
        """The previews of what the page sent, though it was not written (its errors say why)."""
        try:
            text = path.read_text(encoding="utf-8")
            if parse(text, rel)[0] is None:
                return {}
            _, doc = edit_text(text, rel, ops)
        except (DigestError, OSError, UnicodeDecodeError, AssertionError, yaml.YAMLError):
            return {}
        return previews(self._config(), doc)

    def _add_link(self, number: int, request: dict[str, Any], version: str) -> Answer:
        from digest.compose.add import add_url
        from digest.compose.net import FetchError

        _, path, rel = self._file(number)
        self._writable(path, rel)
        self._same(path, rel, version)
        section = _section_title(_document(path.read_bytes(), rel), request.get("section"))
        try:
            added = add_url(self._config().root, str(request.get("url") or ""), issue=number, section=section)
        except FetchError as e:
            return 422, {"problems": [_said(f"{e}; nothing was written")]}
        self.written()
        return 200, {"report": [f'added "{added.title}"', *added.notes], "state": self.state(number)}

    def _collect(self, number: int, version: str) -> Answer:
        from digest.compose.collect import collect

        _, path, rel = self._file(number)
        self._writable(path, rel)
        self._same(path, rel, version)
        result = collect(self._config().root, [], issue=number)
        self.written()
        lines = ([result.note] if result.note else []) + [str(r) for r in result.reports]
        lines += [n for r in result.reports for n in r.notes]
        if result.ledger_error:
            lines.append(result.ledger_error)
        return 200, {"report": lines or ["no sources: add sources: to config.yaml"], "state": self.state(number)}

    def _publish(self, number: int, request: dict[str, Any], version: str) -> Answer:
        from digest.deliver.gate import check

        changes: list[tuple[KeyPath, object]] = [(("draft",), False)]
        if request.get("date"):
            changes.append((("date",), str(request["date"])))
        status, answer = self._edit(number, set_ops({}, changes), version)
        if status != 200:
            return status, answer
        try:
            outcome = check(self._config(), numbers=(number,))
            blockers, warnings = [], outcome.warnings
        except DigestError as e:
            blockers, warnings = [p for p in e.problems if not p.warning], [p for p in e.problems if p.warning]
        answer["blockers"] = [str(p) for p in blockers]
        answer["warnings"] = [str(p) for p in warnings]
        return 200, answer

    def _new_issue(self) -> Answer:
        from digest.compose.new import new_issue

        created = new_issue(self._config().root)
        self.written()
        number = int(created.stem)
        return 200, {"location": f"/edit/{number}/"}

    # --- the files ------------------------------------------------------------------------

    def _config(self) -> Config:
        if self.site.config is None:
            raise DigestError(self.site.general or [Problem("config.yaml", None, "has errors")])
        return self.site.config

    def _file(self, number: int) -> tuple[Config, Path, str]:
        config = self._config()
        with self.site.lock:
            state = self.site.issues.get(number)
        if state is None:
            raise DigestError([Problem(ISSUES_DIR, None, f"there is no issue {number}")])
        return config, config.root / state.rel, state.rel

    def _writable(self, path: Path, rel: str) -> None:
        """Refuse a file that is not a plain file in a plain issues/ folder (a symbolic link anywhere)."""
        for p, name in ((path.parent, ISSUES_DIR), (path, rel)):
            try:
                mode = os.lstat(p).st_mode
            except OSError as e:
                raise DigestError(
                    [Problem(name, None, f"cannot be read ({e.strerror}); nothing was written")]
                ) from None
            if stat.S_ISLNK(mode) or not (stat.S_ISDIR(mode) if p == path.parent else stat.S_ISREG(mode)):
                raise DigestError(
                    [Problem(name, None, "is a symbolic link or not a plain file: the editor does not write it")]
                )

    def _same(self, path: Path, rel: str, version: str) -> None:
        if version_of(path.read_bytes()) != version:
            raise DigestError([Problem(rel, None, _CONFLICT)])


def _document(data: bytes, rel: str) -> Any:
    """The issue file as plain data, read by the bounded loader first ({} for a file that does not load)."""
    text, _ = decode(data, rel)
    if text is None or parse(text, rel)[0] is None:
        return {}
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError:
        return {}


def _index(value: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a position in a list")
    return value


def _entry_path(text: object) -> KeyPath:
    path = parse_path(str(text))
    if not path or not isinstance(path[-1], int):
        raise ValueError(f"{text!r} is not a list entry")
    return path


def _section_title(doc: dict[str, Any], section: object) -> str | None:
    if not section:
        return None
    path = parse_path(str(section))
    node: Any = doc
    for p in path:
        node = node[p]
    title = node.get("title") if isinstance(node, dict) else None
    return str(title) if title else None


def previews(config: Config, doc: Any) -> dict[str, str]:
    """Every markdown field of the issue, rendered as digest renders it (raw HTML stays text), by key path."""
    out: dict[str, str] = {}
    if not isinstance(doc, dict):
        return out
    for key in ("intro", "outro"):
        if isinstance(doc.get(key), str):
            out[key] = _render(config, doc[key], False)

    def visit(sections: object, path: str) -> None:
        for i, s in enumerate(sections if isinstance(sections, list) else [], 1):
            if not isinstance(s, dict):
                continue
            here = f"{path}[{i}]"
            for key, inline in (("title", True), ("intro", False)):
                if isinstance(s.get(key), str):
                    out[f"{here}.{key}"] = _render(config, s[key], inline)
            for j, item in enumerate(s.get("items") or [], 1):
                if isinstance(item, dict):
                    for key, inline in (("title", True), ("summary", False)):
                        if isinstance(item.get(key), str):
                            out[f"{here}.items[{j}].{key}"] = _render(config, item[key], inline)
                    if isinstance(image := item.get("image"), dict):
                        out[f"{here}.items[{j}].image.src"] = _picture(config, image.get("src"), image.get("alt"))
            visit(s.get("sections"), f"{here}.sections")

    visit(doc.get("sections"), "sections")
    return out


def _render(config: Config, text: str, inline: bool) -> str:
    try:
        rendered = (
            markdown.title_html(text, config.link_schemes) if inline else markdown.to_html(text, 3, config.link_schemes)
        )
    except Exception:  # noqa: BLE001 - a preview of text that does not validate: its errors say why
        return ""
    return str(rendered)


def _picture(config: Config, src: object, alt: object) -> str:
    """A local image as the preview serves it (published, /images/<hash>.jpg); "" for a URL (the page
    loads nothing from elsewhere) or an image build refuses (its error is shown at the field)."""
    if not isinstance(src, str) or not images.is_local(src) or images.path_problem(src) is not None:
        return ""
    try:
        local = images.inspect(src, images.read(config.root, src))
    except images.Unusable:
        return ""
    words = html.escape(alt if isinstance(alt, str) else "")
    return f'<img src="/{html.escape(local.file)}" alt="{words}" width="{local.width}" height="{local.height}">'


def _said(message: str) -> dict[str, Any]:
    """A problem of the request itself (not of a file): no key, no line."""
    return {"key": "", "line": None, "message": message, "text": message, "warning": False}


def _problem(p: Problem) -> dict[str, Any]:
    return {"key": p.key, "line": p.line, "message": p.message, "text": str(p), "warning": p.warning}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return value
