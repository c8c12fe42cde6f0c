"""Data loss and trust (issue 9, severe cases 1-3): what --out may replace, links in the
build cache, and caches this user's digest did not write.

The builds that could delete files run as an unprivileged user (the suite runs as root in
CI, where permissions would hide nothing but root can delete anything): each one runs in a
folder that user owns, with a home folder of its own.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import REPO, run, tree

from digest.bench import make_newsletter
from digest.build.cache import CACHE_DIR
from digest.build.pipeline import build

NOBODY = 65534
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
    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.fail("these tests drop privileges with setpriv: run the suite as root (as CI does)")
    path = Path(tempfile.mkdtemp(prefix="digest-home-", dir="/tmp"))
    path.chmod(0o755)
    os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(path)


def as_nobody(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``digest ARGS`` as the unprivileged user, with ``home`` as its home folder."""
    for p in [home, *home.rglob("*")]:
        os.chown(p, NOBODY, NOBODY, follow_symlinks=False)
    env = {"PATH": os.environ["PATH"], "HOME": str(home), "PYTHONPATH": str(REPO), "LANG": "C.UTF-8"}
    command = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "--", sys.executable, "-m", "digest", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, cwd=home, timeout=300)


def newsletter(home: Path, n: int = 3) -> Path:
    root = home / "news"
    make_newsletter(root, n)
    return root


# 1. --out replaces only an absent or empty folder, or a site digest built.


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


@pytest.mark.parametrize(
    ("out", "why"),
    [
        ("news", "is the newsletter folder"),
        (".", "contains the newsletter folder"),
        ("news/issues", "is the newsletter's issues"),
        ("news/issues/archive", "is inside the newsletter's issues"),
        ("news/templates", "is the newsletter's templates"),
        ("news/.digest-cache", "is the newsletter's .digest-cache"),
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
    from digest.build.output import check_output
    from digest.core.errors import DigestError

    root = tmp_path / "news"
    make_newsletter(root, 1)
    with pytest.raises(DigestError) as e:
        check_output(root, root / "config.yaml")
    assert [str(p) for p in e.value.problems] == [f"{root / 'config.yaml'}: is the newsletter's config.yaml; refusing to replace it with the site: choose another --out"]


def test_out_that_is_a_file_is_refused_with_exit_1(home: Path) -> None:
    """A file as --out (config.yaml itself, or any file) is refused by digest, exit 1, not by click's usage error (exit 2)."""
    root = newsletter(home)
    (home / "notes.txt").write_text("precious")
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(root / "config.yaml"))
    assert (result.returncode, result.stderr) == (1, f"{root / 'config.yaml'}: is the newsletter's config.yaml; refusing to replace it with the site: choose another --out" + REFUSED)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(home / "notes.txt"))
    assert (result.returncode, result.stderr) == (1, f"{home / 'notes.txt'}: exists and is not a folder; refusing to replace it" + REFUSED)
    assert snapshot(home) == before


def test_out_through_a_link_into_the_sources_is_refused(home: Path) -> None:
    root = newsletter(home)
    (home / "public").symlink_to(root / "issues")
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root), "--out", str(home / "public"))
    assert result.returncode == 1
    assert result.stderr == f"{home / 'public'}: is the newsletter's issues; refusing to replace it with the site: choose another --out" + REFUSED
    assert snapshot(home) == before


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
    assert result.stderr == f"{home / 'link'}: is a symbolic link; refusing to replace it: give the folder itself as --out" + REFUSED
    result = as_nobody(home, "build", "--root", str(root), "--out", str(fake))
    assert result.returncode == 1
    assert result.stderr.startswith(f"{fake}: is not empty and is not a site digest built")
    assert snapshot(home) == before


def test_out_may_be_new_empty_or_a_previous_digest_site(home: Path) -> None:
    root = newsletter(home)
    empty = home / "empty"
    empty.mkdir()
    for out in (home / "new" / "public", empty):
        result = as_nobody(home, "build", "--root", str(root), "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert (out / ".digest-site").is_file() and (out / "issues" / "3" / "email.html").is_file()
    (root / "issues" / "0004.yaml").write_bytes((root / "issues" / "0003.yaml").read_bytes().replace(b"number: 3", b"number: 4"))
    (empty / "stray.html").write_text("an old page")  # a digest site is digest's to replace whole
    result = as_nobody(home, "build", "--root", str(root), "--out", str(empty))
    assert result.returncode == 0, result.stderr
    assert (empty / "issues" / "4" / "email.html").is_file() and not (empty / "stray.html").exists()


# 2. Links in the cache folder: never followed, never pruned through.


@pytest.mark.parametrize("part", ["objects", "models", "templates", "", "build.lock", "site.json", "index.json"])
def test_a_link_in_place_of_the_cache_or_its_parts_is_refused(home: Path, part: str) -> None:
    root = newsletter(home)
    assert as_nobody(home, "build", "--root", str(root)).returncode == 0
    precious = home / "precious"
    (precious / "sub").mkdir(parents=True)
    (precious / "thesis.tex").write_text("years of work")
    (precious / "sub" / "data.csv").write_text("1,2,3")
    link = root / CACHE_DIR / part if part else root / CACHE_DIR
    if link.is_dir():
        shutil.rmtree(link)
    else:
        link.unlink()
    link.symlink_to(precious / "thesis.tex" if part in ("build.lock", "site.json", "index.json") else precious)
    (root / "issues" / "0001.yaml").write_text((root / "issues" / "0001.yaml").read_text().replace("Issue 1", "Issue one"))
    before = snapshot(home)
    result = as_nobody(home, "build", "--root", str(root))
    assert result.returncode == 1
    assert result.stderr == f"{link}: is a symbolic link; digest keeps its build cache only in real folders: delete the link (the cache is rebuilt)" + REFUSED
    assert snapshot(home) == before


def test_a_linked_entry_inside_the_cache_is_pruned_as_a_link_never_followed(home: Path) -> None:
    root = newsletter(home)
    assert as_nobody(home, "build", "--root", str(root)).returncode == 0
    precious = home / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    (root / CACHE_DIR / "objects" / ("0" * 64)).symlink_to(precious)
    (root / CACHE_DIR / "models" / "stray.json").symlink_to(precious / "thesis.tex")
    (root / "issues" / "0001.yaml").write_text((root / "issues" / "0001.yaml").read_text().replace("Issue 1", "Issue one"))
    result = as_nobody(home, "build", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert snapshot(precious) == {"thesis.tex": b"years of work"}
    assert not (root / CACHE_DIR / "objects" / ("0" * 64)).is_symlink()
    assert not (root / CACHE_DIR / "models" / "stray.json").is_symlink()


# 3. A cache that arrives with the folder is never trusted.


def _record(path: Path, data: bytes) -> list[object]:
    """A cache record of a file as it is now: what a forger with access to the files can write."""
    st = path.stat()
    return [hashlib.sha256(data).hexdigest(), st.st_size, st.st_mtime_ns, st.st_ino]


def _forge(entry: Path) -> None:
    """What a hostile commit can do to an entry: new content, and checksums and stats that match it."""
    meta_path = entry / "meta.json"
    record = json.loads(meta_path.read_bytes())
    meta = record["body"]
    for name in meta["files"]:
        data = (entry / name).read_bytes().replace(b"</body>", b"<script>alert(1)</script></body>")
        data += b"<script>alert(1)</script>" if name in ("email.txt", "content.html") else b""  # the feed fragment too
        (entry / name).unlink()  # the site shares the file through a hard link
        (entry / name).write_bytes(data)
        meta["files"][name] = _record(entry / name, data)
    meta_path.write_text(json.dumps(record))


def test_a_cache_with_forged_entries_is_rebuilt_not_used(tmp_path: Path) -> None:
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root)
    good = tree(root / "site")
    for entry in (root / CACHE_DIR / "objects").iterdir():
        _forge(entry)
    # The site record as well: it would let the forged site stand as "up to date".
    shutil.rmtree(root / "site")
    report = build(root)
    assert report.changed == 3
    assert tree(root / "site") == good
    assert not any(b"<script>alert" in data for data in tree(root / "site").values())


def test_a_forged_index_is_not_used(tmp_path: Path) -> None:
    """The index (every entry's record in one file) forged to match forged entries, as a
    commit could bring it: its seal fails, so each entry's own record is read, and fails too."""
    root = tmp_path / "news"
    make_newsletter(root, 3)
    build(root)
    good = tree(root / "site")
    index_path = root / CACHE_DIR / "index.json"
    index = json.loads(index_path.read_bytes())
    for entry in (root / CACHE_DIR / "objects").iterdir():
        _forge(entry)
        record = index["body"][entry.name]
        record["files"] = json.loads((entry / "meta.json").read_bytes())["body"]["files"]
        if "meta" in record:
            record["meta"] = _record(entry / "meta.json", (entry / "meta.json").read_bytes())
    index_path.write_text(json.dumps(index))  # the old seal, over a body it does not match
    shutil.rmtree(root / "site")
    report = build(root)
    assert report.changed == 3
    assert tree(root / "site") == good


def test_a_cache_made_by_another_user_or_machine_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "news"
    make_newsletter(root, 3)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "someone-else"))
    assert build(root).changed == 3
    good = tree(root / "site")
    for entry in (root / CACHE_DIR / "objects").iterdir():
        _forge(entry)
    cloned = tmp_path / "clone"
    shutil.copytree(root, cloned, symlinks=True)  # the folder as a commit or an archive brings it
    (cloned / "site" / "index.html").unlink()
    (cloned / "site" / "index.html").write_text("<script>alert(1)</script>")
    site_record = cloned / CACHE_DIR / "site.json"
    record = json.loads(site_record.read_bytes())
    (live,) = record["body"].values()
    record["body"] = {str(cloned / "site"): live}  # the record as if made for the clone
    live["live"]["index.html"] = _record(cloned / "site" / "index.html", b"<script>alert(1)</script>")
    site_record.write_text(json.dumps(record))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "me"))
    report = build(cloned)
    assert report.changed == 3  # every issue rendered here; nothing taken from the clone's cache
    assert tree(cloned / "site") == good
    assert build(cloned).changed == 0  # and this user's own cache is used from now on


def _forge_compiled(path: Path, source: str) -> None:
    """What a hostile commit can do to a compiled template: code of its own, with the
    header Jinja2 checks (magic and the source's checksum) copied from the real one."""
    import io
    import pickle

    import jinja2
    from jinja2.bccache import Bucket, bc_magic

    body = io.BytesIO(path.read_bytes()[64:])
    assert body.read(len(bc_magic)) == bc_magic
    checksum = pickle.load(body)  # the checksum Jinja2 compares with the template's
    forged = Bucket(jinja2.Environment(), path.stem, checksum)
    forged.code = compile(jinja2.Environment().compile(source, raw=True), "forged", "exec")
    path.write_bytes(b"0" * 64 + forged.bytecode_to_string())


def test_forged_compiled_templates_are_compiled_again_not_run(tmp_path: Path) -> None:
    from digest.build import stages

    root = tmp_path / "news"
    make_newsletter(root, 2)
    build(root)
    compiled = sorted((root / CACHE_DIR / "templates").iterdir())
    assert len(compiled) >= 5  # every template the build used
    for path in compiled:
        _forge_compiled(path, "<script>alert(1)</script>")
    forged = {p: p.read_bytes() for p in compiled}
    (root / "issues" / "0002.yaml").write_text((root / "issues" / "0002.yaml").read_text() + "# edited\n")
    stages._env.cache_clear()  # a new process: templates come from the cache folder, not memory
    build(root)
    clean = tmp_path / "clean"
    shutil.copytree(root, clean, ignore=shutil.ignore_patterns(CACHE_DIR, "site"))
    stages._env.cache_clear()
    build(clean)
    assert tree(root / "site") == tree(clean / "site")
    assert not any(b"alert(1)" in data for data in tree(root / "site").values())
    assert all(p.read_bytes() != data for p, data in forged.items())  # each replaced by this user's own


def test_compiled_templates_are_kept_between_builds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import jinja2

    from digest.build import stages

    root = tmp_path / "news"
    make_newsletter(root, 2)
    build(root)
    compiled: list[str] = []
    real_compile = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: str, name: str | None = None, *args: object, **kwargs: object) -> object:
        compiled.append(name or "")
        return real_compile(self, source, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    (root / "issues" / "0002.yaml").write_text((root / "issues" / "0002.yaml").read_text().replace("Issue 2", "Issue two"))
    stages._env.cache_clear()
    assert build(root).changed == 1
    assert compiled == []  # the email, text, page and archive templates all came compiled
    (root / "templates").mkdir()
    (root / "templates" / "archive.html").write_text((REPO / "digest/render/templates/archive.html").read_text() + "<!-- ours -->\n")
    stages._env.cache_clear()
    build(root)
    assert "archive.html" in compiled  # a new state of the templates: compiled afresh


def test_a_linked_compiled_template_is_never_read_or_written_through(home: Path) -> None:
    root = newsletter(home)
    assert as_nobody(home, "build", "--root", str(root)).returncode == 0
    precious = home / "precious.bin"
    precious.write_bytes(b"years of work")
    linked = sorted((root / CACHE_DIR / "templates").iterdir())
    for path in linked:
        path.unlink()
        path.symlink_to(precious)
    (root / "issues" / "0001.yaml").write_text((root / "issues" / "0001.yaml").read_text().replace("Issue 1", "Issue one"))
    result = as_nobody(home, "build", "--root", str(root))
    assert result.returncode == 0, result.stderr
    assert precious.read_bytes() == b"years of work"
    assert not any(p.is_symlink() for p in linked)


def test_the_cache_key_is_private_to_the_user_and_outside_the_newsletter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    root = tmp_path / "news"
    make_newsletter(root, 1)
    assert run("build", "--root", str(root)).exit_code == 0
    key = state / "digest" / "cache-key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_bytes()) == 64
    assert key.read_bytes() not in b"".join(p.read_bytes() for p in root.rglob("*") if p.is_file())
