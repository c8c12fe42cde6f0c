"""The preview's own pages: the served index (every issue, drafts first) and one page per
issue showing the email as readers will get it.

Rules:
- These pages exist only in `digest serve`; a build never writes them (their paths,
  "/" and "/preview/N/", are not files of a site: the archive as published is /index.html).
- Dark mode in the frame is the email's own: its ``prefers-color-scheme`` media queries
  are rewritten to always (dark) or never (light) apply, in the frame's copy only, so
  the switch shows exactly the rules a dark-mode client would apply, never an inversion.
- Every value shown comes from the same functions a build and `digest send` use: the
  size is that of the HTML part as the standard library encodes it for sending.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from email.utils import parseaddr
from html.parser import HTMLParser

from digest.core import lint
from digest.core.models import Config, Issue
from digest.preview.site import IssueState


@dataclass(frozen=True)
class Inbox:
    """How one mail client shows a message in its list: how many characters of the subject
    and of the preheader fit before it cuts them off with "…"."""

    client: str
    subject: int
    preheader: int = 0
    shared: bool = False  # subject and preheader share one line of ``subject`` characters


# Where inboxes cut (they vary with the window, the device and the font; these are the
# usual figures for the default views).
INBOXES = (
    Inbox("Gmail on the web", 130, shared=True),  # one line: the subject, then the preheader in grey after " – "
    Inbox("iPhone Mail", 41, 90),  # the subject on one line, two lines of preview under it
    Inbox("Gmail app on a phone", 33, 40),  # one line each
)
_BETWEEN = " – "  # what Gmail on the web puts between the subject and the preheader


def inbox_line(subject: str, preheader: str, inbox: Inbox) -> tuple[str, str]:
    """(subject, preheader) as ``inbox`` shows them, each cut where it is cut."""
    if not inbox.shared:
        return cut(subject, inbox.subject), cut(preheader, inbox.preheader)
    room = inbox.subject - len(subject) - len(_BETWEEN)  # what the subject leaves of the line
    return cut(subject, inbox.subject), cut(preheader, room) if room >= 2 else ""


_DARK_FEATURE = re.compile(r"\(\s*prefers-color-scheme\s*:\s*(dark|light)\s*\)", re.IGNORECASE)
_SCHEME_META = re.compile(
    r'(<meta\s+name="(?:color-scheme|supported-color-schemes)"\s+content=")[^"]*(")', re.IGNORECASE
)
_ALWAYS = "(min-width: 0px)"
_NEVER = "(prefers-color-scheme: no-preference-digest)"  # an unknown value: the query never matches


def emulate_scheme(email: str, scheme: str) -> str:
    """The email as a client set to ``scheme`` ("light" or "dark") renders it."""

    def feature(m: re.Match[str]) -> str:
        return _ALWAYS if m.group(1).lower() == scheme else _NEVER

    email = _DARK_FEATURE.sub(feature, email)
    email = _SCHEME_META.sub(lambda m: m.group(1) + scheme + m.group(2), email)
    # Links open outside the frame; the preview page stays.
    return re.sub(r"(<head\b[^>]*>)", r'\1<base target="_blank">', email, count=1, flags=re.IGNORECASE)


def size_as_sent(email_html: str) -> int:
    """Bytes of the HTML part once encoded for sending (what Gmail's clip counts)."""
    return lint.sent_size(email_html)


def cut(text: str, chars: int) -> str:
    """``text`` in at most ``chars`` characters, the last an ellipsis if it had to be cut."""
    return text if len(text) <= chars else text[: chars - 1].rstrip().rstrip("\u200d") + "…"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[tuple[str, str]] = []
        self._open: list[list[str]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open.append([dict(attrs).get("href") or "", ""])
        elif tag == "img" and self._open:
            self._open[-1][1] += f"[image: {dict(attrs).get('alt') or ''}]"

    def handle_data(self, data: str) -> None:
        if self._open:
            self._open[-1][1] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._open:
            href, text = self._open.pop()
            self.links.append((" ".join(text.split()), href))


def links(email_html: str) -> list[tuple[str, str]]:
    """(text, target) of every link in the email, in order."""
    parser = _Links()
    parser.feed(email_html)
    return parser.links


def sender(config: Config) -> str:
    name, address = parseaddr(config.email.from_ or "")
    return name or config.author.name or config.title or address


_STYLE = """
:root {
  color-scheme: light dark; --fg: #1d1d1f; --muted: #52525b; --bg: #f4f4f5; --card: #fff; --line: #d4d4d8;
  --accent: #1f5fa8; --bad: #b91c1c; --warn: #92400e; }
@media (prefers-color-scheme: dark) { :root {
  --fg: #e4e4e7; --muted: #a1a1aa; --bg: #18181b; --card: #27272a; --line: #3f3f46; --accent: #8ab4f8;
  --bad: #fca5a5; --warn: #fcd34d; } }
* { box-sizing: border-box; }
body {
  margin: 0; font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
  background: var(--bg); }
header, main { padding: 12px 20px; }
header {
  display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: baseline; border-bottom: 1px solid var(--line);
  background: var(--card); }
h1 { font-size: 18px; margin: 0; }
h2 { font-size: 14px; margin: 16px 0 6px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
a { color: var(--accent); }
.badge {
  display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; font-weight: 600;
  border: 1px solid currentColor; }
.draft { color: var(--warn); } .bad { color: var(--bad); }
.toolbar { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; margin: 8px 0; }
.toolbar [role=group] { display: inline-flex; gap: 4px; align-items: center; }
button {
  font: inherit; padding: 3px 10px; border: 1px solid var(--line); border-radius: 4px; background: var(--card);
  color: var(--fg); cursor: pointer; }
button[aria-pressed=true] { background: var(--accent); border-color: var(--accent); color: #fff; }
.layout { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; }
.stage { flex: 1 1 620px; min-width: 0; }
.device {
  resize: horizontal; overflow: hidden; width: 375px; min-width: 280px; max-width: 100%;
  border: 1px solid var(--line); background: #fff; }
.device iframe { display: block; width: 100%; height: 600px; border: 0; }
#width-now { color: var(--muted); font-variant-numeric: tabular-nums; }
pre.text {
  white-space: pre-wrap; overflow-wrap: anywhere; background: var(--card); border: 1px solid var(--line);
  padding: 12px; margin: 0; font: 13px/1.5 ui-monospace, monospace; }
aside { flex: 0 1 380px; min-width: 0; }
.panel {
  background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; margin-bottom: 12px;
  overflow-wrap: anywhere; }
.inbox div { padding: 4px 0; border-bottom: 1px solid var(--line); } .inbox div:last-child { border: 0; }
.inbox .client { font-size: 12px; color: var(--muted); }
.meter { height: 8px; background: var(--line); border-radius: 4px; overflow: hidden; }
.meter span { display: block; height: 100%; background: var(--accent); }
.meter.over span { background: var(--bad); }
ul.problems { margin: 0; padding-left: 18px; font: 12px/1.5 ui-monospace, monospace; }
table { border-collapse: collapse; width: 100%; }
td, th { text-align: start; vertical-align: top; padding: 3px 6px; border-bottom: 1px solid var(--line); }
td.target { font: 12px/1.4 ui-monospace, monospace; word-break: break-all; }
ol.issues { list-style: none; padding: 0; margin: 0; }
ol.issues li { padding: 8px 0; border-bottom: 1px solid var(--line); }
nav.editions { font-size: 13px; }
.muted { color: var(--muted); }
"""


def _doc(title: str, body: str, script: str = "") -> bytes:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,'
        ' initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>{body}{script}</body></html>"
    ).encode()


def _problems(problems: list[str], css: str) -> str:
    return f'<ul class="problems {css}">' + "".join(f"<li>{html.escape(p)}</li>" for p in problems) + "</ul>"


def index_page(
    config: Config | None, states: list[IssueState], general: list[str], family: str = "", base: str = "/"
) -> bytes:
    """The served index: every issue, drafts first and marked, each with its preview.  ``family``: the editions'
    status (digest.preview.family); ``base``: where this edition is served (a translation's under its prefix)."""
    title = config.title if config else "digest serve"
    rows = []
    for s in states:
        issue = s.issue
        name = html.escape(issue.title) if issue else html.escape(s.rel)
        marks = ""
        if issue is not None and issue.draft:
            marks += ' <span class="badge draft">Draft</span>'
        if s.errors:
            marks += f' <span class="badge bad">{len(s.errors)} error{"s" if len(s.errors) != 1 else ""}</span>'
        when = f' <span class="muted">{issue.date.isoformat()}</span>' if issue else ""
        files = (
            f' · <a href="{base}issues/{s.number}/email.html">email</a> · <a href="{base}issues/{s.number}/">web'
            f' page</a> · <a href="{base}issues/{s.number}/email.txt">text</a>'
            if issue
            else ""
        )
        rows.append(
            f'<li data-number="{s.number}"><a'
            f' href="{base}preview/{s.number}/"><strong>{name}</strong></a>{marks}{when}<br><span'
            f' class="muted">#{s.number}</span>{files}</li>'
        )
    body = (
        f'<header><h1>{html.escape(title)}</h1><span class="muted">preview · drafts first · <a'
        f' href="{base}index.html">the archive as published</a> (no drafts) · <a href="{base}feed.xml">RSS</a></span>'
        "</header><main>"
        + (
            f'<div class="panel" role="alert"><strong class="bad">Errors</strong>{_problems(general, "bad")}</div>'
            if general
            else ""
        )
        + family
        + (
            '<ol class="issues">' + "".join(rows) + "</ol>"
            if rows
            else "<p>No issues yet: <code>digest new</code> starts one.</p>"
        )
        + "</main>"
    )
    return _doc(f"{title}: preview", body)


_PAGE_SCRIPT = """<script>/* the preview page's switches; their state lives in the address
   (#w=375&scheme=dark&view=email) */
(function () {
  var state = {w: "375", scheme: "light", view: "email"};
  location.hash.slice(1).split("&").forEach(function (kv) {
    var p = kv.split("=");
    if (p[0] in state && p[1]) state[p[0]] = decodeURIComponent(p[1]);
  });
  var device = document.getElementById("device"), frame = document.getElementById("frame");
  var text = document.getElementById("text"), now = document.getElementById("width-now");
  function fit() {
    // The email's own height (its body's), not the document's: that is never less than the
    // frame it fills, so a frame once made tall (at a narrow width) would never shrink again.
    try {
      var d = frame.contentDocument, b = d && d.body, s = b && getComputedStyle(b);
      var height = b && b.getBoundingClientRect().height + parseFloat(s.marginTop) + parseFloat(s.marginBottom);
      if (b) frame.style.height = Math.max(200, Math.ceil(height)) + "px";
    } catch (e) {}
    if (device) now.textContent = Math.round(device.getBoundingClientRect().width - 2) + " px";
  }
  function apply() {
    document.querySelectorAll("[data-set]").forEach(function (b) {
      var p = b.dataset.set.split("=");
      b.setAttribute("aria-pressed", String(state[p[0]] === p[1]));
    });
    if (device) {
      device.style.width = state.w === "desktop" ? "100%" : (+state.w + 2) + "px";
      var src = "email.html?scheme=" + state.scheme;
      if (frame.getAttribute("src") !== src) frame.setAttribute("src", src);
      device.hidden = state.view !== "email";
    }
    if (text) text.hidden = state.view !== "text";
    history.replaceState(null, "", "#w=" + state.w + "&scheme=" + state.scheme + "&view=" + state.view);
    fit();
  }
  document.querySelectorAll("[data-set]").forEach(function (b) {
    b.addEventListener("click", function () { var p = b.dataset.set.split("="); state[p[0]] = p[1]; apply(); });
  });
  if (frame) {
    frame.addEventListener("load", function () {
      fit();
      try { new ResizeObserver(fit).observe(frame.contentDocument.documentElement); } catch (e) {}
    });
    new ResizeObserver(fit).observe(device);
  }
  apply();
})();
</script>
"""


def preview_page(
    config: Config, state: IssueState, general: list[str], switch: str = "", panels: str = "", base: str = "/"
) -> bytes:
    """One issue's preview: the email in a frame with its switches, and everything about it.  ``switch``: the
    editions' language switch, ``panels``: more panels first in the aside (untranslated texts)."""
    issue: Issue | None = state.issue
    errors = [str(p) for p in state.errors] + general
    warnings = [str(p) for p in state.warnings]
    name = html.escape(issue.title if issue else state.rel)
    head = f'<a href="{base}">← all issues</a>{switch}<h1>#{state.number} {name}</h1>'
    if issue is not None and issue.draft:
        head += '<span class="badge draft">Draft</span>'
    aside = [panels] if panels else []
    if errors:
        note = (
            "the preview shows the last good version" if issue is not None else "there is no good version to show yet"
        )
        aside.append(
            '<div class="panel" id="errors" role="alert"><h2'
            f' class="bad">Errors</h2><p>{note}</p>{_problems(errors, "bad")}</div>'
        )
    stage = ""
    outputs = state.outputs
    if issue is not None and outputs is not None:
        email = outputs["email.html"].decode("utf-8")
        name = sender(config)
        inbox = ""
        for view in INBOXES:
            subject, preheader = inbox_line(issue.subject, issue.preheader, view)
            between = "" if not preheader else f'<span class="muted">{_BETWEEN}</span>' if view.shared else "<br>"
            inbox += (
                f'<div data-client="{html.escape(view.client)}"><span'
                f' class="client">{html.escape(view.client)}</span><br><strong'
                f' class="sender">{html.escape(name)}</strong> · <span'
                f' class="subject">{html.escape(subject)}</span>{between}<span class="muted'
                f' preheader">{html.escape(preheader)}</span></div>'
            )
        aside.append(f'<div class="panel inbox" id="inbox"><h2>Inbox</h2>{inbox}</div>')
        size = size_as_sent(email)
        over = " over" if size > lint.CLIP_BYTES else ""
        share = min(100.0, 100 * size / lint.CLIP_BYTES)
        aside.append(
            f'<div class="panel" id="size"><h2>Size as sent</h2><p><strong>{size / 1000:.1f} KB</strong> of Gmail\'s'
            f" {lint.CLIP_BYTES // 1000} KB clip ({share:.0f} %; HTML part as encoded for sending)</p><div"
            f' class="meter{over}"><span style="width:{share:.1f}%"></span></div></div>'
        )
        aside.append(
            '<div class="panel"'
            f' id="warnings"><h2>Warnings</h2>{_problems(warnings, "") if warnings else "<p>None.</p>"}</div>'
        )
        rows = "".join(
            f'<tr><td>{html.escape(text) or "<em>(no text)</em>"}</td><td class="target">{html.escape(href)}</td></tr>'
            for text, href in links(email)
        )
        aside.append(
            '<div class="panel"'
            f' id="links"><h2>Links</h2><table><tr><th>Text</th><th>Target</th></tr>{rows}</table></div>'
        )
        buttons = (
            '<div class="toolbar"><span role="group" aria-label="Width">Width '
            + "".join(
                f'<button type="button" data-set="w={w}">{label}</button>'
                for w, label in (("320", "320"), ("375", "375"), ("desktop", "600+"))
            )
            + ' <span id="width-now"></span> <span class="muted">(drag the frame\'s corner to'
            ' resize)</span></span><span role="group" aria-label="Colour scheme"><button type="button"'
            ' data-set="scheme=light">Light</button><button type="button"'
            ' data-set="scheme=dark">Dark</button></span><span role="group" aria-label="View"><button type="button"'
            ' data-set="view=email">Email</button><button type="button" data-set="view=text">Plain'
            " text</button></span></div>"
        )
        stage = (
            f'{buttons}<div class="device" id="device"><iframe id="frame" title="The email of issue'
            f' {state.number}"></iframe></div><pre class="text" id="text"'
            f" hidden>{html.escape(outputs['email.txt'].decode('utf-8'))}</pre>"
        )
    body = (
        f'<header>{head}</header><main class="layout"><div'
        f' class="stage">{stage}</div><aside>{"".join(aside)}</aside></main>'
    )
    return _doc(f"Preview: #{state.number}", body, _PAGE_SCRIPT if stage else "")


def broken_page(state: IssueState, base: str = "/") -> bytes:
    """What a page of an issue shows when the issue never had a good version."""
    body = (
        f'<header><a href="{base}">← all issues</a><h1>#{state.number}: this issue has'
        f" errors</h1></header><main>{_problems([str(p) for p in state.errors], 'bad')}<p><a"
        f' href="{base}preview/{state.number}/">Preview</a></p></main>'
    )
    return _doc(f"#{state.number}: errors", body)
