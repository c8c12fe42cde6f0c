"""The site as `digest serve` shows it, rendered into memory and kept up to date edit by edit.

Rules:
- Nothing is written to the newsletter folder but validated models in the build cache:
  not site/, not the sources.  So drafts, which the preview shows, can never leak into
  the published site, and serving never replaces what `digest build` published.
- The build lock is never taken: the preview reads the sources and writes only
  content-addressed cache entries (atomically), so a `digest build` running meanwhile
  neither blocks a preview update nor is blocked by one.
- An edit to one issue file validates and renders that issue alone; the archive page
  and the feeds are rendered again only when a request asks for them after something
  they show changed.  config.yaml or a template changing reloads everything.
- An issue that fails keeps its last good version on show, with its errors listed; the
  errors of every issue and of config.yaml are what every open page is told.
- Issue pages nobody asked for are rendered on first request, so that opening a long
  archive costs one validation per issue (cached across runs), not one render.
- An issue's web page shows other issues (previous, next, recent), so it is made on each
  request from the issue's rendered content and its current neighbours, never kept with
  the issue: editing one issue renders that one, and its neighbours' pages stay current.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from digest.build import memo
from digest.build.cache import BuildCache
from digest.build.stages import ISSUE_FILES, PAGE_FILE, Context, Source, context, neighbours, render_issue, render_page, validate_issue
from digest.core.config import CONFIG_FILE, load_config
from digest.core.errors import DigestError, Problem
from digest.core.issues import ISSUES_DIR, discover
from digest.core.models import Config, Issue

if TYPE_CHECKING:
    import jinja2


@dataclass
class IssueState:
    """One issue file: its current bytes and problems, and the last version that was good."""

    number: int
    rel: str
    data: bytes = b""
    issue: Issue | None = None  # the last good model (None: never valid since the preview started)
    problems: list[Problem] = field(default_factory=list)  # of the current file: errors mean `issue` is older
    render_problems: list[Problem] = field(default_factory=list)  # template errors, the clip gate
    outputs: dict[str, bytes] | None = None  # the email's files rendered for `issue`, or None until asked for
    content: str | None = None  # the HTML fragment, for the web page and the feeds

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems + self.render_problems if not p.warning]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems + self.render_problems if p.warning]


class PreviewSite:
    """Every file of the site by its path ("issues/7/email.html", "feed.xml"), from memory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.lock = threading.RLock()  # the server's threads read while the watcher updates
        self.config: Config | None = None
        self.env: jinja2.Environment | None = None
        self.general: list[Problem] = []  # config.yaml, the templates, file naming
        self.issues: dict[int, IssueState] = {}
        self.ctx: Context | None = None
        self._archive: tuple[object, dict[str, bytes]] | None = None  # (what it shows, the pages by path)
        self._feeds: tuple[object, dict[str, bytes]] | None = None

    # --- updating -------------------------------------------------------------------

    def reload(self) -> None:
        """Read config.yaml, the templates and every issue again (at start, and when config or templates change)."""
        with self.lock:
            try:
                config = load_config(self.root)
            except DigestError as e:
                self.general = list(e.problems)  # the last good config stays in use
                return
            from digest.render.environment import make_env

            self.config, self.env = config, make_env(config)
            self.ctx = context(config)
            self._archive = self._feeds = None
            viewed = {n for n, s in self.issues.items() if s.outputs is not None}
            old, self.issues = self.issues, {}
            self.general = list(config.warnings)
            self._rescan(old, changed=None)
            for number in viewed & set(self.issues):
                self.render(number)  # pages open in a browser stay current, and template errors show at once

    def update(self, paths: Iterable[Path]) -> set[int]:
        """Take in changed files (as the watcher reports them); returns the issues that changed."""
        paths = [Path(p) for p in paths]
        issues_dir = (self.root / ISSUES_DIR).resolve()
        if self.config is None or any(not _under(p, issues_dir) or p.resolve() == issues_dir for p in paths):
            before = set(self.issues)
            self.reload()
            return before | set(self.issues)  # everything was rendered again
        with self.lock:
            names = {p.name for p in paths}
            known = {s.rel.split("/", 1)[1]: s for s in self.issues.values()}
            # The usual edit (an issue file saved again) needs no listing of issues/: the
            # cost of an edit must not grow with the archive.
            if all(name in known and p.is_file() and not p.is_symlink() for name, p in ((p.name, p) for p in paths)):
                touched = {known[name].number for name in names if self._load(known[name], self.root / known[name].rel, force=False)}
                for number in touched:
                    if self.issues[number].outputs is None and self.issues[number].issue is not None:
                        self.render(number)
                return touched
            return self._rescan(self.issues, changed=names)

    def _rescan(self, old: dict[int, IssueState], changed: set[str] | None) -> set[int]:
        """List issues/ again; (re)load the files named in ``changed`` (None: all) and any new one."""
        assert self.config is not None
        files, naming = discover(self.root)
        self.general = [p for p in self.general if not p.path.startswith(ISSUES_DIR)] + naming
        touched: set[int] = set()
        fresh: dict[int, IssueState] = {}
        for number, path, rel in files:
            state = old.get(number)
            if state is not None and state.rel == rel and changed is not None and path.name not in changed:
                fresh[number] = state
                continue
            state = state if state is not None and state.rel == rel else IssueState(number, rel)
            if self._load(state, path, force=changed is None):
                touched.add(number)
            fresh[number] = state
        touched |= set(old) - set(fresh)
        self.issues = fresh  # the archive and the feeds notice what changed when next asked for
        for number in touched & set(fresh):
            if fresh[number].outputs is None and fresh[number].issue is not None and changed is not None:
                self.render(number)  # the edited issue is served rendered before the reload is signalled
        return touched

    def _load(self, state: IssueState, path: Path, force: bool) -> bool:
        """Validate ``state``'s file again if its bytes changed (or ``force``); whether anything changed."""
        assert self.config is not None
        try:
            data = path.read_bytes()
        except OSError as e:
            state.problems = [Problem(state.rel, None, f"cannot read file: {e.strerror or e}")]
            return True
        if data == state.data and state.issue is not None and not force:
            return False
        state.data = data
        assert self.ctx is not None
        cache = BuildCache(self.root)
        source = Source(state.number, path, state.rel, data)
        model_key = memo.keys(self.ctx, [source])[state.number].model
        issue: Issue | None
        if (found := cache.get_model(model_key)) is not None:
            issue, problems = found[0], list(found[1])
        else:
            checked = validate_issue(self.ctx, source)
            issue, problems = checked.issue, list(checked.problems)
            if issue is not None:
                cache.put_model(model_key, issue, problems)
        state.problems = problems
        if issue is not None:
            state.issue, state.outputs, state.content, state.render_problems = issue, None, None, []
        return True

    def render(self, number: int) -> IssueState:
        """Render ``number``'s last good version if it is not rendered yet."""
        with self.lock:
            state = self.issues[number]
            if state.outputs is not None or state.issue is None:
                return state
            assert self.ctx is not None
            try:
                rendered = render_issue(self.ctx, state.issue)
            except DigestError as e:
                state.render_problems = list(e.problems)
                return state
            state.render_problems = [rendered.clip] if rendered.clip is not None else []
            state.outputs, state.content = rendered.files, rendered.content
            self._web_page(state)  # the page template's mistakes are the issue's, shown at once
            return state

    # --- reading --------------------------------------------------------------------

    def errors(self) -> list[str]:
        """Every current error, as `path:line: message` lines."""
        with self.lock:
            problems = [p for p in self.general if not p.warning]
            for state in self.issues.values():
                problems += state.errors
            return [str(p) for p in sorted(problems, key=lambda p: (p.path, p.line or 0, p.key))]

    def listing(self) -> list[IssueState]:
        """Every issue for the served index: drafts first, then the rest, newest first."""
        with self.lock:
            states = sorted(self.issues.values(), key=lambda s: s.number, reverse=True)
        return [s for s in states if s.issue is not None and s.issue.draft] + [s for s in states if s.issue is None or not s.issue.draft]

    def file(self, rel: str) -> bytes | None:
        """The bytes of the site file at ``rel``, or None if the site has no such file."""
        with self.lock:
            if rel == "index.html" or rel.startswith("page/"):
                return (self._archive_pages() or {}).get(rel)
            parts = rel.split("/")
            if len(parts) == 3 and parts[0] == "issues" and parts[2] in (*ISSUE_FILES, PAGE_FILE):
                number = _number(parts[1])
                if number is None or number not in self.issues:
                    return None
                state = self.render(number)
                if parts[2] == PAGE_FILE:
                    return self._web_page(state)
                return state.outputs[parts[2]] if state.outputs is not None else None
            return self._feed_files().get(rel)

    def _published(self) -> list[Issue]:
        return [s.issue for s in self.listing() if s.issue is not None and not s.issue.draft]

    def _web_page(self, state: IssueState) -> bytes | None:
        """``state``'s web page from its content and its neighbours as they are now."""
        if state.issue is None or state.content is None or self.ctx is None:
            return None
        issue = state.issue
        near = neighbours([issue, *(i for i in self._published() if i.number != issue.number)])[issue.number]
        try:
            return render_page(self.ctx, issue, state.content, near)
        except DigestError as e:
            state.render_problems = [p for p in state.render_problems if p not in e.problems] + list(e.problems)
            return None

    def _archive_pages(self) -> dict[str, bytes] | None:
        from digest.render import archive
        from digest.render.errors import template_errors

        if self.config is None or self.env is None:
            return None
        newest = self._published()  # drafts never reach the archive as published
        shown = tuple((i.number, i.title, i.date, i.preheader, i.url) for i in newest)
        if self._archive is None or self._archive[0] != shown:
            try:
                with template_errors():
                    pages = archive.render_archive(self.env, self.config, newest)
                self._archive = (shown, {path: page.encode() for path, page in pages.items()})
            except DigestError as e:
                self.general = [p for p in self.general if p not in e.problems] + list(e.problems)
                return None
        return self._archive[1]

    def _feed_files(self) -> dict[str, bytes]:
        from digest.render import feeds

        if self.config is None:
            return {}
        newest = self._published()[: self.config.feed_items]  # drafts never reach the feeds
        contents: dict[int, str] = {}
        for issue in newest:
            state = self.render(issue.number)
            if state.content is None:
                return {}
            contents[issue.number] = state.content
        shown = tuple((i, contents[i.number]) for i in newest)
        if self._feeds is None or self._feeds[0] != shown:
            self._feeds = (shown, feeds.render_feeds(self.config, newest, contents))
        return self._feeds[1]


def _number(slug: str) -> int | None:
    return int(slug) if slug.isascii() and slug.isdigit() and len(slug) < 10 else None


def _under(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except (OSError, RuntimeError):
        return False


__all__ = ["PreviewSite", "IssueState", "CONFIG_FILE"]
