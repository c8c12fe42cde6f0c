"""The commands that hand an issue on: send (a test to the editor), export (.eml), push (a draft in the
mailing service)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from digest.cli.common import (
    _common,
    _plural,
    _print_warnings,
    main,
)
from digest.core.errors import DigestError, Problem


@main.command()
@click.argument("number", type=int)
@click.option("--to", "to", required=True, multiple=True, metavar="ADDRESS", help="Recipient of the proof; repeatable.")
@_common
def send(root: Path, number: int, to: tuple[str, ...]) -> None:
    """Send issue NUMBER as a proof through SMTP (settings from DIGEST_SMTP_* variables).

    The message is the one `digest export` writes: multipart/alternative (text, then
    HTML), with List-Id and List-Unsubscribe headers.  An email that Gmail would clip
    is not sent.  TLS verifies the server (DIGEST_SMTP_CA_FILE: the authorities to trust).
    Each step (connecting and the greeting, then every command) has DIGEST_SMTP_TIMEOUT
    seconds (default 30).  The password is read from the environment only: never type it
    on a command line, where the shell's history and `ps` keep it.

    \b
    Example:
      export DIGEST_SMTP_HOST=smtp.example.org DIGEST_SMTP_USER=me
      read -rs DIGEST_SMTP_PASSWORD && export DIGEST_SMTP_PASSWORD   # typed, not echoed
      digest send 263 --to me@example.org --to editor@example.org
    """
    from digest.deliver import mail, message

    recipients = message.recipients(to)
    settings = mail.smtp_from_environment()
    msg = _message(root, number, recipients)
    mail.send(msg, settings)
    click.echo(f"sent issue {number} to {', '.join(recipients)} via {settings.host}:{settings.port}")


@main.command()
@click.argument("number", type=int)
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="The .eml file to write (default: standard output).",
)
@click.option(
    "--to",
    "to",
    multiple=True,
    metavar="ADDRESS",
    help="Recipient written in the To header (default: the From address); repeatable.",
)
@_common
def export(root: Path, number: int, out: Path | None, to: tuple[str, ...]) -> None:
    """Write issue NUMBER as a finished .eml message, as `digest send` would send it.

    For mailing services that import .eml, for archiving, and for reading the raw
    message.  An email that Gmail would clip is not written.

    \b
    Example:
      digest export 263 --out 263.eml
      digest export 263 | less
    """
    from digest.deliver import message

    msg = _message(root, number, message.recipients(to) if to else None)
    data = msg.as_bytes()
    if out is None:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    from digest.compose.edit import FILE_MODE, put_file

    try:
        put_file(out, data, FILE_MODE)  # never through a link at that name
    except OSError as e:
        raise DigestError([Problem(str(out), None, f"cannot write: {e.strerror or e}")]) from e
    click.echo(f"wrote issue {number} to {out} ({_plural(len(data), 'byte')})")


def _message(root: Path, number: int, to: list[str] | None) -> Any:
    from digest.core.config import load_config
    from digest.deliver import message
    from digest.pipeline.build import render_one

    config = load_config(root)
    issue, html, text = render_one(config, number)
    message.require_content(issue)
    return message.build_message(config, issue, html, text, to or [message.sender(config)])


@main.command()
@click.argument("number", type=int)
@click.option("--dry-run", is_flag=True, help="Print the requests push would make (credentials as ***); send none.")
@_common
def push(root: Path, number: int, dry_run: bool) -> None:
    """Hand issue NUMBER to the mailing service in config.yaml (mailing:) as a draft campaign.

    Runs the pre-send gate first (as `digest check --issue NUMBER`), then creates the draft,
    or updates it when pushed again: one campaign per issue, found through the service.  A
    campaign that is scheduled or sent is never changed, and nothing is ever sent to a list:
    you press send in the service.  Credentials come from the environment only:
    DIGEST_LISTMONK_USER and DIGEST_LISTMONK_TOKEN, DIGEST_BUTTONDOWN_API_KEY,
    DIGEST_MAILCHIMP_API_KEY or DIGEST_BREVO_API_KEY (DIGEST_PUSH_TIMEOUT: seconds to wait).

    \b
    Example:
      read -rs DIGEST_BUTTONDOWN_API_KEY && export DIGEST_BUTTONDOWN_API_KEY   # typed, not echoed
      digest push 264 --dry-run
      digest push 264
    """
    from digest.core.config import load_config
    from digest.deliver.push.run import push as run_push

    outcome = run_push(load_config(root), number, dry_run=dry_run)
    _print_warnings(outcome.warnings, outcome.prepared, False)
    click.echo(outcome.shown if dry_run else outcome.line())
