"""`digest init DIR`, and the whole compose loop: init → new → collect → add → check → build."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from conftest import run, tree
from webserver import Web, serve

from digest.compose.init import init_newsletter
from digest.core.config import load_config


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


FILES = ["config.yaml", "issues/0001.yaml", "templates/README.md", ".gitignore", ".github/workflows/digest.yml"]


def test_init_writes_a_newsletter_that_builds_at_once(tmp_path: Path) -> None:
    folder = tmp_path / "civic-weekly"
    result = run("init", str(folder), "--url", "https://me.example.io/civic-weekly")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"created {folder} with {', '.join(FILES)}\nnext: digest build --root {folder}\n"
    assert sorted(tree(folder)) == sorted(FILES)
    config = load_config(folder)
    assert (config.title, config.url) == ("Civic Weekly", "https://me.example.io/civic-weekly/")
    assert (folder / ".gitignore").read_text(encoding="utf-8").splitlines()[1:] == ["site/", ".digest-cache/"]
    build = run("build", "--root", str(folder))
    assert build.exit_code == 0, build.output
    assert (folder / "site" / "issues" / "1" / "index.html").is_file()


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
    assert set(data) == {"title", "url", "description", "language", "timezone", "author", "issue_title", "email", "feed", "theme", "words", "sources"}
    (folder / "config.yaml").write_text(text, encoding="utf-8")
    config = load_config(folder)
    assert config.title == "Test: “quoted” & {braces}"
    assert config.sources[0].section == "From the blog"


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
    first += "  - title: News\n    items:\n      - title: Last week\n        url: https://blog.example.org/2026/03/procurement/\n"
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
    assert collected.stdout == f"{rss}: added 1, skipped 2 (1 already in an issue, 1 not after 2026-03-20)\nadded 1 item to issues/0002.yaml\n"
    page = web.file("/story", "og.html", "text/html; charset=utf-8")
    added = run("add", page, "--root", root, "--section", "Top stories")
    assert added.exit_code == 0, added.output
    check = run("check", "--root", root, "--strict")
    assert (check.exit_code, check.stderr) == (0, ""), check.output
    build = run("build", "--root", root)
    assert build.exit_code == 0, build.output
    html = (folder / "site" / "issues" / "2" / "index.html").read_text(encoding="utf-8")
    for text in ("Budget data – now open", "From the blog", "Top stories", "Open data law passes", "Members of parliament raising their hands"):
        assert text in html
    for hint in ("The article", "headline", "example.com", "Why this is worth reading", "..."):
        assert hint not in html  # nothing from the skeleton reaches readers
    assert dt.date.fromisoformat(str(yaml.safe_load(draft.read_text(encoding="utf-8"))["date"])) == dt.date(2026, 3, 27)
