"""The archive's search (digest.pipeline.search): what Pagefind indexes, when the build runs it,
and that its bundle is part of the site like any file digest writes."""

from __future__ import annotations

import gzip
import json
import os
import shutil
from pathlib import Path

import lxml.html
import pytest
from conftest import FIXTURES, REPO, build, tree

from digest.pipeline import search

WEEKLY = FIXTURES / "weekly"


@pytest.fixture
def weekly(tmp_path: Path) -> Path:
    root = tmp_path / "weekly"
    shutil.copytree(WEEKLY, root)
    return root


@pytest.fixture
def indexed(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The pages of every Pagefind run from here on (the real index is made)."""
    runs: list[list[str]] = []
    real = search.index

    def counting(pages: dict[str, bytes]) -> dict[str, bytes]:
        runs.append(sorted(pages))
        return real(pages)

    monkeypatch.setattr(search, "index", counting)
    return runs


def _fragments(site: Path) -> dict[str, dict[str, object]]:
    """Each indexed page's record, by its URL (a fragment is gzip'd JSON after Pagefind's signature)."""
    found = {}
    for path in (site / "pagefind" / "700" / "fragment").iterdir():
        record = json.loads(gzip.decompress(path.read_bytes()).removeprefix(b"pagefind_dcd"))
        found[record["url"]] = record
    return found


def _site(root: Path, out: Path | None = None) -> Path:
    build(root, out)
    return out or root / "site"


def _inodes(site: Path) -> dict[str, int]:
    return {rel: os.lstat(site / rel).st_ino for rel in tree(site)}


def test_only_published_issue_content_is_indexed(weekly: Path) -> None:
    site = _site(weekly)
    pages = _fragments(site)
    assert sorted(pages) == ["/issues/700/", "/issues/701/"]
    text = str(pages["/issues/700/"]["content"])
    assert "Zebrafish toolkit" in text and "Dromedary Jobs" in text
    # The page's navigation, share links and recent issues are not the issue: not indexed, nor the "#".
    for word in ("Share", "Recent issues", "Telegram", "Subscribe", "Next issue", " # "):
        assert word not in text, word
    assert sorted(os.listdir(site / "pagefind")) == ["700"]  # issues 700-799: one bundle
    entry = json.loads((site / "pagefind" / "700" / "pagefind-entry.json").read_bytes())
    assert list(entry["languages"]) == ["en"] and entry["languages"]["en"]["page_count"] == 2
    # Only what the archive's box uses: no other interface, no playground.
    assert not [name for name in tree(site) if "component-ui" in name or "modular-ui" in name or "playground" in name]


def test_index_runs_only_when_published_pages_change(weekly: Path, indexed: list[list[str]]) -> None:
    site = _site(weekly)
    assert indexed == [["issues/700/index.html", "issues/701/index.html"]]
    bundle = {rel: ino for rel, ino in _inodes(site).items() if rel.startswith("pagefind/")}
    assert build(weekly).changed == 0 and len(indexed) == 1  # a no-op runs nothing
    # A draft: its own files are never published, and the index is the one the site holds.
    (weekly / "issues" / "0702.yaml").write_text(
        "date: 2026-12-07\ndraft: true\nsections:\n  - items:\n      - title: Draft words\n"
        "        url: https://example.org/draft\n",
        encoding="utf-8",
    )
    build(weekly)
    assert len(indexed) == 1
    assert {rel: ino for rel, ino in _inodes(site).items() if rel.startswith("pagefind/")} == bundle
    # An edit to a published issue: indexed again, the new index published with the pages.
    path = weekly / "issues" / "0701.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("quasars", "pulsars"), encoding="utf-8")
    build(weekly)
    assert len(indexed) == 2
    assert "pulsars" in str(_fragments(site)["/issues/701/"]["content"])
    # Pagefind's own files did not change: linked from the previous site, not written again.
    after = _inodes(site)
    assert after["pagefind/700/pagefind-ui.js"] == bundle["pagefind/700/pagefind-ui.js"]


def test_the_cached_bundle_serves_a_site_built_elsewhere(
    weekly: Path, tmp_path: Path, indexed: list[list[str]]
) -> None:
    site = _site(weekly)
    other = tmp_path / "other"
    build(weekly, other)  # same pages: the bundle comes from the build cache, not from Pagefind
    assert len(indexed) == 1
    assert {k: v for k, v in tree(other).items() if k.startswith("pagefind/")} == {
        k: v for k, v in tree(site).items() if k.startswith("pagefind/")
    }


def test_pagefind_output_is_byte_identical() -> None:
    pages = {
        f"issues/{n}/index.html": (
            f'<!doctype html><html lang="en"><body><article data-pagefind-body><h1>Issue {n}</h1>'
            f"<p>word{n} camel dromedary</p></article></body></html>"
        ).encode()
        for n in range(1, 40)
    }
    assert search.index(pages) == search.index(dict(reversed(list(pages.items()))))


def test_search_false_turns_it_off(weekly: Path, indexed: list[list[str]]) -> None:
    with (weekly / "config.yaml").open("a", encoding="utf-8") as f:
        f.write("search: false\n")
    site = _site(weekly)
    assert indexed == [] and not (site / "pagefind").exists()
    doc = lxml.html.fromstring((site / "index.html").read_bytes())
    assert doc.xpath("//script") == [] and doc.xpath('//*[@id="search"]') == []


def test_a_failing_pagefind_is_one_message_and_no_site(
    weekly: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    broken = tmp_path / "pagefind"
    broken.write_text("#!/bin/sh\necho 'index: out of words' >&2\nexit 3\n")
    broken.chmod(0o755)
    monkeypatch.setenv("PAGEFIND_BINARY_PATH", str(broken))
    from digest.core.errors import DigestError

    with pytest.raises(DigestError) as e:
        build(weekly)
    assert [str(p) for p in e.value.problems] == [
        "config.yaml: search: Pagefind could not index the archive (index: out of words); `search: false` builds"
        " without the search"
    ]
    assert not (weekly / "site").exists()


@pytest.mark.parametrize("edition", ["persian", "arabic"])
def test_right_to_left_editions_get_a_right_to_left_box_and_their_language_index(edition: str, tmp_path: Path) -> None:
    root = tmp_path / edition
    shutil.copytree(REPO / "examples" / edition, root)
    site = _site(root)
    doc = lxml.html.fromstring((site / "index.html").read_bytes())
    (box,) = doc.xpath('//*[@id="search"]')
    assert box.get("dir") == "rtl" and doc.get("dir") == "rtl"
    language = {"persian": "fa", "arabic": "ar"}[edition]
    for bundle in (site / "pagefind").iterdir():
        entry = json.loads((bundle / "pagefind-entry.json").read_bytes())
        assert list(entry["languages"]) == [language]


def test_archive_pages_load_the_bundle_by_a_relative_path(weekly: Path) -> None:
    with (weekly / "config.yaml").open("a", encoding="utf-8") as f:
        f.write("archive: {per_page: 1}\n")
    site = _site(weekly)
    first = lxml.html.fromstring((site / "index.html").read_bytes())
    second = lxml.html.fromstring((site / "page/2/index.html").read_bytes())
    assert first.xpath("//script/@src") == ["pagefind/700/pagefind-ui.js"]
    assert second.xpath("//script/@src") == ["../../pagefind/700/pagefind-ui.js"]
    # The second page links "All issues" (the first page); the first names itself, unlinked.
    assert second.xpath('//header/nav/a[@href="https://weekly.example.org/"]/text()') == ["All issues"]


def _issue(root: Path, number: int, word: str) -> None:
    (root / "issues" / f"{number:04d}.yaml").write_text(
        f"date: 2026-12-{number % 100 + 1:02d}\nsections:\n  - items:\n      - title: Issue {number} {word}\n"
        f"        url: https://example.org/{number}\n",
        encoding="utf-8",
    )


def test_each_range_of_issues_is_its_own_bundle_and_an_edit_indexes_one(weekly: Path, indexed: list[list[str]]) -> None:
    """Issues 700-701 and 802-803 fill two bundles; an edit re-indexes only its own."""
    _issue(weekly, 802, "narwhal")
    _issue(weekly, 803, "okapi")
    site = _site(weekly)
    assert sorted(indexed) == [
        ["issues/700/index.html", "issues/701/index.html"],
        ["issues/802/index.html", "issues/803/index.html"],
    ]
    assert sorted(os.listdir(site / "pagefind")) == ["700", "800"]
    doc = lxml.html.fromstring((site / "index.html").read_bytes())
    assert doc.xpath("//script/@src") == ["pagefind/700/pagefind-ui.js"]
    assert '"700/", "800/"' in doc.xpath("//script[not(@src)]/text()")[0]  # the second merged into the box
    before = _inodes(site)
    _issue(weekly, 803, "pangolin")  # in 800-899: issues 700-701's bundle is neither indexed nor written
    build(weekly)
    assert indexed[2:] == [["issues/802/index.html", "issues/803/index.html"]]
    after = _inodes(site)
    old = {rel: ino for rel, ino in before.items() if rel.startswith("pagefind/700/")}
    assert old and {rel: after.get(rel) for rel in old} == old
    # A new issue in a third range: one more bundle, the others kept.
    _issue(weekly, 900, "quokka")
    build(weekly)
    assert indexed[3:] == [["issues/900/index.html"]]
    assert sorted(os.listdir(site / "pagefind")) == ["700", "800", "900"]
