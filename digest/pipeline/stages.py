"""The build's stages as plain functions: values in, values out, no cache, no processes.

    read_sources(config)                the issue files' bytes
    validate_issue(ctx, source)         one file → its model and problems
    render_issue(ctx, issue)            one model → its email (HTML, text) and content fragment
    neighbours(issues)                  what each issue page shows of the others
    render_page(ctx, issue, content, near)  one issue's web page, from its fragment and neighbours
    archive_pages(ctx, issues)          what each archive page lists
    render_archive_page(ctx, page)      one archive page
    render_feeds(ctx, issues, contents) the feeds

The build (digest.pipeline.build) runs them, with the build cache and a process pool
around the per-issue ones; check, send and the preview run the same functions.  An issue's web
page is not part of render_issue: it shows other issues (previous, next, recent), and
what render_issue makes must depend on the issue alone, so that editing one issue
renders that one again, not all.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from digest.core.errors import DigestError, Problem
from digest.core.issuefiles import discover
from digest.core.issues import load_issue
from digest.core.models import Config, Issue

if TYPE_CHECKING:
    import jinja2

    from digest.render.archive import ArchivePage, Neighbours

PAGE_FILE = "index.html"
RACY_NS = 2_000_000_000  # a file changed this recently is read again whatever its stat says (see read_sources)
_PACKAGE = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Context:
    """What every stage may read: the validated config and the state of the templates."""

    config: Config
    templates: bytes  # a hash of every template (the newsletter's and the built-in ones) and of digest itself

    @property
    def env(self) -> jinja2.Environment:
        return _env(self.config, self.templates)


@dataclass(frozen=True)
class Source:
    number: int
    path: Path
    rel: str  # as messages name it: issues/0263.yaml
    data: bytes
    stamp: tuple[int, int, int] = (0, 0, 0)  # the file's size, mtime_ns and inode before it was read


@dataclass(frozen=True)
class Checked:
    """One issue validated: the model (None when it has errors) and every problem found."""

    source: str
    issue: Issue | None
    problems: tuple[Problem, ...]

    @property
    def ok(self) -> bool:
        return self.issue is not None and all(p.warning for p in self.problems)


@dataclass(frozen=True)
class Rendered:
    """One issue's outputs: its email's files under site/issues/<n>/, and its HTML fragment
    (the web page's body and the feeds' content)."""

    files: dict[str, bytes]
    content: str
    clip: Problem | None  # the clip gate's warning on email.html


def context(config: Config) -> Context:
    """What every stage reads: the config (with what its local sibling editions publish) and the templates' state."""
    from digest.core.siblings import with_siblings

    return Context(with_siblings(config), templates_state(config.root))


def templates_state(root: Path) -> bytes:
    """A hash of what rendering reads besides the issue and config.yaml: the newsletter's
    templates, the built-in ones and digest's own code.  Files are named relative to their
    folder, so how the newsletter's path is spelt never changes it."""
    h = hashlib.sha256(b"digest templates\n")
    folders = [
        ("digest", _PACKAGE, "*.py"),
        ("templates", root / "templates", "*"),
        ("builtin", _PACKAGE / "render" / "templates", "*"),
    ]
    for label, folder, pattern in folders:
        if not folder.is_dir():
            continue
        for path in sorted(p for p in folder.rglob(pattern) if p.is_file()):
            try:
                data = path.read_bytes()
            except OSError:
                data = b"<unreadable>"
            h.update(f"\0{label}/{path.relative_to(folder).as_posix()}\0{len(data)}\0".encode())
            h.update(data)
    return h.digest()


def read_sources(config: Config, known: Mapping[str, Source] | None = None) -> list[Source]:
    """Every issue file's bytes; naming and reading problems are errors, reported together.

    ``known``: the sources read before, by their rel (the preview's, on each save).  A file whose size, mtime and
    inode are still what they were is not read again, unless it changed in the last RACY_NS, where an mtime may not
    tell two writes apart (as git's index treats a racily clean file)."""
    files, problems = discover(config.root)
    if any(not p.warning for p in problems):
        raise DigestError(problems)
    sources, now, known = [], time.time_ns(), known or {}
    for number, path, rel in files:
        try:
            st = os.stat(path)
            stamp = (st.st_size, st.st_mtime_ns, st.st_ino)
            old = known.get(rel)
            if old is not None and old.number == number and old.stamp == stamp and now - st.st_mtime_ns > RACY_NS:
                sources.append(old)
            else:
                sources.append(Source(number, path, rel, path.read_bytes(), stamp))
        except OSError as e:
            problems.append(Problem(rel, None, f"cannot read file: {e.strerror or e}"))
    if problems:
        raise DigestError(problems)
    return sources


def validate_issue(ctx: Context, source: Source) -> Checked:
    """Parse and validate one issue file into its model."""
    issue, problems = load_issue(ctx.config, source.number, source.path, source.rel, source.data)
    return Checked(source.rel, issue, tuple(problems))


def render_issue(ctx: Context, issue: Issue) -> Rendered:
    """One issue's email (HTML and text) and content fragment."""
    from digest.core import lint
    from digest.render import html as render
    from digest.render.environment import template_errors

    env, config = ctx.env, ctx.config
    with template_errors():
        files = {
            "email.html": render.render_email(env, config, issue).encode(),
            "email.txt": render.render_text(env, config, issue).encode(),
        }
        content = render.render_content(env, config, issue)
    clip = None
    # A warning even over the limit: an archive with long past issues still publishes its
    # pages and feeds; send and export refuse such an email, and --strict fails on it.
    if (verdict := lint.clip_verdict(files["email.html"].decode())) is not None:
        clip = Problem(issue.source, None, verdict[1], warning=True)
    return Rendered(files, content, clip)


def neighbours(issues: Iterable[Issue]) -> dict[int, Neighbours]:
    """Every issue's neighbours (previous, next and recent published issues): all that its
    web page shows of other issues.  Drafts are nobody's neighbour."""
    from digest.render import archive

    listed = list(issues)
    return archive.all_neighbours(listed, published(listed))


def render_page(ctx: Context, issue: Issue, content: str, near: Neighbours) -> bytes:
    """One issue's web page from its content fragment (render_issue's) and its neighbours."""
    from digest.render import html as render
    from digest.render.environment import template_errors

    with template_errors():
        return render.render_web(ctx.env, ctx.config, issue, content, near).encode()


def archive_pages(ctx: Context, issues: Iterable[Issue]) -> list[ArchivePage]:
    """What each archive page (index.html, page/2/index.html, ...) lists: the published issues, newest first."""
    from digest.render import archive

    return archive.archive_pages(ctx.config, published(issues))


def render_archive_page(ctx: Context, page: ArchivePage) -> bytes:
    """One archive page, from what it lists."""
    from digest.render import archive
    from digest.render.environment import template_errors

    with template_errors():
        return archive.render_archive_page(ctx.env, ctx.config, page).encode()


def render_feeds(ctx: Context, issues: Iterable[Issue], contents: Mapping[int, str]) -> dict[str, bytes]:
    """The three feeds (``contents``: each feed issue's HTML fragment)."""
    from digest.render import feeds

    return feeds.render_feeds(ctx.config, feed_issues(ctx.config, published(issues)), contents)


def published(issues: Iterable[Issue]) -> list[Issue]:
    """Drafts never reach the archive index or the feeds; newest first."""
    return sorted((i for i in issues if not i.draft), key=lambda i: i.number, reverse=True)


def feed_issues(config: Config, issues: Iterable[Issue]) -> list[Issue]:
    """The issues the feeds carry: the newest ``feed_items`` published ones."""
    return published(issues)[: config.feed_items]


@lru_cache(maxsize=2)
def _env(config: Config, templates: bytes) -> jinja2.Environment:
    """One Jinja2 environment per newsletter, per process, per state of its templates."""
    from digest.render.environment import make_env

    return make_env(config)


def preload() -> None:
    """Import what rendering needs, so that worker processes forked after it start warm
    instead of importing it each."""
    import babel.dates  # noqa: F401
    import feedgen.feed  # noqa: F401
    import jinja2  # noqa: F401
    import lxml.html  # type: ignore[import-untyped]  # noqa: F401
    import mjml  # noqa: F401
    import premailer  # noqa: F401

    import digest.core.lint  # noqa: F401
    import digest.render.archive  # noqa: F401
    import digest.render.feeds  # noqa: F401
    import digest.render.html  # noqa: F401
