"""``digest build`` and ``digest check``: read → validate → render → write.

Follow one issue: read_sources() reads its file; validate_issue() makes its model;
render_issue() makes its email.html and email.txt and its content fragment;
neighbours() finds the issues its web page links (previous, next, recent) and
render_page() makes that page, index.html; archive_pages() and render_archive_page()
make the archive page that lists it, render_feeds() the feeds; Site.publish() writes
the site.  Those stage functions (digest.build.stages) are plain; around the per-issue
and per-page ones run the build cache (digest.build.memo: an issue whose content has
not changed is taken from it, a page whose content and neighbours have not changed
too, an archive page whose issues have not) and the process pool (digest.build.workers).

Every issue is validated and rendered before anything is written, so errors are
reported together and a failed build writes nothing; the new site appears at once
(digest.build.writer), so a build either produces a complete site or changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from digest.build import collector
from digest.build import memo as memos
from digest.build import output
from digest.build.cache import Stored
from digest.build.memo import Contents, Done, Memo
from digest.build.stages import PAGE_FILE, Context, Source, archive_pages, context, feed_issues, neighbours, published, read_sources, render_feeds, render_issue, validate_issue
from digest.build.workers import Workers
from digest.core.config import load_config
from digest.core.errors import DigestError, Problem, strict_failures
from digest.core.models import Config, Issue

SITE_DIR = "site"
Progress = Callable[[int, int], None]  # (issues done, issues to render)
Output = Stored | bytes  # a file linked from the build cache, or bytes to write


@dataclass
class Report:
    issues: int = 0
    published: int = 0
    changed: int = 0  # issues validated and rendered afresh; the rest came from the build cache
    files: int = 0
    seconds: float = 0.0
    warnings: list[Problem] = field(default_factory=list)


def build(root: Path, out: Path | None = None, *, jobs: int | None = None, progress: Progress | None = None, strict: bool = False, verify: bool = False) -> Report:
    """Build the newsletter in ``root`` into ``out`` (default ``root/site``).

    ``strict``: a warning fails the build like an error (the site stays as it was).
    ``verify``: check the cache and the site by their bytes, not by their recorded stat."""
    from digest.build.writer import Site

    started = time.perf_counter()
    config = load_config(root)
    target = out or root / SITE_DIR
    output.check_output(root, target)
    memo = Memo(root, store=True, verify=verify)
    ctx = context(config, compiled=memo.compiled)
    sources = read_sources(ctx.config)
    keys = memos.keys(ctx, sources)
    site_key = memos.site_key(ctx, keys)
    cache = memo.cache()  # refuses a cache folder that is, or holds, a link: before the lock is made in it
    with output.locked(memo.work), collector.relaxed():
        site = Site(target, cache)
        if (summary := site.unchanged(site_key)) is not None:  # nothing to do
            return _finish(_from_summary(summary), strict, started)
        with Workers(jobs) as pool:
            done = each_issue(ctx, sources, keys, memo, pool, progress)  # validate → render
        report = _report(ctx.config, done, strict)
        issue_pages = each_page(ctx, done, keys, memo)
        archive = each_archive_page(ctx, done, keys, memo)
        feeds = render_feeds(ctx, _issues(done), Contents(done))
        report.files += len(issue_pages) + len(archive) + len(feeds)
        site.publish(_files(done, issue_pages, archive, feeds), site_key, _summary(report))  # write
        memo.finish(keys, [*issue_pages, *archive])
    return _finish(report, strict, started)


def check(root: Path, *, jobs: int | None = None, strict: bool = False) -> Report:
    """Validate and render everything, writing nothing (the build cache is only read).

    ``strict``: a warning fails the check like an error."""
    started = time.perf_counter()
    ctx = context(load_config(root))
    memo = Memo(root, store=False)
    sources = read_sources(ctx.config)
    keys = memos.keys(ctx, sources)
    with collector.relaxed(), Workers(jobs) as pool:
        done = each_issue(ctx, sources, keys, memo, pool, None)
    report = _report(ctx.config, done, strict)
    report.files += len(each_page(ctx, done, keys, memo)) + len(each_archive_page(ctx, done, keys, memo))
    report.files += len(render_feeds(ctx, _issues(done), Contents(done)))
    return _finish(report, strict, started)


def each_issue(ctx: Context, sources: list[Source], keys: dict[int, memos.Keys], memo: Memo, pool: Workers, progress: Progress | None) -> list[Done]:
    """Every issue validated and rendered: from the cache where its content is there, else
    in one task on the pool (validate, render, store).  In the order of ``sources``."""
    found = memo.lookup(sources, keys)
    todo = [src for src in sources if src.number not in found]
    fresh: Iterator[Done] = pool.map(memo.one_pass, [(ctx, src, keys[src.number]) for src in todo])
    for n, d in enumerate(fresh, 1):
        found[d.number] = d
        if progress:
            progress(n, len(todo))
    return [found[src.number] for src in sources]


def each_page(ctx: Context, done: list[Done], keys: dict[int, memos.Keys], memo: Memo) -> dict[str, tuple[int, Output]]:
    """Every issue's web page by page key, as (issue number, stored file or bytes): taken
    from the cache unless its content or its neighbours changed.  In this process: a page
    costs a fraction of a millisecond, and only the pages whose neighbours changed render."""
    near = neighbours(_issues(done))
    todo = [(d, keys[d.number], near[d.number]) for d in done]
    return {key: (d.number, page) for d, (key, page) in zip(done, memo.pages(ctx, todo), strict=True)}


def each_archive_page(ctx: Context, done: list[Done], keys: dict[int, memos.Keys], memo: Memo) -> dict[str, tuple[str, Output]]:
    """Every archive page by page key, as (path, stored file or bytes): taken from the
    cache unless the issues it lists changed, so an edit makes only its own page again."""
    pages = archive_pages(ctx, _issues(done))
    return {key: (page.path, out) for page, (key, out) in zip(pages, memo.archive(ctx, pages, keys), strict=True)}


def _report(config: Config, done: list[Done], strict: bool) -> Report:
    """Every problem of every issue, in one round: errors (and, under --strict, warnings)
    fail here, before anything is written."""
    problems = list(config.warnings)
    for d in done:
        problems.extend(d.checked.problems)
        if d.clip is not None:
            problems.append(d.clip)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    problems.sort(key=lambda p: (p.path, p.line or 0))
    if strict and (fatal := strict_failures(problems)):
        raise DigestError(fatal)
    issues = _issues(done)
    files = sum(len(d.files or d.outputs or ()) for d in done)  # the site's own are added once rendered
    return Report(len(issues), len(published(issues)), sum(d.fresh for d in done), files, warnings=problems)


def _issues(done: list[Done]) -> list[Issue]:
    return [d.checked.issue for d in done if d.checked.issue is not None]


def _files(done: list[Done], issue_pages: dict[str, tuple[int, Output]], archive: dict[str, tuple[str, Output]], feeds: dict[str, bytes]) -> dict[str, Any]:
    """Every file of the site: each issue's and its web page, the archive pages (linked
    from the cache where stored) and the feeds."""
    files: dict[str, Any] = {output.MARKER: output.MARKER_TEXT}
    slugs = {}
    for d in done:
        assert d.checked.issue is not None
        slug = slugs[d.number] = d.checked.issue.slug
        for name, f in (d.files or d.outputs or {}).items():
            files[f"issues/{slug}/{name}"] = f
    for number, page in issue_pages.values():
        files[f"issues/{slugs[number]}/{PAGE_FILE}"] = page
    files.update(archive.values())
    files.update(feeds)
    return files


def _summary(report: Report) -> dict[str, Any]:
    return {"issues": report.issues, "published": report.published, "files": report.files, "warnings": [asdict(w) for w in report.warnings]}


def _from_summary(summary: dict[str, Any]) -> Report:
    return Report(summary["issues"], summary["published"], 0, summary["files"], warnings=[Problem(**w) for w in summary["warnings"]])


def _finish(report: Report, strict: bool, started: float) -> Report:
    """Under --strict, warnings (the accessibility lint, the clip warning, low contrast) fail
    like errors: here for a build with nothing to do, in _report() before anything is written."""
    if strict and (fatal := strict_failures(report.warnings)):
        raise DigestError(fatal)
    report.seconds = time.perf_counter() - started
    return report


def render_issue_email(root: Path, number: int) -> tuple[Config, Issue, str, str]:
    """One issue's email as (config, issue, html, text), for sending a test."""
    ctx = context(load_config(root))
    sources = [src for src in read_sources(ctx.config) if src.number == number]
    if not sources:
        raise DigestError([Problem("issues", None, f"there is no issue {number}")])
    checked = validate_issue(ctx, sources[0])
    if not checked.ok or checked.issue is None:
        raise DigestError(list(checked.problems))
    rendered = render_issue(ctx, checked.issue)
    return ctx.config, checked.issue, rendered.files["email.html"].decode(), rendered.files["email.txt"].decode()


__all__ = ["build", "check", "feed_issues", "published", "render_issue_email", "Report", "DigestError"]
