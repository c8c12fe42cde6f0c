"""Faults (issue 4): killed builds, concurrent builds, full disks, unwritable folders, stray writes."""

from __future__ import annotations

import fcntl
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO, immutable, run, tree

from benchmarks.bench import add_issue, make_newsletter
from digest.core.cachedir import newsletter_cache


def _digest(*args: str, **kwargs: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "digest", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        **kwargs,
    )  # type: ignore[call-overload]


@pytest.fixture
def built(tmp_path: Path) -> Path:
    root = tmp_path / "news"
    make_newsletter(root, 24)
    assert run("build", "--root", str(root)).exit_code == 0
    return root


@pytest.fixture
def small(tmp_path: Path) -> Path:
    """A built newsletter for tests that need no real work to interrupt."""
    root = tmp_path / "news"
    make_newsletter(root, 2)
    assert run("build", "--root", str(root)).exit_code == 0
    return root


def _leftovers(root: Path) -> list[str]:
    """What killed or failed builds could leave: an old site folder, temporary files in the folder
    beside the site (the previous site, which a build that succeeded keeps as the next one's start),
    records being written."""
    beside = [p.name for p in root.iterdir() if p.name.startswith(".site.digest-") and p.name != ".site.digest-new"]
    new = root / ".site.digest-new"
    temporary = [p.name for p in new.rglob("*") if "digest-tmp" in p.name] if new.is_dir() else []
    return sorted(beside + temporary + [p.name for p in newsletter_cache(root).rglob("*") if p.name.endswith(".tmp")])


@pytest.mark.slow
def test_sigkill_at_any_moment_leaves_the_previous_site_whole(built: Path) -> None:
    """Kill real builds at increasing delays; the site is always the old one or the new one, whole."""
    root = built
    old = tree(root / "site")
    config = root / "config.yaml"
    outcomes = set()
    for i, delay in enumerate([0.05, 0.2, 0.4, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0]):
        # A config change re-renders every issue, so each build has real work to be killed in.
        config.write_text(
            config.read_text()
            .replace(f"Bench Weekly {i - 1}", "Bench Weekly")
            .replace("Bench Weekly", f"Bench Weekly {i}")
        )
        proc = _digest("build", "--root", str(root), "--jobs", "2")
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        now = tree(root / "site")
        if now == old:
            outcomes.add("old")
            continue
        # Not the old site: then it must be the complete new one, exactly what a build gives.
        outcomes.add("new")
        assert run("build", "--root", str(root)).exit_code == 0
        assert tree(root / "site") == now
        old = now
    # The next build cleans up whatever the killed ones left and produces a whole site.
    assert run("build", "--root", str(root)).exit_code == 0
    assert _leftovers(root) == []
    assert "old" in outcomes  # at least one kill landed mid-build


def test_a_second_build_at_the_same_time_is_refused_clearly(small: Path) -> None:
    built = small
    lock = newsletter_cache(built) / "build.lock"  # in this user's cache folder, not the newsletter
    before = tree(built / "site")
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a running build holds it
        result = run("build", "--root", str(built))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"{built}: another digest build of this newsletter is running; try again when it has finished\n1 error;"
        " nothing was written\n"
    )
    assert tree(built / "site") == before
    assert lock.exists()


@pytest.mark.slow
def test_two_real_builds_at_once_never_corrupt_the_site(built: Path) -> None:
    config = built / "config.yaml"
    config.write_text(config.read_text().replace("Bench Weekly", "Bench Weekly II"))
    procs = [_digest("build", "--root", str(built)) for _ in range(2)]
    results = [p.communicate() + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes[0] == 0
    for _out, err, code in results:
        assert "Traceback" not in err
        if code == 1:
            assert "another digest build of this newsletter is running" in err
    site = tree(built / "site")
    assert run("build", "--root", str(built)).exit_code == 0
    assert tree(built / "site") == site  # what is there is exactly a complete build


@pytest.mark.slow
@pytest.mark.parametrize("search", [True, False])
def test_full_disk_fails_cleanly_and_keeps_the_previous_site(built: Path, search: bool) -> None:
    if not search:  # without the search index, the first file too large is one of the site's own
        config = built / "config.yaml"
        config.write_text(config.read_text() + "search: false\n")
        assert run("build", "--root", str(built)).exit_code == 0
    before = tree(built / "site")
    add_issue(built, 25)

    def small_files() -> None:  # writes past 20 KB fail with EFBIG, as on a full disk
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))

    proc = _digest("build", "--root", str(built), "--jobs", "1", preexec_fn=small_files)
    out, err = proc.communicate()
    assert proc.returncode == 1, err
    assert "Traceback" not in err
    lines = err.splitlines()
    assert lines[-1] == "1 error; nothing was written"
    if search:  # the pages to index are copied to a private temporary folder first
        assert lines[0] == (
            f"{tempfile.gettempdir()}: could not write the pages to index for the search (File too large); the"
            " previous site is unchanged"
        )
    else:
        assert lines[0].startswith(f"{built / 'site'}: could not write the site (File too large)")
        assert lines[0].endswith("; the previous site is unchanged")
    assert tree(built / "site") == before
    assert _leftovers(built) == [] and not (built / ".site.digest-new").exists()  # the half-made new site is removed


@pytest.mark.slow
def test_no_space_left_fails_cleanly_and_leaves_nothing_behind(built: Path, tmp_path: Path) -> None:
    """A real full disk: the output on a tmpfs with room for the site and a little more."""
    out = tmp_path / "disk"
    out.mkdir()
    assert run("build", "--root", str(built), "--out", str(out / "site")).exit_code == 0
    used = sum(-(-p.stat().st_size // 4096) * 4096 for p in (out / "site").rglob("*") if p.is_file())
    shutil.rmtree(out / "site")
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={used + used // 2},mode=0755", "tmpfs", str(out)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        pytest.fail(f"this test mounts a small tmpfs (as root, as CI runs the suite): {mounted.stderr.strip()}")
    try:
        assert run("build", "--root", str(built), "--out", str(out / "site")).exit_code == 0
        before = tree(out / "site")
        config = built / "config.yaml"  # every file changes: the new site needs as much room again
        config.write_text(config.read_text().replace("Bench Weekly", "Bench Weekly II"))
        result = run("build", "--root", str(built), "--out", str(out / "site"))
        assert result.exit_code == 1
        assert (
            result.stderr
            == f"{out / 'site'}: could not write the site (No space left on device); the previous site is unchanged\n"
            "1 error; nothing was written\n"
        )
        assert tree(out / "site") == before
        assert sorted(p.name for p in out.iterdir()) == ["site"]  # no .site.digest-new left behind
    finally:
        subprocess.run(["umount", str(out)], check=True)


def test_a_read_only_newsletter_builds_into_another_folder(tmp_path: Path) -> None:
    """The lock and the cache are in this user's cache folder: nothing is written to the newsletter."""
    root = tmp_path / "news"
    make_newsletter(root, 3)
    before = tree(root)
    with immutable(root):
        result = run("build", "--root", str(root), "--out", str(tmp_path / "public"))
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("built 3 issues (3 changed) in ")
    assert tree(root) == before
    assert (tmp_path / "public" / "issues" / "3" / "email.html").is_file()


def test_unwritable_output_folder_fails_cleanly(small: Path, tmp_path: Path) -> None:
    built = small
    if shutil.which("chattr") is None:
        pytest.fail("chattr (e2fsprogs) is needed to make a folder unwritable for root")
    out = tmp_path / "public"
    out.mkdir()
    (out / "keep.txt").write_text("previous")
    parent_flag = subprocess.run(["chattr", "+i", str(tmp_path)], capture_output=True, text=True)
    if parent_flag.returncode != 0:
        pytest.fail(f"chattr +i failed on this filesystem: {parent_flag.stderr}")
    try:
        result = run("build", "--root", str(built), "--out", str(out))
    finally:
        subprocess.run(["chattr", "-i", str(tmp_path)], check=True)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == "1 error; nothing was written"
    assert "Traceback" not in result.stderr
    assert str(out) in result.stderr.splitlines()[0]
    assert tree(out) == {"keep.txt": b"previous"}


@pytest.mark.slow
def test_commands_write_only_inside_the_newsletter_and_output_folders(tmp_path: Path) -> None:
    root = tmp_path / "news"
    make_newsletter(root, 3)
    out = tmp_path / "out" / "public"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    before = {p for p in tmp_path.rglob("*")}
    for args in (["check"], ["build"], ["build", "--out", str(out)], ["new"]):
        proc = _digest(*args, "--root", str(root), cwd=str(cwd))
        _, err = proc.communicate()
        assert proc.returncode == 0, err
    created = {p for p in tmp_path.rglob("*")} - before
    cache = newsletter_cache(root)
    outside = [p for p in created if not (p.is_relative_to(root) or p.is_relative_to(out))]
    assert outside == [tmp_path / "out"]  # the output folder's parent, created for --out
    assert sorted(p.name for p in root.iterdir()) == ["config.yaml", "issues", "site"]  # the cache is not here
    assert (cache / "build.lock").is_file() and not cache.is_relative_to(tmp_path)  # but in this user's cache folder
    assert list(cwd.iterdir()) == []
