"""``digest build`` and ``digest check``: read → validate → render → write.

Follow one issue through build(): read_sources() reads its file; issue_keys() names its
content; each_issue() takes its model and files from the build cache, or validates and
renders it (validate_issue(), render_issue()); site_files() lays out every file of the
site: the issue's email files, its web page (render_page(), with its neighbours), its local
images (once per content), the archive page that lists it and the feeds; publish() writes
what changed.  check, send, export and the preview run the same functions; the preview keeps
the files in memory.

Every issue is validated and rendered before anything is written, so errors are
reported together and a failed build writes nothing; the new site appears at once
(digest.pipeline.publish), so a build either produces a complete site or changes nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from digest.core.cachedir import newsletter_cache
from digest.core.errors import DigestError, Problem, strict_failures
from digest.core.issues import date_order
from digest.core.models import Config, Image, Issue
from digest.core.translation import unsendable
from digest.pipeline import output
from digest.pipeline.cache import Cache, Record, issue_keys, salt
from digest.pipeline.publish import Later, Output, publish, reusable, unchanged
from digest.pipeline.search import Bundles, Held, Indexed, search_files
from digest.pipeline.stages import (
    PAGE_FILE,
    Context,
    Source,
    archive_pages,
    context,
    feed_issues,
    neighbours,
    preload,
    published,
    read_sources,
    render_archive_page,
    render_feeds,
    render_issue,
    render_page,
    validate_issue,
)
from digest.render.archive import chunk_of

SITE_DIR = "site"
CONTENT = "content.html"  # an issue's HTML fragment (its web page's body, the feeds' content): cached, not published
Progress = Callable[[int, int], None]  # (issues done, issues to render)
POOL_THRESHOLD = 8  # fewer issues than this render faster here than a process pool starts


@dataclass
class Report:
    issues: int = 0
    published: int = 0
    changed: int = 0  # issues validated and rendered afresh; the rest came from the build cache
    files: int = 0
    seconds: float = 0.0
    warnings: list[Problem] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)  # the issues being prepared (the newest, the drafts): their files


@dataclass(frozen=True)
class Result:
    """One issue through validate and render: from the build cache, or made just now."""

    number: int
    key: str
    issue: Issue | None  # None: it has errors
    problems: tuple[Problem, ...]  # validation's
    files: dict[str, bytes] | None = None  # email.html, email.txt and CONTENT, when made just now
    cached: Record | None = None  # when taken from the cache: its files are read when needed
    clip: Problem | None = None  # the clip gate's warning on email.html

    @classmethod
    def of(cls, number: int, key: str, record: Record) -> Result:
        """An issue as the build cache holds it: its files are read when needed."""
        return cls(number, key, record.issue, record.warnings, cached=record, clip=record.clip)

    @property
    def rendered(self) -> bool:
        """Whether its files exist (made just now or cached); the preview validates first and renders on demand."""
        return self.files is not None or self.cached is not None

    @property
    def all_problems(self) -> tuple[Problem, ...]:
        return (*self.problems, *([self.clip] if self.clip else []))

    def file(self, ctx: Context, name: str) -> bytes:
        """One of its rendered files; rendered again if the cached copy is gone or damaged."""
        if self.files is not None:
            return self.files[name]
        if self.cached is not None and (data := self.cached.pack.read(name)) is not None:
            return data
        assert self.issue is not None
        return _render(ctx, self.issue)[1][name]


def build(
    config: Config,
    out: Path | None = None,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    strict: bool = False,
    verify: bool = False,
) -> Report:
    """Build the newsletter into ``out`` (default ``config.root/site``).

    ``strict``: a warning fails the build like an error (the site stays as it was).
    ``verify``: trust nothing the last build recorded about the site; write every file."""
    started = time.perf_counter()
    target = (out or config.root / SITE_DIR).absolute()
    output.check_output(config.root, target)
    cache = Cache(newsletter_cache(config.root))
    with output.locked(config.root, cache.folder):
        site = plan(config, cache, target, jobs=jobs, progress=progress, strict=strict, verify=verify)
        if site.files is not None:
            site.done(publish(target, site.files, site.record, verify))
    return finish(site.report, strict, started)


@dataclass
class Plan:
    """One newsletter's site laid out and checked, nothing written yet: build() publishes it; the family's
    build (digest.editions) publishes several as one tree.  ``files`` None: the output is this site already."""

    cache: Cache
    target: Path
    key: str
    keys: dict[int, str]
    record: dict[str, Any]
    report: Report
    files: dict[str, Output] | None

    def done(self, written: dict[str, Any] | None) -> None:
        """After publishing: what ``target`` now holds is recorded (unless published elsewhere: None), and the
        build cache keeps only this site's records."""
        if written is not None:
            self.cache.record_site(
                self.target, {"site_key": self.key, "summary": _summary(self.report), "files": written}
            )
        self.cache.prune(set(self.keys.values()))


def plan(
    config: Config,
    cache: Cache,
    target: Path,
    *,
    jobs: int | None = None,
    progress: Progress | None = None,
    strict: bool = False,
    verify: bool = False,
) -> Plan:
    """Read, validate and render (or take from the cache) every issue and lay out the site for ``target``;
    raise DigestError with every problem.  The caller holds the build lock."""
    ctx = context(config)
    sources = read_sources(config)
    keys = issue_keys(ctx, sources, cache)
    key = site_key(ctx, keys)
    record = cache.site(target)
    if not verify and unchanged(target, record, key):  # nothing to do
        return Plan(cache, target, key, keys, record, _from_summary(record["summary"]), None)
    results = each_issue(ctx, cache, sources, keys, jobs, progress)
    report = _report(config, results, strict)
    files = site_files(ctx, results, bundles=Bundles(cache.folder), held=partial(_held, target, record))
    report.files = len(files) - 1  # the marker is not counted
    return Plan(cache, target, key, keys, record, report, files)


def check(
    config: Config, *, jobs: int | None = None, strict: bool = False, sources: list[Source] | None = None
) -> Report:
    """Validate and render everything, writing nothing but the build cache.
    Pages the last build published under the same key cannot fail, so only the others render.

    ``strict``: a warning fails the check like an error.  ``sources``: the issue files, if read already."""
    started = time.perf_counter()
    ctx = context(config)
    cache = Cache(newsletter_cache(config.root))
    sources = read_sources(config) if sources is None else sources
    results = each_issue(ctx, cache, sources, issue_keys(ctx, sources, cache), jobs, None)
    report = _report(config, results, strict)
    target = (config.root / SITE_DIR).absolute()
    record = cache.site(target)
    files = site_files(ctx, results)
    for rel, made in files.items():
        if isinstance(made, Later) and reusable(target, record, rel, made.key) is None:
            made.make()
    report.files = len(files) - 1
    return finish(report, strict, started)


def each_issue(
    ctx: Context,
    cache: Cache,
    sources: list[Source],
    keys: dict[int, str],
    jobs: int | None,
    progress: Progress | None,
    render: bool = True,
) -> list[Result]:
    """Every issue validated and rendered, in the order of ``sources``: from the cache
    where it holds the issue's key, else made (on a process pool when there are many).
    ``render=False`` (the preview) only validates what the cache does not hold."""
    found: dict[int, Result] = {}
    for src in sources:
        if (record := cache.get(keys[src.number])) is not None:
            found[src.number] = Result.of(src.number, keys[src.number], record)
    todo = [(src, keys[src.number]) for src in sources if src.number not in found]
    if todo and render:
        ctx.env  # noqa: B018 - the build's Jinja2 environment, made once before the issues (forked workers inherit it)
    for n, result in enumerate(_map(partial(make_issue, ctx, cache, render=render), todo, jobs), 1):
        found[result.number] = result
        if progress:
            progress(n, len(todo))
    return [found[src.number] for src in sources]


def make_issue(ctx: Context, cache: Cache | None, job: tuple[Source, str], render: bool = True) -> Result:
    """One issue validated and rendered, and stored in the cache (if one is given)."""
    src, key = job
    checked = validate_issue(ctx, src)
    if not checked.ok or checked.issue is None or not render:
        return Result(src.number, key, checked.issue if checked.ok else None, checked.problems)
    clip, files = _render(ctx, checked.issue)
    if cache is not None:
        cache.put(key, checked.issue, checked.problems, clip, files)
    return Result(src.number, key, checked.issue, checked.problems, files, clip=clip)


def _render(ctx: Context, issue: Issue) -> tuple[Problem | None, dict[str, bytes]]:
    rendered = render_issue(ctx, issue)
    return rendered.clip, {**rendered.files, CONTENT: rendered.content.encode()}


def _map(
    func: Callable[[tuple[Source, str]], Result], todo: list[tuple[Source, str]], jobs: int | None
) -> Iterator[Result]:
    """``func`` over ``todo`` in order: here, or on a pool of forked workers when there are
    enough issues to repay starting it (output is the same: rendering is deterministic)."""
    jobs = jobs if jobs is not None else (os.cpu_count() or 1)
    if jobs <= 1 or len(todo) < POOL_THRESHOLD:
        yield from map(func, todo)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    yield func(todo[0])  # here, before the fork: the templates compiled and parsed, every worker inherits them
    preload()
    chunk = max(1, min(16, len(todo) // (jobs * 4)))
    with ProcessPoolExecutor(
        jobs, mp_context=multiprocessing.get_context("fork"), initializer=_die_with_parent
    ) as pool:
        try:
            yield from pool.map(func, todo[1:], chunksize=chunk)
        except BaseException:  # a template error fails every issue alike: the others are not started
            pool.shutdown(wait=False, cancel_futures=True)
            raise


def _die_with_parent() -> None:
    """A worker must not outlive a build that was killed (it would hold the terminal's pipes)."""
    import ctypes
    import signal

    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG, Linux only
    except (OSError, AttributeError):
        pass


def site_files(
    ctx: Context,
    results: list[Result],
    drafts: bool = False,
    bundles: Bundles | None = None,
    held: Held | None = None,
) -> dict[str, Output]:
    """Every file of the site by its path: each issue's email files and web page, the archive
    pages, the feeds and, with ``bundles`` (the build's), the search bundle.  Pages are made
    only when asked for (Later), so that a build renders only the pages whose content or
    neighbours changed (``held``: the pages the live site holds, which the index reads).

    Drafts are nobody's neighbour and are in no archive page, feed or search index; their own
    files are laid out only with ``drafts`` (the preview): the published site never has them."""
    files: dict[str, Output] = {output.MARKER: output.MARKER_TEXT}
    good = [r for r in results if r.issue is not None]
    issues = [r.issue for r in good if r.issue is not None]
    near = neighbours(issues)
    for r in good if drafts else [r for r in good if r.issue is not None and not r.issue.draft]:
        issue = r.issue
        assert issue is not None
        for name in ("email.html", "email.txt"):
            files[f"issues/{issue.slug}/{name}"] = Later(f"{r.key}:{name}", partial(r.file, ctx, name))
        page_key = hashlib.sha256(f"page\0{r.key}\0{near[issue.number]!r}".encode()).hexdigest()
        # Made once though both the search index and publishing may ask for it.
        files[f"issues/{issue.slug}/{PAGE_FILE}"] = Later(
            page_key, functools.cache(partial(_page, ctx, r, near[issue.number]))
        )
        for image in issue.local_images:  # one file per image content, however many issues use it
            if image.file is not None and image.file not in files:
                files[image.file] = Later(image_key(image), partial(_image, ctx, image))
    keys = {r.number: r.key for r in good}
    base = salt(ctx).hex()
    for page in archive_pages(ctx, issues):
        listed = "\0".join(keys[i.number] for i in page.issues)
        shown = f"{page.path}\0{page.page}\0{page.pages}\0{page.chunks}"  # chunks: the search box's bundles
        key = hashlib.sha256(f"archive\0{base}\0{shown}\0{listed}".encode()).hexdigest()
        files[page.path] = Later(key, partial(render_archive_page, ctx, page))
    by_number = {r.number: r for r in good}
    contents = {i.number: by_number[i.number].file(ctx, CONTENT).decode() for i in feed_issues(ctx.config, issues)}
    files.update(render_feeds(ctx, issues, contents))
    if bundles is not None and ctx.config.search:
        files.update(search_files(ctx.config.language, search_pages(files, good), bundles, held))
    return files


def search_pages(files: dict[str, Output], results: list[Result]) -> dict[int, dict[str, Indexed]]:
    """The pages the search indexes, every published issue's web page by site path, in the
    bundles of their issue numbers' ranges (by the range's first number).  Each is indexed by
    its issue's key (its content, config.yaml and the templates: all its indexed part and its
    language are made of), not its page's: the neighbours it shows are not indexed."""
    chunks: dict[int, dict[str, Indexed]] = {}
    keys = {r.number: r.key for r in results}
    for issue in published([r.issue for r in results if r.issue is not None]):
        page = files.get(f"issues/{issue.slug}/{PAGE_FILE}")
        if isinstance(page, Later):
            indexed = Indexed(keys[issue.number], page)
            chunks.setdefault(chunk_of(issue.number), {})[f"issues/{issue.slug}/{PAGE_FILE}"] = indexed
    return chunks


def _held(target: Path, record: dict[str, Any], rel: str, key: str) -> bytes | None:
    """The bytes of ``target/rel`` if the last build wrote it under ``key`` and it is still as written."""
    if reusable(target, record, rel, key) is None:
        return None
    try:
        return (target / rel).read_bytes()
    except OSError:
        return None


def _page(ctx: Context, r: Result, near: Any) -> bytes:
    assert r.issue is not None
    return render_page(ctx, r.issue, r.file(ctx, CONTENT).decode(), near)


def image_key(image: Image) -> str:
    """A published image's key: its name holds its source's hash; Pillow's version makes its bytes."""
    import PIL

    return hashlib.sha256(f"image\0{image.file}\0{image.width}x{image.height}\0{PIL.__version__}".encode()).hexdigest()


def _image(ctx: Context, image: Image) -> bytes:
    """A local image's published file, made from its source as validated (its name holds the bytes' hash)."""
    from digest.core import images
    from digest.render.images import publish as publish_image

    assert image.path is not None and image.file is not None and image.width and image.height
    ext = image.file.rsplit(".", 1)[-1]
    try:
        data = images.read(ctx.config.root, image.path)
    except images.Unusable as e:
        raise DigestError([Problem(image.path, None, f"{e} (it changed while the site was built)")]) from None
    if images.published_name(data, ext) != image.file:
        raise DigestError([Problem(image.path, None, "changed while the site was built: build again")])
    try:
        return publish_image(data, (image.width, image.height), ext)
    # What validation's decode let through (a pixel mode Pillow cannot convert) is the image's error too.
    except (OSError, ValueError, SyntaxError) as e:
        raise DigestError([Problem(image.path, None, f"could not be published: {e}")]) from None


def site_key(ctx: Context, keys: dict[int, str]) -> str:
    """The whole site is a function of config, the templates and its issues' keys."""
    return hashlib.sha256(salt(ctx) + "\n".join(k for _, k in sorted(keys.items())).encode()).hexdigest()


def _report(config: Config, results: list[Result], strict: bool) -> Report:
    """Every problem of every issue, in one round: errors (and, under --strict, warnings)
    fail here, before anything is written."""
    issues = [r.issue for r in results if r.issue is not None]
    problems = [*config.warnings, *(p for r in results for p in r.all_problems), *date_order(issues)]
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    problems.sort(key=lambda p: (p.path, p.line or 0))
    if strict and (fatal := strict_failures(problems)):
        raise DigestError(fatal)
    newest = published(issues)[:1]
    prepared = sorted(i.source for i in issues if i.draft or i in newest)
    return Report(
        len(issues),
        len(published(issues)),
        sum(r.files is not None for r in results),
        warnings=problems,
        prepared=prepared,
    )


def _summary(report: Report) -> dict[str, Any]:
    return {
        "issues": report.issues,
        "published": report.published,
        "files": report.files,
        "warnings": [dataclasses.asdict(w) for w in report.warnings],
        "prepared": report.prepared,
    }


def _from_summary(summary: dict[str, Any]) -> Report:
    return Report(
        summary["issues"],
        summary["published"],
        0,
        summary["files"],
        warnings=[Problem(**w) for w in summary["warnings"]],
        prepared=summary["prepared"],
    )


def finish(report: Report, strict: bool, started: float) -> Report:
    """Under --strict, warnings (the accessibility lint, the clip warning, low contrast) fail
    like errors: here for a build with nothing to do, in _report() before anything is written."""
    if strict and (fatal := strict_failures(report.warnings)):
        raise DigestError(fatal)
    report.seconds = time.perf_counter() - started
    return report


def render_one(config: Config, number: int) -> tuple[Issue, str, str]:
    """One issue's email as (issue, html, text), for send, export and push: from the cache or made now."""
    ctx = context(config)
    sources = [src for src in read_sources(config) if src.number == number]
    if not sources:
        raise DigestError([Problem("issues", None, f"there is no issue {number}")])
    cache = Cache(newsletter_cache(config.root))
    result = each_issue(ctx, cache, sources, issue_keys(ctx, sources, cache), 1, None)[0]
    if result.issue is None or any(not p.warning for p in result.problems):
        raise DigestError(list(result.all_problems))
    if marked := unsendable(sources[0].rel, sources[0].data):
        raise DigestError(marked)
    return result.issue, result.file(ctx, "email.html").decode(), result.file(ctx, "email.txt").decode()
