"""`digest serve` from the source edition shows the family: every local edition previewed under its url's path
below the source's (/fa/, /ar/: the combined tree's layout), a language switch on every preview page, and the
editions' status (digest.editions.status) on the issue list at /.

Rules:
- Each edition is its own PreviewSite (its own config, templates and cache), served under its prefix; nothing of
  one edition is rendered with another's settings.
- Untranslated text (digest.core.translation) is highlighted in the email's frame, and listed with its lines on
  the issue's preview page: only here; no output of a build ever has the highlight.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from digest.core import translation
from digest.core.errors import DigestError
from digest.core.loading import decode, parse
from digest.editions.family import Family, Member, load_family, prefix
from digest.editions.status import Row, status
from digest.preview.site import IssueState, PreviewSite

NEWEST = 8  # issues of the source in the status on the issue list; `digest editions` shows them all


@dataclass
class FamilySites:
    family: Family
    sites: dict[str, PreviewSite]  # prefix ("" for the source, "fa/") → the edition's preview

    def find(self, path: str) -> tuple[str, PreviewSite]:
        """The edition that serves ``path``, as (its prefix, its site)."""
        for place, site in self.sites.items():
            if place and path.startswith(f"/{place}"):
                return place, site
        return "", self.sites[""]

    def languages(self) -> list[tuple[str, str, str, PreviewSite]]:
        """(prefix, language, its name in itself, site) in the order of editions:."""
        out = []
        for member in self.family.members:
            place = _place(self.family, member)
            out.append((place, member.language, member.edition.name or member.language, self.sites[place]))
        return out

    def switch(self, here: str, number: int) -> str:
        """The language switch of issue ``number``'s preview page: each edition that has the issue."""
        links = []
        for place, language, name, site in self.languages():
            label = f'<span lang="{html.escape(language)}" dir="auto">{html.escape(name)}</span>'
            if place == here:
                links.append(f'<strong aria-current="page">{label}</strong>')
            elif number in site.issues:
                links.append(f'<a href="/{place}preview/{number}/" hreflang="{html.escape(language)}">{label}</a>')
            else:
                links.append(f'<span class="muted" title="no issue {number} there">{label}</span>')
        return '<nav class="editions" aria-label="Editions">' + " · ".join(links) + "</nav>"

    def status_panel(self) -> str:
        """The editions' status of the source's newest issues, for the issue list at / (read again each time it is
        shown: NEWEST issues of every edition, not the whole archive)."""
        try:
            rows = status(self.family, newest=NEWEST)
        except DigestError as e:
            return f'<div class="panel"><h2>Editions</h2><p>{html.escape(str(e))}</p></div>'
        places = {m.language: _place(self.family, m) for m in self.family.members}
        head = "".join(f"<th>{html.escape(m.language)}</th>" for m in self.family.members)
        groups: list[list[Row]] = []
        for row in rows:
            if row.state == "source" or not groups:
                groups.append([])
            groups[-1].append(row)
        table = "".join(
            f"<tr><td>#{group[0].number}</td>"
            + "".join(f"<td>{_cell(r, places[r.language])}</td>" for r in group)
            + "</tr>"
            for group in groups
        )
        return (
            '<div class="panel" id="editions"><h2>Editions</h2><table><tr><th>Issue</th>'
            f'{head}</tr>{table}</table><p class="muted">the newest {NEWEST} issues; <code>digest editions</code>'
            " lists every one</p></div>"
        )


def _cell(row: Row, place: str) -> str:
    if row.state == "source":
        return f'<a href="/preview/{row.number}/">{html.escape(row.source_state)}</a> · {row.items} items'
    if row.state in ("absent", "invalid"):
        return f'<span class="muted">{row.state}</span>'
    counts = [
        f"{n} {word}"
        for n, word in ((row.missing, "missing"), (row.stale, "stale"), (row.untranslated, "untranslated"))
        if n
    ]
    counts += [f"{row.extra} extra"] if row.extra else []
    lag = f' <span class="bad">{", ".join(counts)}</span>' if counts else " · up to date"
    return f'<a href="/{place}preview/{row.number}/">{row.state}</a>{lag}'


def _place(family: Family, member: Member) -> str:
    """Where an edition is served: its url's path below the source's (as in build --editions --out), else its
    language."""
    found = prefix(family, member)
    return found if found is not None else f"{member.language}/"


def family_sites(source: PreviewSite) -> FamilySites | None:
    """The family of the newsletter ``source`` previews, when it is a family's source edition; else None."""
    try:
        family = load_family(source.root)
    except DigestError:
        return None
    if family.source.config.root != Path(source.root).resolve():
        return None  # served from a translation: that edition alone
    sites = {"": source}
    for member in family.translations:
        sites[_place(family, member)] = PreviewSite(member.config.root)
    return FamilySites(family, sites)


def untranslated_panel(state: IssueState) -> str:
    """The texts of the issue still marked untranslated, at their lines."""
    text, _ = decode(state.data, state.rel)
    node = parse(text, state.rel)[0] if text is not None else None
    if node is None or not node.is_map:
        return ""
    marked = translation.untranslated(node.value)  # type: ignore[arg-type]
    if not marked:
        return ""
    rows = "".join(f"<li>{html.escape(state.rel)}:{n.line}: {html.escape(path)}</li>" for n, path in marked)
    return (
        f'<div class="panel" id="untranslated"><h2 class="draft">Untranslated</h2><p>{len(marked)} text'
        f"{'s' if len(marked) != 1 else ''} still marked {html.escape(translation.MARKER)} (highlighted in the"
        f' email)</p><ul class="problems">{rows}</ul></div>'
    )


_TAG = re.compile(r"(<[^>]*>)")
_HIGHLIGHT = "background:#fde047;color:#1d1d1f;outline:2px solid #ca8a04"


def highlight(email: str) -> str:
    """The email with every text that holds the marker highlighted, from the marker to the end of its text
    (text only: never inside a tag, an attribute, the <title> or a <style>)."""
    if translation.MARKER not in email:
        return email
    parts = _TAG.split(email)
    skip = False
    for i, part in enumerate(parts):
        if i % 2:
            name = part[1:].split(None, 1)[0].lower().rstrip(">") if len(part) > 2 else ""
            if name in ("title", "style", "script"):
                skip = True
            elif name in ("/title", "/style", "/script"):
                skip = False
            continue
        if not skip and translation.MARKER in part:
            at = part.index(translation.MARKER)
            parts[i] = f'{part[:at]}<mark class="digest-untranslated" style="{_HIGHLIGHT}">{part[at:]}</mark>'
    return "".join(parts)
