"""`digest push` without a server: config.yaml's mailing:, the escaping each service needs, the requests
as --dry-run prints them, missing credentials, and the wait Retry-After asks for."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from digest.cli import main
from digest.core.config import load_config
from digest.core.errors import DigestError
from digest.deliver.push import http
from digest.deliver.push.buttondown import escape_django
from digest.deliver.push.listmonk import escape_braces, go_string, template_body
from tests.mailing_servers import UNSUBSCRIBE_LINK, go_render

CONFIG = """\
title: Push Weekly
url: https://push.example.org/
email:
  from: "Push Weekly <news@push.example.org>"
  unsubscribe_url: "{unsubscribe}"
mailing:
{mailing}
"""
ISSUE = """\
date: 2026-03-06
sections:
  - title: News
    items:
      - title: First item
        url: https://example.com/1
        summary: "Templates write `{{ .Name }}`."
"""


def config_problems(
    newsletter: Callable[..., Path], mailing: str, unsubscribe: str = "{{ UnsubscribeURL }}"
) -> list[str]:
    root = newsletter(config=CONFIG.format(mailing=textwrap.indent(mailing, "  "), unsubscribe=unsubscribe))
    try:
        config = load_config(root)
    except DigestError as e:
        return [str(p) for p in e.problems]
    return [str(p) for p in config.warnings]


@pytest.mark.parametrize(
    ("mailing", "expected"),
    [
        (
            "service: sendgrid\n",
            "config.yaml:7: mailing.service: must be one of listmonk, buttondown, mailchimp, brevo, got 'sendgrid'",
        ),
        ("service: listmonk\nlists: [3]\n", "config.yaml:7: mailing: needs api_url: the address of your listmonk"),
        (
            "service: listmonk\napi_url: http://lists.example.org\nlists: [3]\n",
            "config.yaml:8: mailing.api_url: must be https (http only on this machine: 127.0.0.1, localhost), got"
            " 'http://lists.example.org'",
        ),
        (
            "service: listmonk\napi_url: https://lists.example.org\nlists: ['3']\n",
            "config.yaml:9: mailing.lists[1]: must be a whole number, got text ('3') (remove the quotes)",
        ),
        ("service: brevo\n", "config.yaml:7: mailing: needs lists: the Brevo list ids to send to"),
        ("service: mailchimp\nlists: []\n", "config.yaml:8: mailing.lists: is empty: give the Mailchimp audience id"),
        (
            "service: buttondown\nlists: [1]\n",
            "config.yaml:8: mailing.lists: is not used by Buttondown: it sends to the newsletter's subscribers",
        ),
        (
            "service: mailchimp\nlists: [a1b2c3, f0e9d8]\n",
            "config.yaml:8: mailing.lists: names 2 audiences; a Mailchimp campaign goes to one",
        ),
        (
            "service: brevo\nlists: [2]\ntemplate: 4\n",
            "config.yaml:9: mailing.template: is a listmonk template id; Brevo takes none",
        ),
        (
            "service: brevo\nlists: [2]\napi_key: abc\n",
            "config.yaml:9: mailing.api_key: unknown key; known keys: service, api_url, lists, template",
        ),
    ],
)
def test_mailing_config_errors(newsletter: Callable[..., Path], mailing: str, expected: str) -> None:
    assert expected in config_problems(newsletter, mailing)


@pytest.mark.parametrize(
    ("mailing", "unsubscribe", "expected"),
    [
        (
            "service: mailchimp\nlists: [a1b2c3]\n",
            "{{ UnsubscribeURL }}",
            "is listmonk's merge tag, which Mailchimp never replaces: the link would not work; use *|UNSUB|*",
        ),
        (
            "service: mailchimp\nlists: [a1b2c3]\n",
            "https://push.example.org/leave",
            "is not Mailchimp's merge tag *|UNSUB|*: Mailchimp adds its own footer with an unsubscribe link",
        ),
        (
            "service: buttondown\n",
            "*|UNSUB|*",
            "is Mailchimp's merge tag, which Buttondown never replaces: the link would not work; use"
            " {{ unsubscribe_url }}",
        ),
        (
            "service: brevo\nlists: [2]\n",
            "https://push.example.org/leave",
            "is a plain URL: Brevo cannot tell who unsubscribed there (and may add its own link); use"
            " {{ unsubscribe }}",
        ),
        (
            "service: listmonk\napi_url: https://l.example.org\nlists: [1]\n",
            "%unsubscribe_url%",
            "is not listmonk's unsubscribe merge tag {{ UnsubscribeURL }}, which listmonk replaces with each"
            " reader's link",
        ),
    ],
)
def test_the_unsubscribe_link_must_be_the_services_merge_tag(
    newsletter: Callable[..., Path], mailing: str, unsubscribe: str, expected: str
) -> None:
    assert config_problems(newsletter, mailing, unsubscribe) == [
        f"config.yaml:5: warning: email.unsubscribe_url: {expected}"
    ]


@pytest.mark.parametrize(
    ("mailing", "unsubscribe"),
    [
        ("service: buttondown\n", "{{ unsubscribe_url }}"),
        ("service: brevo\nlists: [2]\n", "{{ unsubscribe }}"),
        ("service: mailchimp\nlists: [a1b2c3]\n", "*|UNSUB|*"),
        ("service: listmonk\napi_url: http://localhost:9000\nlists: [1]\ntemplate: 2\n", "{{ UnsubscribeURL . }}"),
    ],
)
def test_each_services_own_tag_is_no_warning(newsletter: Callable[..., Path], mailing: str, unsubscribe: str) -> None:
    assert config_problems(newsletter, mailing, unsubscribe) == []


# listmonk: Go templates -----------------------------------------------------------------------------


def test_go_string_is_a_go_literal() -> None:
    assert go_string('a "b" \\ c\nd\te\x01 é }}') == '"a \\"b\\" \\\\ c\\nd\\te\\x01 é }}"'


@pytest.mark.parametrize(
    "text",
    [
        "{{ .Name }}",
        "{{{{",
        "a {",
        "{",
        "}}{{-",
        'x {{ "q" }} y',
        "<p>{{ UnsubscribeURL }} stays</p>",
        "{{{ UnsubscribeURL }}",
        '<!-- a {{ b }} comment --> and <!--[if mso]><td>{{x}}\n"q"</td><![endif]-->',
        "<!--[if !mso]><!--><meta x><!--<![endif]-->{",
    ],
)
def test_listmonk_body_renders_as_written(text: str) -> None:
    assert go_render(template_body(text)) == text.replace("{{ UnsubscribeURL }}", UNSUBSCRIBE_LINK)


def test_listmonk_subject_braces() -> None:
    assert escape_braces("Use {{ .Name }}") == 'Use {{"{{"}} .Name }}'


# Buttondown: Django templates -----------------------------------------------------------------------


def test_buttondown_body_escapes_django_openers_and_keeps_the_unsubscribe_tag() -> None:
    text = '<a href="{{ unsubscribe_url }}">x</a> {{ .Name }} {% if %} {# c #} {'
    assert escape_django(text) == (
        '<a href="{{ unsubscribe_url }}">x</a> {% templatetag openvariable %} .Name }} {% templatetag openblock %} if'
        " %} {% templatetag opencomment %} c #} {% templatetag openbrace %}"
    )


def test_entity_escape_shows_the_same_text_and_keeps_the_tag() -> None:
    from digest.core.mailing import UNSUBSCRIBE
    from digest.deliver.push.draft import entity_escape

    html = '<style>a{{b}}</style><p>{{ .X }} {% y %}</p><a href="{{ unsubscribe }}">u</a><!--[if mso]>{{x}}<![endif]-->'
    assert entity_escape(html, UNSUBSCRIBE["brevo"][1], ("{{", "{%", "{#")) == (
        '<style>a{{b}}</style><p>&#123;{ .X }} &#123;% y %}</p><a href="{{ unsubscribe }}">u</a>'
        "<!--[if mso]>&#123;{x}}<![endif]-->"
    )
    assert entity_escape("*|FNAME|* *|UNSUB|*", UNSUBSCRIBE["mailchimp"][1], ("*|",)) == "&#42;|FNAME|* *|UNSUB|*"


# The network: Retry-After ---------------------------------------------------------------------------


def test_retry_after_in_seconds_or_as_a_date() -> None:
    assert http._retry_after("3", 0) == 3.0
    assert http._retry_after(None, 2) == 4.0
    assert http._retry_after("Wed, 21 Oct 2015 07:28:00 GMT", 0) == 0.0  # in the past: at once
    assert http._retry_after("soon", 1) == 2.0


def test_push_timeout_setting() -> None:
    assert http.timeout_from({}) == 30.0
    assert http.timeout_from({"DIGEST_PUSH_TIMEOUT": "2.5"}) == 2.5
    with pytest.raises(DigestError) as e:
        http.timeout_from({"DIGEST_PUSH_TIMEOUT": "0"})
    assert str(e.value) == "environment: DIGEST_PUSH_TIMEOUT must be seconds from 0 to 600, got '0'"


# The command ----------------------------------------------------------------------------------------

SECRET = "k3y-5e1f0a2b3c4d"


def push(root: Path, *args: str, **env: str) -> Result:
    names = ("DIGEST_LISTMONK_USER", "DIGEST_LISTMONK_TOKEN", "DIGEST_BUTTONDOWN_API_KEY", "DIGEST_MAILCHIMP_API_KEY")
    environment: dict[str, str | None] = {**dict.fromkeys(names), "DIGEST_BREVO_API_KEY": None, **env}
    return CliRunner().invoke(main, ["push", "1", "--root", str(root), *args], env=environment, catch_exceptions=False)


def listmonk_root(newsletter: Callable[..., Path], template: str = "") -> Path:
    mailing = f"service: listmonk\napi_url: http://127.0.0.1:9\nlists: [3]\n{template}"
    config = CONFIG.format(mailing=textwrap.indent(mailing, "  "), unsubscribe="{{ UnsubscribeURL }}")
    return newsletter(config=config, issues={"0001.yaml": ISSUE})


def test_a_missing_credential_is_one_line(newsletter: Callable[..., Path]) -> None:
    root = listmonk_root(newsletter, "template: 5\n")
    result = push(root, DIGEST_LISTMONK_USER="api")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "environment: set DIGEST_LISTMONK_TOKEN to that API user's token (never put it in config.yaml)\n"
        "1 error; nothing was sent\n"
    )


def test_push_needs_a_mailing_service(newsletter: Callable[..., Path]) -> None:
    root = newsletter(config=CONFIG.split("mailing:")[0].format(unsubscribe="*|UNSUB|*"), issues={"0001.yaml": ISSUE})
    result = push(root)
    assert result.exit_code == 1
    assert result.stderr == (
        "config.yaml: mailing: is not set: name your mailing service there (listmonk, buttondown, mailchimp or brevo)"
        " to push to it\n1 error; nothing was sent\n"
    )


def test_dry_run_prints_the_requests_with_the_credentials_masked(newsletter: Callable[..., Path]) -> None:
    root = listmonk_root(newsletter)
    env = {"DIGEST_LISTMONK_USER": "api", "DIGEST_LISTMONK_TOKEN": SECRET}
    result = push(root, "--dry-run", **env)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "GET http://127.0.0.1:9/api/campaigns?tag=digest-push.example.org-1&per_page=100&page=1&no_body=true",
        "Authorization: ***",
        "and when listmonk holds no campaign for issue 1 yet:",
        "POST http://127.0.0.1:9/api/campaigns",
    ]
    assert '  "name": "Push Weekly #1",' in lines and lines[-1] == "nothing was sent (--dry-run)"
    assert SECRET not in result.output
    # listmonk's template advice, once per newsletter
    assert result.stderr == (
        "config.yaml: warning: mailing.template: listmonk wraps a campaign in its default template (its own header,"
        " footer and styles) unless mailing.template names another: in listmonk, Campaigns → Templates → + New, type"
        ' Campaign, body exactly {{ template "content" . }}, save, and put its id in config.yaml as mailing.template\n'
    )
    again = push(root, "--dry-run", **env)
    assert again.exit_code == 0 and again.stderr == ""


def test_push_is_listed_with_an_example() -> None:
    result = CliRunner().invoke(main, ["push", "--help"])
    assert "digest push 264 --dry-run" in result.output
    assert "push       Hand an issue to the mailing service as a draft." in CliRunner().invoke(main, ["--help"]).output


LISTMONK = "service: listmonk\napi_url: https://lists.example.org\nlists: [1]\ntemplate: 2\n"


@pytest.mark.parametrize(
    ("mailing", "subscribe", "expected"),
    [
        (LISTMONK, None, "https://lists.example.org/subscription/form"),
        (LISTMONK, "https://push.example.org/join", "https://push.example.org/join"),
        # Buttondown's public page needs the account's name, which config.yaml does not hold.
        ("service: buttondown\n", None, None),
    ],
)
def test_a_listmonk_instance_is_the_default_subscribe_page(
    newsletter: Callable[..., Path], mailing: str, subscribe: str | None, expected: str | None
) -> None:
    config = CONFIG.format(mailing=textwrap.indent(mailing, "  "), unsubscribe="{{ UnsubscribeURL }}")
    if subscribe:
        config += f"subscribe: {{url: {subscribe}}}\n"
    assert load_config(newsletter(config=config)).subscribe_url == expected
