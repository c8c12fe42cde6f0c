"""`digest push N`: the pre-send gate, then issue N as one draft campaign in config.yaml's mailing service.

Rules:
- First the gate, exactly as `digest check --issue N` runs it, then the email exactly as `build`
  makes it (render_one, shared with send and export) with send's and export's own refusals (an
  issue with nothing in it, a header that cannot be written, an email Gmail would clip). Any error:
  nothing reaches the service.
- Then one campaign per issue: the earlier one is found through the service (see draft.py) and
  updated while it is a draft; one that is not a draft is never touched (exit 1, naming it); with
  none, one is created. Nothing is ever scheduled or sent.
- --dry-run prints the requests instead (credentials as ***) and sends none, not even the lookup.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from digest.core.config import CONFIG_FILE
from digest.core.errors import DigestError, Problem
from digest.core.mailing import NAMES
from digest.core.models import Config
from digest.deliver.push.brevo import Brevo
from digest.deliver.push.buttondown import Buttondown
from digest.deliver.push.draft import Adapter, make_draft
from digest.deliver.push.http import Client, Refused, Request, timeout_from
from digest.deliver.push.listmonk import TEMPLATE_HELP, Listmonk
from digest.deliver.push.mailchimp import Mailchimp

ADAPTERS: dict[str, type[Adapter]] = {
    "listmonk": Listmonk,
    "buttondown": Buttondown,
    "mailchimp": Mailchimp,
    "brevo": Brevo,
}
MAYBE = "the service may have made the campaign all the same: push again, and digest finds it"
TEMPLATE_WARNED = "push-listmonk-template-warned"  # in the newsletter's cache folder: the warning is given once


@dataclass
class Outcome:
    service: str
    action: str  # created | updated | dry run
    campaign_id: str | None = None
    url: str | None = None
    warnings: list[Problem] = field(default_factory=list)
    prepared: list[str] = field(default_factory=list)  # the issue's file: its warnings are printed in full
    shown: str = ""  # --dry-run: the requests

    def line(self) -> str:
        where = f": {self.url}" if self.url else ""
        return f"{self.service}: campaign {self.campaign_id} {self.action}{where}"


def push(
    config: Config,
    number: int,
    *,
    dry_run: bool = False,
    environ: Mapping[str, str] = os.environ,
    sleep: Callable[[float], None] = time.sleep,
) -> Outcome:
    from digest.deliver import gate, message
    from digest.pipeline.build import render_one

    mailing = config.mailing
    if mailing is None:
        why = "is not set: name your mailing service there (listmonk, buttondown, mailchimp or brevo) to push to it"
        raise DigestError([Problem(CONFIG_FILE, None, why, "mailing")])
    checked = gate.check(config, numbers=(number,))
    issue, html, text = render_one(config, number)
    message.require_content(issue)
    sender = message.sender(config)
    message.build_message(config, issue, html, text, [sender])  # export's refusals: headers, the clip gate
    adapter = ADAPTERS[mailing.service](mailing, environ, timeout_from(environ))
    draft = make_draft(config, mailing, issue, html, text, sender)
    name = NAMES[mailing.service]
    outcome = Outcome(name, "dry run", warnings=list(checked.warnings), prepared=list(checked.prepared))
    outcome.warnings += [Problem(name, None, w, warning=True) for w in adapter.warnings(draft)]
    if mailing.service == "listmonk" and mailing.template is None and _first_time(config):
        outcome.warnings.append(Problem(CONFIG_FILE, None, TEMPLATE_HELP, "mailing.template", warning=True))
    headers = adapter.service.headers
    if dry_run:
        shown = [r.shown(adapter.service.base, headers) for r in adapter.lookups(draft)]
        shown.append(f"and when {name} holds no campaign for issue {number} yet:")
        shown += [r.shown(adapter.service.base, headers) for r in adapter.create(draft)]
        shown.append("nothing was sent (--dry-run)")
        outcome.shown = "\n".join(shown)
        return outcome
    with Client(adapter.service, sleep) as client:
        existing = adapter.find(client, draft)
        if existing is not None and not existing.draft:
            why = (
                f"campaign {existing.id} ({draft.name}) is {existing.status}, not a draft: digest never changes a"
                " campaign that is scheduled or sent; to push again, make it a draft in the service (or delete it)"
            )
            raise DigestError([Problem(name, None, why)], outcome="nothing was changed")
        if existing is not None:
            for request in adapter.update(existing, draft):
                client.send(request)
            outcome.action, outcome.campaign_id = "updated", existing.id
            outcome.url = adapter.dashboard(existing.id, existing.record)
            return outcome
        first, *rest = adapter.create(draft)
        try:
            campaign_id, record = adapter.created(client.send(first))
        except Refused as e:
            if e.status is None or e.status >= 500:  # no answer, or one that does not say nothing was done
                raise DigestError(e.problems, outcome=MAYBE) from None
            raise
        for request in rest:
            try:
                client.send(Request(request.method, request.url.replace("{id}", campaign_id), request.body))
            except Refused as e:
                left = f"campaign {campaign_id} was created but not filled in; push again to finish it"
                raise DigestError(e.problems, outcome=left) from None
        outcome.action, outcome.campaign_id = "created", campaign_id
        outcome.url = adapter.dashboard(campaign_id, record)
        return outcome


def _first_time(config: Config) -> bool:
    """True once per newsletter: the listmonk template advice is given once, then remembered in its cache folder."""
    from digest.core.cachedir import newsletter_cache

    try:
        marker = newsletter_cache(config.root) / TEMPLATE_WARNED
        if marker.exists():
            return False
        marker.write_bytes(b"")
    except OSError:
        return True
    return True
