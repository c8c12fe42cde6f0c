"""premailer's CSS inlining, through its public API only, and the work digest does around it.

Tested with premailer 3.10 (pinned to 3.10.x in pyproject.toml): the leftover text below is
written as that version writes it, and tests/test_golden.py checks the bytes.

premailer (and cssutils, lxml, requests with it) is imported only when an email is inlined.

Rules:
- the email is exactly what ``premailer.Premailer(...).transform()`` makes of it with the
  options in inline_css, except for the two changes _after makes (bgcolor, align);
- premailer re-reads every stylesheet through cssutils on every call (a parse it caches,
  then every declaration written back out: about half of its time on an example email) and
  has no public option to keep what it makes of one.  So, once per stylesheet text and process, digest splits a
  stylesheet into its rules and writes its @media rules as premailer would leave them over;
  per email, premailer is given only the rules that can select something in that email
  (a rule that selects nothing adds nothing), and the @media text in a block it ignores;
- a stylesheet digest cannot split exactly (a pseudo-class, a nested at-rule, a rule that
  does not parse the same alone) is left to premailer whole, but for its @import rules;
- no network: premailer reads no <link> (allow_network=False, and its session refuses), and
  no @import reaches cssutils with its default fetcher, which would fetch it (premailer
  inlines no rule of an imported sheet, so taking @import out changes nothing it writes).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    import logging

DOCTYPE = "<!doctype html>"
# HTML allows bgcolor (and old clients read it) only on these.
BGCOLOR_ELEMENTS = frozenset({"table", "td", "body"})


def inline_css(html: str) -> str:
    """Move <style> rules into style="" attributes; media queries stay in <style>."""
    import logging

    import premailer
    from lxml import etree  # type: ignore[import-untyped]

    # premailer keeps a doctype only if it matches lxml's spelling case-sensitively;
    # take MJML's off and put it back verbatim.
    body = html.lstrip()
    if body[: len(DOCTYPE)].lower() == DOCTYPE:
        body = body[len(DOCTYPE) :]
    inliner = premailer.Premailer(
        allow_network=False,
        session=_NoNetwork(),
        base_url=None,
        disable_link_rewrites=True,
        keep_style_tags=False,  # inlinable rules move out; @media rules are left over
        strip_important=False,  # left-over @media rules need !important to beat inline
        remove_classes=False,  # the @media rules still select by class
        # MJML sets width/height attributes for Outlook (e.g. <img width="552">);
        # premailer would overwrite them from CSS ("100%"), breaking Outlook's sizes.
        disable_basic_attributes=["width", "height"],
        disable_validation=True,  # mso-* properties are not CSS 2.1, but needed
        cache_css_parsing=True,  # each rule's text is parsed by cssutils once per process
        align_floating_images=False,  # done by _after, for the images whose style can float
        cssutils_logging_level=logging.CRITICAL,
        cssutils_logging_handler=_null_handler(),
    )
    # Parsed as premailer parses a string it is given, so that the tree can be prepared and
    # finished around transform(), which works on a tree in place.
    stripped = body.strip()
    tree = etree.fromstring(stripped, etree.HTMLParser()).getroottree()
    page = tree.getroot()
    _before(page)
    had_bgcolor = set(page.xpath("//*[@bgcolor]"))
    inliner.transform(page)
    _after(page, had_bgcolor)
    # Serialised as premailer serialises; pretty_print would add whitespace between MJML's
    # inline-block columns.
    root = tree if stripped.startswith(tree.docinfo.doctype) else page
    inlined: str = etree.tostring(root, method="html", pretty_print=False, encoding="utf-8").decode("utf-8")
    return DOCTYPE + inlined


def preload() -> None:
    """Import premailer (and cssutils, lxml, requests with it) ahead of the first email."""
    import premailer  # noqa: F401


class _NoNetwork:
    """premailer's HTTP session: a build never fetches anything."""

    def get(self, url: str, *args: Any, **kwargs: Any) -> Any:
        raise OSError(f"digest never uses the network during a build (asked for {url})")


@lru_cache(maxsize=1)
def _null_handler() -> logging.Handler:
    """One shared handler: premailer adds it to cssutils' logger on every Premailer(),
    and logging skips a handler that is already attached, so they never pile up."""
    import logging

    return logging.NullHandler()


# --- before: the stylesheets as premailer is given them -------------------------------


class _Rule(NamedTuple):
    text: str  # the rule as written (with any comment before it)
    needs: tuple[frozenset[str], ...]  # per selector, the tags and .classes it needs; () = keep always


class _Plan(NamedTuple):
    rules: tuple[_Rule, ...]  # the style rules, in order
    tokens: frozenset[str]  # every tag and .class the rules need
    leftover: str | None  # premailer's text for the @media rules; None if there are none


def _before(page: Any) -> None:
    """Each <style> premailer reads (no data-premailer attribute, media all or screen) is
    replaced by one <style> per rule that can select something in this email (premailer
    inlines each and removes it), and its @media rules stay in it as premailer would
    write them, marked data-premailer="ignore" (premailer then removes only the mark).

    Output is the same bytes: premailer orders rules by specificity, then by their
    stylesheet's position, then by position within it, and these orders agree; a rule that
    selects nothing inlines nothing; the kept <style> keeps the text after it."""
    from lxml import etree

    classes: str | None = None
    for style in list(page.iter("style")):
        media = style.get("media")
        if (media and media not in ("all", "screen")) or style.get("data-premailer") is not None or not style.text:
            continue
        plan = _plan(style.text)
        if plan is None:
            style.text = _without_imports(style.text)
            continue
        if classes is None:
            classes = " ".join(page.xpath("//@class"))
        present = _present(plan.tokens, page, classes)
        kept = [rule.text for rule in plan.rules if _can_select(rule.needs, present)]
        if plan.leftover is not None:
            style.text = plan.leftover
            style.set("data-premailer", "ignore")
        elif kept:
            style.text = kept.pop()
        else:  # as premailer removes a <style> it inlines whole: with the text after it
            style.getparent().remove(style)
            continue
        for rule in kept:
            block = etree.Element("style", dict(style.attrib))
            block.attrib.pop("data-premailer", None)
            block.text = rule
            style.addprevious(block)


# premailer adds a <head> if there is none; html and body the HTML parser adds itself.
_ALWAYS = frozenset({"html", "head", "body"})


def _present(tokens: frozenset[str], page: Any, classes: str) -> frozenset[str]:
    """Of the tags and .classes a stylesheet's selectors name, those that may be in the email:
    a tag if the tree has such an element, a class if its name is in the class attributes'
    values (a superset: a rule it rules out selects nothing)."""
    return frozenset(t for t in tokens if (t[1:] in classes if t[0] == "." else t in _ALWAYS or _has(page, t)))


def _has(page: Any, tag: str) -> bool:
    return next(page.iter(tag), None) is not None


def _can_select(needs: tuple[frozenset[str], ...], present: frozenset[str]) -> bool:
    return not needs or any(need <= present for need in needs)


# A selector digest reads: compounds of a tag and/or classes, joined by combinators.  Anything
# else (ids, attributes, pseudo-classes, *, escapes) keeps its rule.
_SIMPLE_SELECTOR = re.compile(r"[A-Za-z0-9_.\- >+~\n\t]+")
_SELECTOR_TOKEN = re.compile(r"\.?-?[A-Za-z_][\w-]*")


def _needs(selector_text: str) -> tuple[frozenset[str], ...]:
    """Per selector (as premailer splits them, at commas): the tags and .classes it needs."""
    needs = []
    for selector in (s.strip() for s in selector_text.split(",")):
        if not _SIMPLE_SELECTOR.fullmatch(selector) or ".." in selector:
            return ()
        tokens = _SELECTOR_TOKEN.findall(selector)
        if "".join(tokens) != re.sub(r"[\s>+~]", "", selector):
            return ()
        needs.append(frozenset(t if t[0] == "." else t.lower() for t in tokens))
    return tuple(needs)


@lru_cache(maxsize=64)
def _plan(css: str) -> _Plan | None:
    """The stylesheet split into its rules and premailer's text for its @media rules; None
    if it is left to premailer as it is (see the module's rules)."""
    import cssutils

    statements, complete = _statements(css)
    if not complete:
        return None
    parser = cssutils.CSSParser(fetcher=_refuse_fetch, validate=False)
    sheet = [r for r in parser.parseString(css) if r.type in (r.STYLE_RULE, r.MEDIA_RULE)]
    media = [r for r in sheet if r.type == r.MEDIA_RULE]
    styles = [r for r in sheet if r.type == r.STYLE_RULE]
    written = [(kind, css[a:b]) for kind, a, b in statements if kind in ("rule", "media")]
    if [kind for kind, _ in written] != ["media" if r.type == r.MEDIA_RULE else "rule" for r in sheet]:
        return None
    rules = []
    for rule, (_, text) in zip(styles, (w for w in written if w[0] == "rule"), strict=True):
        if ":" in rule.selectorText:  # premailer leaves pseudo-classes over: not split here
            return None
        alone = [r for r in parser.parseString(text) if r.type != r.COMMENT]
        if len(alone) != 1 or alone[0].type != alone[0].STYLE_RULE or alone[0].cssText != rule.cssText:
            return None
        rules.append(_Rule(text, _needs(rule.selectorText)))
    tokens = frozenset(t for rule in rules for need in rule.needs for t in need)
    if not media:
        return _Plan(tuple(rules), tokens, None)
    # premailer's text for left-over @media rules (Premailer._css_rules_to_string, 3.10): every
    # declaration of the rules inside made !important, each @media rule's cssText, one a line.
    for rule in media:
        for inner in rule.cssRules:
            if isinstance(inner, cssutils.css.CSSComment | cssutils.css.CSSUnknownRule):
                continue
            if not hasattr(inner, "style"):  # a nested at-rule: left to premailer
                return None
            for key in inner.style.keys():
                inner.style[key] = (inner.style.getPropertyValue(key, False), "!important")
    return _Plan(tuple(rules), tokens, "\n".join(rule.cssText for rule in media))


def _refuse_fetch(url: str) -> None:
    """cssutils' fetcher for @import: nothing is fetched during a build."""
    return None


@lru_cache(maxsize=64)
def _without_imports(css: str) -> str:
    """The stylesheet without its top-level @import rules, for premailer: it inlines none of
    their rules, but cssutils (which it parses with, with no public way to pass it a fetcher)
    would fetch each @import's URL.  An at-rule whose name holds an escape goes too."""
    if "@" not in css:
        return css
    statements, _ = _statements(css)
    cut = [(a, b) for kind, a, b in statements if kind == "import"]
    if not cut:
        return css
    starts, ends = [0] + [b for _, b in cut], [a for a, _ in cut] + [len(css)]
    return "".join(css[a:b] for a, b in zip(starts, ends, strict=True))


_AT_KEYWORD = re.compile(r"@([\w\\-]*)")


def _statements(css: str) -> tuple[list[tuple[str, int, int]], bool]:
    """The top-level statements of a stylesheet: ("rule" | "media" | "import" | "at", start, end),
    each from the end of the one before (comments and spaces before it included) to its closing
    brace or semicolon; and whether the text is complete.  If it ends inside a comment, a string
    or a block, the unfinished statement is the last one listed (if it has begun)."""
    out: list[tuple[str, int, int]] = []
    depth, begin, kind, i, n = 0, 0, "", 0, len(css)
    while i < n:
        c = css[i]
        if c == "/" and css.startswith("/*", i):
            end = css.find("*/", i + 2)
            if end < 0:
                break
            i = end + 2
            continue
        if c in "\"'":
            i += 1
            while i < n and css[i] != c:
                i += 2 if css[i] == "\\" else 1
            if i >= n:
                break
        elif c == "\\":
            i += 1
        elif depth == 0 and not kind and not c.isspace():
            kind = _kind(css, i)
        if c == "{":
            depth += 1
        elif c == "}" or (c == ";" and depth == 0):
            depth -= c == "}"
            if depth < 0:
                break
            if depth == 0 and kind:
                out.append((kind, begin, i + 1))
                begin, kind = i + 1, ""
        i += 1
    else:
        if depth == 0 and not kind:
            return out, True
    if kind:
        out.append((kind, begin, n))
    return out, False


def _kind(css: str, i: int) -> str:
    if css[i] != "@":
        return "rule"
    m = _AT_KEYWORD.match(css, i)
    name = m.group(1).lower() if m else ""
    return "import" if name == "import" or "\\" in name else "media" if name == "media" else "at"


# --- after: what premailer's public API cannot be told ---------------------------------


def _after(page: Any, had_bgcolor: set[Any]) -> None:
    """- bgcolor: premailer copies background-color into bgcolor on every element it styles,
      and disable_basic_attributes could only drop it everywhere; digest keeps it where HTML
      allows it (BGCOLOR_ELEMENTS).  A bgcolor MJML wrote stays.
    - align: premailer's align_floating_images parses every image's style through cssutils
      to give a floated image align="left" or "right" for Outlook; here only a style that
      names float (or escapes a character) is parsed, with the same result."""
    for el in page.xpath("//*[@bgcolor]"):
        if el.tag not in BGCOLOR_ELEMENTS and el not in had_bgcolor:
            del el.attrib["bgcolor"]
    for img in page.xpath("//img[@style]"):
        style = img.get("style")
        if "float" in style.lower() or "\\" in style:
            import cssutils

            side = cssutils.parseStyle(style).float
            if side in ("left", "right"):
                img.set("align", side)
