"""Publishing (issue 8): the new site appears whole in one step, and costs what changed.

Each kill test stops a real build at one moment that matters (the spare half written,
just before the swap, just after it, between the two renames of the fallback), asserts
the moment was reached, kills it with SIGKILL, and checks the site: the old one whole,
or the new one whole; then the next build must give exactly a clean build's site.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, tree

from digest.bench import add_issue, make_newsletter
from digest.build import writer
from digest.build.cache import CACHE_DIR
from digest.build.pipeline import build

# Runs one build, and at MOMENT says so on stdout and stops itself (SIGSTOP) for the test
# to kill.  The hooks wrap the writer's own steps; the product has no switch for tests.
HOOKED_BUILD = """
import os, signal, sys
from pathlib import Path
from digest.build import writer
from digest.build.pipeline import build

moment, fallback = sys.argv[2], sys.argv[3] == "fallback"
out = Path(sys.argv[1]) / "site"

def stop(name):
    if name == moment:
        os.write(1, (name + "\\n").encode())
        os.kill(os.getpid(), signal.SIGSTOP)

real_link, links = os.link, [0]
def link(src, dst, **kw):
    real_link(src, dst, **kw)
    links[0] += 1
    if links[0] == 4:  # the spare is being filled: some files in, most not
        stop("filling")
os.link = link

real_swap = writer.swap
def swap(new, target):
    stop("before-swap")
    real_swap(new, target)
    stop("after-swap")
writer.swap = swap

if fallback:
    writer._exchange = lambda a, b: False  # as where there is no renameat2
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if Path(src) == out:
            stop("between-renames")
    os.rename = rename

build(Path(sys.argv[1]), jobs=1)
os.write(1, b"finished\\n")
"""


def _site_of(root: Path, tmp_path: Path, name: str) -> dict[str, bytes]:
    """What a clean one-process build of ``root``'s sources makes."""
    clean = tmp_path / name
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns(CACHE_DIR, "site"))
    build(clean, jobs=1)
    return tree(clean / "site")


def _kill_at(root: Path, moment: str, fallback: bool = False) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", HOOKED_BUILD, str(root), moment, "fallback" if fallback else "exchange"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    reached = proc.stdout.readline().decode().strip()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert reached == moment, f"the build never reached {moment!r}: {reached!r} {err.decode()[-2000:]}"


@pytest.fixture
def two_builds(tmp_path: Path) -> Path:
    """A newsletter built twice (so its output has a spare), then changed: two issues edited, one added."""
    root = tmp_path / "news"
    make_newsletter(root, 6)
    build(root, jobs=1)
    add_issue(root, 7)
    build(root, jobs=1)
    for n in (2, 5):
        path = root / "issues" / f"{n:04d}.yaml"
        path.write_text(path.read_text().replace(f"Issue {n}:", f"Issue {n} (corrected):"))
    add_issue(root, 8)
    return root


@pytest.mark.parametrize(("moment", "fallback", "outcome"), [
    ("filling", False, "old"),
    ("before-swap", False, "old"),
    ("after-swap", False, "new"),
    ("filling", True, "old"),
    ("before-swap", True, "old"),
    ("between-renames", True, "none"),
    ("after-swap", True, "new"),
])
def test_a_build_killed_at_each_moment_leaves_a_whole_site(two_builds: Path, tmp_path: Path, moment: str, fallback: bool, outcome: str) -> None:
    root = two_builds
    old = tree(root / "site")
    new = _site_of(root, tmp_path, "clean")
    assert old != new
    _kill_at(root, moment, fallback)
    if outcome == "none":  # the fallback's one window: the old site is whole under its -old name
        assert not (root / "site").exists()
        (left,) = [p for p in (root / CACHE_DIR).iterdir() if p.name.endswith("-old")]
        assert tree(left) == old
    else:
        assert tree(root / "site") == (old if outcome == "old" else new)
    report = build(root, jobs=1)
    assert tree(root / "site") == new
    assert report.changed == 0  # the killed build had stored its renders in the cache
    assert not [p for p in (root / CACHE_DIR).rglob("*") if "tmp" in p.name or p.name.endswith("-old")]


def test_a_half_swapped_folder_is_recovered_before_anything_else(two_builds: Path, tmp_path: Path) -> None:
    """Planted by hand: the output renamed away to its -old name, as the fallback's first rename leaves it."""
    root = two_builds
    old = tree(root / "site")
    site = writer.Site(root / "site", _cache(root))
    spare = site.spare()
    assert spare.is_dir()
    os.rename(root / "site", spare.with_name(spare.name + "-old"))
    # A build that fails still puts the previous site back.
    bad = root / "issues" / "0009.yaml"
    bad.write_text("date: not a date\nsections: []\n")
    with pytest.raises(Exception):
        build(root, jobs=1)
    assert not (root / "site").exists()  # validation failed before publishing touched anything
    bad.unlink()
    build(root, jobs=1)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    assert not spare.with_name(spare.name + "-old").exists()
    assert tree(spare) == old  # the previous site, kept as the spare


def test_the_second_rename_done_the_old_site_becomes_the_spare(two_builds: Path, tmp_path: Path) -> None:
    root = two_builds
    spare = writer.Site(root / "site", _cache(root)).spare()
    shutil.rmtree(spare)
    old = spare.with_name(spare.name + "-old")
    shutil.copytree(root / "site", old)
    build(root, jobs=1)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    assert not old.exists() and spare.is_dir()


def test_publishing_writes_only_what_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "news"
    make_newsletter(root, 12)
    build(root, jobs=1)
    build(root / ".." / "news", jobs=1)  # spelt another way: still nothing to do
    add_issue(root, 13)
    build(root, jobs=1)  # the first spare: every file written once
    inodes = {rel: os.stat(root / "site" / rel).st_ino for rel in tree(root / "site")}
    written: list[str] = []
    real_replace = os.replace

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        written.append(str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)
    path = root / "issues" / "0004.yaml"
    path.write_text(path.read_text().replace("Issue 4:", "Issue 4 (corrected):"))
    report = build(root, jobs=1)
    assert report.changed == 1
    spare = writer.Site(root / "site", _cache(root)).spare()
    site_writes = sorted(Path(w).relative_to(spare).as_posix() for w in written if "spare-" in w)
    # The spare held the site before issue 13: it gets 13, the edited 4, every issue's web
    # page (13 joined the recent issues each page lists), the archive and the feeds.
    pages = [f"issues/{n}/index.html" for n in range(1, 14)]
    assert site_writes == sorted(["issues/13/email.html", "issues/13/email.txt", "issues/4/email.html", "issues/4/email.txt",
                                  *pages, "index.html", "feed.xml", "atom.xml", "feed.json"])
    after = {rel: os.stat(root / "site" / rel).st_ino for rel in tree(root / "site")}
    # 4's retitling changes its own files and the pages that link it: 3's (next) and 5's (previous).
    moved = ("issues/3/index.html", "issues/5/index.html")
    unchanged = [rel for rel in inodes if not rel.startswith("issues/4/") and "/" in rel and rel not in moved]
    assert unchanged and all(after[rel] == inodes[rel] for rel in unchanged)  # the same files, never copied
    assert all(after[rel] != inodes[rel] for rel in moved)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    # Once the spare is current, a retitled issue costs its own files and its neighbours' pages.
    written.clear()
    path = root / "issues" / "0002.yaml"
    path.write_text(path.read_text().replace("Issue 2:", "Issue 2 (corrected):"))
    assert build(root, jobs=1).changed == 1
    site_writes = sorted(Path(w).relative_to(spare).as_posix() for w in written if "spare-" in w)
    assert site_writes == sorted(["issues/4/email.html", "issues/4/email.txt", *(f"issues/{n}/index.html" for n in (1, 2, 3, 4, 5)),
                                  "issues/2/email.html", "issues/2/email.txt", "index.html", "feed.xml", "atom.xml", "feed.json"])
    assert tree(root / "site") == _site_of(root, tmp_path, "clean2")


def test_the_previous_site_is_kept_as_the_spare_not_deleted(tmp_path: Path) -> None:
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root, jobs=1)
    first = tree(root / "site")
    add_issue(root, 4)
    build(root, jobs=1)
    assert tree(writer.Site(root / "site", _cache(root)).spare()) == first


def test_verify_repairs_a_file_changed_behind_the_record(tmp_path: Path) -> None:
    """An edit that keeps size, mtime and inode fools the stat check; --verify reads the bytes."""
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root, jobs=1)
    good = tree(root / "site")
    email = root / "site" / "issues" / "2" / "email.html"
    page = root / "site" / "issues" / "2" / "index.html"
    for damaged in (email, page):
        st = damaged.stat()
        with open(damaged, "r+b") as f:
            f.write(b"X")
        os.utime(damaged, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert build(root, jobs=1).changed == 0 and tree(root / "site") != good  # trusted by its stat
    report = build(root, jobs=1, verify=True)
    assert report.changed == 1  # the email's cache entry shared the damaged file (the page's cache entry its own)
    assert tree(root / "site") == good


def _cache(root: Path) -> writer.BuildCache:
    return writer.BuildCache(root)
