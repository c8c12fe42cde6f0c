"""`digest init DIR`, and the whole compose loop: init → new → collect → add → check → build."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run, tree
from webserver import Web, serve

from digest.compose.init import init_newsletter, installed_from
from digest.core.config import EDITION_KEYS, KEYS, load_config
from digest.core.i18n import WORDS
from digest.core.models import Config


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


FILES = [
    "config.yaml",
    "issues/0001.yaml",
    "templates/README.md",
    ".gitignore",
    "requirements.txt",
    ".github/workflows/digest.yml",
]
PINNED = "digest @ git+https://git.example.org/digest.git@0123456789abcdef0123456789abcdef01234567"


def test_init_writes_a_newsletter_that_builds_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "civic-weekly"
    result = run("init", str(folder), "--url", "https://me.example.io/civic-weekly", "--requirement", PINNED)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created {folder} with {', '.join(FILES)}\nnext: digest build --root {folder}\n"
    assert (folder / "requirements.txt").read_text(encoding="utf-8") == (
        "# What the CI workflow (.github/workflows/digest.yml) installs to check and build this newsletter.\n"
        + PINNED
        + "\n"
    )
    assert sorted(tree(folder)) == sorted(FILES)
    config = load_config(folder)
    assert (config.title, config.url) == ("Civic Weekly", "https://me.example.io/civic-weekly/")
    assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines()[1:] == [
        "site/",
        ".site.digest-new/",
        ".site.digest-old/",
    ]
    build = run("build", "--root", str(folder))
    assert build.exit_code == 0, build.output
    assert (folder / "site" / "index.html").is_file()
    assert not (folder / "site" / "issues" / "1").exists()  # the first issue is a draft: never published


def test_every_commented_setting_is_a_real_one(tmp_path: Path) -> None:
    # Uncommenting every example line of the generated config.yaml gives a valid config:
    # the comments name real keys with values digest accepts.
    folder = tmp_path / "n"
    init_newsletter(folder, title="Test: “quoted” & {braces}")
    lines = []
    for line in (folder / "config.yaml").read_text(encoding="utf-8").splitlines():
        if re.match(r"# [a-z_]+:|#   ", line):
            line = line[2:]
        lines.append(line)
    text = "\n".join(lines) + "\n"
    data = yaml.safe_load(text)
    assert sorted(data) == sorted(KEYS)  # every key config.yaml takes
    assert set(data["author"]) == {"name", "email"}
    assert set(data["email"]) == {"from", "reply_to", "unsubscribe_url", "unsubscribe_mailto"}
    assert set(data["theme"]) == {"brand_color", "text_color", "background_color", "logo", "icon", "dark"}
    assert set(data["theme"]["logo"]) == {"src", "alt"}
    assert set(data["theme"]["dark"]) == {"background_color", "surface_color", "text_color", "brand_color", "logo"}
    assert set(data["utm"]) == {"source", "medium", "campaign"}
    assert set(data["editions"][0]) == set(EDITION_KEYS)
    assert set(data["sources"][0]) == {"url", "section"}
    assert set(data["mailing"]) == {"service", "api_url", "lists", "template"}
    assert data["search"] is True and set(data["subscribe"]) == {"url"}
    assert [set(data[k]) for k in ("feed", "check", "archive", "links")] == [
        {"items"},
        {"history"},
        {"per_page"},
        {"schemes"},
    ]
    config_text = (folder / "config.yaml").read_text(encoding="utf-8")
    assert all(word in config_text for word in WORDS)  # the words: comment names every word there is
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    (tmp_path / "fa").mkdir()  # the local edition the example's root: names
    (tmp_path / "fa" / "config.yaml").write_text("title: t\nurl: https://example.org/fa/\n", encoding="utf-8")
    config = load_config(folder)
    assert config.title == "Test: “quoted” & {braces}"
    assert config.sources[0].section == "From the blog"
    # What the comments call defaults are digest's defaults.
    defaults = Config(root=folder, title="t", url="https://t.example/")
    assert (config.feed_items, config.ledger_history, config.archive_per_page) == (
        defaults.feed_items,
        defaults.ledger_history,
        defaults.archive_per_page,
    )
    assert config.theme.dark == dataclasses.replace(defaults.theme.dark, logo=config.theme.dark.logo)
    assert [config.theme.brand_color, config.theme.text_color, config.theme.background_color] == [
        defaults.theme.brand_color,
        defaults.theme.text_color,
        defaults.theme.background_color,
    ]


def test_the_workflow_checks_pull_requests_and_publishes_main(tmp_path: Path) -> None:
    folder = tmp_path / "n"
    init_newsletter(folder)
    workflow = yaml.safe_load((folder / ".github/workflows/digest.yml").read_text(encoding="utf-8"))
    on = workflow[True]  # YAML 1.1 reads the key `on` as true
    assert set(on) == {"pull_request", "push"} and on["push"] == {"branches": ["main"]}
    check, publish = workflow["jobs"]["check"], workflow["jobs"]["publish"]
    assert check["if"] == "github.event_name == 'pull_request'"
    assert {"run": "digest check --strict"} in check["steps"]
    assert publish["if"] == "github.event_name == 'push'"
    assert {"run": "digest build"} in publish["steps"]
    uses = [s.get("uses", "").split("@")[0] for s in publish["steps"]]
    assert uses[-2:] == ["actions/upload-pages-artifact", "actions/deploy-pages"]
    assert publish["permissions"] == {"contents": "read", "pages": "write", "id-token": "write"}
    for job in (check, publish):
        install = next(s for s in job["steps"] if "pip install" in s.get("run", ""))
        assert install["run"].splitlines()[0] == "python -m pip install -r requirements.txt"
        assert "::error file=requirements.txt::" in install["run"]  # no digest installed: the job says why
        assert job["steps"].index(install) < next(
            i for i, s in enumerate(job["steps"]) if s.get("run", "").startswith("digest ")
        )


@pytest.mark.parametrize(
    ("direct_url", "requirement"),
    [
        (
            {
                "url": "https://github.com/me/digest.git",
                "vcs_info": {"vcs": "git", "commit_id": "a" * 40, "requested_revision": "v1"},
            },
            f"digest @ git+https://github.com/me/digest.git@{'a' * 40}",
        ),
        (
            {
                "url": "ssh://git@github.com/me/digest.git",
                "vcs_info": {"vcs": "git", "commit_id": "b" * 40},
                "subdirectory": "tool",
            },
            f"digest @ git+ssh://git@github.com/me/digest.git@{'b' * 40}#subdirectory=tool",
        ),
        (
            {"url": "https://files.example.org/digest-0.1.0.tar.gz", "archive_info": {"hashes": {"sha256": "00"}}},
            "digest @ https://files.example.org/digest-0.1.0.tar.gz",
        ),
        ({"url": "file:///home/me/digest", "dir_info": {}}, None),
        ({"url": "file:///home/me/digest", "dir_info": {"editable": True}}, None),
        ({"url": "file:///tmp/digest-0.1.0-py3-none-any.whl", "archive_info": {}}, None),
        ({"url": "https://github.com/me/digest.git", "vcs_info": {"vcs": "git"}}, None),  # no commit: nothing to pin
        ({"url": "https://example.org/x y", "archive_info": {}}, None),
        (None, None),  # from an index: PyPI's "digest" is another project
        ("junk", None),
    ],
)
def test_ci_installs_the_digest_that_ran_init_pinned(direct_url: object, requirement: str | None) -> None:
    assert installed_from(direct_url) == requirement


def test_without_a_reachable_source_init_says_what_to_add(tmp_path: Path) -> None:
    # The tests run digest installed from this checkout, a folder no runner can reach.
    assert installed_from() is None
    folder = tmp_path / "n"
    result = run("init", str(folder))
    assert result.exit_code == 0, result.output
    assert (
        result.stdout
        == f"created {folder} with {', '.join(FILES)}\nnote: requirements.txt does not say where CI installs digest"
        " from (this one came from a folder on this machine): add it before pushing, or pass --requirement\nnext:"
        f" digest build --root {folder}\n"
    )
    text = (folder / "requirements.txt").read_text(encoding="utf-8")
    assert [
        line for line in text.splitlines() if not line.startswith("#")
    ] == []  # pip installs nothing, the workflow says why
    assert "digest @ git+https://github.com/OWNER/digest@v" in text


@pytest.mark.parametrize("value", ["", "  ", "digest @ git+https://x.example/d\nevil", "a\x00b"])
def test_a_requirement_is_one_line(tmp_path: Path, value: str) -> None:
    result = run("init", str(tmp_path / "n"), "--requirement", value)
    assert result.exit_code == 1
    assert (
        result.stderr == "--requirement: must be one line naming where to install digest from, e.g. 'digest @"
        " git+https://github.com/OWNER/digest@v1'\n"
    )
    assert not (tmp_path / "n").exists()


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("newsletter", "{folder}: already holds a newsletter (config.yaml); init starts a new one in an empty folder"),
        ("non-empty", "{folder}: is not empty; init starts a new newsletter in an empty or new folder"),
        ("file", "{folder}: is not a folder; nothing was written"),
    ],
)
def test_init_refuses_anything_but_a_new_or_empty_folder(tmp_path: Path, setup: str, message: str) -> None:
    folder = tmp_path / "n"
    if setup == "file":
        folder.write_text("x", encoding="utf-8")
    else:
        folder.mkdir()
        (folder / ("config.yaml" if setup == "newsletter" else "notes.txt")).write_text("x", encoding="utf-8")
    before = tree(tmp_path)
    result = run("init", str(folder))
    assert result.exit_code == 1
    assert result.stderr == message.format(folder=folder) + "\n"
    assert tree(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["n"]  # no staging folder left behind


def test_a_folder_that_cannot_be_made_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("x", encoding="utf-8")
    folder = tmp_path / "notes.txt" / "n"
    result = run("init", str(folder))
    assert result.exit_code == 1
    assert (
        result.stderr == f"{folder}: cannot be created in {tmp_path / 'notes.txt'}: File exists; nothing was written\n"
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


def test_init_into_an_empty_folder(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    assert run("init", str(folder)).exit_code == 0
    assert sorted(tree(folder)) == sorted(FILES)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


def test_the_whole_loop_init_new_collect_add_check_build(tmp_path: Path, web: Web) -> None:
    folder = tmp_path / "weekly"
    assert run("init", str(folder), "--title", "The Weekly").exit_code == 0
    root = str(folder)
    # Issue 1 is the first draft; publish it as it would be after a week of work.
    first = (folder / "issues" / "0001.yaml").read_text(encoding="utf-8")
    first = re.sub(r"date: .*", "date: 2026-03-20", first).replace("draft: true\n", "")
    first += (
        "  - title: News\n    items:\n      - title: Last week\n        url:"
        " https://blog.example.org/2026/03/procurement/\n"
    )
    (folder / "issues" / "0001.yaml").write_text(first, encoding="utf-8")
    new = run("new", "--root", root)
    assert new.stdout == f"created {folder / 'issues' / '0002.yaml'}\n"
    draft = folder / "issues" / "0002.yaml"
    assert "date: 2026-03-27\n" in draft.read_text(encoding="utf-8")
    rss = web.file("/feed/", "wordpress.rss", "application/rss+xml")
    with (folder / "config.yaml").open("a", encoding="utf-8") as c:
        c.write(f"sources:\n  - url: {rss}\n    section: From the blog\n")
    collected = run("collect", "--root", root)
    assert collected.exit_code == 0, collected.output
    assert (
        collected.stdout
        == f"{rss}: added 1, skipped 2 (1 already in an issue, 1 not after 2026-03-20)\nadded 1 item to"
        " issues/0002.yaml\n"
    )
    page = web.file("/story", "og.html", "text/html; charset=utf-8")
    added = run("add", page, "--root", root, "--section", "Top stories")
    assert added.exit_code == 0, added.output
    check = run("check", "--root", root, "--strict")  # what still stops the issue from being sent (issue 19)
    assert (
        check.exit_code == 1
        and check.stderr
        == "config.yaml: email.from: is not set: the sender's name and address, which export, send and mailing services"
        " need\nconfig.yaml: email.unsubscribe_url: is not set: every email must offer a way out (a link, or your"
        " mailing service's merge tag such as *|UNSUB|*)\nconfig.yaml:4: url: is still the placeholder `digest init`"
        " wrote: set it to where site/ is published (every link of the email points there)\n3 errors\n"
    ), check.output
    config = (
        (folder / "config.yaml")
        .read_text(encoding="utf-8")
        .replace("url: https://example.org/", "url: https://weekly.example.net/")
    )
    config += 'email:\n  from: "The Weekly <weekly@example.net>"\n  unsubscribe_url: "{{ UnsubscribeURL }}"\n'
    (folder / "config.yaml").write_text(config, encoding="utf-8")
    check = run("check", "--root", root, "--strict")
    assert (check.exit_code, check.stderr) == (0, ""), check.output
    draft.write_text(draft.read_text(encoding="utf-8").replace("draft: true\n", ""), encoding="utf-8")  # published
    build = run("build", "--root", root)
    assert build.exit_code == 0, build.output
    html = (folder / "site" / "issues" / "2" / "index.html").read_text(encoding="utf-8")
    for text in (
        "Budget data – now open",
        "From the blog",
        "Top stories",
        "Open data law passes",
        "Members of parliament raising their hands",
    ):
        assert text in html
    for hint in ("The article", "headline", "example.com", "Why this is worth reading", "..."):
        assert hint not in html  # nothing from the skeleton reaches readers
    assert dt.date.fromisoformat(str(yaml.safe_load(draft.read_text(encoding="utf-8"))["date"])) == dt.date(2026, 3, 27)


def test_a_folder_name_keeps_its_capitals_and_the_next_command_can_be_pasted(tmp_path: Path) -> None:
    """Issue 19: `digest init "My NGO"` wrote `title: "My Ngo"` and printed `--root My NGO`, which fails pasted."""
    folder = tmp_path / "My NGO"
    result = run("init", str(folder), "--requirement", PINNED)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == f"next: digest build --root '{folder}'"
    assert load_config(folder).title == "My NGO"
    assert run("build", "--root", shlex.split(result.stdout.splitlines()[-1])[-1]).exit_code == 0
    assert load_config(_init(tmp_path / "civic-tech_weekly")).title == "Civic Tech Weekly"


def _init(folder: Path) -> Path:
    assert run("init", str(folder), "--requirement", PINNED).exit_code == 0
    return folder
