"""The command line: exact messages, exit codes, help with examples."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
import pytest
from conftest import run, tree
from test_mail import LoopbackController

from digest.cli import main

# What a refused command says it did not do: build wrote nothing; check never writes, so it only counts.
OUTCOME = {"check": "", "build": "; nothing was written"}


def test_bad_url_is_reported_at_its_file_line_and_key_path(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        issues={
            "0263.yaml": (
                """\
        date: 2019-11-08
        sections:
          - title: In English
            items:
              - title: One
                url: https://example.com/1
              - title: Two
                url: ftp://example.com/file
        """
            )
        }
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr
        == "issues/0263.yaml:8: sections[1].items[2].url: must be an http(s) URL, got 'ftp://example.com/file'\n"
        "1 error\n"
    )
    assert result.stdout == ""


def test_all_problems_are_collected_across_files_before_exiting(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        issues={
            "0001.yaml": (
                """\
            date: 2024-01-05
            sections:
              - items:
                  - title: A
                    summmary: typo
            """
            ),
            "0002.yaml": (
                """\
            date: 2024-02-30
            sections:
              - items:
                  - url: https://example.com/
            """
            ),
        }
    )
    result = run("build", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr == "issues/0001.yaml:5: sections[1].items[1].summmary: unknown key; did you mean 'summary'?\n"
        "issues/0002.yaml:1: date: '2024-02-30' is not a valid date\n"
        "issues/0002.yaml:4: sections[1].items[1]: an item needs a title or a summary\n"
        "3 errors; nothing was written\n"
    )
    assert not (root / "site").exists()


def test_markdown_link_error_points_at_the_line_inside_a_block_scalar(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        issues={
            "0001.yaml": (
                """\
        date: 2024-01-05
        intro: |
          Welcome.

          Read [this](javascript:alert(1)) now.
        sections:
          - items:
              - title: A
        """
            )
        }
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr.splitlines()[0]
        == "issues/0001.yaml:5: intro: markdown link target must be an http(s) or mailto URL, got 'javascript:alert(1)'"
    )


def test_missing_required_key_is_reported_at_the_mapping_that_lacks_it(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        issues={
            "0001.yaml": (
                """\
        title: No date
        sections:
          - title: S
            items:
              - image: {src: "https://example.com/a.png"}
        """
            )
        }
    )
    result = run("check", "--root", str(root))
    assert (
        result.stderr == "issues/0001.yaml:1: missing required key 'date'\n"
        "issues/0001.yaml:5: sections[1].items[1]: an item needs a title or a summary\n"
        "issues/0001.yaml:5: sections[1].items[1].image: missing required key 'alt'\n"
        "3 errors\n"
    )


def test_draft_without_items_builds_with_a_note(newsletter: Callable[..., Path]) -> None:
    root = newsletter(
        issues={"0001.yaml": "date: 2024-01-05\n", "0002.yaml": "date: 2024-01-12\ndraft: true\nsections: []\n"}
    )
    result = run("check", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr == "issues/0001.yaml:1: missing required key 'sections'\n"
        "issues/0002.yaml:3: note: sections: has no sections (fine for a draft; it must have some before publishing)\n"
        "1 error\n"
    )
    (root / "issues" / "0001.yaml").unlink()
    result = run("check", "--root", str(root))
    assert result.exit_code == 0
    assert (
        result.stderr
        == "issues/0002.yaml:3: note: sections: has no sections (fine for a draft; it must have some before"
        " publishing)\n"
    )
    assert result.stdout == "checked 1 issue: no errors, 1 note\n"
    # A note fails nothing, not even --strict: a pull request adding a fresh draft passes CI.
    strict = run("check", "--strict", "--root", str(root))
    assert (strict.exit_code, strict.stderr) == (0, result.stderr)


DRAFT_NOTE = (
    "issues/0002.yaml:3: note: sections: has no sections (fine for a draft; it must have some before publishing)\n"
)
VAGUE_LINK = (
    "issues/0001.yaml:5: warning: sections[1].items[1].summary: link text 'click here' does not say where it goes;"
    " describe the destination (screen readers list links by their text)\n"
)


@pytest.mark.parametrize("command", ["check", "build"])
def test_strict_fails_on_warnings_and_leaves_the_site_as_it_was(newsletter: Callable[..., Path], command: str) -> None:
    root = newsletter(
        issues={
            "0001.yaml": (
                "date: 2024-01-05\nsections:\n  - items:\n      - title: One\n        summary: '[click"
                " here](https://example.com/x)'\n"
            ),
            "0002.yaml": "date: 2024-01-12\ndraft: true\nsections: []\n",
        }
    )
    first = run("build", "--root", str(root))
    assert first.exit_code == 0 and first.stderr == VAGUE_LINK + DRAFT_NOTE
    site = tree(root / "site")
    # Twice: the second build --strict finds nothing changed and takes the no-op path.
    for _ in range(2):
        result = run(command, "--strict", "--root", str(root))
        assert result.exit_code == 1
        # The warning fails; the draft's note is no failure, so it is not among them.
        assert result.stderr == VAGUE_LINK + f"1 warning, which --strict makes fatal{OUTCOME[command]}\n"
        assert result.stdout == ""
        assert tree(root / "site") == site
    (root / "issues" / "0003.yaml").write_text(
        "date: 2024-01-19\nsections:\n  - items:\n      - title: Three\n        url: javascript:alert(1)\n",
        encoding="utf-8",
    )
    result = run(command, "--strict", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr
        == VAGUE_LINK + DRAFT_NOTE
        + "issues/0003.yaml:5: sections[1].items[1].url: must be an http(s) URL, got 'javascript:alert(1)'\n"
        f"1 error{OUTCOME[command]}\n"
    )
    (root / "issues" / "0001.yaml").write_text(
        "date: 2024-01-05\nsections:\n  - items:\n      - title: One\n        summary: '[the release"
        " notes](https://example.com/x)'\n",
        encoding="utf-8",
    )
    (root / "issues" / "0003.yaml").unlink()
    result = run(command, "--strict", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert result.stderr == DRAFT_NOTE


def test_build_prints_one_summary_line(newsletter: Callable[..., Path]) -> None:
    root = newsletter()
    result = run("build", "--root", str(root))
    assert result.exit_code == 0, result.output
    assert re.fullmatch(r"built 1 issue \(1 changed\) in \d+\.\d s\n", result.stdout)
    again = run("build", "--root", str(root))
    assert re.fullmatch(r"built 1 issue \(0 changed\) in \d+\.\d s\n", again.stdout)
    assert (root / "site" / "issues" / "1" / "email.html").is_file()


def test_missing_config_names_the_folder(tmp_path: Path) -> None:
    result = run("check", "--root", str(tmp_path))
    assert result.exit_code == 1
    assert (
        result.stderr == f"config.yaml: not found in {tmp_path}: is this a newsletter folder? (see --root)\n1 error\n"
    )


@pytest.mark.parametrize("args", [["--help"], *([name, "--help"] for name in main.commands)])
def test_every_help_has_an_example(args: list[str]) -> None:
    result = run(*args)
    assert result.exit_code == 0
    assert "Example:" in result.stdout
    assert f"digest {args[0] if len(args) > 1 else ''}".strip() in result.stdout.split("Example:")[1]


def test_python_dash_m_works() -> None:
    out = subprocess.run([sys.executable, "-m", "digest", "--help"], capture_output=True, text=True, check=True)
    assert "Usage: digest" in out.stdout


def test_no_traceback_without_debug_but_with_it(newsletter: Callable[..., Path]) -> None:
    root = newsletter(issues={"0001.yaml": "date: [\n"})
    plain = subprocess.run(
        [sys.executable, "-m", "digest", "check", "--root", str(root)], capture_output=True, text=True
    )
    assert plain.returncode == 1
    assert "Traceback" not in plain.stderr
    debug = subprocess.run(
        [sys.executable, "-m", "digest", "check", "--debug", "--root", str(root)], capture_output=True, text=True
    )
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr


def test_failed_build_leaves_previous_site_untouched(newsletter: Callable[..., Path]) -> None:
    root = newsletter()
    assert run("build", "--root", str(root)).exit_code == 0
    before = tree(root / "site")
    (root / "issues" / "0002.yaml").write_text(
        "date: 2024-01-12\nsections: [{items: [{title: X, url: 'javascript:x'}]}]\n"
    )
    (root / "issues" / "0001.yaml").write_text(
        Path(root / "issues" / "0001.yaml").read_text().replace("First item", "Changed")
    )
    result = run("build", "--root", str(root))
    assert result.exit_code == 1
    assert tree(root / "site") == before
    assert sorted(p.name for p in root.iterdir()) == ["config.yaml", "issues", "site"]


def test_help_lists_the_commands_in_the_order_of_a_weeks_work_uncut() -> None:
    result = run("--help")
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:\n")[1]
    assert (
        listed == "  init       Start a newsletter in a new folder, with a first draft.\n"
        "  new        Start the next issue as a draft.\n"
        "  add        Add a web page as an item of the newest draft.\n"
        "  collect    Add the new entries of feeds to the newest draft.\n"
        "  translate  Carry an issue into a local edition, to translate.\n"
        "  editions   What each local edition still lacks, issue by issue.\n"
        "  check      The pre-send gate: check every issue, writing nothing.\n"
        "  serve      Preview every issue, drafts included, in a browser.\n"
        "  build      Build the site: every issue, the archive and the feeds.\n"
        "  export     Write an issue as an .eml message, as send sends it.\n"
        "  send       Send an issue as a proof through SMTP.\n"
        "  push       Hand an issue to the mailing service as a draft.\n"
    )
    assert list(main.list_commands(click.Context(main))) == [
        "init",
        "new",
        "add",
        "collect",
        "translate",
        "editions",
        "check",
        "serve",
        "build",
        "export",
        "send",
        "push",
    ]


def test_sends_example_never_puts_the_password_in_a_command() -> None:
    example = run("send", "--help").stdout.split("Example:")[1]
    assert "DIGEST_SMTP_PASSWORD=" not in example
    assert "read -rs DIGEST_SMTP_PASSWORD" in example


class _Received:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope.content)
        return "250 OK"


def test_export_and_send_refuse_a_draft_with_no_items(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 19: an empty draft was exported and sent as a header and a footer without a word."""
    assert run("new", "--root", str(example)).exit_code == 0  # issues/0045.yaml: no items yet
    message = (
        "issues/0045.yaml: is a draft with no items yet: there is nothing to send; add some with digest add URL or"
        " digest collect\n"
    )
    out = tmp_path / "45.eml"
    exported = run("export", "45", "--root", str(example), "--out", str(out))
    assert (exported.exit_code, exported.stdout, exported.stderr) == (1, "", message + "1 error; nothing was written\n")
    assert not out.exists()
    received = _Received()
    controller = LoopbackController(received)
    controller.start()
    try:
        monkeypatch.setenv("DIGEST_SMTP_HOST", "127.0.0.1")
        monkeypatch.setenv("DIGEST_SMTP_PORT", str(controller.port))
        monkeypatch.setenv("DIGEST_SMTP_SECURITY", "none")
        for var in ("DIGEST_SMTP_USER", "DIGEST_SMTP_PASSWORD", "DIGEST_SMTP_CA_FILE"):
            monkeypatch.delenv(var, raising=False)
        sent = run("send", "45", "--to", "me@example.org", "--root", str(example))
        assert (sent.exit_code, sent.stdout, sent.stderr) == (1, "", message + "1 error; nothing was sent\n")
        assert received.messages == []
        # A proof of a draft that has items stays what it was.
        proof = run("send", "44", "--to", "me@example.org", "--root", str(example))
        assert proof.exit_code == 0, proof.output
        assert len(received.messages) == 1
    finally:
        controller.stop()
    assert run("export", "44", "--root", str(example), "--out", str(out)).exit_code == 0
    assert b"multipart/alternative" in out.read_bytes()


def test_export_replaces_a_link_at_its_out_never_writes_through_it(example: Path, tmp_path: Path) -> None:
    """A folder from elsewhere may hold a link named as the file to export: it is replaced, its target untouched."""
    (tmp_path / "out").mkdir()
    victim, out = tmp_path / "out" / "victim.txt", tmp_path / "out" / "44.eml"
    victim.write_text("mine")
    out.symlink_to(victim)
    result = run("export", "44", "--root", str(example), "--out", str(out))
    assert (result.exit_code, result.stderr) == (0, "")
    assert not out.is_symlink() and b"multipart/alternative" in out.read_bytes()
    assert victim.read_text() == "mine"
    assert sorted(p.name for p in out.parent.iterdir()) == ["44.eml", "victim.txt"]  # no temporary file left


def test_a_wrong_since_is_a_user_error(example: Path) -> None:
    result = run("collect", "feed.xml", "--root", str(example), "--since", "2026-02-30")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == "--since: '2026-02-30' is not a valid date\n1 error; nothing was written\n"
