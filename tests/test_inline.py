"""premailer through its public API (digest/render/css_inline.py): the same bytes premailer
alone writes, and no stylesheet ever fetched."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from webserver import Web, send, serve

from digest.render.inline import inline_css


@pytest.fixture()
def web() -> Iterator[Web]:
    yield from serve()


def _premailer_alone(html: str) -> str:
    """What premailer writes with inline_css's options and nothing done around it."""
    import premailer

    body = html.removeprefix("<!doctype html>")
    inliner = premailer.Premailer(
        allow_network=False,
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,
        strip_important=False,
        remove_classes=False,
        disable_basic_attributes=["width", "height"],
        disable_validation=True,
        cache_css_parsing=False,
        cssutils_logging_level=logging.CRITICAL,
    )
    return "<!doctype html>" + inliner.transform(body, pretty_print=False)


# Each stylesheet shape css_inline treats: split into rules (with @media between them, rules
# that select nothing, comments, at-rules premailer drops), or left whole (a pseudo-class,
# an unfinished block); blocks premailer does not read; specificity ties across blocks.
DOCUMENTS = {
    "split": (
        """<!doctype html><html><head>
<style type="text/css">
/* first */ p { margin: 0 0 12px; color: #111111; }
@media only screen and (max-width: 479px) { p { margin: 0 !important; } .wide { width: 100% } }
h2 a, h3 a, .nothing a { text-decoration: none; }
@font-face { font-family: X; src: url(x.woff); }
.md-table th, .md-table td { padding: 4px 8px; text-align: left; vertical-align: top; }
blockquote { border-left: 3px solid #e4e4e7; }
td.cell { background-color: #f4f4f5; }
.a.b > span + em { font-weight: bold; }
</style>
<style>p { color: #222222 } .lead { color: #333333 !important }</style>
  <style media="print">p { color: black }</style>
<style data-premailer="ignore">@media (prefers-color-scheme: dark) { p { color: #eeeeee !important } }</style>
</head><body><div class="card">
<h2><a href="https://example.com/">Title</a></h2>
<P class="lead">One</P><p style="color: red">Two</p>
<table class="md-table"><tr><th>H</th><td class="cell" bgcolor="#ffffff">D</td></tr></table>
<div class="a b"><span>s</span> <em>e</em></div>
<div class="&#109;eta wide">m</div>
<img class="f" src="https://example.com/i.png" style="width: 10px"><img class="g" src="https://example.com/j.png">
<style>.f { float: right; } .g { float: left; border: 0 }</style>
</div></body></html>"""
    ),
    "left whole": (
        """<!doctype html><html><head>
<style>a { color: #0b6e4f; } a:hover { color: #000000; } p { margin: 0; }
@media (max-width: 479px) { a { color: #111111; } }</style>
<style>ul { padding: 0 } @media screen { li { margin: 0 } </style>
</head><body><ul><li><a href="#">x</a></li></ul><p>y</p></body></html>"""
    ),
    "no media": (
        """<!doctype html><html><head><style>h1 { font-size: 26px; } .x { color: red; }</style>
<style>.unused { color: blue; }</style>  <style>h1 { font-size: 20px; }</style></head>
<body><h1 class="x">Hi</h1></body></html>"""
    ),
    "media only": (
        """<!doctype html><html><head><style>@media (max-width: 400px) { h1 { font-size: 20px; } }</style>
</head><body><h1>Hi</h1></body></html>"""
    ),
}


@pytest.mark.parametrize("name", DOCUMENTS)
def test_inlining_writes_what_premailer_alone_writes(name: str) -> None:
    """Byte for byte, for every shape of stylesheet, on its first and on a later call (when
    what is kept of a stylesheet comes from the process's cache)."""
    html = DOCUMENTS[name]
    want = _premailer_alone(html)
    assert inline_css(html) == want
    assert inline_css(html) == want


def test_inlining_fetches_no_stylesheet(web: Web) -> None:
    """No network during a build: premailer is told not to read <link> stylesheets, and no
    @import reaches cssutils, which would fetch it (premailer inlines none of its rules, and
    has no public way to give cssutils a fetcher).  Before, each @import was fetched."""
    for path in ("/link.css", "/a.css", "/b.css", "/c.css", "/d.css", "/e.css"):
        web.routes[path] = lambda h: send(h, 200, b"p { color: #ff0000 }", {"Content-Type": "text/css"})
    html = f"""<!doctype html><html><head><link rel="stylesheet" href="{web.url("/link.css")}">
<style>@import url({web.url("/a.css")}); p {{ margin: 0 }} @media (max-width: 400px) {{ p {{ margin: 1px }} }}</style>
<style>@IMPORT "{web.url("/b.css")}"; a {{ color: blue }} a:hover {{ color: navy }}</style>
<style>/* x */ @import url('{web.url("/c.css")}') screen; p {{ padding: 0 }}</style>
<style>@import url({web.url("/d.css")}); h1 {{ color: green </style>
<style>@media screen {{ @import url({web.url("/e.css")}); }} h1 {{ margin: 0 }}</style>
</head><body><h1>Hi</h1><p>x <a href="#">y</a></p></body></html>"""
    out = inline_css(html)
    assert web.requests == []
    assert "#ff0000" not in out and 'style="margin:0"' not in out
    assert '<p style="margin:0; padding:0">' in out and 'style="color:blue"' in out
