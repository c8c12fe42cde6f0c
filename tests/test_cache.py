"""The build cache's folder and records (digest.core.cachedir, digest.pipeline.cache), in memory-sized unit tests."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from digest.core.cachedir import newsletter_cache
from digest.core.config import load_config
from digest.pipeline.build import CONTENT, each_issue, make_issue
from digest.pipeline.cache import Cache, Pack, issue_keys, keep_only
from digest.pipeline.stages import context, read_sources


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "xdg"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    return home


def test_the_cache_folder_is_private_outside_the_newsletter_and_keyed_by_its_real_path(
    cache_home: Path, tmp_path: Path
) -> None:
    root = tmp_path / "news"
    root.mkdir()
    folder = newsletter_cache(root)
    assert folder.parent == cache_home / "digest"
    assert not folder.is_relative_to(root)
    assert os.stat(folder).st_mode & 0o777 == 0o700
    assert newsletter_cache(root / ".." / "news") == folder  # however the path is spelt
    (tmp_path / "alias").symlink_to(root)
    assert newsletter_cache(tmp_path / "alias") == folder
    other = tmp_path / "other"
    other.mkdir()
    assert newsletter_cache(other) != folder


def test_a_cache_folder_that_is_a_link_or_open_to_others_is_not_used(cache_home: Path, tmp_path: Path) -> None:
    root = tmp_path / "news"
    root.mkdir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cache_home.mkdir()
    (cache_home / "digest").symlink_to(elsewhere)  # planted: digest's own folder is a link
    folder = newsletter_cache(root)
    assert not folder.is_relative_to(cache_home) and not any(elsewhere.iterdir())
    assert folder.name and folder.parent.name == f"digest-{os.getuid()}"  # the temporary folder's private place
    (cache_home / "digest").unlink()
    (cache_home / "digest").mkdir(mode=0o777)
    os.chmod(cache_home / "digest", 0o777)  # writable by anyone: not private
    assert not newsletter_cache(root).is_relative_to(cache_home)


def test_a_relative_xdg_cache_home_is_ignored(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/cache")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    root = tmp_path / "news"
    root.mkdir()
    assert newsletter_cache(root).is_relative_to(tmp_path / "home" / ".cache" / "digest")


def test_records_round_trip_and_a_damaged_file_is_rendered_again(
    cache_home: Path, newsletter: Callable[..., Path]
) -> None:
    root = newsletter()
    ctx = context(load_config(root))
    sources = read_sources(ctx.config)
    keys = issue_keys(ctx, sources)
    cache = Cache(newsletter_cache(root))
    made = make_issue(ctx, cache, (sources[0], keys[1]))
    record = cache.get(keys[1])
    assert record is not None and record.issue == made.issue and record.warnings == made.problems
    (cached,) = each_issue(ctx, cache, sources, keys, 1, None)
    assert cached.files is None and cached.file(ctx, "email.html") == made.file(ctx, "email.html")
    head, files = record.pack.path.read_bytes().split(b"\n", 1)
    planted = files.replace(made.file(ctx, CONTENT), b"<p>planted</p>".ljust(len(made.file(ctx, CONTENT))))
    record.pack.path.write_bytes(head + b"\n" + planted)  # damaged (or tampered with) after it was written
    assert record.pack.read(CONTENT) is None and record.pack.read("email.html") == made.file(ctx, "email.html")
    assert cached.file(ctx, CONTENT) == made.file(ctx, CONTENT)  # rendered again, never the damaged bytes
    record.pack.path.write_bytes(b"{not json" + record.pack.path.read_bytes())
    assert cache.get(keys[1]) is None


def test_prune_keeps_only_the_given_records(cache_home: Path, newsletter: Callable[..., Path]) -> None:
    root = newsletter()
    ctx = context(load_config(root))
    sources = read_sources(ctx.config)
    cache = Cache(newsletter_cache(root))
    make_issue(ctx, cache, (sources[0], "a" * 64))
    make_issue(ctx, cache, (sources[0], "b" * 64))
    cache.prune({"a" * 64})
    assert sorted(p.name for p in cache.records.iterdir()) == ["a" * 64]


def test_keys_are_content_only(cache_home: Path, newsletter: Callable[..., Path]) -> None:
    root = newsletter()
    ctx = context(load_config(root))
    before = issue_keys(ctx, read_sources(ctx.config))
    assert issue_keys(context(load_config(root / ".." / root.name)), read_sources(ctx.config)) == before
    (root / "config.yaml").write_text((root / "config.yaml").read_text() + "description: changed\n")
    changed = context(load_config(root))
    assert issue_keys(changed, read_sources(changed.config)) != before


def test_a_pack_gives_back_its_files_and_nothing_damaged(tmp_path: Path) -> None:
    path = tmp_path / "pack"
    files = {"a.html": b"<p>one</p>\n", "b.txt": b"two\nlines\n", "empty": b""}
    Pack.write(path, {"note": "x\ny"}, files)
    pack = Pack.load(path)
    assert pack is not None and pack.head["note"] == "x\ny"
    assert {name: pack.read(name) for name in files} == files and pack.read("absent") is None
    assert [p.name for p in tmp_path.iterdir()] == ["pack"]  # no temporary file left
    whole = path.read_bytes()
    path.write_bytes(whole[:-3])  # cut short: the last file is a miss, the others still read
    assert pack.read("b.txt") is None and pack.read("a.html") == files["a.html"]
    path.write_bytes(whole.replace(b"one", b"0ne"))
    assert pack.read("a.html") is None and pack.read("b.txt") == files["b.txt"]
    for head in (b"{not json", b'{"files": 3}', b'{"files": [["a", "x", "y"]]}', b"[]", b""):
        path.write_bytes(head + b"\n" + whole.split(b"\n", 1)[1])
        assert Pack.load(path) is None, head
    path.unlink()
    assert Pack.load(path) is None and pack.read("a.html") is None


def test_keep_only_removes_the_rest_and_follows_no_link(tmp_path: Path) -> None:
    folder, outside = tmp_path / "records", tmp_path / "outside"
    (folder / "old-folder").mkdir(parents=True)
    (folder / "old-folder" / "f").write_text("x")
    outside.mkdir()
    (outside / "keep-me").write_text("mine")
    (folder / "link").symlink_to(outside, target_is_directory=True)
    for name in ("kept", "stale", f".tmp.{os.getpid()}.tmp"):
        (folder / name).write_text(name)
    keep_only(folder, {"kept"})
    assert sorted(p.name for p in folder.iterdir()) == [f".tmp.{os.getpid()}.tmp", "kept"]
    assert (outside / "keep-me").read_text() == "mine"


def test_read_sources_reads_again_only_what_changed_by_its_stat_or_lately(newsletter: Callable[..., Path]) -> None:
    """The preview's reading on a save: a file whose size, mtime and inode are as they were is taken as read
    before, unless it changed in the last RACY_NS (an mtime may not tell two quick writes apart)."""
    from digest.pipeline.stages import RACY_NS

    root = newsletter()
    config = load_config(root)
    path = root / "issues" / "0001.yaml"
    old = os.stat(path).st_mtime_ns - 2 * RACY_NS
    os.utime(path, ns=(old, old))
    (first,) = read_sources(config)
    known = {first.rel: first}
    assert read_sources(config, known)[0] is first  # unchanged: not read again
    data = path.read_bytes()
    with open(path, "r+b") as f:  # the same size and inode, then the mtime put back: the stat cannot tell
        f.write(data[:-1] + b"#" if data.endswith(b"\n") else data[:-1] + b"\n")
    os.utime(path, ns=(old, old))
    assert read_sources(config, known)[0] is first  # trusted by its stat, as git's index trusts one
    now = time.time_ns()
    os.utime(path, ns=(now, now))
    (again,) = read_sources(config, known)
    assert again is not first and again.data == path.read_bytes() != first.data
    os.utime(path, ns=(again.stamp[1], again.stamp[1]))  # the same stat, but lately: read again all the same
    assert read_sources(config, {again.rel: again})[0] is not again
