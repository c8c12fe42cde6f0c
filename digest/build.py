"""The whole pipeline, in order: load → validate → model → render → write.

Every issue is loaded and validated into models before anything is rendered, and
everything is rendered into a staging folder before the site is swapped in, so a
build either produces a complete site or changes nothing.

Speed rules:
- Issues whose key (file bytes + config + templates + digest itself) is in the build
  cache are not parsed or rendered again; their files are hard-linked from the cache.
- Issues that do need work go through a process pool, one worker per core; the output
  is byte-identical to a single-process build because rendering is deterministic.
- Rendered files are written as they arrive, so memory does not grow with the archive.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from .cache import BuildCache, Entry, build_key, key, salt
from .config import load_config
from .errors import DigestError, Problem
from .issues import discover, load_issue
from .models import Config, Issue

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    import jinja2

    from .writer import Staging

SITE_DIR = "site"
ISSUE_FILES = ("email.html", "email.txt", "index.html")
POOL_THRESHOLD = 8  # fewer changed issues than this render faster in-process than a pool starts

T = TypeVar("T")
R = TypeVar("R")
Progress = Callable[[int, int], None]  # (issues done, issues to render)


@dataclass
class Report:
    issues: int = 0
    published: int = 0
    changed: int = 0  # issues parsed and rendered afresh; the rest came from the build cache
    files: int = 0
    seconds: float = 0.0
    warnings: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    number: int
    path: Path
    rel: str
    data: bytes
    key: str


def build(root: Path, out: Path | None = None, *, jobs: int | None = None, progress: Progress | None = None) -> Report:
    """Build the newsletter in ``root`` into ``out`` (default ``root/site``)."""
    from . import writer

    started = time.perf_counter()
    config = load_config(root)
    cache = BuildCache(root)
    s = salt(root)
    sources = read_sources(config, s)
    target = out or root / SITE_DIR
    site_key = build_key([s.key for s in sources])
    with writer.locked(cache.work):
        # Nothing changed and the site is exactly as last written: there is nothing to do.
        if (summary := cache.up_to_date(site_key, target)) is not None:
            report = Report(summary["issues"], summary["published"], 0, summary["files"], warnings=[Problem(**w) for w in summary["warnings"]])
            report.seconds = time.perf_counter() - started
            return report
    with _Workers(jobs) as pool:
        issues, cached, report = load_all(config, sources, cache, pool)
        cache.forget_site()
        with writer.staging(target, cache.work) as stage:
            render_all(config, s, issues, cached, {src.number: src.key for src in sources}, cache, pool, stage, report, progress)
    summary = {"issues": report.issues, "published": report.published, "files": report.files, "warnings": [asdict(w) for w in report.warnings]}
    cache.record_site(site_key, target, stage.sums, summary)
    cache.prune()
    report.seconds = time.perf_counter() - started
    return report


def check(root: Path, *, jobs: int | None = None) -> Report:
    """Validate and render everything, writing nothing (the build cache is only read)."""
    started = time.perf_counter()
    config = load_config(root)
    cache = BuildCache(root)
    s = salt(root)
    sources = read_sources(config, s)
    with _Workers(jobs) as pool:
        issues, cached, report = load_all(config, sources, cache, pool)
        render_all(config, s, issues, cached, {}, None, pool, None, report, None)
    report.seconds = time.perf_counter() - started
    return report


def read_sources(config: Config, s: bytes) -> list[Source]:
    """Every issue file's bytes and cache key (under salt ``s``); naming problems are errors."""
    files, problems = discover(config.root)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    sources = []
    for number, path, rel in files:
        try:
            data = path.read_bytes()
        except OSError as e:
            problems.append(Problem(rel, None, f"cannot read file: {e.strerror or e}"))
            continue
        sources.append(Source(number, path, rel, data, key(s, data, rel)))
    if problems:
        raise DigestError(problems)
    return sources


def load_all(config: Config, sources: list[Source], cache: BuildCache, pool: _Workers) -> tuple[list[Issue], dict[int, Entry], Report]:
    """Every issue as a model (from the cache where possible); raise DigestError listing every problem."""
    cached: dict[int, Entry] = {}
    todo: list[Source] = []
    for src in sources:
        entry = cache.get(src.key)
        if entry is not None:
            cached[src.number] = entry
        else:
            todo.append(src)
    issues: list[Issue] = []
    problems: list[Problem] = []
    for entry in cached.values():
        issues.append(entry.issue)
        problems.extend(entry.warnings)
    for issue, found in pool.map(_load, [(config, s.number, s.path, s.rel, s.data) for s in todo]):
        problems.extend(found)
        if issue is not None:
            issues.append(issue)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    issues.sort(key=lambda i: i.number)
    report = Report(issues=len(issues), published=len(published(issues)), changed=len(todo), warnings=[*config.warnings, *problems])
    report.warnings.sort(key=lambda p: (p.path, p.line or 0))
    return issues, cached, report


def render_all(
    config: Config,
    templates_salt: bytes,
    issues: list[Issue],
    cached: dict[int, Entry],
    keys: dict[int, str],
    cache: BuildCache | None,
    pool: _Workers,
    stage: Staging | None,
    report: Report,
    progress: Progress | None,
) -> None:
    """Render what changed, reuse what did not, then the archive and feeds; write into ``stage``."""
    from . import archive, feeds, lint, render

    newest = published(issues)
    feed_issues = newest[: config.feed_items]
    in_feeds = {i.number for i in feed_issues}
    contents = {n: e.content for n, e in cached.items() if n in in_feeds}
    fresh = [i for i in issues if i.number not in cached]
    clipped: list[Problem] = []
    for done, (issue, outputs, content) in enumerate(pool.map(_render, [(config, templates_salt, i) for i in fresh]), 1):
        clip = lint.clip_message(len(outputs["email.html"]))
        if clip is not None:
            problem = Problem(issue.source, None, clip[1], warning=not clip[0])
            (clipped if clip[0] else report.warnings).append(problem)
        if issue.number in in_feeds:
            contents[issue.number] = content
        if stage is not None:
            # An issue that fails the clip gate is never cached: the next build must fail too.
            gated = clip is not None and clip[0]
            stored = None if cache is None or gated else cache.put(keys[issue.number], issue, _warnings_of(report, issue), content, outputs)
            for name, data in outputs.items():
                if stored:
                    stage.link(f"issues/{issue.slug}/{name}", stored[name], hashlib.sha256(data).hexdigest())
                else:
                    stage.write(f"issues/{issue.slug}/{name}", data)
        report.files += len(outputs)
        if progress:
            progress(done, len(fresh))
    if clipped:  # the clip gate: the staging folder is discarded, the site stays as it was
        raise DigestError(clipped + report.warnings)
    for entry in cached.values():
        if stage is not None:
            for name, path in entry.files.items():
                stage.link(f"issues/{entry.issue.slug}/{name}", path, entry.sums[name])
        report.files += len(entry.files)
    env = _env(config, templates_salt)
    with render.template_errors():
        site_files = {"index.html": archive.render_archive(env, config, newest).encode()}
    site_files.update(feeds.render_feeds(config, feed_issues, contents))
    for rel, data in site_files.items():
        if stage is not None:
            stage.write(rel, data)
        report.files += 1


def published(issues: Iterable[Issue]) -> list[Issue]:
    """Drafts never reach the archive index or the feeds; newest first."""
    return sorted((i for i in issues if not i.draft), key=lambda i: i.number, reverse=True)


def render_site(config: Config, issues: list[Issue]) -> Iterator[tuple[str, bytes]]:
    """Every output file as (path under the site, bytes), in one process and without the cache."""
    from . import archive, feeds, render

    newest = published(issues)
    feed_issues = newest[: config.feed_items]
    contents: dict[int, str] = {}
    s = salt(config.root)
    for issue in issues:
        _, outputs, content = _render((config, s, issue))
        for name, data in outputs.items():
            yield f"issues/{issue.slug}/{name}", data
        contents[issue.number] = content
    with render.template_errors():
        yield "index.html", archive.render_archive(_env(config, s), config, newest).encode()
    yield from feeds.render_feeds(config, feed_issues, {i.number: contents[i.number] for i in feed_issues}).items()


def render_issue_email(root: Path, number: int) -> tuple[Config, Issue, str, str]:
    """One issue's email as (config, issue, html, text), for sending a test."""
    from . import render, text

    config = load_config(root)
    s = salt(root)
    sources = [src for src in read_sources(config, s) if src.number == number]
    if not sources:
        raise DigestError([Problem("issues", None, f"there is no issue {number}")])
    issue, problems = load_issue(config, number, sources[0].path, sources[0].rel, sources[0].data)
    if issue is None:
        raise DigestError(problems)
    env = _env(config, s)
    with render.template_errors():
        return config, issue, render.render_email(env, config, issue), text.render_text(env, config, issue)


def _warnings_of(report: Report, issue: Issue) -> list[Problem]:
    return [p for p in report.warnings if p.path == issue.source]


# Work units, run in worker processes or in-process; module-level so they pickle.


@lru_cache(maxsize=2)
def _env(config: Config, templates_salt: bytes) -> jinja2.Environment:
    """One Jinja2 environment per newsletter, per process, per state of its templates."""
    from . import render

    return render.make_env(config)


def _load(args: tuple[Config, int, Path, str, bytes]) -> tuple[Issue | None, list[Problem]]:
    config, number, path, rel, data = args
    return load_issue(config, number, path, rel, data)


def _render(args: tuple[Config, bytes, Issue]) -> tuple[Issue, dict[str, bytes], str]:
    from . import render, text

    config, templates_salt, issue = args
    env = _env(config, templates_salt)
    with render.template_errors():
        outputs = {
            "email.html": render.render_email(env, config, issue).encode(),
            "email.txt": text.render_text(env, config, issue).encode(),
            "index.html": render.render_web(env, config, issue).encode(),
        }
        content = render.render_content(env, config, issue)
    return issue, outputs, content


def _die_with_parent(parent: int) -> None:
    """A worker must not outlive a build that was killed (it would hold the terminal's pipes)."""
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG, Linux only
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class _Workers:
    """map() over a process pool, one worker per core, started only when there is enough work."""

    def __init__(self, jobs: int | None) -> None:
        self.jobs = jobs if jobs is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None

    def map(self, func: Callable[[T], R], items: list[T]) -> Iterator[R]:
        if self.jobs <= 1 or len(items) < POOL_THRESHOLD:
            return map(func, items)
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(self.jobs, initializer=_die_with_parent, initargs=(os.getpid(),))
        chunk = max(1, min(16, len(items) // (self.jobs * 4)))
        return self._pool.map(func, items, chunksize=chunk)

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


__all__ = ["build", "check", "published", "render_site", "render_issue_email", "Report", "DigestError"]
