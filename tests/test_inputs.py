"""Inputs digest may not read (issue 9): unreadable folders and files, symlinks out of the
newsletter or in loops, a byte order mark.  Each gets its exact message, exit 1, and a
previous site left as it was; permission cases run as an unprivileged user (the suite
may run as root, who can read anything: the CLI is then started as nobody)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, run, tree
from unprivileged import nobody

BASE = Path(__file__).resolve().parent / "fixtures" / "hostile" / "base"
BUILTIN = REPO / "digest" / "render" / "templates"
SENTINEL = b"the previous site\n"
NOBODY = 65534


@pytest.fixture
def news() -> Iterator[Path]:
    """The hostile base newsletter with a previous site, in a folder an unprivileged user can reach."""
    top = Path(tempfile.mkdtemp(prefix="digest-inputs-"))
    os.chmod(top, 0o755)
    root = top / "news"
    shutil.copytree(BASE, root)
    (root / "site").mkdir()
    (root / "site" / "index.html").write_bytes(SENTINEL)
    (root / "site" / ".digest-site").write_bytes(SENTINEL)  # a site digest built: a build may replace it
    for p in [root, *root.rglob("*")]:
        os.chmod(p, 0o777 if p.is_dir() else 0o666)
    home = top / "home"  # the user's home folder: its build cache goes there, not into /tmp
    home.mkdir(mode=0o700)
    if os.geteuid() == 0:
        os.chown(home, NOBODY, NOBODY)
    yield root
    for p in [root, *root.rglob("*")]:
        if not p.is_symlink():
            os.chmod(p, 0o755)
    shutil.rmtree(top)


# What a refused command says it did not do: build wrote nothing; check never writes, so it only counts.
OUTCOME = {"check": "", "build": "; nothing was written"}


def digest_as_user(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI on ``root`` as an unprivileged user: as nobody when the suite runs as root,
    with the home folder the ``news`` fixture made beside it."""
    python, pythonpath = nobody() if os.geteuid() == 0 else ([sys.executable], str(REPO))  # tests/unprivileged.py
    home = str(root.parent / "home")
    env = {k: v for k, v in os.environ.items() if k != "XDG_CACHE_HOME"}  # this process's: not nobody's to write
    env |= {"PYTHONPATH": pythonpath, "PYTHONIOENCODING": "utf-8", "HOME": home, "TMPDIR": home}
    args = (*args, "--root", str(root))
    return subprocess.run([*python, "-m", "digest", *args], capture_output=True, text=True, env=env, cwd="/")


def outcome(root: Path, command: str) -> str:
    done = digest_as_user(root, command)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert (root / "site" / "index.html").read_bytes() == SENTINEL and sorted(
        p.name for p in (root / "site").iterdir()
    ) == [".digest-site", "index.html"]
    return done.stderr


FOLDER_MODES = {
    0o000: "cannot open the folder: permission denied (a folder needs read and execute permission)",
    0o111: "cannot open the folder: permission denied (a folder needs read and execute permission)",
    0o444: (
        "cannot look at the files in the folder: permission denied (a folder needs execute permission as well as read)"
    ),
}


@pytest.mark.slow  # runs the CLI as an unprivileged user, in a subprocess
@pytest.mark.parametrize("mode", FOLDER_MODES, ids=lambda m: f"{m:03o}")
@pytest.mark.parametrize("command", ["check", "build"])
def test_an_unreadable_issues_folder_is_an_error(news: Path, mode: int, command: str) -> None:
    os.chmod(news / "issues", mode)
    assert outcome(news, command) == f"issues: {FOLDER_MODES[mode]}\n1 error{OUTCOME[command]}\n"


@pytest.mark.slow  # runs the CLI as an unprivileged user, in a subprocess
@pytest.mark.parametrize("mode", FOLDER_MODES, ids=lambda m: f"{m:03o}")
@pytest.mark.parametrize("command", ["check", "build"])
def test_an_unreadable_templates_folder_is_an_error_not_a_silent_fallback(news: Path, mode: int, command: str) -> None:
    (news / "templates").mkdir()
    shutil.copyfile(BUILTIN / "email.txt", news / "templates" / "email.txt")
    os.chmod(news / "templates" / "email.txt", 0o666)
    os.chmod(news / "templates", mode)
    assert outcome(news, command) == f"templates: {FOLDER_MODES[mode]}\n1 error{OUTCOME[command]}\n"


@pytest.mark.slow  # runs the CLI as an unprivileged user, in a subprocess
@pytest.mark.parametrize("command", ["check", "build"])
def test_an_unreadable_template_override_is_an_error(news: Path, command: str) -> None:
    (news / "templates").mkdir(mode=0o777)
    shutil.copyfile(BUILTIN / "email.txt", news / "templates" / "email.txt")
    os.chmod(news / "templates" / "email.txt", 0o000)
    assert (
        outcome(news, command) == f"templates/email.txt: cannot be read: permission denied\n1 error{OUTCOME[command]}\n"
    )


NOT_FILES = {
    "folder": (os.mkdir, "is a folder, not a template: a template override must be a plain file"),
    "fifo": (os.mkfifo, "is a named pipe (FIFO), not a template: a template override must be a plain file"),
}


@pytest.mark.slow  # runs the CLI as an unprivileged user, in a subprocess
@pytest.mark.parametrize("kind", NOT_FILES)
@pytest.mark.parametrize("command", ["check", "build"])
def test_a_template_that_is_a_folder_or_a_fifo_is_an_error_not_the_built_in(
    news: Path, kind: str, command: str
) -> None:
    # (Issue 20, item 13.)  A named pipe is never opened: reading one would wait for a writer.
    (news / "templates").mkdir(mode=0o777)
    make, message = NOT_FILES[kind]
    make(news / "templates" / "email.mjml")
    assert outcome(news, command) == f"templates/email.mjml: {message}\n1 error{OUTCOME[command]}\n"


@pytest.mark.slow  # runs the CLI as an unprivileged user, in a subprocess
def test_an_unreadable_issue_or_config_file_is_an_error(news: Path) -> None:
    os.chmod(news / "issues" / "0001.yaml", 0o000)
    assert (
        outcome(news, "build")
        == "issues/0001.yaml: cannot read file: Permission denied\n1 error; nothing was written\n"
    )
    os.chmod(news / "config.yaml", 0o000)
    assert outcome(news, "check") == "config.yaml: cannot read file: Permission denied\n1 error\n"


def _refused(root: Path, message: str) -> None:
    before = tree(root / "site")
    for command in ("check", "build"):
        result = run(command, "--root", str(root))
        assert (result.exit_code, result.stderr) == (1, f"{message}\n1 error{OUTCOME[command]}\n")
    assert tree(root / "site") == before


def test_no_input_is_read_through_a_symlink_out_of_the_newsletter(news: Path) -> None:
    outside = news.parent / "outside"
    outside.mkdir()
    shutil.move(news / "issues", outside / "issues")
    (news / "issues").symlink_to(outside / "issues")
    _refused(news, "issues: is a symlink to a folder outside the newsletter folder; refusing to read it")
    (news / "issues").unlink()
    shutil.move(outside / "issues", news / "issues")

    shutil.move(news / "config.yaml", outside / "config.yaml")
    (news / "config.yaml").symlink_to(outside / "config.yaml")
    _refused(news, "config.yaml: is a symlink to a file outside the newsletter folder; refusing to read it")
    (news / "config.yaml").unlink()
    shutil.move(outside / "config.yaml", news / "config.yaml")

    (outside / "templates").mkdir()
    (news / "templates").symlink_to(outside / "templates")
    _refused(news, "templates: is a symlink to a folder outside the newsletter folder; refusing to read it")


def test_symlinks_inside_the_newsletter_are_fine(news: Path) -> None:
    (news / "sources").mkdir()
    shutil.move(news / "issues", news / "sources" / "issues")
    (news / "issues").symlink_to("sources/issues")
    shutil.move(news / "config.yaml", news / "sources" / "config.yaml")
    (news / "config.yaml").symlink_to("sources/config.yaml")
    result = run("build", "--root", str(news))
    assert result.exit_code == 0, result.stderr


def test_a_config_symlink_loop_is_an_error(news: Path) -> None:
    (news / "config.yaml").unlink()
    (news / "config.yaml").symlink_to("config.yaml")
    _refused(
        news,
        "config.yaml: is a symlink loop (it leads back to itself through other links): replace it with the real file",
    )


def test_a_byte_order_mark_at_the_start_of_a_template_is_dropped(news: Path) -> None:
    assert run("build", "--root", str(news)).exit_code == 0
    plain = tree(news / "site")
    (news / "templates").mkdir()
    (news / "templates" / "email.mjml").write_bytes(b"\xef\xbb\xbf" + (BUILTIN / "email.mjml").read_bytes())
    result = run("build", "--root", str(news))
    assert result.exit_code == 0, result.stderr
    assert tree(news / "site") == plain


def test_no_template_is_read_through_a_linked_folder_on_its_way_out(news: Path) -> None:
    """A link inside templates/ may lead to a folder inside the newsletter, and a link there out of it: the
    template at the end of that path is refused, its text never rendered."""
    outside = news.parent / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("SECRET")
    (news / "x").symlink_to(outside)
    (news / "templates").mkdir()
    (news / "templates" / "up").symlink_to("..")
    (news / "templates" / "email.mjml").write_text(
        (BUILTIN / "email.mjml").read_text().replace("</mj-body>", "{% include 'up/x/secret.txt' %}</mj-body>", 1)
    )
    _refused(
        news,
        "templates/up/x/secret.txt: leads out of the newsletter folder through a symlinked folder on its way;"
        " refusing to read it",
    )
