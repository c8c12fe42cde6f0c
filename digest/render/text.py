"""Render the plain-text email of an issue.

Rules: markdown becomes text with every link's URL written out (``markdown_text``);
every text is wrapped at 78 columns, breaking only at spaces, so URLs and code stay
whole and clickable (:mod:`digest.core.wrap`); images appear as their alt text; links
carry config.yaml's utm_* parameters (:mod:`digest.render.utm`); the result has no
trailing spaces, no runs of blank lines, and ends with exactly one newline.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from digest.core.models import Config, Issue
from digest.render import utm

if TYPE_CHECKING:
    import jinja2

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")


def render_text(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The text/plain part of the email, from the ``email.txt`` template."""
    tag = utm.tagger(config, issue)  # the email's links carry config.yaml's utm_* parameters
    text = env.get_template("email.txt").render(issue=utm.tag_items(issue, tag), link_tag=tag)
    # Templates (including a newsletter's own) need not manage blank lines exactly:
    # the layout is normalised here instead.
    text = _TRAILING_SPACE.sub("", text.replace("\r\n", "\n"))
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n") + "\n"
