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

from digest.build.cache import BuildCache, Entry, build_key, key, salts
from digest.core.config import load_config
from digest.core.errors import DigestError, Problem
from digest.core.issues import discover, load_issue
from digest.core.models import Config, Issue

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

    import jinja2

    from digest.build.writer import Staging

SITE_DIR = "site"
ISSUE_FILES = ("email.html", "email.txt", "index.html")
POOL_THRESHOLD = 8  # fewer changed issues than this render faster in-process than a pool starts
# Cached issues to verify before anything is rendered: with this many, a worker has time to
# import and compile what rendering needs meanwhile, so that publishing one new issue in a
# long archive does not wait for that after the verification.
WARM_THRESHOLD = 200

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
    key: str  # of its rendered files: the file, config.yaml, the templates, digest itself
    model_key: str  # of its validated model: the same without the templates


def build(root: Path, out: Path | None = None, *, jobs: int | None = None, progress: Progress | None = None, strict: bool = False) -> Report:
    """Build the newsletter in ``root`` into ``out`` (default ``root/site``).

    ``strict``: a warning fails the build like an error (the site stays as it was)."""
    from digest.build import writer

    started = time.perf_counter()
    config = load_config(root)
    target = out or root / SITE_DIR
    writer.check_output(root, target)
    cache = BuildCache(root)
    templates_salt, model_salt = salts(root)
    sources = read_sources(config, templates_salt, model_salt)
    site_key = build_key([src.key for src in sources])
    with writer.locked(cache.work):
        # Nothing changed and the site is exactly as last written: there is nothing to do.
        if (summary := cache.up_to_date(site_key, target)) is not None:
            report = Report(summary["issues"], summary["published"], 0, summary["files"], warnings=[Problem(**w) for w in summary["warnings"]])
            _fail_if_strict(strict, report)
            report.seconds = time.perf_counter() - started
            return report
    with _Workers(jobs) as pool:
        issues, cached, report = load_all(config, templates_salt, sources, cache, pool, store=True)
        cache.forget_site()
        with writer.staging(target, cache.work) as stage:
            render_all(config, templates_salt, issues, cached, {src.number: src.key for src in sources}, cache, pool, stage, report, progress)
            _fail_if_strict(strict, report)  # inside the staging block: the site is not replaced
    summary = {"issues": report.issues, "published": report.published, "files": report.files, "warnings": [asdict(w) for w in report.warnings]}
    cache.record_site(site_key, target, stage.sums, summary)
    cache.prune(keep={src.key for src in sources}, keep_models={src.model_key for src in sources})
    report.seconds = time.perf_counter() - started
    return report


def check(root: Path, *, jobs: int | None = None, strict: bool = False) -> Report:
    """Validate and render everything, writing nothing (the build cache is only read).

    ``strict``: a warning fails the check like an error."""
    started = time.perf_counter()
    config = load_config(root)
    cache = BuildCache(root)
    templates_salt, model_salt = salts(root)
    sources = read_sources(config, templates_salt, model_salt)
    with _Workers(jobs) as pool:
        # One round: the issues that validate are rendered and checked even when others
        # fail, so a clip or template problem is not hidden behind a validation error.
        issues, cached, report = load_all(config, templates_salt, sources, cache, pool, store=False, partial=True)
        render_all(config, templates_salt, issues, cached, {}, None, pool, None, report, None)
    if any(not p.warning for p in report.warnings):
        raise DigestError(report.warnings)
    _fail_if_strict(strict, report)
    report.seconds = time.perf_counter() - started
    return report


def _fail_if_strict(strict: bool, report: Report) -> None:
    """Under --strict, warnings (the accessibility lint, the clip warning, low contrast) fail like errors."""
    if strict and report.warnings:
        raise DigestError(report.warnings)


def read_sources(config: Config, s: bytes, model_salt: bytes) -> list[Source]:
    """Every issue file's bytes and cache keys (under salts ``s`` and ``model_salt``); naming problems are errors."""
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
        sources.append(Source(number, path, rel, data, key(s, data, rel), key(model_salt, data, rel)))
    if problems:
        raise DigestError(problems)
    return sources


def load_all(
    config: Config, templates_salt: bytes, sources: list[Source], cache: BuildCache, pool: _Workers, *, store: bool, partial: bool = False
) -> tuple[list[Issue], dict[int, Entry], Report]:
    """Every issue as a model (from the cache where possible); raise DigestError listing every problem.

    An issue whose rendered files are cached comes whole from the cache; one whose model
    alone is cached (a template changed) is not validated again.  ``store``: keep the
    models validated here (not for ``digest check``, which writes nothing).  ``partial``:
    return the issues that are valid, with the errors of the others in the report."""
    cached: dict[int, Entry] = {}
    todo: list[Source] = []
    absent = sum(not cache.has(src.key) for src in sources)
    if absent and len(sources) - absent >= WARM_THRESHOLD:
        pool.warm(_warm_up, (config, templates_salt), workers=absent)
    for src in sources:
        entry = cache.get(src.key)
        if entry is not None:
            cached[src.number] = entry
        else:
            todo.append(src)
    issues: list[Issue] = []
    problems: list[Problem] = list(config.warnings)
    for entry in cached.values():
        issues.append(entry.issue)
        problems.extend(entry.warnings)
    to_validate = []
    for src in todo:
        if (model := cache.get_model(src.model_key)) is not None:
            issues.append(model[0])
            problems.extend(model[1])
        else:
            to_validate.append(src)
    root = cache.work.parent if store else None
    for issue, found in pool.map(_load, [(config, s.number, s.path, s.rel, s.data, root, s.model_key) for s in to_validate]):
        problems.extend(found)
        if issue is not None:
            issues.append(issue)
    if not partial and any(not p.warning for p in problems):
        raise DigestError(problems)
    issues.sort(key=lambda i: i.number)
    report = Report(issues=len(issues), published=len(published(issues)), changed=len(todo), warnings=problems)
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
    from digest.render import archive
    from digest.render import feeds
    from digest.render import html as render

    newest = published(issues)
    feed_issues = newest[: config.feed_items]
    in_feeds = {i.number for i in feed_issues}
    contents = {n: e.content for n, e in cached.items() if n in in_feeds}
    fresh = [i for i in issues if i.number not in cached]
    by_file: dict[str, list[Problem]] = {}
    for p in report.warnings:
        by_file.setdefault(p.path, []).append(p)
    root = cache.work.parent if cache is not None and stage is not None else None
    jobs = [_Job(config, templates_salt, i, tuple(by_file.get(i.source, ())), root, keys.get(i.number, "")) for i in fresh]
    # With a pool the renders start now and run while the unchanged issues are linked.
    rendered = pool.map(_render, jobs)
    for entry in cached.values():
        if stage is not None:
            for name, path in entry.files.items():
                stage.link(f"issues/{entry.issue.slug}/{name}", path, entry.sums[name])
        report.files += len(entry.files)
    for done, r in enumerate(rendered, 1):
        if r.clip is not None:
            report.warnings.append(r.clip)
        if r.issue.number in in_feeds:
            contents[r.issue.number] = r.content
        if stage is not None:
            for name, digest in r.sums.items():
                rel = f"issues/{r.issue.slug}/{name}"
                if r.files is not None:
                    stage.link(rel, r.files[name], digest)
                else:
                    assert r.outputs is not None
                    stage.write(rel, r.outputs[name])
        report.files += len(r.sums)
        if progress:
            progress(done, len(fresh))
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


def render_issue_email(root: Path, number: int) -> tuple[Config, Issue, str, str]:
    """One issue's email as (config, issue, html, text), for sending a test."""
    from digest.render import html as render
    from digest.render import text

    config = load_config(root)
    s, model_salt = salts(root)
    sources = [src for src in read_sources(config, s, model_salt) if src.number == number]
    if not sources:
        raise DigestError([Problem("issues", None, f"there is no issue {number}")])
    issue, problems = load_issue(config, number, sources[0].path, sources[0].rel, sources[0].data)
    if issue is None:
        raise DigestError(problems)
    env = _env(config, s)
    with render.template_errors():
        return config, issue, render.render_email(env, config, issue), text.render_text(env, config, issue)


# Work units, run in worker processes or in-process; module-level so they pickle.


@lru_cache(maxsize=2)
def _env(config: Config, templates_salt: bytes) -> jinja2.Environment:
    """One Jinja2 environment per newsletter, per process, per state of its templates."""
    from digest.render import html as render

    return render.make_env(config)


def _load(args: tuple[Config, int, Path, str, bytes, Path | None, str]) -> tuple[Issue | None, list[Problem]]:
    """Validate one issue; a valid one is stored in the cache (under ``cache_root``) by the worker itself."""
    config, number, path, rel, data, cache_root, model_key = args
    issue, problems = load_issue(config, number, path, rel, data)
    if issue is not None and cache_root is not None:
        BuildCache(cache_root).put_model(model_key, issue, problems)
    return issue, problems


@dataclass(frozen=True)
class _Job:
    config: Config
    templates_salt: bytes
    issue: Issue
    warnings: tuple[Problem, ...]  # stored with the cache entry, to be shown again on cached builds
    cache_root: Path | None  # None: store nothing (digest check)
    cache_key: str


@dataclass(frozen=True)
class _Rendered:
    issue: Issue
    content: str  # the HTML fragment for the feeds
    clip: Problem | None  # the clip gate's warning on email.html
    sums: dict[str, str]  # output name → sha256
    files: dict[str, Path] | None  # where the worker stored the outputs in the cache
    outputs: dict[str, bytes] | None  # the outputs themselves when they were not stored


def _warm_up(args: tuple[Config, bytes]) -> None:
    """Import and compile what rendering needs (templates, MJML, premailer and cssutils,
    the locale's dates), so that this worker's first issue starts warm."""
    import datetime as dt

    from digest.render import html as render

    config, templates_salt = args
    try:
        env = _env(config, templates_salt)
        for name in ("email.mjml", "email.txt", "issue.html", "_content.html"):
            env.get_template(name)
        env.filters["format_date"](dt.date(2000, 1, 1))
        render.inline_css(render.mjml_to_html("<mjml><mj-body><mj-section><mj-column><mj-text>.</mj-text></mj-column></mj-section></mj-body></mjml>"))
    except Exception:  # noqa: BLE001 - only a head start: the real render reports any problem
        pass


def _render(job: _Job) -> _Rendered:
    """Render one issue and, in the worker itself, store it in the cache (so writes run in parallel)."""
    from digest.core import lint
    from digest.render import html as render
    from digest.render import text

    config, issue = job.config, job.issue
    env = _env(config, job.templates_salt)
    with render.template_errors():
        outputs = {
            "email.html": render.render_email(env, config, issue).encode(),
            "email.txt": text.render_text(env, config, issue).encode(),
            "index.html": render.render_web(env, config, issue).encode(),
        }
        content = render.render_content(env, config, issue)
    clip = None
    # A warning even over the limit: an archive with long past issues still publishes its
    # pages and feeds; send and export refuse such an email, and --strict fails on it.
    if (verdict := lint.clip_message(lint.sent_size(outputs["email.html"].decode()))) is not None:
        clip = Problem(issue.source, None, verdict[1], warning=True)
    sums = {name: hashlib.sha256(data).hexdigest() for name, data in outputs.items()}
    files = None
    if job.cache_root is not None:
        warnings = [*job.warnings, *([clip] if clip else [])]
        files = BuildCache(job.cache_root).put(job.cache_key, issue, warnings, content, outputs, sums)
    return _Rendered(issue, content, clip, sums, files, None if files else outputs)


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
        """``func`` over ``items``: submitted at once to the pool (if any), else run lazily here."""
        if self.jobs <= 1 or (len(items) < POOL_THRESHOLD and self._pool is None):
            return map(func, items)
        chunk = max(1, min(16, len(items) // (self.jobs * 4)))
        return self._start().map(func, items, chunksize=chunk)

    def warm(self, func: Callable[[T], None], arg: T, workers: int) -> None:
        """Start the pool now, with at most ``workers`` processes (as many as there will be
        work for: an idle cold one could take the work from a warm one), and run ``func(arg)``
        once in each while this process goes on."""
        if self.jobs > 1 and self._pool is None:
            pool = self._start(min(self.jobs, workers))
            for _ in range(min(self.jobs, workers)):
                pool.submit(func, arg)

    def _start(self, workers: int | None = None) -> ProcessPoolExecutor:
        if self._pool is None:
            from concurrent.futures import ProcessPoolExecutor

            self._pool = ProcessPoolExecutor(workers or self.jobs, initializer=_die_with_parent, initargs=(os.getpid(),))
        return self._pool

    def __enter__(self) -> _Workers:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)


__all__ = ["build", "check", "published", "render_issue_email", "Report", "DigestError"]
