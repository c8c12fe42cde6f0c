"""Render the archive index page: every published issue, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from digest.core.models import Config, Issue

if TYPE_CHECKING:
    import jinja2


def render_archive(env: jinja2.Environment, config: Config, issues: Sequence[Issue]) -> str:
    """The ``archive.html`` page.  ``issues`` arrive filtered (no drafts) and sorted."""
    return env.get_template("archive.html").render(issues=list(issues))
