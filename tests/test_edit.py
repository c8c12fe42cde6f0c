"""digest.compose.edit: items go in as text; what was there stays byte for byte (property tests)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from webserver import Web, send, serve

from digest.compose import lock
from digest.compose.edit import Batch, append_items, expected_after, replace_issue, save_issue, version_of
from digest.core.config import load_config
from digest.core.errors import DigestError

ISSUES = [
    # block lists under their key, the common layout
    (
        "date: 2026-03-27\ndraft: true\nsections:\n  - title: A\n    items:\n      - title: x\n        url:"
        " https://a.example/\n"
    ),
    # indentless lists, a comment after the last item, a key after sections
    (
        "date: 2026-03-27\nsections:\n- title: A\n  items:\n  - title: x  # note\n  # trailing\nouttro_comment: null\n"
    ).replace("outtro_comment: null", "outro: Bye"),
    # a block scalar last, with blank lines after it, then another section
    (
        "date: 2026-03-27\nsections:\n  - title: A\n    items:\n      - summary: |\n          one\n\n         "
        " two\n\n\n  - title: B\n    items:\n      - title: y\n"
    ),
    # bare keys: no sections yet / an empty items list
    "date: 2026-03-27\ndraft: true\n# hints\nsections:\n",
    "date: 2026-03-27\ndraft: true\nsections:\n  - title: A\n    items:\n",
    # no sections key at all, no final newline
    "date: 2026-03-27\ndraft: true",
]

text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda s: s.strip() != "")
fields = st.fixed_dictionaries(
    {"title": text},
    optional={
        "summary": st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=80),
        "author": text,
        "date": st.dates(dt.date(1990, 1, 1), dt.date(2100, 1, 1)),
    },
)


@settings(max_examples=150, deadline=None)
@given(
    issue=st.sampled_from(ISSUES),
    new=st.lists(fields, min_size=1, max_size=3),
    section=st.sampled_from([None, "A", "B", "New: one"]),
)
def test_append_keeps_every_byte_and_adds_exactly_the_items(
    issue: str, new: list[dict[str, object]], section: str | None
) -> None:
    batches = [Batch(section, list(new))]
    edited = append_items(issue, "issues/0001.yaml", batches)
    # Only insertions: the old text is the new one with some lines taken out.
    old_lines, new_lines = issue.splitlines(), edited.splitlines()
    it = iter(new_lines)
    assert all(any(line == n for n in it) for line in old_lines)
    assert yaml.safe_load(edited) == expected_after(yaml.safe_load(issue) or {}, batches)


@pytest.mark.parametrize(
    "title",
    [
        "- [x]: *a &b",
        "!!python/object/apply:os.system ['echo hi']",
        "# not a comment",
        "key: value",
        "'quoted' \"both\"",
        "yes",
        "0o17",
        "~",
        "|",
        "a\u2028b",
        "a\x85b\u2029",
    ],
)
def test_hostile_titles_stay_text(title: str) -> None:
    edited = append_items(ISSUES[0], "issues/0001.yaml", [Batch(None, [{"title": title}])])
    assert yaml.safe_load(edited)["sections"][0]["items"][-1] == {"title": title}


def test_flow_sections_and_non_mappings_are_refused() -> None:
    with pytest.raises(DigestError) as e:
        append_items(
            "date: 2026-03-27\nsections: [{title: A, items: []}]\n", "issues/0001.yaml", [Batch(None, [{"title": "t"}])]
        )
    assert (
        str(e.value)
        == "issues/0001.yaml:2: sections: is written in flow style ([...]); digest adds only to block lists, one '- '"
        " entry per line: rewrite it that way first"
    )
    with pytest.raises(DigestError) as e:
        append_items(
            "date: 2026-03-27\nsections:\n  - title: A\n    items: {}\n",
            "issues/0001.yaml",
            [Batch(None, [{"title": "t"}])],
        )
    assert str(e.value).startswith("issues/0001.yaml:4: sections[1].items: is written in flow style ({...})")
    with pytest.raises(DigestError) as e:
        append_items("date: [2026\n", "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
    assert str(e.value).startswith("issues/0001.yaml:")
    assert "fix it first" in str(e.value)


def test_nothing_is_written_when_the_result_fails_validation(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("title: T\nurl: https://t.example/\n", encoding="utf-8")
    (tmp_path / "issues").mkdir()
    path = tmp_path / "issues" / "0001.yaml"
    path.write_bytes(ISSUES[0].encode())
    with pytest.raises(DigestError) as e:
        save_issue(
            load_config(tmp_path),
            1,
            path,
            "issues/0001.yaml",
            [Batch(None, [{"title": "t", "url": "javascript:alert(1)"}])],
        )
    assert (
        str(e.value)
        == "issues/0001.yaml:9: sections[1].items[2].url: must be an http(s) URL, got 'javascript:alert(1)'"
    )
    assert path.read_bytes() == ISSUES[0].encode()
    assert sorted(p.name for p in (tmp_path / "issues").iterdir()) == ["0001.yaml"]  # no temporary file left


def test_a_file_changed_meanwhile_is_not_replaced(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("title: T\nurl: https://t.example/\n", encoding="utf-8")
    (tmp_path / "issues").mkdir()
    path = tmp_path / "issues" / "0001.yaml"
    path.write_bytes(ISSUES[0].encode())
    read_before = path.read_bytes()
    path.write_bytes(ISSUES[0].encode() + b"# the curator saved\n")
    with pytest.raises(DigestError) as e:
        save_issue(
            load_config(tmp_path),
            1,
            path,
            "issues/0001.yaml",
            [Batch(None, [{"title": "t"}])],
            version=version_of(read_before),
        )
    assert (
        str(e.value)
        == "issues/0001.yaml: changed on disk since it was read (another command, an editor, git); nothing was written:"
        " reload it and edit again"
    )
    assert path.read_bytes().endswith(b"# the curator saved\n")


@pytest.fixture
def web() -> Iterator[Web]:
    yield from serve()


def _page(title: str) -> bytes:
    return f"<!doctype html><html><head><meta charset=utf-8><title>{title}</title></head><body>x</body></html>".encode()


@pytest.mark.slow
def test_concurrent_adds_lose_no_item(example: Path, web: Web) -> None:
    """Issue 20: two `digest add` on the same draft at once both said "added" while one item was lost
    (2 trials of 20). Now every writer of an issue file takes the issues folder's lock: each pair adds two."""
    trials = 20
    for i in range(trials):
        for side in "ab":
            body = _page(f"Story {side}{i}")
            web.routes[f"/{side}{i}"] = lambda h, body=body: send(
                h, 200, body, {"Content-Type": "text/html; charset=utf-8"}
            )
    draft = example / "issues" / "0044.yaml"
    start = len(yaml.safe_load(draft.read_text(encoding="utf-8"))["sections"][-1]["items"])
    failures = []
    for i in range(trials):
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "digest", "add", web.url(f"/{side}{i}"), "--root", str(example)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for side in "ab"
        ]
        for p in procs:
            out, err = p.communicate()
            if p.returncode != 0 or err:
                failures.append((i, p.returncode, out, err))
    items = yaml.safe_load(draft.read_text(encoding="utf-8"))["sections"][-1]["items"]
    titles = [item["title"] for item in items[start:]]
    assert (len(failures), len(titles)) == (0, 2 * trials)  # none refused, not one lost
    assert all(p.name[0].isdigit() for p in (example / "issues").iterdir())  # no lock or temporary file left
    assert sorted(titles) == sorted(f"Story {side}{i}" for i in range(trials) for side in "ab")


def _one_issue(tmp_path: Path) -> Path:
    (tmp_path / "config.yaml").write_text("title: T\nurl: https://t.example/\n", encoding="utf-8")
    (tmp_path / "issues").mkdir()
    path = tmp_path / "issues" / "0001.yaml"
    path.write_bytes(ISSUES[0].encode())
    return path


def test_the_editor_replaces_only_the_version_it_read(tmp_path: Path) -> None:
    path = _one_issue(tmp_path)
    config = load_config(tmp_path)
    read = path.read_bytes()
    edited = read.replace(b"title: x", b"title: y")
    replace_issue(config, 1, path, "issues/0001.yaml", edited, version=version_of(read))
    assert path.read_bytes() == edited
    # A second edit based on the first read is stale now: refused, the file as the first edit left it.
    with pytest.raises(DigestError) as e:
        replace_issue(
            config, 1, path, "issues/0001.yaml", read.replace(b"title: x", b"title: z"), version=version_of(read)
        )
    assert (
        str(e.value)
        == "issues/0001.yaml: changed on disk since it was read (another command, an editor, git); nothing was written:"
        " reload it and edit again"
    )
    assert path.read_bytes() == edited
    # An edit that would not load is refused too, whatever its version.
    with pytest.raises(DigestError) as e:
        replace_issue(
            config,
            1,
            path,
            "issues/0001.yaml",
            b"date: 2026-02-30\ndraft: true\nsections:\n",
            version=version_of(edited),
        )
    assert str(e.value) == "issues/0001.yaml:1: date: '2026-02-30' is not a valid date"
    assert path.read_bytes() == edited
    assert sorted(p.name for p in path.parent.iterdir()) == ["0001.yaml"]


def test_a_writer_that_cannot_get_the_lock_says_so_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _one_issue(tmp_path)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDONLY); fcntl.flock(fd, fcntl.LOCK_EX);"
                " print('held', flush=True); sys.stdin.read()"
            ),
            str(path.parent),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setattr(lock, "WAIT", 0.2)
        with pytest.raises(DigestError) as e:
            save_issue(load_config(tmp_path), 1, path, "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
        assert (
            str(e.value)
            == "issues: another digest command (add, collect, new or the editor) has been writing here for 0.2 s;"
            " nothing was written: try again when it has finished"
        )
        assert path.read_bytes() == ISSUES[0].encode()
    finally:
        holder.communicate("")
    # The holder has gone (however a process ends, the kernel drops its lock): the edit goes through.
    save_issue(load_config(tmp_path), 1, path, "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
    assert path.read_bytes().startswith(ISSUES[0].encode())
    assert path.read_bytes() != ISSUES[0].encode()


def test_the_lock_is_reentrant_within_a_thread(tmp_path: Path) -> None:
    path = _one_issue(tmp_path)
    with lock.issues_locked(path.parent, wait=0.2), lock.issues_locked(path.parent, wait=0.2):
        save_issue(load_config(tmp_path), 1, path, "issues/0001.yaml", [Batch(None, [{"title": "t"}])])
    assert b"- title: t\n" in path.read_bytes()
