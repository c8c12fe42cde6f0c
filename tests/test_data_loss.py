"""Data loss and trust (issue 9, severe cases 1-3; issue 18): what --out may replace, the
build cache's folder, and caches this user's digest did not write.

The builds that could delete files run as an unprivileged user (the suite runs as root in
CI, where permissions would hide nothing but root can delete anything): each one runs in a
folder that user owns, with a home folder of its own (tests/unprivileged.py arranges that
this user can run digest wherever the project is checked out).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import build, run, tree
from unprivileged import NOBODY, nobody

from benchmarks.bench import make_newsletter
from digest.core.cachedir import newsletter_cache
from digest.core.errors import DigestError

REFUSED = "\n1 error; nothing was written\n"


def snapshot(folder: Path) -> dict[str, bytes | str]:
    """Every entry under ``folder``: file bytes, link targets, folders."""
    out: dict[str, bytes | str] = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else "<dir>" if p.is_dir() else p.read_bytes()
    return out


@pytest.fixture
def home() -> Iterator[Path]:
    """A home folder owned by the unprivileged user, outside root's private temporary folder."""
    nobody()  # fails (once) here if digest cannot be run as nobody
    path = Path(tempfile.mkdtemp(prefix="digest-home-", dir="/tmp"))
    path.chmod(0o755)
    os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(path)


def as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``digest ARGS`` as the unprivileged user, with ``home`` as its home folder."""
    for p in [home, *home.rglob("*")]:
        os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
    python, pythonpath = nobody()
    # TMPDIR: the cache's fallback place (digest.core.cachedir) stays in the test's folder too.
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "TMPDIR": str(home), "PYTHONPATH": pythonpath}
    env["LANG"] = "C.UTF-8"
    command = [*python, "-m", "digest", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=home, timeout=300)


def newsletter(home: Path, n: int = 3) -> Path:
    root = home / "news"
    make_newsletter(root, n)
    return root


# 1. --out replaces only an absent or empty folder, or a site digest built.


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_out_refuses_a_folder_digest_did_not_build(home: Path) -> None:
    root = newsletter(home)
    documents = home / "Documents"
    (documents / "taxes").mkdir(parents=True)
    (documents / "taxes" / "2025.pdf").write_bytes(b"%PDF precious")
    (documents / "notes.txt").write_text("precious")
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(documents))
    assert result.returncode == 1
    assert result.stderr == (
        f"{documents}: is not empty and is not a site digest built (it has no .digest-site file); "
        "refusing to replace it: choose an empty or new folder" + REFUSED
    )
    assert snapshot(home) == before  # nothing at all was written, not even the cache


@pytest.mark.slow  # runs digest as nobody, in a subprocess
@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("news", "is the newsletter folder"),
        (".", "contains the newsletter folder"),
        ("news/issues", "is the newsletter's issues"),
        ("news/issues/archive", "is inside the newsletter's issues"),
        ("news/templates", "is the newsletter's templates"),
    ],
)
def test_out_never_replaces_the_newsletter_or_its_sources(home: Path, out: str, why: str) -> None:
    root = newsletter(home)
    (root / "templates").mkdir()
    (root / "templates" / "email.txt").write_text("{{ issue.title }}\n")
    assert as_nobody(home, "build", "--root", str(root)).returncode == 0
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(home / out))
    assert result.returncode == 1
    assert result.stderr == f"{home / out}: {why}; refusing to replace it with the site: choose another --out" + REFUSED
    assert snapshot(home) == before


def test_out_is_never_the_config_file(tmp_path: Path) -> None:
    from digest.pipeline.output import check_output

    root = tmp_path / "news"
    make_newsletter(root, 1)
    with pytest.raises(DigestError) as e:
        check_output(root, root / "config.yaml")
    assert [str(p) for p in e.value.problems] == [
        f"{root / 'config.yaml'}: is the newsletter's config.yaml; refusing to replace it with the site: choose another"
        " --out"
    ]


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_out_that_is_a_file_is_refused_with_exit_1(home: Path) -> None:
    """A file as --out (config.yaml itself, or any file) is refused by digest, exit 1, not by
    click's usage error (exit 2)."""
    root = newsletter(home)
    (home / "notes.txt").write_text("precious")
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(root / "config.yaml"))
    assert (result.returncode, result.stderr) == (
        1,
        f"{root / 'config.yaml'}: is the newsletter's config.yaml; refusing to replace it with the site: choose another"
        " --out" + REFUSED,
    )
    result = as_nobody(home, "build", "--root", str(root), "--out", str(home / "notes.txt"))
    assert (result.returncode, result.stderr) == (
        1,
        f"{home / 'notes.txt'}: exists and is not a folder; refusing to replace it" + REFUSED,
    )
    assert snapshot(home) == before


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_out_through_a_link_into_the_sources_is_refused(home: Path) -> None:
    root = newsletter(home)
    (home / "public").symlink_to(root / "issues")
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(home / "public"))
    assert result.returncode == 1
    assert (
        result.stderr
        == f"{home / 'public'}: is the newsletter's issues; refusing to replace it with the site: choose another --out"
        + REFUSED
    )
    assert snapshot(home) == before


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_out_refuses_a_link_and_a_marker_that_is_not_a_file(home: Path) -> None:
    root = newsletter(home)
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.txt").write_text("keep")
    (home / "link").symlink_to(elsewhere)
    fake = home / "fake"
    fake.mkdir()
    (fake / "keep.txt").write_text("keep")
    (fake / ".digest-site").symlink_to(elsewhere / "keep.txt")
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(home / "link"))
    assert result.returncode == 1
    assert (
        result.stderr
        == f"{home / 'link'}: is a symbolic link; refusing to replace it: give the folder itself as --out" + REFUSED
    )
    result = as_nobody(home, "build", "--root", str(root), "--out", str(fake))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{fake}: is not empty and is not a site digest built")
    assert snapshot(home) == before


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_out_may_be_new_empty_or_a_previous_digest_site(home: Path) -> None:
    root = newsletter(home)
    empty = home / "empty"
    empty.mkdir()
    for out in (home / "new" / "public", empty):
        result = as_nobody(home, "build", "--root", str(root), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert (out / ".digest-site").is_file() and (out / "issues" / "3" / "email.html").is_file()
    (root / "issues" / "0004.yaml").write_bytes(
        (root / "issues" / "0003.yaml").read_bytes().replace(b"number: 3", b"number: 4")
    )
    (empty / "stray.html").write_text("an old page")  # a digest site is digest's to replace whole
    result = as_nobody(home, "build", "--root", str(root), "--out", str(empty))
    assert result.returncode == 0, result.stderr
    assert (empty / "issues" / "4" / "email.html").is_file() and not (empty / "stray.html").exists()


# 2. The build cache lives in this user's cache folder: private, real, never reached through a link.


def _cache_name(root: Path) -> str:
    """The name of the newsletter's folder in a cache folder (digest.core.cachedir): a hash of its real path."""
    return hashlib.sha256(os.fsencode(root.resolve())).hexdigest()[:24]


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_the_cache_is_private_to_the_user_and_outside_the_newsletter(home: Path) -> None:
    root = newsletter(home)
    result = as_nobody(home, "build", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in root.iterdir()) == ["config.yaml", "issues", "site"]
    cache = home / ".cache" / "digest" / _cache_name(root)
    for folder in (cache.parent, cache):  # what is inside is reachable only through them
        st = folder.lstat()
        assert (st.st_uid, oct(st.st_mode & 0o777)) == (NOBODY, "0o700"), folder
    assert len(list((cache / "issues").iterdir())) == 3


@pytest.mark.slow  # runs digest as nobody, in a subprocess
@pytest.mark.parametrize("part", ["digest", "digest/NAME"])
def test_a_link_in_place_of_the_cache_folder_is_never_followed(home: Path, part: str) -> None:
    """A link (to anywhere) where the cache folder should be is not used; the cache goes to
    the fallback place, the temporary folder, and what the link points at is untouched."""
    root = newsletter(home)
    precious = home / "precious"
    (precious / "issues").mkdir(parents=True)
    (precious / "thesis.tex").write_text("years of work")
    link = home / ".cache" / part.replace("NAME", _cache_name(root))
    link.parent.mkdir(parents=True)
    link.symlink_to(precious)
    for _ in range(2):
        result = as_nobody(home, "build", "--root", str(root))
        assert result.returncode == 0, result.stderr
    assert snapshot(precious) == {"issues": "<dir>", "thesis.tex": b"years of work"}
    assert link.is_symlink()
    fallback = home / f"digest-{NOBODY}" / _cache_name(root)
    assert len(list((fallback / "issues").iterdir())) == 3 and (fallback / "build.lock").is_file()


@pytest.fixture
def private_places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """This process's cache folder and its fallback (the temporary folder), both in ``tmp_path``."""
    import tempfile as tempfile_module

    xdg, tmp = tmp_path / "xdg", tmp_path / "tmp"
    tmp.mkdir()
    monkeypatch.setenv("XDG_CACHE_HOME", str(xdg))
    monkeypatch.setattr(tempfile_module, "tempdir", str(tmp))  # the documented override of gettempdir()
    return xdg / "digest", tmp / f"digest-{os.getuid()}"


def _forge(record: Path) -> None:
    """A record whose files say what a forger wants, with checksums that match them."""
    from digest.pipeline.cache import Pack

    pack = Pack.load(record)
    assert pack is not None
    forged = {}
    for name in pack.at:
        data = pack.read(name)
        assert data is not None
        forged[name] = data.replace(b"</body>", b"<script>alert(1)</script></body>") + b"<script>alert(1)</script>"
    Pack.write(record, {k: v for k, v in pack.head.items() if k != "files"}, forged)


@pytest.mark.parametrize("whose", ["another user's", "writable by others"])
def test_a_cache_folder_others_can_write_is_not_used(
    tmp_path: Path, private_places: tuple[Path, Path], whose: str
) -> None:
    """Records are plain data, trusted because only this user can write them: a forged record
    in a folder another user owns, or may write to, never reaches a page."""
    base, fallback = private_places
    root = tmp_path / "news"
    make_newsletter(root, 3)
    assert build(root).changed == 3
    good = tree(root / "site")
    cache = base / _cache_name(root)
    assert newsletter_cache(root) == cache
    for record in (cache / "issues").iterdir():
        _forge(record)
    # The premise: this user's own private records are used as they are.
    assert build(root, tmp_path / "premise").changed == 0
    assert b"alert(1)" in tree(tmp_path / "premise")["issues/1/email.html"]
    if whose == "another user's":
        for path in [cache, *cache.rglob("*")]:
            os.chown(path, NOBODY, NOBODY, follow_symlinks=False)
    else:
        cache.chmod(0o777)
    assert newsletter_cache(root) == fallback / _cache_name(root)
    assert build(root, tmp_path / "public").changed == 3
    assert tree(tmp_path / "public") == good
    assert not any(b"alert(1)" in data for data in tree(tmp_path / "public").values())


def test_no_private_cache_folder_anywhere_is_one_clear_error(tmp_path: Path, private_places: tuple[Path, Path]) -> None:
    base, fallback = private_places
    root = tmp_path / "news"
    make_newsletter(root, 1)
    base.parent.write_text("not a folder")  # $XDG_CACHE_HOME is a file
    shutil.rmtree(fallback.parent)
    fallback.parent.write_text("not a folder")  # and so is the temporary folder
    result = run("build", "--root", str(root))
    assert result.exit_code == 1
    assert (
        result.stderr
        == f"{root}: no private cache folder can be made ({base}, {fallback}): set XDG_CACHE_HOME to a folder of yours"
        + REFUSED
    )
    assert sorted(p.name for p in root.iterdir()) == ["config.yaml", "issues"]


def test_links_inside_the_cache_are_never_followed(tmp_path: Path) -> None:
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root)
    cache = newsletter_cache(root)
    precious = tmp_path / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "thesis.tex").write_text("years of work")
    (precious / "sub" / "data.csv").write_text("1,2,3")
    before = snapshot(precious)
    (cache / "issues" / ("0" * 64)).symlink_to(precious)  # pruned: not a record any build uses
    (cache / "sites.json").unlink()
    (cache / "sites.json").symlink_to(precious / "thesis.tex")
    (root / "issues" / "0001.yaml").write_text(
        (root / "issues" / "0001.yaml").read_text().replace("Issue 1", "Issue one")
    )
    assert build(root).changed == 1
    assert snapshot(precious) == before
    (cache / "build.lock").unlink()
    (cache / "build.lock").symlink_to(precious / "thesis.tex")
    with pytest.raises(DigestError) as e:
        build(root)
    lock = cache / "build.lock"
    assert [str(p) for p in e.value.problems] == [
        f"{cache}: cannot create the build lock {lock}: Too many levels of symbolic links"
    ]
    assert snapshot(precious) == before


# 3. A cache that arrives with the folder is never read.


def test_a_cache_planted_in_the_newsletter_never_reaches_a_page(tmp_path: Path) -> None:
    """What a hostile commit or archive can bring: a .digest-cache/ with forged records, in
    the layout of earlier versions and in the current one, and a site record claiming that a
    defaced site is up to date.  None of it is read."""
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root)
    good = tree(root / "site")
    planted = root / ".digest-cache"
    shutil.copytree(newsletter_cache(root), planted, ignore=shutil.ignore_patterns("build.lock"))
    for record in (planted / "issues").iterdir():
        _forge(record)
    (planted / "objects").mkdir()  # the layout before issue 18
    shutil.copytree(planted / "issues", planted / "objects", dirs_exist_ok=True)
    cloned = tmp_path / "clone"
    shutil.copytree(root, cloned, symlinks=True)  # the folder as a commit or an archive brings it
    (cloned / "site" / "index.html").write_text("<script>alert(1)</script>")
    sites = json.loads((planted / "sites.json").read_bytes())
    (live,) = sites.values()
    st = (cloned / "site" / "index.html").stat()
    live["files"]["index.html"][1:] = [st.st_size, st.st_mtime_ns, st.st_ino]
    (cloned / ".digest-cache" / "sites.json").write_text(json.dumps({str(cloned / "site"): live}))
    report = build(cloned)
    assert report.changed == 3  # every issue rendered here; nothing taken from the planted cache
    assert tree(cloned / "site") == good
    assert build(cloned).changed == 0  # and this user's own cache is used from now on


@pytest.mark.slow  # runs digest as nobody, in a subprocess
def test_a_read_only_newsletter_can_be_built_elsewhere_by_another_user(home: Path) -> None:
    """The lock and the cache are in the builder's own cache folder: a newsletter that user
    may only read (another's checkout, a mounted archive) builds with --out."""
    shared = Path(tempfile.mkdtemp(prefix="digest-shared-", dir="/tmp"))
    try:
        shared.chmod(0o755)
        root = shared / "news"
        make_newsletter(root, 2)
        before = snapshot(shared)
        result = as_nobody(home, "build", "--root", str(root), "--out", str(home / "public"))
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("built 2 issues (2 changed) in ")
        assert snapshot(shared) == before
        assert (home / "public" / "issues" / "2" / "email.html").is_file()
    finally:
        shutil.rmtree(shared)
