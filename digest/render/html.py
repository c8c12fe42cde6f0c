"""Render an issue to HTML: the inlined email, the web page and the bare content fragment.

The parts, each in its own module:
- environment: the Jinja2 environment (template lookup, autoescape, the filters);
- mjml: MJML to HTML through MRML;
- inline: premailer's CSS inlining and the lean email;
- errors: template and MJML mistakes as user errors at their line.

Output is deterministic: rendering the same issue twice, in any process, gives the same
bytes (no timestamps, no random ids, no hash-ordered iteration).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup

from digest.core import anchors
from digest.core.errors import DigestError, Problem
from digest.core.models import Config, Issue
from digest.render import utm
from digest.render.archive import Neighbours
from digest.render.environment import UNSUBSCRIBE_PLACEHOLDER
from digest.render.errors import MjmlError, template_path
from digest.render.inline import finish_email, inline_email
from digest.render.mjml import MAX_DEPTH, mjml_error_line, mjml_to_html, source_line, too_deep

if TYPE_CHECKING:
    import jinja2


def render_content(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The issue body as an HTML fragment: used in the web page and as feed content."""
    return env.get_template("_content.html").render(issue=issue).strip() + "\n"


def render_web(env: jinja2.Environment, config: Config, issue: Issue, content: str, neighbours: Neighbours) -> str:
    """The standalone web page of an issue (no external resources but the content's images).

    ``content`` is the issue's render_content(); ``neighbours`` all the page shows of other issues."""
    return env.get_template("issue.html").render(issue=issue, content=Markup(content), neighbours=neighbours)


def render_email(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    """The email HTML: Jinja2 → MJML → HTML → CSS inlined, unsubscribe URL restored."""
    mjml_src = email_mjml(env, config, issue)
    # Only an override can nest deep enough to crash MRML (the built-in templates and markdown
    # cannot), so only a newsletter with a templates/ folder pays for the count.
    if getattr(env, "overridden", True) and (deep := too_deep(mjml_src)) is not None:
        template = env.get_template("email.mjml")
        where = template_path(template.filename)
        message = (
            f"MJML cannot convert what this template produces: elements nested more than {MAX_DEPTH} deep (<{deep[1]}>)"
        )
        if where.startswith("templates/"):
            raise DigestError([Problem(where, source_line(mjml_src, deep[0], template.filename), message)])
        raise DigestError([Problem(where, None, f"{message}, in the email of {issue.source}")])
    try:
        html = mjml_to_html(mjml_src)
    except MjmlError as e:
        template = env.get_template("email.mjml")
        where = template_path(template.filename)
        if where.startswith("templates/"):  # the newsletter's own template: its markup is the cause
            line, detail = mjml_error_line(mjml_src, template.filename)
            raise DigestError(
                [Problem(where, line, f"MJML cannot convert what this template produces: {e}{detail}")]
            ) from e
        raise DigestError([Problem(where, None, f"MJML cannot convert the email of {issue.source}: {e}")]) from e
    return finish_email(inline_email(html), config)


# The first stage of render_email, public so that tests and timing can reach it.


def email_mjml(env: jinja2.Environment, config: Config, issue: Issue) -> str:
    placeholder = UNSUBSCRIBE_PLACEHOLDER if config.email.unsubscribe_url else None
    tag = utm.tagger(config, issue)
    return env.get_template("email.mjml").render(
        issue=utm.tag_items(issue, tag), unsubscribe_url=placeholder, link_tag=tag, linked=anchors.linked(issue)
    )
