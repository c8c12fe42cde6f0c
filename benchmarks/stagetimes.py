"""Where one issue's time goes, for ``python -m benchmarks.bench``: CPU milliseconds per stage.

Measured in the benchmark's own process on a sample of issues, in CPU time like the builds'
figures (on a loaded machine a wall-clock stage time counts other processes' work too).
render_issue (the email, its plain text and the content fragment) is timed as a build runs
it, its markdown not yet converted; the email's stages are then timed again one by one, the
markdown converted already (Jinja2 alone, MRML, CSS inlining with the finishing touches):
Jinja2 + MRML + inlining is the floor the design sets for one email.
"""

from __future__ import annotations

import time
from pathlib import Path


def stage_times(root: Path, sample: int = 20) -> dict[str, float]:
    """CPU milliseconds per issue of: validate, render_issue, the web page, and the email's
    Jinja2, MRML and inlining (and finishing) stages."""
    from digest.core.config import load_config
    from digest.pipeline.stages import context, read_sources, render_issue, render_page, validate_issue
    from digest.render import html
    from digest.render.archive import Neighbours

    ctx = context(load_config(root))
    env, config = ctx.env, ctx.config
    sources = read_sources(config)[-sample:]
    totals = dict.fromkeys(("validate", "render_issue", "page", "jinja", "mrml", "inline+finish"), 0.0)
    first = validate_issue(ctx, sources[0]).issue
    assert first is not None
    render_issue(ctx, first)  # warm the imports and the templates
    for src in sources:
        t0 = time.process_time()
        issue = validate_issue(ctx, src).issue
        t1 = time.process_time()
        assert issue is not None, src.rel
        rendered = render_issue(ctx, issue)  # as a build does it: its markdown not yet converted
        t2 = time.process_time()
        render_page(ctx, issue, rendered.content, Neighbours(None, None, ()))
        t3 = time.process_time()
        mjml_src = html.email_mjml(env, config, issue)  # its markdown converted already: Jinja2 alone
        t4 = time.process_time()
        html.mjml_to_html(mjml_src)
        t5 = time.process_time()
        html.render_email(env, config, issue)
        t6 = time.process_time()
        for name, seconds in (
            ("validate", t1 - t0),
            ("render_issue", t2 - t1),
            ("page", t3 - t2),
            ("jinja", t4 - t3),
            ("mrml", t5 - t4),
            ("inline+finish", (t6 - t5) - (t5 - t3)),
        ):
            totals[name] += seconds
    return {name: seconds * 1000 / len(sources) for name, seconds in totals.items()}
