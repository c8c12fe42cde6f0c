"""Render the plain-text email of an issue.

Rules: markdown becomes text with every link's URL written out (``markdown_text``);
every text is wrapped at 78 columns, breaking only at spaces, so URLs and code stay
whole and clickable (:mod:`digest.core.wrap`); images appear as their alt text; links
carry config.yaml's utm_* parameters (:mod:`digest.render.utm`); the result has no
trailing spaces, no runs of blank lines, and ends with exactly one newline.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from digest.core.models import Config, Issue, Section
from digest.core.plaintext import title_text
from digest.render import utm

if TYPE_CHECKING:
    import jinja2

_TRAILING_SPACE = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_RUN = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class InIssue:
    """The text email's link hook: a link to ``#anchor`` is written as the web page's place
    (plain text has no places to jump to); any other link gets the UTM tag, if any.  A value,
    as markdown rendering caches on it."""

    page: str  # the issue's web page
    tag: utm.Tagger | None

    def __call__(self, url: str) -> str:
        if url.startswith("#"):
            return self.page + url
        return self.tag(url) if self.tag is not None else url


def render_text(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The text/plain part of the email, from the ``email.txt`` template."""
    tag = utm.tagger(config, issue)  # the email's links carry config.yaml's utm_* parameters
    items = utm.tag_items(_url_titles_dropped(issue), tag)
    text = env.get_template("email.txt").render(issue=items, link_tag=InIssue(issue.url, tag))
    # Templates (including a newsletter's own) need not manage blank lines exactly:
    # the layout is normalised here instead.
    text = _TRAILING_SPACE.sub("", text.replace("\r\n", "\n"))
    text = _BLANK_RUN.sub("\n\n", text)
    return text.strip("\n") + "\n"


def _url_titles_dropped(issue: Issue) -> Issue:
    """``issue`` without the titles that are only their item's URL: the text email writes
    an item's URL on its own line, and a title that is the URL printed it twice."""

    def dropped(section: Section) -> Section:
        items = tuple(
            (
                dataclasses.replace(item, title=None)
                if item.title and item.url and title_text(item.title) == item.url
                else item
            )
            for item in section.items
        )
        return dataclasses.replace(section, items=items, sections=tuple(map(dropped, section.sections)))

    return dataclasses.replace(issue, sections=tuple(map(dropped, issue.sections)))
