"""The editor's page, /edit/N/: a shell that digest/preview/static/editor.js fills from the issue's state.

Rules:
- Nothing is loaded from elsewhere: the script and style are the server's own; the email
  beside the form is the preview's (/preview/N/email.html), reloaded after each save.
- The session's token is in the page (a meta element) for the script to send with each
  change; only a page of this server's origin can read it.
- Every control has a visible label or a name; the words are those of the issue: Save,
  Add link, Collect, New issue, Move up, Move down, Publish, Commit.
"""

from __future__ import annotations

import html
import json
from typing import Any

from digest.core.models import Config


def edit_page(config: Config | None, state: dict[str, Any], token: str) -> bytes:
    number = state["number"]
    doc = state["doc"] if isinstance(state["doc"], dict) else {}
    name = html.escape(str(doc.get("title") or (config.title if config else "") or state["rel"]))
    data = json.dumps(state).replace("<", "\\u003c")
    body = f"""<header><a href="/">← all issues</a><h1>Edit #{number}: <span id="title-now">{name}</span></h1>
<a href="/preview/{number}/">Preview</a>
<div class="bar"><button type="button" id="save">Save</button>
<label><input type="checkbox" id="autosave" checked> Save as you type</label>
<span id="status" role="status" aria-live="polite"></span>
<button type="button" id="new-issue">New issue</button></div></header>
<main class="layout"><div class="form-column">
<div id="conflict" class="alert" role="alert" hidden><p id="conflict-text"></p>
<button type="button" id="reload">Reload</button></div>
<div id="general" class="alert" role="alert" hidden></div>
<section class="panel" aria-labelledby="h-add"><h2 id="h-add">Add links</h2>
<div class="row"><label for="add-url">Link to add</label><input id="add-url" type="url" dir="ltr"
 placeholder="https://…"></div>
<div class="row"><label for="add-section">Into section</label><select id="add-section"></select></div>
<div class="bar"><button type="button" id="add-link">Add link</button>
<button type="button" id="collect">Collect</button></div>
<div id="report" role="status" aria-live="polite"></div></section>
<form id="fields" novalidate></form>
<section class="panel" aria-labelledby="h-publish"><h2 id="h-publish">Publish</h2>
<div class="row"><label for="publish-date">Publication date (optional)</label>
<input id="publish-date" type="date" dir="ltr"></div>
<div class="bar"><button type="button" id="publish">Publish</button></div>
<div id="blockers" role="status" aria-live="polite"></div></section>
<section class="panel" id="commit-box" aria-labelledby="h-commit" hidden><h2 id="h-commit">Commit</h2>
<div class="row"><label for="commit-message">Commit message</label>
<textarea id="commit-message" rows="2" dir="auto"></textarea></div>
<div class="bar"><button type="button" id="commit">Commit</button></div>
<div id="commit-report" role="status" aria-live="polite"></div></section>
</div><div class="preview-column"><h2>Email</h2>
<iframe id="email" title="The email of issue {number}" src="/preview/{number}/email.html"></iframe></div></main>
<script type="application/json" id="state">{data}</script>
<script src="/__digest__/editor.js"></script>"""
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta name="digest-token" content="{html.escape(token)}">'
        f'<title>Edit: #{number}</title><link rel="stylesheet" href="/__digest__/editor.css"></head>'
        f"<body>{body}</body></html>"
    ).encode()
