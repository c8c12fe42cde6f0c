"""Publishing (issue 8): the new site appears whole in one step, and costs what changed.

Each kill test stops a real build at one moment that matters (the new folder half filled,
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
from conftest import REPO, build, tree

from benchmarks.bench import add_issue, make_newsletter
from digest.core.cachedir import newsletter_cache
from digest.core.errors import DigestError

# Runs one build, and at MOMENT says so on stdout and stops itself (SIGSTOP) for the test
# to kill.  The hooks wrap the publisher's own steps; the product has no switch for tests.
HOOKED_BUILD = """
import os, signal, sys
from pathlib import Path
from digest.core.config import load_config
from digest.pipeline import publish
from digest.pipeline.build import build

moment, fallback = sys.argv[2], sys.argv[3] == "fallback"
out = Path(sys.argv[1]) / "site"

def stop(name):
    if name == moment:
        os.write(1, (name + "\\n").encode())
        os.kill(os.getpid(), signal.SIGSTOP)

real_replace, replaced = os.replace, [0]
def replace(tmp, target):
    real_replace(tmp, target)
    if ".site.digest-new" in str(target):
        replaced[0] += 1
        if replaced[0] == 2:  # the new folder is being filled: some files in, most not
            stop("filling")
os.replace = replace

real_swap = publish.swap
def swap(new, target):
    stop("before-swap")
    real_swap(new, target)
    stop("after-swap")
publish.swap = swap

if fallback:
    publish._exchange = lambda a, b: False  # as where there is no renameat2
    real_rename = os.rename
    def rename(src, dst):
        real_rename(src, dst)
        if Path(src) == out:
            stop("between-renames")
    os.rename = rename

build(load_config(Path(sys.argv[1])), jobs=1)
os.write(1, b"finished\\n")
"""


def _beside(root: Path) -> list[str]:
    """What digest left beside the site: after a build that replaced a site, the previous one
    (the next build's starting point, marked as digest's); never an old folder or a temporary file."""
    found = sorted(p.name for p in root.iterdir() if p.name.startswith(".site.digest-"))
    if found == [".site.digest-new"]:
        assert (root / ".site.digest-new" / ".digest-site").is_file()
        assert not [p for p in (root / ".site.digest-new").rglob("*") if "digest-tmp" in p.name]
    return found


def _site_of(root: Path, tmp_path: Path, name: str) -> dict[str, bytes]:
    """What a clean one-process build of ``root``'s sources makes (a copy elsewhere has no cache yet)."""
    clean = tmp_path / name
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns("site", ".site*"))
    assert build(clean, jobs=1).changed == len(list((clean / "issues").glob("*.yaml")))
    return tree(clean / "site")


def _kill_at(root: Path, moment: str, fallback: bool = False) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOOKED_BUILD, str(root), moment, "fallback" if fallback else "exchange"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    assert proc.stdout is not None
    reached = proc.stdout.readline().decode().strip()
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert reached == moment, f"the build never reached {moment!r}: {reached!r} {err.decode()[-2000:]}"


@pytest.fixture
def two_builds(tmp_path: Path) -> Path:
    """A newsletter built twice, then changed: two issues edited, one added."""
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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("moment", "fallback", "outcome"),
    [
        ("filling", False, "old"),
        ("before-swap", False, "old"),
        ("after-swap", False, "new"),
        ("filling", True, "old"),
        ("before-swap", True, "old"),
        ("between-renames", True, "none"),
        ("after-swap", True, "new"),
    ],
)
def test_a_build_killed_at_each_moment_leaves_a_whole_site(
    two_builds: Path, tmp_path: Path, moment: str, fallback: bool, outcome: str
) -> None:
    root = two_builds
    old = tree(root / "site")
    new = _site_of(root, tmp_path, "clean")
    assert old != new
    _kill_at(root, moment, fallback)
    if outcome == "none":  # the fallback's one window: the old site is whole under its -old name
        assert not (root / "site").exists()
        assert tree(root / ".site.digest-old") == old
    else:
        assert tree(root / "site") == (old if outcome == "old" else new)
    report = build(root, jobs=1)
    assert tree(root / "site") == new
    assert report.changed == 0  # the killed build had stored its renders in the cache
    assert _beside(root) == [".site.digest-new"]
    assert not [p for p in newsletter_cache(root).rglob("*") if p.name.endswith(".tmp")]


def test_a_half_swapped_folder_is_recovered_before_anything_else(two_builds: Path, tmp_path: Path) -> None:
    """Planted by hand: the output renamed away to its -old name, as the fallback's first rename leaves it."""
    root = two_builds
    os.rename(root / "site", root / ".site.digest-old")
    # A build that fails leaves everything as it was, to be recovered by the next one.
    bad = root / "issues" / "0009.yaml"
    bad.write_text("date: not a date\nsections: []\n")
    with pytest.raises(DigestError):
        build(root, jobs=1)
    assert not (root / "site").exists()  # validation failed before publishing touched anything
    bad.unlink()
    build(root, jobs=1)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    assert _beside(root) == [".site.digest-new"]


def test_the_second_rename_done_the_old_site_is_removed(two_builds: Path, tmp_path: Path) -> None:
    root = two_builds
    shutil.copytree(root / "site", root / ".site.digest-old")  # the new site made it in, the old one is left
    build(root, jobs=1)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    assert _beside(root) == [".site.digest-new"]


@pytest.mark.parametrize("site", [True, False], ids=["with-a-site", "without"])
@pytest.mark.parametrize("name", [".site.digest-old", ".site.digest-new"])
def test_a_folder_digest_did_not_make_in_the_way_is_refused_not_touched(
    two_builds: Path, name: str, site: bool
) -> None:
    """digest removes or renames only folders it made (they hold its marker): a folder of the
    user's under one of its names is left where it is, whether or not the site exists."""
    root = two_builds
    theirs = root / name
    shutil.rmtree(root / ".site.digest-new")  # digest's own (the previous site): the user's takes its place
    theirs.mkdir()
    (theirs / "thesis.tex").write_text("years of work")
    if not site:
        shutil.rmtree(root / "site")
    before = tree(root)
    with pytest.raises(DigestError) as e:
        build(root, jobs=1)
    assert [str(p) for p in e.value.problems] == [
        f"{theirs}: is in the way of the site and has no .digest-site file: move it away"
    ]
    assert tree(root) == before


def _inodes(site: Path) -> dict[str, int]:
    return {rel: (site / rel).stat().st_ino for rel in tree(site)}


@pytest.mark.slow
def test_publishing_writes_only_what_changed(tmp_path: Path) -> None:
    """Unchanged files are hard links to the live site's (same inode); what changed is written
    anew (a new inode), never changed in place."""
    root = tmp_path / "news"
    make_newsletter(root, 12)
    build(root, jobs=1)
    site = root / "site"
    before = _inodes(site)
    assert build(root / ".." / "news", jobs=1).changed == 0  # spelt another way: still nothing to do
    assert _inodes(site) == before
    add_issue(root, 13)
    build(root, jobs=1)
    after = _inodes(site)
    written = sorted(rel for rel in after if before.get(rel) != after[rel] and rel != ".digest-site")
    # 13 itself, 12's page (13 is its next) and every page (13 joined the recent issues each
    # page lists), the archive and the feeds; the search index has 13 too.
    pages = [f"issues/{n}/index.html" for n in range(1, 14)]
    assert _pages(written) == sorted(
        ["issues/13/email.html", "issues/13/email.txt", *pages, "index.html", "feed.xml", "atom.xml", "feed.json"]
    )
    assert any(rel.startswith("pagefind/0/index/") for rel in written)
    # Pagefind's own files are the same bytes: linked, not written again.
    assert before["pagefind/0/pagefind-ui.js"] == after["pagefind/0/pagefind-ui.js"]
    assert tree(site) == _site_of(root, tmp_path, "clean")

    before = after
    path = root / "issues" / "0002.yaml"
    path.write_text(path.read_text().replace("Thanks for reading.", "Thanks for reading!"))
    assert build(root, jobs=1).changed == 1
    after = _inodes(site)
    written = sorted(rel for rel in after if before.get(rel) != after[rel] and rel != ".digest-site")
    # A change no other page shows (2 is older than the recent list): its own files, the archive
    # page that lists it and the feeds that carry it.
    feeds = ["feed.xml", "atom.xml", "feed.json"]
    assert _pages(written) == sorted(
        ["issues/2/email.html", "issues/2/email.txt", "issues/2/index.html", "index.html", *feeds]
    )
    # The search index: the page's new fragment and the index files that name it; never Pagefind's own files.
    assert 1 <= len(_search(written)) <= 5 and not [rel for rel in _search(written) if rel.endswith((".js", ".css"))]

    before = after
    path.write_text(path.read_text().replace("Issue 2:", "Issue 2 (corrected):"))
    assert build(root, jobs=1).changed == 1
    after = _inodes(site)
    written = sorted(rel for rel in after if before.get(rel) != after[rel] and rel != ".digest-site")
    # Retitled: the same, and the pages that link it (1's next, 3's previous).
    assert _pages(written) == sorted(
        [
            "issues/2/email.html",
            "issues/2/email.txt",
            *(f"issues/{n}/index.html" for n in (1, 2, 3)),
            "index.html",
            *feeds,
        ]
    )
    assert tree(site) == _site_of(root, tmp_path, "clean2")
    assert _beside(root) == [".site.digest-new"]


def test_the_previous_site_is_kept_beside_as_the_next_builds_start(tmp_path: Path) -> None:
    """No build deletes a whole site (on a loaded disk that cost seconds an edit): the previous one
    stays beside the output, and the next build brings it up to date, mostly by doing nothing."""
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root, jobs=1)
    first = tree(root / "site")
    add_issue(root, 4)
    build(root, jobs=1)
    assert _beside(root) == [".site.digest-new"]
    assert tree(root / ".site.digest-new") == first  # the previous site, whole
    assert (root / "site" / "issues" / "4" / "email.html").is_file()
    add_issue(root, 5)
    build(root, jobs=1)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    # A failed build removes the folder it was bringing up to date (what it half wrote).
    (root / "issues" / "0006.yaml").write_text(
        "date: 2010-02-05\nsections: [{items: [{title: X, url: 'https://x.org/'}]}]\n"
    )
    (root / "templates").mkdir()
    (root / "templates" / "issue.html").write_text("{{ 1 / 0 }}")  # the pages fail as they are made
    live = tree(root / "site")
    beside = tree(root / ".site.digest-new")
    # With the search, the pages are made for its index, before anything is published: nothing is touched.
    with pytest.raises(DigestError):
        build(root, jobs=1)
    assert tree(root / "site") == live and tree(root / ".site.digest-new") == beside
    # Without it, they fail while publishing: the folder being brought up to date is removed.
    with (root / "config.yaml").open("a", encoding="utf-8") as f:
        f.write("search: false\n")
    with pytest.raises(DigestError):
        build(root, jobs=1)
    assert _beside(root) == []
    assert tree(root / "site") == live


def _pages(written: list[str]) -> list[str]:
    return [rel for rel in written if not rel.startswith("pagefind/")]


def _search(written: list[str]) -> list[str]:
    return [rel for rel in written if rel.startswith("pagefind/")]


def test_the_fallback_without_an_atomic_exchange_gives_the_same_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest.pipeline import publish

    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root, jobs=1)
    add_issue(root, 4)
    monkeypatch.setattr(publish, "_exchange", lambda a, b: False)  # as where there is no renameat2
    build(root, jobs=1)
    assert tree(root / "site") == _site_of(root, tmp_path, "clean")
    assert _beside(root) == [".site.digest-new"]


def test_verify_repairs_a_file_changed_behind_the_record(tmp_path: Path) -> None:
    """An edit that keeps size, mtime and inode fools the stat check; --verify writes every file."""
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
    assert report.changed == 0  # the cache is apart from the site: its records were not damaged
    assert tree(root / "site") == good


def test_a_site_without_an_old_issue_keeps_no_folder_of_it_and_nothing_planted(tmp_path: Path) -> None:
    """Publishing straight from files: an issue's files gone, its folders go too; a link planted in
    the folder beside the site is removed, never followed."""
    from digest.pipeline.output import MARKER, MARKER_TEXT
    from digest.pipeline.publish import publish

    out, outside = tmp_path / "site", tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.html").write_text("mine")
    one = {MARKER: MARKER_TEXT, "index.html": b"<p>1</p>", "issues/1/index.html": b"<p>1</p>"}
    record = {"files": publish(out, {**one, "issues/2/deep/index.html": b"<p>2</p>"}, {})}
    record = {"files": publish(out, {MARKER: MARKER_TEXT}, record)}  # the first site is now beside it
    beside = tmp_path / ".site.digest-new"
    (beside / "issues" / "2" / "deep" / "link").symlink_to(outside, target_is_directory=True)
    (beside / "issues" / "3").mkdir()
    publish(out, one, record)
    assert tree(out) == one
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_dir()) == ["issues", "issues/1"]
    assert (outside / "keep.html").read_text() == "mine"


@pytest.mark.parametrize("planted", [".digest-site", "index.html.digest-tmp", "issues/1/index.html.digest-tmp"])
def test_a_link_planted_in_the_folder_beside_the_site_is_never_written_through(tmp_path: Path, planted: str) -> None:
    """The folder beside the site may arrive with the newsletter (an archive, a copy): a link in it named as
    digest's marker or as one of its temporary files is refused or removed, and the file it points to is
    never written."""
    from digest.pipeline.output import MARKER, MARKER_TEXT
    from digest.pipeline.publish import publish

    out, victim = tmp_path / "site", tmp_path / "victim.txt"
    victim.write_text("mine")
    one = {MARKER: MARKER_TEXT, "index.html": b"<p>1</p>", "issues/1/index.html": b"<p>1</p>"}
    beside = tmp_path / ".site.digest-new"
    (beside / "issues" / "1").mkdir(parents=True)
    if planted != MARKER:
        (beside / MARKER).write_bytes(MARKER_TEXT)
    (beside / planted).symlink_to(victim)
    if planted == MARKER:  # a link is no marker: the folder is not digest's
        with pytest.raises(DigestError) as e:
            publish(out, one, {})
        assert [str(p) for p in e.value.problems] == [
            f"{beside}: is in the way of the site and has no .digest-site file: move it away"
        ]
        assert (beside / planted).is_symlink() and not out.exists()
    else:
        publish(out, one, {})
        assert tree(out) == one
    assert victim.read_text() == "mine"
