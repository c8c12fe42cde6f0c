"""UTM tagging: utm_* parameters on the email's own links, so that the sites it links to
(and the newsletter's analytics) can tell the email's readers from others.

Rules:
- Only with ``utm:`` in config.yaml, and only in the email (HTML and plain text, and so
  in proofs and exports): never in the web pages or the feeds, whose readers did not
  come from the email.
- Only the issue's own links: item URLs and the links in the markdown of intros,
  summaries and outros.  Never the template's (view in browser, archive, logo), never
  a mailto, never the unsubscribe link, never a link holding a mailing service's merge
  tag (the service must find it as written), never an image.
- A link keeps its own query and fragment byte for byte; the parameters go after its
  query, before its fragment, in the order source, medium, campaign.  A utm_* parameter
  the link already has wins (a partner's own campaign stays).
- ``campaign`` may use ``{number}`` (``{number:03}``): the issue's number.
- Deterministic: the same issue and config give the same links.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import unquote

from digest.core import urls
from digest.core.models import Config, Issue, Section

_HTTP = re.compile(r"https?://", re.IGNORECASE)
# Merge tags of Mailchimp (*|UNIQID|*), listmonk, Buttondown and Brevo ({{ ... }}),
# Jinja-like services ({% ... %}) and Campaign Monitor-like ones (%subscriber_id%).
_MERGE_TAG = re.compile(r"\*\|.+?\|\*|\{\{.+?\}\}|\{%.+?%\}|%[A-Za-z_]{3,}%")


@dataclass(frozen=True)
class Tagger:
    """What one issue's email links get: a value, so that markdown rendering can cache on it."""

    params: tuple[tuple[str, str], ...]
    untagged: frozenset[str] = frozenset()  # normalized links that never get them (unsubscribe)

    def __call__(self, url: str) -> str:
        if not _HTTP.match(url) or _MERGE_TAG.search(unquote(url)):
            return url
        if self.untagged and urls.normalize_url(url) in self.untagged:
            return url
        return urls.add_parameters(url, self.params)


def tagger(config: Config, issue: Issue) -> Tagger | None:
    """The tagger for ``issue``'s email, or None when config.yaml has no ``utm:``."""
    utm = config.utm
    if utm is None:
        return None
    campaign = utm.campaign.format(number=issue.number) if utm.campaign else None
    params = tuple(
        (k, v) for k, v in (("utm_source", utm.source), ("utm_medium", utm.medium), ("utm_campaign", campaign)) if v
    )
    unsubscribe = config.email.unsubscribe_url or ""
    untagged = frozenset({urls.normalize_url(unsubscribe)} if _HTTP.match(unsubscribe) else ())
    return Tagger(params, untagged)


def tag_items(issue: Issue, tag: Tagger | None) -> Issue:
    """``issue`` with its items' URLs tagged (markdown links are tagged as they render)."""
    if tag is None:
        return issue

    def tagged(section: Section) -> Section:
        items = tuple(dataclasses.replace(item, url=tag(item.url) if item.url else item.url) for item in section.items)
        return dataclasses.replace(section, items=items, sections=tuple(map(tagged, section.sections)))

    return dataclasses.replace(issue, sections=tuple(map(tagged, issue.sections)))
