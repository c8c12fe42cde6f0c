"""The site as `digest serve` shows it: the build's own stages, with the files kept in memory.

Rules:
- The same functions as `digest build` (digest.pipeline.build: each_issue, site_files)
  make every file; the preview differs only in where the files go (memory, never site/)
  and in what it runs again after an edit.  So drafts, which the preview shows, can never
  leak into the published site, and serving never replaces what `digest build` published.
- The build lock is never taken: the preview reads the sources and writes only records
  of the build cache (atomically), so a `digest build` running meanwhile neither blocks a
  preview update nor is blocked by one.
- An edit to one issue file validates and renders that issue alone; a page is made again
  only when its key (its content and what it shows of other issues) changed.
- Issues are rendered when first shown (or when a feed carries them), not at start: opening
  a long archive, or saving a template while previewing it, costs a validation per issue
  at most (none for a template: the models stay), and one render per issue looked at.
- An issue that fails keeps its last good version on show, with its errors listed; the
  errors of every issue and of config.yaml are what every open page is told.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from digest.core import images
from digest.core.cachedir import newsletter_cache
from digest.core.config import CONFIG_FILE, load_config
from digest.core.errors import DigestError, Problem
from digest.core.images import IMAGES_DIR
from digest.core.issuefiles import ISSUES_DIR
from digest.core.models import Config, Issue
from digest.pipeline.build import Result, each_issue, search_pages, site_files
from digest.pipeline.cache import Cache, issue_keys
from digest.pipeline.publish import Later, Output
from digest.pipeline.search import SEARCH_DIR, Bundles, search_files
from digest.pipeline.stages import Context, Source, context, feed_issues, read_sources


@dataclass
class IssueState:
    """One issue file: its current problems, and the last version of it that was good."""

    number: int
    rel: str
    data: bytes = b""
    key: str = ""  # of data and the local images it names: a replaced image changes it
    source: Source | None = None
    result: Result | None = None  # the last good one (None: never valid since the preview started)
    problems: list[Problem] = field(default_factory=list)  # of the current file: errors mean `result` is older
    render_problems: list[Problem] = field(default_factory=list)  # of rendering `result`: the clip gate, templates
    outputs: dict[str, bytes] | None = None  # the email's files for `result`, read when first shown

    @property
    def issue(self) -> Issue | None:
        return self.result.issue if self.result is not None else None

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
        self.ctx: Context | None = None
        self.general: list[Problem] = []  # config.yaml, the templates, file naming
        self.issues: dict[int, IssueState] = {}
        self._files: dict[str, Output] | None = None  # the site's files, laid out again after each change
        self._made: dict[str, bytes] = {}  # the pages made so far, by key

    def reload(self) -> bool:
        """Read config.yaml, the templates and every issue again (at start, and when config or
        templates change); False if config.yaml has errors (the last good one stays in use)."""
        with self.lock:
            try:
                config = load_config(self.root)
            except DigestError as e:
                self.general = list(e.problems)
                return False
            same_models = config == self.config  # only the templates changed: validation does not read them
            self.config, self.ctx, self.general, self._made = config, context(config), list(config.warnings), {}
            if same_models:
                self._restamp()
            else:
                self._rescan(edit=False)
            return True

    def update(self, paths: Iterable[Path]) -> set[int]:
        """Take in changed files (as the watcher reports them); returns the issues whose files changed."""
        paths = [Path(p) for p in paths]
        issues_dir = (self.root / ISSUES_DIR).resolve()
        images_dir = (self.root / IMAGES_DIR).resolve()
        pictures = [p for p in paths if _under(p, images_dir)]  # issues naming them are keyed by their bytes
        others = [p for p in paths if p not in pictures]
        if self.config is None or any(not _under(p, issues_dir) or p.resolve() == issues_dir for p in others):
            before = set(self.issues)
            if not self.reload():
                return set()
            shown = before | set(self.issues)  # every issue is shown anew
            if not pictures:
                return shown
            with self.lock:
                return shown | self._rescan(edit=True)
        with self.lock:
            return self._rescan(edit=True)

    def _rescan(self, edit: bool) -> set[int]:
        """List issues/ again and take in every file whose bytes changed (``edit``: after a save,
        rendered at once, since it is being looked at), or every file (at a reload, validated
        only); returns the issues whose files changed or went."""
        assert self.ctx is not None
        old = self.issues
        try:
            known = {s.source.rel: s.source for s in old.values() if s.source is not None} if edit else None
            sources = read_sources(self.ctx.config, known)  # on a save: only the files that changed are read
            self.general = [p for p in self.general if not p.path.startswith(ISSUES_DIR)]
        except DigestError as e:  # a misnamed or unreadable file: shown, and the rest is still previewed
            self.general = [p for p in self.general if not p.path.startswith(ISSUES_DIR)] + list(e.problems)
            return set()
        fresh: dict[int, IssueState] = {}
        for src in sources:
            state = old.get(src.number)
            fresh[src.number] = state if state is not None and state.rel == src.rel else IssueState(src.number, src.rel)
        # Keyed again: what changed, and what names a local image (which may have changed); the rest keep theirs.
        maybe = [s for s in sources if not edit or s.data != fresh[s.number].data or _names_images(s.data)]
        keys = {**{n: state.key for n, state in fresh.items()}, **issue_keys(self.ctx, maybe, self._cache())}
        todo = [s for s in maybe if not edit or s.data != fresh[s.number].data or keys[s.number] != fresh[s.number].key]
        touched = {src.number for src in todo if keys[src.number] != fresh[src.number].key} | (set(old) - set(fresh))
        self._run(fresh, todo, render=edit)
        self.issues, self._files = fresh, None
        return touched

    def _run(self, states: dict[int, IssueState], sources: list[Source], render: bool) -> None:
        """Validate (and with ``render``, render) ``sources`` as the build does (cached), each
        issue's problems its own."""
        assert self.ctx is not None
        cache = self._cache()
        keys = issue_keys(self.ctx, sources, cache)
        for src in sources:
            state = states[src.number]
            state.key = keys[src.number]
            try:
                (result,) = each_issue(self.ctx, cache, [src], keys, 1, None, render=render)
            except DigestError as e:  # a template's mistake: shown with the issue, whose last good version stays
                state.source, state.data, state.render_problems = src, src.data, list(e.problems)
                continue
            state.source, state.data, state.problems = src, src.data, list(result.problems)
            if result.issue is not None:
                state.result, state.outputs = result, None
                state.render_problems = [result.clip] if result.clip else []
                if result.rendered:  # served at once, before the browser is told to reload
                    state.outputs = {name: result.file(self.ctx, name) for name in ("email.html", "email.txt")}

    def _cache(self) -> Cache:
        return Cache(newsletter_cache(self.root))

    def _restamp(self) -> None:
        """After a template change: every model stays; each issue is rendered again when next shown."""
        assert self.ctx is not None
        cache = self._cache()
        for state in self.issues.values():
            if state.source is None or state.result is None or state.result.issue is None:
                continue
            key = issue_keys(self.ctx, [state.source], cache)[state.number]
            if (record := cache.get(key)) is not None:
                state.result = Result.of(state.number, key, record)
            else:
                state.result = Result(state.number, key, state.result.issue, state.result.problems)
            state.outputs, state.render_problems = None, []
        self._files = None

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
        return [s for s in states if s.issue is not None and s.issue.draft] + [
            s for s in states if s.issue is None or not s.issue.draft
        ]

    def render(self, number: int) -> IssueState:
        """``number``'s state, its last good version rendered and its email's files read."""
        with self.lock:
            state = self.issues[number]
            if state.result is None or self.ctx is None:
                return state
            if not state.result.rendered and state.source is not None and state.source.data == state.data:
                self._run(self.issues, [state.source], render=True)
                self._files = None  # the pages showing it are laid out again with its files
            if state.outputs is None and state.result.rendered:
                state.outputs = {name: state.result.file(self.ctx, name) for name in ("email.html", "email.txt")}
            return state

    def file(self, rel: str) -> bytes | None:
        """The bytes of the site file at ``rel``, or None if the site has no such file."""
        with self.lock:
            if self.ctx is None:
                return None
            for number in _issue_in(rel, self.issues):
                state = self.render(number)  # its page and email are made from its files
                name = rel.rsplit("/", 1)[1]
                if state.outputs and name in state.outputs and state.issue and rel.split("/")[1] == state.issue.slug:
                    return state.outputs[name]  # its email, as site_files lays it out: no other issue is needed
            searching = rel.startswith(SEARCH_DIR + "/") and self.ctx.config.search
            if searching:  # the search bundle indexes every published issue's page: first asked for, not on each edit
                for state in list(self.issues.values()):
                    if state.issue is not None and not state.issue.draft:
                        self.render(state.number)
            if self._files is None:
                # The feeds carry these issues' content: rendered (once) before the feeds are.
                for issue in feed_issues(
                    self.ctx.config, (s.issue for s in self.issues.values() if s.issue is not None)
                ):
                    self.render(issue.number)
                results = [
                    s.result for s in sorted(self.issues.values(), key=lambda s: s.number) if s.result is not None
                ]
                try:
                    self._files = site_files(self.ctx, results, drafts=True)
                except DigestError as e:
                    self._note(e.problems)
                    return None
                keys = {f.key for f in self._files.values() if isinstance(f, Later)}
                self._made = {k: v for k, v in self._made.items() if k in keys}  # what no page shows any more goes
            if searching and rel not in self._files:
                self._search(self._files)
            made = self._files.get(rel)
            if not isinstance(made, Later):
                return made
            if made.key not in self._made:
                try:
                    self._made[made.key] = made.make()
                except DigestError as e:  # a page template's mistake: shown on every page until fixed
                    self._note(e.problems)
                    return None
            return self._made[made.key]

    def _search(self, files: dict[str, Output]) -> None:
        """The search bundle joins ``files`` when it is first asked for (the archive's search box)."""
        assert self.ctx is not None
        results = [s.result for s in sorted(self.issues.values(), key=lambda s: s.number) if s.result is not None]
        bundles = Bundles(newsletter_cache(self.root))
        try:
            files.update(search_files(self.ctx.config.language, search_pages(files, results), bundles))
        except DigestError as e:
            self._note(e.problems)

    def _note(self, problems: list[Problem]) -> None:
        self.general = [p for p in self.general if p not in problems] + list(problems)


@lru_cache(maxsize=8192)
def _names_images(data: bytes) -> bool:
    """Whether an issue's bytes may name a local image; remembered, since a save rescans every issue (a bytes
    object keeps its hash, so asking again about an unchanged file costs a lookup)."""
    return bool(images.referenced(data))


def _issue_in(rel: str, issues: dict[int, IssueState]) -> list[int]:
    """The issue whose folder ``rel`` is in (issues/7/index.html → [7]), if it is one of ``issues``."""
    parts = rel.split("/")
    if len(parts) == 3 and parts[0] == "issues" and parts[1].isascii() and parts[1].isdigit() and len(parts[1]) < 10:
        return [int(parts[1])] if int(parts[1]) in issues else []
    return []


def _under(path: Path, folder: Path) -> bool:
    try:
        return path.resolve().is_relative_to(folder)
    except (OSError, RuntimeError):
        return False


__all__ = ["PreviewSite", "IssueState", "CONFIG_FILE"]
