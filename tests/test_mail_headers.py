"""Issue 20: no header line can be injected into what `send` delivers and `export` writes.

An RFC 2047 encoded word holding CR LF (``=?utf-8?q?=0D=0A?=``) is decoded by the email package
into a real line break; before the fix it became ``Bcc:`` and ``X-Injected:`` lines. Each value is
now refused at its file, line and key by `check`, `export` and `send`, and the message's policy
refuses any header that would start a line of its own. Real aiosmtpd server on 127.0.0.1.
"""

from __future__ import annotations

import smtplib
from email.message import EmailMessage
from pathlib import Path

import pytest
from conftest import run
from test_mail import Inbox, plain, send, smtp  # noqa: F401 - smtp is a fixture

from digest.deliver import mail, message

CRLF_WORD = "=?utf-8?q?Hello=0D=0ABcc:_evil@example.net=0D=0AX-Injected:_yes?="
DECODED = (
    "once its RFC 2047 encoded words (=?…?=) are decoded; an email header cannot hold line breaks or control characters"
)


def _set(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _refused_everywhere(root: Path, inbox: Inbox, port: int, error: str, to: str = "reader@example.com") -> None:
    """`check`, `export` (to a file and to standard output) and `send` all fail with exactly ``error``."""
    checked = run("check", "--root", str(root))
    assert (checked.exit_code, checked.stdout, checked.stderr) == (1, "", f"{error}\n1 error\n")  # check never writes
    out = root / "7.eml"
    exported = run("export", "7", "--out", str(out), "--root", str(root))
    assert (exported.exit_code, exported.stdout, exported.stderr) == (1, "", f"{error}\n1 error; nothing was written\n")
    assert not out.exists()
    printed = run("export", "7", "--root", str(root))
    assert (printed.exit_code, printed.stdout_bytes) == (1, b"")
    sent = send(root, 7, to, **plain(port))
    assert (sent.exit_code, sent.stdout, sent.stderr) == (1, "", f"{error}\n1 error; nothing was sent\n")
    assert inbox.envelopes == []


def test_an_encoded_crlf_in_the_subject_is_refused(golden_root: Path, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    _set(
        golden_root / "issues" / "0007.yaml", 'subject: "Golden Weekly #7: leap day special"', f'subject: "{CRLF_WORD}"'
    )
    _refused_everywhere(*(golden_root, *smtp), f"issues/0007.yaml:4: subject: holds U+000D {DECODED}")


def test_an_encoded_crlf_in_a_title_that_is_the_subject_is_refused(golden_root: Path, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    issue = golden_root / "issues" / "0007.yaml"
    _set(issue, 'subject: "Golden Weekly #7: leap day special"\n', "")
    _set(issue, "title: Leap day", f'title: "{CRLF_WORD}"')
    _refused_everywhere(*(golden_root, *smtp), f"issues/0007.yaml:3: title: holds U+000D {DECODED}")


@pytest.mark.parametrize(
    ("old", "new", "error"),
    [
        # title reaches every message's List-Id
        ("title: Golden Weekly\n", f'title: "{CRLF_WORD}"\n', f"config.yaml:1: title: holds U+000D {DECODED}"),
        (
            'from: "Golden Weekly <news@example.com>"',
            f'from: "{CRLF_WORD} <news@example.com>"',
            f"config.yaml:10: email.from: holds a line break {DECODED}",
        ),
        (
            "reply_to: editor@example.com",
            'reply_to: "=?utf-8?q?Ed=0ABcc:_x@example.net?= <editor@example.com>"',
            f"config.yaml:11: email.reply_to: holds a line break {DECODED}",
        ),
        (
            'unsubscribe_url: "*|UNSUB|*"',
            f'unsubscribe_url: "{CRLF_WORD}"',
            f"config.yaml:12: email.unsubscribe_url: holds U+000D {DECODED}",
        ),
        (
            "name: Ada Example",
            'name: "=?utf-8?b?QWRhDQpCY2M6IHhAZXhhbXBsZS5uZXQ=?="',
            f"config.yaml:7: author.name: holds U+000D {DECODED}",
        ),
    ],
)
def test_an_encoded_crlf_in_config_is_refused(
    golden_root: Path,
    smtp: tuple[Inbox, int],  # noqa: F811 - the fixture, imported above
    old: str,
    new: str,
    error: str,  # noqa: F811
) -> None:
    _set(golden_root / "config.yaml", old, new)
    _refused_everywhere(*(golden_root, *smtp), error)


def test_an_encoded_crlf_in_to_is_refused(golden_root: Path, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    inbox, port = smtp
    to = "=?utf-8?q?Reader=0D=0AX-Injected:_yes?= <reader@example.com>"
    error = f"--to: {to!r} holds a line break {DECODED}"
    sent = send(golden_root, 7, to, **plain(port))
    assert (sent.exit_code, sent.stdout, sent.stderr) == (1, "", f"{error}\n1 error; nothing was sent\n")
    assert inbox.envelopes == []
    exported = run("export", "7", "--to", to, "--root", str(golden_root))
    assert (exported.exit_code, exported.stdout, exported.stderr) == (1, "", f"{error}\n1 error; nothing was written\n")


def test_an_encoded_word_without_control_characters_is_one_header(golden_root: Path, smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    inbox, port = smtp
    _set(
        golden_root / "issues" / "0007.yaml",
        'subject: "Golden Weekly #7: leap day special"',
        'subject: "=?utf-8?q?Caf=C3=A9_Bcc:_x?="',
    )
    result = send(golden_root, 7, **plain(port))
    assert result.exit_code == 0, result.output
    received = inbox.message()
    assert received["Subject"] == "Café Bcc: x"
    assert received["Bcc"] is None and received["X-Injected"] is None
    assert b"\r\nBcc:" not in inbox.envelopes[0].content


def test_the_message_policy_refuses_an_injected_header_line(smtp: tuple[Inbox, int]) -> None:  # noqa: F811
    """The last line of defence, below validation: a header set directly, bypassing every check,
    is refused when the message is written, for a file and for SMTP alike."""
    inbox, port = smtp
    msg = EmailMessage(policy=message.POLICY)
    msg["Subject"] = CRLF_WORD
    msg["From"] = "news@example.com"
    msg["To"] = "reader@example.com"
    msg.set_content("text")
    with pytest.raises(message.HeaderInjection, match="^the Subject header would start a header line of its own$"):
        msg.as_bytes()
    with pytest.raises(message.HeaderInjection):
        msg.as_string()
    settings = mail.SmtpSettings("127.0.0.1", port, None, None, "none")
    with pytest.raises(message.HeaderInjection):
        mail.send(msg, settings)
    assert inbox.envelopes == []
    # A long, folded header is not mistaken for an injection.
    fine = EmailMessage(policy=message.POLICY)
    fine["Subject"] = " ".join(["word"] * 60)
    fine.set_content("text")
    assert fine.as_bytes().count(b"\n ") >= 2
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.send_message(fine, "news@example.com", ["reader@example.com"])
    assert len(inbox.envelopes) == 1


def test_the_author_as_sender_is_one_address_even_with_a_comma(golden_root: Path) -> None:
    config = golden_root / "config.yaml"
    _set(config, '  from: "Golden Weekly <news@example.com>"\n', "")
    _set(config, "name: Ada Example", 'name: "Example, Ada"')
    result = run("export", "7", "--root", str(golden_root))
    assert result.exit_code == 0, result.output
    assert b'\nFrom: "Example, Ada" <ada@example.com>\n' in result.stdout_bytes
    assert b'\nTo: "Example, Ada" <ada@example.com>\n' in result.stdout_bytes  # one recipient, not "Example" and "Ada"


@pytest.mark.parametrize(
    ("subject", "error"),
    [
        ("=?utf-8?q?a=7Fb?=", f"holds U+007F {DECODED}"),  # DEL, decoded
        ("=?utf-8?b?4oCo?=", f"holds U+2028 {DECODED}"),  # the line separator, decoded
        ("=?iso-8859-1?q?a=85b?=", f"holds U+0085 {DECODED}"),  # NEL, from another charset
        ("=?utf-8?q?tab=09?=", f"holds U+0009 {DECODED}"),
        ("=?utf-8?q?a=00?=", f"holds U+0000 {DECODED}"),
    ],
)
def test_every_control_character_decoding_brings_in_is_refused(golden_root: Path, subject: str, error: str) -> None:
    _set(golden_root / "issues" / "0007.yaml", 'subject: "Golden Weekly #7: leap day special"', f'subject: "{subject}"')
    result = run("check", "--root", str(golden_root))
    assert (result.exit_code, result.stderr) == (
        1,
        f"issues/0007.yaml:4: subject: {error}\n1 error\n",
    )


@pytest.mark.parametrize("where", ["subject", "title"])
def test_an_encoded_word_of_bytes_that_are_not_text_is_a_user_error(golden_root: Path, where: str) -> None:
    """Found by the header fuzz: =?utf-8?q?=80?= beside other text decodes, only as the header is written,
    to a lone surrogate that no message can carry (exit 2, an internal error, before)."""
    value = "=?utf-8?q?=80?=¡"
    if where == "subject":
        _set(
            golden_root / "issues" / "0007.yaml", 'subject: "Golden Weekly #7: leap day special"', f'subject: "{value}"'
        )
        at = "issues/0007.yaml:4: subject"
    else:
        _set(golden_root / "config.yaml", "title: Golden Weekly", f'title: "{value}"')
        at = "config.yaml:1: title"
    why = f"holds bytes that are not text {DECODED}"
    for command in ("check", "export"):
        args = [command, "7"] if command == "export" else [command]
        result = run(*args, "--root", str(golden_root))
        outcome = "; nothing was written" if command == "export" else ""
        assert (result.exit_code, result.stderr) == (1, f"{at}: {why}\n1 error{outcome}\n"), result.output
