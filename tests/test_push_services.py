"""`digest push` against each mailing service, run as a real HTTP server on 127.0.0.1 (tests/mailing_servers.py).

For listmonk, Buttondown, Mailchimp and Brevo: a draft is created, pushed again it is updated (one
campaign), a campaign that is no longer a draft is refused, a refused key, 429 with Retry-After, 500
then success, a timeout, and no secret in any output, --debug included.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import main
from digest.deliver.push.listmonk import escape_braces
from tests import mailing_servers
from tests.mailing_servers import AUDIENCE, UNSUBSCRIBE_LINK, Mailbox, basic

pytestmark = pytest.mark.slow  # HTTP servers on 127.0.0.1, and a push runs the whole pre-send gate

SECRET = "s3cr3t-9f8e7d6c5b4a"
MAILCHIMP_KEY = f"{SECRET}-us21"
VARIABLES = (
    "DIGEST_LISTMONK_USER",
    "DIGEST_LISTMONK_TOKEN",
    "DIGEST_BUTTONDOWN_API_KEY",
    "DIGEST_MAILCHIMP_API_KEY",
    "DIGEST_BREVO_API_KEY",
    "DIGEST_PUSH_TIMEOUT",
)


@dataclass(frozen=True)
class Kind:
    service: str
    name: str
    env: dict[str, str]
    credential: str
    lists: str  # the mailing.lists line, or ""
    unsubscribe: str
    variables: str  # as the 401 message names them
    draft_status: str
    sent_status: str


KINDS = {
    "listmonk": Kind(
        "listmonk",
        "listmonk",
        {"DIGEST_LISTMONK_USER": "api", "DIGEST_LISTMONK_TOKEN": SECRET},
        basic("api", SECRET),
        "  lists: [3]\n",
        "{{ UnsubscribeURL }}",
        "DIGEST_LISTMONK_USER and DIGEST_LISTMONK_TOKEN were",
        "draft",
        "finished",
    ),
    "buttondown": Kind(
        "buttondown",
        "Buttondown",
        {"DIGEST_BUTTONDOWN_API_KEY": SECRET},
        f"Token {SECRET}",
        "",
        "{{ unsubscribe_url }}",
        "DIGEST_BUTTONDOWN_API_KEY was",
        "draft",
        "sent",
    ),
    "mailchimp": Kind(
        "mailchimp",
        "Mailchimp",
        {"DIGEST_MAILCHIMP_API_KEY": MAILCHIMP_KEY},
        basic("digest", MAILCHIMP_KEY),
        f"  lists: [{AUDIENCE}]\n",
        "*|UNSUB|*",
        "DIGEST_MAILCHIMP_API_KEY was",
        "save",
        "sent",
    ),
    "brevo": Kind(
        "brevo",
        "Brevo",
        {"DIGEST_BREVO_API_KEY": SECRET},
        SECRET,
        "  lists: [2]\n",
        "{{ unsubscribe }}",
        "DIGEST_BREVO_API_KEY was",
        "draft",
        "sent",
    ),
}

ISSUE = """\
date: 2026-03-06
subject: {subject}
intro: "Templates write `{{{{ .Name }}}}` and `{{% if x %}}`; neither is ours to fill in."
sections:
  - title: News
    items:
      - title: First item
        url: https://example.com/1
        summary: A *short* blurb about `{{{{ range . }}}}` loops and `*|FNAME|*` tags.
"""


@pytest.fixture(params=list(KINDS))
def kind(request: pytest.FixtureRequest) -> Kind:
    return KINDS[request.param]


@pytest.fixture
def box(kind: Kind) -> Iterator[Mailbox]:
    yield from mailing_servers.serve(kind.service, kind.credential)


@pytest.fixture
def root(tmp_path: Path, kind: Kind, box: Mailbox) -> Path:
    root = tmp_path / "news"
    (root / "issues").mkdir(parents=True)
    config = f"""\
        title: Push Weekly
        url: https://push.example.org/
        email:
          from: "Push Weekly <news@push.example.org>"
          unsubscribe_url: "{kind.unsubscribe}"
        mailing:
          service: {kind.service}
          api_url: {box.base}
          template: 5
        """
    config = textwrap.dedent(config) + kind.lists
    if kind.service != "listmonk":
        config = config.replace("  template: 5\n", "")
    (root / "config.yaml").write_text(config, encoding="utf-8")
    write_issue(root, "Push Weekly, issue one")
    return root


def write_issue(root: Path, subject: str) -> None:
    (root / "issues" / "0001.yaml").write_text(ISSUE.format(subject=subject), encoding="utf-8")


def push(root: Path, kind: Kind, *args: str, **env: str) -> Result:
    environment: dict[str, str | None] = dict.fromkeys(VARIABLES)
    environment.update(kind.env)
    environment.update(env)
    return CliRunner().invoke(main, ["push", "1", "--root", str(root), *args], env=environment, catch_exceptions=False)


def created_line(kind: Kind, box: Mailbox) -> str:
    (campaign_id,) = box.campaigns
    url = {
        "listmonk": f": {box.base}/admin/campaigns/{campaign_id}",
        "buttondown": f": https://buttondown.com/emails/{campaign_id}",
        "mailchimp": ": https://us21.admin.mailchimp.com/campaigns/show/?id=4000",
        "brevo": "",
    }[kind.service]
    return f"{kind.name}: campaign {campaign_id} created{url}\n"


def no_secret(*results: Result) -> None:
    for result in results:
        assert SECRET not in result.stdout and SECRET not in result.stderr


def test_push_creates_a_draft_then_updates_the_same_one(root: Path, kind: Kind, box: Mailbox) -> None:
    first = push(root, kind)
    assert first.exit_code == 0, first.output
    assert first.stdout == created_line(kind, box)
    assert first.stderr == ""
    (campaign,) = box.campaigns.values()
    assert campaign.get("status") == kind.draft_status
    write_issue(root, "Push Weekly, issue one (typo fixed)")
    second = push(root, kind)
    assert second.exit_code == 0, second.output
    assert second.stdout == created_line(kind, box).replace(" created", " updated")
    assert len(box.campaigns) == 1  # one issue, one campaign
    (campaign,) = box.campaigns.values()
    subject = {"listmonk": "subject", "buttondown": "subject", "brevo": "subject"}.get(kind.service)
    got = campaign[subject] if subject else campaign["settings"]["subject_line"]
    assert got == "Push Weekly, issue one (typo fixed)"
    assert campaign.get("status") == kind.draft_status
    no_secret(first, second)
    methods = [(r.method, r.path) for r in box.writes()]
    assert (
        methods
        == {
            "listmonk": [("POST", "/api/campaigns"), ("PUT", "/api/campaigns/7")],
            "buttondown": [("POST", "/v1/emails"), ("PATCH", f"/v1/emails/{next(iter(box.campaigns))}")],
            "mailchimp": [
                ("POST", "/3.0/campaigns"),
                ("PUT", "/3.0/campaigns/0000000007/content"),
                ("PATCH", "/3.0/campaigns/0000000007"),
                ("PUT", "/3.0/campaigns/0000000007/content"),
            ],
            "brevo": [("POST", "/v3/emailCampaigns"), ("PUT", "/v3/emailCampaigns/7")],
        }[kind.service]
    )


def test_the_earlier_draft_is_found_past_the_first_page(root: Path, kind: Kind, box: Mailbox) -> None:
    assert push(root, kind).exit_code == 0
    (mine,) = box.campaigns.values()
    box.filters = False  # listmonk: its list is read whole, as from a listmonk without the tag filter
    for n in range(5):  # other campaigns, newer: the service lists them first, two a page
        other = {**mine, "id": f"other{n}", "name": f"Other #{n}", "tags": [], "secondary_id": 100 + n}
        other["settings"] = {"title": f"Other #{n}"}
        other["creation"] = 10_000 + n
        box.campaigns = (
            {f"other{n}": other, **box.campaigns}
            if kind.service != "buttondown"
            else {**box.campaigns, f"other{n}": other}
        )
    result = push(root, kind)
    assert result.exit_code == 0, result.output
    assert " updated" in result.stdout
    assert len(box.campaigns) == 6


def test_a_campaign_that_is_no_longer_a_draft_is_never_changed(root: Path, kind: Kind, box: Mailbox) -> None:
    assert push(root, kind).exit_code == 0
    ((campaign_id, campaign),) = box.campaigns.items()
    campaign["status"] = kind.sent_status
    writes = len(box.writes())
    result = push(root, kind)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"{kind.name}: campaign {campaign_id} (Push Weekly #1) is {kind.sent_status}, not a draft: digest never"
        " changes a campaign that is scheduled or sent; to push again, make it a draft in the service (or delete"
        " it)\n1 error; nothing was changed\n"
    )
    assert len(box.writes()) == writes


def test_a_refused_key_is_one_line_naming_the_variable(root: Path, kind: Kind, box: Mailbox) -> None:
    box.credential = "something else"
    message = {
        "listmonk": "Invalid API credentials",
        "buttondown": "Invalid token.",
        "mailchimp": "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        "brevo": "Key not found",
    }[kind.service]
    result = push(root, kind)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{kind.name}: 401: {message} ({kind.variables} refused by {kind.name})\n1 error; nothing was sent\n"
    )
    debug = push(root, kind, "--debug")
    assert debug.exit_code == 1 and "Traceback" in debug.stderr
    no_secret(result, debug)
    assert box.campaigns == {}


def test_a_key_the_service_echoes_back_is_never_shown(root: Path, kind: Kind, box: Mailbox) -> None:
    box.faults.append((400, {}, {"message": f"bad key {SECRET}", "detail": f"bad key {SECRET}"}))
    result = push(root, kind)
    assert result.exit_code == 1
    assert result.stderr == f"{kind.name}: 400: bad key ***\n1 error; nothing was sent\n"


def test_429_is_tried_again_after_retry_after(root: Path, kind: Kind, box: Mailbox) -> None:
    box.faults.append((429, {"Retry-After": "1"}, {"message": "slow down", "detail": "slow down"}))
    result = push(root, kind)
    assert result.exit_code == 0, result.output
    assert result.stdout == created_line(kind, box)
    first, second = box.requests[:2]
    assert (first.method, first.path) == (second.method, second.path)
    assert second.at - first.at >= 0.95


def test_500_then_success(root: Path, kind: Kind, box: Mailbox) -> None:
    box.faults.append((500, {}, {"message": "database restarting", "detail": "database restarting"}))
    result = push(root, kind)
    assert result.exit_code == 0, result.output
    assert result.stdout == created_line(kind, box)


def test_a_post_that_failed_with_500_is_not_sent_twice(root: Path, kind: Kind, box: Mailbox) -> None:
    """It may have made the campaign: the next push finds it (here: it did not) rather than a retry doubling it."""
    box.fault_on = "POST"
    box.faults.append((500, {}, {"message": "internal error", "detail": "internal error"}))
    result = push(root, kind)
    assert result.exit_code == 1
    assert result.stderr == (
        f"{kind.name}: 500: internal error\n1 error; the service may have made the campaign all the same: push again,"
        " and digest finds it\n"
    )
    assert [r.method for r in box.requests].count("POST") == 1
    again = push(root, kind)
    assert again.exit_code == 0 and again.stdout == created_line(kind, box)


def test_the_gate_comes_first(root: Path, kind: Kind, box: Mailbox) -> None:
    (root / "issues" / "0001.yaml").write_text("date: 2026-03-06\nsections: []\n", encoding="utf-8")
    result = push(root, kind)
    assert result.exit_code == 1
    assert result.stderr == (
        "issues/0001.yaml:2: sections: has no sections: a published issue needs at least one section\n"
        "1 error; nothing was sent\n"
    )
    assert box.requests == []


def test_500_every_time_gives_up_after_four_tries(root: Path, kind: Kind, box: Mailbox) -> None:
    box.faults += [(503, {"Retry-After": "0"}, {"message": "down", "detail": "down"})] * 4
    result = push(root, kind)
    assert result.exit_code == 1
    assert result.stderr == f"{kind.name}: 503: down (tried 4 times)\n1 error; nothing was sent\n"
    assert len(box.requests) == 4


def test_a_service_too_slow_is_one_line(root: Path, kind: Kind, box: Mailbox) -> None:
    box.faults.append(3.0)
    result = push(root, kind, DIGEST_PUSH_TIMEOUT="1")
    assert result.exit_code == 1
    lookup = {
        "listmonk": "/api/campaigns",
        "buttondown": "/v1/emails",
        "mailchimp": "/3.0/campaigns",
        "brevo": "/v3/emailCampaigns",
    }[kind.service]
    assert result.stderr == (
        f"{kind.name}: no answer within 1 s (GET {lookup}); it may have acted on the request: look in the service"
        " before pushing again (DIGEST_PUSH_TIMEOUT sets the wait)\n1 error; nothing was sent\n"
    )
    assert box.campaigns == {}


def test_dry_run_sends_nothing_and_masks_the_credentials(root: Path, kind: Kind, box: Mailbox) -> None:
    result = push(root, kind, "--dry-run")
    assert result.exit_code == 0, result.output
    assert box.requests == []
    header = "api-key: ***" if kind.service == "brevo" else "Authorization: ***"
    assert result.stdout.count(header) >= 2
    assert result.stdout.endswith("nothing was sent (--dry-run)\n")
    no_secret(result)
    assert MAILCHIMP_KEY not in result.stdout


def built(root: Path) -> tuple[str, str]:
    """Issue 1's email (HTML, text) exactly as `digest build` makes it."""
    from digest.core.config import load_config
    from digest.pipeline.build import render_one

    _, html, text = render_one(load_config(root), 1)
    return html, text


@pytest.mark.parametrize("kind", [KINDS["listmonk"]])
def test_listmonk_renders_exactly_the_built_email(root: Path, kind: Kind, box: Mailbox) -> None:
    """Braces in the text arrive as written, the unsubscribe tag is live, Outlook's conditionals survive
    html/template (which drops comments): rendered, the campaign is the built email."""
    assert push(root, kind).exit_code == 0
    (campaign,) = box.campaigns.values()
    html, text = built(root)
    assert "<!--[if mso]>" in html and "{{ .Name }}" in html and "{{ UnsubscribeURL }}" in html
    assert mailing_servers.go_render(campaign["body"]) == html.replace("{{ UnsubscribeURL }}", UNSUBSCRIBE_LINK)
    assert mailing_servers.go_render(campaign["altbody"]) == text.replace("{{ UnsubscribeURL }}", UNSUBSCRIBE_LINK)
    # What Safe prevents: with the braces escaped alone, html/template would drop every conditional.
    assert "<!--" not in mailing_servers.go_render(escape_braces(html))
    assert campaign["template_id"] == 5
    assert (campaign["content_type"], campaign["lists"], campaign["type"]) == ("html", [3], "regular")
    assert campaign["from_email"] == "Push Weekly <news@push.example.org>"


@pytest.mark.parametrize("kind", [KINDS["buttondown"]])
def test_buttondown_always_gets_status_draft(root: Path, kind: Kind, box: Mailbox) -> None:
    assert push(root, kind).exit_code == 0
    assert push(root, kind).exit_code == 0
    assert [r.body["status"] for r in box.writes()] == ["draft", "draft"]
    (email,) = box.campaigns.values()
    assert email["secondary_id"] == 1 and email["template"] == "naked"
    body = email["body"]
    assert "{% templatetag openvariable %} .Name }}" in body and "{{ unsubscribe_url }}" in body
    assert body.startswith("<!doctype html>")


@pytest.mark.parametrize("kind", [KINDS["mailchimp"], KINDS["brevo"]])
def test_the_html_arrives_as_built_with_template_syntax_neutralised(root: Path, kind: Kind, box: Mailbox) -> None:
    assert push(root, kind).exit_code == 0
    (campaign,) = box.campaigns.values()
    html, text = built(root)
    if kind.service == "mailchimp":
        sent = campaign["content"]["html"]
        assert campaign["content"]["plain_text"] == text
        assert sent.replace("&#42;|", "*|") == html  # shown the same; Mailchimp sees no merge tag
        assert "*|FNAME|*" in html and "*|FNAME|*" not in sent and 'href="*|UNSUB|*"' in sent
        assert campaign["settings"]["reply_to"] == "news@push.example.org"
        assert campaign["settings"]["from_name"] == "Push Weekly"
    else:
        sent = campaign["htmlContent"]
        assert sent.replace("&#123;", "{") == html  # shown the same; Brevo's template language sees no tag
        assert "{{ .Name }}" in html and "{{ .Name }}" not in sent and 'href="{{ unsubscribe }}"' in sent
        assert campaign["sender"] == {"name": "Push Weekly", "email": "news@push.example.org"}
        assert campaign["recipients"] == {"listIds": [2]}
