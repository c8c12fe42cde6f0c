"""The whole pipeline, in order: load → validate → model → render → write.

Every issue is loaded and validated into models before anything is rendered, and
everything is rendered into a staging folder before the site is swapped in, so a
build either produces a complete site or changes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .config import load_config
from .errors import DigestError, Problem
from .issues import discover, load_issue
from .models import Config, Issue

SITE_DIR = "site"


@dataclass
class Report:
    issues: int = 0
    published: int = 0
    files: int = 0
    changed: int = 0  # issues rendered afresh (the others came from the build cache)
    seconds: float = 0.0
    warnings: list[Problem] = field(default_factory=list)


def build(root: Path, out: Path | None = None) -> Report:
    """Build the newsletter in ``root`` into ``out`` (default ``root/site``)."""
    started = time.perf_counter()
    config = load_config(root)
    issues, warnings = load_issues(config)
    report = Report(issues=len(issues), published=len(published(issues)), changed=len(issues), warnings=warnings)
    from . import writer

    with writer.staging(out or root / SITE_DIR) as stage:
        for rel, data in render_site(config, issues):
            stage.write(rel, data)
        report.files = stage.count
    report.seconds = time.perf_counter() - started
    return report


def check(root: Path) -> Report:
    """Validate and render everything, writing nothing."""
    started = time.perf_counter()
    config = load_config(root)
    issues, warnings = load_issues(config)
    report = Report(issues=len(issues), published=len(published(issues)), warnings=warnings)
    for _ in render_site(config, issues):
        report.files += 1
    report.seconds = time.perf_counter() - started
    return report


def load_issues(config: Config) -> tuple[list[Issue], list[Problem]]:
    """Every issue as a model, sorted by number; raise DigestError listing every problem."""
    files, problems = discover(config.root)
    issues = []
    for number, path, rel in files:
        issue, found = load_issue(config, number, path, rel)
        problems.extend(found)
        if issue is not None:
            issues.append(issue)
    errors = [p for p in problems if not p.warning]
    if errors:
        raise DigestError(problems)
    return issues, problems


def published(issues: list[Issue]) -> list[Issue]:
    """Drafts never reach the archive index or the feeds; newest first."""
    return sorted((i for i in issues if not i.draft), key=lambda i: i.number, reverse=True)


def render_site(config: Config, issues: list[Issue]) -> Iterator[tuple[str, bytes]]:
    """Every output file as (path under the site, bytes)."""
    from . import archive, feeds, render, text

    env = render.make_env(config)
    contents: dict[int, str] = {}
    newest = published(issues)
    in_feeds = {i.number for i in newest[: config.feed_items]}
    with render.template_errors():
        for issue in issues:
            base = f"issues/{issue.slug}/"
            yield base + "email.html", render.render_email(env, config, issue).encode()
            yield base + "email.txt", text.render_text(env, config, issue).encode()
            yield base + "index.html", render.render_web(env, config, issue).encode()
            if issue.number in in_feeds:
                contents[issue.number] = render.render_content(env, config, issue)
        yield "index.html", archive.render_archive(env, config, newest).encode()
    feed_issues = newest[: config.feed_items]
    yield from feeds.render_feeds(config, feed_issues, contents).items()


def render_issue_email(root: Path, number: int) -> tuple[Config, Issue, str, str]:
    """One issue's email as (config, issue, html, text), for sending a test."""
    from . import render, text

    config = load_config(root)
    issues, _ = load_issues(config)
    issue = next((i for i in issues if i.number == number), None)
    if issue is None:
        raise DigestError([Problem("issues", None, f"there is no issue {number}")])
    env = render.make_env(config)
    with render.template_errors():
        return config, issue, render.render_email(env, config, issue), text.render_text(env, config, issue)


__all__ = ["build", "check", "load_issues", "published", "render_site", "Report", "DigestError"]
